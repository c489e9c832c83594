package sigma

import (
	"math/rand"
	"strings"
	"testing"
)

func TestAhoCorasick(t *testing.T) {
	needles := []string{"he", "she", "his", "hers", "event::clear", "a", "aa", "xyz"}
	m := newAC(needles)
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 2000; i++ {
		var b strings.Builder
		for j := 0; j < r.Intn(40); j++ {
			b.WriteByte("ahesrixyz:vntcl"[r.Intn(15)])
		}
		if i%100 == 0 {
			b.WriteString("event::clear")
		}
		text := b.String()
		found := make([]uint64, 1)
		m.scan(text, found)
		for k, n := range needles {
			want := strings.Contains(text, n)
			got := found[0]&(1<<k) != 0
			if want != got {
				t.Fatalf("%q in %q: %v, want %v", n, text, got, want)
			}
		}
	}
}
