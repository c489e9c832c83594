package sigma

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ramen-siem/ramen/alert"
	"github.com/ramen-siem/ramen/event"
)

const baseRules = `
title: failed login
name: failed
logsource: {product: aws, service: cloudtrail}
detection:
  s:
    eventName: ConsoleLogin
    responseElements.ConsoleLogin: Failure
  condition: s
---
title: good login
name: good
logsource: {product: aws, service: cloudtrail}
detection:
  s:
    eventName: ConsoleLogin
    responseElements.ConsoleLogin: Success
  condition: s
---
title: transfer
name: transfer
logsource: {product: aws, service: cloudtrail}
detection:
  s:
    eventName: GetObject
  condition: s
---
title: policy change
name: policy
logsource: {product: aws, service: cloudtrail}
detection:
  s:
    eventName: AttachUserPolicy
  condition: s
`

type step struct {
	sec int    // seconds after the start
	rec string // a record
}

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func login(user, outcome string) string {
	return fmt.Sprintf(`{"eventName":"ConsoleLogin","userIdentity":{"userName":%q},"sourceIPAddress":"10.0.0.%d","responseElements":{"ConsoleLogin":%q}}`, user, len(user), outcome)
}

func get(user, bucket string, bytes int) string {
	return fmt.Sprintf(`{"eventName":"GetObject","userIdentity":{"userName":%q},"requestParameters":{"bucketName":%q},"additionalEventData":{"bytesTransferredOut":%d}}`, user, bucket, bytes)
}

func policy(user string) string {
	return fmt.Sprintf(`{"eventName":"AttachUserPolicy","userIdentity":{"userName":%q}}`, user)
}

// runCorr compiles the base rules plus a correlation and feeds the steps; it returns the
// correlation alerts (single-rule alerts left out).
func runCorr(t *testing.T, corr string, steps []step, lim Limits) ([]*alert.Alert, *Detector) {
	t.Helper()
	rs, errs := Compile([]File{{Name: "base.yml", Data: []byte(baseRules)}, {Name: "corr.yml", Data: []byte(corr)}}, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	d := NewDetector(rs, lim)
	var out []*alert.Alert
	for i, s := range steps {
		e := event.New("cloudtrail", s.rec, 0)
		e.ID = fmt.Sprintf("e%d", i)
		e.Timestamp = t0.Add(time.Duration(s.sec) * time.Second)
		for _, a := range d.Detect(e) {
			if a.Rule.Kind == "correlation" {
				out = append(out, a)
			}
		}
	}
	for _, a := range d.Flush() {
		out = append(out, a)
	}
	return out, d
}

func TestEventCount(t *testing.T) {
	corr := `title: brute force
id: bf
level: high
correlation:
  type: event_count
  rules: [failed]
  group-by: [userIdentity.userName]
  timespan: 1m
  condition: {gte: 3}
`
	// three failures of alice within a minute fire; bob's two do not; alice's spread-out ones do not
	as, _ := runCorr(t, corr, []step{
		{0, login("alice", "Failure")}, {10, login("bob", "Failure")}, {20, login("alice", "Failure")},
		{30, login("bob", "Failure")}, {50, login("alice", "Failure")},
		{200, login("carol", "Failure")}, {270, login("carol", "Failure")}, {340, login("carol", "Failure")},
	}, Limits{})
	if len(as) != 1 {
		t.Fatalf("%d alerts, want 1: %v", len(as), as)
	}
	a := as[0]
	if a.Group["userIdentity.userName"] != "alice" || a.Count != 3 || a.Severity != alert.High || strings.Join(a.EventIDs, ",") != "e0,e2,e4" ||
		!a.FirstSeen.Equal(t0) || !a.LastSeen.Equal(t0.Add(50*time.Second)) || a.Rule.Correlation != "event_count" || *a.Value != 3 {
		t.Errorf("alert %+v", a)
	}
}

func TestEventCountSlidingWindow(t *testing.T) {
	corr := `title: bf
correlation:
  type: event_count
  rules: [failed]
  group-by: [userIdentity.userName]
  timespan: 60s
  condition: {gte: 3}
`
	// events at 0, 50, 100, 110: a fixed 60s bucket at 0 would hold two, a sliding window ending at
	// 110 holds three (50, 100, 110)
	as, _ := runCorr(t, corr, []step{{0, login("a", "Failure")}, {50, login("a", "Failure")}, {100, login("a", "Failure")}, {110, login("a", "Failure")}}, Limits{})
	if len(as) != 1 || strings.Join(as[0].EventIDs, ",") != "e1,e2,e3" {
		t.Fatalf("alerts %v", as)
	}
}

func TestEventCountUpperBound(t *testing.T) {
	corr := `title: too few
correlation:
  type: event_count
  rules: [failed]
  group-by: [userIdentity.userName]
  timespan: 1m
  condition: {lt: 2}
`
	// lt is judged when the window closes: alice has 1 (fires at flush), bob 2 (does not)
	as, _ := runCorr(t, corr, []step{{0, login("alice", "Failure")}, {1, login("bob", "Failure")}, {2, login("bob", "Failure")}}, Limits{})
	if len(as) != 1 || as[0].Group["userIdentity.userName"] != "alice" {
		t.Fatalf("alerts %v", as)
	}
}

func TestValueCount(t *testing.T) {
	corr := `title: many buckets
correlation:
  type: value_count
  rules: [transfer]
  group-by: [userIdentity.userName]
  timespan: 10m
  condition:
    field: requestParameters.bucketName
    gte: 3
`
	as, _ := runCorr(t, corr, []step{
		{0, get("u", "a", 1)}, {1, get("u", "a", 1)}, {2, get("u", "b", 1)}, {3, get("v", "c", 1)}, {4, get("u", "c", 1)},
	}, Limits{})
	if len(as) != 1 || *as[0].Value != 3 || as[0].Count != 4 {
		t.Fatalf("alerts %+v", as)
	}
}

func TestTemporal(t *testing.T) {
	corr := `title: login and policy
correlation:
  type: temporal
  rules: [good, policy]
  group-by: [userIdentity.userName]
  timespan: 5m
`
	as, _ := runCorr(t, corr, []step{
		{0, policy("x")}, {60, login("x", "Success")}, // either order
		{0, login("y", "Success")}, {400, policy("y")}, // too far apart
	}, Limits{})
	if len(as) != 1 || as[0].Group["userIdentity.userName"] != "x" {
		t.Fatalf("alerts %+v", as)
	}
}

func TestTemporalOrdered(t *testing.T) {
	corr := `title: failures then success
correlation:
  type: temporal_ordered
  rules: [failed, good]
  group-by: [userIdentity.userName]
  timespan: 5m
`
	as, _ := runCorr(t, corr, []step{
		{0, login("x", "Success")}, {10, login("x", "Failure")}, // success first: nothing yet
		{20, login("x", "Success")},                              // failure then success: fires
		{30, login("y", "Success")}, {40, login("y", "Failure")}, // wrong order only
	}, Limits{})
	if len(as) != 1 || as[0].Group["userIdentity.userName"] != "x" || strings.Join(as[0].EventIDs, ",") != "e1,e2" {
		t.Fatalf("alerts %+v", as)
	}
}

func TestValueSumAvgPercentile(t *testing.T) {
	sum := `title: exfil
correlation:
  type: value_sum
  rules: [transfer]
  group-by: [userIdentity.userName]
  timespan: 1h
  condition:
    field: additionalEventData.bytesTransferredOut
    gt: 1000
`
	as, _ := runCorr(t, sum, []step{{0, get("u", "a", 600)}, {1, get("v", "a", 600)}, {2, get("u", "a", 600)}}, Limits{})
	if len(as) != 1 || *as[0].Value != 1200 || as[0].Group["userIdentity.userName"] != "u" {
		t.Fatalf("value_sum %+v", as)
	}
	avg := strings.Replace(strings.Replace(sum, "value_sum", "value_avg", 1), "gt: 1000", "gt: 500", 1)
	as, _ = runCorr(t, avg, []step{{0, get("u", "a", 100)}, {1, get("u", "a", 800)}, {2, get("u", "a", 900)}}, Limits{})
	if len(as) != 1 || *as[0].Value != 600 {
		t.Fatalf("value_avg %+v", as)
	}
	pct := strings.Replace(strings.Replace(sum, "value_sum", "value_percentile", 1), "gt: 1000", "percentile: 50\n    gte: 500", 1)
	as, _ = runCorr(t, pct, []step{{0, get("u", "a", 100)}, {1, get("u", "a", 800)}, {2, get("u", "a", 900)}}, Limits{})
	if len(as) != 1 || *as[0].Value != 800 {
		t.Fatalf("value_percentile %+v", as)
	}
	// without percentile: the share of the window's events with the newest event's value (rarity)
	rare := `title: rare bucket
correlation:
  type: value_percentile
  rules: [transfer]
  group-by: [userIdentity.userName]
  timespan: 1h
  condition:
    field: requestParameters.bucketName
    lte: 20
`
	var steps []step
	for i := 0; i < 9; i++ {
		steps = append(steps, step{i, get("u", "common", 1)})
	}
	steps = append(steps, step{10, get("u", "rare", 1)})
	as, _ = runCorr(t, rare, steps, Limits{})
	if len(as) != 1 || *as[0].Value != 10 {
		t.Fatalf("value_percentile share %+v", as)
	}
}

func TestChainedAndAliases(t *testing.T) {
	corr := `title: brute force then success
level: critical
correlation:
  type: temporal_ordered
  rules: [many_failed, good]
  group-by: [user]
  timespan: 10m
  aliases:
    user:
      many_failed: user
      good: userIdentity.userName
---
title: many failed
name: many_failed
correlation:
  type: event_count
  rules: [failed]
  group-by: [user]
  timespan: 10m
  condition: {gte: 2}
  aliases:
    user:
      failed: userIdentity.userName
`
	as, d := runCorr(t, corr, []step{
		{0, login("z", "Failure")}, {10, login("z", "Failure")}, {20, login("z", "Success")},
		{30, login("w", "Failure")}, {40, login("w", "Success")},
	}, Limits{})
	if len(as) != 1 || as[0].Rule.Title != "brute force then success" || as[0].Group["user"] != "z" || as[0].Count != 3 || as[0].Severity != alert.Critical {
		t.Fatalf("alerts %+v", as)
	}
	// the inner correlation and the rules it uses do not alert on their own
	for _, r := range d.rs.Rules() {
		if (r.Name == "failed" || r.Name == "good") && r.Standalone {
			t.Errorf("%s is standalone", r.Name)
		}
	}
	for _, c := range d.rs.Correlations() {
		if c.Name == "many_failed" && c.Standalone {
			t.Error("inner correlation is standalone")
		}
	}
}

func TestGenerate(t *testing.T) {
	corr := `title: bf
correlation:
  type: event_count
  rules: [failed]
  group-by: [userIdentity.userName]
  timespan: 1m
  condition: {gte: 2}
  generate: true
`
	rs, errs := Compile([]File{{Name: "base.yml", Data: []byte(baseRules)}, {Name: "c.yml", Data: []byte(corr)}}, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	d := NewDetector(rs, Limits{})
	e := event.New("cloudtrail", login("a", "Failure"), 0)
	e.Timestamp = t0
	if as := d.Detect(e); len(as) != 1 || as[0].Rule.Kind != "sigma" {
		t.Fatalf("generate: true must keep the rule's own alerts: %v", as)
	}
}

func TestEvictionAndStats(t *testing.T) {
	corr := `title: bf
correlation:
  type: event_count
  rules: [failed]
  group-by: [userIdentity.userName]
  timespan: 1h
  condition: {gte: 2}
`
	var steps []step
	for i := 0; i < 10; i++ {
		steps = append(steps, step{i, login(fmt.Sprintf("u%d", i), "Failure")})
	}
	steps = append(steps, step{20, login("u0", "Failure")}) // u0 was evicted: its first failure is lost
	steps = append(steps, step{21, login("u9", "Failure")}) // u9 is still there: fires
	as, d := runCorr(t, corr, steps, Limits{MaxGroups: 5, MaxEntries: 10})
	st := d.Correlator().Stats()
	if len(as) != 1 || as[0].Group["userIdentity.userName"] != "u9" || st.EvictedGroups != 6 || st.Alerts != 1 {
		t.Fatalf("alerts %v stats %+v", as, st)
	}
	// per-group entry cap
	steps = nil
	for i := 0; i < 20; i++ {
		steps = append(steps, step{i, login("a", "Failure")})
	}
	corr = strings.Replace(corr, "gte: 2", "gte: 100", 1)
	_, d = runCorr(t, corr, steps, Limits{MaxEntries: 5})
	if st := d.Correlator().Stats(); st.DroppedEntries != 15 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSnapshotRestore(t *testing.T) {
	corr := `title: bf
id: bf
correlation:
  type: event_count
  rules: [failed]
  group-by: [userIdentity.userName]
  timespan: 1h
  condition: {gte: 3}
---
title: ordered
id: ord
correlation:
  type: temporal_ordered
  rules: [failed, good]
  group-by: [userIdentity.userName]
  timespan: 1h
`
	rs, errs := Compile([]File{{Name: "base.yml", Data: []byte(baseRules)}, {Name: "c.yml", Data: []byte(corr)}}, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	feed := func(d *Detector, sec int, rec string) []*alert.Alert {
		e := event.New("cloudtrail", rec, 0)
		e.ID = fmt.Sprint(sec)
		e.Timestamp = t0.Add(time.Duration(sec) * time.Second)
		return d.Detect(e)
	}
	d := NewDetector(rs, Limits{})
	feed(d, 0, login("a", "Failure"))
	feed(d, 1, login("a", "Failure"))
	var buf bytes.Buffer
	if err := d.Correlator().Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	// a new process: same rules, state restored
	d2 := NewDetector(rs, Limits{})
	if err := d2.Correlator().Restore(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if st := d2.Correlator().Stats(); st.Restored != 2 || st.Groups != 2 {
		t.Fatalf("restored %+v", st)
	}
	as := feed(d2, 2, login("a", "Failure"))
	if len(as) != 1 || as[0].Rule.ID != "bf" || strings.Join(as[0].EventIDs, ",") != "0,1,2" {
		t.Fatalf("after restore: %v", as)
	}
	as = feed(d2, 3, login("a", "Success"))
	if len(as) != 1 || as[0].Rule.ID != "ord" {
		t.Fatalf("temporal_ordered after restore: %v", as)
	}
	// a snapshot of correlations that are gone is discarded, not an error
	rs2, _ := Compile([]File{{Name: "base.yml", Data: []byte(baseRules)}}, nil)
	d3 := NewDetector(rs2, Limits{})
	if err := d3.Correlator().Restore(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if st := d3.Correlator().Stats(); st.Discarded != 2 || st.Groups != 0 {
		t.Fatalf("discard %+v", st)
	}
	if err := d3.Correlator().Restore(strings.NewReader(`{"version":9}`)); err == nil {
		t.Error("a snapshot of another version must be refused")
	}
}

func TestFilter(t *testing.T) {
	filter := `title: keep only non-admin
logsource: {product: aws, service: cloudtrail}
filter:
  rules: [failed]
  admins:
    userIdentity.userName|startswith: adm_
  condition: not admins
`
	rs, errs := Compile([]File{{Name: "base.yml", Data: []byte(baseRules)}, {Name: "f.yml", Data: []byte(filter)}}, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if rs.Filters() != 1 {
		t.Fatal("filter not applied")
	}
	if !matches(rs, ev(login("bob", "Failure"))) || matches(rs, ev(login("adm_bob", "Failure"))) {
		t.Error("filter")
	}
	bad := strings.Replace(filter, "[failed]", "[nope]", 1)
	_, errs = Compile([]File{{Name: "base.yml", Data: []byte(baseRules)}, {Name: "f.yml", Data: []byte(bad)}}, nil)
	if len(errs) != 1 || errs[0].Line != 4 || !strings.Contains(errs[0].Msg, `"nope", which is not loaded`) {
		t.Errorf("unknown filter rule: %v", errs)
	}
}

// TestGroupsDoNotHoldRecords: a group keeps its group-by values (and value_count's values), which are
// read out of the event's record; it must keep copies, or every open group keeps a whole record alive
// (kilobytes for CloudTrail) and the memory bound of MaxGroups means nothing.
func TestGroupsDoNotHoldRecords(t *testing.T) {
	for _, typ := range []string{"event_count", "value_count"} {
		t.Run(typ, func(t *testing.T) {
			field := ""
			if typ == "value_count" {
				field = "\n    field: source.ip"
			}
			corr := fmt.Sprintf(`title: c
correlation:
  type: %s
  rules: [failed]
  group-by: [user.name]
  timespan: 24h
  condition:
    gte: 1000000%s
`, typ, field)
			rs, errs := Compile([]File{{Name: "base.yml", Data: []byte(baseRules)}, {Name: "c.yml", Data: []byte(corr)}}, nil)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			var failed *Rule
			for _, r := range rs.Rules() {
				if r.Name == "failed" {
					failed = r
				}
			}
			const groups, pad = 2000, 16 << 10
			padding := strings.Repeat("x", pad)
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			c := NewCorrelator(rs, Limits{MaxGroups: groups})
			for j := 0; j < groups; j++ {
				orig := fmt.Sprintf(`{"userIdentity":{"userName":"user%06d"},"sourceIPAddress":"192.0.2.%d","requestParameters":"%s"}`, j, j%250, padding)
				e := event.New("cloudtrail", orig, 2)
				// As parsers do: ECS fields share the record's memory.
				e.Add("user.name", event.String(orig[len(`{"userIdentity":{"userName":"`):][:10]))
				e.Add("source.ip", event.String(orig[strings.Index(orig, "192.0.2."):][:len("192.0.2.")+len(fmt.Sprint(j%250))]))
				e.ID = fmt.Sprintf("%032x", j)
				e.Timestamp = t0.Add(time.Duration(j) * time.Millisecond)
				c.Add(e, []*Rule{failed})
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			if st := c.Stats(); st.Groups != groups {
				t.Fatalf("stats %+v", st)
			}
			perGroup := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / groups
			if perGroup > pad/4 {
				t.Errorf("%d bytes of heap per open group with %d-byte records: the groups hold the records", perGroup, pad)
			}
			runtime.KeepAlive(c)
		})
	}
}
