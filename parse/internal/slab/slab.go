// Package slab hands a parser the memory of its events in chunks: the Event structs, their field
// slices and their string lists come from a few large allocations instead of one or more small ones
// per event.
//
// Why: a VPC flow record becomes an event of some thirty fields (1.5 kB) in about a microsecond, and
// allocating that block on its own (finding a free slot in a span of five, sweeping spans, marking
// the new object while the collector runs, setting its pointer bitmap) was a fifth of the parse.
// A chunk of many events pays those costs once.
//
// The price is retention: the events of one chunk are freed together, when none of them is referenced
// any more. Events flow through ramen in batches (a batch for the lake, a chunk for detection), so
// they die together anyway; a consumer that keeps single events for long (none does) should copy
// what it keeps. The text an event's fields point to (its Original) is not handed out from here but
// stays one allocation per record: detectors keep substrings of it (group-by values), and a substring
// must pin its own record, not a chunk of other records' text.
//
// A Slab is used by one goroutine, for one object; its zero value is ready to use.
package slab

import "github.com/ramen-siem/ramen/event"

// The chunk sizes. The first chunk of an object holds firstEvents events' worth, each next one
// twice as many up to maxEvents, so a small object wastes little and a large one allocates rarely.
// maxEvents events of 32 fields are about 45 kB: the most one retained event can pin. Chunks of 16
// to 128 events parsed VPC flow logs equally fast.
const (
	firstEvents    = 8
	maxEvents      = 32
	fieldsPerEvent = 32 // chunk sizing only: an event may take more or fewer
	stringsPerList = 4
)

// Slab is a source of event memory. Each method returns memory no other call returns.
type Slab struct {
	n int // events per chunk

	events []event.Event
	ei     int // next free in events
	fields []event.Field
	fi     int
	strs   []string
	si     int
}

// grow returns the next chunk size in events.
func (s *Slab) grow() int {
	switch {
	case s.n == 0:
		s.n = firstEvents
	case s.n < maxEvents:
		s.n *= 2
	}
	return s.n
}

// Event returns a new, zero Event.
func (s *Slab) Event() *event.Event {
	if s.ei == len(s.events) {
		s.events, s.ei = make([]event.Event, s.grow()), 0
	}
	e := &s.events[s.ei]
	s.ei++
	return e
}

// Fields returns an empty field slice with room for exactly n fields: appending more reallocates it
// instead of writing over another event's fields.
func (s *Slab) Fields(n int) []event.Field {
	if n > len(s.fields)-s.fi {
		size := max(s.n, firstEvents) * fieldsPerEvent
		if n > size/4 {
			return make([]event.Field, 0, n) // a rare wide event: not worth a chunk's tail
		}
		s.fields, s.fi = make([]event.Field, size), 0
	}
	f := s.fields[s.fi : s.fi : s.fi+n]
	s.fi += n
	return f
}

// Strings returns an empty string slice with room for exactly n strings, for a list value
// (event.Strings) such as related.ip.
func (s *Slab) Strings(n int) []string {
	if n > len(s.strs)-s.si {
		size := max(s.n, firstEvents) * stringsPerList
		if n > size/4 {
			return make([]string, 0, n)
		}
		s.strs, s.si = make([]string, size), 0
	}
	l := s.strs[s.si : s.si : s.si+n]
	s.si += n
	return l
}
