package lake

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/parse"
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
				refs = append(refs, ref{off: s[0], end: s[1], path: tc.paths[i]})
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
	l, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	want := map[string]string{} // _id -> original
	byType := map[string]int{}
	var evs []*event.Event
	inputs, _ := filepath.Glob("../parse/*/testdata/golden/*")
	for _, in := range inputs {
		if strings.HasSuffix(in, ".golden") {
			continue
		}
		typ := filepath.Base(filepath.Dir(filepath.Dir(filepath.Dir(in))))
		data, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		parse.Object(context.Background(), in, bytes.NewReader(data), parse.Options{Type: typ}, func(e *event.Event) error {
			if e.Timestamp.IsZero() {
				e.Timestamp = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
			}
			evs = append(evs, e)
			return nil
		}, nil)
	}
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
		var text []string
		for _, c := range cols {
			text = textLeaves(text, c.name, c.typ)
		}
		check("SQL "+typ, read(`SELECT _id, `+originalSQL(text)+` FROM `+src), n)
	}
	// SELECT * shows the record where ECS has it.
	rows := queryRows(t, l, `SELECT * FROM tricky WHERE _id = 'tricky-0'`)
	if len(rows) != 1 || !strings.Contains(fmt.Sprint(rows[0]), "needle-1") {
		t.Errorf("SELECT * of a record: %v", rows)
	}
}

// TestViewsRebuildOnlyWhenAsked: a query that cannot read event.original gets views without the
// column (their DESCRIBE is skipped); one that can gets it, under whichever spelling.
func TestViewsRebuildOnlyWhenAsked(t *testing.T) {
	l, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	evs, _ := parseFile(t, "../parse/cloudtrail/testdata/golden/records.json", "cloudtrail")
	ingest(t, l, "records.json", evs, nil)
	viewSQL := func() string {
		var s string
		if err := l.DB().QueryRow(`SELECT sql FROM duckdb_views() WHERE view_name = 'cloudtrail'`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tc := range []struct {
		q       string
		rebuild bool
	}{
		{`SELECT event.action, count(*) FROM cloudtrail GROUP BY 1`, false},
		{`SELECT count(*) FROM cloudtrail WHERE "event"."action" = 'x'`, false},
		{`SELECT event.original FROM cloudtrail`, true},
		{`SELECT * FROM cloudtrail`, true},
		{`SELECT c.* FROM cloudtrail c`, true},
		{`SELECT to_json(event) FROM cloudtrail`, false},
		{`SELECT json_extract_string(event.ORIGINAL, '$.x') FROM cloudtrail`, true},
		{`SELECT c."event" . "original" FROM cloudtrail c WHERE event.action = 'x'`, true},
		{`SELECT user_agent.original FROM cloudtrail`, false},
	} {
		rows, err := l.Query(context.Background(), tc.q, QueryOptions{})
		if err != nil {
			t.Fatalf("%s: %v", tc.q, err)
		}
		scanAll(t, rows)
		if got := strings.Contains(viewSQL(), `AS "event.original"`); got != tc.rebuild {
			t.Errorf("%s: view rebuilds originals %v, want %v", tc.q, got, tc.rebuild)
		}
	}
}

// TestNeedsOriginals covers the text rules behind the views' choice.
func TestNeedsOriginals(t *testing.T) {
	for q, want := range map[string]bool{
		`SELECT count(*) FROM cloudtrail`:                       false,
		`SELECT count( * ) FROM cloudtrail`:                     false,
		`SELECT event.action FROM cloudtrail`:                   false,
		`SELECT "event" . "action" FROM cloudtrail`:             false,
		`SELECT count(*) FROM events WHERE event.outcome = 'x'`: false,
		`SELECT eventual FROM t`:                                false,
		`SELECT * FROM cloudtrail`:                              true,
		`SELECT to_json(event) FROM cloudtrail`:                 false, // the struct has no original
		`SELECT event.Original FROM cloudtrail`:                 true,
		`SELECT a * 2 FROM t`:                                   true, // harmless: only slower
		`SELECT user_agent.original, count(*) FROM cloudtrail`:  false,
		`SELECT "url" . "original" FROM elb`:                    false,
		`SELECT _original FROM cloudtrail`:                      false, // the stored template
		`SELECT original FROM (SELECT event.* FROM cloudtrail)`: true,
		`SELECT e.event.original FROM cloudtrail e`:             true,
		`DESCRIBE cloudtrail`:                                   true,
		` describe SELECT event.action FROM cloudtrail`:         true,
	} {
		if got := needsOriginals(q); got != want {
			t.Errorf("needsOriginals(%s) = %v, want %v", q, got, want)
		}
	}
}

// TestOriginalsBeforeTemplates: a lake written before templates keeps event.original inside the
// event struct; a view over old and new files together reads both.
func TestOriginalsBeforeTemplates(t *testing.T) {
	l, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	evs, _ := parseFile(t, "../parse/cloudtrail/testdata/golden/records.json", "cloudtrail")
	ingest(t, l, "records.json", evs, nil)
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

func TestTextLeaves(t *testing.T) {
	got := textLeaves(nil, "event", `STRUCT("action" VARCHAR, id VARCHAR, category VARCHAR[], n BIGINT, "we""ird, name" VARCHAR, sub STRUCT(a VARCHAR, "b c" STRUCT(d VARCHAR)))`)
	want := []string{"event.action", "event.id", `event.we"ird, name`, "event.sub.a", "event.sub.b c.d"}
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
	} {
		if got := rewriteOriginal(q); got != want {
			t.Errorf("rewriteOriginal(%s)\n = %s\nwant %s", q, got, want)
		}
	}
}

// TestOriginalAsStructFieldHint: the record read as a field of the struct gets a hint naming the
// way to read it.
func TestOriginalAsStructFieldHint(t *testing.T) {
	l, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	evs, _ := parseFile(t, "../parse/cloudtrail/testdata/golden/records.json", "cloudtrail")
	ingest(t, l, "records.json", evs, nil)
	_, err = l.Query(context.Background(), `SELECT event['original'] FROM cloudtrail`, QueryOptions{})
	if err == nil || !strings.Contains(err.Error(), "write event.original") {
		t.Errorf("want the hint, got %v", err)
	}
}
