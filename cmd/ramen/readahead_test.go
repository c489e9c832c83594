package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// TestReadAheadBound: a file is started while fewer than maxFiles are out and fewer than maxEvents
// events wait; a file ahead of the batch's waits for room, the file the batch takes never does
// (however big it is); a cancelled context releases a waiting start.
func TestReadAheadBound(t *testing.T) {
	ctx := context.Background()
	a := newReadAhead(3, 100)
	try := func(f func(context.Context) bool) bool {
		c, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		return f(c)
	}
	starts := func() int {
		n := 0
		for try(a.start) {
			n++
		}
		return n
	}
	if n := starts(); n != 3 {
		t.Fatalf("%d files started with no events waiting, want maxFiles=3", n)
	}
	if !try(func(c context.Context) bool { return a.room(c, 1, 500) }) {
		t.Fatal("file 1 got no room with nothing waiting")
	}
	if try(func(c context.Context) bool { return a.room(c, 1, 10) }) {
		t.Fatal("file 1, ahead of the batch, got room while 500 events wait (max 100)")
	}
	if !try(func(c context.Context) bool { return a.room(c, 0, 1000) }) {
		t.Fatal("file 0, the batch's, waited for room")
	}
	a.done(1)
	a.done(1)
	if n := starts(); n != 0 {
		t.Fatalf("%d files started while 1,500 events wait (max 100)", n)
	}
	if !try(func(c context.Context) bool { return a.room(c, 1, 10) }) {
		t.Fatal("file 1 waited for room once the batch takes it")
	}
	a.took(1510)
	if n := starts(); n != 2 {
		t.Fatalf("%d files started after the batch took the events, want 2 (one still out)", n)
	}
	b := newReadAhead(2, 10)
	if !b.start(ctx) || !b.room(ctx, 0, 1_000_000) {
		t.Fatal("the first file must start and hand over its events")
	}
	c, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	if b.start(c) {
		t.Fatal("a second file started while the first holds the budget")
	}
}

// cancelAtEOF cancels a context when its reader is read to the end: the run is stopped just as a
// worker finishes parsing an object.
type cancelAtEOF struct {
	r      io.Reader
	cancel context.CancelFunc
}

func (c *cancelAtEOF) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF {
		c.cancel()
	}
	return n, err
}

// TestParseAheadCutByCancel: when the run is cancelled after the parser has read an object to its
// end but before its last chunk of events is handed over, the object is not complete: it must not
// look read to its end (perr nil), or the batch could mark it ingested without those events.
func TestParseAheadCutByCancel(t *testing.T) {
	for _, records := range []int{1, 10, chunkEvents + 10} {
		t.Run(fmt.Sprint(records), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			src := &cancelAtEOF{r: strings.NewReader(strings.Repeat(goodRecord+"\n", records)), cancel: cancel}
			g := &ingester{opt: ingestOptions{typ: "cloudtrail"}}
			r := &parsed{name: "cut.json", src: src, release: func() {}}
			out := make(chan *parsed, 1)
			g.parseAhead(ctx, 0, r, newReadAhead(4, readAheadEvents), out)
			got := 0
			for c := range (<-out).chunks {
				got += len(c.events)
			}
			if got < records && r.perr == nil {
				t.Fatalf("%d of %d events handed over, and the object reads as complete (%d events parsed)", got, records, r.ps.Events)
			}
		})
	}
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestParseAheadBoundsRejects: the records an object ahead of the batch rejects count against the
// read-ahead budget as its events do: a big object of rejected records (the wrong --type, a corrupt
// log) waits for the batch instead of being held in memory whole.
func TestParseAheadBoundsRejects(t *testing.T) {
	const records = 200_000
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	text := strings.Repeat(`{"eventVersion":"1.08"}`+"\n", records)
	src := &countingReader{r: strings.NewReader(text)}
	g := &ingester{opt: ingestOptions{typ: "cloudtrail"}}
	r := &parsed{name: "junk.json", src: src, release: func() {}}
	out := make(chan *parsed, 1)
	// Object 1 is ahead of the batch (which takes object 0) and nothing takes its chunks: it must
	// stop reading once the budget is full, until ctx ends.
	g.parseAhead(ctx, 1, r, newReadAhead(4, readAheadEvents), out)
	for range (<-out).chunks {
	}
	if src.n == int64(len(text)) {
		t.Fatalf("an object ahead of the batch was read whole (%d rejected records held; budget %d)", r.ps.Rejected, readAheadEvents)
	}
}
