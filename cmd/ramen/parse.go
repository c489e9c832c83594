package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/parse"
	_ "github.com/ramen-siem/ramen/parse/all"
	"github.com/ramen-siem/ramen/progress"
)

func init() {
	commands["parse"] = command{"print normalized events (ECS NDJSON) from log files", runParse}
	commands["types"] = command{"list the log types ramen reads", runTypes}
}

// maxShownRejects is how many rejected records are described on stderr; --errors gets them all.
const maxShownRejects = 10

func runParse(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("parse", "[--type T] [--errors FILE] FILE|DIR|- ...", stderr)
	typ := fs.String("type", "", "log type of every input (default: detect from the name, then the content); see 'ramen types'")
	errPath := fs.String("errors", "", "write every rejected record to `FILE` as NDJSON (object, line/offset, reason, raw bytes)")
	maxRecord := fs.Int("max-record", 0, "largest record in `bytes`; longer ones are rejected (default 4 MiB)")
	quiet := fs.Bool("q", false, "no summary on stderr")
	paths, err := parseInterleaved(fs, args)
	if err != nil {
		return &exitError{code: 1}
	}
	if len(paths) == 0 {
		fs.Usage()
		return &exitError{code: 1, err: errors.New("no input: give files, directories or - for stdin")}
	}
	if *typ != "" {
		if _, ok := parse.Lookup(*typ); !ok {
			return fmt.Errorf("unknown --type %q; known types: %s", *typ, strings.Join(parse.Names(), ", "))
		}
	}
	objects, total, err := expand(paths)
	if err != nil {
		return err
	}

	var errOut *json.Encoder
	if *errPath != "" {
		f, err := os.Create(*errPath)
		if err != nil {
			return err
		}
		defer f.Close()
		bw := bufio.NewWriter(f)
		defer bw.Flush()
		errOut = json.NewEncoder(bw)
	}

	out := bufio.NewWriterSize(stdout, 1<<20)
	var buf []byte
	emit := func(e *event.Event) error {
		buf = e.AppendJSON(buf[:0])
		buf = append(buf, '\n')
		_, err := out.Write(buf)
		return err
	}
	shown := 0
	reject := func(r *parse.Reject) {
		if errOut != nil {
			errOut.Encode(r)
		}
		if !*quiet && shown < maxShownRejects {
			fmt.Fprintf(stderr, "rejected: %s\n", r)
		}
		shown++
	}

	var pw io.Writer
	if f, ok := stderr.(*os.File); ok && progress.Enabled(f) && !*quiet {
		pw = stderr
	}
	bar := progress.Start(pw, "parse", total)
	start := time.Now()
	var sum parse.Stats
	failed := 0
	opt := parse.Options{Type: *typ, MaxRecord: *maxRecord}
	for _, o := range objects {
		if err := ctx.Err(); err != nil {
			bar.Done()
			return err
		}
		st, err := parseOne(ctx, o, stdin, opt, emit, reject)
		sum.Add(st)
		bar.Add(o.size, 1, int64(st.Events))
		if err != nil {
			var we *writeError
			if errors.As(err, &we) {
				bar.Done()
				return we.err // stdout closed (a pipe to head): stop quietly with an error status
			}
			failed++
			// The object could not be read to its end: that is a rejected object, not a fatal error.
			reject(&parse.Reject{Object: o.name, Reason: "object", Error: err.Error()})
			sum.Rejected++
			if sum.Reasons == nil {
				sum.Reasons = map[string]int{}
			}
			sum.Reasons["object"]++
		}
	}
	bar.Done()
	if err := out.Flush(); err != nil {
		return err
	}
	if !*quiet {
		if shown > maxShownRejects {
			hint := "use --errors FILE to keep them all"
			if errOut != nil {
				hint = "all are in " + *errPath
			}
			fmt.Fprintf(stderr, "... and %d more rejected records (%s)\n", shown-maxShownRejects, hint)
		}
		fmt.Fprintln(stderr, summary(len(objects), sum, time.Since(start)))
	}
	if sum.Rejected > 0 || failed > 0 {
		return &exitError{code: 2}
	}
	return nil
}

// writeError marks an error from writing stdout, which ends the command.
type writeError struct{ err error }

func (w *writeError) Error() string { return w.err.Error() }

type object struct {
	name string // path, or "-" for stdin
	size int64
}

func parseOne(ctx context.Context, o object, stdin io.Reader, opt parse.Options, emit func(*event.Event) error, reject func(*parse.Reject)) (parse.Stats, error) {
	var r io.Reader = stdin
	name := "stdin"
	if o.name != "-" {
		f, err := os.Open(o.name)
		if err != nil {
			return parse.Stats{}, err
		}
		defer f.Close()
		r, name = f, o.name
	}
	var werr error
	st, err := parse.Object(ctx, name, r, opt, func(e *event.Event) error {
		if err := emit(e); err != nil {
			werr = err
			return err
		}
		return nil
	}, reject)
	if werr != nil {
		return st, &writeError{werr}
	}
	return st, err
}

// expand turns the arguments into objects: files as given, directories walked recursively in name
// order (hidden files and directories skipped), "-" for stdin. A path that does not exist is fatal.
func expand(paths []string) ([]object, int64, error) {
	var out []object
	var total int64
	for _, p := range paths {
		if p == "-" {
			out = append(out, object{name: "-"})
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			return nil, 0, err
		}
		if !st.IsDir() {
			out = append(out, object{name: p, size: st.Size()})
			total += st.Size()
			continue
		}
		var files []object
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if path != p && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() {
				info, err := d.Info()
				if err != nil {
					return err
				}
				files = append(files, object{name: path, size: info.Size()})
				total += info.Size()
			}
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
		sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
		out = append(out, files...)
	}
	return out, total, nil
}

// summary is the one-line account of a run: what was read, what came out, what was rejected and why.
func summary(objects int, st parse.Stats, d time.Duration) string {
	s := fmt.Sprintf("%d objects, %d records, %d events, %d rejected", objects, st.Records, st.Events, st.Rejected)
	if st.Skipped > 0 {
		s += fmt.Sprintf(", %d skipped (not events, e.g. digest files)", st.Skipped)
	}
	if len(st.Reasons) > 0 {
		var rs []string
		for r, n := range st.Reasons {
			rs = append(rs, fmt.Sprintf("%s: %d", r, n))
		}
		sort.Strings(rs)
		s += " (" + strings.Join(rs, ", ") + ")"
	}
	return s + fmt.Sprintf("; %s in %.2fs", progress.Bytes(st.Bytes), d.Seconds())
}

// parseInterleaved parses flags that may come before, between or after positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func runTypes(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("types", "", stderr)
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 1}
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tDESCRIPTION\tAWSLogs SERVICES")
	for _, t := range parse.Types() {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", t.Name, t.Title, strings.Join(t.Services, ", "))
	}
	return tw.Flush()
}
