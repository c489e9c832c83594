package lake

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unsafe"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/ramen-siem/ramen/event"
)

// The original record (event.original) is most of what a lake holds, and much of its text is also
// in the event's columns: ids, names, addresses, keys, the free-form JSON parts. Stored whole beside
// those columns, every such value is stored twice, and the random ones (request and event ids,
// access keys, object keys) do not compress: on CloudTrail, the copies alone kept the lake at 1.8
// times the size of AWS's gzip files.
//
// So a file keeps the original record as a template, in the top-level column _original: the
// record's bytes, with each value that a text column of the same row holds byte for byte replaced
// by a reference to that column:
//
//	0x01 <column path, dotted> 0x02
//
// and a 0x01 byte of the record itself written 0x01 0x02 (a reference with an empty path). The
// views put event.original back together from it, byte for byte (originalUDF); docs/lake.md gives
// SQL for other engines (originalSQL). Each value is then stored once, in its typed column.
//
// Which values can be referenced costs nothing to find: parsers hand out a record's strings as
// substrings of Original (jsonrec, the line parsers' fields), so a value whose bytes lie inside
// Original is a piece of it, at a known offset.

// minRef is the shortest value referenced: a reference costs its path in the template, and a value
// of a byte or two is cheaper left where it is.
const minRef = 3

// ref is a span of the original record held by a text column of the same row.
type ref struct {
	off, end int
	path     string
}

// refOf returns the span of orig that s is, if s is a substring of orig's memory.
func refOf(orig, s string) (off int, ok bool) {
	if len(s) < minRef || len(s) > len(orig) {
		return 0, false
	}
	base := uintptr(unsafe.Pointer(unsafe.StringData(orig)))
	p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	if p < base || p-base > uintptr(len(orig)-len(s)) {
		return 0, false
	}
	return int(p - base), true
}

// referable reports whether a column's path can be written in a template: it must not hold the
// template's own delimiters (paths come from field keys, and some types take keys from the logs).
func referable(path string) bool {
	return path != "" && !strings.ContainsAny(path, "\x01\x02")
}

// appendTemplate appends the template of orig to b: each span of refs (in any order) is replaced
// by a reference to its column; a span that overlaps one before it stays text.
func appendTemplate(b []byte, orig string, refs []ref) []byte {
	// Insertion sort: a record has a few dozen references at most, mostly in order already.
	for i := 1; i < len(refs); i++ {
		for j := i; j > 0 && refs[j].off < refs[j-1].off; j-- {
			refs[j], refs[j-1] = refs[j-1], refs[j]
		}
	}
	at := 0
	for _, r := range refs {
		if r.off < at {
			continue
		}
		b = appendEscaped(b, orig[at:r.off])
		b = append(b, 1)
		b = append(b, r.path...)
		b = append(b, 2)
		at = r.end
	}
	return appendEscaped(b, orig[at:])
}

// appendEscaped appends s with each 0x01 written 0x01 0x02.
func appendEscaped(b []byte, s string) []byte {
	for {
		i := strings.IndexByte(s, 1)
		if i < 0 {
			return append(b, s...)
		}
		b = append(b, s[:i+1]...)
		b = append(b, 2)
		s = s[i+1:]
	}
}

// rebuildOriginal puts a record back together from its template and the row's values (by column
// path). The views' function (originalUDF) is this; originalSQL does the same in SQL.
func rebuildOriginal(tmpl string, value func(path string) (string, bool)) (string, error) {
	var b strings.Builder
	b.Grow(len(tmpl) * 2)
	head, rest, found := strings.Cut(tmpl, "\x01")
	b.WriteString(head)
	for found {
		var part string
		part, rest, found = strings.Cut(rest, "\x01")
		path, text, ok := strings.Cut(part, "\x02")
		if !ok {
			return "", errors.New("template: a reference without its end")
		}
		if path == "" {
			b.WriteByte(1)
		} else if v, ok := value(path); ok {
			b.WriteString(v)
		} else {
			return "", fmt.Errorf("template: no value for column %s", path)
		}
		b.WriteString(text)
	}
	return b.String(), nil
}

// addOriginal adds a row's template to the _original column.
func (a *Appender) addOriginal(c *column, row int32, orig string, refs []ref) {
	a.tmpl = appendTemplate(a.tmpl[:0], orig, refs)
	c.add(row, event.String(bytesString(a.tmpl)))
}

// needsOriginals reports whether a query may read event.original: it names "original" (other
// than user_agent.original, url.original and the _original column), selects a star (SELECT *,
// t.*; not count(*)), or lists a view's columns (DESCRIBE). Only then do the views have the event.original column: a view's column is
// not computed when no query reads it, but the views' DESCRIBE, which finds the columns a template
// can name, is not free on thousands of files. A false positive only costs that.
func needsOriginals(query string) bool {
	q := strings.ToLower(query)
	// DESCRIBE (and SHOW, SUMMARIZE) list a view's columns: event.original is one of them.
	if f := strings.Fields(q); len(f) > 0 && (f[0] == "describe" || f[0] == "show" || f[0] == "summarize") {
		return true
	}
	for i := 0; ; {
		k := strings.Index(q[i:], "original")
		if k < 0 {
			break
		}
		a := i + k
		i = a + len("original")
		if a > 0 && isIdent(q[a-1]) {
			continue // _original, or a longer name
		}
		// The struct it is a field of, if it is written as one: skip quotes and spaces to a dot,
		// then to the name before it.
		j := a - 1
		for j >= 0 && (q[j] == '"' || isSpace(q[j])) {
			j--
		}
		if j >= 0 && q[j] == '.' {
			j--
			for j >= 0 && (q[j] == '"' || isSpace(q[j])) {
				j--
			}
			end := j + 1
			for j >= 0 && isIdent(q[j]) {
				j--
			}
			if p := q[j+1 : end]; p == "user_agent" || p == "url" {
				continue
			}
		}
		return true
	}
	for i := 0; i < len(q); i++ {
		if q[i] != '*' {
			continue
		}
		j := i - 1
		for j >= 0 && isSpace(q[j]) {
			j--
		}
		if j < 0 || q[j] != '(' {
			return true
		}
	}
	return false
}

// originalColumn is the name of the views' column of the rebuilt record. It is a top-level
// column, not a field of the event struct: DuckDB computes a view's struct column whole, for every
// row a filter looks at, so a rebuilt event.original inside the struct made every query on any
// event.* field rebuild every record it read (a count by event.action over 2M rows: 1 s, not
// 0.05 s; a lookup of one event by event.id: the same). A top-level column is computed only when
// a query selects it, and only for the rows that pass its filters.
const originalColumn = "event.original"

// rewriteOriginal makes a query's event.original (bare or quoted, with or without a table before
// it) the views' "event.original" column, outside string literals and comments, so that users
// write the ECS name as they write every other.
func rewriteOriginal(query string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(query); {
		switch c := query[i]; {
		case c == '\'':
			i = skipQuoted(query, i, '\'')
		case c == '-' && strings.HasPrefix(query[i:], "--"):
			if k := strings.IndexByte(query[i:], '\n'); k >= 0 {
				i += k + 1
			} else {
				i = len(query)
			}
		case c == '/' && strings.HasPrefix(query[i:], "/*"):
			if k := strings.Index(query[i+2:], "*/"); k >= 0 {
				i += k + 4
			} else {
				i = len(query)
			}
		case c == '"' || isIdent(c):
			name, j := identAt(query, i)
			if !strings.EqualFold(name, "event") || i > 0 && isIdent(query[i-1]) {
				i = max(j, i+1)
				continue
			}
			k := j
			for k < len(query) && isSpace(query[k]) {
				k++
			}
			if k >= len(query) || query[k] != '.' {
				i = j
				continue
			}
			k++
			for k < len(query) && isSpace(query[k]) {
				k++
			}
			field, end := identAt(query, k)
			if !strings.EqualFold(field, "original") || end < len(query) && isIdent(query[end]) {
				i = j
				continue
			}
			b.WriteString(query[last:i])
			b.WriteString(quoteIdent(originalColumn))
			last, i = end, end
		default:
			i++
		}
	}
	if last == 0 {
		return query
	}
	b.WriteString(query[last:])
	return b.String()
}

// skipQuoted returns the index after the quoted text that starts at i (” or "" inside it is the
// quote itself).
func skipQuoted(s string, i int, q byte) int {
	for j := i + 1; j < len(s); j++ {
		if s[j] == q {
			if j+1 < len(s) && s[j+1] == q {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(s)
}

// identAt reads the identifier at i, bare or double-quoted, and returns it (unquoted, as written)
// and the index after it; a bare identifier is letters, digits and '_'.
func identAt(s string, i int) (string, int) {
	if i >= len(s) {
		return "", i
	}
	if s[i] == '"' {
		end := skipQuoted(s, i, '"')
		if end-1 <= i+1 || s[end-1] != '"' {
			return "", end
		}
		return strings.ReplaceAll(s[i+1:end-1], `""`, `"`), end
	}
	j := i
	for j < len(s) && isIdent(s[j]) {
		j++
	}
	return s[i:j], j
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// textLeaves appends the dotted paths of the VARCHAR leaves of a column (path) of DuckDB type typ,
// as DESCRIBE writes it: STRUCT(id VARCHAR, "type" VARCHAR[], ...).
func textLeaves(out []string, path string, typ string) []string {
	typ = strings.TrimSpace(typ)
	if typ == "VARCHAR" {
		return append(out, path)
	}
	if !strings.HasPrefix(typ, "STRUCT(") || !strings.HasSuffix(typ, ")") {
		return out
	}
	for _, item := range splitTop(typ[len("STRUCT(") : len(typ)-1]) {
		name, rest := cutName(strings.TrimSpace(item))
		out = textLeaves(out, path+"."+name, rest)
	}
	return out
}

// splitTop splits s at the commas outside parentheses and quotes.
func splitTop(s string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			quoted = !quoted // "" inside a quoted name toggles twice
		case quoted:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == ',' && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// cutName splits a struct item into its field name (unquoted) and its type.
func cutName(item string) (name, typ string) {
	if !strings.HasPrefix(item, `"`) {
		name, typ, _ = strings.Cut(item, " ")
		return name, typ
	}
	var b strings.Builder
	for i := 1; i < len(item); i++ {
		if item[i] == '"' {
			if i+1 < len(item) && item[i+1] == '"' {
				b.WriteByte('"')
				i++
				continue
			}
			return b.String(), item[i+1:]
		}
		b.WriteByte(item[i])
	}
	return b.String(), ""
}

// sqlPath is a dotted column path as SQL: each part quoted.
func sqlPath(path string) string {
	parts := strings.Split(path, ".")
	for i, p := range parts {
		parts[i] = quoteIdent(p)
	}
	return strings.Join(parts, ".")
}

// originalSQL is SQL that rebuilds event.original from _original and the text columns
// (dotted paths) that a template can reference: the template is split at its 0x01 bytes, and
// each part after the first starts with a column path, ended by 0x02, whose value takes its place.
// A path the row has no column for is an error, never a record silently rebuilt wrong.
func originalSQL(textCols []string) string {
	var cases strings.Builder
	cases.WriteString(`CASE split_part(_ramen_part, chr(2), 1) WHEN '' THEN chr(1)`)
	for _, c := range textCols {
		if c == "_original" || !referable(c) {
			continue
		}
		fmt.Fprintf(&cases, " WHEN %s THEN %s", sqlString(c), sqlPath(c))
	}
	cases.WriteString(` ELSE error('event.original: the template names a column the row does not have: ' || split_part(_ramen_part, chr(2), 1)) END`)
	return `array_to_string(list_transform(string_split(_original, chr(1)), (_ramen_part, _ramen_i) -> ` +
		`CASE WHEN _ramen_i = 1 THEN _ramen_part ELSE (` + cases.String() + `) || substr(_ramen_part, strpos(_ramen_part, chr(2)) + 1) END), '')`
}

// column is a column of a view's source, as DESCRIBE gives it.
type sourceColumn struct{ name, typ string }

// describe returns the columns of a FROM expression.
func (l *Lake) describe(ctx context.Context, src string) ([]sourceColumn, error) {
	rows, err := l.db.QueryContext(ctx, "DESCRIBE SELECT * FROM "+src)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []sourceColumn
	for rows.Next() {
		var name, typ string
		var null, key, def, extra sql.NullString
		if err := rows.Scan(&name, &typ, &null, &key, &def, &extra); err != nil {
			return nil, err
		}
		out = append(out, sourceColumn{name, typ})
	}
	return out, rows.Err()
}

// originalSelect returns the SQL of the "event.original" column over a source of columns cols:
// rebuilt from _original, or taken from the event struct of files written before templates (a
// source can hold files of both kinds), or NULL when the source has neither.
func (l *Lake) originalSelect(cols []sourceColumn) (string, error) {
	var text []string
	tmpl := false
	for _, c := range cols {
		if c.name == "_original" {
			tmpl = true
		}
		text = textLeaves(text, c.name, c.typ)
	}
	old := slices.Contains(text, "event.original")
	var expr string
	switch {
	case tmpl:
		call, err := l.originalFunc(text)
		if err != nil {
			return "", err
		}
		expr = call
		if old {
			expr = `coalesce("event".original, ` + expr + `)`
		}
	case old:
		expr = `"event".original`
	default:
		expr = "NULL::VARCHAR"
	}
	return expr + " AS " + quoteIdent(originalColumn), nil
}

// The views rebuild records with a function of ramen's own, not with SQL: the SQL that does it
// (originalSQL, given in docs/lake.md for other engines) looks each reference up among every text
// column, and on 200,000 CloudTrail records it took 5.5 s, against 2.1 s for the function (and
// 0.2 s to read records stored whole: rebuilding is the price of storing each value once). The
// function is registered once per set of columns (a view's), which it knows by position.

// originalUDF rebuilds records from their templates. Its arguments are _original and the row's
// values of the columns it was made for, in order.
type originalUDF struct {
	index map[string]int
}

func (f *originalUDF) Config() duckdb.ScalarFuncConfig {
	text, _ := duckdb.NewTypeInfo(duckdb.TYPE_VARCHAR)
	return duckdb.ScalarFuncConfig{
		InputTypeInfos:      []duckdb.TypeInfo{text},
		VariadicTypeInfo:    text,
		ResultTypeInfo:      text,
		SpecialNullHandling: true, // a row has NULL in the columns it lacks
	}
}

func (f *originalUDF) Executor() duckdb.ScalarFuncExecutor {
	return duckdb.ScalarFuncExecutor{RowExecutor: func(values []driver.Value) (any, error) {
		tmpl, ok := values[0].(string)
		if !ok {
			return nil, nil
		}
		return rebuildOriginal(tmpl, func(path string) (string, bool) {
			i, ok := f.index[path]
			if !ok {
				return "", false
			}
			v, ok := values[1+i].(string)
			return v, ok
		})
	}}
}

// originalFunc returns the SQL call that rebuilds a row's record over the text columns paths,
// registering its function if needed.
func (l *Lake) originalFunc(paths []string) (string, error) {
	var keep []string
	for _, p := range paths {
		if p != "_original" && p != "event.original" && referable(p) {
			keep = append(keep, p)
		}
	}
	sum := sha256.Sum256([]byte(strings.Join(keep, "\x00")))
	name := "ramen_original_" + hex.EncodeToString(sum[:8])
	args := make([]string, len(keep))
	for i, p := range keep {
		args[i] = sqlPath(p)
	}
	call := name + "(" + strings.Join(append([]string{"_original"}, args...), ", ") + ")"
	l.udfMu.Lock()
	defer l.udfMu.Unlock()
	if l.udfs[name] {
		return call, nil
	}
	f := &originalUDF{index: make(map[string]int, len(keep))}
	for i, p := range keep {
		f.index[p] = i
	}
	conn, err := l.db.Conn(context.Background())
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := duckdb.RegisterScalarUDF(conn, name, f); err != nil {
		return "", fmt.Errorf("function %s: %w", name, err)
	}
	if l.udfs == nil {
		l.udfs = map[string]bool{}
	}
	l.udfs[name] = true
	return call, nil
}

// hasColumn reports whether a source has a top-level column.
func hasColumn(cols []sourceColumn, name string) bool {
	return slices.ContainsFunc(cols, func(c sourceColumn) bool { return c.name == name })
}
