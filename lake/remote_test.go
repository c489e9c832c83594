package lake

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// memStore is a Store in memory: the second implementation beside S3 (lake/s3store, tested against
// MinIO in cmd/ramen), so that the publication protocol is tested here without a server.
type memStore struct {
	mu      sync.Mutex
	objs    map[string][]byte
	failPut func(key string) error
	puts    []string
	lists   []string            // prefixes listed
	name    string              // String() when set
	onList  func(prefix string) // called before each listing, outside the lock
}

func newMemStore() *memStore { return &memStore{objs: map[string][]byte{}} }

func etag(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

func (m *memStore) String() string {
	if m.name != "" {
		return m.name
	}
	return "mem://lake/"
}

func (m *memStore) List(ctx context.Context, prefix string, fn func([]StoreObject) error) error {
	if m.onList != nil {
		m.onList(prefix)
	}
	m.mu.Lock()
	m.lists = append(m.lists, prefix)
	var page []StoreObject
	for k, b := range m.objs {
		if strings.HasPrefix(k, prefix) {
			page = append(page, StoreObject{Key: k, Size: int64(len(b)), ETag: etag(b)})
		}
	}
	m.mu.Unlock()
	slices.SortFunc(page, func(a, b StoreObject) int { return strings.Compare(a.Key, b.Key) })
	if len(page) == 0 {
		return nil
	}
	return fn(page)
}

func (m *memStore) Dirs(ctx context.Context, prefix string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[string]bool{}
	for k := range m.objs {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				seen[prefix+rest[:i]] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for d := range seen {
		out = append(out, d)
	}
	slices.Sort(out)
	return out, nil
}

func (m *memStore) Put(ctx context.Context, key, path string) (string, error) {
	m.mu.Lock()
	f := m.failPut
	m.mu.Unlock()
	if f != nil {
		if err := f(key); err != nil {
			return "", err
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objs[key] = b
	m.puts = append(m.puts, key)
	return etag(b), nil
}

func (m *memStore) Get(ctx context.Context, o StoreObject, w io.Writer) error {
	m.mu.Lock()
	b, ok := m.objs[o.Key]
	m.mu.Unlock()
	if !ok || etag(b) != o.ETag {
		return fmt.Errorf("get %s: %w", o.Key, ErrGone)
	}
	_, err := w.Write(b)
	return err
}

func (m *memStore) Delete(ctx context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objs, key)
	return nil
}

func (m *memStore) keys(prefix string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.objs {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func openRemoteLake(t *testing.T, s Store, readOnly bool) *Lake {
	t.Helper()
	l, err := Open(t.TempDir(), Options{Remote: s, ReadOnly: readOnly})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// remoteCount is count on a lake on S3: Query pulls what it needs.
func remoteCount(t *testing.T, l *Lake, q string) int64 {
	t.Helper()
	return count(t, l, q)
}

func TestRemotePublishAndFreshCache(t *testing.T) {
	s := newMemStore()
	ctx := context.Background()
	w := openRemoteLake(t, s, false)
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	ingest(t, w, "ct", synthEvents("cloudtrail", start, 48*time.Hour, 200, 1), nil)
	ingest(t, w, "vpc", synthEvents("vpcflow", start, 48*time.Hour, 100, 2), nil)
	// Committed in the cache, not yet in the store: no part, so not acknowledged there.
	if got := s.keys("_manifest/"); len(got) != 0 {
		t.Fatalf("parts before Publish: %v", got)
	}
	ps, err := w.Publish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ps.Batches != 2 || ps.Files == 0 {
		t.Fatalf("publish: %+v", ps)
	}
	// Every batch's files are uploaded before its part.
	for i, k := range s.puts {
		if strings.HasPrefix(k, "_manifest/") {
			id := fileID(k)
			for _, later := range s.puts[i+1:] {
				if fileID(later) == id {
					t.Errorf("%s uploaded after its part", later)
				}
			}
		}
	}
	if ps, _ := w.Publish(ctx); ps.Batches != 0 || ps.Files != 0 {
		t.Errorf("second publish uploaded %+v", ps)
	}

	// A fresh cache reads what the store has.
	r := openRemoteLake(t, s, true)
	if n := remoteCount(t, r, "SELECT count(*) FROM cloudtrail"); n != 200 {
		t.Errorf("fresh cache: %d cloudtrail events, want 200", n)
	}
	if n := remoteCount(t, r, "SELECT count(*) FROM events"); n != 300 {
		t.Errorf("fresh cache: %d events, want 300", n)
	}
	// A fresh writer knows the objects: nothing is ingested again.
	w2 := openRemoteLake(t, s, false)
	if _, ok := w2.Ingested(Object{Key: "ct", Size: 200, SHA256: "ct"}); !ok {
		t.Error("a fresh cache does not know an object published by another")
	}
	if w2.Objects() != 2 {
		t.Errorf("fresh cache knows %d objects, want 2", w2.Objects())
	}
}

func TestRemoteOnlyPulledWhatTheQueryNeeds(t *testing.T) {
	s := newMemStore()
	w := openRemoteLake(t, s, false)
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	ingest(t, w, "ct", synthEvents("cloudtrail", start, 72*time.Hour, 300, 1), nil)
	ingest(t, w, "vpc", synthEvents("vpcflow", start, 72*time.Hour, 300, 2), nil)
	if _, err := w.Publish(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := openRemoteLake(t, s, true)
	opt := QueryOptions{Since: start.Add(24 * time.Hour), Until: start.Add(48 * time.Hour)}
	s.lists = nil
	st, err := r.PullQuery(context.Background(), "SELECT count(*) FROM cloudtrail", opt)
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 24 {
		t.Errorf("pulled %d files, want the 24 hours of one day of one type", st.Files)
	}
	if m, _ := filepath.Glob(filepath.Join(r.Root(), "type=vpcflow")); len(m) != 0 {
		t.Error("vpcflow pulled for a query on cloudtrail")
	}
	// Only the day's folder is listed, not the lake (and the parts again after it, for a compaction
	// published meanwhile).
	if want := []string{"_manifest/", "type=cloudtrail/date=2026-03-02/", "_manifest/"}; !slices.Equal(s.lists, want) {
		t.Errorf("listed %v, want %v", s.lists, want)
	}
	rows, err := r.Query(context.Background(), "SELECT count(*) FROM cloudtrail", opt)
	if err != nil {
		t.Fatal(err)
	}
	if n := scanAll(t, rows)[0][0].(int64); n != 100 {
		t.Errorf("%d events in the day, want 100", n)
	}
}

// A crash between the local commit and the publication (here: the upload of the part fails, as if
// the process died there) is finished by the next Open, with nothing lost or published twice.
func TestRemoteCrashBeforePublishIsFinishedByOpen(t *testing.T) {
	s := newMemStore()
	dir := t.TempDir()
	w, err := Open(dir, Options{Remote: s})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	ingest(t, w, "ct", synthEvents("cloudtrail", start, 3*time.Hour, 90, 1), nil)
	s.failPut = func(key string) error {
		if strings.HasPrefix(key, "_manifest/") {
			return errors.New("connection reset")
		}
		return nil
	}
	_, err = w.Publish(context.Background())
	if err == nil || !strings.Contains(err.Error(), "_manifest/") {
		t.Fatalf("publish error %v: want one naming the part", err)
	}
	w.Close()
	// The files are in the store, the part is not: readers see nothing.
	if n := len(s.keys("type=")); n != 3 {
		t.Fatalf("%d files uploaded, want 3", n)
	}
	r := openRemoteLake(t, s, true)
	if st, err := r.Pull(context.Background(), PullOptions{}); err != nil || st.Files != 0 {
		t.Errorf("pulled %+v, %v: files without their part must be invisible", st, err)
	}
	s.failPut = nil
	w, err = Open(dir, Options{Remote: s})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if got := s.keys("_manifest/"); len(got) != 1 {
		t.Errorf("parts after reopening: %v", got)
	}
	r2 := openRemoteLake(t, s, true)
	if n := remoteCount(t, r2, "SELECT count(*) FROM cloudtrail"); n != 90 {
		t.Errorf("%d events, want 90", n)
	}
}

func TestRemoteCompactAndPrune(t *testing.T) {
	s := newMemStore()
	ctx := context.Background()
	w := openRemoteLake(t, s, false)
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	evs := synthEvents("cloudtrail", start, 50*time.Minute, 100, 1)
	ingest(t, w, "a", evs, nil)
	ingest(t, w, "a-again", synthEvents("cloudtrail", start, 50*time.Minute, 100, 1), nil) // --force: duplicates
	ingest(t, w, "old", synthEvents("cloudtrail", start.AddDate(0, 0, -30), time.Hour, 10, 3), nil)
	if _, err := w.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	// Compaction in a fresh writer cache: it pulls, compacts and publishes.
	w.Close()
	w2 := openRemoteLake(t, s, false)
	cs, err := w2.Compact(ctx, CompactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cs.Partitions != 1 || cs.RowsOut != 100 {
		t.Fatalf("compaction: %+v", cs)
	}
	if got := s.keys("type=cloudtrail/date=2026-03-01/"); len(got) != 1 || !strings.HasSuffix(got[0], "_c.parquet") {
		t.Errorf("store after compaction: %v", got)
	}
	r := openRemoteLake(t, s, true)
	if n := remoteCount(t, r, "SELECT count(*) FROM cloudtrail WHERE date = DATE '2026-03-01'"); n != 100 {
		t.Errorf("after compaction: %d events, want 100", n)
	}
	// A cache that had the old files drops them when it pulls again.
	w3 := openRemoteLake(t, s, true)
	if n := remoteCount(t, w3, "SELECT count(*) FROM cloudtrail"); n != 110 {
		t.Errorf("%d events, want 110", n)
	}
	// Prune from a fresh writer cache, which has none of the days: the store says which there are.
	w2.Close()
	w4 := openRemoteLake(t, s, false)
	dry, err := w4.Prune(ctx, PruneOptions{Retention: Retention{"*": 7 * 24 * time.Hour}, Now: start.Add(time.Hour), DryRun: true})
	if err != nil || len(dry.Partitions) != 1 || len(s.keys("type=cloudtrail/date=2026-01-30/")) == 0 {
		t.Fatalf("dry run: %+v, %v", dry, err)
	}
	ps, err := w4.Prune(ctx, PruneOptions{Retention: Retention{"*": 7 * 24 * time.Hour}, Now: start.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(ps.Partitions) != 1 {
		t.Errorf("pruned %+v", ps)
	}
	if got := s.keys("type=cloudtrail/date=2026-01-30/"); len(got) != 0 {
		t.Errorf("pruned day still in the store: %v", got)
	}
	if n := remoteCount(t, w3, "SELECT count(*) FROM cloudtrail"); n != 100 {
		t.Errorf("after prune: %d events, want 100", n)
	}
}

// A compaction whose part is uploaded but whose replaced files are not yet deleted (a crash): readers
// skip the replaced files, and the next writer Open deletes them.
func TestRemoteReplacedFilesAreInvisible(t *testing.T) {
	s := newMemStore()
	ctx := context.Background()
	w := openRemoteLake(t, s, false)
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	ingest(t, w, "a", synthEvents("test", start, 50*time.Minute, 100, 1), nil)
	ingest(t, w, "b", synthEvents("test", start, 50*time.Minute, 50, 2), nil)
	if _, err := w.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	old := s.keys("type=")
	deleted := map[string][]byte{}
	s.mu.Lock()
	for _, k := range old {
		deleted[k] = s.objs[k]
	}
	s.mu.Unlock()
	if _, err := w.Compact(ctx, CompactOptions{}); err != nil {
		t.Fatal(err)
	}
	// Put the replaced files back, as if the deletions never happened.
	s.mu.Lock()
	for k, b := range deleted {
		s.objs[k] = b
	}
	s.mu.Unlock()
	r := openRemoteLake(t, s, true)
	if n := remoteCount(t, r, "SELECT count(*) FROM test"); n != 150 {
		t.Errorf("%d events with the replaced files still in the store, want 150", n)
	}
	w.Close()
	openRemoteLake(t, s, false)
	if got := s.keys("type="); len(got) != 1 {
		t.Errorf("after a writer's Open, the store has %v", got)
	}
}

// The record of published keys is append-only; once it is mostly stale lines it is written afresh,
// keeping what is known.
func TestRemoteKnownRecordIsRewritten(t *testing.T) {
	r, err := openRemote(t.TempDir(), newMemStore())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&b, `{"key":"type=t/date=2026-03-01/hour=00/x_%d.parquet","size":1,"etag":"e"}`+"\n", i)
		if i%10 != 0 {
			fmt.Fprintf(&b, `{"key":"type=t/date=2026-03-01/hour=00/x_%d.parquet","gone":true}`+"\n", i)
		}
	}
	b.WriteString(`{"key":"torn`) // a crash in the middle of an append
	path := filepath.Join(r.dir, "known.ndjson")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.begin(); err != nil {
		t.Fatal(err)
	}
	if len(r.known) != 300 {
		t.Errorf("%d keys known, want 300", len(r.known))
	}
	if err := r.record(knownLine{Key: "_manifest/b.ndjson", Size: 2, ETag: "f"}); err != nil {
		t.Fatal(err)
	}
	r.end()
	data, _ := os.ReadFile(path)
	if n := strings.Count(string(data), "\n"); n != 301 {
		t.Errorf("record has %d lines after the rewrite and one append, want 301", n)
	}
	if err := r.begin(); err != nil {
		t.Fatal(err)
	}
	defer r.end()
	if _, ok := r.known["_manifest/b.ndjson"]; !ok || len(r.known) != 301 {
		t.Errorf("after reopening: %d keys known", len(r.known))
	}
}

// BenchmarkPublishNothingPending is what every commit of an ingest into a lake on S3 pays beyond
// uploading its own batch: finding what is pending in a cache of a month of hourly partitions of two
// types (1,440 files), with nothing pending.
func BenchmarkPublishNothingPending(b *testing.B) {
	l, err := Open(b.TempDir(), Options{Remote: newMemStore()})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	ingest(b, l, "ct", synthEvents("cloudtrail", start, 30*24*time.Hour, 1440, 1), nil)
	ingest(b, l, "vpc", synthEvents("vpcflow", start, 30*24*time.Hour, 1440, 2), nil)
	ctx := context.Background()
	if _, err := l.Publish(ctx); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if st, err := l.Publish(ctx); err != nil || st.Files != 0 {
			b.Fatal(st, err)
		}
	}
}

// A compaction done in the cache but not published (the upload failed, or a crash): queries on that
// cache count each event once (the replaced files are not pulled back), and the next writer's Open
// publishes it.
func TestRemoteUnpublishedCompaction(t *testing.T) {
	s := newMemStore()
	ctx := context.Background()
	dir := t.TempDir()
	w, err := Open(dir, Options{Remote: s})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	ingest(t, w, "a", synthEvents("test", start, 50*time.Minute, 100, 1), nil)
	ingest(t, w, "b", synthEvents("test", start, 50*time.Minute, 50, 2), nil)
	if _, err := w.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	s.failPut = func(key string) error {
		if strings.HasSuffix(key, "_c.parquet") {
			return errors.New("connection reset")
		}
		return nil
	}
	if _, err := w.Compact(ctx, CompactOptions{}); err == nil || !strings.Contains(err.Error(), "_c.parquet") {
		t.Fatalf("compaction whose upload fails: %v", err)
	}
	w.Close()
	r, err := Open(dir, Options{Remote: s, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := remoteCount(t, r, "SELECT count(*) FROM test"); n != 150 {
		t.Errorf("the compacting cache counts %d events, want 150", n)
	}
	r.Close()
	s.failPut = nil
	w, err = Open(dir, Options{Remote: s})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if got := s.keys("type="); len(got) != 1 || !strings.HasSuffix(got[0], "_c.parquet") {
		t.Errorf("store after the writer's Open: %v", got)
	}
	if n := remoteCount(t, openRemoteLake(t, s, true), "SELECT count(*) FROM test"); n != 150 {
		t.Errorf("a fresh cache counts %d events, want 150", n)
	}
}

// A cache that committed a batch and could not publish it, while another cache ingested and
// published the same objects: when the first opens again, its batch is dropped, not published, so
// the store has each event once.
func TestRemoteSupersededBatchIsDropped(t *testing.T) {
	s := newMemStore()
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	dirA := t.TempDir()
	a, err := Open(dirA, Options{Remote: s})
	if err != nil {
		t.Fatal(err)
	}
	ingest(t, a, "x", synthEvents("test", start, time.Hour, 100, 1), nil)
	ingest(t, a, "y", synthEvents("test", start, time.Hour, 10, 2), nil) // only in A
	s.failPut = func(string) error { return errors.New("network down") }
	if _, err := a.Publish(context.Background()); err == nil {
		t.Fatal("publish succeeded without the network")
	}
	a.Close()
	s.failPut = nil
	b := openRemoteLake(t, s, false)
	ingest(t, b, "x", synthEvents("test", start, time.Hour, 100, 1), nil)
	if _, err := b.Publish(context.Background()); err != nil {
		t.Fatal(err)
	}
	a, err = Open(dirA, Options{Remote: s})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if n := remoteCount(t, openRemoteLake(t, s, true), "SELECT count(*) FROM test"); n != 110 {
		t.Errorf("%d events in the store, want 110 (x once, and y)", n)
	}
	if got := s.keys("_manifest/"); len(got) != 2 {
		t.Errorf("parts %v, want B's batch of x and A's batch of y", got)
	}
	if n := remoteCount(t, a, "SELECT count(*) FROM test"); n != 110 {
		t.Errorf("A's cache counts %d events, want 110", n)
	}
}

// A cache belongs to one lake: opening it for another, or opening a local lake as a cache, is an
// error rather than a mix of two lakes.
func TestRemoteCacheBelongsToOneLake(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{Remote: newMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	other := newMemStore()
	other.name = "mem://other/"
	if _, err := Open(dir, Options{Remote: other}); err == nil || !strings.Contains(err.Error(), "is the cache of mem://lake/, not of mem://other/") {
		t.Errorf("cache of another lake: %v", err)
	}
	local := t.TempDir()
	l, err = Open(local, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ingest(t, l, "a", synthEvents("test", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Hour, 5, 1), nil)
	l.Close()
	if _, err := Open(local, Options{Remote: newMemStore()}); err == nil || !strings.Contains(err.Error(), "is a local lake") {
		t.Errorf("a local lake as a cache: %v", err)
	}
}

// Keys come from the bucket and are untrusted: a key that is not a file of the lake's layout
// ("type=t/date=d/../../../x_0.parquet", "_rejected/../../x.ndjson") is never written outside the
// cache, whatever part names its id.
func TestRemoteKeysCannotEscapeTheCache(t *testing.T) {
	s := newMemStore()
	w := openRemoteLake(t, s, false)
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	ingest(t, w, "a", synthEvents("test", start, 50*time.Minute, 10, 1), nil)
	if _, err := w.Publish(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.objs["_manifest/evil.ndjson"] = []byte{}
	for _, k := range []string{
		"type=test/date=2026-03-01/../../../../escape/evil_0.parquet",
		"type=test/date=2026-03-01/hour=08/../../../../../escape/evil_1.parquet",
		"_rejected/../../../escape/evil.ndjson",
		"type=test//date=2026-03-01/hour=08/evil_2.parquet",
		"type=t*/date=2026-03-01/hour=08/evil_3.parquet", // a view of type t* would read every t... type
	} {
		s.objs[k] = []byte("owned")
	}
	s.mu.Unlock()
	base := t.TempDir()
	root := filepath.Join(base, "x", "y", "cache")
	r, err := Open(root, Options{Remote: s, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// A key outside the layout that an older ramen recorded as pulled, and that the bucket no longer
	// lists: forgetting it must not remove the file its path would name.
	victim := filepath.Join(base, "x", "victim.parquet")
	if err := os.WriteFile(victim, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	known, err := os.OpenFile(filepath.Join(root, "_remote", "known.ndjson"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(known, `{"key":"type=test/date=2026-03-01/../../../../victim.parquet","size":4,"etag":"e"}`)
	known.Close()
	st, err := r.Pull(context.Background(), PullOptions{Rejected: true})
	if err != nil {
		t.Fatal(err)
	}
	var bad []string
	filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && p != victim && (!strings.HasPrefix(p, root+string(filepath.Separator)) || strings.HasPrefix(d.Name(), "evil_")) {
			bad = append(bad, p)
		}
		return nil
	})
	if len(bad) > 0 {
		t.Errorf("keys of the bucket written as %v", bad)
	}
	if !exists(victim) {
		t.Error("a file outside the cache was removed for a key the bucket no longer lists")
	}
	if st.Files != 1 {
		t.Errorf("pulled %d files, want the 1 file of the lake's layout", st.Files)
	}
	if n := remoteCount(t, r, "SELECT count(*) FROM test"); n != 10 {
		t.Errorf("%d events, want 10", n)
	}
}

// A kill in the middle of writing a compaction's record (before its journal: the compaction never
// took place) leaves a torn temporary file; the next Open must not refuse to open the cache.
func TestRemoteTornCompactionRecord(t *testing.T) {
	s := newMemStore()
	dir := t.TempDir()
	w, err := Open(dir, Options{Remote: s})
	if err != nil {
		t.Fatal(err)
	}
	ingest(t, w, "a", synthEvents("test", time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC), time.Hour, 10, 1), nil)
	w.Close()
	tmp := filepath.Join(dir, "_remote", "compactions", "20260301T090000Z-0123456789ab.json.tmp")
	if err := os.WriteFile(tmp, []byte(`{"id":"2026030`), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err = Open(dir, Options{Remote: s})
	if err != nil {
		t.Fatalf("open after a torn compaction record: %v", err)
	}
	defer w.Close()
	if got := s.keys("_manifest/"); len(got) != 1 {
		t.Errorf("parts %v, want the pending batch published", got)
	}
	if exists(tmp) {
		t.Error("the torn record is still there")
	}
}

// A compaction published while a reader lists the store (after the reader listed the parts, before
// it listed the data: the replaced files are gone and the compacted file's part was not listed)
// must not make the reader see neither the old files nor the new one.
func TestRemoteCompactionDuringListing(t *testing.T) {
	s := newMemStore()
	ctx := context.Background()
	w := openRemoteLake(t, s, false)
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	ingest(t, w, "a", synthEvents("test", start, 50*time.Minute, 100, 1), nil)
	ingest(t, w, "b", synthEvents("test", start, 50*time.Minute, 50, 2), nil)
	ingest(t, w, "c", synthEvents("test", start.Add(2*time.Hour), 50*time.Minute, 20, 3), nil)
	if _, err := w.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	r := openRemoteLake(t, s, true)
	compacted := false
	s.onList = func(prefix string) {
		if strings.HasPrefix(prefix, "type=") && !compacted {
			compacted = true
			if _, err := w.Compact(ctx, CompactOptions{}); err != nil {
				t.Error(err)
			}
		}
	}
	if n := remoteCount(t, r, "SELECT count(*) FROM test"); n != 170 {
		t.Errorf("%d events while a compaction was published, want 170", n)
	}
	if !compacted {
		t.Fatal("no compaction during the listing")
	}
	s.onList = nil
	if n := remoteCount(t, r, "SELECT count(*) FROM test"); n != 170 {
		t.Errorf("%d events after it, want 170", n)
	}
}

// A superseded batch whose files were uploaded before its part failed: dropping it deletes those
// files from the store too, so that no engine reading the bucket by glob counts its events twice.
func TestRemoteSupersededBatchLeavesNoFiles(t *testing.T) {
	s := newMemStore()
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	dirA := t.TempDir()
	a, err := Open(dirA, Options{Remote: s})
	if err != nil {
		t.Fatal(err)
	}
	ingest(t, a, "x", synthEvents("test", start, time.Hour, 100, 1), nil)
	s.failPut = func(key string) error {
		if strings.HasPrefix(key, "_manifest/") {
			return errors.New("connection reset")
		}
		return nil
	}
	if _, err := a.Publish(context.Background()); err == nil {
		t.Fatal("publish succeeded without its part")
	}
	a.Close()
	s.failPut = nil
	if len(s.keys("type=")) == 0 {
		t.Fatal("no file uploaded before the part failed")
	}
	b := openRemoteLake(t, s, false)
	ingest(t, b, "x", synthEvents("test", start, time.Hour, 100, 1), nil)
	if _, err := b.Publish(context.Background()); err != nil {
		t.Fatal(err)
	}
	a, err = Open(dirA, Options{Remote: s})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, k := range s.keys("type=") {
		if len(s.keys(partKey(fileID(k)))) == 0 {
			t.Errorf("%s left in the store without a part", k)
		}
	}
}

// A reader killed in the middle of pulling a file (between the file put in place and its record)
// must not keep it forever: once a compaction replaces it, the cache would count its events twice.
func TestRemoteKillDuringPull(t *testing.T) {
	s := newMemStore()
	ctx := context.Background()
	w := openRemoteLake(t, s, false)
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	ingest(t, w, "a", synthEvents("test", start, 50*time.Minute, 100, 1), nil)
	ingest(t, w, "b", synthEvents("test", start, 50*time.Minute, 50, 2), nil)
	if _, err := w.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r, err := Open(dir, Options{Remote: s, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	killed := errors.New("killed")
	remoteHook = func(step string) error {
		if step == "downloaded" {
			return killed
		}
		return nil
	}
	_, err = r.Pull(ctx, PullOptions{})
	remoteHook = func(string) error { return nil }
	r.Close()
	if !errors.Is(err, killed) {
		t.Fatalf("pull: %v", err)
	}
	if _, err := w.Compact(ctx, CompactOptions{}); err != nil {
		t.Fatal(err)
	}
	r, err = Open(dir, Options{Remote: s, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if n := remoteCount(t, r, "SELECT count(*) FROM test"); n != 150 {
		t.Errorf("%d events after the compaction, want 150", n)
	}
}

// Publishing runs after every commit of an ingest: finding what is pending must not copy the whole
// manifest of a lake of millions of objects each time.
func TestRemotePublishDoesNotCopyTheManifest(t *testing.T) {
	s := newMemStore()
	l := openRemoteLake(t, s, false)
	ingest(t, l, "a", synthEvents("test", time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC), time.Hour, 10, 1), nil)
	ctx := context.Background()
	if _, err := l.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	// 50,000 more objects of published batches, as a fresh cache loads them from the store's parts.
	objs := make([]Object, 50000)
	for i := range objs {
		objs[i] = Object{Key: fmt.Sprintf("s3://logs/AWSLogs/%d.json.gz", i), Size: int64(i), ETag: "e", Type: "test", Batch: fmt.Sprintf("b%d", i%5)}
	}
	r := l.remote
	if err := r.begin(); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := r.record(knownLine{Key: partKey(fmt.Sprintf("b%d", i)), Size: 1, ETag: "e"}); err != nil {
			t.Fatal(err)
		}
	}
	r.end()
	if err := l.man.append(objs); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	st, err := l.Publish(ctx)
	runtime.ReadMemStats(&after)
	if err != nil || st.Files != 0 || st.Batches != 0 {
		t.Fatalf("publish: %+v, %v", st, err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("publishing nothing allocated %d bytes with 50,000 objects in the manifest", n)
	}
}

// A query pulling in the cache of a compaction that runs in another process (the default cache of
// a bucket is shared by the commands of one machine): the files the compaction swaps out of a
// partition after the pull looked at its records are not pulled back next to the compacted file,
// where the cache would count them twice and the next publication would upload them again.
func TestRemotePullDuringLocalCompaction(t *testing.T) {
	s := newMemStore()
	ctx := context.Background()
	dir := t.TempDir()
	w, err := Open(dir, Options{Remote: s})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	ingest(t, w, "a", synthEvents("test", start, 50*time.Minute, 100, 1), nil)
	ingest(t, w, "b", synthEvents("test", start, 50*time.Minute, 50, 2), nil)
	if _, err := w.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir, Options{Remote: s, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	remoteHook = func(step string) error {
		if step != "pulling" {
			return nil
		}
		remoteHook = func(string) error { return nil }
		// The compaction's own publish and pull came before; its swap does not take the remote lock.
		parts, err := w.partitions("test")
		if err != nil || len(parts) != 1 {
			t.Fatalf("partitions %v, %v", parts, err)
		}
		_, err = w.compactPartition(ctx, parts[0], parts[0].Files, defaultCompactLevel)
		return err
	}
	defer func() { remoteHook = func(string) error { return nil } }()
	if _, err := r.Pull(ctx, PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	if n := remoteCount(t, r, "SELECT count(*) FROM test"); n != 150 {
		t.Errorf("the cache counts %d events, want 150", n)
	}
	if _, err := w.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.keys("type="); len(got) != 1 || !strings.HasSuffix(got[0], "_c.parquet") {
		t.Errorf("store after the compaction: %v", got)
	}
}

// A query pulling in the cache while `lake prune` runs there in another process, after the prune
// deleted a day in the cache and before it deleted the day's keys in the store: the files it pulls
// back must not stay in the cache (where the pruned day would be queried forever) nor be uploaded
// again by the next publication (which would bring the pruned day back into the store).
func TestRemotePullDuringPrune(t *testing.T) {
	s := newMemStore()
	ctx := context.Background()
	dir := t.TempDir()
	w, err := Open(dir, Options{Remote: s})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	ingest(t, w, "new", synthEvents("test", start, time.Hour, 100, 1), nil)
	ingest(t, w, "old", synthEvents("test", start.AddDate(0, 0, -30), time.Hour, 10, 2), nil)
	if _, err := w.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir, Options{Remote: s, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	remoteHook = func(step string) error {
		if step == "pruning" {
			remoteHook = func(string) error { return nil }
			if _, err := r.Pull(ctx, PullOptions{}); err != nil {
				t.Error(err)
			}
		}
		return nil
	}
	defer func() { remoteHook = func(string) error { return nil } }()
	ps, err := w.Prune(ctx, PruneOptions{Retention: Retention{"*": 7 * 24 * time.Hour}, Now: start.Add(time.Hour)})
	if err != nil || len(ps.Partitions) != 1 {
		t.Fatalf("prune: %+v, %v", ps, err)
	}
	if _, err := w.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.keys("type=test/date=2026-01-30/"); len(got) != 0 {
		t.Errorf("the pruned day is in the store again: %v", got)
	}
	if n := remoteCount(t, r, "SELECT count(*) FROM test"); n != 100 {
		t.Errorf("the cache counts %d events, want the 100 of the day kept", n)
	}
}

// A kill while the record of a publication is written (its part uploaded, the record of its files
// and part lost), then a compaction elsewhere that replaces those files: the next Open of the cache
// must not upload them again (their part is in the store, so they were uploaded before it).
func TestRemoteLostRecordAfterCompactionElsewhere(t *testing.T) {
	s := newMemStore()
	ctx := context.Background()
	dir := t.TempDir()
	a, err := Open(dir, Options{Remote: s})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	ingest(t, a, "a", synthEvents("test", start, 50*time.Minute, 100, 1), nil)
	if _, err := a.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "_remote", "known.ndjson")
	before, _ := os.ReadFile(path)
	ingest(t, a, "b", synthEvents("test", start, 50*time.Minute, 50, 2), nil)
	if _, err := a.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	a.Close()
	// The kill: the last record (b's file and part) never reached the disk.
	if err := os.WriteFile(path, before, 0o644); err != nil {
		t.Fatal(err)
	}
	c := openRemoteLake(t, s, false)
	if cs, err := c.Compact(ctx, CompactOptions{}); err != nil || cs.Partitions != 1 {
		t.Fatalf("compaction: %+v, %v", cs, err)
	}
	a, err = Open(dir, Options{Remote: s})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if got := s.keys("type="); len(got) != 1 || !strings.HasSuffix(got[0], "_c.parquet") {
		t.Errorf("store after the cache's Open: %v", got)
	}
	if n := remoteCount(t, a, "SELECT count(*) FROM test"); n != 150 {
		t.Errorf("the cache counts %d events, want 150", n)
	}
}

// A compaction published and its replaced files deleted after a query listed the store and before
// it downloaded them: the query lists again and reads the compacted file, rather than failing.
func TestRemoteCompactionDuringPull(t *testing.T) {
	s := newMemStore()
	ctx := context.Background()
	w := openRemoteLake(t, s, false)
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	ingest(t, w, "a", synthEvents("test", start, 50*time.Minute, 100, 1), nil)
	ingest(t, w, "b", synthEvents("test", start, 50*time.Minute, 50, 2), nil)
	if _, err := w.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	r := openRemoteLake(t, s, true)
	remoteHook = func(step string) error {
		if step == "pulling" {
			remoteHook = func(string) error { return nil }
			if _, err := w.Compact(ctx, CompactOptions{}); err != nil {
				t.Error(err)
			}
		}
		return nil
	}
	defer func() { remoteHook = func(string) error { return nil } }()
	rows, err := r.Query(ctx, "SELECT count(*) FROM test", QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := scanAll(t, rows)[0][0].(int64); n != 150 {
		t.Errorf("%d events, want 150", n)
	}
}
