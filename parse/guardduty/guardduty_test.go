package guardduty

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/ramen-siem/ramen/parse"
	"github.com/ramen-siem/ramen/parse/parsetest"
)

func TestGolden(t *testing.T) { parsetest.Golden(t, "guardduty") }

func FuzzParse(f *testing.F) { parsetest.Fuzz(f, "guardduty") }

// TestExamples parses Elastic's GuardDuty test findings (Elastic publishes no expected output for
// them): every finding must parse, the trailing {"findings":[]} line is skipped.
func TestExamples(t *testing.T) {
	if n := parsetest.Examples(t, "guardduty", "elastic/guardduty/*.log"); n != 5 {
		t.Errorf("%d events from Elastic's test log, want 5", n)
	}
}

// TestDocPlaceholder: the GuardDuty guide's EventBridge example has "detail": {GUARDDUTY_FINDING_JSON_OBJECT},
// a placeholder that is not JSON. It is not a record AWS sends, and it must be rejected, not guessed at.
func TestDocPlaceholder(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(parsetest.Fixtures(t), "aws-docs/amazon-guardduty-user-guide/extracted_examples/*"))
	if len(files) == 0 {
		t.Skip("no GuardDuty doc examples")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		evs, rejs, _ := parsetest.Run(t, "guardduty", f, data, 0)
		placeholder := bytes.Contains(data, []byte("{GUARDDUTY_FINDING_JSON_OBJECT}"))
		switch {
		case placeholder && (len(evs) != 0 || len(rejs) != 1 || rejs[0].Reason != "json"):
			t.Errorf("%s: placeholder example: %d events, %d rejects; want one json reject", f, len(evs), len(rejs))
		case !placeholder && (len(evs) == 0 || len(rejs) != 0):
			t.Errorf("%s: %d events, %d rejects", f, len(evs), len(rejs))
		}
	}
}

func TestDetect(t *testing.T) {
	finding := []byte(`{"schemaVersion":"2.0","accountId":"111122223333","region":"eu-central-1","partition":"aws","id":"a1","arn":"arn:aws:guardduty:eu-central-1:111122223333:detector/d/finding/a1","type":"Recon:EC2/PortProbeUnprotectedPort"}`)
	cases := []struct {
		name string
		head []byte
		want bool
	}{
		{"AWSLogs/111122223333/GuardDuty/eu-central-1/2024/05/02/0a1b2c3d-1234-4a5b-8c7d-0123456789ab.jsonl.gz", nil, true},
		{"export.jsonl", finding, true},
		{"export.json", append([]byte(`{"findings":[`), finding...), true},
		{"export.json", append([]byte("[\n"), finding...), true},
		{"event.json", []byte(`{"version":"0","id":"7b","detail-type":"GuardDuty Finding","source":"aws.guardduty","account":"111122223333","detail":{}}`), true},
		{"event.json", []byte("{\n  \"version\": \"0\",\n  \"detail-type\": \"GuardDuty Finding\",\n  \"source\": \"aws.guardduty\"\n}"), true},
		// CloudTrail records of GuardDuty API calls.
		{"trail.json", []byte(`{"Records":[{"eventVersion":"1.08","eventSource":"guardduty.amazonaws.com","eventName":"GetFindings","requestParameters":{"detectorId":"d","findingIds":["a1"]},"resources":[{"ARN":"arn:aws:guardduty:eu-central-1:111122223333:detector/d"}]}]}`), false},
		// Security Hub's ASFF copy of a GuardDuty finding.
		{"asff.json", []byte(`{"SchemaVersion":"2018-10-08","Id":"arn:aws:guardduty:eu-central-1:111122223333:detector/d/finding/a1","ProductArn":"arn:aws:securityhub:eu-central-1::product/aws/guardduty","GeneratorId":"arn:aws:guardduty:eu-central-1:111122223333:detector/d","AwsAccountId":"111122223333"}`), false},
		{"other.json", []byte(`{"schemaVersion":"1.0","type":"x"}`), false},
		// A Security Hub EventBridge event with a GuardDuty finding in it.
		{"fh.json", []byte(`{"version":"0","detail-type":"Security Hub Findings - Imported","source":"aws.securityhub","detail":{"findings":[{"SchemaVersion":"2018-10-08","Id":"arn:aws:guardduty:eu-west-1:555566667777:detector/d/finding/f","ProductArn":"arn:aws:securityhub:eu-west-1::product/aws/guardduty"}]}}`), false},
	}
	for _, c := range cases {
		typ := parse.Detect(c.name, parse.ParseKey(c.name), c.head)
		got := typ != nil && typ.Name == "guardduty"
		if got != c.want {
			name := "<nil>"
			if typ != nil {
				name = typ.Name
			}
			t.Errorf("Detect(%q, %.50q) = %s, want guardduty=%v", c.name, c.head, name, c.want)
		}
	}
}

func TestSeverityLabel(t *testing.T) {
	for _, c := range []struct {
		s    float64
		want string
	}{{1, "Low"}, {3.9, "Low"}, {4, "Medium"}, {6.9, "Medium"}, {7, "High"}, {8.9, "High"}, {9, "Critical"}, {10, "Critical"}} {
		if got := severityLabel(c.s); got != c.want {
			t.Errorf("severityLabel(%v) = %s, want %s", c.s, got, c.want)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "golden", "export.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	// The good findings of the golden export (its first eight lines, one an empty wrapper).
	lines := bytes.SplitAfter(data, []byte("\n"))
	parsetest.Bench(b, "guardduty", parsetest.Repeat(bytes.Join(lines[:8], nil), 8<<20))
}

// TestEmptyFindings: a findings document without findings, alone or as a line of an export, is a
// record skipped on purpose.
func TestEmptyFindings(t *testing.T) {
	for in, skipped := range map[string]int{
		`{"findings":[]}`:                      1,
		"{\"findings\":[]}\n{\"findings\":[]}": 2,
	} {
		evs, rejs, st := parsetest.Run(t, "guardduty", "x", []byte(in), 0)
		if len(evs) != 0 || len(rejs) != 0 || st.Skipped != skipped {
			t.Errorf("%q: %d events, %d rejects, %d skipped; want %d skipped", in, len(evs), len(rejs), st.Skipped, skipped)
		}
	}
}
