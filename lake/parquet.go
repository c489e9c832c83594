package lake

import (
	"strings"

	"github.com/parquet-go/parquet-go"

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
