package text

import (
	"testing"

	"github.com/ramen-siem/ramen/event"
)

func TestNum(t *testing.T) {
	for s, want := range map[string]int{"0": 0, "443": 443, "123456789012345678": 123456789012345678} {
		if n, ok := Num(s); !ok || n != want {
			t.Errorf("Num(%q) = %d, %v", s, n, ok)
		}
	}
	for _, s := range []string{"", "-1", "1.5", " 1", "1234567890123456789", "99999999999999999999999"} {
		if _, ok := Num(s); ok {
			t.Errorf("Num(%q) should fail", s)
		}
	}
}

func TestTLSVersion(t *testing.T) {
	for in, want := range map[string][2]string{"TLSv1.2": {"tls", "1.2"}, "tlsv12": {"tls", "1.2"}, "TLSv1": {"tls", "1.0"}, "tlsv10": {"tls", "1.0"}, "tlsv13": {"tls", "1.3"}, "SSLv3": {"ssl", "3.0"}} {
		n, v, ok := TLSVersion(in)
		if !ok || n != want[0] || v != want[1] {
			t.Errorf("TLSVersion(%q) = %q %q %v", in, n, v, ok)
		}
	}
	for _, in := range []string{"-", "TLS", "QUIC", "v1.2", "ProtocolVersion"} {
		if _, _, ok := TLSVersion(in); ok {
			t.Errorf("TLSVersion(%q) should fail", in)
		}
	}
}

func TestClipAndBlank(t *testing.T) {
	if len(Clip(string(make([]byte, 1000)))) != 67 || Clip("short") != "short" {
		t.Error("Clip")
	}
	if !Blank([]byte(" \t\r")) || Blank([]byte(" x")) {
		t.Error("Blank")
	}
}

func TestAddURLPath(t *testing.T) {
	e := event.New("t", "", 4)
	AddURLPath(e, "/shop/cart.php?item=1#top")
	got := map[string]string{}
	for _, f := range e.Fields {
		got[f.Key] = f.Value.Str()
	}
	want := map[string]string{"url.path": "/shop/cart.php", "url.extension": "php", "url.query": "item=1", "url.fragment": "top"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	e = event.New("t", "", 4)
	AddURLPath(e, "/dir.d/?#-")
	if len(e.Fields) != 1 || e.Fields[0].Key != "url.path" {
		t.Errorf("empty parts must be left out: %+v", e.Fields)
	}
}
