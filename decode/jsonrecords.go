package decode

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// JSONRecords splits a stream of JSON into records without parsing them, so that a parser sees one
// record's bytes at a time however large the object is. It understands every framing AWS uses:
//
//   - a wrapper object whose first key names an array of records: {"Records":[...]} (CloudTrail),
//     {"findings":[...]} (GuardDuty exports); the keys that count are given to NewJSONRecords
//   - a top-level array: [{...},{...}]
//   - newline-delimited or simply concatenated values: {...}\n{...}
//   - a single value
//
// A record is any JSON value; its bytes are exactly as in the stream. Syntax errors are found only as
// far as framing needs (brackets, strings, escapes): the parser of the record finds the rest.
type JSONRecords struct {
	r       io.Reader
	wrapper [][]byte // keys whose array holds the records
	max     int

	buf        []byte
	pos, end   int   // scan position and end of data in buf
	base       int64 // stream offset of buf[0]
	eof        bool
	rerr       error
	rec        []byte
	recOff     int64
	num        int
	inArray    bool // inside the records array (top-level or wrapper)
	inWrapper  bool // the array is a wrapper's: after it, the rest of the object is skipped
	done       bool
	wrapperKey string
	// lines: a value outside an array was cut at the end of the data, so the data is broken; from
	// then on a value outside an array also ends with its line (NDJSON's rule), or a file of such
	// lines would be scanned to its end once per line (quadratic). A value that is valid but spans
	// lines (pretty-printed JSON) after a broken one is rejected line by line: kept, not lost.
	lines bool
}

// NewJSONRecords returns a record splitter. wrapperKeys are the keys of a top-level object whose
// array value holds the records ("Records"); max limits one record (DefaultMaxRecord if <= 0).
func NewJSONRecords(r io.Reader, max int, wrapperKeys ...string) *JSONRecords {
	if max <= 0 {
		max = DefaultMaxRecord
	}
	j := &JSONRecords{r: r, max: max, buf: make([]byte, min(256<<10, max+1))}
	for _, k := range wrapperKeys {
		j.wrapper = append(j.wrapper, []byte(`"`+k+`"`))
	}
	return j
}

// Bytes returns the current record. It is valid until the next call to Next.
func (j *JSONRecords) Bytes() []byte { return j.rec }

// Offset returns the byte offset of the current record in the stream.
func (j *JSONRecords) Offset() int64 { return j.recOff }

// Num returns the 1-based index of the current record.
func (j *JSONRecords) Num() int { return j.num }

// Wrapper returns the wrapper key the records came from ("Records"), or "" when they were not wrapped.
func (j *JSONRecords) Wrapper() string { return j.wrapperKey }

// Next advances to the next record. It returns ok=false at the end. A non-nil error with ok=true is a
// bad record (too long, malformed framing) that was skipped: record it, with Num and Offset, which
// the error does not repeat, and call Next again. A non-nil
// error with ok=false ends the stream (a read error, or framing so broken that no record boundary can
// be found again).
func (j *JSONRecords) Next() (ok bool, err error) {
	if j.done {
		return false, nil
	}
	for {
		c, ok := j.skipSpace()
		if !ok {
			j.done = true
			return false, j.readErr()
		}
		if j.inArray {
			switch c {
			case ',':
				j.pos++
				continue
			case ']':
				j.pos++
				j.inArray = false
				if j.inWrapper {
					// The rest of the wrapper object (other keys) holds no records: skip to its
					// end, then go on, since another wrapper object may follow.
					j.inWrapper = false
					if err := j.skipObjectRest(); err != nil {
						j.done = true
						return false, err
					}
				}
				continue
			}
			return j.value()
		}
		switch c {
		case '[':
			j.pos++
			j.inArray = true
			continue
		case '{':
			if len(j.wrapper) > 0 {
				if w, ok := j.tryWrapper(); ok {
					j.wrapperKey = w
					j.inArray, j.inWrapper = true, true
					continue
				}
			}
		}
		return j.value()
	}
}

// tryWrapper checks whether the object at pos starts with a wrapper key followed by an array, and if
// so consumes up to and including the '['.
func (j *JSONRecords) tryWrapper() (string, bool) {
	// Make sure enough bytes are buffered to see the first key.
	for j.end-j.pos < 128 && !j.eof && j.rerr == nil {
		j.fill()
	}
	p := j.pos + 1
	p = skipWS(j.buf[:j.end], p)
	for _, w := range j.wrapper {
		if !bytes.HasPrefix(j.buf[p:j.end], w) {
			continue
		}
		q := skipWS(j.buf[:j.end], p+len(w))
		if q < j.end && j.buf[q] == ':' {
			q = skipWS(j.buf[:j.end], q+1)
			if q < j.end && j.buf[q] == '[' {
				j.pos = q + 1
				return string(w[1 : len(w)-1]), true
			}
		}
	}
	return "", false
}

func skipWS(b []byte, p int) int {
	for p < len(b) && (b[p] == ' ' || b[p] == '\n' || b[p] == '\r' || b[p] == '\t') {
		p++
	}
	return p
}

// skipSpace skips whitespace, reading more as needed, and returns the next byte.
func (j *JSONRecords) skipSpace() (byte, bool) {
	for {
		j.pos = skipWS(j.buf[:j.end], j.pos)
		if j.pos < j.end {
			return j.buf[j.pos], true
		}
		if j.eof || j.rerr != nil {
			return 0, false
		}
		j.fill()
	}
}

func (j *JSONRecords) readErr() error {
	if j.rerr == nil {
		return nil
	}
	return fmt.Errorf("at byte offset %d (after record %d): %w", j.base+int64(j.end), j.num, j.rerr)
}

// errTruncated is the error for a stream that ends inside a record.
var errTruncated = errors.New("unexpected end of data inside a JSON value (the object is truncated)")

// value scans one JSON value starting at pos and makes it the current record.
func (j *JSONRecords) value() (bool, error) {
	start := j.pos
	j.num++
	j.recOff = j.base + int64(start)
	depth := 0
	inStr := false
	p := start
	tooLong := false
	var skipped int64
	for {
		if p >= j.end {
			if j.eof || j.rerr != nil {
				j.pos = p
				j.done = true
				if j.rerr != nil {
					return false, j.readErr()
				}
				if tooLong {
					j.rec = nil
					return true, j.longErr(skipped + int64(p-start))
				}
				j.rec = j.buf[start:p]
				if !j.inArray {
					// In newline-delimited JSON a cut-off line must cost that line only: the bad
					// record ends at its first newline and scanning resumes after it.
					if k := bytes.IndexByte(j.rec, '\n'); k >= 0 && k < len(j.rec)-1 {
						j.rec = j.rec[:k]
						j.pos = start + k + 1
						j.done = false
						j.lines = true
					}
				}
				return true, errTruncated
			}
			if tooLong || p-start > j.max {
				// Over the limit: stop keeping it, scan on to its end to resynchronise.
				tooLong = true
				skipped += int64(p - start)
				start = p
			}
			j.pos = start
			j.fill()
			p = j.pos + (p - start)
			start = j.pos
			continue
		}
		if inStr {
			// Jump to the next quote or backslash.
			k := quoteOrBackslash(j.buf[p:j.end])
			if j.lines && !j.inArray {
				seg := j.buf[p:j.end]
				if k >= 0 {
					seg = seg[:k]
				}
				if nl := bytes.IndexByte(seg, '\n'); nl >= 0 {
					return j.lineCut(start, p+nl, tooLong, skipped)
				}
			}
			if k < 0 {
				p = j.end
				continue
			}
			p += k
			if j.buf[p] == '\\' {
				if p+1 >= j.end {
					if j.eof || j.rerr != nil {
						p = j.end
						continue
					}
					// Need the escaped byte: refill keeping the record.
					j.pos = start
					j.fill()
					p = j.pos + (p - start)
					start = j.pos
					continue
				}
				p += 2
				continue
			}
			inStr = false
			p++
			if depth == 0 {
				break
			}
			continue
		}
		c := j.buf[p]
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 && p > start {
				// The end of the array or object around a bare scalar.
				goto done
			}
			depth--
			if depth < 0 {
				j.pos = p + 1
				j.rec = j.buf[start:j.pos]
				return true, fmt.Errorf("unexpected %q at byte offset %d", c, j.base+int64(p))
			}
		case ',':
			if depth == 0 {
				// A bare scalar inside an array ends at the comma.
				goto done
			}
		case ' ', '\n', '\r', '\t':
			if depth == 0 {
				goto done
			}
			if c == '\n' && j.lines && !j.inArray {
				return j.lineCut(start, p, tooLong, skipped)
			}
		}
		p++
		if depth == 0 && (c == '}' || c == ']') {
			break
		}
	}
done:
	if p == start {
		// A stray ',' or ']' between records: it is no record, and skipping it keeps the
		// scan moving.
		j.pos = p + 1
		j.rec = j.buf[start:j.pos]
		return true, fmt.Errorf("unexpected %q at byte offset %d", j.buf[start], j.base+int64(start))
	}
	j.pos = p
	if tooLong {
		j.rec = nil
		return true, j.longErr(skipped + int64(p-start))
	}
	j.rec = j.buf[start:p]
	return true, nil
}

// lineCut ends a value at the newline at nl, in line mode (see lines): the record is the line, cut.
func (j *JSONRecords) lineCut(start, nl int, tooLong bool, skipped int64) (bool, error) {
	j.pos = nl + 1
	if tooLong {
		j.rec = nil
		return true, j.longErr(skipped + int64(nl-start))
	}
	j.rec = j.buf[start:nl]
	return true, errTruncated
}

func (j *JSONRecords) longErr(size int64) error {
	return fmt.Errorf("%w: %d bytes exceeds the limit of %d bytes", ErrTooLong, size, j.max)
}

// fill reads more data. Bytes from pos on are kept (moved to the front of the buffer, which grows
// while a record needs it); everything before pos is dropped.
func (j *JSONRecords) fill() {
	if j.pos > 0 {
		copy(j.buf, j.buf[j.pos:j.end])
		j.base += int64(j.pos)
		j.end -= j.pos
		j.pos = 0
	}
	if j.end == len(j.buf) {
		nb := make([]byte, len(j.buf)*2)
		copy(nb, j.buf[:j.end])
		j.buf = nb
	}
	n, err := j.r.Read(j.buf[j.end:])
	j.end += n
	if err == io.EOF {
		j.eof = true
	} else if err != nil {
		j.rerr = err
	}
}

// quoteOrBackslash returns the index of the first '"' or '\\' in b, or -1. Backslashes are rare in
// logs, so it finds the next quote with the vectorised IndexByte and looks for a backslash only
// in the stretch before it.
func quoteOrBackslash(b []byte) int {
	q := bytes.IndexByte(b, '"')
	seg := b
	if q >= 0 {
		seg = b[:q]
	}
	if k := bytes.IndexByte(seg, '\\'); k >= 0 {
		return k
	}
	return q
}

// skipObjectRest skips what is left of an object after its records array, up to and including its
// closing brace, without keeping it.
func (j *JSONRecords) skipObjectRest() error {
	depth := 1
	inStr := false
	for depth > 0 {
		if j.pos >= j.end {
			if j.eof || j.rerr != nil {
				if j.rerr != nil {
					return j.readErr()
				}
				return fmt.Errorf("at byte offset %d: %w", j.base+int64(j.pos), errTruncated)
			}
			j.fill()
			continue
		}
		c := j.buf[j.pos]
		j.pos++
		switch {
		case inStr && c == '\\':
			if j.pos >= j.end && !j.eof && j.rerr == nil {
				j.fill()
			}
			j.pos++
		case inStr && c == '"':
			inStr = false
		case inStr:
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}
