package lake

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/parse"
)

// parsedCorpus parses generated files (storage_test.go) into events.
func parsedCorpus(b *testing.B, typ string, files [][]byte) []*event.Event {
	var evs []*event.Event
	for i, f := range files {
		if _, err := parse.Object(context.Background(), fmt.Sprintf("file-%d", i), bytes.NewReader(f), parse.Options{Type: typ},
			func(e *event.Event) error { evs = append(evs, e); return nil }, nil); err != nil {
			b.Fatal(err)
		}
	}
	return evs
}

// BenchmarkAppendCommit measures the lake's side of ingest: events already parsed, added to a batch
// and committed as Parquet (written, fsynced, moved into place), for 100,000 CloudTrail events
// and 500,000 VPC flow records. It reports events/s, CPU time per event and the memory the batch
// held per event.
//
//	go test ./lake -run '^$' -bench AppendCommit -benchtime 3x -count 3
func BenchmarkAppendCommit(b *testing.B) {
	for _, tc := range []struct {
		typ   string
		files [][]byte
	}{
		{"cloudtrail", genCloudTrail(100_000, 10_000, 1)},
		{"vpcflow", genVPCFlow(500_000, 100_000, 2)},
	} {
		b.Run(tc.typ, func(b *testing.B) {
			evs := parsedCorpus(b, tc.typ, tc.files)
			var held, stored int64
			var cpu time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				dir := filepath.Join(b.TempDir(), "lake")
				l, err := Open(dir, Options{})
				if err != nil {
					b.Fatal(err)
				}
				a, _ := l.NewAppender()
				a.MaxBatchBytes = 1 << 40 // one batch
				cpu0 := cpuTime()
				b.StartTimer()
				for _, e := range evs {
					if err := a.Add(e); err != nil {
						b.Fatal(err)
					}
				}
				a.EndObject(Object{Key: "x", SHA256: "x"})
				st, err := a.Commit(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				held, stored = st.Bytes, st.ParquetBytes
				b.StopTimer()
				cpu += cpuTime() - cpu0
				l.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(len(evs)*b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(held)/float64(len(evs)), "batch-B/event")
			b.ReportMetric(float64(stored)/float64(len(evs)), "parquet-B/event")
			// CPU time is what a loaded machine changes least: compare it, not only events/s.
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(len(evs)*b.N), "cpu-ns/event")
		})
	}
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkQueries builds a lake of flow-log-like events over 30 days (RAMEN_BENCH_EVENTS, default
// 10 million; building it takes a few minutes) and times the two queries the lake issue sets targets
// for: a count by hour over every event (< 1 s) and the top 10 source addresses of one day (< 0.5 s).
//
//	go test ./lake -run '^$' -bench Queries -benchtime 5x
func BenchmarkQueries(b *testing.B) {
	n := 10_000_000
	if s := os.Getenv("RAMEN_BENCH_EVENTS"); s != "" {
		fmt.Sscan(s, &n)
	}
	dir := filepath.Join(b.TempDir(), "lake")
	l, err := Open(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	a, _ := l.NewAppender()
	rng := rand.New(rand.NewPCG(1, 2))
	ports := []int64{22, 80, 443, 3306, 5432, 8080, 53, 123}
	for i := 0; i < n; i++ {
		e := event.New("vpcflow", "", 8)
		e.ID = fmt.Sprint(i)
		e.Timestamp = start.Add(time.Duration(rng.Int64N(int64(30 * 24 * time.Hour))))
		e.Add("source.ip", event.String(fmt.Sprintf("10.%d.%d.%d", rng.IntN(4), rng.IntN(256), rng.IntN(256))))
		e.Add("destination.port", event.Int(ports[rng.IntN(len(ports))]))
		e.Add("network.bytes", event.Int(rng.Int64N(100000)))
		e.Add("event.action", event.String([]string{"ACCEPT", "REJECT"}[rng.IntN(2)]))
		if err := a.Add(e); err != nil {
			b.Fatal(err)
		}
		if a.Full() || a.Pending() >= 2_000_000 {
			if _, err := a.Commit(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := a.Commit(context.Background()); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	run := func(b *testing.B, q string, opt QueryOptions) {
		for i := 0; i < b.N; i++ {
			rows, err := l.Query(ctx, q, opt)
			if err != nil {
				b.Fatal(err)
			}
			k := 0
			for rows.Next() {
				k++
			}
			rows.Close()
			if k == 0 {
				b.Fatal("no rows")
			}
		}
	}
	countByHour := `SELECT date_trunc('hour', "@timestamp") AS h, count(*) FROM vpcflow GROUP BY 1 ORDER BY 1`
	top10 := `SELECT source.ip, count(*) AS n FROM vpcflow GROUP BY 1 ORDER BY n DESC LIMIT 10`
	oneDay := QueryOptions{Since: time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC)}
	b.ResetTimer()
	b.Run("count-by-hour", func(b *testing.B) { run(b, countByHour, QueryOptions{}) })
	b.Run("top10-sources-one-day", func(b *testing.B) { run(b, top10, oneDay) })
	// After compaction: one file per hour instead of one per hour and batch.
	b.StopTimer()
	if _, err := l.Compact(ctx, CompactOptions{Type: "vpcflow"}); err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
	b.Run("compacted/count-by-hour", func(b *testing.B) { run(b, countByHour, QueryOptions{}) })
	b.Run("compacted/top10-sources-one-day", func(b *testing.B) { run(b, top10, oneDay) })
}
