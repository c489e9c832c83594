package lake

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ramen-siem/ramen/event"
)

// TestTemplateRoundTrip: a template and the values it references give back the record, whatever
// bytes the record holds (the delimiters themselves included) and however the spans fall.
func TestTemplateRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name, orig string
		spans      [][2]int // off, end
		paths      []string
	}{
		{"none", `{"a":"b"}`, nil, nil},
		{"empty record", ``, nil, nil},
		{"one", `{"id":"abc-123"}`, [][2]int{{7, 14}}, []string{"event.id"}},
		{"whole record", `abcdef`, [][2]int{{0, 6}}, []string{"message"}},
		{"out of order", `one two three`, [][2]int{{8, 13}, {0, 3}}, []string{"c", "a"}},
		{"overlapping: the first wins", `abcdefgh`, [][2]int{{0, 5}, {3, 8}}, []string{"x", "y"}},
		{"same span twice", `xx value yy`, [][2]int{{3, 8}, {3, 8}}, []string{"p", "q"}},
		{"delimiters in the record", "a\x01b\x02c\x01\x02d\x01", [][2]int{{2, 5}}, []string{"r"}},
		{"delimiter inside a value", "k=\x01v\x02w end", [][2]int{{2, 6}}, []string{"v.w"}},
		{"adjacent", `abcdef`, [][2]int{{0, 3}, {3, 6}}, []string{"l", "r"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var refs []ref
			vals := map[string]string{}
			for i, s := range tc.spans {
				refs = append(refs, ref{off: s[0], end: s[1], tok: refToken(tc.paths[i], event.FormNone)})
				vals[tc.paths[i]] = tc.orig[s[0]:s[1]]
			}
			tmpl := string(appendTemplate(nil, tc.orig, refs))
			got, err := rebuildOriginal(tmpl, func(p string) (string, bool) { v, ok := vals[p]; return v, ok })
			if err != nil || got != tc.orig {
				t.Fatalf("template %q rebuilt %q, %v; want %q", tmpl, got, err, tc.orig)
			}
		})
	}
	if _, err := rebuildOriginal("a\x01missing\x02b", func(string) (string, bool) { return "", false }); err == nil {
		t.Error("a reference to a column the row lacks rebuilt without an error")
	}
	// A time referenced in a form is written in it again, from either text a reader has for it.
	orig := "start 1700000000 end"
	tmpl := string(appendTemplate(nil, orig, []ref{{off: 6, end: 16, tok: refToken("event.start", event.FormUnix)}}))
	if tmpl != "start \x01event.start\x03s\x02 end" {
		t.Errorf("template %q", tmpl)
	}
	for _, text := range []string{"2023-11-14T22:13:20Z", "2023-11-14 22:13:20", "2023-11-14 22:13:20+00"} {
		got, err := rebuildOriginal(tmpl, func(p string) (string, bool) { return text, p == "event.start" })
		if err != nil || got != orig {
			t.Errorf("from %q: %q, %v", text, got, err)
		}
	}
	for _, bad := range []string{"a \x01t\x03q\x02", "a \x01t\x03\x02"} {
		if _, err := rebuildOriginal(bad, func(string) (string, bool) { return "2023-11-14T22:13:20Z", true }); err == nil {
			t.Errorf("%q: an unknown form rebuilt without an error", bad)
		}
	}
	if _, err := rebuildOriginal(tmpl, func(string) (string, bool) { return "soon", true }); err == nil {
		t.Error("a time that is not one rebuilt without an error")
	}
	// Every form of times, from the texts a reader has for a time: RFC 3339 (an event's text) and
	// DuckDB's cast of a TIMESTAMP to text, with and without its offset.
	sec := time.Unix(1700000000, 0).UTC()
	for _, tc := range []struct {
		form event.Form
		t    time.Time
		orig string
	}{
		{event.FormUnix, sec, "1700000000"},
		{event.FormRFC3339, sec, "2023-11-14T22:13:20Z"},
		{event.FormRFC3339Milli, sec.Add(120 * time.Millisecond), "2023-11-14T22:13:20.120Z"},
		{event.FormRFC3339Milli, sec, "2023-11-14T22:13:20.000Z"},
		{event.FormRFC3339Micro, sec.Add(123450 * time.Microsecond), "2023-11-14T22:13:20.123450Z"},
		{event.FormRFC3339Micro, time.Unix(-1, 5e8), "1969-12-31T23:59:59.500000Z"},
		{event.FormDateTime, sec, "2023-11-14T22:13:20"},
	} {
		orig := "[" + tc.orig + "]"
		tmpl := string(appendTemplate(nil, orig, []ref{{off: 1, end: 1 + len(tc.orig), tok: refToken("t", tc.form)}}))
		if want := "[\x01t\x03" + string(rune(tc.form)) + "\x02]"; tmpl != want {
			t.Errorf("template %q, want %q", tmpl, want)
		}
		duck := tc.t.Format("2006-01-02 15:04:05.999999")
		for _, text := range []string{tc.t.Format(time.RFC3339Nano), duck, duck + "+00"} {
			got, err := rebuildOriginal(tmpl, func(p string) (string, bool) { return text, p == "t" })
			if err != nil || got != orig {
				t.Errorf("form %c from %q: %q, %v; want %q", tc.form, text, got, err, orig)
			}
		}
	}
	// A time a form cannot write (a fraction, for a form of whole seconds) is an error, never a
	// record rebuilt wrong.
	for _, f := range []event.Form{event.FormUnix, event.FormRFC3339, event.FormRFC3339Milli, event.FormRFC3339Micro, event.FormDateTime} {
		tmpl := "\x01t\x03" + string(rune(f)) + "\x02"
		if got, err := rebuildOriginal(tmpl, func(string) (string, bool) { return "2023-11-14T22:13:20.1234567Z", true }); err == nil {
			t.Errorf("form %c: a time with nanoseconds rebuilt as %q", f, got)
		}
	}
}

// TestFormSQL: the SQL for other engines knows every form of times that event knows.
func TestFormSQL(t *testing.T) {
	known := map[event.Form]bool{}
	for _, f := range formSQL {
		known[f.form] = true
		if !f.form.IsTime() {
			t.Errorf("formSQL has %c, not a form of times", f.form)
		}
	}
	for b := 0; b < 256; b++ {
		if f := event.Form(b); f.IsTime() && !known[f] {
			t.Errorf("form %c has no SQL", f)
		}
	}
}

// TestRefOf: only a string inside the record's memory is a piece of it; equal text elsewhere is not.
func TestRefOf(t *testing.T) {
	orig := strings.Repeat("x", 10) + "needle" + strings.Repeat("y", 10)
	if off, ok := refOf(orig, orig[10:16]); !ok || off != 10 {
		t.Errorf("substring: %d, %v", off, ok)
	}
	if _, ok := refOf(orig, strings.Clone(orig[10:16])); ok {
		t.Error("a copy of the text counted as a piece of the record")
	}
	if _, ok := refOf(orig[:12], orig[10:16]); ok {
		t.Error("a string running past the record's end counted as a piece of it")
	}
	if _, ok := refOf(orig, orig[0:2]); ok {
		t.Error("a value shorter than minRef was referenced")
	}
	long := orig + "z"
	if _, ok := refOf(orig[:5], long); ok {
		t.Error("a value longer than the record counted as a piece of it")
	}
}

// TestOriginalsReadBack is what users rely on: every parser's golden inputs, stored as templates,
// come back from the views, from the events view and from Scan byte for byte, and so do records
// holding the template's delimiters, fields that share text, and keys that need quoting in SQL.
func TestOriginalsReadBack(t *testing.T) {
	l := openLake(t)
	want := map[string]string{} // _id -> original
	byType := map[string]int{}
	evs := goldenEvents(t)
	// Records of the edge cases, with fields that are pieces of them.
	tricky := []string{
		"plain \x01 delimiter \x02 bytes \x01\x02 and a value: needle-1",
		"needle-2 at the start, and again at the end: needle-2",
		"\x01\x01\x01 needle-3",
		"needle-4",
		"",
	}
	for i, orig := range tricky {
		e := event.New("tricky", orig, 4)
		e.ID = fmt.Sprintf("tricky-%d", i)
		e.Timestamp = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
		if j := strings.Index(orig, "needle"); j >= 0 {
			v := orig[j : j+8]
			e.Add("event.action", event.String(v))
			e.Add("source.address", event.String(v))                       // the same text twice: referenced once
			e.Add(`odd "key".x y`, event.String(orig[j+7:j+8]+orig[j+7:])) // not a piece: a copy
			e.Add(`odd "key".select`, event.String(orig[max(0, j-3):j+8])) // overlaps the first
		}
		evs = append(evs, e)
	}
	// Numbers and times read from their records (event.IntIn, TimeIn): referenced when the text is
	// the value written again, left as text when not; in a column of numbers, or of text once
	// another record gives the same key text (a mixed column).
	sec := time.Unix(1700000000, 0)
	for i, orig := range []string{
		"n=007 m=42 t=1700000000 zero=0 neg=-12",
		"n=7 m=forty-two t=1700000000",
		"n=8 m=43 t=not-a-time",
	} {
		piece := func(k string) string {
			j := strings.Index(orig, k+"=") + len(k) + 1
			return orig[j : j+max(0, strings.IndexByte(orig[j:]+" ", ' '))]
		}
		e := event.New("numbers", orig, 8)
		e.ID = fmt.Sprintf("numbers-%d", i)
		e.Timestamp = sec
		switch i {
		case 0:
			e.Add("num.n", event.IntIn(7, piece("n"))) // "007": not how 7 is written, left as text
			e.Add("num.m", event.IntIn(42, piece("m")))
			e.Add("num.t", event.TimeIn(sec, piece("t"), event.FormUnix))
			e.Add("num.zero", event.IntIn(0, piece("zero")))
			e.Add("num.neg", event.IntIn(-12, piece("neg")))
		case 1:
			e.Add("num.n", event.IntIn(7, piece("n")))
			e.Add("num.m", event.String(piece("m")))
			e.Add("num.t", event.TimeIn(sec, piece("t"), event.FormUnix))
		case 2:
			e.Add("num.n", event.IntIn(8, piece("n")))
			e.Add("num.m", event.IntIn(43, piece("m")))
			e.Add("num.t", event.String(piece("t")))
		}
		evs = append(evs, e)
	}
	// Times in each form, and texts that look like them but are not the form's (kept as text).
	us := sec.Add(123456 * time.Microsecond)
	for i, orig := range []string{
		"|S=2023-11-14T22:13:20Z|M=2023-11-14T22:13:20.123Z|U=2023-11-14T22:13:20.123456Z|T=2023-11-14T22:13:20|",
		"|S=2023-11-14T22:13:20.000Z|M=2023-11-14T22:13:20.1Z|U=2023-11-14T22:13:20.123456789Z|T=2023-11-14 22:13:20|",
		"|S=2023-11-14T22:13:20Z|M=2023-11-14T22:13:20.123Z|U=2023-11-14T22:13:20.123456Z|T=2023-11-14T22:13:20|",
	} {
		piece := func(k string) string {
			j := strings.Index(orig, "|"+k+"=") + len(k) + 2
			return orig[j : j+strings.IndexByte(orig[j:], '|')]
		}
		e := event.New("times", orig, 8)
		e.ID = fmt.Sprintf("times-%d", i)
		e.Timestamp = sec
		switch i {
		case 0:
			e.Add("at.s", event.TimeIn(sec, piece("S"), event.RFC3339Form(piece("S"))))
			e.Add("at.m", event.TimeIn(sec.Add(123*time.Millisecond), piece("M"), event.RFC3339Form(piece("M"))))
			e.Add("at.u", event.TimeIn(us, piece("U"), event.RFC3339Form(piece("U"))))
			e.Add("at.t", event.TimeIn(sec, piece("T"), event.FormDateTime))
		case 1:
			e.Add("at.s", event.TimeIn(sec, piece("S"), event.FormRFC3339))
			e.Add("at.m", event.TimeIn(sec.Add(100*time.Millisecond), piece("M"), event.FormRFC3339Milli))
			e.Add("at.u", event.TimeIn(sec.Add(123456789), piece("U"), event.FormRFC3339Micro))
			e.Add("at.t", event.TimeIn(sec, piece("T"), event.FormDateTime))
		case 2: // times the forms cannot write: finer than the form, or another time
			e.Add("at.s", event.TimeIn(sec.Add(time.Millisecond), piece("S"), event.FormRFC3339))
			e.Add("at.m", event.TimeIn(us, piece("M"), event.FormRFC3339Milli))
			e.Add("at.u", event.TimeIn(sec.Add(123456789), piece("U"), event.FormRFC3339Micro))
			e.Add("at.t", event.TimeIn(sec.Add(time.Second), piece("T"), event.FormDateTime))
		}
		evs = append(evs, e)
	}
	for _, e := range evs {
		if e.ID == "" {
			t.Fatalf("event of %s without an id", e.Type)
		}
		want[e.ID] = e.Original
		byType[e.Type]++
	}
	ingest(t, l, "all", evs, nil)

	check := func(where string, got map[string]string, n int) {
		t.Helper()
		if len(got) != n {
			t.Errorf("%s: %d records read back, want %d", where, len(got), n)
		}
		for id, g := range got {
			if w, ok := want[id]; !ok || g != w {
				t.Errorf("%s: record %s read back as\n%q\nwant\n%q", where, id, g, w)
			}
		}
	}
	read := func(q string) map[string]string {
		got := map[string]string{}
		for _, r := range queryRows(t, l, q) {
			s, _ := r[1].(string)
			got[r[0].(string)] = s
		}
		return got
	}
	for typ, n := range byType {
		check("view "+typ, read(`SELECT _id, event.original FROM `+quoteIdent(typ)), n)
		got := map[string]string{}
		if _, err := l.Scan(context.Background(), typ, QueryOptions{}, func(e *event.Event) error { got[e.ID] = e.Original; return nil }); err != nil {
			t.Fatal(err)
		}
		check("scan "+typ, got, n)
	}
	check("events", read(`SELECT _id, event.original FROM events WHERE type <> 'alerts'`), len(evs))
	// The SQL that docs/lake.md gives for other engines rebuilds the same records.
	for typ, n := range byType {
		src := l.parquetSource(l.sources(typ, time.Time{}, time.Time{}))
		cols, err := l.describe(context.Background(), src)
		if err != nil {
			t.Fatal(err)
		}
		var refs []leaf
		for _, c := range cols {
			refs = leaves(refs, c.name, c.typ)
		}
		check("SQL "+typ, read(`SELECT _id, `+originalSQL(refs)+` FROM `+src), n)
	}
	// The numbers' template: what was their text again is referenced, "007" is not.
	rows := queryRows(t, l, `SELECT _original FROM `+l.parquetSource(l.sources("numbers", time.Time{}, time.Time{}))+` WHERE _id = 'numbers-0'`)
	if want := "n=007 m=\x01num.m\x02 t=\x01num.t\x03s\x02 zero=\x01num.zero\x02 neg=\x01num.neg\x02"; len(rows) != 1 || rows[0][0] != want {
		t.Errorf("template of numbers-0: %q, want %q", rows, want)
	}
	// The times' templates: each form's text is referenced; the rest is kept as it is.
	rows = queryRows(t, l, `SELECT _id, _original FROM `+l.parquetSource(l.sources("times", time.Time{}, time.Time{}))+` ORDER BY _id`)
	wantTimes := []string{
		"|S=\x01at.s\x03S\x02|M=\x01at.m\x03M\x02|U=\x01at.u\x03U\x02|T=\x01at.t\x03T\x02|",
		want["times-1"],
		want["times-2"],
	}
	if len(rows) != len(wantTimes) {
		t.Errorf("%d records of times, want %d", len(rows), len(wantTimes))
	}
	for i, r := range rows {
		if i >= len(wantTimes) || r[1] != wantTimes[i] {
			t.Errorf("template of %s: %q", r[0], r[1])
		}
	}
	// SELECT * shows the record where ECS has it.
	rows = queryRows(t, l, `SELECT * FROM tricky WHERE _id = 'tricky-0'`)
	if len(rows) != 1 || !strings.Contains(fmt.Sprint(rows[0]), "needle-1") {
		t.Errorf("SELECT * of a record: %v", rows)
	}
}

// TestOriginalsBeforeTemplates: a lake written before templates keeps event.original inside the
// event struct; a view over old and new files together reads both.
func TestOriginalsBeforeTemplates(t *testing.T) {
	l, evs := cloudTrailLake(t)
	old := filepath.Join(l.root, "type=cloudtrail", "date=2026-03-02", "hour=08", "old.parquet")
	os.MkdirAll(filepath.Dir(old), 0o755)
	if _, err := l.DB().Exec(`COPY (SELECT TIMESTAMP '2026-03-02 08:30:00' AS "@timestamp", 'old-1' AS _id,
		{'action': 'GetObject', 'original': '{"eventName":"GetObject","old":true}'} AS "event") TO ` + sqlString(old) + ` (FORMAT parquet)`); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range queryRows(t, l, `SELECT _id, event.original FROM cloudtrail`) {
		got[r[0].(string)], _ = r[1].(string)
	}
	if got["old-1"] != `{"eventName":"GetObject","old":true}` {
		t.Errorf("old file's record: %q", got["old-1"])
	}
	for _, e := range evs {
		if got[e.ID] != e.Original {
			t.Errorf("record %s: %q, want %q", e.ID, got[e.ID], e.Original)
		}
	}
}

func TestLeaves(t *testing.T) {
	got := leaves(nil, "event", `STRUCT("action" VARCHAR, id VARCHAR, category VARCHAR[], n BIGINT, f DOUBLE, "we""ird, name" VARCHAR, sub STRUCT(a VARCHAR, "b c" STRUCT(d VARCHAR, t TIMESTAMP)))`)
	want := []leaf{{"event.action", leafText}, {"event.id", leafText}, {"event.n", leafInt}, {`event.we"ird, name`, leafText},
		{"event.sub.a", leafText}, {"event.sub.b c.d", leafText}, {"event.sub.b c.t", leafTime}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestRewriteOriginal(t *testing.T) {
	for q, want := range map[string]string{
		`SELECT event.original FROM cloudtrail`:                                `SELECT "event.original" FROM cloudtrail`,
		`SELECT Event . "original", x FROM t`:                                  `SELECT "event.original", x FROM t`,
		`SELECT c.event.original FROM cloudtrail c`:                            `SELECT c."event.original" FROM cloudtrail c`,
		`SELECT "event"."original" FROM t WHERE a = 'event.original'`:          `SELECT "event.original" FROM t WHERE a = 'event.original'`,
		`SELECT 'it''s event.original' -- event.original`:                      `SELECT 'it''s event.original' -- event.original`,
		"SELECT /* event.original */ event.original\nFROM t":                   "SELECT /* event.original */ \"event.original\"\nFROM t",
		`SELECT user_agent.original, event.originals, myevent.original FROM t`: `SELECT user_agent.original, event.originals, myevent.original FROM t`,
		`SELECT event.action FROM t`:                                           `SELECT event.action FROM t`,
		`SELECT "event.original" FROM t`:                                       `SELECT "event.original" FROM t`,
		`SELECT $$it's event.original$$, event.original FROM t`:                `SELECT $$it's event.original$$, "event.original" FROM t`,
		`SELECT $q$ event.original $q$, event.original`:                        `SELECT $q$ event.original $q$, "event.original"`,
		`SELECT E'\' event.original', event.original`:                          `SELECT E'\' event.original', "event.original"`,
		`SELECT /* a /* b */ event.original */ event.original`:                 `SELECT /* a /* b */ event.original */ "event.original"`,
		`SELECT $1, event.original FROM t`:                                     `SELECT $1, "event.original" FROM t`,
	} {
		if got := rewriteOriginal(q); got != want {
			t.Errorf("rewriteOriginal(%s)\n = %s\nwant %s", q, got, want)
		}
	}
}

// TestOriginalAsStructFieldHint: the record read as a field of the struct gets a hint naming the
// way to read it.
func TestOriginalAsStructFieldHint(t *testing.T) {
	l, _ := cloudTrailLake(t)
	_, err := l.Query(context.Background(), `SELECT event['original'] FROM cloudtrail`, QueryOptions{})
	if err == nil || !strings.Contains(err.Error(), "write event.original") {
		t.Errorf("want the hint, got %v", err)
	}
}

// rv builds an event of type typ whose text fields are pieces of orig: each field is key=needle,
// the value being orig's own bytes of needle's first occurrence.
func rv(typ, id, orig string, kv ...string) *event.Event {
	e := event.New(typ, orig, 8)
	e.ID = id
	e.Timestamp = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	for i := 0; i+1 < len(kv); i += 2 {
		j := strings.Index(orig, kv[i+1])
		e.Add(kv[i], event.String(orig[j:j+len(kv[i+1])]))
	}
	return e
}

// checkOriginals reads typ's records back through its view, the events view and Scan.
func checkOriginals(t *testing.T, l *Lake, typ string, evs ...*event.Event) {
	t.Helper()
	for _, q := range []string{`SELECT _id, event.original FROM ` + quoteIdent(typ), `SELECT _id, event.original FROM events WHERE type = ` + sqlString(typ)} {
		got := map[string]string{}
		for _, r := range queryRows(t, l, q) {
			got[r[0].(string)], _ = r[1].(string)
		}
		for _, e := range evs {
			if got[e.ID] != e.Original {
				t.Errorf("%s: %s = %q, want %q", q, e.ID, got[e.ID], e.Original)
			}
		}
	}
	got := map[string]string{}
	if _, err := l.Scan(context.Background(), typ, QueryOptions{}, func(e *event.Event) error { got[e.ID] = e.Original; return nil }); err != nil {
		t.Fatalf("scan %s: %v", typ, err)
	}
	for _, e := range evs {
		if got[e.ID] != e.Original {
			t.Errorf("scan %s: %s = %q, want %q", typ, e.ID, got[e.ID], e.Original)
		}
	}
}

// TestOriginalsAcrossBatches: what DuckDB does when it reads files of different batches as one
// (keys that differ only in case become one column, named as the first file has it) does not
// change a record, before or after compaction.
func TestOriginalsAcrossBatches(t *testing.T) {
	l := openLake(t)
	a := rv("t1", "a", `{"Message":"hello world","h":{"Host":"web-01"}}`, "Message", "hello world", "h.Host", "web-01")
	b := rv("t1", "b", `{"message":"other text","h":{"host":"web-02"}}`, "message", "other text", "h.host", "web-02")
	ingest(t, l, "a", []*event.Event{a}, nil)
	ingest(t, l, "b", []*event.Event{b}, nil)
	checkOriginals(t, l, "t1", a, b)
	if _, err := l.Compact(context.Background(), CompactOptions{}); err != nil {
		t.Fatal(err)
	}
	checkOriginals(t, l, "t1", a, b)
}

// TestOriginalsHiveNames: a record's own top-level type, date or hour (hidden in the views by the
// partition columns of those names) is never a reference.
func TestOriginalsHiveNames(t *testing.T) {
	l := openLake(t)
	a := rv("t6", "a", `{"type":"login-ok","date":"yesterday","hour":"noon","Type":"x-upper"}`, "type", "login-ok", "date", "yesterday", "hour", "noon", "Type", "x-upper")
	ingest(t, l, "a", []*event.Event{a}, nil)
	checkOriginals(t, l, "t6", a)
}

// TestOriginalsEventsAcrossTypes: in the events view, a path that is text in one type and a struct
// in another does not stop either type's records from being rebuilt.
func TestOriginalsEventsAcrossTypes(t *testing.T) {
	l := openLake(t)
	a := rv("tla", "a", `{"x":"abc-text"}`, "x", "abc-text", "event.action", "abc-text")
	b := rv("tlb", "b", `{"x":{"y":"def-text"}}`, "x.y", "def-text")
	ingest(t, l, "a", []*event.Event{a, b}, nil)
	checkOriginals(t, l, "tla", a)
	checkOriginals(t, l, "tlb", b)
	if got := queryRows(t, l, `SELECT count(*), count(event.action) FROM events`); fmt.Sprint(got) != "[[2 1]]" {
		t.Errorf("events: %v", got)
	}
}

// TestEveryQueryFormSeesOriginals: whatever names the columns (a star, the view alone, COPY,
// DESCRIBE), a query gets event.original, and never the stored template.
func TestEveryQueryFormSeesOriginals(t *testing.T) {
	l, _ := cloudTrailLake(t)
	out := filepath.Join(t.TempDir(), "export.json")
	for _, q := range []string{`SELECT * FROM cloudtrail`, `FROM cloudtrail`, `SELECT COLUMNS(*) FROM cloudtrail`, `DESCRIBE cloudtrail`, `SELECT * FROM events`} {
		rows, err := l.Query(context.Background(), q, QueryOptions{})
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		cols, _ := rows.Columns()
		data := fmt.Sprint(scanAll(t, rows))
		all := strings.Join(cols, " ") + data
		if !strings.Contains(all, "event.original") || strings.Contains(all, "_original") || strings.Contains(data, "\x01") {
			t.Errorf("%s: columns %v", q, cols)
		}
	}
	rows, err := l.Query(context.Background(), `COPY (SELECT _id, event.original FROM cloudtrail) TO `+sqlString(out)+` (FORMAT json)`, QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scanAll(t, rows)
	b, _ := os.ReadFile(out)
	if !strings.Contains(string(b), "eventVersion") || bytes.Contains(b, []byte("\u0001")) {
		t.Errorf("exported records: %.300s", b)
	}
}

// TestConcurrentQueries: queries on one Lake from several goroutines, some reading records and
// some not, all succeed.
func TestConcurrentQueries(t *testing.T) {
	l, _ := cloudTrailLake(t)
	errs := make(chan error, 40)
	var wg sync.WaitGroup
	for _, q := range []string{`SELECT event.original FROM cloudtrail`, `SELECT event.action FROM cloudtrail`} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				rows, err := l.Query(context.Background(), q, QueryOptions{})
				if err != nil {
					errs <- err
					continue
				}
				for rows.Next() {
				}
				rows.Close()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// openLake opens a lake in a temporary directory, closed when the test ends.
func openLake(t *testing.T) *Lake {
	t.Helper()
	l, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// cloudTrailLake is a lake holding the CloudTrail parser's golden records, and those events.
func cloudTrailLake(t *testing.T) (*Lake, []*event.Event) {
	t.Helper()
	l := openLake(t)
	evs, _ := parseFile(t, "../parse/cloudtrail/testdata/golden/records.json", "cloudtrail")
	ingest(t, l, "records.json", evs, nil)
	return l, evs
}
