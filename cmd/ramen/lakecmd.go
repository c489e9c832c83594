package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ramen-siem/ramen/lake"
	"github.com/ramen-siem/ramen/progress"
)

func init() {
	commands["lake"] = command{"look after the lake: stats, compact (merge small files, drop duplicates), prune (retention)", runLake}
}

var lakeCommands = map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) error{
	"stats":   runLakeStats,
	"compact": runLakeCompact,
	"prune":   runLakePrune,
	"check":   runLakeCheck,
}

func runLake(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	usage := func() {
		fmt.Fprint(stderr, `Usage: ramen lake <subcommand> [flags]

Subcommands:
  stats    per log type: days, partitions, files, rows, bytes, oldest and newest day
  compact  rewrite partitions of many small files as one file each, without duplicate events
  prune    delete the days older than a retention (--older-than 90d)
  check    find damaged files (--full reads every value), --repair moves them aside

Run 'ramen lake <subcommand> -h' for its flags.
`)
	}
	if len(args) == 0 {
		usage()
		return &exitError{code: 1}
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage()
		return nil
	}
	sub, ok := lakeCommands[args[0]]
	if !ok {
		usage()
		return &exitError{code: 1, err: fmt.Errorf("unknown subcommand %q", args[0])}
	}
	return sub(ctx, args[1:], stdout, stderr)
}

func runLakeStats(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("lake stats", "[--data DIR|s3://bucket/prefix] [--type T]", stderr)
	df := addDataFlags(fs, nil, nil)
	typ := fs.String("type", "", "only this log `type`")
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	l, err := df.open(ctx, true)
	if err != nil {
		return err
	}
	defer l.Close()
	// A lake on S3: the rows are counted from the files' footers, so its files come into the cache.
	if _, err := l.Pull(ctx, lake.PullType(*typ)); err != nil {
		return err
	}
	st, err := l.Stats(ctx, *typ)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "type\tdays\tpartitions\tfiles\trows\tbytes\toldest\tnewest\t")
	var total lake.TypeStats
	for _, s := range st {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t\n", s.Type, s.Days, s.Partitions, s.Files, s.Rows, progress.Bytes(s.Bytes), s.Oldest, s.Newest)
		total.Partitions += s.Partitions
		total.Files += s.Files
		total.Rows += s.Rows
		total.Bytes += s.Bytes
	}
	if len(st) > 1 {
		fmt.Fprintf(tw, "total\t\t%d\t%d\t%d\t%s\t\t\t\n", total.Partitions, total.Files, total.Rows, progress.Bytes(total.Bytes))
	}
	return tw.Flush()
}

func runLakeCompact(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("lake compact", "[--data DIR|s3://bucket/prefix] [--type T] [--min-files N] [--level N]", stderr)
	df := addDataFlags(fs, nil, nil)
	typ := fs.String("type", "", "only this log `type`")
	minFiles := fs.Int("min-files", 1, "compact a partition when it has more than `N` small files")
	smallMB := fs.Int("small-mb", 256, "files of at least `MB` count as compacted already and are kept")
	level := fs.Int("level", 9, "zstd `level` of the compacted files, 1 to 22: 19 saves about an eighth of the space of 9 for 25 times the CPU")
	verbose := fs.Bool("v", false, "print every partition compacted")
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	if *minFiles < 1 {
		return &exitError{code: 1, err: errors.New("--min-files must be at least 1")}
	}
	if *level < 1 || *level > 22 {
		return &exitError{code: 1, err: fmt.Errorf("--level %d: zstd levels go from 1 to 22", *level)}
	}
	l, err := df.open(ctx, false)
	if err != nil {
		return err
	}
	defer l.Close()
	start := time.Now()
	bar := progress.Start(progressWriter(stderr, false), "compact", 0)
	st, err := l.Compact(ctx, lake.CompactOptions{Type: *typ, MinFiles: *minFiles, SmallBytes: int64(*smallMB) << 20, Level: *level,
		OnPartition: func(p lake.CompactedPartition) {
			bar.Add(p.BytesIn, 1, p.RowsOut)
			if *verbose {
				fmt.Fprintf(stdout, "type=%s/date=%s/hour=%s  %d files -> %s  %d rows (%d duplicates dropped)  %s -> %s\n",
					p.Type, p.Date, p.Hour, p.FilesIn, p.File, p.RowsOut, p.RowsIn-p.RowsOut, progress.Bytes(p.BytesIn), progress.Bytes(p.BytesOut))
			}
		}})
	bar.Done()
	fmt.Fprintf(stdout, "%d partitions compacted (%d left as they were): %d files -> %d, %d rows -> %d (%d duplicates dropped), %s -> %s, %.1fs\n",
		st.Partitions, st.Skipped, st.FilesIn, st.FilesOut, st.RowsIn, st.RowsOut, st.RowsIn-st.RowsOut,
		progress.Bytes(st.BytesIn), progress.Bytes(st.BytesOut), time.Since(start).Seconds())
	for _, f := range st.Failed {
		fmt.Fprintf(stderr, "ramen lake compact: %v\n", f)
	}
	if err != nil {
		return err
	}
	if len(st.Failed) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d partitions could not be compacted (each is unchanged)", len(st.Failed))}
	}
	return nil
}

func runLakePrune(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("lake prune", "--older-than 90d [--data DIR|s3://bucket/prefix] [--type T] [--dry-run]", stderr)
	df := addDataFlags(fs, nil, nil)
	typ := fs.String("type", "", "only this log `type` (default: every type)")
	older := fs.String("older-than", "", "delete the days whose events are all older than `DURATION` (e.g. 90d, 36h)")
	dry := fs.Bool("dry-run", false, "print what would be deleted, delete nothing")
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	if *older == "" {
		fs.Usage()
		return &exitError{code: 1, err: errors.New("--older-than is required, e.g. --older-than 90d")}
	}
	age, err := parseAge(*older)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	if age <= 0 {
		return &exitError{code: 1, err: fmt.Errorf("--older-than %s: must be more than zero", *older)}
	}
	ret := lake.Retention{"*": age}
	if *typ != "" {
		ret = lake.Retention{*typ: age}
	}
	l, err := df.open(ctx, *dry)
	if err != nil {
		return err
	}
	defer l.Close()
	now := time.Now()
	st, err := l.Prune(ctx, lake.PruneOptions{Retention: ret, Now: now, DryRun: *dry})
	verb := "deleted"
	if *dry {
		verb = "would delete"
	}
	for _, p := range st.Partitions {
		fmt.Fprintf(stdout, "%s type=%s/date=%s  %d files  %s\n", verb, p.Type, p.Date, p.Files, progress.Bytes(p.Bytes))
	}
	fmt.Fprintf(stdout, "%s %d partitions (days), %d files, %s: everything before %s\n", verb, len(st.Partitions), st.Files,
		progress.Bytes(st.Bytes), now.Add(-age).UTC().Format("2006-01-02 15:04 MST"))
	return err
}

func runLakeCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("lake check", "[--data DIR|s3://bucket/prefix] [--type T] [--full] [--repair]", stderr)
	df := addDataFlags(fs, nil, nil)
	typ := fs.String("type", "", "only this log `type`")
	full := fs.Bool("full", false, "read every value of every file, not only the footers (reads the whole lake)")
	repair := fs.Bool("repair", false, "move damaged files to _quarantine/damaged and say which objects to ingest again")
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	if *repair && df.remote() {
		return &exitError{code: 1, err: errors.New("--repair works on a local lake; on a lake on S3, check from a fresh --cache first (a damaged cached file may only be a bad download)")}
	}
	l, err := df.open(ctx, !*repair)
	if err != nil {
		return err
	}
	defer l.Close()
	if _, err := l.Pull(ctx, lake.PullType(*typ)); err != nil {
		return err
	}
	start := time.Now()
	bar := progress.Start(progressWriter(stderr, false), "check", 0)
	var last int64
	rep, err := l.Check(ctx, lake.CheckOptions{Type: *typ, Full: *full, OnFile: func(done, total int, bytes int64) {
		bar.Add(bytes-last, 1, 0)
		last = bytes
	}})
	bar.Done()
	if err != nil {
		return err
	}
	what := "footers"
	if *full {
		what = "every value"
	}
	fmt.Fprintf(stdout, "%d files, %s checked (%s), %d damaged, %.1fs\n", rep.Files, progress.Bytes(rep.Bytes), what, len(rep.Damaged), time.Since(start).Seconds())
	var again []string
	for _, d := range rep.Damaged {
		fmt.Fprintf(stdout, "damaged: %s (%s): %v\n", d.Path, progress.Bytes(d.Size), d.Err)
		if d.Batch == "" {
			fmt.Fprintf(stdout, "  a compacted file: the objects of its events cannot be told; ingest that hour's sources again with --force\n")
		}
		const show = 10
		for i, o := range d.Objects {
			if i < show {
				fmt.Fprintf(stdout, "  events of %s\n", o.Key)
			}
			again = append(again, o.Key)
		}
		if len(d.Objects) > show {
			fmt.Fprintf(stdout, "  ... and %d more objects (--repair lists them all beside the file it moves)\n", len(d.Objects)-show)
		}
		if *repair {
			moved, err := l.Quarantine(d)
			if err != nil {
				return fmt.Errorf("moving %s aside: %w", d.Path, err)
			}
			fmt.Fprintf(stdout, "  moved to %s (why, and every object, in %s.reason.json)\n", moved, moved)
		}
	}
	if len(rep.Damaged) == 0 {
		return nil
	}
	if !*repair {
		fmt.Fprintf(stdout, "Queries that read these files fail. 'ramen lake check --repair' moves them aside (nothing is deleted).\n")
	} else if len(again) > 0 && len(again) <= 50 {
		// The objects' other events are still in the lake: ingesting them again doubles those until
		// compaction drops the copies (same event ids).
		fmt.Fprintf(stdout, "To bring their events back: ramen ingest --force --data %s %s && ramen lake compact --data %s\n",
			shellQuote(*df.data), strings.Join(quoteAll(again), " "), shellQuote(*df.data))
	} else if len(again) > 0 {
		fmt.Fprintf(stdout, "To bring their events back, ingest the objects listed in the .reason.json files with --force, then run 'ramen lake compact'.\n")
	}
	return &exitError{code: 2}
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = shellQuote(s)
	}
	return out
}

// parseFlagsOnly parses a subcommand's flags; it takes no other arguments.
func parseFlagsOnly(fs *flag.FlagSet, args []string) error {
	pos, err := parseInterleaved(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return err
	case err != nil:
		return &exitError{code: 1}
	case len(pos) > 0:
		return &exitError{code: 1, err: fmt.Errorf("unexpected arguments: %s", strings.Join(pos, " "))}
	}
	return nil
}
