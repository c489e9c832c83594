package gen_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/ramen-siem/ramen/alert"
	"github.com/ramen-siem/ramen/demo/gen"
	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/parse"
	_ "github.com/ramen-siem/ramen/parse/all"
	"github.com/ramen-siem/ramen/rules"
	"github.com/ramen-siem/ramen/sigma"
)

// corpus is one day of the default organization, generated once for the tests of this file.
var corpus struct {
	once sync.Once
	dir  string
	res  *gen.Result
	err  error
}

func oneDay(t testing.TB) (string, *gen.Result) {
	corpus.once.Do(func() {
		corpus.dir, corpus.err = os.MkdirTemp("", "ramen-gen-")
		if corpus.err == nil {
			corpus.res, corpus.err = gen.Generate(context.Background(), filepath.Join(corpus.dir, "logs"), gen.Config{Seed: 1, Days: 1})
		}
	})
	if corpus.err != nil {
		t.Fatal(corpus.err)
	}
	return filepath.Join(corpus.dir, "logs"), corpus.res
}

func TestMain(m *testing.M) {
	code := m.Run()
	if corpus.dir != "" {
		os.RemoveAll(corpus.dir)
	}
	os.Exit(code)
}

// readTree returns every file of a tree, by slash path.
func readTree(t *testing.T, dir string) map[string][]byte {
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSameSeedSameBytes(t *testing.T) {
	root := t.TempDir()
	gen1 := func(name string, seed int64, workers int) (map[string][]byte, []byte) {
		dir := filepath.Join(root, name)
		if _, err := gen.Generate(context.Background(), dir, gen.Config{Seed: seed, Days: 1, Rate: "low", Workers: workers}); err != nil {
			t.Fatal(err)
		}
		truth, err := os.ReadFile(gen.TruthPath(dir))
		if err != nil {
			t.Fatal(err)
		}
		return readTree(t, dir), truth
	}
	a, ta := gen1("a", 7, 1)
	b, tb := gen1("b", 7, 4)
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("same seed: %d and %d files", len(a), len(b))
	}
	for k, v := range a {
		if !bytes.Equal(v, b[k]) {
			t.Fatalf("same seed, different bytes in %s", k)
		}
	}
	if !bytes.Equal(ta, tb) {
		t.Fatal("same seed, different ground truth")
	}
	c, _ := gen1("c", 8, 4)
	same := 0
	for k, v := range a {
		if bytes.Equal(v, c[k]) {
			same++
		}
	}
	if same > 0 {
		t.Errorf("seeds 7 and 8 share %d identical objects", same)
	}
}

// parsed is one generated object read back by ramen's parsers.
type parsed struct {
	name   string
	events []*event.Event
}

func parseTree(t *testing.T, dir string) ([]parsed, parse.Stats) {
	var objs []parsed
	var sum parse.Stats
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		o := parsed{name: p}
		st, err := parse.Object(context.Background(), p, f, parse.Options{}, func(e *event.Event) error {
			o.events = append(o.events, e)
			return nil
		}, func(r *parse.Reject) { t.Errorf("rejected: %s", r) })
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		sum.Add(st)
		objs = append(objs, o)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return objs, sum
}

// Every record the generator writes parses, as the type it was written as.
func TestEveryRecordParses(t *testing.T) {
	dir, res := oneDay(t)
	objs, sum := parseTree(t, dir)
	if sum.Rejected != 0 {
		t.Fatalf("%d records rejected", sum.Rejected)
	}
	got := map[string]int{}
	for _, o := range objs {
		for _, e := range o.events {
			got[e.Type]++
		}
	}
	for _, typ := range []string{"cloudtrail", "vpcflow", "route53", "guardduty", "s3access", "elb", "waf", "cloudfront"} {
		if got[typ] == 0 {
			t.Errorf("no %s events generated", typ)
		}
		if got[typ] != res.Events[typ] {
			t.Errorf("%s: generator counted %d records, parsers read %d events", typ, res.Events[typ], got[typ])
		}
	}
}

// The rules that exist for a scenario fire on its records, and the benign data raises few alerts.
func TestScenariosDetected(t *testing.T) {
	dir, res := oneDay(t)
	objs, _ := parseTree(t, dir)
	truth := res.Truth
	marks := map[string]string{} // object \x00 offset -> scenario
	for _, s := range truth.Scenarios {
		for _, e := range s.Events {
			marks[fmt.Sprintf("%s\x00%d", e.Object, e.Offset)] = s.ID
		}
	}
	scenOf := map[string]string{}
	found := 0
	for _, o := range objs {
		rel, _ := filepath.Rel(dir, o.name)
		for _, e := range o.events {
			off, _ := e.Get("log.offset")
			if s, ok := marks[fmt.Sprintf("%s\x00%d", filepath.ToSlash(rel), off.Int())]; ok {
				scenOf[e.ID] = s
				found++
			}
		}
	}
	if found != len(marks) {
		t.Fatalf("ground truth lists %d records, %d of them found at their object and offset", len(marks), found)
	}
	// Detection over the objects in time order, as ramen demo runs it.
	files, err := sigma.ReadFS(rules.Builtin(), ".", "builtin:")
	if err != nil {
		t.Fatal(err)
	}
	rs, errs := sigma.Compile(files, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	det := sigma.NewDetector(rs, sigma.Limits{})
	var all []*event.Event
	for _, o := range objs {
		all = append(all, o.events...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Timestamp.Before(all[j].Timestamp) })
	var alerts []*alert.Alert
	for _, e := range all {
		alerts = append(alerts, det.Detect(e)...)
	}
	alerts = append(alerts, det.Flush()...)

	fired := map[string]map[string]int{} // scenario -> rule id -> alerts
	for _, a := range alerts {
		s := "benign"
		for _, id := range a.EventIDs {
			if x, ok := scenOf[id]; ok {
				s = x
				break
			}
		}
		if fired[s] == nil {
			fired[s] = map[string]int{}
		}
		fired[s][a.Rule.ID]++
	}
	for _, s := range truth.Scenarios {
		for _, d := range s.Detections {
			if fired[s.ID][d.RuleID] == 0 {
				t.Errorf("scenario %s: %q did not fire (fired: %v)", s.ID, d.Title, fired[s.ID])
			}
		}
		if len(s.Detections) == 0 && len(s.Pending) == 0 {
			t.Errorf("scenario %s: neither a detection nor a pending detector", s.ID)
		}
		if len(s.Events) == 0 && s.ID != "log-source-silent" {
			t.Errorf("scenario %s has no records", s.ID)
		}
	}
	// Benign false positives of one day of the default organization (docs/demo.md has the numbers):
	// a few internet probes rejected by security groups, a mistyped console password now and then.
	benign := 0
	var names []string
	for id, n := range fired["benign"] {
		benign += n
		names = append(names, fmt.Sprintf("%s=%d", id, n))
	}
	t.Logf("benign alerts: %d (%s); alerts in all: %d", benign, strings.Join(names, " "), len(alerts))
	if benign > 12 {
		t.Errorf("the benign data raised %d alerts (%s), more than 12", benign, strings.Join(names, " "))
	}
}

func BenchmarkGenerate(b *testing.B) {
	dir := b.TempDir()
	var events, size int64
	for i := 0; i < b.N; i++ {
		res, err := gen.Generate(context.Background(), dir, gen.Config{Seed: int64(i), Days: 1})
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range res.Events {
			events += int64(n)
		}
		size += res.Bytes
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(size)/b.Elapsed().Seconds()/1e6, "gzMB/s")
}
