package lake

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/parse"
)

var update = flag.Bool("update", false, "rewrite the golden files of the lake's tests")

// TestFilesReadBack is the writer's contract with readers: every parser's golden inputs, and
// synthetic events with every kind and every schema rule (renames, mixed kinds, lists, columns
// appearing mid-batch, several hours), written as one batch and read back by DuckDB, row by row in
// file order, with the files' column types. testdata/readback/<type>.golden holds what DuckDB reads.
// The goldens were first made by the row-assembling writer the column writer replaced, and the
// column writer reproduced them exactly, except where that writer wrote broken files (a list with an
// empty string or an empty list, a key given twice in one event: DuckDB failed to read them).
func TestFilesReadBack(t *testing.T) {
	l := openLake(t)
	a, err := l.NewAppender()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range goldenEvents(t) {
		if err := a.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range synthetic() {
		if err := a.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	a.EndObject(Object{Key: "all", SHA256: "all"})
	if _, err := a.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	types, err := l.Types()
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range types {
		t.Run(typ, func(t *testing.T) {
			got := readBack(t, l, typ)
			path := filepath.Join("testdata", "readback", typ+".golden")
			if *update {
				os.MkdirAll(filepath.Dir(path), 0o755)
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
				for i := 0; i < max(len(gl), len(wl)); i++ {
					var g, w string
					if i < len(gl) {
						g = gl[i]
					}
					if i < len(wl) {
						w = wl[i]
					}
					if g != w {
						t.Fatalf("%s: line %d differs\ngot:  %.600s\nwant: %.600s", path, i+1, g, w)
					}
				}
			}
		})
	}
}

// goldenEvents parses every parser's golden inputs. Inputs that do not parse (they test the parsers'
// errors) give what they have. Events without a time get one in 2000, not now: golden files must
// not change from run to run.
func goldenEvents(t *testing.T) []*event.Event {
	t.Helper()
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
	return evs
}

// readBack renders a type's files as DuckDB reads them: the merged column types, then every row as
// JSON, in file order (partition, then position in the file).
func readBack(t *testing.T, l *Lake, typ string) string {
	glob := sqlString(l.partitionGlob(typ))
	src := `read_parquet(` + glob + `, hive_partitioning = false, union_by_name = true, filename = true, file_row_number = true)`
	var b strings.Builder
	rows, err := l.DB().Query(`SELECT column_name, column_type FROM (DESCRIBE SELECT * EXCLUDE (filename, file_row_number) FROM ` + src + `)`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, typ string
		rows.Scan(&name, &typ)
		fmt.Fprintf(&b, "%s %s\n", name, typ)
	}
	rows.Close()
	rows, err = l.DB().Query(`SELECT regexp_extract(filename, 'date=[^/]*/hour=[0-9]*'), file_row_number,
		to_json(__row)::VARCHAR FROM (SELECT * FROM ` + src + `) __row ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var part, js string
		var n int64
		if err := rows.Scan(&part, &n, &js); err != nil {
			t.Fatal(err)
		}
		// The file name (with the batch's random id) is not part of what is compared.
		js = strings.Replace(js, `"filename":`, `"-":`, 1)
		if i := strings.Index(js, `"-":"`); i >= 0 {
			if j := strings.Index(js[i+5:], `"`); j >= 0 {
				js = js[:i] + js[i+5+j+1:]
			}
		}
		fmt.Fprintf(&b, "%s %d %s\n", part, n, js)
	}
	return b.String()
}

// synthetic returns events that exercise every kind and every schema rule, over three hours and out
// of time order, with ties (which keep the order they were added in).
func synthetic() []*event.Event {
	base := time.Date(2026, 3, 2, 7, 59, 0, 0, time.UTC)
	var out []*event.Event
	for i := range 3000 {
		e := event.New("synthetic", fmt.Sprintf(`{"n":%d,"text":"record \u00e9 %d"}`, i, i*7), 16)
		e.ID = fmt.Sprintf("%032x", i*2654435761)
		// Out of order, with ties: three events share each second.
		e.Timestamp = base.Add(time.Duration((i*7919)%1000) * 7 * time.Second)
		if i%3 == 1 {
			e.Timestamp = out[len(out)-1].Timestamp
		}
		e.Add("event.action", event.String([]string{"Get", "Put", "List", "Delete"}[i%4]))
		e.Add("n.int", event.Int(int64(i)*1_000_003-1_500_000_000))
		if i%5 != 0 {
			e.Add("n.float", event.Float(float64(i)/7))
		}
		if i == 10 {
			e.Add("n.special", event.Float(math.Inf(1)))
		}
		e.Add("n.bool", event.Bool(i%3 == 0))
		if i%2 == 0 {
			e.Add("n.time", event.Time(base.Add(time.Duration(i)*time.Millisecond+123456)))
		}
		switch i % 4 { // a list, an empty one (not null), one of one, none
		case 0:
			e.Add("list", event.Strings("a", fmt.Sprint(i), ""))
		case 1:
			e.Add("list", event.Strings())
		case 2:
			e.Add("list", event.Strings(fmt.Sprint(i%17)))
		}
		if i%7 == 0 {
			e.Add("doc", event.JSON(fmt.Sprintf(`{"k":[%d,{"x":null}]}`, i)))
		}
		// A column that changes kind within the batch is text.
		if i%2 == 0 {
			e.Add("mixed", event.Int(int64(i)))
		} else {
			e.Add("mixed", event.String(fmt.Sprintf("v%d", i)))
		}
		if i == 1500 { // a key given twice keeps its first value, the one event.Get finds
			e.Add("mixed", event.Bool(true))
		}
		// Case clash and leaf/struct clashes, from the middle of the batch on.
		if i >= 1000 && i%10 == 0 {
			e.Add("h.Host", event.String("upper"))
		}
		if i >= 1200 && i%10 == 5 {
			e.Add("h.host", event.String("lower"))
		}
		if i%9 == 0 {
			e.Add("x.y", event.String("leaf"))
		}
		if i >= 2000 && i%9 == 1 {
			e.Add("x.y.z", event.Int(int64(i)))
		}
		if i == 2999 {
			e.Add("x", event.String("x-leaf"))
			e.Add("late.column", event.String("only the last event has it"))
		}
		if i%11 == 0 {
			e.NativeRoot = "detail"
		}
		// Repeating text (a dictionary) and text that does not repeat (plain), and a long value.
		e.Add("user.name", event.String(fmt.Sprintf("user-%d", i%13)))
		e.Add("request.id", event.String(fmt.Sprintf("req-%08x", i*40503)))
		if i == 77 {
			e.Add("long", event.String(strings.Repeat("0123456789", 20000)))
		}
		out = append(out, e)
	}
	return out
}

// A batch's memory is what its columns hold, measured, not estimated from the events: a batch of
// events with 1 kB originals holds a little more than its text, and Full says so at MaxBatchBytes.
func TestBatchMemoryIsMeasured(t *testing.T) {
	l := openLake(t)
	a, _ := l.NewAppender()
	a.MaxBatchBytes = 8 << 20
	base := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	n := 0
	for !a.Full() {
		e := event.New("mem", fmt.Sprintf("%04d%s", n, strings.Repeat("x", 1020)), 2)
		e.ID = fmt.Sprintf("%032d", n)
		e.Timestamp = base.Add(time.Duration(n) * time.Millisecond)
		e.Add("n", event.Int(int64(n)))
		if err := a.Add(e); err != nil {
			t.Fatal(err)
		}
		n++
		if n > 100_000 {
			t.Fatal("Full never reported true")
		}
	}
	// Each event: 1024 bytes of original, 32 of id, and a few numbers and spans.
	text := int64(n) * (1024 + 32)
	st, err := a.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Bytes < text || st.Bytes > text*13/10 {
		t.Errorf("%d events of %d bytes of text: batch held %d bytes", n, text, st.Bytes)
	}
	if n < 6000 || n > 8200 {
		t.Errorf("Full at %d events of about 1.1 kB for MaxBatchBytes 8 MB", n)
	}
}

// Add copies what it keeps: the caller may change or reuse an event once it is added.
func TestAddDoesNotKeepTheEvent(t *testing.T) {
	l := openLake(t)
	a, _ := l.NewAppender()
	buf := []byte(`{"a":1}`)
	e := event.New("reuse", bytesString(buf), 2)
	e.ID = "first"
	e.Timestamp = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	e.Add("user.name", event.String(bytesString(buf[2:3])))
	if err := a.Add(e); err != nil {
		t.Fatal(err)
	}
	copy(buf, `{"b":2}`) // the bytes the event's strings share, as a parser's buffer would be reused
	e.ID, e.Timestamp, e.Fields[0].Value = "second", e.Timestamp.Add(time.Hour), event.Int(7)
	a.EndObject(Object{Key: "k", SHA256: "k"})
	if _, err := a.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := readBack(t, l, "reuse")
	want := `{"@timestamp":"2026-03-02 08:00:00","_id":"first","_original":"{\"a\":1}","user":{"name":"a"}`
	if !strings.Contains(got, want) || strings.Count(got, "date=") != 1 {
		t.Errorf("read back:\n%s\nwant a row with %s", got, want)
	}
}

// Times outside the years nanoseconds reach (before 1678, after 2262) and before 1970 land in their
// own hour and read back exactly.
func TestFarTimes(t *testing.T) {
	l := openLake(t)
	var evs []*event.Event
	for i, ts := range []time.Time{
		time.Date(2300, 1, 2, 3, 4, 5, 6000, time.UTC),
		time.Date(1960, 6, 1, 23, 59, 59, 999999000, time.UTC),
		time.Date(1969, 12, 31, 23, 0, 0, 1000, time.UTC),
		time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC),
	} {
		e := event.New("far", "x", 1)
		e.ID, e.Timestamp = fmt.Sprint(i), ts
		e.Add("t", event.Time(time.Date(1950, 1, 1, 0, 0, 0, 1500, time.UTC)))
		// Beyond unix nanoseconds in a field too: RFC 5280's "no expiry" certificate date, a year 1500.
		e.Add("tls.client.not_after", event.Time(time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)))
		e.Add("tls.client.not_before", event.Time(time.Date(1500, 3, 1, 0, 0, 0, 0, time.UTC)))
		evs = append(evs, e)
	}
	ingest(t, l, "k", evs, nil)
	got := readBack(t, l, "far")
	for _, want := range []string{
		`date=2300-01-02/hour=03 0 {"@timestamp":"2300-01-02 03:04:05.000006"`,
		`date=1960-06-01/hour=23 0 {"@timestamp":"1960-06-01 23:59:59.999999"`,
		`date=1969-12-31/hour=23 0 {"@timestamp":"1969-12-31 23:00:00.000001"`,
		`"t":"1950-01-01 00:00:00.000001"`,
		`"not_after":"9999-12-31 23:59:59"`,
		`"not_before":"1500-03-01 00:00:00"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("read back:\n%s\nlacks %s", got, want)
		}
	}
}

// A field named like a column every row has (a parser's mistake) does not replace or break it.
func TestFixedKeysInFields(t *testing.T) {
	l := openLake(t)
	e := event.New("fixed", "the record", 4)
	e.ID, e.Timestamp = "id-1", time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	e.Add("@timestamp", event.String("not a time"))
	e.Add("event.original", event.Int(3))
	e.Add("_id", event.String("another id"))
	e.Add("event.action", event.String("Get"))
	ingest(t, l, "k", []*event.Event{e}, nil)
	got := readBack(t, l, "fixed")
	want := `{"@timestamp":"2026-03-02 08:00:00","_id":"id-1","_original":"the record","event":{"action":"Get"}`
	if !strings.Contains(got, want) {
		t.Errorf("read back:\n%s\nwant a row with %s", got, want)
	}
}

// A file of more than one row group (122,880 rows) keeps every value on its row across the groups,
// for columns every row has, columns few rows have, and lists.
func TestRowGroups(t *testing.T) {
	l := openLake(t)
	base := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	const n = 130_000
	evs := make([]*event.Event, 0, n)
	for i := n - 1; i >= 0; i-- { // added newest first: the file must still be in time order
		e := event.New("groups", "r", 3)
		e.ID, e.Timestamp = fmt.Sprint(i), base.Add(time.Duration(i)*10*time.Millisecond)
		e.Add("n", event.Int(int64(i)))
		if i%7 == 0 {
			e.Add("sparse", event.String(fmt.Sprint(i)))
		}
		if i%5 == 0 {
			e.Add("list", event.Strings(fmt.Sprint(i), "x"))
		}
		evs = append(evs, e)
	}
	ingest(t, l, "k", evs, nil)
	src := `read_parquet(` + sqlString(l.partitionGlob("groups")) + `, file_row_number = true)`
	var groups int64
	l.DB().QueryRow(`SELECT count(DISTINCT row_group_id) FROM parquet_metadata(` + sqlString(l.partitionGlob("groups")) + `)`).Scan(&groups)
	var rows, misplaced, sparse, badSparse, lists, badLists int64
	err := l.DB().QueryRow(`SELECT count(*), count(*) FILTER (WHERE n != file_row_number),
		count(sparse), count(*) FILTER (WHERE (n % 7 = 0) != (sparse IS NOT NULL) OR sparse != n::VARCHAR),
		count(list), count(*) FILTER (WHERE (n % 5 = 0) != (list IS NOT NULL) OR list != [n::VARCHAR, 'x'])
		FROM `+src).Scan(&rows, &misplaced, &sparse, &badSparse, &lists, &badLists)
	if err != nil {
		t.Fatal(err)
	}
	if groups != 2 || rows != n || misplaced != 0 || sparse != (n+6)/7 || badSparse != 0 || lists != n/5 || badLists != 0 {
		t.Errorf("%d row groups, %d rows, %d out of place, %d sparse values (%d wrong), %d lists (%d wrong)",
			groups, rows, misplaced, sparse, badSparse, lists, badLists)
	}
}

// Batches of one Appender, of different sizes, each of several blocks and text chunks, read back as
// added.
func TestSeveralBatches(t *testing.T) {
	l := openLake(t)
	a, _ := l.NewAppender()
	base := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	const per = 20_000 // several blocks, and text chunks of the largest size
	// Batches get smaller.
	for batch := range 3 {
		for i := range per - batch*5000 {
			n := batch*per + i
			e := event.New("reuse", fmt.Sprintf("rec-%d-%s", n, strings.Repeat("y", 200+n%50)), 2)
			e.ID, e.Timestamp = fmt.Sprint(n), base.Add(time.Duration(n)*time.Millisecond)
			e.Add("n", event.Int(int64(n)))
			if n%3 == 0 {
				e.Add("tag", event.String(fmt.Sprintf("t%d", n)))
			}
			if err := a.Add(e); err != nil {
				t.Fatal(err)
			}
		}
		a.EndObject(Object{Key: fmt.Sprint(batch), SHA256: fmt.Sprint(batch)})
		if _, err := a.Commit(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	var rows, bad int64
	err := l.DB().QueryRow(`SELECT count(*), count(*) FILTER (WHERE _original != 'rec-' || n || '-' || repeat('y', 200 + (n % 50)::INT)
		OR _id != n::VARCHAR OR (n % 3 = 0) != (tag IS NOT NULL) OR tag != 't' || n)
		FROM read_parquet(`+sqlString(l.partitionGlob("reuse"))+`, union_by_name = true)`).Scan(&rows, &bad)
	if err != nil {
		t.Fatal(err)
	}
	if rows != 3*per-15000 || bad != 0 {
		t.Errorf("%d rows (want %d), %d not as added", rows, 3*per-15000, bad)
	}
}

// A text column keeps one copy of a value that comes back while it is recent (an action or an
// outcome of a few values in any order, a list's elements), and stops looking values up once they
// seldom come back (addresses, ids), without losing any.
func TestRecentValuesShareCopies(t *testing.T) {
	var c column
	words := []string{"connection", "allowed", "denied", "success", "failure"}
	var spans []span
	for i := range 10_000 {
		w := string([]byte(words[(i*7)%len(words)])) // a fresh string each time, as parsers give
		c.addRow(int32(i))
		sp := c.addText(w)
		c.text.append(sp)
		spans = append(spans, sp)
	}
	if c.ar.bytes > minChunk {
		t.Errorf("%d bytes of arena for %d distinct words", c.ar.bytes, len(words))
	}
	for i, sp := range spans {
		if got := string(c.ar.get(sp)); got != words[(i*7)%len(words)] {
			t.Fatalf("value %d: %q", i, got)
		}
	}
	var u column
	for i := range 5 * recentTrial {
		u.addRow(int32(i))
		u.text.append(u.addText(fmt.Sprintf("10.0.%d.%d", i/256, i%256)))
	}
	if !u.varied || u.recent != nil {
		t.Error("distinct values are still looked up")
	}
	for i := range u.n {
		if got, want := string(u.ar.get(u.text.at(i))), fmt.Sprintf("10.0.%d.%d", i/256, i%256); got != want {
			t.Fatalf("value %d: %q, want %q", i, got, want)
		}
	}
}

// A column of one value holds no value per row (column.one) and is written as a run; one that gets
// a second value later, a list of more than one element or a value of another kind holds them all
// from then on. Every row reads back as it was added, in two row groups.
func TestOneValueColumns(t *testing.T) {
	l := openLake(t)
	base := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	const n = 130_000
	evs := make([]*event.Event, 0, n)
	for i := range n {
		e := event.New("one", "r", 6)
		e.ID, e.Timestamp = fmt.Sprint(i), base.Add(time.Duration(n-i)*time.Millisecond) // written in reverse
		e.Original = fmt.Sprintf(`{"i":%d}`, i)
		e.Add("i", event.Int(int64(i)))
		e.Add("k.same", event.String(string([]byte("same")))) // a fresh string each time, as parsers give
		late := "first"
		if i >= 125_000 {
			late = "second"
		}
		e.Add("k.late", event.String(late))
		switch {
		case i < 126_000:
			e.Add("k.list", event.Strings("network"))
		case i < 127_000:
			e.Add("k.list", event.Strings("network", "web"))
		default:
			e.Add("k.list", event.Strings())
		}
		e.Add("k.one_list", event.Strings("network"))
		if i < 128_000 {
			e.Add("k.kinds", event.String("7"))
		} else {
			e.Add("k.kinds", event.Int(7))
		}
		if i%2 == 0 {
			e.Add("k.half", event.String("even")) // one value, not in every row
		}
		evs = append(evs, e)
	}
	ingest(t, l, "k", evs, nil)
	var bad, rows int64
	err := l.DB().QueryRow(`SELECT count(*), count(*) FILTER (WHERE k.same != 'same'
		OR k.late != CASE WHEN i >= 125000 THEN 'second' ELSE 'first' END
		OR k.list != CASE WHEN i < 126000 THEN ['network'] WHEN i < 127000 THEN ['network', 'web'] ELSE [] END
		OR k.one_list != ['network'] OR k.kinds != '7'
		OR k.half IS DISTINCT FROM CASE WHEN i % 2 = 0 THEN 'even' END)
		FROM read_parquet(`+sqlString(l.partitionGlob("one"))+`)`).Scan(&rows, &bad)
	if err != nil {
		t.Fatal(err)
	}
	if rows != n || bad != 0 {
		t.Errorf("%d rows, %d read back wrong", rows, bad)
	}
	meta := `parquet_metadata(` + sqlString(l.partitionGlob("one")) + `)`
	var lo, hi string
	if err := l.DB().QueryRow(`SELECT min(stats_min_value), max(stats_max_value) FROM `+meta+` WHERE path_in_schema = 'k, same'`).Scan(&lo, &hi); err != nil {
		t.Fatal(err)
	}
	if lo != "same" || hi != "same" {
		t.Errorf("k.same: statistics %q..%q", lo, hi)
	}
}

// A field set to the very value of the field before it is held as an alias of that field's column
// (column.addAlias) and written from its values; an alias whose rows or values part from the
// other column's, or whose column changes kind, gets its values back. Every row reads back as it
// was added, in two row groups.
func TestAliasColumns(t *testing.T) {
	l := openLake(t)
	a, err := l.NewAppender()
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	const n = 130_000
	for i := range n {
		e := event.New("alias", "r", 20)
		e.ID, e.Timestamp = fmt.Sprint(i), base.Add(time.Duration(n-i)*time.Millisecond) // written in reverse
		e.Original = fmt.Sprintf(`{"i":%d}`, i)
		s := fmt.Sprint(i % 1000)
		e.Add("i", event.Int(int64(i)))
		e.Add("x.src", event.String(s))
		e.Add("x.same", event.String(s)) // an alias to the end, of a leaf like its column's
		e.Add("y.src", event.String(s))
		e.Add("y.deep.er", event.String(s)) // an alias to the end, one level deeper
		e.Add("z.src", event.String(s))
		if i%1000 != 999 {
			e.Add("z.gap", event.String(s)) // not in every row that z.src is in
		}
		e.Add("q.src", event.String(s))
		if i < n-10 {
			e.Add("q.tail", event.String(s)) // not in the last rows: an alias until commit
		}
		e.Add("w.src", event.String(s))
		if i < 100_000 {
			e.Add("w.late", event.String(s))
		} else {
			e.Add("w.late", event.String(string([]byte(s)))) // the same text, elsewhere in memory
		}
		if i < 120_000 {
			e.Add("v.src", event.Int(int64(i)))
		} else {
			e.Add("v.src", event.String("x")) // v.src becomes text
		}
		e.Add("v.same", event.Int(int64(i)))
		l := event.Strings(s, "b")
		e.Add("u.src", l)
		e.Add("u.same", l)
		if i < 500 {
			e.Add("t.a", event.String(s))
			e.Add("t.copy", event.String(s))
		} else {
			e.Add("t.b", event.String(s+"b"))
			e.Add("t.copy", event.String(s+"b")) // now the alias of another column
		}
		if err := a.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	tb := a.types["alias"]
	for path, want := range map[string]string{"x.same": "x.src", "y.deep.er": "y.src", "z.gap": "", "q.tail": "q.src", "w.late": "",
		"v.same": "", "u.same": "u.src", "t.copy": ""} {
		got := ""
		if c := tb.byPath[path].alias; c != nil {
			got = c.path
		}
		if got != want {
			t.Errorf("%s: an alias of %q, want %q", path, got, want)
		}
	}
	a.EndObject(Object{Key: "k", SHA256: "k"})
	if _, err := a.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	var bad, rows int64
	err = l.DB().QueryRow(`SELECT count(*), count(*) FILTER (WHERE x.src != s OR x.same != s OR y.src != s OR y.deep.er != s
		OR z.src != s OR z.gap IS DISTINCT FROM CASE WHEN i % 1000 != 999 THEN s END
		OR q.src != s OR q.tail IS DISTINCT FROM CASE WHEN i < 129990 THEN s END OR w.src != s OR w.late != s
		OR v.src != CASE WHEN i < 120000 THEN i::VARCHAR ELSE 'x' END OR v.same != i
		OR u.src != [s, 'b'] OR u.same != [s, 'b']
		OR t.a IS DISTINCT FROM CASE WHEN i < 500 THEN s END OR t.b IS DISTINCT FROM CASE WHEN i >= 500 THEN s || 'b' END
		OR t.copy != CASE WHEN i < 500 THEN s ELSE s || 'b' END)
		FROM (SELECT *, (i % 1000)::VARCHAR AS s FROM read_parquet(`+sqlString(l.partitionGlob("alias"))+`))`).Scan(&rows, &bad)
	if err != nil {
		t.Fatal(err)
	}
	if rows != n || bad != 0 {
		t.Errorf("%d rows, %d read back wrong", rows, bad)
	}
}

// Lists in every row, of every length from empty to more than a block of fullText, of text that
// repeats (a dictionary) and text that does not (PLAIN), read back as they were added.
func TestFullListsReadBack(t *testing.T) {
	l := openLake(t)
	base := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	const n = 5000
	evs := make([]*event.Event, 0, n)
	for i := range n {
		e := event.New("lists", "r", 3)
		e.ID, e.Timestamp = fmt.Sprint(i), base.Add(time.Duration((i*7919)%n)*time.Millisecond) // shuffled
		e.Original = fmt.Sprintf(`{"i":%d}`, i)
		e.Add("i", event.Int(int64(i)))
		var rep, uniq []string
		for j := range i % 150 {
			rep = append(rep, fmt.Sprint("v", j%3))
			uniq = append(uniq, fmt.Sprint(i, "-", j))
		}
		e.Add("rep", event.Strings(rep...))
		e.Add("uniq", event.Strings(uniq...))
		evs = append(evs, e)
	}
	ingest(t, l, "k", evs, nil)
	var bad, rows int64
	err := l.DB().QueryRow(`SELECT count(*), count(*) FILTER (WHERE
		rep != list_transform(range(i % 150), j -> 'v' || (j % 3)) OR uniq != list_transform(range(i % 150), j -> i || '-' || j))
		FROM read_parquet(`+sqlString(l.partitionGlob("lists"))+`)`).Scan(&rows, &bad)
	if err != nil {
		t.Fatal(err)
	}
	if rows != n || bad != 0 {
		t.Errorf("%d rows, %d read back wrong", rows, bad)
	}
	var encs string
	if err := l.DB().QueryRow(`SELECT string_agg(DISTINCT path_in_schema || ': ' || encodings, '; ') FROM parquet_metadata(` +
		sqlString(l.partitionGlob("lists")) + `) WHERE path_in_schema LIKE '%element'`).Scan(&encs); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(encs, "rep, list, element: PLAIN, RLE, RLE_DICTIONARY") || !strings.Contains(encs, "uniq, list, element: RLE, DELTA_LENGTH_BYTE_ARRAY") {
		t.Errorf("encodings: %s", encs)
	}
}

// A text column of few distinct values holds a byte per value (column.coded), as long as its
// values have at most maxCodes distinct copies: a value that comes back after many others gets its
// first copy again. Past that, or when a value of another kind turns it to text, it holds spans.
// Every row reads back as it was added.
func TestCodedColumns(t *testing.T) {
	l := openLake(t)
	a, err := l.NewAppender()
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	const n = 30_000
	fresh := func(s string) string { return string([]byte(s)) } // a parser's copy, elsewhere in memory
	lists := [][]string{{"connection", "allowed"}, {"connection", "denied"}, {}, {"", "x"}}
	for i := range n {
		e := event.New("coded", "r", 10)
		e.ID, e.Timestamp = fmt.Sprint(i), base.Add(time.Duration((i*7919)%n)*time.Millisecond) // shuffled
		e.Original = fmt.Sprintf(`{"i":%d}`, i)
		e.Add("i", event.Int(int64(i)))
		e.Add("c.few", event.String(fresh(fmt.Sprint("v", i%5))))
		many := fmt.Sprint("m", i%10)
		if i >= 10_000 {
			many = fmt.Sprint("u", i) // all distinct from here on
		}
		e.Add("c.many", event.String(fresh(many)))
		e.Add("c.empty", event.String(fresh([]string{"", "x"}[i%2])))
		l := lists[i%len(lists)]
		e.Add("c.list", event.Strings(l...))
		if i < 20_000 {
			e.Add("c.kinds", event.String(fresh(fmt.Sprint(i%3))))
		} else {
			e.Add("c.kinds", event.Int(int64(i%3)))
		}
		e.Add("c.back200", event.String(fresh(fmt.Sprint("b", (i*37)%200))))
		e.Add("c.back300", event.String(fresh(fmt.Sprint("b", (i*37)%300))))
		if err := a.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	tb := a.types["coded"]
	for path, want := range map[string]bool{"c.few": true, "c.many": false, "c.empty": true, "c.list": true, "c.kinds": false,
		"c.back200": true, "c.back300": false} {
		if c := tb.byPath[path]; c.coded != want {
			t.Errorf("%s: coded %v, want %v", path, c.coded, want)
		}
	}
	if c := tb.byPath["c.back200"]; len(c.ids) != 200 {
		t.Errorf("c.back200: %d ids for 200 distinct values", len(c.ids))
	}
	a.EndObject(Object{Key: "k", SHA256: "k"})
	if _, err := a.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	var bad, rows int64
	err = l.DB().QueryRow(`SELECT count(*), count(*) FILTER (WHERE c.few != 'v' || (i % 5)
		OR c.many != CASE WHEN i < 10000 THEN 'm' || (i % 10) ELSE 'u' || i END
		OR c.empty != ['', 'x'][i % 2 + 1]
		OR c.list != [['connection', 'allowed'], ['connection', 'denied'], [], ['', 'x']][i % 4 + 1]
		OR c.kinds != (i % 3)::VARCHAR
		OR c.back200 != 'b' || ((i * 37) % 200) OR c.back300 != 'b' || ((i * 37) % 300))
		FROM read_parquet(`+sqlString(l.partitionGlob("coded"))+`)`).Scan(&rows, &bad)
	if err != nil {
		t.Fatal(err)
	}
	if rows != n || bad != 0 {
		t.Errorf("%d rows, %d read back wrong", rows, bad)
	}
}
