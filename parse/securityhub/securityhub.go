// Package securityhub parses AWS Security Hub findings (the AWS Security Finding Format, ASFF) into ECS
// alerts.
//
// It reads findings as EventBridge delivers them ({"detail-type":"Security Hub Findings - Imported" or
// "... - Custom Action","source":"aws.securityhub","detail":{"findings":[...]}}, usually written to S3
// by Firehose, one event per line), as the API returns them ({"Findings":[...]}), as JSON arrays and as
// single findings. Every finding is its own event and keeps its own bytes as its original, so that
// native ASFF names (Compliance.Status, Resources) resolve against it whatever carried it; the
// EventBridge event's id, time and custom action name are kept under aws.securityhub.eventbridge.*.
// An EventBridge "Security Hub Insight Results" event holds no finding: it becomes one event of kind
// "event" with the insight's name, ARN and results.
//
// The mapping gives detection rules and searches what they need in ECS: @timestamp is UpdatedAt,
// event.created CreatedAt, event.start/end FirstObservedAt/LastObservedAt, event.kind "alert",
// event.severity Severity.Normalized (0-100), rule.name the Title, message the Description,
// cloud.account.id AwsAccountId, cloud.region Region, network and remote addresses as source.* and
// destination.*; aws.securityhub.* holds the finding's identity and state (product, generator, types,
// severity label, compliance, workflow, record state) and its Resources as JSON text.
package securityhub

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/parse"
	"github.com/ramen-siem/ramen/parse/internal/jsonrec"
)

func init() {
	parse.Register(&parse.Type{
		Name:       "securityhub",
		Title:      "AWS Security Hub findings (ASFF)",
		Dataset:    "aws.securityhub",
		Parse:      Parse,
		Sniff:      sniff,
		SniffOrder: 15, // before guardduty: ASFF copies of GuardDuty findings hold GuardDuty ARNs
	})
}

// sniff recognises ASFF by the two keys every finding must have, or an EventBridge event from Security
// Hub. GuardDuty's own findings use camelCase keys and CloudTrail records have eventVersion.
func sniff(head []byte) bool {
	head = bytes.TrimLeft(head, " \t\r\n")
	if len(head) == 0 || (head[0] != '{' && head[0] != '[') {
		return false
	}
	if bytes.Contains(head, []byte(`"eventVersion"`)) {
		return false
	}
	if bytes.Contains(head, []byte(`"ProductArn"`)) && bytes.Contains(head, []byte(`"AwsAccountId"`)) {
		return true
	}
	return bytes.Contains(head, []byte(`"detail-type"`)) &&
		(bytes.Contains(head, []byte(`"source":"aws.securityhub"`)) || bytes.Contains(head, []byte(`"source": "aws.securityhub"`)))
}

// Parse reads one object of Security Hub findings.
func Parse(ctx context.Context, in *parse.Input) error {
	// A {"Findings":[...]} document is one record here, split below, rather than a wrapper for the
	// splitter, so that each finding keeps its own bytes and the document's position.
	var p fastjson.Parser
	var r jsonrec.Rec
	return in.EachJSON(ctx, nil, func(rec *parse.Record) error {
		orig := string(rec.Raw)
		v, err := r.Parse(&p, orig)
		if err != nil {
			rec.Reject("json", fmt.Errorf("invalid JSON: %w", err))
			return nil
		}
		if v.Type() != fastjson.TypeObject {
			rec.Reject("json", fmt.Errorf("a Security Hub finding is a JSON object, not %s", v.Type()))
			return nil
		}
		g := group{in: in, r: &r, num: rec.Num, offset: rec.Offset, orig: orig}
		switch {
		case v.Get("detail-type") != nil && v.Get("detail") != nil:
			return g.envelope(ctx, v)
		case v.Get("Findings") != nil && v.Get("SchemaVersion") == nil:
			// A {"Findings":[...]} document, as the API returns a page of findings.
			return g.findings(ctx, v.Get("Findings"), []string{"Findings"}, nil)
		}
		return g.emit(ctx, v, 0, len(orig), nil)
	})
}

// group is one record and what it holds.
type group struct {
	in     *parse.Input
	r      *jsonrec.Rec
	num    int
	offset int64
	orig   string
}

// envelope handles an EventBridge event.
func (g *group) envelope(ctx context.Context, v *fastjson.Value) error {
	d := v.Get("detail")
	if d.Type() != fastjson.TypeObject {
		g.in.Reject(0, g.num, g.offset, "fields", errors.New("field detail: not an object"), []byte(g.orig))
		return nil
	}
	if src := g.r.Get(v, "source"); src != "aws.securityhub" {
		g.in.Reject(0, g.num, g.offset, "fields", fmt.Errorf("field source: %q, not aws.securityhub", src), []byte(g.orig))
		return nil
	}
	if f := d.Get("findings"); f != nil {
		return g.findings(ctx, f, []string{"detail", "findings"}, v)
	}
	// Insight results: one event about the insight.
	when := g.r.Get(v, "time")
	t, err := time.Parse(time.RFC3339Nano, when)
	if err != nil {
		g.in.Reject(0, g.num, g.offset, "time", fmt.Errorf("field time: not an RFC 3339 time: %q", when), []byte(g.orig))
		return nil
	}
	e := event.New("securityhub", g.orig, 16)
	e.SetTimestampIn(event.RFC3339In(t, when))
	e.Set("event.kind", event.String("event"))
	e.Set("event.type", event.Strings(typeInfo...))
	e.SetString("event.action", g.r.Get(v, "detail-type"))
	e.SetString("cloud.account.id", g.r.Get(v, "account"))
	e.SetString("cloud.region", g.r.Get(v, "region"))
	eventbridge(g.r, e, v)
	e.SetString("aws.securityhub.insight.arn", g.r.Get(d, "insightArn"))
	e.SetString("aws.securityhub.insight.name", g.r.Get(d, "insightName"))
	e.SetString("aws.securityhub.insight.result_type", g.r.Get(d, "resultType"))
	setJSON(e, "aws.securityhub.insight.results", d.Get("insightResults"))
	if err := g.in.Emit(e, g.offset); err != nil {
		return err
	}
	return ctx.Err()
}

// findings emits each element of the array f, found at path inside the record, with its own bytes.
// env is the EventBridge event around them, if any. An empty array is a record without events.
func (g *group) findings(ctx context.Context, f *fastjson.Value, path []string, env *fastjson.Value) error {
	fs, err := f.Array()
	if err != nil {
		g.in.Reject(0, g.num, g.offset, "fields", fmt.Errorf("field %s: not an array", strings.Join(path, ".")), []byte(g.orig))
		return nil
	}
	if len(fs) == 0 {
		g.in.Skip()
		return nil
	}
	b := unsafeBytes(g.orig) // read only
	start, end := skipWS(b, 0), 0
	ok := true
	for _, k := range path {
		if start, end, ok = member(b, start, k); !ok {
			break
		}
	}
	var spans [][2]int
	if ok {
		spans = elements(b[:end], start)
	}
	if len(spans) != len(fs) {
		// Cannot happen with valid JSON; never emit a finding with the wrong bytes.
		g.in.Reject(0, g.num, g.offset, "json", errors.New("cannot locate the findings in the record"), b)
		return nil
	}
	for i, x := range fs {
		if err := g.emit(ctx, x, spans[i][0], spans[i][1], env); err != nil {
			return err
		}
	}
	return nil
}

// emit maps the finding v, whose bytes are orig[s:e], and sends it on.
func (g *group) emit(ctx context.Context, v *fastjson.Value, s, e int, env *fastjson.Value) error {
	off := g.offset + int64(s)
	if v.Type() != fastjson.TypeObject {
		g.in.Reject(0, g.num, off, "json", fmt.Errorf("a Security Hub finding is a JSON object, not %s", v.Type()), []byte(g.orig[s:e]))
		return nil
	}
	ev, reason, err := build(g.r, v, g.orig[s:e])
	if err != nil {
		g.in.Reject(0, g.num, off, reason, err, []byte(g.orig[s:e]))
		return nil
	}
	if env != nil {
		eventbridge(g.r, ev, env)
		ev.SetString("aws.securityhub.eventbridge.action_name", g.r.Get(env, "detail", "actionName"))
	}
	if err := g.in.Emit(ev, off); err != nil {
		return err
	}
	return ctx.Err()
}

// eventbridge keeps the EventBridge event's identity.
func eventbridge(r *jsonrec.Rec, e *event.Event, env *fastjson.Value) {
	e.SetString("aws.securityhub.eventbridge.id", r.Get(env, "id"))
	e.SetString("aws.securityhub.eventbridge.detail_type", r.Get(env, "detail-type"))
	if s := r.Get(env, "time"); s != "" {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			e.Set("aws.securityhub.eventbridge.time", event.RFC3339In(t, s))
		}
	}
}

// Lists shared by every event (a Strings value is never modified).
var typeInfo = []string{"info"}

// build maps one ASFF finding. Id, AwsAccountId (or ProductArn) and UpdatedAt (or CreatedAt) make one.
func build(r *jsonrec.Rec, f *fastjson.Value, orig string) (*event.Event, string, error) {
	id := r.Get(f, "Id")
	if id == "" {
		return nil, "fields", errors.New("field Id: missing (not an ASFF finding)")
	}
	acct, product := r.Get(f, "AwsAccountId"), r.Get(f, "ProductArn")
	if acct == "" && product == "" {
		return nil, "fields", errors.New("fields AwsAccountId and ProductArn: missing (not an ASFF finding)")
	}
	updated, err := r.Time(f, "UpdatedAt")
	if err != nil {
		return nil, "time", err
	}
	created, createdIn, err := r.TimeIn(f, "CreatedAt")
	if err != nil {
		return nil, "time", err
	}
	if updated.IsZero() {
		updated = created
	}
	if updated.IsZero() {
		return nil, "time", errors.New("fields UpdatedAt and CreatedAt: missing")
	}

	e := event.New("securityhub", orig, 48)
	e.Timestamp = updated
	e.Set("event.kind", event.String("alert"))
	e.Set("event.type", event.Strings(typeInfo...))
	if !created.IsZero() {
		e.Set("event.created", createdIn)
	}
	if t, v, err := r.TimeIn(f, "FirstObservedAt"); err == nil && !t.IsZero() {
		e.Set("event.start", v)
	}
	if t, v, err := r.TimeIn(f, "LastObservedAt"); err == nil && !t.IsZero() {
		e.Set("event.end", v)
	}
	e.Set("event.id", event.String(id))
	e.Set("aws.securityhub.id", event.String(id))
	e.SetString("cloud.account.id", acct)
	region := r.Get(f, "Region")
	if region == "" {
		// arn:aws:securityhub:<region>::product/...
		if parts := strings.SplitN(product, ":", 5); len(parts) == 5 {
			region = parts[3]
		}
	}
	e.SetString("cloud.region", region)

	// What and who found it.
	e.SetString("aws.securityhub.product_arn", product)
	e.SetString("aws.securityhub.product_name", r.Get(f, "ProductName"))
	e.SetString("aws.securityhub.company_name", r.Get(f, "CompanyName"))
	e.SetString("aws.securityhub.generator_id", r.Get(f, "GeneratorId"))
	e.SetString("aws.securityhub.schema_version", r.Get(f, "SchemaVersion"))
	if types := strs(r, f.Get("Types")); len(types) > 0 {
		e.Set("aws.securityhub.types", event.Strings(types...))
	}
	title := r.Get(f, "Title")
	e.SetString("rule.name", title)
	e.SetString("aws.securityhub.title", title)
	e.SetString("message", r.Get(f, "Description"))
	e.SetString("rule.reference", r.Get(f, "Remediation", "Recommendation", "Url"))
	control := r.Get(f, "Compliance", "SecurityControlId")
	e.SetString("rule.id", control)

	// How bad, and where it stands.
	sev := f.Get("Severity")
	label := r.Get(sev, "Label")
	if n := sev.Get("Normalized"); n != nil && n.Type() == fastjson.TypeNumber {
		v := event.IntIn(n.GetInt64(), r.Number(n))
		e.Set("event.severity", v)
		e.Set("aws.securityhub.severity.normalized", v)
		if label == "" {
			label = labelOf(n.GetInt64())
		}
	} else if n, ok := normalizedOf(label); ok {
		e.Set("event.severity", event.Int(n))
	}
	e.SetString("aws.securityhub.severity.label", label)
	e.SetString("aws.securityhub.severity.original", r.Get(sev, "Original"))
	e.SetString("aws.securityhub.compliance.status", r.Get(f, "Compliance", "Status"))
	e.SetString("aws.securityhub.compliance.security_control_id", control)
	if ws := r.Get(f, "Workflow", "Status"); ws != "" {
		e.Set("aws.securityhub.workflow.status", event.String(ws))
	} else {
		e.SetString("aws.securityhub.workflow.status", r.Get(f, "WorkflowState"))
	}
	e.SetString("aws.securityhub.record_state", r.Get(f, "RecordState"))
	setJSON(e, "aws.securityhub.resources", f.Get("Resources"))
	var rtypes []string
	for _, res := range f.GetArray("Resources") {
		if t := r.Get(res, "Type"); t != "" {
			rtypes = appendNew(rtypes, t)
		}
	}
	if len(rtypes) > 0 {
		e.Set("aws.securityhub.resource_types", event.Strings(rtypes...))
	}

	// Network activity and the remote party.
	var ips []string
	addIP := func(s string) string {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return ""
		}
		s = ip.String()
		ips = appendNew(ips, s)
		return s
	}
	if nw := f.Get("Network"); nw != nil {
		if ip := addIP(first(r.Get(nw, "SourceIpV4"), r.Get(nw, "SourceIpV6"))); ip != "" {
			e.Set("source.ip", event.String(ip))
		}
		setPort(r, e, "source.port", nw.Get("SourcePort"))
		if ip := addIP(first(r.Get(nw, "DestinationIpV4"), r.Get(nw, "DestinationIpV6"))); ip != "" {
			e.Set("destination.ip", event.String(ip))
		}
		setPort(r, e, "destination.port", nw.Get("DestinationPort"))
		e.SetString("source.domain", r.Get(nw, "SourceDomain"))
		e.SetString("destination.domain", r.Get(nw, "DestinationDomain"))
		if p := r.Get(nw, "Protocol"); p != "" {
			e.Set("network.transport", event.String(strings.ToLower(p)))
		}
		switch r.Get(nw, "Direction") {
		case "IN":
			e.Set("network.direction", event.String("inbound"))
		case "OUT":
			e.Set("network.direction", event.String("outbound"))
		}
	}
	if a := f.Get("Action"); a != nil {
		e.SetString("event.action", r.Get(a, "ActionType"))
		var remote string
		for _, k := range [...]string{"AwsApiCallAction", "NetworkConnectionAction"} {
			if s := r.Get(a, k, "RemoteIpDetails", "IpAddressV4"); s != "" && remote == "" {
				remote = s
			}
		}
		for _, d := range a.GetArray("PortProbeAction", "PortProbeDetails") {
			if s := r.Get(d, "RemoteIpDetails", "IpAddressV4"); s != "" {
				if remote == "" {
					remote = s
				}
				addIP(s)
			}
		}
		if ip := addIP(remote); ip != "" {
			if _, ok := e.Get("source.ip"); !ok {
				e.Set("source.ip", event.String(ip))
			}
		}
		e.SetString("dns.question.name", r.Get(a, "DnsRequestAction", "Domain"))
		e.SetString("event.provider", r.Get(a, "AwsApiCallAction", "ServiceName"))
	}
	if len(ips) > 0 {
		e.Set("related.ip", event.Strings(ips...))
	}
	return e, "", nil
}

// labelOf is the severity label of a normalized severity, as ASFF defines it.
func labelOf(n int64) string {
	switch {
	case n >= 90:
		return "CRITICAL"
	case n >= 70:
		return "HIGH"
	case n >= 40:
		return "MEDIUM"
	case n >= 1:
		return "LOW"
	}
	return "INFORMATIONAL"
}

// normalizedOf is the normalized severity Security Hub gives a finding that has only a label.
func normalizedOf(label string) (int64, bool) {
	switch label {
	case "INFORMATIONAL":
		return 0, true
	case "LOW":
		return 1, true
	case "MEDIUM":
		return 40, true
	case "HIGH":
		return 70, true
	case "CRITICAL":
		return 90, true
	}
	return 0, false
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func setPort(r *jsonrec.Rec, e *event.Event, key string, v *fastjson.Value) {
	if v == nil || v.Type() != fastjson.TypeNumber {
		return
	}
	if n := v.GetInt64(); n >= 0 && n <= 65535 {
		e.Set(key, event.IntIn(n, r.Number(v)))
	}
}

// strs returns the strings of a JSON array of strings.
func strs(r *jsonrec.Rec, v *fastjson.Value) []string {
	if v == nil || v.Type() != fastjson.TypeArray {
		return nil
	}
	a, _ := v.Array()
	out := make([]string, 0, len(a))
	for _, x := range a {
		if s := r.Text(x); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func appendNew(l []string, s string) []string {
	for _, x := range l {
		if x == s {
			return l
		}
	}
	return append(l, s)
}

// setJSON keeps a part of the finding without a fixed shape as JSON text (null and empty left out).
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
	e.Set(key, event.FromJSON(v))
}
