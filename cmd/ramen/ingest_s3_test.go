package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ramen-siem/ramen/lake"
	"github.com/ramen-siem/ramen/source/s3/s3test"
)

func gz(t testing.TB, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// awsLogs makes the objects an organization's log bucket holds: CloudTrail, VPC flow and ALB logs of
// several accounts and regions under AWSLogs/, with the keys AWS gives them. It returns the objects
// and the events each (type, account, region) has.
func awsLogs(t testing.TB, accounts, regions []string) (map[string][]byte, map[string]int) {
	t.Helper()
	objs, want := map[string][]byte{}, map[string]int{}
	seq := 0
	for ai, acct := range accounts {
		for ri, region := range regions {
			day := fmt.Sprintf("2026/03/%02d", 1+ri)
			// CloudTrail: two files; enough distinct records that a file is a few kB compressed.
			for f := 0; f < 2; f++ {
				n := 20 + 5*ai + f
				var b strings.Builder
				b.WriteString(`{"Records":[`)
				for i := 0; i < n; i++ {
					seq++
					if i > 0 {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, `{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDA%08d","arn":"arn:aws:iam::%s:user/u%d","accountId":"%s","userName":"u%d"},"eventTime":"2026-03-%02dT%02d:%02d:%02dZ","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","awsRegion":"%s","sourceIPAddress":"198.51.100.%d","userAgent":"aws-cli/2.15.%d","requestID":"req-%08x","eventID":"ev-%08x-%d","readOnly":true,"eventType":"AwsApiCall","recipientAccountId":"%s"}`,
						seq, acct, i, acct, i, 1+ri, i%24, i%60, seq%60, region, seq%250, seq%97, seq*7919, seq, i, acct)
				}
				b.WriteString(`]}`)
				key := fmt.Sprintf("AWSLogs/%s/CloudTrail/%s/%s/%s_CloudTrail_%s_2026030%dT%02d00Z_Ab%dCd%d.json.gz", acct, region, day, acct, region, 1+ri, f, ai, f)
				objs[key] = gz(t, b.String())
				want["cloudtrail/"+acct+"/"+region] += n
			}
			// VPC flow logs, as delivered to S3: a header line, then default-format records.
			var v strings.Builder
			v.WriteString("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n")
			n := 7 + ai + ri
			for i := 0; i < n; i++ {
				fmt.Fprintf(&v, "2 %s eni-0a1b2c3d4e5f6%04d 10.%d.1.%d 198.51.100.%d %d 443 6 %d %d %d %d ACCEPT OK\n",
					acct, i, ai, i, ri, 40000+i, 3+i, 500+i, 1772323200+i, 1772323260+i)
			}
			key := fmt.Sprintf("AWSLogs/%s/vpcflowlogs/%s/%s/%s_vpcflowlogs_%s_fl-0123456789abcdef0_2026030%dT0000Z_1a2b3c4d.log.gz", acct, region, day, acct, region, 1+ri)
			objs[key] = gz(t, v.String())
			want["vpcflow/"+acct+"/"+region] += n
			// ALB access logs: the records name neither account nor region; the key does.
			var e strings.Builder
			n = 3 + ri
			for i := 0; i < n; i++ {
				fmt.Fprintf(&e, `https 2026-03-0%dT09:15:%02d.418523Z app/web/8f3a1c9e2b7d4a60 203.0.113.%d:51234 10.20.1.17:8080 0.001 0.012 0.000 200 200 412 5120 "GET https://shop.example.org:443/items?page=%d HTTP/1.1" "curl/8.5.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:%s:%s:targetgroup/web/5d2e8f1a3b4c6d7e "Root=1-65eecb36-0a1b2c3d4e5f6071829%05d" "shop.example.org" "-" 1 2026-03-0%dT09:15:02.405000Z "forward" "-" "-" "10.20.1.17:8080" "200" "-" "-" TID_4f2c9a7e1b3d5f60`+"\n",
					1+ri, i, i, i, region, acct, i, 1+ri)
			}
			key = fmt.Sprintf("AWSLogs/%s/elasticloadbalancing/%s/%s/%s_elasticloadbalancing_%s_app.web.8f3a1c9e2b7d4a60_2026030%dT0915Z_10.20.0.4_3kf9x2lq.log.gz", acct, region, day, acct, region, 1+ri)
			objs[key] = gz(t, e.String())
			want["elb/"+acct+"/"+region] += n
		}
	}
	return objs, want
}

// lakeCounts returns the lake's events by "type/account/region", and its rows and distinct ids.
func lakeCounts(t *testing.T, data string) (by map[string]int, rows, distinct int) {
	t.Helper()
	by = map[string]int{}
	l, err := lake.Open(lakeDir(data), lake.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r, err := l.Query(context.Background(), `SELECT type, cloud.account.id, cloud.region, count(*), count(DISTINCT _id) FROM events GROUP BY ALL`, lake.QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for r.Next() {
		var typ, acct, region string
		var n, d int
		if err := r.Scan(&typ, &acct, &region, &n, &d); err != nil {
			t.Fatal(err)
		}
		by[typ+"/"+acct+"/"+region] += n
		rows += n
		distinct += d
	}
	return by, rows, distinct
}

func rejectedObjects(t *testing.T, data string) map[string]string {
	t.Helper()
	l, err := lake.Open(lakeDir(data), lake.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r, err := l.Query(context.Background(), `SELECT object, error FROM rejected WHERE reason = 'object'`, lake.QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out := map[string]string{}
	for r.Next() {
		var o, e string
		if err := r.Scan(&o, &e); err != nil {
			t.Fatal(err)
		}
		out[o] = e
	}
	return out
}

func diffCounts(got, want map[string]int) string {
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var d []string
	for _, k := range keys {
		if got[k] != want[k] {
			d = append(d, fmt.Sprintf("%s: %d events, want %d", k, got[k], want[k]))
		}
	}
	return strings.Join(d, "\n")
}

// TestIngestS3 ingests a multi-account, multi-region AWSLogs/ tree from a real S3-compatible server
// through the command, with one object deleted after listing, one denied and one whose body is cut
// every time; then resumes, then re-runs.
func TestIngestS3(t *testing.T) {
	srv := s3test.Start(t)
	proxy := srv.Proxy(t)
	s3test.SetEnv(t)
	srv.CreateBucket(t, "org-logs")
	objs, want := awsLogs(t, []string{"111111111111", "222222222222", "333333333333"}, []string{"us-east-1", "eu-west-1"})
	for k, b := range objs {
		srv.Put(t, "org-logs", k, b)
	}
	srv.Put(t, "org-logs", "other/not-under-the-prefix.json", []byte(goodRecord))
	// A local file in the same run, next to the bucket.
	local := t.TempDir()
	os.WriteFile(filepath.Join(local, "trail.json"), []byte(`{"Records":[`+goodRecord+`]}`), 0o644)
	want["cloudtrail/210987654321/us-east-1"]++

	const (
		gone   = "AWSLogs/111111111111/CloudTrail/us-east-1/2026/03/01/111111111111_CloudTrail_us-east-1_20260301T0000Z_Ab0Cd0.json.gz"
		denied = "AWSLogs/222222222222/vpcflowlogs/eu-west-1/2026/03/02/222222222222_vpcflowlogs_eu-west-1_fl-0123456789abcdef0_20260302T0000Z_1a2b3c4d.log.gz"
		cut    = "AWSLogs/333333333333/CloudTrail/eu-west-1/2026/03/02/333333333333_CloudTrail_eu-west-1_20260302T0100Z_Ab2Cd1.json.gz"
	)
	for _, k := range []string{gone, denied, cut} {
		if objs[k] == nil {
			t.Fatalf("no object %s in the tree", k)
		}
	}
	proxy.AfterList(func() { srv.Delete(t, "org-logs", gone) })
	proxy.Deny(denied)
	proxy.CutBody(cut, len(objs[cut])/8, -1) // every request cut: four requests read half of it
	wantAfterFaults := map[string]int{}
	for k, v := range want {
		wantAfterFaults[k] = v
	}
	wantAfterFaults["cloudtrail/111111111111/us-east-1"] -= 20
	wantAfterFaults["vpcflow/222222222222/eu-west-1"] -= 7 + 1 + 1
	wantAfterFaults["cloudtrail/333333333333/eu-west-1"] -= 20 + 10 + 1

	data := t.TempDir()
	args := []string{"ingest", "--data", data, "--endpoint", proxy.URL, "--downloads", "3", "s3://org-logs/AWSLogs/", local}
	start := time.Now()
	code, _, errs := runCmd(t, "", args...)
	t.Logf("first run (%v): %s", time.Since(start).Round(time.Millisecond), errs)
	if code != 2 {
		t.Fatalf("exit %d, want 2 (three objects could not be read)\n%s", code, errs)
	}
	nObjects := len(objs) + 1
	for _, w := range []string{
		fmt.Sprintf("%d objects ingested (0 already in the lake, skipped)", nObjects-3),
		"3 rejected (object: 3)",
		"3 objects could not be read and are not marked ingested: run again to retry them",
		"rejected: s3://org-logs/" + gone + ": at byte offset 0: object: get: not found",
		"deleted after it was listed",
		"rejected: s3://org-logs/" + denied + ": at byte offset 0: object: get: access denied",
		"lack s3:GetObject",
		"rejected: s3://org-logs/" + cut + ": at byte offset 0: object: read: cut at byte",
	} {
		if !strings.Contains(errs, w) {
			t.Errorf("stderr lacks %q", w)
		}
	}
	by, rows, distinct := lakeCounts(t, data)
	if d := diffCounts(by, wantAfterFaults); d != "" {
		t.Errorf("after the first run:\n%s", d)
	}
	if rows != distinct {
		t.Errorf("%d rows, %d distinct ids", rows, distinct)
	}
	rej := rejectedObjects(t, data)
	for _, k := range []string{gone, denied, cut} {
		if rej["s3://org-logs/"+k] == "" {
			t.Errorf("no dead letter for s3://org-logs/%s (have %v)", k, rej)
		}
	}
	if !regexp.MustCompile(`^read: cut at byte \d+ of \d+ \(after 3 resumes\)`).MatchString(rej["s3://org-logs/"+cut]) {
		t.Errorf("dead letter of the cut object: %q", rej["s3://org-logs/"+cut])
	}

	// The faults are gone: the run resumes, downloading only what it missed (the deleted object is
	// no longer listed), and adds each event once.
	proxy.Clear()
	proxy.Gets()
	code, _, errs = runCmd(t, "", args...)
	if code != 0 {
		t.Fatalf("second run: exit %d\n%s", code, errs)
	}
	if !strings.Contains(errs, fmt.Sprintf("2 objects ingested (%d already in the lake, skipped)", nObjects-3)) {
		t.Errorf("second run: %s", errs)
	}
	if n := proxy.Gets(); n != 2 {
		t.Errorf("second run downloaded %d objects, want 2 (the denied one and the cut one)", n)
	}
	want["cloudtrail/111111111111/us-east-1"] -= 20 // deleted for good
	by, rows, distinct = lakeCounts(t, data)
	if d := diffCounts(by, want); d != "" {
		t.Errorf("after resuming:\n%s", d)
	}
	if rows != distinct {
		t.Errorf("after resuming: %d rows, %d distinct ids", rows, distinct)
	}

	// Everything is in: a third run lists, downloads nothing and adds nothing.
	code, _, errs = runCmd(t, "", args...)
	if code != 0 || !strings.Contains(errs, fmt.Sprintf("0 objects ingested (%d already in the lake, skipped)", nObjects-1)) {
		t.Errorf("third run: exit %d: %s", code, errs)
	}
	if n := proxy.Gets(); n != 0 {
		t.Errorf("third run downloaded %d objects, want none", n)
	}
	if _, rows2, _ := lakeCounts(t, data); rows2 != rows {
		t.Errorf("third run: %d rows, was %d", rows2, rows)
	}
	if ents, _ := os.ReadDir(filepath.Join(data, "spool")); len(ents) != 0 {
		t.Errorf("spool directory left behind with %d files", len(ents))
	}
}

func TestIngestS3Errors(t *testing.T) {
	srv := s3test.Start(t)
	s3test.SetEnv(t)
	srv.CreateBucket(t, "logs")
	data := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"s3://no-such-bucket/AWSLogs/"}, 1, "list s3://no-such-bucket/AWSLogs/: not found: no such bucket"},
		{[]string{"s3://"}, 1, "no bucket name"},
		{[]string{"--endpoint", "localhost:9000", "s3://logs/"}, 1, "want a URL such as"},
		{[]string{"s3://logs/", filepath.Join(data, "missing")}, 1, "no such file"},
		{[]string{"s3://logs/"}, 0, "0 objects ingested"},
	} {
		args := append([]string{"ingest", "--data", data}, tc.args...)
		if !strings.HasPrefix(tc.args[0], "--endpoint") {
			args = append(args, "--endpoint", srv.Endpoint)
		}
		code, _, errs := runCmd(t, "", args...)
		if code != tc.code || !strings.Contains(errs, tc.says) {
			t.Errorf("ingest %v: exit %d, %s; want exit %d saying %q", tc.args, code, errs, tc.code, tc.says)
		}
	}
}

// BenchmarkIngestS3 ingests a 10-account, 4-region AWSLogs tree (160 objects) from MinIO on the
// loopback: the cost of listing, downloading, spooling and parsing without network latency (on AWS,
// --downloads is there to hide each GET's tens of milliseconds).
func BenchmarkIngestS3(b *testing.B) {
	srv := s3test.Start(b)
	s3test.SetEnv(b)
	srv.CreateBucket(b, "bench")
	var accounts []string
	for i := 1; i <= 10; i++ {
		accounts = append(accounts, fmt.Sprintf("%012d", i*111111111))
	}
	objs, want := awsLogs(b, accounts, []string{"us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"})
	var size int64
	for k, data := range objs {
		srv.Put(b, "bench", k, data)
		size += int64(len(data))
	}
	events := 0
	for _, n := range want {
		events += n
	}
	// The same tree from a local directory: the part of the time that is not S3's.
	local := b.TempDir()
	for k, data := range objs {
		p := filepath.Join(local, filepath.FromSlash(k))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, data, 0o644)
	}
	b.Run("local", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			var errb bytes.Buffer
			if code := run(context.Background(), []string{"ingest", "-q", "--data", b.TempDir(), local}, strings.NewReader(""), io.Discard, &errb); code != 0 {
				b.Fatalf("exit %d: %s", code, errb.String())
			}
		}
		b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(float64(len(objs))*float64(b.N)/b.Elapsed().Seconds(), "objects/s")
	})
	for _, n := range []int{1, 8} {
		b.Run(fmt.Sprintf("downloads=%d", n), func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				var errb bytes.Buffer
				args := []string{"ingest", "-q", "--data", b.TempDir(), "--endpoint", srv.Endpoint, "--downloads", fmt.Sprint(n), "s3://bench/AWSLogs/"}
				if code := run(context.Background(), args, strings.NewReader(""), io.Discard, &errb); code != 0 {
					b.Fatalf("exit %d: %s", code, errb.String())
				}
			}
			b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(len(objs))*float64(b.N)/b.Elapsed().Seconds(), "objects/s")
		})
	}
	// The CloudTrail corpus of BenchmarkIngest (20 objects of 10,000 records, as AWS delivers them),
	// from S3 and from local files: objects of real size are parsed on every core either way.
	ct := b.TempDir()
	ctEvents, err := writeCloudTrailCorpus(ct, 20, 10_000, 1)
	if err != nil {
		b.Fatal(err)
	}
	filepath.WalkDir(ct, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(ct, p)
			data, _ := os.ReadFile(p)
			srv.Put(b, "bench", "corpus/"+filepath.ToSlash(rel), data)
		}
		return err
	})
	for _, src := range []string{"s3://bench/corpus/", ct} {
		name := "cloudtrail-corpus/s3"
		if !strings.HasPrefix(src, "s3://") {
			name = "cloudtrail-corpus/local"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				var errb bytes.Buffer
				args := []string{"ingest", "-q", "--no-detect", "--data", b.TempDir(), "--endpoint", srv.Endpoint, src}
				if code := run(context.Background(), args, strings.NewReader(""), io.Discard, &errb); code != 0 {
					b.Fatalf("exit %d: %s", code, errb.String())
				}
			}
			b.ReportMetric(float64(ctEvents)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
	// The same, into a lake on the same MinIO: what publishing (the uploads, the manifest part)
	// adds. Each run is a new prefix and a new cache.
	srv.CreateBucket(b, "bench-lake")
	i := 0 // a new prefix for every run, across the calls of the sub-benchmark too
	b.Run("downloads=8/lake=s3", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			i++
			var errb bytes.Buffer
			args := []string{"ingest", "-q", "--data", fmt.Sprintf("s3://bench-lake/run%d", i), "--cache", b.TempDir(), "--endpoint", srv.Endpoint, "s3://bench/AWSLogs/"}
			if code := run(context.Background(), args, strings.NewReader(""), io.Discard, &errb); code != 0 {
				b.Fatalf("exit %d: %s", code, errb.String())
			}
		}
		b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(float64(len(objs))*float64(b.N)/b.Elapsed().Seconds(), "objects/s")
	})
}
