package lake

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A crash after a batch was sealed but before it was applied: the next Open finishes it, once.
func TestRecoverSealedBatch(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	evs, _ := parseFile(t, "../parse/cloudtrail/testdata/golden/records.json", "cloudtrail")
	a, _ := l.NewAppender()
	for _, e := range evs {
		a.Add(e)
	}
	a.EndObject(Object{Key: "records.json", Size: 1, SHA256: "abc"})
	// Seal, as Commit does, and "crash" before applying.
	if _, err := a.seal(context.Background()); err != nil {
		t.Fatal(err)
	}
	l.Close()

	for i := 0; i < 2; i++ { // recovering twice changes nothing
		l, err = Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := l.Ingested(Object{Key: "records.json", Size: 1, SHA256: "abc"}); !ok {
			t.Error("the recovered batch's object is not in the manifest")
		}
		if n := queryRows(t, l, "SELECT count(*), count(DISTINCT _id) FROM cloudtrail"); n[0][0] != int64(5) || n[0][1] != int64(5) {
			t.Errorf("after recovery %d: %v", i, n)
		}
		l.Close()
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "_wal")); len(ents) != 0 {
		t.Errorf("WAL not cleaned: %v", ents)
	}
}

// A crash while a batch was being written: it is dropped, its objects are not ingested.
func TestRecoverUnsealedBatch(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	evs, _ := parseFile(t, "../parse/cloudtrail/testdata/golden/records.json", "cloudtrail")
	a, _ := l.NewAppender()
	for _, e := range evs {
		a.Add(e)
	}
	a.EndObject(Object{Key: "records.json", Size: 1, SHA256: "abc"})
	// Crash while the batch's files are being written: staged, not sealed.
	if _, err := a.writeType(context.Background(), filepath.Join(dir, "_staging", a.batch), "cloudtrail"); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, ok := l.Ingested(Object{Key: "records.json", Size: 1, SHA256: "abc"}); ok {
		t.Error("an unsealed batch's object must not count as ingested")
	}
	if ts, _ := l.Types(); len(ts) != 0 {
		t.Errorf("an unsealed batch must leave no files: %v", ts)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "_wal")); len(ents) != 0 {
		t.Errorf("WAL not cleaned: %v", ents)
	}
}

// A torn manifest line (a crash in the middle of an append) is dropped, the lines before it kept.
func TestManifestTornLine(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "objects.ndjson")
	os.WriteFile(p, []byte(`{"key":"a","size":1,"sha256":"x","events":1,"batch":"b"}`+"\n"+`{"key":"b","si`), 0o644)
	m, err := openManifest(p)
	if err != nil {
		t.Fatal(err)
	}
	if m.len() != 1 {
		t.Errorf("%d objects", m.len())
	}
	if err := m.append([]Object{{Key: "c", Size: 2, SHA256: "y"}}); err != nil {
		t.Fatal(err)
	}
	m.close()
	b, _ := os.ReadFile(p)
	if strings.Count(string(b), "\n") != 2 || strings.Contains(string(b), `"si`+"\n") {
		t.Errorf("manifest after repair: %q", b)
	}
}

func TestSecondWriterIsRefused(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "another ramen process") {
		t.Errorf("second writer: %v", err)
	}
	r, err := Open(dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("readers must not be blocked by a writer: %v", err)
	}
	r.Close()
	_ = context.Background
}
