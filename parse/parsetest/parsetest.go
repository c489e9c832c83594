// Package parsetest runs the tests every parser has: golden files, fuzzing and benchmarks, the same
// way for every log type.
//
// Golden cases live in the parser's testdata/golden/: an input file (any name, plain or .gz/.zst) and
// beside it the expected output, the same name plus ".golden": one line per event (the NDJSON that
// `ramen parse` prints) and then one line per rejected record ({"reject":{...}}). Run
// `go test ./parse/... -update` to rewrite them, and review the diff by eye.
package parsetest

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/parse"
)

var update = flag.Bool("update", false, "rewrite golden files with the current output")

// Run parses one object as the given type and returns its events, rejects and stats.
func Run(tb testing.TB, typ, name string, data []byte, maxRecord int) ([]*event.Event, []*parse.Reject, parse.Stats) {
	tb.Helper()
	var evs []*event.Event
	var rejs []*parse.Reject
	st, err := parse.Object(context.Background(), name, bytes.NewReader(data), parse.Options{Type: typ, MaxRecord: maxRecord},
		func(e *event.Event) error { evs = append(evs, e); return nil },
		func(r *parse.Reject) { rejs = append(rejs, r) })
	if err != nil {
		// An object-level error is reported like a rejected record, so golden files show it too.
		rejs = append(rejs, &parse.Reject{Object: name, Type: typ, Reason: "object", Error: err.Error()})
	}
	return evs, rejs, st
}

// Render gives the golden-file text of a parse: events, then rejects.
func Render(evs []*event.Event, rejs []*parse.Reject) []byte {
	var b []byte
	for _, e := range evs {
		b = e.AppendJSON(b)
		b = append(b, '\n')
	}
	for _, r := range rejs {
		j, _ := json.Marshal(map[string]*parse.Reject{"reject": r})
		b = append(b, j...)
		b = append(b, '\n')
	}
	return b
}

// Inputs lists the golden inputs under dir (testdata/golden by default).
func Inputs(tb testing.TB, dir string) []string {
	tb.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatalf("reading golden cases: %v", err)
	}
	var in []string
	for _, e := range ents {
		if e.IsDir() || strings.HasSuffix(e.Name(), ".golden") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		in = append(in, filepath.Join(dir, e.Name()))
	}
	if len(in) == 0 {
		tb.Fatalf("no golden inputs in %s", dir)
	}
	return in
}

// Golden checks every case in testdata/golden against its .golden file, parsing as typ.
func Golden(t *testing.T, typ string) {
	t.Helper()
	for _, path := range Inputs(t, filepath.Join("testdata", "golden")) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			evs, rejs, st := Run(t, typ, filepath.Base(path), data, 0)
			if st.Records != st.Events+st.Rejected+st.Skipped {
				t.Errorf("stats do not add up: %+v", st)
			}
			got := Render(evs, rejs)
			want := path + ".golden"
			if *update {
				if err := os.WriteFile(want, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			exp, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, exp) {
				t.Errorf("output differs from %s (run with -update and review the diff):\n%s", want, lineDiff(exp, got))
			}
		})
	}
}

// lineDiff shows the first differing lines.
func lineDiff(want, got []byte) string {
	w := strings.Split(string(want), "\n")
	g := strings.Split(string(got), "\n")
	var sb strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 3; i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			shown++
			sb.WriteString("line " + itoa(i+1) + ":\n  want: " + a + "\n  got:  " + b + "\n")
		}
	}
	return sb.String()
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// Fuzz fuzzes a parser with seeds from testdata/golden. Whatever the input, parsing must not panic,
// every record must be counted as an event, a reject or a skip, and every event must have an id, its
// original bytes and valid JSON output.
func Fuzz(f *testing.F, typ string) {
	for _, path := range Inputs(f, filepath.Join("testdata", "golden")) {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, _, st := Run(t, typ, "fuzz", data, 4096)
		if st.Records != st.Events+st.Rejected+st.Skipped {
			t.Fatalf("stats do not add up: %+v", st)
		}
		if len(evs) != st.Events {
			t.Fatalf("%d events emitted, %d counted", len(evs), st.Events)
		}
		for _, e := range evs {
			if e.ID == "" || e.Type != typ {
				t.Fatalf("event without id or type: %+v", e)
			}
			if !json.Valid(e.AppendJSON(nil)) {
				t.Fatalf("invalid JSON output for %q", e.Original)
			}
		}
	})
}

// Bench parses data as typ b.N times, reporting bytes/s (b.SetBytes), events/s and allocations.
func Bench(b *testing.B, typ string, data []byte) {
	b.Helper()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var n int
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st, err := parse.Object(ctx, "bench", bytes.NewReader(data), parse.Options{Type: typ},
			func(e *event.Event) error { return nil }, nil)
		if err != nil {
			b.Fatal(err)
		}
		if st.Rejected > 0 {
			b.Fatalf("benchmark data has %d rejected records: %v", st.Rejected, st.Reasons)
		}
		n += st.Events
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(n)/float64(b.N), "events/op")
}

// Repeat returns data repeated until it is at least size bytes, for benchmarks.
func Repeat(data []byte, size int) []byte {
	out := make([]byte, 0, size+len(data))
	for len(out) < size {
		out = append(out, data...)
	}
	return out
}
