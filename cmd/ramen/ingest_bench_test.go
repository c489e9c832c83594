package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ramen-siem/ramen/internal/benchdata"
)

// BenchmarkIngest measures `ramen ingest` end to end, as issue #3 sets its targets: gzip files read,
// decompressed, parsed, written as Parquet and committed durably into a fresh lake, in process.
// The corpora are generated into a temporary directory first (not timed): CloudTrail as AWS
// delivers it (20 files of 10,000 records), VPC flow logs in the default v2 format (10 files of
// 100,000 records with varied addresses and ports). Detection is off (--no-detect): this measures
// the pipeline into the lake, not the rules.
//
//	go test ./cmd/ramen -run '^$' -bench '^BenchmarkIngest$' -benchtime 1x -count 3
//
// It reports events/s, the CPU seconds of a run (user and system, all cores), the process's peak RSS during the run (VmHWM, reset before each run; Linux
// only) and the peak Go heap sampled every 10 ms, and the lake's Parquet bytes. RAMEN_BENCH_CORPUS=DIR
// keeps the corpora in DIR/cloudtrail and DIR/vpcflow, to run and profile the ramen binary on them.
func BenchmarkIngest(b *testing.B) {
	for _, tc := range []struct {
		name string
		gen  func(dir string) (int, error)
	}{
		{"cloudtrail", func(dir string) (int, error) { return writeCloudTrailCorpus(dir, 20, 10_000, 1) }},
		{"vpcflow", func(dir string) (int, error) { return writeFlowCorpus(dir, 10, 100_000, 2) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			corpus := filepath.Join(b.TempDir(), "corpus")
			if dir := os.Getenv("RAMEN_BENCH_CORPUS"); dir != "" {
				// Keep the corpus, e.g. to profile the ramen binary on it.
				corpus = filepath.Join(dir, tc.name)
				os.RemoveAll(corpus)
			}
			n, err := tc.gen(corpus)
			if err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			var peakRSS, peakHeap, stored int64
			var elapsed, cpu, inflating time.Duration
			var inflated int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				data := filepath.Join(b.TempDir(), "data")
				d, nb := inflateTime(b, corpus)
				inflating += d
				inflated += nb
				runtime.GC()
				resetPeakRSS()
				stopSampling := sampleHeap(&peakHeap)
				b.StartTimer()
				start, cpu0 := time.Now(), cpuTime()
				var out, errb bytes.Buffer
				if code := run(context.Background(), []string{"ingest", "--no-detect", "--data", data, corpus}, strings.NewReader(""), &out, &errb); code != 0 {
					b.Fatalf("ramen ingest exited %d: %s", code, errb.String())
				}
				elapsed += time.Since(start)
				cpu += cpuTime() - cpu0
				b.StopTimer()
				stopSampling()
				peakRSS = max(peakRSS, readPeakRSS())
				stored = dirBytes(filepath.Join(data, "lake"))
				if !strings.Contains(errb.String(), ", "+strconv.Itoa(n)+" events,") {
					b.Fatalf("expected %d events in the summary: %s", n, errb.String())
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(n)*float64(b.N)/elapsed.Seconds(), "events/s")
			b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s")
			if peakRSS > 0 {
				b.ReportMetric(float64(peakRSS)/(1<<20), "peak-RSS-MB")
			}
			b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(stored)/(1<<20), "stored-MB")
			b.ReportMetric(float64(inflated)/1e6/inflating.Seconds(), "host-MB/s")
		})
	}
}

// inflateTime is how long inflating the corpus on one core takes just before a run, and how many
// bytes it gives: the host-MB/s it reports is a yardstick of the machine's speed at that moment.
// On a machine shared with other jobs the same run's time swings by a third from minute to
// minute; a run taken while the yardstick was low ran on a slow machine, not slow code.
func inflateTime(b *testing.B, dir string) (time.Duration, int64) {
	var n int64
	start := time.Now()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return err
		}
		c, err := io.Copy(io.Discard, zr)
		n += c
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return time.Since(start), n
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// resetPeakRSS resets the kernel's peak resident set size of this process (VmHWM), so that the next
// readPeakRSS measures only what follows.
func resetPeakRSS() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// readPeakRSS returns VmHWM in bytes, or 0 where /proc does not have it.
func readPeakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// sampleHeap records the largest heap (objects, live or not yet collected) seen every 10 ms until
// the returned func is called. It reads runtime/metrics, which does not stop the world as
// runtime.ReadMemStats does.
func sampleHeap(peak *int64) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var p atomic.Int64
	p.Store(*peak)
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			select {
			case <-done:
				return
			case <-t.C:
				metrics.Read(sample)
				if h := int64(sample[0].Value.Uint64()); h > p.Load() {
					p.Store(h)
				}
			}
		}
	}()
	return func() { close(done); wg.Wait(); *peak = p.Load() }
}

func dirBytes(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && strings.HasSuffix(p, ".parquet") {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// writeGzip writes one gzip file made by fill.
func writeGzip(path string, fill func(w io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	err = fill(zw)
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeCloudTrailCorpus writes files of {"Records":[...]} the way AWS delivers them, named as AWS
// names them, one account a file.
func writeCloudTrailCorpus(dir string, files, perFile int, seed uint64) (int, error) {
	g := benchdata.NewCloudTrail(seed)
	n := 0
	for fi := range files {
		acct := benchdata.Accounts[fi%len(benchdata.Accounts)]
		name := fmt.Sprintf("AWSLogs/%s/CloudTrail/us-east-1/2026/03/02/%s_CloudTrail_us-east-1_20260302T%02d%02dZ_%016x.json.gz", acct, acct, fi/12, fi%12*5, seed<<32|uint64(fi))
		err := writeGzip(filepath.Join(dir, name), func(w io.Writer) error {
			recs := make([]json.RawMessage, 0, perFile)
			for range perFile {
				recs = append(recs, g.Record(acct))
			}
			n += len(recs)
			return json.NewEncoder(w).Encode(map[string]any{"Records": recs})
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// writeFlowCorpus writes default-format (v2) VPC flow log files with a header line.
func writeFlowCorpus(dir string, files, perFile int, seed uint64) (int, error) {
	g := benchdata.NewFlow(seed)
	start := int64(1772409600) // 2026-03-02
	n := 0
	for fi := range files {
		name := fmt.Sprintf("AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/03/02/123456789012_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20260302T%02d00Z_%08x.log.gz", fi, seed<<16|uint64(fi))
		err := writeGzip(filepath.Join(dir, name), func(w io.Writer) error {
			b := make([]byte, 0, perFile*110)
			b = append(b, benchdata.FlowHeader...)
			for range perFile {
				b = g.AppendLine(b, start+int64(n/30))
				n++
			}
			_, err := w.Write(b)
			return err
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
