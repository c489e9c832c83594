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
		a := inflateAhead(&errReader{r: zr, codec: Gzip})
		return &Reader{Reader: a, Compression: Gzip, close: func() { a.stop(); zr.Close() }}, nil
	case bytes.HasPrefix(head, zstdMagic):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(64<<20))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		a := inflateAhead(&errReader{r: zr, codec: Zstd})
		return &Reader{Reader: a, Compression: Zstd, close: func() { a.stop(); zr.Close() }}, nil
	}
	return &Reader{Reader: br, Compression: None}, nil
}

// ahead decompresses on a goroutine of its own, a few blocks ahead of the reader: inflating is a
// quarter of parsing a flow log, and the parser (one goroutine per object, the one the batch
// waits for) then only splits and maps lines. It holds aheadBlocks+2 blocks at most.
type ahead struct {
	full chan aheadBlock // blocks decompressed, in order
	free chan []byte     // blocks read, to fill again
	done chan struct{}   // closed by stop
	exit chan struct{}   // closed when the goroutine has returned (and reads the source no more)
	cur  []byte          // what is left of the block being read
	err  error           // the stream's end or error, once every block before it is read
	held []byte          // the block cur is in, to give back
}

type aheadBlock struct {
	b   []byte
	err error
}

const (
	aheadBlocks = 4
	aheadSize   = 256 << 10
)

func inflateAhead(r io.Reader) *ahead {
	a := &ahead{full: make(chan aheadBlock, aheadBlocks), free: make(chan []byte, aheadBlocks+2), done: make(chan struct{}), exit: make(chan struct{})}
	go a.fill(r)
	return a
}

func (a *ahead) fill(r io.Reader) {
	defer close(a.exit)
	for {
		var b []byte
		select {
		case b = <-a.free:
		default:
			b = make([]byte, aheadSize)
		}
		n, err := io.ReadFull(r, b[:cap(b)])
		if err == io.ErrUnexpectedEOF && n > 0 {
			err = nil // a short last block: the next read says how the stream ended
		}
		select {
		case a.full <- aheadBlock{b[:n], err}:
		case <-a.done:
			return
		}
		if err != nil {
			return
		}
	}
}

func (a *ahead) Read(p []byte) (int, error) {
	for len(a.cur) == 0 {
		if a.err != nil {
			return 0, a.err
		}
		if a.held != nil {
			a.free <- a.held[:0] // never blocks: the goroutine holds at most aheadBlocks+1 others
			a.held = nil
		}
		blk := <-a.full
		a.cur, a.held, a.err = blk.b, blk.b, blk.err
	}
	n := copy(p, a.cur)
	a.cur = a.cur[n:]
	return n, nil
}

// stop ends the goroutine and waits for it, so that the source is not read after Close.
func (a *ahead) stop() {
	close(a.done)
	<-a.exit
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
