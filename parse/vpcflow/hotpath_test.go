package vpcflow

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The hot path has its own field splitter and IPv4 reader; these tests hold them to the plain
// definitions they replace: strings.FieldsFunc at spaces, and netip.ParseAddr.

func referenceFields(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' })
}

func TestSplit(t *testing.T) {
	cases := []string{
		"", " ", "        ", "a", " a", "a ", "  a  b  ", "ab cd ef gh", "abcdefgh", "abcdefg h", "abcdefgh ",
		"       a", "        a", "a       b       c", "\ta b\t",
		"2 111122223333 eni-0a1b2c3d4e5f60718 10.0.1.15 198.51.100.7 49152 443 6 12 5830 1700000000 1700000055 ACCEPT OK",
		"2  111122223333   eni-1 10.0.1.15 198.51.100.7 49152 443 6 12 5830 1700000000 1700000055 ACCEPT OK  \r",
		strings.Repeat("x ", 200), // more fields than toks: counted, not kept
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = " a."[r.IntN(3)]
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		var toks [maxFields]string
		var sp [maxFields]span
		n := split(s, sp[:], toks[:])
		want := referenceFields(s)
		if n != len(want) || !slices.Equal(toks[:min(n, maxFields)], want[:min(n, maxFields)]) {
			t.Fatalf("split(%q) = %d %q, want %d %q", s, n, toks[:min(n, maxFields)], len(want), want)
		}
	}
}

func TestParseAddr(t *testing.T) {
	cases := []string{
		"1.2.3.4", "10.0.1.15", "0.0.0.0", "255.255.255.255", "256.1.1.1", "1.2.3.256", "01.2.3.4", "1.2.3.04",
		"1.2.3.0", "1.0.0.0", "100.200.250.255", "1.2.3", "1.2.3.4.", ".1.2.3.4", "1..2.3", "1.2.3.4.5",
		"1.2.3.4 ", "1234.1.1.1", "1.2.3.-4", "1.2.3.+4", "0x1.2.3.4", "", "-", "::1", "::ffff:1.2.3.4",
		"fe80::1%eth0", "2001:db8::7", "1.2.3.4%x", "999.999.999.999", "1.2.3.4/32", "١.2.3.4",
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		b := make([]byte, 1+r.IntN(16))
		for i := range b {
			b[i] = "0123456789..0125:f"[r.IntN(18)]
		}
		cases = append(cases, string(b))
		// and near-quads: octets up to 300, some with leading zeros, some parts missing
		q := make([]string, 3+r.IntN(3))
		for i := range q {
			q[i] = strconv.Itoa(r.IntN(301))
			if r.IntN(8) == 0 {
				q[i] = "0" + q[i]
			}
		}
		cases = append(cases, strings.Join(q, "."))
	}
	valid := 0
	for _, s := range cases {
		a, err := netip.ParseAddr(s)
		v4, ok := parseAddr(s)
		if ok != (err == nil) || ok && v4 != a.Is4() {
			t.Errorf("parseAddr(%q) = %v, %v; netip says %v, Is4 %v", s, v4, ok, err, a.Is4())
		}
		if ok {
			valid++
		}
	}
	if valid < 1000 {
		t.Errorf("only %d of %d cases are addresses: the generator tests too little", valid, len(cases))
	}
}
