// Package waf parses AWS WAF (v2) web ACL traffic logs into ECS events.
//
// WAF writes one JSON object per inspected request. It delivers them to S3 directly
// (AWSLogs/<account>/WAFLogs/<region>/<web-acl>/yyyy/mm/dd/hh/mm/<account>_waflogs_<region>_<web-acl>_....log.gz,
// into a bucket whose name must start with "aws-waf-logs-"), through Kinesis Data Firehose (objects
// named after the stream, "aws-waf-logs-..."), or to a CloudWatch Logs group "aws-waf-logs-...". All
// of them are newline-delimited JSON; a JSON array of records and single (pretty-printed) records, as
// the WAF documentation shows them, are read too.
//
// The mapping follows Elastic's AWS integration (data stream aws.waf): the client is source.ip, the
// request's method, version, path and query go to http.* and url.*, the terminating rule to rule.*,
// the web ACL's ARN gives cloud.account.id, cloud.region and cloud.service.name, and the request
// headers one JSON object, aws.waf.request.headers (Elastic makes a field of each header name; names
// are chosen by the client, and must not become columns). event.kind is "event" (every
// inspected request is logged, most of them allowed: the log is an access log, not a list of
// alerts) and event.category is ["web"], as in Elastic's published test output. Rule lists without
// a fixed shape (terminating_rule_match_details, rule_group_list, non_terminating_matching_rules,
// rate_based_rule_list) are kept as JSON text. Where this differs from Elastic it says why below.
package waf

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/parse"
	"github.com/ramen-siem/ramen/parse/internal/jsonrec"
)

func init() {
	parse.Register(&parse.Type{
		Name:       "waf",
		Title:      "AWS WAF",
		Dataset:    "aws.waf",
		Parse:      Parse,
		Services:   []string{"WAFLogs"},
		MatchName:  matchName,
		Sniff:      sniff,
		SniffOrder: 20,
	})
}

// matchName recognises the names AWS gives WAF log objects: WAF requires the S3 bucket, the Firehose
// stream and the CloudWatch Logs group that receive its logs to be named "aws-waf-logs-...", and
// names the objects it writes to S3 itself <account>_waflogs_<region>_<web-acl>_<time>_<hash>.log.gz.
func matchName(name string) bool {
	name = strings.ReplaceAll(name, "\\", "/")
	for rest := name; rest != ""; {
		seg := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			seg, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		if strings.HasPrefix(seg, "aws-waf-logs-") {
			return true
		}
	}
	base := name[strings.LastIndexByte(name, '/')+1:]
	return strings.Contains(base, "_waflogs_")
}

// sniff recognises WAF records by the web ACL id, which no other AWS log has at its top level, with a
// second key only WAF logs have. CloudTrail records of WAF API calls never have both.
func sniff(head []byte) bool {
	head = bytes.TrimLeft(head, " \t\r\n")
	if len(head) == 0 || (head[0] != '{' && head[0] != '[') {
		return false
	}
	if bytes.Contains(head, []byte(`"eventVersion"`)) {
		return false
	}
	return bytes.Contains(head, []byte(`"webaclId"`)) &&
		(bytes.Contains(head, []byte(`"httpRequest"`)) || bytes.Contains(head, []byte(`"terminatingRuleId"`)))
}

// Parse reads one object of WAF log records.
func Parse(ctx context.Context, in *parse.Input) error {
	var p fastjson.Parser
	var r jsonrec.Rec
	return in.EachJSON(ctx, nil, func(rec *parse.Record) error {
		v, err := r.Parse(&p, string(rec.Raw))
		if err != nil {
			rec.Reject("json", fmt.Errorf("invalid JSON: %w", err))
			return nil
		}
		e, reason, err := build(&r, v)
		if err != nil {
			rec.Reject(reason, err)
			return nil
		}
		return rec.Emit(e)
	})
}

// Lists shared by every event (a Strings value is never modified).
var (
	categoryWeb = []string{"web"}
	typeAllowed = []string{"access", "allowed"}
	typeDenied  = []string{"access", "denied"}
	typeAccess  = []string{"access"}
)

// build maps one record. A record without webaclId, httpRequest or a timestamp is not a WAF log
// record; the reason returned with an error is the reject category.
func build(r *jsonrec.Rec, v *fastjson.Value) (*event.Event, string, error) {
	if v.Type() != fastjson.TypeObject {
		return nil, "json", fmt.Errorf("a WAF log record is a JSON object, not %s", v.Type())
	}
	acl := r.Get(v, "webaclId")
	if acl == "" {
		return nil, "fields", errors.New("field webaclId: missing (not a WAF log record)")
	}
	req := v.Get("httpRequest")
	if req == nil || req.Type() != fastjson.TypeObject {
		return nil, "fields", errors.New("field httpRequest: missing or not an object (not a WAF log record)")
	}
	tsv := v.Get("timestamp")
	if tsv == nil {
		return nil, "time", errors.New("field timestamp: missing")
	}
	ms, err := tsv.Int64()
	if err != nil {
		return nil, "time", fmt.Errorf("field timestamp: not epoch milliseconds: %s", tsv)
	}

	e := event.New("waf", r.Original(), 48)
	e.Timestamp = time.UnixMilli(ms).UTC()
	add(e, "event.kind", event.String("event"))
	add(e, "event.category", event.Strings(categoryWeb...))
	action := r.Get(v, "action")
	switch action {
	case "ALLOW":
		add(e, "event.type", event.Strings(typeAllowed...))
	case "BLOCK":
		add(e, "event.type", event.Strings(typeDenied...))
	default:
		// COUNT, CAPTCHA, CHALLENGE: the request was neither plainly allowed nor denied here.
		add(e, "event.type", event.Strings(typeAccess...))
	}
	addString(e, "event.action", action)

	// The web ACL: arn:<partition>:wafv2:<region>:<account>:<scope>/webacl/<name>/<id>.
	add(e, "aws.waf.arn", event.String(acl))
	if parts := strings.SplitN(acl, ":", 6); len(parts) == 6 && parts[0] == "arn" {
		addString(e, "cloud.service.name", parts[2])
		addString(e, "cloud.region", parts[3])
		addString(e, "cloud.account.id", parts[4])
		addString(e, "aws.waf.id", parts[5])
	}

	// The request.
	if ip := r.Get(req, "clientIp"); ip != "" {
		if a, err := netip.ParseAddr(ip); err == nil {
			s := ip
			if a.String() != ip {
				s = a.String()
			}
			add(e, "source.ip", event.String(s))
			add(e, "related.ip", event.Strings(s))
		} else {
			add(e, "source.address", event.String(ip))
		}
	}
	addString(e, "aws.waf.request.country", r.Get(req, "country"))
	addString(e, "http.request.method", r.Get(req, "httpMethod"))
	addString(e, "http.request.id", r.Get(req, "requestId"))
	if ver := r.Get(req, "httpVersion"); ver != "" {
		// "HTTP/1.1" -> network.protocol "http", http.version "1.1".
		if i := strings.IndexByte(ver, '/'); i > 0 {
			proto := ver[:i]
			if proto == "HTTP" {
				proto = "http"
			} else {
				proto = strings.ToLower(proto)
			}
			add(e, "network.protocol", event.String(proto))
			addString(e, "http.version", ver[i+1:])
			if proto == "http" {
				add(e, "network.transport", event.String("tcp"))
			}
		}
	}
	addString(e, "url.path", r.Get(req, "uri"))
	addString(e, "url.query", r.Get(req, "args"))
	addString(e, "url.fragment", r.Get(req, "fragment"))
	addString(e, "url.scheme", r.Get(req, "scheme"))
	addString(e, "host.domain", r.Get(req, "host"))
	if ua := headers(r, e, "aws.waf.request.headers", req.Get("headers")); ua != "" {
		add(e, "user_agent.original", event.String(ua))
	}
	headers(r, e, "aws.waf.request_headers_inserted", v.Get("requestHeadersInserted"))

	// The rules.
	ruleID := r.Get(v, "terminatingRuleId")
	addString(e, "rule.id", ruleID)
	addString(e, "rule.ruleset", r.Get(v, "terminatingRuleType"))
	if name := groupRule(r, v.Get("ruleGroupList")); name != "" {
		add(e, "rule.name", event.String(name))
	} else {
		addString(e, "rule.name", ruleID)
	}
	setJSON(e, "aws.waf.terminating_rule_match_details", v.Get("terminatingRuleMatchDetails"))
	setJSON(e, "aws.waf.rule_group_list", v.Get("ruleGroupList"))
	setJSON(e, "aws.waf.rate_based_rule_list", v.Get("rateBasedRuleList"))
	setJSON(e, "aws.waf.non_terminating_matching_rules", v.Get("nonTerminatingMatchingRules"))
	if labels := v.GetArray("labels"); len(labels) > 0 {
		l := make([]string, 0, len(labels))
		for _, x := range labels {
			if s := r.Get(x, "name"); s != "" {
				l = append(l, s)
			}
		}
		if len(l) > 0 {
			add(e, "aws.waf.labels", event.Strings(l...))
		}
	}

	// Everything else WAF may add.
	addString(e, "aws.waf.source.name", r.Get(v, "httpSourceName"))
	addString(e, "aws.waf.source.id", r.Get(v, "httpSourceId"))
	if fv := v.Get("formatVersion"); fv != nil && fv.Type() == fastjson.TypeNumber {
		add(e, "aws.waf.format_version", event.String(fv.String()))
	}
	setInt(e, "aws.waf.response_code_sent", v.Get("responseCodeSent"))
	setInt(e, "aws.waf.request_body_size", v.Get("requestBodySize"))
	setInt(e, "aws.waf.request_body_size_inspected_by_waf", v.Get("requestBodySizeInspectedByWAF"))
	challenge(r, e, "aws.waf.captcha_response.", v.Get("captchaResponse"))
	challenge(r, e, "aws.waf.challenge_response.", v.Get("challengeResponse"))
	addString(e, "tls.client.ja3", r.Get(v, "ja3Fingerprint"))
	addString(e, "aws.waf.ja4_fingerprint", r.Get(v, "ja4Fingerprint"))
	setInt(e, "aws.waf.client_asn", v.Get("ClientASN"))
	if of := v.GetArray("oversizeFields"); len(of) > 0 {
		l := make([]string, 0, len(of))
		for _, x := range of {
			if s := r.Text(x); s != "" {
				l = append(l, s)
			}
		}
		if len(l) > 0 {
			add(e, "aws.waf.oversize_fields", event.Strings(l...))
		}
	}
	return e, "", nil
}

// add appends a field whose key the event cannot have yet: build sets each key once (only header
// names can repeat, and headers merge them first), and Set's search for an earlier value of the key
// was a sixth of the parse time.
func add(e *event.Event, key string, v event.Value) {
	if !v.IsNull() {
		e.Fields = append(e.Fields, event.Field{Key: key, Value: v})
	}
}

// addString is add for text, skipping "" and "-" as SetString does.
func addString(e *event.Event, key, s string) {
	if s != "" && s != "-" {
		e.Fields = append(e.Fields, event.Field{Key: key, Value: event.String(s)})
	}
}

// headers sets key to the request's headers as one JSON object, {"Name":"value",...}, in the order
// they came, a later header of a name replacing an earlier one (as Elastic's map does), and returns
// the User-Agent. One field rather than one per header name: the names are chosen by whoever sends
// the request, and a field per name would let any client add columns to the lake at will.
func headers(r *jsonrec.Rec, e *event.Event, key string, v *fastjson.Value) (ua string) {
	if v == nil || v.Type() != fastjson.TypeArray {
		return ""
	}
	hs, _ := v.Array()
	type kv struct{ name, value string }
	var stack [32]kv
	pairs := stack[:0]
	for _, h := range hs {
		name, value := r.Get(h, "name"), r.Get(h, "value")
		if name == "" || value == "" || value == "-" {
			continue
		}
		if ua == "" && strings.EqualFold(name, "User-Agent") {
			ua = value
		}
		dup := false
		for i := range pairs {
			if pairs[i].name == name {
				pairs[i].value, dup = value, true
				break
			}
		}
		if !dup {
			pairs = append(pairs, kv{name, value})
		}
	}
	if len(pairs) == 0 {
		return ua
	}
	b := []byte{'{'}
	for i, p := range pairs {
		if i > 0 {
			b = append(b, ',')
		}
		n, _ := json.Marshal(p.name)
		val, _ := json.Marshal(p.value)
		b = append(b, n...)
		b = append(b, ':')
		b = append(b, val...)
	}
	b = append(b, '}')
	add(e, key, event.JSON(string(b)))
	return ua
}

// groupRule returns the id of the rule inside a rule group that terminated the request, if any.
func groupRule(r *jsonrec.Rec, v *fastjson.Value) string {
	if v == nil || v.Type() != fastjson.TypeArray {
		return ""
	}
	gs, _ := v.Array()
	for _, g := range gs {
		if id := r.Get(g, "terminatingRule", "ruleId"); id != "" {
			return id
		}
	}
	return ""
}

// challenge maps a captchaResponse or challengeResponse object.
func challenge(r *jsonrec.Rec, e *event.Event, prefix string, v *fastjson.Value) {
	if v == nil || v.Type() != fastjson.TypeObject {
		return
	}
	setInt(e, prefix+"response_code", v.Get("responseCode"))
	// solveTimestamp is in epoch seconds (0: never solved). Elastic reads it as milliseconds,
	// which puts every solve in January 1970.
	if ts := v.Get("solveTimestamp"); ts != nil {
		if n, err := ts.Int64(); err == nil && n > 0 {
			add(e, prefix+"solve_timestamp", event.TimeIn(time.Unix(n, 0), r.Number(ts), event.FormUnix))
		}
	}
	addString(e, prefix+"failure_reason", r.Get(v, "failureReason"))
}

// setInt sets an integer field from a JSON number or a string holding one. It does not say where
// the record wrote it (event.IntIn), as it could: a WAF record's template is its own anyway (the
// timestamp, the headers), and the numbers are mostly 0, shorter than a reference to their
// column. Referenced, they made the demo's WAF lake 14 kB (0.2%) bigger.
func setInt(e *event.Event, key string, v *fastjson.Value) {
	if v == nil {
		return
	}
	switch v.Type() {
	case fastjson.TypeNumber:
		if n, err := v.Int64(); err == nil {
			add(e, key, event.Int(n))
		}
	case fastjson.TypeString:
		if n, err := strconv.ParseInt(string(v.GetStringBytes()), 10, 64); err == nil {
			add(e, key, event.Int(n))
		}
	}
}

// setJSON keeps a part of the record without a fixed shape as JSON text; null and empty lists or
// objects are left out, as Elastic leaves them out.
func setJSON(e *event.Event, key string, v *fastjson.Value) {
	if v == nil {
		return
	}
	switch v.Type() {
	case fastjson.TypeNull:
		return
	case fastjson.TypeArray:
		if a, _ := v.Array(); len(a) == 0 {
			return
		}
	case fastjson.TypeObject:
		if o, _ := v.Object(); o.Len() == 0 {
			return
		}
	}
	add(e, key, event.FromJSON(v))
}
