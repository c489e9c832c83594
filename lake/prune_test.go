package lake

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// tenDays is a lake of two types with events every hour from 2026-03-01 to 2026-03-10.
func tenDays(t *testing.T) *Lake {
	l, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	ingest(t, l, "ct", synthEvents("cloudtrail", start, 10*24*time.Hour, 240, 1), nil)
	ingest(t, l, "vpc", synthEvents("vpcflow", start, 10*24*time.Hour, 240, 2), nil)
	return l
}

func days(t *testing.T, l *Lake, typ string) []string {
	m, _ := filepath.Glob(filepath.Join(l.Root(), "type="+typ, "date=*"))
	for i := range m {
		m[i] = filepath.Base(m[i])[len("date="):]
	}
	return m
}

func TestPrune(t *testing.T) {
	l := tenDays(t)
	defer l.Close()
	ctx := context.Background()
	// Now is 2026-03-11 12:00; 3 days' retention: the cut-off is 03-08 12:00, so 03-01..03-07 go
	// and 03-08 (which straddles the cut-off) stays whole.
	now := time.Date(2026, 3, 11, 12, 0, 0, 0, time.UTC)
	ret := Retention{"cloudtrail": 72 * time.Hour}

	dry, err := l.Prune(ctx, PruneOptions{Retention: ret, Now: now, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(dry.Partitions) != 7 || dry.Partitions[0].Date != "2026-03-01" || dry.Partitions[6].Date != "2026-03-07" || dry.Files != 7*24 || dry.Bytes == 0 {
		t.Errorf("dry run: %+v", dry)
	}
	if got := days(t, l, "cloudtrail"); len(got) != 10 {
		t.Fatalf("a dry run deleted something: %v", got)
	}

	st, err := l.Prune(ctx, PruneOptions{Retention: ret, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Partitions) != 7 || st.Files != dry.Files || st.Bytes != dry.Bytes {
		t.Errorf("prune %+v, dry run said %+v", st, dry)
	}
	if got := days(t, l, "cloudtrail"); len(got) != 3 || got[0] != "2026-03-08" {
		t.Errorf("cloudtrail days left: %v", got)
	}
	if got := days(t, l, "vpcflow"); len(got) != 10 {
		t.Errorf("a type without retention lost days: %v", got)
	}
	if n := count(t, l, "SELECT count(*) FROM cloudtrail"); n != 72 {
		t.Errorf("%d cloudtrail rows left, want the 72 of 3 days", n)
	}
	// "*" is every other type's retention; then a type with nothing left disappears.
	st, err = l.Prune(ctx, PruneOptions{Retention: Retention{"*": time.Hour, "cloudtrail": 0}, Now: now})
	if err != nil || len(st.Partitions) != 10 {
		t.Fatalf("prune all vpcflow: %+v %v", st, err)
	}
	if _, err := os.Stat(filepath.Join(l.Root(), "type=vpcflow")); !os.IsNotExist(err) {
		t.Errorf("empty type directory left: %v", err)
	}
	if got := days(t, l, "cloudtrail"); len(got) != 3 {
		t.Errorf("retention 0 (keep) pruned cloudtrail: %v", got)
	}
	if ents, _ := os.ReadDir(filepath.Join(l.Root(), "_staging")); len(ents) != 0 {
		t.Errorf("_staging not empty: %v", ents)
	}
	if _, err := l.Prune(ctx, PruneOptions{Retention: Retention{"x": -time.Hour}}); err == nil {
		t.Error("negative retention accepted")
	}
}

func TestStats(t *testing.T) {
	l := tenDays(t)
	defer l.Close()
	st, err := l.Stats(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 2 || st[0].Type != "cloudtrail" || st[1].Type != "vpcflow" {
		t.Fatalf("stats %+v", st)
	}
	c := st[0]
	if c.Days != 10 || c.Partitions != 240 || c.Files != 240 || c.Rows != 240 || c.Bytes == 0 || c.Oldest != "2026-03-01" || c.Newest != "2026-03-10" {
		t.Errorf("cloudtrail %+v", c)
	}
	if one, _ := l.Stats(context.Background(), "vpcflow"); len(one) != 1 || one[0].Rows != 240 {
		t.Errorf("one type: %+v", one)
	}
	if _, err := l.Stats(context.Background(), "../x"); err == nil {
		t.Error("a type with a path in it was accepted")
	}
}
