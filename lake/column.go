package lake

import (
	"math"
	"slices"
	"time"
	"unsafe"

	"github.com/ramen-siem/ramen/event"
)

// A batch is held as columns, not as events: Add copies each field's value into the column it is
// written under, so the event (with the record it was parsed from) can be dropped at once, and the
// memory a batch holds is what its columns really take. Commit then writes the columns as they
// are, with no rows assembled in between.

// arena holds the text of a column in a batch: the bytes of every text value, in chunks that are never moved
// or grown (so a value stays where it was copied, and a big batch is not copied again and again
// as one slice would be). Chunks hold no pointers, so the collector never scans them.
type arena struct {
	chunks [][]byte
	cur    []byte // the chunk being filled: len is what is used
	bytes  int64  // capacity of every chunk
}

const (
	minChunk = 4 << 10
	maxChunk = 1 << 20
)

// span is where a value's bytes are in the arena.
type span struct {
	chunk, off, len uint32
}

func (a *arena) add(s string) span {
	if len(s) == 0 {
		return span{}
	}
	if len(a.cur)+len(s) > cap(a.cur) {
		// Chunks grow with the column, so that a column of few values wastes little.
		size := min(maxChunk, max(minChunk, int(a.bytes)))
		size = max(size, len(s))
		a.cur = make([]byte, 0, size)
		a.chunks = append(a.chunks, a.cur)
		a.bytes += int64(size)
	}
	off := len(a.cur)
	a.cur = append(a.cur, s...)
	a.chunks[len(a.chunks)-1] = a.cur
	return span{uint32(len(a.chunks) - 1), uint32(off), uint32(len(s))}
}

// emptyText is where empty values point: a value with no data pointer would read as null.
var emptyText = [1]byte{}

// bytes returns a value's bytes; they must not be modified.
func (a *arena) get(s span) []byte {
	if s.len == 0 {
		return emptyText[:0]
	}
	return a.chunks[s.chunk][s.off : s.off+s.len : s.off+s.len]
}

// column is the values of one column of one type in a batch, in the order their rows were added:
// rows[i] is the row of the i-th value, and rows without a value are null. Numbers (integers,
// float bits, booleans, times in unix nanoseconds) are in nums, text in text, a list's elements in
// text with ends[i] the end of the i-th list's elements.
type column struct {
	path   string
	kind   event.Kind // the kind of the values (KindString once the column is mixed)
	mixed  bool       // values of more than one kind arrived: every value is kept as its text
	micros bool       // times are in unix microseconds (@timestamp), not nanoseconds
	rows   []int32
	nums   []int64
	text   []span
	ends   []int32 // lists: end of each list's elements in text
	ar     arena   // the column's text: values of a column are together, and read in order
	// At commit (arrange): the written positions of the rows with a value, and their values.
	pos, idx []int32
}

// colSize is how many values a column had, for the next batch's.
type colSize struct{ rows, nums, text, ends int }

func newColumn(path string, sz colSize) *column {
	return &column{path: path, rows: make([]int32, 0, sz.rows), nums: make([]int64, 0, sz.nums),
		text: make([]span, 0, sz.text), ends: make([]int32, 0, sz.ends)}
}

func (c *column) sizes() colSize {
	return colSize{rows: max(len(c.rows), len(c.pos)), nums: len(c.nums), text: len(c.text), ends: len(c.ends)}
}

// memory is what the column holds.
func (c *column) memory() int64 {
	return c.ar.bytes + int64(cap(c.rows))*4 + int64(cap(c.nums))*8 + int64(cap(c.text))*12 + int64(cap(c.ends))*4 + int64(cap(c.pos)+cap(c.idx))*4
}

// add appends the value of a row. A key given twice in one event keeps its first value, the one
// event.Get finds.
func (c *column) add(row int32, v event.Value) {
	ar := &c.ar
	k := v.Kind()
	if k == event.KindNull {
		return
	}
	if n := len(c.rows); n > 0 && c.rows[n-1] == row {
		return
	}
	if len(c.rows) == 0 && !c.mixed {
		c.kind = k
	}
	if k != c.kind && !c.mixed {
		c.toText()
	}
	c.rows = append(c.rows, row)
	if c.mixed {
		c.text = append(c.text, c.addText(v.Text()))
		return
	}
	switch k {
	case event.KindString, event.KindJSON:
		c.text = append(c.text, c.addText(v.Str()))
	case event.KindStrings:
		for _, s := range v.List() {
			c.text = append(c.text, ar.add(s))
		}
		c.ends = append(c.ends, int32(len(c.text)))
	case event.KindFloat:
		c.nums = append(c.nums, int64(math.Float64bits(v.Float())))
	case event.KindTime:
		if c.micros {
			c.nums = append(c.nums, v.Time().UnixMicro())
		} else {
			c.nums = append(c.nums, v.Time().UnixNano())
		}
	default: // int, bool
		c.nums = append(c.nums, v.Int())
	}
}

// addMicros appends a time given in unix microseconds: @timestamp, which can be outside the years
// that nanoseconds reach (1678-2262) when a record says so.
func (c *column) addMicros(row int32, us int64) {
	c.kind, c.micros = event.KindTime, true
	c.rows = append(c.rows, row)
	c.nums = append(c.nums, us)
}

// addText copies a text value into the column's arena, unless it is the same as the value before
// it (a column of one account, one region, one file name): then the copy is shared.
func (c *column) addText(s string) span {
	if n := len(c.text); n > 0 {
		if last := c.text[n-1]; int(last.len) == len(s) && bytesString(c.ar.get(last)) == s {
			return last
		}
	}
	return c.ar.add(s)
}

// value returns the i-th value as an event.Value (its text still in the arena).
func (c *column) value(i int) event.Value {
	ar := &c.ar
	if c.mixed {
		return event.String(bytesString(ar.get(c.text[i])))
	}
	switch c.kind {
	case event.KindString:
		return event.String(bytesString(ar.get(c.text[i])))
	case event.KindJSON:
		return event.JSON(bytesString(ar.get(c.text[i])))
	case event.KindStrings:
		start := int32(0)
		if i > 0 {
			start = c.ends[i-1]
		}
		l := make([]string, 0, c.ends[i]-start)
		for _, s := range c.text[start:c.ends[i]] {
			l = append(l, bytesString(ar.get(s)))
		}
		return event.Strings(l...)
	case event.KindFloat:
		return event.Float(math.Float64frombits(uint64(c.nums[i])))
	case event.KindTime:
		if c.micros {
			return event.Time(time.UnixMicro(c.nums[i]))
		}
		return event.Time(time.Unix(0, c.nums[i]))
	case event.KindBool:
		return event.Bool(c.nums[i] != 0)
	}
	return event.Int(c.nums[i])
}

// toText turns the column into text when a value of a second kind arrives: a column of mixed kinds
// is stored as text, every value as event.Value.Text renders it.
func (c *column) toText() {
	ar := &c.ar
	text := make([]span, len(c.rows), cap(c.rows))
	for i := range c.rows {
		text[i] = ar.add(c.value(i).Text())
	}
	c.mixed, c.kind = true, event.KindString
	c.text, c.nums, c.ends = text, nil, nil
}

// isText reports whether the column is written as text (or a list of text).
func (c *column) isText() bool {
	return c.mixed || c.kind == event.KindString || c.kind == event.KindJSON || c.kind == event.KindStrings
}

// repeats samples the column's values (those of one row in step) and reports whether they repeat:
// fewer distinct values than half the values sampled, which makes a dictionary worth it.
func (c *column) repeats(step int) bool {
	ar := &c.ar
	distinct := map[string]struct{}{}
	sampled := 0
	for i, r := range c.rows {
		if int(r)%step != 0 {
			continue
		}
		sampled++
		var key string
		if c.kind == event.KindStrings && !c.mixed {
			key = c.value(i).Text()
		} else {
			key = bytesString(ar.get(c.text[i]))
		}
		distinct[key] = struct{}{}
		if len(distinct) > samples/2 {
			return false
		}
	}
	return len(distinct) > 0 && len(distinct) < max(2, sampled/2)
}

// samples is how many rows repeats looks at.
const samples = 1024

func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// arrange puts the column in the written order: inv[row] is a row's position in the file(s), and
// afterwards pos holds the positions of the rows that have a value, ascending, and idx the index of
// each one's value. tmp (one int32 per row) is reused when big enough and returned.
func (c *column) arrange(inv []int32, tmp []int32) []int32 {
	tmp = slices.Grow(tmp[:0], len(inv))[:len(inv)]
	for i := range tmp {
		tmp[i] = -1
	}
	for i, r := range c.rows {
		tmp[inv[r]] = int32(i)
	}
	c.pos, c.idx = make([]int32, 0, len(c.rows)), make([]int32, 0, len(c.rows))
	for p, i := range tmp {
		if i >= 0 {
			c.pos = append(c.pos, int32(p))
			c.idx = append(c.idx, i)
		}
	}
	c.rows = nil
	return tmp
}
