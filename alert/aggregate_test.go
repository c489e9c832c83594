package alert

import (
	"testing"
	"time"
)

func TestAggregatorFoldsRepeats(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	mk := func(rule string, group map[string]string, at time.Duration, id string) *Alert {
		return &Alert{ID: "a-" + id, Rule: Rule{ID: rule}, Group: group, EventIDs: []string{id}, Count: 1,
			FirstSeen: t0.Add(at), LastSeen: t0.Add(at)}
	}
	g := NewAggregator(time.Hour)
	g.Add(mk("r1", nil, 0, "e1"))
	g.Add(mk("r1", nil, 10*time.Minute, "e2"))
	g.Add(mk("r1", nil, 50*time.Minute, "e3"))
	g.Add(mk("r2", nil, 5*time.Minute, "e4"))                                // another rule
	g.Add(mk("r1", map[string]string{"source.ip": "198.51.100.7"}, 0, "e5")) // another group
	got := g.Updated()
	if len(got) != 3 {
		t.Fatalf("%d alerts, want 3: %+v", len(got), got)
	}
	first := got[0]
	if first.Rule.ID != "r1" || first.Count != 3 || first.ID != "a-e1" || len(first.EventIDs) != 3 || !first.LastSeen.Equal(t0.Add(50*time.Minute)) {
		t.Errorf("folded alert: %+v", first)
	}
	// A repeat after the window opens a new alert; an update of an open one is reported again.
	g.Add(mk("r1", nil, 3*time.Hour, "e6"))
	g.Add(mk("r2", nil, 20*time.Minute, "e7"))
	got = g.Updated()
	if len(got) != 2 || got[0].Rule.ID != "r2" || got[0].Count != 2 || got[1].ID != "a-e6" || got[1].Count != 1 {
		t.Errorf("second round: %+v", got)
	}
	if len(g.Updated()) != 0 {
		t.Error("nothing changed: nothing to report")
	}
}

// A steady stream makes one alert per window, not one alert that never closes.
func TestAggregatorSteadyStream(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	g := NewAggregator(time.Hour)
	n := 0
	for m := 0; m < 5*60; m += 10 {
		at := t0.Add(time.Duration(m) * time.Minute)
		g.Add(&Alert{ID: at.String(), Rule: Rule{ID: "r"}, Count: 1, FirstSeen: at, LastSeen: at, EventIDs: []string{at.String()}})
		n++
	}
	got := g.Updated()
	total := 0
	for _, a := range got {
		total += a.Count
	}
	if len(got) != 5 || total != n {
		t.Errorf("%d alerts counting %d events, want 5 counting %d", len(got), total, n)
	}
}
