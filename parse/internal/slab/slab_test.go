package slab

import (
	"testing"
	"unsafe"

	"github.com/ramen-siem/ramen/event"
)

// TestApart checks what a parser relies on: every Event is new and zero, and the slices have exactly
// the room asked for and share no element with any other, so that appending to one event's fields
// never writes into another's, over several chunks and for requests of every size.
func TestApart(t *testing.T) {
	var s Slab
	type span struct{ lo, hi uintptr }
	var fields, strs []span
	var keep [][]event.Field // so that no slice is freed and its memory handed out again
	var keepS [][]string
	events := map[*event.Event]bool{}
	overlaps := func(l []span, x span) bool {
		for _, y := range l {
			if x.lo < y.hi && y.lo < x.hi {
				return true
			}
		}
		return false
	}
	for i := 0; i < 2000; i++ {
		e := s.Event()
		if events[e] {
			t.Fatalf("event %d handed out twice", i)
		}
		events[e] = true
		if e.ID != "" || e.Fields != nil || e.Original != "" || !e.Timestamp.IsZero() {
			t.Fatalf("event %d is not zero: %+v", i, e)
		}
		e.Original = "taken" // so that it is not zero if it were handed out again
		n := []int{0, 1, 33, 5, 64, 2, 1000}[i%7]
		f := s.Fields(n)
		if len(f) != 0 || cap(f) != n {
			t.Fatalf("Fields(%d): len %d cap %d", n, len(f), cap(f))
		}
		f = f[:n]
		for j := range f {
			if f[j].Key != "" || !f[j].Value.IsNull() {
				t.Fatalf("Fields(%d) is not zero", n)
			}
		}
		if i%3 == 0 { // keep part of it and give the rest back
			c := n / 2
			f = s.Trim(f[:c/2], c)
			if len(f) != c/2 || cap(f) != c {
				t.Fatalf("Trim to %d: len %d cap %d", c, len(f), cap(f))
			}
			n, f = c, f[:c]
		}
		if n > 0 {
			sp := span{uintptr(unsafe.Pointer(&f[0])), uintptr(unsafe.Pointer(&f[n-1])) + 1}
			if overlaps(fields, sp) {
				t.Fatalf("Fields(%d) #%d overlaps an earlier slice", n, i)
			}
			fields = append(fields, sp)
			keep = append(keep, f)
		}
		k := []int{2, 0, 4, 1, 100}[i%5]
		l := s.Strings(k)
		if len(l) != 0 || cap(l) != k {
			t.Fatalf("Strings(%d): len %d cap %d", k, len(l), cap(l))
		}
		if k > 0 {
			l = l[:k]
			sp := span{uintptr(unsafe.Pointer(&l[0])), uintptr(unsafe.Pointer(&l[k-1])) + 1}
			if overlaps(strs, sp) {
				t.Fatalf("Strings(%d) #%d overlaps an earlier slice", k, i)
			}
			strs = append(strs, sp)
			keepS = append(keepS, l)
		}
	}
}

// TestTrim checks that what Trim takes back is handed out next, and only from the last slice.
func TestTrim(t *testing.T) {
	var s Slab
	a := s.Fields(10)
	a = s.Trim(a, 4)
	b := s.Fields(3)
	if cap(a) != 4 {
		t.Fatalf("Trim to 4: cap %d", cap(a))
	}
	if got, want := uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(unsafe.Pointer(unsafe.SliceData(a)))+4*unsafe.Sizeof(event.Field{}); got != want {
		t.Fatalf("after Trim to 4 of 10, the next slice starts at +%d bytes, want +%d", got-uintptr(unsafe.Pointer(unsafe.SliceData(a))), want-uintptr(unsafe.Pointer(unsafe.SliceData(a))))
	}
	c := s.Fields(5)
	s.Trim(b, 1) // not the last: capacity limited, nothing given back
	d := s.Fields(1)
	if got, want := uintptr(unsafe.Pointer(unsafe.SliceData(d))), uintptr(unsafe.Pointer(unsafe.SliceData(c)))+5*unsafe.Sizeof(event.Field{}); got != want {
		t.Fatalf("Trim of an earlier slice gave room back: next at %#x, want %#x", got, want)
	}
}

// TestAppendBeyond checks that appending past the room asked for moves the slice instead of writing
// into the next one handed out.
func TestAppendBeyond(t *testing.T) {
	var s Slab
	a := s.Fields(2)
	b := s.Fields(2)[:2]
	b[0].Key, b[1].Key = "b0", "b1"
	a = append(a, event.Field{Key: "a0"}, event.Field{Key: "a1"}, event.Field{Key: "a2"})
	if b[0].Key != "b0" || b[1].Key != "b1" || a[2].Key != "a2" {
		t.Fatalf("append past the room wrote into the next slice: a %v, b %v", a, b)
	}
	x := s.Strings(1)
	y := s.Strings(1)[:1]
	y[0] = "y"
	x = append(x, "x0", "x1")
	if y[0] != "y" || x[1] != "x1" {
		t.Fatalf("append past the room wrote into the next list: x %v, y %v", x, y)
	}
}

// TestChunkGrowth checks that a small object takes small chunks and a large one the full ones, and
// that no chunk is larger than the largest size class: the memory one retained event can pin is
// bounded.
func TestChunkGrowth(t *testing.T) {
	var s Slab
	s.Event()
	if len(s.events) != eventsPerChunk/growth {
		t.Fatalf("first chunk of %d events, want %d", len(s.events), eventsPerChunk/growth)
	}
	for i := 0; i < 10*eventsPerChunk; i++ {
		s.Event()
		s.Fields(33)
		s.Strings(2)
	}
	for _, c := range []struct {
		name        string
		len, want   int
		bytes, most uintptr
	}{
		{"events", len(s.events), eventsPerChunk, uintptr(len(s.events)) * unsafe.Sizeof(event.Event{}), eventChunk},
		{"fields", len(s.fields), fieldsPerChunk, uintptr(len(s.fields)) * unsafe.Sizeof(event.Field{}), fieldChunk},
		{"strings", len(s.strs), stringsPerChunk, uintptr(len(s.strs)) * unsafe.Sizeof(""), stringChunk},
	} {
		if c.len != c.want || c.bytes > c.most || c.most > 32<<10 {
			t.Errorf("%s chunk of %d (%d bytes), want %d of at most %d", c.name, c.len, c.bytes, c.want, c.most)
		}
	}
}

func BenchmarkEvent(b *testing.B) {
	b.ReportAllocs()
	var s Slab
	for i := 0; i < b.N; i++ {
		e := s.Event()
		e.Fields = s.Fields(33)
	}
}

// TestPool: a slab with a pool retires a chunk only once it hands out nothing more from it, and
// hands out no memory of a retired chunk until the consumer puts it back; then it does, and its
// events are zero again.
func TestPool(t *testing.T) {
	p := NewPool(64)
	var retired []Chunk
	inRetired := func(ptr uintptr) bool {
		for _, c := range retired {
			for _, r := range [][2]uintptr{
				rangeOf(c.events), rangeOf(c.fields), rangeOf(c.strs),
			} {
				if ptr >= r[0] && ptr < r[1] {
					return true
				}
			}
		}
		return false
	}
	s := Slab{Pool: p, Retire: func(c Chunk) { retired = append(retired, c) }}
	for round := 0; round < 4; round++ {
		for i := 0; i < 3000; i++ {
			f := s.Fields(30)
			l := s.Strings(3)
			e := s.Event()
			if e.ID != "" || e.Fields != nil || e.Original != "" {
				t.Fatalf("round %d event %d is not zero: %+v", round, i, e)
			}
			e.ID = "taken"
			for _, ptr := range []uintptr{uintptr(unsafe.Pointer(unsafe.SliceData(f))), uintptr(unsafe.Pointer(unsafe.SliceData(l))), uintptr(unsafe.Pointer(e))} {
				if inRetired(ptr) {
					t.Fatalf("round %d event %d: memory of a retired chunk handed out before it was put back", round, i)
				}
			}
		}
		if len(retired) == 0 {
			t.Fatal("nothing retired")
		}
		p.Put(retired)
		retired = nil
	}
	// Done retires the chunks in use: an object's last events' memory goes back too.
	s.Fields(3)
	s.Strings(1)
	s.Event()
	retired = nil
	s.Done()
	if len(retired) != 3 {
		t.Errorf("Done retired %d chunks, want 3 (events, fields, strings)", len(retired))
	}
	retired = nil
	// Chunks put back are handed out again.
	before := len(p.fields)
	if before == 0 {
		t.Fatal("no field chunk in the pool after Put")
	}
	for range fieldsPerChunk / 30 { // after Done the slab holds none: one chunk, from the pool
		s.Fields(30)
	}
	if len(p.fields) != before-1 {
		t.Errorf("a new chunk did not come from the pool: %d chunks before, %d after", before, len(p.fields))
	}
}

func rangeOf[T any](s []T) [2]uintptr {
	if len(s) == 0 {
		return [2]uintptr{}
	}
	var z T
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	return [2]uintptr{lo, lo + uintptr(len(s))*unsafe.Sizeof(z)}
}
