package decode

import (
	"bytes"
	"fmt"
	"io"
)

// Lines reads a stream line by line. A line may end in "\n" or "\r\n"; neither is part of the line.
// A line longer than the limit is not returned: Next reports it as an error wrapping ErrTooLong and
// skips to the next line, so one bad line costs one record, not the object.
type Lines struct {
	r      io.Reader
	buf    []byte
	start  int // first unconsumed byte in buf
	end    int // end of valid data in buf
	max    int
	eof    bool
	err    error // sticky read error, reported once buffered data is used up
	line   []byte
	num    int   // 1-based number of the current line
	offset int64 // byte offset of the current line
	next   int64 // byte offset of buf[start]
}

// NewLines returns a line reader with a record limit of max bytes (DefaultMaxRecord if max <= 0).
func NewLines(r io.Reader, max int) *Lines {
	if max <= 0 {
		max = DefaultMaxRecord
	}
	size := 256 << 10
	if size > max+2 {
		size = max + 2
	}
	return &Lines{r: r, buf: make([]byte, size), max: max}
}

// Next advances to the next line. It returns false at the end of the stream or on a read error
// (see Err). A too-long line is returned as a non-nil error with ok true: the caller records it and
// calls Next again.
func (l *Lines) Next() (ok bool, tooLong error) {
	for {
		if i := bytes.IndexByte(l.buf[l.start:l.end], '\n'); i >= 0 {
			l.take(i, i+1)
			return true, nil
		}
		if l.eof || l.err != nil {
			if l.start < l.end { // last line without a newline
				n := l.end - l.start
				l.take(n, n)
				return true, nil
			}
			return false, nil
		}
		if l.end-l.start >= l.max+1 { // +1: room for a '\r' that is stripped
			return true, l.skipLong()
		}
		l.fill()
	}
}

// take makes buf[start:start+n] the current line and consumes adv bytes.
func (l *Lines) take(n, adv int) {
	line := l.buf[l.start : l.start+n]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	l.line = line
	l.num++
	l.offset = l.next
	l.start += adv
	l.next += int64(adv)
}

// skipLong discards the rest of an over-long line and returns its error.
func (l *Lines) skipLong() error {
	l.num++
	l.offset = l.next
	size := int64(0)
	for {
		if i := bytes.IndexByte(l.buf[l.start:l.end], '\n'); i >= 0 {
			size += int64(i)
			l.start += i + 1
			l.next += int64(i + 1)
			break
		}
		size += int64(l.end - l.start)
		l.next += int64(l.end - l.start)
		l.start, l.end = 0, 0
		if l.eof || l.err != nil {
			break
		}
		l.fill()
	}
	l.line = nil
	return fmt.Errorf("%w: line of %d bytes or more exceeds the limit of %d bytes", ErrTooLong, size, l.max)
}

// fill reads more data, moving unconsumed bytes to the front of the buffer first.
func (l *Lines) fill() {
	if l.start > 0 {
		copy(l.buf, l.buf[l.start:l.end])
		l.end -= l.start
		l.start = 0
	}
	if l.end == len(l.buf) {
		// The buffer holds a partial line: grow it up to the limit.
		nb := make([]byte, min(2*len(l.buf), l.max+2))
		if len(nb) <= len(l.buf) {
			nb = make([]byte, len(l.buf)+1)
		}
		copy(nb, l.buf[:l.end])
		l.buf = nb
	}
	n, err := l.r.Read(l.buf[l.end:])
	l.end += n
	if err == io.EOF {
		l.eof = true
	} else if err != nil {
		l.err = err
	}
}

// Bytes returns the current line. It is valid until the next call to Next.
func (l *Lines) Bytes() []byte { return l.line }

// Line returns the 1-based number of the current line.
func (l *Lines) Line() int { return l.num }

// Offset returns the byte offset of the current line in the decompressed stream.
func (l *Lines) Offset() int64 { return l.offset }

// Err returns the read error that ended the stream, if any, naming the offset where it happened.
func (l *Lines) Err() error {
	if l.err == nil {
		return nil
	}
	return fmt.Errorf("at byte offset %d (after line %d): %w", l.next, l.num, l.err)
}
