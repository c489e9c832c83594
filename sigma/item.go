package sigma

import (
	"encoding/base64"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/ramen-siem/ramen/event"
)

// modifiers known to the engine, for error messages.
var knownModifiers = map[string]bool{
	"contains": true, "startswith": true, "endswith": true, "all": true, "base64": true, "base64offset": true,
	"wide": true, "utf16le": true, "utf16be": true, "utf16": true, "windash": true, "re": true, "i": true,
	"m": true, "s": true, "cidr": true, "exists": true, "fieldref": true, "gt": true, "gte": true, "lt": true,
	"lte": true, "neq": true, "cased": true, "expand": true, "minute": true, "hour": true, "day": true,
	"week": true, "month": true, "year": true,
}

// maxExpansion bounds how many values one rule value may expand into (windash permutations,
// placeholders): more is surely a mistake and would make a slow rule.
const maxExpansion = 4096

// item is one compiled field item of a selection: a field, and the values it is tested against.
type item struct {
	field    *fieldRef // nil for keywords (the event's text)
	name     string    // as written, with modifiers
	all      bool      // |all: every value must match
	neq      bool      // |neq: negate the whole item
	null     bool      // the value is null: the field is absent or null
	exists   int8      // |exists: 1 true, -1 false, 0 not an exists test
	patterns []pattern
	// literals: for the index, the lower-case texts this item equals when it is an exact,
	// case-insensitive, OR-ed string test (nil otherwise).
	literals []string
	needles  bool // keyword item whose literals are in the rule set's Aho-Corasick machine
}

// pattern tests one event value.
type pattern interface {
	match(v event.Value, c *mctx) bool
}

// sval is a rule value on its way through the modifiers.
type sval struct {
	str   sstring
	isNum bool
	num   float64
	text  string // the value as written
	kind  nodeKind
}

// compileItem compiles one "field|mod|mod: value(s)" entry of a selection. key is the whole key, v
// its value node. For a keyword list, key is "" or "|mods".
func (cc *compiler) compileItem(key string, v *node) (*item, *Error) {
	parts := strings.Split(key, "|")
	fieldName, mods := parts[0], parts[1:]
	it := &item{name: key}
	for _, m := range mods {
		if !knownModifiers[m] {
			return nil, cc.errf(v, "field %q: unknown modifier %q", key, m)
		}
	}
	if fieldName != "" {
		it.field = cc.field(fieldName)
	}
	// values
	var vals []*node
	if v.kind == nodeSeq {
		vals = v.vals
		if len(vals) == 0 {
			return nil, cc.errf(v, "field %q: empty list of values", key)
		}
	} else {
		vals = []*node{v}
	}
	for _, x := range vals {
		if !x.isScalar() {
			return nil, cc.errf(x, "field %q: a value must be a text, number or boolean, not a %s (nested maps are not Sigma: use a dotted field name)", key, x.kind)
		}
	}
	has := func(m string) bool {
		for _, x := range mods {
			if x == m {
				return true
			}
		}
		return false
	}
	// exists
	if has("exists") {
		if len(mods) != 1 {
			return nil, cc.errf(v, "field %q: exists takes no other modifier", key)
		}
		if v.kind != nodeBool {
			return nil, cc.errf(v, "field %q: exists needs true or false", key)
		}
		if it.field == nil {
			return nil, cc.errf(v, "exists needs a field name")
		}
		it.exists = -1
		if v.b {
			it.exists = 1
		}
		return it, nil
	}
	// null
	if len(vals) == 1 && vals[0].kind == nodeNull && len(mods) == 0 {
		if it.field == nil {
			return nil, cc.errf(v, "a keyword cannot be null")
		}
		it.null = true
		return it, nil
	}
	cased := has("cased")
	it.all = has("all")
	it.neq = has("neq")
	if it.all && len(vals) < 2 {
		// The specification forbids it; a single value with all means the same as without it.
		it.all = false
	}
	typ := "" // re, cidr, fieldref, cmp, time
	var reFlags string
	var cmpOp string
	var timePart string
	var svals []sval
	for _, x := range vals {
		switch x.kind {
		case nodeNull:
			svals = append(svals, sval{kind: nodeNull})
		case nodeInt, nodeFloat:
			svals = append(svals, sval{str: plainSString(x.text), isNum: true, num: x.num, text: x.text, kind: x.kind})
		case nodeBool:
			svals = append(svals, sval{str: plainSString(strings.ToLower(x.text)), text: strings.ToLower(x.text), kind: nodeBool})
		default:
			svals = append(svals, sval{text: x.text, kind: nodeString})
		}
	}
	// expand placeholders on the raw text first
	if has("expand") {
		var out []sval
		for _, s := range svals {
			if s.kind != nodeString {
				out = append(out, s)
				continue
			}
			texts, err := cc.expand(s.text)
			if err != nil {
				return nil, cc.errf(v, "field %q: %s", key, err)
			}
			for _, t := range texts {
				out = append(out, sval{text: t, kind: nodeString, str: parseSString(t)})
			}
		}
		svals = out
	} else {
		for i := range svals {
			if svals[i].kind == nodeString {
				svals[i].str = parseSString(svals[i].text)
			}
		}
	}
	for i, m := range mods {
		prev := ""
		if i > 0 {
			prev = mods[i-1]
		}
		switch m {
		case "all", "neq", "cased", "expand":
		case "i", "m", "s":
			if typ != "re" {
				return nil, cc.errf(v, "field %q: modifier %q is a flag of re and must follow it", key, m)
			}
			reFlags += m
		case "contains", "startswith", "endswith":
			if typ != "" && typ != "fieldref" {
				return nil, cc.errf(v, "field %q: %s cannot follow %s", key, m, typ)
			}
			for j := range svals {
				s := &svals[j]
				if s.kind == nodeNull {
					return nil, cc.errf(v, "field %q: %s of null", key, m)
				}
				s.isNum = false
				if m != "startswith" {
					s.str = s.str.withLeadingStar()
				}
				if m != "endswith" {
					s.str = s.str.withTrailingStar()
				}
			}
			if typ == "fieldref" {
				timePart = m // fieldref mode
			}
		case "base64", "base64offset", "wide", "utf16le", "utf16be", "utf16", "windash":
			if typ != "" {
				return nil, cc.errf(v, "field %q: %s cannot follow %s", key, m, typ)
			}
			var out []sval
			for _, s := range svals {
				if s.kind == nodeNull {
					return nil, cc.errf(v, "field %q: %s of null", key, m)
				}
				s.isNum = false
				vs, err := transform(m, s.str)
				if err != nil {
					return nil, cc.errf(v, "field %q: %s", key, err)
				}
				for _, x := range vs {
					out = append(out, sval{str: x, kind: nodeString, text: x.String()})
				}
				if len(out) > maxExpansion {
					return nil, cc.errf(v, "field %q: %s expands to more than %d values", key, m, maxExpansion)
				}
			}
			svals = out
		case "re", "cidr", "fieldref":
			if typ != "" {
				return nil, cc.errf(v, "field %q: %s cannot be combined with %s", key, m, typ)
			}
			if prev != "" && prev != "all" && prev != "neq" && prev != "cased" && prev != "expand" {
				return nil, cc.errf(v, "field %q: %s cannot follow %s", key, m, prev)
			}
			typ = m
		case "gt", "gte", "lt", "lte":
			if typ != "" && typ != "time" {
				return nil, cc.errf(v, "field %q: %s cannot be combined with %s", key, m, typ)
			}
			if cmpOp != "" {
				return nil, cc.errf(v, "field %q: two comparisons (%s and %s)", key, cmpOp, m)
			}
			cmpOp = m
			if typ == "" {
				typ = "cmp"
			}
		case "minute", "hour", "day", "week", "month", "year":
			if typ != "" {
				return nil, cc.errf(v, "field %q: %s cannot be combined with %s", key, m, typ)
			}
			typ, timePart = "time", m
		}
	}
	if it.field == nil && (typ == "fieldref" || typ == "cmp" || typ == "time" || typ == "cidr") {
		return nil, cc.errf(v, "modifier %s needs a field name", typ)
	}
	for _, s := range svals {
		p, err := cc.makePattern(typ, s, cased, reFlags, cmpOp, timePart)
		if err != nil {
			return nil, cc.errf(v, "field %q: %s", key, err)
		}
		if p == nil {
			it.null = true // null in a list of values: absent or null, or one of the others
			continue
		}
		it.patterns = append(it.patterns, p)
	}
	if it.null && it.all {
		return nil, cc.errf(v, "field %q: null cannot be combined with all", key)
	}
	// literals for the index
	if it.field != nil && !it.all && !it.neq && !it.null && typ == "" && !cased {
		lits := make([]string, 0, len(it.patterns))
		for _, p := range it.patterns {
			sp, ok := p.(*strPattern)
			if !ok || sp.m.kind != smExact || sp.m.anyAll {
				lits = nil
				break
			}
			lits = append(lits, sp.m.lit)
		}
		it.literals = lits
	}
	return it, nil
}

// makePattern builds the test for one value; nil means null.
func (cc *compiler) makePattern(typ string, s sval, cased bool, reFlags, cmpOp, timePart string) (pattern, error) {
	if s.kind == nodeNull {
		if typ != "" {
			return nil, fmt.Errorf("null cannot be used with %s", typ)
		}
		return nil, nil
	}
	switch typ {
	case "re":
		if s.kind != nodeString {
			return nil, fmt.Errorf("re needs a text, not %q", s.text)
		}
		flags := ""
		if strings.Contains(reFlags, "i") {
			flags += "i"
		}
		if strings.Contains(reFlags, "m") {
			flags += "m"
		}
		if strings.Contains(reFlags, "s") {
			flags += "s"
		}
		src := s.text
		if flags != "" {
			src = "(?" + flags + ")" + src
		}
		re, err := regexp.Compile(src)
		if err != nil {
			return nil, fmt.Errorf("bad regular expression %q: %s", s.text, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		}
		return &rePattern{re: re, need: requiredLiterals(src)}, nil
	case "cidr":
		p, err := netip.ParsePrefix(strings.TrimSpace(s.text))
		if err != nil {
			return nil, fmt.Errorf("bad CIDR %q: %s", s.text, err)
		}
		return &cidrPattern{p: p.Masked()}, nil
	case "fieldref":
		if s.kind != nodeString || s.str.hasWildcards() && timePart == "" {
			return nil, fmt.Errorf("fieldref needs a field name, not %q", s.text)
		}
		name := s.text
		mode := timePart
		return &fieldRefPattern{other: cc.field(name), mode: mode, cased: cased}, nil
	case "cmp":
		if !s.isNum {
			return nil, fmt.Errorf("%s needs a number, not %q", cmpOp, s.text)
		}
		return &cmpPattern{op: cmpOp, v: s.num}, nil
	case "time":
		if !s.isNum {
			return nil, fmt.Errorf("%s needs a number, not %q", timePart, s.text)
		}
		op := cmpOp
		if op == "" {
			op = "eq"
		}
		return &timePattern{part: timePart, cmp: cmpPattern{op: op, v: s.num}}, nil
	}
	return &strPattern{m: compileSString(s.str, cased), isNum: s.isNum, num: s.num}, nil
}

// transform applies an encoding modifier to a Sigma string; it may yield several.
func transform(mod string, s sstring) ([]sstring, error) {
	switch mod {
	case "base64", "base64offset":
		if s.hasWildcards() {
			return nil, fmt.Errorf("%s cannot encode wildcards (%s); put contains after it", mod, s.String())
		}
		b := []byte(s.plain())
		if mod == "base64" {
			return []sstring{plainSString(base64.StdEncoding.EncodeToString(b))}, nil
		}
		return base64Offsets(b), nil
	case "wide", "utf16le", "utf16be", "utf16":
		return []sstring{s.mapLiterals(func(t string) string { return encodeUTF16(t, mod) })}, nil
	case "windash":
		return windash(s), nil
	}
	return nil, fmt.Errorf("unknown transformation %s", mod)
}

// base64Offsets returns the three forms a text takes inside base64 depending on its offset modulo 3,
// with the characters that depend on the neighbouring bytes cut off (as pySigma does).
func base64Offsets(b []byte) []sstring {
	start := [3]int{0, 2, 3}
	end := [3]int{0, -3, -2} // 0 = to the end
	var out []sstring
	for i := 0; i < 3; i++ {
		pad := append([]byte(strings.Repeat(" ", i)), b...)
		enc := base64.StdEncoding.EncodeToString(pad)
		e := end[(len(b)+i)%3]
		hi := len(enc)
		if e != 0 {
			hi = len(enc) + e
		}
		lo := start[i]
		if lo > hi {
			lo = hi
		}
		out = append(out, plainSString(enc[lo:hi]))
	}
	return out
}

func encodeUTF16(s, mod string) string {
	u := utf16.Encode([]rune(s))
	var b strings.Builder
	if mod == "utf16" {
		b.WriteString("\xff\xfe")
	}
	for _, c := range u {
		lo, hi := byte(c), byte(c>>8)
		if mod == "utf16be" {
			b.WriteByte(hi)
			b.WriteByte(lo)
		} else {
			b.WriteByte(lo)
			b.WriteByte(hi)
		}
	}
	return b.String()
}

var dashes = []string{"-", "/", "\u2013", "\u2014", "\u2015"}

// windash returns every variant of s where each dash-like character at the start of a word (-, /,
// en dash, em dash, horizontal bar) is replaced by each of them.
func windash(s sstring) []sstring {
	out := []sstring{{}}
	for _, p := range s {
		if p.wild != wNone {
			for i := range out {
				out[i] = append(out[i], p)
			}
			continue
		}
		// split the literal at dash characters
		variants := []string{""}
		for _, r := range p.lit {
			c := string(r)
			isDash := false
			for _, d := range dashes {
				if c == d {
					isDash = true
				}
			}
			if !isDash {
				for i := range variants {
					variants[i] += c
				}
				continue
			}
			next := make([]string, 0, len(variants)*len(dashes))
			for _, v := range variants {
				for _, d := range dashes {
					next = append(next, v+d)
				}
			}
			variants = next
			if len(variants) > maxExpansion {
				break
			}
		}
		next := make([]sstring, 0, len(out)*len(variants))
		for _, o := range out {
			for _, v := range variants {
				x := append(append(sstring{}, o...), spart{lit: v})
				next = append(next, x)
			}
		}
		out = next
		if len(out) > maxExpansion {
			break
		}
	}
	return out
}

// expand replaces %placeholders% with the values configured for them; `\%` is a literal percent.
func (cc *compiler) expand(s string) ([]string, error) {
	results := []string{""}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && s[i+1] == '%' {
			for j := range results {
				results[j] += "%"
			}
			i++
			continue
		}
		if c == '%' {
			end := strings.IndexByte(s[i+1:], '%')
			if end < 0 {
				return nil, fmt.Errorf("unterminated placeholder in %q", s)
			}
			name := s[i+1 : i+1+end]
			vals, ok := cc.cfg.Placeholders[name]
			if !ok || len(vals) == 0 {
				return nil, fmt.Errorf("placeholder %%%s%% has no values: define it under placeholders in the configuration", name)
			}
			next := make([]string, 0, len(results)*len(vals))
			for _, r := range results {
				for _, v := range vals {
					next = append(next, r+v)
				}
			}
			if len(next) > maxExpansion {
				return nil, fmt.Errorf("placeholders expand to more than %d values", maxExpansion)
			}
			results = next
			i += end + 1
			continue
		}
		for j := range results {
			results[j] += string(c)
		}
	}
	return results, nil
}

// --- patterns ---

// strPattern is a Sigma string test (with wildcards), and a numeric one when the rule value is a number.
type strPattern struct {
	m      *strMatcher
	isNum  bool
	num    float64
	needle int // keyword contains: 1 + its index in the rule set's Aho-Corasick machine, 0 if none
	// keyword glob with * only: the needles of its literals, all of which must occur
	globNeedles []int
}

func (p *strPattern) match(v event.Value, c *mctx) bool {
	switch v.Kind() {
	case event.KindString, event.KindJSON:
		s := v.Str()
		if !p.m.cased && len(s) > 64 && (p.m.kind == smGlob || !p.m.ascii || p.m.kind == smContains) {
			// long texts (JSON objects, whole records) are lower-cased once per event
			return p.m.anyAll || p.m.matchLower(c.lower(s))
		}
		return p.m.match(s)
	case event.KindInt, event.KindFloat:
		if p.isNum {
			return v.Float() == p.num
		}
		return p.m.match(v.Text())
	case event.KindStrings:
		for _, s := range v.List() {
			if p.m.match(s) {
				return true
			}
		}
		return p.m.match(v.Text())
	case event.KindNull:
		return false
	}
	return p.m.match(v.Text())
}

type rePattern struct {
	re *regexp.Regexp
	// need: literal texts every match contains (from the top level of the expression), tested with
	// strings.Contains before the regular expression runs
	need []string
}

// requiredLiterals returns the case-sensitive literals a regular expression's every match contains.
func requiredLiterals(src string) []string {
	re, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		return nil
	}
	re = re.Simplify()
	var out []string
	add := func(r *syntax.Regexp) {
		if r.Op == syntax.OpLiteral && r.Flags&syntax.FoldCase == 0 && len(r.Rune) >= 3 {
			out = append(out, string(r.Rune))
		}
	}
	switch re.Op {
	case syntax.OpConcat:
		for _, k := range re.Sub {
			add(k)
		}
	default:
		add(re)
	}
	return out
}

func (p *rePattern) matchString(s string) bool {
	for _, n := range p.need {
		if !strings.Contains(s, n) {
			return false
		}
	}
	return p.re.MatchString(s)
}

func (p *rePattern) match(v event.Value, c *mctx) bool {
	switch v.Kind() {
	case event.KindString, event.KindJSON:
		return p.matchString(v.Str())
	case event.KindStrings:
		for _, s := range v.List() {
			if p.matchString(s) {
				return true
			}
		}
	case event.KindNull:
		return false
	}
	return p.matchString(v.Text())
}

type cidrPattern struct{ p netip.Prefix }

func (p *cidrPattern) match(v event.Value, c *mctx) bool {
	test := func(s string) bool {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			return false
		}
		return p.p.Contains(a.Unmap())
	}
	switch v.Kind() {
	case event.KindString:
		return test(v.Str())
	case event.KindStrings:
		for _, s := range v.List() {
			if test(s) {
				return true
			}
		}
	}
	return false
}

type cmpPattern struct {
	op string
	v  float64
}

func numberOf(v event.Value) (float64, bool) {
	switch v.Kind() {
	case event.KindInt, event.KindFloat:
		return v.Float(), true
	case event.KindString:
		f, err := strconv.ParseFloat(strings.TrimSpace(v.Str()), 64)
		return f, err == nil && !math.IsNaN(f)
	}
	return 0, false
}

func (p *cmpPattern) holds(x float64) bool {
	switch p.op {
	case "gt":
		return x > p.v
	case "gte":
		return x >= p.v
	case "lt":
		return x < p.v
	case "lte":
		return x <= p.v
	}
	return x == p.v
}

func (p *cmpPattern) match(v event.Value, c *mctx) bool {
	if v.Kind() == event.KindStrings {
		for _, s := range v.List() {
			if p.match(event.String(s), c) {
				return true
			}
		}
		return false
	}
	x, ok := numberOf(v)
	return ok && p.holds(x)
}

type timePattern struct {
	part string
	cmp  cmpPattern
}

func timeOf(v event.Value) (time.Time, bool) {
	switch v.Kind() {
	case event.KindTime:
		return v.Time(), true
	case event.KindString:
		s := strings.TrimSpace(v.Str())
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
			if t, err := time.Parse(layout, s); err == nil {
				return t, true
			}
		}
	case event.KindInt:
		// epoch seconds or milliseconds
		n := v.Int()
		if n > 1e11 {
			return time.UnixMilli(n).UTC(), true
		}
		return time.Unix(n, 0).UTC(), true
	}
	return time.Time{}, false
}

func (p *timePattern) match(v event.Value, c *mctx) bool {
	t, ok := timeOf(v)
	if !ok {
		return false
	}
	var x int
	switch p.part {
	case "minute":
		x = t.Minute()
	case "hour":
		x = t.Hour()
	case "day":
		x = t.Day()
	case "week":
		_, x = t.ISOWeek()
	case "month":
		x = int(t.Month())
	case "year":
		x = t.Year()
	}
	return p.cmp.holds(float64(x))
}

// fieldRefPattern compares the field with another field of the same event.
type fieldRefPattern struct {
	other *fieldRef
	mode  string // "" equal, contains, startswith, endswith
	cased bool
}

func (p *fieldRefPattern) match(v event.Value, c *mctx) bool {
	others := c.values(p.other)
	if len(others) == 0 || v.IsNull() {
		return false
	}
	a := v.Text()
	for _, o := range others {
		if o.IsNull() {
			continue
		}
		if x, ok := numberOf(v); ok && p.mode == "" {
			if y, ok := numberOf(o); ok && x == y {
				return true
			}
		}
		b := o.Text()
		if !p.cased {
			a, b = strings.ToLower(a), strings.ToLower(b)
		}
		switch p.mode {
		case "contains":
			if strings.Contains(a, b) {
				return true
			}
		case "startswith":
			if strings.HasPrefix(a, b) {
				return true
			}
		case "endswith":
			if strings.HasSuffix(a, b) {
				return true
			}
		default:
			if a == b {
				return true
			}
		}
	}
	return false
}
