package sigma

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sharedDir finds ../shared next to the module root (or $RAMEN_SHARED), or skips the test.
func sharedDir(t testing.TB) string {
	if d := os.Getenv("RAMEN_SHARED"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("no go.mod above the test directory")
		}
		dir = parent
	}
	shared := filepath.Join(filepath.Dir(dir), "shared")
	if _, err := os.Stat(filepath.Join(shared, "sigma")); err != nil {
		t.Skipf("the shared Sigma corpus is not at %s (set RAMEN_SHARED): %v", shared, err)
	}
	return shared
}

// TestSigmaHQCorpus compiles every public rule under ../shared/sigma/rules: each must compile.
func TestSigmaHQCorpus(t *testing.T) {
	root := filepath.Join(sharedDir(t), "sigma", "rules")
	files, err := ReadPath(root)
	if err != nil {
		t.Fatal(err)
	}
	rs, errs := Compile(files, nil)
	for _, e := range errs {
		t.Errorf("%v", e)
	}
	if len(files) < 500 || len(rs.Rules()) != len(files) {
		t.Errorf("%d files, %d rules compiled", len(files), len(rs.Rules()))
	}
	unmapped := 0
	for _, w := range rs.Warnings() {
		if strings.Contains(w.Msg, "maps to no ramen log type") {
			unmapped++
		}
	}
	t.Logf("%d rules compiled; %d run on a ramen log type; %d have a logsource ramen does not read", len(rs.Rules()), len(rs.Rules())-unmapped, unmapped)
}
