package sigma

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Correlation is a compiled Sigma correlation rule.
type Correlation struct {
	Meta
	// Type is event_count, value_count, temporal, temporal_ordered, value_sum, value_avg or
	// value_percentile.
	Type     string
	GroupBy  []string
	Timespan time.Duration
	// Field is the field value_* correlations measure.
	Field string
	// Percentile is value_percentile's percentile (0 when the rule gives none: then the measure is
	// the share, in percent, of the window's events that have the newest event's value).
	Percentile float64
	// Generate is the rule's generate flag: the rules it refers to also alert on their own.
	Generate bool
	// Standalone is false for a correlation that only feeds another correlation.
	Standalone bool
	// Condition renders the condition ("gte 10", "gt 100 and lte 200").
	Condition string

	cond    []cmpOp
	key     string
	pos     int
	sources []*corrSource
	parents []parentLink
}

// Key is the correlation's identity: its id, else its name, else file and title.
func (c *Correlation) Key() string { return c.key }

type parentLink struct {
	c   *Correlation
	src int
}

// corrSource is one entry of a correlation's rules list.
type corrSource struct {
	ref  string
	rule *Rule
	corr *Correlation
	// for a rule: per log type, the group-by fields and the value field
	group map[string][]*fieldRef
	value map[string]*fieldRef
	// for a correlation: the names to read from its group, per group-by field
	groupNames []string
	valueName  string
}

// closesAtEnd reports whether the condition can only be judged once the window is over: an upper
// bound on a count or sum that grows with every event.
func (c *Correlation) closesAtEnd() bool {
	switch c.Type {
	case "event_count", "value_count", "value_sum", "temporal":
		for _, op := range c.cond {
			if op.op != "gt" && op.op != "gte" {
				return true
			}
		}
	}
	return false
}

func compileCorrelations(rs *RuleSet, docs []*document, byRef map[string]*document, ruleOf map[*document]*Rule) Errors {
	var errs Errors
	corrOf := map[*document]*Correlation{}
	var order []*document
	for _, d := range docs {
		if d.kind != KindCorrelation {
			continue
		}
		cs := d.corr
		c := &Correlation{Meta: d.meta, Type: cs.typ, GroupBy: cs.groupBy, Timespan: cs.timespan, Field: cs.field,
			Percentile: cs.percentile, Generate: cs.generate, Standalone: true, cond: cs.cond, key: ruleKey(&d.meta)}
		if len(c.cond) == 0 {
			c.cond = []cmpOp{{"gte", float64(len(cs.rules))}}
		}
		var parts []string
		for _, op := range c.cond {
			parts = append(parts, fmt.Sprintf("%s %g", op.op, op.v))
		}
		c.Condition = strings.Join(parts, " and ")
		corrOf[d] = c
		order = append(order, d)
	}
	bad := map[*document]bool{}
	// references
	for _, d := range order {
		c := corrOf[d]
		for _, ref := range d.corr.rules {
			t, ok := byRef[ref]
			if !ok {
				errs = append(errs, d.errf(elemNode(d.node.get("correlation").get("rules"), ref), "correlation refers to %q, which is not loaded (give the id or name of a rule or correlation)", ref))
				bad[d] = true
				continue
			}
			s := &corrSource{ref: ref}
			switch t.kind {
			case KindRule:
				if s.rule = ruleOf[t]; s.rule == nil {
					errs = append(errs, d.errf(elemNode(d.node.get("correlation").get("rules"), ref), "correlation refers to %q, which has errors", ref))
					bad[d] = true
					continue
				}
			case KindCorrelation:
				s.corr = corrOf[t]
			default:
				errs = append(errs, d.errf(d.node.get("correlation").get("rules"), "correlation refers to %q, a filter", ref))
				bad[d] = true
				continue
			}
			c.sources = append(c.sources, s)
		}
		for alias, m := range d.corr.aliases {
			for name := range m {
				found := false
				for _, r := range d.corr.rules {
					if r == name {
						found = true
					}
					if t, ok := byRef[r]; ok && (t.meta.Name == name || t.meta.ID == name) {
						found = true
					}
				}
				if !found {
					errs = append(errs, d.errf(d.node.get("correlation").get("aliases"), "alias %q names %q, which is not one of the correlation's rules", alias, name))
					bad[d] = true
				}
			}
		}
	}
	// cycles: a correlation may not reach itself through its sources
	for _, d := range order {
		if bad[d] {
			continue
		}
		if p := cyclePath(corrOf[d], nil); p != nil {
			var names []string
			for _, c := range p {
				names = append(names, fmt.Sprintf("%q", c.Title))
			}
			errs = append(errs, d.errf(d.node.get("correlation").get("rules"), "correlation chain has a cycle: %s", strings.Join(names, " -> ")))
			bad[d] = true
		}
	}
	// a correlation built on a bad one is bad too
	for changed := true; changed; {
		changed = false
		for _, d := range order {
			if bad[d] {
				continue
			}
			for _, s := range corrOf[d].sources {
				if s.corr != nil {
					for od, oc := range corrOf {
						if oc == s.corr && bad[od] {
							errs = append(errs, d.errf(d.node.get("correlation").get("rules"), "correlation refers to %q, which has errors", s.ref))
							bad[d] = true
							changed = true
						}
					}
				}
			}
		}
	}
	for _, d := range order {
		if bad[d] {
			continue
		}
		c := corrOf[d]
		if err := resolveCorrFields(rs, d, c); err != nil {
			errs = append(errs, err)
			bad[d] = true
			continue
		}
		c.pos = len(rs.corrs)
		rs.corrs = append(rs.corrs, c)
	}
	// wire up: rules and correlations feed the correlations that name them; what only feeds a
	// correlation without generate does not alert on its own
	for _, c := range rs.corrs {
		for i, s := range c.sources {
			if s.rule != nil {
				s.rule.corrs = appendOnce(s.rule.corrs, c)
			} else {
				s.corr.parents = append(s.corr.parents, parentLink{c, i})
			}
		}
	}
	gen := map[any]bool{}
	for _, c := range rs.corrs {
		for _, s := range c.sources {
			if c.Generate {
				if s.rule != nil {
					gen[s.rule] = true
				} else {
					gen[s.corr] = true
				}
			}
		}
	}
	for _, c := range rs.corrs {
		for _, s := range c.sources {
			if s.rule != nil {
				s.rule.Standalone = gen[s.rule]
			} else {
				s.corr.Standalone = gen[s.corr]
			}
		}
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	return errs
}

func appendOnce(l []*Correlation, c *Correlation) []*Correlation {
	for _, x := range l {
		if x == c {
			return l
		}
	}
	return append(l, c)
}

func cyclePath(c *Correlation, path []*Correlation) []*Correlation {
	for i, p := range path {
		if p == c {
			return append(append([]*Correlation{}, path[i:]...), c)
		}
	}
	path = append(path, c)
	for _, s := range c.sources {
		if s.corr != nil {
			if p := cyclePath(s.corr, path); p != nil {
				return p
			}
		}
	}
	return nil
}

// resolveCorrFields resolves group-by and value fields for each source: through the correlation's
// aliases, then the rule's logsource mapping and type aliases.
func resolveCorrFields(rs *RuleSet, d *document, c *Correlation) *Error {
	aliased := func(field string, s *corrSource) string {
		m, ok := d.corr.aliases[field]
		if !ok {
			return field
		}
		names := []string{s.ref}
		if s.rule != nil {
			names = append(names, s.rule.Name, s.rule.ID)
		} else {
			names = append(names, s.corr.Name, s.corr.ID)
		}
		for _, n := range names {
			if f, ok := m[n]; ok && n != "" {
				return f
			}
		}
		return field
	}
	for _, s := range c.sources {
		if s.corr != nil {
			for _, g := range c.GroupBy {
				s.groupNames = append(s.groupNames, aliased(g, s))
			}
			if c.Field != "" {
				s.valueName = aliased(c.Field, s)
			}
			continue
		}
		s.group = map[string][]*fieldRef{}
		s.value = map[string]*fieldRef{}
		tfs := resolveLogsource(s.rule.Logsource, rs.cfg.Logsources)
		for _, t := range s.rule.Types {
			var fields map[string]string
			for _, tf := range tfs {
				if tf.typ == t {
					fields = tf.fields
				}
			}
			cc := &compiler{cfg: rs.cfg, rs: rs, doc: d, typ: t, fields: fields, usedOK: map[*fieldRef]bool{}}
			cc.ptype, _ = rs.cfg.Types(t)
			for _, g := range c.GroupBy {
				s.group[t] = append(s.group[t], cc.field(aliased(g, s)))
			}
			if c.Field != "" {
				s.value[t] = cc.field(aliased(c.Field, s))
			}
		}
	}
	return nil
}
