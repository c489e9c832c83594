package lake

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ramen-siem/ramen/event"
)

// partFiles lists the Parquet files a reader's glob sees in a partition.
func partFiles(t testing.TB, l *Lake, rel string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(l.Root(), rel, "*.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	slices.Sort(m)
	return m
}

func count(t testing.TB, l *Lake, q string) int64 {
	t.Helper()
	return queryRows(t, l, q)[0][0].(int64)
}

// dupLake has one partition holding 3 files: a batch, the same events again (an object ingested
// twice with --force), and events with an extra column. It returns the lake's root and the
// partition's files.
func dupLake(t *testing.T) (string, []string) {
	dir := t.TempDir()
	l, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	start := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	evs := synthEvents("test", start, 50*time.Minute, 200, 1)
	ingest(t, l, "a", evs, nil)
	ingest(t, l, "a-again", synthEvents("test", start, 50*time.Minute, 200, 1), nil)
	extra := synthEvents("test", start.Add(time.Minute), 50*time.Minute, 50, 9)
	for _, e := range extra {
		e.Add("network.transport", event.String("tcp"))
	}
	ingest(t, l, "b", extra, nil)
	files := partFiles(t, l, "type=test/date=2026-03-02/hour=08")
	if len(files) != 3 {
		t.Fatalf("setup: %v", files)
	}
	return dir, files
}

func TestCompactMergesAndRemovesDuplicates(t *testing.T) {
	dir, _ := dupLake(t)
	l, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if n := count(t, l, "SELECT count(*) FROM test"); n != 450 {
		t.Fatalf("before: %d rows", n)
	}
	var seen []CompactedPartition
	st, err := l.Compact(context.Background(), CompactOptions{OnPartition: func(p CompactedPartition) { seen = append(seen, p) }})
	if err != nil || len(st.Failed) > 0 {
		t.Fatal(err, st.Failed)
	}
	if st.Partitions != 1 || st.FilesIn != 3 || st.RowsIn != 450 || st.RowsOut != 250 || len(seen) != 1 || seen[0].Hour != "08" {
		t.Errorf("stats %+v %+v", st, seen)
	}
	files := partFiles(t, l, "type=test/date=2026-03-02/hour=08")
	if len(files) != 1 || files[0] != seen[0].File {
		t.Fatalf("after: %v", files)
	}
	got := queryRows(t, l, `SELECT count(*), count(DISTINCT _id), count(network.transport), min(date), min(hour) FROM test`)
	if got[0][0] != int64(250) || got[0][1] != int64(250) || got[0][2] != int64(50) {
		t.Errorf("after compaction: %v", got)
	}
	// Sorted by time within the file.
	ts := queryRows(t, l, `SELECT "@timestamp" FROM read_parquet(`+sqlString(filepath.Join(l.Root(), "type=test/date=2026-03-02/hour=08", files[0]))+`)`)
	if !slices.IsSortedFunc(ts, func(a, b []any) int { return a[0].(time.Time).Compare(b[0].(time.Time)) }) {
		t.Error("compacted rows are not sorted by @timestamp")
	}
	// Nothing left behind, and a second run has nothing to do.
	for _, d := range []string{"_staging", "_wal"} {
		if ents, _ := os.ReadDir(filepath.Join(dir, d)); len(ents) != 0 {
			t.Errorf("%s not empty: %v", d, ents)
		}
	}
	if st, _ := l.Compact(context.Background(), CompactOptions{}); st.Partitions != 0 || st.Skipped != 1 {
		t.Errorf("second run: %+v", st)
	}
}

func TestCompactMinFilesAndType(t *testing.T) {
	dir, _ := dupLake(t)
	l, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if st, _ := l.Compact(context.Background(), CompactOptions{MinFiles: 3}); st.Partitions != 0 {
		t.Errorf("3 files, --min-files 3: %+v", st)
	}
	if st, _ := l.Compact(context.Background(), CompactOptions{Type: "other"}); st.Partitions != 0 {
		t.Errorf("another type: %+v", st)
	}
	// Big files are kept as they are, and stay visible.
	st, err := l.Compact(context.Background(), CompactOptions{SmallBytes: 1})
	if err != nil || st.Partitions != 0 {
		t.Errorf("no small files: %+v %v", st, err)
	}
}

// A crash at every step of a compaction leaves the partition readable with either all the old files
// or the new one (never both, never none), loses no event, and the next Open cleans up.
func TestCompactCrashAtEveryStep(t *testing.T) {
	defer func() { compactHook, exchangeDirs = nil, exchange }()
	for _, tc := range []struct {
		step     string
		fallback bool // the file system cannot exchange directories
		swapped  bool // the crash is after the partition changed
	}{
		{"staged", false, false},
		{"journaled", false, false},
		{"checked", false, false},
		{"swapped", false, true},
		{"journaled", true, false},
		{"moved-away", true, false},
		{"swapped", true, true},
	} {
		name := tc.step
		if tc.fallback {
			name += "/fallback"
		}
		t.Run(name, func(t *testing.T) {
			dir, old := dupLake(t)
			const rel = "type=test/date=2026-03-02/hour=08"
			l, err := Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			exchangeDirs = exchange
			if tc.fallback {
				exchangeDirs = func(a, b string) error { return errExchangeUnsupported }
			}
			var atCrash []string
			crash := errors.New("crash")
			compactHook = func(step string) error {
				if step != tc.step {
					return nil
				}
				atCrash = partFiles(t, l, rel)
				return crash
			}
			st, err := l.Compact(context.Background(), CompactOptions{})
			compactHook = nil
			exchangeDirs = exchange
			if err != nil || len(st.Failed) != 1 || !errors.Is(st.Failed[0], crash) {
				t.Fatalf("want the simulated crash, got %v %+v", err, st)
			}
			// What a reader saw at the moment of the crash.
			switch {
			case tc.step == "moved-away":
				if len(atCrash) != 0 {
					t.Errorf("fallback, between the renames: %v", atCrash)
				}
			case tc.swapped:
				if len(atCrash) != 1 || slices.Contains(old, atCrash[0]) {
					t.Errorf("after the swap a reader sees %v, want only the new file", atCrash)
				}
			default:
				if !slices.Equal(atCrash, old) {
					t.Errorf("before the swap a reader sees %v, want %v", atCrash, old)
				}
			}
			l.Close() // the process dies; nothing else runs

			l, err = Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			files := partFiles(t, l, rel)
			switch {
			case tc.swapped || tc.step == "moved-away":
				if len(files) != 1 || slices.Contains(old, files[0]) {
					t.Errorf("recovered partition %v, want the compacted file only", files)
				}
				if n := count(t, l, "SELECT count(*) FROM test"); n != 250 {
					t.Errorf("%d rows after recovery, want 250", n)
				}
			default:
				if !slices.Equal(files, old) {
					t.Errorf("recovered partition %v, want the old files %v", files, old)
				}
				if n := count(t, l, "SELECT count(*) FROM test"); n != 450 {
					t.Errorf("%d rows after recovery, want the 450 of before", n)
				}
			}
			for _, d := range []string{"_staging", "_wal"} {
				if ents, _ := os.ReadDir(filepath.Join(dir, d)); len(ents) != 0 {
					t.Errorf("%s not cleaned: %v", d, ents)
				}
			}
			// And compaction then finishes the job.
			if _, err := l.Compact(context.Background(), CompactOptions{}); err != nil {
				t.Fatal(err)
			}
			if n := count(t, l, "SELECT count(*) FROM test"); n != 250 || len(partFiles(t, l, rel)) != 1 {
				t.Errorf("after compacting again: %d rows, files %v", n, partFiles(t, l, rel))
			}
		})
	}
}

// A journal that is not one is an error that names it, not a guess.
func TestCompactBadJournal(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	p := filepath.Join(dir, "_wal", "compact-x.compact")
	os.WriteFile(p, []byte(`{"partition":"../../etc","work":"/tmp","output":"x"}`), 0o644)
	if _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "compact-x.compact") {
		t.Errorf("want an error naming the journal, got %v", err)
	}
}

// TestCommitDuringCompactionSwap: a commit of the same process that renames a file into a partition
// while a compaction has checked it and is about to swap it in must not lose that file with the old
// directory: the commit waits for the swap, and its file lands in the compacted partition.
func TestCommitDuringCompactionSwap(t *testing.T) {
	dir, _ := dupLake(t)
	l, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	before := count(t, l, "SELECT count(DISTINCT _id) FROM test")
	late := synthEvents("test", time.Date(2026, 3, 2, 8, 30, 0, 0, time.UTC), 10*time.Minute, 30, 77)
	done := make(chan struct{})
	defer func() { compactHook = nil }()
	compactHook = func(step string) error {
		if step != "checked" {
			return nil
		}
		compactHook = nil
		go func() { // a commit of this process, into the partition being swapped
			defer close(done)
			ingest(t, l, "late", late, nil)
		}()
		time.Sleep(100 * time.Millisecond) // the commit would rename its file now, were it not held
		return nil
	}
	if _, err := l.Compact(context.Background(), CompactOptions{}); err != nil {
		t.Fatal(err)
	}
	<-done
	if got, want := count(t, l, "SELECT count(DISTINCT _id) FROM test"), before+int64(len(late)); got != want {
		t.Fatalf("%d events after a commit during the swap, want %d: the committed file went with the old directory", got, want)
	}
}

// The level of compaction's zstd is the caller's: a higher one stores the same rows in fewer bytes,
// and a level zstd does not have is refused before anything is touched.
func TestCompactLevel(t *testing.T) {
	sizes := map[int]int64{}
	for _, level := range []int{1, 19} {
		dir, _ := dupLake(t)
		l, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		st, err := l.Compact(context.Background(), CompactOptions{Level: level})
		if err != nil || st.Partitions != 1 {
			t.Fatalf("level %d: %+v %v", level, st, err)
		}
		sizes[level] = st.BytesOut
		if n := count(t, l, "SELECT count(*) FROM test"); n != 250 {
			t.Errorf("level %d: %d events, want 250", level, n)
		}
		l.Close()
	}
	if sizes[19] >= sizes[1] {
		t.Errorf("level 19 wrote %d bytes, level 1 %d", sizes[19], sizes[1])
	}
	dir, files := dupLake(t)
	l, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Compact(context.Background(), CompactOptions{Level: 23}); err == nil || !strings.Contains(err.Error(), "1 to 22") {
		t.Errorf("level 23: %v", err)
	}
	if got := partFiles(t, l, "type=test/date=2026-03-02/hour=08"); !slices.Equal(got, files) {
		t.Errorf("files after a refused compaction: %v, want %v", got, files)
	}
}
