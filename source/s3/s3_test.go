package s3_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ramen-siem/ramen/source/s3"
	"github.com/ramen-siem/ramen/source/s3/s3test"
)

func TestParseURL(t *testing.T) {
	for _, c := range []struct {
		in, bucket, prefix, err string
	}{
		{"s3://logs", "logs", "", ""},
		{"s3://logs/", "logs", "", ""},
		{"s3://logs/AWSLogs/123456789012/", "logs", "AWSLogs/123456789012/", ""},
		{"s3://my.bucket-1/a b/c", "my.bucket-1", "a b/c", ""},
		{"s3://", "", "", "no bucket name"},
		{"s3:///AWSLogs", "", "", "no bucket name"},
		{"s3://bad bucket/x", "", "", `has the character ' '`},
		{"/var/log", "", "", "not an s3:// URL"},
	} {
		u, err := s3.ParseURL(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseURL(%q) = %v, want error containing %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || u.Bucket != c.bucket || u.Prefix != c.prefix {
			t.Errorf("ParseURL(%q) = %+v, %v; want bucket %q prefix %q", c.in, u, err, c.bucket, c.prefix)
		}
	}
	a, _ := s3.ParseURL("s3://b/AWSLogs/")
	b, _ := s3.ParseURL("s3://b/AWSLogs/1/")
	c, _ := s3.ParseURL("s3://c/AWSLogs/1/")
	if !a.Contains(b) || b.Contains(a) || a.Contains(c) {
		t.Error("Contains: a prefix holds the longer prefixes of its own bucket only")
	}
}

func TestNeedsRegionForAWS(t *testing.T) {
	s3test.SetEnv(t)
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	_, err := s3.New(context.Background(), s3.Options{})
	if err == nil || !strings.Contains(err.Error(), "--region") {
		t.Fatalf("New without a region = %v, want an error that says to give --region", err)
	}
	c, err := s3.New(context.Background(), s3.Options{Endpoint: "http://127.0.0.1:9"})
	if err != nil || c.Region() != "us-east-1" {
		t.Fatalf("with an endpoint and no region: %v, region %q; want us-east-1", err, c.Region())
	}
	if _, err := s3.New(context.Background(), s3.Options{Endpoint: "127.0.0.1:9000"}); err == nil {
		t.Error("an endpoint without a scheme must be refused")
	}
}

// setup starts MinIO with a proxy in front and returns a client of the proxy.
func setup(t *testing.T, opt s3.Options) (*s3test.Server, *s3test.Proxy, *s3.Client) {
	t.Helper()
	srv := s3test.Start(t)
	p := srv.Proxy(t)
	s3test.SetEnv(t)
	opt.Endpoint = p.URL
	c, err := s3.New(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	return srv, p, c
}

func TestListIsPagedInKeyOrder(t *testing.T) {
	srv, p, c := setup(t, s3.Options{PageSize: 7})
	srv.CreateBucket(t, "logs")
	var want []string
	for i := 0; i < 30; i++ {
		k := fmt.Sprintf("AWSLogs/123456789012/CloudTrail/us-east-1/2026/03/%02d/f%02d.json.gz", 1+i%3, i)
		srv.Put(t, "logs", k, []byte("x"))
	}
	srv.Put(t, "logs", "AWSLogs/123456789012/CloudTrail/", nil) // a console folder marker
	srv.Put(t, "logs", "other/f.json", []byte("y"))
	for d := 1; d <= 3; d++ {
		for i := 0; i < 30; i++ {
			if 1+i%3 == d {
				want = append(want, fmt.Sprintf("AWSLogs/123456789012/CloudTrail/us-east-1/2026/03/%02d/f%02d.json.gz", d, i))
			}
		}
	}
	var got []string
	pages := 0
	err := c.List(context.Background(), s3.URL{Bucket: "logs", Prefix: "AWSLogs/"}, func(page []s3.Object) error {
		pages++
		if len(page) > 7 {
			t.Errorf("page of %d objects, asked for 7", len(page))
		}
		for _, o := range page {
			if o.Size != 1 || o.ETag == "" || strings.Contains(o.ETag, `"`) || o.LastModified.IsZero() {
				t.Errorf("object %+v: want size 1, an unquoted ETag, a time", o)
			}
			if o.Name() != "s3://logs/"+o.Key {
				t.Errorf("Name() = %q", o.Name())
			}
			got = append(got, o.Key)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("listed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if pages < 5 || p.Lists() < 5 {
		t.Errorf("%d pages in %d requests: 30 keys (+1 marker) in pages of 7 take 5", pages, p.Lists())
	}
	// An error from fn stops the listing there.
	stop := errors.New("stop")
	calls := 0
	err = c.List(context.Background(), s3.URL{Bucket: "logs"}, func([]s3.Object) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Errorf("List after fn failed: %v after %d calls, want stop after 1", err, calls)
	}
}

func readAll(t *testing.T, c *s3.Client, o s3.Object) ([]byte, error) {
	t.Helper()
	rc, err := c.Open(context.Background(), o)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func listOne(t *testing.T, c *s3.Client, bucket, key string) s3.Object {
	t.Helper()
	var out []s3.Object
	if err := c.List(context.Background(), s3.URL{Bucket: bucket, Prefix: key}, func(p []s3.Object) error { out = append(out, p...); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 {
		t.Fatalf("listing %s: %d objects", key, len(out))
	}
	return out[0]
}

func TestOpenResumesACutBody(t *testing.T) {
	srv, p, c := setup(t, s3.Options{})
	srv.CreateBucket(t, "logs")
	data := make([]byte, 300_000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.IntN(256))
	}
	srv.Put(t, "logs", "big.gz", data)
	o := listOne(t, c, "logs", "big.gz")

	p.CutBody("big.gz", 50_000, 2) // two cuts, then the third request reads to the end
	got, err := readAll(t, c, o)
	if err != nil {
		t.Fatalf("two cuts must be resumed: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("resumed body differs from the object (%d bytes read, want %d)", len(got), len(data))
	}
	if n := p.Gets(); n != 3 {
		t.Errorf("%d GETs, want 3 (the first and two ranged resumes)", n)
	}

	p.CutBody("big.gz", 10_000, -1) // every request cut: 4 requests give 40 kB of 300 kB
	_, err = readAll(t, c, o)
	var se *s3.Error
	if !errors.As(err, &se) || se.Op != "read" || se.Name != "s3://logs/big.gz" || !strings.Contains(err.Error(), "cut at byte 40000 of 300000 (after 3 resumes)") {
		t.Fatalf("a body cut again and again: got %v, want a read error naming the object and the byte", err)
	}
}

func TestOpenErrorsNameTheObject(t *testing.T) {
	srv, p, c := setup(t, s3.Options{})
	srv.CreateBucket(t, "logs")
	for _, k := range []string{"gone", "denied", "replaced"} {
		srv.Put(t, "logs", k, []byte("content of "+k))
	}
	gone, denied, replaced := listOne(t, c, "logs", "gone"), listOne(t, c, "logs", "denied"), listOne(t, c, "logs", "replaced")
	srv.Delete(t, "logs", "gone")
	p.Deny("denied")
	srv.Put(t, "logs", "replaced", []byte("new content, another ETag"))

	for _, tc := range []struct {
		o    s3.Object
		is   error
		says string
	}{
		{gone, s3.ErrNotFound, "deleted after it was listed"},
		{denied, s3.ErrAccessDenied, "lack s3:GetObject"},
		{replaced, s3.ErrChanged, "it was replaced"},
	} {
		_, err := readAll(t, c, tc.o)
		if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), "get "+tc.o.Name()+": ") || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: got %v; want %v, naming the object, saying %q", tc.o.Key, err, tc.is, tc.says)
		}
	}

	err := c.List(context.Background(), s3.URL{Bucket: "no-such-bucket"}, func([]s3.Object) error { return nil })
	if !errors.Is(err, s3.ErrNotFound) || !strings.Contains(err.Error(), "list s3://no-such-bucket/: not found: no such bucket") {
		t.Errorf("listing a missing bucket: %v", err)
	}
}

func TestWrongCredentials(t *testing.T) {
	srv, _, _ := setup(t, s3.Options{})
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
	c, err := s3.New(context.Background(), s3.Options{Endpoint: srv.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	err = c.List(context.Background(), s3.URL{Bucket: "logs"}, func([]s3.Object) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "refused the credentials") || strings.Contains(err.Error(), "not-the-secret") {
		t.Errorf("wrong secret: %v; want a hint about credentials and never the secret", err)
	}
}

func TestNoCredentials(t *testing.T) {
	s3test.SetEnv(t) // also keeps the SDK away from instance metadata
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	c, err := s3.New(context.Background(), s3.Options{Endpoint: "http://127.0.0.1:9"})
	if err != nil {
		t.Fatal(err)
	}
	err = c.List(context.Background(), s3.URL{Bucket: "logs"}, func([]s3.Object) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "list s3://logs/: no AWS credentials found: set AWS_PROFILE") {
		t.Errorf("no credentials: %v", err)
	}
}
