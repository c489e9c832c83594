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
	"time"

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

// ref is a span of the original record held by a column of the same row: text, or a number or a
// time that the record wrote in form (event.Value.Written).
type ref struct {
	off, end int
	tok      string // the reference (refToken)
}

// refToken is the reference to a column path in a template: 0x01 path 0x02, with 0x03 and the
// form before the 0x02 for a time.
func refToken(path string, f event.Form) string {
	if f == event.FormNone || f == event.FormDecimal {
		return "\x01" + path + "\x02"
	}
	return "\x01" + path + "\x03" + string(rune(f)) + "\x02"
}

// refOf returns the span of orig that s is, if s is a substring of orig's memory.
func refOf(orig, s string) (off int, ok bool) {
	if len(s) < minRef {
		return 0, false
	}
	return event.PieceOf(orig, s)
}

// referable reports whether a column's path can be written in a template: it must not hold the
// template's own delimiters (paths come from field keys, and some types take keys from the logs).
func referable(path string) bool {
	if path == "" || strings.ContainsAny(path, "\x01\x02\x03") {
		return false
	}
	// The views' partition columns hide a file's own top-level column of that name (the writer
	// renames them; a file written before it did may have one).
	top, _, _ := strings.Cut(path, ".")
	return !partitionColumn(top)
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
	// A record with no 0x01 byte (nearly every one) needs no escaping: one scan for it, not one
	// per piece between references.
	escape := strings.IndexByte(orig, 1) >= 0
	at := 0
	for _, r := range refs {
		if r.off < at {
			continue
		}
		if escape {
			b = appendEscaped(b, orig[at:r.off])
		} else {
			b = append(b, orig[at:r.off]...)
		}
		b = append(b, r.tok...)
		at = r.end
	}
	if escape {
		return appendEscaped(b, orig[at:])
	}
	return append(b, orig[at:]...)
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
		path, form, formed := strings.Cut(path, "\x03")
		switch v, ok := value(path); {
		case path == "" && !formed:
			b.WriteByte(1)
		case !ok:
			return "", fmt.Errorf("template: no value for column %s", path)
		case formed:
			s, err := inForm(v, form)
			if err != nil {
				return "", fmt.Errorf("template: column %s: %w", path, err)
			}
			b.WriteString(s)
		default:
			b.WriteString(v)
		}
		b.WriteString(text)
	}
	return b.String(), nil
}

// inForm writes a time again as its record wrote it (a reference's form, after 0x03): v is the
// time as the reader has it, in RFC 3339 (an event's text) or as DuckDB casts a TIMESTAMP to text.
func inForm(v, form string) (string, error) {
	f := event.FormNone
	if len(form) == 1 {
		f = event.Form(form[0])
	}
	if !f.IsTime() {
		return "", fmt.Errorf("unknown form %q (written by a newer ramen?)", form)
	}
	t, err := parseTimeText(v)
	if err != nil {
		return "", err
	}
	b := event.Time(t).AppendForm(nil, f)
	if len(b) == 0 {
		return "", fmt.Errorf("time %s cannot be written in form %q", v, form)
	}
	return string(b), nil
}

// parseTimeText reads a time written by event.Value.Text (RFC 3339) or by DuckDB's cast of a
// TIMESTAMP (or TIMESTAMPTZ, in UTC) to text.
func parseTimeText(s string) (time.Time, error) {
	for _, layout := range [...]string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02 15:04:05.999999999-07", "2006-01-02 15:04:05.999999999-07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a time: %q", s)
}

// addOriginal adds a row's template to the _original column.
func (a *Appender) addOriginal(c *column, row int32, orig string, refs []ref) {
	a.tmpl = appendTemplate(a.tmpl[:0], orig, refs)
	c.add(row, event.String(bytesString(a.tmpl)))
}

// originalColumn is the name of the views' column of the rebuilt record. It is a top-level
// column, not a field of the event struct: DuckDB computes a view's struct column whole, for every
// row a filter looks at, so a rebuilt event.original inside the struct made every query on any
// event.* field rebuild every record it read (a count by event.action over 2M rows: 1 s, not
// 0.05 s; a lookup of one event by event.id: the same). A top-level column is computed only when
// a query selects it, and only for the rows that pass its filters, so every view has it.
const originalColumn = "event.original"

// rewriteOriginal makes a query's event.original (bare or quoted, with or without a table before
// it) the views' "event.original" column, outside string literals and comments, so that users
// write the ECS name as they write every other.
func rewriteOriginal(query string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(query); {
		switch c := query[i]; {
		case c == '\'' && i > 0 && (query[i-1] == 'e' || query[i-1] == 'E') && (i == 1 || !isIdent(query[i-2])):
			i = skipEscaped(query, i) // E'...': backslash escapes
		case c == '\'':
			i = skipQuoted(query, i, '\'')
		case c == '$' && dollarTag(query[i:]) != "":
			tag := dollarTag(query[i:])
			if k := strings.Index(query[i+len(tag):], tag); k >= 0 {
				i += len(tag) + k + len(tag)
			} else {
				i = len(query)
			}
		case c == '-' && strings.HasPrefix(query[i:], "--"):
			if k := strings.IndexByte(query[i:], '\n'); k >= 0 {
				i += k + 1
			} else {
				i = len(query)
			}
		case c == '/' && strings.HasPrefix(query[i:], "/*"):
			i = skipComment(query, i)
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

// skipEscaped returns the index after the E'...' string whose quote is at i: a backslash escapes
// the byte after it, and ” is a quote.
func skipEscaped(s string, i int) int {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '\'':
			if j+1 < len(s) && s[j+1] == '\'' {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(s)
}

// dollarTag returns the $tag$ that opens a dollar-quoted string at the start of s, or "".
func dollarTag(s string) string {
	for j := 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '$':
			if j > 1 && s[1] >= '0' && s[1] <= '9' {
				return "" // $1: a parameter
			}
			return s[:j+1]
		case !isIdent(c):
			return ""
		}
	}
	return ""
}

// skipComment returns the index after the block comment at i; block comments nest.
func skipComment(s string, i int) int {
	depth := 0
	for j := i; j+1 < len(s); j++ {
		switch {
		case s[j] == '/' && s[j+1] == '*':
			depth++
			j++
		case s[j] == '*' && s[j+1] == '/':
			depth--
			j++
			if depth == 0 {
				return j + 1
			}
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

// leaf is a scalar column a template can reference: text, or a number or a time (forms).
type leaf struct {
	path string
	kind leafKind
}

type leafKind uint8

const (
	leafText leafKind = iota
	leafInt
	leafTime
)

// arg is the leaf's value as text, in SQL: a number in decimal, a time as DuckDB casts it.
func (f leaf) arg() string {
	if f.kind == leafText {
		return sqlPath(f.path)
	}
	return "CAST(" + sqlPath(f.path) + " AS VARCHAR)"
}

// leafKinds are the DuckDB types of the leaves templates can reference.
var leafKinds = map[string]leafKind{
	"VARCHAR": leafText,
	"BIGINT":  leafInt, "INTEGER": leafInt, "SMALLINT": leafInt, "TINYINT": leafInt, "HUGEINT": leafInt,
	"UBIGINT": leafInt, "UINTEGER": leafInt, "USMALLINT": leafInt, "UTINYINT": leafInt,
	"TIMESTAMP": leafTime, "TIMESTAMP WITH TIME ZONE": leafTime, "TIMESTAMP_NS": leafTime,
	"TIMESTAMP_MS": leafTime, "TIMESTAMP_S": leafTime,
}

// leaves appends the scalar leaves of a column (path) of DuckDB type typ, as DESCRIBE writes it:
// STRUCT(id VARCHAR, "type" VARCHAR[], n BIGINT, ...), that a template can reference.
func leaves(out []leaf, path string, typ string) []leaf {
	typ = strings.TrimSpace(typ)
	if k, ok := leafKinds[typ]; ok {
		return append(out, leaf{path, k})
	}
	if !strings.HasPrefix(typ, "STRUCT(") || !strings.HasSuffix(typ, ")") {
		return out
	}
	for _, item := range splitTop(typ[len("STRUCT(") : len(typ)-1]) {
		name, rest := cutName(strings.TrimSpace(item))
		out = leaves(out, path+"."+name, rest)
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

// formSQL writes a time (_ramen_v, as DuckDB casts a TIMESTAMP to text) in each of the forms of
// event.Form, as Value.AppendForm does. strftime pads %Y to four digits, %g to three and %f to six.
var formSQL = []struct {
	form event.Form
	sql  string
}{
	{event.FormUnix, `CAST(CAST(epoch(CAST(_ramen_v AS TIMESTAMP)) AS BIGINT) AS VARCHAR)`},
	{event.FormRFC3339, `strftime(CAST(_ramen_v AS TIMESTAMP), '%Y-%m-%dT%H:%M:%SZ')`},
	{event.FormRFC3339Milli, `strftime(CAST(_ramen_v AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S.%gZ')`},
	{event.FormRFC3339Micro, `strftime(CAST(_ramen_v AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S.%fZ')`},
	{event.FormDateTime, `strftime(CAST(_ramen_v AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S')`},
}

// originalSQL is SQL that rebuilds event.original from _original and the columns (leaves) that
// a template can reference: the template is split at its 0x01 bytes, and each part after the
// first starts with a column path, ended by 0x02, whose value as text takes its place; a path
// followed by 0x03 and a form (a time's, formSQL) takes the value written in that form. A path
// the row has no column for, or a form it does not know, is an error, never a record silently
// rebuilt wrong.
func originalSQL(cols []leaf) string {
	const ref = `split_part(_ramen_part, chr(2), 1)`
	var cases strings.Builder
	cases.WriteString(`CASE lower(split_part(` + ref + `, chr(3), 1)) WHEN '' THEN chr(1)`)
	for _, c := range cols {
		if c.path == "_original" || !referable(c.path) {
			continue
		}
		fmt.Fprintf(&cases, " WHEN %s THEN %s", sqlString(strings.ToLower(c.path)), c.arg())
	}
	cases.WriteString(` ELSE error('event.original: the template names a column the row does not have: ' || ` + ref + `) END`)
	// A form's letter is compared as it is: 's' and 'S' are two forms.
	var forms strings.Builder
	for _, f := range formSQL {
		fmt.Fprintf(&forms, " WHEN %s THEN %s", sqlString(string(rune(f.form))), f.sql)
	}
	// The value goes through a one-element list so that the form is applied to it without
	// writing the CASE above twice.
	formed := `list_transform([` + cases.String() + `], _ramen_v -> CASE split_part(` + ref + `, chr(3), 2)` +
		` WHEN '' THEN _ramen_v` + forms.String() +
		` ELSE error('event.original: a form this SQL does not know: ' || ` + ref + `) END)[1]`
	return `array_to_string(list_transform(string_split(_original, chr(1)), (_ramen_part, _ramen_i) -> ` +
		`CASE WHEN _ramen_i = 1 THEN _ramen_part ELSE ` + formed + ` || substr(_ramen_part, strpos(_ramen_part, chr(2)) + 1) END), '')`
}

// column is a column of a view's source, as DESCRIBE gives it.
type sourceColumn struct{ name, typ string }

// describe returns the columns of a FROM expression. The views are made again for every query, over
// files that rarely change between two queries, so the answer is kept by the expression (which
// names every file): binding thousands of files again cost a tenth of a count over them.
func (l *Lake) describe(ctx context.Context, src string) ([]sourceColumn, error) {
	key := sha256.Sum256([]byte(src))
	l.udfMu.Lock()
	cols, ok := l.described[key]
	l.udfMu.Unlock()
	if ok {
		return cols, nil
	}
	cols, err := l.describeNow(ctx, src)
	if err != nil {
		return nil, err
	}
	l.udfMu.Lock()
	if len(l.described) >= 64 {
		clear(l.described) // the file sets of the past: a fresh start costs one DESCRIBE each
	}
	if l.described == nil {
		l.described = map[[32]byte][]sourceColumn{}
	}
	l.described[key] = cols
	l.udfMu.Unlock()
	return cols, nil
}

func (l *Lake) describeNow(ctx context.Context, src string) ([]sourceColumn, error) {
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
func (l *Lake) originalSelect(ctx context.Context, cols []sourceColumn) (string, error) {
	var refs []leaf
	tmpl := false
	for _, c := range cols {
		if c.name == "_original" {
			tmpl = true
		}
		refs = leaves(refs, c.name, c.typ)
	}
	old := slices.Contains(refs, leaf{"event.original", leafText})
	var expr string
	switch {
	case tmpl:
		call, err := l.originalFunc(ctx, refs)
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
			// By name in any case: DuckDB reads a column "Message" of one file and "message" of
			// another as one column, with the first one's name.
			i, ok := f.index[strings.ToLower(path)]
			if !ok {
				return "", false
			}
			v, ok := values[1+i].(string)
			return v, ok
		})
	}}
}

// originalFunc returns the SQL call that rebuilds a row's record over the columns cols,
// registering its function if needed.
func (l *Lake) originalFunc(ctx context.Context, cols []leaf) (string, error) {
	var keep []leaf
	for _, c := range cols {
		if c.path != "_original" && c.path != "event.original" && referable(c.path) {
			keep = append(keep, c)
		}
	}
	args := make([]string, len(keep))
	for i, c := range keep {
		args[i] = c.arg()
	}
	sum := sha256.Sum256([]byte(strings.Join(args, "\x00")))
	name := "ramen_original_" + hex.EncodeToString(sum[:8])
	call := name + "(" + strings.Join(append([]string{"_original"}, args...), ", ") + ")"
	// One registration per name (DuckDB refuses a second), made outside udfMu: the connection may
	// be busy (a caller's rows still open), and waiting for it must not hold up other views.
	l.udfMu.Lock()
	reg, ok := l.udfs[name]
	if !ok {
		reg = &udfRegistration{done: make(chan struct{})}
		if l.udfs == nil {
			l.udfs = map[string]*udfRegistration{}
		}
		l.udfs[name] = reg
	}
	l.udfMu.Unlock()
	if ok {
		select {
		case <-reg.done:
			if reg.err != nil {
				return "", reg.err
			}
			return call, nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	f := &originalUDF{index: make(map[string]int, len(keep))}
	for i, c := range keep {
		f.index[strings.ToLower(c.path)] = i
	}
	reg.err = l.registerUDF(ctx, name, f)
	if reg.err != nil {
		l.udfMu.Lock()
		delete(l.udfs, name) // the next view tries again
		l.udfMu.Unlock()
	}
	close(reg.done)
	if reg.err != nil {
		return "", reg.err
	}
	return call, nil
}

// udfRegistration is a function's registration, done or under way.
type udfRegistration struct {
	done chan struct{} // closed when it is over
	err  error
}

func (l *Lake) registerUDF(ctx context.Context, name string, f duckdb.ScalarFunc) error {
	conn, err := l.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := duckdb.RegisterScalarUDF(conn, name, f); err != nil {
		return fmt.Errorf("function %s: %w", name, err)
	}
	return nil
}

// hasColumn reports whether a source has a top-level column.
func hasColumn(cols []sourceColumn, name string) bool {
	return slices.ContainsFunc(cols, func(c sourceColumn) bool { return c.name == name })
}
