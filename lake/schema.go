package lake

import (
	"sort"
	"strings"

	"github.com/ramen-siem/ramen/event"
)

// schema is the column layout of one batch: a tree of nested structs built from the dotted keys of the
// events written so far, with each leaf's type. It gives read_json an exact type for every column, so
// nothing in the lake is left to type inference.
type schema struct {
	root  *node
	paths map[string]string // event key -> column path, for the rare keys that had to be renamed
}

type node struct {
	leaf     bool
	kind     event.Kind
	mixed    bool // leaf seen with more than one kind: stored as text
	children map[string]*node
	lower    map[string]string // lower-cased child name -> child name: SQL names ignore case
}

// child finds a child by name; a child whose name differs only in case is a conflict.
func (n *node) child(seg string) (c *node, clash bool) {
	if c := n.children[seg]; c != nil {
		return c, false
	}
	if _, ok := n.lower[strings.ToLower(seg)]; ok {
		return nil, true
	}
	return nil, false
}

func (n *node) put(seg string, c *node) {
	if n.lower == nil {
		n.lower = map[string]string{}
	}
	n.children[seg] = c
	n.lower[strings.ToLower(seg)] = seg
}

func newSchema() *schema {
	return &schema{root: &node{children: map[string]*node{}}, paths: map[string]string{}}
}

// add records a field and returns the column path it is written under: its own key, unless a leaf
// and a struct would share a name ("a.b" and "a.b.c"), in which case the later key is renamed by
// joining its remaining segments with '_' ("a.b_c"), or a trailing '_' for a leaf ("a.b_"); or
// unless two names differ only in case ("Host", "host"), when the later one gets a trailing '_';
// or unless its first segment is a partition column's name (type, date, hour, in any case), which
// gets a trailing '_' ("type_"): readers of the Hive layout would see the partition's value there.
func (s *schema) add(key string, k event.Kind) string {
	if p, ok := s.paths[key]; ok {
		key = p
	} else if top, rest, dotted := strings.Cut(key, "."); partitionColumn(top) {
		renamed := top + "_"
		if dotted {
			renamed += "." + rest
		}
		s.paths[key] = renamed
		return s.add(renamed, k)
	}
	n := s.root
	segs := strings.Split(key, ".")
	for i, seg := range segs {
		last := i == len(segs)-1
		c, clash := n.child(seg)
		switch {
		case clash:
			// "Host" beside "host": SQL cannot tell them apart; the later one gets a '_'.
			segs[i] = seg + "_"
			renamed := strings.Join(segs, ".")
			s.paths[key] = renamed
			return s.add(renamed, k)
		case c == nil && last:
			n.put(seg, &node{leaf: true, kind: k})
			return key
		case c == nil:
			c = &node{children: map[string]*node{}}
			n.put(seg, c)
		case last && c.leaf:
			if c.kind != k {
				c.mixed = true
			}
			return key
		case last && !c.leaf:
			// A leaf where a struct exists.
			renamed := strings.Join(segs[:i], ".")
			if renamed != "" {
				renamed += "."
			}
			renamed += seg + "_"
			s.paths[key] = renamed
			return s.add(renamed, k)
		case c.leaf:
			// A struct where a leaf exists: flatten the rest of the key.
			renamed := strings.Join(segs[:i], ".")
			if renamed != "" {
				renamed += "."
			}
			renamed += strings.Join(segs[i:], "_")
			s.paths[key] = renamed
			return s.add(renamed, k)
		}
		n = c
	}
	return key
}

// column returns the path an event key is written under (after add has seen it).
func (s *schema) column(key string) string {
	if p, ok := s.paths[key]; ok {
		return p
	}
	return key
}

// duckColumns renders the schema as DuckDB's read_json columns argument: {'a': 'TYPE', ...}.
func (s *schema) duckColumns() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, name := range sortedKeys(s.root.children) {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(sqlString(name))
		b.WriteString(": ")
		b.WriteString(sqlString(s.root.children[name].duckType()))
	}
	b.WriteByte('}')
	return b.String()
}

func (n *node) duckType() string {
	if n.leaf {
		if n.mixed {
			return "VARCHAR"
		}
		return duckKind(n.kind)
	}
	var b strings.Builder
	b.WriteString("STRUCT(")
	for i, name := range sortedKeys(n.children) {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteIdent(name))
		b.WriteByte(' ')
		b.WriteString(n.children[name].duckType())
	}
	b.WriteByte(')')
	return b.String()
}

// duckKind maps a value kind to its column type. Times are TIMESTAMP (UTC, microseconds), the
// type every Parquet reader agrees on; JSON stays text (DuckDB's JSON type is text with a label).
func duckKind(k event.Kind) string {
	switch k {
	case event.KindInt:
		return "BIGINT"
	case event.KindFloat:
		return "DOUBLE"
	case event.KindBool:
		return "BOOLEAN"
	case event.KindTime:
		return "TIMESTAMP"
	case event.KindStrings:
		return "VARCHAR[]"
	}
	return "VARCHAR"
}

func sortedKeys(m map[string]*node) []string {
	k := make([]string, 0, len(m))
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

// quoteIdent quotes a SQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// sqlString quotes a SQL string literal.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// partitionColumn reports whether a top-level name is one of the Hive partition columns.
func partitionColumn(name string) bool {
	switch strings.ToLower(name) {
	case "type", "date", "hour":
		return true
	}
	return false
}
