package decode

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/klauspost/compress/zstd"
)

type rec struct {
	text string
	off  int64
	err  string // substring of the error, "" for none
}

func collectJSON(t *testing.T, r io.Reader, max int, keys ...string) ([]rec, error) {
	t.Helper()
	j := NewJSONRecords(r, max, keys...)
	var out []rec
	for i := 0; i < 1000; i++ {
		ok, err := j.Next()
		if !ok {
			return out, err
		}
		x := rec{text: string(j.Bytes()), off: j.Offset()}
		if err != nil {
			x.err = err.Error()
		}
		out = append(out, x)
	}
	t.Fatal("no end")
	return nil, nil
}

func TestJSONRecordsFraming(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []rec
	}{
		{"wrapper", `{"Records":[{"a":1},{"b":"x,}"}]}`, []rec{{`{"a":1}`, 12, ""}, {`{"b":"x,}"}`, 20, ""}}},
		{"wrapper spaced", "{ \"Records\" : [\n {\"a\":1} ,\n {\"b\":2}\n ] }", []rec{{`{"a":1}`, 17, ""}, {`{"b":2}`, 28, ""}}},
		{"empty wrapper", `{"Records":[]}`, nil},
		{"array", `[{"a":[1,2]},{"b":{"c":"]"}}]`, []rec{{`{"a":[1,2]}`, 1, ""}, {`{"b":{"c":"]"}}`, 13, ""}}},
		{"ndjson", "{\"a\":1}\n{\"b\":\"q\\\"}\"}\r\n\n{\"c\":3}", []rec{{`{"a":1}`, 0, ""}, {`{"b":"q\"}"}`, 8, ""}, {`{"c":3}`, 23, ""}}},
		{"single object not a wrapper", `{"Recordsx":[1],"y":2}`, []rec{{`{"Recordsx":[1],"y":2}`, 0, ""}}},
		{"wrapper key not first", `{"y":2,"Records":[{"a":1}]}`, []rec{{`{"y":2,"Records":[{"a":1}]}`, 0, ""}}},
		{"truncated wrapper", `{"Records":[{"a":1},{"b":`, []rec{{`{"a":1}`, 12, ""}, {`{"b":`, 20, "truncated"}}},
		{"truncated ndjson line resyncs", "{\"a\":1}\n{\"b\":{\n{\"c\":3}\n", []rec{{`{"a":1}`, 0, ""}, {`{"b":{`, 8, "truncated"}, {`{"c":3}`, 15, ""}}},
		{"after a cut line, values end with their line", "{\"a\":1}\n{\"b\":{\n{\"c\":\n{\"d\":\"x\n\"}\n{\"e\":5}\n",
			[]rec{{`{"a":1}`, 0, ""}, {`{"b":{`, 8, "truncated"}, {`{"c":`, 15, "truncated"}, {`{"d":"x`, 21, "truncated"}, {`"}`, 29, "truncated"}, {`{"e":5}`, 32, ""}}},
		{"stray close", "{\"a\":1}}\n{\"c\":3}", []rec{{`{"a":1}`, 0, ""}, {`}`, 7, "unexpected"}, {`{"c":3}`, 9, ""}}},
		{"scalars", `[1,"two",true]`, []rec{{`1`, 1, ""}, {`"two"`, 3, ""}, {`true`, 9, ""}}},
		{"escaped backslash before quote", `{"a":"x\\"}`, []rec{{`{"a":"x\\"}`, 0, ""}}},
		{"stray comma between records", `{"a":1},{"b":2}`, []rec{{`{"a":1}`, 0, ""}, {`,`, 7, "unexpected ','"}, {`{"b":2}`, 8, ""}}},
		{"stray close at top", `]{"a":1}`, []rec{{`]`, 0, "unexpected"}, {`{"a":1}`, 1, ""}}},
		{"two wrapper documents", "{\"Records\":[{\"a\":1}],\"x\":{\"y\":\"}\"}}\n{\"Records\":[{\"b\":2}]}", []rec{{`{"a":1}`, 12, ""}, {`{"b":2}`, 48, ""}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Read one byte at a time too: framing must not depend on where reads end.
			for _, r := range []io.Reader{strings.NewReader(c.in), iotest.OneByteReader(strings.NewReader(c.in))} {
				got, err := collectJSON(t, r, 0, "Records")
				if err != nil {
					t.Fatalf("stream error: %v", err)
				}
				if len(got) != len(c.want) {
					t.Fatalf("got %d records %+v, want %d %+v", len(got), got, len(c.want), c.want)
				}
				for i := range got {
					w, g := c.want[i], got[i]
					if g.off != w.off || (w.err == "" && g.text != w.text) || (w.err == "") != (g.err == "") || !strings.Contains(g.err, w.err) {
						t.Errorf("record %d: got %+v, want %+v", i+1, g, w)
					}
				}
			}
		})
	}
}

func TestJSONRecordsTooLong(t *testing.T) {
	big := `{"pad":"` + strings.Repeat("x", 10000) + `"}`
	in := `{"Records":[{"a":1},` + big + `,{"c":3}]}`
	got, err := collectJSON(t, iotest.HalfReader(strings.NewReader(in)), 1000, "Records")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[1].err == "" || !strings.Contains(got[1].err, "exceeds the limit of 1000 bytes") || got[2].text != `{"c":3}` {
		t.Fatalf("got %+v", got)
	}
	if got[1].off != 20 {
		t.Errorf("too-long record at offset %d, want 20", got[1].off)
	}
}

func TestJSONRecordsReadError(t *testing.T) {
	boom := errors.New("connection reset")
	r := io.MultiReader(strings.NewReader(`{"a":1}`+"\n"+`{"b":`), iotest.ErrReader(boom))
	got, err := collectJSON(t, r, 0)
	if len(got) != 1 || !errors.Is(err, boom) || !strings.Contains(err.Error(), "offset") {
		t.Fatalf("got %+v, err %v", got, err)
	}
}

func TestLines(t *testing.T) {
	in := "one\r\ntwo\n\n" + strings.Repeat("z", 50) + "\nlast"
	for _, r := range []io.Reader{strings.NewReader(in), iotest.OneByteReader(strings.NewReader(in))} {
		l := NewLines(r, 20)
		type ln struct {
			text string
			num  int
			off  int64
			long bool
		}
		var got []ln
		for {
			ok, err := l.Next()
			if !ok {
				break
			}
			got = append(got, ln{string(l.Bytes()), l.Line(), l.Offset(), err != nil})
			if err != nil && !errors.Is(err, ErrTooLong) {
				t.Fatal(err)
			}
		}
		want := []ln{{"one", 1, 0, false}, {"two", 2, 5, false}, {"", 3, 9, false}, {"", 4, 10, true}, {"last", 5, 61, false}}
		if len(got) != len(want) {
			t.Fatalf("got %+v", got)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("line %d: got %+v want %+v", i+1, got[i], want[i])
			}
		}
		if l.Err() != nil {
			t.Error(l.Err())
		}
	}
}

func TestOpenCompression(t *testing.T) {
	payload := []byte(strings.Repeat("hello log\n", 1000))
	var gz, zs bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(payload[:5000])
	w.Close()
	w = gzip.NewWriter(&gz) // a second member: concatenated gzip
	w.Write(payload[5000:])
	w.Close()
	zw, _ := zstd.NewWriter(&zs)
	zw.Write(payload)
	zw.Close()
	for name, c := range map[string]struct {
		data  []byte
		codec Compression
	}{"plain": {payload, None}, "gzip": {gz.Bytes(), Gzip}, "zstd": {zs.Bytes(), Zstd}} {
		r, err := Open(bytes.NewReader(c.data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, payload) || r.Compression != c.codec {
			t.Errorf("%s: err %v, %d bytes, codec %s", name, err, len(got), r.Compression)
		}
		r.Close()
	}
	// A truncated gzip object: the data before the cut comes out, then a clear error.
	r, err := Open(bytes.NewReader(gz.Bytes()[:gz.Len()/3]))
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(r)
	if err == nil || !strings.Contains(err.Error(), "gzip") || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated gzip: %v", err)
	}
}

// TestInflateAhead: a stream of many blocks, decompressed on a goroutine of its own, comes out
// whole and in order, whatever the sizes of the reads; a cut one gives its data up to the cut, then
// the codec's error; and once Close returns, the source is not read any more.
func TestInflateAhead(t *testing.T) {
	var payload bytes.Buffer
	for i := 0; payload.Len() < 3*aheadBlocks*aheadSize; i++ {
		fmt.Fprintf(&payload, "line %d %x\n", i, i*7919)
	}
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(payload.Bytes())
	w.Close()
	r, err := Open(bytes.NewReader(gz.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	buf := make([]byte, 70_001)
	for i := 1; ; i++ {
		n, err := r.Read(buf[:1+i*7919%len(buf)])
		got.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	if !bytes.Equal(got.Bytes(), payload.Bytes()) {
		t.Fatalf("%d bytes out, %d in", got.Len(), payload.Len())
	}

	cut := gz.Bytes()[:gz.Len()*2/3]
	r, _ = Open(bytes.NewReader(cut))
	out, err := io.ReadAll(r)
	r.Close()
	if err == nil || !strings.Contains(err.Error(), "truncated") || len(out) < payload.Len()/2 || !bytes.HasPrefix(payload.Bytes(), out) {
		t.Errorf("cut stream: %d bytes, %v", len(out), err)
	}

	src := &watchedReader{r: bytes.NewReader(gz.Bytes())}
	r, _ = Open(src)
	io.ReadFull(r, make([]byte, 1000))
	r.Close()
	src.closed.Store(true)
	time.Sleep(20 * time.Millisecond)
	if src.late.Load() {
		t.Error("the source was read after Close returned")
	}
}

type watchedReader struct {
	r      io.Reader
	closed atomic.Bool
	late   atomic.Bool
}

func (w *watchedReader) Read(p []byte) (int, error) {
	if w.closed.Load() {
		w.late.Store(true)
	}
	return w.r.Read(p)
}

// FuzzJSONRecords: whatever the bytes, the splitter ends, and every record it returns lies within
// the input at its offset.
func FuzzJSONRecords(f *testing.F) {
	for _, s := range []string{`{"Records":[{"a":1},{"b":2}]}`, "{\"a\":1}\n{\"b\":", `[1,"x",{"y":[]}]`, `{"a":1},{"b":2}`, `]]]}}},,,`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		j := NewJSONRecords(bytes.NewReader(data), 64, "Records")
		for i := 0; ; i++ {
			if i > len(data)+2 {
				t.Fatalf("more records than bytes: the splitter does not advance")
			}
			ok, err := j.Next()
			if !ok {
				return
			}
			if err == nil {
				rec := j.Bytes()
				off := j.Offset()
				if off < 0 || int(off)+len(rec) > len(data) || !bytes.Equal(data[off:int(off)+len(rec)], rec) {
					t.Fatalf("record %q not at offset %d", rec, off)
				}
			}
		}
	})
}

// BenchmarkBrokenLines splits 200,000 lines that each open a JSON value and never close it (a
// corrupt or mistyped file): each is a record of its own, found in one pass over the data (before,
// every line was scanned to the end of the file: 253 s for these 2 MB).
//
//	go test ./decode -run '^$' -bench BrokenLines
func BenchmarkBrokenLines(b *testing.B) {
	data := []byte(strings.Repeat("{not json\n", 200_000))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		j := NewJSONRecords(bytes.NewReader(data), 0, "Records")
		n := 0
		for {
			ok, _ := j.Next()
			if !ok {
				break
			}
			n++
		}
		if n != 200_000 {
			b.Fatalf("%d records, want 200,000", n)
		}
	}
}
