package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ramen-siem/ramen/lake"
	"github.com/ramen-siem/ramen/progress"
	"github.com/ramen-siem/ramen/source/s3"
	"github.com/ramen-siem/ramen/source/s3/s3test"
)

// s3Lake is a MinIO with a bucket of AWS logs (org-logs/AWSLogs/...) and an empty bucket for the
// lake, reached through the fault proxy.
type s3Lake struct {
	srv   *s3test.Server
	proxy *s3test.Proxy
	objs  map[string][]byte
	want  map[string]int // events by type/account/region
}

func startS3Lake(t *testing.T) *s3Lake {
	t.Helper()
	srv := s3test.Start(t)
	proxy := srv.Proxy(t)
	s3test.SetEnv(t)
	srv.CreateBucket(t, "org-logs")
	srv.CreateBucket(t, "lake")
	objs, want := awsLogs(t, []string{"111111111111", "222222222222"}, []string{"us-east-1", "eu-west-1"})
	for k, b := range objs {
		srv.Put(t, "org-logs", k, b)
	}
	return &s3Lake{srv: srv, proxy: proxy, objs: objs, want: want}
}

// args are a command's arguments for the lake s3://lake/prod with a cache of its own; the command
// comes first ("query", "lake stats").
func (s *s3Lake) args(cache string, args ...string) []string {
	return append(append(strings.Fields(args[0]), "--data", "s3://lake/prod", "--cache", cache, "--endpoint", s.proxy.URL), args[1:]...)
}

// s3Counts queries the lake on S3 through the command, from the given cache, and returns events by
// type/account/region, all rows and distinct ids.
func (s *s3Lake) counts(t *testing.T, cache string) (by map[string]int, rows, distinct int) {
	t.Helper()
	code, out, errs := runCmd(t, "", s.args(cache, "query", "--format", "csv",
		`SELECT type, cloud.account.id, cloud.region, count(*), count(DISTINCT _id) FROM events GROUP BY ALL`)...)
	by = map[string]int{}
	if code == 1 && strings.Contains(errs, "Table with name events does not exist") {
		return by, 0, 0 // nothing published
	}
	if code != 0 {
		t.Fatalf("query: exit %d: %s", code, errs)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs[1:] {
		n, _ := strconv.Atoi(r[3])
		d, _ := strconv.Atoi(r[4])
		by[r[0]+"/"+r[1]+"/"+r[2]] += n
		rows += n
		distinct += d
	}
	return by, rows, distinct
}

func (s *s3Lake) lakeKeys(t *testing.T, prefix string) []string {
	t.Helper()
	c, err := s3.New(context.Background(), s3.Options{Endpoint: s.srv.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	err = c.List(context.Background(), s3.URL{Bucket: "lake", Prefix: "prod/" + prefix}, func(page []s3.Object) error {
		for _, o := range page {
			keys = append(keys, strings.TrimPrefix(o.Key, "prod/"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestLakeOnS3 writes the lake to a real S3-compatible server and reads it back from fresh caches,
// as another machine would.
func TestLakeOnS3(t *testing.T) {
	s := startS3Lake(t)
	// A record that cannot be parsed, for a dead letter.
	s.srv.Put(t, "org-logs", "AWSLogs/extra/trail.json", []byte(`{"Records":[`+goodRecord+`,{"eventTime":"not a time"`))
	s.want["cloudtrail/210987654321/us-east-1"]++
	writer := t.TempDir()
	code, _, errs := runCmd(t, "", s.args(writer, "ingest", "--no-detect", "s3://org-logs/AWSLogs/")...)
	if code != 2 {
		t.Fatalf("ingest: exit %d, want 2 (one record rejected): %s", code, errs)
	}
	if !strings.Contains(errs, "uploaded to s3://lake/prod/") {
		t.Errorf("summary does not say where the lake is: %s", errs)
	}
	// The layout in the bucket is the lake's: partitions, dead letters, one manifest part per batch.
	parts, data, rejected := s.lakeKeys(t, "_manifest/"), s.lakeKeys(t, "type="), s.lakeKeys(t, "_rejected/")
	if len(parts) != 1 || len(data) == 0 || len(rejected) != 1 {
		t.Fatalf("bucket: parts %v, %d data files, dead letters %v", parts, len(data), rejected)
	}
	for _, k := range data {
		if !strings.HasPrefix(k, "type=") || !strings.Contains(k, "/date=") || !strings.Contains(k, "/hour=") || !strings.HasSuffix(k, ".parquet") {
			t.Errorf("key %s does not follow the layout", k)
		}
	}

	// Another machine: a fresh cache sees the same events, and the dead letter.
	by, rows, distinct := s.counts(t, t.TempDir())
	if d := diffCounts(by, s.want); d != "" {
		t.Errorf("from a fresh cache:\n%s", d)
	}
	if rows != distinct {
		t.Errorf("%d rows, %d distinct ids", rows, distinct)
	}
	fresh := t.TempDir()
	code, out, errs := runCmd(t, "", s.args(fresh, "query", "--format", "csv", "SELECT count(*) FROM rejected")...)
	if code != 0 || strings.TrimSpace(out) == "count_star()\n0" {
		t.Errorf("rejected from a fresh cache: exit %d, %q %s", code, out, errs)
	}
	code, out, errs = runCmd(t, "", s.args(fresh, "lake stats")...)
	if code != 0 || !strings.Contains(out, "cloudtrail") || !strings.Contains(out, "vpcflow") {
		t.Errorf("lake stats from a fresh cache: exit %d\n%s%s", code, out, errs)
	}

	code, _, errs = runCmd(t, "", s.args(t.TempDir(), "hunt", "--since", "1000d", "--format", "ndjson")...)
	if code != 0 || !regexp.MustCompile(`^[1-9]\d* events of [1-9] types`).MatchString(errs) {
		t.Errorf("hunt from a fresh cache: exit %d: %s", code, errs)
	}

	// Ingesting again, from the writer's cache or a fresh one, adds nothing and uploads nothing.
	for _, cache := range []string{writer, t.TempDir()} {
		s.proxy.Puts()
		code, _, errs = runCmd(t, "", s.args(cache, "ingest", "--no-detect", "s3://org-logs/AWSLogs/")...)
		if code != 0 || !strings.Contains(errs, fmt.Sprintf("0 objects ingested (%d already in the lake, skipped)", len(s.objs)+1)) {
			t.Errorf("re-ingest: exit %d: %s", code, errs)
		}
		if puts := s.proxy.Puts(); len(puts) != 0 {
			t.Errorf("re-ingest uploaded %v", puts)
		}
	}
	if _, rows2, _ := s.counts(t, t.TempDir()); rows2 != rows {
		t.Errorf("after re-ingesting: %d rows, was %d", rows2, rows)
	}

	// Compaction on the lake on S3, after --force put every event in twice: one file per partition,
	// each event once, the replaced keys deleted from the bucket.
	code, _, errs = runCmd(t, "", s.args(t.TempDir(), "ingest", "--no-detect", "--force", "s3://org-logs/AWSLogs/")...)
	if _, rows2, _ := s.counts(t, writer); code != 2 || rows2 != 2*rows {
		t.Fatalf("ingest --force: exit %d, %d rows, want %d: %s", code, rows2, 2*rows, errs)
	}
	code, out, errs = runCmd(t, "", s.args(writer, "lake compact")...)
	if code != 0 {
		t.Fatalf("compact: exit %d\n%s%s", code, out, errs)
	}
	t.Logf("compact: %s", out)
	perPartition := map[string]int{}
	for _, k := range s.lakeKeys(t, "type=") {
		perPartition[k[:strings.LastIndexByte(k, '/')]]++
	}
	for p, n := range perPartition {
		if n != 1 {
			t.Errorf("%s has %d files in the bucket after compaction, want 1", p, n)
		}
	}
	if by, rows2, _ := s.counts(t, writer); rows2 != rows || diffCounts(by, s.want) != "" {
		t.Errorf("after compaction: %d rows, want %d", rows2, rows)
	}
	if by, rows2, _ := s.counts(t, t.TempDir()); rows2 != rows || diffCounts(by, s.want) != "" {
		t.Errorf("after compaction, from a fresh cache: %d rows, want %d", rows2, rows)
	}

	// Retention from a fresh cache, which has none of the days: the bucket says which there are.
	code, out, errs = runCmd(t, "", s.args(t.TempDir(), "lake prune", "--older-than", "30d", "--dry-run")...)
	if code != 0 || !strings.Contains(out, "would delete 5 partitions (days)") || len(s.lakeKeys(t, "type=")) == 0 {
		t.Fatalf("prune --dry-run: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = runCmd(t, "", s.args(t.TempDir(), "lake prune", "--older-than", "30d")...)
	if code != 0 || !strings.Contains(out, "deleted 5 partitions (days)") {
		t.Fatalf("prune: exit %d\n%s%s", code, out, errs)
	}
	if keys := s.lakeKeys(t, "type="); len(keys) != 0 {
		t.Errorf("after prune the bucket has %v", keys)
	}
	if by, _, _ := s.counts(t, writer); len(by) != 0 {
		t.Errorf("after prune, the writer's cache still shows %v", by)
	}
}

// A batch whose manifest part cannot be uploaded is not acknowledged: the error names the key, the
// next run publishes it, and nothing is lost or doubled.
func TestLakeOnS3UploadFails(t *testing.T) {
	s := startS3Lake(t)
	cache := t.TempDir()
	s.proxy.DenyPut(func(key string) bool { return strings.Contains(key, "/_manifest/") })
	code, _, errs := runCmd(t, "", s.args(cache, "ingest", "--no-detect", "s3://org-logs/AWSLogs/")...)
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, errs)
	}
	for _, w := range []string{"uploading s3://lake/prod/_manifest/", ".ndjson: access denied", "s3:PutObject", "the next run publishes it"} {
		if !strings.Contains(errs, w) {
			t.Errorf("stderr lacks %q: %s", w, errs)
		}
	}
	if by, _, _ := s.counts(t, t.TempDir()); len(by) != 0 {
		t.Errorf("a batch without its part is visible: %v", by)
	}
	s.proxy.Clear()
	code, _, errs = runCmd(t, "", s.args(cache, "ingest", "--no-detect", "s3://org-logs/AWSLogs/")...)
	if code != 0 || !strings.Contains(errs, fmt.Sprintf("0 objects ingested (%d already in the lake, skipped)", len(s.objs))) {
		t.Errorf("second run: exit %d: %s", code, errs)
	}
	by, rows, distinct := s.counts(t, t.TempDir())
	if d := diffCounts(by, s.want); d != "" || rows != distinct {
		t.Errorf("after the second run (%d rows, %d distinct):\n%s", rows, distinct, d)
	}
}

// TestLakeOnS3Kill kills `ramen ingest` (SIGKILL) as it uploads a batch's manifest part, after the
// batch is committed in the cache and its files are in the store: the next run finishes the
// publication, with nothing lost or doubled, and a fresh cache never sees the half-published batch.
func TestLakeOnS3Kill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildRamen(t)
	s := startS3Lake(t)
	cache := t.TempDir()
	cmd := exec.Command(bin, s.args(cache, "ingest", "-q", "--no-detect", "s3://org-logs/AWSLogs/")...)
	cmd.Env = append(os.Environ(), "CI=true")
	var once sync.Once
	killed := make(chan struct{})
	s.proxy.DenyPut(func(key string) bool { return strings.Contains(key, "/_manifest/") })
	s.proxy.OnPut(func(key string) {
		if strings.Contains(key, "/_manifest/") {
			once.Do(func() { close(killed); cmd.Process.Kill() }) // closed first: Wait returns as soon as the kill lands
		}
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	select {
	case <-killed:
	default:
		t.Fatalf("the run ended (%v) without uploading a manifest part", err)
	}
	s.proxy.Clear()
	if n := len(s.lakeKeys(t, "type=")); n == 0 {
		t.Fatal("no file uploaded before the part")
	}
	if by, _, _ := s.counts(t, t.TempDir()); len(by) != 0 {
		t.Errorf("files without their part are visible: %v", by)
	}
	// The cache has the batch committed: the next run publishes it and ingests nothing again.
	out, err := exec.Command(bin, s.args(cache, "ingest", "--no-detect", "s3://org-logs/AWSLogs/")...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), fmt.Sprintf("0 objects ingested (%d already in the lake, skipped)", len(s.objs))) {
		t.Fatalf("run after the kill: %v: %s", err, out)
	}
	by, rows, distinct := s.counts(t, t.TempDir())
	if d := diffCounts(by, s.want); d != "" || rows != distinct {
		t.Errorf("after the kill and a run (%d rows, %d distinct):\n%s", rows, distinct, d)
	}
	if parts := s.lakeKeys(t, "_manifest/"); len(parts) != 1 {
		t.Errorf("manifest parts %v, want the one batch", parts)
	}
}

// The S3 locations are listed ahead when progress is drawn, so that it has a total; the run then
// uses that listing instead of listing again.
func TestIngestS3ProgressTotal(t *testing.T) {
	s := startS3Lake(t)
	c, err := s3.New(context.Background(), s3.Options{Endpoint: s.proxy.URL})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := s3.ParseURL("s3://org-logs/AWSLogs/")
	srcs := []source{{s3: &u}}
	var drawn strings.Builder
	total, err := prelist(context.Background(), c, srcs, &lockedWriter{w: &drawn})
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	for _, b := range s.objs {
		want += int64(len(b))
	}
	if total != want {
		t.Errorf("listed %s, want %s", progress.Bytes(total), progress.Bytes(want))
	}
	n := 0
	for _, p := range srcs[0].listed {
		n += len(p)
	}
	if n != len(s.objs) {
		t.Errorf("kept %d objects of the listing, want %d", n, len(s.objs))
	}
	if n, ok := objectsTotal(srcs); !ok || n != len(s.objs) {
		t.Errorf("objects total %d, %v; want %d", n, ok, len(s.objs))
	}
	lists := s.proxy.Lists()
	data := t.TempDir()
	l, err := lake.Open(lakeDir(data), lake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	opt := ingestOptions{s3: c, spool: filepath.Join(data, "spool"), downloads: 2}
	os.MkdirAll(opt.spool, 0o755)
	st, err := ingestSources(context.Background(), l, srcs, total, opt)
	if err != nil || st.objects != len(s.objs) {
		t.Fatalf("ingest from the kept listing: %d objects, %v", st.objects, err)
	}
	if s.proxy.Lists() != lists {
		t.Error("the run listed the location again")
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestLakeOnS3SurvivesKill kills `ramen ingest` into a lake on S3 at random moments, again and again
// (during parsing, local commits, uploads of files and of manifest parts), and checks after each kill
// that a fresh cache sees no event twice, and that the run after the last kill, on the same cache,
// ends with every event exactly once.
func TestLakeOnS3SurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it many times")
	}
	bin := buildRamen(t)
	s := startS3Lake(t)
	corpus, cache := t.TempDir(), t.TempDir()
	total := writeCorpus(t, corpus, 12, 3000)
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 11))
	fresh := func() (rows, distinct int) {
		code, out, errs := runCmd(t, "", s.args(t.TempDir(), "query", "--format", "csv", "SELECT count(*), count(DISTINCT _id) FROM cloudtrail")...)
		if code == 1 && strings.Contains(errs, "does not exist") {
			return 0, 0
		}
		if code != 0 {
			t.Fatalf("query from a fresh cache: exit %d: %s", code, errs)
		}
		fmt.Sscanf(strings.Split(strings.TrimSpace(out), "\n")[1], "%d,%d", &rows, &distinct)
		return rows, distinct
	}
	// A whole run into a local lake: the runs into S3 take longer (uploads), so a kill within this
	// lands while they work.
	full := timed(t, exec.Command(bin, "ingest", "-q", "--no-detect", "--batch-mb", "2", "--data", t.TempDir(), corpus))
	kills := 0
	for i := 0; i < 6; i++ {
		if runOrKill(t, exec.Command(bin, s.args(cache, "ingest", "-q", "--no-detect", "--batch-mb", "2", corpus)...), killAfter(i, full, rng)) {
			kills++
		}
		if rows, distinct := fresh(); rows != distinct || rows > total {
			t.Fatalf("after kill %d: %d rows, %d distinct ids (of %d events)", i, rows, distinct, total)
		}
	}
	out, err := exec.Command(bin, s.args(cache, "ingest", "--no-detect", corpus)...).CombinedOutput()
	if err != nil {
		t.Fatalf("final ingest: %v\n%s", err, out)
	}
	t.Logf("%d kills (a whole local run takes %s); final run: %s", kills, full, strings.TrimSpace(string(out)))
	if kills == 0 {
		t.Errorf("no run was killed: the test saw no crash")
	}
	if rows, distinct := fresh(); rows != total || distinct != total {
		t.Fatalf("final lake: %d rows, %d distinct, want %d", rows, distinct, total)
	}
	out, _ = exec.Command(bin, s.args(t.TempDir(), "ingest", "--no-detect", corpus)...).CombinedOutput()
	if !strings.Contains(string(out), "0 objects ingested (12 already in the lake") {
		t.Errorf("re-ingest from a fresh cache: %s", out)
	}
}

// Where a lake on S3 is cached: one directory per endpoint, bucket and prefix, or --cache; a local
// lake has no cache, and saying --cache with one is a mistake worth an error.
func TestDataFlagsCache(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/home/u/.cache") // Linux; elsewhere the system's own
	base, err := os.UserCacheDir()
	if err != nil {
		t.Skip(err)
	}
	for _, tc := range []struct {
		args []string
		dir  string
		err  string
	}{
		{[]string{"--data", "/srv/ramen"}, "/srv/ramen", ""},
		{[]string{"--data", "s3://sec-lake/prod/"}, filepath.Join(base, "ramen/s3/aws/sec-lake/prod"), ""},
		{[]string{"--data", "s3://sec-lake"}, filepath.Join(base, "ramen/s3/aws/sec-lake/_root"), ""},
		{[]string{"--data", "s3://sec-lake/a/b", "--endpoint", "http://127.0.0.1:9000"}, filepath.Join(base, "ramen/s3/127.0.0.1_9000/sec-lake/a/b"), ""},
		{[]string{"--data", "s3://sec-lake/prod", "--cache", "/var/cache/lake"}, "/var/cache/lake", ""},
		{[]string{"--data", "/srv/ramen", "--cache", "/var/cache/lake"}, "", "only a lake on S3"},
		{[]string{"--data", "s3://"}, "", "no bucket name"},
		{[]string{"--data", "s3://sec-lake/../../../etc"}, "", `".." segments`},
		{[]string{"--data", "s3://../x"}, "", `".." segments`},
		{[]string{"--data", "s3://sec-lake/a//b"}, "", "empty"},
	} {
		fs := newFlags("test", "", io.Discard)
		df := addDataFlags(fs, nil, nil)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		dir, err := df.dir()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: %q, %v; want an error saying %q", tc.args, dir, err, tc.err)
			}
			continue
		}
		if err != nil || dir != tc.dir {
			t.Errorf("%v: %q, %v; want %s", tc.args, dir, err, tc.dir)
		}
	}
}
