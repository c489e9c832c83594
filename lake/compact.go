package lake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Compaction rewrites the small files of a partition (one per committed batch) as one file, sorted
// by time, with each event (_id) once: many small files make every query open many footers, and an
// object ingested twice (--force) would otherwise be counted twice forever.
//
// The partition changes in one step that readers cannot see half-done. The compacted file is
// written to _staging/compact-<id>/new/ beside hard links of the partition's files that are kept,
// fsynced, and a journal naming the partition, the new file and the files it replaces is written
// to _wal/compact-<id>.compact. Then the new directory and the partition directory are exchanged
// atomically (renameat2 RENAME_EXCHANGE), so a reader's glob sees either every old file or the new
// one, never both and never neither; the old directory, now under _staging, is deleted last.
// Where the file system cannot exchange, the old directory is renamed away and the new one renamed
// in: a reader may then find the hour empty for a moment, but never sees it twice.
//
// A crash before the journal leaves the partition as it was (the next Open deletes _staging). A
// crash after it is finished by the next Open (finishCompactions, run before anything else): if
// the partition holds the new file the exchange happened and only the old files are deleted; if
// the partition is missing the new directory is renamed in; otherwise the exchange never happened
// and the compaction is dropped. No row is ever only in a file that is about to be deleted.

// CompactOptions choose what Compact rewrites.
type CompactOptions struct {
	// Type limits compaction to one log type ("": every type).
	Type string
	// MinFiles: a partition is compacted when it has more than MinFiles small files (default 1:
	// any partition with two or more).
	MinFiles int
	// SmallBytes: files of at least this size are already compacted and are kept as they are
	// (default 256 MiB).
	SmallBytes int64
	// Level is the zstd level of the rewritten files, 1 to 22 (default 9). Higher levels cost much
	// more time for a little less space: 19 stored 200k CloudTrail events in 0.87 of level 9's bytes
	// for 27 times its time (docs/lake.md).
	Level int
	// OnPartition, when set, is called after each partition is compacted (for progress output).
	OnPartition func(p CompactedPartition)
}

// Compression levels of compaction.
const (
	defaultCompactLevel = 9
	maxCompactLevel     = 22
)

// CompactedPartition is the account of one rewritten partition.
type CompactedPartition struct {
	Type, Date, Hour  string
	FilesIn           int
	BytesIn, BytesOut int64
	RowsIn, RowsOut   int64 // RowsIn - RowsOut duplicate events were dropped
	File              string
}

// CompactStats sum up a Compact run.
type CompactStats struct {
	Partitions        int // partitions rewritten
	Skipped           int // partitions that did not need it
	FilesIn, FilesOut int
	BytesIn, BytesOut int64
	RowsIn, RowsOut   int64
	Failed            []error // partitions that could not be compacted (each left as it was)
}

// compactJournal is the record of a compaction in flight: once it is on disk, the next Open
// finishes or drops the compaction (see finishCompactions).
type compactJournal struct {
	ID        string   `json:"id"`
	Partition string   `json:"partition"` // relative to the root: type=T/date=D/hour=H
	Work      string   `json:"work"`      // relative to the root: _staging/compact-<id>
	Output    string   `json:"output"`    // the new file's name in the partition
	Replaced  []string `json:"replaced"`  // the files it replaces
	Rows      int64    `json:"rows"`
}

// compactHook lets tests stop a compaction at a named step, as a crash would.
var compactHook func(step string) error

func hook(step string) error {
	if compactHook != nil {
		return compactHook(step)
	}
	return nil
}

// Compact rewrites every partition that has more than opt.MinFiles small files as one file, sorted
// by "@timestamp", zstd at opt.Level, 9 by default (about 10% smaller than level 3, and compaction is not on the
// ingest path; BenchmarkStorageRatio has the numbers), without duplicate _ids (the copy from the
// most recent file is kept; rows without an _id are all kept). A partition that cannot be compacted (its files' columns cannot be
// merged, say) is left as it was and reported in Failed; the others go on. The Appender of the same
// Lake must not commit while Compact runs: the lake's lock keeps other processes out, not other
// goroutines.
func (l *Lake) Compact(ctx context.Context, opt CompactOptions) (st CompactStats, err error) {
	if l.readOnly {
		return st, errors.New("lake opened read-only: compaction needs the writer lock")
	}
	if opt.MinFiles <= 0 {
		opt.MinFiles = 1
	}
	if opt.SmallBytes <= 0 {
		opt.SmallBytes = 256 << 20
	}
	if opt.Level == 0 {
		opt.Level = defaultCompactLevel
	}
	if opt.Level < 1 || opt.Level > maxCompactLevel {
		return st, fmt.Errorf("zstd level %d: it goes from 1 to %d", opt.Level, maxCompactLevel)
	}
	if err := l.finishCompactions(); err != nil {
		return st, err
	}
	if l.remote != nil {
		// A lake on S3 is compacted in its cache: what is pending is published first, then every
		// file of the types compacted is pulled, and the result is published at the end.
		if _, err := l.Publish(ctx); err != nil {
			return st, err
		}
		if _, err := l.Pull(ctx, PullType(opt.Type)); err != nil {
			return st, err
		}
		defer func() {
			if _, perr := l.Publish(ctx); perr != nil && err == nil {
				err = perr
			}
		}()
	}
	parts, err := l.partitions(opt.Type)
	if err != nil {
		return st, err
	}
	for _, p := range parts {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		var small []partFile
		for _, f := range p.Files {
			if f.Size < opt.SmallBytes {
				small = append(small, f)
			}
		}
		if len(small) <= opt.MinFiles {
			st.Skipped++
			continue
		}
		res, err := l.compactPartition(ctx, p, small, opt.Level)
		if err != nil {
			if ctx.Err() != nil {
				return st, err
			}
			st.Failed = append(st.Failed, fmt.Errorf("%s: %w", p.Rel, err))
			continue
		}
		// The compacted file's schema for the views, learned now rather than by the next query.
		rel := filepath.Join(p.Rel, res.File)
		if h, err := schemaHash(filepath.Join(l.root, rel)); err == nil {
			l.noteSchemas(map[string]string{rel: h}, true)
		}
		st.Partitions++
		st.FilesIn += res.FilesIn
		st.FilesOut++
		st.BytesIn += res.BytesIn
		st.BytesOut += res.BytesOut
		st.RowsIn += res.RowsIn
		st.RowsOut += res.RowsOut
		if opt.OnPartition != nil {
			opt.OnPartition(res)
		}
	}
	return st, nil
}

func (l *Lake) compactPartition(ctx context.Context, p partition, inputs []partFile, level int) (res CompactedPartition, err error) {
	res = CompactedPartition{Type: p.Type, Date: p.Date, Hour: p.Hour, FilesIn: len(inputs)}
	id := "compact-" + newBatchID()
	work := filepath.Join(l.root, "_staging", id)
	newDir := filepath.Join(work, "new")
	journaled := false
	defer func() {
		// Before the journal, a failure leaves the partition untouched: drop the work. After it,
		// the next Open decides (a failure here may be the crash the tests simulate).
		if err != nil && !journaled {
			os.RemoveAll(work)
		}
	}()
	if err := os.MkdirAll(newDir, 0o755); err != nil {
		return res, err
	}
	// The output sorts after every batch file of the partition (batch ids start with their time),
	// so that a later compaction prefers its rows to those of older batches.
	res.File = newBatchID() + "_c.parquet"
	out := filepath.Join(newDir, res.File)
	names := make([]string, len(inputs))
	list := make([]string, len(inputs))
	for i, f := range inputs {
		names[i] = f.Name
		list[i] = sqlString(filepath.Join(p.Dir, f.Name))
		res.BytesIn += f.Size
	}
	src := fmt.Sprintf("read_parquet([%s], union_by_name = true, hive_partitioning = false)", strings.Join(list, ", "))
	var distinct, noID int64
	row := l.db.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*), count(DISTINCT nullif(_id, '')), count(*) FILTER (WHERE _id IS NULL OR _id = '') FROM %s`, src))
	if err := row.Scan(&res.RowsIn, &distinct, &noID); err != nil {
		return res, fmt.Errorf("reading the partition's files: %w", err)
	}
	// filename and file_row_number are DuckDB's virtual columns: not part of SELECT *.
	q := fmt.Sprintf(`COPY (
  SELECT * FROM %s
  QUALIFY _id IS NULL OR _id = '' OR row_number() OVER (PARTITION BY _id ORDER BY filename DESC, file_row_number DESC) = 1
  ORDER BY "@timestamp"
) TO %s (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL %d, ROW_GROUP_SIZE 122880)`, src, sqlString(out), level)
	if _, err := l.db.ExecContext(ctx, q); err != nil {
		return res, fmt.Errorf("writing the compacted file: %w", err)
	}
	// Never trust the rewrite blindly: the new file must hold every distinct event.
	if err := l.db.QueryRowContext(ctx, "SELECT num_rows FROM parquet_file_metadata("+sqlString(out)+")").Scan(&res.RowsOut); err != nil {
		return res, fmt.Errorf("reading back the compacted file: %w", err)
	}
	if want := distinct + noID; res.RowsOut != want {
		return res, fmt.Errorf("the compacted file has %d rows, want %d: partition left as it was", res.RowsOut, want)
	}
	if err := fsyncFile(out); err != nil {
		return res, err
	}
	fi, err := os.Stat(out)
	if err != nil {
		return res, err
	}
	res.BytesOut = fi.Size()
	// Everything else in the partition (files too big to compact) moves along, as hard links.
	replaced := map[string]bool{}
	for _, n := range names {
		replaced[n] = true
	}
	ents, err := os.ReadDir(p.Dir)
	if err != nil {
		return res, err
	}
	for _, e := range ents {
		if !replaced[e.Name()] {
			if err := os.Link(filepath.Join(p.Dir, e.Name()), filepath.Join(newDir, e.Name())); err != nil {
				return res, fmt.Errorf("keeping %s: %w", e.Name(), err)
			}
		}
	}
	if err := syncDir(newDir); err != nil {
		return res, err
	}
	if err := syncDir(work); err != nil {
		return res, err
	}
	if err := hook("staged"); err != nil {
		return res, err
	}
	j := compactJournal{ID: id, Partition: p.Rel, Work: filepath.Join("_staging", id), Output: res.File, Replaced: names, Rows: res.RowsOut}
	if err := l.recordCompaction(j); err != nil { // a lake on S3 publishes it (remote.go)
		return res, err
	}
	jpath := l.journalPath(id)
	if err := writeFileAtomic(jpath, j); err != nil {
		return res, err
	}
	journaled = true
	if err := hook("journaled"); err != nil {
		return res, err
	}
	// The partition must hold exactly what was linked and compacted: a file that appeared since
	// (a commit of this process running alongside) would be lost with the old directory. No commit
	// can rename a file in between the check and the swap (l.parts).
	l.parts.Lock()
	now, err := os.ReadDir(p.Dir)
	if err != nil {
		l.parts.Unlock()
		return res, err
	}
	if !sameNames(now, ents) {
		l.parts.Unlock()
		os.RemoveAll(work)
		os.Remove(jpath)
		return res, errors.New("the partition changed during compaction (a commit ran alongside): left as it was")
	}
	if err := hook("checked"); err != nil {
		l.parts.Unlock()
		return res, err
	}
	err = swapDirs(p.Dir, newDir, hook)
	l.parts.Unlock()
	if err != nil {
		return res, err
	}
	if err := syncDir(filepath.Dir(p.Dir)); err != nil {
		return res, err
	}
	if err := syncDir(work); err != nil {
		return res, err
	}
	if err := hook("swapped"); err != nil {
		return res, err
	}
	return res, l.endCompaction(jpath, work)
}

// swapDirs puts the directory at src in the place of dst, and dst's old content at src:
// atomically where the file system can exchange two directories, by two renames where it cannot.
func swapDirs(dst, src string, step func(string) error) error {
	err := exchangeDirs(dst, src)
	if err == nil {
		return nil
	}
	if !errors.Is(err, errExchangeUnsupported) {
		return fmt.Errorf("exchanging %s: %w", dst, err)
	}
	old := filepath.Join(filepath.Dir(src), "old")
	if err := os.Rename(dst, old); err != nil {
		return err
	}
	if err := step("moved-away"); err != nil {
		return err
	}
	if err := os.Rename(src, dst); err != nil {
		return err
	}
	// Leave the old files where the exchange would have put them.
	return os.Rename(old, src)
}

func (l *Lake) journalPath(id string) string {
	return filepath.Join(l.root, "_wal", id+".compact")
}

// endCompaction deletes the replaced files (now in the work directory) and then the journal.
func (l *Lake) endCompaction(jpath, work string) error {
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	if err := syncDir(filepath.Join(l.root, "_staging")); err != nil {
		return err
	}
	if err := os.Remove(jpath); err != nil && !os.IsNotExist(err) {
		return err
	}
	return syncDir(filepath.Join(l.root, "_wal"))
}

// finishCompactions completes or drops the compactions a crash interrupted after their journal was
// written. Open runs it before recovering batches, since that empties _staging.
func (l *Lake) finishCompactions() error {
	walDir := filepath.Join(l.root, "_wal")
	ents, err := os.ReadDir(walDir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".compact") {
			continue
		}
		jpath := filepath.Join(walDir, e.Name())
		b, err := os.ReadFile(jpath)
		if err != nil {
			return err
		}
		var j compactJournal
		if err := json.Unmarshal(b, &j); err != nil || j.Partition == "" || j.Output == "" ||
			!strings.HasPrefix(j.Work, "_staging"+string(filepath.Separator)+"compact-") {
			// Written atomically, so this is not a torn write: refuse to guess.
			return fmt.Errorf("%s: not a compaction journal (%v): move it away to open the lake", jpath, err)
		}
		part := filepath.Join(l.root, j.Partition)
		work := filepath.Join(l.root, j.Work)
		newDir := filepath.Join(work, "new")
		switch {
		case exists(filepath.Join(part, j.Output)):
			// Exchanged: the old files are under work, to be deleted.
		case !exists(part) && exists(filepath.Join(newDir, j.Output)):
			// Crashed between the two renames of the fallback: put the new directory in place.
			if err := os.Rename(newDir, part); err != nil {
				return fmt.Errorf("finishing compaction %s: %w", j.ID, err)
			}
			if err := syncDir(filepath.Dir(part)); err != nil {
				return err
			}
		case !exists(part) && exists(filepath.Join(work, "old")):
			// The old directory moved away and no new one to put in its place (it cannot be
			// missing, but if it is, the old files go back rather than vanish).
			if err := os.Rename(filepath.Join(work, "old"), part); err != nil {
				return fmt.Errorf("undoing compaction %s: %w", j.ID, err)
			}
			if err := syncDir(filepath.Dir(part)); err != nil {
				return err
			}
		default:
			// Never exchanged: the partition still has its old files; drop the compaction.
		}
		if err := l.endCompaction(jpath, work); err != nil {
			return err
		}
	}
	return nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// exchangeDirs is exchange, replaceable by tests to take the fallback.
var exchangeDirs = exchange

// errExchangeUnsupported says the file system (or OS) cannot exchange two paths atomically.
var errExchangeUnsupported = errors.New("atomic exchange not supported")

func sameNames(a, b []os.DirEntry) bool {
	return slices.EqualFunc(a, b, func(x, y os.DirEntry) bool { return x.Name() == y.Name() })
}
