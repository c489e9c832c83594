package jsonrec

import (
	"testing"
	"time"
	"unsafe"

	"github.com/valyala/fastjson"

	"github.com/ramen-siem/ramen/event"
)

// inside reports whether s is a piece of rec's memory.
func inside(rec, s string) bool {
	base := uintptr(unsafe.Pointer(unsafe.StringData(rec)))
	p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	return len(s) > 0 && p >= base && p+uintptr(len(s)) <= base+uintptr(len(rec))
}

// TestNumber: a number's text is the record's own bytes, wherever the number is (leading space,
// nested, in an array, after escaped strings).
func TestNumber(t *testing.T) {
	for _, rec := range []string{
		`{"a":42,"b":-7,"c":1.5e3,"d":[0,12345678901234],"e":{"f":"x\"y","g":007}}`,
		"  \n {\n  \"a\": 42,\n  \"b\": -7, \"c\": 1.5e3, \"d\": [0, 12345678901234], \"e\": {\"f\": \"x\\\"y\", \"g\": 007}}",
	} {
		var p fastjson.Parser
		var r Rec
		v, err := r.ParseUnvalidated(&p, rec) // "007": fastjson reads what JSON does not
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			keys []string
			want string
		}{
			{[]string{"a"}, "42"},
			{[]string{"b"}, "-7"},
			{[]string{"c"}, "1.5e3"},
			{[]string{"d", "0"}, "0"},
			{[]string{"d", "1"}, "12345678901234"},
			{[]string{"e", "g"}, "007"},
			{[]string{"e", "f"}, ""}, // a string is not a number
			{[]string{"none"}, ""},
		} {
			got := r.Number(v.Get(tc.keys...))
			if got != tc.want || got != "" && !inside(rec, got) {
				t.Errorf("%q: Number(%v) = %q (a piece: %v), want %q", rec, tc.keys, got, inside(rec, got), tc.want)
			}
		}
		// A number read from its text is where the record wrote it when the text is the number
		// in decimal ("007" is not).
		for _, tc := range []struct {
			keys    []string
			written string
		}{{[]string{"a"}, "42"}, {[]string{"b"}, "-7"}, {[]string{"e", "g"}, ""}} {
			x := v.Get(tc.keys...)
			n := event.IntIn(x.GetInt64(), r.Number(x))
			off, end, _, ok := n.Written(rec)
			if ok != (tc.written != "") || rec[off:end] != tc.written {
				t.Errorf("%q: %v written as %q", rec, tc.keys, rec[off:end])
			}
		}
	}
}

// TestTimeIn: a time is read with the form its text has.
func TestTimeIn(t *testing.T) {
	rec := `{"s":"2024-03-05T14:22:07Z","m":"2024-03-05T14:22:07.123Z","z":"2024-03-05T15:22:07+01:00","n":null}`
	var p fastjson.Parser
	var r Rec
	v, err := r.Parse(&p, rec)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2024, 3, 5, 14, 22, 7, 0, time.UTC)
	for key, written := range map[string]string{"s": "2024-03-05T14:22:07Z", "m": "2024-03-05T14:22:07.123Z", "z": ""} {
		tm, tv, err := r.TimeIn(v, key)
		if err != nil || !tm.Truncate(time.Second).Equal(want) || !tv.Time().Equal(tm) || tm.Location() != time.UTC {
			t.Errorf("TimeIn(%s) = %v, %v, %v", key, tm, tv.Time(), err)
		}
		off, end, f, ok := tv.Written(rec)
		if ok != (written != "") || rec[off:end] != written {
			t.Errorf("TimeIn(%s) written as %q in form %c", key, rec[off:end], f)
		}
	}
	if tm, tv, err := r.TimeIn(v, "n"); err != nil || !tm.IsZero() || !tv.IsNull() {
		t.Errorf("TimeIn(null) = %v, %v, %v", tm, tv, err)
	}
}
