package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/ramen-siem/ramen/alert"
	"github.com/ramen-siem/ramen/demo/gen"
	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/lake"
	"github.com/ramen-siem/ramen/parse"
	"github.com/ramen-siem/ramen/progress"
	"github.com/ramen-siem/ramen/sigma"
	"github.com/ramen-siem/ramen/source/s3"
)

func init() {
	commands["demo"] = command{"generate a multi-account AWS organization's logs with attacks in them, ingest them, detect, and show the alerts", runDemo}
}

// defaultDataDir is ramen's data home: $RAMEN_DATA, else $XDG_DATA_HOME/ramen, else ~/.local/share/ramen.
func defaultDataDir() string {
	if d := os.Getenv("RAMEN_DATA"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "ramen")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "ramen")
	}
	return filepath.Join(os.TempDir(), "ramen")
}

// demoLogs is where the demo's generated logs live in a data directory.
func demoLogs(data string) string { return filepath.Join(data, "demo-logs") }

func runDemo(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("demo", "[--data DIR] [--seed N] [--accounts N] [--days N] [--rate low|normal|high] [--generate DIR]", stderr)
	dataDir := fs.String("data", defaultDataDir(), "data `directory`: logs are generated into DIR/demo-logs, the lake is DIR/lake; also $RAMEN_DATA")
	seed := fs.Int64("seed", 1, "random `seed`: the same seed gives the same data, byte for byte")
	accounts := fs.Int("accounts", 4, "`number` of AWS accounts (at least 4: log archive, security, prod, dev)")
	days := fs.Int("days", 3, "`days` of logs")
	rate := fs.String("rate", "normal", "how busy the organization is: low, normal or high")
	genOnly := fs.String("generate", "", "only write the logs (and DIR.ground-truth.json) into `DIR`: no lake, no detection")
	quiet := fs.Bool("q", false, "no progress or summary on stderr")
	if _, err := parseInterleaved(fs, args); err != nil {
		return &exitError{code: 1}
	}
	cfg := gen.Config{Seed: *seed, Accounts: *accounts, Days: *days, Rate: *rate}
	pw := progressWriter(stderr, *quiet)

	if *genOnly != "" {
		res, err := generate(ctx, *genOnly, cfg, pw)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "generated %s objects, %s events in %s (ground truth: %s)\n", thousands(res.Objects), thousands(total(res.Events)),
			res.Dir, gen.TruthPath(res.Dir))
		return nil
	}

	if s3.IsURL(*dataDir) {
		return &exitError{code: 1, err: fmt.Errorf("--data %s: the demo keeps its logs and lake in a local directory; give one with --data DIR (then 'ramen ingest --data s3://... DIR/demo-logs' loads the logs into a lake on S3)", *dataDir)}
	}
	logs := demoLogs(*dataDir)
	start := time.Now()
	truth, reused, err := reuseOrGenerate(ctx, logs, cfg, pw)
	if err != nil {
		return err
	}
	objects, size, err := expand([]string{logs})
	if err != nil {
		return err
	}
	verb := "generated"
	if reused {
		verb = "reused"
	}
	fmt.Fprintf(stdout, "ramen demo: %s %d accounts x %d days (seed %d, rate %s): %s objects in %s (%.1fs)\n", verb, truth.Accounts, truth.Days,
		truth.Seed, truth.Rate, thousands(len(objects)), logs, time.Since(start).Seconds())

	l, err := lake.Open(lakeDir(*dataDir), lake.Options{})
	if err != nil {
		return err
	}
	defer l.Close()

	// Detection reads the objects on its own, in time order, beside the ingest: that keeps it on the
	// second core and independent of what the lake has already.
	det, err := newDemoDetector(truth, logs)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	var detErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		detErr = det.run(ctx, objects)
	}()
	t0 := time.Now()
	st, err := ingestObjects(ctx, l, objects, size, ingestOptions{batchBytes: 256 << 20, progress: pw, log: stderr})
	if err != nil {
		return err
	}
	wg.Wait()
	if detErr != nil {
		return detErr
	}
	fmt.Fprintf(stdout, "ingested %s events from %s objects (%s already in the lake), %d rejected, into %s (%.1fs)\n",
		thousands(st.events), thousands(st.objects), thousands(st.skipped), st.rejected, lakeDir(*dataDir), time.Since(t0).Seconds())
	written, err := det.store(ctx, l)
	if err != nil {
		return fmt.Errorf("writing the alerts to the lake: %w", err)
	}
	fmt.Fprintf(stdout, "detected %d alerts (%d matches folded by rule and hour) with %d rules and %d correlations over %s events",
		len(det.alerts), det.raised, det.rules, det.corrs, thousands(det.events))
	if written {
		fmt.Fprintf(stdout, "; stored in the lake as type 'alerts'")
	}
	fmt.Fprintf(stdout, " (%.1fs in all)\n\n", time.Since(start).Seconds())
	det.summary(stdout)
	fmt.Fprintf(stdout, `
Try next (the alerts are a table too):
  ramen query --data %[1]s "SELECT severity, rule.name AS rule, demo.scenario AS scenario, count(*) AS n FROM alerts GROUP BY ALL ORDER BY n DESC"
  ramen query --data %[1]s "SELECT \"@timestamp\", event.action, event.outcome, source.ip FROM cloudtrail WHERE user.name IN ('svc-reporting', 'backup-admin') ORDER BY 1 LIMIT 40"
  ramen query --data %[1]s "SELECT source.ip, count(DISTINCT destination.port) AS ports FROM vpcflow WHERE aws.vpcflow.action = 'REJECT' GROUP BY 1 ORDER BY 2 DESC LIMIT 5"
  ramen query --data %[1]s "SELECT type, count(*) AS events FROM events GROUP BY 1 ORDER BY 2 DESC"
The attacks are described in docs/demo.md; their records are listed in %[2]s.
(Use 'go run ./cmd/ramen' in place of 'ramen' from the source tree.)
`, shellQuote(*dataDir), gen.TruthPath(logs))
	if st.rejected > 0 || det.rejected > 0 {
		return &exitError{code: 2, err: fmt.Errorf("%d generated records were rejected: a bug in the generator or a parser", st.rejected+det.rejected)}
	}
	return nil
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func generate(ctx context.Context, dir string, cfg gen.Config, pw io.Writer) (*gen.Result, error) {
	bar := progress.Start(pw, "generate", 0)
	var mu sync.Mutex
	cfg.Progress = func(b int64, ev int) {
		mu.Lock()
		bar.Add(b, 1, int64(ev))
		mu.Unlock()
	}
	res, err := gen.Generate(ctx, dir, cfg)
	bar.Done()
	return res, err
}

// reuseOrGenerate keeps the logs of an earlier run with the same settings, else generates them anew
// (the old tree is removed first, so that no object of other settings stays behind).
func reuseOrGenerate(ctx context.Context, logs string, cfg gen.Config, pw io.Writer) (*gen.Truth, bool, error) {
	if t, err := gen.ReadTruth(gen.TruthPath(logs)); err == nil && t.Matches(cfg) {
		if _, err := os.Stat(logs); err == nil {
			return t, true, nil
		}
	}
	if err := os.RemoveAll(logs); err != nil {
		return nil, false, err
	}
	os.Remove(gen.TruthPath(logs))
	res, err := generate(ctx, logs, cfg, pw)
	if err != nil {
		return nil, false, err
	}
	return res.Truth, false, nil
}

// demoDetector runs the built-in rules over the generated objects and ties alerts to scenarios.
type demoDetector struct {
	logs     string
	rs       *sigma.RuleSet
	lim      sigma.Limits
	rules    int
	corrs    int
	truth    *gen.Truth
	marks    map[string]map[int64]string // object -> offset -> scenario
	scenOf   map[string]string           // event id -> scenario
	alerts   []*alert.Alert              // folded
	raised   int                         // alerts before folding
	events   int
	rejected int
}

func newDemoDetector(truth *gen.Truth, logs string) (*demoDetector, error) {
	_, lim, err := loadSigmaConfig("")
	if err != nil {
		return nil, err
	}
	files, _, err := readRuleFiles(nil, true, false)
	if err != nil {
		return nil, err
	}
	rs, rerrs := sigma.Compile(files, nil)
	if len(rerrs) > 0 {
		return nil, fmt.Errorf("built-in rules: %v", rerrs)
	}
	d := &demoDetector{logs: logs, rs: rs, lim: lim, rules: len(rs.Rules()), corrs: len(rs.Correlations()), truth: truth,
		marks: map[string]map[int64]string{}, scenOf: map[string]string{}}
	for _, s := range truth.Scenarios {
		for _, e := range s.Events {
			m := d.marks[e.Object]
			if m == nil {
				m = map[int64]string{}
				d.marks[e.Object] = m
			}
			m[e.Offset] = s.ID
		}
	}
	return d, nil
}

// objectTime finds the time an object covers from its name, so that detection sees the objects of
// all accounts and types in one time order (correlations need it).
var objectTimeRE = regexp.MustCompile(`(\d{8}T\d{4}Z)|(\d{4}-\d\d-\d\d-\d\d(-\d\d-\d\d)?)|(\d{4}/\d\d/\d\d)`)

func objectTime(name string) string {
	m := objectTimeRE.FindAllString(filepath.ToSlash(name), -1)
	if len(m) == 0 {
		return ""
	}
	s := m[len(m)-1]
	switch {
	case strings.Contains(s, "T"):
		return s[:4] + "-" + s[4:6] + "-" + s[6:8] + "-" + s[9:11] + "-" + s[11:13]
	case strings.Contains(s, "/"):
		return strings.ReplaceAll(s, "/", "-") + "-23-59" // a date alone: objects named by a uuid (GuardDuty)
	}
	return s[:min(len(s), 16)]
}

func (d *demoDetector) run(ctx context.Context, objects []object) error {
	objs := append([]object(nil), objects...)
	keys := make(map[string]string, len(objs))
	for _, o := range objs {
		keys[o.name] = objectTime(o.name)
	}
	sort.SliceStable(objs, func(i, j int) bool { return keys[objs[i].name] < keys[objs[j].name] })
	det := sigma.NewDetector(d.rs, d.lim)
	var evs []*event.Event
	for _, o := range objs {
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(d.logs, o.name)
		rel = filepath.ToSlash(rel)
		marks := d.marks[rel]
		evs = evs[:0]
		f, err := os.Open(o.name)
		if err != nil {
			return err
		}
		st, err := parse.Object(ctx, o.name, f, parse.Options{}, func(e *event.Event) error {
			evs = append(evs, e)
			if marks != nil {
				if v, ok := e.Get("log.offset"); ok {
					if s, ok := marks[v.Int()]; ok {
						d.scenOf[e.ID] = s
					}
				}
			}
			return nil
		}, func(*parse.Reject) {})
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", o.name, err)
		}
		d.rejected += st.Rejected
		sort.SliceStable(evs, func(i, j int) bool { return evs[i].Timestamp.Before(evs[j].Timestamp) })
		for _, e := range evs {
			d.alerts = append(d.alerts, det.Detect(e)...)
		}
		d.events += len(evs)
	}
	d.alerts = append(d.alerts, det.Flush()...)
	// Repeats are folded as ingest folds them (the same rule and group within an hour is one alert
	// with a count), so the summary shows what an analyst would be handed, not every matching flow.
	d.raised = len(d.alerts)
	slices.SortStableFunc(d.alerts, func(a, b *alert.Alert) int { return a.FirstSeen.Compare(b.FirstSeen) })
	agg := alert.NewAggregator(alert.DefaultWindow)
	for _, a := range d.alerts {
		agg.Add(a)
	}
	d.alerts = agg.Updated()
	return nil
}

// scenario returns the scenario an alert belongs to: the one most of its events belong to, or
// "benign" when none does.
func (d *demoDetector) scenario(a *alert.Alert) string {
	n := map[string]int{}
	best := ""
	for _, id := range a.EventIDs {
		if s, ok := d.scenOf[id]; ok {
			n[s]++
			if best == "" || n[s] > n[best] || (n[s] == n[best] && s < best) {
				best = s
			}
		}
	}
	if best == "" {
		return "benign"
	}
	return best
}

// store writes the alerts into the lake as events of type "alerts", once: a re-run over the same
// data finds its alerts already there (alert ids are stable) and writes nothing.
func (d *demoDetector) store(ctx context.Context, l *lake.Lake) (bool, error) {
	if len(d.alerts) == 0 {
		return false, nil
	}
	ids := make([]string, len(d.alerts))
	for i, a := range d.alerts {
		ids[i] = a.ID
	}
	key := "ramen-demo-alerts:" + alert.NewID("demo", nil, ids)
	obj := lake.Object{Key: key, SHA256: alert.NewID("demo", nil, ids), Size: int64(len(ids))}
	if _, ok := l.Ingested(obj); ok {
		return true, nil
	}
	ap, err := l.NewAppender()
	if err != nil {
		return false, err
	}
	for _, a := range d.alerts {
		if err := ap.Add(alertEvent(a, d.scenario(a))); err != nil {
			ap.Abort()
			return false, err
		}
	}
	obj.Events = len(d.alerts)
	ap.EndObject(obj)
	if _, err := ap.Commit(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// alertEvent is the alert as the lake keeps it, tagged with the demo scenario it belongs to.
func alertEvent(a *alert.Alert, scenario string) *event.Event {
	e := a.Event()
	e.Add("demo.scenario", event.String(scenario))
	return e
}

func (d *demoDetector) summary(w io.Writer) {
	type row struct {
		sev   [5]int
		rules map[string]int
	}
	rows := map[string]*row{}
	for _, a := range d.alerts {
		s := d.scenario(a)
		r := rows[s]
		if r == nil {
			r = &row{rules: map[string]int{}}
			rows[s] = r
		}
		r.sev[a.Severity.Rank()]++
		r.rules[a.Rule.Title]++
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tCRIT\tHIGH\tMED\tLOW\tINFO\tDETECTED BY (alerts)")
	names := []string{}
	for _, s := range d.truth.Scenarios {
		names = append(names, s.ID)
	}
	names = append(names, "benign")
	for _, n := range names {
		r := rows[n]
		if r == nil {
			r = &row{rules: map[string]int{}}
		}
		label := topN(r.rules, 6)
		if label == "" {
			label = "-"
			if s := d.truthScenario(n); s != nil && len(s.Pending) > 0 {
				label = "no rule yet: needs " + strings.Join(s.Pending, "; ")
			}
		}
		name := n
		if n == "benign" {
			name = "benign (false positives)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\n", name, r.sev[4], r.sev[3], r.sev[2], r.sev[1], r.sev[0], label)
	}
	tw.Flush()
}

func (d *demoDetector) truthScenario(id string) *gen.Scenario {
	for _, s := range d.truth.Scenarios {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// topN renders the n most frequent keys as "a (3), b (2)".
func topN(m map[string]int, n int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	more := ""
	if len(keys) > n {
		more = fmt.Sprintf(", +%d more", len(keys)-n)
		keys = keys[:n]
	}
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s (%d)", k, m[k])
	}
	return strings.Join(parts, ", ") + more
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// shellQuote quotes a path for a copy-pasteable command when it needs it.
func shellQuote(s string) string {
	if regexp.MustCompile(`^[A-Za-z0-9_./,:@%+=-]+$`).MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
