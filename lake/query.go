package lake

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Common are the top-level ECS columns the events view keeps from every type (when present).
var Common = []string{"event", "source", "destination", "user", "user_agent", "cloud", "network", "url", "http", "dns", "rule", "related", "log", "tls", "error", "message"}

// QueryOptions narrow what queries see.
type QueryOptions struct {
	// Since, when set, limits every view to events at or after it: whole partitions before it are
	// never read, and row groups before it are skipped by their statistics.
	Since time.Time
}

// Views (re)creates the SQL views over the lake's current files: one per log type, "events" over all
// of them with the common ECS columns, and "rejected" over the dead letters. It returns the view
// names. Queries see the files present when the views were made.
func (l *Lake) Views(ctx context.Context, opt QueryOptions) ([]string, error) {
	types, err := l.Types()
	if err != nil {
		return nil, err
	}
	filter := ""
	if !opt.Since.IsZero() {
		s := opt.Since.UTC()
		filter = fmt.Sprintf(` WHERE date >= DATE '%s' AND "@timestamp" >= TIMESTAMP '%s'`, s.Format("2006-01-02"), s.Format("2006-01-02 15:04:05.999999"))
	}
	var names []string
	for _, t := range types {
		files, _ := filepath.Glob(l.partitionGlob(t))
		if len(files) == 0 {
			continue
		}
		q := fmt.Sprintf(`CREATE OR REPLACE VIEW %s AS SELECT * FROM read_parquet(%s, hive_partitioning = true, union_by_name = true, hive_types = {'date': DATE, 'hour': INTEGER})%s`,
			quoteIdent(t), sqlString(l.partitionGlob(t)), filter)
		if _, err := l.db.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("view %s: %w", t, err)
		}
		names = append(names, t)
	}
	// events: the common columns of all types.
	all := l.partitionGlob("*")
	if files, _ := filepath.Glob(all); len(files) > 0 {
		src := fmt.Sprintf(`read_parquet(%s, hive_partitioning = true, union_by_name = true, hive_types = {'date': DATE, 'hour': INTEGER})`, sqlString(all))
		have := map[string]bool{}
		rows, err := l.db.QueryContext(ctx, "DESCRIBE SELECT * FROM "+src)
		if err != nil {
			return nil, fmt.Errorf("view events: %w", err)
		}
		for rows.Next() {
			var name, typ string
			var null, key, def, extra sql.NullString
			if err := rows.Scan(&name, &typ, &null, &key, &def, &extra); err != nil {
				rows.Close()
				return nil, err
			}
			have[name] = true
		}
		rows.Close()
		cols := []string{`"@timestamp"`, "_id", "type", "date", "hour"}
		for _, c := range Common {
			if have[c] {
				cols = append(cols, quoteIdent(c))
			}
		}
		// Alerts live in the lake as their own type, but they are not log events.
		where := " WHERE type <> 'alerts'"
		if filter != "" {
			where = filter + " AND type <> 'alerts'"
		}
		q := fmt.Sprintf("CREATE OR REPLACE VIEW events AS SELECT %s FROM %s%s", strings.Join(cols, ", "), src, where)
		if _, err := l.db.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("view events: %w", err)
		}
		names = append(names, "events")
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
// is read as the caller scans it. The caller closes the rows.
func (l *Lake) Query(ctx context.Context, query string, opt QueryOptions) (*sql.Rows, error) {
	if _, err := l.Views(ctx, opt); err != nil {
		return nil, err
	}
	rows, err := l.db.QueryContext(ctx, query)
	if err != nil {
		return nil, &QueryError{Err: err, Query: query}
	}
	return rows, nil
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
	msg := e.Err.Error()
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
