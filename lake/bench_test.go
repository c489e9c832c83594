package lake

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/parse"
)

// benchEvents parses the CloudTrail golden records repeated to n events.
func benchEvents(b *testing.B, n int) []*event.Event {
	data, err := os.ReadFile("../parse/cloudtrail/testdata/golden/records.json")
	if err != nil {
		b.Fatal(err)
	}
	var evs []*event.Event
	for len(evs) < n {
		_, err := parse.Object(context.Background(), "bench"+string(rune('a'+len(evs)%26)), bytes.NewReader(data), parse.Options{Type: "cloudtrail"},
			func(e *event.Event) error { evs = append(evs, e); return nil }, nil)
		if err != nil {
			b.Fatal(err)
		}
	}
	return evs[:n]
}

// BenchmarkAppendCommit measures the lake's side of ingest: events already parsed, written to the
// WAL and committed as Parquet.
func BenchmarkAppendCommit(b *testing.B) {
	evs := benchEvents(b, 100000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := filepath.Join(b.TempDir(), "lake")
		l, err := Open(dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		a, _ := l.NewAppender()
		b.StartTimer()
		for _, e := range evs {
			if err := a.Add(e); err != nil {
				b.Fatal(err)
			}
		}
		a.EndObject(Object{Key: "x", SHA256: "x"})
		if _, err := a.Commit(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		l.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(len(evs)*b.N)/b.Elapsed().Seconds(), "events/s")
}
