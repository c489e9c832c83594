package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ramen-siem/ramen/demo"
	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/parse"
	"github.com/ramen-siem/ramen/progress"
)

func init() {
	commands["demo"] = command{"run ramen on its built-in sample AWS logs (no AWS account or setup needed)", runDemo}
}

// defaultDataDir is ramen's data home: $RAMEN_DATA, else $XDG_DATA_HOME/ramen, else ~/.local/share/ramen.
func defaultDataDir() string {
	if d := os.Getenv("RAMEN_DATA"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "ramen")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "ramen")
	}
	return filepath.Join(os.TempDir(), "ramen")
}

// typeSummary collects what the demo shows of one log type.
type typeSummary struct {
	objects, events, rejected, failures int
	actions                             map[string]int
}

func runDemo(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("demo", "[--data DIR]", stderr)
	dataDir := fs.String("data", defaultDataDir(), "data `directory`; the sample logs are written to DIR/demo-logs")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 1}
	}
	logs := filepath.Join(*dataDir, "demo-logs")
	files, err := demo.Write(logs)
	if err != nil {
		return fmt.Errorf("writing the sample logs: %w", err)
	}
	start := time.Now()
	var total int64
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			total += st.Size()
		}
	}
	var pw io.Writer
	if f, ok := stderr.(*os.File); ok && progress.Enabled(f) {
		pw = stderr
	}
	bar := progress.Start(pw, "demo", total)
	byType := map[string]*typeSummary{}
	get := func(t string) *typeSummary {
		s := byType[t]
		if s == nil {
			s = &typeSummary{actions: map[string]int{}}
			byType[t] = s
		}
		return s
	}
	var sum parse.Stats
	var rejects []string
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(logs, path)
		var typ string
		st, err := parse.Object(ctx, filepath.ToSlash(rel), f, parse.Options{}, func(e *event.Event) error {
			typ = e.Type
			s := get(e.Type)
			s.events++
			if v, ok := e.Get("event.outcome"); ok && v.Str() == "failure" {
				s.failures++
			}
			if v, ok := e.Get("event.action"); ok {
				s.actions[v.Text()]++
			}
			return nil
		}, func(r *parse.Reject) { rejects = append(rejects, r.String()) })
		f.Close()
		fi, _ := os.Stat(path)
		bar.Add(fi.Size(), 1, int64(st.Events))
		if err != nil {
			rejects = append(rejects, rel+": "+err.Error())
			continue
		}
		sum.Add(st)
		if typ != "" {
			s := get(typ)
			s.objects++
			s.rejected += st.Rejected
		}
	}
	bar.Done()

	fmt.Fprintf(stdout, "ramen demo: parsed %d sample objects into %d ECS events in %.2fs (%d rejected records)\n\n",
		len(files), sum.Events, time.Since(start).Seconds(), len(rejects))
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tOBJECTS\tEVENTS\tFAILED\tMOST FREQUENT ACTIONS")
	types := make([]string, 0, len(byType))
	for t := range byType {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		s := byType[t]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\n", t, s.objects, s.events, s.failures, topN(s.actions, 3))
	}
	tw.Flush()
	for _, r := range rejects {
		fmt.Fprintf(stdout, "rejected: %s\n", r)
	}
	fmt.Fprintf(stdout, `
The sample logs are in %[1]s. Try next:
  ramen parse %[1]s | head -n 3                 # normalized ECS events as NDJSON
  ramen parse --errors rejected.ndjson %[1]s    # keep any rejected record with its reason
  ramen types                                    # the log types ramen reads
(With 'go run ./cmd/ramen' in place of 'ramen' when running from the source tree.)
`, logs)
	if len(rejects) > 0 {
		return &exitError{code: 2}
	}
	return nil
}

// topN renders the n most frequent keys as "a (3), b (2)".
func topN(m map[string]int, n int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	if len(keys) > n {
		keys = keys[:n]
	}
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s (%d)", k, m[k])
	}
	return strings.Join(parts, ", ")
}
