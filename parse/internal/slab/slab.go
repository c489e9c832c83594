// Package slab hands a parser the memory of its events in chunks: the Event structs, their field
// slices and their string lists come from a few large allocations instead of one or more small ones
// per event.
//
// Why: a VPC flow record becomes an event of some thirty fields (1.5 kB) in about a microsecond, and
// allocating that block on its own (finding a free slot in a span of five, sweeping spans, marking
// the new object while the collector runs, setting its pointer bitmap) was a fifth of the parse.
// A chunk of many events pays those costs once.
//
// The price is retention: the events of one chunk (about a hundred) are freed together, when none
// of them is referenced any more. Events flow through ramen in batches (a batch for the lake, a
// chunk for detection), so they die together anyway; a consumer that keeps single events for long
// (none does) should copy what it keeps. The text an event's fields point to (its Original) is not
// handed out from here but stays one allocation per record: detectors keep substrings of it
// (group-by values), and a substring must pin its own record, not a chunk of other records' text.
//
// A consumer that keeps nothing of an event's memory (an ingest copies each event into its batch,
// and its detection keeps ids and values as text) can hand the memory back for the next events: a Slab with a Pool takes its chunks from
// it, and tells Retire of each chunk it is done with, whose events it has all handed out; the
// consumer puts those chunks back in the Pool once it is done with those events. Parsing a million
// flow records then reuses the same few megabytes instead of allocating 1.3 GB, which the
// collector had to sweep, and every page of which was a first touch (a fault, and cache misses).
//
// A Slab is used by one goroutine, for one object; its zero value is ready to use.
package slab

import (
	"unsafe"

	"github.com/ramen-siem/ramen/event"
)

// The chunk sizes, in bytes. An object's first chunks are an eighth of these, each next one twice
// as big, so that a small object wastes little. 32 kB is the largest size class: a larger chunk is a
// large object, whose allocation (a span of its own from the page heap) cost more than the small
// allocations it saves. A retained list can pin its chunk, which alerts may keep: that chunk is small.
const (
	eventChunk  = 16 << 10
	fieldChunk  = 32 << 10
	stringChunk = 2 << 10
	growth      = 8 // eventChunk/growth is the first chunk's size
)

const (
	eventsPerChunk  = eventChunk / int(unsafe.Sizeof(event.Event{}))
	fieldsPerChunk  = fieldChunk / int(unsafe.Sizeof(event.Field{}))
	stringsPerChunk = stringChunk / int(unsafe.Sizeof(""))
)

// Slab is a source of event memory. Each method returns memory no other call returns.
type Slab struct {
	// Pool, if set, gives the slab its chunks (full-size from the first), and Retire is called
	// with each chunk the slab is done with (and, from Done, with the last ones). A parser using a
	// Slab with a Pool must hand out (emit) each event before it builds the next: a retired chunk
	// holds only events handed out already.
	Pool   *Pool
	Retire func(Chunk)

	div int // the next chunks are 1/div of the full size (growth at first, then 1)

	events []event.Event
	ei     int // next free in events
	fields []event.Field
	fi     int
	strs   []string
	si     int
}

// size returns the length of the next chunk of a kind whose full chunk has n elements, and grows
// the chunks that follow.
func (s *Slab) size(n int) int {
	switch {
	case s.div == 0:
		s.div = growth
	case s.div > 1:
		s.div /= 2
	}
	return n / s.div
}

// New returns a new event of a type, for a record, with room for n fields: event.New, from the
// slab.
func (s *Slab) New(typ, original string, n int) *event.Event {
	e := s.Event()
	e.Type, e.Original, e.Fields = typ, original, s.Fields(n)
	return e
}

// Event returns a new, zero Event.
func (s *Slab) Event() *event.Event {
	if s.ei == len(s.events) {
		if s.Pool != nil {
			s.retire(Chunk{events: s.events})
			s.events, s.ei = s.Pool.events.get(eventsPerChunk), 0
			clear(s.events)
		} else {
			s.events, s.ei = make([]event.Event, s.size(eventsPerChunk)), 0
		}
	}
	e := &s.events[s.ei]
	s.ei++
	return e
}

// Fields returns an empty field slice with room for exactly n fields: appending more reallocates it
// instead of writing over another event's fields.
func (s *Slab) Fields(n int) []event.Field {
	if n > len(s.fields)-s.fi {
		if n > fieldsPerChunk/8 {
			return make([]event.Field, 0, n) // a rare wide event: not worth a chunk's tail
		}
		if s.Pool != nil {
			s.retire(Chunk{fields: s.fields})
			s.fields, s.fi = s.Pool.fields.get(fieldsPerChunk), 0
		} else {
			s.fields, s.fi = make([]event.Field, max(s.size(fieldsPerChunk), n)), 0
		}
	}
	f := s.fields[s.fi : s.fi : s.fi+n]
	s.fi += n
	return f
}

// Trim limits f, the slice Fields last returned, to room for c fields and takes back the rest of
// what was asked for, for the next call: for a parser that reserves the most fields an event can
// get and learns how many it got. Given any other slice it only limits its capacity.
func (s *Slab) Trim(f []event.Field, c int) []event.Field {
	r := cap(f) - c
	if r <= 0 {
		return f
	}
	if cap(f) <= s.fi && unsafe.SliceData(f) == &s.fields[s.fi-cap(f)] {
		s.fi -= r
	}
	return f[:len(f):c]
}

// Strings returns an empty string slice with room for exactly n strings, for a list value
// (event.Strings) such as related.ip.
func (s *Slab) Strings(n int) []string {
	if n > len(s.strs)-s.si {
		if n > stringsPerChunk/8 {
			return make([]string, 0, n)
		}
		if s.Pool != nil {
			s.retire(Chunk{strs: s.strs})
			s.strs, s.si = s.Pool.strs.get(stringsPerChunk), 0
		} else {
			s.strs, s.si = make([]string, max(s.size(stringsPerChunk), n)), 0
		}
	}
	l := s.strs[s.si : s.si : s.si+n]
	s.si += n
	return l
}

// Done retires the chunks the slab is using, once the parser has handed out its last event: an
// object's last chunks go back to the Pool too, which matters when objects are many and small.
func (s *Slab) Done() {
	if s.Pool == nil {
		return
	}
	s.retire(Chunk{events: s.events})
	s.retire(Chunk{fields: s.fields})
	s.retire(Chunk{strs: s.strs})
	s.events, s.ei, s.fields, s.fi, s.strs, s.si = nil, 0, nil, 0, nil, 0
}

// retire hands a chunk the slab is done with to Retire (the first chunk of each kind is none).
func (s *Slab) retire(c Chunk) {
	if s.Retire != nil && (c.events != nil || c.fields != nil || c.strs != nil) {
		s.Retire(c)
	}
}

// Chunk is a chunk of memory a Slab is done with: every event built in it has been handed out.
// Once the consumer is done with those events too, Pool.Put takes it back.
type Chunk struct {
	events []event.Event
	fields []event.Field
	strs   []string
}

// Pool holds chunks for Slabs to hand out again. It is safe for concurrent use: the parsers take
// from it, the consumer puts back.
type Pool struct {
	events free[event.Event]
	fields free[event.Field]
	strs   free[string]
}

// NewPool returns a pool that keeps up to n chunks of each kind (the rest go to the collector).
func NewPool(n int) *Pool {
	return &Pool{
		events: make(free[event.Event], n),
		fields: make(free[event.Field], n),
		strs:   make(free[string], n),
	}
}

// Put gives chunks back: the consumer holds none of their events any more. A nil Pool keeps none.
func (p *Pool) Put(cs []Chunk) {
	if p == nil {
		return
	}
	for _, c := range cs {
		p.events.put(c.events, eventsPerChunk)
		p.fields.put(c.fields, fieldsPerChunk)
		p.strs.put(c.strs, stringsPerChunk)
	}
}

// free is a list of full-size chunks of one kind.
type free[T any] chan []T

func (f free[T]) get(n int) []T {
	select {
	case c := <-f:
		return c
	default:
		return make([]T, n)
	}
}

// put keeps a full-size chunk (the first chunks of a slab without a pool are smaller), if there is
// room.
func (f free[T]) put(c []T, n int) {
	if len(c) != n {
		return
	}
	select {
	case f <- c:
	default:
	}
}
