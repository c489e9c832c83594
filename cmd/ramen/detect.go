package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ramen-siem/ramen/alert"
	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/parse"
	"github.com/ramen-siem/ramen/sigma"
)

func init() {
	commands["detect"] = command{"run Sigma rules over log files and print alerts", runDetect}
}

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runDetect(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("detect", "[--rules DIR]... [--no-builtin] [--format table|ndjson] FILE|DIR|- ...", stderr)
	var ruleDirs stringList
	fs.Var(&ruleDirs, "rules", "Sigma rules `DIR` or file (repeatable), added to the built-in rules")
	noBuiltin := fs.Bool("no-builtin", false, "do not load ramen's built-in rules")
	format := fs.String("format", "table", "output: table (one line per alert) or ndjson (alerts only on stdout)")
	typ := fs.String("type", "", "log type of every input (default: detect); see 'ramen types'")
	cfgPath := fs.String("config", "", "detection configuration `FILE` (logsources, placeholders, limits)")
	quiet := fs.Bool("q", false, "no summary on stderr")
	paths, err := parseInterleaved(fs, args)
	if err != nil {
		return &exitError{code: 1}
	}
	if *format != "table" && *format != "ndjson" {
		return &exitError{code: 1, err: fmt.Errorf("--format %q: use table or ndjson", *format)}
	}
	if len(paths) == 0 {
		fs.Usage()
		return &exitError{code: 1, err: errors.New("no input: give files, directories or - for stdin")}
	}
	if *noBuiltin && len(ruleDirs) == 0 {
		return &exitError{code: 1, err: errors.New("--no-builtin without --rules leaves no rule to run")}
	}
	if *typ != "" {
		if _, ok := parse.Lookup(*typ); !ok {
			return fmt.Errorf("unknown --type %q; known types: %s", *typ, strings.Join(parse.Names(), ", "))
		}
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
	objects, _, err := expand(paths)
	if err != nil {
		return err
	}

	aw := newAlertWriter(stdout, *format)
	write := aw.write

	det := sigma.NewDetector(rs, lim)
	start := time.Now()
	var sum parse.Stats
	failed, events := 0, 0
	opt := parse.Options{Type: *typ}
	shown := 0
	reject := func(r *parse.Reject) {
		if !*quiet && shown < maxShownRejects {
			fmt.Fprintf(stderr, "rejected: %s\n", r)
		}
		shown++
	}
	for _, o := range objects {
		if err := ctx.Err(); err != nil {
			return err
		}
		// The events of one object are ordered by time before detection: correlations need event
		// time order, and an object (a CloudTrail file, a flow log file) is a short span.
		var evs []*event.Event
		st, err := parseOne(ctx, o, stdin, opt, func(e *event.Event) error { evs = append(evs, e); return nil }, reject)
		sum.Add(st)
		if err != nil {
			failed++
			fmt.Fprintf(stderr, "%s: %v\n", o.name, err)
		}
		sort.SliceStable(evs, func(i, j int) bool { return evs[i].Timestamp.Before(evs[j].Timestamp) })
		for _, e := range evs {
			write(det.Detect(e))
		}
		events += len(evs)
	}
	write(det.Flush())
	if err := aw.flush(); err != nil {
		return err
	}
	if !*quiet {
		cs := det.Correlator().Stats()
		fmt.Fprintf(stderr, "%d objects, %d events, %d rejected; %d rules, %d correlations; %d alerts", len(objects), events, sum.Rejected,
			len(rs.Rules()), len(rs.Correlations()), aw.n)
		if cs.EvictedGroups > 0 || cs.DroppedEntries > 0 {
			fmt.Fprintf(stderr, "; correlation state over its limits: %d groups evicted, %d events dropped", cs.EvictedGroups, cs.DroppedEntries)
		}
		fmt.Fprintf(stderr, "; %.2fs\n", time.Since(start).Seconds())
	}
	if len(rerrs) > 0 || sum.Rejected > 0 || failed > 0 {
		return &exitError{code: 2}
	}
	return nil
}

// alertWriter prints alerts as a table (one line each) or as NDJSON (alerts only).
type alertWriter struct {
	out *bufio.Writer
	tw  *tabwriter.Writer
	enc *json.Encoder
	n   int
}

func newAlertWriter(w io.Writer, format string) *alertWriter {
	a := &alertWriter{out: bufio.NewWriterSize(w, 1<<16)}
	if format == "table" {
		a.tw = tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(a.tw, "FIRST\tLAST\tLEVEL\tRULE\tTITLE\tTAGS\tEVENTS\tGROUP\tFIELDS")
	}
	a.enc = json.NewEncoder(a.out)
	a.enc.SetEscapeHTML(false)
	return a
}

func (a *alertWriter) write(as []*alert.Alert) {
	for _, al := range as {
		a.n++
		if a.tw == nil {
			a.enc.Encode(al)
			continue
		}
		fmt.Fprintf(a.tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", al.FirstSeen.Format(time.RFC3339), al.LastSeen.Format(time.RFC3339),
			al.Severity, al.Rule.ID, cut(al.Rule.Title, 60), strings.Join(al.Rule.Tags, ","), eventList(al), cut(al.GroupString(), 60), cut(al.FieldsString(), 80))
	}
}

func (a *alertWriter) flush() error {
	if a.tw != nil {
		a.tw.Flush()
	}
	return a.out.Flush()
}

func eventList(a *alert.Alert) string {
	ids := a.EventIDs
	if len(ids) > 3 {
		return fmt.Sprintf("%s,... (%d)", strings.Join(ids[:3], ","), a.Count)
	}
	return strings.Join(ids, ",")
}
