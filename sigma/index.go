package sigma

import (
	"sort"
	"strings"

	"github.com/ramen-siem/ramen/event"
)

// typeIndex holds the rules of one log type. Each rule is filed under its most selective literal (a
// field and the values one of which the field must equal for the rule to match at all: eventName
// and the like), so an event is tested only against the rules filed under its own values, and the
// few rules without such a literal.
type typeIndex struct {
	matchers []*matcher
	keys     []*fieldRef             // the index fields, most used first
	byValue  []map[string][]*matcher // per key: lower-case value -> matchers
	rest     []*matcher              // rules with no necessary literal
	stats    map[string]int          // for Describe: rules per index field
}

// needs returns, for a condition, fields with the literal values one of which each must equal for
// the condition to hold (a necessary condition, not a sufficient one).
func needs(x expr) map[*fieldRef][]string {
	switch v := x.(type) {
	case *item:
		if v.field != nil && len(v.literals) > 0 {
			return map[*fieldRef][]string{v.field: v.literals}
		}
	case andX:
		out := map[*fieldRef][]string{}
		for _, k := range v {
			for f, l := range needs(k) {
				if prev, ok := out[f]; !ok || len(l) < len(prev) {
					out[f] = l
				}
			}
		}
		return out
	case orX:
		var out map[*fieldRef][]string
		for i, k := range v {
			n := needs(k)
			if i == 0 {
				out = n
				continue
			}
			for f, l := range out {
				m, ok := n[f]
				if !ok {
					delete(out, f)
					continue
				}
				out[f] = union(l, m)
			}
		}
		return out
	}
	return nil
}

func union(a, b []string) []string {
	out := append([]string(nil), a...)
	for _, s := range b {
		dup := false
		for _, t := range a {
			if s == t {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, s)
		}
	}
	return out
}

func (rs *RuleSet) buildIndex() {
	rs.byType = map[string]*typeIndex{}
	for _, r := range rs.rules {
		for _, t := range r.Types {
			ix := rs.byType[t]
			if ix == nil {
				ix = &typeIndex{stats: map[string]int{}}
				rs.byType[t] = ix
			}
			m := r.matchers[t]
			m.slot = len(ix.matchers)
			ix.matchers = append(ix.matchers, m)
		}
	}
	for _, ix := range rs.byType {
		cands := make([]map[*fieldRef][]string, len(ix.matchers))
		freq := map[*fieldRef]int{}
		for i, m := range ix.matchers {
			cands[i] = needs(m.cond)
			for f := range cands[i] {
				freq[f]++
			}
		}
		keyPos := map[*fieldRef]int{}
		for i, m := range ix.matchers {
			var best *fieldRef
			for f, l := range cands[i] {
				if best == nil || freq[f] > freq[best] || freq[f] == freq[best] && (len(l) < len(cands[i][best]) || len(l) == len(cands[i][best]) && f.id < best.id) {
					best = f
				}
			}
			if best == nil {
				ix.rest = append(ix.rest, m)
				continue
			}
			p, ok := keyPos[best]
			if !ok {
				p = len(ix.keys)
				keyPos[best] = p
				ix.keys = append(ix.keys, best)
				ix.byValue = append(ix.byValue, map[string][]*matcher{})
			}
			for _, lit := range cands[i][best] {
				ix.byValue[p][lit] = append(ix.byValue[p][lit], m)
			}
			ix.stats[best.name]++
		}
	}
}

// IndexStats describes the index of one log type: how many rules are filed under each field, and
// how many are tested against every event of the type.
func (rs *RuleSet) IndexStats(typ string) (byField map[string]int, always int) {
	ix := rs.byType[typ]
	if ix == nil {
		return nil, 0
	}
	return ix.stats, len(ix.rest)
}

// Match returns the rules that match the event, appended to dst. It tests only the rules of the
// event's log type that can match it (see typeIndex). A rule that only feeds correlations is
// returned too (see Rule.Standalone).
func (rs *RuleSet) Match(e *event.Event, dst []*Rule) []*Rule {
	ix := rs.byType[e.Type]
	if ix == nil {
		return dst
	}
	c := rs.getCtx(e)
	defer rs.putCtx(c)
	if len(c.seen) < len(ix.matchers) {
		c.seen = make([]uint32, len(ix.matchers)+16)
	}
	test := func(m *matcher) {
		if c.seen[m.slot] == c.gen {
			return
		}
		c.seen[m.slot] = c.gen
		if m.cond.eval(c) {
			dst = append(dst, m.rule)
		}
	}
	var lower []string
	for k, f := range ix.keys {
		vals := c.values(f)
		lower = lower[:0]
		for _, v := range vals {
			switch v.Kind() {
			case event.KindStrings:
				for _, s := range v.List() {
					lower = append(lower, strings.ToLower(s))
				}
				lower = append(lower, strings.ToLower(v.Text()))
			case event.KindString, event.KindJSON:
				lower = append(lower, strings.ToLower(v.Str()))
			case event.KindNull:
			default:
				lower = append(lower, strings.ToLower(v.Text()))
			}
		}
		for _, s := range lower {
			for _, m := range ix.byValue[k][s] {
				test(m)
			}
		}
	}
	for _, m := range ix.rest {
		test(m)
	}
	// keep file order, whatever order the index found them in
	if len(dst) > 1 {
		sort.SliceStable(dst, func(i, j int) bool { return rs.order(dst[i]) < rs.order(dst[j]) })
	}
	return dst
}

func (rs *RuleSet) order(r *Rule) int { return r.pos }

// MatchedFields returns the fields the rule reads that have a value in the event, with their values
// as text (cut to 256 bytes), for an alert.
func (r *Rule) MatchedFields(e *event.Event) map[string]string {
	m := r.matchers[e.Type]
	if m == nil {
		return nil
	}
	out := map[string]string{}
	var buf []event.Value
	for _, f := range m.fields {
		buf = f.lookup(e, buf[:0])
		if len(buf) == 0 {
			continue
		}
		var parts []string
		for _, v := range buf {
			parts = append(parts, v.Text())
		}
		s := strings.Join(parts, ", ")
		if len(s) > 256 {
			s = s[:256] + "…"
		}
		out[f.name] = s
	}
	return out
}
