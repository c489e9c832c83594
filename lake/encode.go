package lake

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/ramen-siem/ramen/event"
)

// ingestLevel is the zstd level of the files ingest writes: the fastest, since compaction rewrites
// partitions at level 9 later (see docs/performance.md for what each level costs in time and size).
var ingestLevel = zstd.SpeedFastest

// A type's rows are written column by column. First every column is put in the written order (by
// time, through a permutation of the rows); then each file (an hour partition) is written with its
// columns encoded and compressed by GOMAXPROCS workers at once, the largest columns first so that
// the cores end together, straight from the batch's columns. A file is finished (its row groups
// assembled, its footer written, fsynced) by another goroutine while the next one is encoded, and
// only one file is being encoded at a time, so the encoders' memory is one file's.

// filePart is one file of a type in a batch: an hour partition and its rows [start, end) in the
// written order.
type filePart struct {
	rel        string
	start, end int
	path       string
	f          *os.File
	bw         *bufio.Writer
	pw         *parquet.Writer
	groups     []*parquet.ConcurrentRowGroupWriter
}

// writeType writes the type's rows of the batch into staging, one file per hour partition, rows
// sorted by time, fsyncs the files and returns their paths relative to staging.
func (a *Appender) writeType(ctx context.Context, staging, typ string) (files []string, err error) {
	tb := a.types[typ]
	n := int(tb.rows)
	// Columns whose schema became text (a kind seen only as null elsewhere) are made text too, and
	// text columns whose values repeat get a dictionary.
	step := max(1, n/samples)
	dict := map[string]bool{}
	for _, c := range tb.cols {
		if node := tb.schema.leaf(c.path); node != nil && node.mixed && !c.mixed {
			c.toText()
		}
		if c.isText() {
			dict[c.path] = c.repeats(step)
		}
	}
	ps := buildSchema(tb.schema, dict)
	if leaves := ps.schema.Columns(); len(leaves) != len(tb.cols) {
		// Every leaf of the schema must get its rows, or the file would be invalid.
		return nil, fmt.Errorf("internal error: %d columns for %d leaves", len(tb.cols), len(leaves))
	}

	// The written order: by time, ties in the order added. inv[row] is a row's written position.
	ts := make([]int64, 0, n)
	for _, b := range tb.ts.b {
		ts = append(ts, b...)
	}
	perm := make([]int32, n)
	for i := range perm {
		perm[i] = int32(i)
	}
	if !slices.IsSorted(ts) {
		slices.SortFunc(perm, func(x, y int32) int {
			if c := cmp.Compare(ts[x], ts[y]); c != 0 {
				return c
			}
			return cmp.Compare(x, y)
		})
	}
	ts = nil
	// Partitions by the hour of @timestamp (microseconds, the column as written).
	const hourMicros = int64(time.Hour / time.Microsecond)
	us := tb.byPath["@timestamp"] // every row has one: value i is row i's
	var parts []*filePart
	for start := 0; start < n; {
		hour := floorDiv(us.nums.at(int(perm[start])), hourMicros)
		end := start + 1
		for end < n && floorDiv(us.nums.at(int(perm[end])), hourMicros) == hour {
			end++
		}
		t := time.UnixMicro(hour * hourMicros).UTC()
		rel := filepath.Join("type="+typ, "date="+t.Format("2006-01-02"), "hour="+t.Format("15"), a.batch+"_0.parquet")
		parts = append(parts, &filePart{rel: rel, start: start, end: end, path: filepath.Join(staging, rel)})
		start = end
	}
	inv := make([]int32, n)
	for pos, r := range perm {
		inv[r] = int32(pos)
	}
	jobs := slices.Clone(tb.cols)
	size := map[*column]int64{}
	for _, c := range jobs {
		size[c] = c.size()
	}
	slices.SortFunc(jobs, func(x, y *column) int { return cmp.Compare(size[y], size[x]) })
	if err := parallel(ctx, jobs, func() func(c *column) error {
		var tmp []int32
		return func(c *column) error { tmp = c.arrange(inv, tmp); return nil }
	}); err != nil {
		return nil, err
	}
	inv = nil
	defer func() {
		for _, p := range parts {
			if p.f != nil {
				p.f.Close()
			}
		}
	}()
	finished := make(chan *filePart, 1)
	ferr := make(chan error, 1)
	go func() {
		var err error
		for p := range finished {
			if err == nil {
				err = p.finish()
			}
		}
		ferr <- err
	}()
	for _, p := range parts {
		if err = p.create(ps); err == nil {
			err = parallel(ctx, jobs, func() func(c *column) error {
				var enc columnEncoder
				return func(c *column) error { return enc.write(c, ps, p, perm) }
			})
		}
		if err != nil {
			break
		}
		finished <- p
	}
	close(finished)
	if ferr := <-ferr; err == nil {
		err = ferr
	}
	if err != nil {
		return nil, err
	}
	for _, p := range parts {
		files = append(files, p.rel)
	}
	return files, nil
}

// parallel runs a job for every column on GOMAXPROCS workers, each with its own state (made by
// worker), and returns the first error.
func parallel(ctx context.Context, cols []*column, worker func() func(*column) error) error {
	next := make(chan *column)
	errs := make(chan error, len(cols))
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(cols)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			do := worker()
			for c := range next {
				if err := ctx.Err(); err != nil {
					errs <- err
					continue
				}
				if err := do(c); err != nil {
					errs <- fmt.Errorf("column %s: %w", c.path, err)
				}
			}
		}()
	}
	for _, c := range cols {
		next <- c
	}
	close(next)
	wg.Wait()
	close(errs)
	return <-errs
}

// create creates the file and its row groups.
func (p *filePart) create(ps *pqSchema) (err error) {
	if err := os.MkdirAll(filepath.Dir(p.path), 0o755); err != nil {
		return err
	}
	if p.f, err = os.Create(p.path); err != nil {
		return err
	}
	p.bw = bufio.NewWriterSize(p.f, 1<<20)
	p.pw = parquet.NewWriter(p.bw, ps.schema,
		parquet.Compression(&zstd.Codec{Level: ingestLevel}),
		parquet.MaxRowsPerRowGroup(rowGroupRows),
		parquet.PageBufferSize(pageBytes),
		// The original record is a blob: its min and max would filter nothing and cost a comparison
		// of every record.
		parquet.SkipPageBounds("event", "original"),
		parquet.CreatedBy("ramen", "", ""))
	for s := p.start; s < p.end; s += rowGroupRows {
		p.groups = append(p.groups, p.pw.BeginRowGroup())
	}
	return nil
}

// finish commits a file's row groups, writes its footer and fsyncs it.
func (p *filePart) finish() error {
	for _, g := range p.groups {
		if _, err := g.Commit(); err != nil {
			return err
		}
	}
	err := p.pw.Close()
	if err == nil {
		err = p.bw.Flush()
	}
	if err == nil {
		err = p.f.Sync()
	}
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	p.f, p.bw, p.pw, p.groups = nil, nil, nil, nil
	return err
}

// size is what the column costs to write, roughly: its values and its text.
func (c *column) size() int64 {
	return int64(c.nums.len())*8 + int64(c.text.len())*4 + int64(c.n) + c.ar.bytes
}

// columnEncoder turns a column into Parquet values, a page's worth at a time. Its buffer is reused
// from column to column.
type columnEncoder struct {
	vals []parquet.Value
}

// chunkRows is how many rows are handed to parquet-go at a time: its column writer flushes a page
// once its buffer holds pageBytes, after a call, so calls must be smaller than a page.
const chunkRows = 2048

// write encodes and compresses the column's values of one file.
func (enc *columnEncoder) write(c *column, ps *pqSchema, p *filePart, perm []int32) error {
	leaf, ok := ps.cols[c.path]
	if !ok {
		return fmt.Errorf("internal error: no leaf column")
	}
	lc, ok := ps.schema.Lookup(ps.schema.Columns()[leaf]...)
	if !ok {
		return fmt.Errorf("internal error: no leaf %d", leaf)
	}
	maxDef := lc.MaxDefinitionLevel
	// The column's values from the file's first row on (positions are sorted).
	k, _ := slices.BinarySearch(c.pos, int32(p.start))
	for g, rg := range p.groups {
		cw := rg.ColumnWriters()[leaf]
		start := p.start + g*rowGroupRows
		end := min(p.end, start+rowGroupRows)
		for s := start; s < end; s += chunkRows {
			enc.vals, k = c.appendValues(enc.vals[:0], k, int32(s), int32(min(end, s+chunkRows)), leaf, maxDef, perm)
			if _, err := cw.WriteRowValues(enc.vals); err != nil {
				return err
			}
		}
		// Encode and compress what is left here, on this worker, not when the file is assembled.
		if err := cw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// appendValues appends the values of the rows at written positions [from, to) as Parquet values
// (times in microseconds, text by reference to the arena), starting at the k-th value in written
// order, and returns the values and the next k. For a column that every row has, the written
// position p is the value perm[p]. This is the writer's inner loop.
func (c *column) appendValues(vals []parquet.Value, k int, from, to int32, leaf, maxDef int, perm []int32) ([]parquet.Value, int) {
	null := parquet.Value{}.Level(0, 0, leaf)
	pos, idx := c.pos, c.idx
	full := c.full(len(perm))
	if full {
		idx, k = perm[from:to], 0
	}
	kind := c.kind
	if c.mixed {
		kind = event.KindString
	}
	if rawValues && kind != event.KindStrings {
		if full {
			return c.appendFull(vals, idx, kind, leaf, maxDef), 0
		}
		return c.appendSparse(vals, k, from, to, kind, leaf, maxDef)
	}
	for p := from; p < to; p++ {
		if !full && (k >= len(pos) || pos[k] != p) {
			vals = append(vals, null)
			continue
		}
		i := int(idx[k])
		k++
		var v parquet.Value
		switch kind {
		case event.KindInt:
			v = parquet.Int64Value(c.nums.at(i))
		case event.KindFloat:
			v = parquet.DoubleValue(math.Float64frombits(uint64(c.nums.at(i))))
		case event.KindBool:
			v = parquet.BooleanValue(c.nums.at(i) != 0)
		case event.KindTime:
			us := c.nums.at(i)
			if !c.micros {
				us = floorDiv(us, 1000)
			}
			v = parquet.Int64Value(us)
		case event.KindStrings:
			vals = c.appendList(vals, i, leaf, maxDef)
			continue
		default:
			v = parquet.ByteArrayValue(c.ar.get(c.text.at(i)))
		}
		vals = append(vals, v.Level(0, maxDef, leaf))
	}
	return vals, k
}

// Values are built by writing parquet.Value's fields directly: through its API, each value costs a
// call (Level is not inlined) and copies, about half of building the values. rawValue is its layout in
// parquet-go v0.32.0, checked against values parquet-go builds when the program starts (rawValues);
// if a version changes it, values are built through the API as before.

// rawValue is the layout of parquet.Value.
type rawValue struct {
	ptr  *byte
	u64  uint64
	kind int8 // ^Kind: zero is null
	def  byte
	rep  byte
	col  uint16 // ^column index
}

// rawValues reports whether rawValue is parquet.Value's layout.
var rawValues = func() bool {
	if unsafe.Sizeof(parquet.Value{}) != unsafe.Sizeof(rawValue{}) || unsafe.Alignof(parquet.Value{}) != unsafe.Alignof(rawValue{}) {
		return false
	}
	b := []byte("abc")
	for _, t := range []struct {
		v parquet.Value
		r rawValue
	}{
		{parquet.ByteArrayValue(b).Level(1, 2, 3), rawValue{ptr: &b[0], u64: 3, kind: ^int8(parquet.ByteArray), def: 2, rep: 1, col: ^uint16(3)}},
		{parquet.Int64Value(-5).Level(0, 1, 7), rawValue{u64: 1<<64 - 5, kind: ^int8(parquet.Int64), def: 1, col: ^uint16(7)}},
		{parquet.DoubleValue(1.5).Level(0, 1, 258), rawValue{u64: math.Float64bits(1.5), kind: ^int8(parquet.Double), def: 1, col: ^uint16(258)}},
		{parquet.BooleanValue(true).Level(0, 3, 1), rawValue{u64: 1, kind: ^int8(parquet.Boolean), def: 3, col: ^uint16(1)}},
		{parquet.Value{}.Level(0, 0, 4), rawValue{col: ^uint16(4)}},
	} {
		if *(*rawValue)(unsafe.Pointer(&t.v)) != t.r {
			return false
		}
		// And read back through the API.
		v := *(*parquet.Value)(unsafe.Pointer(&t.r))
		if !parquet.Equal(v, t.v) || v.DefinitionLevel() != int(t.r.def) || v.RepetitionLevel() != int(t.r.rep) || v.Column() != int(^t.r.col) {
			return false
		}
	}
	return true
}()

// template returns a column's null value, and its other values' kind and levels (with no data).
func template(kind event.Kind, leaf, maxDef int) (null, tmpl rawValue) {
	var v parquet.Value
	switch kind {
	case event.KindInt, event.KindTime:
		v = parquet.Int64Value(0)
	case event.KindFloat:
		v = parquet.DoubleValue(0)
	case event.KindBool:
		v = parquet.BooleanValue(false)
	default:
		v = parquet.ByteArrayValue(emptyText[:0])
	}
	v = v.Level(0, maxDef, leaf)
	n := parquet.Value{}.Level(0, 0, leaf)
	return *(*rawValue)(unsafe.Pointer(&n)), *(*rawValue)(unsafe.Pointer(&v))
}

// growRaw returns n more values at the end of vals, as raw values to fill.
func growRaw(vals []parquet.Value, n int) ([]parquet.Value, []rawValue) {
	start := len(vals)
	vals = slices.Grow(vals, n)[:start+n]
	return vals, unsafe.Slice((*rawValue)(unsafe.Pointer(unsafe.SliceData(vals[start:]))), n)
}

// set fills a raw value with the i-th value of a column of a single kind.
func (c *column) set(r *rawValue, kind event.Kind, i int) {
	switch kind {
	case event.KindInt, event.KindFloat:
		r.u64 = uint64(c.nums.at(i))
	case event.KindTime:
		us := c.nums.at(i)
		if !c.micros {
			us = floorDiv(us, 1000)
		}
		r.u64 = uint64(us)
	case event.KindBool:
		if c.nums.at(i) != 0 {
			r.u64 = 1
		}
	default:
		b := c.ar.get(c.text.at(i))
		r.ptr, r.u64 = unsafe.SliceData(b), uint64(len(b))
	}
}

// appendFull appends the values idx of a column that every row has (not a list).
func (c *column) appendFull(vals []parquet.Value, idx []int32, kind event.Kind, leaf, maxDef int) []parquet.Value {
	if len(idx) == 0 {
		return vals
	}
	_, tmpl := template(kind, leaf, maxDef)
	vals, raw := growRaw(vals, len(idx))
	switch kind {
	case event.KindInt, event.KindFloat:
		for j, i := range idx {
			r := tmpl
			r.u64 = uint64(c.nums.at(int(i)))
			raw[j] = r
		}
	case event.KindString, event.KindJSON:
		for j, i := range idx {
			r := tmpl
			b := c.ar.get(c.text.at(int(i)))
			r.ptr, r.u64 = unsafe.SliceData(b), uint64(len(b))
			raw[j] = r
		}
	default:
		for j, i := range idx {
			r := tmpl
			c.set(&r, kind, int(i))
			raw[j] = r
		}
	}
	return vals
}

// appendSparse appends the values of the rows at written positions [from, to) of a column that
// not every row has (not a list), starting at its k-th value in written order, and returns the
// next k.
func (c *column) appendSparse(vals []parquet.Value, k int, from, to int32, kind event.Kind, leaf, maxDef int) ([]parquet.Value, int) {
	if to <= from {
		return vals, k
	}
	null, tmpl := template(kind, leaf, maxDef)
	vals, raw := growRaw(vals, int(to-from))
	pos, idx := c.pos, c.idx
	for p := from; p < to; p++ {
		r := null
		if k < len(pos) && pos[k] == p {
			r = tmpl
			c.set(&r, kind, int(idx[k]))
			k++
		}
		raw[p-from] = r
	}
	return vals, k
}

// appendList appends a list's values: an empty list is one value defined down to the list (an
// empty list, not a null), each element a value at the element's level, the first one starting
// the row.
func (c *column) appendList(vals []parquet.Value, i, leaf, maxDef int) []parquet.Value {
	start, end := c.list(i)
	if start == end {
		return append(vals, parquet.Value{}.Level(0, maxDef-1, leaf))
	}
	if rawValues {
		_, tmpl := template(event.KindString, leaf, maxDef)
		vals, raw := growRaw(vals, end-start)
		for j := range raw {
			r := tmpl
			if j > 0 {
				r.rep = 1
			}
			b := c.ar.get(c.text.at(start + j))
			r.ptr, r.u64 = unsafe.SliceData(b), uint64(len(b))
			raw[j] = r
		}
		return vals
	}
	for j := start; j < end; j++ {
		rep := 1
		if j == start {
			rep = 0
		}
		vals = append(vals, parquet.ByteArrayValue(c.ar.get(c.text.at(j))).Level(rep, maxDef, leaf))
	}
	return vals
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// leaf returns the schema's leaf at a column path, or nil.
func (s *schema) leaf(path string) *node {
	n := s.root
	for _, seg := range strings.Split(path, ".") {
		if n = n.children[seg]; n == nil {
			return nil
		}
	}
	if !n.leaf {
		return nil
	}
	return n
}
