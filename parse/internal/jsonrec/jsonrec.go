// Package jsonrec reads strings out of a JSON record without copying them, for the parsers of
// JSON log types.
package jsonrec

import (
	"bytes"
	"fmt"
	"time"
	"unsafe"

	"github.com/valyala/fastjson"

	"github.com/ramen-siem/ramen/event"
)

// Rec gives the text of a record's JSON strings without copying them: fastjson parses a copy of the
// record (its Parser keeps it in its first field, a []byte) and leaves strings without escapes in
// place, so a string's position in that copy is its position in the record, and the event can share
// the bytes of its Original. Every substring is checked against the bytes fastjson returned; anything
// that does not match (an unescaped string, or a fastjson that works differently) is copied instead,
// so the result is always right and at worst costs an allocation.
type Rec struct {
	orig string  // the record, Original of the event
	base uintptr // address of the parser's copy of the record
	lead int     // whitespace fastjson skipped before copying
	// Scratch is a buffer for the parser's own use (JSON written back out), reused across records.
	Scratch []byte
}

// Parse parses orig with p and prepares the substring lookups. The record is validated first:
// fastjson's parser accepts what JSON does not ("00", "nan", "1-2"), and such a record would make
// the JSON text of the event invalid.
func (r *Rec) Parse(p *fastjson.Parser, orig string) (*fastjson.Value, error) {
	if err := fastjson.Validate(orig); err != nil {
		return nil, err
	}
	return r.ParseUnvalidated(p, orig)
}

// ParseUnvalidated is Parse without validating the record first, for a parser that validates
// every part of the record it writes back out as JSON itself (strings and numbers read from the
// record are safe either way; only re-serialized objects and arrays can carry fastjson's leniency).
func (r *Rec) ParseUnvalidated(p *fastjson.Parser, orig string) (*fastjson.Value, error) {
	v, err := p.Parse(orig)
	if err != nil {
		return nil, err
	}
	b := *(*[]byte)(unsafe.Pointer(p))
	r.orig, r.base, r.lead = orig, 0, 0
	if len(b) > 0 {
		r.base = uintptr(unsafe.Pointer(unsafe.SliceData(b)))
		r.lead = len(orig) - len(b)
	}
	return v, nil
}

// Text returns the text of a string value ("" for other types and for nil).
func (r *Rec) Text(v *fastjson.Value) string {
	if v == nil || v.Type() != fastjson.TypeString {
		return ""
	}
	b := v.GetStringBytes()
	if len(b) == 0 {
		return ""
	}
	if r.base != 0 {
		off := int(uintptr(unsafe.Pointer(unsafe.SliceData(b)))-r.base) + r.lead
		if off >= 0 && off+len(b) <= len(r.orig) && r.orig[off:off+len(b)] == string(b) {
			return r.orig[off : off+len(b)]
		}
	}
	return string(b)
}

// Get returns the text of the string at keys under v.
func (r *Rec) Get(v *fastjson.Value, keys ...string) string {
	if v == nil {
		return ""
	}
	return r.Text(v.Get(keys...))
}

// Original returns the record last parsed.
func (r *Rec) Original() string { return r.orig }

// Time parses the RFC 3339 time at key under v, in UTC; an absent or null key is the zero time, not
// an error.
func (r *Rec) Time(v *fastjson.Value, key string) (time.Time, error) {
	t, _, err := r.TimeIn(v, key)
	return t, err
}

// TimeIn is Time, with the time also as an event value that says where the record wrote it
// (event.TimeIn): the lake then stores it once, in its column. The value is null when the time is.
func (r *Rec) TimeIn(v *fastjson.Value, key string) (time.Time, event.Value, error) {
	x := v.Get(key)
	if x == nil || x.Type() == fastjson.TypeNull {
		return time.Time{}, event.Value{}, nil
	}
	s := r.Text(x)
	if s == "" {
		return time.Time{}, event.Value{}, fmt.Errorf("field %s: not a time: %s", key, x)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, event.Value{}, fmt.Errorf("field %s: not an RFC 3339 time: %q", key, s)
	}
	t = t.UTC()
	return t, event.RFC3339In(t, s), nil
}

// valueLayout is the layout of fastjson.Value (v1.6): s holds a number's text, a substring of
// the parser's copy of the record.
type valueLayout struct {
	o fastjson.Object
	a []*fastjson.Value
	s string
	t fastjson.Type
}

// Number returns the text of a number value as the record writes it, a piece of the record, or ""
// when v is not a number or its text cannot be found in the record. Where fastjson keeps the
// text is read from its Value as valueLayout has it, and only compared with the record's bounds:
// the text returned is the record's own bytes, checked against the number fastjson writes, so a
// fastjson laid out otherwise finds nothing rather than something wrong.
func (r *Rec) Number(v *fastjson.Value) string {
	if v == nil || v.Type() != fastjson.TypeNumber || r.base == 0 || unsafe.Sizeof(valueLayout{}) != unsafe.Sizeof(fastjson.Value{}) {
		return ""
	}
	var buf [32]byte
	text := v.MarshalTo(buf[:0])
	p := uintptr(unsafe.Pointer(unsafe.StringData((*valueLayout)(unsafe.Pointer(v)).s)))
	if p < r.base || p-r.base > uintptr(len(r.orig)) {
		return ""
	}
	off := int(p-r.base) + r.lead
	if off < 0 || off+len(text) > len(r.orig) || r.orig[off:off+len(text)] != string(text) {
		return ""
	}
	return r.orig[off : off+len(text)]
}

// Piece returns text equal to b: the record's own bytes when they hold b (a part of the record
// written back out as JSON is, when the record is compact JSON), a copy otherwise. A value that is
// a piece of the record is stored once by the lake (its template refers to it).
func (r *Rec) Piece(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	orig := unsafe.Slice(unsafe.StringData(r.orig), len(r.orig))
	if i := bytes.Index(orig, b); i >= 0 {
		return r.orig[i : i+len(b)]
	}
	return string(b)
}
