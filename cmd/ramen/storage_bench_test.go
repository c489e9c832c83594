package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ramen-siem/ramen/demo/gen"
	"github.com/ramen-siem/ramen/parse"
)

// BenchmarkStorageByType reports what the lake stores of each log type against the raw records
// and against the files as AWS delivers them (gzip, or plain text for S3 server access logs), as
// issue #3 asks ("report the ratios per log type"). The corpus is the demo's organization (every
// type ramen reads, three days, four accounts: ramen demo's default), ingested as `ramen ingest
// --no-detect` does; the lake is measured as ingested, before any compaction.
//
//	go test ./cmd/ramen -run '^$' -bench StorageByType -benchtime 1x -v
func BenchmarkStorageByType(b *testing.B) {
	dir := b.TempDir()
	logs := filepath.Join(dir, "logs")
	if _, err := gen.Generate(context.Background(), logs, gen.Config{Seed: 1, Accounts: 4, Days: 3, Rate: "normal"}); err != nil {
		b.Fatal(err)
	}
	type sizes struct{ objects, raw, delivered, lake int64 }
	per := map[string]*sizes{}
	err := filepath.Walk(logs, func(path string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		raw := data
		if strings.HasSuffix(path, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				return err
			}
			if raw, err = io.ReadAll(zr); err != nil {
				return err
			}
		}
		rel, _ := filepath.Rel(logs, path)
		t := parse.Detect(rel, parse.ParseKey(rel), raw[:min(len(raw), 4096)])
		if t == nil {
			b.Fatalf("%s: no log type", rel)
		}
		s := per[t.Name]
		if s == nil {
			s = &sizes{}
			per[t.Name] = s
		}
		s.objects++
		s.raw += int64(len(raw))
		s.delivered += int64(len(data))
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		data := filepath.Join(dir, "data")
		os.RemoveAll(data)
		var out, errb bytes.Buffer
		if code := run(context.Background(), []string{"ingest", "--no-detect", "-q", "--data", data, logs}, strings.NewReader(""), &out, &errb); code != 0 {
			b.Fatalf("ramen ingest exited %d: %s", code, errb.String())
		}
		for typ, s := range per {
			s.lake = dirBytes(filepath.Join(data, "lake", "type="+typ))
		}
	}
	b.StopTimer()
	types := make([]string, 0, len(per))
	for t := range per {
		types = append(types, t)
	}
	sort.Strings(types)
	b.Logf("%-12s %8s %12s %12s %12s %10s %10s", "type", "objects", "raw", "delivered", "lake", "lake/raw", "lake/deliv")
	for _, t := range types {
		s := per[t]
		b.Logf("%-12s %8d %12d %12d %12d %10s %10.2f", t, s.objects, s.raw, s.delivered, s.lake,
			fmt.Sprintf("1/%.1f", float64(s.raw)/float64(s.lake)), float64(s.lake)/float64(s.delivered))
		b.ReportMetric(float64(s.raw)/float64(s.lake), t+"-raw/lake")
	}
}
