package lake

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"
)

// Object identifies one ingested source object. Two objects are the same when their keys and sizes
// match and their ETags (S3) or content hashes (files) match.
type Object struct {
	Key    string    `json:"key"`              // s3://bucket/key or the file path
	Size   int64     `json:"size"`             // bytes as stored (compressed)
	ETag   string    `json:"etag,omitempty"`   // S3 ETag
	SHA256 string    `json:"sha256,omitempty"` // content hash, for files
	Type   string    `json:"type,omitempty"`   // log type
	Events int       `json:"events"`           // events written
	Reject int       `json:"rejected"`         // records rejected
	Batch  string    `json:"batch"`            // the batch that wrote them
	At     time.Time `json:"at"`               // when it was committed
}

// Identity is what makes two objects the same for the manifest: key, size and ETag for S3 objects,
// size and content hash for files (a copy of a file is the same object).
func (o *Object) Identity() string {
	if o.ETag != "" {
		return fmt.Sprintf("%s\x00%d\x00e:%s", o.Key, o.Size, o.ETag)
	}
	return fmt.Sprintf("%d\x00h:%s", o.Size, o.SHA256)
}

// manifest is the append-only record of committed objects: one JSON line per object, fsynced before
// a commit returns. Loading it tolerates a torn last line (a crash in the middle of an append): that
// object was not acknowledged, and will be ingested again.
type manifest struct {
	mu   sync.Mutex
	path string
	f    *os.File
	seen map[string]Object
}

// readManifest reads the manifest's complete lines: the objects by identity (the last line of an
// identity wins, as an object ingested again with --force is recorded again) and the length of those
// lines (a torn last line is not part of it). A missing manifest is an empty one.
func readManifest(path string) (seen map[string]Object, good int, err error) {
	seen = map[string]Object{}
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return nil, 0, err
	}
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break // torn last line
		}
		var o Object
		if err := json.Unmarshal(data[:i], &o); err != nil {
			return nil, 0, fmt.Errorf("%s: byte %d: corrupt manifest line: %w", path, good, err)
		}
		seen[o.Identity()] = o
		good += i + 1
		data = data[i+1:]
	}
	return seen, good, nil
}

func openManifest(path string) (*manifest, error) {
	seen, good, err := readManifest(path)
	if err != nil {
		return nil, err
	}
	m := &manifest{path: path, seen: seen}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	// Cut a torn tail so the next append starts on a line of its own.
	if err := f.Truncate(int64(good)); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.Seek(int64(good), 0); err != nil {
		f.Close()
		return nil, err
	}
	m.f = f
	return m, nil
}

// has reports whether an identical object was committed before.
func (m *manifest) has(o *Object) (Object, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.seen[o.Identity()]
	return p, ok
}

// append records committed objects durably.
func (m *manifest) append(objs []Object) error {
	if len(objs) == 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	w := bufio.NewWriter(m.f)
	for i := range objs {
		b, err := json.Marshal(&objs[i])
		if err != nil {
			return err
		}
		w.Write(b)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := m.f.Sync(); err != nil {
		return err
	}
	for _, o := range objs {
		m.seen[o.Identity()] = o
	}
	return nil
}

func (m *manifest) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.seen)
}

func (m *manifest) close() error { return m.f.Close() }

// each calls fn with every object of the manifest, in no order, without copying the manifest (a
// lake on S3 looks for unpublished objects after every commit). fn must not call the manifest.
func (m *manifest) each(fn func(o Object)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.seen {
		fn(o)
	}
}
