package event

import "github.com/valyala/fastjson"

// LookupAll resolves a dotted path against the original record like LookupNative, except that the
// path continues into every element of an array it meets: "resources.ARN" on
// {"resources":[{"ARN":"a"},{"ARN":"b"}]} yields both "a" and "b". Each value found is appended to
// dst, which is returned; nothing is appended when the path leads nowhere or the record is not JSON.
// A path that ends on an array yields the array itself (a list or JSON value, as FromJSON makes it).
func (e *Event) LookupAll(path string, dst []Value) []Value {
	e.once.Do(e.parseNative)
	if e.native == nil {
		return dst
	}
	v := e.native
	if e.NativeRoot != "" {
		if v = walk(v, e.NativeRoot); v == nil {
			return dst
		}
	}
	return walkAll(v, path, dst, 0)
}

// NativeText returns the original record as compact JSON text (original key order, no HTML
// escaping), below NativeRoot; for a record that is not JSON it returns Original.
func (e *Event) NativeText() string {
	e.once.Do(e.parseNative)
	if e.native == nil {
		return e.Original
	}
	v := e.native
	if e.NativeRoot != "" {
		if v = walk(v, e.NativeRoot); v == nil {
			return ""
		}
	}
	return v.String()
}

const maxArrayDepth = 16

func walkAll(v *fastjson.Value, path string, dst []Value, depth int) []Value {
	for path != "" {
		switch v.Type() {
		case fastjson.TypeArray:
			if depth >= maxArrayDepth {
				return dst
			}
			a, _ := v.Array()
			for _, x := range a {
				dst = walkAll(x, path, dst, depth+1)
			}
			return dst
		case fastjson.TypeObject:
		default:
			return dst
		}
		o, _ := v.Object()
		var next *fastjson.Value
		rest := ""
		for end := len(path); end > 0; {
			if c := o.Get(path[:end]); c != nil {
				next, rest = c, path[end:]
				break
			}
			end = lastDot(path[:end])
		}
		if next == nil {
			return dst
		}
		if rest != "" {
			rest = rest[1:]
		}
		v, path = next, rest
	}
	if v.Type() == fastjson.TypeNull {
		return dst
	}
	return append(dst, FromJSON(v))
}

// A Resolver looks paths up in the original records of events one event at a time, reusing one
// JSON parser: for a detector that examines an event and moves on, it saves parsing each record into
// a tree of its own that the event keeps. The values it returns do not refer to the parser. Call
// Reset before each new event. It is not safe for concurrent use.
type Resolver struct {
	p    fastjson.Parser
	e    *Event
	root *fastjson.Value
}

// Reset forgets the event last looked at.
func (r *Resolver) Reset() { r.e, r.root = nil, nil }

// LookupAll is e.LookupAll, with the parsing done in the resolver.
func (r *Resolver) LookupAll(e *Event, path string, dst []Value) []Value {
	if r.e != e {
		r.e, r.root = e, nil
		if len(e.Original) > 0 && (e.Original[0] == '{' || e.Original[0] == '[') {
			if v, err := r.p.Parse(e.Original); err == nil {
				if e.NativeRoot != "" {
					v = walk(v, e.NativeRoot)
				}
				r.root = v
			}
		}
	}
	if r.root == nil {
		return dst
	}
	return walkAll(r.root, path, dst, 0)
}
