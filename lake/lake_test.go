package lake

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/parse"
	_ "github.com/ramen-siem/ramen/parse/all"
)

// parseFile parses a file of the repository's testdata into events and rejects.
func parseFile(t testing.TB, path, typ string) ([]*event.Event, []*parse.Reject) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var evs []*event.Event
	var rejs []*parse.Reject
	_, err = parse.Object(context.Background(), path, bytes.NewReader(data), parse.Options{Type: typ},
		func(e *event.Event) error { evs = append(evs, e); return nil },
		func(r *parse.Reject) { rejs = append(rejs, r) })
	if err != nil {
		t.Fatal(err)
	}
	return evs, rejs
}

func ingest(t testing.TB, l *Lake, key string, evs []*event.Event, rejs []*parse.Reject) BatchStats {
	t.Helper()
	a, err := l.NewAppender()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if err := a.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range rejs {
		a.Reject(r)
	}
	a.EndObject(Object{Key: key, Size: int64(len(evs)), SHA256: key, Events: len(evs), Reject: len(rejs)})
	st, err := a.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func queryRows(t testing.TB, l *Lake, q string) [][]any {
	t.Helper()
	rows, err := l.Query(context.Background(), q, QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	return scanAll(t, rows)
}

func scanAll(t testing.TB, rows *sql.Rows) [][]any {
	cols, _ := rows.Columns()
	var out [][]any
	for rows.Next() {
		v := make([]any, len(cols))
		p := make([]any, len(cols))
		for i := range v {
			p[i] = &v[i]
		}
		if err := rows.Scan(p...); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestIngestAndQuery(t *testing.T) {
	l, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	evs, rejs := parseFile(t, "../parse/cloudtrail/testdata/golden/records.json", "cloudtrail")
	bad, badRejs := parseFile(t, "../parse/cloudtrail/testdata/golden/ndjson-with-bad-records.log", "cloudtrail")
	st := ingest(t, l, "records.json", evs, rejs)
	if st.Events != 5 || st.Files == 0 {
		t.Fatalf("stats %+v", st)
	}
	ingest(t, l, "bad.log", bad, badRejs)

	got := queryRows(t, l, `SELECT event.action, user.name, source.ip, "@timestamp", cloud.account.id, date, hour FROM cloudtrail ORDER BY "@timestamp" LIMIT 2`)
	if len(got) != 2 || got[0][0] != "ConsoleLogin" || got[0][1] != "maria.lopez" || got[0][2] != "203.0.113.45" {
		t.Fatalf("rows %v", got)
	}
	if ts, ok := got[0][3].(time.Time); !ok || !ts.Equal(time.Date(2026, 3, 2, 8, 14, 9, 0, time.UTC)) {
		t.Errorf("@timestamp %v (%T)", got[0][3], got[0][3])
	}
	if fmt.Sprint(got[0][6]) != "8" {
		t.Errorf("hour partition %v", got[0][6])
	}
	// Types stay types: booleans, lists, JSON text, the original bytes.
	got = queryRows(t, l, `SELECT aws.cloudtrail.read_only, event.category, aws.cloudtrail.request_parameters, event.original FROM cloudtrail WHERE event.action = 'CreateUser'`)
	if len(got) != 1 || got[0][0] != false || !strings.Contains(fmt.Sprint(got[0][1]), "iam") ||
		!strings.HasPrefix(fmt.Sprint(got[0][2]), `{"userName":"backup-svc"`) || !strings.Contains(fmt.Sprint(got[0][3]), `"eventName":"CreateUser"`) {
		t.Errorf("typed columns: %v", got)
	}
	if n := queryRows(t, l, `SELECT count(*) FROM events`); n[0][0] != int64(7) {
		t.Errorf("events: %v", n)
	}
	if n := queryRows(t, l, `SELECT count(*), min(reason) FROM rejected`); n[0][0] != int64(len(badRejs)) {
		t.Errorf("rejected: %v, want %d", n, len(badRejs))
	}
	// The partition layout is the contract.
	files, _ := filepath.Glob(filepath.Join(l.Root(), "type=cloudtrail", "date=2026-03-02", "hour=08", "*.parquet"))
	if len(files) != 1 {
		t.Errorf("partition files %v", files)
	}
}

func TestQueryErrorHint(t *testing.T) {
	l, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = l.Query(context.Background(), "SELECT * FROM nosuchview", QueryOptions{})
	if err == nil || !strings.Contains(err.Error(), "hint:") {
		t.Errorf("want a hint, got %v", err)
	}
}

func TestSchemaConflictsAreRenamed(t *testing.T) {
	l, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	n := 0
	mk := func(fields ...event.Field) *event.Event {
		n++
		e := event.New("test", "x", 4)
		e.ID = fmt.Sprint(n)
		e.Timestamp = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		e.Fields = fields
		return e
	}
	evs := []*event.Event{
		mk(event.Field{Key: "h.Host", Value: event.String("a")}, event.Field{Key: "n", Value: event.Int(1)}, event.Field{Key: "x.y", Value: event.String("leaf")}),
		mk(event.Field{Key: "h.host", Value: event.String("b")}, event.Field{Key: "n", Value: event.String("two")}, event.Field{Key: "x.y.z", Value: event.Int(3)}),
		mk(event.Field{Key: "x", Value: event.String("x-leaf")}),
	}
	ingest(t, l, "conflicts", evs, nil)
	got := queryRows(t, l, `SELECT h."Host", h.host_, n, x.y, x."y_z", x_ FROM test ORDER BY _id`)
	want := "[[a <nil> 1 leaf <nil> <nil>] [<nil> b two <nil> 3 <nil>] [<nil> <nil> <nil> <nil> <nil> x-leaf]]"
	if fmt.Sprint(got) != want {
		t.Errorf("got  %v\nwant %s", got, want)
	}
}

// Events read back from the lake have the fields, id, time and original bytes they were written with.
func TestScanRoundTrip(t *testing.T) {
	l, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	evs, _ := parseFile(t, "../parse/cloudtrail/testdata/golden/records.json", "cloudtrail")
	wrapped, _ := parseFile(t, "../parse/cloudtrail/testdata/golden/eventbridge.json", "cloudtrail")
	evs = append(evs, wrapped...)
	ingest(t, l, "records.json", evs, nil)
	var got []*event.Event
	n, err := l.Scan(context.Background(), "cloudtrail", QueryOptions{}, func(e *event.Event) error { got = append(got, e); return nil })
	if err != nil || n != len(evs) {
		t.Fatalf("scan: %d, %v", n, err)
	}
	byID := map[string]*event.Event{}
	for _, e := range got {
		byID[e.ID] = e
	}
	for i, want := range evs {
		e := byID[want.ID]
		if e == nil {
			t.Fatalf("event %d (%s) not read back", i, want.ID)
		}
		if e.Original != want.Original || !e.Timestamp.Equal(want.Timestamp) || e.Type != "cloudtrail" || e.NativeRoot != want.NativeRoot {
			t.Errorf("event %d: original/time/type differ", i)
		}
		for _, f := range want.Fields {
			v, ok := e.Get(f.Key)
			if !ok || v.Text() != f.Value.Text() {
				t.Errorf("event %d: %s = %q (%v), want %q", i, f.Key, v.Text(), ok, f.Value.Text())
			}
		}
		// Native lookups work on what comes back, as rules need.
		if v, ok := e.Lookup("userIdentity.type"); !ok || v.Str() == "" {
			t.Errorf("event %d: native lookup failed", i)
		}
	}
	if i := sortCheck(got); i >= 0 {
		t.Errorf("events not in time order at %d", i)
	}
}

func sortCheck(evs []*event.Event) int {
	for i := 1; i < len(evs); i++ {
		if evs[i].Timestamp.Before(evs[i-1].Timestamp) {
			return i
		}
	}
	return -1
}

func TestShowTablesListsTheViews(t *testing.T) {
	l, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	evs, _ := parseFile(t, "../parse/cloudtrail/testdata/golden/records.json", "cloudtrail")
	ingest(t, l, "records.json", evs, nil)
	got := fmt.Sprint(queryRows(t, l, "SHOW TABLES"))
	for _, v := range []string{"cloudtrail", "events", "rejected"} {
		if !strings.Contains(got, v) {
			t.Errorf("SHOW TABLES lacks %s: %s", v, got)
		}
	}
	if got := mentioned(`SELECT * FROM "cloudtrail" c JOIN events e USING (_id) WHERE x = 'rejected_x'`, []string{"cloudtrail", "events", "rejected", "waf"}); fmt.Sprint(got) != "[cloudtrail events]" {
		t.Errorf("mentioned: %v", got)
	}
}
