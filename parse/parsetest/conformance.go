package parsetest

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ramen-siem/ramen/event"
)

// Fixtures returns the shared fixtures directory (../shared/fixtures from the repository root, or
// $RAMEN_FIXTURES), and skips the test with a message when it is absent.
func Fixtures(tb testing.TB) string {
	tb.Helper()
	if d := os.Getenv("RAMEN_FIXTURES"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skip("no go.mod above the test directory; cannot locate ../shared/fixtures")
		}
		dir = parent
	}
	f := filepath.Join(dir, "..", "shared", "fixtures")
	if _, err := os.Stat(f); err != nil {
		tb.Skipf("shared fixtures not found at %s (check out ../shared beside the repository, or set RAMEN_FIXTURES)", f)
	}
	return f
}

// Compared are the ECS fields, by prefix, on which ramen agrees with Elastic's AWS integration. A key
// is compared when it equals a prefix or starts with prefix + ".".
var Compared = []string{
	"@timestamp",
	"event.action", "event.provider", "event.outcome", "event.category", "event.type", "event.kind", "event.severity",
	"source.ip", "source.address", "source.port",
	"destination", "network", "url", "http",
	"user.name", "user.id",
	"cloud.account.id", "cloud.region",
	"dns.question.name", "dns.question.type",
	"rule.name",
}

// Uncompared are fields under a compared prefix that ramen does not produce yet or on purpose, with
// the reason (docs/ecs.md lists them too).
var Uncompared = map[string]string{
	"destination.geo":      "GeoIP enrichment is a later pipeline stage (enrich), not the parser's",
	"destination.as":       "ASN enrichment is a later pipeline stage (enrich), not the parser's",
	"network.community_id": "community id is computed by enrichment, not on the parse hot path",
}

func compared(key string) bool {
	for p := range Uncompared {
		if key == p || strings.HasPrefix(key, p+".") {
			return false
		}
	}
	for _, p := range Compared {
		if key == p || strings.HasPrefix(key, p+".") {
			return true
		}
	}
	return false
}

// Agreement is the result of comparing one log type's output with Elastic's.
type Agreement struct {
	Fields, Agree int
	Diffs         []string
}

// Conformance parses every <name>.log under fixtures/elastic/<stream> that has a <name>.log-expected.json
// as typ, and compares the Compared fields of each event with Elastic's expected document (paired by
// order). skip lists field keys not to compare for this type, with the reason; a key of the form
// "file.log#N:field" skips the field of event N of that file only.
func Conformance(t *testing.T, typ, stream string, skip map[string]string) Agreement {
	t.Helper()
	dir := filepath.Join(Fixtures(t), "elastic", stream)
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	var a Agreement
	cases := 0
	for _, log := range logs {
		exp, err := os.ReadFile(log + "-expected.json")
		if err != nil {
			continue
		}
		cases++
		var doc struct {
			Expected []map[string]any `json:"expected"`
		}
		if err := json.Unmarshal(exp, &doc); err != nil {
			t.Fatalf("%s: %v", log, err)
		}
		// Elastic's test runner makes a document of an empty line too: those are not records.
		docs := doc.Expected[:0]
		for _, d := range doc.Expected {
			if ev, _ := d["event"].(map[string]any); ev["original"] != nil || d["message"] != nil {
				docs = append(docs, d)
			}
		}
		doc.Expected = docs
		data, err := os.ReadFile(log)
		if err != nil {
			t.Fatal(err)
		}
		evs, rejs, _ := Run(t, typ, log, data, 0)
		for _, r := range rejs {
			t.Errorf("%s", r)
		}
		switch {
		case len(evs) < len(doc.Expected):
			t.Errorf("%s: %d events, Elastic has %d", filepath.Base(log), len(evs), len(doc.Expected))
		case len(evs) > len(doc.Expected):
			// The shared copies of some expected files keep only their first documents.
			t.Logf("%s: Elastic's expected output covers the first %d of %d events", filepath.Base(log), len(doc.Expected), len(evs))
		}
		for i := 0; i < min(len(evs), len(doc.Expected)); i++ {
			want := map[string]any{}
			flatten("", doc.Expected[i], want)
			keys := make([]string, 0, len(want))
			for k := range want {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if !compared(k) {
					continue
				}
				if _, ok := skip[k]; ok {
					continue
				}
				if _, ok := skip[fmt.Sprintf("%s#%d:%s", filepath.Base(log), i+1, k)]; ok {
					continue
				}
				a.Fields++
				got, ok := evs[i].Get(k)
				if ok && same(got, want[k]) {
					a.Agree++
					continue
				}
				g := "(absent)"
				if ok {
					g = fmt.Sprintf("%s %s", got.Kind(), got.Text())
				}
				a.Diffs = append(a.Diffs, fmt.Sprintf("%s event %d: %s: want %v, got %s", filepath.Base(log), i+1, k, want[k], g))
			}
		}
	}
	if cases == 0 {
		t.Skipf("no Elastic expected outputs under %s", dir)
	}
	pct := 100.0
	if a.Fields > 0 {
		pct = 100 * float64(a.Agree) / float64(a.Fields)
	}
	t.Logf("ECS agreement with Elastic for %s: %d/%d fields (%.1f%%)", typ, a.Agree, a.Fields, pct)
	for _, d := range a.Diffs {
		t.Errorf("%s", d)
	}
	return a
}

// flatten turns a nested document into dotted keys; lists stay whole.
func flatten(prefix string, v any, out map[string]any) {
	m, ok := v.(map[string]any)
	if !ok {
		out[prefix] = v
		return
	}
	for k, x := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		flatten(key, x, out)
	}
}

// same compares our value with an expected JSON value, loosely as to representation: a number and its
// text agree ("17" and 17), a one-element list and its element agree, times agree as instants.
func same(got event.Value, want any) bool {
	switch w := want.(type) {
	case []any:
		var gl []string
		if got.Kind() == event.KindStrings {
			gl = got.List()
		} else {
			gl = []string{got.Text()}
		}
		if len(gl) != len(w) {
			return false
		}
		for i := range w {
			if !sameText(gl[i], w[i]) {
				return false
			}
		}
		return true
	}
	if got.Kind() == event.KindStrings && len(got.List()) == 1 {
		return sameText(got.List()[0], want)
	}
	if got.Kind() == event.KindTime {
		s, ok := want.(string)
		if !ok {
			return false
		}
		wt, err := time.Parse(time.RFC3339Nano, s)
		return err == nil && wt.Equal(got.Time())
	}
	return sameText(got.Text(), want)
}

func sameText(g string, want any) bool {
	switch w := want.(type) {
	case string:
		return g == w
	case float64:
		f, err := strconv.ParseFloat(g, 64)
		return err == nil && math.Abs(f-w) < 1e-9
	case bool:
		return g == strconv.FormatBool(w)
	case nil:
		return g == ""
	}
	b, _ := json.Marshal(want)
	return g == string(b)
}

// Examples parses each file matching the glob (relative to the fixtures directory) as typ and fails on
// any rejected record or an object with no events. It returns the number of events.
func Examples(t *testing.T, typ, glob string) int {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(Fixtures(t), glob))
	if len(files) == 0 {
		t.Skipf("no examples match %s", glob)
	}
	total := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		evs, rejs, _ := Run(t, typ, f, data, 0)
		for _, r := range rejs {
			t.Errorf("%s", r)
		}
		if len(evs) == 0 && len(rejs) == 0 {
			t.Errorf("%s: no events", f)
		}
		total += len(evs)
	}
	return total
}
