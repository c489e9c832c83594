package sigma

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Kind says what a Sigma document is.
type Kind uint8

const (
	KindRule        Kind = iota // a detection rule (logsource + detection)
	KindCorrelation             // a correlation rule (correlation section)
	KindFilter                  // a filter (filter section)
)

func (k Kind) String() string {
	return [...]string{"rule", "correlation", "filter"}[k]
}

// Meta is what every Sigma document may carry besides its logic.
type Meta struct {
	Title          string
	ID             string
	Name           string
	Status         string
	Description    string
	License        string
	Author         string
	References     []string
	Date           string
	Modified       string
	Tags           []string
	Level          string // informational, low, medium, high, critical, or ""
	FalsePositives []string
	Fields         []string
	Scope          []string
	Taxonomy       string
	Related        []Related
	Logsource      Logsource
	// File and Line locate the document's first line.
	File string
	Line int
}

// Related is one entry of a rule's related list.
type Related struct {
	ID   string
	Type string
}

// Logsource is a rule's logsource section.
type Logsource struct {
	Category   string
	Product    string
	Service    string
	Definition string
}

// String renders the logsource as product/service/category with empty parts left out.
func (l Logsource) String() string {
	var p []string
	for _, s := range []string{l.Product, l.Service, l.Category} {
		if s != "" {
			p = append(p, s)
		}
	}
	if len(p) == 0 {
		return "(empty)"
	}
	return strings.Join(p, "/")
}

// document is one parsed YAML document, before compilation.
type document struct {
	kind Kind
	meta Meta
	node *node

	// rules and filters
	detection *node            // the detection or filter section (a map of search identifiers + condition)
	searches  map[string]*node // search identifier -> definition
	order     []string         // search identifiers in file order
	condition []condSource     // the condition(s), ORed

	// filters
	filterRules []string

	// correlations
	corr *corrSpec
}

type condSource struct {
	text string
	line int
}

type corrSpec struct {
	typ        string
	rules      []string
	rulesLine  int
	groupBy    []string
	timespan   time.Duration
	generate   bool
	field      string
	percentile float64 // value_percentile: the percentile, 0 when not given
	cond       []cmpOp
	aliases    map[string]map[string]string // alias -> rule name -> field
	line       int
}

// cmpOp is one comparison of a correlation condition.
type cmpOp struct {
	op string // gt gte lt lte eq neq
	v  float64
}

func (c cmpOp) holds(x float64) bool {
	switch c.op {
	case "gt":
		return x > c.v
	case "gte":
		return x >= c.v
	case "lt":
		return x < c.v
	case "lte":
		return x <= c.v
	case "eq":
		return x == c.v
	case "neq":
		return x != c.v
	}
	return false
}

var levels = map[string]bool{"informational": true, "low": true, "medium": true, "high": true, "critical": true}

var statuses = map[string]bool{"stable": true, "test": true, "experimental": true, "deprecated": true, "unsupported": true}

// parseDocument reads one YAML document into a document, checking every known field's type.
func parseDocument(file string, n *node) (*document, *Error) {
	if n.kind != nodeMap {
		return nil, errAt(file, n, "a Sigma document is a map, not a %s", n.kind)
	}
	d := &document{node: n}
	d.meta.File, d.meta.Line = file, n.line
	var err *Error
	str := func(key string, dst *string) {
		v := n.get(key)
		if v == nil || err != nil {
			return
		}
		switch v.kind {
		case nodeNull:
		case nodeMap, nodeSeq:
			err = errAt(file, v, "%s must be a text, not a %s", key, v.kind)
		default:
			*dst = v.text
		}
	}
	list := func(key string, dst *[]string) {
		v := n.get(key)
		if v == nil || err != nil {
			return
		}
		*dst, err = stringList(file, key, v)
	}
	str("title", &d.meta.Title)
	str("id", &d.meta.ID)
	str("name", &d.meta.Name)
	str("status", &d.meta.Status)
	str("description", &d.meta.Description)
	str("license", &d.meta.License)
	str("author", &d.meta.Author)
	str("date", &d.meta.Date)
	str("modified", &d.meta.Modified)
	str("level", &d.meta.Level)
	str("taxonomy", &d.meta.Taxonomy)
	list("references", &d.meta.References)
	list("tags", &d.meta.Tags)
	list("falsepositives", &d.meta.FalsePositives)
	list("fields", &d.meta.Fields)
	list("scope", &d.meta.Scope)
	if err != nil {
		return nil, err
	}
	if v := n.get("action"); v != nil {
		return nil, errAt(file, v, "Sigma v1 rule collections (action: %s) are not supported: write each rule as its own document", v.text)
	}
	if d.meta.Title == "" {
		return nil, errAt(file, n, "title is missing (every Sigma document needs one)")
	}
	if len(d.meta.Title) > 256 {
		return nil, errAt(file, n.get("title"), "title is longer than 256 characters")
	}
	if d.meta.Level != "" && !levels[d.meta.Level] {
		return nil, errAt(file, n.get("level"), "unknown level %q (informational, low, medium, high or critical)", d.meta.Level)
	}
	if d.meta.Status != "" && !statuses[d.meta.Status] {
		return nil, errAt(file, n.get("status"), "unknown status %q (stable, test, experimental, deprecated or unsupported)", d.meta.Status)
	}
	if d.meta.Taxonomy != "" && d.meta.Taxonomy != "sigma" && d.meta.Taxonomy != "ecs" {
		// Field names are resolved against ECS and the native record either way; other taxonomies
		// would need a translation ramen does not have.
		return nil, errAt(file, n.get("taxonomy"), "unsupported taxonomy %q (ramen reads sigma and ecs field names)", d.meta.Taxonomy)
	}
	if v := n.get("related"); v != nil {
		if v.kind != nodeSeq {
			return nil, errAt(file, v, "related must be a list of {id, type}")
		}
		for _, r := range v.vals {
			if r.kind != nodeMap || r.get("id") == nil {
				return nil, errAt(file, r, "a related entry is a map with id and type")
			}
			rel := Related{ID: r.get("id").text}
			if t := r.get("type"); t != nil {
				rel.Type = t.text
			}
			d.meta.Related = append(d.meta.Related, rel)
		}
	}
	if v := n.get("logsource"); v != nil {
		if v.kind != nodeMap {
			return nil, errAt(file, v, "logsource must be a map (category, product, service)")
		}
		for i, k := range v.keys {
			x := v.vals[i]
			if !x.isScalar() {
				return nil, errAt(file, x, "logsource %s must be a text", k.text)
			}
			switch k.text {
			case "category":
				d.meta.Logsource.Category = strings.ToLower(x.text)
			case "product":
				d.meta.Logsource.Product = strings.ToLower(x.text)
			case "service":
				d.meta.Logsource.Service = strings.ToLower(x.text)
			case "definition":
				d.meta.Logsource.Definition = x.text
			}
		}
	}

	det, corr, filt := n.get("detection"), n.get("correlation"), n.get("filter")
	count := 0
	for _, x := range []*node{det, corr, filt} {
		if x != nil {
			count++
		}
	}
	if count == 0 {
		return nil, errAt(file, n, "the document has no detection, correlation or filter section")
	}
	if count > 1 {
		return nil, errAt(file, n, "a document has exactly one of detection, correlation and filter")
	}
	switch {
	case det != nil:
		d.kind = KindRule
		if n.get("logsource") == nil {
			return nil, errAt(file, n, "logsource is missing (a rule needs one)")
		}
		if err := d.parseDetection(file, det, false); err != nil {
			return nil, err
		}
	case filt != nil:
		d.kind = KindFilter
		if n.get("logsource") == nil {
			return nil, errAt(file, n, "logsource is missing (a filter needs one)")
		}
		if err := d.parseDetection(file, filt, true); err != nil {
			return nil, err
		}
	default:
		d.kind = KindCorrelation
		if err := d.parseCorrelation(file, corr); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func stringList(file, key string, v *node) ([]string, *Error) {
	switch v.kind {
	case nodeNull:
		return nil, nil
	case nodeSeq:
		out := make([]string, 0, len(v.vals))
		for _, x := range v.vals {
			if !x.isScalar() {
				return nil, errAt(file, x, "%s must be a list of texts", key)
			}
			out = append(out, x.text)
		}
		return out, nil
	case nodeMap:
		return nil, errAt(file, v, "%s must be a list of texts, not a map", key)
	}
	return []string{v.text}, nil
}

func (d *document) parseDetection(file string, det *node, filter bool) *Error {
	section := "detection"
	if filter {
		section = "filter"
	}
	if det.kind != nodeMap {
		return errAt(file, det, "%s must be a map of search identifiers and a condition", section)
	}
	d.detection = det
	d.searches = map[string]*node{}
	var cond *node
	for i, k := range det.keys {
		v := det.vals[i]
		switch {
		case k.text == "condition":
			cond = v
		case k.text == "timeframe":
			return errAt(file, k, "timeframe (Sigma v1 aggregation) is not supported: write a correlation rule")
		case filter && k.text == "rules":
			rs, err := stringList(file, "filter rules", v)
			if err != nil {
				return err
			}
			d.filterRules = rs
		default:
			if !identRe.MatchString(k.text) {
				return errAt(file, k, "search identifier %q: use letters, digits and _ only", k.text)
			}
			d.searches[k.text] = v
			d.order = append(d.order, k.text)
		}
	}
	if cond == nil {
		return errAt(file, det, "%s has no condition", section)
	}
	if filter && d.filterRules == nil {
		return errAt(file, det, "filter has no rules (the ids or names of the rules it applies to)")
	}
	switch cond.kind {
	case nodeSeq:
		for _, c := range cond.vals {
			if c.kind != nodeString {
				return errAt(file, c, "condition must be a text or a list of texts")
			}
			d.condition = append(d.condition, condSource{c.text, c.line})
		}
		if len(d.condition) == 0 {
			return errAt(file, cond, "condition is an empty list")
		}
	case nodeString:
		d.condition = []condSource{{cond.text, cond.line}}
	default:
		return errAt(file, cond, "condition must be a text or a list of texts, not a %s", cond.kind)
	}
	if len(d.searches) == 0 {
		return errAt(file, det, "%s defines no search identifier", section)
	}
	return nil
}

var identRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.\-]*$`)

var timespanRe = regexp.MustCompile(`^([0-9]+)([smhdwMy])$`)

// parseTimespan reads a correlation timespan: a number and one of s, m, h, d (and w, M, y, which
// tools accept as weeks, 30-day months and 365-day years).
func parseTimespan(s string) (time.Duration, bool) {
	m := timespanRe.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n <= 0 || n > 100000 {
		return 0, false
	}
	unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour,
		"w": 7 * 24 * time.Hour, "M": 30 * 24 * time.Hour, "y": 365 * 24 * time.Hour}[m[2]]
	return time.Duration(n) * unit, true
}

var corrTypes = map[string]bool{"event_count": true, "value_count": true, "temporal": true, "temporal_ordered": true,
	"value_sum": true, "value_avg": true, "value_percentile": true}

func (d *document) parseCorrelation(file string, c *node) *Error {
	if c.kind != nodeMap {
		return errAt(file, c, "correlation must be a map (type, rules, group-by, timespan, condition)")
	}
	cs := &corrSpec{line: c.line}
	d.corr = cs
	known := map[string]bool{"type": true, "rules": true, "group-by": true, "timespan": true, "condition": true,
		"aliases": true, "generate": true}
	for _, k := range c.keys {
		if !known[k.text] {
			return errAt(file, k, "unknown correlation attribute %q", k.text)
		}
	}
	t := c.get("type")
	if t == nil {
		return errAt(file, c, "correlation type is missing")
	}
	cs.typ = t.text
	if !corrTypes[cs.typ] {
		return errAt(file, t, "unknown correlation type %q (event_count, value_count, temporal, temporal_ordered, value_sum, value_avg, value_percentile)", t.text)
	}
	r := c.get("rules")
	if r == nil {
		return errAt(file, c, "correlation rules are missing")
	}
	rs, err := stringList(file, "correlation rules", r)
	if err != nil {
		return err
	}
	if len(rs) == 0 {
		return errAt(file, r, "correlation rules is empty")
	}
	cs.rules, cs.rulesLine = rs, r.line
	if g := c.get("group-by"); g != nil {
		if cs.groupBy, err = stringList(file, "group-by", g); err != nil {
			return err
		}
	}
	ts := c.get("timespan")
	if ts == nil {
		return errAt(file, c, "correlation timespan is missing")
	}
	var ok bool
	if cs.timespan, ok = parseTimespan(ts.text); !ok {
		return errAt(file, ts, "timespan %q: write a number and a unit, s m h or d (e.g. 90m)", ts.text)
	}
	if g := c.get("generate"); g != nil {
		if g.kind != nodeBool {
			return errAt(file, g, "generate must be true or false")
		}
		cs.generate = g.b
	}
	if g := d.node.get("generate"); g != nil && g.kind == nodeBool {
		cs.generate = g.b // some writers put it at the top level
	}
	if a := c.get("aliases"); a != nil {
		if a.kind != nodeMap {
			return errAt(file, a, "aliases must be a map: alias -> rule name -> field")
		}
		cs.aliases = map[string]map[string]string{}
		for i, k := range a.keys {
			m := a.vals[i]
			if m.kind != nodeMap {
				return errAt(file, m, "alias %q must be a map of rule name -> field", k.text)
			}
			cs.aliases[k.text] = map[string]string{}
			for j, rk := range m.keys {
				if !m.vals[j].isScalar() {
					return errAt(file, m.vals[j], "alias %q: the field for %q must be a text", k.text, rk.text)
				}
				cs.aliases[k.text][rk.text] = m.vals[j].text
			}
		}
	}
	cond := c.get("condition")
	temporal := cs.typ == "temporal" || cs.typ == "temporal_ordered"
	if cond == nil {
		if !temporal {
			return errAt(file, c, "%s needs a condition (e.g. gte: 10)", cs.typ)
		}
	} else {
		if cond.kind != nodeMap {
			return errAt(file, cond, "correlation condition must be a map (gt, gte, lt, lte, eq, neq and field)")
		}
		for i, k := range cond.keys {
			v := cond.vals[i]
			switch k.text {
			case "field":
				fs, err := stringList(file, "condition field", v)
				if err != nil {
					return err
				}
				if len(fs) != 1 {
					return errAt(file, v, "condition field: give exactly one field (several fields are not supported)")
				}
				cs.field = fs[0]
			case "percentile":
				if v.kind != nodeInt && v.kind != nodeFloat || v.num < 0 || v.num > 100 {
					return errAt(file, v, "percentile must be a number from 0 to 100")
				}
				cs.percentile = v.num
			case "gt", "gte", "lt", "lte", "eq", "neq":
				if v.kind != nodeInt && v.kind != nodeFloat {
					return errAt(file, v, "condition %s must be a number, not %q", k.text, v.text)
				}
				cs.cond = append(cs.cond, cmpOp{k.text, v.num})
			default:
				return errAt(file, k, "unknown correlation condition %q (gt, gte, lt, lte, eq, neq, field)", k.text)
			}
		}
		if len(cs.cond) == 0 {
			return errAt(file, cond, "correlation condition has no comparison (gt, gte, lt, lte, eq or neq)")
		}
	}
	needField := strings.HasPrefix(cs.typ, "value_")
	if needField && cs.field == "" {
		return errAt(file, cond, "%s needs the field it counts in its condition (field: ...)", cs.typ)
	}
	if !needField && cs.field != "" {
		return errAt(file, cond, "%s takes no field in its condition", cs.typ)
	}
	if cs.percentile != 0 && cs.typ != "value_percentile" {
		return errAt(file, cond, "percentile is only for value_percentile")
	}
	if cs.typ == "temporal_ordered" && cond != nil {
		return errAt(file, cond, "temporal_ordered with a condition is not supported: it fires when all its rules occur in order")
	}
	if temporal && len(cs.rules) < 2 {
		return errAt(file, r, "%s needs at least two rules", cs.typ)
	}
	return nil
}

func (d *document) label() string {
	if d.meta.Title != "" {
		return d.meta.Title
	}
	return d.meta.ID
}

func (d *document) errf(n *node, format string, args ...any) *Error {
	e := errAt(d.meta.File, n, format, args...)
	e.Rule = d.label()
	return e
}

var _ = fmt.Sprintf
