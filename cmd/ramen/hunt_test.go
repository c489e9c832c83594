package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Rules over the lake find what rules over the files find.
func TestHuntMatchesDetect(t *testing.T) {
	data := t.TempDir()
	files := []string{"../../parse/cloudtrail/testdata/golden/records.json", "../../parse/cloudtrail/testdata/golden/eventbridge.json"}
	if code, _, errs := runCmd(t, "", append([]string{"ingest", "-q", "--data", data}, files...)...); code != 0 {
		t.Fatalf("ingest: %d %s", code, errs)
	}
	_, detected, _ := runCmd(t, "", append([]string{"detect", "-q", "--format", "ndjson"}, files...)...)
	code, hunted, errs := runCmd(t, "", "hunt", "-q", "--data", data, "--since", "100000d", "--format", "ndjson")
	if code != 0 {
		t.Fatalf("hunt: %d %s", code, errs)
	}
	rulesOf := func(out string) map[string]int {
		m := map[string]int{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var a struct {
				Rule struct{ Title string } `json:"rule"`
			}
			if err := json.Unmarshal([]byte(line), &a); err != nil {
				t.Fatalf("not an alert: %q", line)
			}
			m[a.Rule.Title]++
		}
		return m
	}
	d, h := rulesOf(detected), rulesOf(hunted)
	if len(d) < 3 || len(d) != len(h) {
		t.Fatalf("detect %v, hunt %v", d, h)
	}
	for title, n := range d {
		if h[title] != n {
			t.Errorf("%s: detect %d, hunt %d", title, n, h[title])
		}
	}
	if d["AWS Security Group Ingress Opened To The Internet"] != 1 {
		t.Errorf("the EventBridge-wrapped record must be matched in both: %v", d)
	}
	// Outside the time window, nothing.
	_, none, _ := runCmd(t, "", "hunt", "-q", "--data", data, "--since", "1h", "--format", "ndjson")
	if strings.TrimSpace(none) != "" {
		t.Errorf("events older than --since were hunted: %s", none)
	}
}

// Ingest runs the rules as it loads: the alerts land in the lake with the events, once.
func TestIngestDetects(t *testing.T) {
	data := t.TempDir()
	files := []string{"../../parse/cloudtrail/testdata/golden/records.json", "../../parse/cloudtrail/testdata/golden/eventbridge.json"}
	count := func() string {
		_, out, _ := runCmd(t, "", "query", "--data", data, "--format", "csv", "SELECT count(*) FROM alerts")
		return strings.TrimSpace(out)
	}
	if code, _, errs := runCmd(t, "", append([]string{"ingest", "--data", data}, files...)...); code != 0 || !strings.Contains(errs, "4 alerts") {
		t.Fatalf("ingest: %d %s", code, errs)
	}
	if got := count(); got != "count_star()\n4" {
		t.Errorf("alerts in the lake: %q", got)
	}
	runCmd(t, "", append([]string{"ingest", "--data", data}, files...)...)
	if got := count(); got != "count_star()\n4" {
		t.Errorf("re-ingesting must not add alerts: %q", got)
	}
	other := t.TempDir()
	runCmd(t, "", append([]string{"ingest", "--no-detect", "--data", other}, files...)...)
	if _, out, errs := runCmd(t, "", "query", "--data", other, "SELECT count(*) FROM alerts"); !strings.Contains(errs, "does not exist") {
		t.Errorf("--no-detect must write no alerts: %s %s", out, errs)
	}
}

// The same file twice in one run (named twice, or a copy) is ingested once.
func TestIngestSameFileTwiceInOneRun(t *testing.T) {
	data, dir := t.TempDir(), t.TempDir()
	src := "../../parse/cloudtrail/testdata/golden/records.json"
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(dir, "copy.json")
	os.WriteFile(cp, b, 0o644)
	code, _, errs := runCmd(t, "", "ingest", "--no-detect", "--data", data, src, src, cp)
	if code != 0 || !strings.Contains(errs, "1 objects ingested (2 already in the lake") {
		t.Fatalf("exit %d: %s", code, errs)
	}
	_, out, _ := runCmd(t, "", "query", "--data", data, "--format", "csv", "SELECT count(*) FROM cloudtrail")
	if strings.TrimSpace(out) != "count_star()\n5" {
		t.Errorf("events: %q", out)
	}
}
