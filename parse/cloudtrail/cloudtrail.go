// Package cloudtrail parses AWS CloudTrail records into ECS events.
//
// It reads every way CloudTrail records reach a user: the {"Records":[...]} files CloudTrail writes to
// S3 (management, data and Insights events), a JSON array of records, newline-delimited records (as
// CloudWatch Logs exports and most shippers write them), single records, and records inside an
// EventBridge envelope ({"detail-type":"AWS API Call via CloudTrail","detail":{...}}). Digest files
// (CloudTrail-Digest/, used to validate log integrity) are recognised and counted as skipped, not
// parsed as events.
//
// The ECS mapping follows Elastic's AWS integration for the fields both have (see docs/ecs.md); the
// parts of a record without a fixed shape (requestParameters, responseElements, additionalEventData,
// resources) are kept as JSON text under aws.cloudtrail.*, and every native field stays reachable by
// its own name through the original record.
package cloudtrail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/valyala/fastjson"

	"github.com/ramen-siem/ramen/decode"
	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/parse"
)

func init() {
	parse.Register(&parse.Type{
		Name:       "cloudtrail",
		Title:      "AWS CloudTrail",
		Dataset:    "aws.cloudtrail",
		Parse:      Parse,
		Services:   []string{"CloudTrail", "CloudTrail-Insight", "CloudTrail-Digest"},
		Sniff:      sniff,
		SniffOrder: 10,
	})
}

// sniff recognises CloudTrail by the keys only its records have.
func sniff(head []byte) bool {
	return bytes.Contains(head, []byte(`"eventVersion"`)) && bytes.Contains(head, []byte(`"eventSource"`)) ||
		bytes.Contains(head, []byte(`"digestStartTime"`)) && bytes.Contains(head, []byte(`"digestSignatureAlgorithm"`)) ||
		bytes.Contains(head, []byte(`"detail-type":"AWS API Call via CloudTrail"`)) ||
		bytes.Contains(head, []byte(`"detail-type": "AWS API Call via CloudTrail"`))
}

// Parse reads one object of CloudTrail records.
func Parse(ctx context.Context, in *parse.Input) error {
	rs := in.JSONRecords("Records")
	var p fastjson.Parser
	st := newInterner()
	for {
		ok, err := rs.Next()
		if !ok {
			return err
		}
		if err != nil {
			reason := "json"
			if errors.Is(err, decode.ErrTooLong) {
				reason = "too_long"
			}
			in.Reject(0, rs.Num(), rs.Offset(), reason, err, rs.Bytes())
			continue
		}
		raw := rs.Bytes()
		v, err := p.ParseBytes(raw)
		if err != nil {
			in.Reject(0, rs.Num(), rs.Offset(), "json", fmt.Errorf("invalid JSON: %w", err), raw)
			continue
		}
		if v.Type() != fastjson.TypeObject {
			in.Reject(0, rs.Num(), rs.Offset(), "json", fmt.Errorf("a CloudTrail record is a JSON object, not %s", v.Type()), raw)
			continue
		}
		if v.Exists("digestStartTime") {
			in.Skip()
			continue
		}
		rec, root := v, ""
		if d := v.Get("detail"); d != nil && v.Exists("detail-type") && d.Type() == fastjson.TypeObject {
			rec, root = d, "detail"
		}
		e, err := build(rec, string(raw), st)
		if err != nil {
			in.Reject(0, rs.Num(), rs.Offset(), "fields", err, raw)
			continue
		}
		e.NativeRoot = root
		if root != "" {
			setString(e, st, "aws.cloudtrail.eventbridge.id", v.GetStringBytes("id"))
			setString(e, st, "aws.cloudtrail.eventbridge.detail_type", v.GetStringBytes("detail-type"))
		}
		if err := in.Emit(e, rs.Offset()); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// build maps one record. A record without eventTime, eventName or eventSource is not CloudTrail.
func build(r *fastjson.Value, original string, st *interner) (*event.Event, error) {
	name := r.GetStringBytes("eventName")
	source := r.GetStringBytes("eventSource")
	when := r.GetStringBytes("eventTime")
	if len(name) == 0 && len(source) == 0 {
		// Insights events name the call they are about inside insightDetails.
		name = r.GetStringBytes("insightDetails", "eventName")
		source = r.GetStringBytes("insightDetails", "eventSource")
	}
	switch {
	case len(when) == 0:
		return nil, errors.New("field eventTime: missing")
	case len(name) == 0:
		return nil, errors.New("field eventName: missing")
	case len(source) == 0:
		return nil, errors.New("field eventSource: missing")
	}
	ts, err := time.Parse(time.RFC3339Nano, string(when))
	if err != nil {
		return nil, fmt.Errorf("field eventTime: not an RFC 3339 time: %q", when)
	}
	e := event.New("cloudtrail", original, 40)
	e.Timestamp = ts.UTC()
	action := st.get(name)
	provider := st.get(source)
	e.Add("event.action", event.String(action))
	e.Add("event.provider", event.String(provider))
	e.Add("event.kind", event.String("event"))
	setString(e, st, "event.id", r.GetStringBytes("eventID"))
	setString(e, st, "cloud.region", r.GetStringBytes("awsRegion"))

	id := r.Get("userIdentity")
	idType := st.get(id.GetStringBytes("type"))
	if acct := id.GetStringBytes("accountId"); len(acct) > 0 {
		e.Add("cloud.account.id", event.String(st.get(acct)))
	} else {
		setString(e, st, "cloud.account.id", r.GetStringBytes("recipientAccountId"))
	}

	// Who: user.name as Elastic sets it (the IAM user, or for a role session the role behind it).
	user := string(id.GetStringBytes("userName"))
	if user == "" {
		switch idType {
		case "AssumedRole", "FederatedUser":
			user = string(id.GetStringBytes("sessionContext", "sessionIssuer", "userName"))
		case "Root":
			user = "root"
		}
	}
	if user == "" && name != nil && string(name) == "ConsoleLogin" {
		// Failed console logins of unknown users name them in additionalEventData only.
		user = string(r.GetStringBytes("additionalEventData", "UserName"))
	}
	if user != "" {
		e.Add("user.name", event.String(user))
		e.Add("related.user", event.Strings(user))
	}
	setString(e, st, "user.id", id.GetStringBytes("principalId"))

	if addr := r.GetStringBytes("sourceIPAddress"); len(addr) > 0 {
		a := st.get(addr)
		e.Add("source.address", event.String(a))
		if ip, err := netip.ParseAddr(a); err == nil {
			e.Add("source.ip", event.String(ip.String()))
			e.Add("related.ip", event.Strings(ip.String()))
		} else {
			// AWS services calling on a user's behalf appear by name ("cloudformation.amazonaws.com").
			e.Add("source.domain", event.String(a))
		}
	}
	setString(e, st, "user_agent.original", r.GetStringBytes("userAgent"))

	// Outcome: an error code means failure; a console login says so in its response.
	errCode := r.GetStringBytes("errorCode")
	outcome := "success"
	if len(errCode) > 0 {
		outcome = "failure"
	}
	if string(name) == "ConsoleLogin" {
		if res := r.GetStringBytes("responseElements", "ConsoleLogin"); len(res) > 0 && string(res) != "Success" {
			outcome = "failure"
		}
	}
	e.Add("event.outcome", event.String(outcome))
	e.Add("event.type", event.Strings("info"))
	if c := category(provider, action); c != "" {
		e.Add("event.category", event.Strings(c))
	}

	setString(e, st, "aws.cloudtrail.error_code", errCode)
	setString(e, st, "aws.cloudtrail.error_message", r.GetStringBytes("errorMessage"))
	setString(e, st, "aws.cloudtrail.event_version", r.GetStringBytes("eventVersion"))
	setString(e, st, "aws.cloudtrail.event_type", r.GetStringBytes("eventType"))
	setString(e, st, "aws.cloudtrail.event_category", r.GetStringBytes("eventCategory"))
	setString(e, st, "aws.cloudtrail.request_id", r.GetStringBytes("requestID"))
	setString(e, st, "aws.cloudtrail.shared_event_id", r.GetStringBytes("sharedEventID"))
	setString(e, st, "aws.cloudtrail.recipient_account_id", r.GetStringBytes("recipientAccountId"))
	setString(e, st, "aws.cloudtrail.vpc_endpoint_id", r.GetStringBytes("vpcEndpointId"))
	setString(e, st, "aws.cloudtrail.api_version", r.GetStringBytes("apiVersion"))
	setString(e, st, "aws.cloudtrail.session_credential_from_console", r.GetStringBytes("sessionCredentialFromConsole"))
	setBool(e, "aws.cloudtrail.read_only", r.Get("readOnly"))
	setBool(e, "aws.cloudtrail.management_event", r.Get("managementEvent"))

	setString(e, st, "aws.cloudtrail.user_identity.type", []byte(idType))
	setString(e, st, "aws.cloudtrail.user_identity.arn", id.GetStringBytes("arn"))
	setString(e, st, "aws.cloudtrail.user_identity.access_key_id", id.GetStringBytes("accessKeyId"))
	setString(e, st, "aws.cloudtrail.user_identity.invoked_by", id.GetStringBytes("invokedBy"))
	setString(e, st, "aws.cloudtrail.user_identity.identity_provider", id.GetStringBytes("identityProvider"))
	if sc := id.Get("sessionContext"); sc != nil {
		setString(e, st, "aws.cloudtrail.user_identity.session_context.mfa_authenticated", sc.GetStringBytes("attributes", "mfaAuthenticated"))
		setString(e, st, "aws.cloudtrail.user_identity.session_context.creation_date", sc.GetStringBytes("attributes", "creationDate"))
		setString(e, st, "aws.cloudtrail.user_identity.session_context.session_issuer.type", sc.GetStringBytes("sessionIssuer", "type"))
		setString(e, st, "aws.cloudtrail.user_identity.session_context.session_issuer.arn", sc.GetStringBytes("sessionIssuer", "arn"))
		setString(e, st, "aws.cloudtrail.user_identity.session_context.session_issuer.principal_id", sc.GetStringBytes("sessionIssuer", "principalId"))
		setString(e, st, "aws.cloudtrail.user_identity.session_context.source_identity", sc.GetStringBytes("sourceIdentity"))
	}

	setJSON(e, "aws.cloudtrail.request_parameters", r.Get("requestParameters"))
	setJSON(e, "aws.cloudtrail.response_elements", r.Get("responseElements"))
	setJSON(e, "aws.cloudtrail.additional_eventdata", r.Get("additionalEventData"))
	setJSON(e, "aws.cloudtrail.service_event_details", r.Get("serviceEventDetails"))
	setJSON(e, "aws.cloudtrail.resources", r.Get("resources"))
	setJSON(e, "aws.cloudtrail.insight_details", r.Get("insightDetails"))

	if string(name) == "ConsoleLogin" {
		if mfa := r.GetStringBytes("additionalEventData", "MFAUsed"); len(mfa) > 0 {
			e.Add("aws.cloudtrail.console_login.additional_eventdata.mfa_used", event.Bool(string(mfa) == "Yes"))
		}
		if mob := r.GetStringBytes("additionalEventData", "MobileVersion"); len(mob) > 0 {
			e.Add("aws.cloudtrail.console_login.additional_eventdata.mobile_version", event.Bool(string(mob) == "Yes"))
		}
		setString(e, st, "aws.cloudtrail.console_login.additional_eventdata.login_to", r.GetStringBytes("additionalEventData", "LoginTo"))
	}

	if tls := r.Get("tlsDetails"); tls != nil {
		if v := tls.GetStringBytes("tlsVersion"); len(v) > 0 {
			// "TLSv1.3" -> tls.version 1.3, tls.version_protocol tls, as ECS has it.
			s := st.get(v)
			if len(s) > 4 && s[:4] == "TLSv" {
				e.Add("tls.version", event.String(s[4:]))
				e.Add("tls.version_protocol", event.String("tls"))
			}
		}
		setString(e, st, "tls.cipher", tls.GetStringBytes("cipherSuite"))
		setString(e, st, "tls.client.server_name", tls.GetStringBytes("clientProvidedHostHeader"))
	}
	return e, nil
}

// category gives event.category for the calls whose category is clear from the call alone.
func category(provider, action string) string {
	switch provider {
	case "signin.amazonaws.com":
		return "authentication"
	case "sts.amazonaws.com":
		switch action {
		case "AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "GetSessionToken", "GetFederationToken":
			return "authentication"
		}
	case "iam.amazonaws.com":
		return "iam"
	}
	return ""
}

func setString(e *event.Event, st *interner, key string, b []byte) {
	if len(b) == 0 {
		return
	}
	e.Add(key, event.String(st.get(b)))
}

func setBool(e *event.Event, key string, v *fastjson.Value) {
	if v == nil {
		return
	}
	switch v.Type() {
	case fastjson.TypeTrue:
		e.Add(key, event.Bool(true))
	case fastjson.TypeFalse:
		e.Add(key, event.Bool(false))
	}
}

// setJSON keeps a free-form part of the record as JSON text (objects, arrays) or as its scalar.
func setJSON(e *event.Event, key string, v *fastjson.Value) {
	if v == nil {
		return
	}
	switch v.Type() {
	case fastjson.TypeNull:
		return
	case fastjson.TypeObject, fastjson.TypeArray:
		e.Add(key, event.JSON(string(v.MarshalTo(nil))))
	default:
		e.Add(key, event.FromJSON(v))
	}
}

// interner shares the text of values that repeat across records (event names, regions, account
// ids, ARNs of busy roles): fewer allocations while parsing, less memory for every stage after.
// It is bounded so that a file of unique values cannot grow it without limit.
type interner struct{ m map[string]string }

const maxInterned = 8192

func newInterner() *interner { return &interner{m: make(map[string]string, 256)} }

func (in *interner) get(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := in.m[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(b) <= 128 && len(in.m) < maxInterned {
		in.m[s] = s
	}
	return s
}
