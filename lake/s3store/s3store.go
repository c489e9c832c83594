// Package s3store puts a lake on S3: it implements lake.Store with the S3 client of source/s3, so a
// lake's root can be s3://bucket/prefix on AWS or on an S3-compatible store, with the same
// credentials chain and --endpoint as ingestion from S3.
package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ramen-siem/ramen/lake"
	"github.com/ramen-siem/ramen/source/s3"
)

// Store is the lake whose root is an s3://bucket/prefix.
type Store struct {
	c    *s3.Client
	root s3.URL // the prefix ends with "/" unless it is empty
}

var _ lake.Store = (*Store)(nil)

// New returns the store of the lake at u; the prefix is a folder ("logs" and "logs/" are the same).
func New(c *s3.Client, u s3.URL) *Store {
	if u.Prefix != "" && !strings.HasSuffix(u.Prefix, "/") {
		u.Prefix += "/"
	}
	return &Store{c: c, root: u}
}

func (s *Store) String() string { return s.root.String() }

// List lists the keys under the lake's root that start with prefix.
func (s *Store) List(ctx context.Context, prefix string, fn func([]lake.StoreObject) error) error {
	u := s3.URL{Bucket: s.root.Bucket, Prefix: s.root.Prefix + prefix}
	return s.c.List(ctx, u, func(page []s3.Object) error {
		out := make([]lake.StoreObject, 0, len(page))
		for _, o := range page {
			out = append(out, lake.StoreObject{Key: strings.TrimPrefix(o.Key, s.root.Prefix), Size: o.Size, ETag: o.ETag})
		}
		return fn(out)
	})
}

// Dirs lists the folders directly under prefix.
func (s *Store) Dirs(ctx context.Context, prefix string) ([]string, error) {
	dirs, err := s.c.Dirs(ctx, s3.URL{Bucket: s.root.Bucket, Prefix: s.root.Prefix + prefix})
	for i, d := range dirs {
		dirs[i] = strings.TrimPrefix(d, s.root.Prefix)
	}
	return dirs, err
}

// Put uploads a local file.
func (s *Store) Put(ctx context.Context, key, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	etag, err := s.c.Put(ctx, s.root.Bucket, s.root.Prefix+key, f, fi.Size())
	var se *s3.Error
	if errors.As(err, &se) {
		err = se.Err // the lake names the key
	}
	return etag, err
}

// Get downloads an object, which must still be the one listed (If-Match on its ETag); one deleted
// or replaced since fails with an error that wraps lake.ErrGone.
func (s *Store) Get(ctx context.Context, o lake.StoreObject, w io.Writer) error {
	obj := s3.Object{Bucket: s.root.Bucket, Key: s.root.Prefix + o.Key, Size: o.Size, ETag: o.ETag}
	rc, err := s.c.Open(ctx, obj)
	if err != nil {
		return gone(err)
	}
	defer rc.Close()
	n, err := io.Copy(w, rc)
	if err == nil && n != o.Size {
		err = fmt.Errorf("read %d bytes of %s, listed with %d", n, obj.Name(), o.Size)
	}
	return gone(err)
}

// gone marks the errors of an object deleted or replaced since it was listed with lake.ErrGone.
func gone(err error) error {
	if errors.Is(err, s3.ErrNotFound) || errors.Is(err, s3.ErrChanged) {
		return fmt.Errorf("%w: %w", lake.ErrGone, err)
	}
	return err
}

// Delete removes a key.
func (s *Store) Delete(ctx context.Context, key string) error {
	return s.c.Delete(ctx, s.root.Bucket, s.root.Prefix+key)
}
