package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/lake"
	"github.com/ramen-siem/ramen/progress"
	"github.com/ramen-siem/ramen/sigma"
)

func init() {
	commands["hunt"] = command{"run detection rules over the events already in the lake", runHunt}
}

func runHunt(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("hunt", "[--data DIR|s3://bucket/prefix] [--rules DIR]... [--no-builtin] [--since 30d] [--format table|ndjson]", stderr)
	df := addDataFlags(fs, nil, nil)
	var ruleDirs stringList
	fs.Var(&ruleDirs, "rules", "Sigma rules `DIR` or file (repeatable), added to the built-in rules")
	noBuiltin := fs.Bool("no-builtin", false, "do not load ramen's built-in rules")
	since := fs.String("since", "30d", "hunt over the events of the last `DURATION` (e.g. 24h, 7d)")
	format := fs.String("format", "table", "output: table (one line per alert) or ndjson (alerts only on stdout)")
	cfgPath := fs.String("config", "", "detection configuration `FILE` (logsources, placeholders, limits)")
	quiet := fs.Bool("q", false, "no summary on stderr")
	if _, err := parseInterleaved(fs, args); err != nil {
		return &exitError{code: 1}
	}
	if *format != "table" && *format != "ndjson" {
		return &exitError{code: 1, err: fmt.Errorf("--format %q: use table or ndjson", *format)}
	}
	if *noBuiltin && len(ruleDirs) == 0 {
		return &exitError{code: 1, err: errors.New("--no-builtin without --rules leaves no rule to run")}
	}
	age, err := parseAge(*since)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	cfg, lim, err := loadSigmaConfig(*cfgPath)
	if err != nil {
		return err
	}
	files, _, err := readRuleFiles(ruleDirs, !*noBuiltin, false)
	if err != nil {
		return err
	}
	rs, rerrs := sigma.Compile(files, cfg)
	for _, e := range rerrs {
		fmt.Fprintf(stderr, "rule error: %v\n", e)
	}
	// Only the types some rule runs on are read.
	want := map[string]bool{}
	for _, r := range rs.Rules() {
		for _, t := range r.Types {
			want[t] = true
		}
	}
	l, err := df.open(ctx, true)
	if err != nil {
		return err
	}
	defer l.Close()
	wantTypes := make([]string, 0, len(want))
	for t := range want {
		wantTypes = append(wantTypes, t)
	}
	from := time.Now().Add(-age)
	// A lake on S3: the rules' types, since --since, come into the cache first.
	if _, err := l.Pull(ctx, lake.PullOptions{Types: wantTypes, Since: from}); err != nil {
		return err
	}
	types, err := l.Types()
	if err != nil {
		return err
	}
	types = slices.DeleteFunc(types, func(t string) bool { return !want[t] })

	aw := newAlertWriter(stdout, *format)
	det := sigma.NewDetector(rs, lim)
	bar := progress.Start(progressWriter(stderr, *quiet), "hunt", 0)
	start := time.Now()
	opt := lake.QueryOptions{Since: from}
	events := 0
	// Type by type, each in time order. A correlation across log types sees each type's events in
	// order but not interleaved with the other types'.
	for _, t := range types {
		n, err := l.Scan(ctx, t, opt, func(e *event.Event) error {
			aw.write(det.Detect(e))
			bar.Add(0, 0, 1)
			return ctx.Err()
		})
		events += n
		if err != nil {
			bar.Done()
			return fmt.Errorf("reading %s from the lake: %w", t, err)
		}
		bar.Add(0, 1, 0)
	}
	aw.write(det.Flush())
	bar.Done()
	if err := aw.flush(); err != nil {
		return err
	}
	if !*quiet {
		fmt.Fprintf(stderr, "%d events of %d types since %s; %d rules, %d correlations; %d alerts; %.2fs\n", events, len(types),
			opt.Since.UTC().Format(time.RFC3339), len(rs.Rules()), len(rs.Correlations()), aw.n, time.Since(start).Seconds())
	}
	if len(rerrs) > 0 {
		return &exitError{code: 2}
	}
	return nil
}
