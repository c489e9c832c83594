package lake

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Common are the top-level ECS columns the events view keeps from every type (when present).
var Common = []string{"event", "source", "destination", "user", "user_agent", "cloud", "network", "url", "http", "dns", "rule", "related", "log", "tls", "error", "message"}

// QueryOptions narrow what queries see.
type QueryOptions struct {
	// Since, when set, limits every view to events at or after it: the files of days before it are
	// not even opened, and row groups before it are skipped by their statistics.
	Since time.Time
	// Until, when set, limits every view to events before it, the same way.
	Until time.Time
	// Only, when set, names the views to make (Query sets it to the names its SQL mentions): making
	// a view reads the footer of every file it covers.
	Only []string
	// Templates makes views that keep each record's stored template (_original) instead of having
	// the "event.original" column, for a caller that rebuilds records itself (Scan); no events view.
	Templates bool
}

// wanted reports whether the view name is to be made.
func (o *QueryOptions) wanted(name string) bool {
	if o.Only == nil {
		return true
	}
	for _, n := range o.Only {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// mentioned returns the candidate view names that appear as words in a query.
func mentioned(query string, names []string) []string {
	q := strings.ToLower(query)
	out := []string{}
	for _, n := range names {
		for i := 0; ; {
			k := strings.Index(q[i:], strings.ToLower(n))
			if k < 0 {
				break
			}
			a, b := i+k, i+k+len(n)
			if (a == 0 || !isIdent(q[a-1])) && (b == len(q) || !isIdent(q[b])) {
				out = append(out, n)
				break
			}
			i = b
		}
	}
	return out
}

func isIdent(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// sources returns the event files of a type ("*" for all), in glob order: with a time range, only
// those of the days of the range, so that other days' files are never opened.
func (l *Lake) sources(typ string, since, until time.Time) []string {
	if since.IsZero() && until.IsZero() {
		files, _ := filepath.Glob(l.partitionGlob(typ))
		return files
	}
	first, last := "", "9999-12-31"
	if !since.IsZero() {
		first = since.UTC().Format("2006-01-02")
	}
	if !until.IsZero() {
		last = until.UTC().Add(-time.Nanosecond).Format("2006-01-02")
	}
	dirs, _ := filepath.Glob(filepath.Join(l.root, "type="+typ, "date=*"))
	var out []string
	for _, d := range dirs {
		if day := strings.TrimPrefix(filepath.Base(d), "date="); day < first || day > last {
			continue
		}
		files, _ := filepath.Glob(filepath.Join(d, "hour=*", "*.parquet"))
		out = append(out, files...)
	}
	return out
}

// Views (re)creates the SQL views over the lake's current files: one per log type, "events" over all
// of them with the common ECS columns, and "rejected" over the dead letters. It returns the view
// names. Queries see the files present when the views were made.
func (l *Lake) Views(ctx context.Context, opt QueryOptions) ([]string, error) {
	types, err := l.Types()
	if err != nil {
		return nil, err
	}
	var conds []string
	if !opt.Since.IsZero() {
		s := opt.Since.UTC()
		conds = append(conds, fmt.Sprintf(`date >= DATE '%s' AND "@timestamp" >= TIMESTAMP '%s'`, s.Format("2006-01-02"), s.Format("2006-01-02 15:04:05.999999")))
	}
	if !opt.Until.IsZero() {
		u := opt.Until.UTC()
		conds = append(conds, fmt.Sprintf(`date <= DATE '%s' AND "@timestamp" < TIMESTAMP '%s'`, u.Add(-time.Nanosecond).Format("2006-01-02"), u.Format("2006-01-02 15:04:05.999999")))
	}
	filter := ""
	if len(conds) > 0 {
		filter = " WHERE " + strings.Join(conds, " AND ")
	}
	var names []string
	// Each type's files, its FROM expression and its columns, made once for its view and the
	// events view.
	type source struct {
		src  string
		cols []sourceColumn
	}
	srcs := map[string]*source{}
	sourceOf := func(t string) (*source, error) {
		if s, ok := srcs[t]; ok {
			return s, nil
		}
		files := l.sources(t, opt.Since, opt.Until)
		if len(files) == 0 {
			// Nothing in range: the view still exists, over every file, and filters all out.
			files = l.sources(t, time.Time{}, time.Time{})
		}
		var s *source
		if len(files) > 0 {
			s = &source{src: l.parquetSource(files)}
			if !opt.Templates {
				cols, err := l.describe(ctx, s.src)
				if err != nil {
					return nil, err
				}
				s.cols = cols
			}
		}
		srcs[t] = s
		return s, nil
	}
	for _, t := range types {
		if !opt.wanted(t) {
			continue
		}
		s, err := sourceOf(t)
		if err != nil {
			return nil, fmt.Errorf("view %s: %w", t, err)
		}
		if s == nil {
			continue
		}
		sel := "*"
		if !opt.Templates {
			orig, err := l.originalSelect(ctx, s.cols)
			if err != nil {
				return nil, fmt.Errorf("view %s: %w", t, err)
			}
			sel = "*, " + orig
			if hasColumn(s.cols, "_original") {
				sel = "* EXCLUDE (_original), " + orig
			}
		}
		q := fmt.Sprintf(`CREATE OR REPLACE VIEW %s AS SELECT %s FROM %s%s`, quoteIdent(t), sel, s.src, filter)
		if _, err := l.db.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("view %s: %w", t, err)
		}
		names = append(names, t)
	}
	// events: the common columns of all types (alerts live in the lake as a type of their own, but
	// they are not log events), one SELECT per type joined by name: each type's record is rebuilt
	// from its own columns, and a column of one type never has to be read as another type's.
	if opt.wanted("events") && !opt.Templates {
		var sels []string
		for _, t := range types {
			if t == "alerts" {
				continue
			}
			s, err := sourceOf(t)
			if err != nil {
				return nil, fmt.Errorf("view events: %w", err)
			}
			if s == nil {
				continue
			}
			cols := []string{`"@timestamp"`, "_id", "type", "date", "hour"}
			for _, c := range Common {
				if hasColumn(s.cols, c) {
					cols = append(cols, quoteIdent(c))
				}
			}
			orig, err := l.originalSelect(ctx, s.cols)
			if err != nil {
				return nil, fmt.Errorf("view events: %w", err)
			}
			cols = append(cols, orig)
			sels = append(sels, fmt.Sprintf("SELECT %s FROM %s%s", strings.Join(cols, ", "), s.src, filter))
		}
		if len(sels) > 0 {
			q := "CREATE OR REPLACE VIEW events AS " + strings.Join(sels, " UNION ALL BY NAME ")
			if _, err := l.db.ExecContext(ctx, q); err != nil {
				return nil, fmt.Errorf("view events: %w", err)
			}
			names = append(names, "events")
		}
	}
	if !opt.wanted("rejected") {
		return names, nil
	}
	// rejected: the dead letters.
	rej := filepath.Join(l.root, "_rejected", "*.ndjson")
	cols := `{'object': 'VARCHAR', 'type': 'VARCHAR', 'line': 'BIGINT', 'record': 'BIGINT', 'offset': 'BIGINT', 'reason': 'VARCHAR', 'error': 'VARCHAR', 'raw': 'VARCHAR', 'batch': 'VARCHAR', 'at': 'TIMESTAMP'}`
	var q string
	if files, _ := filepath.Glob(rej); len(files) > 0 {
		q = fmt.Sprintf(`CREATE OR REPLACE VIEW rejected AS SELECT * FROM read_json(%s, format = 'newline_delimited', columns = %s)`, sqlString(rej), cols)
	} else {
		q = `CREATE OR REPLACE VIEW rejected AS SELECT NULL::VARCHAR AS object, NULL::VARCHAR AS type, NULL::BIGINT AS line, NULL::BIGINT AS record, NULL::BIGINT AS "offset", NULL::VARCHAR AS reason, NULL::VARCHAR AS error, NULL::VARCHAR AS raw, NULL::VARCHAR AS batch, NULL::TIMESTAMP AS at WHERE false`
	}
	if _, err := l.db.ExecContext(ctx, q); err != nil {
		return nil, fmt.Errorf("view rejected: %w", err)
	}
	names = append(names, "rejected")
	return names, nil
}

// Query runs SQL over the lake's views and returns the rows, streamed: a result larger than memory
// is read as the caller scans it. The caller closes the rows. On a lake on S3 it pulls what the
// query needs into the cache first (PullQuery).
func (l *Lake) Query(ctx context.Context, query string, opt QueryOptions) (*sql.Rows, error) {
	// A lake on S3: the files the query needs come into the cache first (remote.go).
	if _, err := l.PullQuery(ctx, query, opt); err != nil {
		return nil, err
	}
	if opt.Only == nil {
		types, err := l.Types()
		if err != nil {
			return nil, err
		}
		opt.Only = mentioned(query, append(types, "events", "rejected"))
		if len(opt.Only) == 0 {
			opt.Only = nil // SHOW TABLES, information_schema...: every view
		}
	}
	query = rewriteOriginal(query)
	rows, err := l.queryViews(ctx, query, opt, "")
	return rows, err
}

// viewsMade, when set, is called between making the views and querying them (for the tests).
var viewsMade func()

// queryViews makes the views and runs query over them. The views name their files (schemas.go):
// when a compaction or a prune replaces files between the listing and the query, DuckDB finds a
// file gone, and the views are made again over the files now there, once. With need set, a query
// whose view need could not be made (no data) is not run: no rows and no error.
func (l *Lake) queryViews(ctx context.Context, query string, opt QueryOptions, need string) (*sql.Rows, error) {
	gone := func(err error) bool { return strings.Contains(err.Error(), "No files found that match the pattern") }
	for attempt := 0; ; attempt++ {
		views, err := l.Views(ctx, opt)
		if err != nil {
			if attempt == 0 && gone(err) {
				continue
			}
			return nil, &QueryError{Err: err, Query: query} // a damaged file fails here: the hint says what to do
		}
		if need != "" && !slices.Contains(views, need) {
			return nil, nil
		}
		if viewsMade != nil {
			viewsMade()
		}
		rows, err := l.db.QueryContext(ctx, query)
		if err != nil {
			if attempt == 0 && gone(err) {
				continue
			}
			return nil, &QueryError{Err: err, Query: query}
		}
		return rows, nil
	}
}

// DB gives direct access to the lake's DuckDB connection, for callers that prepare statements
// (with parameters: never format untrusted values into SQL).
func (l *Lake) DB() *sql.DB { return l.db }

// QueryError is a SQL error with a hint for the common mistakes.
type QueryError struct {
	Err   error
	Query string
}

func (e *QueryError) Error() string {
	msg := clipMessage(e.Err.Error())
	if h := hint(msg); h != "" {
		msg += "\nhint: " + h
	}
	return msg
}

func (e *QueryError) Unwrap() error { return e.Err }

func hint(msg string) string {
	switch {
	case strings.Contains(msg, "Table with name") && strings.Contains(msg, "does not exist"):
		return "the views are named after the log types with data in the lake (see 'ramen query \"SHOW TABLES\"'), plus events and rejected"
	case strings.Contains(msg, `syntax error at or near "@"`):
		return `quote the time column: "@timestamp"`
	case strings.Contains(msg, "Parquet") && (strings.Contains(msg, "not valid UTF8") || strings.Contains(msg, "Decompression failure")),
		strings.Contains(msg, "No magic bytes found"), strings.Contains(msg, "Corrupt"), strings.Contains(msg, "corrupt"):
		return "a file of the lake is damaged: 'ramen lake check --full' finds it, '--repair' moves it aside and says which objects to ingest again"
	case strings.Contains(msg, `"original"`) && strings.Contains(msg, "struct"):
		return `the record is not a field of the event struct in ramen's views but a column of its own: write event.original (docs/lake.md, "The original record")`
	case strings.Contains(msg, "Referenced column") && strings.Contains(msg, "not found"),
		strings.Contains(msg, "Referenced table") && strings.Contains(msg, "not found"):
		return "ECS fields are nested columns (source.ip, event.action, user.name), present in a view only when its events have them; 'DESCRIBE <view>' lists them"
	}
	return ""
}

// Exists reports whether root holds a lake.
func Exists(root string) bool {
	_, err := os.Stat(filepath.Join(root, "_manifest"))
	return err == nil
}
