package rules

import (
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// uuidV4 is the form Sigma recommends for rule ids: a random (version 4) UUID, in lower case.
var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestBuiltinTestsBesideRules checks that every rule file under builtin/ has its tests beside it
// (<name>.yml and <name>_test.yml), and that no test file is left without its rule file.
func TestBuiltinTestsBesideRules(t *testing.T) {
	files := map[string]bool{}
	err := fs.WalkDir(Builtin(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files[p] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rules := 0
	for p := range files {
		switch {
		case strings.HasSuffix(p, "_test.yml"):
			if rule := strings.TrimSuffix(p, "_test.yml") + ".yml"; !files[rule] {
				t.Errorf("%s: no rule file %s beside it", p, rule)
			}
		case strings.HasSuffix(p, ".yml"):
			rules++
			if test := strings.TrimSuffix(p, ".yml") + "_test.yml"; !files[test] {
				t.Errorf("%s: no test file %s beside it", p, test)
			}
		case strings.HasSuffix(p, ".yaml"):
			t.Errorf("%s: rule and test files end in .yml", p)
		}
	}
	if rules == 0 {
		t.Error("no rule files under builtin/")
	}
}

// TestBuiltinRuleIDs checks that every document of every rule file (a correlation file holds several)
// has exactly one top-level id, that it is a version 4 UUID, and that no id is used twice.
func TestBuiltinRuleIDs(t *testing.T) {
	seen := map[string]string{} // id -> where it was first seen
	err := fs.WalkDir(Builtin(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, "_test.yml") {
			return err
		}
		b, err := fs.ReadFile(Builtin(), p)
		if err != nil {
			return err
		}
		for i, doc := range documents(string(b)) {
			var ids []string
			for _, line := range strings.Split(doc, "\n") {
				line = strings.TrimRight(line, " \t\r")
				if v, ok := strings.CutPrefix(line, "id:"); ok {
					ids = append(ids, strings.Trim(strings.TrimSpace(v), `'"`))
				}
			}
			where := p
			if i > 0 {
				where = p + " (document " + strconv.Itoa(i+1) + ")"
			}
			if len(ids) != 1 {
				t.Errorf("%s: %d top-level ids, want 1", where, len(ids))
				continue
			}
			id := ids[0]
			if !uuidV4.MatchString(id) {
				t.Errorf("%s: id %q is not a lower-case version 4 UUID", where, id)
			}
			if first, dup := seen[id]; dup {
				t.Errorf("%s: id %s is already used by %s", where, id, first)
			}
			seen[id] = where
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// documents splits a multi-document YAML file at its "---" separator lines, dropping empty
// documents (a file may start with "---").
func documents(s string) []string {
	var out []string
	var cur []string
	flush := func() {
		if strings.TrimSpace(strings.Join(cur, "")) != "" {
			out = append(out, strings.Join(cur, "\n"))
		}
		cur = nil
	}
	for _, line := range strings.Split(s, "\n") {
		if strings.TrimRight(line, " \t\r") == "---" {
			flush()
			continue
		}
		cur = append(cur, line)
	}
	flush()
	return out
}
