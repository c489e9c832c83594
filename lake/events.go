package lake

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/ramen-siem/ramen/event"
)

// Scan reads back the events of one log type, oldest first, as event.Events: _id, @timestamp,
// event.original and every stored column as its dotted field. It is how rules run over stored data
// (`ramen hunt`). Free-form JSON parts come back as text, the form they are stored in.
func (l *Lake) Scan(ctx context.Context, typ string, opt QueryOptions, fn func(*event.Event) error) (int, error) {
	if typ == "events" || typ == "rejected" {
		return 0, nil
	}
	// Only this type's view: the others, and events over every file, would be made for nothing.
	opt.Only = []string{typ}
	// The records are rebuilt here from their templates, not by the view's function: the row's
	// values are at hand already, and handing each to a function of DuckDB's costs more than the
	// rebuild itself.
	opt.Templates = true
	rows, err := l.queryViews(ctx, fmt.Sprintf(`SELECT * EXCLUDE (type, date, hour) FROM %s ORDER BY "@timestamp"`, quoteIdent(typ)), opt, typ)
	if err != nil || rows == nil { // rows == nil: no data of this type
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		e := event.New(typ, "", 48)
		tmpl, hasTmpl := "", false
		for i, c := range cols {
			switch c {
			case "_original":
				tmpl, hasTmpl = vals[i].(string)
			case "_id":
				e.ID, _ = vals[i].(string)
			case "_native_root":
				e.NativeRoot, _ = vals[i].(string)
			case "@timestamp":
				if t, ok := vals[i].(time.Time); ok {
					e.Timestamp = t.UTC()
				}
			default:
				addColumn(e, c, vals[i])
			}
		}
		if i := slices.IndexFunc(e.Fields, func(f event.Field) bool { return f.Key == "event.original" }); i >= 0 {
			e.Original = e.Fields[i].Value.Text() // a file written before templates
			removeField(e, "event.original")
		} else if hasTmpl {
			orig, err := rebuildOriginal(tmpl, func(path string) (string, bool) {
				if v, ok := e.Get(path); ok {
					return v.Text(), true
				}
				if path == "@timestamp" {
					return event.Time(e.Timestamp).Text(), true
				}
				// DuckDB reads a column "Message" of one file and "message" of another as one.
				for _, f := range e.Fields {
					if strings.EqualFold(f.Key, path) {
						return f.Value.Text(), true
					}
				}
				return "", false
			})
			if err != nil {
				return n, fmt.Errorf("event %s: %w", e.ID, err)
			}
			e.Original = orig
		}
		n++
		if err := fn(e); err != nil {
			return n, err
		}
	}
	return n, rows.Err()
}

// addColumn flattens a column value (a struct is a map) into dotted fields. NULLs are absent.
func addColumn(e *event.Event, key string, v any) {
	switch x := v.(type) {
	case nil:
	case map[string]any:
		for k, c := range x {
			addColumn(e, key+"."+k, c)
		}
	case string:
		e.Add(key, event.String(x))
	case []byte:
		e.Add(key, event.String(string(x)))
	case bool:
		e.Add(key, event.Bool(x))
	case int64:
		e.Add(key, event.Int(x))
	case int32:
		e.Add(key, event.Int(int64(x)))
	case int:
		e.Add(key, event.Int(int64(x)))
	case uint64:
		e.Add(key, event.Int(int64(x)))
	case float64:
		e.Add(key, event.Float(x))
	case float32:
		e.Add(key, event.Float(float64(x)))
	case *big.Int:
		e.Add(key, event.Int(x.Int64()))
	case time.Time:
		e.Add(key, event.Time(x))
	case []any:
		l := make([]string, 0, len(x))
		for _, el := range x {
			if el != nil {
				l = append(l, fmt.Sprint(el))
			}
		}
		e.Add(key, event.Strings(l...))
	default:
		e.Add(key, event.String(fmt.Sprint(x)))
	}
}

func removeField(e *event.Event, key string) {
	for i := range e.Fields {
		if e.Fields[i].Key == key {
			e.Fields = append(e.Fields[:i], e.Fields[i+1:]...)
			return
		}
	}
}
