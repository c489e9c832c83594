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
	kills := 0
	for i := 0; i < 12; i++ {
		cmd := exec.Command(bin, "ingest", "-q", "--batch-mb", "2", "--data", data, corpus)
		cmd.Env = append(os.Environ(), "CI=true")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done: // finished before the kill: fine, the next runs skip everything
		case <-time.After(time.Duration(50+rng.IntN(2500)) * time.Millisecond):
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
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
	t.Logf("%d kills; final run: %s", kills, strings.TrimSpace(string(out)))
	if rows != int64(total) || distinct != rows {
		t.Fatalf("final lake: %d rows, %d distinct, want %d", rows, distinct, total)
	}
	// Everything is in: one more run adds nothing.
	out, _ = exec.Command(bin, "ingest", "--data", data, corpus).CombinedOutput()
	if !strings.Contains(string(out), "0 objects ingested (24 already in the lake") {
		t.Errorf("re-ingest: %s", out)
	}
}
