package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ramen-siem/ramen/rules"
	"github.com/ramen-siem/ramen/sigma"
)

func init() {
	commands["rules"] = command{"check or test Sigma rules: rules check|test [DIR|FILE...]", runRules}
}

func runRules(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "check" && args[0] != "test") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(stderr, rulesUsage)
			return nil
		}
		fmt.Fprintln(stderr, rulesUsage)
		return &exitError{code: 1}
	}
	sub := args[0]
	fs := newFlags("rules "+sub, "[--config FILE] [DIR|FILE...]  (no argument: the built-in rules)", stderr)
	cfgPath := fs.String("config", "", "detection configuration `FILE` (logsources, placeholders, limits)")
	verbose := fs.Bool("v", false, "test: list every case, not only failures")
	paths, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return &exitError{code: 1}
	}
	cfg, lim, err := loadSigmaConfig(*cfgPath)
	if err != nil {
		return err
	}
	files, tests, err := readRuleFiles(paths, len(paths) == 0, sub == "test")
	if err != nil {
		return err
	}
	rs, errs := sigma.Compile(files, cfg)
	if sub == "check" {
		for _, e := range errs {
			fmt.Fprintln(stdout, e)
		}
		for _, w := range rs.Warnings() {
			fmt.Fprintln(stdout, "warning: "+w.Error())
		}
		fmt.Fprintf(stderr, "%d files: %d rules, %d correlations, %d filters compiled; %d errors, %d warnings\n",
			len(files), len(rs.Rules()), len(rs.Correlations()), rs.Filters(), len(errs), len(rs.Warnings()))
		if len(errs) > 0 {
			return &exitError{code: 1}
		}
		return nil
	}
	// test
	for _, e := range errs {
		fmt.Fprintln(stdout, "error: "+e.Error())
	}
	results := sigma.RunTests(ctx, rs, tests, lim)
	failed, skipped := 0, 0
	for _, r := range results {
		if r.Skipped != "" {
			skipped++
		}
		if r.Failed() {
			failed++
			fmt.Fprintln(stdout, r.String())
			for _, a := range r.Alerts {
				fmt.Fprintf(stdout, "     alert: %s %q %s\n", a.Rule.ID, a.Rule.Title, a.GroupString())
			}
		} else if *verbose || r.Skipped != "" && skipped <= 3 {
			fmt.Fprintln(stdout, r.String())
		}
	}
	fmt.Fprintf(stderr, "%d test files, %d cases, %d failed, %d skipped; %d rule errors\n", len(tests), len(results), failed, skipped, len(errs))
	if failed > 0 || len(errs) > 0 {
		return &exitError{code: 1}
	}
	return nil
}

const rulesUsage = `Usage: ramen rules check [--config FILE] [DIR|FILE...]
       ramen rules test  [--config FILE] [-v] [DIR|FILE...]

check compiles every rule and prints each error as file:line: reason (exit 1 on any error).
test runs the tests beside the rules (<name>_test.yml) and exits 1 on any failure.
Without a DIR or FILE both work on ramen's built-in rules.`

// loadSigmaConfig reads the detection configuration, or returns the defaults.
func loadSigmaConfig(path string) (*sigma.Config, sigma.Limits, error) {
	if path == "" {
		return &sigma.Config{}, sigma.DefaultLimits, nil
	}
	return sigma.LoadConfig(path)
}

// readRuleFiles reads the rule files (and, when withTests, the test files) of the given paths, and
// of the built-in pack when builtin is set.
func readRuleFiles(paths []string, builtin, withTests bool) (files, tests []sigma.File, err error) {
	if builtin {
		b, err := sigma.ReadFS(rules.Builtin(), ".", "builtin:")
		if err != nil {
			return nil, nil, err
		}
		files = append(files, b...)
		if withTests {
			t, err := sigma.ReadTestsFS(rules.Builtin(), ".", "builtin:")
			if err != nil {
				return nil, nil, err
			}
			tests = append(tests, t...)
		}
	}
	for _, p := range paths {
		f, err := sigma.ReadPath(p)
		if err != nil {
			return nil, nil, err
		}
		files = append(files, f...)
		if withTests {
			t, err := sigma.ReadTestsPath(p)
			if err != nil {
				return nil, nil, err
			}
			tests = append(tests, t...)
		}
	}
	if len(files) == 0 && !builtin {
		return nil, nil, errors.New("no rule files (.yml) in the given paths")
	}
	return files, tests, nil
}
