// Package s3 reads log objects from Amazon S3 and from S3-compatible stores (MinIO, Ceph, ...). It is
// the S3 source of ingestion and knows nothing of parsing or of the lake: it lists the objects under
// an s3://bucket/prefix page by page, so that a bucket of millions of keys is never held in memory,
// and streams an object's body, resuming a body cut mid-way from the byte where it stopped.
//
// Credentials and region are found the standard AWS way (environment variables, the shared config
// and credentials files with AWS_PROFILE, SSO, web identity, container and instance roles), so ramen
// needs no configuration of its own on a machine where the AWS CLI works. Options.Endpoint points at
// an S3-compatible store instead, addressed path-style (http://host:9000/bucket/key), which every
// such store understands.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// Options configure a Client.
type Options struct {
	// Endpoint is the URL of an S3-compatible store (http://127.0.0.1:9000); empty means AWS itself.
	// Requests to it are path-style. AWS_ENDPOINT_URL_S3 is honoured too when this is empty.
	Endpoint string
	// Region overrides the configured region. With an Endpoint and no region at all, us-east-1 is
	// used, which is what S3-compatible stores expect unless configured otherwise.
	Region string
	// PageSize is the number of keys asked for per list request: 1 to 1000 (0 means 1000, S3's
	// largest page).
	PageSize int
	// Resumes is how many times a body cut mid-way is resumed with a ranged request before reading
	// it fails (0 means 3; negative means never).
	Resumes int
}

// Client lists and reads objects. It is safe for concurrent use.
type Client struct {
	api *awss3.Client
	opt Options
}

// New makes a client with the standard AWS configuration chain. Credentials are looked up lazily,
// on the first request, so a missing credential shows as that request's error.
func New(ctx context.Context, opt Options) (*Client, error) {
	if opt.Endpoint != "" {
		u, err := url.Parse(opt.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("endpoint %q: want a URL such as http://127.0.0.1:9000 or https://s3.example.com", opt.Endpoint)
		}
	}
	if opt.PageSize <= 0 || opt.PageSize > 1000 {
		opt.PageSize = 1000
	}
	if opt.Resumes == 0 {
		opt.Resumes = 3
	}
	var lo []func(*config.LoadOptions) error
	if opt.Region != "" {
		lo = append(lo, config.WithRegion(opt.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return nil, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		if opt.Endpoint == "" && cfg.BaseEndpoint == nil {
			return nil, errors.New("no AWS region: give --region (the bucket's region), or set AWS_REGION or a region in the profile")
		}
		cfg.Region = "us-east-1"
	}
	api := awss3.NewFromConfig(cfg, func(o *awss3.Options) {
		// Objects uploaded without a checksum (most log deliveries) are not checksummed on reading;
		// the SDK would say so on stderr for every one of them.
		o.DisableLogOutputChecksumValidationSkipped = true
		if opt.Endpoint != "" {
			o.BaseEndpoint = aws.String(opt.Endpoint)
			o.UsePathStyle = true
		}
	})
	return &Client{api: api, opt: opt}, nil
}

// Region returns the region requests are signed for.
func (c *Client) Region() string { return c.api.Options().Region }

// URL is an s3://bucket/prefix location.
type URL struct {
	Bucket string
	// Prefix selects the keys that start with it, as S3 does: "AWSLogs" also selects "AWSLogsOld/x";
	// end it with "/" to mean a folder. Empty selects the whole bucket.
	Prefix string
}

// IsURL reports whether s names an S3 location rather than a local path.
func IsURL(s string) bool { return strings.HasPrefix(s, "s3://") }

// ParseURL reads s3://bucket[/prefix].
func ParseURL(s string) (URL, error) {
	if !IsURL(s) {
		return URL{}, fmt.Errorf("%q is not an s3:// URL", s)
	}
	rest := strings.TrimPrefix(s, "s3://")
	bucket, prefix, _ := strings.Cut(rest, "/")
	if bucket == "" {
		return URL{}, fmt.Errorf("%q: no bucket name: want s3://bucket/prefix", s)
	}
	for _, r := range bucket {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return URL{}, fmt.Errorf("%q: bucket name %q has the character %q: want s3://bucket/prefix", s, bucket, r)
		}
	}
	return URL{Bucket: bucket, Prefix: prefix}, nil
}

func (u URL) String() string { return "s3://" + u.Bucket + "/" + u.Prefix }

// Contains reports whether every key selected by v is selected by u too.
func (u URL) Contains(v URL) bool {
	return u.Bucket == v.Bucket && strings.HasPrefix(v.Prefix, u.Prefix)
}

// Object is one listed object.
type Object struct {
	Bucket, Key  string
	Size         int64     // bytes as stored
	ETag         string    // without S3's quotes; identifies the content together with Key and Size
	LastModified time.Time //
}

// Name is the object's s3://bucket/key, the name it has in events, dead letters and the manifest.
func (o Object) Name() string { return "s3://" + o.Bucket + "/" + o.Key }

// Errors that callers tell apart with errors.Is: the message around them says which object and why.
var (
	ErrNotFound     = errors.New("not found")
	ErrAccessDenied = errors.New("access denied")
	ErrChanged      = errors.New("changed since it was listed")
)

// Error is a failed operation on a location or an object.
type Error struct {
	Op   string // "list", "get", "read", "put" or "delete"
	Name string // s3://bucket/prefix or s3://bucket/key
	Err  error
}

func (e *Error) Error() string { return e.Op + " " + e.Name + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// List calls fn with each page of the objects under u, in S3's key order, as the pages arrive:
// memory holds one page at a time whatever the size of the bucket, and the first objects can be
// processed before the last are listed. Keys ending in "/" (folder markers made by consoles) are
// left out. fn may keep the slice. An error from fn stops the listing and is returned as is.
func (c *Client) List(ctx context.Context, u URL, fn func(page []Object) error) error {
	in := &awss3.ListObjectsV2Input{Bucket: aws.String(u.Bucket), MaxKeys: aws.Int32(int32(c.opt.PageSize))}
	if u.Prefix != "" {
		in.Prefix = aws.String(u.Prefix)
	}
	p := awss3.NewListObjectsV2Paginator(c.api, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &Error{Op: "list", Name: u.String(), Err: explain(err, "list")}
		}
		page := make([]Object, 0, len(out.Contents))
		for _, o := range out.Contents {
			key := aws.ToString(o.Key)
			if strings.HasSuffix(key, "/") {
				continue
			}
			page = append(page, Object{Bucket: u.Bucket, Key: key, Size: aws.ToInt64(o.Size),
				ETag: strings.Trim(aws.ToString(o.ETag), `"`), LastModified: aws.ToTime(o.LastModified)})
		}
		if len(page) == 0 {
			continue
		}
		if err := fn(page); err != nil {
			return err
		}
	}
	return nil
}

// Dirs returns the "folders" directly under u's prefix (which is "" or ends with "/"): the common
// prefixes of the keys up to their next "/", without it, as full keys ("logs/type=x"). A bucket's
// folders are listed without listing the keys inside them.
func (c *Client) Dirs(ctx context.Context, u URL) ([]string, error) {
	in := &awss3.ListObjectsV2Input{Bucket: aws.String(u.Bucket), Delimiter: aws.String("/"), MaxKeys: aws.Int32(int32(c.opt.PageSize))}
	if u.Prefix != "" {
		in.Prefix = aws.String(u.Prefix)
	}
	var out []string
	p := awss3.NewListObjectsV2Paginator(c.api, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, &Error{Op: "list", Name: u.String(), Err: explain(err, "list")}
		}
		for _, cp := range page.CommonPrefixes {
			out = append(out, strings.TrimSuffix(aws.ToString(cp.Prefix), "/"))
		}
	}
	return out, nil
}

// Open streams the body of o. The request carries If-Match with the listed ETag, so that what is
// read is the very object that was listed (the manifest names it by key, size and ETag): an object
// deleted or replaced since fails with ErrNotFound or ErrChanged. A body cut mid-way (a reset
// connection) is resumed with a ranged request from the byte where it stopped, up to
// Options.Resumes times; after that Read fails with an *Error naming the object and the byte.
func (c *Client) Open(ctx context.Context, o Object) (io.ReadCloser, error) {
	b := &body{c: c, ctx: ctx, o: o}
	if err := b.get(); err != nil {
		return nil, err
	}
	return b, nil
}

// body is an object's content being read, resumable from off.
type body struct {
	c       *Client
	ctx     context.Context
	o       Object
	rc      io.ReadCloser
	off     int64
	resumes int
}

func (b *body) get() error {
	in := &awss3.GetObjectInput{Bucket: aws.String(b.o.Bucket), Key: aws.String(b.o.Key)}
	if b.o.ETag != "" {
		in.IfMatch = aws.String(`"` + b.o.ETag + `"`)
	}
	if b.off > 0 {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", b.off))
	}
	out, err := b.c.api.GetObject(b.ctx, in)
	if err != nil {
		if b.ctx.Err() != nil {
			return b.ctx.Err()
		}
		return &Error{Op: "get", Name: b.o.Name(), Err: explain(err, "get")}
	}
	if b.off > 0 && !strings.HasPrefix(aws.ToString(out.ContentRange), fmt.Sprintf("bytes %d-", b.off)) {
		out.Body.Close()
		return &Error{Op: "read", Name: b.o.Name(), Err: fmt.Errorf("resuming at byte %d: the store answered a ranged request with %q", b.off, aws.ToString(out.ContentRange))}
	}
	b.rc = out.Body
	return nil
}

func (b *body) Read(p []byte) (int, error) {
	for {
		if b.rc == nil {
			if err := b.get(); err != nil {
				return 0, err
			}
		}
		n, err := b.rc.Read(p)
		b.off += int64(n)
		if err == nil {
			return n, nil
		}
		if err == io.EOF {
			if b.off >= b.o.Size {
				return n, io.EOF
			}
			err = io.ErrUnexpectedEOF
		}
		if b.ctx.Err() != nil {
			return n, b.ctx.Err()
		}
		b.rc.Close()
		b.rc = nil
		if b.resumes >= b.c.opt.Resumes {
			return n, &Error{Op: "read", Name: b.o.Name(), Err: fmt.Errorf("cut at byte %d of %d (after %d resumes): %w", b.off, b.o.Size, b.resumes, err)}
		}
		b.resumes++
		if n > 0 {
			return n, nil
		}
	}
}

func (b *body) Close() error {
	if b.rc == nil {
		return nil
	}
	err := b.rc.Close()
	b.rc = nil
	return err
}

// explain turns an S3 error into a message that says what happened and what to do, keeping the
// error code and request id (which AWS support asks for) and wrapping the Err* the caller may test.
func explain(err error, op string) error {
	var api smithy.APIError
	code, msg := "", ""
	if errors.As(err, &api) {
		code, msg = api.ErrorCode(), api.ErrorMessage()
	}
	status, reqID, region := 0, "", ""
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status, reqID = re.HTTPStatusCode(), re.ServiceRequestID()
		if re.Response != nil {
			region = re.Response.Header.Get("X-Amz-Bucket-Region")
		}
	}
	if code == "" && status == 0 {
		if msg := err.Error(); strings.Contains(msg, "get identity") || strings.Contains(msg, "failed to refresh cached credentials") {
			return fmt.Errorf("no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run with an instance or container role (%w)", err)
		}
		return err // not an answer from the store: a network error, already clear
	}
	if code == "" {
		code = http.StatusText(status)
	}
	// tail is what the store said: ": message (Code, HTTP n, request id r)".
	tail := " (" + code
	if status != 0 {
		tail += fmt.Sprintf(", HTTP %d", status)
	}
	if reqID != "" {
		tail += ", request id " + reqID
	}
	tail += ")"
	if msg != "" && msg != code {
		tail = ": " + msg + tail
	}
	switch {
	case code == "NoSuchBucket":
		return fmt.Errorf("%w: no such bucket%s", ErrNotFound, tail)
	case code == "NoSuchKey" || code == "NotFound" || status == http.StatusNotFound:
		return fmt.Errorf("%w%s: the object was deleted after it was listed (a lifecycle rule or another process); there is nothing left to read", ErrNotFound, tail)
	case code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || code == "ExpiredToken":
		return fmt.Errorf("the store refused the credentials%s: check AWS_PROFILE / AWS_ACCESS_KEY_ID and the secret key", tail)
	case code == "AccessDenied" || code == "AllAccessDisabled" || status == http.StatusForbidden:
		need := "s3:GetObject on the object (and kms:Decrypt if it is encrypted with a KMS key)"
		switch op {
		case "list":
			need = "s3:ListBucket on the bucket"
		case "put":
			need = "s3:PutObject on the key (and kms:GenerateDataKey if the bucket encrypts with a KMS key)"
		case "delete":
			need = "s3:DeleteObject on the key"
		}
		return fmt.Errorf("%w%s: the credentials in use lack %s", ErrAccessDenied, tail, need)
	case code == "PreconditionFailed" || status == http.StatusPreconditionFailed:
		return fmt.Errorf("%w%s: it was replaced; ingest again to read the new version", ErrChanged, tail)
	case code == "PermanentRedirect" || code == "AuthorizationHeaderMalformed" || status == http.StatusMovedPermanently:
		if region != "" {
			return fmt.Errorf("the bucket is in region %s: give --region %s%s", region, region, tail)
		}
		return fmt.Errorf("the bucket is in another region: give --region with the bucket's region%s", tail)
	}
	return errors.New("the store answered" + tail)
}

// Put uploads body (size bytes, read from its start) as the object bucket/key and returns its ETag.
// A PUT is atomic: readers see the old object or the whole new one, never part of it. The error is
// an *Error with Op "put" naming s3://bucket/key.
func (c *Client) Put(ctx context.Context, bucket, key string, body io.ReadSeeker, size int64) (string, error) {
	name := "s3://" + bucket + "/" + key
	if _, err := body.Seek(0, io.SeekStart); err != nil {
		return "", &Error{Op: "put", Name: name, Err: err}
	}
	out, err := c.api.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: body, ContentLength: aws.Int64(size)})
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", &Error{Op: "put", Name: name, Err: explain(err, "put")}
	}
	return strings.Trim(aws.ToString(out.ETag), `"`), nil
}

// Delete removes the object bucket/key; an object already gone is not an error (S3 says the same).
func (c *Client) Delete(ctx context.Context, bucket, key string) error {
	_, err := c.api.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		err = explain(err, "delete")
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return &Error{Op: "delete", Name: "s3://" + bucket + "/" + key, Err: err}
	}
	return nil
}
