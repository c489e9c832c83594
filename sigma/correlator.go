package sigma

import (
	"container/list"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ramen-siem/ramen/alert"
	"github.com/ramen-siem/ramen/event"
)

// Limits bound the memory of correlation state. When a limit is hit the oldest state goes first,
// and what is dropped is counted in Stats.
type Limits struct {
	// MaxGroups is how many groups (one per correlation and group-by value) may be open at once,
	// over all correlations. Beyond it the least recently updated group is evicted.
	MaxGroups int
	// MaxEntries is how many events one group's window keeps. Beyond it the oldest are dropped.
	MaxEntries int
	// MaxEventIDs is how many event ids an alert lists (alert.MaxEventIDs when 0).
	MaxEventIDs int
}

// DefaultLimits: 200,000 groups of up to 1,000 events each.
var DefaultLimits = Limits{MaxGroups: 200_000, MaxEntries: 1_000, MaxEventIDs: alert.MaxEventIDs}

// Stats counts what the correlator did, and what it had to drop to stay within its limits.
type Stats struct {
	Groups         int    `json:"groups"`          // groups open now
	Entries        int    `json:"entries"`         // events held in open windows now
	Alerts         uint64 `json:"alerts"`          // correlation alerts raised
	EvictedGroups  uint64 `json:"evicted_groups"`  // groups dropped for MaxGroups, window still open
	DroppedEntries uint64 `json:"dropped_entries"` // events dropped from a window for MaxEntries
	NoGroup        uint64 `json:"no_group"`        // matches skipped: a group-by field had no value
	Restored       int    `json:"restored"`        // groups read by the last Restore
	Discarded      int    `json:"discarded"`       // groups in the last snapshot of correlations no longer loaded
}

// Correlator runs a rule set's correlations over matches fed in event-time order. It is not safe for
// concurrent use.
type Correlator struct {
	rs     *RuleSet
	lim    Limits
	groups map[string]*group
	lru    *list.List // of *group, least recently updated first
	stats  Stats
	now    int64 // the latest event time seen (unix ns)
	adds   int
	out    []*alert.Alert
}

// group is the window of one correlation for one group-by value.
type group struct {
	c       *Correlation
	key     string
	values  []string
	entries []entry
	elem    *list.Element
	// incremental measures over entries
	distinct map[string]int // value_count, value_percentile: value -> events
	perSrc   []int          // temporal: events per source
	sum      float64        // value_sum, value_avg
	nums     int            // value_sum, value_avg: entries with a number
	starts   []int64        // temporal_ordered: start of the partial sequence ending at each position
	startIDs [][]string     // temporal_ordered: its event ids
	opened   int64          // time of the window's first event
}

type entry struct {
	T     int64    `json:"t"`
	Src   int      `json:"s,omitempty"`
	IDs   []string `json:"ids,omitempty"`
	V     string   `json:"v,omitempty"`
	N     float64  `json:"n,omitempty"`
	HasN  bool     `json:"hn,omitempty"`
	Count int      `json:"c,omitempty"` // events behind the entry (a chained correlation's alert), 0 = 1
}

// NewCorrelator returns a correlator for the rule set's correlations. Zero limits take the defaults.
func NewCorrelator(rs *RuleSet, lim Limits) *Correlator {
	if lim.MaxGroups <= 0 {
		lim.MaxGroups = DefaultLimits.MaxGroups
	}
	if lim.MaxEntries <= 0 {
		lim.MaxEntries = DefaultLimits.MaxEntries
	}
	if lim.MaxEventIDs <= 0 {
		lim.MaxEventIDs = alert.MaxEventIDs
	}
	return &Correlator{rs: rs, lim: lim, groups: map[string]*group{}, lru: list.New()}
}

// Stats returns the counters.
func (c *Correlator) Stats() Stats {
	s := c.stats
	s.Groups = len(c.groups)
	s.Entries = 0
	for _, g := range c.groups {
		s.Entries += len(g.entries)
	}
	return s
}

// Add feeds an event and the rules it matched (as RuleSet.Match returns them), and returns the
// alerts of the correlations that fire. Events must come in event-time order; one a little late is
// counted at its own time.
func (c *Correlator) Add(e *event.Event, matched []*Rule) []*alert.Alert {
	c.out = nil
	t := e.Timestamp.UnixNano()
	if t > c.now {
		c.now = t
	}
	for _, r := range matched {
		for _, corr := range r.corrs {
			// every position of the rule in the correlation, last first (temporal_ordered must
			// not let one event fill two consecutive positions)
			for i := len(corr.sources) - 1; i >= 0; i-- {
				s := corr.sources[i]
				if s.rule != r {
					continue
				}
				vals, ok := groupValuesFromEvent(e, s, corr)
				if !ok {
					c.stats.NoGroup++
					continue
				}
				en := entry{T: t, Src: i, IDs: []string{e.ID}}
				if corr.Field != "" {
					if f := s.value[e.Type]; f != nil {
						en.V, en.N, en.HasN = fieldValue(e, f)
						en.V = strings.Clone(en.V) // kept for the window: not a view into the whole record
					}
				}
				c.feed(corr, vals, en, e.Type)
			}
		}
	}
	c.adds++
	if c.adds%4096 == 0 {
		c.sweep(false)
	}
	return c.out
}

// Flush closes every open window, as at the end of the input, and returns the alerts of the
// correlations whose condition can only be judged at the end of a window (lt, lte, eq, neq).
func (c *Correlator) Flush() []*alert.Alert {
	c.out = nil
	c.sweep(true)
	return c.out
}

// sweep closes the windows that are over (all of them when final).
func (c *Correlator) sweep(final bool) {
	var done []*group
	for _, g := range c.groups {
		if final || c.now-g.opened > int64(g.c.Timespan) && (len(g.entries) == 0 || c.now-g.entries[len(g.entries)-1].T > int64(g.c.Timespan)) {
			done = append(done, g)
		}
	}
	sort.Slice(done, func(i, j int) bool { return done[i].key < done[j].key })
	for _, g := range done {
		if g.c.closesAtEnd() && len(g.entries) > 0 {
			if v, ok := c.measure(g, nil); ok && g.c.holds(v) {
				c.fire(g, v, "")
			}
		}
		c.remove(g)
	}
}

func (c *Correlator) remove(g *group) {
	delete(c.groups, g.key)
	if g.elem != nil {
		c.lru.Remove(g.elem)
		g.elem = nil
	}
}

func groupValuesFromEvent(e *event.Event, s *corrSource, corr *Correlation) ([]string, bool) {
	if len(corr.GroupBy) == 0 {
		return nil, true
	}
	fs := s.group[e.Type]
	vals := make([]string, len(fs))
	for i, f := range fs {
		v, _, _ := fieldValue(e, f)
		if v == "" {
			return nil, false
		}
		vals[i] = v
	}
	return vals, true
}

// fieldValue reads a field's first value as text, and as a number when it is one.
func fieldValue(e *event.Event, f *fieldRef) (string, float64, bool) {
	l := f.lookup(e, nil)
	if len(l) == 0 {
		return "", 0, false
	}
	v := l[0]
	n, ok := numberOf(v)
	return v.Text(), n, ok
}

func (c *Correlator) feed(corr *Correlation, vals []string, en entry, typ string) {
	key := strconv.Itoa(corr.pos) + "\x00" + strings.Join(vals, "\x00")
	g := c.groups[key]
	if g != nil && corr.closesAtEnd() && en.T-g.opened > int64(corr.Timespan) {
		// the fixed window of an upper-bound condition is over: judge it, start a new one
		if v, ok := c.measure(g, nil); ok && corr.holds(v) {
			c.fire(g, v, typ)
		}
		c.remove(g)
		g = nil
	}
	if g == nil {
		if len(c.groups) >= c.lim.MaxGroups {
			old := c.lru.Front().Value.(*group)
			c.remove(old)
			c.stats.EvictedGroups++
		}
		g = newGroup(corr, key, vals)
		g.opened = en.T
		g.elem = c.lru.PushBack(g)
		c.groups[key] = g
	} else {
		c.lru.MoveToBack(g.elem)
	}
	if !corr.closesAtEnd() {
		g.expire(en.T - int64(corr.Timespan))
	}
	if corr.Type == "temporal_ordered" {
		c.ordered(g, en, typ)
		return
	}
	g.add(en)
	if len(g.entries) > c.lim.MaxEntries {
		g.drop(0)
		c.stats.DroppedEntries++
	}
	if corr.closesAtEnd() {
		return
	}
	if v, ok := c.measure(g, &en); ok && corr.holds(v) {
		c.fire(g, v, typ)
		c.remove(g)
	}
}

func newGroup(corr *Correlation, key string, vals []string) *group {
	// The values are substrings of the event's record: a group that kept them would keep the whole
	// record (kilobytes of CloudTrail) alive for as long as it lives.
	for i := range vals {
		vals[i] = strings.Clone(vals[i])
	}
	g := &group{c: corr, key: key, values: vals}
	switch corr.Type {
	case "value_count", "value_percentile":
		g.distinct = map[string]int{}
	case "temporal":
		g.perSrc = make([]int, len(corr.sources))
	case "temporal_ordered":
		g.starts = make([]int64, len(corr.sources))
		g.startIDs = make([][]string, len(corr.sources))
		for i := range g.starts {
			g.starts[i] = -1
		}
	}
	return g
}

func (g *group) add(en entry) {
	g.entries = append(g.entries, en)
	g.account(en, 1)
}

func (g *group) account(en entry, sign int) {
	if g.distinct != nil && (en.V != "" || en.HasN) {
		g.distinct[en.V] += sign
		if g.distinct[en.V] <= 0 {
			delete(g.distinct, en.V)
		}
	}
	if g.perSrc != nil {
		g.perSrc[en.Src] += sign
	}
	if en.HasN {
		g.sum += float64(sign) * en.N
		g.nums += sign
	}
}

func (g *group) drop(i int) {
	g.account(g.entries[i], -1)
	g.entries = append(g.entries[:i], g.entries[i+1:]...)
}

// expire drops the entries older than the cutoff (a sliding window).
func (g *group) expire(cutoff int64) {
	n := 0
	for n < len(g.entries) && g.entries[n].T < cutoff {
		g.account(g.entries[n], -1)
		n++
	}
	if n > 0 {
		g.entries = append(g.entries[:0], g.entries[n:]...)
		if len(g.entries) > 0 {
			g.opened = g.entries[0].T
		}
	}
	for i, s := range g.starts {
		if s >= 0 && s < cutoff {
			g.starts[i] = -1
			g.startIDs[i] = nil
		}
	}
}

// measure computes the correlation's value over the group's window; last is the newest entry.
func (c *Correlator) measure(g *group, last *entry) (float64, bool) {
	switch g.c.Type {
	case "event_count":
		n := 0
		for _, e := range g.entries {
			n += max(e.Count, 1)
		}
		return float64(n), true
	case "value_count":
		return float64(len(g.distinct)), true
	case "temporal":
		n := 0
		for _, k := range g.perSrc {
			if k > 0 {
				n++
			}
		}
		return float64(n), true
	case "value_sum":
		return g.sum, g.nums > 0
	case "value_avg":
		if g.nums == 0 {
			return 0, false
		}
		return g.sum / float64(g.nums), true
	case "value_percentile":
		if g.c.Percentile > 0 {
			var xs []float64
			for _, e := range g.entries {
				if e.HasN {
					xs = append(xs, e.N)
				}
			}
			if len(xs) == 0 {
				return 0, false
			}
			sort.Float64s(xs)
			// nearest rank
			r := int(math.Ceil(g.c.Percentile/100*float64(len(xs)))) - 1
			r = max(0, min(r, len(xs)-1))
			return xs[r], true
		}
		if last == nil || len(g.entries) == 0 {
			return 0, false
		}
		return 100 * float64(g.distinct[last.V]) / float64(len(g.entries)), true
	}
	return 0, false
}

func (corr *Correlation) holds(v float64) bool {
	for _, op := range corr.cond {
		if !op.holds(v) {
			return false
		}
	}
	return true
}

// ordered advances a temporal_ordered group: starts[i] is the start time of the latest partial
// sequence that has reached position i within the timespan.
func (c *Correlator) ordered(g *group, en entry, typ string) {
	i := en.Src
	ts := int64(g.c.Timespan)
	switch {
	case i == 0:
		g.starts[0] = en.T
		g.startIDs[0] = en.IDs
	case g.starts[i-1] >= 0 && en.T-g.starts[i-1] <= ts:
		if g.starts[i-1] >= g.starts[i] {
			g.starts[i] = g.starts[i-1]
			g.startIDs[i] = append(append([]string{}, g.startIDs[i-1]...), en.IDs...)
		}
	default:
		return
	}
	g.entries = append(g.entries, en)
	if len(g.entries) > c.lim.MaxEntries {
		g.entries = g.entries[1:]
		c.stats.DroppedEntries++
	}
	last := len(g.starts) - 1
	if g.starts[last] >= 0 {
		// only the events of the completed sequence make the alert
		ids := g.startIDs[last]
		start := g.starts[last]
		g.entries = []entry{{T: start, IDs: ids[:1]}, {T: en.T, IDs: ids[1:], Count: len(ids) - 1}}
		c.fire(g, float64(len(g.starts)), typ)
		c.remove(g)
	}
}

// fire raises the group's alert and feeds it to the correlations built on this one.
func (c *Correlator) fire(g *group, v float64, typ string) {
	corr := g.c
	var ids []string
	count := 0
	first, last := int64(math.MaxInt64), int64(math.MinInt64)
	for _, e := range g.entries {
		ids = append(ids, e.IDs...)
		count += max(e.Count, 1)
		first = min(first, e.T)
		last = max(last, e.T)
	}
	if corr.Type == "temporal_ordered" {
		count = len(ids)
	}
	if len(ids) > c.lim.MaxEventIDs {
		ids = ids[len(ids)-c.lim.MaxEventIDs:]
	}
	group := map[string]string{}
	for i, k := range corr.GroupBy {
		if i < len(g.values) {
			group[k] = g.values[i]
		}
	}
	if corr.Standalone {
		val := v
		a := &alert.Alert{
			Rule:      corrAlertRule(corr),
			Severity:  alert.ParseSeverity(corr.Level),
			LogType:   typ,
			EventIDs:  ids,
			Group:     group,
			FirstSeen: time.Unix(0, first).UTC(),
			LastSeen:  time.Unix(0, last).UTC(),
			Count:     count,
			Value:     &val,
		}
		if len(group) == 0 {
			a.Group = nil
		}
		a.ID = alert.NewID(a.Rule.ID, group, ids)
		c.out = append(c.out, a)
		c.stats.Alerts++
	}
	for _, p := range corr.parents {
		s := p.c.sources[p.src]
		vals := make([]string, len(p.c.GroupBy))
		ok := true
		for i, name := range s.groupNames {
			vals[i], ok = group[name]
			if !ok || vals[i] == "" {
				break
			}
		}
		if !ok {
			c.stats.NoGroup++
			continue
		}
		en := entry{T: last, Src: p.src, IDs: ids, Count: count}
		if s.valueName != "" {
			en.V = group[s.valueName]
			if n, err := strconv.ParseFloat(en.V, 64); err == nil {
				en.N, en.HasN = n, true
			}
		}
		c.feed(p.c, vals, en, typ)
	}
}

func corrAlertRule(c *Correlation) alert.Rule {
	return alert.Rule{ID: c.key, Title: c.Title, Level: c.Level, Tags: c.Tags, Author: c.Author,
		Description: c.Description, References: c.References, File: c.File, Kind: "correlation", Correlation: c.Type}
}

// RuleAlert is the alert of a single rule matching a single event.
func RuleAlert(r *Rule, e *event.Event) *alert.Alert {
	ids := []string{e.ID}
	a := &alert.Alert{
		Rule: alert.Rule{ID: r.key, Title: r.Title, Level: r.Level, Tags: r.Tags, Author: r.Author,
			Description: r.Description, References: r.References, File: r.File, Kind: "sigma"},
		Severity:  alert.ParseSeverity(r.Level),
		LogType:   e.Type,
		EventIDs:  ids,
		Fields:    r.MatchedFields(e),
		FirstSeen: e.Timestamp.UTC(),
		LastSeen:  e.Timestamp.UTC(),
		Count:     1,
	}
	a.ID = alert.NewID(a.Rule.ID, nil, ids)
	return a
}

// Detector runs a rule set over events: single-rule alerts for standalone rules, and the
// correlations. It is not safe for concurrent use (the rule set is; use one Detector per stream).
type Detector struct {
	rs   *RuleSet
	corr *Correlator
	buf  []*Rule
}

// NewDetector returns a detector for the rule set with correlation state bounded by lim.
func NewDetector(rs *RuleSet, lim Limits) *Detector {
	return &Detector{rs: rs, corr: NewCorrelator(rs, lim)}
}

// Correlator returns the detector's correlation state (for Stats, Snapshot and Restore).
func (d *Detector) Correlator() *Correlator { return d.corr }

// Detect matches one event and returns its alerts. Feed events in event-time order.
func (d *Detector) Detect(e *event.Event) []*alert.Alert {
	d.buf = d.rs.Match(e, d.buf[:0])
	if len(d.buf) == 0 {
		return nil
	}
	var out []*alert.Alert
	for _, r := range d.buf {
		if r.Standalone {
			out = append(out, RuleAlert(r, e))
		}
	}
	return append(out, d.corr.Add(e, d.buf)...)
}

// Flush ends the input: it closes every correlation window and returns the alerts that only the end
// of a window can raise.
func (d *Detector) Flush() []*alert.Alert { return d.corr.Flush() }
