package lake

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/bits"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/ramen-siem/ramen/event"
)

// Pages are encoded by ramen itself, straight from a batch's columns (column.go) into the bytes of
// Parquet pages: through parquet-go's writer every value was first built as a parquet.Value, then
// copied into its column buffers (the text a second time), then encoded, which was most of what
// ingest spent writing and a second copy of the batch in memory. The format is a common subset:
// data pages v1, levels and dictionary indices in the RLE / bit-packed hybrid, integers
// DELTA_BINARY_PACKED, text DELTA_LENGTH_BYTE_ARRAY or RLE_DICTIONARY, booleans PLAIN, zstd, min/max
// statistics per column chunk (a time filter skips row groups by them). DuckDB, Trino, Athena and
// parquet-java read all of it; Spark's vectorized reader reads the DELTA encodings since 3.3.
// parquet-go still describes the schema (buildSchema) and provides the thrift structures of the
// footer and page headers.

// leafInfo is what the page writer needs to know of a leaf column of the schema.
type leafInfo struct {
	path           []string // in the schema, below the root ("tags", "list", "element" for a list)
	phys           format.Type
	maxDef, maxRep int
	dict           bool // RLE_DICTIONARY when the values repeat
	stats          bool // min and max are worth keeping (not for the original record, nor lists)
}

// fileSchema is the flattened Parquet schema of a file, and its leaves in column order.
type fileSchema struct {
	elems  []format.SchemaElement
	leaves []leafInfo
	orders []format.ColumnOrder
}

// flatten walks the schema depth first, as the footer lists it, and collects its leaves in column
// order (parquet-go orders both by field name).
func flatten(ps *pqSchema) *fileSchema {
	fs := &fileSchema{}
	var walk func(name string, n parquet.Node, path []string, def, rep int, root bool)
	walk = func(name string, n parquet.Node, path []string, def, rep int, root bool) {
		el := format.SchemaElement{Name: name}
		if !root {
			switch {
			case n.Optional():
				el.RepetitionType = thrift.New(format.Optional)
				def++
			case n.Repeated():
				el.RepetitionType = thrift.New(format.Repeated)
				def++
				rep++
			default:
				el.RepetitionType = thrift.New(format.Required)
			}
		}
		t := n.Type()
		if lt := t.LogicalType(); lt != nil {
			el.LogicalType = *lt
		}
		if ct := t.ConvertedType(); ct != nil {
			el.ConvertedType = thrift.New(*ct)
		}
		if !n.Leaf() {
			el.NumChildren = thrift.New(int32(len(n.Fields())))
			fs.elems = append(fs.elems, el)
			for _, f := range n.Fields() {
				p := path
				if !root {
					p = append(path[:len(path):len(path)], name)
				}
				walk(f.Name(), f, p, def, rep, false)
			}
			return
		}
		if pt := t.PhysicalType(); pt != nil {
			el.Type = thrift.New(*pt)
		}
		fs.elems = append(fs.elems, el)
		full := append(path[:len(path):len(path)], name)
		enc := n.Encoding()
		isDict := enc != nil && enc.Encoding() == format.RLEDictionary
		dotted := strings.Join(full, ".")
		fs.leaves = append(fs.leaves, leafInfo{
			path: full, phys: *t.PhysicalType(), maxDef: def, maxRep: rep,
			dict: isDict,
			// A template or a random id: no range to skip by. A list's elements: the format's
			// statistics are of the leaf's values, which readers do not filter lists by, and
			// finishMeta never wrote them (comparing every element was work thrown away).
			stats: dotted != "_original" && dotted != "_id" && rep == 0,
		})
		fs.orders = append(fs.orders, *t.ColumnOrder())
	}
	walk(ps.schema.Name(), ps.schema, nil, 0, 0, true)
	return fs
}

// chunk is one column of one row group, encoded: its pages (the dictionary page first, if any),
// each a thrift header and its compressed body, and the column chunk's metadata, whose offsets are
// set when the file is assembled.
type chunk struct {
	data    []byte
	meta    format.ColumnMetaData
	dictLen int // bytes of the dictionary page at the start of data
}

// Limits of a page: its values' bytes before compression, and its values (a dictionary-encoded
// page's indices are few bytes per value). A dictionary is given up for a column chunk, which is
// then written PLAIN, once it holds maxDictBytes.
const (
	maxPageValues = 1 << 17
	maxDictBytes  = 1 << 20
	maxStatBytes  = 128 // longer text has no min and max: they would filter little and cost footer space
)

// pageEncoder encodes column chunks; its buffers are reused from chunk to chunk. One per worker.
type pageEncoder struct {
	zenc  *zstd.Encoder
	defs  []uint8
	reps  []uint8
	vals  []byte   // PLAIN values (doubles), or the bytes of text values, of the page
	ints  []int64  // integers and times of the page, or the lengths of its text values
	idx   []uint32 // dictionary indices (or booleans) of the page
	body  []byte
	comp  []byte
	dict  map[string]uint32
	dvals []byte // the dictionary, PLAIN
	ndict int
	// The dictionary indices of spans seen in the chunk (addSpan), by a hash of the span; an
	// entry is of the chunk if its gen is the chunk's.
	spanIDs [spanSlots]spanID
	gen     uint32
	thrift  thrift.CompactProtocol
	touched byte // a byte of texts read ahead (fullText): kept, so that the reads are made
}

func newPageEncoder(level zstd.EncoderLevel) (*pageEncoder, error) {
	// Entropy coding of blocks without a single match: pages of random hex ids (_id, request ids)
	// have none, yet their characters take 4 bits instead of 8 (zstd's faster levels skip this).
	z, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(1),
		zstd.WithZeroFrames(true), zstd.WithEncoderCRC(false), zstd.WithAllLitEntropyCompression(true))
	if err != nil {
		return nil, err
	}
	return &pageEncoder{zenc: z, dict: map[string]uint32{}}, nil
}

// chunkState is what encoding one chunk accumulates.
type chunkState struct {
	ch       *chunk
	leaf     *leafInfo
	values   int64 // level entries written (rows, and list elements beyond each list's first)
	nulls    int64
	useDict  bool
	encs     map[format.Encoding]bool
	minI     int64
	maxI     int64
	minF     float64
	maxF     float64
	minB     []byte
	maxB     []byte
	minP     uint64 // prefix8 of minB
	maxP     uint64 // prefix8 of maxB
	hasStat  bool
	noStat   bool
	pageVals int  // level entries in the current page
	defsRun  bool // every level entry is a value, of level maxDef: e.defs is not kept
	// The chunk's codec, decided by its first page: raw (not compressed) or compressed.
	raw, compressed bool
	// The last text value's span and dictionary index (addSpan).
	haveLast bool
	lastSpan span
	lastID   uint32
}

// encodeChunk encodes the rows at written positions [from, to) of a column (a row group), starting
// at its k-th value in written order, and returns the chunk and the next k. A dictionary that grows
// past maxDictBytes makes the chunk start again, PLAIN.
func (e *pageEncoder) encodeChunk(c *column, leaf *leafInfo, k int, from, to int32, perm []int32) (*chunk, int, error) {
	if leaf.dict {
		ch, next, ok, err := e.encodeRows(c, leaf, k, from, to, perm, true)
		if err != nil || ok {
			return ch, next, err
		}
	}
	ch, next, _, err := e.encodeRows(c, leaf, k, from, to, perm, false)
	return ch, next, err
}

func (e *pageEncoder) encodeRows(c *column, leaf *leafInfo, k int, from, to int32, perm []int32, useDict bool) (*chunk, int, bool, error) {
	st := &chunkState{ch: &chunk{}, leaf: leaf, useDict: useDict, encs: map[format.Encoding]bool{format.RLE: true}}
	e.defs, e.reps, e.vals, e.ints, e.idx = e.defs[:0], e.reps[:0], e.vals[:0], e.ints[:0], e.idx[:0]
	if useDict {
		clear(e.dict)
		e.dvals, e.ndict = e.dvals[:0], 0
		if e.gen++; e.gen == 0 { // wrapped around: entries of old chunks could pass for this one's
			e.spanIDs, e.gen = [spanSlots]spanID{}, 1
		}
	}
	kind := c.kind
	if c.mixed {
		kind = event.KindString
	}
	full := c.full(len(perm))
	if full && c.one && useDict {
		return e.encodeOne(st, c, k, int(to-from))
	}
	// Every row has a value and no list: every definition level is maxDef, and each page's are
	// written as one run (flushPage) instead of one by one.
	st.defsRun = full && leaf.maxRep == 0
	if full && (kind == event.KindString || kind == event.KindJSON || kind == event.KindStrings) {
		ok, err := e.fullText(st, c, from, to, perm)
		if err != nil || !ok {
			return nil, k, false, err
		}
		from = to // done
	}
	maxDef := uint8(leaf.maxDef)
	for p := from; p < to; p++ {
		i := 0
		if full {
			i = int(perm[p])
		} else {
			if k >= len(c.pos) || c.pos[k] != p {
				e.defs = append(e.defs, 0)
				if leaf.maxRep > 0 {
					e.reps = append(e.reps, 0)
				}
				st.nulls++
				st.pageVals++
				if st.pageVals >= maxPageValues {
					if err := e.flushPage(st); err != nil {
						return nil, 0, false, err
					}
				}
				continue
			}
			i = int(c.idx[k])
			k++
		}
		switch kind {
		case event.KindStrings:
			start, end := c.list(i)
			if start == end {
				e.emptyList(st, maxDef)
				break
			}
			for j := start; j < end; j++ {
				e.listElem(st, maxDef, j == start)
				if !e.addSpan(st, c, c.span(j)) {
					return nil, k, false, nil
				}
			}
		case event.KindInt, event.KindFloat, event.KindTime, event.KindBool:
			if !st.defsRun {
				e.defs = append(e.defs, maxDef)
			}
			if leaf.maxRep > 0 {
				e.reps = append(e.reps, 0)
			}
			st.pageVals++
			v := c.nums.at(i)
			switch kind {
			case event.KindTime:
				if !c.micros {
					v = floorDiv(v, 1000)
				}
				st.addInt(v)
				e.ints = append(e.ints, v)
			case event.KindInt:
				st.addInt(v)
				e.ints = append(e.ints, v)
			case event.KindFloat:
				st.addFloat(math.Float64frombits(uint64(v)))
				e.vals = binary.LittleEndian.AppendUint64(e.vals, uint64(v))
			default:
				b := uint32(0)
				if v != 0 {
					b = 1
				}
				st.addInt(int64(b))
				e.idx = append(e.idx, b)
			}
		default:
			if !st.defsRun {
				e.defs = append(e.defs, maxDef)
			}
			if leaf.maxRep > 0 {
				e.reps = append(e.reps, 0)
			}
			st.pageVals++
			if !e.addSpan(st, c, c.span(i)) {
				return nil, k, false, nil
			}
		}
		if st.pageVals >= maxPageValues || len(e.vals) >= pageBytes {
			if err := e.flushPage(st); err != nil {
				return nil, 0, false, err
			}
		}
	}
	if st.pageVals > 0 || st.values == 0 {
		if err := e.flushPage(st); err != nil {
			return nil, 0, false, err
		}
	}
	if err := e.finishChunk(st); err != nil {
		return nil, 0, false, err
	}
	return st.ch, k, true, nil
}

// fullText adds the values of rows [from, to) of a text column, or a list column, that every row
// has: the loop of encodeRows for that case alone, in blocks of gatherRows rows. The rows are in
// time order, their values in the order added, so reading a value is a load from an unpredictable
// place (the span, a list's ends, then the text), and one after another each load waited for the
// one before it to miss the cache (a third of the encoding of a flow batch). A block's spans are
// read first, then the first byte of each text (PLAIN: a dictionary's text is mostly not read),
// in loops whose loads are independent and so overlap, and then the values are added from the
// cache. It reports false when the dictionary grew too big.
func (e *pageEncoder) fullText(st *chunkState, c *column, from, to int32, perm []int32) (bool, error) {
	if c.coded && st.useDict {
		return e.codedDict(st, c, from, to, perm)
	}
	ar := &c.ar
	lists := c.kind == event.KindStrings && !c.mixed
	maxDef := uint8(st.leaf.maxDef)
	var (
		sps     [gatherRows]span
		ends    [gatherRows + 1]int32 // lists: the block's rows' elements are sps[ends[i]:ends[i+1]]
		touched byte
	)
	for rows := perm[from:to]; len(rows) > 0; {
		n := len(rows) // rows of this block
		if lists {
			m := 0
			for i, r := range rows[:min(n, gatherRows)] {
				start, end := c.list(int(r))
				if m+end-start > gatherRows && i > 0 {
					n = i
					break
				}
				for j := start; j < end; j++ {
					if m == len(sps) {
						break // a list longer than a block: the rest is read below
					}
					sps[m] = c.span(j)
					m++
				}
				ends[i+1] = int32(m)
				n = i + 1
			}
		} else {
			n = min(n, gatherRows)
			for i, r := range rows[:n] {
				sps[i] = c.span(int(r))
			}
			ends[n] = int32(n)
		}
		if !st.useDict {
			for _, sp := range sps[:ends[n]] {
				if sp.len > 0 {
					touched ^= ar.chunks[sp.chunk][sp.off]
				}
			}
		}
		for i, r := range rows[:n] {
			if !lists {
				if !e.addFullSpan(st, c, sps[i]) {
					return false, nil
				}
			} else {
				start, end := c.list(int(r))
				if start == end {
					e.emptyList(st, maxDef)
				}
				got := sps[ends[i]:ends[i+1]]
				for j := start; j < end; j++ {
					e.listElem(st, maxDef, j == start)
					sp := span{}
					if k := j - start; k < len(got) {
						sp = got[k]
					} else {
						sp = c.span(j)
					}
					if !e.addSpan(st, c, sp) {
						return false, nil
					}
				}
			}
			if st.pageVals >= maxPageValues || len(e.vals) >= pageBytes {
				if err := e.flushPage(st); err != nil {
					return false, err
				}
			}
		}
		rows = rows[n:]
	}
	e.touched ^= touched
	return true, nil
}

// codedDict adds the values of rows [from, to) of a coded column (column.coded), or a list column,
// that every row has, as dictionary indices: each code's index is found once, and then read from
// a table by the code (a byte per row, read from a few hundred kB, where a span was 12 bytes).
func (e *pageEncoder) codedDict(st *chunkState, c *column, from, to int32, perm []int32) (bool, error) {
	var (
		index [maxCodes]uint32 // the dictionary index of each code
		known [maxCodes]bool
	)
	lists := c.kind == event.KindStrings && !c.mixed
	maxDef := uint8(st.leaf.maxDef)
	add := func(code uint8) bool {
		if known[code] {
			e.idx = append(e.idx, index[code])
			return true
		}
		if !e.addSpan(st, c, c.ids[code]) {
			return false
		}
		index[code], known[code] = e.idx[len(e.idx)-1], true
		return true
	}
	for _, r := range perm[from:to] {
		if !lists {
			st.pageVals++
			if !add(c.codes.at(int(r))) {
				return false, nil
			}
		} else {
			start, end := c.list(int(r))
			if start == end {
				e.emptyList(st, maxDef)
			}
			for j := start; j < end; j++ {
				e.listElem(st, maxDef, j == start)
				if !add(c.codes.at(j)) {
					return false, nil
				}
			}
		}
		if st.pageVals >= maxPageValues {
			if err := e.flushPage(st); err != nil {
				return false, err
			}
		}
	}
	return true, nil
}

// addFullSpan adds the text value at a span, the value of a row of a column that every row has.
func (e *pageEncoder) addFullSpan(st *chunkState, c *column, sp span) bool {
	st.pageVals++
	if st.useDict {
		return e.addSpan(st, c, sp)
	}
	b := c.ar.get(sp)
	if st.leaf.stats && !st.noStat && (!st.haveLast || sp != st.lastSpan) {
		st.addBytes(b) // the value before at the same span is the same value
	}
	st.haveLast, st.lastSpan = true, sp
	e.ints = append(e.ints, int64(len(b)))
	e.vals = append(e.vals, b...)
	return true
}

// gatherRows is the rows of a block of fullText.
const gatherRows = 64

// finishChunk puts the dictionary page, if any, before the chunk's data pages and fills the
// chunk's metadata.
func (e *pageEncoder) finishChunk(st *chunkState) error {
	if st.useDict {
		// The dictionary page goes first: the data pages are moved after it.
		data := st.ch.data
		st.ch.data = nil
		if err := e.writePage(st, format.DictionaryPage, e.dvals, 0, 0); err != nil {
			return err
		}
		st.ch.dictLen = len(st.ch.data)
		st.ch.data = append(st.ch.data, data...)
		st.encs[format.Plain] = true // the dictionary's
	}
	st.finishMeta()
	return nil
}

// encodeOne encodes n rows of a column that every row has and that holds one value (column.one):
// a dictionary of that value, and pages whose levels and indices are each one RLE run, written
// without looking at the rows. A list column's rows are each the list of that one value.
func (e *pageEncoder) encodeOne(st *chunkState, c *column, k, n int) (*chunk, int, bool, error) {
	leaf := st.leaf
	b := c.ar.get(c.oneSpan)
	if len(b)+4 > maxDictBytes {
		return nil, k, false, nil // written PLAIN, the usual way
	}
	if leaf.stats {
		st.addBytes(b)
	}
	e.dvals = binary.LittleEndian.AppendUint32(e.dvals, uint32(len(b)))
	e.dvals = append(e.dvals, b...)
	e.ndict = 1
	for n > 0 || st.values == 0 {
		m := min(n, maxPageValues)
		body := e.body[:0]
		if leaf.maxRep > 0 {
			body = appendLevelRun(body, m, 0, bits.Len(uint(leaf.maxRep)))
		}
		if leaf.maxDef > 0 {
			body = appendLevelRun(body, m, leaf.maxDef, bits.Len(uint(leaf.maxDef)))
		}
		body = append(body, 1) // the indices' width: 1 at least, as flushPage writes it
		body = appendRun(body, m, 0, 1)
		e.body = body
		st.encs[format.RLEDictionary] = true
		st.values += int64(m)
		if err := e.writePage(st, format.DataPage, body, m, format.RLEDictionary); err != nil {
			return nil, 0, false, err
		}
		n -= m
		if m == 0 {
			break
		}
	}
	if err := e.finishChunk(st); err != nil {
		return nil, 0, false, err
	}
	return st.ch, k, true, nil
}

// addSpan adds the text value at a span of the column's arena. Equal values added one after another
// or close together share their span (column.addText), so a value at the span of one before it is
// that value again: its dictionary index is that one's, found by the span (the last one, or through
// spanIDs) without hashing the text, and it cannot change the chunk's min or max. Most dictionary
// columns (an account, a region, a log file) are runs of one span, and the others (an action, an
// outcome, a protocol, a list's elements) a few spans in any order.
func (e *pageEncoder) addSpan(st *chunkState, c *column, sp span) bool {
	if st.haveLast && sp == st.lastSpan {
		if st.useDict {
			e.idx = append(e.idx, st.lastID)
		} else {
			e.ints = append(e.ints, int64(sp.len))
			e.vals = append(e.vals, c.ar.get(sp)...)
		}
		return true
	}
	var slot *spanID
	if st.useDict {
		slot = &e.spanIDs[spanHash(sp)]
		if slot.gen == e.gen && slot.sp == sp {
			e.idx = append(e.idx, slot.id)
			st.haveLast, st.lastSpan, st.lastID = true, sp, slot.id
			return true
		}
	}
	if !e.addText(st, c.ar.get(sp)) {
		return false
	}
	st.haveLast, st.lastSpan = true, sp
	if st.useDict {
		st.lastID = e.idx[len(e.idx)-1]
		*slot = spanID{sp: sp, id: st.lastID, gen: e.gen}
	}
	return true
}

// spanID is a span's dictionary index in a chunk.
type spanID struct {
	sp      span
	id, gen uint32
}

const (
	spanBits  = 8
	spanSlots = 1 << spanBits
)

// spanHash is a hash of a span in [0, spanSlots).
func spanHash(sp span) uint32 {
	return uint32(((uint64(sp.chunk)<<32 | uint64(sp.off)) * 0x9e3779b97f4a7c15) >> (64 - spanBits))
}

// addText adds a text value to the page: its dictionary index, or its PLAIN bytes. It reports false
// when the dictionary grew too big.
func (e *pageEncoder) addText(st *chunkState, b []byte) bool {
	if st.useDict {
		id, ok := e.dict[bytesString(b)]
		if !ok {
			if len(e.dvals)+4+len(b) > maxDictBytes {
				return false
			}
			// The chunk's min and max are its dictionary's: each value is compared once.
			if st.leaf.stats && !st.noStat {
				st.addBytes(b)
			}
			id = uint32(e.ndict)
			e.ndict++
			// The key is the arena's bytes, which outlive the chunk.
			e.dict[bytesString(b)] = id
			e.dvals = binary.LittleEndian.AppendUint32(e.dvals, uint32(len(b)))
			e.dvals = append(e.dvals, b...)
		}
		e.idx = append(e.idx, id)
		return true
	}
	if st.leaf.stats && !st.noStat {
		st.addBytes(b)
	}
	e.ints = append(e.ints, int64(len(b)))
	e.vals = append(e.vals, b...)
	return true
}

func (st *chunkState) addInt(v int64) {
	if !st.hasStat {
		st.minI, st.maxI, st.hasStat = v, v, true
		return
	}
	st.minI, st.maxI = min(st.minI, v), max(st.maxI, v)
}

func (st *chunkState) addFloat(v float64) {
	if math.IsNaN(v) {
		return // NaN is neither min nor max (the format's rule)
	}
	if !st.hasStat {
		st.minF, st.maxF, st.hasStat = v, v, true
		return
	}
	st.minF, st.maxF = min(st.minF, v), max(st.maxF, v)
}

// addBytes takes a text value into the chunk's min and max. Its first eight bytes, as a big-endian
// integer (zeros past its end), order it against them mostly: when that integer differs from the
// min's or the max's, the text does too, and the same way (bytes.Compare is needed on a tie only).
func (st *chunkState) addBytes(b []byte) {
	if len(b) > maxStatBytes {
		st.noStat = true
		return
	}
	p := prefix8(b)
	if !st.hasStat {
		st.minB, st.maxB, st.minP, st.maxP, st.hasStat = b, b, p, p, true
		return
	}
	if p < st.minP || p == st.minP && bytes.Compare(b, st.minB) < 0 {
		st.minB, st.minP = b, p
	} else if p > st.maxP || p == st.maxP && bytes.Compare(b, st.maxB) > 0 {
		st.maxB, st.maxP = b, p
	}
}

// prefix8 is the first eight bytes of b as a big-endian integer, zeros past its end: if
// prefix8(a) < prefix8(b), then a < b (bytes.Compare).
func prefix8(b []byte) uint64 {
	if len(b) >= 8 {
		return binary.BigEndian.Uint64(b)
	}
	var p uint64
	for i, c := range b {
		p |= uint64(c) << (56 - 8*i)
	}
	return p
}

// flushPage writes the page of the levels and values gathered so far.
func (e *pageEncoder) flushPage(st *chunkState) error {
	leaf := st.leaf
	body := e.body[:0]
	if leaf.maxRep > 0 {
		body = appendLevels(body, e.reps, bits.Len(uint(leaf.maxRep)))
	}
	switch {
	case leaf.maxDef > 0 && st.defsRun:
		body = appendLevelRun(body, st.pageVals, leaf.maxDef, bits.Len(uint(leaf.maxDef)))
	case leaf.maxDef > 0:
		body = appendLevels(body, e.defs, bits.Len(uint(leaf.maxDef)))
	}
	enc := format.Plain
	switch {
	case st.useDict:
		enc = format.RLEDictionary
		w := max(1, bits.Len(uint(max(e.ndict, 1)-1))) // 1 at least: some readers refuse 0
		body = append(body, byte(w))
		body = appendHybrid(body, e.idx, w)
	case leaf.phys == format.Boolean:
		body = appendBitPacked(body, e.idx, 1)
	case leaf.phys == format.Int64:
		enc = format.DeltaBinaryPacked
		body = appendDelta(body, e.ints)
	case leaf.phys == format.ByteArray:
		enc = format.DeltaLengthByteArray
		body = appendDelta(body, e.ints)
		body = append(body, e.vals...)
	default:
		body = append(body, e.vals...)
	}
	st.encs[enc] = true
	e.body = body
	n := st.pageVals
	st.values += int64(n)
	st.pageVals = 0
	e.defs, e.reps, e.vals, e.ints, e.idx = e.defs[:0], e.reps[:0], e.vals[:0], e.ints[:0], e.idx[:0]
	return e.writePage(st, format.DataPage, body, n, enc)
}

// writePage compresses a page body and appends its header and the compressed body to the chunk.
func (e *pageEncoder) writePage(st *chunkState, typ format.PageType, body []byte, n int, enc format.Encoding) error {
	// A chunk has one codec. Its first page decides: if zstd saves less than 2% there (random
	// numbers, packed booleans, dictionary indices of two equally likely values), the chunk is
	// stored as it is, which costs readers no decompression and writers no more compression.
	comp := body
	if !st.raw {
		e.comp = e.zenc.EncodeAll(body, e.comp[:0])
		comp = e.comp
		if !st.compressed && len(e.comp)*50 >= len(body)*49 {
			st.raw, comp = true, body
		}
		st.compressed = !st.raw
	}
	h := format.PageHeader{Type: typ, UncompressedPageSize: int32(len(body)), CompressedPageSize: int32(len(comp))}
	if typ == format.DictionaryPage {
		h.DictionaryPageHeader = thrift.New(format.DictionaryPageHeader{NumValues: int32(e.ndict), Encoding: format.Plain})
	} else {
		h.DataPageHeader = thrift.New(format.DataPageHeader{NumValues: int32(n), Encoding: enc,
			DefinitionLevelEncoding: format.RLE, RepetitionLevelEncoding: format.RLE})
	}
	hb, err := thrift.Marshal(&e.thrift, &h)
	if err != nil {
		return fmt.Errorf("page header: %w", err)
	}
	st.ch.data = append(st.ch.data, hb...)
	st.ch.data = append(st.ch.data, comp...)
	st.ch.meta.TotalUncompressedSize += int64(len(hb) + len(body))
	st.ch.meta.TotalCompressedSize += int64(len(hb) + len(comp))
	return nil
}

// finishMeta fills the chunk's metadata but for its offsets.
func (st *chunkState) finishMeta() {
	m := &st.ch.meta
	m.Type = st.leaf.phys
	m.PathInSchema = st.leaf.path
	m.Codec = format.Zstd
	if st.raw {
		m.Codec = format.Uncompressed
	}
	m.NumValues = st.values
	for _, enc := range []format.Encoding{format.Plain, format.RLE, format.RLEDictionary, format.DeltaBinaryPacked, format.DeltaLengthByteArray} {
		if st.encs[enc] {
			m.Encoding = append(m.Encoding, enc)
		}
	}
	m.Statistics.NullCount = st.nulls
	if !st.hasStat || st.noStat || !st.leaf.stats {
		return
	}
	switch st.leaf.phys {
	case format.Int64:
		m.Statistics.MinValue = binary.LittleEndian.AppendUint64(nil, uint64(st.minI))
		m.Statistics.MaxValue = binary.LittleEndian.AppendUint64(nil, uint64(st.maxI))
	case format.Double:
		lo, hi := st.minF, st.maxF
		// Zeros: the format asks for -0 as a minimum and +0 as a maximum.
		if lo == 0 {
			lo = math.Copysign(0, -1)
		}
		if hi == 0 {
			hi = 0
		}
		m.Statistics.MinValue = binary.LittleEndian.AppendUint64(nil, math.Float64bits(lo))
		m.Statistics.MaxValue = binary.LittleEndian.AppendUint64(nil, math.Float64bits(hi))
	case format.Boolean:
		m.Statistics.MinValue = []byte{byte(st.minI)}
		m.Statistics.MaxValue = []byte{byte(st.maxI)}
	case format.ByteArray:
		m.Statistics.MinValue = append([]byte{}, st.minB...)
		m.Statistics.MaxValue = append([]byte{}, st.maxB...)
	}
}

// appendDelta appends integers in the DELTA_BINARY_PACKED encoding: the first value, then blocks of
// 128 deltas, each block's smallest delta and four miniblocks of 32 deltas above it bit-packed at
// the miniblock's own width. Times in time order, lengths of similar records, counters and ports
// shrink to a few bits each before zstd sees them (which then has a few times less to compress).
// Deltas wrap around as the format says (int64 arithmetic modulo 2^64).
func appendDelta(dst []byte, vals []int64) []byte {
	const blockLen, miniblocks, miniLen = 128, 4, 32
	dst = binary.AppendUvarint(dst, blockLen)
	dst = binary.AppendUvarint(dst, miniblocks)
	dst = binary.AppendUvarint(dst, uint64(len(vals)))
	if len(vals) == 0 {
		return binary.AppendVarint(dst, 0) // zigzag, as the format's first value
	}
	dst = binary.AppendVarint(dst, vals[0])
	var d [blockLen]uint64
	for i := 1; i < len(vals); i += blockLen {
		n := min(blockLen, len(vals)-i)
		minD := vals[i] - vals[i-1]
		for j := range n {
			minD = min(minD, vals[i+j]-vals[i+j-1])
		}
		for j := range n {
			d[j] = uint64(vals[i+j] - vals[i+j-1] - minD)
		}
		dst = binary.AppendVarint(dst, minD)
		widths := len(dst)
		dst = append(dst, 0, 0, 0, 0) // a miniblock with no values has width 0 and no bytes
		for m := range miniblocks {
			lo := m * miniLen
			if lo >= n {
				break
			}
			hi := min(lo+miniLen, n)
			var or uint64
			for _, x := range d[lo:hi] {
				or |= x
			}
			w := bits.Len64(or)
			dst[widths+m] = byte(w)
			if w == 0 {
				continue
			}
			// 32 values, the last miniblock padded with zeros.
			for j := hi; j < lo+miniLen; j++ {
				d[j] = 0
			}
			dst = packBits64(dst, d[lo:lo+miniLen], w)
		}
	}
	return dst
}

// packBits64 appends values of up to 64 bits, w bits each, least significant bit first; len(vals)*w
// must be a multiple of 8.
func packBits64(dst []byte, vals []uint64, w int) []byte {
	var acc uint64
	n := 0
	put := func(v uint64, w int) {
		acc |= v << n
		n += w
		for n >= 8 {
			dst = append(dst, byte(acc))
			acc >>= 8
			n -= 8
		}
	}
	for _, v := range vals {
		if w > 32 {
			put(v&(1<<32-1), 32)
			put(v>>32, w-32)
		} else {
			put(v, w)
		}
	}
	return dst
}

// appendLevels appends levels in the RLE / bit-packed hybrid, after their length (data pages v1).
func appendLevels(dst []byte, levels []uint8, width int) []byte {
	at := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = appendHybrid(dst, levels, width)
	binary.LittleEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	return dst
}

// appendHybrid appends values in the RLE / bit-packed hybrid encoding: a run of 8 or more equal
// values as one RLE run (all levels of a column that every row has are one run), the rest
// bit-packed in groups of 8.
func appendHybrid[T uint8 | uint32](dst []byte, vals []T, width int) []byte {
	i, lit := 0, -1 // lit: start of the pending bit-packed values
	flush := func(end int) {
		if lit < 0 {
			return
		}
		dst = appendBitPackedRun(dst, vals[lit:end], width)
		lit = -1
	}
	for i < len(vals) {
		v := vals[i]
		j := i + 1
		for j < len(vals) && vals[j] == v {
			j++
		}
		// Pending literals always end on a group of 8 here (i moves 8 at a time through them), so
		// flushing them adds no padding in the middle of the values.
		if j-i >= 8 {
			flush(i)
			dst = binary.AppendUvarint(dst, uint64(j-i)<<1)
			for b := 0; b < (width+7)/8; b++ {
				dst = append(dst, byte(uint32(v)>>(8*b)))
			}
			i = j
			continue
		}
		if lit < 0 {
			lit = i
		}
		// Take values up to the end of this group of 8 of the literal run.
		i = min(len(vals), lit+((i-lit)/8+1)*8)
	}
	flush(len(vals))
	return dst
}

// appendRun appends n values v as one RLE run of the hybrid encoding (none if n is 0).
func appendRun(dst []byte, n int, v uint32, width int) []byte {
	if n == 0 {
		return dst
	}
	dst = binary.AppendUvarint(dst, uint64(n)<<1)
	for b := 0; b < (width+7)/8; b++ {
		dst = append(dst, byte(v>>(8*b)))
	}
	return dst
}

// appendLevelRun appends n levels v as one RLE run, after their length (data pages v1).
func appendLevelRun(dst []byte, n, v, width int) []byte {
	at := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = appendRun(dst, n, uint32(v), width)
	binary.LittleEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	return dst
}

// appendBitPackedRun appends one bit-packed run of the values, padded with zeros to a multiple of 8.
func appendBitPackedRun[T uint8 | uint32](dst []byte, vals []T, width int) []byte {
	groups := (len(vals) + 7) / 8
	dst = binary.AppendUvarint(dst, uint64(groups)<<1|1)
	return appendBitPacked(dst, vals, width)
}

// appendBitPacked appends values bit-packed, least significant bit first, padded with zeros to a
// multiple of 8 values.
func appendBitPacked[T uint8 | uint32](dst []byte, vals []T, width int) []byte {
	var acc uint64
	n := 0
	for _, v := range vals {
		acc |= uint64(v) << n
		n += width
		for n >= 8 {
			dst = append(dst, byte(acc))
			acc >>= 8
			n -= 8
		}
	}
	for pad := (8 - len(vals)%8) % 8; pad > 0; pad-- {
		n += width
		for n >= 8 {
			dst = append(dst, byte(acc))
			acc >>= 8
			n -= 8
		}
	}
	if n > 0 {
		dst = append(dst, byte(acc))
	}
	return dst
}

// writeFile writes a Parquet file of row groups of encoded chunks (chunks[g][leaf]) and returns
// its size.
func writeFile(w io.Writer, fs *fileSchema, name string, chunks [][]*chunk, rows []int64) (int64, error) {
	var off int64
	write := func(b []byte) error {
		n, err := w.Write(b)
		off += int64(n)
		return err
	}
	if err := write([]byte("PAR1")); err != nil {
		return off, err
	}
	meta := format.FileMetaData{Version: 1, Schema: fs.elems, CreatedBy: "ramen", ColumnOrders: fs.orders}
	for g, cols := range chunks {
		rg := format.RowGroup{NumRows: rows[g], FileOffset: off, Ordinal: int16(g)}
		for _, ch := range cols {
			m := ch.meta
			start := off
			m.DataPageOffset = start + int64(ch.dictLen)
			if ch.dictLen > 0 {
				m.DictionaryPageOffset = start
			}
			if err := write(ch.data); err != nil {
				return off, err
			}
			rg.Columns = append(rg.Columns, format.ColumnChunk{FileOffset: start, MetaData: m})
			rg.TotalByteSize += m.TotalUncompressedSize
			rg.TotalCompressedSize += m.TotalCompressedSize
		}
		meta.RowGroups = append(meta.RowGroups, rg)
		meta.NumRows += rows[g]
	}
	footer, err := thrift.Marshal(new(thrift.CompactProtocol), &meta)
	if err != nil {
		return off, fmt.Errorf("%s: footer: %w", name, err)
	}
	if err := write(footer); err != nil {
		return off, err
	}
	if err := write(binary.LittleEndian.AppendUint32(nil, uint32(len(footer)))); err != nil {
		return off, err
	}
	return off, write([]byte("PAR1"))
}

// emptyList adds the levels of an empty list: defined down to the list, not a null.
func (e *pageEncoder) emptyList(st *chunkState, maxDef uint8) {
	e.defs = append(e.defs, maxDef-1)
	e.reps = append(e.reps, 0)
	st.pageVals++
}

// listElem adds the levels of a list element: repetition 0 for a list's first, 1 for the others.
func (e *pageEncoder) listElem(st *chunkState, maxDef uint8, first bool) {
	rep := uint8(1)
	if first {
		rep = 0
	}
	e.defs = append(e.defs, maxDef)
	e.reps = append(e.reps, rep)
	st.pageVals++
}
