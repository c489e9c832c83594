// Package elb parses Elastic Load Balancing access logs: Application Load Balancer (ALB) access logs
// (request types http, https, h2, grpcs, ws, wss, every field up to request_transform_status), ALB
// connection logs (mutual-TLS connection records), Network Load Balancer (NLB) TLS access logs
// (versions 1.0 and 2.0) and Classic Load Balancer access logs (HTTP and TCP listeners).
//
// All four are one text line per record, fields separated by single spaces, some enclosed in double
// quotes because they may hold spaces ("GET http://x:80/ HTTP/1.1", the user agent). The kind of line
// is told by its first field: a request type for ALB, "tls" followed by a log version for NLB, and a
// timestamp for Classic (whose third field is client:port) and connection logs (whose third field is a
// bare port number). AWS adds fields at the end of the line over the years and tells readers to ignore
// fields they do not expect, so older, shorter lines are accepted and unknown trailing fields ignored.
//
// The mapping follows Elastic's aws.elb_logs pipeline: the ELB status code is http.response.status_code
// and decides event.outcome, received/sent bytes are http.request/response.body.bytes (source.bytes and
// destination.bytes for TCP and TLS listeners), the target is aws.elb.backend.*, request_creation_time
// is event.start and the log time event.end. Choices of our own: "-" and -1 ("no value") are left out
// rather than stored; timestamps keep the microseconds AWS writes (Elastic truncates to milliseconds);
// event.type is set (access for HTTP, connection for TCP/TLS); ALB connection logs, which Elastic does
// not parse, map to source.*, destination.port (the listener port), tls.* and tls.client.*, with the load
// balancer's name taken from the object name when it follows the AWS naming pattern.
package elb

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ramen-siem/ramen/parse/internal/text"

	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/parse"
)

const typeName = "elb"

func init() {
	parse.Register(&parse.Type{
		Name:      typeName,
		Title:     "AWS Elastic Load Balancing access logs (ALB, NLB, Classic)",
		Dataset:   "aws.elb",
		Parse:     Parse,
		Services:  []string{"elasticloadbalancing"},
		MatchName: MatchName,
		Sniff:     Sniff,
		Aliases:   aliases,
	})
}

// nameRE matches the object names AWS gives ELB log files:
// <account>_elasticloadbalancing_<region>_[app.|net.|conn_log.app.]<lb>_<end-time>_[<ip>_]<random>.log[.gz].
var nameRE = regexp.MustCompile(`^\d{12}_elasticloadbalancing_[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}_.+_\d{8}T\d{4}Z_[^_]+(_[^_]+)?\.log(\.gz)?$`)

// connNameRE captures the load balancer of a connection log's object name.
var connNameRE = regexp.MustCompile(`_elasticloadbalancing_[^_]+_conn_log\.(app)\.([^._]+)\.([0-9a-f]+)_\d{8}T\d{4}Z_`)

// MatchName reports whether an object name follows the AWS ELB log file naming pattern.
func MatchName(name string) bool {
	return nameRE.MatchString(baseName(name))
}

func baseName(name string) string {
	if i := strings.LastIndexAny(name, "/\\"); i >= 0 {
		return name[i+1:]
	}
	return name
}

var (
	sniffALB     = regexp.MustCompile(`^(https?|h2|grpcs|wss?) \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z app/`)
	sniffNLB     = regexp.MustCompile(`^tls \d+\.\d+ \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S* net/`)
	sniffClassic = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z [A-Za-z0-9-]+ \[?[0-9a-fA-F.:]+\]?:\d+ (-|\[?[0-9a-fA-F.:]+\]?:\d+) `)
	sniffConn    = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z [0-9a-fA-F.:]+ \d+ \d+ (-|[A-Za-z0-9.]+) `)
)

// Sniff recognises the first line of an ELB log of any of the four kinds.
func Sniff(head []byte) bool {
	if i := strings.IndexByte(string(head[:min(len(head), 512)]), '\n'); i >= 0 {
		head = head[:i]
	}
	return sniffALB.Match(head) || sniffNLB.Match(head) || sniffClassic.Match(head) || sniffConn.Match(head)
}

// aliases maps the field names of the AWS documentation (and of the Athena tables AWS publishes) to the
// keys that hold them.
var aliases = map[string]string{
	"type":                           "aws.elb.type",
	"time":                           "@timestamp",
	"timestamp":                      "@timestamp",
	"elb":                            "aws.elb.name",
	"client_ip":                      "source.ip",
	"client_port":                    "source.port",
	"target_ip":                      "aws.elb.backend.ip",
	"target_port":                    "aws.elb.backend.port",
	"backend_ip":                     "aws.elb.backend.ip",
	"backend_port":                   "aws.elb.backend.port",
	"destination_ip":                 "aws.elb.backend.ip",
	"destination_port":               "aws.elb.backend.port",
	"request_processing_time":        "aws.elb.request_processing_time.sec",
	"target_processing_time":         "aws.elb.backend_processing_time.sec",
	"backend_processing_time":        "aws.elb.backend_processing_time.sec",
	"response_processing_time":       "aws.elb.response_processing_time.sec",
	"elb_status_code":                "http.response.status_code",
	"target_status_code":             "aws.elb.backend.http.response.status_code",
	"backend_status_code":            "aws.elb.backend.http.response.status_code",
	"received_bytes":                 "http.request.body.bytes",
	"sent_bytes":                     "http.response.body.bytes",
	"request_verb":                   "http.request.method",
	"request_url":                    "url.original",
	"request_proto":                  "http.version",
	"user_agent":                     "user_agent.original",
	"ssl_cipher":                     "aws.elb.ssl_cipher",
	"ssl_protocol":                   "aws.elb.ssl_protocol",
	"target_group_arn":               "aws.elb.target_group.arn",
	"trace_id":                       "aws.elb.trace_id",
	"domain_name":                    "destination.domain",
	"chosen_cert_arn":                "aws.elb.chosen_cert.arn",
	"matched_rule_priority":          "aws.elb.matched_rule_priority",
	"request_creation_time":          "event.start",
	"actions_executed":               "aws.elb.action_executed",
	"redirect_url":                   "aws.elb.redirect_url",
	"error_reason":                   "aws.elb.error.reason",
	"target_port_list":               "aws.elb.target_port",
	"target_status_code_list":        "aws.elb.target_status_code",
	"classification":                 "aws.elb.classification",
	"classification_reason":          "aws.elb.classification_reason",
	"conn_trace_id":                  "aws.elb.conn_trace_id",
	"transformed_host":               "aws.elb.transformed_host",
	"transformed_uri":                "aws.elb.transformed_uri",
	"request_transform_status":       "aws.elb.request_transform_status",
	"version":                        "aws.elb.log_version",
	"listener":                       "aws.elb.listener",
	"connection_time":                "aws.elb.connection_time.ms",
	"tls_handshake_time":             "aws.elb.tls_handshake_time.ms",
	"incoming_tls_alert":             "aws.elb.incoming_tls_alert",
	"chosen_cert_serial":             "aws.elb.chosen_cert.serial",
	"tls_cipher":                     "aws.elb.ssl_cipher",
	"tls_protocol_version":           "aws.elb.ssl_protocol",
	"tls_named_group":                "aws.elb.ssl_named_group",
	"alpn_fe_protocol":               "aws.elb.alpn_fe_protocol",
	"alpn_be_protocol":               "aws.elb.alpn_be_protocol",
	"alpn_client_preference_list":    "aws.elb.alpn_client_preference_list",
	"tls_connection_creation_time":   "event.start",
	"listener_port":                  "destination.port",
	"tls_protocol":                   "aws.elb.ssl_protocol",
	"tls_handshake_latency":          "aws.elb.tls_handshake_latency.sec",
	"leaf_client_cert_subject":       "tls.client.subject",
	"leaf_client_cert_serial_number": "tls.client.x509.serial_number",
	"tls_verify_status":              "aws.elb.tls_verify_status",
}

// Shared, read-only lists for event.category and event.type.
var (
	catWeb     = []string{"web"}
	catNetwork = []string{"network"}
	typAccess  = []string{"access"}
	typConn    = []string{"connection"}
)

// maxFields bounds the fields read from a line; the newest ALB line has 33. Fields past it are ignored.
const maxFields = 48

// addStr adds a text field unless it is empty or "-", like event.SetString. Every key is set at
// most once per record, so the parsers use event.Add, not Set (whose duplicate search was half
// the parse time).
func addStr(e *event.Event, key, s string) {
	if s != "" && s != "-" {
		e.Add(key, event.String(s))
	}
}

// Room for the fields of the longest record of each kind, plus the ones parse.Input.Emit adds.
const (
	emitFields = 8
	albCap     = 52 + emitFields
	classicCap = 34 + emitFields
	nlbCap     = 36 + emitFields
	connCap    = 26 + emitFields
)

// Parse reads an ELB log object.
func Parse(ctx context.Context, in *parse.Input) error {
	lbName := connLogName(in.Key.File)
	if in.Key.File == "" {
		lbName = connLogName(baseName(in.Name))
	}
	lines := in.Lines()
	var fields [maxFields]string
	for n := 0; ; n++ {
		if n&1023 == 1023 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		ok, tooLong := lines.Next()
		if !ok {
			break
		}
		if tooLong != nil {
			in.Reject(lines.Line(), 0, lines.Offset(), "too_long", tooLong, nil)
			continue
		}
		b := lines.Bytes()
		if text.Blank(b) {
			continue
		}
		e, err := parseLine(string(b), fields[:0], lbName)
		if err != nil {
			reason := parse.ReasonOf(err, "fields")
			in.Reject(lines.Line(), 0, lines.Offset(), reason, err, b)
			continue
		}
		if err := in.Emit(e, lines.Offset()); err != nil {
			return err
		}
	}
	return lines.Err()
}

// connLogName returns "app/<name>/<id>" from a connection log's object name, or "".
func connLogName(file string) string {
	if !strings.Contains(file, "_conn_log.") {
		return ""
	}
	m := connNameRE.FindStringSubmatch(file)
	if m == nil {
		return ""
	}
	return m[1] + "/" + m[2] + "/" + m[3]
}

// split cuts a line into fields separated by spaces (a run of spaces counts as one). A field that
// starts with a double quote runs to the next double quote that is followed by a space or the end of
// the line and is not escaped by a backslash; the quotes are not part of the field. Fields past
// cap(out) are dropped.
func split(s string, out []string) ([]string, error) {
	i := 0
	for i < len(s) {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i >= len(s) {
			break
		}
		var f string
		if s[i] == '"' {
			j := i + 1
			for {
				k := strings.IndexByte(s[j:], '"')
				if k < 0 {
					return out, parse.Rejectf("fields", "field %d: unterminated quoted field", len(out)+1)
				}
				j += k
				if (j+1 == len(s) || s[j+1] == ' ') && s[j-1] != '\\' {
					break
				}
				j++
			}
			f = s[i+1 : j]
			i = j + 1
		} else {
			j := strings.IndexByte(s[i:], ' ')
			if j < 0 {
				j = len(s) - i
			}
			f = s[i : i+j]
			i += j
		}
		if len(out) < cap(out) {
			out = append(out, f)
		}
	}
	return out, nil
}

func parseLine(line string, buf []string, lbName string) (*event.Event, error) {
	f, err := split(line, buf)
	if err != nil {
		return nil, err
	}
	if len(f) == 0 || f[0] == "" {
		return nil, parse.Rejectf("fields", "not an ELB log line: empty first field")
	}
	switch c := f[0][0]; {
	case c >= '0' && c <= '9':
		if len(f) > 2 && isDigits(f[2]) {
			return parseConn(line, f, lbName)
		}
		return parseClassic(line, f)
	case f[0] == "tls" && len(f) > 1 && isVersion(f[1]):
		return parseNLB(line, f)
	case len(f) > 1 && len(f[1]) > 0 && f[1][0] >= '0' && f[1][0] <= '9':
		return parseALB(line, f)
	}
	return nil, parse.Rejectf("fields", "not an ELB log line: unknown first field %q", text.Clip(f[0]))
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isVersion reports whether s looks like an NLB log version ("1.0", "2.0").
func isVersion(s string) bool {
	d := strings.IndexByte(s, '.')
	return d > 0 && isDigits(s[:d]) && isDigits(s[d+1:])
}

// ALB access log fields, in order.
const (
	albType = iota
	albTime
	albELB
	albClient
	albTarget
	albReqTime
	albTargetTime
	albRespTime
	albELBStatus
	albTargetStatus
	albReceived
	albSent
	albRequest
	albUserAgent
	albSSLCipher
	albSSLProtocol
	albTargetGroup
	albTraceID
	albDomain
	albChosenCert
	albRulePriority
	albRequestCreation
	albActions
	albRedirectURL
	albErrorReason
	albTargetList
	albTargetStatusList
	albClassification
	albClassificationReason
	albConnTraceID
	albTransformedHost
	albTransformedURI
	albTransformStatus
	albFields
)

// minALB is the fewest fields an ALB line has: everything through ssl_protocol, as in the oldest logs.
const minALB = albSSLProtocol + 1

func parseALB(line string, f []string) (*event.Event, error) {
	if len(f) < minALB {
		return nil, parse.Rejectf("fields", "ALB log line has %d fields, want at least %d", len(f), minALB)
	}
	e := event.New(typeName, line, albCap)
	e.Add("aws.elb.type", event.String(f[albType]))
	if err := setHTTPCommon(e, f[albTime:], true); err != nil {
		return nil, err
	}
	get := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	addStr(e, "aws.elb.target_group.arn", get(albTargetGroup))
	if t := get(albTraceID); t != "" && t != "-" {
		e.Add("aws.elb.trace_id", event.String(t))
		e.Add("trace.id", event.String(t))
	}
	addStr(e, "destination.domain", get(albDomain))
	addStr(e, "aws.elb.chosen_cert.arn", get(albChosenCert))
	if p := get(albRulePriority); p != "-1" {
		addStr(e, "aws.elb.matched_rule_priority", p)
	}
	if s := get(albRequestCreation); s != "" && s != "-" {
		t, ok := parseISO(s)
		if !ok {
			return nil, parse.Rejectf("time", "field request_creation_time: not an ISO 8601 time: %q", text.Clip(s))
		}
		e.Add("event.start", timeIn(t, s))
	}
	if s := get(albActions); s != "" && s != "-" {
		e.Add("aws.elb.action_executed", event.Strings(splitList(s, ',')...))
	}
	addStr(e, "aws.elb.redirect_url", get(albRedirectURL))
	addStr(e, "aws.elb.error.reason", get(albErrorReason))
	if s := get(albTargetList); s != "" && s != "-" {
		e.Add("aws.elb.target_port", event.Strings(splitList(s, ' ')...))
	}
	if s := get(albTargetStatusList); s != "" && s != "-" {
		e.Add("aws.elb.target_status_code", event.Strings(splitList(s, ' ')...))
	}
	addStr(e, "aws.elb.classification", get(albClassification))
	addStr(e, "aws.elb.classification_reason", get(albClassificationReason))
	addStr(e, "aws.elb.conn_trace_id", get(albConnTraceID))
	addStr(e, "aws.elb.transformed_host", get(albTransformedHost))
	addStr(e, "aws.elb.transformed_uri", get(albTransformedURI))
	addStr(e, "aws.elb.request_transform_status", get(albTransformStatus))
	return e, nil
}

// splitList splits a non-empty list on sep, dropping empty items.
func splitList(s string, sep byte) []string {
	n := 1 + strings.Count(s, string(sep))
	l := make([]string, 0, n)
	for s != "" {
		i := strings.IndexByte(s, sep)
		item := s
		if i >= 0 {
			item, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		if item != "" {
			l = append(l, item)
		}
	}
	return l
}

// Classic load balancer fields, in order; the same as ALB's from time on.
const (
	clTime = iota
	clELB
	clClient
	clBackend
	clReqTime
	clBackendTime
	clRespTime
	clELBStatus
	clBackendStatus
	clReceived
	clSent
	clRequest
	clUserAgent
	clSSLCipher
	clSSLProtocol
)

// minClassic: the oldest Classic logs end with the request.
const minClassic = clRequest + 1

func parseClassic(line string, f []string) (*event.Event, error) {
	if len(f) < minClassic {
		return nil, parse.Rejectf("fields", "Classic ELB log line has %d fields, want at least %d", len(f), minClassic)
	}
	e := event.New(typeName, line, classicCap)
	if err := setHTTPCommon(e, f, false); err != nil {
		return nil, err
	}
	return e, nil
}

// setHTTPCommon sets the fields ALB and Classic lines share, f starting at the time field. Every ALB
// line is an HTTP request; a Classic line is one unless it comes from a TCP listener.
func setHTTPCommon(e *event.Event, f []string, alb bool) error {
	t, ok := parseISO(f[clTime])
	if !ok {
		return parse.Rejectf("time", "field time: not an ISO 8601 time: %q", text.Clip(f[clTime]))
	}
	e.Timestamp = t
	e.Add("event.end", timeIn(t, f[clTime]))
	e.Add("event.kind", event.String("event"))
	addStr(e, "aws.elb.name", f[clELB])
	if err := setHostPort(e, "client:port", f[clClient], true); err != nil {
		return err
	}
	if err := setHostPort(e, "target:port", f[clBackend], false); err != nil {
		return err
	}
	if err := setSeconds(e, "aws.elb.request_processing_time.sec", "request_processing_time", f[clReqTime]); err != nil {
		return err
	}
	if err := setSeconds(e, "aws.elb.backend_processing_time.sec", "target_processing_time", f[clBackendTime]); err != nil {
		return err
	}
	if err := setSeconds(e, "aws.elb.response_processing_time.sec", "response_processing_time", f[clRespTime]); err != nil {
		return err
	}
	status, err := atoi("elb_status_code", f[clELBStatus])
	if err != nil {
		return err
	}
	backendStatus, err := atoi("target_status_code", f[clBackendStatus])
	if err != nil {
		return err
	}
	received, err := atoi("received_bytes", f[clReceived])
	if err != nil {
		return err
	}
	sent, err := atoi("sent_bytes", f[clSent])
	if err != nil {
		return err
	}
	method, uri, version := splitRequest(f[clRequest])
	// A TCP listener logs no status and the request "- - - ": Elastic calls it a tcp connection.
	isHTTP := alb || status >= 0 || method != "" || uri != ""
	if isHTTP {
		e.Add("aws.elb.protocol", event.String("http"))
		e.Add("event.category", event.Strings(catWeb...))
		e.Add("event.type", event.Strings(typAccess...))
		if status >= 0 {
			e.Add("http.response.status_code", event.IntIn(int64(status), f[clELBStatus]))
			if status < 400 {
				e.Add("event.outcome", event.String("success"))
			} else {
				e.Add("event.outcome", event.String("failure"))
			}
		}
		if backendStatus >= 0 {
			e.Add("aws.elb.backend.http.response.status_code", event.IntIn(int64(backendStatus), f[clBackendStatus]))
		}
		if received >= 0 {
			e.Add("http.request.body.bytes", event.IntIn(int64(received), f[clReceived]))
		}
		if sent >= 0 {
			e.Add("http.response.body.bytes", event.IntIn(int64(sent), f[clSent]))
		}
		addStr(e, "http.request.method", method)
		addStr(e, "http.version", version)
		if uri != "" {
			setURL(e, uri)
		}
	} else {
		e.Add("aws.elb.protocol", event.String("tcp"))
		e.Add("event.category", event.Strings(catNetwork...))
		e.Add("event.type", event.Strings(typConn...))
		if received >= 0 {
			e.Add("source.bytes", event.IntIn(int64(received), f[clReceived]))
		}
		if sent >= 0 {
			e.Add("destination.bytes", event.IntIn(int64(sent), f[clSent]))
		}
	}
	if len(f) > clUserAgent {
		addStr(e, "user_agent.original", f[clUserAgent])
	}
	if len(f) > clSSLProtocol {
		setTLS(e, f[clSSLCipher], f[clSSLProtocol])
	}
	return nil
}

// splitRequest splits a request line "METHOD URL HTTP/x.y" whose URL may hold spaces. "-" parts are "".
func splitRequest(r string) (method, uri, version string) {
	i := strings.IndexByte(r, ' ')
	if i < 0 {
		return dash(r), "", ""
	}
	method, rest := r[:i], strings.TrimRight(r[i+1:], " ")
	if j := strings.LastIndexByte(rest, ' '); j >= 0 {
		v := rest[j+1:]
		if strings.HasPrefix(v, "HTTP/") {
			version = v[len("HTTP/"):]
			rest = rest[:j]
		} else if v == "-" {
			rest = rest[:j]
		}
	}
	return dash(method), dash(rest), version
}

func dash(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

// setURL sets url.* from a request URL: absolute (scheme://host[:port]/path?query#fragment) or a bare
// path, the way Elastic's uri_parts processor splits it (the query keeps its encoding).
func setURL(e *event.Event, u string) {
	e.Add("url.original", event.String(u))
	rest := u
	if i := strings.Index(rest, "://"); i > 0 && isScheme(rest[:i]) {
		e.Add("url.scheme", event.String(rest[:i]))
		rest = rest[i+3:]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		host := rest[:end]
		rest = rest[end:]
		if at := strings.LastIndexByte(host, '@'); at >= 0 {
			host = host[at+1:]
		}
		port := ""
		if strings.HasPrefix(host, "[") {
			if j := strings.IndexByte(host, ']'); j > 0 {
				if strings.HasPrefix(host[j+1:], ":") {
					port = host[j+2:]
				}
				host = host[1:j]
			}
		} else if j := strings.LastIndexByte(host, ':'); j >= 0 {
			host, port = host[:j], host[j+1:]
		}
		addStr(e, "url.domain", host)
		if p, err := strconv.Atoi(port); err == nil && p >= 0 && p <= 65535 {
			e.Add("url.port", event.IntIn(int64(p), port))
		}
	}
	text.AddURLPath(e, rest)
}

func isScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if !(c >= 'a' && c <= 'z') && !(i > 0 && (s[i] >= '0' && s[i] <= '9' || s[i] == '+' || s[i] == '-' || s[i] == '.')) {
			return false
		}
	}
	return true
}

// setTLS sets aws.elb.ssl_cipher/ssl_protocol and tls.cipher, tls.version, tls.version_protocol.
func setTLS(e *event.Event, cipher, protocol string) {
	if cipher != "" && cipher != "-" {
		e.Add("aws.elb.ssl_cipher", event.String(cipher))
		e.Add("tls.cipher", event.String(cipher))
	}
	if protocol == "" || protocol == "-" {
		return
	}
	e.Add("aws.elb.ssl_protocol", event.String(protocol))
	if name, version, ok := text.TLSVersion(protocol); ok {
		e.Add("tls.version", event.String(version))
		e.Add("tls.version_protocol", event.String(name))
	}
}

// setHostPort sets source.* (client) or aws.elb.backend.* from "ip:port" ("-" for none).
func setHostPort(e *event.Event, field, s string, client bool) error {
	if s == "-" || s == "" {
		if client {
			return parse.Rejectf("fields", "field %s: missing", field)
		}
		return nil
	}
	host, port, ok := cutHostPort(s)
	if !ok {
		return parse.Rejectf("fields", "field %s: not ip:port: %q", field, text.Clip(s))
	}
	if client {
		p, err := strconv.Atoi(port)
		if err != nil || p < 0 || p > 65535 {
			return parse.Rejectf("number", "field %s: bad port in %q", field, text.Clip(s))
		}
		e.Add("source.address", event.String(host))
		e.Add("source.ip", event.String(host))
		e.Add("source.port", event.IntIn(int64(p), port))
		return nil
	}
	if !isDigits(port) {
		return parse.Rejectf("number", "field %s: bad port in %q", field, text.Clip(s))
	}
	e.Add("aws.elb.backend.ip", event.String(host))
	e.Add("aws.elb.backend.port", event.String(port))
	return nil
}

// cutHostPort splits "1.2.3.4:80", "[2001:db8::1]:80" or "2001:db8::1:80" (the last colon).
func cutHostPort(s string) (host, port string, ok bool) {
	if strings.HasPrefix(s, "[") {
		j := strings.IndexByte(s, ']')
		if j < 0 || !strings.HasPrefix(s[j+1:], ":") {
			return "", "", false
		}
		return s[1:j], s[j+2:], j > 1
	}
	j := strings.LastIndexByte(s, ':')
	if j <= 0 {
		return "", "", false
	}
	return s[:j], s[j+1:], true
}

// setSeconds sets a float seconds field; -1 and "-" mean no value.
func setSeconds(e *event.Event, key, field, s string) error {
	if s == "-1" || s == "-" {
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return parse.Rejectf("number", "field %s: not a number: %q", field, text.Clip(s))
	}
	e.Add(key, event.Float(v))
	return nil
}

// atoi parses a non-negative integer field; "-" (and -1) give -1.
func atoi(field, s string) (int, error) {
	if s == "-" || s == "-1" {
		return -1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, parse.Rejectf("number", "field %s: not a number: %q", field, text.Clip(s))
	}
	return n, nil
}

// NLB TLS access log fields, in order.
const (
	nlbType = iota
	nlbVersion
	nlbTime
	nlbELB
	nlbListener
	nlbClient
	nlbDestination
	nlbConnTime
	nlbHandshakeTime
	nlbReceived
	nlbSent
	nlbTLSAlert
	nlbCertARN
	nlbCertSerial
	nlbCipher
	nlbProtocol
	nlbNamedGroup
	nlbDomain
	nlbALPNFront
	nlbALPNBack
	nlbALPNClientList
	nlbConnCreation
)

// minNLB: version 1.0 lines end with domain_name.
const minNLB = nlbDomain + 1

func parseNLB(line string, f []string) (*event.Event, error) {
	// The fields hold no spaces; quotes (in the ALPN preference list) are part of the value, so the
	// line is split on spaces alone.
	f = f[:0]
	for s := line; s != ""; {
		i := strings.IndexByte(s, ' ')
		item := s
		if i >= 0 {
			item, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		if item != "" && len(f) < cap(f) {
			f = append(f, item)
		}
	}
	if len(f) < minNLB {
		return nil, parse.Rejectf("fields", "NLB log line has %d fields, want at least %d", len(f), minNLB)
	}
	e := event.New(typeName, line, nlbCap)
	t, ok := parseISO(f[nlbTime])
	if !ok {
		return nil, parse.Rejectf("time", "field time: not an ISO 8601 time: %q", text.Clip(f[nlbTime]))
	}
	e.Timestamp = t
	e.Add("event.end", timeIn(t, f[nlbTime]))
	e.Add("event.kind", event.String("event"))
	e.Add("event.category", event.Strings(catNetwork...))
	e.Add("event.type", event.Strings(typConn...))
	e.Add("aws.elb.type", event.String(f[nlbType]))
	e.Add("aws.elb.log_version", event.String(f[nlbVersion]))
	e.Add("aws.elb.protocol", event.String("tcp"))
	addStr(e, "aws.elb.name", f[nlbELB])
	addStr(e, "aws.elb.listener", f[nlbListener])
	if err := setHostPort(e, "client:port", f[nlbClient], true); err != nil {
		return nil, err
	}
	if err := setHostPort(e, "destination:port", f[nlbDestination], false); err != nil {
		return nil, err
	}
	for _, x := range [...]struct {
		key, field string
		i          int
	}{
		{"aws.elb.connection_time.ms", "connection_time", nlbConnTime},
		{"aws.elb.tls_handshake_time.ms", "tls_handshake_time", nlbHandshakeTime},
		{"source.bytes", "received_bytes", nlbReceived},
		{"destination.bytes", "sent_bytes", nlbSent},
	} {
		n, err := atoi(x.field, f[x.i])
		if err != nil {
			return nil, err
		}
		if n >= 0 {
			e.Add(x.key, event.IntIn(int64(n), f[x.i]))
		}
	}
	addStr(e, "aws.elb.incoming_tls_alert", f[nlbTLSAlert])
	addStr(e, "aws.elb.chosen_cert.arn", f[nlbCertARN])
	addStr(e, "aws.elb.chosen_cert.serial", f[nlbCertSerial])
	setTLS(e, f[nlbCipher], f[nlbProtocol])
	addStr(e, "aws.elb.ssl_named_group", f[nlbNamedGroup])
	addStr(e, "destination.domain", f[nlbDomain])
	if len(f) > nlbALPNClientList {
		addStr(e, "aws.elb.alpn_fe_protocol", f[nlbALPNFront])
		addStr(e, "tls.next_protocol", f[nlbALPNFront])
		addStr(e, "aws.elb.alpn_be_protocol", f[nlbALPNBack])
		addStr(e, "aws.elb.alpn_client_preference_list", f[nlbALPNClientList])
	}
	if len(f) > nlbConnCreation && f[nlbConnCreation] != "-" {
		t, ok := parseISO(f[nlbConnCreation])
		if !ok {
			return nil, parse.Rejectf("time", "field tls_connection_creation_time: not an ISO 8601 time: %q", text.Clip(f[nlbConnCreation]))
		}
		e.Add("event.start", timeIn(t, f[nlbConnCreation]))
	}
	return e, nil
}

// ALB connection log fields, in order.
const (
	connTime = iota
	connClientIP
	connClientPort
	connListenerPort
	connTLSProtocol
	connTLSCipher
	connHandshakeLatency
	connCertSubject
	connCertValidity
	connCertSerial
	connVerifyStatus
	connTraceID
)

// minConn: the first connection logs ended with tls_verify_status.
const minConn = connVerifyStatus + 1

func parseConn(line string, f []string, lbName string) (*event.Event, error) {
	if len(f) < minConn {
		return nil, parse.Rejectf("fields", "ALB connection log line has %d fields, want at least %d", len(f), minConn)
	}
	e := event.New(typeName, line, connCap)
	t, ok := parseISO(f[connTime])
	if !ok {
		return nil, parse.Rejectf("time", "field time: not an ISO 8601 time: %q", text.Clip(f[connTime]))
	}
	e.SetTimestampIn(timeIn(t, f[connTime]))
	e.Add("event.kind", event.String("event"))
	e.Add("event.category", event.Strings(catNetwork...))
	e.Add("event.type", event.Strings(typConn...))
	e.Add("aws.elb.log_type", event.String("connection"))
	if lbName != "" {
		e.Add("aws.elb.name", event.String(lbName))
	}
	ip := f[connClientIP]
	if ip == "-" || strings.IndexByte(ip, ':') < 0 && strings.IndexByte(ip, '.') < 0 {
		return nil, parse.Rejectf("fields", "field client_ip: not an IP address: %q", text.Clip(ip))
	}
	e.Add("source.address", event.String(ip))
	e.Add("source.ip", event.String(ip))
	port, err := atoi("client_port", f[connClientPort])
	if err != nil {
		return nil, err
	}
	if port >= 0 {
		e.Add("source.port", event.IntIn(int64(port), f[connClientPort]))
	}
	lport, err := atoi("listener_port", f[connListenerPort])
	if err != nil {
		return nil, err
	}
	if lport >= 0 {
		e.Add("destination.port", event.IntIn(int64(lport), f[connListenerPort]))
	}
	setTLS(e, f[connTLSCipher], f[connTLSProtocol])
	if err := setSeconds(e, "aws.elb.tls_handshake_latency.sec", "tls_handshake_latency", f[connHandshakeLatency]); err != nil {
		return nil, err
	}
	addStr(e, "tls.client.subject", f[connCertSubject])
	if v := f[connCertValidity]; v != "-" {
		nb, na, ok := certValidity(v)
		if ok {
			e.Add("tls.client.not_before", nb)
			e.Add("tls.client.not_after", na)
		} else {
			addStr(e, "aws.elb.leaf_client_cert_validity", v)
		}
	}
	addStr(e, "tls.client.x509.serial_number", f[connCertSerial])
	if s := f[connVerifyStatus]; s != "-" {
		e.Add("aws.elb.tls_verify_status", event.String(s))
		if s == "Success" {
			e.Add("event.outcome", event.String("success"))
		} else if strings.HasPrefix(s, "Failed") {
			e.Add("event.outcome", event.String("failure"))
		}
	}
	if len(f) > connTraceID {
		addStr(e, "aws.elb.conn_trace_id", f[connTraceID])
	}
	return e, nil
}

// certValidity reads "NotBefore=2023-09-21T22:43:21Z;NotAfter=2026-06-17T22:43:21Z".
func certValidity(v string) (notBefore, notAfter event.Value, ok bool) {
	a, b, found := strings.Cut(v, ";")
	if !found || !strings.HasPrefix(a, "NotBefore=") || !strings.HasPrefix(b, "NotAfter=") {
		return
	}
	a, b = a[len("NotBefore="):], b[len("NotAfter="):]
	nb, ok1 := parseISO(a)
	na, ok2 := parseISO(b)
	return timeIn(nb, a), timeIn(na, b), ok1 && ok2
}

// timeIn is the time t that parseISO read from s, a piece of the line, with the form s has if it
// has one: RFC 3339 in UTC with whole seconds, milliseconds or microseconds (ALB and Classic
// write six digits), or NLB's date and time without an offset.
func timeIn(t time.Time, s string) event.Value {
	f := event.RFC3339Form(s)
	if f == event.FormNone && len(s) == len("2006-01-02T15:04:05") {
		f = event.FormDateTime
	}
	return event.TimeIn(t, s, f)
}

// parseISO parses "2006-01-02T15:04:05[.frac][Z]" as UTC without allocating.
func parseISO(s string) (time.Time, bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := text.Num(s[0:4])
	month, ok2 := text.Num(s[5:7])
	day, ok3 := text.Num(s[8:10])
	hour, ok4 := text.Num(s[11:13])
	minute, ok5 := text.Num(s[14:16])
	sec, ok6 := text.Num(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, false
	}
	rest := s[19:]
	nsec := 0
	if rest != "" && rest[0] == '.' {
		i := 1
		scale := 100000000
		for ; i < len(rest) && rest[i] >= '0' && rest[i] <= '9'; i++ {
			nsec += int(rest[i]-'0') * scale
			scale /= 10
		}
		if i == 1 {
			return time.Time{}, false
		}
		rest = rest[i:]
	}
	if rest != "" && rest != "Z" {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day {
		return time.Time{}, false // 31 February and the like
	}
	return t, true
}
