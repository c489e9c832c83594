package sigma

// acMachine is an Aho-Corasick automaton over the literal texts of keyword searches, so that one
// pass over an event's text tells which of them it contains, however many rules search it.
type acMachine struct {
	states []acState
	root   [256]int32 // the root's transitions, dense (most bytes fail back to it)
	n      int        // needles
}

type acState struct {
	edges []acEdge
	fail  int32
	out   []int32 // needles that end here (including through fail links)
}

type acEdge struct {
	b    byte
	next int32
}

func (s *acState) step(b byte) int32 {
	for _, e := range s.edges {
		if e.b == b {
			return e.next
		}
	}
	return -1
}

func newAC(needles []string) *acMachine {
	m := &acMachine{states: []acState{{}}, n: len(needles)}
	for i, nd := range needles {
		cur := int32(0)
		for j := 0; j < len(nd); j++ {
			nx := m.states[cur].step(nd[j])
			if nx < 0 {
				nx = int32(len(m.states))
				m.states = append(m.states, acState{})
				m.states[cur].edges = append(m.states[cur].edges, acEdge{nd[j], nx})
			}
			cur = nx
		}
		m.states[cur].out = append(m.states[cur].out, int32(i))
	}
	// breadth-first fail links
	queue := []int32{}
	for _, e := range m.states[0].edges {
		m.states[e.next].fail = 0
		queue = append(queue, e.next)
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, e := range m.states[s].edges {
			f := m.states[s].fail
			for {
				if nx := m.states[f].step(e.b); nx >= 0 && nx != e.next {
					m.states[e.next].fail = nx
					break
				}
				if f == 0 {
					m.states[e.next].fail = 0
					break
				}
				f = m.states[f].fail
			}
			fl := m.states[e.next].fail
			m.states[e.next].out = append(m.states[e.next].out, m.states[fl].out...)
			queue = append(queue, e.next)
		}
	}
	for b := 0; b < 256; b++ {
		m.root[b] = max(m.states[0].step(byte(b)), 0)
	}
	return m
}

// scan marks in found (a bitset of needles) every needle that occurs in text.
func (m *acMachine) scan(text string, found []uint64) {
	cur := int32(0)
	for i := 0; i < len(text); i++ {
		b := text[i]
		if cur == 0 {
			cur = m.root[b]
			for _, o := range m.states[cur].out {
				found[o>>6] |= 1 << (o & 63)
			}
			continue
		}
		for {
			if nx := m.states[cur].step(b); nx >= 0 {
				cur = nx
				break
			}
			if cur == 0 {
				break
			}
			cur = m.states[cur].fail
		}
		for _, o := range m.states[cur].out {
			found[o>>6] |= 1 << (o & 63)
		}
	}
}
