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

	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/parse"
	"github.com/ramen-siem/ramen/parse/internal/jsonrec"
	"github.com/ramen-siem/ramen/parse/internal/slab"
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
		Aliases:    aliases,
	})
}

// aliases are the native names whose value the event holds verbatim under an ECS or aws.* key. Rules
// written with native names (as SigmaHQ's are) then read a field of the event instead of parsing the
// original record: the rule index can rule an event out without any JSON parsing. Only exact
// equivalents are listed (userIdentity.userName is not: user.name has fallbacks). One nuance:
// Insights events carry the call they are about in insightDetails, and eventName/eventSource resolve
// to it.
var aliases = map[string]string{
	"eventName":                "event.action",
	"eventSource":              "event.provider",
	"eventID":                  "event.id",
	"eventType":                "aws.cloudtrail.event_type",
	"eventVersion":             "aws.cloudtrail.event_version",
	"eventCategory":            "aws.cloudtrail.event_category",
	"sourceIPAddress":          "source.address",
	"userAgent":                "user_agent.original",
	"errorCode":                "aws.cloudtrail.error_code",
	"errorMessage":             "aws.cloudtrail.error_message",
	"readOnly":                 "aws.cloudtrail.read_only",
	"managementEvent":          "aws.cloudtrail.management_event",
	"recipientAccountId":       "aws.cloudtrail.recipient_account_id",
	"requestID":                "aws.cloudtrail.request_id",
	"sharedEventID":            "aws.cloudtrail.shared_event_id",
	"vpcEndpointId":            "aws.cloudtrail.vpc_endpoint_id",
	"requestParameters":        "aws.cloudtrail.request_parameters",
	"responseElements":         "aws.cloudtrail.response_elements",
	"additionalEventData":      "aws.cloudtrail.additional_eventdata",
	"resources":                "aws.cloudtrail.resources",
	"userIdentity.type":        "aws.cloudtrail.user_identity.type",
	"userIdentity.arn":         "aws.cloudtrail.user_identity.arn",
	"userIdentity.principalId": "user.id",
	"userIdentity.accessKeyId": "aws.cloudtrail.user_identity.access_key_id",
	"userIdentity.invokedBy":   "aws.cloudtrail.user_identity.invoked_by",
	"userIdentity.sessionContext.sessionIssuer.type":          "aws.cloudtrail.user_identity.session_context.session_issuer.type",
	"userIdentity.sessionContext.sessionIssuer.arn":           "aws.cloudtrail.user_identity.session_context.session_issuer.arn",
	"userIdentity.sessionContext.sessionIssuer.principalId":   "aws.cloudtrail.user_identity.session_context.session_issuer.principal_id",
	"userIdentity.sessionContext.attributes.mfaAuthenticated": "aws.cloudtrail.user_identity.session_context.mfa_authenticated",
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
	var p fastjson.Parser
	var jr jsonrec.Rec
	// Room for fields: what the object's last event had, and a few more. The records of one
	// object are alike, and an event that outgrows its fields copies all of them (2 kB).
	width := 40
	sl := in.Slab() // the memory of this object's events
	return in.EachJSON(ctx, []string{"Records"}, func(rec *parse.Record) error {
		// Validation is left to setJSON, for the parts written back out as JSON: a record's
		// whole text is validated only where it matters, which is a third of the parse time saved.
		v, err := jr.ParseUnvalidated(&p, string(rec.Raw))
		if err != nil {
			rec.Reject("json", fmt.Errorf("invalid JSON: %w", err))
			return nil
		}
		if v.Type() != fastjson.TypeObject {
			rec.Reject("json", fmt.Errorf("a CloudTrail record is a JSON object, not %s", v.Type()))
			return nil
		}
		if v.Exists("digestStartTime") {
			in.Skip()
			return nil
		}
		r, root := v, ""
		if d := v.Get("detail"); d != nil && v.Exists("detail-type") && d.Type() == fastjson.TypeObject {
			r, root = d, "detail"
		}
		e, err := build(sl, &jr, r, width)
		if err != nil {
			reason := "fields"
			if errors.Is(err, errInvalidJSON) {
				reason = "json"
			}
			rec.Reject(reason, err)
			return nil
		}
		e.NativeRoot = root
		if root != "" {
			addStr(e, "aws.cloudtrail.eventbridge.id", jr.Get(v, "id"))
			addStr(e, "aws.cloudtrail.eventbridge.detail_type", jr.Get(v, "detail-type"))
		}
		width = max(40, len(e.Fields)+8)
		return rec.Emit(e)
	})
}

// build maps one record. A record without eventTime, eventName or eventSource is not CloudTrail.
func build(sl *slab.Slab, jr *jsonrec.Rec, r *fastjson.Value, width int) (*event.Event, error) {
	name := jr.Get(r, "eventName")
	source := jr.Get(r, "eventSource")
	when := jr.Get(r, "eventTime")
	if len(name) == 0 && len(source) == 0 {
		// Insights events name the call they are about inside insightDetails.
		name = jr.Get(r, "insightDetails", "eventName")
		source = jr.Get(r, "insightDetails", "eventSource")
	}
	switch {
	case len(when) == 0:
		return nil, errors.New("field eventTime: missing")
	case len(name) == 0:
		return nil, errors.New("field eventName: missing")
	case len(source) == 0:
		return nil, errors.New("field eventSource: missing")
	}
	ts, err := time.Parse(time.RFC3339Nano, when)
	if err != nil {
		return nil, fmt.Errorf("field eventTime: not an RFC 3339 time: %q", when)
	}
	e := sl.New("cloudtrail", jr.Original(), width)
	e.SetTimestampIn(event.RFC3339In(ts, when))
	action, provider := name, source
	e.Add("event.action", event.String(action))
	e.Add("event.provider", event.String(provider))
	e.Add("event.kind", event.String("event"))
	addStr(e, "event.id", jr.Get(r, "eventID"))
	addStr(e, "cloud.region", jr.Get(r, "awsRegion"))

	id := r.Get("userIdentity")
	idType := jr.Get(id, "type")
	if acct := jr.Get(id, "accountId"); acct != "" {
		e.Add("cloud.account.id", event.String(acct))
	} else {
		addStr(e, "cloud.account.id", jr.Get(r, "recipientAccountId"))
	}

	// Who: user.name as Elastic sets it (the IAM user, or for a role session the role behind it).
	user := jr.Get(id, "userName")
	if user == "" {
		switch idType {
		case "AssumedRole", "FederatedUser":
			user = jr.Get(id, "sessionContext", "sessionIssuer", "userName")
		case "Root":
			user = "root"
		}
	}
	if user == "" && name == "ConsoleLogin" {
		// Failed console logins of unknown users name them in additionalEventData only.
		user = jr.Get(r, "additionalEventData", "UserName")
	}
	if user != "" {
		e.Add("user.name", event.String(user))
		e.Add("related.user", event.Strings(user))
	}
	addStr(e, "user.id", jr.Get(id, "principalId"))

	if a := jr.Get(r, "sourceIPAddress"); a != "" {
		e.Add("source.address", event.String(a))
		if ip, err := netip.ParseAddr(a); err == nil {
			e.Add("source.ip", event.String(ip.String()))
			e.Add("related.ip", event.Strings(ip.String()))
		} else {
			// AWS services calling on a user's behalf appear by name ("cloudformation.amazonaws.com").
			e.Add("source.domain", event.String(a))
		}
	}
	addStr(e, "user_agent.original", jr.Get(r, "userAgent"))

	// Outcome: an error code means failure; a console login says so in its response.
	errCode := jr.Get(r, "errorCode")
	outcome := "success"
	if errCode != "" {
		outcome = "failure"
	}
	if name == "ConsoleLogin" {
		if res := jr.Get(r, "responseElements", "ConsoleLogin"); res != "" && res != "Success" {
			outcome = "failure"
		}
	}
	e.Add("event.outcome", event.String(outcome))
	e.Add("event.type", event.Strings("info"))
	if c := category(provider, action); c != "" {
		e.Add("event.category", event.Strings(c))
	}

	addStr(e, "aws.cloudtrail.error_code", errCode)
	addStr(e, "aws.cloudtrail.error_message", jr.Get(r, "errorMessage"))
	addStr(e, "aws.cloudtrail.event_version", jr.Get(r, "eventVersion"))
	addStr(e, "aws.cloudtrail.event_type", jr.Get(r, "eventType"))
	addStr(e, "aws.cloudtrail.event_category", jr.Get(r, "eventCategory"))
	addStr(e, "aws.cloudtrail.request_id", jr.Get(r, "requestID"))
	addStr(e, "aws.cloudtrail.shared_event_id", jr.Get(r, "sharedEventID"))
	addStr(e, "aws.cloudtrail.recipient_account_id", jr.Get(r, "recipientAccountId"))
	addStr(e, "aws.cloudtrail.vpc_endpoint_id", jr.Get(r, "vpcEndpointId"))
	addStr(e, "aws.cloudtrail.api_version", jr.Get(r, "apiVersion"))
	addStr(e, "aws.cloudtrail.session_credential_from_console", jr.Get(r, "sessionCredentialFromConsole"))
	setBool(e, "aws.cloudtrail.read_only", r.Get("readOnly"))
	setBool(e, "aws.cloudtrail.management_event", r.Get("managementEvent"))

	addStr(e, "aws.cloudtrail.user_identity.type", idType)
	addStr(e, "aws.cloudtrail.user_identity.arn", jr.Get(id, "arn"))
	addStr(e, "aws.cloudtrail.user_identity.access_key_id", jr.Get(id, "accessKeyId"))
	addStr(e, "aws.cloudtrail.user_identity.invoked_by", jr.Get(id, "invokedBy"))
	addStr(e, "aws.cloudtrail.user_identity.identity_provider", jr.Get(id, "identityProvider"))
	if sc := id.Get("sessionContext"); sc != nil {
		addStr(e, "aws.cloudtrail.user_identity.session_context.mfa_authenticated", jr.Get(sc, "attributes", "mfaAuthenticated"))
		addStr(e, "aws.cloudtrail.user_identity.session_context.creation_date", jr.Get(sc, "attributes", "creationDate"))
		addStr(e, "aws.cloudtrail.user_identity.session_context.session_issuer.type", jr.Get(sc, "sessionIssuer", "type"))
		addStr(e, "aws.cloudtrail.user_identity.session_context.session_issuer.arn", jr.Get(sc, "sessionIssuer", "arn"))
		addStr(e, "aws.cloudtrail.user_identity.session_context.session_issuer.principal_id", jr.Get(sc, "sessionIssuer", "principalId"))
		addStr(e, "aws.cloudtrail.user_identity.session_context.source_identity", jr.Get(sc, "sourceIdentity"))
	}

	for _, j := range []struct{ key, native string }{
		{"aws.cloudtrail.request_parameters", "requestParameters"},
		{"aws.cloudtrail.response_elements", "responseElements"},
		{"aws.cloudtrail.additional_eventdata", "additionalEventData"},
		{"aws.cloudtrail.service_event_details", "serviceEventDetails"},
		{"aws.cloudtrail.resources", "resources"},
		{"aws.cloudtrail.insight_details", "insightDetails"},
	} {
		if err := setJSON(jr, e, j.key, r.Get(j.native)); err != nil {
			return nil, fmt.Errorf("field %s: %w", j.native, err)
		}
	}

	if name == "ConsoleLogin" {
		if mfa := jr.Get(r, "additionalEventData", "MFAUsed"); mfa != "" {
			e.Add("aws.cloudtrail.console_login.additional_eventdata.mfa_used", event.Bool(mfa == "Yes"))
		}
		if mob := jr.Get(r, "additionalEventData", "MobileVersion"); mob != "" {
			e.Add("aws.cloudtrail.console_login.additional_eventdata.mobile_version", event.Bool(mob == "Yes"))
		}
		addStr(e, "aws.cloudtrail.console_login.additional_eventdata.login_to", jr.Get(r, "additionalEventData", "LoginTo"))
	}

	if tls := r.Get("tlsDetails"); tls != nil {
		if s := jr.Get(tls, "tlsVersion"); s != "" {
			// "TLSv1.3" -> tls.version 1.3, tls.version_protocol tls, as ECS has it.
			if len(s) > 4 && s[:4] == "TLSv" {
				e.Add("tls.version", event.String(s[4:]))
				e.Add("tls.version_protocol", event.String("tls"))
			}
		}
		addStr(e, "tls.cipher", jr.Get(tls, "cipherSuite"))
		addStr(e, "tls.client.server_name", jr.Get(tls, "clientProvidedHostHeader"))
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

// errInvalidJSON marks a record whose free-form parts are not JSON: rejected with reason "json".
var errInvalidJSON = errors.New("invalid JSON")

func addStr(e *event.Event, key, s string) {
	if s != "" {
		e.Add(key, event.String(s))
	}
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
// fastjson accepts a few things JSON does not (numbers like 00) and writes them back as they were,
// so the text is validated: what ramen outputs as JSON is always JSON.
// The text is the record's own bytes when the record holds it as written (CloudTrail's compact
// JSON does), so that the lake stores it once.
func setJSON(jr *jsonrec.Rec, e *event.Event, key string, v *fastjson.Value) error {
	if v == nil {
		return nil
	}
	switch v.Type() {
	case fastjson.TypeNull:
		return nil
	case fastjson.TypeObject, fastjson.TypeArray:
		b := v.MarshalTo(jr.Scratch[:0])
		jr.Scratch = b
		if err := fastjson.ValidateBytes(b); err != nil {
			return fmt.Errorf("%w: %v", errInvalidJSON, err)
		}
		e.Add(key, event.JSON(event.EscapeControls(jr.Piece(b))))
	default:
		e.Add(key, event.FromJSON(v))
	}
	return nil
}
