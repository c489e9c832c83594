package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestQueryJSONHasTheRecordWhereECSHasIt: with --format json or ndjson, the record is the original
// field of the event object, whether the query selects the event struct or only the record, and
// it is the record byte for byte.
func TestQueryJSONHasTheRecordWhereECSHasIt(t *testing.T) {
	data := t.TempDir()
	const in = "../../parse/cloudtrail/testdata/golden/records.json"
	if code, _, errs := runCmd(t, "", "ingest", "-q", "--no-detect", "--data", data, in); code != 0 {
		t.Fatalf("ingest: %d %s", code, errs)
	}
	raw, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`SELECT _id, event.original FROM cloudtrail`,
		`SELECT * FROM cloudtrail`,
		`SELECT event, event.original FROM cloudtrail`,
	} {
		code, out, errs := runCmd(t, "", "query", "--data", data, "--format", "ndjson", q)
		if code != 0 {
			t.Fatalf("%s: %d %s", q, code, errs)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		for _, line := range lines {
			var row struct {
				Event struct {
					Original string `json:"original"`
					Action   string `json:"action"`
				} `json:"event"`
			}
			if err := json.Unmarshal([]byte(line), &row); err != nil {
				t.Fatalf("%s: %v: %s", q, err, line)
			}
			if row.Event.Original == "" || !strings.Contains(string(raw), row.Event.Original) {
				t.Fatalf("%s: event.original %q is not a record of the file", q, row.Event.Original)
			}
			if strings.Contains(q, "*") && row.Event.Action == "" {
				t.Fatalf("%s: the event object lost its other fields: %s", q, line)
			}
		}
	}
}
