package sigma

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/rules"
)

// benchRules builds a set of n rules: the SigmaHQ cloud and linux rules and ramen's built-in rules,
// repeated with varied literals (copy k appends k to every text value of its detection, so each copy
// indexes under its own eventName). With retarget, every rule is made a CloudTrail rule (a stress
// test: 345 of them have no literal to index on and run on every event, most of them keyword
// searches over the whole record); without, rules keep their logsource, so the Azure, GCP, M365 and
// Linux rules are filed under other log types and cost a CloudTrail event nothing.
func benchRules(tb testing.TB, n int, retarget bool) *RuleSet {
	shared := sharedDir(tb)
	var files []File
	for _, dir := range []string{"cloud", "linux"} {
		f, err := ReadPath(filepath.Join(shared, "sigma", "rules", dir))
		if err != nil {
			tb.Fatal(err)
		}
		files = append(files, f...)
	}
	b, err := ReadFS(rules.Builtin(), ".", "builtin:")
	if err != nil {
		tb.Fatal(err)
	}
	files = append(files, b...)
	base, errs := parseFiles(files)
	if len(errs) > 0 {
		tb.Fatal(errs)
	}
	var rulesOnly []*document
	for _, d := range base {
		if d.kind == KindRule {
			rulesOnly = append(rulesOnly, d)
		}
	}
	var docs []*document
	for k := 0; len(docs) < n; k++ {
		for _, d0 := range rulesOnly {
			if len(docs) == n {
				break
			}
			d := *d0
			d.meta.ID = fmt.Sprintf("%s-%d", d0.meta.ID, k)
			d.meta.Name = ""
			if retarget {
				d.meta.Logsource = Logsource{Product: "aws", Service: "cloudtrail"}
			}
			if k > 0 {
				d.searches = map[string]*node{}
				for name, s := range d0.searches {
					d.searches[name] = varyNode(s, fmt.Sprint(k))
				}
			}
			docs = append(docs, &d)
		}
	}
	rs, errs := compileDocs(docs, nil, nil)
	if len(errs) > 0 {
		tb.Fatal(errs[0])
	}
	return rs
}

func varyNode(n *node, suffix string) *node {
	c := *n
	switch n.kind {
	case nodeString:
		if !strings.HasSuffix(c.text, "*") {
			c.text += suffix
		}
	case nodeMap, nodeSeq:
		c.vals = make([]*node, len(n.vals))
		for i, v := range n.vals {
			if n.kind == nodeMap && strings.ContainsAny(n.keys[i].text, "|") && !strings.HasSuffix(n.keys[i].text, "|contains") &&
				!strings.HasSuffix(n.keys[i].text, "|startswith") && !strings.HasSuffix(n.keys[i].text, "|endswith") {
				c.vals[i] = v // cidr, re, numbers...: keep valid
				continue
			}
			c.vals[i] = varyNode(v, suffix)
		}
	}
	return &c
}

// benchEvents parses the CloudTrail records of the built-in rule tests and of the parser's test
// data: a mix of events that match rules and events that do not.
func benchEvents(tb testing.TB) []*event.Event {
	tests, err := ReadTestsFS(rules.Builtin(), ".", "")
	if err != nil {
		tb.Fatal(err)
	}
	var recs []string
	for _, tf := range tests {
		cases, err := parseTestFile(tf)
		if err != nil {
			tb.Fatal(err)
		}
		for _, c := range cases {
			if c.LogType == "cloudtrail" {
				recs = append(recs, c.Records...)
			}
		}
	}
	evs, err := ParseRecords(context.Background(), "cloudtrail", recs)
	if err != nil {
		tb.Fatal(err)
	}
	if b, err := os.ReadFile("../parse/cloudtrail/testdata/golden/records.json"); err == nil {
		if more, err := ParseRecords(context.Background(), "cloudtrail", []string{string(b)}); err == nil {
			evs = append(evs, more...)
		}
	}
	if len(evs) < 20 {
		tb.Fatalf("only %d events", len(evs))
	}
	return evs
}

// fresh copies an event so that its original record is parsed again, as a new event's would be.
func fresh(e *event.Event) *event.Event {
	c := event.New(e.Type, e.Original, len(e.Fields))
	c.Fields = append(c.Fields, e.Fields...)
	c.ID, c.Timestamp, c.NativeRoot = e.ID, e.Timestamp, e.NativeRoot
	return c
}

// BenchmarkMatch1000 measures RuleSet.Match with 1,000 rules over CloudTrail events, on one core and
// on all of them (Match is safe for concurrent use). Each event is a new copy: its JSON record is
// parsed inside the measured time. "own-logsource" keeps each rule's logsource; "all-cloudtrail"
// makes every rule a CloudTrail rule (see benchRules).
//
//	go test ./sigma -run '^$' -bench Match1000 -benchtime 2s
func BenchmarkMatch1000(b *testing.B) {
	evs := benchEvents(b)
	for _, retarget := range []bool{false, true} {
		name := "own-logsource"
		if retarget {
			name = "all-cloudtrail"
		}
		rs := benchRules(b, 1000, retarget)
		by, always := rs.IndexStats("cloudtrail")
		n := always
		for _, k := range by {
			n += k
		}
		b.Logf("%s: %d rules, %d on cloudtrail: %d indexed by eventName, %d tested on every event; %d events",
			name, len(rs.Rules()), n, by["eventName"], always, len(evs))
		b.Run(name+"/serial", func(b *testing.B) {
			var dst []*Rule
			copies := make([]*event.Event, 0, len(evs))
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if i%len(evs) == 0 {
					copies = copies[:0]
					for _, e := range evs {
						copies = append(copies, fresh(e))
					}
				}
				dst = rs.Match(copies[i%len(evs)], dst[:0])
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				var dst []*Rule
				i := 0
				for pb.Next() {
					dst = rs.Match(fresh(evs[i%len(evs)]), dst[:0])
					i++
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// BenchmarkCorrelation100k keeps 100,000 live groups of an event_count correlation and reports the
// heap they take.
//
//	go test ./sigma -run '^$' -bench Correlation100k -benchtime 1x
func BenchmarkCorrelation100k(b *testing.B) {
	corr := `title: bf
correlation:
  type: event_count
  rules: [failed]
  group-by: [userIdentity.userName]
  timespan: 24h
  condition: {gte: 1000000}
`
	rs, errs := Compile([]File{{Name: "base.yml", Data: []byte(baseRules)}, {Name: "c.yml", Data: []byte(corr)}}, nil)
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	var failed *Rule
	for _, r := range rs.Rules() {
		if r.Name == "failed" {
			failed = r
		}
	}
	const groups = 100_000
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		c := NewCorrelator(rs, Limits{MaxGroups: groups})
		matched := []*Rule{failed}
		start := time.Now()
		for j := 0; j < 3*groups; j++ {
			e := event.New("cloudtrail", fmt.Sprintf(`{"userIdentity":{"userName":"user%06d"}}`, j%groups), 0)
			e.ID = fmt.Sprintf("%032x", j)
			e.Timestamp = t0.Add(time.Duration(j) * time.Millisecond)
			c.Add(e, matched)
		}
		el := time.Since(start)
		runtime.GC()
		runtime.ReadMemStats(&after)
		st := c.Stats()
		if st.Groups != groups || st.EvictedGroups != 0 {
			b.Fatalf("stats %+v", st)
		}
		heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)
		b.ReportMetric(heap/(1<<20), "MiB")
		b.ReportMetric(heap/groups, "B/group")
		b.ReportMetric(float64(3*groups)/el.Seconds(), "events/s")
		runtime.KeepAlive(c)
	}
}
