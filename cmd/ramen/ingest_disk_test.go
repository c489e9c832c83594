package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ramen-siem/ramen/lake"
)

// smallDisk mounts a tmpfs of the given size at a new directory and returns it with a function that
// resizes it. It skips the test where mounting is not allowed.
func smallDisk(t *testing.T, size string) (string, func(size string)) {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("a full disk is simulated with a small tmpfs, which needs root (CI runs as root): mount: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir, func(size string) {
		if out, err := exec.Command("mount", "-o", "remount,size="+size, dir).CombinedOutput(); err != nil {
			t.Fatalf("remount: %v %s", err, out)
		}
	}
}

// TestIngestFullDisk fills the lake's disk in the middle of an ingest. The run must fail with an
// error that says the disk is full and names the file, leave only complete, readable files visible,
// count as ingested only the objects whose events are all in the lake, and, once there is room
// again, a second run must finish the job with every event exactly once.
func TestIngestFullDisk(t *testing.T) {
	corpus := t.TempDir()
	total := writeCorpus(t, corpus, 24, 2000)
	disk, resize := smallDisk(t, "3m")
	data := filepath.Join(disk, "ramen")

	code, _, stderr := runCmd(t, "", "ingest", "--no-detect", "--batch-mb", "2", "--data", data, corpus)
	if code == 0 {
		t.Fatalf("ingest into a full disk succeeded: %s", stderr)
	}
	if !strings.Contains(stderr, "no space left on device") {
		t.Fatalf("the error must say the disk is full: %s", stderr)
	}
	if !strings.Contains(stderr, disk) {
		t.Errorf("the error must name the file it could not write: %s", stderr)
	}
	t.Logf("full disk: exit %d\n%s", code, stderr)
	// The failed batch's partial files are gone: they would only hold the space that is missing.
	for _, d := range []string{"_staging", "_quarantine"} {
		if ents, _ := os.ReadDir(filepath.Join(lakeDir(data), d)); len(ents) > 0 {
			t.Errorf("%s keeps %d entries of the failed batch", d, len(ents))
		}
	}

	// What is visible is whole: every file reads back completely, and every object the manifest
	// acknowledges has all its events in the lake (none twice).
	acked := checkLake(t, data)
	if acked.rows != acked.distinct || acked.rows != int64(acked.events) {
		t.Fatalf("after the failure: %d rows, %d distinct ids, %d events acknowledged", acked.rows, acked.distinct, acked.events)
	}
	if acked.objects == 24 {
		t.Fatalf("all 24 objects fitted in the small disk: make it smaller")
	}
	t.Logf("%d of 24 objects acknowledged before the disk filled", acked.objects)
	// The summary reports what the lake acknowledges, not what was read.
	if want := fmt.Sprintf("%d objects ingested", acked.objects); !strings.Contains(stderr, want) {
		t.Errorf("summary does not say %q: %s", want, stderr)
	}
	if !strings.Contains(stderr, "their batch did not commit") {
		t.Errorf("summary does not say some objects were read but not committed: %s", stderr)
	}

	resize("256m")
	code, _, stderr = runCmd(t, "", "ingest", "--no-detect", "--batch-mb", "2", "--data", data, corpus)
	if code != 0 {
		t.Fatalf("ingest after freeing space: exit %d\n%s", code, stderr)
	}
	after := checkLake(t, data)
	if after.rows != int64(total) || after.distinct != after.rows || after.objects != 24 {
		t.Fatalf("after the second run: %d rows, %d distinct, %d objects; want %d events of 24 objects", after.rows, after.distinct, after.objects, total)
	}
}

type diskLakeCounts struct {
	rows, distinct int64
	events         int
	objects        int
}

// checkLake opens the lake (which finishes or drops what a failed run left), reads every file in full
// and counts its events and the objects its manifest acknowledges.
func checkLake(t *testing.T, data string) diskLakeCounts {
	t.Helper()
	l, err := lake.Open(lakeDir(data), lake.Options{})
	if err != nil {
		t.Fatalf("opening the lake after the failure: %v", err)
	}
	defer l.Close()
	rep, err := l.Check(context.Background(), lake.CheckOptions{Full: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range rep.Damaged {
		t.Errorf("damaged file visible: %s: %v", d.Path, d.Err)
	}
	var c diskLakeCounts
	c.objects = l.Objects()
	man, err := os.ReadFile(filepath.Join(lakeDir(data), "_manifest", "objects.ndjson"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(man)) {
		var o lake.Object
		if err := json.Unmarshal([]byte(line), &o); err != nil {
			t.Fatalf("manifest line %q: %v", line, err)
		}
		c.events += o.Events
	}
	if ts, _ := l.Types(); len(ts) == 0 {
		return c
	}
	rows, err := l.Query(context.Background(), "SELECT count(*), count(DISTINCT _id) FROM cloudtrail", lake.QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	rows.Next()
	if err := rows.Scan(&c.rows, &c.distinct); err != nil {
		t.Fatal(err)
	}
	return c
}
