package lake

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/ramen-siem/ramen/event"
	"github.com/ramen-siem/ramen/parse"
)

// Appender writes events into the lake in batches. It is not safe for concurrent use.
//
// Use: Add events and Reject records of an object, then EndObject(o); call Commit when enough has
// been added (Full says when) and at the end. Only objects whose EndObject preceded a successful
// Commit are ingested; Abort (or a crash) forgets the rest.
//
// A batch is held in memory as columns (column.go): Add copies an event's values into them and
// keeps nothing of the event, so the caller may drop it at once. MaxBatchBytes bounds that memory,
// counted as what the columns really hold.
type Appender struct {
	l       *Lake
	batch   string
	types   map[string]*typeBatch
	last    *typeBatch // the type of the last event added (most events follow one of their type)
	lastTyp string
	rej     *os.File
	rw      *bufio.Writer
	objects []Object
	events  int
	rejects int
	// MaxBatchBytes is the memory of a batch's columns at which Full reports true (default 256 MB).
	MaxBatchBytes int64
	measured      int   // events when memory was last measured
	memory        int64 // what the batch held then
	// digests: the schema of each file the batch wrote (path relative to the root), for the views.
	digests map[string]string
	tmpl    []byte // the template of the last original record added (original.go)
	// refs is room for the references of a record's template, reused from record to record: an
	// array on the stack was zeroed for every record (1.5 kB).
	refs []ref
}

// BatchStats describe one committed batch.
type BatchStats struct {
	Objects, Events, Rejected int
	Bytes                     int64 // memory the batch's columns held
	ParquetBytes              int64
	Files                     int
}

// typeBatch is the columns of one log type in a batch.
type typeBatch struct {
	name   string
	schema *schema
	shapes []*shape // most recently used first
	cols   []*column
	byPath map[string]*column
	ts     blocks[int64] // @timestamp of each row in unix nanoseconds: the sort key
	rows   int32
}

// NewAppender starts a batch.
func (l *Lake) NewAppender() (*Appender, error) {
	if l.readOnly {
		return nil, fmt.Errorf("lake opened read-only")
	}
	a := &Appender{l: l, MaxBatchBytes: 256 << 20}
	a.start()
	return a, nil
}

func (a *Appender) start() {
	a.batch = newBatchID()
	a.types, a.last, a.lastTyp = map[string]*typeBatch{}, nil, ""
	a.objects, a.events, a.rejects, a.measured, a.memory = nil, 0, 0, 0, 0
	a.digests = nil
}

// Add appends an event to the batch. The event is not kept: its values are copied.
func (a *Appender) Add(e *event.Event) error {
	tb := a.last
	if tb == nil || !sameKey(e.Type, a.lastTyp) {
		if e.Type == "" || strings.ContainsAny(e.Type, "/\\.=") {
			return fmt.Errorf("event without a valid log type: %q", e.Type)
		}
		if tb = a.types[e.Type]; tb == nil {
			tb = &typeBatch{name: e.Type, schema: newSchema(), byPath: map[string]*column{}}
			a.types[e.Type] = tb
		}
		a.last, a.lastTyp = tb, tb.name // not e.Type: the event's memory is not kept
	}
	ts := e.Timestamp
	if ts.IsZero() {
		ts = time.Now().UTC() // an event must land in some partition; parsers set it for all but the odd record
	}
	if tb.rows == math.MaxInt32 {
		return fmt.Errorf("batch too large: commit before %d events of one type", tb.rows)
	}
	// The fields every row has, on the stack (no write barriers, no allocation); then the event's,
	// read where they are.
	var head [4]event.Field
	hs := append(head[:0],
		event.Field{Key: "@timestamp", Value: event.Time(ts)},
		event.Field{Key: "_id", Value: event.String(e.ID)},
		event.Field{Key: "_original", Value: event.String(e.Original)}) // its template, added last
	if e.NativeRoot != "" {
		hs = append(hs, event.Field{Key: "_native_root", Value: event.String(e.NativeRoot)})
	}
	sh := tb.shapeOf(hs, e.Fields)
	row := tb.rows
	sh.cols[0].addMicros(row, ts.UnixMicro())
	for i := 1; i < len(hs); i++ {
		if c := sh.cols[i]; c != nil && i != 2 {
			c.add(row, hs[i].Value)
		}
	}
	// The event's fields; those whose text is a piece of the original record are references in
	// its template (original.go). A field with the very value of the field before it (prev, which
	// added it) is added as an alias of that field's column (column.addAlias).
	refs := a.refs[:0]
	orig := e.Original
	if c := sh.cols[0]; c != nil && c.ref {
		if v, ok := e.TimestampIn(); ok {
			if off, end, f, ok := v.Written(orig); ok {
				refs = append(refs, ref{off: off, end: end, tok: c.token(f)})
			}
		}
	}
	cols := sh.cols[len(hs):]
	var prev *column
	var prevV event.Value
	for i := range e.Fields {
		c := cols[i]
		if c == nil {
			prev = nil
			continue
		}
		v := e.Fields[i].Value
		n := c.n
		if prev != nil && v == prevV && (c.n == 0 || c.alias == prev) {
			c.addAlias(row, prev, v)
		} else {
			c.add(row, v)
		}
		prev, prevV = nil, v
		if c.n > n {
			prev = c
		}
		if c.ref && c.n > n {
			switch v.Kind() {
			case event.KindString, event.KindJSON:
				if off, ok := refOf(orig, v.Str()); ok {
					refs = append(refs, ref{off: off, end: off + len(v.Str()), tok: c.token(event.FormNone)})
				}
			case event.KindInt, event.KindTime:
				if off, end, f, ok := v.Written(orig); ok {
					refs = append(refs, ref{off: off, end: end, tok: c.token(f)})
				}
			}
		}
	}
	if c := sh.cols[2]; c != nil {
		a.addOriginal(c, row, orig, refs)
	}
	if cap(refs) > cap(a.refs) {
		a.refs = refs
	}
	tb.ts.append(ts.UnixNano())
	tb.rows++
	a.events++
	return nil
}

// shape is a recurring set of fields: the same keys with the same kinds in the same order, as most
// records of a log type have. Its columns are looked up once.
type shape struct {
	fixed int // the leading fields every row has (@timestamp, _id, event.original, ...)
	keys  []string
	kinds []event.Kind
	cols  []*column // the column of each field (nil: not stored)
}

// maxShapes bounds the shapes remembered per type: records with ever-new field sets still work,
// they just pay for their own lookups.
const maxShapes = 16

// shapeOf finds the shape of a row, its fields every row has (head) then the event's, adding them
// to the type's schema when it is new.
func (tb *typeBatch) shapeOf(head, fields []event.Field) *shape {
	shapes := tb.shapes
	for k, sh := range shapes {
		if sh.matches(head, fields) {
			if k > 0 { // most recent first
				copy(shapes[1:k+1], shapes[:k])
				shapes[0] = sh
			}
			return sh
		}
	}
	fs := append(slices.Clip(head), fields...)
	fixed := len(head)
	sh := &shape{fixed: fixed, keys: make([]string, len(fs)), kinds: make([]event.Kind, len(fs)), cols: make([]*column, len(fs))}
	for i, f := range fs {
		sh.keys[i], sh.kinds[i] = f.Key, f.Value.Kind()
	}
	// Add to the schema in key order, so that a leaf always precedes the keys below it.
	for _, i := range event.SortedOrder(fs, nil) {
		if int(i) >= fixed && fixedKey(fs[i].Key) {
			continue // the event's own ID, Timestamp, Original and NativeRoot are those columns
		}
		path := tb.schema.add(fs[i].Key, fs[i].Value.Kind())
		c := tb.byPath[path]
		if c == nil {
			// Event ids are one per record: looking each up among the ones before it finds
			// nothing. (Templates do repeat: a line format's are the same for most records.)
			c = &column{path: path, ref: referable(path), unique: path == "_id"}
			tb.byPath[path] = c
			tb.cols = append(tb.cols, c)
		}
		sh.cols[i] = c
	}
	if len(shapes) >= maxShapes {
		shapes = shapes[:maxShapes-1]
	}
	tb.shapes = append([]*shape{sh}, shapes...)
	return sh
}

// fixedKey reports whether a field's key is one of the columns every row has.
func fixedKey(k string) bool {
	return k == "@timestamp" || k == "_id" || k == "_original" || k == "event.original" || k == "_native_root"
}

func (sh *shape) matches(head, fields []event.Field) bool {
	if len(head) != sh.fixed || len(head)+len(fields) != len(sh.keys) {
		return false
	}
	for i := range head {
		if head[i].Key != sh.keys[i] || head[i].Value.Kind() != sh.kinds[i] {
			return false
		}
	}
	keys, kinds := sh.keys[len(head):], sh.kinds[len(head):]
	for i := range fields {
		if f := &fields[i]; !sameKey(f.Key, keys[i]) || f.Value.Kind() != kinds[i] {
			return false
		}
	}
	return true
}

// sameKey is k1 == k2, without a call when both are the same string (a parser's constant), as
// they nearly always are.
func sameKey(k1, k2 string) bool {
	return len(k1) == len(k2) && (unsafe.StringData(k1) == unsafe.StringData(k2) || k1 == k2)
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

// Full reports whether the batch's columns have reached MaxBatchBytes and should be committed.
func (a *Appender) Full() bool {
	if a.events-a.measured >= 256 || a.measured == 0 {
		a.measured, a.memory = a.events, a.memoryHeld()
	}
	return a.memory >= a.MaxBatchBytes
}

// memoryHeld is what the batch's columns hold: their text and their arrays.
func (a *Appender) memoryHeld() int64 {
	var n int64
	for _, tb := range a.types {
		n += int64(tb.ts.capacity()) * 8
		for _, c := range tb.cols {
			n += c.memory()
		}
	}
	return n
}

// Pending returns the number of events added since the last commit.
func (a *Appender) Pending() int { return a.events }

// batchMeta is the sealed description of a batch, written once all its files are staged and synced:
// its presence means the batch is complete and only has to be moved into place.
type batchMeta struct {
	Batch   string   `json:"batch"`
	Files   []string `json:"files"` // staged files, relative to the staging directory of the batch
	Objects []Object `json:"objects"`
	Events  int      `json:"events"`
}

// Commit makes everything added so far durable and visible, then starts a new batch.
func (a *Appender) Commit(ctx context.Context) (BatchStats, error) {
	st := BatchStats{Objects: len(a.objects), Events: a.events, Rejected: a.rejects, Bytes: a.memoryHeld()}
	sealed, err := a.commit(ctx, &st)
	switch {
	case err != nil && !sealed:
		// Before the seal the staged files are an incomplete copy of what the batch holds, and its
		// objects are not ingested: the next run parses them again. Keeping the files would only
		// hold space, which is what is missing when the disk is full.
		os.RemoveAll(filepath.Join(a.l.root, "_staging", a.batch))
		os.Remove(filepath.Join(a.l.root, "_rejected", a.batch+".ndjson.open"))
		err = fmt.Errorf("%w (nothing of the batch was kept; its objects were not marked ingested)", err)
	case err != nil:
		// Sealed: the batch is complete on disk, and the next Open finishes it (renames, manifest),
		// as after a crash.
		err = fmt.Errorf("%w (the batch is complete on disk: the next run finishes it)", err)
	}
	a.start()
	return st, err
}

func (a *Appender) commit(ctx context.Context, st *BatchStats) (sealed bool, err error) {
	meta, err := a.seal(ctx)
	if err != nil {
		return false, err
	}
	files, size, err := a.l.apply(meta)
	st.Files, st.ParquetBytes = files, size
	if err == nil {
		a.l.noteSchemas(a.digests, false)
	}
	return true, err
}

// seal writes the batch's files into staging, fsyncs them, and writes the batch's description:
// from then on the batch is complete, and a crash is finished by the next Open.
func (a *Appender) seal(ctx context.Context) (*batchMeta, error) {
	if a.rej != nil {
		if err := a.rw.Flush(); err != nil {
			return nil, err
		}
		if err := a.rej.Sync(); err != nil {
			return nil, err
		}
		a.rej.Close()
		a.rej = nil
	}
	staging := filepath.Join(a.l.root, "_staging", a.batch)
	meta := batchMeta{Batch: a.batch, Objects: a.objects, Events: a.events}
	types := make([]string, 0, len(a.types))
	for t := range a.types {
		types = append(types, t)
	}
	slices.Sort(types)
	for _, t := range types {
		files, err := a.writeType(ctx, staging, t)
		if err != nil {
			return nil, fmt.Errorf("writing Parquet for %s: %w", t, err)
		}
		meta.Files = append(meta.Files, files...)
	}
	if len(meta.Files) > 0 {
		if err := syncTree(staging); err != nil {
			return nil, err
		}
	}
	if err := writeFileAtomic(a.l.metaPath(a.batch), meta); err != nil {
		return nil, err
	}
	return &meta, nil
}

// syncTree fsyncs every directory of a staged batch, so that its files' names are durable.
func syncTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		return syncDir(p)
	})
}

// Abort discards the batch: nothing added since the last Commit is kept.
func (a *Appender) Abort() {
	if a.rej != nil {
		a.rej.Close()
		a.rej = nil
		os.Remove(filepath.Join(a.l.root, "_rejected", a.batch+".ndjson.open"))
	}
	os.RemoveAll(filepath.Join(a.l.root, "_staging", a.batch))
	a.start()
}

// apply moves a sealed batch's staged files into their partitions, records its objects and removes
// the batch. Doing it again after a crash finishes it: files already moved are skipped, the
// manifest ignores objects it has.
func (l *Lake) apply(m *batchMeta) (files int, size int64, err error) {
	l.parts.Lock()
	defer l.parts.Unlock()
	staging := filepath.Join(l.root, "_staging", m.Batch)
	// The batch's dead letters become visible with it.
	rej := filepath.Join(l.root, "_rejected", m.Batch+".ndjson")
	if err := os.Rename(rej+".open", rej); err != nil && !os.IsNotExist(err) {
		return 0, 0, err
	}
	for _, rel := range m.Files {
		src, dst := filepath.Join(staging, rel), filepath.Join(l.root, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return files, size, err
		}
		if err := os.Rename(src, dst); err != nil && !os.IsNotExist(err) {
			return files, size, err
		}
		if err := syncDir(filepath.Dir(dst)); err != nil {
			return files, size, err
		}
		if fi, err := os.Stat(dst); err == nil {
			size += fi.Size()
			files++
		}
	}
	now := time.Now().UTC()
	var fresh []Object
	for _, o := range m.Objects {
		if _, ok := l.man.has(&o); !ok {
			o.At = now
			fresh = append(fresh, o)
		}
	}
	if err := l.man.append(fresh); err != nil {
		return files, size, err
	}
	if err := os.RemoveAll(l.metaPath(m.Batch)); err != nil {
		return files, size, err
	}
	if err := os.RemoveAll(staging); err != nil {
		return files, size, err
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
	sealed := map[string]bool{}
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
			sealed[m.Batch] = true
			if _, _, err := l.apply(&m); err != nil {
				if ctx.Err() != nil {
					return err
				}
				// A batch that cannot be finished must not block the lake forever: keep it aside
				// for inspection; its objects are not in the manifest and will be ingested again.
				q := l.quarantine(m.Batch)
				l.Warnings = append(l.Warnings, fmt.Sprintf("batch %s could not be finished (%v); kept in %s", m.Batch, err, q))
			}
		default:
			os.Remove(filepath.Join(dir, name)) // temporary files of an unfinished seal
		}
	}
	// Dead letters of batches never sealed, and staged files of unsealed batches.
	rej, _ := os.ReadDir(filepath.Join(l.root, "_rejected"))
	for _, e := range rej {
		if strings.HasSuffix(e.Name(), ".open") {
			os.Remove(filepath.Join(l.root, "_rejected", e.Name()))
		}
	}
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
	if os.Rename(l.metaPath(batch), filepath.Join(dir, "batch.json")) == nil {
		moved++
	}
	if os.Rename(filepath.Join(l.root, "_staging", batch), filepath.Join(dir, "staged")) == nil {
		moved++
	}
	rej := filepath.Join(l.root, "_rejected", batch+".ndjson.open")
	if os.Rename(rej, filepath.Join(dir, "rejected.ndjson")) == nil {
		moved++
	}
	syncDir(walDir)
	if moved == 0 {
		return ""
	}
	return dir
}
