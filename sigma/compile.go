package sigma

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/parse"
)

// Config holds what compiling rules needs besides the rules.
type Config struct {
	// Logsources are consulted before DefaultLogsources.
	Logsources []LogsourceMapping `yaml:"logsources" json:"logsources,omitempty"`
	// Placeholders are the values of %name% placeholders for the expand modifier.
	Placeholders map[string][]string `yaml:"placeholders" json:"placeholders,omitempty"`
	// Types finds a ramen log type by name, for its field aliases (parse.Lookup when nil).
	Types func(name string) (*parse.Type, bool) `yaml:"-" json:"-"`
}

// File is one rule file: its name (for errors) and contents.
type File struct {
	Name string
	Data []byte
}

// IsRuleFile reports whether a file name is a rule file: .yml or .yaml, and not a rule test file
// (_test.yml) or a bad-rule test case (.bad.yml).
func IsRuleFile(name string) bool {
	if !(strings.HasSuffix(name, ".yml") || strings.HasSuffix(name, ".yaml")) {
		return false
	}
	base := strings.TrimSuffix(strings.TrimSuffix(name, ".yml"), ".yaml")
	return !strings.HasSuffix(base, "_test") && !strings.HasSuffix(base, ".bad")
}

// ReadFS reads every rule file under root in fsys, in name order. Hidden files and directories are
// skipped. Names are prefixed with prefix (a directory or "builtin:").
func ReadFS(fsys fs.FS, root, prefix string) ([]File, error) {
	return readFS(fsys, root, prefix, IsRuleFile)
}

// readFS reads the files under root whose names keep says, in name order, hidden ones skipped.
func readFS(fsys fs.FS, root, prefix string, keep func(name string) bool) ([]File, error) {
	var out []File
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || !keep(d.Name()) {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		out = append(out, File{Name: prefix + p, Data: b})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// ReadPath reads a rule file, or every rule file under a directory.
func ReadPath(p string) ([]File, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		return []File{{Name: p, Data: b}}, nil
	}
	files, err := ReadFS(os.DirFS(p), ".", "")
	for i := range files {
		files[i].Name = filepath.Join(p, files[i].Name)
	}
	return files, err
}

// Rule is a compiled detection rule: a matcher per log type it runs on.
type Rule struct {
	Meta
	// Types are the ramen log types the rule's logsource maps to (none: it never runs).
	Types []string
	// Standalone is true when a match is an alert on its own; false when the rule only feeds
	// correlations (generate: false, the default).
	Standalone bool
	// Filters are the titles of the Sigma filters applied to the rule.
	Filters []string

	key      string
	matchers map[string]*matcher
	corrs    []*Correlation // correlations fed by this rule
	pos      int
}

// Key is the rule's identity: its id, else its name, else file and title.
func (r *Rule) Key() string { return r.key }

// matcher is a rule compiled for one log type.
type matcher struct {
	rule   *Rule
	cond   expr
	fields []*fieldRef // every field the detection reads, for the alert's matched fields
	slot   int         // index in its type's matcher list
}

// RuleSet is a compiled set of rules, filters and correlations. Match is safe for concurrent use.
type RuleSet struct {
	rules    []*Rule
	corrs    []*Correlation
	filters  int
	byType   map[string]*typeIndex
	fields   map[string]*fieldRef
	nfields  int
	warnings []*Error
	pool     sync.Pool
	cfg      *Config
	ac       *acMachine
}

// Rules returns the detection rules, in file order.
func (rs *RuleSet) Rules() []*Rule { return rs.rules }

// Correlations returns the correlation rules, in file order.
func (rs *RuleSet) Correlations() []*Correlation { return rs.corrs }

// Filters returns how many filters were applied.
func (rs *RuleSet) Filters() int { return rs.filters }

// Warnings returns what compiled but will not work as a reader may expect: rules whose logsource maps
// to no ramen log type (they never run).
func (rs *RuleSet) Warnings() []*Error { return rs.warnings }

// fieldRef is how a field is read from an event: an ECS key, then a path in the original record.
type fieldRef struct {
	id     int
	name   string // the resolved name
	ecs    string
	native string
	// aliased: ecs is the log type's exact alias of the native name, so on an event its parser
	// made, an absent ecs field means an absent native field and the record need not be parsed.
	aliased bool
}

type compiler struct {
	cfg    *Config
	rs     *RuleSet
	doc    *document
	typ    string
	ptype  *parse.Type
	fields map[string]string
	used   []*fieldRef
	usedOK map[*fieldRef]bool
	cache  map[string]expr // compiled searches by prefixed name
}

func (cc *compiler) errf(n *node, format string, args ...any) *Error {
	return cc.doc.errf(n, format, args...)
}

// field resolves a rule's field name for the compiler's log type: the logsource's field mapping,
// then the type's aliases of native names, then the name itself (an ECS key or a native path).
func (cc *compiler) field(name string) *fieldRef {
	target := name
	if t, ok := cc.fields[name]; ok {
		target = t
	}
	// An alias names the event field that holds a native field's value; the native name stays the
	// fallback, for events that lack the normalized field (records built by hand, partial records).
	ecs, native := target, target
	if cc.ptype != nil {
		if a, ok := cc.ptype.Aliases[target]; ok {
			ecs = a
		}
	}
	key := ecs
	if native != ecs {
		key = ecs + "\x00" + native
	}
	f := cc.rs.fields[key]
	if f == nil {
		f = &fieldRef{id: cc.rs.nfields, name: target, ecs: ecs, native: native, aliased: ecs != native}
		cc.rs.nfields++
		cc.rs.fields[key] = f
	}
	if !cc.usedOK[f] {
		cc.usedOK[f] = true
		cc.used = append(cc.used, f)
	}
	return f
}

// Compile compiles rule files. It returns the rule set of every rule that compiled, and an error per
// document (or file) that did not: one bad rule never stops the others. A correlation that refers to
// a rule that does not exist or did not compile is an error too.
func Compile(files []File, cfg *Config) (*RuleSet, Errors) {
	if cfg == nil {
		cfg = &Config{}
	}
	if cfg.Types == nil {
		cfg.Types = parse.Lookup
	}
	docs, errs := parseFiles(files)
	return compileDocs(docs, errs, cfg)
}

// parseFiles reads rule files into documents.
func parseFiles(files []File) ([]*document, Errors) {
	var errs Errors
	var docs []*document
	for _, f := range files {
		nodes, err := parseYAML(f.Name, f.Data)
		if err != nil {
			errs = append(errs, err.(*Error))
			continue
		}
		for _, n := range nodes {
			d, err := parseDocument(f.Name, n)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			docs = append(docs, d)
		}
	}
	return docs, errs
}

func compileDocs(docs []*document, errs Errors, cfg *Config) (*RuleSet, Errors) {
	if cfg == nil {
		cfg = &Config{}
	}
	if cfg.Types == nil {
		cfg.Types = parse.Lookup
	}
	rs := &RuleSet{byType: map[string]*typeIndex{}, fields: map[string]*fieldRef{}, cfg: cfg}
	// identities
	byRef := map[string]*document{}
	failed := map[string]bool{} // refs of documents that did not compile
	var kept []*document
	for _, d := range docs {
		dup := false
		for _, ref := range []string{d.meta.ID, d.meta.Name} {
			if ref == "" {
				continue
			}
			if prev, ok := byRef[ref]; ok && prev != d {
				errs = append(errs, d.errf(d.node, "id or name %q is already used by %s:%d", ref, prev.meta.File, prev.meta.Line))
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		for _, ref := range []string{d.meta.ID, d.meta.Name} {
			if ref != "" {
				byRef[ref] = d
			}
		}
		kept = append(kept, d)
	}
	docs = kept
	// filters by the rules they name
	filtersOf := map[*document][]*document{}
	for _, d := range docs {
		if d.kind != KindFilter {
			continue
		}
		ok := true
		for _, r := range d.filterRules {
			t, found := byRef[r]
			if !found {
				errs = append(errs, d.errf(elemNode(d.detection.get("rules"), r), "filter names rule %q, which is not loaded (give its id or name)", r))
				ok = false
				continue
			}
			if t.kind != KindRule {
				errs = append(errs, d.errf(d.detection.get("rules"), "filter names %q, a %s: filters apply to detection rules", r, t.kind))
				ok = false
			}
		}
		if !ok {
			continue
		}
		rs.filters++
		for _, r := range d.filterRules {
			t := byRef[r]
			filtersOf[t] = append(filtersOf[t], d)
		}
	}
	ruleOf := map[*document]*Rule{}
	for _, d := range docs {
		if d.kind != KindRule {
			continue
		}
		r, err := compileRule(rs, cfg, d, filtersOf[d])
		if err != nil {
			errs = append(errs, err)
			failed[d.meta.ID], failed[d.meta.Name] = true, true
			continue
		}
		ruleOf[d] = r
		r.pos = len(rs.rules)
		rs.rules = append(rs.rules, r)
	}
	errs = append(errs, compileCorrelations(rs, docs, byRef, ruleOf)...)
	rs.buildIndex()
	rs.indexKeywords()
	sort.SliceStable(errs, func(i, j int) bool {
		if errs[i].File != errs[j].File {
			return errs[i].File < errs[j].File
		}
		return errs[i].Line < errs[j].Line
	})
	return rs, errs
}

func ruleKey(m *Meta) string {
	switch {
	case m.ID != "":
		return m.ID
	case m.Name != "":
		return m.Name
	}
	return fmt.Sprintf("%s#%s", m.File, m.Title)
}

func compileRule(rs *RuleSet, cfg *Config, d *document, filters []*document) (*Rule, *Error) {
	r := &Rule{Meta: d.meta, key: ruleKey(&d.meta), matchers: map[string]*matcher{}, Standalone: true}
	for _, f := range filters {
		r.Filters = append(r.Filters, f.meta.Title)
	}
	tfs := resolveLogsource(d.meta.Logsource, cfg.Logsources)
	if len(tfs) == 0 {
		// Compile anyway, to check the detection; the rule never runs.
		tfs = []typeFields{{typ: ""}}
	}
	known := false
	for _, tf := range tfs {
		cc := &compiler{cfg: cfg, rs: rs, doc: d, typ: tf.typ, fields: tf.fields, usedOK: map[*fieldRef]bool{}, cache: map[string]expr{}}
		if tf.typ != "" {
			cc.ptype, _ = cfg.Types(tf.typ)
		}
		x, err := cc.compileDetection(d, "")
		if err != nil {
			return nil, err
		}
		for i, f := range filters {
			cc.doc = f
			fx, err := cc.compileDetection(f, fmt.Sprintf("filter%d:", i))
			cc.doc = d
			if err != nil {
				err.Msg = fmt.Sprintf("filter for rule %q: %s", d.label(), err.Msg)
				return nil, err
			}
			x = andX{x, fx}
		}
		if tf.typ == "" {
			rs.warnings = append(rs.warnings, &Error{File: d.meta.File, Line: d.meta.Line, Rule: d.label(),
				Msg: fmt.Sprintf("logsource %s maps to no ramen log type: the rule compiles but never runs (add a logsources mapping)", d.meta.Logsource)})
			continue
		}
		if cc.ptype != nil {
			known = true
		}
		r.Types = append(r.Types, tf.typ)
		r.matchers[tf.typ] = &matcher{rule: r, cond: x, fields: cc.used}
	}
	if !known && len(r.Types) > 0 {
		rs.warnings = append(rs.warnings, &Error{File: d.meta.File, Line: d.meta.Line, Rule: d.label(),
			Msg: fmt.Sprintf("logsource %s maps to log type %s, which this build does not parse", d.meta.Logsource, strings.Join(r.Types, ", "))})
	}
	return r, nil
}

// compileDetection compiles a rule's (or filter's) searches and condition into one expression.
func (cc *compiler) compileDetection(d *document, prefix string) (expr, *Error) {
	var alts []expr
	for _, c := range d.condition {
		tree, err := parseCondition(c.text)
		if err == nil {
			tree, err = tree.resolve(d.order)
		}
		if err != nil {
			e := &Error{File: d.meta.File, Line: c.line, Rule: d.label(), Msg: fmt.Sprintf("condition %q: %s", c.text, err)}
			return nil, e
		}
		x, e := cc.compileCond(d, prefix, tree)
		if e != nil {
			return nil, e
		}
		alts = append(alts, x)
	}
	// every search must compile, even one the condition does not use
	for _, name := range d.order {
		if _, e := cc.search(d, prefix, name); e != nil {
			return nil, e
		}
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return orX(alts), nil
}

func (cc *compiler) compileCond(d *document, prefix string, n *cnode) (expr, *Error) {
	switch n.op {
	case "id":
		return cc.search(d, prefix, n.name)
	case "not":
		k, err := cc.compileCond(d, prefix, n.kids[0])
		if err != nil {
			return nil, err
		}
		return notX{k}, nil
	}
	var kids []expr
	for _, k := range n.kids {
		x, err := cc.compileCond(d, prefix, k)
		if err != nil {
			return nil, err
		}
		kids = append(kids, x)
	}
	if n.op == "and" {
		return andX(kids), nil
	}
	return orX(kids), nil
}

// search compiles one search identifier (once per rule and type).
func (cc *compiler) search(d *document, prefix, name string) (expr, *Error) {
	if x, ok := cc.cache[prefix+name]; ok {
		return x, nil
	}
	n := d.searches[name]
	x, err := cc.compileSearch(name, n)
	if err != nil {
		return nil, err
	}
	cc.cache[prefix+name] = x
	return x, nil
}

func (cc *compiler) compileSearch(name string, n *node) (expr, *Error) {
	switch n.kind {
	case nodeMap:
		return cc.compileMap(name, n)
	case nodeSeq:
		if len(n.vals) == 0 {
			return nil, cc.errf(n, "search %q is an empty list", name)
		}
		scalars := true
		for _, v := range n.vals {
			if !v.isScalar() {
				scalars = false
			}
		}
		if scalars {
			it, err := cc.keywordItem("", n)
			if err != nil {
				return nil, err
			}
			return it, nil
		}
		var alts orX
		for _, v := range n.vals {
			switch {
			case v.kind == nodeMap:
				x, err := cc.compileMap(name, v)
				if err != nil {
					return nil, err
				}
				alts = append(alts, x)
			case v.isScalar():
				it, err := cc.keywordItem("", v)
				if err != nil {
					return nil, err
				}
				alts = append(alts, it)
			default:
				return nil, cc.errf(v, "search %q: a list inside a list is not Sigma", name)
			}
		}
		return alts, nil
	case nodeNull:
		return nil, cc.errf(n, "search %q is empty", name)
	}
	it, err := cc.keywordItem("", n)
	if err != nil {
		return nil, err
	}
	return it, nil
}

func (cc *compiler) compileMap(name string, n *node) (expr, *Error) {
	if len(n.keys) == 0 {
		return nil, cc.errf(n, "search %q is an empty map", name)
	}
	var items andX
	for i, k := range n.keys {
		v := n.vals[i]
		if k.text == "" || strings.HasPrefix(k.text, "|") {
			it, err := cc.keywordItem(k.text, v)
			if err != nil {
				return nil, err
			}
			items = append(items, it)
			continue
		}
		if v.kind == nodeMap {
			return nil, cc.errf(v, "field %q: a map is not a value (nested maps are not Sigma: use a dotted field name)", k.text)
		}
		it, err := cc.compileItem(k.text, v)
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	if len(items) == 1 {
		return items[0], nil
	}
	return items, nil
}

// keywordItem compiles keywords: values searched in the event's whole text. Without a modifier
// that anchors them they match anywhere (contains).
func (cc *compiler) keywordItem(key string, v *node) (*item, *Error) {
	anchored := false
	for _, m := range strings.Split(key, "|")[1:] {
		switch m {
		case "contains", "startswith", "endswith", "re", "cidr", "exists", "fieldref", "gt", "gte", "lt", "lte",
			"minute", "hour", "day", "week", "month", "year":
			anchored = true
		}
	}
	k := key
	if !anchored {
		k += "|contains"
	}
	it, err := cc.compileItem(k, v)
	if err != nil {
		return nil, err
	}
	it.name = "keywords"
	return it, nil
}

// --- evaluation ---

type expr interface {
	eval(c *mctx) bool
}

type andX []expr
type orX []expr
type notX struct{ x expr }

func (a andX) eval(c *mctx) bool {
	for _, x := range a {
		if !x.eval(c) {
			return false
		}
	}
	return true
}

func (o orX) eval(c *mctx) bool {
	for _, x := range o {
		if x.eval(c) {
			return true
		}
	}
	return false
}

func (n notX) eval(c *mctx) bool { return !n.x.eval(c) }

func (it *item) eval(c *mctx) bool {
	var vals []event.Value
	if it.field == nil {
		if it.needles {
			return it.evalKeywords(c)
		}
		vals = c.keywordText()
	} else {
		vals = c.values(it.field)
	}
	switch {
	case it.exists != 0:
		return (len(vals) > 0) == (it.exists > 0)
	case len(vals) == 0:
		return it.null || it.neq
	}
	r := false
	if it.all {
		r = true
		for _, p := range it.patterns {
			hit := false
			for _, v := range vals {
				if p.match(v, c) {
					hit = true
					break
				}
			}
			if !hit {
				r = false
				break
			}
		}
	} else {
	outer:
		for _, p := range it.patterns {
			for _, v := range vals {
				if p.match(v, c) {
					r = true
					break outer
				}
			}
		}
	}
	if it.neq {
		return !r
	}
	return r
}

// evalKeywords tests keyword literals through the rule set's Aho-Corasick machine: one pass over
// the event's text answers every keyword of every rule.
func (it *item) evalKeywords(c *mctx) bool {
	r := it.all
	for _, p := range it.patterns {
		var hit bool
		if sp, ok := p.(*strPattern); ok && sp.needle > 0 {
			hit = c.keyword(sp.needle - 1)
		} else if ok && len(sp.globNeedles) > 0 {
			hit = true
			for _, n := range sp.globNeedles {
				if !c.keyword(n) {
					hit = false
					break
				}
			}
			hit = hit && p.match(c.keywordText()[0], c)
		} else {
			hit = p.match(c.keywordText()[0], c)
		}
		if it.all && !hit {
			r = false
			break
		}
		if !it.all && hit {
			r = true
			break
		}
	}
	if it.neq {
		return !r
	}
	return r
}

// keyword reports whether the event's text contains keyword needle n.
func (c *mctx) keyword(n int) bool {
	if !c.kwDone {
		ac := c.rs.ac
		words := (ac.n + 63) / 64
		if cap(c.kwBits) < words {
			c.kwBits = make([]uint64, words)
		}
		c.kwBits = c.kwBits[:words]
		clear(c.kwBits)
		ac.scan(c.lower(c.keywordText()[0].Str()), c.kwBits)
		c.kwDone = true
	}
	return c.kwBits[n>>6]&(1<<(n&63)) != 0
}

// indexKeywords gives every case-insensitive "contains" keyword literal a place in one Aho-Corasick
// machine.
func (rs *RuleSet) indexKeywords() {
	ids := map[string]int{}
	var needles []string
	var visit func(x expr)
	visit = func(x expr) {
		switch v := x.(type) {
		case andX:
			for _, k := range v {
				visit(k)
			}
		case orX:
			for _, k := range v {
				visit(k)
			}
		case notX:
			visit(v.x)
		case *item:
			if v.field != nil || v.exists != 0 {
				return
			}
			for _, p := range v.patterns {
				sp, ok := p.(*strPattern)
				if !ok || sp.m.cased || !sp.m.ascii {
					continue
				}
				needle := func(lit string) int {
					id, ok := ids[lit]
					if !ok {
						id = len(needles)
						ids[lit] = id
						needles = append(needles, lit)
					}
					return id
				}
				switch {
				case sp.m.kind == smContains && sp.m.lit != "":
					sp.needle = needle(sp.m.lit) + 1
					v.needles = true
				case sp.m.kind == smGlob && sp.m.starOnly:
					for _, part := range sp.m.parts {
						if part.wild == wNone && part.lit != "" {
							sp.globNeedles = append(sp.globNeedles, needle(part.lit))
						}
					}
					v.needles = v.needles || len(sp.globNeedles) > 0
				}
			}
		}
	}
	for _, r := range rs.rules {
		for _, m := range r.matchers {
			visit(m.cond)
		}
	}
	if len(needles) > 0 {
		rs.ac = newAC(needles)
	}
}

// mctx is the state of matching one event: the values of the fields read so far.
type mctx struct {
	e     *event.Event
	gen   uint32
	stamp []uint32
	vals  [][]event.Value
	text  []event.Value
	seen  []uint32 // per matcher slot of the event's type: gen when already a candidate
	low   map[string]string
	rs    *RuleSet
	// keywords found by the Aho-Corasick pass
	kwDone bool
	kwBits []uint64
	res    event.Resolver // parses the event's original record at most once, into reused memory
}

// lower returns s in lower case, computed once per event for each long text.
func (c *mctx) lower(s string) string {
	if l, ok := c.low[s]; ok {
		return l
	}
	if c.low == nil {
		c.low = map[string]string{}
	}
	l := strings.ToLower(s)
	c.low[s] = l
	return l
}

func (rs *RuleSet) getCtx(e *event.Event) *mctx {
	c, _ := rs.pool.Get().(*mctx)
	if c == nil {
		c = &mctx{}
	}
	if len(c.stamp) < rs.nfields {
		c.stamp = make([]uint32, rs.nfields)
		c.vals = make([][]event.Value, rs.nfields)
		c.gen = 0
	}
	c.gen++
	if c.gen == 0 { // wrapped
		clear(c.stamp)
		clear(c.seen)
		c.gen = 1
	}
	c.e = e
	c.rs = rs
	c.res.Reset()
	c.kwDone = false
	c.text = c.text[:0]
	if len(c.low) > 0 {
		clear(c.low)
	}
	return c
}

func (rs *RuleSet) putCtx(c *mctx) {
	c.e = nil
	rs.pool.Put(c)
}

// values returns a field's values in the event: the ECS field if set, else every value at the path
// in the original record (an array path gives one value per element).
func (c *mctx) values(f *fieldRef) []event.Value {
	if c.stamp[f.id] == c.gen {
		return c.vals[f.id]
	}
	buf := f.lookupWith(&c.res, c.e, c.vals[f.id][:0])
	c.vals[f.id] = buf
	c.stamp[f.id] = c.gen
	return buf
}

// keywordText is what keywords search: the original record, as compact JSON for a JSON record.
func (c *mctx) keywordText() []event.Value {
	if len(c.text) == 0 {
		c.text = append(c.text, event.String(c.e.NativeText()))
	}
	return c.text
}

// lookup appends a field's values in e: the ECS field if set, else every value at the native path
// (an array path gives one value per element). An aliased field absent from an event its parser
// made is absent: the original record is not parsed to find out again.
func (f *fieldRef) lookup(e *event.Event, buf []event.Value) []event.Value {
	return f.lookupWith(nil, e, buf)
}

// lookupWith is lookup with the record parsed by res (nil: by the event itself).
func (f *fieldRef) lookupWith(res *event.Resolver, e *event.Event, buf []event.Value) []event.Value {
	if v, ok := e.Get(f.ecs); ok {
		return append(buf, v)
	}
	if f.native == "" || (f.aliased && parsed(e)) {
		return buf
	}
	if res != nil {
		return res.LookupAll(e, f.native, buf)
	}
	return e.LookupAll(f.native, buf)
}

// parsed reports whether a parser made e (in.Emit sets event.dataset on every event it emits), as
// opposed to an event built by hand from a partial record.
func parsed(e *event.Event) bool {
	_, ok := e.Get("event.dataset")
	return ok
}
