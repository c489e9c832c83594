package sigma

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzCompile feeds arbitrary rule files to the YAML reader, the rule parser, the condition parser
// and the compiler: none may panic, and a rule that compiles must be matchable.
func FuzzCompile(f *testing.F) {
	paths, _ := filepath.Glob("testdata/bad/*.yml")
	paths2, _ := filepath.Glob("testdata/*.yml")
	for _, p := range append(paths, paths2...) {
		b, err := os.ReadFile(p)
		if err == nil {
			f.Add(string(b))
		}
	}
	f.Add("title: t\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  s:\n    a|contains|all: [x, y]\n  k: [kw]\n  condition: 1 of s* or not (k and s)\n")
	f.Fuzz(func(t *testing.T, src string) {
		rs, _ := Compile([]File{{Name: "f.yml", Data: []byte(src)}}, nil)
		e := ev(`{"eventName":"x","a":"xy","b":[1,{"c":"d"}]}`)
		rs.Match(e, nil)
		d := NewDetector(rs, Limits{MaxGroups: 10, MaxEntries: 10})
		d.Detect(e)
		d.Flush()
	})
}

// FuzzCondition feeds arbitrary conditions to the condition parser.
func FuzzCondition(f *testing.F) {
	for _, s := range []string{"a and not (b or c)", "1 of sel* and all of them", "not not a", "((a))", "a | count() > 3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseCondition(s)
		if err != nil {
			return
		}
		if _, err := parseCondition(n.String()); err != nil {
			t.Errorf("%q parses, its rendering %q does not: %v", s, n.String(), err)
		}
		n.resolve([]string{"a", "b", "sel1", "_x"})
	})
}
