package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The lake maintenance commands on a real ingest: an object loaded twice is compacted to one copy
// of each event, and prune deletes the old day only.
func TestLakeCommands(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	recs, err := os.ReadFile("../../parse/cloudtrail/testdata/golden/records.json")
	if err != nil {
		t.Fatal(err)
	}
	cur, old := filepath.Join(dir, "records.json"), filepath.Join(dir, "old.json")
	os.WriteFile(cur, recs, 0o644)
	os.WriteFile(old, []byte(strings.ReplaceAll(string(recs), "2026-03-02T", "2020-01-05T")), 0o644)
	for _, args := range [][]string{{"ingest", "-q", "--no-detect", "--data", data, cur, old}, {"ingest", "-q", "--no-detect", "--force", "--data", data, cur}} {
		if code, _, errs := runCmd(t, "", args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errs)
		}
	}
	code, out, errs := runCmd(t, "", "lake", "stats", "--data", data)
	if code != 0 || !strings.Contains(out, "cloudtrail") || !strings.Contains(out, " 15 ") || !strings.Contains(out, "2020-01-05") {
		t.Fatalf("stats: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := runCmd(t, "", "lake", "compact", "--data", data, "--level", "23"); code != 1 || !strings.Contains(errs, "zstd levels go from 1 to 22") {
		t.Fatalf("compact --level 23: exit %d\n%s", code, errs)
	}
	code, out, errs = runCmd(t, "", "lake", "compact", "--data", data, "--level", "19")
	if code != 0 || !strings.Contains(out, "5 partitions compacted") || !strings.Contains(out, "(5 duplicates dropped)") {
		t.Fatalf("compact: exit %d\n%s%s", code, out, errs)
	}
	if _, out, _ := runCmd(t, "", "query", "--data", data, "--format", "csv", "SELECT count(*), count(DISTINCT _id) FROM cloudtrail"); !strings.Contains(out, "10,10") {
		t.Errorf("after compaction: %s", out)
	}
	code, out, errs = runCmd(t, "", "lake", "prune", "--data", data, "--older-than", "365d", "--dry-run")
	if code != 0 || !strings.Contains(out, "would delete type=cloudtrail/date=2020-01-05  5 files") || strings.Contains(out, "2026") {
		t.Fatalf("prune --dry-run: exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = runCmd(t, "", "lake", "prune", "--data", data, "--older-than", "365d")
	if code != 0 || !strings.Contains(out, "deleted 1 partitions (days), 5 files") {
		t.Fatalf("prune: exit %d\n%s", code, out)
	}
	if _, out, _ := runCmd(t, "", "query", "--data", data, "--format", "csv", "SELECT count(*) FROM cloudtrail"); !strings.Contains(out, "\n5\n") {
		t.Errorf("after prune: %q", out)
	}
	for _, bad := range [][]string{{"lake"}, {"lake", "shrink"}, {"lake", "prune", "--data", data}, {"lake", "prune", "--data", data, "--older-than", "soon"}, {"lake", "stats", "--data", filepath.Join(dir, "none")}} {
		if code, _, _ := runCmd(t, "", bad...); code != 1 {
			t.Errorf("%v: exit %d, want 1", bad, code)
		}
	}
}
