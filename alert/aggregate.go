package alert

import (
	"slices"
	"time"
)

// Aggregator folds repeats into one alert, as the design asks: an alert of the same rule and group
// (correlation group-by values; none for a single-event rule) whose events begin within Window of the
// first event of an open alert updates that alert (count, last seen, event ids) instead of standing
// alone; a steady stream thus makes one alert per window, not one that never closes. A rule that fires on every rejected flow from the internet then makes one alert an hour
// with its count, not one per flow.
//
// The aggregated alert keeps the id of its first alert, so writing its updated state again (a later
// batch) gives a newer row of the same alert, which compaction keeps in place of the older ones.
type Aggregator struct {
	Window time.Duration
	open   map[string]*Alert
	dirty  map[string]bool
	closed []*Alert  // alerts whose window ended with changes not yet reported
	newest time.Time // the latest event time seen, for expiring open alerts
}

// DefaultWindow is the aggregation window when none is set.
const DefaultWindow = time.Hour

// NewAggregator returns an aggregator with the given window (DefaultWindow if zero).
func NewAggregator(window time.Duration) *Aggregator {
	if window <= 0 {
		window = DefaultWindow
	}
	return &Aggregator{Window: window, open: map[string]*Alert{}, dirty: map[string]bool{}}
}

// Add takes an alert, merging it into an open one of the same rule and group when it is a repeat.
func (g *Aggregator) Add(a *Alert) {
	if a.LastSeen.After(g.newest) {
		g.newest = a.LastSeen
	}
	key := a.Rule.ID + "\x00" + a.GroupString()
	cur, ok := g.open[key]
	if ok && a.FirstSeen.Before(cur.FirstSeen.Add(g.Window)) && !a.FirstSeen.Before(cur.FirstSeen.Add(-g.Window)) {
		cur.Count += a.Count
		if a.LastSeen.After(cur.LastSeen) {
			cur.LastSeen = a.LastSeen
			cur.Fields = a.Fields // the latest event's values
		}
		if a.FirstSeen.Before(cur.FirstSeen) {
			cur.FirstSeen = a.FirstSeen
		}
		for _, id := range a.EventIDs {
			if len(cur.EventIDs) >= MaxEventIDs {
				break
			}
			if !slices.Contains(cur.EventIDs, id) {
				cur.EventIDs = append(cur.EventIDs, id)
			}
		}
		g.dirty[key] = true
		return
	}
	if ok && g.dirty[key] {
		g.closed = append(g.closed, cur) // its window is over: report its last state
	}
	c := *a
	c.EventIDs = slices.Clone(a.EventIDs)
	g.open[key] = &c
	g.dirty[key] = true
}

// Updated returns copies of the alerts that are new or changed since the last call, oldest first,
// and forgets the open alerts whose window has passed (by event time).
func (g *Aggregator) Updated() []*Alert {
	out := make([]*Alert, 0, len(g.dirty)+len(g.closed))
	out = append(out, g.closed...)
	g.closed = nil
	for key := range g.dirty {
		c := *g.open[key]
		c.EventIDs = slices.Clone(c.EventIDs)
		out = append(out, &c)
	}
	clear(g.dirty)
	for key, a := range g.open {
		if a.FirstSeen.Add(g.Window).Before(g.newest) {
			delete(g.open, key)
		}
	}
	slices.SortFunc(out, func(x, y *Alert) int {
		if c := x.FirstSeen.Compare(y.FirstSeen); c != 0 {
			return c
		}
		return compareStrings(x.ID, y.ID)
	})
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
