package lake

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ramen-siem/ramen/event"
)

// synthEvents makes n events of a type spread evenly from start over span, with a few ECS fields
// and an original record of a realistic size whose content varies (ids, addresses, users), so that
// compression does not make the files trivially small. seed makes the run repeatable; the same
// seed and index give the same event (and _id).
func synthEvents(typ string, start time.Time, span time.Duration, n int, seed uint64) []*event.Event {
	r := rand.New(rand.NewPCG(seed, 7))
	actions := []string{"GetObject", "PutObject", "AssumeRole", "DescribeInstances", "ConsoleLogin", "ListBuckets", "CreateUser", "Decrypt"}
	users := make([]string, 40)
	for i := range users {
		users[i] = fmt.Sprintf("user-%03d", i)
	}
	out := make([]*event.Event, n)
	for i := range out {
		ts := start.Add(time.Duration(int64(span) / int64(n) * int64(i)))
		ip := fmt.Sprintf("%d.%d.%d.%d", 10+r.IntN(200), r.IntN(256), r.IntN(256), r.IntN(256))
		act := actions[r.IntN(len(actions))]
		user := users[r.IntN(len(users))]
		orig, _ := json.Marshal(map[string]any{
			"eventTime": ts.Format(time.RFC3339), "eventName": act, "sourceIPAddress": ip,
			"userIdentity":      map[string]any{"userName": user, "arn": "arn:aws:iam::123456789012:user/" + user},
			"requestID":         fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64()),
			"eventID":           fmt.Sprintf("%016x-%016x", r.Uint64(), r.Uint64()),
			"requestParameters": map[string]any{"bucketName": fmt.Sprintf("bucket-%d", r.IntN(30)), "key": fmt.Sprintf("logs/%d/%x.gz", r.IntN(1000), r.Uint64())},
		})
		e := event.New(typ, string(orig), 6)
		e.ID = event.NewID(typ, "synth", int64(i), e.Original)
		e.Timestamp = ts
		e.Add("event.action", event.String(act))
		e.Add("source.ip", event.String(ip))
		e.Add("user.name", event.String(user))
		e.Add("cloud.account.id", event.String("123456789012"))
		e.Add("event.outcome", event.String([]string{"success", "failure"}[r.IntN(2)]))
		e.Add("aws.synth.bytes", event.Int(int64(r.IntN(1<<20))))
		out[i] = e
	}
	return out
}

// addBatches writes events in batches of size per commit, each batch one object.
func addBatches(t testing.TB, l *Lake, evs []*event.Event, per int) {
	t.Helper()
	for i := 0; i < len(evs); i += per {
		ingest(t, l, fmt.Sprintf("batch-%d", i), evs[i:min(i+per, len(evs))], nil)
	}
}

// interleave reorders events so that consecutive runs of len/k events each span the whole time
// range: k batches then each put a file into every partition.
func interleave(evs []*event.Event, k int) []*event.Event {
	out := make([]*event.Event, 0, len(evs))
	for j := range k {
		for i := j; i < len(evs); i += k {
			out = append(out, evs[i])
		}
	}
	return out
}

// readBytes returns how many bytes this process has read through read(2)/pread(2) so far: every
// byte DuckDB takes from a Parquet file, page cache or not. Linux only.
func readBytes(t testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skip("needs /proc/self/io to count the bytes read:", err)
	}
	m := regexp.MustCompile(`(?m)^rchar: (\d+)$`).FindSubmatch(b)
	if m == nil {
		t.Skip("no rchar in /proc/self/io")
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return n
}

// measure runs a query through the lake (views included, as ramen query does) and returns the
// bytes read and the result's first value.
func measure(t testing.TB, l *Lake, q string, opt QueryOptions) (int64, any) {
	t.Helper()
	before := readBytes(t)
	rows, err := l.Query(context.Background(), q, opt)
	if err != nil {
		t.Fatal(err)
	}
	got := scanAll(t, rows)
	rows.Close()
	read := readBytes(t) - before
	if len(got) == 0 {
		return read, nil
	}
	return read, got[0][0]
}

// scanFiles runs EXPLAIN ANALYZE and returns, for each Parquet scan, DuckDB's own count of the
// files it scanned out of those its glob matched ("72/2160").
func scanFiles(t testing.TB, l *Lake, q string) []string {
	t.Helper()
	var plan string
	if err := l.DB().QueryRow("EXPLAIN (ANALYZE, FORMAT json) "+q).Scan(new(string), &plan); err != nil {
		t.Fatal(err)
	}
	var tree any
	if err := json.Unmarshal([]byte(plan), &tree); err != nil {
		t.Fatalf("profile: %v\n%s", err, plan)
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case []any:
			for _, c := range x {
				walk(c)
			}
		case map[string]any:
			if info, ok := x["extra_info"].(map[string]any); ok {
				if f, ok := info["Scanning Files"].(string); ok {
					out = append(out, f)
				}
			}
			walk(x["children"])
		}
	}
	walk(tree)
	return out
}

func lakeBytes(t testing.TB, root string) (files int, size int64) {
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".parquet") && strings.Contains(p, "type=") {
			fi, _ := d.Info()
			files++
			size += fi.Size()
		}
		return nil
	})
	return
}

// The quality bar: a one-day query that names its type and time range reads at most 1/25
// of the lake's bytes, counted as the bytes the process read (not guessed from timings), and
// DuckDB's profile shows it scanned only that day's files.
//
// Measured at two levels. The layout: a Parquet scan of the type's directory with the day and the
// time range, what DuckDB, Athena, Trino or Spark do with it. Ramen's views: their read_parquet
// uses union_by_name (files of one type may have different columns), and DuckDB binds that by
// reading the footer of every file the glob matches, before any filter prunes files; only the
// scan after it is pruned. That cost is logged, with the number for views narrowed to the dates
// asked for (glob per date), the fix docs/lake.md and the report propose.
func TestPartitionPruning(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 30-day lake")
	}
	l, err := Open(t.TempDir(), Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// DuckDB keeps file contents it has read in memory; the measurement is of the files.
	if _, err := l.DB().Exec("SET enable_external_file_cache = false"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	const days, batches = 30, 2
	// Two types, so that naming the type matters too; several batches that each span the month,
	// so that every hour has several files, as a lake fed every few minutes has before compaction.
	// Events fall in 6 hours of each day (0, 4, ... 20): the test is about days, and fewer
	// partitions keep it quick.
	const hours = 6
	ct := synthEvents("cloudtrail", start, days*24*time.Hour, 30*days*24, 1)
	vpc := synthEvents("vpcflow", start, days*24*time.Hour, 2*days*24, 2)
	for _, e := range append(ct[:len(ct):len(ct)], vpc...) {
		e.Timestamp = e.Timestamp.Add(-time.Duration(e.Timestamp.Hour()%(24/hours)) * time.Hour)
	}
	addBatches(t, l, interleave(ct, batches), len(ct)/batches)
	addBatches(t, l, vpc, len(vpc))
	files, total := lakeBytes(t, l.Root())
	ctFiles := days * hours * batches
	t.Logf("lake: %d days, %d files, %d bytes (cloudtrail: %d files)", days, files, total, ctFiles)

	dayRange := `date = DATE '2026-03-15' AND "@timestamp" >= TIMESTAMP '2026-03-15 00:00:00' AND "@timestamp" < TIMESTAMP '2026-03-16 00:00:00'`
	perDay := int64(len(ct) / days)

	// The layout: one type's directory, the day and the time range.
	src := "read_parquet(" + sqlString(l.partitionGlob("cloudtrail")) + ", hive_partitioning = true, hive_types = {'date': DATE, 'hour': INTEGER})"
	layoutQ := `SELECT count(*), count(DISTINCT source.ip) FROM ` + src + ` WHERE ` + dayRange
	before := readBytes(t)
	var n, ips int64
	if err := l.DB().QueryRow(layoutQ).Scan(&n, &ips); err != nil {
		t.Fatal(err)
	}
	layout := readBytes(t) - before
	if n != perDay {
		t.Fatalf("one day counted %d, want %d", n, perDay)
	}
	t.Logf("one day of one type, Parquet scan: %d bytes read of %d (1/%.0f)", layout, total, float64(total)/float64(layout))
	if layout*25 > total {
		t.Errorf("a one-day query of one type read %d bytes of %d: more than 1/25", layout, total)
	}
	if got, want := scanFiles(t, l, layoutQ), fmt.Sprintf("%d/%d", hours*batches, ctFiles); len(got) != 1 || got[0] != want {
		t.Errorf("files scanned for one day: %v, want %s (%d hours × %d batches)", got, want, hours, batches)
	}

	// Ramen's views: the same query, and the whole month for comparison.
	viewQ := `SELECT count(*), count(DISTINCT source.ip) FROM cloudtrail WHERE ` + dayRange
	viewDay, v := measure(t, l, viewQ, QueryOptions{})
	if v != perDay {
		t.Fatalf("one day through the view counted %v, want %d", v, perDay)
	}
	if got := scanFiles(t, l, viewQ); len(got) != 1 || got[0] != fmt.Sprintf("%d/%d", hours*batches, ctFiles) {
		t.Errorf("files scanned through the view: %v", got)
	}
	full, v := measure(t, l, `SELECT count(*), count(DISTINCT source.ip) FROM cloudtrail`, QueryOptions{})
	if v != int64(len(ct)) {
		t.Fatalf("full scan counted %v, want %d", v, len(ct))
	}
	if _, err := l.Views(ctx, QueryOptions{}); err != nil {
		t.Fatal(err)
	}
	before = readBytes(t)
	if err := l.DB().QueryRow(viewQ).Scan(&n, &ips); err != nil {
		t.Fatal(err)
	}
	viewOnly := readBytes(t) - before
	t.Logf("through ramen query (views rebuilt, then the query): one day %d bytes (%.0f%% of the lake), whole month %d; the query alone on existing views: %d",
		viewDay, pct(viewDay, total), full, viewOnly)

	// QueryOptions.Since prunes whole partitions from the scan: the last 2 days of 30.
	since := start.AddDate(0, 0, days-2)
	recent, v := measure(t, l, `SELECT count(*) FROM events WHERE type = 'cloudtrail'`, QueryOptions{Since: since})
	if v != 2*perDay {
		t.Fatalf("since %s counted %v, want %d", since, v, 2*perDay)
	}
	// The views then cover only those days' files: what is read is about 2/30 of the lake.
	if recent*25 > 3*total {
		t.Errorf("Since = last 2 days read %d bytes of %d: more than 3/25", recent, total)
	}
	t.Logf("Since = last 2 days through the views: %d bytes read", recent)

	// Through ramen query with a time range (--since/--until): the views cover the range's days
	// only, so a one-day query opens that day's files and nothing else.
	dayOnly, v := measure(t, l, viewQ, QueryOptions{Since: time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC)})
	if v != perDay {
		t.Fatalf("one day through a ranged view counted %v, want %d", v, perDay)
	}
	t.Logf("one day through ramen query with --since/--until: %d bytes (1/%.0f)", dayOnly, float64(total)/float64(dayOnly))
	if dayOnly*25 > total {
		t.Errorf("a one-day query with a time range read %d bytes of %d: more than 1/25", dayOnly, total)
	}

	// The same, made by hand: a view over the globs of the dates asked for binds only their files.
	narrow := fmt.Sprintf(`CREATE OR REPLACE VIEW cloudtrail AS SELECT * FROM read_parquet([%s], hive_partitioning = true, union_by_name = true, hive_types = {'date': DATE, 'hour': INTEGER})`,
		sqlString(filepath.Join(l.Root(), "type=cloudtrail", "date=2026-03-15", "hour=*", "*.parquet")))
	before = readBytes(t)
	if _, err := l.DB().Exec(narrow); err != nil {
		t.Fatal(err)
	}
	if err := l.DB().QueryRow(viewQ).Scan(&n, &ips); err != nil {
		t.Fatal(err)
	}
	narrowed := readBytes(t) - before
	if n != perDay {
		t.Fatalf("narrowed view counted %d, want %d", n, perDay)
	}
	t.Logf("view narrowed to the day's glob (proposed): %d bytes (1/%.0f)", narrowed, float64(total)/float64(narrowed))
	if narrowed*25 > total {
		t.Errorf("a view over one day's glob read %d bytes of %d: more than 1/25", narrowed, total)
	}

	// A range on "@timestamp" alone cannot skip files by their directory: every footer is read and
	// only row groups are skipped by their statistics. Logged: the reason to name the date.
	if _, err := l.Views(ctx, QueryOptions{}); err != nil {
		t.Fatal(err)
	}
	before = readBytes(t)
	if err := l.DB().QueryRow(`SELECT count(*) FROM ` + src + ` WHERE "@timestamp" >= TIMESTAMP '2026-03-15' AND "@timestamp" < TIMESTAMP '2026-03-16'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	t.Logf("\"@timestamp\" range without the date: %d bytes (%.0f%%)", readBytes(t)-before, pct(readBytes(t)-before, total))

	// After compaction every hour has one file: the scan prunes the same way, and binding the
	// views reads half as many footers.
	if _, err := l.Compact(ctx, CompactOptions{Type: "cloudtrail"}); err != nil {
		t.Fatal(err)
	}
	_, total = lakeBytes(t, l.Root())
	if got := scanFiles(t, l, layoutQ); len(got) != 1 || got[0] != fmt.Sprintf("%d/%d", hours, days*hours) {
		t.Errorf("files scanned for one day after compaction: %v", got)
	}
	compacted, v := measure(t, l, viewQ, QueryOptions{})
	if v != perDay {
		t.Fatalf("after compaction one day counted %v, want %d", v, perDay)
	}
	t.Logf("after compaction (%d bytes): one day through ramen query %d bytes (%.0f%%)", total, compacted, pct(compacted, total))
}

func pct(a, b int64) float64 { return 100 * float64(a) / float64(b) }
