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
	chunks [][]byte // each at its full length
	cur    []byte   // the last chunk
	used   int      // what is used of it
	bytes  int64    // capacity of every chunk
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
	if a.used+len(s) > len(a.cur) {
		// Chunks grow with the column, so that a column of few values wastes little.
		size := min(maxChunk, max(minChunk, int(a.bytes)))
		size = max(size, len(s))
		a.cur, a.used = make([]byte, size), 0
		a.chunks = append(a.chunks, a.cur)
		a.bytes += int64(size)
	}
	off := a.used
	a.used += copy(a.cur[off:], s)
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

// blocks is an append-only sequence of values held in blocks of blockLen: growing never copies
// what it holds (a slice would, again and again, and would hold up to twice what it needs), and
// the memory it takes is what it holds. The first block grows like a slice, so that the many small
// columns of a batch stay small.
type blocks[T any] struct {
	b [][]T
	n int
}

const (
	blockBits = 12
	blockLen  = 1 << blockBits
)

func (s *blocks[T]) append(v T) {
	if s.n&(blockLen-1) == 0 && s.n > 0 {
		s.b = append(s.b, make([]T, 0, blockLen))
	} else if len(s.b) == 0 {
		s.b = append(s.b, nil)
	}
	last := &s.b[len(s.b)-1]
	*last = append(*last, v)
	s.n++
}

func (s *blocks[T]) at(i int) T { return s.b[i>>blockBits][i&(blockLen-1)] }

func (s *blocks[T]) len() int { return s.n }

// capacity is the number of values the blocks have room for.
func (s *blocks[T]) capacity() int {
	if len(s.b) == 0 {
		return 0
	}
	return (len(s.b)-1)*blockLen + cap(s.b[len(s.b)-1])
}

// column is the values of one column of one type in a batch, in the order their rows were added:
// rows[i] is the row of the i-th value (unless dense), and rows without a value are null. Numbers (integers,
// float bits, booleans, times in unix nanoseconds) are in nums, text in text (or codes, or nothing
// for a column of one value), a list's elements in text with ends[i] the end of the i-th list's
// elements.
type column struct {
	path   string
	kind   event.Kind // the kind of the values (KindString once the column is mixed)
	mixed  bool       // values of more than one kind arrived: every value is kept as its text
	micros bool       // times are in unix microseconds (every time column since far times), not nanoseconds
	ref    bool       // values of this column can stand for pieces of the original record (original.go)
	// tok is the reference to the column in a template, for values of form tokForm (token).
	tok     string
	tokForm event.Form
	unique  bool // values never repeat (the records' templates, their ids): not compared with others
	// one: every value so far is the text at oneSpan (a list: the list of that one text), and text
	// and ends are not kept. Many columns of a batch hold one value (a provider, an account, a
	// log's version or dataset): they then cost nothing per row to hold, and their chunks are
	// written without looking at their rows (pageEncoder.encodeOne).
	one     bool
	oneSpan span
	oneID   int32 // the id of oneSpan
	// coded: the column's text values (a list's elements) are held as codes, a byte each, the ids
	// of their spans: a column of a few distinct values (an action, a protocol, a network
	// interface, a log file) costs a byte per row, not a span, its values are read back from a
	// few kB (span), and the page encoder finds their dictionary indices by code
	// (pageEncoder.codedDict). addText gives ids to the spans it returns, in the order it first
	// returns them, up to maxCodes of them; a value whose span got none ends the codes (uncode).
	coded bool
	codes blocks[uint8]
	ids   []span // the span of each id
	curID int32  // the id of the span addText returned last (maxCodes: none)
	// byText finds the id of a text that is not among the recent ones, while ids are given: a
	// value that comes back after long gets its span again, not a second copy and id.
	byText map[string]int32
	// alias: the column's values are, so far, those of another column in the same rows, which it
	// does not hold again: parsers set some fields to the very value of the field before them
	// (source.ip and source.address, network.bytes and source.bytes, cloud.account.id and
	// aws.vpcflow.account_id). It keeps its rows (addRow), kind and micros; aliases lists the
	// columns aliased to this one. See addAlias.
	alias   *column
	aliases []*column
	varied  bool // text values seldom repeat but one after another: recent ones are not looked up
	rows    blocks[int32]
	nums    blocks[int64]
	text    blocks[span]
	ends    blocks[int32] // lists: end of each list's elements in text
	ar      arena         // the column's text: values of a column are together, and read in order
	// The last text value added (addText), where it is in the arena, and the id of that span;
	// emptyID is one more than the id of the empty text's span (0: none yet).
	lastText string
	lastSpan span
	lastID   int32
	emptyID  int32
	// Recent distinct values (addText), while they are found often enough to be worth looking up.
	recent *recentText
	// At commit (arrange): the written positions of the rows with a value, and their values.
	pos, idx []int32
	n        int  // values
	dense    bool // the i-th value is row i's, so far: rows is not kept (most columns of most types)
}

// token returns the reference to the column in a template, for a value of form f.
func (c *column) token(f event.Form) string {
	if c.tok == "" || c.tokForm != f {
		c.tok, c.tokForm = refToken(c.path, f), f
	}
	return c.tok
}

// addRow records that the next value is row's.
func (c *column) addRow(row int32) {
	switch {
	case c.n == 0 && row == 0:
		c.dense = true
	case c.dense && int(row) != c.n:
		// The first row without a value: from now on the rows are kept.
		for i := range c.n {
			c.rows.append(int32(i))
		}
		c.dense = false
	}
	if !c.dense {
		c.rows.append(row)
	}
	c.n++
}

// full reports whether every row of the batch (rows) has a value in the column.
func (c *column) full(rows int) bool { return c.dense && c.n == rows }

// row returns the row of the i-th value.
func (c *column) row(i int) int32 {
	if c.dense {
		return int32(i)
	}
	return c.rows.at(i)
}

// memory is what the column holds.
func (c *column) memory() int64 {
	return c.ar.bytes + int64(c.rows.capacity())*4 + int64(c.nums.capacity())*8 + int64(c.text.capacity())*12 +
		int64(c.ends.capacity())*4 + int64(cap(c.pos)+cap(c.idx))*4 + int64(c.codes.capacity()) + int64(cap(c.ids))*12
}

// add appends the value of a row. A key given twice in one event keeps its first value, the one
// event.Get finds.
func (c *column) add(row int32, v event.Value) {
	k := v.Kind()
	if k == event.KindNull {
		return
	}
	if c.alias != nil {
		c.unalias()
	}
	if c.n > 0 && c.row(c.n-1) == row {
		return
	}
	if c.n == 0 && !c.mixed {
		c.kind = k
	}
	if k != c.kind && !c.mixed {
		c.toText()
	}
	c.addRow(row)
	if c.mixed {
		c.addSpan(c.addText(v.Text()))
		return
	}
	switch k {
	case event.KindString, event.KindJSON:
		c.addSpan(c.addText(v.Str()))
	case event.KindStrings:
		l := v.List()
		if len(l) == 1 {
			sp := c.addText(l[0]) // ["network"] again and again shares one copy
			if c.keepsOne(sp) {
				return
			}
		} else if c.one {
			c.spread()
		} else if c.n == 1 {
			c.coded = !c.unique // the first list, of more elements or none
		}
		for _, s := range l {
			c.storeSpan(c.addText(s))
		}
		c.ends.append(int32(c.elems()))
	case event.KindFloat:
		c.nums.append(int64(math.Float64bits(v.Float())))
	case event.KindTime:
		// Microseconds, the lake's precision: nanoseconds would wrap around outside 1678-2262.
		c.micros = true
		c.nums.append(v.Time().UnixMicro())
	default: // int, bool
		c.nums.append(v.Int())
	}
}

// addSpan appends the span of a text value (not a list) that addRow has counted, which addText
// has just returned.
func (c *column) addSpan(sp span) {
	if !c.keepsOne(sp) {
		c.storeSpan(sp)
	}
}

// storeSpan appends the span of a text value (a list's element), which addText has just returned,
// to a column that does not hold one value: its code, or the span itself.
func (c *column) storeSpan(sp span) {
	if c.coded {
		if c.curID < maxCodes {
			c.codes.append(uint8(c.curID))
			return
		}
		c.uncode()
	}
	c.text.append(sp)
}

// uncode ends a column's codes: its values so far get their spans.
func (c *column) uncode() {
	for _, b := range c.codes.b {
		for _, code := range b {
			c.text.append(c.ids[code])
		}
	}
	c.coded, c.codes = false, blocks[uint8]{}
}

// elems is the number of text values (a list's elements) the column holds, but for one value.
func (c *column) elems() int {
	if c.coded {
		return c.codes.len()
	}
	return c.text.len()
}

// maxCodes is the most ids a column gives its spans: codes are bytes.
const maxCodes = 256

// newID gives a span returned by addText for the first time its id, or maxCodes when there are no
// more.
func (c *column) newID(sp span) int32 {
	if len(c.ids) >= maxCodes {
		return maxCodes
	}
	c.ids = append(c.ids, sp)
	return int32(len(c.ids) - 1)
}

// keepsOne reports whether the value that addRow has just counted, the text at sp (or a list of
// that one text), leaves the column with one value: it is the column's first, or the one again.
// Otherwise the column's values so far are spread into codes or text (and ends), and the caller
// adds it.
func (c *column) keepsOne(sp span) bool {
	switch {
	case c.one && sp == c.oneSpan:
		return true
	case c.n == 1 && c.text.len() == 0 && c.nums.len() == 0:
		c.one, c.oneSpan, c.oneID = true, sp, c.curID
		return true
	case c.one:
		c.spread()
	}
	return false
}

// spread ends a column's one value: the values before the one addRow has just counted get their
// codes, or their spans (and a list its end).
func (c *column) spread() {
	list := c.kind == event.KindStrings && !c.mixed
	c.coded = !c.unique && c.oneID < maxCodes
	for i := range c.n - 1 {
		if c.coded {
			c.codes.append(uint8(c.oneID))
		} else {
			c.text.append(c.oneSpan)
		}
		if list {
			c.ends.append(int32(i + 1))
		}
	}
	c.one = false
}

// span returns the span of the j-th text value (of a list's elements, the j-th element).
func (c *column) span(j int) span {
	if c.one {
		return c.oneSpan
	}
	if c.coded {
		return c.ids[c.codes.at(j)]
	}
	return c.text.at(j)
}

// addAlias adds the value of a row that the column to has just added, the very same value (the
// same text in memory, the same number): the column's first value makes it an alias of to, if to
// holds its own values, of one kind; later ones are counted, while the column is to's alias and to
// got no value since the column's last one, or added as values of its own, which ends the alias.
// While it lasts, the column's rows are to's rows (equal counts) or some of them, and its values
// theirs: unalias makes them the column's own, and at commit an alias of equal count is written
// from to's values (pageEncoder.write), its chunks a copy of to's when their leaves are alike.
func (c *column) addAlias(row int32, to *column, v event.Value) {
	switch {
	case c.alias == nil && (c.n > 0 || to.alias != nil || to.mixed || to.n != 1 || to == c):
		c.add(row, v)
		return
	case c.alias != nil && (c.alias != to || to.n != c.n+1):
		c.add(row, v) // which ends the alias
		return
	case c.alias == nil:
		c.alias, c.kind, c.micros = to, to.kind, to.micros
		to.aliases = append(to.aliases, c)
	}
	if c.n > 0 && c.row(c.n-1) == row {
		return // a key given twice in one event keeps its first value
	}
	c.addRow(row)
}

// unalias makes an alias's values its own: for each of its rows, the value of that row in the
// column it is the alias of (whose rows include them).
func (c *column) unalias() {
	to := c.alias
	c.alias = nil
	to.aliases = slices.DeleteFunc(to.aliases, func(a *column) bool { return a == c })
	n, dense, rows := c.n, c.dense, c.rows
	c.n, c.dense, c.rows = 0, false, blocks[int32]{}
	j := 0
	for i := range n {
		r := int32(i)
		if !dense {
			r = rows.at(i)
		}
		for to.row(j) != r {
			j++
		}
		c.add(r, to.value(j))
	}
}

// unaliasAll ends the aliases of a column, whose values are about to change.
func (c *column) unaliasAll() {
	for len(c.aliases) > 0 {
		c.aliases[len(c.aliases)-1].unalias()
	}
}

// addMicros appends a time given in unix microseconds: @timestamp, which can be outside the years
// that nanoseconds reach (1678-2262) when a record says so.
func (c *column) addMicros(row int32, us int64) {
	c.kind, c.micros = event.KindTime, true
	c.addRow(row)
	c.nums.append(us)
}

// addText copies a text value into the column's arena, unless it is the same as the value before
// it (a column of one account, one region, one file name) or as a recent one (an action or an
// outcome of two values in any order, the elements of a list such as ["connection", "allowed"]):
// then the copy is shared, as it is with one of the first maxCodes copies (byText). Shared copies
// are less to hold, and to the page encoder a value at the same span as another is that value
// again, which it indexes without hashing it (addSpan). It sets curID to the span's id.
func (c *column) addText(s string) span {
	if c.unique {
		return c.ar.add(s)
	}
	if len(s) == 0 {
		if c.emptyID == 0 {
			c.emptyID = c.newID(span{}) + 1
		}
		c.curID = c.emptyID - 1
		return span{}
	}
	if len(s) == len(c.lastText) && s == c.lastText {
		c.curID = c.lastID
		return c.lastSpan
	}
	r := c.recent
	if r == nil && !c.varied {
		r = new(recentText)
		c.recent = r
	}
	var slot *recentSlot
	if r != nil {
		slot = &r.slots[textHash(s)]
		if len(slot.text) == len(s) && slot.text == s {
			r.hits++
			c.lastText, c.lastSpan, c.lastID, c.curID = slot.text, slot.sp, slot.id, slot.id
			return slot.sp
		}
		if id, ok := c.byText[s]; ok {
			r.hits++
			sp := c.ids[id]
			c.lastText, c.lastSpan, c.lastID, c.curID = bytesString(c.ar.get(sp)), sp, id, id
			slot.text, slot.sp, slot.id = c.lastText, sp, id
			return sp
		}
		if r.misses++; r.misses == recentTrial && r.hits < recentTrial/4 {
			// Values that seldom come back (addresses, ids): looking them up costs more than
			// it saves. The column stops, for this batch.
			c.recent, c.varied, c.byText, slot = nil, true, nil, nil
		}
	}
	sp := c.ar.add(s)
	id := c.newID(sp)
	c.lastText, c.lastSpan, c.lastID, c.curID = bytesString(c.ar.get(sp)), sp, id, id
	if slot != nil {
		slot.text, slot.sp, slot.id = c.lastText, sp, id
	}
	switch {
	case id == maxCodes:
		c.byText = nil
	case c.recent != nil:
		if c.byText == nil {
			c.byText = map[string]int32{}
		}
		c.byText[c.lastText] = id
	}
	return sp
}

// recentText holds recent distinct text values of a column, by a hash of their last bytes: a value
// replaces the one of its slot.
type recentText struct {
	slots        [recentSlots]recentSlot
	hits, misses int
}

type recentSlot struct {
	text string // the copy in the arena
	sp   span
	id   int32
}

const (
	recentBits  = 6
	recentSlots = 1 << recentBits
	// recentTrial is how many misses a column's recent values are given: they are dropped if they
	// were hit less than a quarter as often.
	recentTrial = 1024
)

// textHash is a hash of a text's length and last eight bytes (all of a short one), in
// [0, recentSlots): the part of ids, addresses and names that varies most, read in one load.
func textHash(s string) uint32 {
	n := len(s)
	var w uint64
	if n >= 8 {
		t := s[n-8:]
		w = uint64(t[0]) | uint64(t[1])<<8 | uint64(t[2])<<16 | uint64(t[3])<<24 |
			uint64(t[4])<<32 | uint64(t[5])<<40 | uint64(t[6])<<48 | uint64(t[7])<<56
	} else {
		for i := 0; i < n; i++ {
			w = w<<8 | uint64(s[i])
		}
	}
	return uint32(((w ^ uint64(n)) * 0x9e3779b97f4a7c15) >> (64 - recentBits))
}

// value returns the i-th value as an event.Value (its text still in the arena). The column must
// not be an alias.
func (c *column) value(i int) event.Value {
	ar := &c.ar
	if c.mixed {
		return event.String(bytesString(ar.get(c.span(i))))
	}
	switch c.kind {
	case event.KindString:
		return event.String(bytesString(ar.get(c.span(i))))
	case event.KindJSON:
		return event.JSON(bytesString(ar.get(c.span(i))))
	case event.KindStrings:
		start, end := c.list(i)
		l := make([]string, 0, end-start)
		for j := start; j < end; j++ {
			l = append(l, bytesString(ar.get(c.span(j))))
		}
		return event.Strings(l...)
	case event.KindFloat:
		return event.Float(math.Float64frombits(uint64(c.nums.at(i))))
	case event.KindTime:
		if c.micros {
			return event.Time(time.UnixMicro(c.nums.at(i)))
		}
		return event.Time(time.Unix(0, c.nums.at(i)))
	case event.KindBool:
		return event.Bool(c.nums.at(i) != 0)
	}
	return event.Int(c.nums.at(i))
}

// toText turns the column into text when a value of a second kind arrives: a column of mixed kinds
// is stored as text, every value as event.Value.Text renders it.
func (c *column) toText() {
	if c.alias != nil {
		c.unalias()
	}
	c.unaliasAll()
	var text blocks[span]
	for i := range c.n {
		text.append(c.ar.add(c.value(i).Text()))
	}
	c.mixed, c.kind, c.one, c.coded = true, event.KindString, false, false
	c.text, c.nums, c.ends, c.codes = text, blocks[int64]{}, blocks[int32]{}, blocks[uint8]{}
}

// list returns where the i-th list's elements are in text.
func (c *column) list(i int) (start, end int) {
	if c.one {
		return i, i + 1
	}
	if i > 0 {
		start = int(c.ends.at(i - 1))
	}
	return start, int(c.ends.at(i))
}

// isText reports whether the column is written as text (or a list of text).
func (c *column) isText() bool {
	return c.mixed || c.kind == event.KindString || c.kind == event.KindJSON || c.kind == event.KindStrings
}

// repeats samples the column's values (those of one row in step) and reports whether they repeat:
// fewer distinct values than half the values sampled, which makes a dictionary worth it.
func (c *column) repeats(step int) bool {
	if c.alias != nil {
		return c.alias.repeats(step) // the same rows (commit ends aliases of fewer) and values
	}
	ar := &c.ar
	distinct := map[string]struct{}{}
	sampled := 0
	// The values of rows 0, step, 2*step...: in a dense column, the value of row i is the i-th.
	inc := 1
	if c.dense {
		inc = step
	}
	for i := 0; i < c.n; i += inc {
		if !c.dense && int(c.row(i))%step != 0 {
			continue
		}
		sampled++
		var key string
		if c.kind == event.KindStrings && !c.mixed {
			key = c.value(i).Text()
		} else {
			key = bytesString(ar.get(c.span(i)))
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
// each one's value; a column that every row has needs neither (full reports it). tmp (one int32 per row) is reused when big enough and returned.
func (c *column) arrange(inv []int32, tmp []int32) []int32 {
	if c.dense && c.n == len(inv) {
		// Every row has a value, the i-th row's: the written order is the batch's permutation.
		return tmp
	}
	tmp = slices.Grow(tmp[:0], len(inv))[:len(inv)]
	for i := range tmp {
		tmp[i] = -1
	}
	if c.dense {
		for i := range c.n {
			tmp[inv[i]] = int32(i)
		}
	} else {
		i := 0
		for _, b := range c.rows.b {
			for _, r := range b {
				tmp[inv[r]] = int32(i)
				i++
			}
		}
	}
	c.pos, c.idx = make([]int32, 0, c.n), make([]int32, 0, c.n)
	for p, i := range tmp {
		if i >= 0 {
			c.pos = append(c.pos, int32(p))
			c.idx = append(c.idx, i)
		}
	}
	c.rows, c.dense = blocks[int32]{}, false
	return tmp
}
