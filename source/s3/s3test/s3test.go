// Package s3test runs a real S3-compatible server (MinIO) for tests, and a proxy in front of it that
// injects what real buckets and networks do to a reader: objects that vanish after listing, access
// denied on one object, bodies cut mid-way. Tests that use it skip, saying how to get MinIO, when the
// binary is not installed.
package s3test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// Fixed root credentials of the test server: it listens on the loopback only and lives for one test.
const (
	AccessKey = "ramen-test"
	SecretKey = "ramen-test-secret-key"
	Region    = "us-east-1"
)

// Binary finds the minio binary: $RAMEN_MINIO, then PATH, then ~/go/bin/minio. It skips the test when
// there is none.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("RAMEN_MINIO"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
		t.Fatalf("RAMEN_MINIO=%s: no such file", p)
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, "go", "bin", "minio")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("minio not found in $RAMEN_MINIO, PATH or ~/go/bin: install it with " +
		"'go install github.com/minio/minio@latest' (about 5 minutes) to run the S3 tests")
	return ""
}

// Server is a running MinIO.
type Server struct {
	Endpoint string // http://127.0.0.1:port
	Dir      string // where it keeps its data
	api      *awss3.Client
}

// Start runs MinIO on a free loopback port with a temporary directory; it is stopped when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	addr, console := freeAddr(t), freeAddr(t)
	var out bytes.Buffer
	cmd := exec.Command(bin, "server", "--quiet", "--address", addr, "--console-address", console, filepath.Join(dir, "data"))
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+AccessKey, "MINIO_ROOT_PASSWORD="+SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CI_CD=on", "MINIO_REGION="+Region)
	cmd.Stdout, cmd.Stderr = &syncWriter{w: &out}, &syncWriter{w: &out}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting minio: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	s := &Server{Endpoint: "http://" + addr, Dir: dir}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(s.Endpoint + "/minio/health/live")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("minio exited: %v\n%s", err, out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("minio not ready after 60s\n%s", out.String())
		}
	}
	s.api = NewClient(s.Endpoint)
	return s
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// NewClient is an S3 client of the test server at endpoint (the server itself or a Proxy), with the
// test credentials, for setting up buckets and objects.
func NewClient(endpoint string) *awss3.Client {
	return awss3.New(awss3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
		DisableLogOutputChecksumValidationSkipped: true,
	})
}

// SetEnv points the standard AWS configuration chain at the test credentials for the rest of the
// test, and away from the user's own files and from instance metadata.
func SetEnv(t testing.TB) {
	t.Setenv("AWS_ACCESS_KEY_ID", AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", SecretKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", Region)
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "no-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "no-credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// CreateBucket makes a bucket.
func (s *Server) CreateBucket(t testing.TB, bucket string) {
	t.Helper()
	if _, err := s.api.CreateBucket(context.Background(), &awss3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
}

// Put uploads an object.
func (s *Server) Put(t testing.TB, bucket, key string, data []byte) {
	t.Helper()
	if _, err := s.api.PutObject(context.Background(), &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)}); err != nil {
		t.Fatalf("put s3://%s/%s: %v", bucket, key, err)
	}
}

// Delete removes an object.
func (s *Server) Delete(t testing.TB, bucket, key string) {
	t.Helper()
	if _, err := s.api.DeleteObject(context.Background(), &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
		t.Errorf("delete s3://%s/%s: %v", bucket, key, err)
	}
}

// Proxy stands between a client and the server and injects faults into chosen objects' requests.
// Requests are passed on with their Host header, so that their signatures stay valid.
type Proxy struct {
	URL string

	mu        sync.Mutex
	cut       map[string]*cutRule
	deny      map[string]bool
	afterList func()
	gets      map[string]int // GETs of objects, by key
	lists     int
	denyPut   func(key string) bool
	onPut     func(key string)
	puts      []string
}

// Proxy starts a fault-injecting proxy in front of s; it is stopped when the test ends.
func (s *Server) Proxy(t testing.TB) *Proxy {
	t.Helper()
	target, _ := url.Parse(s.Endpoint)
	p := &Proxy{cut: map[string]*cutRule{}, deny: map[string]bool{}, gets: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ErrorLog = log.New(io.Discard, "", 0)
	rp.FlushInterval = -1 // send what a cut body let through before the connection is closed
	rp.ModifyResponse = func(resp *http.Response) error {
		p.mu.Lock()
		defer p.mu.Unlock()
		key, isGet := objectKey(resp.Request)
		if isGet {
			if c := p.cut[key]; c != nil && c.times != 0 && resp.StatusCode/100 == 2 {
				c.times--
				resp.Body = &cutBody{rc: resp.Body, left: c.after}
			}
		} else if resp.Request.URL.Query().Has("list-type") && p.afterList != nil {
			f := p.afterList
			p.afterList = nil
			f()
		}
		return nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, isGet := objectKey(r)
		p.mu.Lock()
		if isGet {
			p.gets[key]++
		} else if r.Method == http.MethodGet && r.URL.Query().Has("list-type") {
			p.lists++
		}
		denied := isGet && p.deny[key]
		var onPut func(string)
		if k, isPut := putKey(r); isPut {
			key, onPut = k, p.onPut
			p.puts = append(p.puts, k)
			denied = p.denyPut != nil && p.denyPut(k)
		}
		p.mu.Unlock()
		if onPut != nil {
			onPut(key)
		}
		if denied {
			w.Header().Set("Content-Type", "application/xml")
			w.Header().Set("X-Amz-Request-Id", "RAMENTEST403")
			w.WriteHeader(http.StatusForbidden)
			if r.Method == http.MethodPut {
				io.Copy(io.Discard, r.Body)
			}
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied.</Message><Key>%s</Key><RequestId>RAMENTEST403</RequestId></Error>`, key)
			return
		}
		rp.ServeHTTP(w, r)
	}), ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	p.URL = "http://" + ln.Addr().String()
	return p
}

// putKey returns the key of a path-style PutObject request.
func putKey(r *http.Request) (string, bool) {
	if r.Method != http.MethodPut {
		return "", false
	}
	_, key, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	return key, ok && key != ""
}

// objectKey returns the key of a path-style GetObject request.
func objectKey(r *http.Request) (string, bool) {
	if r.Method != http.MethodGet {
		return "", false
	}
	_, key, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	return key, ok && key != ""
}

type cutRule struct{ after, times int }

// CutBody makes the next GETs of key (times of them; all when times is negative) end, connection
// closed, after n bytes of their body.
func (p *Proxy) CutBody(key string, n, times int) {
	p.mu.Lock()
	p.cut[key] = &cutRule{after: n, times: times}
	p.mu.Unlock()
}

// Deny answers every GET of key with 403 AccessDenied, as S3 does without s3:GetObject.
func (p *Proxy) Deny(key string) {
	p.mu.Lock()
	p.deny[key] = true
	p.mu.Unlock()
}

// AfterList calls f once, after the server has answered the next list request and before the
// client sees the answer: what f deletes is listed but gone.
func (p *Proxy) AfterList(f func()) {
	p.mu.Lock()
	p.afterList = f
	p.mu.Unlock()
}

// DenyPut answers the PUTs of the keys for which match is true with 403 AccessDenied, as S3 does
// without s3:PutObject.
func (p *Proxy) DenyPut(match func(key string) bool) {
	p.mu.Lock()
	p.denyPut = match
	p.mu.Unlock()
}

// OnPut calls f with the key of every PUT, before it is passed on (or denied): a test can stop a
// writer at a chosen upload, as a crash would.
func (p *Proxy) OnPut(f func(key string)) {
	p.mu.Lock()
	p.onPut = f
	p.mu.Unlock()
}

// Puts returns the keys PUT so far, in order, and resets the list.
func (p *Proxy) Puts() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.puts
	p.puts = nil
	return out
}

// Clear removes every fault.
func (p *Proxy) Clear() {
	p.mu.Lock()
	p.cut, p.deny, p.afterList, p.denyPut, p.onPut = map[string]*cutRule{}, map[string]bool{}, nil, nil, nil
	p.mu.Unlock()
}

// Gets returns how many object GETs went through, and resets the count.
func (p *Proxy) Gets() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.gets {
		n += c
	}
	p.gets = map[string]int{}
	return n
}

// Lists returns how many list requests went through.
func (p *Proxy) Lists() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lists
}

// cutBody lets left bytes through, then fails: the reverse proxy then aborts the connection, and
// the client sees a body shorter than its Content-Length.
type cutBody struct {
	rc   io.ReadCloser
	left int
}

func (c *cutBody) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, fmt.Errorf("s3test: body cut")
	}
	if len(p) > c.left {
		p = p[:c.left]
	}
	n, err := c.rc.Read(p)
	c.left -= n
	return n, err
}

func (c *cutBody) Close() error { return c.rc.Close() }

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
