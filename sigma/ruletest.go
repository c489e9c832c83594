package sigma

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ramen-siem/ramen/alert"
	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/parse"
)

// Rule tests live beside the rules: <name>_test.yml holds the cases of <name>.yml
// (see rules/builtin/README.md and docs/rules.md):
//
//	cases:
//	  - name: what the case shows
//	    logtype: cloudtrail
//	    records: ['{"eventVersion": ...}', ...]
//	    alerts: 1

// IsTestFile reports whether a file name is a rule test file (<name>_test.yml).
func IsTestFile(name string) bool {
	return strings.HasSuffix(name, "_test.yml") || strings.HasSuffix(name, "_test.yaml")
}

// RuleFileOf returns the rule file a test file tests.
func RuleFileOf(test string) string {
	for _, ext := range []string{".yml", ".yaml"} {
		if strings.HasSuffix(test, "_test"+ext) {
			return strings.TrimSuffix(test, "_test"+ext) + ext
		}
	}
	return test
}

// ReadTestsFS reads every rule test file under root in fsys, in name order, names prefixed like ReadFS.
func ReadTestsFS(fsys fs.FS, root, prefix string) ([]File, error) {
	return readFS(fsys, root, prefix, IsTestFile)
}

// ReadTestsPath reads the rule test files of a file or directory.
func ReadTestsPath(p string) ([]File, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		if !IsTestFile(p) {
			p = strings.TrimSuffix(strings.TrimSuffix(p, ".yml"), ".yaml") + "_test.yml"
			if _, err := os.Stat(p); err != nil {
				return nil, nil
			}
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		return []File{{Name: p, Data: b}}, nil
	}
	files, err := ReadTestsFS(os.DirFS(p), ".", "")
	for i := range files {
		files[i].Name = filepath.Join(p, files[i].Name)
	}
	return files, err
}

// TestCase is one case of a rule test file.
type TestCase struct {
	Name    string
	LogType string
	Records []string
	Alerts  int
	Line    int
}

// TestResult is the outcome of one case.
type TestResult struct {
	File string // the test file
	Case string
	Line int
	Want int
	Got  int
	Err  error // the case could not run (bad test file, records that do not parse)
	// Skipped says why the case did not run: its log type is not one this build parses.
	Skipped string
	Alerts  []*alert.Alert // the alerts the file's rules raised
}

// Failed reports whether the case failed.
func (r *TestResult) Failed() bool { return r.Skipped == "" && (r.Err != nil || r.Want != r.Got) }

func (r *TestResult) String() string {
	where := r.File
	if r.Line > 0 {
		where = fmt.Sprintf("%s:%d", r.File, r.Line)
	}
	switch {
	case r.Skipped != "":
		return fmt.Sprintf("skip %s: %s: %s", where, r.Case, r.Skipped)
	case r.Err != nil:
		return fmt.Sprintf("FAIL %s: %s: %v", where, r.Case, r.Err)
	case r.Want != r.Got:
		return fmt.Sprintf("FAIL %s: %s: want %d alerts, got %d", where, r.Case, r.Want, r.Got)
	}
	return fmt.Sprintf("ok   %s: %s (%d alerts)", where, r.Case, r.Got)
}

// parseTestFile reads a rule test file.
func parseTestFile(f File) ([]TestCase, error) {
	docs, err := parseYAML(f.Name, f.Data)
	if err != nil {
		return nil, err
	}
	if len(docs) != 1 || docs[0].kind != nodeMap {
		return nil, &Error{File: f.Name, Msg: "a rule test file is one map with a cases list"}
	}
	cs := docs[0].get("cases")
	if cs == nil || cs.kind != nodeSeq || len(cs.vals) == 0 {
		return nil, errAt(f.Name, docs[0], "a rule test file needs a non-empty cases list")
	}
	var out []TestCase
	for _, c := range cs.vals {
		if c.kind != nodeMap {
			return nil, errAt(f.Name, c, "a case is a map: name, logtype, records, alerts")
		}
		for _, k := range c.keys {
			switch k.text {
			case "name", "logtype", "records", "alerts":
			default:
				return nil, errAt(f.Name, k, "unknown case attribute %q (name, logtype, records, alerts)", k.text)
			}
		}
		tc := TestCase{Line: c.line}
		if n := c.get("name"); n != nil {
			tc.Name = n.text
		}
		lt := c.get("logtype")
		if lt == nil || lt.text == "" {
			return nil, errAt(f.Name, c, "case %q has no logtype", tc.Name)
		}
		tc.LogType = lt.text
		rs := c.get("records")
		if rs == nil || rs.kind != nodeSeq {
			return nil, errAt(f.Name, c, "case %q needs records: a list of raw records", tc.Name)
		}
		for _, r := range rs.vals {
			if r.kind != nodeString {
				return nil, errAt(f.Name, r, "case %q: a record is a text (one raw JSON record or log line), not a %s", tc.Name, r.kind)
			}
			tc.Records = append(tc.Records, r.text)
		}
		a := c.get("alerts")
		if a == nil || a.kind != nodeInt || a.num < 0 {
			return nil, errAt(f.Name, c, "case %q needs alerts: the number of alerts expected", tc.Name)
		}
		tc.Alerts = int(a.num)
		out = append(out, tc)
	}
	return out, nil
}

// ParseRecords parses raw records of a log type with ramen's parser for it (which must be
// registered: import parse/all), in order.
func ParseRecords(ctx context.Context, logtype string, records []string) ([]*event.Event, error) {
	if _, ok := parse.Lookup(logtype); !ok {
		return nil, fmt.Errorf("unknown log type %q (known: %s)", logtype, strings.Join(parse.Names(), ", "))
	}
	var b strings.Builder
	for _, r := range records {
		b.WriteString(r)
		b.WriteByte('\n')
	}
	var evs []*event.Event
	var rejects []string
	_, err := parse.Object(ctx, "test", strings.NewReader(b.String()), parse.Options{Type: logtype},
		func(e *event.Event) error { evs = append(evs, e); return nil },
		func(r *parse.Reject) { rejects = append(rejects, r.String()) })
	if err != nil {
		return nil, err
	}
	if len(rejects) > 0 {
		return nil, fmt.Errorf("the %s parser rejected a record: %s", logtype, rejects[0])
	}
	return evs, nil
}

// RunTests runs rule test files against a rule set compiled from the rule files they sit beside
// (and any others: correlations may use rules of other files). Each case runs on a fresh detector;
// it counts the alerts of the rules of the tested file only.
func RunTests(ctx context.Context, rs *RuleSet, tests []File, lim Limits) []TestResult {
	var out []TestResult
	for _, tf := range tests {
		ruleFile := RuleFileOf(tf.Name)
		cases, err := parseTestFile(tf)
		if err != nil {
			out = append(out, TestResult{File: tf.Name, Case: "(file)", Err: err})
			continue
		}
		has := false
		for _, r := range rs.rules {
			if r.File == ruleFile {
				has = true
			}
		}
		for _, c := range rs.corrs {
			if c.File == ruleFile {
				has = true
			}
		}
		if !has {
			out = append(out, TestResult{File: tf.Name, Case: "(file)", Err: fmt.Errorf("no compiled rule in %s to test", ruleFile)})
			continue
		}
		for _, c := range cases {
			res := TestResult{File: tf.Name, Case: c.Name, Line: c.Line, Want: c.Alerts}
			if _, ok := parse.Lookup(c.LogType); !ok {
				res.Skipped = fmt.Sprintf("log type %q is not parsed by this build", c.LogType)
				out = append(out, res)
				continue
			}
			evs, err := ParseRecords(ctx, c.LogType, c.Records)
			if err != nil {
				res.Err = err
				out = append(out, res)
				continue
			}
			d := NewDetector(rs, lim)
			var all []*alert.Alert
			for _, e := range evs {
				all = append(all, d.Detect(e)...)
			}
			all = append(all, d.Flush()...)
			for _, a := range all {
				if a.Rule.File == ruleFile {
					res.Alerts = append(res.Alerts, a)
				}
			}
			res.Got = len(res.Alerts)
			out = append(out, res)
		}
	}
	return out
}
