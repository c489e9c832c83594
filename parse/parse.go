// Package parse turns log objects into events. Each log type is a Type registered by its own package
// (parse/cloudtrail, parse/vpcflow, ...) from init; parse/all imports them all. This package holds the
// registry, the detection of an object's type from its key and first bytes, and Object, the one driver
// that decompresses, detects, parses and counts.
package parse

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"

	"github.com/ramen-siem/ramen/decode"
	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/parse/internal/slab"
)

// Func parses one decompressed object. It calls in.Emit for each event and in.Reject for each record it
// cannot parse, and returns an error only when it cannot go on at all (a read error, or an Emit error,
// which must be returned as is).
type Func func(ctx context.Context, in *Input) error

// Type is one log type.
type Type struct {
	// Name is the type's short name, used by --type, in the lake's partitions and as the SQL view name.
	Name string
	// Title is a human name ("AWS CloudTrail").
	Title string
	// Dataset is event.dataset for its events ("aws.cloudtrail").
	Dataset string
	// Parse parses an object of this type.
	Parse Func
	// Services are the service segments of an AWSLogs/<account>/<service>/ key that hold this type.
	Services []string
	// MatchName reports whether an object's name (key or path) alone says it is of this type. Optional.
	MatchName func(name string) bool
	// Sniff reports whether the first bytes of a decompressed object look like this type. Optional.
	// Sniffers run in order of SniffOrder (lower first), so specific ones can go before broad ones.
	Sniff      func(head []byte) bool
	SniffOrder int
	// Aliases maps native field names of a text format ("srcaddr") to the ECS or aws.* field that
	// holds them ("source.address"), so that rules may use either. JSON types need none: their
	// native names resolve against the original record.
	Aliases map[string]string
}

var (
	mu    sync.RWMutex
	types = map[string]*Type{}
)

// Register adds a log type. It panics on a duplicate or incomplete registration: both are
// programming errors found by the first test run.
func Register(t *Type) {
	mu.Lock()
	defer mu.Unlock()
	if t.Name == "" || t.Parse == nil {
		panic("parse: Register of a type without a name or a parser")
	}
	if _, dup := types[t.Name]; dup {
		panic("parse: duplicate registration of type " + t.Name)
	}
	types[t.Name] = t
}

// Lookup returns the registered type of that name.
func Lookup(name string) (*Type, bool) {
	mu.RLock()
	defer mu.RUnlock()
	t, ok := types[name]
	return t, ok
}

// Types returns every registered type, sorted by name.
func Types() []*Type {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]*Type, 0, len(types))
	for _, t := range types {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Names returns the names of the registered types, sorted.
func Names() []string {
	var n []string
	for _, t := range Types() {
		n = append(n, t.Name)
	}
	return n
}

// Options control Object.
type Options struct {
	// Type forces the log type; empty means detect it.
	Type string
	// MaxRecord limits one record's size in bytes (decode.DefaultMaxRecord if zero).
	MaxRecord int
	// Memory, if set, is where parsers that build events in chunks (VPC flow, CloudTrail) take
	// that memory from, and Retired is called with each chunk a parser is done with: every event
	// built in it has been emitted. The consumer gives the chunk back (Memory.Put) once it holds
	// none of those events, nor anything of their fields, any more: for a consumer that copies
	// what it keeps.
	Memory  *Memory
	Retired func(Chunk)
}

// Memory is event memory that parsers reuse once their events' consumer is done with it (Options).
type Memory = slab.Pool

// Chunk is a part of Memory a parser is done with.
type Chunk = slab.Chunk

// NewMemory returns Memory that keeps up to n chunks of each kind (of some 16 to 32 kB) for reuse.
func NewMemory(n int) *Memory { return slab.NewPool(n) }

// Stats counts what Object did with one object.
type Stats struct {
	Records  int            // records read (events + rejected + records skipped on purpose)
	Events   int            // events emitted
	Rejected int            // records rejected
	Skipped  int            // records that are not events by design (e.g. a CloudTrail digest file)
	Reasons  map[string]int // rejected records by reason
	Bytes    int64          // decompressed bytes read
}

// Add adds o to s.
func (s *Stats) Add(o Stats) {
	s.Records += o.Records
	s.Events += o.Events
	s.Rejected += o.Rejected
	s.Skipped += o.Skipped
	s.Bytes += o.Bytes
	for r, n := range o.Reasons {
		if s.Reasons == nil {
			s.Reasons = map[string]int{}
		}
		s.Reasons[r] += n
	}
}

// Reject is a record that could not be parsed: where it was, why, and its bytes, so that nothing is
// lost (it goes to a dead-letter file or area) and the user can find and fix the cause.
type Reject struct {
	Object string `json:"object"`           // object name
	Type   string `json:"type,omitempty"`   // log type, when known
	Line   int    `json:"line,omitempty"`   // 1-based line number, for line-framed formats
	Record int    `json:"record,omitempty"` // 1-based record index, for JSON formats
	Offset int64  `json:"offset"`           // byte offset in the decompressed object
	Reason string `json:"reason"`           // short category: "json", "fields", "too_long", "read", ...
	Error  string `json:"error"`            // the full message
	Raw    string `json:"raw,omitempty"`    // the record's bytes (cut to MaxRejectRaw)
}

// MaxRejectRaw bounds the bytes of a rejected record that are kept with it: enough to see and replay
// any normal record, but a 100 MB line of junk is not copied whole.
const MaxRejectRaw = 256 << 10

// Where renders the position: "file.log:12" or "file.json: record 3 at byte offset 120".
func (r *Reject) Where() string {
	switch {
	case r.Line > 0:
		return fmt.Sprintf("%s:%d", r.Object, r.Line)
	case r.Record > 0:
		return fmt.Sprintf("%s: record %d at byte offset %d", r.Object, r.Record, r.Offset)
	}
	return fmt.Sprintf("%s: at byte offset %d", r.Object, r.Offset)
}

func (r *Reject) String() string { return r.Where() + ": " + r.Reason + ": " + r.Error }

// Input is what a parser reads, and where it sends what it makes.
type Input struct {
	// Name is the object's name (path or s3://bucket/key), used in errors, log.file.path and ids.
	Name string
	// Key is what the name says about the object (account, region...).
	Key KeyInfo
	// R is the decompressed stream.
	R io.Reader
	// MaxRecord is the record size limit.
	MaxRecord int

	typ    *Type
	seed   event.Seed // the object's part of every event id
	seeded bool
	emit   func(*event.Event) error
	reject func(*Reject)
	stats  *Stats
	slab   slab.Slab
}

// Slab is the memory of this object's events, for parsers that build them in chunks.
func (in *Input) Slab() *slab.Slab { return &in.slab }

// Emit finishes an event read from the given byte offset and sends it on. Finishing sets what every
// event has: _id, event.dataset, cloud.provider, log.file.path, log.offset, and cloud.account.id and
// cloud.region from the object's key when the record did not have them.
func (in *Input) Emit(e *event.Event, offset int64) error {
	e.Type = in.typ.Name
	if !in.seeded {
		in.seed, in.seeded = event.ObjectSeed(in.typ.Name, in.Name), true
	}
	e.ID = in.seed.ID(offset, e.Original)
	e.Add("event.dataset", event.String(in.typ.Dataset))
	e.Add("cloud.provider", event.String("aws"))
	if in.Key.Account != "" {
		if _, ok := e.Get("cloud.account.id"); !ok {
			e.Add("cloud.account.id", event.String(in.Key.Account))
		}
	}
	if in.Key.Region != "" {
		if _, ok := e.Get("cloud.region"); !ok {
			e.Add("cloud.region", event.String(in.Key.Region))
		}
	}
	e.Add("log.file.path", event.String(in.Name))
	e.Add("log.offset", event.Int(offset))
	in.stats.Records++
	in.stats.Events++
	return in.emit(e)
}

// Reject records a record that could not be parsed. line is 0 for formats that are not line-framed,
// record 0 for formats that are.
func (in *Input) Reject(line, record int, offset int64, reason string, err error, raw []byte) {
	if len(raw) > MaxRejectRaw {
		raw = raw[:MaxRejectRaw]
	}
	in.stats.Records++
	in.stats.Rejected++
	if in.stats.Reasons == nil {
		in.stats.Reasons = map[string]int{}
	}
	in.stats.Reasons[reason]++
	if in.reject != nil {
		in.reject(&Reject{Object: in.Name, Type: in.typ.Name, Line: line, Record: record, Offset: offset,
			Reason: reason, Error: err.Error(), Raw: string(raw)})
	}
}

// Skip counts a record that is deliberately not an event (a digest file, a header).
func (in *Input) Skip() {
	in.stats.Records++
	in.stats.Skipped++
}

// Type returns the log type being parsed.
func (in *Input) Type() *Type { return in.typ }

// Lines returns a line reader over the input with its record limit.
func (in *Input) Lines() *decode.Lines { return decode.NewLines(in.R, in.MaxRecord) }

// JSONRecords returns a JSON record splitter over the input with its record limit.
func (in *Input) JSONRecords(wrapperKeys ...string) *decode.JSONRecords {
	return decode.NewJSONRecords(in.R, in.MaxRecord, wrapperKeys...)
}

// SniffSize is how many decompressed bytes detection looks at.
const SniffSize = 8 << 10

// Object reads one object: it decompresses src, finds its log type (opt.Type, else from the name,
// else from its first bytes), parses it, and sends events to emit and rejected records to reject
// (which may be nil). The error is for what ends the object early: an unknown type, a read or
// decompression error (the events before it have been sent), or an error from emit. It does not
// repeat the object's name, which the caller has.
func Object(ctx context.Context, name string, src io.Reader, opt Options, emit func(*event.Event) error, reject func(*Reject)) (Stats, error) {
	var st Stats
	dr, err := decode.Open(src)
	if err != nil {
		return st, err
	}
	defer dr.Close()
	cr := &countReader{r: dr}
	br := bufio.NewReaderSize(cr, 64<<10)
	key := ParseKey(name)
	var t *Type
	if opt.Type != "" {
		var ok bool
		if t, ok = Lookup(opt.Type); !ok {
			return st, fmt.Errorf("unknown log type %q (known: %v)", opt.Type, Names())
		}
	} else {
		head, err := br.Peek(SniffSize)
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			if len(head) == 0 {
				return st, err
			}
		}
		t = Detect(name, key, head)
		if t == nil {
			if len(head) == 0 {
				return st, nil // an empty object holds no records
			}
			return st, fmt.Errorf("cannot tell the log type from the name or the first bytes; use --type (one of %v)", Names())
		}
	}
	max := opt.MaxRecord
	if max <= 0 {
		max = decode.DefaultMaxRecord
	}
	in := &Input{Name: name, Key: key, R: br, MaxRecord: max, typ: t, emit: emit, reject: reject, stats: &st}
	in.slab.Pool, in.slab.Retire = opt.Memory, opt.Retired
	err = t.Parse(ctx, in)
	in.slab.Done() // every event is emitted: the object's last chunks can go back too
	st.Bytes = cr.n
	return st, err
}

// Detect finds the log type of an object from its name, then from its first (decompressed) bytes.
func Detect(name string, key KeyInfo, head []byte) *Type {
	ts := Types()
	if key.Service != "" {
		for _, t := range ts {
			if slices.Contains(t.Services, key.Service) {
				return t
			}
		}
	}
	for _, t := range ts {
		if t.MatchName != nil && t.MatchName(name) {
			return t
		}
	}
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].SniffOrder < ts[j].SniffOrder })
	for _, t := range ts {
		if t.Sniff != nil && t.Sniff(head) {
			return t
		}
	}
	return nil
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Record is one JSON record handed to a parser by EachJSON: its bytes, where it was, and the ways
// to emit or reject what it holds.
type Record struct {
	Raw    []byte // valid until the callback returns
	Num    int    // 1-based index in the object
	Offset int64  // byte offset in the decompressed object
	in     *Input
}

// Reject rejects the record with a reason category and the error.
func (r *Record) Reject(reason string, err error) {
	r.in.Reject(0, r.Num, r.Offset, reason, err, r.Raw)
}

// Emit sends an event made from the record.
func (r *Record) Emit(e *event.Event) error { return r.in.Emit(e, r.Offset) }

// EachJSON calls fn for every JSON record of the input (see decode.JSONRecords for the framings;
// wrapperKeys name wrapper objects' record arrays). Records that cannot be framed (cut off, too long,
// stray separators) are rejected here. An error from fn, or the context's, ends the object. The
// Record is reused for the next record: fn must not keep it.
func (in *Input) EachJSON(ctx context.Context, wrapperKeys []string, fn func(*Record) error) error {
	rs := in.JSONRecords(wrapperKeys...)
	rec := &Record{in: in} // one for the object: fn must not keep it
	for n := 0; ; n++ {
		ok, err := rs.Next()
		if !ok {
			return err
		}
		if err != nil {
			in.Reject(0, rs.Num(), rs.Offset(), ReasonOf(err, "json"), err, rs.Bytes())
			continue
		}
		rec.Raw, rec.Num, rec.Offset = rs.Bytes(), rs.Num(), rs.Offset()
		if err := fn(rec); err != nil {
			return err
		}
		if n&255 == 255 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
}
