// Package guardduty parses Amazon GuardDuty findings into ECS alerts.
//
// It reads findings the ways they leave GuardDuty: the S3 export (AWSLogs/<account>/GuardDuty/<region>/
// yyyy/mm/dd/<uuid>.jsonl.gz, one finding per line), {"findings":[...]} documents (also as a line of
// an export: an empty one is counted as skipped), JSON arrays, single findings, and EventBridge events
// ({"detail-type":"GuardDuty Finding","source":"aws.guardduty","detail":{...}}), where the finding is
// the detail and the whole event is kept as the original (native field names then resolve below
// "detail").
//
// The mapping follows Elastic's AWS integration (data stream aws.guardduty) for the fields a detection
// rule or a search needs: @timestamp is updatedAt (a finding is re-emitted as its count grows),
// event.created createdAt, event.kind "alert", event.severity the numeric severity, rule.name the
// finding type, message the description, the remote address of the action as source.ip (or
// destination.ip for outbound connections), user.name/user.id from the access key, the EKS user or
// the RDS user. aws.guardduty.* holds the finding's own identity and state; the rest of a finding,
// whose shape depends on its resource and action types, stays reachable by its native names in the
// original record rather than being copied field by field.
package guardduty

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/ramen-siem/ramen/decode"
	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/parse"
	"github.com/ramen-siem/ramen/parse/internal/jsonrec"
)

func init() {
	parse.Register(&parse.Type{
		Name:       "guardduty",
		Title:      "Amazon GuardDuty findings",
		Dataset:    "aws.guardduty",
		Parse:      Parse,
		Services:   []string{"GuardDuty"},
		Sniff:      sniff,
		SniffOrder: 20,
	})
}

// sniff recognises a GuardDuty finding by its camelCase schemaVersion key with a GuardDuty ARN (Security
// Hub's copies of GuardDuty findings are ASFF, with "SchemaVersion"), or an EventBridge event from
// GuardDuty. CloudTrail records of GuardDuty API calls have neither.
func sniff(head []byte) bool {
	head = bytes.TrimLeft(head, " \t\r\n")
	if len(head) == 0 || (head[0] != '{' && head[0] != '[') {
		return false
	}
	// CloudTrail, and Security Hub (whose ASFF copies of GuardDuty findings hold GuardDuty ARNs).
	if bytes.Contains(head, []byte(`"eventVersion"`)) || bytes.Contains(head, []byte(`"ProductArn"`)) ||
		bytes.Contains(head, []byte(`aws.securityhub`)) {
		return false
	}
	if bytes.Contains(head, []byte(`"schemaVersion"`)) && bytes.Contains(head, []byte(`:guardduty:`)) {
		return true
	}
	if w := bytes.TrimLeft(head[1:], " \t\r\n"); head[0] == '{' && bytes.HasPrefix(w, []byte(`"findings"`)) &&
		bytes.Contains(head, []byte(`:guardduty:`)) {
		return true
	}
	return bytes.Contains(head, []byte(`"detail-type"`)) &&
		(bytes.Contains(head, []byte(`"source":"aws.guardduty"`)) || bytes.Contains(head, []byte(`"source": "aws.guardduty"`)))
}

// Parse reads one object of GuardDuty findings.
func Parse(ctx context.Context, in *parse.Input) error {
	// A {"findings":[...]} document is one record here, split below, rather than a wrapper for the
	// splitter, so that a finding's offset and the document's record number stay together.
	var p fastjson.Parser
	var r jsonrec.Rec
	return in.EachJSON(ctx, nil, func(rec *parse.Record) error {
		v, err := r.Parse(&p, string(rec.Raw))
		if err != nil {
			rec.Reject("json", fmt.Errorf("invalid JSON: %w", err))
			return nil
		}
		if v.Type() == fastjson.TypeObject && v.Get("findings") != nil && v.Get("type") == nil {
			// A {"findings":[...]} document (alone, or a line of an export).
			return wrapped(ctx, in, rec.Num, rec.Offset, rec.Raw)
		}
		return one(ctx, in, &r, v, rec.Num, rec.Offset, rec.Raw)
	})
}

// wrapped parses the findings of a {"findings":[...]} record (number num, found at offset); none is
// a skip. Its findings keep their own offsets, and their rejects the record's number.
func wrapped(ctx context.Context, in *parse.Input, num int, offset int64, raw []byte) error {
	rs := decode.NewJSONRecords(bytes.NewReader(raw), len(raw)+1, "findings")
	var p fastjson.Parser
	var r jsonrec.Rec
	n := 0
	for {
		ok, err := rs.Next()
		if !ok {
			if n == 0 && err == nil {
				in.Skip()
			}
			return err
		}
		n++
		if err != nil || len(rs.Bytes()) == 0 {
			if err == nil {
				err = errors.New("no JSON value where a finding should start")
			}
			in.Reject(0, num, offset+rs.Offset(), "json", err, rs.Bytes())
			if len(rs.Bytes()) == 0 {
				return nil
			}
			continue
		}
		v, err := r.Parse(&p, string(rs.Bytes()))
		if err != nil {
			in.Reject(0, num, offset+rs.Offset(), "json", fmt.Errorf("invalid JSON: %w", err), rs.Bytes())
			continue
		}
		if err := one(ctx, in, &r, v, num, offset+rs.Offset(), rs.Bytes()); err != nil {
			return err
		}
	}
}

// one maps and emits one record (a finding or an EventBridge event holding one).
func one(ctx context.Context, in *parse.Input, r *jsonrec.Rec, v *fastjson.Value, num int, offset int64, raw []byte) error {
	if v.Type() != fastjson.TypeObject {
		in.Reject(0, num, offset, "json", fmt.Errorf("a GuardDuty finding is a JSON object, not %s", v.Type()), raw)
		return nil
	}
	f, root := v, ""
	if d := v.Get("detail"); d != nil && v.Get("detail-type") != nil {
		if d.Type() != fastjson.TypeObject {
			in.Reject(0, num, offset, "fields", errors.New("field detail: not an object"), raw)
			return nil
		}
		f, root = d, "detail"
	}
	e, reason, err := build(r, f)
	if err != nil {
		in.Reject(0, num, offset, reason, err, raw)
		return nil
	}
	e.NativeRoot = root
	if root != "" {
		e.SetString("aws.guardduty.eventbridge.id", r.Get(v, "id"))
	}
	if err := in.Emit(e, offset); err != nil {
		return err
	}
	return ctx.Err()
}

// Lists shared by every event (a Strings value is never modified).
var typeInfo = []string{"info"}

// build maps one finding. A finding without id, type or a time is not a GuardDuty finding.
func build(r *jsonrec.Rec, f *fastjson.Value) (*event.Event, string, error) {
	id := r.Get(f, "id")
	if id == "" {
		return nil, "fields", errors.New("field id: missing (not a GuardDuty finding)")
	}
	typ := r.Get(f, "type")
	if typ == "" {
		return nil, "fields", errors.New("field type: missing (not a GuardDuty finding)")
	}
	updated, err := r.Time(f, "updatedAt")
	if err != nil {
		return nil, "time", err
	}
	created, createdIn, err := r.TimeIn(f, "createdAt")
	if err != nil {
		return nil, "time", err
	}
	if updated.IsZero() {
		updated = created
	}
	if updated.IsZero() {
		return nil, "time", errors.New("fields updatedAt and createdAt: missing")
	}

	e := event.New("guardduty", r.Original(), 48)
	e.Timestamp = updated
	e.Set("event.kind", event.String("alert"))
	e.Set("event.type", event.Strings(typeInfo...))
	if !created.IsZero() {
		e.Set("event.created", createdIn)
	}
	e.Set("event.id", event.String(id))
	e.Set("aws.guardduty.id", event.String(id))
	e.SetString("aws.guardduty.arn", r.Get(f, "arn"))
	e.SetString("aws.guardduty.schema_version", r.Get(f, "schemaVersion"))
	e.SetString("aws.guardduty.partition", r.Get(f, "partition"))
	e.SetString("cloud.account.id", r.Get(f, "accountId"))
	e.SetString("cloud.region", r.Get(f, "region"))

	// What was found.
	e.Set("rule.name", event.String(typ))
	e.Set("aws.guardduty.type", event.String(typ))
	// "Recon:EC2/PortProbeUnprotectedPort": the threat purpose, then the resource type.
	if i := strings.IndexByte(typ, ':'); i > 0 {
		e.Set("rule.category", event.String(typ[:i]))
		if j := strings.IndexByte(typ[i:], '/'); j > 0 {
			e.Set("rule.ruleset", event.String(typ[:i+j]))
		}
	}
	title := r.Get(f, "title")
	e.SetString("aws.guardduty.title", title)
	if d := r.Get(f, "description"); d != "" {
		e.Set("message", event.String(d))
	} else {
		e.SetString("message", title)
	}
	if sv := f.Get("severity"); sv != nil && sv.Type() == fastjson.TypeNumber {
		sev := sv.GetFloat64()
		e.Set("event.severity", event.Int(int64(math.Trunc(sev))))
		e.Set("aws.guardduty.severity.code", event.Float(sev))
		e.Set("aws.guardduty.severity.label", event.String(severityLabel(sev)))
	}
	if c := f.Get("confidence"); c != nil && c.Type() == fastjson.TypeNumber {
		e.Set("aws.guardduty.confidence", event.Float(c.GetFloat64()))
	}

	// The resource.
	res := f.Get("resource")
	e.SetString("aws.guardduty.resource.type", r.Get(res, "resourceType"))
	var users []string
	if ak := res.Get("accessKeyDetails"); ak != nil {
		e.SetString("aws.guardduty.resource.access_key_details.access_key_id", r.Get(ak, "accessKeyId"))
		e.SetString("aws.guardduty.resource.access_key_details.user_type", r.Get(ak, "userType"))
		if u := r.Get(ak, "userName"); u != "" {
			e.Set("user.name", event.String(u))
			users = append(users, u)
		}
		if pid := r.Get(ak, "principalId"); pid != "" {
			e.Set("user.id", event.String(pid))
			users = append(users, pid)
		}
	}
	if ku := res.Get("kubernetesDetails", "kubernetesUserDetails"); ku != nil {
		if u := r.Get(ku, "username"); u != "" {
			if _, ok := e.Get("user.name"); !ok {
				e.Set("user.name", event.String(u))
			}
			users = append(users, u)
		}
		if uid := r.Get(ku, "uid"); uid != "" {
			if _, ok := e.Get("user.id"); !ok {
				e.Set("user.id", event.String(uid))
			}
		}
	}
	if u := r.Get(res, "rdsDbUserDetails", "user"); u != "" {
		if _, ok := e.Get("user.name"); !ok {
			e.Set("user.name", event.String(u))
		}
		users = append(users, u)
	}
	if len(users) > 0 {
		e.Set("related.user", event.Strings(dedup(users)...))
	}
	if inst := res.Get("instanceDetails"); inst != nil {
		if iid := r.Get(inst, "instanceId"); iid != "" {
			e.Set("cloud.instance.id", event.String(iid))
			e.Set("host.id", event.String(iid))
		}
		if it := r.Get(inst, "instanceType"); it != "" {
			e.Set("cloud.machine.type", event.String(it))
		}
		e.SetString("cloud.availability_zone", r.Get(inst, "availabilityZone"))
		e.SetString("host.os.platform", r.Get(inst, "platform"))
	}
	e.SetString("aws.guardduty.resource.s3_bucket.name", firstBucket(r, res))
	e.SetString("orchestrator.cluster.name", r.Get(res, "eksClusterDetails", "name"))

	// The service's view: action, counts, state.
	svc := f.Get("service")
	e.SetString("cloud.service.name", r.Get(svc, "serviceName"))
	e.SetString("aws.guardduty.service.detector_id", r.Get(svc, "detectorId"))
	e.SetString("aws.guardduty.service.feature_name", r.Get(svc, "featureName"))
	e.SetString("aws.guardduty.service.resource_role", r.Get(svc, "resourceRole"))
	if c := svc.Get("count"); c != nil && c.Type() == fastjson.TypeNumber {
		e.Set("aws.guardduty.service.count", event.IntIn(c.GetInt64(), r.Number(c)))
	}
	if a := svc.Get("archived"); a != nil {
		switch a.Type() {
		case fastjson.TypeTrue:
			e.Set("aws.guardduty.service.archived", event.Bool(true))
		case fastjson.TypeFalse:
			e.Set("aws.guardduty.service.archived", event.Bool(false))
		}
	}
	if t, v, err := r.TimeIn(svc, "eventFirstSeen"); err == nil && !t.IsZero() {
		e.Set("event.start", v)
	}
	if t, v, err := r.TimeIn(svc, "eventLastSeen"); err == nil && !t.IsZero() {
		e.Set("event.end", v)
	}
	action(r, e, svc.Get("action"))
	if proc := svc.Get("runtimeDetails", "process"); proc != nil {
		e.SetString("process.name", r.Get(proc, "name"))
		e.SetString("process.executable", r.Get(proc, "executablePath"))
		e.SetString("process.working_directory", r.Get(proc, "pwd"))
		if pid := proc.Get("pid"); pid != nil && pid.Type() == fastjson.TypeNumber {
			e.Set("process.pid", event.IntIn(pid.GetInt64(), r.Number(pid)))
		}
		e.SetString("process.hash.sha256", r.Get(proc, "executableSha256"))
	}
	return e, "", nil
}

// action maps service.action: what was done, from where, to where.
func action(r *jsonrec.Rec, e *event.Event, a *fastjson.Value) {
	if a == nil || a.Type() != fastjson.TypeObject {
		return
	}
	at := r.Get(a, "actionType")
	e.SetString("event.action", at)
	e.SetString("aws.guardduty.service.action.action_type", at)
	var ips []string
	addIP := func(s string) string {
		if s == "" {
			return ""
		}
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return ""
		}
		if ip.String() != s {
			s = ip.String()
		}
		for _, x := range ips {
			if x == s {
				return s
			}
		}
		ips = append(ips, s)
		return s
	}
	if api := a.Get("awsApiCallAction"); api != nil {
		e.SetString("event.provider", r.Get(api, "serviceName"))
		e.SetString("aws.guardduty.service.action.api", r.Get(api, "api"))
		if ip := addIP(r.Get(api, "remoteIpDetails", "ipAddressV4")); ip != "" {
			e.Set("source.ip", event.String(ip))
		}
	}
	if nc := a.Get("networkConnectionAction"); nc != nil {
		remote := addIP(r.Get(nc, "remoteIpDetails", "ipAddressV4"))
		local := addIP(r.Get(nc, "localIpDetails", "ipAddressV4"))
		rport, lport := nc.Get("remotePortDetails", "port"), nc.Get("localPortDetails", "port")
		if t := r.Get(nc, "protocol"); t != "" && t != "Unknown" {
			e.Set("network.transport", event.String(strings.ToLower(t)))
		}
		switch dir := r.Get(nc, "connectionDirection"); dir {
		case "OUTBOUND":
			e.Set("network.direction", event.String("outbound"))
			setIPPort(r, e, "source", local, lport)
			setIPPort(r, e, "destination", remote, rport)
		default:
			if dir == "INBOUND" {
				e.Set("network.direction", event.String("inbound"))
			}
			setIPPort(r, e, "source", remote, rport)
			setIPPort(r, e, "destination", local, lport)
		}
	}
	if pp := a.Get("portProbeAction"); pp != nil {
		for i, d := range pp.GetArray("portProbeDetails") {
			remote := addIP(r.Get(d, "remoteIpDetails", "ipAddressV4"))
			local := addIP(r.Get(d, "localIpDetails", "ipAddressV4"))
			if i == 0 {
				setIPPort(r, e, "source", remote, nil)
				setIPPort(r, e, "destination", local, d.Get("localPortDetails", "port"))
			}
		}
	}
	if k := a.Get("kubernetesApiCallAction"); k != nil {
		e.SetString("aws.guardduty.service.action.api", r.Get(k, "verb"))
		e.SetString("url.path", r.Get(k, "requestUri"))
		if ip := addIP(r.Get(k, "remoteIpDetails", "ipAddressV4")); ip != "" {
			e.Set("source.ip", event.String(ip))
		}
		for _, s := range k.GetArray("sourceIps") {
			if ip := addIP(r.Text(s)); ip != "" {
				if _, ok := e.Get("source.ip"); !ok {
					e.Set("source.ip", event.String(ip))
				}
			}
		}
		e.SetString("user_agent.original", r.Get(k, "userAgent"))
	}
	if rds := a.Get("rdsLoginAttemptAction"); rds != nil {
		if ip := addIP(r.Get(rds, "remoteIpDetails", "ipAddressV4")); ip != "" {
			e.Set("source.ip", event.String(ip))
		}
	}
	if dns := a.Get("dnsRequestAction"); dns != nil {
		e.SetString("dns.question.name", r.Get(dns, "domain"))
		if t := r.Get(dns, "protocol"); t != "" {
			e.Set("network.transport", event.String(strings.ToLower(t)))
		}
	}
	if len(ips) > 0 {
		e.Set("related.ip", event.Strings(ips...))
	}
}

// setIPPort sets <side>.ip and <side>.port.
func setIPPort(r *jsonrec.Rec, e *event.Event, side, ip string, port *fastjson.Value) {
	if ip != "" {
		e.Set(side+".ip", event.String(ip))
	}
	if port != nil && port.Type() == fastjson.TypeNumber {
		if n := port.GetInt64(); n > 0 {
			e.Set(side+".port", event.IntIn(n, r.Number(port)))
		}
	}
}

// firstBucket returns the name of the first S3 bucket of an S3 finding.
func firstBucket(r *jsonrec.Rec, res *fastjson.Value) string {
	for _, b := range res.GetArray("s3BucketDetails") {
		if n := r.Get(b, "name"); n != "" {
			return n
		}
	}
	return ""
}

// severityLabel names a GuardDuty severity as the GuardDuty console does: Low 1.0–3.9, Medium
// 4.0–6.9, High 7.0–8.9, Critical 9.0–10.0.
func severityLabel(s float64) string {
	switch {
	case s >= 9:
		return "Critical"
	case s >= 7:
		return "High"
	case s >= 4:
		return "Medium"
	}
	return "Low"
}

func dedup(l []string) []string {
	var out []string
	for _, s := range l {
		dup := false
		for _, t := range out {
			if t == s {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, s)
		}
	}
	return out
}
