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
	schemas map[string]*schema  // by log type
	shapes  map[string][]*shape // by log type, most recently used first
	objects []Object
	buf     []byte
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
	a.shapes = map[string][]*shape{}
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

// Add appends an event to the batch. Each log type has its own WAL file and columns.
func (a *Appender) Add(e *event.Event) error {
	if e.Type == "" || strings.ContainsAny(e.Type, "/\\.=") {
		return fmt.Errorf("event without a valid log type: %q", e.Type)
	}
	wf, err := a.walFor(e.Type)
	if err != nil {
		return err
	}
	ts := e.Timestamp
	if ts.IsZero() {
		ts = time.Now().UTC() // an event must land in some partition; parsers set it for all but the odd record
	}
	// The row's fields on the stack (no write barriers, no allocation): the ones every row has,
	// then the event's.
	var stack [80]event.Field
	fs := append(stack[:0],
		event.Field{Key: "@timestamp", Value: event.Time(ts)},
		event.Field{Key: "_id", Value: event.String(e.ID)},
		event.Field{Key: "event.original", Value: event.String(e.Original)})
	if e.NativeRoot != "" {
		fs = append(fs, event.Field{Key: "_native_root", Value: event.String(e.NativeRoot)})
	}
	fs = append(fs, e.Fields...)
	sh := a.shapeOf(e.Type, fs)
	if sh.renamed {
		for i := range fs {
			fs[i].Key = sh.cols[i]
		}
	}
	a.buf = event.AppendFields(a.buf[:0], fs, sh.order, &a.opts)
	a.buf = append(a.buf, '\n')
	n, err := wf.w.Write(a.buf)
	a.bytes += int64(n)
	a.events++
	return err
}

// shape is a recurring set of fields: the same keys with the same kinds in the same order, as most
// records of a log type have. Its column names and sorted order are worked out once.
type shape struct {
	keys    []string
	kinds   []event.Kind
	cols    []string // column path of each field (the key, unless the schema renamed it)
	order   []int32  // the fields in column order
	renamed bool
}

// maxShapes bounds the shapes remembered per type: records with ever-new field sets still work,
// they just pay for their own sorting.
const maxShapes = 16

// shapeOf finds the shape of a row, adding its fields to the type's schema when it is new.
func (a *Appender) shapeOf(typ string, fs []event.Field) *shape {
	shapes := a.shapes[typ]
	for k, sh := range shapes {
		if sh.matches(fs) {
			if k > 0 { // most recent first
				copy(shapes[1:k+1], shapes[:k])
				shapes[0] = sh
			}
			return sh
		}
	}
	sc := a.schemas[typ]
	if sc == nil {
		sc = newSchema()
		a.schemas[typ] = sc
	}
	sh := &shape{keys: make([]string, len(fs)), kinds: make([]event.Kind, len(fs)), cols: make([]string, len(fs))}
	for i, f := range fs {
		sh.keys[i], sh.kinds[i] = f.Key, f.Value.Kind()
	}
	// Add to the schema in key order, so that a leaf always precedes the keys below it.
	for _, i := range event.SortedOrder(fs, nil) {
		sh.cols[i] = sc.add(fs[i].Key, fs[i].Value.Kind())
		if sh.cols[i] != fs[i].Key {
			sh.renamed = true
		}
	}
	renamed := make([]event.Field, len(fs))
	for i := range fs {
		renamed[i] = event.Field{Key: sh.cols[i]}
	}
	sh.order = event.SortedOrder(renamed, nil)
	if len(shapes) >= maxShapes {
		shapes = shapes[:maxShapes-1]
	}
	a.shapes[typ] = append([]*shape{sh}, shapes...)
	return sh
}

func (sh *shape) matches(fs []event.Field) bool {
	if len(fs) != len(sh.keys) {
		return false
	}
	for i := range fs {
		if fs[i].Key != sh.keys[i] || fs[i].Value.Kind() != sh.kinds[i] {
			return false
		}
	}
	return true
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
