package sigma

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/ramen-siem/ramen/parse/all"
	_ "github.com/ramen-siem/ramen/parse/guardduty"
	"github.com/ramen-siem/ramen/rules"
)

// TestBuiltinRules compiles ramen's own rule pack and runs the tests beside its rules.
func TestBuiltinRules(t *testing.T) {
	files, err := ReadFS(rules.Builtin(), ".", "builtin:")
	if err != nil {
		t.Fatal(err)
	}
	tests, err := ReadTestsFS(rules.Builtin(), ".", "builtin:")
	if err != nil {
		t.Fatal(err)
	}
	rs, errs := Compile(files, nil)
	for _, e := range errs {
		t.Errorf("built-in rule does not compile: %v", e)
	}
	skipped := 0
	for _, r := range RunTests(context.Background(), rs, tests, DefaultLimits) {
		if r.Skipped != "" {
			skipped++
		}
		if r.Failed() {
			t.Errorf("%s", r.String())
		}
	}
	t.Logf("%d rule files, %d test files, %d cases skipped (log type not in this build)", len(files), len(tests), skipped)
}

// TestSpecSchemaExamples compiles the specification's own examples: rules, filters and every
// correlation type (with stand-in rules for the ids and names they refer to).
func TestSpecSchemaExamples(t *testing.T) {
	root := filepath.Join(sharedDir(t), "sigma", "spec", "tests", "schema")
	var files []File
	for _, dir := range []string{"rules", "filter", "correlation"} {
		paths, _ := filepath.Glob(filepath.Join(root, dir, "*.yml"))
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			// each example on its own, with the stand-ins: ids repeat across examples
			stub := stubRules()
			rs, errs := Compile([]File{{Name: p, Data: b}, stub}, nil)
			for _, e := range errs {
				t.Errorf("%v", e)
			}
			if len(rs.Rules())+len(rs.Correlations()) < 3 {
				t.Errorf("%s: nothing compiled", p)
			}
			files = append(files, File{Name: p})
		}
	}
	if len(files) < 12 {
		t.Errorf("only %d schema examples", len(files))
	}
}

func stubRules() File {
	src := ""
	for _, ref := range [][2]string{
		{"5638f7c0-ac70-491d-8465-2a65075e0d86", ""}, {"6f3e2987-db24-4c78-a860-b4f4095a7095", ""},
		{"df0841c0-9846-4e9f-ad8a-7df91571771b", ""}, {"", "recon_cmd_a"}, {"", "recon_cmd_b"}, {"", "recon_cmd_c"},
		{"", "rule_a_id"}, {"", "process_creation"}, {"", "website_access"},
	} {
		src += "---\ntitle: stand-in " + ref[0] + ref[1] + "\n"
		if ref[0] != "" {
			src += "id: " + ref[0] + "\n"
		}
		if ref[1] != "" {
			src += "name: " + ref[1] + "\n"
		}
		src += "logsource: {product: windows}\ndetection:\n  s:\n    EventID: 1\n  condition: s\n"
	}
	return File{Name: "stubs.yml", Data: []byte(src)}
}
