package sigma

import (
	"strings"
	"unicode/utf8"
)

// wildcard marks a part of a Sigma string that is not literal text.
type wildcard uint8

const (
	wNone wildcard = iota // literal text
	wStar                 // * : any run of characters, empty included
	wOne                  // ? : exactly one character
)

// spart is one piece of a Sigma string: literal text or one wildcard.
type spart struct {
	lit  string
	wild wildcard
}

// sstring is a Sigma string value after escape processing: literal runs and wildcards.
type sstring []spart

// parseSString reads a rule value the way the specification says: * and ? are wildcards, a
// backslash escapes *, ? and a backslash, and any other backslash is literal. So `\*` is a literal
// star, `\\*` a backslash then a wildcard, `\\\*` a backslash then a literal star, and `\\\\` two
// backslashes; `C:\Windows` keeps its single backslash.
func parseSString(s string) sstring {
	var out sstring
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			out = append(out, spart{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			if i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\') {
				lit.WriteByte(s[i+1])
				i++
			} else {
				lit.WriteByte('\\')
			}
		case '*':
			flush()
			if len(out) == 0 || out[len(out)-1].wild != wStar { // ** is *
				out = append(out, spart{wild: wStar})
			}
		case '?':
			flush()
			out = append(out, spart{wild: wOne})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return out
}

// plainSString is a Sigma string of literal text only.
func plainSString(s string) sstring {
	if s == "" {
		return sstring{}
	}
	return sstring{{lit: s}}
}

func (s sstring) hasWildcards() bool {
	for _, p := range s {
		if p.wild != wNone {
			return true
		}
	}
	return false
}

// plain returns the literal text of a string without wildcards.
func (s sstring) plain() string {
	var b strings.Builder
	for _, p := range s {
		b.WriteString(p.lit)
	}
	return b.String()
}

// String renders the string back in Sigma notation (escaping what needs it).
func (s sstring) String() string {
	var b strings.Builder
	for _, p := range s {
		switch p.wild {
		case wStar:
			b.WriteByte('*')
		case wOne:
			b.WriteByte('?')
		default:
			for i := 0; i < len(p.lit); i++ {
				c := p.lit[i]
				if c == '*' || c == '?' || c == '\\' && (i+1 == len(p.lit) || p.lit[i+1] == '*' || p.lit[i+1] == '?' || p.lit[i+1] == '\\') {
					b.WriteByte('\\')
				}
				b.WriteByte(c)
			}
		}
	}
	return b.String()
}

func (s sstring) startsWithStar() bool { return len(s) > 0 && s[0].wild == wStar }
func (s sstring) endsWithStar() bool   { return len(s) > 0 && s[len(s)-1].wild == wStar }

func (s sstring) withLeadingStar() sstring {
	if s.startsWithStar() {
		return s
	}
	return append(sstring{{wild: wStar}}, s...)
}

func (s sstring) withTrailingStar() sstring {
	if s.endsWithStar() {
		return s
	}
	out := append(sstring{}, s...)
	return append(out, spart{wild: wStar})
}

// mapLiterals applies f to every literal part.
func (s sstring) mapLiterals(f func(string) string) sstring {
	out := make(sstring, len(s))
	for i, p := range s {
		if p.wild == wNone {
			p.lit = f(p.lit)
		}
		out[i] = p
	}
	return out
}

// matcher is a compiled Sigma string: the fastest test that its shape allows.
type strMatcher struct {
	kind   uint8 // smExact, smPrefix, smSuffix, smContains, smGlob
	lit    string
	parts  sstring // smGlob
	cased  bool
	ascii  bool // lit (or every literal part) is ASCII: case folding can work byte by byte
	anyAll bool // the pattern is "*": any value, empty included
	// starOnly: a glob with * wildcards only
	starOnly bool
}

const (
	smExact uint8 = iota
	smPrefix
	smSuffix
	smContains
	smGlob
)

func compileSString(s sstring, cased bool) *strMatcher {
	m := &strMatcher{cased: cased}
	low := s
	if !cased {
		low = s.mapLiterals(strings.ToLower)
	}
	onlyStars := true
	for _, p := range low {
		if p.wild != wStar {
			onlyStars = false
		}
	}
	if len(low) > 0 && onlyStars {
		m.anyAll = true
		return m
	}
	n := len(low)
	switch {
	case !low.hasWildcards():
		m.kind, m.lit = smExact, low.plain()
	case n == 2 && low[0].wild == wNone && low[1].wild == wStar:
		m.kind, m.lit = smPrefix, low[0].lit
	case n == 2 && low[0].wild == wStar && low[1].wild == wNone:
		m.kind, m.lit = smSuffix, low[1].lit
	case n == 3 && low[0].wild == wStar && low[1].wild == wNone && low[2].wild == wStar:
		m.kind, m.lit = smContains, low[1].lit
	default:
		m.kind, m.parts = smGlob, low
		m.starOnly = true
		for _, p := range low {
			if p.wild == wOne {
				m.starOnly = false
			}
		}
	}
	m.ascii = isASCII(m.lit)
	for _, p := range m.parts {
		if !isASCII(p.lit) {
			m.ascii = false
		}
	}
	if m.kind == smGlob {
		m.ascii = m.ascii || cased
	}
	return m
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func (m *strMatcher) match(h string) bool {
	if m.anyAll {
		return true
	}
	if m.cased {
		switch m.kind {
		case smExact:
			return h == m.lit
		case smPrefix:
			return strings.HasPrefix(h, m.lit)
		case smSuffix:
			return strings.HasSuffix(h, m.lit)
		case smContains:
			return strings.Contains(h, m.lit)
		}
		return m.glob(h)
	}
	if !m.ascii || m.kind == smGlob {
		return m.matchLower(strings.ToLower(h))
	}
	switch m.kind {
	case smExact:
		return len(h) == len(m.lit) && foldEqualASCII(h, m.lit)
	case smPrefix:
		return len(h) >= len(m.lit) && foldEqualASCII(h[:len(m.lit)], m.lit)
	case smSuffix:
		return len(h) >= len(m.lit) && foldEqualASCII(h[len(h)-len(m.lit):], m.lit)
	case smContains:
		return foldContainsASCII(h, m.lit)
	}
	return false
}

func (m *strMatcher) matchLower(h string) bool {
	switch m.kind {
	case smExact:
		return h == m.lit
	case smPrefix:
		return strings.HasPrefix(h, m.lit)
	case smSuffix:
		return strings.HasSuffix(h, m.lit)
	case smContains:
		return strings.Contains(h, m.lit)
	}
	return m.glob(h)
}

// glob matches a general pattern; one with * only (no ?) is matched literal by literal, leftmost
// first, which is exact for such patterns and avoids backtracking.
func (m *strMatcher) glob(h string) bool {
	if !m.starOnly {
		return globMatch(m.parts, h)
	}
	ps := m.parts
	if ps[0].wild == wNone {
		if !strings.HasPrefix(h, ps[0].lit) {
			return false
		}
		h = h[len(ps[0].lit):]
		ps = ps[1:]
	}
	var suffix string
	if n := len(ps); n > 0 && ps[n-1].wild == wNone {
		suffix = ps[n-1].lit
		ps = ps[:n-1]
		if len(h) < len(suffix) || !strings.HasSuffix(h, suffix) {
			return false
		}
		h = h[:len(h)-len(suffix)]
	}
	for _, p := range ps {
		if p.wild != wNone {
			continue
		}
		i := strings.Index(h, p.lit)
		if i < 0 {
			return false
		}
		h = h[i+len(p.lit):]
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// foldEqualASCII compares h with an already lower-case ASCII needle, folding h's ASCII letters.
func foldEqualASCII(h, lowNeedle string) bool {
	for i := 0; i < len(lowNeedle); i++ {
		if lowerASCII(h[i]) != lowNeedle[i] {
			return false
		}
	}
	return true
}

// foldContainsASCII reports whether h contains the lower-case ASCII needle, ignoring ASCII case.
func foldContainsASCII(h, n string) bool {
	if len(n) == 0 {
		return true
	}
	if len(n) > len(h) {
		return false
	}
	c0 := n[0]
	u0 := c0
	if 'a' <= c0 && c0 <= 'z' {
		u0 = c0 - ('a' - 'A')
	}
	last := len(h) - len(n)
	for i := 0; i <= last; i++ {
		// jump to the next candidate first byte in either case
		j := strings.IndexByte(h[i:last+1], c0)
		if u0 != c0 {
			if k := strings.IndexByte(h[i:last+1], u0); k >= 0 && (j < 0 || k < j) {
				j = k
			}
		}
		if j < 0 {
			return false
		}
		i += j
		if foldEqualASCII(h[i+1:i+len(n)], n[1:]) {
			return true
		}
	}
	return false
}

// globMatch matches h against wildcard parts (already in the case h is in). A ? is one character
// (one UTF-8 sequence). The algorithm backtracks to the last * only, so it is linear in practice.
func globMatch(parts sstring, h string) bool {
	pi, hi := 0, 0
	starPi, starHi := -1, 0
	for {
		if pi < len(parts) {
			p := parts[pi]
			switch p.wild {
			case wStar:
				starPi, starHi = pi, hi
				pi++
				continue
			case wOne:
				if hi < len(h) {
					_, size := utf8.DecodeRuneInString(h[hi:])
					hi += size
					pi++
					continue
				}
			default:
				if strings.HasPrefix(h[hi:], p.lit) {
					hi += len(p.lit)
					pi++
					continue
				}
			}
		} else if hi == len(h) {
			return true
		}
		// mismatch: let the last * eat one more character
		if starPi < 0 || starHi >= len(h) {
			return false
		}
		_, size := utf8.DecodeRuneInString(h[starHi:])
		starHi += size
		pi, hi = starPi+1, starHi
	}
}
