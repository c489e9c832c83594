package sigma

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestBadRules compiles every testdata/bad/*.bad.yml: its first line, "# want: LINE: TEXT", is the
// error it must give. A good rule in the same run must still compile.
func TestBadRules(t *testing.T) {
	paths, _ := filepath.Glob("testdata/bad/*.bad.yml")
	if len(paths) == 0 {
		t.Fatal("no bad rules")
	}
	good := File{Name: "good.yml", Data: []byte("title: good\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  s:\n    eventName: X\n  condition: s\n")}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := strings.Cut(string(b), "\n")
		want := strings.TrimPrefix(first, "# want: ")
		lineStr, text, _ := strings.Cut(want, ": ")
		line, err := strconv.Atoi(lineStr)
		if err != nil {
			t.Fatalf("%s: bad want line %q", p, first)
		}
		rs, errs := Compile([]File{{Name: p, Data: b}, good}, nil)
		found := false
		for _, e := range errs {
			if e.File == p && e.Line == line && strings.Contains(e.Msg, text) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: want error at line %d with %q, got %v", p, line, text, errs)
		}
		ok := false
		for _, r := range rs.Rules() {
			if r.Title == "good" {
				ok = true
			}
		}
		if !ok {
			t.Errorf("%s: one bad rule stopped a good one", p)
		}
	}
}
