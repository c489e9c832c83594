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
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ramen-siem/ramen/alert"
	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/lake"
	"github.com/ramen-siem/ramen/parse"
	"github.com/ramen-siem/ramen/progress"
	"github.com/ramen-siem/ramen/sigma"
	"github.com/ramen-siem/ramen/source/s3"
)

func init() {
	commands["ingest"] = command{"load log files into the lake (idempotent: objects already loaded are skipped)", runIngest}
}

// lakeDir is where the lake of a data directory lives.
func lakeDir(data string) string { return filepath.Join(data, "lake") }

// ingestStats is the account of one ingest run.
type ingestStats struct {
	objects, skipped, events, rejected int
	failed                             int // objects that could not be read, not marked ingested
	reasons                            map[string]int
	bytesIn, bytesStored               int64
	batches                            int
	uploaded                           int64  // bytes published to a lake on S3
	store                              string // the lake on S3, if it is one
	alerts                             int
	uncommitted                        int // objects read whose batch failed to commit
	elapsed                            time.Duration
}

func runIngest(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("ingest", "[--data DIR|s3://bucket/prefix] [--cache DIR] [--type T] [--force] [--no-detect] [--rules DIR]... [--endpoint URL] [--region R] PATH|s3://bucket/prefix ...", stderr)
	endpoint := fs.String("endpoint", "", "`URL` of an S3-compatible store (MinIO, Ceph, ...) for s3:// inputs and a lake on S3, addressed path-style")
	region := fs.String("region", "", "AWS `region` of the s3:// buckets (default: $AWS_REGION or the profile's region)")
	df := addDataFlags(fs, endpoint, region)
	typ := fs.String("type", "", "log type of every input (default: detect each object's type)")
	force := fs.Bool("force", false, "ingest objects again even if the lake has them already")
	batchMB := fs.Int("batch-mb", 256, "commit a batch once its columns hold `MB` of memory (measured, not estimated)")
	downloads := fs.Int("downloads", 8, "S3 objects downloaded at once, ahead of parsing (`N`)")
	noDetect := fs.Bool("no-detect", false, "do not run detection rules over what is ingested")
	var ruleDirs stringList
	fs.Var(&ruleDirs, "rules", "Sigma rules `DIR` or file (repeatable), added to the built-in rules")
	noBuiltin := fs.Bool("no-builtin", false, "do not load ramen's built-in rules")
	cfgPath := fs.String("config", "", "detection configuration `FILE` (logsources, placeholders, limits)")
	quiet := fs.Bool("q", false, "no summary on stderr")
	paths, err := parseInterleaved(fs, args)
	if err != nil {
		return &exitError{code: 1}
	}
	if len(paths) == 0 {
		fs.Usage()
		return &exitError{code: 1, err: errors.New("no input: give files, directories or s3://bucket/prefix URLs")}
	}
	if *typ != "" {
		if _, ok := parse.Lookup(*typ); !ok {
			return fmt.Errorf("unknown --type %q; known types: %s", *typ, strings.Join(parse.Names(), ", "))
		}
	}
	if *downloads < 1 {
		return &exitError{code: 1, err: fmt.Errorf("--downloads %d: want at least 1", *downloads)}
	}
	srcs, total, err := sources(paths, stderr, *quiet)
	if err != nil {
		return err
	}
	opt := ingestOptions{typ: *typ, force: *force, batchBytes: int64(*batchMB) << 20, progress: progressWriter(stderr, *quiet), log: stderr, downloads: *downloads}
	if !*noDetect && !(*noBuiltin && len(ruleDirs) == 0) {
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
		opt.detector = sigma.NewDetector(rs, lim)
	}
	data, err := df.dir()
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	for _, s := range srcs {
		if s.s3 == nil || opt.s3 != nil {
			continue
		}
		if opt.s3, err = s3.New(ctx, s3.Options{Endpoint: *endpoint, Region: *region}); err != nil {
			return &exitError{code: 1, err: err}
		}
		opt.spool = filepath.Join(data, "spool")
	}
	var l *lake.Lake
	if df.remote() {
		l, err = df.open(ctx, false)
	} else {
		l, err = lake.Open(lakeDir(data), lake.Options{})
	}
	if err != nil {
		return err
	}
	defer l.Close()
	if opt.s3 != nil && opt.progress != nil {
		// On a terminal, the S3 locations are listed first, so that the progress has a total (bytes
		// and objects) and an ETA; the listing is kept for the run unless it is very long.
		n, err := prelist(ctx, opt.s3, srcs, opt.progress)
		if err != nil {
			return &exitError{code: 1, err: err}
		}
		total += n
	}
	if opt.spool != "" {
		// The lake's lock is held: no other ingest uses the spool, and what is in it was left by a crash.
		if err := os.RemoveAll(opt.spool); err != nil {
			return err
		}
		if err := os.MkdirAll(opt.spool, 0o755); err != nil {
			return err
		}
		defer os.RemoveAll(opt.spool)
	}
	st, err := ingestSources(ctx, l, srcs, total, opt)
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

// source is one input of a run: local files (a path expanded) or an S3 location.
type source struct {
	files  []object
	s3     *s3.URL
	listed [][]s3.Object // the location's listing, when it was listed ahead (prelist)
}

// objectsTotal counts the objects of a run, when every S3 location was listed ahead.
func objectsTotal(srcs []source) (int, bool) {
	n := 0
	for _, s := range srcs {
		if s.s3 != nil && s.listed == nil {
			return 0, false
		}
		n += len(s.files)
		for _, p := range s.listed {
			n += len(p)
		}
	}
	return n, true
}

// prelistKeep is the most objects of one location whose listing is kept for the run; a longer one
// is listed again as the run goes (at about 200 bytes an object, 250,000 of them are 50 MB).
const prelistKeep = 250_000

// prelist lists the S3 locations ahead of the run, showing its own progress, and returns the bytes
// under them: the total of the run's progress. Listings of up to prelistKeep objects are kept in
// srcs, so that the run does not list them again.
func prelist(ctx context.Context, c *s3.Client, srcs []source, progressTo io.Writer) (int64, error) {
	var total int64
	for i := range srcs {
		s := &srcs[i]
		if s.s3 == nil {
			continue
		}
		bar := progress.Start(progressTo, "listing "+s.s3.String(), 0)
		var pages [][]s3.Object
		n := 0
		err := c.List(ctx, *s.s3, func(page []s3.Object) error {
			for _, o := range page {
				total += o.Size
				bar.Add(o.Size, 1, 0)
			}
			n += len(page)
			if pages != nil || n == len(page) {
				pages = append(pages, page)
			}
			if n > prelistKeep {
				pages = nil
			}
			return nil
		})
		bar.Done()
		if err != nil {
			return 0, err
		}
		if n == 0 {
			pages = [][]s3.Object{}
		}
		s.listed = pages
	}
	return total, nil
}

// sources reads the arguments: local paths first, then S3 locations, each in the order given. A
// local path that does not exist or a malformed s3:// URL is fatal before anything is ingested. An S3
// location inside another one given too is listed once.
func sources(paths []string, stderr io.Writer, quiet bool) ([]source, int64, error) {
	var out []source
	var total int64
	var urls []s3.URL
	for _, p := range paths {
		if !s3.IsURL(p) {
			files, n, err := expand([]string{p})
			if err != nil {
				return nil, 0, err
			}
			out = append(out, source{files: files})
			total += n
			continue
		}
		u, err := s3.ParseURL(p)
		if err != nil {
			return nil, 0, &exitError{code: 1, err: err}
		}
		urls = append(urls, u)
	}
	for i, u := range urls {
		inside := false
		for j, v := range urls {
			if j != i && v.Contains(u) && (!u.Contains(v) || j < i) {
				if !quiet {
					fmt.Fprintf(stderr, "%s is inside %s: listed once\n", u, v)
				}
				inside = true
				break
			}
		}
		if !inside {
			out = append(out, source{s3: &urls[i]})
		}
	}
	return out, total, nil
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
	noReuse    bool      // parsers allocate every event afresh (a test compares runs with and without reuse)
	progress   io.Writer // nil: no progress drawn
	log        io.Writer // where rejected records are described (the first few)
	s3         *s3.Client
	spool      string          // directory where S3 objects are downloaded before they are parsed
	downloads  int             // S3 objects downloaded at once
	detector   *sigma.Detector // nil: no detection
}

// ingestObjects loads local files into the lake.
func ingestObjects(ctx context.Context, l *lake.Lake, objects []object, total int64, opt ingestOptions) (ingestStats, error) {
	return ingestSources(ctx, l, []source{{files: objects}}, total, opt)
}

// ingester is one run: the batch being filled and the account of the run.
type ingester struct {
	l     *lake.Lake
	a     *lake.Appender
	opt   ingestOptions
	st    ingestStats
	bar   *progress.Counter
	shown int
	det   *detection
	inRun map[string]bool // objects taken in this run, by identity
	pend  pending         // objects read to their end, waiting for their batch to commit
	// objType is the log type of the current object's events ("" until it has one).
	objType string
	// mem is the parsers' event memory, reused once the batch has copied the events and detection
	// has matched them: neither keeps any of an event's memory (detection keeps ids and values as
	// text, which are the record's own bytes or copies, never the parser's chunks).
	mem *parse.Memory
}

// detection runs the rules over ingested events on a goroutine of its own, a chunk of an object's
// events at a time (1,024, as they are parsed), each chunk in time order, so that it overlaps with
// parsing and writing. An object's records are close to time order already (a CloudTrail file, a
// flow log file span minutes), and a correlation's window is minutes too. Its alerts go into the lake (type
// "alerts") with the batch of the events that raised them: commit waits for it first, so an
// acknowledged object's alerts are never lost.
//
// Repeats are folded (alert.Aggregator): the same rule and group within an hour is one alert whose
// count grows; its updated state is written again with a later batch, under the same id.
type detection struct {
	det    *sigma.Detector
	in     chan parsedChunk
	mem    *parse.Memory  // where a chunk's parser memory goes once its events are matched
	done   sync.WaitGroup // one per chunk handed over
	mu     sync.Mutex
	agg    *alert.Aggregator
	raised int // alerts before folding
	total  int // distinct alerts written
	seen   map[string]bool
	closed bool
}

func startDetection(d *sigma.Detector, mem *parse.Memory) *detection {
	x := &detection{det: d, in: make(chan parsedChunk, 4), mem: mem, agg: alert.NewAggregator(alert.DefaultWindow), seen: map[string]bool{}}
	go func() {
		for c := range x.in {
			evs := c.events
			slices.SortStableFunc(evs, func(a, b *event.Event) int { return a.Timestamp.Compare(b.Timestamp) })
			var out []*alert.Alert
			for _, e := range evs {
				out = append(out, x.det.Detect(e)...)
			}
			x.mem.Put(c.free) // the batch has added these events already
			x.mu.Lock()
			for _, a := range out {
				x.agg.Add(a)
			}
			x.raised += len(out)
			x.mu.Unlock()
			x.done.Done()
		}
	}()
	return x
}

// stop ends the detection goroutine if take(true) did not (a run that stopped on an error).
func (x *detection) stop() {
	if !x.closed {
		x.closed = true
		close(x.in)
	}
}

// add hands a chunk of an object's events over, once the batch has added them: their parser
// memory (c.free) goes back once they are matched.
func (x *detection) add(c parsedChunk) {
	if len(c.events) == 0 {
		x.mem.Put(c.free)
		return
	}
	x.done.Add(1)
	x.in <- c
}

// take waits for the events handed over so far and returns their alerts; at the end, also the
// alerts of correlation windows still open.
func (x *detection) take(final bool) []*alert.Alert {
	x.done.Wait()
	x.mu.Lock()
	defer x.mu.Unlock()
	if final {
		x.stop()
		for _, a := range x.det.Flush() {
			x.agg.Add(a)
			x.raised++
		}
	}
	out := x.agg.Updated()
	for _, a := range out {
		if !x.seen[a.ID] {
			x.seen[a.ID] = true
			x.total++
		}
	}
	return out
}

// ingestSources loads files and S3 objects into the lake; an object's events become visible, and the
// object counts as ingested, only when its batch commits.
func ingestSources(ctx context.Context, l *lake.Lake, srcs []source, total int64, opt ingestOptions) (st ingestStats, err error) {
	g := &ingester{l: l, opt: opt, inRun: map[string]bool{}}
	g.st.reasons = map[string]int{}
	if r := l.Remote(); r != nil {
		g.st.store = r.String()
	}
	if !opt.noReuse {
		// Room for the chunks of the events in flight (readAheadEvents, some 40 field chunks per
		// chunkEvents of flow records) and more.
		g.mem = parse.NewMemory(1024)
	}
	if opt.detector != nil {
		g.det = startDetection(opt.detector, g.mem)
		defer func() { st.alerts = g.det.total; g.det.stop() }()
	}
	start := time.Now()
	defer func() { st.elapsed, st.uncommitted = time.Since(start), g.pend.objects }()
	a, err := l.NewAppender()
	if err != nil {
		return g.st, err
	}
	if opt.batchBytes > 0 {
		a.MaxBatchBytes = opt.batchBytes
	}
	g.a = a
	label := "ingest"
	if n, ok := objectsTotal(srcs); ok {
		label = fmt.Sprintf("ingest [%d objects]", n) // the progress line counts bytes against the total
	}
	g.bar = progress.Start(opt.progress, label, total)
	defer g.bar.Done()
	for _, s := range srcs {
		if s.s3 != nil && s.listed != nil {
			for _, page := range s.listed {
				if err = g.page(ctx, page); err != nil {
					break
				}
			}
		} else if s.s3 != nil {
			err = opt.s3.List(ctx, *s.s3, func(page []s3.Object) error { return g.page(ctx, page) })
			var se *s3.Error
			if errors.As(err, &se) && se.Op == "list" {
				// The location cannot be listed (no bucket, no s3:ListBucket, the network): keep what
				// is done, then stop; the next run skips what this one committed.
				if cerr := g.commit(ctx); cerr != nil {
					return g.st, cerr
				}
				return g.st, &exitError{code: 1, err: err}
			}
		} else {
			err = g.files(ctx, s.files)
		}
		if err != nil {
			a.Abort()
			return g.st, err
		}
	}
	if err := g.commitFinal(ctx); err != nil {
		return g.st, err
	}
	if g.shown > maxShownRejects && opt.log != nil {
		fmt.Fprintf(opt.log, "... and %d more rejected records (the 'rejected' view has them all)\n", g.shown-maxShownRejects)
	}
	return g.st, nil
}

func (g *ingester) commit(ctx context.Context) error { return g.commitWith(ctx, false) }

// commitFinal commits the last batch, with the alerts of correlations still open.
func (g *ingester) commitFinal(ctx context.Context) error { return g.commitWith(ctx, true) }

func (g *ingester) commitWith(ctx context.Context, final bool) error {
	if g.det != nil {
		for _, al := range g.det.take(final) {
			if err := g.a.Add(al.Event()); err != nil {
				return fmt.Errorf("writing an alert to the lake: %w", err)
			}
		}
	}
	bs, err := g.a.Commit(ctx)
	if err != nil {
		return fmt.Errorf("committing a batch: %w", err)
	}
	g.st.batches++
	g.st.bytesStored += bs.ParquetBytes
	// A lake on S3: the batch is durable in the cache; its objects are acknowledged once its files
	// and manifest part are in the store.
	ps, err := g.l.Publish(ctx)
	g.st.uploaded += ps.Bytes
	if err != nil {
		return fmt.Errorf("the batch is committed in the cache %s but not published (the next run publishes it): %w", g.l.Root(), err)
	}
	g.st.objects += g.pend.objects
	g.st.events += g.pend.events
	g.st.rejected += g.pend.rejected
	g.st.bytesIn += g.pend.bytesIn
	for r, n := range g.pend.reasons {
		g.st.reasons[r] += n
	}
	g.pend = pending{}
	return nil
}

// pending counts the objects read to their end whose batch has not committed yet.
type pending struct {
	objects, events, rejected int
	bytesIn                   int64
	reasons                   map[string]int
}

// parsed is an object read ahead by a worker: its identity, then its events in order, in chunks,
// as they are parsed.
type parsed struct {
	name   string
	size   int64
	obj    lake.Object
	skip   bool  // already in the lake
	failed error // the object could not be fetched: a dead letter, and nothing of it is ingested
	err    error // the run must stop
	// What the worker parses (set by the object's opener), and what to call once it has.
	src     io.Reader
	release func()
	// chunks carries the object's events and rejected records, in order, and is closed once the
	// object is parsed; what follows is set before it is closed.
	chunks chan parsedChunk
	ps     parse.Stats
	perr   error // the object could not be read to its end
}

// parsedChunk is a part of an object handed to the batch: events, and records rejected among them.
// Rejected records count against the read-ahead budget as events do: they hold their record's
// bytes, and an object of them (the wrong --type, a corrupt log) must not be held whole.
type parsedChunk struct {
	events  []*event.Event
	rejects []*parse.Reject
	free    []parse.Chunk // parser memory that only events of this chunk and those before use
}

// Parsed events go from the workers to the batch in chunks of chunkEvents, and at most
// readAheadEvents wait, across files: the events in flight are a few megabytes that the batch copies
// while they are still in the cache, not whole files (a file of 100,000 flow records is ~160 MB of
// events, all pointers for the collector to trace).
const (
	chunkEvents     = 1024
	readAheadEvents = 16 * chunkEvents
)

// readAhead counts the files being read ahead and the events waiting. A file is started when fewer
// than maxFiles are out and fewer than maxEvents events wait, or when nothing is out at all; the
// worker of a file ahead of the one the batch is taking waits while maxEvents events wait. The
// file being taken never waits for room, so a file bigger than the budget still goes through.
type readAhead struct {
	mu                  sync.Mutex
	cond                *sync.Cond
	files, events       int
	maxFiles, maxEvents int
	current             int // the file the batch is taking
}

func newReadAhead(maxFiles, maxEvents int) *readAhead {
	a := &readAhead{maxFiles: maxFiles, maxEvents: maxEvents}
	a.cond = sync.NewCond(&a.mu)
	return a
}

// wait waits until ok holds (under the lock); false when ctx ended.
func (a *readAhead) wait(ctx context.Context, ok func() bool) bool {
	stop := context.AfterFunc(ctx, func() {
		a.mu.Lock()
		a.cond.Broadcast()
		a.mu.Unlock()
	})
	defer stop()
	a.mu.Lock()
	defer a.mu.Unlock()
	for !ok() {
		if ctx.Err() != nil {
			return false
		}
		a.cond.Wait()
	}
	return ctx.Err() == nil
}

// start waits for room for one more file; false when ctx ended.
func (a *readAhead) start(ctx context.Context) bool {
	ok := a.wait(ctx, func() bool { return a.files == 0 || (a.files < a.maxFiles && a.events < a.maxEvents) })
	if ok {
		a.mu.Lock()
		a.files++
		a.mu.Unlock()
	}
	return ok
}

// room waits until the i-th file may hand over n more events, and counts them as waiting.
func (a *readAhead) room(ctx context.Context, i, n int) bool {
	ok := a.wait(ctx, func() bool { return i == a.current || a.events < a.maxEvents })
	if ok {
		a.mu.Lock()
		a.events += n
		a.mu.Unlock()
	}
	return ok
}

// took releases n events the batch has taken.
func (a *readAhead) took(n int) {
	a.mu.Lock()
	a.events -= n
	a.cond.Broadcast()
	a.mu.Unlock()
}

// done releases a file the batch has taken; next is the file it takes next.
func (a *readAhead) done(next int) {
	a.mu.Lock()
	a.files--
	a.current = next
	a.cond.Broadcast()
	a.mu.Unlock()
}

// files ingests local files: each is hashed (its identity in the manifest) and parsed on a worker.
func (g *ingester) files(ctx context.Context, objs []object) error {
	return g.ordered(ctx, len(objs), func(ctx context.Context, i int) *parsed {
		o := objs[i]
		r := &parsed{name: o.name, size: o.size}
		if r.err = ctx.Err(); r.err != nil {
			return r
		}
		if r.obj, r.err = describe(o.name); r.err != nil {
			return r
		}
		if _, ok := g.l.Ingested(r.obj); ok && !g.opt.force {
			r.skip = true
			return r
		}
		f, err := os.Open(o.name)
		if err != nil {
			r.err = err
			return r
		}
		r.src, r.release = f, func() { f.Close() }
		return r
	})
}

// ordered ingests n objects in order. Workers (one per core) open and parse the objects ahead, in
// parallel (open(i) says what the i-th object is and what to parse); the events go into the batch
// in the objects' order, and a batch is committed only between objects, so an object's events are
// always committed together.
func (g *ingester) ordered(ctx context.Context, n int, open func(ctx context.Context, i int) *parsed) error {
	if n == 0 {
		return nil
	}
	workers := runtime.GOMAXPROCS(0)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]chan *parsed, n)
	for i := range results {
		results[i] = make(chan *parsed, 1)
	}
	// At most 2*workers objects are out, and an object's worker waits while readAheadEvents events
	// of objects after the batch's wait: memory stays bounded whatever the objects' sizes. Objects
	// are handed out in order, by one dispatcher, so the one the consumer waits for is always started.
	ahead := newReadAhead(2*workers, readAheadEvents)
	next := make(chan int)
	go func() {
		defer close(next)
		for i := range n {
			if !ahead.start(ctx) {
				return
			}
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r := open(ctx, i)
				if r.src == nil {
					results[i] <- r
					continue
				}
				g.parseAhead(ctx, i, r, ahead, results[i])
			}
		}()
	}
	defer func() { cancel(); wg.Wait() }() // on an early return too: stop the dispatcher, then the workers
	for i := range n {
		var r *parsed
		select {
		case r = <-results[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
		err := g.take(ctx, r, ahead)
		ahead.done(i + 1)
		if err != nil {
			return err
		}
	}
	return nil
}

// parseAhead parses an object on a worker, handing its events over in chunks as they come.
func (g *ingester) parseAhead(ctx context.Context, i int, r *parsed, ahead *readAhead, out chan<- *parsed) {
	defer r.release()
	r.chunks = make(chan parsedChunk, readAheadEvents/chunkEvents+1)
	out <- r
	defer close(r.chunks)
	var chunk []*event.Event
	var rejects []*parse.Reject
	var free []parse.Chunk
	var cut error // a chunk could not be handed over: the rest of the object is dropped
	send := func() error {
		n := len(chunk) + len(rejects)
		if !ahead.room(ctx, i, n) {
			cut = ctx.Err()
			return cut
		}
		select {
		case r.chunks <- parsedChunk{chunk, rejects, free}:
		case <-ctx.Done():
			ahead.took(n)
			cut = ctx.Err()
			return cut
		}
		chunk, rejects, free = nil, nil, nil
		return nil
	}
	// A chunk of memory the parser is done with holds events emitted so far: those of the chunk
	// being filled and of the ones before it, which the batch (and detection) take first.
	opt := parse.Options{Type: g.opt.typ, Memory: g.mem, Retired: func(c parse.Chunk) { free = append(free, c) }}
	r.ps, r.perr = parse.Object(ctx, r.name, r.src, opt,
		func(e *event.Event) error {
			if cut != nil {
				return cut
			}
			if chunk == nil {
				chunk = make([]*event.Event, 0, chunkEvents)
			}
			if chunk = append(chunk, e); len(chunk)+len(rejects) >= chunkEvents {
				return send()
			}
			return nil
		},
		func(rj *parse.Reject) {
			// The parser goes on after a reject whatever this returns; it stops at its next event
			// (or its next look at ctx, which is what cuts a chunk).
			if cut != nil {
				return
			}
			if rejects = append(rejects, rj); len(chunk)+len(rejects) >= chunkEvents {
				send()
			}
		})
	if cut != nil && r.perr == nil {
		r.perr = cut
	}
	if cut == nil && len(chunk)+len(rejects)+len(free) > 0 {
		// The parser reads to the end of an object without looking at ctx again: a chunk not handed
		// over is a cut object, never one read to its end (take returns ctx's error for it).
		if err := send(); err != nil && r.perr == nil {
			r.perr = err
		}
	}
}

// take puts a file read ahead into the batch, as its chunks arrive.
func (g *ingester) take(ctx context.Context, r *parsed, ahead *readAhead) error {
	switch {
	case r.err != nil:
		return r.err
	case r.skip:
		g.st.skipped++
		g.bar.Add(r.size, 1, 0)
		return nil
	case r.failed != nil:
		// The object could not be read (gone, denied, cut): a dead letter, and not marked
		// ingested, so that the next run tries it again. Nothing of it went into the batch.
		if err := g.rejectObject(r.name, r.failed); err != nil {
			return err
		}
		g.st.failed++
		g.st.rejected++
		g.st.reasons["object"]++
		g.bar.Add(r.size, 1, 0)
		return nil
	}
	dup := g.seenInRun(r.obj)
	for {
		var c parsedChunk
		var ok bool
		select {
		case c, ok = <-r.chunks:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !ok {
			break
		}
		var err error
		if !dup {
			err = g.addChunk(c)
		}
		ahead.took(len(c.events) + len(c.rejects)) // the batch has copied them (and detection holds its own reference)
		if err != nil {
			return err
		}
		if dup || g.det == nil {
			g.mem.Put(c.free) // the batch copied what it keeps of these events and the ones before
		}
	}
	if dup {
		// The same content twice in one run (a path given twice, a copy of a file): the manifest
		// only knows committed objects, so the run itself remembers.
		g.st.skipped++
		g.bar.Add(r.size, 1, 0)
		return nil
	}
	ps := r.ps
	if r.perr != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := g.objectFailed(ctx, r.name, r.perr, &ps); err != nil {
			return err
		}
	}
	return g.ended(ctx, r.obj, ps)
}

// addChunk adds a chunk of an object's events and rejected records to the batch, the events to
// detection too.
func (g *ingester) addChunk(c parsedChunk) error {
	for _, e := range c.events {
		if err := g.a.Add(e); err != nil {
			return fmt.Errorf("writing to the lake: %w", err)
		}
	}
	if len(c.events) > 0 {
		g.objType = c.events[0].Type // an object's events are of one type
	}
	if g.det != nil {
		g.det.add(c)
	}
	for _, rj := range c.rejects {
		if err := g.a.Reject(rj); err != nil {
			return fmt.Errorf("writing to the lake: %w", err)
		}
		g.show(rj)
	}
	return nil
}

// page ingests one page of listed S3 objects. Objects already in the lake (same key, size and ETag)
// are skipped without a download. The others are downloaded to the spool directory a few at a time,
// ahead of the workers, which parse them as they arrive; the batch takes them in key order.
func (g *ingester) page(ctx context.Context, page []s3.Object) error {
	var todo []s3.Object
	for _, o := range page {
		if _, ok := g.l.Ingested(s3Object(o)); ok && !g.opt.force {
			g.st.skipped++
			g.bar.Add(o.Size, 1, 0)
			continue
		}
		todo = append(todo, o)
	}
	if len(todo) == 0 {
		return nil
	}
	ft := startFetch(ctx, g.opt.s3, g.opt.spool, todo, g.opt.downloads)
	defer ft.close()
	return g.ordered(ctx, len(todo), func(ctx context.Context, i int) *parsed {
		o := todo[i]
		r := &parsed{name: o.Name(), size: o.Size, obj: s3Object(o)}
		f := ft.get(ctx, i)
		if f.err != nil {
			ft.release(f)
			switch {
			case ctx.Err() != nil:
				r.err = ctx.Err()
			case f.local:
				r.err = f.err
			default:
				r.failed = f.err
			}
			return r
		}
		r.src, r.release = f.f, func() { ft.release(f) }
		return r
	})
}

// s3Object is the manifest identity of an S3 object: its s3:// name, size and ETag.
func s3Object(o s3.Object) lake.Object { return lake.Object{Key: o.Name(), Size: o.Size, ETag: o.ETag} }

// objectFailed records that an object could not be read to its end: a dead letter, counted as a
// rejected record of reason "object" in its stats. A cancelled run is not a failed object.
func (g *ingester) objectFailed(ctx context.Context, name string, perr error, ps *parse.Stats) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := g.rejectObject(name, perr); err != nil {
		return err
	}
	ps.Rejected++
	if ps.Reasons == nil {
		ps.Reasons = map[string]int{}
	}
	ps.Reasons["object"]++
	return nil
}

// rejectObject keeps a whole object's failure as a dead letter with reason "object".
func (g *ingester) rejectObject(name string, err error) error {
	msg := err.Error()
	var se *s3.Error
	if errors.As(err, &se) {
		msg = se.Op + ": " + se.Err.Error() // the dead letter names the object already
	}
	r := &parse.Reject{Object: name, Type: g.opt.typ, Reason: "object", Error: msg}
	if err := g.a.Reject(r); err != nil {
		return fmt.Errorf("writing to the lake: %w", err)
	}
	g.show(r)
	return nil
}

func (g *ingester) show(r *parse.Reject) {
	if g.shown < maxShownRejects && g.opt.log != nil {
		fmt.Fprintf(g.opt.log, "rejected: %s\n", r)
	}
	g.shown++
}

// seenInRun reports whether an identical object was already taken in this run.
func (g *ingester) seenInRun(o lake.Object) bool { return !g.opt.force && g.inRun[o.Identity()] }

// ended counts an object read to its end: it becomes ingested with its batch.
func (g *ingester) ended(ctx context.Context, obj lake.Object, ps parse.Stats) error {
	g.inRun[obj.Identity()] = true
	obj.Events, obj.Reject = ps.Events, ps.Rejected
	obj.Type, g.objType = g.objType, "" // the manifest says where the object's events are
	g.a.EndObject(obj)
	// Counted as ingested only when its batch commits: a run that fails must not report more than
	// the lake acknowledges.
	g.pend.objects++
	g.pend.events += ps.Events
	g.pend.rejected += ps.Rejected
	g.pend.bytesIn += obj.Size
	if g.pend.reasons == nil {
		g.pend.reasons = map[string]int{}
	}
	for r, n := range ps.Reasons {
		g.pend.reasons[r] += n
	}
	g.bar.Add(obj.Size, 1, int64(ps.Events))
	if g.a.Full() {
		return g.commit(ctx)
	}
	return nil
}

// fetcher downloads the objects of a page into spool files, up to n at a time, while the parser takes
// them in order. S3 answers a GET after tens of milliseconds and log files are many and small, so
// reading one after another would mostly wait. Spooling to disk (not memory) also means an object
// whose download fails adds nothing to the batch, so it can simply be tried again by the next run.
type fetcher struct {
	cancel context.CancelFunc
	res    []chan fetched // one per object, filled exactly once
	slots  chan struct{}  // one per object downloaded and not yet released
	mu     sync.Mutex
	taken  []bool
}

type fetched struct {
	f     *os.File
	err   error
	local bool // the error is the local disk's, not the object's: it stops the run
	slot  bool // the download held a slot
}

func startFetch(ctx context.Context, c *s3.Client, dir string, objs []s3.Object, n int) *fetcher {
	ctx, cancel := context.WithCancel(ctx)
	ft := &fetcher{cancel: cancel, res: make([]chan fetched, len(objs)), slots: make(chan struct{}, n), taken: make([]bool, len(objs))}
	for i := range ft.res {
		ft.res[i] = make(chan fetched, 1)
	}
	go func() {
		for i, o := range objs {
			select {
			case ft.slots <- struct{}{}:
				go func() {
					r := download(ctx, c, dir, o)
					r.slot = true
					ft.res[i] <- r
				}()
			case <-ctx.Done():
				for j := i; j < len(objs); j++ {
					ft.res[j] <- fetched{err: ctx.Err()}
				}
				return
			}
		}
	}()
	return ft
}

// get waits for the i-th object (each is taken once); release it when done with it. When ctx ends
// first, the object is left to close.
func (ft *fetcher) get(ctx context.Context, i int) fetched {
	select {
	case r := <-ft.res[i]:
		ft.mu.Lock()
		ft.taken[i] = true
		ft.mu.Unlock()
		return r
	case <-ctx.Done():
		return fetched{err: ctx.Err()}
	}
}

func (ft *fetcher) release(r fetched) {
	if r.f != nil {
		r.f.Close()
		os.Remove(r.f.Name())
	}
	if r.slot {
		<-ft.slots
	}
}

// close stops the downloads not yet taken and removes their files. Nothing may take objects any more.
func (ft *fetcher) close() {
	ft.cancel()
	for i := range ft.res {
		if !ft.taken[i] {
			ft.release(<-ft.res[i])
		}
	}
}

// download copies an object into a new spool file, positioned at its start.
func download(ctx context.Context, c *s3.Client, dir string, o s3.Object) fetched {
	rc, err := c.Open(ctx, o)
	if err != nil {
		return fetched{err: err}
	}
	defer rc.Close()
	f, err := os.CreateTemp(dir, "object-*")
	if err != nil {
		return fetched{err: fmt.Errorf("spooling %s: %w", o.Name(), err), local: true}
	}
	w := &spoolWriter{f: f}
	n, err := io.Copy(w, rc)
	if err == nil && n != o.Size {
		err = fmt.Errorf("read %d bytes of an object listed with %d", n, o.Size)
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		if w.err != nil {
			return fetched{err: fmt.Errorf("spooling %s: %w", o.Name(), w.err), local: true}
		}
		return fetched{err: err}
	}
	return fetched{f: f}
}

// spoolWriter remembers a write error, to tell the local disk's failures from the object's.
type spoolWriter struct {
	f   *os.File
	err error
}

func (w *spoolWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		w.err = err
	}
	return n, err
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
	if s.alerts > 0 {
		out += fmt.Sprintf(", %d alerts", s.alerts)
	}
	out += fmt.Sprintf("; %s read, %s stored", progress.Bytes(s.bytesIn), progress.Bytes(s.bytesStored))
	if s.store != "" {
		out += fmt.Sprintf(", %s uploaded to %s", progress.Bytes(s.uploaded), s.store)
	}
	out += fmt.Sprintf(", %.2fs", s.elapsed.Seconds())
	if s.failed > 0 {
		out += fmt.Sprintf("; %d objects could not be read and are not marked ingested: run again to retry them", s.failed)
	}
	if s.uncommitted > 0 {
		out += fmt.Sprintf("; %d objects were read but their batch did not commit: they are not marked ingested, and the next run takes them again", s.uncommitted)
	}
	return out
}
