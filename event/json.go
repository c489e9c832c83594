package event

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// JSONOptions change how AppendJSONWith writes values, for consumers other than people (the lake).
type JSONOptions struct {
	// RawAsText writes KindJSON values as JSON strings holding their text, so that a reader with a
	// fixed schema sees one text column instead of an object of unknown shape.
	RawAsText bool
	// TimeLayout formats times (time.RFC3339Nano when empty).
	TimeLayout string
	// Extra fields, written as if they were the event's (partition columns).
	Extra []Field
}

// AppendJSON appends the event as one JSON object in ECS's nested form ({"source":{"ip":...}}), with
// keys in a fixed order, "@timestamp", "_id" (the stable id) and "event.original" included.
func (e *Event) AppendJSON(b []byte) []byte { return e.AppendJSONWith(b, nil) }

// AppendJSONWith is AppendJSON with options; nil options are AppendJSON's.
func (e *Event) AppendJSONWith(b []byte, opt *JSONOptions) []byte {
	var stack [64]Field
	fs := stack[:0]
	if !e.Timestamp.IsZero() {
		fs = append(fs, Field{"@timestamp", Time(e.Timestamp)})
	}
	if e.ID != "" {
		fs = append(fs, Field{"_id", String(e.ID)})
	}
	fs = append(fs, e.Fields...)
	if e.Original != "" {
		fs = append(fs, Field{"event.original", String(e.Original)})
	}
	if opt != nil {
		fs = append(fs, opt.Extra...)
	}
	var ord [64]int32
	return appendNested(b, fs, SortedOrder(fs, ord[:0]), opt)
}

// SortedOrder appends to order the indexes of fs in CompareKeys order and returns it. Sorting
// indexes rather than the fields themselves moves no pointers, which the garbage collector would
// otherwise have to watch with write barriers.
func SortedOrder(fs []Field, order []int32) []int32 {
	for i := range fs {
		order = append(order, int32(i))
	}
	slices.SortFunc(order, func(a, b int32) int { return CompareKeys(fs[a].Key, fs[b].Key) })
	return order
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (e *Event) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil), nil }

// CompareKeys orders dotted keys segment by segment, so that every key under "a.b" sorts together
// (plain byte order would put "a.b-x" between "a.b" and "a.b.c").
func CompareKeys(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if x == '.' {
			return -1
		}
		if y == '.' {
			return 1
		}
		if x < y {
			return -1
		}
		return 1
	}
	return len(a) - len(b)
}

// appendNested writes fields sorted by CompareKeys as nested objects. A leaf that is also the parent
// of another key ("a.b" and "a.b.c") keeps the deeper keys flat under its parent ("b.c") rather than
// producing a duplicate JSON key.
func appendNested(b []byte, fs []Field, order []int32, opt *JSONOptions) []byte {
	// Stacks on the stack for the usual depths: serializing an event allocates nothing of its own.
	var openBuf [16]string
	var leafBuf [17]string
	open := openBuf[:0]               // segments of the objects currently open
	leaves := append(leafBuf[:0], "") // per open depth, the last leaf name written there
	b = append(b, '{')
	first := true
	for n := range order {
		f := &fs[order[n]]
		key := f.Key
		last := strings.LastIndexByte(key, '.')
		// The parents are the segments of key[:last]; pos walks them.
		pos, common := 0, 0
		for last >= 0 && pos <= last && common < len(open) {
			seg, next := segment(key, pos, last)
			if open[common] != seg {
				break
			}
			common++
			pos = next
		}
		for len(open) > common {
			b = append(b, '}')
			open = open[:len(open)-1]
			leaves = leaves[:len(leaves)-1]
			first = false
		}
		name := ""
		for last >= 0 && pos <= last {
			seg, next := segment(key, pos, last)
			if seg == leaves[len(leaves)-1] {
				// The parent exists as a leaf here: write the rest of the key flat.
				name = key[pos:]
				break
			}
			if !first {
				b = append(b, ',')
			}
			b = appendString(b, seg)
			b = append(b, ':', '{')
			open = append(open, seg)
			leaves = append(leaves, "")
			first = true
			pos = next
		}
		if name == "" {
			name = key[last+1:]
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, name)
		b = append(b, ':')
		switch {
		case opt != nil && opt.RawAsText && f.Value.kind == KindJSON:
			b = appendString(b, f.Value.text())
		case opt != nil && opt.TimeLayout != "" && f.Value.kind == KindTime:
			b = append(b, '"')
			b = f.Value.Time().AppendFormat(b, opt.TimeLayout)
			b = append(b, '"')
		default:
			b = appendJSON(b, f.Value)
		}
		leaves[len(leaves)-1] = name
	}
	for range open {
		b = append(b, '}')
	}
	return append(b, '}')
}

// segment returns the parent segment of key starting at pos (parents end at index last, the last
// dot) and the position after it.
func segment(key string, pos, last int) (string, int) {
	e := strings.IndexByte(key[pos:last], '.')
	if e < 0 {
		return key[pos:last], last + 1
	}
	return key[pos : pos+e], pos + e + 1
}

// AppendFields appends fields, taken in the given order (which must be CompareKeys order, see
// SortedOrder), as one nested JSON object the way AppendJSONWith writes an event: for writers that
// keep the order of recurring field sets (the lake).
func AppendFields(b []byte, fs []Field, order []int32, opt *JSONOptions) []byte {
	return appendNested(b, fs, order, opt)
}

func appendJSON(b []byte, v Value) []byte {
	switch v.kind {
	case KindString:
		return appendString(b, v.text())
	case KindJSON:
		return append(b, v.text()...)
	case KindInt:
		return strconv.AppendInt(b, int64(v.n), 10)
	case KindFloat:
		f := math.Float64frombits(v.n)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return append(b, "null"...)
		}
		return strconv.AppendFloat(b, f, 'f', -1, 64)
	case KindBool:
		return strconv.AppendBool(b, v.n != 0)
	case KindTime:
		b = append(b, '"')
		b = v.Time().AppendFormat(b, time.RFC3339Nano)
		return append(b, '"')
	case KindStrings:
		b = append(b, '[')
		for i, s := range v.List() {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		return append(b, ']')
	}
	return append(b, "null"...)
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string. Invalid UTF-8 becomes U+FFFD; '<', '>' and '&' are escaped
// so that log text pasted into a web page can never close a tag.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
