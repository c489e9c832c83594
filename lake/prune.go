package lake

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// partition is one type=T/date=D/hour=H directory and its Parquet files.
type partition struct {
	Type, Date, Hour string
	Dir              string // absolute
	Rel              string // relative to the root
	Files            []partFile
}

type partFile struct {
	Name string
	Size int64
}

// partitions lists the lake's hour partitions of a type ("" for all), in type, date, hour order.
// Directories that do not follow the layout are ignored.
func (l *Lake) partitions(typ string) ([]partition, error) {
	var types []string
	if typ != "" {
		if strings.ContainsAny(typ, `/\=*?[`) {
			return nil, fmt.Errorf("invalid log type %q", typ)
		}
		types = []string{typ}
	} else {
		var err error
		if types, err = l.Types(); err != nil {
			return nil, err
		}
	}
	var out []partition
	for _, t := range types {
		tdir := filepath.Join(l.root, "type="+t)
		dates, err := os.ReadDir(tdir)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return nil, err
		}
		for _, d := range dates {
			date, ok := strings.CutPrefix(d.Name(), "date=")
			if !ok || !d.IsDir() {
				continue
			}
			if _, err := time.Parse("2006-01-02", date); err != nil {
				continue
			}
			hours, err := os.ReadDir(filepath.Join(tdir, d.Name()))
			if err != nil {
				return nil, err
			}
			for _, h := range hours {
				hour, ok := strings.CutPrefix(h.Name(), "hour=")
				if !ok || !h.IsDir() {
					continue
				}
				rel := filepath.Join("type="+t, d.Name(), h.Name())
				p := partition{Type: t, Date: date, Hour: hour, Dir: filepath.Join(l.root, rel), Rel: rel}
				files, err := os.ReadDir(p.Dir)
				if err != nil {
					return nil, err
				}
				for _, f := range files {
					if !strings.HasSuffix(f.Name(), ".parquet") || f.IsDir() {
						continue
					}
					fi, err := f.Info()
					if err != nil {
						return nil, err
					}
					p.Files = append(p.Files, partFile{Name: f.Name(), Size: fi.Size()})
				}
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// Retention is how long each log type is kept: a type missing from the map is kept forever, unless
// the map has "*", the retention of every other type.
type Retention map[string]time.Duration

// For returns the retention of a type (0: keep forever).
func (r Retention) For(typ string) time.Duration {
	if d, ok := r[typ]; ok {
		return d
	}
	return r["*"]
}

// PruneOptions say what Prune deletes.
type PruneOptions struct {
	Retention Retention
	// Now is the time the ages are counted from (zero: the current time).
	Now time.Time
	// DryRun reports what would be deleted and deletes nothing.
	DryRun bool
}

// PrunedPartition is one date=... directory deleted (or, on a dry run, to be deleted).
type PrunedPartition struct {
	Type, Date string
	Files      int
	Bytes      int64
}

// PruneStats sum up a Prune run.
type PruneStats struct {
	Partitions []PrunedPartition
	Files      int
	Bytes      int64
}

// Prune deletes whole days of a type once every event in them is older than the type's retention:
// date=D goes when D+1 day <= now - retention, so a day that straddles the cut-off is kept whole.
// Each day directory is first renamed out of the layout (readers stop seeing it at once and never
// see half a day), then deleted. Objects stay in the manifest: a pruned object is not ingested
// again by accident.
func (l *Lake) Prune(ctx context.Context, opt PruneOptions) (st PruneStats, err error) {
	if l.readOnly && !opt.DryRun {
		return st, errors.New("lake opened read-only: pruning needs the writer lock")
	}
	now := opt.Now
	if now.IsZero() {
		now = time.Now()
	}
	for t, d := range opt.Retention {
		if d < 0 {
			return st, fmt.Errorf("retention of %s is negative (%s)", t, d)
		}
	}
	var parts []partition
	if l.remote != nil {
		// A lake on S3: the store says which days there are (the cache may hold only some), once
		// what the cache has pending is published.
		if !opt.DryRun {
			if _, err := l.Publish(ctx); err != nil {
				return st, err
			}
		}
		parts, err = l.remotePartitions(ctx)
	} else {
		parts, err = l.partitions("")
	}
	if err != nil {
		return st, err
	}
	days := map[string]*PrunedPartition{}
	var order []string
	for _, p := range parts {
		keep := opt.Retention.For(p.Type)
		if keep == 0 {
			continue
		}
		day, _ := time.Parse("2006-01-02", p.Date) // partitions() checked the format
		if day.AddDate(0, 0, 1).After(now.Add(-keep)) {
			continue
		}
		k := filepath.Join("type="+p.Type, "date="+p.Date)
		pp := days[k]
		if pp == nil {
			pp = &PrunedPartition{Type: p.Type, Date: p.Date}
			days[k] = pp
			order = append(order, k)
		}
		for _, f := range p.Files {
			pp.Files++
			pp.Bytes += f.Size
		}
	}
	trash := filepath.Join(l.root, "_staging", "prune-"+newBatchID())
	for _, k := range order {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		pp := days[k]
		if !opt.DryRun {
			if err := os.MkdirAll(filepath.Join(trash, "type="+pp.Type), 0o755); err != nil {
				return st, err
			}
			// The rename is the deletion as far as readers are concerned; _staging is emptied at
			// the next Open should the RemoveAll below be cut short.
			l.parts.Lock() // not while a commit of this process renames files into that day
			err := os.Rename(filepath.Join(l.root, k), filepath.Join(trash, k))
			l.parts.Unlock()
			switch {
			case err == nil:
				if err := syncDir(filepath.Join(l.root, "type="+pp.Type)); err != nil {
					return st, err
				}
			case l.remote != nil && os.IsNotExist(err):
				// A day of a lake on S3 that the cache never pulled: only the store has it.
			default:
				return st, err
			}
			if err := os.RemoveAll(filepath.Join(trash, k)); err != nil {
				return st, err
			}
		}
		st.Partitions = append(st.Partitions, *pp)
		st.Files += pp.Files
		st.Bytes += pp.Bytes
	}
	if !opt.DryRun {
		os.RemoveAll(trash)
		if err := l.prunedRemote(ctx, st.Partitions); err != nil {
			return st, err
		}
		// A type with no day left disappears, so that it no longer has a view.
		for _, pp := range st.Partitions {
			os.Remove(filepath.Join(l.root, "type="+pp.Type)) // fails, as it should, unless empty
		}
	}
	return st, nil
}

// TypeStats describe the data of one log type.
type TypeStats struct {
	Type       string
	Days       int // date=... directories
	Partitions int // hour=... directories
	Files      int
	Rows       int64 // from the Parquet footers
	Bytes      int64
	Oldest     string // first date, YYYY-MM-DD
	Newest     string // last date
}

// Stats counts, per log type, the partitions, files, rows (read from the Parquet footers, not the
// data) and bytes of the lake, and its oldest and newest day.
func (l *Lake) Stats(ctx context.Context, typ string) ([]TypeStats, error) {
	parts, err := l.partitions(typ)
	if err != nil {
		return nil, err
	}
	var out []TypeStats
	var cur *TypeStats
	lastDay := ""
	for _, p := range parts {
		if cur == nil || cur.Type != p.Type {
			out = append(out, TypeStats{Type: p.Type})
			cur = &out[len(out)-1]
			lastDay = ""
		}
		cur.Partitions++
		if p.Date != lastDay {
			cur.Days++
			lastDay = p.Date
		}
		if cur.Oldest == "" || p.Date < cur.Oldest {
			cur.Oldest = p.Date
		}
		if p.Date > cur.Newest {
			cur.Newest = p.Date
		}
		for _, f := range p.Files {
			cur.Files++
			cur.Bytes += f.Size
		}
	}
	for i := range out {
		if out[i].Files == 0 {
			continue
		}
		q := "SELECT coalesce(sum(num_rows), 0) FROM parquet_file_metadata(" + sqlString(l.partitionGlob(out[i].Type)) + ")"
		if err := l.db.QueryRowContext(ctx, q).Scan(&out[i].Rows); err != nil {
			return nil, fmt.Errorf("reading the footers of %s: %w", out[i].Type, err)
		}
	}
	slices.SortFunc(out, func(a, b TypeStats) int { return strings.Compare(a.Type, b.Type) })
	return out, nil
}
