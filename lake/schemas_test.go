package lake

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ramen-siem/ramen/event"
)

// mixedLake has type "test" in four batches of one hour with different columns: a column that is
// an integer, text and a float in different batches, struct fields that only some batches have,
// and top-level columns of one batch only.
func mixedLake(t *testing.T) *Lake {
	t.Helper()
	l, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	mk := func(fields ...event.Field) *event.Event {
		n++
		e := event.New("test", "x", 4)
		e.ID = fmt.Sprint(n)
		e.Timestamp = time.Date(2026, 1, 1, 0, n, 0, 0, time.UTC)
		e.Fields = fields
		return e
	}
	f := func(k string, v event.Value) event.Field { return event.Field{Key: k, Value: v} }
	ingest(t, l, "a", []*event.Event{mk(f("n", event.Int(1)), f("source.ip", event.String("10.0.0.1")), f("a", event.Bool(true)), f("l", event.Strings("x", "y")))}, nil)
	ingest(t, l, "b", []*event.Event{mk(f("n", event.String("two")), f("source.port", event.Int(22)), f("b", event.Float(1.5)))}, nil)
	ingest(t, l, "c", []*event.Event{mk(f("n", event.Float(3.5)), f("source.ip", event.Int(7)))}, nil)
	ingest(t, l, "d", []*event.Event{mk(f("n", event.Int(4)), f("source.ip", event.String("10.0.0.4")), f("a", event.Bool(false)), f("l", event.Strings("z")))}, nil)
	return l
}

// describe returns "name type" of each column of a FROM expression, in order.
func describe(t *testing.T, l *Lake, from string) string {
	t.Helper()
	rows, err := l.DB().Query("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM " + from + ")")
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, r := range scanAll(t, rows) {
		cols = append(cols, fmt.Sprint(r[0], " ", r[1]))
	}
	return strings.Join(cols, ", ")
}

// The views read files grouped by schema, without union_by_name, and give what union_by_name gives:
// the same columns in the same order, the same types (a column that is a number in one batch and
// text in another is text), NULLs where a file lacks a column, the same rows.
func TestViewsMatchUnionByName(t *testing.T) {
	for _, max := range []int{32, 2} { // 2: the smallest groups go through union_by_name
		t.Run(fmt.Sprint("groups ", max), func(t *testing.T) {
			defer func(m int) { maxSchemaGroups = m }(maxSchemaGroups)
			maxSchemaGroups = max
			l := mixedLake(t)
			defer l.Close()
			files := l.sources("test", time.Time{}, time.Time{})
			if len(files) != 4 {
				t.Fatalf("files %v", files)
			}
			src := l.parquetSource(files)
			// union_by_name only for the empty branch of first files, and with 2 groups for the third's file.
			ubn := map[int]int{32: 1, 2: 2}[max]
			if strings.Count(src, "UNION ALL BY NAME") != 3 || strings.Count(src, "union_by_name") != ubn || !strings.Contains(src, "WHERE false") {
				t.Errorf("not read by schema groups: %s", src)
			}
			old := "read_parquet(" + sqlString(l.partitionGlob("test")) + ", hive_partitioning = true, union_by_name = true, hive_types = {'date': DATE, 'hour': INTEGER})"
			// The views as stored (Templates): the columns of the files, as union_by_name reads them.
			if _, err := l.Views(context.Background(), QueryOptions{Templates: true}); err != nil {
				t.Fatal(err)
			}
			want, got := describe(t, l, old), describe(t, l, "test")
			if got != want {
				t.Errorf("columns\n got  %s\n want %s", got, want)
			}
			// (Batch ids start with the second: the files' order, hence the columns', varies.)
			if !strings.Contains(got, "n VARCHAR") || !strings.Contains(got, "ip VARCHAR") || !strings.Contains(got, "port BIGINT") {
				t.Errorf("types: %s", got)
			}
			q := `SELECT _id, n, source.ip, source.port, a, b, l, date, hour, type FROM %s ORDER BY _id`
			rows := fmt.Sprint(queryRows(t, l, fmt.Sprintf(q, "test")))
			if w := fmt.Sprint(queryRows(t, l, fmt.Sprintf(q, old))); rows != w {
				t.Errorf("rows\n got  %s\n want %s", rows, w)
			}
			const wantRows = "[[1 1 10.0.0.1 <nil> true <nil> [x y] 2026-01-01 00:00:00 +0000 UTC 0 test] " +
				"[2 two <nil> 22 <nil> 1.5 <nil> 2026-01-01 00:00:00 +0000 UTC 0 test] " +
				"[3 3.5 7 <nil> <nil> <nil> <nil> 2026-01-01 00:00:00 +0000 UTC 0 test] " +
				"[4 4 10.0.0.4 <nil> false <nil> [z] 2026-01-01 00:00:00 +0000 UTC 0 test]]"
			if rows != wantRows {
				t.Errorf("rows\n got  %s\n want %s", rows, wantRows)
			}
			if n := count(t, l, "SELECT count(*) FROM events WHERE source.ip IS NOT NULL"); n != 3 {
				t.Errorf("events with source.ip: %d", n)
			}
			// A time range reads only its days, through the same groups.
			opt := QueryOptions{Since: time.Date(2026, 1, 1, 0, 2, 0, 0, time.UTC), Until: time.Date(2026, 1, 1, 0, 4, 0, 0, time.UTC)}
			r, err := l.Query(context.Background(), "SELECT _id FROM test ORDER BY 1", opt)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(scanAll(t, r)); got != "[[2] [3]]" {
				t.Errorf("time range: %s", got)
			}
			r.Close()
		})
	}
}

// The schema cache is a hint: a damaged, stale or missing cache is learned again from the files,
// and files that compaction or prune removed are neither read nor kept in it.
func TestSchemaCacheIsNotTrustedBlindly(t *testing.T) {
	l := mixedLake(t)
	defer l.Close()
	cache := filepath.Join(l.Root(), schemaCacheName)
	const q = `SELECT count(*), count(a), count(b), count(l), count(source.port) FROM test`
	const want = "[[4 2 1 2 1]]"
	check := func(what string) {
		t.Helper()
		if got := fmt.Sprint(queryRows(t, l, q)); got != want {
			t.Errorf("%s: %s, want %s", what, got, want)
		}
	}
	reopen := func() {
		t.Helper()
		l.Close()
		var err error
		if l, err = Open(l.Root(), Options{}); err != nil {
			t.Fatal(err)
		}
	}
	check("first query")
	data, err := os.ReadFile(cache)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 5 || lines[0] != schemaCacheHeader {
		t.Fatalf("cache: %q", data)
	}
	schemas := map[string]bool{}
	for _, ln := range lines[1:] {
		schemas[strings.Split(ln, "\t")[3]] = true
	}
	if len(schemas) != 3 { // batches a and d have the same columns
		t.Errorf("%d schemas, want 3: %q", len(schemas), data)
	}

	// One schema said for every file, as a damaged or hand-edited cache might: the lines' checksums
	// do not match, so the schemas are learned again.
	var lied []string
	for _, ln := range lines[1:] {
		f := strings.Split(ln, "\t")
		lied = append(lied, strings.Join([]string{f[0], f[1], f[2], strings.Split(lines[1], "\t")[3], f[4]}, "\t"))
	}
	os.WriteFile(cache, []byte(lines[0]+"\n"+strings.Join(lied, "\n")+"\n"), 0o644)
	reopen()
	check("cache with damaged lines")
	// A file whose size or time differs from its entry is learned again, even with a checksum.
	var stale []string
	for _, ln := range lines[1:] {
		f := strings.Split(ln, "\t")
		line := strings.Join([]string{f[0], "1", f[2], strings.Split(lines[1], "\t")[3]}, "\t")
		stale = append(stale, line+"\t"+lineSum(line))
	}
	os.WriteFile(cache, []byte(lines[0]+"\n"+strings.Join(stale, "\n")+"\n"), 0o644)
	reopen()
	check("stale cache")
	for _, bad := range []string{"", "garbage\x00\xff", "ramen-schemas 99\n" + strings.Join(lines[1:], "\n")} {
		os.WriteFile(cache, []byte(bad), 0o644)
		reopen()
		check(fmt.Sprintf("cache %q", bad))
	}
	os.Remove(cache)
	reopen()
	check("no cache")
	if data, _ := os.ReadFile(cache); string(data) == "" || !strings.HasPrefix(string(data), schemaCacheHeader+"\n") {
		t.Errorf("cache not rebuilt: %q", data)
	}

	// Compaction replaces the four files by one with the union of their columns; the cache of the
	// same process must not be believed for the files gone.
	if _, err := l.Compact(context.Background(), CompactOptions{Type: "test"}); err != nil {
		t.Fatal(err)
	}
	check("after compaction")
	data, _ = os.ReadFile(cache)
	if n := strings.Count(string(data), "\n"); n != 2 || !strings.Contains(string(data), "_c.parquet") {
		t.Errorf("cache after compaction (want the compacted file only): %q", data)
	}
	// New batches with new columns arrive (from this process or another machine's publication).
	ingest(t, l, "e", []*event.Event{func() *event.Event {
		e := event.New("test", "x", 1)
		e.ID = "5"
		e.Timestamp = time.Date(2026, 1, 1, 0, 5, 0, 0, time.UTC)
		e.Fields = []event.Field{{Key: "c", Value: event.String("new")}}
		return e
	}()}, nil)
	if got := fmt.Sprint(queryRows(t, l, `SELECT count(*), count(c), count(a) FROM test`)); got != "[[5 1 2]]" {
		t.Errorf("after a new batch: %s", got)
	}
	// Prune removes the hour: the view is gone, the lake still queries.
	if _, err := l.Prune(context.Background(), PruneOptions{Retention: Retention{"test": time.Hour}, Now: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	if files := l.sources("*", time.Time{}, time.Time{}); len(files) != 0 {
		t.Fatalf("files after prune: %v", files)
	}
	if _, err := l.Query(context.Background(), "SELECT count(*) FROM rejected", QueryOptions{}); err != nil {
		t.Errorf("after prune: %v", err)
	}
}

// The views name their files: a compaction between making them and the query replaces files they
// name, and the query makes them again instead of failing.
func TestQueryAfterFilesWereReplaced(t *testing.T) {
	l := mixedLake(t)
	defer l.Close()
	compacted := 0
	viewsMade = func() {
		if compacted == 0 {
			if _, err := l.Compact(context.Background(), CompactOptions{Type: "test"}); err != nil {
				t.Error(err)
			}
		}
		compacted++
	}
	defer func() { viewsMade = nil }()
	if got := fmt.Sprint(queryRows(t, l, `SELECT count(*), count(b) FROM test`)); got != "[[4 1]]" || compacted != 2 {
		t.Errorf("got %s after %d attempts", got, compacted)
	}
	// Scan (ramen hunt) too.
	compacted = 0
	e := event.New("test", "x", 1)
	e.ID, e.Timestamp = "5", time.Date(2026, 1, 1, 0, 30, 0, 0, time.UTC)
	ingest(t, l, "e", []*event.Event{e}, nil)
	n, err := l.Scan(context.Background(), "test", QueryOptions{}, func(*event.Event) error { return nil })
	if err != nil || n != 5 || compacted != 2 {
		t.Errorf("scan: %d events, %v, %d attempts", n, err, compacted)
	}
	if n, err := l.Scan(context.Background(), "nosuch", QueryOptions{}, func(*event.Event) error { return nil }); err != nil || n != 0 {
		t.Errorf("scan of a type without data: %d, %v", n, err)
	}
}

// A commit tells the views' cache the schemas of the files it put in place, as their footers say
// them: the first query after an ingest does not read those footers again. A lake opened afresh
// reads the entries from the cache file.
func TestCommitNotesSchemas(t *testing.T) {
	l := mixedLake(t)
	defer l.Close()
	files, _ := filepath.Glob(l.partitionGlob("test"))
	if len(files) != 4 {
		t.Fatalf("%d files", len(files))
	}
	for _, f := range files {
		rel, _ := filepath.Rel(l.Root(), f)
		want, err := schemaHash(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.schemas.entries[rel].schema; got != want {
			t.Errorf("%s: noted %q, the footer says %q", rel, got, want)
		}
	}
	// Batches a and d have the same columns: one schema, three groups.
	groups, unknown := l.schemaGroups(files)
	if len(groups) != 3 || len(unknown) != 0 {
		t.Errorf("%d groups, %d unknown, want 3 and 0", len(groups), len(unknown))
	}
	var c schemaCache
	c.load(filepath.Join(l.Root(), schemaCacheName))
	for _, f := range files {
		rel, _ := filepath.Rel(l.Root(), f)
		if c.entries[rel] != l.schemas.entries[rel] {
			t.Errorf("%s: the cache file has %+v, the lake %+v", rel, c.entries[rel], l.schemas.entries[rel])
		}
	}
}
