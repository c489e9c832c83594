package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCmd(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

const goodRecord = `{"eventVersion":"1.08","userIdentity":{"type":"Root","principalId":"210987654321","arn":"arn:aws:iam::210987654321:root","accountId":"210987654321"},"eventTime":"2026-03-02T23:47:55Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"192.0.2.200","responseElements":{"ConsoleLogin":"Failure"},"eventID":"c1d2e3f4"}`

func TestParseStdoutIsOnlyEvents(t *testing.T) {
	code, out, errs := runCmd(t, goodRecord+"\n"+goodRecord+"\n", "parse", "--type", "cloudtrail", "-")
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	n := 0
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("stdout line %d is not JSON: %v", n+1, err)
		}
		ev := m["event"].(map[string]any)
		if ev["action"] != "ConsoleLogin" || ev["outcome"] != "failure" || m["user"].(map[string]any)["name"] != "root" {
			t.Errorf("unexpected event %v", m)
		}
		n++
	}
	if n != 2 {
		t.Errorf("%d events, want 2", n)
	}
	if !strings.Contains(errs, "2 records, 2 events, 0 rejected") {
		t.Errorf("summary missing from stderr: %q", errs)
	}
}

func TestParseRejectsExitTwoAndKeepsEvidence(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "mixed.log")
	os.WriteFile(in, []byte(goodRecord+"\n{\"eventVersion\":\"1.08\",\"eventName\":\"X\"}\n"+goodRecord+"\n"), 0o644)
	errFile := filepath.Join(dir, "rejected.ndjson")
	code, out, errs := runCmd(t, "", "parse", in, "--errors", errFile)
	if code != 2 {
		t.Fatalf("exit %d, want 2; stderr %s", code, errs)
	}
	if strings.Count(out, "\n") != 2 {
		t.Errorf("the good records of the file must still come out: %q", out)
	}
	b, err := os.ReadFile(errFile)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Object, Reason, Error, Raw string
		Record                     int
		Offset                     int64
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("--errors file: %v: %s", err, b)
	}
	if r.Object != in || r.Record != 2 || r.Offset != int64(len(goodRecord)+1) || r.Reason != "fields" ||
		!strings.Contains(r.Error, "eventTime") || r.Raw != `{"eventVersion":"1.08","eventName":"X"}` {
		t.Errorf("rejected record: %+v", r)
	}
	if !strings.Contains(errs, in+": record 2 at byte offset") {
		t.Errorf("stderr should name file and position: %q", errs)
	}
}

func TestParseFatalErrors(t *testing.T) {
	for _, args := range [][]string{
		{"parse", "/does/not/exist"},
		{"parse", "--type", "nope", "-"},
		{"parse"},
		{"nosuchcommand"},
	} {
		if code, _, errs := runCmd(t, "", args...); code != 1 || errs == "" {
			t.Errorf("%v: exit %d, stderr %q; want 1 with a message", args, code, errs)
		}
	}
}

func TestParseUndetectableObject(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "notes.txt")
	os.WriteFile(p, []byte("just some text\n"), 0o644)
	code, _, errs := runCmd(t, "", "parse", p)
	if code != 2 || !strings.Contains(errs, "cannot tell the log type") || !strings.Contains(errs, "--type") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

func TestDemo(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := runCmd(t, "", "demo", "--data", dir, "--days", "1")
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errs)
	}
	if !strings.Contains(out, "leaked-access-key") || !strings.Contains(out, "Try next") || !strings.Contains(out, " 0 rejected") {
		t.Errorf("demo output: %s", out)
	}
	// The logs parse without a reject, and the suggested queries work on the data directory.
	code, parsed, errs := runCmd(t, "", "parse", filepath.Join(dir, "demo-logs"))
	if code != 0 || strings.Count(parsed, "\n") == 0 {
		t.Errorf("parse of the demo logs: exit %d, %s", code, errs)
	}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "ramen query --data ") {
			continue
		}
		sql := strings.TrimSuffix(line[strings.Index(line, `"`)+1:], `"`)
		sql = strings.ReplaceAll(sql, `\"`, `"`)
		code, rows, errs := runCmd(t, "", "query", "--data", dir, sql)
		if code != 0 || strings.Count(rows, "\n") < 2 {
			t.Errorf("suggested query %s: exit %d, %s%s", sql, code, rows, errs)
		}
	}
	// Alerts are in the lake, each tied to its scenario; a second run reuses the data and adds none.
	_, rows, _ := runCmd(t, "", "query", "--data", dir, "--format", "csv", "SELECT count(*) FROM alerts WHERE demo.scenario = 'leaked-access-key'")
	code, out2, errs := runCmd(t, "", "demo", "--data", dir, "--days", "1")
	_, rows2, _ := runCmd(t, "", "query", "--data", dir, "--format", "csv", "SELECT count(*) FROM alerts WHERE demo.scenario = 'leaked-access-key'")
	if code != 0 || !strings.Contains(out2, "reused") || rows != rows2 || strings.TrimSpace(rows) == "count_star()\n0" {
		t.Errorf("second run: exit %d %s %s; alerts %q then %q", code, out2, errs, rows, rows2)
	}
}
