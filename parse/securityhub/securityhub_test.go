package securityhub

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ramen-siem/ramen/parse"
	"github.com/ramen-siem/ramen/parse/parsetest"
)

func TestGolden(t *testing.T) { parsetest.Golden(t, "securityhub") }

func FuzzParse(f *testing.F) { parsetest.Fuzz(f, "securityhub") }

// TestExamples parses the Security Hub guide's EventBridge examples. Only the insight results example
// is a real record: the findings examples hold a "<finding content>" placeholder, and the ASFF syntax
// page is a fragment ("Findings": [...] without braces) with type names for values and JSON errors;
// neither is something AWS sends, and both must be rejected as JSON, not guessed at.
func TestExamples(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(parsetest.Fixtures(t), "aws-docs/aws-security-hub-user-guide/extracted_examples/*"))
	if len(files) == 0 {
		t.Skip("no Security Hub doc examples")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		evs, rejs, _ := parsetest.Run(t, "securityhub", f, data, 0)
		placeholder := strings.Contains(string(data), "<finding content>") || strings.Contains(filepath.Base(f), "syntax")
		if placeholder {
			if len(evs) != 0 || len(rejs) == 0 {
				t.Errorf("%s: placeholder example gave %d events, %d rejects; want only rejects", f, len(evs), len(rejs))
			}
			for _, r := range rejs {
				if r.Reason != "json" {
					t.Errorf("%s: %s", f, r)
				}
			}
			continue
		}
		if len(evs) == 0 || len(rejs) != 0 {
			t.Errorf("%s: %d events, %d rejects %v", f, len(evs), len(rejs), rejs)
		}
	}
}

func TestDetect(t *testing.T) {
	cases := []struct {
		name string
		head []byte
		want bool
	}{
		{"findings.json", []byte(`{"SchemaVersion":"2018-10-08","Id":"x","ProductArn":"arn:aws:securityhub:eu-west-1::product/aws/guardduty","GeneratorId":"arn:aws:guardduty:eu-west-1:555566667777:detector/d","AwsAccountId":"555566667777"}`), true},
		{"findings.json", []byte("{\n    \"Findings\": [\n        {\n            \"SchemaVersion\": \"2018-10-08\",\n            \"ProductArn\": \"arn\",\n            \"AwsAccountId\": \"555566667777\""), true},
		{"fh/2024/02/03/10/securityhub-1-2024-02-03-10-50-05-0a1b", []byte(`{"version":"0","id":"8e","detail-type":"Security Hub Findings - Imported","source":"aws.securityhub","account":"555566667777","detail":{"findings":[{`), true},
		{"fh.json", []byte(`{"version":"0","detail-type":"Security Hub Findings - Imported","source":"aws.securityhub","detail":{"findings":[{"SchemaVersion":"2018-10-08","Id":"arn:aws:guardduty:eu-west-1:555566667777:detector/d/finding/f","ProductArn":"arn:aws:securityhub:eu-west-1::product/aws/guardduty","AwsAccountId":"555566667777"}]}}`), true},
		// Not Security Hub: GuardDuty's own finding, an EventBridge event from GuardDuty, CloudTrail.
		{"gd.json", []byte(`{"schemaVersion":"2.0","accountId":"555566667777","id":"a1","arn":"arn:aws:guardduty:eu-west-1:555566667777:detector/d/finding/a1","type":"Recon:EC2/Portscan"}`), false},
		{"gd.json", []byte(`{"version":"0","detail-type":"GuardDuty Finding","source":"aws.guardduty","detail":{}}`), false},
		{"trail.json", []byte(`{"Records":[{"eventVersion":"1.08","eventSource":"securityhub.amazonaws.com","eventName":"BatchImportFindings","requestParameters":{"Findings":[{"ProductArn":"x","AwsAccountId":"y"}]}}]}`), false},
	}
	for _, c := range cases {
		typ := parse.Detect(c.name, parse.ParseKey(c.name), c.head)
		got := typ != nil && typ.Name == "securityhub"
		if got != c.want {
			name := "<nil>"
			if typ != nil {
				name = typ.Name
			}
			t.Errorf("Detect(%q, %.50q) = %s, want securityhub=%v", c.name, c.head, name, c.want)
		}
	}
}

func TestSeverity(t *testing.T) {
	for n, want := range map[int64]string{0: "INFORMATIONAL", 1: "LOW", 39: "LOW", 40: "MEDIUM", 69: "MEDIUM", 70: "HIGH", 89: "HIGH", 90: "CRITICAL", 100: "CRITICAL"} {
		if got := labelOf(n); got != want {
			t.Errorf("labelOf(%d) = %s, want %s", n, got, want)
		}
		if m, ok := normalizedOf(want); !ok || labelOf(m) != want {
			t.Errorf("normalizedOf(%s) = %d, %v", want, m, ok)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "golden", "firehose-eventbridge.ndjson"))
	if err != nil {
		b.Fatal(err)
	}
	// The first two lines: an Imported event with two findings and a Custom Action event with one.
	lines := strings.SplitAfterN(string(data), "\n", 3)
	parsetest.Bench(b, "securityhub", parsetest.Repeat([]byte(lines[0]+lines[1]), 8<<20))
}

// TestEmptyFindings: an API page or an EventBridge event without findings is a record skipped on purpose.
func TestEmptyFindings(t *testing.T) {
	for _, in := range []string{
		`{"Findings":[],"NextToken":null}`,
		`{"version":"0","detail-type":"Security Hub Findings - Imported","source":"aws.securityhub","detail":{"findings":[]}}`,
	} {
		evs, rejs, st := parsetest.Run(t, "securityhub", "x", []byte(in), 0)
		if len(evs) != 0 || len(rejs) != 0 || st.Skipped != 1 {
			t.Errorf("%q: %d events, %d rejects, %d skipped; want 1 skipped", in, len(evs), len(rejs), st.Skipped)
		}
	}
}
