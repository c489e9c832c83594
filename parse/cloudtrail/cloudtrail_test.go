package cloudtrail_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/parse"
	_ "github.com/ramen-siem/ramen/parse/cloudtrail"
	"github.com/ramen-siem/ramen/parse/parsetest"
)

func TestGolden(t *testing.T) { parsetest.Golden(t, "cloudtrail") }

func FuzzParse(f *testing.F) { parsetest.Fuzz(f, "cloudtrail") }

func TestElasticConformance(t *testing.T) {
	parsetest.Conformance(t, "cloudtrail", "cloudtrail", map[string]string{
		// Elastic splits an e-mail userName into user.name "test" + user.domain for this IAM call but
		// not for GetPasswordData by the same identity; ramen keeps userName whole, always.
		"test-update-assume-role-policy-json.log#1:user.name": "user.name is the IAM user name as logged",
	})
}

func TestAWSDocExamples(t *testing.T) {
	n := parsetest.Examples(t, "cloudtrail", "aws-docs/aws-cloudtrail-user-guide/extracted_examples/*")
	n += parsetest.Examples(t, "cloudtrail", "aws-docs/amazon-s3-userguide/extracted_examples/cloudtrail-*.json")
	t.Logf("%d events from the AWS documentation's examples", n)
}

func TestAttackSamples(t *testing.T) {
	n := parsetest.Examples(t, "cloudtrail", "attack-samples/cloudtrail2sightings/cloudtrail_zip_extracted/*.json")
	t.Logf("%d events from attack recordings", n)
}

// Rules are written against CloudTrail's own field names; they must resolve through the event.
func TestNativeLookup(t *testing.T) {
	data, err := os.ReadFile("testdata/golden/eventbridge.json")
	if err != nil {
		t.Fatal(err)
	}
	evs, _, _ := parsetest.Run(t, "cloudtrail", "eventbridge.json", data, 0)
	if len(evs) != 1 {
		t.Fatalf("want 1 event, got %d", len(evs))
	}
	e := evs[0]
	for path, want := range map[string]string{
		"userIdentity.sessionContext.sessionIssuer.type": "Role",
		"eventName":                             "AuthorizeSecurityGroupIngress",
		"requestParameters.ipPermissions.items": `[{"ipProtocol":"tcp","fromPort":22,"toPort":22,"ipRanges":{"items":[{"cidrIp":"0.0.0.0/0"}]}}]`,
		"user.name":                             "Admin",
		"aws.cloudtrail.user_identity.session_context.mfa_authenticated": "true",
	} {
		v, ok := e.Lookup(path)
		if !ok || v.Text() != want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", path, v.Text(), ok, want)
		}
	}
	if v, ok := e.Lookup("requestParameters.ipPermissions.items"); !ok || v.Kind() != event.KindJSON {
		t.Errorf("an array of objects should be JSON, got %v", v.Kind())
	}
	if _, ok := e.Lookup("detail.eventName"); ok {
		t.Errorf("native lookups resolve inside the envelope's record, not the envelope")
	}
}

func TestDetect(t *testing.T) {
	for _, name := range []string{
		"AWSLogs/210987654321/CloudTrail/us-east-1/2026/03/04/210987654321_CloudTrail_us-east-1_20260304T1105Z_Ab12Cd34Ef56Gh78.json.gz",
		"s3://acme-trail/prefix/AWSLogs/o-a1b2c3d4e5/210987654321/CloudTrail/eu-west-1/2026/03/04/x.json.gz",
		"AWSLogs/210987654321/CloudTrail-Digest/us-east-1/2026/03/04/d.json.gz",
	} {
		k := parse.ParseKey(name)
		if got := parse.Detect(name, k, nil); got == nil || got.Name != "cloudtrail" {
			t.Errorf("Detect(%q) = %v", name, got)
		}
	}
	k := parse.ParseKey("s3://acme-trail/prefix/AWSLogs/o-a1b2c3d4e5/210987654321/CloudTrail/eu-west-1/2026/03/04/x.json.gz")
	if k.Account != "210987654321" || k.Region != "eu-west-1" || k.Org != "o-a1b2c3d4e5" || k.Date.Format("2006-01-02") != "2026-03-04" {
		t.Errorf("ParseKey = %+v", k)
	}
	head := []byte(`{"Records":[{"eventVersion":"1.08","userIdentity":{},"eventTime":"2026-03-04T12:00:00Z","eventSource":"ec2.amazonaws.com"`)
	if got := parse.Detect("upload.json", parse.KeyInfo{}, head); got == nil || got.Name != "cloudtrail" {
		t.Errorf("sniffing a Records file: %v", got)
	}
}

// Account and region come from the key when a record lacks them.
func TestKeyFillsAccountAndRegion(t *testing.T) {
	rec := `{"eventVersion":"1.08","userIdentity":{"type":"AWSService","invokedBy":"ec2.amazonaws.com"},"eventTime":"2026-03-04T12:00:00Z","eventSource":"kms.amazonaws.com","eventName":"Decrypt"}`
	evs, _, _ := parsetest.Run(t, "cloudtrail", "AWSLogs/210987654321/CloudTrail/ap-south-1/2026/03/04/f.json", []byte(rec), 0)
	if len(evs) != 1 {
		t.Fatal("no event")
	}
	for k, want := range map[string]string{"cloud.account.id": "210987654321", "cloud.region": "ap-south-1"} {
		if v, _ := evs[0].Get(k); v.Str() != want {
			t.Errorf("%s = %q, want %q", k, v.Str(), want)
		}
	}
}

// A record over the limit costs that record only; the records around it still come out.
func TestOversizedRecord(t *testing.T) {
	small := `{"eventVersion":"1.08","eventTime":"2026-03-04T12:00:00Z","eventSource":"kms.amazonaws.com","eventName":"Decrypt"}`
	big := `{"eventVersion":"1.08","eventTime":"2026-03-04T12:00:00Z","eventSource":"kms.amazonaws.com","eventName":"Decrypt","requestParameters":{"pad":"` + strings.Repeat("x", 100<<20) + `"}}`
	data := []byte(`{"Records":[` + small + `,` + big + `,` + small + `]}`)
	evs, rejs, st := parsetest.Run(t, "cloudtrail", "big.json", data, 0)
	if len(evs) != 2 || len(rejs) != 1 || rejs[0].Reason != "too_long" || rejs[0].Record != 2 {
		t.Fatalf("events %d, rejects %+v, stats %+v", len(evs), rejs, st)
	}
	if len(rejs[0].Raw) > parse.MaxRejectRaw {
		t.Errorf("rejected record kept %d bytes", len(rejs[0].Raw))
	}
}

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile("testdata/golden/records.json")
	if err != nil {
		b.Fatal(err)
	}
	// One {"Records":[...]} file of about 8 MB, like a busy account's 5-minute file.
	recs := bytes.TrimSuffix(bytes.TrimPrefix(bytes.TrimSpace(data), []byte(`{"Records":[`)), []byte(`]}`))
	var buf bytes.Buffer
	buf.WriteString(`{"Records":[`)
	for i := 0; buf.Len() < 8<<20; i++ {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(recs)
	}
	buf.WriteString(`]}`)
	parsetest.Bench(b, "cloudtrail", buf.Bytes())
}

// Every alias must give exactly what the native name gives, on every record we have.
func TestAliasesAreExact(t *testing.T) {
	typ, _ := parse.Lookup("cloudtrail")
	files := []string{"testdata/golden/records.json", "testdata/golden/eventbridge.json", "testdata/golden/array.json", "testdata/golden/ndjson-with-bad-records.log"}
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		evs, _, _ := parsetest.Run(t, "cloudtrail", f, data, 0)
		for _, e := range evs {
			for native, key := range typ.Aliases {
				nv, nok := e.LookupNative(native)
				av, aok := e.Get(key)
				if nok && nv.IsNull() {
					nok = false // absent and null are the same to rules
				}
				if nok != aok || (nok && nv.Text() != av.Text()) {
					t.Errorf("%s: %s = %q (%v) natively, %s = %q (%v)", f, native, nv.Text(), nok, key, av.Text(), aok)
				}
				n++
			}
		}
	}
	t.Logf("%d alias checks", n)
}
