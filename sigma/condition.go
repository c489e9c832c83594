package sigma

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// The condition grammar (least to most binding): or, and, not, "1 of x" / "all of x", parentheses.
//
//	expr   = and { "or" and }
//	and    = unary { "and" unary }
//	unary  = "not" unary | primary
//	primary = "(" expr ")" | ("1" | "any" | "all") "of" (pattern | "them") | identifier

// cnode is a parsed condition.
type cnode struct {
	op   string // "and", "or", "not", "id", "of"
	kids []*cnode
	name string // id: the search identifier; of: the pattern or "them"
	all  bool   // of: all instead of 1
	pos  int    // byte offset in the condition, for errors
}

type ctoken struct {
	text string
	pos  int
}

func lexCondition(s string) ([]ctoken, error) {
	var out []ctoken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			out = append(out, ctoken{string(c), i})
			i++
		case c == '|':
			return nil, fmt.Errorf("at %d: '|' aggregations (Sigma v1 count(), near) are not supported: write a correlation rule", i+1)
		case c == '#':
			i = len(s) // a comment to the end
		case isIdentByte(c):
			j := i
			for j < len(s) && isIdentByte(s[j]) {
				j++
			}
			out = append(out, ctoken{s[i:j], i})
			i = j
		default:
			return nil, fmt.Errorf("at %d: unexpected character %q", i+1, c)
		}
	}
	return out, nil
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '*' || c == '-' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

type condParser struct {
	toks []ctoken
	i    int
	src  string
}

func parseCondition(s string) (*cnode, error) {
	toks, err := lexCondition(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("the condition is empty")
	}
	p := &condParser{toks: toks, src: s}
	n, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		t := p.toks[p.i]
		return nil, fmt.Errorf("at %d: unexpected %q", t.pos+1, t.text)
	}
	return n, nil
}

const maxCondDepth = 100

func (p *condParser) peek() string {
	if p.i < len(p.toks) {
		return strings.ToLower(p.toks[p.i].text)
	}
	return ""
}

func (p *condParser) pos() int {
	if p.i < len(p.toks) {
		return p.toks[p.i].pos + 1
	}
	return len(p.src) + 1
}

func (p *condParser) or(depth int) (*cnode, error) {
	if depth > maxCondDepth {
		return nil, fmt.Errorf("the condition is nested too deeply")
	}
	l, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	n := l
	for p.peek() == "or" {
		p.i++
		r, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		if n == l {
			n = &cnode{op: "or", kids: []*cnode{l}, pos: l.pos}
		}
		n.kids = append(n.kids, r)
	}
	return n, nil
}

func (p *condParser) and(depth int) (*cnode, error) {
	l, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	n := l
	for p.peek() == "and" {
		p.i++
		r, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		if n == l {
			n = &cnode{op: "and", kids: []*cnode{l}, pos: l.pos}
		}
		n.kids = append(n.kids, r)
	}
	return n, nil
}

func (p *condParser) unary(depth int) (*cnode, error) {
	if depth > maxCondDepth {
		return nil, fmt.Errorf("the condition is nested too deeply")
	}
	if p.peek() == "not" {
		pos := p.pos()
		p.i++
		k, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return &cnode{op: "not", kids: []*cnode{k}, pos: pos}, nil
	}
	return p.primary(depth)
}

func (p *condParser) primary(depth int) (*cnode, error) {
	t := p.peek()
	pos := p.pos()
	switch t {
	case "":
		return nil, fmt.Errorf("at %d: the condition ends where a search identifier was expected", pos)
	case "(":
		p.i++
		n, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("at %d: missing ')'", p.pos())
		}
		p.i++
		return n, nil
	case ")":
		return nil, fmt.Errorf("at %d: unexpected ')'", pos)
	case "and", "or", "of", "them":
		return nil, fmt.Errorf("at %d: unexpected %q where a search identifier was expected", pos, t)
	}
	if p.i+1 < len(p.toks) && strings.ToLower(p.toks[p.i+1].text) == "of" {
		quant := t
		all := false
		switch quant {
		case "1", "any":
		case "all":
			all = true
		default:
			return nil, fmt.Errorf("at %d: %q of is not Sigma: write 1 of or all of", pos, quant)
		}
		p.i += 2
		target := p.peek()
		if target == "" || target == "(" || target == ")" || target == "and" || target == "or" || target == "not" {
			return nil, fmt.Errorf("at %d: %s of needs a search identifier pattern or them", p.pos(), quant)
		}
		name := p.toks[p.i].text
		p.i++
		if target == "them" {
			name = "them"
		}
		return &cnode{op: "of", name: name, all: all, pos: pos}, nil
	}
	name := p.toks[p.i].text
	if strings.Contains(name, "*") {
		return nil, fmt.Errorf("at %d: %q: a pattern needs 1 of or all of before it", pos, name)
	}
	p.i++
	return &cnode{op: "id", name: name, pos: pos}, nil
}

// resolve checks every identifier against the defined searches and expands "x of" into and/or of
// identifiers. them excludes identifiers that start with _.
func (n *cnode) resolve(defined []string) (*cnode, error) {
	switch n.op {
	case "id":
		for _, d := range defined {
			if d == n.name {
				return n, nil
			}
		}
		return nil, fmt.Errorf("at %d: %q is not a search identifier of this rule (defined: %s)", n.pos, n.name, strings.Join(sorted(defined), ", "))
	case "of":
		var names []string
		for _, d := range defined {
			if n.name == "them" {
				if !strings.HasPrefix(d, "_") {
					names = append(names, d)
				}
				continue
			}
			if ok, _ := path.Match(n.name, d); ok {
				names = append(names, d)
			}
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("at %d: %q matches no search identifier (defined: %s)", n.pos, n.name, strings.Join(sorted(defined), ", "))
		}
		op := "or"
		if n.all {
			op = "and"
		}
		out := &cnode{op: op, pos: n.pos}
		for _, nm := range names {
			out.kids = append(out.kids, &cnode{op: "id", name: nm, pos: n.pos})
		}
		if len(out.kids) == 1 {
			return out.kids[0], nil
		}
		return out, nil
	}
	out := &cnode{op: n.op, pos: n.pos}
	for _, k := range n.kids {
		r, err := k.resolve(defined)
		if err != nil {
			return nil, err
		}
		out.kids = append(out.kids, r)
	}
	return out, nil
}

func sorted(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}

// String renders a condition tree (for tests and debugging).
func (n *cnode) String() string {
	switch n.op {
	case "id":
		return n.name
	case "of":
		q := "1"
		if n.all {
			q = "all"
		}
		return q + " of " + n.name
	case "not":
		return "not " + n.kids[0].String()
	}
	parts := make([]string, len(n.kids))
	for i, k := range n.kids {
		parts[i] = k.String()
	}
	return "(" + strings.Join(parts, " "+n.op+" ") + ")"
}
