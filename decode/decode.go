// Package decode turns the bytes of a log object into records: it removes compression (gzip, zstd,
// found by magic number, not by file name) and frames the stream into lines or JSON values, with a
// limit on the size of one record so that a single huge line cannot exhaust memory.
//
// Everything streams: an object of any size is read through a fixed-size window.
package decode

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip" // the standard library's API, inflating about 1.5x faster
	"github.com/klauspost/compress/zstd"
)

// Compression names the codec an object was compressed with.
type Compression string

const (
	None Compression = "none"
	Gzip Compression = "gzip"
	Zstd Compression = "zstd"
)

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// Reader is a decompressed stream. Close releases the decoder; it does not close the source.
type Reader struct {
	io.Reader
	Compression Compression
	close       func()
}

// Close releases the decompressor's resources.
func (r *Reader) Close() error {
	if r.close != nil {
		r.close()
	}
	return nil
}

// Open detects the compression of src from its first bytes and returns the decompressed stream.
// Concatenated gzip members (as some log shippers write) are read as one stream.
func Open(src io.Reader) (*Reader, error) {
	br := bufio.NewReaderSize(src, 64<<10)
	head, err := br.Peek(4)
	if err != nil && err != io.EOF {
		return nil, err
	}
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return &Reader{Reader: &errReader{r: zr, codec: Gzip}, Compression: Gzip, close: func() { zr.Close() }}, nil
	case bytes.HasPrefix(head, zstdMagic):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(64<<20))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return &Reader{Reader: &errReader{r: zr, codec: Zstd}, Compression: Zstd, close: zr.Close}, nil
	}
	return &Reader{Reader: br, Compression: None}, nil
}

// errReader names the codec in decompression errors and turns a cut-off stream into a clear error
// ("gzip: unexpected EOF: the object is truncated") instead of a bare io.ErrUnexpectedEOF.
type errReader struct {
	r     io.Reader
	codec Compression
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("%s: %w (the object is truncated)", e.codec, err)
		} else {
			err = fmt.Errorf("%s: %w", e.codec, err)
		}
	}
	return n, err
}

// DefaultMaxRecord is the default limit on one record (a line, or one JSON value): 4 MiB, well above
// the largest records AWS writes (CloudTrail caps a record at 256 KiB) and small enough that a corrupt
// object cannot make ramen hold gigabytes.
const DefaultMaxRecord = 4 << 20

// ErrTooLong is wrapped by the error for a record over the size limit.
var ErrTooLong = errors.New("record too long")
