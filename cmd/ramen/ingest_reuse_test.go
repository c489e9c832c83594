package main

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ramen-siem/ramen/demo/gen"
	"github.com/ramen-siem/ramen/lake"
	"github.com/ramen-siem/ramen/sigma"
)

// TestIngestReusesParserMemory: without detection, the parsers build events in memory that the
// batch hands back once it has copied them (parse.Options.Memory). Every event of a corpus large
// enough to reuse that memory many times over, committed in several batches, has in its columns the
// values of its own line, and every line is there once.
func TestIngestReusesParserMemory(t *testing.T) {
	corpus := t.TempDir()
	n, err := writeFlowCorpus(corpus, 4, 30_000, 7)
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "data")
	if code, _, errs := runCmd(t, "", "ingest", "-q", "--no-detect", "--batch-mb", "8", "--data", data, corpus); code != 0 {
		t.Fatalf("ingest exited %d: %s", code, errs)
	}
	// Each column against its field of the line, for every event: a field taken from memory that
	// another event's fields had been built in since would differ.
	tok := func(i int) string {
		return "nullif(split_part(event.original, ' ', " + strconv.Itoa(i) + "), '-')"
	}
	num := func(i int) string { return "CAST(" + tok(i) + " AS BIGINT)" }
	q := `SELECT count(*), count(DISTINCT _id), count(DISTINCT event.original), count(*) FILTER (WHERE
		aws.vpcflow.interface_id IS DISTINCT FROM ` + tok(3) + ` OR
		source.address IS DISTINCT FROM ` + tok(4) + ` OR
		destination.address IS DISTINCT FROM ` + tok(5) + ` OR
		source.port IS DISTINCT FROM ` + num(6) + ` OR
		destination.port IS DISTINCT FROM ` + num(7) + ` OR
		network.iana_number IS DISTINCT FROM ` + tok(8) + ` OR
		network.packets IS DISTINCT FROM ` + num(9) + ` OR
		network.bytes IS DISTINCT FROM ` + num(10) + ` OR
		CAST(epoch(event.start) AS BIGINT) IS DISTINCT FROM ` + num(11) + ` OR
		CAST(epoch(event.end) AS BIGINT) IS DISTINCT FROM ` + num(12) + ` OR
		aws.vpcflow.action IS DISTINCT FROM ` + tok(13) + `)
		FROM vpcflow`
	code, out, errs := runCmd(t, "", "query", "--data", data, "--format", "csv", q)
	if code != 0 {
		t.Fatalf("query exited %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := strings.Repeat(strconv.Itoa(n)+",", 3) + "0"
	if len(lines) != 2 || lines[1] != want {
		t.Fatalf("events, distinct ids, distinct records, events whose columns are not their line's:\n%s\nwant %s", out, want)
	}
	// And the records are the corpus's lines.
	var all []string
	files, _ := filepath.Glob(filepath.Join(corpus, "AWSLogs", "*", "*", "*", "*", "*", "*", "*.gz"))
	for _, f := range files {
		all = append(all, gunzipLines(t, f)[1:]...) // after the header
	}
	code, out, errs = runCmd(t, "", "query", "--data", data, "--format", "csv", "SELECT event.original FROM vpcflow ORDER BY 1")
	if code != 0 {
		t.Fatalf("query exited %d: %s", code, errs)
	}
	got := strings.Split(strings.TrimSpace(out), "\n")[1:]
	slices.Sort(all)
	if len(got) != len(all) {
		t.Fatalf("%d records, want %d", len(got), len(all))
	}
	for i := range got {
		if got[i] != all[i] {
			t.Fatalf("record %d: %q, want %q", i, got[i], all[i])
		}
	}
}

func gunzipLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

// TestDetectionWithReusedMemory: with detection on, the parser memory of a chunk of events goes
// back only once the batch has added them and the rules have matched them. The alerts of the demo
// organization's day (flow logs included) are the same, id for id and count for count, as when
// every event is allocated afresh.
func TestDetectionWithReusedMemory(t *testing.T) {
	logs := t.TempDir()
	if _, err := gen.Generate(context.Background(), logs, gen.Config{Seed: 3, Accounts: 4, Days: 1, Rate: "normal"}); err != nil {
		t.Fatal(err)
	}
	cfg, lim, err := loadSigmaConfig("")
	if err != nil {
		t.Fatal(err)
	}
	files, _, err := readRuleFiles(nil, true, false)
	if err != nil {
		t.Fatal(err)
	}
	rs, rerrs := sigma.Compile(files, cfg)
	if len(rerrs) > 0 {
		t.Fatal(rerrs)
	}
	alerts := func(noReuse bool) string {
		dir := t.TempDir()
		l, err := lake.Open(dir, lake.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		srcs, total, err := sources([]string{logs}, io.Discard, true)
		if err != nil {
			t.Fatal(err)
		}
		st, err := ingestSources(context.Background(), l, srcs, total, ingestOptions{batchBytes: 16 << 20, noReuse: noReuse, detector: sigma.NewDetector(rs, lim)})
		if err != nil {
			t.Fatal(err)
		}
		if st.alerts == 0 || st.events < 10_000 {
			t.Fatalf("%d events, %d alerts: too few to tell", st.events, st.alerts)
		}
		rows, err := l.Query(context.Background(), `SELECT _id, alert.count, rule.name FROM alerts ORDER BY _id`, lake.QueryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var b strings.Builder
		for rows.Next() {
			var id, name string
			var n int64
			if err := rows.Scan(&id, &n, &name); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s %d %s\n", id, n, name)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	fresh, reused := alerts(true), alerts(false)
	if fresh != reused {
		t.Errorf("alerts with memory reused:\n%s\nwith every event allocated afresh:\n%s", reused, fresh)
	}
	if !strings.Contains(fresh, "Flow") {
		t.Errorf("no flow log alert among them:\n%s", fresh)
	}
}
