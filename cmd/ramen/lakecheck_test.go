package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLakeCheckRepair: a lake file cut short makes queries fail; 'lake check' names it and the objects
// whose events it held (exit 2), '--repair' moves it aside, after which queries work again, and
// ingesting those objects again with --force then compacting brings every event back once.
func TestLakeCheckRepair(t *testing.T) {
	corpus, data := t.TempDir(), t.TempDir()
	total := writeCorpus(t, corpus, 6, 500)
	if code, _, errs := runCmd(t, "", "ingest", "--no-detect", "--batch-mb", "1", "--data", data, corpus); code != 0 {
		t.Fatalf("ingest: %s", errs)
	}
	files, _ := filepath.Glob(filepath.Join(lakeDir(data), "type=cloudtrail", "*", "*", "*.parquet"))
	if len(files) < 2 {
		t.Fatalf("setup: %v", files)
	}
	if err := os.Truncate(files[0], 64); err != nil {
		t.Fatal(err)
	}
	const q = "SELECT count(*) FROM cloudtrail"
	if code, _, errs := runCmd(t, "", "query", "--data", data, q); code == 0 || !strings.Contains(errs, "ramen lake check") {
		t.Fatalf("query over a damaged file: exit %d, %s", code, errs)
	}
	code, out, _ := runCmd(t, "", "lake", "check", "--data", data)
	rel, _ := filepath.Rel(lakeDir(data), files[0])
	if code != 2 || !strings.Contains(out, "damaged: "+rel) || !strings.Contains(out, "events of "+corpus) {
		t.Fatalf("lake check: exit %d\n%s", code, out)
	}
	code, out, _ = runCmd(t, "", "lake", "check", "--repair", "--data", data)
	if code != 2 || !strings.Contains(out, "moved to ") || !strings.Contains(out, "ramen ingest --force") {
		t.Fatalf("lake check --repair: exit %d\n%s", code, out)
	}
	if code, out, _ := runCmd(t, "", "lake", "check", "--full", "--data", data); code != 0 {
		t.Fatalf("lake check after repair: exit %d\n%s", code, out)
	}
	code, out, errs := runCmd(t, "", "query", "--data", data, "--format", "csv", q)
	if code != 0 {
		t.Fatalf("query after repair: %s", errs)
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.Split(out, "\n")[1]))
	if err != nil {
		t.Fatalf("query output %q: %v", out, err)
	}
	if n >= total {
		t.Fatalf("%d events after moving a file aside, want fewer than %d", n, total)
	}
	if code, _, errs := runCmd(t, "", "ingest", "--force", "--no-detect", "--data", data, corpus); code != 0 {
		t.Fatalf("ingest --force: %s", errs)
	}
	if code, _, errs := runCmd(t, "", "lake", "compact", "--data", data); code != 0 {
		t.Fatalf("compact: %s", errs)
	}
	_, out, _ = runCmd(t, "", "query", "--data", data, "--format", "csv", "SELECT count(*), count(DISTINCT _id) FROM cloudtrail")
	if got, want := strings.TrimSpace(strings.Split(out, "\n")[1]), fmt.Sprintf("%d,%d", total, total); got != want {
		t.Fatalf("after re-ingest and compaction: %s, want %d events once each", got, total)
	}
}
