package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/lake"
	"github.com/ramen-siem/ramen/parse"
	"github.com/ramen-siem/ramen/progress"
)

func init() {
	commands["ingest"] = command{"load log files into the lake (idempotent: objects already loaded are skipped)", runIngest}
}

// lakeDir is where the lake of a data directory lives.
func lakeDir(data string) string { return filepath.Join(data, "lake") }

// ingestStats is the account of one ingest run.
type ingestStats struct {
	objects, skipped, events, rejected int
	reasons                            map[string]int
	bytesIn, bytesStored               int64
	batches                            int
	elapsed                            time.Duration
}

func runIngest(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("ingest", "[--data DIR] [--type T] [--force] PATH...", stderr)
	data := fs.String("data", defaultDataDir(), "data `directory` (the lake is DIR/lake); also $RAMEN_DATA")
	typ := fs.String("type", "", "log type of every input (default: detect each object's type)")
	force := fs.Bool("force", false, "ingest objects again even if the lake has them already")
	batchMB := fs.Int("batch-mb", 256, "commit a batch every `MB` of normalized events")
	quiet := fs.Bool("q", false, "no summary on stderr")
	paths, err := parseInterleaved(fs, args)
	if err != nil {
		return &exitError{code: 1}
	}
	if len(paths) == 0 {
		fs.Usage()
		return &exitError{code: 1, err: errors.New("no input: give files or directories")}
	}
	for _, p := range paths {
		if strings.HasPrefix(p, "s3://") {
			return &exitError{code: 1, err: errors.New("s3:// sources are not supported yet: copy the objects locally (aws s3 sync) and ingest the directory")}
		}
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
	l, err := lake.Open(lakeDir(*data), lake.Options{})
	if err != nil {
		return err
	}
	defer l.Close()
	st, err := ingestObjects(ctx, l, objects, total, ingestOptions{typ: *typ, force: *force, batchBytes: int64(*batchMB) << 20, progress: progressWriter(stderr, *quiet), log: stderr})
	if !*quiet {
		fmt.Fprintln(stderr, st.summary())
	}
	if err != nil {
		return err
	}
	if st.rejected > 0 {
		return &exitError{code: 2}
	}
	return nil
}

func progressWriter(stderr io.Writer, quiet bool) io.Writer {
	if f, ok := stderr.(*os.File); ok && progress.Enabled(f) && !quiet {
		return stderr
	}
	return nil
}

type ingestOptions struct {
	typ        string
	force      bool
	batchBytes int64
	progress   io.Writer // nil: no progress drawn
	log        io.Writer // where rejected records are described (the first few)
}

// ingestObjects loads files into the lake; an object's events become visible, and the object
// counts as ingested, only when its batch commits.
func ingestObjects(ctx context.Context, l *lake.Lake, objects []object, total int64, opt ingestOptions) (st ingestStats, err error) {
	st.reasons = map[string]int{}
	start := time.Now()
	defer func() { st.elapsed = time.Since(start) }()
	a, err := l.NewAppender()
	if err != nil {
		return st, err
	}
	if opt.batchBytes > 0 {
		a.MaxBatchBytes = opt.batchBytes
	}
	bar := progress.Start(opt.progress, "ingest", total)
	defer bar.Done()
	shown := 0
	commit := func() error {
		bs, err := a.Commit(ctx)
		if err != nil {
			return fmt.Errorf("committing a batch: %w", err)
		}
		st.batches++
		st.bytesStored += bs.ParquetBytes
		return nil
	}
	for _, o := range objects {
		if err := ctx.Err(); err != nil {
			a.Abort()
			return st, err
		}
		obj, err := describe(o.name)
		if err != nil {
			a.Abort()
			return st, err
		}
		if prev, ok := l.Ingested(obj); ok && !opt.force {
			st.skipped++
			bar.Add(o.size, 1, 0)
			_ = prev
			continue
		}
		f, err := os.Open(o.name)
		if err != nil {
			a.Abort()
			return st, err
		}
		var addErr error
		ps, perr := parse.Object(ctx, o.name, f, parse.Options{Type: opt.typ}, func(e *event.Event) error {
			if err := a.Add(e); err != nil {
				addErr = err
				return err
			}
			return nil
		}, func(r *parse.Reject) {
			if err := a.Reject(r); err != nil && addErr == nil {
				addErr = err
			}
			if shown < maxShownRejects && opt.log != nil {
				fmt.Fprintf(opt.log, "rejected: %s\n", r)
			}
			shown++
		})
		f.Close()
		if addErr != nil {
			a.Abort()
			return st, fmt.Errorf("writing to the lake: %w", addErr)
		}
		if perr != nil {
			// The object could not be read to its end: its good records are kept, and the failure
			// itself is a dead letter, so that nothing is lost silently.
			r := &parse.Reject{Object: o.name, Type: opt.typ, Reason: "object", Error: perr.Error()}
			if err := a.Reject(r); err != nil {
				a.Abort()
				return st, err
			}
			if opt.log != nil && shown < maxShownRejects {
				fmt.Fprintf(opt.log, "rejected: %s\n", r)
			}
			shown++
			ps.Rejected++
			if ps.Reasons == nil {
				ps.Reasons = map[string]int{}
			}
			ps.Reasons["object"]++
		}
		obj.Events, obj.Reject = ps.Events, ps.Rejected
		a.EndObject(obj)
		st.objects++
		st.events += ps.Events
		st.rejected += ps.Rejected
		st.bytesIn += o.size
		for r, n := range ps.Reasons {
			st.reasons[r] += n
		}
		bar.Add(o.size, 1, int64(ps.Events))
		if a.Full() {
			if err := commit(); err != nil {
				return st, err
			}
		}
	}
	if err := commit(); err != nil {
		return st, err
	}
	if shown > maxShownRejects && opt.log != nil {
		fmt.Fprintf(opt.log, "... and %d more rejected records (the 'rejected' view has them all)\n", shown-maxShownRejects)
	}
	return st, nil
}

// describe identifies a file for the manifest: its size and content hash.
func describe(path string) (lake.Object, error) {
	f, err := os.Open(path)
	if err != nil {
		return lake.Object{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return lake.Object{}, fmt.Errorf("%s: %w", path, err)
	}
	return lake.Object{Key: path, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

func (s ingestStats) summary() string {
	out := fmt.Sprintf("%d objects ingested (%d already in the lake, skipped), %d events, %d rejected", s.objects, s.skipped, s.events, s.rejected)
	if len(s.reasons) > 0 {
		var rs []string
		for r, n := range s.reasons {
			rs = append(rs, fmt.Sprintf("%s: %d", r, n))
		}
		sort.Strings(rs)
		out += " (" + strings.Join(rs, ", ") + ")"
	}
	out += fmt.Sprintf("; %s read, %s stored, %.2fs", progress.Bytes(s.bytesIn), progress.Bytes(s.bytesStored), s.elapsed.Seconds())
	return out
}
