package event

import (
	"testing"
)

func TestLookupAll(t *testing.T) {
	e := New("t", `{"a":{"b":[{"c":"x"},{"c":"y"},{"d":1},{"c":[1,2]}]},"n":null,"k.l":{"m":"dot"},"s":"v","o":{"z":1,"a":"<&>"}}`, 0)
	cases := []struct {
		path string
		want []string
	}{
		{"a.b.c", []string{"x", "y", `["1","2"]`}},
		{"a.b.d", []string{"1"}},
		{"s", []string{"v"}},
		{"n", nil},
		{"missing", nil},
		{"s.deeper", nil},
		{"k.l.m", []string{"dot"}},
		{"o", []string{`{"z":1,"a":"<&>"}`}},
	}
	for _, c := range cases {
		got := e.LookupAll(c.path, nil)
		var s []string
		for _, v := range got {
			s = append(s, v.Text())
		}
		if len(s) != len(c.want) {
			t.Errorf("%s: got %q, want %q", c.path, s, c.want)
			continue
		}
		for i := range s {
			if s[i] != c.want[i] {
				t.Errorf("%s: got %q, want %q", c.path, s, c.want)
			}
		}
	}
	if got := e.NativeText(); got[:5] != `{"a":` {
		t.Errorf("NativeText = %q", got)
	}
	x := New("t", "plain text line", 0)
	if x.NativeText() != "plain text line" || len(x.LookupAll("a", nil)) != 0 {
		t.Error("text record")
	}
	r := New("t", `{"detail":{"eventName":"A","r":[{"x":"1"}]}}`, 0)
	r.NativeRoot = "detail"
	if v := r.LookupAll("r.x", nil); len(v) != 1 || v[0].Str() != "1" {
		t.Errorf("NativeRoot: %v", v)
	}
	if r.NativeText() != `{"eventName":"A","r":[{"x":"1"}]}` {
		t.Errorf("NativeText under root = %q", r.NativeText())
	}
}

func TestResolverMatchesLookupAll(t *testing.T) {
	var r Resolver
	for _, orig := range []string{
		`{"resources":[{"ARN":"a"},{"ARN":"b"}],"x":{"y":"z"}}`,
		`{"detail":{"x":{"y":"inner"}},"x":{"y":"outer"}}`,
		`not json`,
	} {
		e := New("t", orig, 0)
		if orig[0] == '{' && orig[2] == 'd' {
			e.NativeRoot = "detail"
		}
		r.Reset()
		for _, path := range []string{"resources.ARN", "x.y", "x", "nope"} {
			want := e.LookupAll(path, nil)
			got := r.LookupAll(e, path, nil)
			if len(got) != len(want) {
				t.Fatalf("%s %s: %v vs %v", orig, path, got, want)
			}
			for i := range got {
				if !got[i].Equal(want[i]) {
					t.Errorf("%s %s: %v vs %v", orig, path, got[i].Text(), want[i].Text())
				}
			}
		}
	}
}
