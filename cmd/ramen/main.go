// Command ramen is the one binary of ramen, a SIEM for cloud logs: every job is a subcommand.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"

	"github.com/ramen-siem/ramen/lake"
	"github.com/ramen-siem/ramen/lake/s3store"
	"github.com/ramen-siem/ramen/source/s3"
)

// exitError carries a process exit status out of a subcommand.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// RAMEN_CPUPROFILE=file writes a CPU profile of the run, for performance reports.
	if p := os.Getenv("RAMEN_CPUPROFILE"); p != "" {
		if f, err := os.Create(p); err == nil {
			pprof.StartCPUProfile(f)
			defer f.Close()
		}
	}
	// RAMEN_MEMPROFILE=file writes where the run allocated (every allocation sampled), for the same.
	mem := os.Getenv("RAMEN_MEMPROFILE")
	if mem != "" {
		runtime.MemProfileRate = 64 << 10
	}
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	pprof.StopCPUProfile()
	if mem != "" {
		if f, err := os.Create(mem); err == nil {
			pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
	stop()
	os.Exit(code)
}

// run executes a command line and returns the exit status: 0 success, 1 fatal error, 2 partial
// success (some records rejected), as scripts rely on.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 1
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "ramen: unknown command %q\n\n", args[0])
		usage(stderr)
		return 1
	}
	err := cmd.run(ctx, args[1:], stdin, stdout, stderr)
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ee):
		if ee.err != nil {
			fmt.Fprintf(stderr, "ramen %s: %v\n", args[0], ee.err)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "ramen %s: %v\n", args[0], err)
	return 1
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "ramen: a SIEM for cloud logs\n\nUsage: ramen <command> [flags] [args]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'ramen <command> -h' for a command's flags. Documentation: docs/ in the repository.")
}

// newFlags returns a flag set that reports errors to stderr and does not exit.
func newFlags(name, usageLine string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: ramen %s %s\n\nFlags:\n", name, usageLine)
		fs.PrintDefaults()
	}
	return fs
}

// dataFlags are the flags that say where the lake is: --data, a local data directory or the
// s3://bucket/prefix of a lake on S3, and for the latter its cache and how to reach the store.
type dataFlags struct {
	data, cache, endpoint, region *string
}

// addDataFlags adds --data and --cache to fs, and --endpoint and --region unless the command has them.
func addDataFlags(fs *flag.FlagSet, endpoint, region *string) *dataFlags {
	f := &dataFlags{
		data:  fs.String("data", defaultDataDir(), "data `directory` (the lake is DIR/lake), or s3://bucket/prefix for a lake on S3; also $RAMEN_DATA"),
		cache: fs.String("cache", "", "for a lake on S3: the local `directory` that caches it (default: one per bucket and prefix under the user's cache directory)"),
	}
	if endpoint == nil {
		endpoint = fs.String("endpoint", "", "for a lake on S3: `URL` of an S3-compatible store (MinIO, Ceph, ...), addressed path-style")
		region = fs.String("region", "", "for a lake on S3: the bucket's AWS `region` (default: $AWS_REGION or the profile's region)")
	}
	f.endpoint, f.region = endpoint, region
	return f
}

// remote reports whether the lake is on S3.
func (f *dataFlags) remote() bool { return s3.IsURL(*f.data) }

// dir is the local data directory: --data, or for a lake on S3 its cache (DIR/lake is the lake's
// working copy, DIR/spool the downloads of an ingest).
func (f *dataFlags) dir() (string, error) {
	if !f.remote() {
		if *f.cache != "" {
			return "", fmt.Errorf("--cache %s: only a lake on S3 (--data s3://bucket/prefix) has a cache; --data %s is the lake's own directory", *f.cache, *f.data)
		}
		return *f.data, nil
	}
	if *f.cache != "" {
		return *f.cache, nil
	}
	u, err := s3.ParseURL(*f.data)
	if err != nil {
		return "", err
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for the lake on S3 (%v): give --cache DIR", err)
	}
	host := "aws"
	if *f.endpoint != "" {
		if e, err := url.Parse(*f.endpoint); err == nil && e.Host != "" {
			host = strings.ReplaceAll(e.Host, ":", "_")
		}
	}
	prefix := strings.Trim(u.Prefix, "/")
	// The default cache is a path made of the bucket and prefix: a "." or ".." segment would put it
	// outside the cache directory, an empty one would share another prefix's.
	for _, seg := range append([]string{u.Bucket}, strings.Split(prefix, "/")...) {
		if seg == "." || seg == ".." || (seg == "" && prefix != "") || strings.ContainsAny(seg, `\`) {
			return "", fmt.Errorf("--data %s: the bucket and prefix may not have empty, \".\" or \"..\" segments", *f.data)
		}
	}
	if prefix == "" {
		prefix = "_root"
	}
	return filepath.Join(base, "ramen", "s3", host, u.Bucket, filepath.FromSlash(prefix)), nil
}

// open opens the lake: a local one, which must exist, or a lake on S3 through its cache (a writer's
// Open publishes what an earlier run left pending).
func (f *dataFlags) open(ctx context.Context, readOnly bool) (*lake.Lake, error) {
	dir, err := f.dir()
	if err != nil {
		return nil, &exitError{code: 1, err: err}
	}
	opt := lake.Options{ReadOnly: readOnly, Context: ctx}
	if f.remote() {
		if opt.Remote, err = f.store(ctx); err != nil {
			return nil, &exitError{code: 1, err: err}
		}
	} else if !lake.Exists(lakeDir(dir)) {
		return nil, &exitError{code: 1, err: fmt.Errorf("no lake in %s: run 'ramen ingest --data %s FILES' (or 'ramen demo') first", lakeDir(dir), dir)}
	}
	l, err := lake.Open(lakeDir(dir), opt)
	if errors.Is(err, lake.ErrLocked) {
		return nil, &exitError{code: 1, err: fmt.Errorf("%w: try again when it has finished", err)}
	}
	return l, err
}

// store is the lake on S3 named by --data.
func (f *dataFlags) store(ctx context.Context) (lake.Store, error) {
	u, err := s3.ParseURL(*f.data)
	if err != nil {
		return nil, fmt.Errorf("--data: %w", err)
	}
	c, err := s3.New(ctx, s3.Options{Endpoint: *f.endpoint, Region: *f.region})
	if err != nil {
		return nil, err
	}
	return s3store.New(c, u), nil
}
