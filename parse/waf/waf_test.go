package waf

import (
	"bytes"
	"testing"
	"unsafe"

	"github.com/ramen-siem/ramen/parse"
	"github.com/ramen-siem/ramen/parse/parsetest"
)

func TestGolden(t *testing.T) { parsetest.Golden(t, "waf") }

func FuzzParse(f *testing.F) { parsetest.Fuzz(f, "waf") }

// TestConformance compares the ECS fields with Elastic's expected output for its WAF test log.
func TestConformance(t *testing.T) {
	parsetest.Conformance(t, "waf", "waf", nil)
}

// TestExamples parses the example records of the AWS WAF developer guide.
func TestExamples(t *testing.T) {
	parsetest.Examples(t, "waf", "aws-docs/aws-waf-and-shield-advanced-developer-guide/extracted_examples/*.json")
}

func TestDetect(t *testing.T) {
	rec := []byte(`{"timestamp":1718000000123,"formatVersion":1,"webaclId":"arn:aws:wafv2:eu-west-1:210987654321:regional/webacl/x/1","terminatingRuleId":"Default_Action","action":"ALLOW","httpRequest":{"clientIp":"198.51.100.23"}}`)
	cases := []struct {
		name string
		head []byte
		want string
	}{
		{"AWSLogs/210987654321/WAFLogs/eu-west-1/shop-prod/2024/06/10/06/15/210987654321_waflogs_eu-west-1_shop-prod_20240610T0615Z_a1b2c3d4.log.gz", nil, "waf"},
		{"s3://aws-waf-logs-shop/2024/06/10/06/aws-waf-logs-shop-1-2024-06-10-06-15-00-0a1b2c3d.gz", nil, "waf"},
		{"exports/aws-waf-logs-prod/000001.gz", nil, "waf"},
		{"210987654321_waflogs_us-east-1_acl_20240610T0615Z_ff.log", nil, "waf"},
		{"download.json", rec, "waf"},
		{"download.json", append([]byte("[\n  "), rec...), "waf"},
		{"download.json", []byte(`{"Records":[{"eventVersion":"1.08","eventSource":"wafv2.amazonaws.com","requestParameters":{"webaclId":"x","httpRequest":{}}}]}`), ""},
		{"download.json", []byte(`{"webaclId":"x"}`), ""},
		{"notes.txt", []byte(`webaclId httpRequest`), ""},
	}
	for _, c := range cases {
		got := ""
		if typ := parse.Detect(c.name, parse.ParseKey(c.name), c.head); typ != nil {
			got = typ.Name
		}
		if got == "waf" && c.want != "waf" || got != "waf" && c.want == "waf" {
			t.Errorf("Detect(%q, %.40q) = %q, want %q", c.name, c.head, got, c.want)
		}
	}
}

// TestSharedStrings checks that unescaped strings are shared with the original record, and escaped
// ones are copied and unescaped.
func TestSharedStrings(t *testing.T) {
	data := []byte(`  {"timestamp":1,"webaclId":"arn:aws:wafv2:us-east-1:123456789012:regional/webacl/a/1","httpRequest":{"clientIp":"192.0.2.1","uri":"/a\"b","httpMethod":"GET"}}`)
	evs, rejs, _ := parsetest.Run(t, "waf", "x", data, 0)
	if len(evs) != 1 || len(rejs) != 0 {
		t.Fatalf("got %d events, %d rejects", len(evs), len(rejs))
	}
	e := evs[0]
	m, _ := e.Get("http.request.method")
	if i := bytes.Index([]byte(e.Original), []byte("GET")); i < 0 || !sameMemory(e.Original[i:i+3], m.Str()) {
		t.Errorf("http.request.method is not a substring of the original")
	}
	if p, _ := e.Get("url.path"); p.Str() != `/a"b` {
		t.Errorf("url.path = %q, want /a\"b", p.Str())
	}
}

func sameMemory(a, b string) bool {
	return len(a) == len(b) && len(a) > 0 && unsafe.StringData(a) == unsafe.StringData(b)
}

func BenchmarkParse(b *testing.B) {
	var tmpl bytes.Buffer
	recs := [][]byte{
		[]byte(`{"timestamp":1718000000123,"formatVersion":1,"webaclId":"arn:aws:wafv2:eu-west-1:210987654321:regional/webacl/shop-prod/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d","terminatingRuleId":"Default_Action","terminatingRuleType":"REGULAR","action":"ALLOW","terminatingRuleMatchDetails":[],"httpSourceName":"ALB","httpSourceId":"210987654321-app/shop-alb/5e6f7a8b9c0d1e2f","ruleGroupList":[{"ruleGroupId":"AWS#AWSManagedRulesCommonRuleSet","terminatingRule":null,"nonTerminatingMatchingRules":[],"excludedRules":null,"customerConfig":null}],"rateBasedRuleList":[],"nonTerminatingMatchingRules":[],"requestHeadersInserted":null,"responseCodeSent":null,"httpRequest":{"clientIp":"198.51.100.23","country":"DE","headers":[{"name":"Host","value":"shop.example.com"},{"name":"User-Agent","value":"Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0"},{"name":"Accept","value":"text/html,application/xhtml+xml"},{"name":"Accept-Language","value":"en-US,en;q=0.5"},{"name":"Accept-Encoding","value":"gzip, deflate, br"},{"name":"Referer","value":"https://shop.example.com/"},{"name":"Cookie","value":"session=0123456789abcdef"}],"uri":"/cart","args":"item=42&qty=1","httpVersion":"HTTP/2.0","httpMethod":"GET","requestId":"1-6667a800-0a1b2c3d4e5f6a7b8c9d0e1f"},"labels":[{"name":"awswaf:clientip:geo:country:DE"}],"ja3Fingerprint":"0bf7ed2d21b0ff6b2e0c5c2a1f3d4b5c"}`),
		[]byte(`{"timestamp":1718000001456,"formatVersion":1,"webaclId":"arn:aws:wafv2:eu-west-1:210987654321:regional/webacl/shop-prod/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d","terminatingRuleId":"AWS-AWSManagedRulesSQLiRuleSet","terminatingRuleType":"MANAGED_RULE_GROUP","action":"BLOCK","terminatingRuleMatchDetails":[{"conditionType":"SQL_INJECTION","sensitivityLevel":"LOW","location":"QUERY_STRING","matchedData":["1","OR","1"]}],"httpSourceName":"ALB","httpSourceId":"210987654321-app/shop-alb/5e6f7a8b9c0d1e2f","ruleGroupList":[{"ruleGroupId":"AWS#AWSManagedRulesSQLiRuleSet","terminatingRule":{"ruleId":"SQLi_QUERYARGUMENTS","action":"BLOCK","ruleMatchDetails":null},"nonTerminatingMatchingRules":[],"excludedRules":null}],"rateBasedRuleList":[],"nonTerminatingMatchingRules":[],"responseCodeSent":403,"httpRequest":{"clientIp":"203.0.113.9","country":"NL","headers":[{"name":"Host","value":"shop.example.com"},{"name":"user-agent","value":"sqlmap/1.8#stable (https://sqlmap.org)"},{"name":"Accept","value":"*/*"}],"uri":"/search","args":"q=1%27%20OR%201%3D1--","httpVersion":"HTTP/1.1","httpMethod":"GET","requestId":"1-6667a801-1b2c3d4e5f6a7b8c9d0e1f2a"},"labels":[{"name":"awswaf:managed:aws:sql-database:SQLi_QueryArguments"}]}`),
	}
	for _, r := range recs {
		tmpl.Write(r)
		tmpl.WriteByte('\n')
	}
	parsetest.Bench(b, "waf", parsetest.Repeat(tmpl.Bytes(), 8<<20))
}
