package main

import (
	"context"
	"testing"
	"time"
)

// TestReadAheadBound: a file is started while fewer than maxFiles are out and fewer than maxEvents
// events wait; one file is always allowed, however big; a cancelled context releases a waiting start.
func TestReadAheadBound(t *testing.T) {
	ctx := context.Background()
	a := newReadAhead(3, 100)
	starts := func() int {
		n := 0
		for {
			c, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			ok := a.start(c)
			cancel()
			if !ok {
				return n
			}
			n++
		}
	}
	if n := starts(); n != 3 {
		t.Fatalf("%d files started with no events waiting, want maxFiles=3", n)
	}
	a.parsed(500) // one file was huge
	a.done(0)
	a.done(0)
	if n := starts(); n != 0 {
		t.Fatalf("%d files started while 500 events wait (max 100)", n)
	}
	a.done(500)
	if n := starts(); n != 3 {
		t.Fatalf("%d files started after the batch took the events, want 3", n)
	}
	b := newReadAhead(2, 10)
	if !b.start(ctx) {
		t.Fatal("the first file must start")
	}
	b.parsed(1_000_000) // bigger than the budget: it went through alone
	c, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	if b.start(c) {
		t.Fatal("a second file started while the first holds the budget")
	}
}
