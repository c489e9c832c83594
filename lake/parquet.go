package lake

import (
	"fmt"
	"io"
	"strings"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/ramen-siem/ramen/event"
)

// Parquet files are written by Go directly (not through DuckDB): events go from the parser's memory
// into column buffers without a text format in between, which is most of what ingest used to cost.

// rowGroupRows is the number of rows per row group: DuckDB's default, large enough for compression,
// small enough that a time filter skips most of a file by the row groups' statistics.
const rowGroupRows = 122880

// pageBytes is the size of a page before compression: zstd finds more repetition in larger pages,
// and log text (the original records above all) repeats across rows far apart.
const pageBytes = 4 << 20

// pqSchema is the Parquet schema of one type in one batch, with the column index of every leaf.
type pqSchema struct {
	schema *parquet.Schema
	cols   map[string]int // column path ("source.ip") -> leaf column index
	kinds  map[string]event.Kind
	mixed  map[string]bool
	dict   map[string]bool // text columns worth a dictionary
}

// buildSchema turns the batch's column tree into a Parquet schema. Structs are required groups (a
// struct is never null, its fields are), leaves are optional, lists are Parquet LIST of strings,
// times are TIMESTAMP in microseconds not adjusted to UTC (they are UTC already: readers show
// TIMESTAMP, not TIMESTAMP WITH TIME ZONE, so a literal like TIMESTAMP '2026-03-02 08:00' compares
// without conversion and prunes row groups).
func buildSchema(sc *schema, dict map[string]bool) *pqSchema {
	ps := &pqSchema{cols: map[string]int{}, kinds: map[string]event.Kind{}, mixed: map[string]bool{}, dict: dict}
	root := groupOf(sc.root, "", ps)
	ps.schema = parquet.NewSchema("ramen", root)
	for i, path := range ps.schema.Columns() {
		// A list's leaf is <field>/list/element.
		if n := len(path); n >= 3 && path[n-2] == "list" && path[n-1] == "element" {
			if _, ok := ps.kinds[strings.Join(path[:n-2], ".")]; ok {
				path = path[:n-2]
			}
		}
		ps.cols[strings.Join(path, ".")] = i
	}
	return ps
}

func groupOf(n *node, prefix string, ps *pqSchema) parquet.Group {
	g := parquet.Group{}
	for name, c := range n.children {
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		if !c.leaf {
			g[name] = groupOf(c, path, ps)
			continue
		}
		ps.kinds[path] = c.kind
		if c.mixed {
			ps.mixed[path] = true
			g[name] = parquet.Optional(textNode(ps.dict[path]))
			continue
		}
		g[name] = leafNode(c.kind, ps.dict[path])
	}
	return g
}

func leafNode(k event.Kind, dict bool) parquet.Node {
	switch k {
	case event.KindInt:
		return parquet.Optional(parquet.Int(64))
	case event.KindFloat:
		return parquet.Optional(parquet.Leaf(parquet.DoubleType))
	case event.KindBool:
		return parquet.Optional(parquet.Leaf(parquet.BooleanType))
	case event.KindTime:
		return parquet.Optional(parquet.TimestampAdjusted(parquet.Microsecond, false))
	case event.KindStrings:
		return parquet.Optional(parquet.List(textNode(dict)))
	}
	return parquet.Optional(textNode(dict))
}

// textNode is a text column, dictionary-encoded when its values repeat (actions, accounts, regions,
// roles, addresses: a dictionary stores each once per row group), plain when they hardly do (ids,
// the original record), where a dictionary would only cost time and space.
func textNode(dict bool) parquet.Node {
	if dict {
		return parquet.Encoded(parquet.String(), &parquet.RLEDictionary)
	}
	return parquet.String()
}

// repeating samples the rows and returns the text columns whose values repeat: fewer distinct
// values than half the sampled rows.
func repeating(rows []row, sh func(row) []string) map[string]bool {
	const samples = 1024
	step := max(1, len(rows)/samples)
	distinct := map[string]map[string]struct{}{}
	n := 0
	for i := 0; i < len(rows); i += step {
		n++
		r := rows[i]
		cols := sh(r)
		for j, f := range r.e.Fields {
			switch f.Value.Kind() {
			case event.KindString, event.KindStrings, event.KindJSON:
			default:
				continue
			}
			path := cols[j]
			d := distinct[path]
			if d == nil {
				d = map[string]struct{}{}
				distinct[path] = d
			}
			if len(d) <= samples/2 {
				d[f.Value.Text()] = struct{}{}
			}
		}
	}
	out := map[string]bool{}
	for path, d := range distinct {
		out[path] = len(d) < max(2, n/2)
	}
	return out
}

// row is one event waiting for its batch to be written, with the shape that maps its fields to
// columns.
type row struct {
	e  *event.Event
	sh *shape
	ts int64 // e.Timestamp in unix nanoseconds, the sort key
}

// writeParquet writes rows (sorted by time) of one partition as one Parquet file.
func writeParquet(w io.Writer, ps *pqSchema, rows []row) error {
	pw := parquet.NewWriter(w, ps.schema,
		parquet.Compression(&zstd.Codec{Level: zstd.SpeedDefault}),
		parquet.MaxRowsPerRowGroup(rowGroupRows),
		parquet.PageBufferSize(pageBytes),
		parquet.CreatedBy("ramen", "", ""))
	b := parquet.NewRowBuilder(ps.schema)
	tsCol, idCol, origCol := ps.cols["@timestamp"], ps.cols["_id"], ps.cols["event.original"]
	rootCol, hasRoot := ps.cols["_native_root"]
	rowBuf := make([]parquet.Row, 256) // reused: WriteRows copies the values
	n := 0
	var idx []int // column of each field of the current shape
	var idxShape *shape
	for _, r := range rows {
		e := r.e
		b.Reset()
		b.Add(tsCol, parquet.Int64Value(e.Timestamp.UnixMicro()))
		b.Add(idCol, bytesValue(e.ID))
		b.Add(origCol, bytesValue(e.Original))
		if hasRoot && e.NativeRoot != "" {
			b.Add(rootCol, bytesValue(e.NativeRoot))
		}
		if r.sh != idxShape {
			idx, idxShape = idx[:0], r.sh
			for i := range e.Fields {
				path := r.sh.cols[r.sh.fixed+i]
				c, ok := ps.cols[path]
				if !ok {
					return fmt.Errorf("internal error: no column for %s", path)
				}
				idx = append(idx, c)
			}
		}
		for i := range e.Fields {
			path := r.sh.cols[r.sh.fixed+i]
			addValue(b, idx[i], e.Fields[i].Value, ps.kinds[path], ps.mixed[path])
		}
		rowBuf[n] = b.AppendRow(rowBuf[n][:0])
		n++
		if n == len(rowBuf) {
			if _, err := pw.WriteRows(rowBuf[:n]); err != nil {
				return err
			}
			n = 0
		}
	}
	if n > 0 {
		if _, err := pw.WriteRows(rowBuf[:n]); err != nil {
			return err
		}
	}
	return pw.Close()
}

// addValue adds one field's value to its column, converted to the column's type when the field's
// kind varied within the batch (the column is then text).
func addValue(b *parquet.RowBuilder, col int, v event.Value, colKind event.Kind, mixed bool) {
	if mixed {
		b.Add(col, bytesValue(v.Text()))
		return
	}
	switch colKind {
	case event.KindInt:
		b.Add(col, parquet.Int64Value(v.Int()))
	case event.KindFloat:
		b.Add(col, parquet.DoubleValue(v.Float()))
	case event.KindBool:
		b.Add(col, parquet.BooleanValue(v.Bool()))
	case event.KindTime:
		b.Add(col, parquet.Int64Value(v.Time().UnixMicro()))
	case event.KindStrings:
		for _, s := range v.List() {
			b.Add(col, bytesValue(s))
		}
	default:
		b.Add(col, bytesValue(v.Text()))
	}
}

// bytesValue wraps a string's bytes without copying them: the writer only reads them.
func bytesValue(s string) parquet.Value {
	return parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(s), len(s)))
}
