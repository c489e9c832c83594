package lake

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// damage overwrites the middle of a file with garbage (a bad sector, a stray write), or cuts it in
// half (a lost tail): the first is found only by reading the data, the second from the footer.
func damage(t *testing.T, path string, truncate bool) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if truncate {
		if err := os.Truncate(path, fi.Size()/2); err != nil {
			t.Fatal(err)
		}
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Most of the file's data, not a few bytes: a small overwrite may land in page statistics that no
	// query reads, depending on how the writer lays pages out. The footer (the last tenth) is kept.
	junk := []byte(strings.Repeat("\xde\xad\xbe\xef", int(fi.Size()*6/10/4)))
	if _, err := f.WriteAt(junk, fi.Size()/10); err != nil {
		t.Fatal(err)
	}
}

// TestDamagedFile: a file of the lake damaged outside ramen makes queries fail with an error that
// names it, leaves its partition out of compaction (with the reason) while the others are compacted,
// is found by Check and moved aside by Quarantine, after which the lake answers again, and ingesting
// the objects Check names once more, then compacting, brings back exactly the events that were lost.
func TestDamagedFile(t *testing.T) {
	for _, truncate := range []bool{false, true} {
		name := map[bool]string{false: "overwritten", true: "truncated"}[truncate]
		t.Run(name, func(t *testing.T) {
			l, err := Open(t.TempDir(), Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			start := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
			a := synthEvents("test", start, 3*time.Hour, 3000, 1)
			b := synthEvents("test", start, 3*time.Hour, 3000, 2)
			ingest(t, l, "obj-a", a, nil)
			ingest(t, l, "obj-b", b, nil)
			const q = "SELECT count(*) FROM test"
			total := count(t, l, q)
			if total != 6000 {
				t.Fatalf("setup: %d events", total)
			}
			rel := "type=test/date=2026-03-02/hour=09"
			files := partFiles(t, l, rel)
			if len(files) != 2 {
				t.Fatalf("setup: %v", files)
			}
			batchA, _ := l.Ingested(Object{Key: "obj-a", Size: 3000, SHA256: "obj-a"})
			if batchOfFile(files[0]) != batchA.Batch {
				files[0], files[1] = files[1], files[0]
			}
			if batchOfFile(files[0]) != batchA.Batch {
				t.Fatalf("setup: no file of obj-a's batch %s in %v", batchA.Batch, files)
			}
			bad := filepath.Join(l.Root(), rel, files[0])
			var lost int64
			if err := l.DB().QueryRow("SELECT num_rows FROM parquet_file_metadata(?)", bad).Scan(&lost); err != nil {
				t.Fatal(err)
			}
			damage(t, bad, truncate)

			// Queries reading the data fail, naming the file.
			rows, err := l.Query(context.Background(), "SELECT sum(hash(t)) FROM test t", QueryOptions{})
			if err == nil {
				for rows.Next() {
				}
				err = rows.Err()
				rows.Close()
			}
			// DuckDB names the file when it cannot read its structure; for a bad value inside a page
			// it quotes the value instead, so the error must then point to 'ramen lake check'.
			if err == nil {
				t.Fatal("query over a damaged file succeeded")
			}
			msg := (&QueryError{Err: err}).Error()
			if !strings.Contains(msg, files[0]) && !strings.Contains(msg, "ramen lake check") {
				t.Fatalf("query over a damaged file: %s\nwant an error naming %s or a hint to check the lake", msg, files[0])
			}
			if len(msg) > maxMessage+300 {
				t.Errorf("error of %d bytes: %.200s...", len(msg), msg)
			}

			// Compaction skips that partition, says why, and compacts the rest.
			st, err := l.Compact(context.Background(), CompactOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Failed) != 1 || !strings.Contains(st.Failed[0].Error(), "hour=09") {
				t.Fatalf("compaction failures: %v, want one for hour=09", st.Failed)
			}
			if st.Partitions != 2 {
				t.Errorf("%d partitions compacted, want the 2 healthy ones", st.Partitions)
			}
			if got := partFiles(t, l, rel); len(got) != 2 {
				t.Fatalf("damaged partition changed by compaction: %v", got)
			}

			// A footer check finds a cut file; an overwritten one needs the full check.
			rep, err := l.Check(context.Background(), CheckOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if truncate != (len(rep.Damaged) == 1) {
				t.Fatalf("footer check: %+v", rep.Damaged)
			}
			rep, err = l.Check(context.Background(), CheckOptions{Full: true})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Files != 4 || len(rep.Damaged) != 1 {
				t.Fatalf("full check: %d files, damaged %+v", rep.Files, rep.Damaged)
			}
			d := rep.Damaged[0]
			if d.Path != filepath.Join(rel, files[0]) || d.Err == nil || len(d.Objects) != 1 || d.Objects[0].Key != "obj-a" {
				t.Fatalf("damaged file reported as %+v", d)
			}

			moved, err := l.Quarantine(d)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(moved); err != nil {
				t.Fatal(err)
			}
			var reason struct {
				Error   string   `json:"error"`
				Objects []string `json:"objects"`
			}
			data, err := os.ReadFile(moved + ".reason.json")
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &reason); err != nil || reason.Error == "" || len(reason.Objects) != 1 {
				t.Fatalf("reason file: %s (%v)", data, err)
			}
			if got := count(t, l, q); got != total-lost {
				t.Fatalf("after quarantine: %d events, want %d", got, total-lost)
			}
			if rep, _ := l.Check(context.Background(), CheckOptions{Full: true}); len(rep.Damaged) != 0 {
				t.Fatalf("still damaged after quarantine: %+v", rep.Damaged)
			}

			// Ingesting the named object again and compacting restores every event exactly once.
			ingest(t, l, "obj-a (again)", synthEvents("test", start, 3*time.Hour, 3000, 1), nil)
			if _, err := l.Compact(context.Background(), CompactOptions{}); err != nil {
				t.Fatal(err)
			}
			if got := count(t, l, q); got != total {
				t.Fatalf("after re-ingest and compaction: %d events, want %d", got, total)
			}
			if got := count(t, l, "SELECT count(DISTINCT _id) FROM test"); got != total {
				t.Fatalf("%d distinct ids, want %d", got, total)
			}
		})
	}
}

func TestQuarantineRefusesOtherPaths(t *testing.T) {
	l, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, p := range []string{"_manifest/objects.ndjson", "type=x/../../etc/passwd.parquet", "type=x/date=2026-03-02/hour=01/notes.txt"} {
		if _, err := l.Quarantine(DamagedFile{Path: p}); err == nil {
			t.Errorf("Quarantine(%q) accepted", p)
		}
	}
}

func TestClipMessage(t *testing.T) {
	long := `Invalid Input Error: Invalid string encoding found in Parquet file: value "` + strings.Repeat("é{x}", 5000) + `" is not valid UTF8!`
	got := clipMessage(long)
	if len(got) > maxMessage+40 {
		t.Fatalf("clipped to %d bytes", len(got))
	}
	for _, want := range []string{"Invalid Input Error: Invalid string encoding", "is not valid UTF8!", "bytes]"} {
		if !strings.Contains(got, want) {
			t.Errorf("clipped message lost %q: %s", want, got)
		}
	}
	if !utf8.ValidString(got) {
		t.Errorf("clipped message is not valid UTF-8")
	}
	if short := "Binder Error: x"; clipMessage(short) != short {
		t.Errorf("short message changed")
	}
}
