package sigma

// LogsourceMapping maps a Sigma logsource to ramen log types. A rule uses a mapping when its
// product, service and category are each equal to the mapping's (an empty part matches only an empty
// part), so that {product: aws, service: cloudtrail} and {category: dns} are different entries.
// Every matching entry contributes its types; Fields renames the generic Sigma field names of that
// logsource to the fields ramen has for those types (ECS names, or native names of the record).
type LogsourceMapping struct {
	Product  string            `yaml:"product" json:"product,omitempty"`
	Service  string            `yaml:"service" json:"service,omitempty"`
	Category string            `yaml:"category" json:"category,omitempty"`
	Types    []string          `yaml:"types" json:"types"`
	Fields   map[string]string `yaml:"fields" json:"fields,omitempty"`
}

func (m LogsourceMapping) matches(l Logsource) bool {
	return m.Product == l.Product && m.Service == l.Service && m.Category == l.Category
}

// web access log fields (the W3C names Sigma's webserver and proxy rules use) -> ECS, as ramen's ELB,
// CloudFront, S3 access and WAF parsers set them.
var webFields = map[string]string{
	"c-ip":            "source.ip",
	"c-uri":           "url.original",
	"cs-uri":          "url.original",
	"c-uri-query":     "url.query",
	"cs-uri-query":    "url.query",
	"cs-uri-stem":     "url.path",
	"c-uri-stem":      "url.path",
	"c-uri-extension": "url.extension",
	"cs-method":       "http.request.method",
	"cs-host":         "url.domain",
	"c-useragent":     "user_agent.original",
	"cs-user-agent":   "user_agent.original",
	"cs-referer":      "http.request.referrer",
	"cs-referrer":     "http.request.referrer",
	"sc-status":       "http.response.status_code",
	"cs-bytes":        "http.request.body.bytes",
	"sc-bytes":        "http.response.body.bytes",
	"cs-version":      "http.version",
	"cs-cookie":       "http.request.cookie",
	"s-ip":            "destination.ip",
	"dst_ip":          "destination.ip",
	"src_ip":          "source.ip",
	"r-dns":           "url.domain",
	"cs-username":     "user.name",
}

// network flow fields of Sigma's firewall category -> ECS, as ramen's VPC flow log parser sets them.
var firewallFields = map[string]string{
	"src_ip":    "source.ip",
	"dst_ip":    "destination.ip",
	"src_port":  "source.port",
	"dst_port":  "destination.port",
	"action":    "event.action",
	"protocol":  "network.transport",
	"bytes":     "network.bytes",
	"packets":   "network.packets",
	"direction": "network.direction",
}

// DNS query fields of Sigma's dns category -> ECS, as ramen's Route 53 Resolver parser sets them.
var dnsFields = map[string]string{
	"query":         "dns.question.name",
	"record_type":   "dns.question.type",
	"answer":        "dns.answers.data",
	"response_code": "dns.response_code",
	"src_ip":        "source.ip",
	"dst_ip":        "destination.ip",
}

// DefaultLogsources is ramen's built-in logsource table: the AWS services by their ramen type (and
// the names SigmaHQ and other tools use for them), and the generic categories with a field mapping.
func DefaultLogsources() []LogsourceMapping {
	out := []LogsourceMapping{
		{Product: "aws", Service: "cloudtrail", Types: []string{"cloudtrail"}},
		{Product: "aws", Service: "guardduty", Types: []string{"guardduty"}},
		{Product: "aws", Service: "vpcflow", Types: []string{"vpcflow"}, Fields: firewallFields},
		{Product: "aws", Service: "vpc_flow", Types: []string{"vpcflow"}, Fields: firewallFields},
		{Product: "aws", Service: "vpcflowlogs", Types: []string{"vpcflow"}, Fields: firewallFields},
		{Product: "aws", Service: "waf", Types: []string{"waf"}},
		{Product: "aws", Service: "wafv2", Types: []string{"waf"}},
		{Product: "aws", Service: "elb", Types: []string{"elb"}, Fields: webFields},
		{Product: "aws", Service: "alb", Types: []string{"elb"}, Fields: webFields},
		{Product: "aws", Service: "cloudfront", Types: []string{"cloudfront"}, Fields: webFields},
		{Product: "aws", Service: "s3access", Types: []string{"s3access"}, Fields: webFields},
		{Product: "aws", Service: "s3_access", Types: []string{"s3access"}, Fields: webFields},
		{Product: "aws", Service: "route53", Types: []string{"route53"}, Fields: dnsFields},
		{Product: "aws", Service: "route53resolver", Types: []string{"route53"}, Fields: dnsFields},
		{Product: "aws", Service: "securityhub", Types: []string{"securityhub"}},
		{Product: "aws", Service: "config", Types: []string{"config"}},
		{Product: "aws", Types: []string{"cloudtrail", "guardduty", "vpcflow", "waf", "elb", "cloudfront", "s3access", "route53", "securityhub", "config"}},
		{Category: "dns", Types: []string{"route53"}, Fields: dnsFields},
		{Category: "firewall", Types: []string{"vpcflow"}, Fields: firewallFields},
		{Category: "webserver", Types: []string{"elb", "cloudfront", "s3access"}, Fields: webFields},
		{Category: "proxy", Types: []string{"elb", "cloudfront", "waf"}, Fields: webFields},
		{Product: "linux", Types: []string{"syslog", "linux"}},
		{Product: "linux", Service: "auth", Types: []string{"linux"}},
		{Product: "linux", Service: "sshd", Types: []string{"linux"}},
		{Product: "linux", Service: "syslog", Types: []string{"syslog"}},
	}
	return out
}

// typeFields is what a rule's logsource resolves to for one log type: the field renames.
type typeFields struct {
	typ    string
	fields map[string]string
}

// resolveLogsource finds the ramen types of a logsource, user mappings first. A type listed by
// several entries keeps the first entry's fields.
func resolveLogsource(l Logsource, user []LogsourceMapping) []typeFields {
	var out []typeFields
	seen := map[string]bool{}
	for _, table := range [][]LogsourceMapping{user, DefaultLogsources()} {
		for _, m := range table {
			if !m.matches(l) {
				continue
			}
			for _, t := range m.Types {
				if !seen[t] {
					seen[t] = true
					out = append(out, typeFields{t, m.Fields})
				}
			}
		}
	}
	// {product: ramen, service: <type>} names a ramen type directly, as does {product: aws,
	// service: <type>} for types the table does not list.
	if len(out) == 0 && (l.Product == "ramen" || l.Product == "aws") && l.Service != "" && l.Category == "" {
		out = append(out, typeFields{typ: l.Service})
	}
	return out
}
