package event

import (
	"math"
	"slices"
	"strconv"
	"time"
	"unsafe"
)

// Kind is the type of a Value. It is also the column type a field gets in the lake.
type Kind uint8

const (
	KindNull    Kind = iota // absent or JSON null
	KindString              // text
	KindInt                 // 64-bit signed integer
	KindFloat               // 64-bit float
	KindBool                // true/false
	KindTime                // instant, nanosecond precision, UTC
	KindStrings             // list of text, e.g. event.category, related.ip
	KindJSON                // raw JSON text of an object or array that has no fixed shape
)

var kindNames = [...]string{"null", "string", "int", "float", "bool", "time", "strings", "json"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is one field's value. It is a small tagged union rather than an interface{} so that building
// an event does not box every integer and string: parsers make tens of millions of them. It is three
// words: a string or a list is kept as its data pointer and length (the pointer keeps the data alive
// for the garbage collector), a number, a time or a bool in n. A Field is then 40 bytes, not the 72
// of a struct with a string, a slice and a number side by side, and an event of 30 fields is that
// much less memory to write, to collect and to move through the cache.
//
// A number or a time read from a piece of its record (IntIn, TimeIn) also keeps where that piece
// is, and how it was written (form), in room the struct has anyway: the lake then stores the
// record without the number's digits, which its column already holds (lake/original.go).
type Value struct {
	p    unsafe.Pointer // KindString, KindJSON: the text's bytes; KindStrings: the list's elements; KindTime: a far time (see Time), or nil; KindInt, KindTime with a form: the text read
	n    uint64         // the length of the text or list; or the number (float bits), bool, unix nanos
	kind Kind
	form Form // KindInt, KindTime: how the text at p wrote the value (FormNone: no text)
}

// Form is how a record wrote a number or a time that a parser read from it. Each form has one
// way to write a value (AppendForm), so that a reader can write it again from its column: a text
// that spells the value another way ("007", a time with nine fractional digits) is not in it.
type Form uint8

const (
	FormNone    Form = 0
	FormDecimal Form = 'd' // an integer in decimal, as strconv.FormatInt writes it

	// Times. The lake keeps times to the microsecond, so no form writes a finer fraction.
	FormUnix         Form = 's' // decimal unix seconds: 1700000000 (VPC flow logs)
	FormRFC3339      Form = 'S' // RFC 3339 in UTC, whole seconds: 2006-01-02T15:04:05Z (CloudTrail, Route 53, certificates)
	FormRFC3339Milli Form = 'M' // RFC 3339 in UTC, three fractional digits: 2006-01-02T15:04:05.000Z (GuardDuty, Security Hub)
	FormRFC3339Micro Form = 'U' // RFC 3339 in UTC, six fractional digits: 2006-01-02T15:04:05.000000Z (ALB, Classic ELB)
	FormDateTime     Form = 'T' // ISO 8601 date and time without an offset, whole seconds: 2006-01-02T15:04:05 (NLB)
)

// IsTime reports whether f is a form of times.
func (f Form) IsTime() bool {
	switch f {
	case FormUnix, FormRFC3339, FormRFC3339Milli, FormRFC3339Micro, FormDateTime:
		return true
	}
	return false
}

// RFC3339Form returns the form of an RFC 3339 time in UTC by its length: whole seconds, or three
// or six fractional digits (FormNone for any other length, or another offset than Z). It only
// guesses: Written checks that the text is the time written in that form.
func RFC3339Form(text string) Form {
	if len(text) == 0 || text[len(text)-1] != 'Z' {
		return FormNone
	}
	switch len(text) {
	case len("2006-01-02T15:04:05Z"):
		return FormRFC3339
	case len("2006-01-02T15:04:05.000Z"):
		return FormRFC3339Milli
	case len("2006-01-02T15:04:05.000000Z"):
		return FormRFC3339Micro
	}
	return FormNone
}

// RFC3339In is TimeIn for a time a parser read from RFC 3339 text, in the form the text has
// (RFC3339Form).
func RFC3339In(t time.Time, text string) Value { return TimeIn(t, text, RFC3339Form(text)) }

// IntIn returns the integer n that a parser read from text, a piece of its event's record. The
// text should be n as FormatInt writes it: text that is not ("007", "+7") is left in the record
// (Written), never rewritten.
func IntIn(n int64, text string) Value {
	if len(text) == 0 {
		return Int(n)
	}
	return Value{p: unsafe.Pointer(unsafe.StringData(text)), n: uint64(n), kind: KindInt, form: FormDecimal}
}

// TimeIn returns the instant t that a parser read from text, a piece of its event's record,
// written in form f (a time form; with any other, or FormNone, it is Time(t)). Text that is not t
// written in that form is left in the record (Written), never rewritten.
func TimeIn(t time.Time, text string, f Form) Value {
	v := Time(t)
	if v.p != nil || len(text) == 0 || !f.IsTime() {
		return v // a far time keeps p for itself
	}
	v.p, v.form = unsafe.Pointer(unsafe.StringData(text)), f
	return v
}

// Written returns the span [off, end) of rec that the value was read from (IntIn, TimeIn), and
// its form, if that span lies inside rec's memory and its bytes are exactly the value written
// in that form again (AppendForm): a number or a time that a reader renders from its column
// gives back the record's bytes.
func (v Value) Written(rec string) (off, end int, f Form, ok bool) {
	if v.form == FormNone || (v.kind != KindInt && v.kind != KindTime) || len(rec) == 0 {
		return 0, 0, 0, false
	}
	off, ok = offsetIn(rec, v.p)
	if !ok {
		return 0, 0, 0, false
	}
	if v.form == FormDecimal || v.form == FormUnix {
		// Decimal integers: the record's digits at off are read back (cheaper than writing the
		// value out to compare) and must be the value as FormatInt writes it.
		n, end, ok := decimalAt(rec, off)
		switch {
		case !ok:
			return 0, 0, 0, false
		case v.form == FormDecimal && v.kind == KindInt && n == int64(v.n):
		case v.form == FormUnix && v.kind == KindTime && !v.far() && n >= -maxUnixSeconds && n <= maxUnixSeconds && n*1e9 == int64(v.n):
		default:
			return 0, 0, 0, false
		}
		return off, end, v.form, true
	}
	var buf [32]byte // the longest form: 2006-01-02T15:04:05.000000Z
	text := v.AppendForm(buf[:0], v.form)
	if len(text) == 0 || len(rec)-off < len(text) || rec[off:off+len(text)] != string(text) {
		return 0, 0, 0, false
	}
	return off, off + len(text), v.form, true
}

// offsetIn returns the offset in rec of the byte p points to, if it lies inside rec's memory.
func offsetIn(rec string, p unsafe.Pointer) (int, bool) {
	base := uintptr(unsafe.Pointer(unsafe.StringData(rec)))
	if uintptr(p) < base || uintptr(p)-base >= uintptr(len(rec)) {
		return 0, false
	}
	return int(uintptr(p) - base), true
}

// PieceOf returns where s starts in rec if s is a piece of rec's memory, as the strings parsers
// hand out of a record are; equal text elsewhere is not.
func PieceOf(rec, s string) (off int, ok bool) {
	if len(s) == 0 {
		return 0, false
	}
	off, ok = offsetIn(rec, unsafe.Pointer(unsafe.StringData(s)))
	if !ok || len(rec)-off < len(s) {
		return 0, false
	}
	return off, true
}

// maxUnixSeconds bounds the seconds whose nanoseconds an int64 holds.
const maxUnixSeconds = math.MaxInt64 / int64(1e9)

// decimalAt reads the integer written at s[i:] as strconv.FormatInt writes it: a '-' for a
// negative number, then digits without a leading zero. ok is false for anything else there, or
// a number an int64 does not hold.
func decimalAt(s string, i int) (n int64, end int, ok bool) {
	neg := s[i] == '-'
	if neg {
		i++
	}
	start := i
	var u uint64
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if i-start == 19 {
			return 0, 0, false // 20 digits: more than an int64 (whose 19 cannot overflow a uint64)
		}
		u = u*10 + uint64(s[i]-'0')
	}
	switch {
	case i == start, s[start] == '0' && (i-start > 1 || neg):
		return 0, 0, false // no digits, a leading zero, or "-0"
	case neg && u <= 1<<63:
		return -int64(u), i, true
	case !neg && u < 1<<63:
		return int64(u), i, true
	}
	return 0, 0, false
}

// AppendForm appends the value written in form f: an integer in decimal (FormDecimal), a time in
// one of the time forms. A time form writes only what it can write exactly: a time with a finer
// fraction than the form has (a fraction at all, for the forms of whole seconds) appends nothing,
// and so does a far time (see Time).
func (v Value) AppendForm(b []byte, f Form) []byte {
	if f == FormDecimal && v.kind == KindInt {
		return strconv.AppendInt(b, int64(v.n), 10)
	}
	if v.kind != KindTime || v.far() {
		return b
	}
	ns := int64(v.n)
	var unit int64 // the finest fraction f writes, in nanoseconds
	switch f {
	case FormUnix, FormRFC3339, FormDateTime:
		unit = 1e9
	case FormRFC3339Milli:
		unit = 1e6
	case FormRFC3339Micro:
		unit = 1e3
	default:
		return b
	}
	if ns%unit != 0 {
		return b
	}
	if f == FormUnix {
		return strconv.AppendInt(b, ns/1e9, 10)
	}
	t := time.Unix(0, ns).UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock() // a year of four digits: unix nanoseconds reach 1677 to 2262
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	switch f {
	case FormRFC3339Milli:
		b = append(b, '.')
		b = appendDigits(b, t.Nanosecond()/1e6, 3)
	case FormRFC3339Micro:
		b = append(b, '.')
		b = appendDigits(b, t.Nanosecond()/1e3, 6)
	}
	if f != FormDateTime {
		b = append(b, 'Z')
	}
	return b
}

// appendDigits appends n (0 <= n < 10^width) in decimal with leading zeros to width digits.
func appendDigits(b []byte, n, width int) []byte {
	var d [9]byte
	for i := width - 1; i >= 0; i-- {
		d[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, d[:width]...)
}

// String returns a text value.
func String(s string) Value {
	return Value{p: unsafe.Pointer(unsafe.StringData(s)), n: uint64(len(s)), kind: KindString}
}

// Int returns an integer value.
func Int(n int64) Value { return Value{kind: KindInt, n: uint64(n)} }

// Float returns a float value.
func Float(f float64) Value { return Value{kind: KindFloat, n: math.Float64bits(f)} }

// Bool returns a boolean value.
func Bool(b bool) Value {
	if b {
		return Value{kind: KindBool, n: 1}
	}
	return Value{kind: KindBool}
}

// Time returns a time value (kept in UTC with nanosecond precision).
func Time(t time.Time) Value {
	if t.Before(minNano) || t.After(maxNano) {
		// Outside the years unix nanoseconds reach (1678 to 2262): a certificate valid until
		// 9999-12-31 (RFC 5280's "no expiry"), a mistyped year. n would wrap around to another
		// century, so the instant is kept whole behind p (rare: one allocation), and n is clamped
		// to keep the order of times.
		u := t.UTC()
		n := int64(math.MaxInt64)
		if t.Before(minNano) {
			n = math.MinInt64
		}
		return Value{kind: KindTime, n: uint64(n), p: unsafe.Pointer(&u)}
	}
	return Value{kind: KindTime, n: uint64(t.UnixNano())}
}

// The instants unix nanoseconds in an int64 reach.
var (
	minNano = time.Unix(0, math.MinInt64)
	maxNano = time.Unix(0, math.MaxInt64)
)

// Strings returns a list value. The slice is kept, not copied: the caller must not modify it.
func Strings(l ...string) Value {
	return Value{p: unsafe.Pointer(unsafe.SliceData(l)), n: uint64(len(l)), kind: KindStrings}
}

// JSON returns a value holding raw JSON text (an object or array). The text must be valid JSON.
func JSON(raw string) Value {
	return Value{p: unsafe.Pointer(unsafe.StringData(raw)), n: uint64(len(raw)), kind: KindJSON}
}

// text is the string of a KindString or KindJSON value.
func (v Value) text() string {
	if v.kind != KindString && v.kind != KindJSON || v.n == 0 {
		return ""
	}
	return unsafe.String((*byte)(v.p), int(v.n))
}

// Kind reports the value's kind.
func (v Value) Kind() Kind { return v.kind }

// IsNull reports whether the value is absent or null.
func (v Value) IsNull() bool { return v.kind == KindNull }

// Str returns the text of a KindString or KindJSON value, and "" for other kinds.
func (v Value) Str() string { return v.text() }

// Int returns the integer of a KindInt value (floats are truncated), 0 otherwise.
func (v Value) Int() int64 {
	switch v.kind {
	case KindInt, KindTime:
		return int64(v.n)
	case KindFloat:
		return int64(math.Float64frombits(v.n))
	case KindBool:
		return int64(v.n)
	}
	return 0
}

// Float returns the number of a KindInt or KindFloat value, 0 otherwise.
func (v Value) Float() float64 {
	switch v.kind {
	case KindInt:
		return float64(int64(v.n))
	case KindFloat:
		return math.Float64frombits(v.n)
	}
	return 0
}

// Bool returns the truth of a KindBool value.
func (v Value) Bool() bool { return v.kind == KindBool && v.n != 0 }

// Time returns the instant of a KindTime value (UTC), the zero time otherwise.
func (v Value) Time() time.Time {
	if v.kind != KindTime {
		return time.Time{}
	}
	if v.far() {
		return *(*time.Time)(v.p)
	}
	return time.Unix(0, int64(v.n)).UTC()
}

// far reports whether a KindTime value is a far time, kept whole behind p.
func (v Value) far() bool { return v.p != nil && v.form == FormNone }

// List returns the elements of a KindStrings value. The caller must not modify it.
func (v Value) List() []string {
	if v.kind != KindStrings || v.n == 0 {
		return nil
	}
	return unsafe.Slice((*string)(v.p), int(v.n))
}

// Text renders the value as text, the way a rule or a search compares it: numbers in decimal,
// times in RFC 3339, lists and JSON as JSON text.
func (v Value) Text() string {
	switch v.kind {
	case KindString, KindJSON:
		return v.text()
	case KindInt:
		return strconv.FormatInt(int64(v.n), 10)
	case KindFloat:
		return strconv.FormatFloat(math.Float64frombits(v.n), 'f', -1, 64)
	case KindBool:
		return strconv.FormatBool(v.n != 0)
	case KindTime:
		return v.Time().Format(time.RFC3339Nano)
	case KindStrings:
		return string(appendJSON(nil, v))
	}
	return ""
}

// Equal reports whether two values have the same kind and content.
func (v Value) Equal(o Value) bool {
	if v.kind != o.kind {
		return false
	}
	switch v.kind {
	case KindString, KindJSON:
		return v.text() == o.text()
	case KindStrings:
		return slices.Equal(v.List(), o.List())
	case KindTime:
		if v.far() || o.far() {
			return v.Time().Equal(o.Time())
		}
	}
	return v.n == o.n
}
