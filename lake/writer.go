package lake

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/parse"
)

// Appender writes events into the lake in batches. It is not safe for concurrent use.
//
// Use: Add events and Reject records of an object, then EndObject(o); call Commit when enough has
// been added (Full says when) and at the end. Only objects whose EndObject preceded a successful
// Commit are ingested; Abort (or a crash) forgets the rest.
type Appender struct {
	l       *Lake
	batch   string
	wals    map[string]*walFile // by log type: each type has its own columns
	rej     *os.File
	rw      *bufio.Writer
	schemas map[string]*schema // by log type
	objects []Object
	buf     []byte
	scratch []event.Field
	opts    event.JSONOptions
	bytes   int64
	events  int
	rejects int
	// MaxBatchBytes is the WAL size at which Full reports true (default 256 MB).
	MaxBatchBytes int64
}

// BatchStats describe one committed batch.
type BatchStats struct {
	Objects, Events, Rejected int
	WALBytes, ParquetBytes    int64
	Files                     int
}

// NewAppender starts a batch.
func (l *Lake) NewAppender() (*Appender, error) {
	if l.readOnly {
		return nil, fmt.Errorf("lake opened read-only")
	}
	a := &Appender{l: l, MaxBatchBytes: 256 << 20,
		opts: event.JSONOptions{RawAsText: true, TimeLayout: "2006-01-02 15:04:05.999999"}}
	return a, a.start()
}

type walFile struct {
	f *os.File
	w *bufio.Writer
}

func (a *Appender) start() error {
	a.batch = newBatchID()
	a.schemas = map[string]*schema{}
	a.wals = map[string]*walFile{}
	a.objects, a.bytes, a.events, a.rejects = nil, 0, 0, 0
	return nil
}

// walPath is the WAL file of one type in this batch; suffix ".open" while it is written.
func (l *Lake) walPath(batch, typ, suffix string) string {
	return filepath.Join(l.root, "_wal", batch+"."+typ+".ndjson"+suffix)
}

func (a *Appender) walFor(typ string) (*walFile, error) {
	if w := a.wals[typ]; w != nil {
		return w, nil
	}
	f, err := os.OpenFile(a.l.walPath(a.batch, typ, ".open"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	w := &walFile{f: f, w: bufio.NewWriterSize(f, 1<<20)}
	a.wals[typ] = w
	return w, nil
}

// Add appends an event to the batch. Events of every type go to one batch; the type is a column
// until the conversion partitions by it.
func (a *Appender) Add(e *event.Event) error {
	if e.Type == "" || strings.ContainsAny(e.Type, "/\\.=") {
		return fmt.Errorf("event without a valid log type: %q", e.Type)
	}
	wf, err := a.walFor(e.Type)
	if err != nil {
		return err
	}
	sc := a.schemas[e.Type]
	if sc == nil {
		sc = newSchema()
		a.schemas[e.Type] = sc
	}
	// Fields in key order, so that a leaf always precedes the keys below it (see schema.add).
	fs := a.scratch[:0]
	fs = append(fs, e.Fields...)
	slices.SortFunc(fs, func(x, y event.Field) int { return event.CompareKeys(x.Key, y.Key) })
	for i := range fs {
		fs[i].Key = sc.add(fs[i].Key, fs[i].Value.Kind())
	}
	sc.add("@timestamp", event.KindTime)
	sc.add("_id", event.KindString)
	sc.add("event.original", event.KindString)
	a.scratch = fs
	ts := e.Timestamp
	if ts.IsZero() {
		ts = time.Now().UTC() // an event must land in some partition; parsers set it for all but the odd record
	}
	row := event.Event{ID: e.ID, Timestamp: ts, Original: e.Original, Fields: fs}
	a.buf = row.AppendJSONWith(a.buf[:0], &a.opts)
	a.buf = append(a.buf, '\n')
	n, err := wf.w.Write(a.buf)
	a.bytes += int64(n)
	a.events++
	return err
}

// Reject keeps a record that could not be parsed in the dead-letter file of this batch.
func (a *Appender) Reject(r *parse.Reject) error {
	if a.rej == nil {
		f, err := os.OpenFile(filepath.Join(a.l.root, "_rejected", a.batch+".ndjson.open"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		a.rej, a.rw = f, bufio.NewWriter(f)
	}
	b, err := json.Marshal(struct {
		*parse.Reject
		Batch string    `json:"batch"`
		At    time.Time `json:"at"`
	}{r, a.batch, time.Now().UTC()})
	if err != nil {
		return err
	}
	a.rw.Write(b)
	a.rejects++
	return a.rw.WriteByte('\n')
}

// EndObject marks an object as fully added: it becomes ingested with the next Commit.
func (a *Appender) EndObject(o Object) {
	o.Batch = a.batch
	a.objects = append(a.objects, o)
}

// Full reports whether the batch has reached its size and should be committed.
func (a *Appender) Full() bool { return a.bytes >= a.MaxBatchBytes }

// Pending returns the number of events added since the last commit.
func (a *Appender) Pending() int { return a.events }

// batchMeta is the sealed description of a batch, written last: its presence means the WAL is complete.
type batchMeta struct {
	Batch   string            `json:"batch"`
	Columns map[string]string `json:"columns"` // log type -> read_json columns argument
	Objects []Object          `json:"objects"`
	Events  int               `json:"events"`
}

// Commit makes everything added so far durable and visible, then starts a new batch.
func (a *Appender) Commit(ctx context.Context) (BatchStats, error) {
	st := BatchStats{Objects: len(a.objects), Events: a.events, Rejected: a.rejects, WALBytes: a.bytes}
	for typ, w := range a.wals {
		if err := w.w.Flush(); err != nil {
			return st, err
		}
		if err := w.f.Sync(); err != nil {
			return st, err
		}
		if err := w.f.Close(); err != nil {
			return st, err
		}
		if err := os.Rename(a.l.walPath(a.batch, typ, ".open"), a.l.walPath(a.batch, typ, "")); err != nil {
			return st, err
		}
	}
	a.wals = nil
	if a.rej != nil {
		if err := a.rw.Flush(); err != nil {
			return st, err
		}
		if err := a.rej.Sync(); err != nil {
			return st, err
		}
		a.rej.Close()
		a.rej = nil
	}
	meta := batchMeta{Batch: a.batch, Columns: map[string]string{}, Objects: a.objects, Events: a.events}
	for t, sc := range a.schemas {
		meta.Columns[t] = sc.duckColumns()
	}
	if err := writeFileAtomic(a.l.metaPath(a.batch), meta); err != nil {
		return st, err
	}
	files, size, err := a.l.apply(ctx, &meta)
	st.Files, st.ParquetBytes = files, size
	if err != nil {
		if q := a.l.quarantine(meta.Batch); q != "" {
			err = fmt.Errorf("%w (the batch is kept in %s; its objects were not marked ingested)", err, q)
		}
		a.start()
		return st, err
	}
	return st, a.start()
}

// Abort discards the batch: nothing added since the last Commit is kept.
func (a *Appender) Abort() {
	for typ, w := range a.wals {
		w.f.Close()
		os.Remove(a.l.walPath(a.batch, typ, ".open"))
	}
	a.wals = nil
	if a.rej != nil {
		a.rej.Close()
		os.Remove(filepath.Join(a.l.root, "_rejected", a.batch+".ndjson.open"))
	}
}

// apply turns a sealed batch into Parquet files in their partitions, records its objects, and
// removes it. Doing it twice gives the same files: it is how a crashed commit is finished.
func (l *Lake) apply(ctx context.Context, m *batchMeta) (files int, size int64, err error) {
	staging := filepath.Join(l.root, "_staging", m.Batch)
	if err := os.RemoveAll(staging); err != nil {
		return 0, 0, err
	}
	types := make([]string, 0, len(m.Columns))
	for t := range m.Columns {
		types = append(types, t)
	}
	slices.Sort(types)
	for _, t := range types {
		// One COPY per type: each type has its own columns. Rows are sorted by time so that row
		// group statistics let time filters skip most of a file.
		q := fmt.Sprintf(`COPY (
  SELECT *, %s AS type, strftime("@timestamp", '%%Y-%%m-%%d') AS date, strftime("@timestamp", '%%H') AS hour
  FROM read_json(%s, format = 'newline_delimited', columns = %s, maximum_object_size = 268435456)
  ORDER BY "@timestamp"
) TO %s (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (type, date, hour), FILENAME_PATTERN %s, OVERWRITE_OR_IGNORE true, ROW_GROUP_SIZE 122880)`,
			sqlString(t), sqlString(l.walPath(m.Batch, t, "")), m.Columns[t], sqlString(staging), sqlString(m.Batch+"_{i}"))
		if _, err := l.db.ExecContext(ctx, q); err != nil {
			return 0, 0, fmt.Errorf("writing Parquet for %s: %w", t, err)
		}
	}
	// The batch's dead letters become visible with it.
	rej := filepath.Join(l.root, "_rejected", m.Batch+".ndjson")
	if err := os.Rename(rej+".open", rej); err != nil && !os.IsNotExist(err) {
		return 0, 0, err
	}
	// Move every file into place: fsync it, rename it, fsync its directory.
	err = filepath.WalkDir(staging, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(staging, p)
		dst := filepath.Join(l.root, rel)
		if err := fsyncFile(p); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.Rename(p, dst); err != nil {
			return err
		}
		if err := syncDir(filepath.Dir(dst)); err != nil {
			return err
		}
		fi, err := os.Stat(dst)
		if err == nil {
			size += fi.Size()
		}
		files++
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		return files, size, err
	}
	now := time.Now().UTC()
	for i := range m.Objects {
		m.Objects[i].At = now
	}
	if err := l.man.append(m.Objects); err != nil {
		return files, size, err
	}
	for _, t := range types {
		if err := os.Remove(l.walPath(m.Batch, t, "")); err != nil && !os.IsNotExist(err) {
			return files, size, err
		}
	}
	for _, p := range []string{l.metaPath(m.Batch), staging} {
		if err := os.RemoveAll(p); err != nil {
			return files, size, err
		}
	}
	return files, size, syncDir(filepath.Join(l.root, "_wal"))
}

// metaPath is the sealed description of a batch.
func (l *Lake) metaPath(batch string) string {
	return filepath.Join(l.root, "_wal", batch+".json")
}

// recover finishes sealed batches and discards unsealed ones.
func (l *Lake) recover(ctx context.Context) error {
	dir := filepath.Join(l.root, "_wal")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, ".json"):
			var m batchMeta
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				return err
			}
			if err := json.Unmarshal(b, &m); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if _, _, err := l.apply(ctx, &m); err != nil {
				if ctx.Err() != nil {
					return err
				}
				// A batch that cannot be applied must not block the lake forever: keep it aside
				// for inspection; its objects are not in the manifest and will be ingested again.
				q := l.quarantine(m.Batch)
				l.Warnings = append(l.Warnings, fmt.Sprintf("batch %s could not be written (%v); kept in %s", m.Batch, err, q))
			}
		case strings.HasSuffix(name, ".open"), strings.HasSuffix(name, ".tmp"):
			os.Remove(filepath.Join(dir, name))
		}
	}
	// WAL files of batches whose description was never written, and dead letters never sealed.
	ents, _ = os.ReadDir(dir)
	for _, e := range ents {
		if batch, _, ok := strings.Cut(e.Name(), "."); ok && strings.HasSuffix(e.Name(), ".ndjson") {
			if _, err := os.Stat(l.metaPath(batch)); os.IsNotExist(err) {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
	rej, _ := os.ReadDir(filepath.Join(l.root, "_rejected"))
	for _, e := range rej {
		if strings.HasSuffix(e.Name(), ".open") {
			os.Remove(filepath.Join(l.root, "_rejected", e.Name()))
		}
	}
	// Leftovers of batches already applied.
	if err := os.RemoveAll(filepath.Join(l.root, "_staging")); err != nil {
		return err
	}
	return os.MkdirAll(filepath.Join(l.root, "_staging"), 0o755)
}

func fsyncFile(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// writeFileAtomic writes v as JSON to path via a temporary file, fsync and rename.
func writeFileAtomic(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// quarantine moves a batch's files out of the way into _quarantine/<batch>/ and returns that
// directory ("" if nothing could be moved).
func (l *Lake) quarantine(batch string) string {
	dir := filepath.Join(l.root, "_quarantine", batch)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return ""
	}
	moved := 0
	walDir := filepath.Join(l.root, "_wal")
	ents, _ := os.ReadDir(walDir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), batch+".") {
			if os.Rename(filepath.Join(walDir, e.Name()), filepath.Join(dir, e.Name())) == nil {
				moved++
			}
		}
	}
	rej := filepath.Join(l.root, "_rejected", batch+".ndjson.open")
	if os.Rename(rej, filepath.Join(dir, "rejected.ndjson")) == nil {
		moved++
	}
	os.RemoveAll(filepath.Join(l.root, "_staging", batch))
	syncDir(walDir)
	if moved == 0 {
		return ""
	}
	return dir
}
