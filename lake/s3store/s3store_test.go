package s3store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ramen-siem/ramen/lake"
	"github.com/ramen-siem/ramen/source/s3"
	"github.com/ramen-siem/ramen/source/s3/s3test"
)

// TestStore checks what the lake relies on from its store, against MinIO: keys relative to the
// lake's root and nothing outside it (a sibling prefix that starts the same is another lake), list
// pages in key order with sizes and ETags, atomic PUTs returning the ETag the listing shows, GETs of
// the listed version only, deletes of missing keys accepted, and errors that name the key.
func TestStore(t *testing.T) {
	srv := s3test.Start(t)
	proxy := srv.Proxy(t)
	s3test.SetEnv(t)
	srv.CreateBucket(t, "lake")
	srv.Put(t, "lake", "prod2/type=x/date=2026-03-01/hour=00/other_0.parquet", []byte("another lake"))
	srv.Put(t, "lake", "prodfile", []byte("not under prod/"))
	ctx := context.Background()
	c, err := s3.New(ctx, s3.Options{Endpoint: proxy.URL, PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	st := New(c, s3.URL{Bucket: "lake", Prefix: "prod"})
	if st.String() != "s3://lake/prod/" {
		t.Errorf("String() = %s", st)
	}
	dir := t.TempDir()
	files := map[string]string{
		"type=x/date=2026-03-01/hour=00/b_0.parquet": "first file",
		"type=x/date=2026-03-01/hour=01/b_0.parquet": "second, longer file",
		"_manifest/b.ndjson":                         `{"key":"s3://logs/a","size":1}` + "\n",
	}
	etags := map[string]string{}
	for k, v := range files {
		p := filepath.Join(dir, strings.ReplaceAll(k, "/", "_"))
		os.WriteFile(p, []byte(v), 0o644)
		if etags[k], err = st.Put(ctx, k, p); err != nil || etags[k] == "" {
			t.Fatalf("put %s: %q, %v", k, etags[k], err)
		}
	}
	var listed []lake.StoreObject
	pages := 0
	if err := st.List(ctx, "", func(p []lake.StoreObject) error { pages++; listed = append(listed, p...); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 3 || pages != 2 {
		t.Fatalf("listed %v in %d pages, want the 3 keys of the lake in 2 pages", listed, pages)
	}
	for i, o := range listed {
		if i > 0 && listed[i-1].Key >= o.Key {
			t.Errorf("not in key order: %s then %s", listed[i-1].Key, o.Key)
		}
		if o.Size != int64(len(files[o.Key])) || o.ETag != etags[o.Key] {
			t.Errorf("%s: listed size %d, ETag %s; put %d bytes, ETag %s", o.Key, o.Size, o.ETag, len(files[o.Key]), etags[o.Key])
		}
		var b bytes.Buffer
		if err := st.Get(ctx, o, &b); err != nil || b.String() != files[o.Key] {
			t.Errorf("get %s: %q, %v", o.Key, b.String(), err)
		}
	}
	if d, err := st.Dirs(ctx, ""); err != nil || strings.Join(d, " ") != "_manifest type=x" {
		t.Errorf("dirs of the root: %v, %v", d, err)
	}
	if d, err := st.Dirs(ctx, "type=x/"); err != nil || strings.Join(d, " ") != "type=x/date=2026-03-01" {
		t.Errorf("dirs of type=x/: %v, %v", d, err)
	}
	var parts []lake.StoreObject
	st.List(ctx, "_manifest/", func(p []lake.StoreObject) error { parts = append(parts, p...); return nil })
	if len(parts) != 1 || parts[0].Key != "_manifest/b.ndjson" {
		t.Errorf("list _manifest/: %v", parts)
	}
	// A GET of a version no longer there fails: the cache never takes a file that changed since it
	// was listed.
	old := listed[0]
	p := filepath.Join(dir, "new")
	os.WriteFile(p, []byte("replaced by a compaction elsewhere"), 0o644)
	if _, err := st.Put(ctx, old.Key, p); err != nil {
		t.Fatal(err)
	}
	if err := st.Get(ctx, old, &bytes.Buffer{}); !errors.Is(err, s3.ErrChanged) || !errors.Is(err, lake.ErrGone) {
		t.Errorf("get of a replaced version: %v, want ErrChanged and lake.ErrGone", err)
	}
	if err := st.Delete(ctx, old.Key); err != nil {
		t.Fatal(err)
	}
	// A GET of an object deleted since it was listed (a pull lists again when it meets ErrGone).
	if err := st.Get(ctx, listed[1], &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, listed[1].Key); err != nil {
		t.Fatal(err)
	}
	if err := st.Get(ctx, listed[1], &bytes.Buffer{}); !errors.Is(err, lake.ErrGone) || !strings.Contains(err.Error(), listed[1].Key) {
		t.Errorf("get of a deleted object: %v, want lake.ErrGone naming the key", err)
	}
	if err := st.Delete(ctx, old.Key); err != nil {
		t.Errorf("deleting a missing key: %v", err)
	}
	// A denied PUT: an error that says which permission is missing (the lake adds the key).
	proxy.DenyPut(func(key string) bool { return true })
	if _, err := st.Put(ctx, "_manifest/c.ndjson", p); err == nil || !strings.Contains(err.Error(), "s3:PutObject") {
		t.Errorf("denied put: %v", err)
	}
}
