// Package gen generates realistic AWS logs of a whole organization, with attacks woven in, as the
// AWSLogs/ tree of gzip objects AWS itself delivers: CloudTrail (an organization trail), VPC flow
// logs, ALB access logs, WAF logs, CloudFront standard logs, Route 53 Resolver query logs, GuardDuty
// findings exports and S3 server access logs. `ramen demo` ingests it; it is also a test and
// benchmark corpus whose every attack is known (see Truth and docs/demo.md).
//
// Output is a function of the Config alone: the same seed gives the same bytes, whatever the number
// of workers. Each object (one stream of one account and region over one delivery window) draws from
// its own random source seeded by the seed and the object's place, so objects can be written in any
// order, in parallel.
package gen

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"

	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Config chooses what to generate.
type Config struct {
	Seed     int64
	Accounts int       // at least 4: log-archive, security, prod, dev; more add prod-N and dev-N
	Days     int       // at least 1
	Rate     string    // low, normal or high: how busy the organization is
	Start    time.Time // midnight UTC of the first day; zero means DefaultStart
	Workers  int       // 0: one per CPU
	// Progress, when set, is called after each object with its compressed size and its events.
	Progress func(bytes int64, events int)
}

// DefaultStart is the first day of generated data when Config.Start is zero: a Monday.
var DefaultStart = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// Version changes whenever the same Config would generate different bytes, so that a tree written by
// an older generator is not reused as if it were current.
const Version = 2

func (c *Config) normalize() error {
	if c.Accounts == 0 {
		c.Accounts = 4
	}
	if c.Accounts < 4 {
		return fmt.Errorf("--accounts %d: the organization needs at least 4 (log archive, security, prod, dev)", c.Accounts)
	}
	if c.Accounts > 200 {
		return fmt.Errorf("--accounts %d: at most 200", c.Accounts)
	}
	if c.Days == 0 {
		c.Days = 3
	}
	if c.Days < 1 || c.Days > 366 {
		return fmt.Errorf("--days %d: between 1 and 366", c.Days)
	}
	if c.Rate == "" {
		c.Rate = "normal"
	}
	if _, ok := rates[c.Rate]; !ok {
		return fmt.Errorf("--rate %q: use low, normal or high", c.Rate)
	}
	if c.Start.IsZero() {
		c.Start = DefaultStart
	}
	c.Start = c.Start.UTC().Truncate(24 * time.Hour)
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	return nil
}

// rates scale every benign stream's volume.
var rates = map[string]float64{"low": 0.25, "normal": 1, "high": 2}

// Result is what Generate wrote.
type Result struct {
	Dir     string
	Objects int
	Bytes   int64          // compressed, as written
	Events  map[string]int // per log type
	Truth   *Truth
}

// rec is one log record of an object: its time, its bytes (no line terminator) and, for the records
// of an attack, the scenario it belongs to.
type rec struct {
	t    time.Time
	b    []byte
	scen string
}

// stream is one source of objects: one log type of one account (and region, VPC or load balancer).
type stream struct {
	id     string
	typ    string // ramen log type
	acct   *Account
	region string
	every  time.Duration // delivery window
	v      *vpc
	lb     *alb
	// benign writes the ordinary records of one window.
	benign func(g *gen, s *stream, r *rand.Rand, from time.Time, out []rec) []rec
	// key names the object of a window (path under the tree, slash-separated).
	key func(g *gen, s *stream, r *rand.Rand, from time.Time) string
	// frame wraps the records into the object's bytes and returns each record's offset.
	frame func(s *stream, recs []rec, buf *bytes.Buffer) []int64
	// silentFrom, when set, is when the source stops delivering (a scenario).
	silentFrom time.Time
}

type gen struct {
	cfg     Config
	org     *Org
	rate    float64
	end     time.Time
	streams []*stream
	attacks map[string]map[int][]rec // stream id -> window -> records
	truth   *Truth
	dirs    sync.Map // directories made
}

type job struct {
	s   *stream
	win int
}

// Generate writes the tree under dir (created if needed; existing files of the same names are
// replaced) and its ground truth beside it (TruthPath).
func Generate(ctx context.Context, dir string, cfg Config) (*Result, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	g := &gen{cfg: cfg, org: newOrg(cfg), rate: rates[cfg.Rate], attacks: map[string]map[int][]rec{}}
	g.end = cfg.Start.Add(time.Duration(cfg.Days) * 24 * time.Hour)
	g.truth = &Truth{Version: Version, Seed: cfg.Seed, Start: cfg.Start, Days: cfg.Days, Accounts: cfg.Accounts, Rate: cfg.Rate, Org: g.org}
	g.addStreams()
	g.addScenarios()

	var jobs []job
	for _, s := range g.streams {
		n := int(g.end.Sub(cfg.Start) / s.every)
		for w := 0; w < n; w++ {
			if !s.silentFrom.IsZero() && !g.start(s, w).Before(s.silentFrom) {
				break
			}
			jobs = append(jobs, job{s, w})
		}
	}
	res := &Result{Dir: dir, Events: map[string]int{}, Truth: g.truth}
	type out struct {
		events int
		bytes  int64
		path   string
		truth  []TruthEvent
		err    error
	}
	outs := make([]out, len(jobs))
	var next atomic.Int64
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for w := 0; w < cfg.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var raw, gz bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
			var recs []rec
			for {
				i := int(next.Add(1) - 1)
				if i >= len(jobs) || ctx.Err() != nil {
					return
				}
				o := &outs[i]
				o.path, o.events, o.bytes, o.truth, o.err = g.write(dir, jobs[i], &raw, &gz, zw, recs[:0])
				if o.err != nil {
					cancel()
					return
				}
				if cfg.Progress != nil {
					cfg.Progress(o.bytes, o.events)
				}
			}
		}()
	}
	wg.Wait()
	for i, o := range outs {
		if o.err != nil {
			return res, o.err
		}
		if o.path == "" {
			continue
		}
		res.Objects++
		res.Bytes += o.bytes
		res.Events[jobs[i].s.typ] += o.events
		for _, te := range o.truth {
			g.truth.add(te)
		}
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	g.truth.finish()
	b, err := json.MarshalIndent(g.truth, "", "  ")
	if err != nil {
		return res, err
	}
	if err := os.WriteFile(TruthPath(dir), append(b, '\n'), 0o644); err != nil {
		return res, err
	}
	return res, nil
}

func (g *gen) start(s *stream, win int) time.Time {
	return g.cfg.Start.Add(time.Duration(win) * s.every)
}

// rng returns the random source of one object: a function of the seed, the stream and the window.
func (g *gen) rng(id string, win int) *rand.Rand {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%d", id, win)
	return rand.New(rand.NewPCG(uint64(g.cfg.Seed), h.Sum64()))
}

// write generates and writes one object; an empty window writes nothing.
func (g *gen) write(dir string, j job, raw, gz *bytes.Buffer, zw *gzip.Writer, recs []rec) (string, int, int64, []TruthEvent, error) {
	s := j.s
	from := g.start(s, j.win)
	r := g.rng(s.id, j.win)
	recs = s.benign(g, s, r, from, recs)
	recs = append(recs, g.attacks[s.id][j.win]...)
	if len(recs) == 0 {
		return "", 0, 0, nil, nil
	}
	sort.SliceStable(recs, func(a, b int) bool { return recs[a].t.Before(recs[b].t) })
	key := s.key(g, s, r, from)
	raw.Reset()
	offs := s.frame(s, recs, raw)
	var truth []TruthEvent
	for i, rc := range recs {
		if rc.scen != "" {
			truth = append(truth, TruthEvent{Scenario: rc.scen, Type: s.typ, Object: key, Offset: offs[i], Time: rc.t})
		}
	}
	var data []byte
	if s.typ == "s3access" { // S3 writes server access logs uncompressed
		data = raw.Bytes()
	} else {
		gz.Reset()
		zw.Reset(gz)
		if _, err := zw.Write(raw.Bytes()); err != nil {
			return "", 0, 0, nil, err
		}
		if err := zw.Close(); err != nil {
			return "", 0, 0, nil, err
		}
		data = gz.Bytes()
	}
	p := filepath.Join(dir, filepath.FromSlash(key))
	if _, ok := g.dirs.Load(filepath.Dir(p)); !ok {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", 0, 0, nil, err
		}
		g.dirs.Store(filepath.Dir(p), true)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		return "", 0, 0, nil, err
	}
	return key, len(recs), int64(len(data)), truth, nil
}

// inject adds an attack record to a stream at time t.
func (g *gen) inject(s *stream, t time.Time, b []byte, scen string) {
	if s == nil || t.Before(g.cfg.Start) || !t.Before(g.end) {
		return
	}
	w := int(t.Sub(g.cfg.Start) / s.every)
	m := g.attacks[s.id]
	if m == nil {
		m = map[int][]rec{}
		g.attacks[s.id] = m
	}
	m[w] = append(m[w], rec{t: t, b: b, scen: scen})
}

func (g *gen) stream(typ string, a *Account, region string) *stream {
	for _, s := range g.streams {
		if s.typ == typ && s.acct == a && (region == "" || s.region == region) {
			return s
		}
	}
	return nil
}

// lines frames records one per line after an optional header.
func lines(header string) func(*stream, []rec, *bytes.Buffer) []int64 {
	return func(s *stream, recs []rec, buf *bytes.Buffer) []int64 {
		buf.WriteString(header)
		offs := make([]int64, len(recs))
		for i, rc := range recs {
			offs[i] = int64(buf.Len())
			buf.Write(rc.b)
			buf.WriteByte('\n')
		}
		return offs
	}
}

// diurnal is the share of peak activity at local hour h (0-23) on weekday wd: low at night, a
// morning ramp, a lunch dip and an evening tail; weekends at half.
func diurnal(h int, wd time.Weekday) float64 {
	curve := [24]float64{.25, .2, .18, .17, .18, .22, .3, .45, .7, .9, 1, 1, .85, .95, 1, .97, .9, .8, .7, .6, .5, .42, .35, .3}
	f := curve[h]
	if wd == time.Saturday || wd == time.Sunday {
		f *= .5
	}
	return f
}

// poisson draws from a Poisson distribution of mean m (normal approximation for large means).
func poisson(r *rand.Rand, m float64) int {
	if m <= 0 {
		return 0
	}
	if m > 30 {
		n := int(m + r.NormFloat64()*sqrt(m) + .5)
		return max(n, 0)
	}
	l, k, p := exp(-m), 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// at returns a random time within [from, from+d), to the millisecond.
func at(r *rand.Rand, from time.Time, d time.Duration) time.Time {
	return from.Add(time.Duration(r.Int64N(int64(d/time.Millisecond))) * time.Millisecond)
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }
