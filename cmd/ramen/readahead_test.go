package main

import (
	"context"
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
