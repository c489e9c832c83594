package main

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/ramen-siem/ramen/lake"
)

func init() {
	commands["query"] = command{"run SQL over the lake (views: one per log type, events, rejected)", runQuery}
}

func runQuery(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("query", "[--data DIR|s3://bucket/prefix] [--format table|csv|json|ndjson] [--since 24h|DATE] [--until DATE] SQL", stderr)
	df := addDataFlags(fs, nil, nil)
	format := fs.String("format", "table", "output `format`: table, csv, json or ndjson")
	since := fs.String("since", "", "only events of the last `DURATION` (e.g. 24h, 7d, 90m) or from a `TIME` (2026-03-15 or RFC 3339): other days' files are not read")
	until := fs.String("until", "", "only events before `TIME` (2026-03-16 or RFC 3339)")
	maxWidth := fs.Int("width", 60, "table format: cut cells to `N` characters (0: no limit)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return &exitError{code: 1}
	}
	if len(pos) == 0 {
		fs.Usage()
		return &exitError{code: 1, err: errors.New(`no SQL given, e.g. ramen query 'SELECT event.action, count(*) FROM cloudtrail GROUP BY 1 ORDER BY 2 DESC'`)}
	}
	query := strings.Join(pos, " ")
	var opt lake.QueryOptions
	if *since != "" {
		t, err := parseWhen(*since, true)
		if err != nil {
			return &exitError{code: 1, err: err}
		}
		opt.Since = t
	}
	if *until != "" {
		t, err := parseWhen(*until, false)
		if err != nil {
			return &exitError{code: 1, err: err}
		}
		opt.Until = t
	}
	switch *format {
	case "table", "csv", "json", "ndjson":
	default:
		return &exitError{code: 1, err: fmt.Errorf("unknown --format %q: use table, csv, json or ndjson", *format)}
	}
	l, err := df.open(ctx, true)
	if err != nil {
		return err
	}
	defer l.Close()
	rows, err := l.Query(ctx, query, opt)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	defer rows.Close()
	return writeRows(rows, *format, *maxWidth, stdout)
}

// parseWhen reads a point in time: a date (2026-03-15, midnight UTC), an RFC 3339 time, or, when
// ago is true, a duration back from now (24h, 7d).
func parseWhen(s string, ago bool) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if ago {
		d, err := parseAge(s)
		if err != nil {
			return time.Time{}, fmt.Errorf("bad time %q: use a duration (24h, 7d), a date (2026-03-15) or an RFC 3339 time", s)
		}
		return time.Now().Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("bad time %q: use a date (2026-03-16) or an RFC 3339 time", s)
}

// parseAge reads a duration with a day unit too: 90m, 24h, 7d, 1d12h.
func parseAge(s string) (time.Duration, error) {
	days := time.Duration(0)
	if i := strings.IndexByte(s, 'd'); i > 0 {
		var n int
		if _, err := fmt.Sscanf(s[:i], "%d", &n); err != nil {
			return 0, fmt.Errorf("bad duration %q: use e.g. 90m, 24h, 7d", s)
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q: use e.g. 90m, 24h, 7d", s)
	}
	return days + d, nil
}

// writeRows streams a result in the chosen format. Only the table format holds rows back, a block
// at a time, to align its columns.
func writeRows(rows *sql.Rows, format string, maxWidth int, w io.Writer) error {
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var (
		tw    *tabwriter.Writer
		cw    *csv.Writer
		first = true
		n     int
	)
	switch format {
	case "table":
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	case "csv":
		cw = csv.NewWriter(w)
		cw.Write(cols)
	case "json":
		io.WriteString(w, "[")
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		n++
		switch format {
		case "table":
			cells := make([]string, len(vals))
			for i, v := range vals {
				cells[i] = cut(cellText(v), maxWidth)
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
			if n%1000 == 0 {
				tw.Flush()
			}
		case "csv":
			rec := make([]string, len(vals))
			for i, v := range vals {
				rec[i] = cellText(v)
			}
			cw.Write(rec)
		case "json", "ndjson":
			if format == "json" && !first {
				io.WriteString(w, ",")
			}
			first = false
			b, err := json.Marshal(rowObject(cols, vals))
			if err != nil {
				return err
			}
			w.Write(b)
			if format == "ndjson" {
				io.WriteString(w, "\n")
			}
		}
	}
	if err := rows.Err(); err != nil {
		return &exitError{code: 1, err: &lake.QueryError{Err: err}}
	}
	switch format {
	case "table":
		return tw.Flush()
	case "csv":
		cw.Flush()
		return cw.Error()
	case "json":
		_, err := io.WriteString(w, "]\n")
		return err
	}
	return nil
}

// rowObject keeps column order in JSON output.
type orderedRow struct {
	cols []string
	vals []any
}

func rowObject(cols []string, vals []any) orderedRow { return orderedRow{cols, vals} }

// The views' column "event.original" is written where ECS JSON has it: as the original field of
// the event object (the row's event column when it has one), so that .event.original reads it as
// it reads every ECS document's.
func (r orderedRow) MarshalJSON() ([]byte, error) {
	orig, ev := slices.Index(r.cols, "event.original"), slices.Index(r.cols, "event")
	var evMap map[string]any
	if orig >= 0 && ev >= 0 {
		evMap, _ = jsonValue(r.vals[ev]).(map[string]any)
		if evMap == nil && r.vals[ev] != nil {
			orig = -1 // an event column that is not a struct: leave both as they are
		}
	}
	b := []byte{'{'}
	for i, c := range r.cols {
		val := jsonValue(r.vals[i])
		switch {
		case i == orig && ev >= 0:
			continue // written into the event column
		case i == orig:
			c, val = "event", map[string]any{"original": val}
		case i == ev && orig >= 0:
			if evMap == nil {
				evMap = map[string]any{}
			}
			evMap["original"] = jsonValue(r.vals[orig])
			val = evMap
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		k, _ := json.Marshal(c)
		b = append(b, k...)
		b = append(b, ':')
		v, err := json.Marshal(val)
		if err != nil {
			return nil, err
		}
		b = append(b, v...)
	}
	return append(b, '}'), nil
}

// jsonValue converts what the driver returns into plain JSON values.
func jsonValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []byte:
		return string(x)
	case *big.Int:
		return x.String()
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = jsonValue(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = jsonValue(e)
		}
		return l
	}
	return v
}

// cellText renders a value for table and CSV output: text as is, NULL empty, nested values as JSON.
func cellText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []byte:
		return string(x)
	case map[string]any, []any:
		b, _ := json.Marshal(jsonValue(x))
		return string(b)
	}
	return fmt.Sprint(v)
}

// cut shortens s to n runes with an ellipsis, keeps it on one line, and shows control characters
// as escapes: log text is written by whoever sent the request, and must not be able to move the
// cursor or recolour the terminal of the person reading it (ESC sequences).
func cut(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", `\t`, "\x1b", `\e`).Replace(s))
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
