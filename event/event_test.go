package event

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestAppendJSONNests(t *testing.T) {
	e := New("test", `{"a":1}`, 8)
	e.ID = "abc"
	e.Timestamp = time.Date(2026, 3, 2, 8, 14, 9, 500_000_000, time.UTC)
	e.Add("source.ip", String("192.0.2.1"))
	e.Add("source.port", Int(443))
	e.Add("event.category", Strings("network", "web"))
	e.Add("aws.x.b-y", Bool(true))
	e.Add("aws.x.b.c", Float(1.5))
	e.Add("aws.x.b", String("leaf"))
	e.Add("aws.raw", JSON(`{"k":[1,2]}`))
	got := string(e.AppendJSON(nil))
	want := `{"@timestamp":"2026-03-02T08:14:09.5Z","_id":"abc","aws":{"raw":{"k":[1,2]},"x":{"b":"leaf","b.c":1.5,"b-y":true}},` +
		`"event":{"category":["network","web"],"original":"{\"a\":1}"},"source":{"ip":"192.0.2.1","port":443}}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if !json.Valid([]byte(got)) {
		t.Error("invalid JSON")
	}
}

func TestAppendStringEscapes(t *testing.T) {
	e := New("t", "", 1)
	e.Add("message", String("<script>\"x\"\\\n\t\x01\xff\u2028&"))
	got := string(e.AppendJSON(nil))
	if strings.ContainsAny(got, "<>&\n\t\x01") || !json.Valid([]byte(got)) {
		t.Errorf("unsafe or invalid JSON: %q", got)
	}
	var m map[string]string
	json.Unmarshal([]byte(got), &m)
	if m["message"] != "<script>\"x\"\\\n\t\x01\ufffd\u2028&" {
		t.Errorf("round trip: %q", m["message"])
	}
}

func TestCompareKeys(t *testing.T) {
	keys := []string{"a.b", "a.b-x", "a.b.c", "a", "a.bc", "@timestamp"}
	for i := range keys {
		for j := range keys {
			c := CompareKeys(keys[i], keys[j])
			if (c == 0) != (i == j) {
				t.Errorf("CompareKeys(%q,%q)=%d", keys[i], keys[j], c)
			}
		}
	}
	if CompareKeys("a.b.c", "a.b-x") >= 0 || CompareKeys("a.b", "a.b.c") >= 0 || CompareKeys("a.b.c", "a.bc") >= 0 {
		t.Error("children of a.b must sort right after a.b")
	}
}

func TestLookup(t *testing.T) {
	e := New("t", `{"userIdentity":{"type":"AssumedRole","sessionContext":{"sessionIssuer":{"type":"Role"}}},"a.b":{"c":"dotted"},"n":7,"f":1.25,"l":["x",2,true],"o":[{"k":1}],"z":null}`, 2)
	e.Add("user.name", String("ecs wins"))
	cases := map[string]struct {
		kind Kind
		text string
		ok   bool
	}{
		"user.name": {KindString, "ecs wins", true},
		"userIdentity.sessionContext.sessionIssuer.type": {KindString, "Role", true},
		"a.b.c":             {KindString, "dotted", true},
		"n":                 {KindInt, "7", true},
		"f":                 {KindFloat, "1.25", true},
		"l":                 {KindStrings, `["x","2","true"]`, true},
		"o":                 {KindJSON, `[{"k":1}]`, true},
		"z":                 {KindNull, "", true},
		"userIdentity.nope": {KindNull, "", false},
		"n.deeper":          {KindNull, "", false},
	}
	for path, c := range cases {
		v, ok := e.Lookup(path)
		if ok != c.ok || v.Kind() != c.kind || v.Text() != c.text {
			t.Errorf("Lookup(%q) = %v %q %v; want %v %q %v", path, v.Kind(), v.Text(), ok, c.kind, c.text, c.ok)
		}
	}
	// A text record has no native fields.
	if _, ok := New("t", "2 123 eni-1 ...", 0).LookupNative("version"); ok {
		t.Error("text records have no native JSON fields")
	}
}

func TestSetReplacesAndSkipsEmpty(t *testing.T) {
	e := New("t", "", 4)
	e.Set("a", String("1"))
	e.Set("a", String("2"))
	e.SetString("b", "-")
	e.SetString("c", "")
	e.Set("d", Value{})
	if len(e.Fields) != 1 || e.Fields[0].Value.Str() != "2" {
		t.Errorf("fields: %+v", e.Fields)
	}
}

func TestNewIDStable(t *testing.T) {
	a := NewID("vpcflow", "s3://b/k", 10, "line")
	if a != NewID("vpcflow", "s3://b/k", 10, "line") || len(a) != 32 {
		t.Fatal("ids must be stable 128-bit hex")
	}
	for _, b := range []string{NewID("vpcflow", "s3://b/k", 11, "line"), NewID("vpcflow", "s3://b/k2", 10, "line"), NewID("elb", "s3://b/k", 10, "line"), NewID("vpcflow", "s3://b/k", 10, "line2")} {
		if a == b {
			t.Error("ids must differ when type, object, offset or bytes differ")
		}
	}
}

func TestValueTime(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600))
	v := Time(ts)
	if !v.Time().Equal(ts) || v.Time().Location() != time.UTC || v.Text() != "2026-01-02T02:04:05.000000006Z" {
		t.Errorf("time value %v %q", v.Time(), v.Text())
	}
}

func BenchmarkNewID(b *testing.B) {
	line := "2 210987654321 eni-0a1b2c3d4e5f60718 203.0.113.12 10.0.1.5 44321 22 6 1 40 1700000000 1700000060 REJECT OK"
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		NewID("vpcflow", "AWSLogs/210987654321/vpcflowlogs/us-east-1/2026/03/01/210987654321_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60718_20260301T0000Z_0a1b2c3d.log.gz", int64(i), line)
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	e := New("t", `{"eventVersion":"1.08"}`, 8)
	e.ID = "0123456789abcdef0123456789abcdef"
	e.Timestamp = time.Date(2026, 3, 2, 8, 14, 9, 0, time.UTC)
	for _, k := range []string{"event.action", "event.provider", "event.kind", "source.ip", "source.address", "user.name", "user.id", "cloud.account.id", "cloud.region", "aws.cloudtrail.event_version", "aws.cloudtrail.user_identity.type", "aws.cloudtrail.user_identity.arn", "user_agent.original"} {
		e.Add(k, String("value of "+k))
	}
	b.ReportAllocs()
	var buf []byte
	for i := 0; i < b.N; i++ {
		buf = e.AppendJSON(buf[:0])
	}
}

// TestID holds Seed.ID to its definition, computed here the plain way: the first 16 bytes, in hex, of
// SHA-256 over SHA-256(type, 0, object), the offset in 8 bytes big-endian and the record. Ids are
// stored in the lake and recognise re-ingested records: they must never change. Records around the
// length where ID changes buffers are included.
func TestID(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 55, 56, 63, 64, 119, 120, 255, 256, 257, 1000, 5000, 70 << 10} {
		rec := make([]byte, n)
		for i := range rec {
			rec[i] = byte(r.Uint32())
		}
		off := r.Int64()
		seed := sha256.Sum256([]byte("vpcflow\x00s3://b/k"))
		h := sha256.New()
		h.Write(seed[:])
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(off)))
		h.Write(rec)
		want := hex.EncodeToString(h.Sum(nil)[:16])
		s := ObjectSeed("vpcflow", "s3://b/k")
		if got := s.ID(off, string(rec)); got != want {
			t.Errorf("record of %d bytes: id %s, want %s", n, got, want)
		}
	}
	// A fixed vector, in case both ways above ever changed together.
	if got, want := NewID("vpcflow", "s3://b/k", 10, "line"), "694a71342fc3152eccd8e1cecd40e1b7"; got != want {
		t.Errorf("NewID = %s, want %s", got, want)
	}
}

func TestHexID(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 10000 {
		var sum [sha256.Size]byte
		for i := range sum {
			sum[i] = byte(r.Uint32())
		}
		var h [32]byte
		hexID(&h, &sum)
		if want := hex.EncodeToString(sum[:16]); string(h[:]) != want {
			t.Fatalf("hexID(%x) = %s, want %s", sum[:16], h[:], want)
		}
	}
}

func BenchmarkSeedID(b *testing.B) {
	line := "2 210987654321 eni-0a1b2c3d4e5f60718 203.0.113.12 10.0.1.5 44321 22 6 1 40 1700000000 1700000060 REJECT OK"
	s := ObjectSeed("vpcflow", "AWSLogs/210987654321/vpcflowlogs/us-east-1/2026/03/01/210987654321_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60718_20260301T0000Z_0a1b2c3d.log.gz")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s.ID(int64(i), line)
	}
}

// Times beyond the years unix nanoseconds reach (1678-2262) keep their instant: a certificate's
// "no expiry" date (RFC 5280: 9999-12-31T23:59:59Z) does not come back as a date in 1816.
func TestFarTimeValues(t *testing.T) {
	times := []time.Time{
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(1500, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2262, 4, 11, 23, 47, 16, 854775807, time.UTC), // the last nanosecond reached
		time.Date(2262, 4, 11, 23, 47, 16, 854775808, time.UTC).Add(time.Nanosecond),
		time.Date(2026, 3, 2, 8, 0, 0, 5, time.FixedZone("x", 3600)),
	}
	for _, want := range times {
		v := Time(want)
		if got := v.Time(); !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("Time(%s).Time() = %s", want, got)
		}
		if got, w := v.Text(), want.UTC().Format(time.RFC3339Nano); got != w {
			t.Errorf("Time(%s).Text() = %s, want %s", want, got, w)
		}
		if !v.Equal(Time(want)) || v.Equal(Time(want.Add(time.Second))) {
			t.Errorf("Time(%s): Equal is wrong", want)
		}
	}
	// Far times keep their order against near ones in Int (clamped nanoseconds).
	if !(Time(times[1]).Int() < Time(times[4]).Int() && Time(times[4]).Int() < Time(times[0]).Int()) {
		t.Error("far times out of order in Int")
	}
}

// TestEscapeControls: JSON text with raw control characters in its strings (fastjson reads and
// writes them) becomes valid JSON with the same strings.
func TestEscapeControls(t *testing.T) {
	for in, want := range map[string]string{
		`{"a":"b"}`:           `{"a":"b"}`,
		"{\"a\":\"x\x00y\"}":  `{"a":"x\u0000y"}`,
		"[\"\x1f\",\"\t\n\"]": `["\u001f","\u0009\u000a"]`,
		"":                    "",
	} {
		got := EscapeControls(in)
		if got != want {
			t.Errorf("EscapeControls(%q) = %q, want %q", in, got, want)
		}
		if in != "" && !json.Valid([]byte(got)) {
			t.Errorf("EscapeControls(%q) = %q: not JSON", in, got)
		}
	}
}

// TestWritten: a number or a time read from its record gives back the span it was read from only
// when that span is exactly the value written in its form again; anything else stays in the
// record as it is.
func TestWritten(t *testing.T) {
	rec := "v=007 n=42 neg=-5 plus=+9 t=1700000000 far=99999999999 frac=1700000000 z=0 nz=-0 max=9223372036854775807 min=-9223372036854775808 over=9223372036854775808 long=12345678901234567890123 cut=12345 dash=-"
	at := func(s string) string { // the piece of rec after "s="
		i := strings.Index(rec, s+"=") + len(s) + 1
		j := strings.IndexByte(rec[i:], ' ')
		if j < 0 {
			j = len(rec) - i
		}
		return rec[i : i+j]
	}
	sec := time.Unix(1700000000, 0)
	for _, tc := range []struct {
		name string
		v    Value
		want string // the span's text, "" for none
		form Form
	}{
		{"decimal", IntIn(42, at("n")), "42", FormDecimal},
		{"negative", IntIn(-5, at("neg")), "-5", FormDecimal},
		{"leading zeros are not the number's text", IntIn(7, at("v")), "", 0},
		{"a sign is not either", IntIn(9, at("plus")), "", 0},
		{"another number than the text's", IntIn(43, at("n")), "", 0},
		{"text outside the record", IntIn(42, strings.Clone(at("n"))), "", 0},
		{"no text", Int(42), "", 0},
		{"zero", IntIn(0, at("z")), "0", FormDecimal},
		{"minus zero is not how 0 is written", IntIn(0, at("nz")), "", 0},
		{"the largest int64", IntIn(math.MaxInt64, at("max")), "9223372036854775807", FormDecimal},
		{"the smallest int64", IntIn(math.MinInt64, at("min")), "-9223372036854775808", FormDecimal},
		{"one more than an int64", IntIn(math.MinInt64, at("over")), "", 0},
		{"more digits than an int64", IntIn(1234567890, at("long")), "", 0},
		{"the record's number goes on past the text read", IntIn(123, at("cut")[:3]), "", 0},
		{"a dash alone", IntIn(0, at("dash")), "", 0},
		{"unix seconds", TimeIn(sec, at("t"), FormUnix), "1700000000", FormUnix},
		{"a time with a fraction", TimeIn(sec.Add(time.Millisecond), at("frac"), FormUnix), "", 0},
		{"a far time keeps its instant, not its text", TimeIn(time.Unix(99999999999, 0), at("far"), FormUnix), "", 0},
		{"a time without a form", TimeIn(sec, at("t"), FormNone), "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) { checkWritten(t, rec, tc.v, tc.want, tc.form) })
	}
	// The forms of times that name days, in a record whose pieces are separated by '|' (some have
	// spaces). sec is 2023-11-14T22:13:20Z.
	rec = "|S=2023-11-14T22:13:20Z|Sfrac=2023-11-14T22:13:20.000Z|Soff=2023-11-14T22:13:20+00:00|Slow=2023-11-14t22:13:20z" +
		"|M=2023-11-14T22:13:20.123Z|M1=2023-11-14T22:13:20.1Z|U=2023-11-14T22:13:20.123456Z|U0=2023-11-14T22:13:20.000000Z" +
		"|U9=2023-11-14T22:13:20.123456789Z|T=2023-11-14T22:13:20|Tsp=2023-11-14 22:13:20|TZ=2023-11-14T22:13:20Z" +
		"|old=1969-12-31T23:59:59.500000Z"
	piece := func(k string) string {
		i := strings.Index(rec, "|"+k+"=") + len(k) + 2
		j := strings.IndexByte(rec[i:], '|')
		if j < 0 {
			j = len(rec) - i
		}
		return rec[i : i+j]
	}
	ms, us := sec.Add(123*time.Millisecond), sec.Add(123456*time.Microsecond)
	for _, tc := range []struct {
		name string
		v    Value
		want string
		form Form
	}{
		{"RFC 3339, seconds", TimeIn(sec, piece("S"), RFC3339Form(piece("S"))), "2023-11-14T22:13:20Z", FormRFC3339},
		{"RFC 3339 with a zero fraction is not the seconds form", TimeIn(sec, piece("Sfrac"), FormRFC3339), "", 0},
		{"RFC 3339 with an offset is not UTC's form", TimeIn(sec, piece("Soff"), FormRFC3339), "", 0},
		{"RFC 3339 in lower case is not either", TimeIn(sec, piece("Slow"), FormRFC3339), "", 0},
		{"a fraction the seconds form cannot write", TimeIn(ms, piece("S"), FormRFC3339), "", 0},
		{"RFC 3339, milliseconds", TimeIn(ms, piece("M"), RFC3339Form(piece("M"))), "2023-11-14T22:13:20.123Z", FormRFC3339Milli},
		{"one fractional digit is not three", TimeIn(sec.Add(100*time.Millisecond), piece("M1"), FormRFC3339Milli), "", 0},
		{"microseconds the milliseconds form cannot write", TimeIn(us, piece("M"), FormRFC3339Milli), "", 0},
		{"RFC 3339, microseconds", TimeIn(us, piece("U"), RFC3339Form(piece("U"))), "2023-11-14T22:13:20.123456Z", FormRFC3339Micro},
		{"microseconds of a whole second", TimeIn(sec, piece("U0"), FormRFC3339Micro), "2023-11-14T22:13:20.000000Z", FormRFC3339Micro},
		{"nanoseconds no form writes", TimeIn(sec.Add(123456789), piece("U9"), FormRFC3339Micro), "", 0},
		{"before 1970", TimeIn(time.Unix(-1, 5e8), piece("old"), FormRFC3339Micro), "1969-12-31T23:59:59.500000Z", FormRFC3339Micro},
		{"date and time without an offset", TimeIn(sec, piece("T"), FormDateTime), "2023-11-14T22:13:20", FormDateTime},
		{"a space is not the T", TimeIn(sec, piece("Tsp"), FormDateTime), "", 0},
		{"without an offset, the T form takes no Z", TimeIn(sec, piece("TZ"), FormDateTime), "2023-11-14T22:13:20", FormDateTime},
		{"a time in the decimal form", TimeIn(sec, piece("S"), FormDecimal), "", 0},
		{"an integer in a time form", Value{p: IntIn(1, piece("S")).p, n: 1, kind: KindInt, form: FormRFC3339}, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) { checkWritten(t, rec, tc.v, tc.want, tc.form) })
	}
	for text, want := range map[string]Form{
		"2023-11-14T22:13:20Z": FormRFC3339, "2023-11-14T22:13:20.123Z": FormRFC3339Milli,
		"2023-11-14T22:13:20.123456Z": FormRFC3339Micro, "2023-11-14T22:13:20.12Z": FormNone,
		"2023-11-14T22:13:20.123456789Z": FormNone, "2023-11-14T22:13:20+00:00": FormNone, "": FormNone,
	} {
		if got := RFC3339Form(text); got != want {
			t.Errorf("RFC3339Form(%q) = %q, want %q", text, got, want)
		}
	}
	// A time read from text is the same time as any other.
	if v := TimeIn(sec, at("t"), FormUnix); !v.Time().Equal(sec) || !v.Equal(Time(sec)) || v.Text() != "2023-11-14T22:13:20Z" {
		t.Errorf("TimeIn: %s, %q", v.Time(), v.Text())
	}
	if far := time.Unix(99999999999, 0); !TimeIn(far, at("far"), FormUnix).Time().Equal(far) {
		t.Error("a far time read from text lost its instant")
	}
}

// TestDecimalAt: the record's digits are read back as strconv.FormatInt writes numbers, and only so.
func TestDecimalAt(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100000; i++ {
		n := int64(r.Uint64()) >> r.IntN(64)
		s := strconv.FormatInt(n, 10)
		got, end, ok := decimalAt(s+" x", 0)
		if !ok || got != n || end != len(s) {
			t.Fatalf("%s: %d, %d, %v", s, got, end, ok)
		}
	}
	for _, s := range []string{"", "-", "00", "01", "-0", "-01", "+1", " 1", "x"} {
		if n, _, ok := decimalAt(s+" ", 0); ok {
			t.Errorf("%q read as %d", s, n)
		}
	}
}

// TestTimestampIn: the time a parser read from the record stays with the event while Timestamp is
// that time, and only then.
func TestTimestampIn(t *testing.T) {
	rec := `{"eventTime":"2026-03-02T08:14:09Z"}`
	text := rec[14:34]
	when := time.Date(2026, 3, 2, 8, 14, 9, 0, time.UTC)
	e := New("cloudtrail", rec, 2)
	if _, ok := e.TimestampIn(); ok {
		t.Fatal("an event without SetTimestampIn has a time read from its record")
	}
	e.SetTimestampIn(TimeIn(when, text, RFC3339Form(text)))
	if !e.Timestamp.Equal(when) || e.Timestamp.Location() != time.UTC {
		t.Errorf("Timestamp %s", e.Timestamp)
	}
	v, ok := e.TimestampIn()
	if off, end, f, ok2 := v.Written(rec); !ok || !ok2 || rec[off:end] != text || f != FormRFC3339 {
		t.Errorf("TimestampIn: %v %v, span %d-%d form %c", ok, ok2, off, end, f)
	}
	e.Timestamp = when.Add(time.Hour) // a parser that corrects the time after reading it
	if _, ok := e.TimestampIn(); ok {
		t.Error("the time read from the record still stands for a Timestamp changed since")
	}
}

// checkWritten checks the span of rec that v says it was read from: want in form, or none when
// want is "".
func checkWritten(t *testing.T, rec string, v Value, want string, form Form) {
	t.Helper()
	off, end, f, ok := v.Written(rec)
	switch {
	case want == "" && ok:
		t.Errorf("span %q in form %c, want none", rec[off:end], f)
	case want != "" && (!ok || rec[off:end] != want || f != form):
		t.Errorf("span %d-%d (%v) in form %c, want %q in form %c", off, end, ok, f, want, form)
	}
}
