package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ramen-siem/ramen/lake"
)

// buildRamen compiles the binary once for tests that run it as a separate process.
func buildRamen(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ramen")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// writeCorpus writes n gzip'd CloudTrail files of perFile records each and returns the total.
func writeCorpus(t *testing.T, dir string, n, perFile int) int {
	t.Helper()
	for f := 0; f < n; f++ {
		var b bytes.Buffer
		b.WriteString(`{"Records":[`)
		for i := 0; i < perFile; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			ts := time.Date(2026, 3, 1+f%3, i%24, i%60, f%60, 0, time.UTC).Format(time.RFC3339)
			fmt.Fprintf(&b, `{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDA%06d","arn":"arn:aws:iam::210987654321:user/u%d","accountId":"210987654321","userName":"u%d"},"eventTime":"%s","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.%d","userAgent":"aws-cli/2.15.30","requestParameters":{"instancesSet":{},"filterSet":{}},"responseElements":null,"requestID":"r-%d-%d","eventID":"e-%d-%d","readOnly":true,"eventType":"AwsApiCall","recipientAccountId":"210987654321"}`,
				i, i%50, i%50, ts, i%250, f, i, f, i)
		}
		b.WriteString(`]}`)
		p := filepath.Join(dir, "AWSLogs", "210987654321", "CloudTrail", "us-east-1", "2026", "03", "01", fmt.Sprintf("210987654321_CloudTrail_us-east-1_20260301T%04dZ_x%d.json.gz", f, f))
		os.MkdirAll(filepath.Dir(p), 0o755)
		var z bytes.Buffer
		w := gzip.NewWriter(&z)
		w.Write(b.Bytes())
		w.Close()
		if err := os.WriteFile(p, z.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return n * perFile
}

func countLake(t *testing.T, data string) (rows, distinct int64) {
	t.Helper()
	dir := lakeDir(data)
	if !lake.Exists(dir) {
		return 0, 0
	}
	l, err := lake.Open(dir, lake.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if ts, _ := l.Types(); len(ts) == 0 {
		return 0, 0
	}
	r, err := l.Query(context.Background(), "SELECT count(*), count(DISTINCT _id) FROM cloudtrail", lake.QueryOptions{})
	if err != nil {
		t.Fatalf("the lake must stay readable after a kill: %v", err)
	}
	defer r.Close()
	r.Next()
	if err := r.Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	return rows, distinct
}

// TestIngestSurvivesKill kills a real `ramen ingest` at random moments, again and again, and checks
// that the lake never shows a duplicate or a corrupt file, and that the run after the last kill
// ends with every event exactly once.
func TestIngestSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it many times")
	}
	bin := buildRamen(t)
	corpus, data := t.TempDir(), t.TempDir()
	total := writeCorpus(t, corpus, 24, 3000)
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	full := timed(t, exec.Command(bin, "ingest", "-q", "--batch-mb", "2", "--data", t.TempDir(), corpus))
	kills := 0
	for i := 0; i < 12; i++ {
		// Finished before the kill: fine, the next runs skip everything.
		if runOrKill(t, exec.Command(bin, "ingest", "-q", "--batch-mb", "2", "--data", data, corpus), killAfter(i, full, rng)) {
			kills++
		}
		rows, distinct := countLake(t, data)
		if rows != distinct || rows > int64(total) {
			t.Fatalf("after kill %d: %d rows, %d distinct ids (of %d events)", i, rows, distinct, total)
		}
	}
	out, err := exec.Command(bin, "ingest", "--data", data, corpus).CombinedOutput()
	if err != nil {
		t.Fatalf("final ingest: %v\n%s", err, out)
	}
	rows, distinct := countLake(t, data)
	t.Logf("%d kills (a whole run takes %s); final run: %s", kills, full, strings.TrimSpace(string(out)))
	if kills == 0 {
		t.Errorf("no run was killed: the test saw no crash")
	}
	if rows != int64(total) || distinct != rows {
		t.Fatalf("final lake: %d rows, %d distinct, want %d", rows, distinct, total)
	}
	// Everything is in: one more run adds nothing.
	out, _ = exec.Command(bin, "ingest", "--data", data, corpus).CombinedOutput()
	if !strings.Contains(string(out), "0 objects ingested (24 already in the lake") {
		t.Errorf("re-ingest: %s", out)
	}
}

// runOrKill runs an ingest (without a terminal) and kills it with SIGKILL if it is still running
// after the given time; it reports whether it killed it.
func runOrKill(t *testing.T, cmd *exec.Cmd, after time.Duration) bool {
	t.Helper()
	cmd.Env = append(os.Environ(), "CI=true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return false
	case <-time.After(after):
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		return true
	}
}

// timed runs an ingest (without a terminal) to its end and returns how long it took: the kills of a
// test are drawn within that, so that they land while the work goes on however fast ingest gets.
func timed(t *testing.T, cmd *exec.Cmd) time.Duration {
	t.Helper()
	cmd.Env = append(os.Environ(), "CI=true")
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
	}
	return time.Since(start)
}

// killAfter is when the i-th run of a kill test is killed, for runs that take full when nothing is
// done yet: the first in the middle (a kill the test is sure to make), the others at random, until
// what is left is done faster than the draw.
func killAfter(i int, full time.Duration, rng *rand.Rand) time.Duration {
	if i == 0 {
		return full / 2
	}
	return 50*time.Millisecond + time.Duration(rng.Int64N(int64(full)))
}
