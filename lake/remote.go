package lake

// A lake on S3 (or any Store) keeps its local directory as a working copy, a cache, and mirrors it
// in the store under the same relative keys:
//
//	type=<log type>/date=YYYY-MM-DD/hour=HH/<id>_N.parquet   events, as in a local lake
//	_rejected/<batch>.ndjson                                dead letters
//	_manifest/<id>.ndjson                                   one part per published batch or compaction
//
// The store's manifest is the authority. A batch is published by uploading its files first (a PUT is
// atomic: nobody sees part of a file), then its manifest part: the batch's lines of the manifest, one
// Object per line. Until the part is there, the batch does not exist for ramen's readers, which take a
// data file or dead-letter file only when the part of its id (the file name up to its last "_" or
// ".") is listed; an object is acknowledged for an S3 lake only once its part is uploaded. A
// compaction is published the same way, its part naming the files it replaces ({"replaces": key}
// lines): readers skip those from the moment the part is there, and the replaced keys are deleted
// after it.
//
// The cache remembers which keys it knows to be published (_remote/known.ndjson, append-only, a torn
// last line ignored): a local file not in it is a local commit not yet published. Publish uploads
// those, so a crash between a local commit and its upload is finished by the next Open, which
// publishes whatever is pending; re-uploading a file a crash left without its part rewrites the same
// key with the same bytes. Open also reads the parts it does not have yet into the local manifest, so
// a fresh cache does not ingest again what another machine (or an earlier cache) published.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Store is where the files of a lake on S3 live, addressed by keys relative to the lake's root
// ("type=cloudtrail/date=2026-03-01/hour=09/x_0.parquet"). lake/s3store implements it for S3 and
// S3-compatible stores.
type Store interface {
	// List calls fn with the objects whose keys start with prefix, in key order, a page at a time.
	List(ctx context.Context, prefix string, fn func(page []StoreObject) error) error
	// Put uploads the local file at path as key, atomically, and returns the object's ETag.
	Put(ctx context.Context, key, path string) (etag string, err error)
	// Get writes the content of o to w; it fails, with an error wrapping ErrGone, if the object is
	// no longer the one listed (deleted or replaced since).
	Get(ctx context.Context, o StoreObject, w io.Writer) error
	// Dirs returns the "folders" directly under prefix (which is "" or ends with "/"): the distinct
	// key prefixes up to the next "/", without it ("type=cloudtrail", "type=cloudtrail/date=2026-03-01").
	Dirs(ctx context.Context, prefix string) ([]string, error)
	// Delete removes key; a key already gone is not an error.
	Delete(ctx context.Context, key string) error
	// String names the store's root for messages (s3://bucket/prefix/).
	String() string
}

// ErrGone is what Store.Get wraps when the object listed is no longer there as listed: a
// compaction or a prune deleted it after the listing. Pulls list again when they meet it.
var ErrGone = errors.New("no longer in the store as listed")

// StoreObject is one listed object of a Store.
type StoreObject struct {
	Key  string // relative to the lake's root
	Size int64
	ETag string
}

// remote is the store of a lake on S3 and the cache's record of what it holds.
type remote struct {
	store Store
	dir   string // <root>/_remote
	lock  *os.File
	known map[string]StoreObject // keys published, as far as this cache knows
	log   *os.File               // known.ndjson, open for appending while locked
}

// knownLine is one line of _remote/known.ndjson.
type knownLine struct {
	Key  string `json:"key"`
	Size int64  `json:"size,omitempty"`
	ETag string `json:"etag,omitempty"`
	Gone bool   `json:"gone,omitempty"`
}

// partLine is a line of a manifest part: an ingested object, or a file a compaction replaced.
type partLine struct {
	Object
	Replaces string `json:"replaces,omitempty"`
}

// compactionRecord is what a compaction of a lake on S3 has to publish: written before the
// compaction's journal, removed once the compaction's part is uploaded and its replaced keys deleted.
type compactionRecord struct {
	ID       string   `json:"id"`
	Output   string   `json:"output"`   // relative to the root
	Replaced []string `json:"replaced"` // relative to the root
}

// openRemote prepares the cache at root for the store s. A cache belongs to one store (its name is
// kept in _remote/store): the files and records of another lake would be published into this one.
func openRemote(root string, s Store) (*remote, error) {
	r := &remote{store: s, dir: filepath.Join(root, "_remote")}
	for _, d := range []string{r.dir, filepath.Join(r.dir, "parts"), filepath.Join(r.dir, "tmp"), filepath.Join(r.dir, "compactions")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	name := filepath.Join(r.dir, "store")
	b, err := os.ReadFile(name)
	switch {
	case os.IsNotExist(err):
		if exists(filepath.Join(root, "_manifest", "objects.ndjson")) && !exists(filepath.Join(r.dir, "known.ndjson")) {
			return nil, fmt.Errorf("%s is a local lake, not the cache of %s: give another cache directory", root, s)
		}
		if err := writeSynced(name, []byte(s.String()+"\n")); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	case strings.TrimSpace(string(b)) != s.String():
		return nil, fmt.Errorf("%s is the cache of %s, not of %s: give another cache directory", root, strings.TrimSpace(string(b)), s)
	}
	return r, nil
}

// begin takes the cache's remote lock (readers pulling and the writer publishing take turns) and
// loads what the cache knows; end releases it.
func (r *remote) begin() error {
	lk, err := os.OpenFile(filepath.Join(r.dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	if err := syscall.Flock(int(lk.Fd()), syscall.LOCK_EX); err != nil {
		lk.Close()
		return err
	}
	r.lock = lk
	// Downloads only run with the lock held: what is in tmp was left by a kill.
	if ents, err := os.ReadDir(filepath.Join(r.dir, "tmp")); err == nil {
		for _, e := range ents {
			os.Remove(filepath.Join(r.dir, "tmp", e.Name()))
		}
	}
	path := filepath.Join(r.dir, "known.ndjson")
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		r.end()
		return err
	}
	r.known = map[string]StoreObject{}
	good, lines := 0, 0
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break // torn last line: that key is simply not known
		}
		var k knownLine
		if err := json.Unmarshal(data[:i], &k); err != nil {
			r.end()
			return fmt.Errorf("%s: byte %d: corrupt line: %w", path, good, err)
		}
		if k.Gone {
			delete(r.known, k.Key)
		} else {
			r.known[k.Key] = StoreObject{Key: k.Key, Size: k.Size, ETag: k.ETag}
		}
		good += i + 1
		lines++
		data = data[i+1:]
	}
	if lines > 2*len(r.known)+1024 {
		// Mostly lines of keys since gone or downloaded again: write what is known afresh.
		if err := r.rewriteKnown(path); err != nil {
			r.end()
			return err
		}
		fi, err := os.Stat(path)
		if err != nil {
			r.end()
			return err
		}
		good = int(fi.Size())
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err == nil {
		err = f.Truncate(int64(good))
	}
	if err == nil {
		_, err = f.Seek(int64(good), 0)
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		r.end()
		return err
	}
	r.log = f
	return nil
}

// rewriteKnown replaces the record of published keys by one line per key known, atomically.
func (r *remote) rewriteKnown(path string) error {
	keys := make([]string, 0, len(r.known))
	for k := range r.known {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b bytes.Buffer
	for _, k := range keys {
		o := r.known[k]
		j, err := json.Marshal(knownLine{Key: o.Key, Size: o.Size, ETag: o.ETag})
		if err != nil {
			return err
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	if err := writeSynced(path+".tmp", b.Bytes()); err != nil {
		return err
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func (r *remote) end() {
	if r.log != nil {
		r.log.Close()
		r.log = nil
	}
	if r.lock != nil {
		r.lock.Close()
		r.lock = nil
	}
}

// record appends to the cache's record of published keys, durably.
func (r *remote) record(lines ...knownLine) error {
	if len(lines) == 0 {
		return nil
	}
	var b bytes.Buffer
	for _, k := range lines {
		j, err := json.Marshal(k)
		if err != nil {
			return err
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	if _, err := r.log.Write(b.Bytes()); err != nil {
		return err
	}
	if err := r.log.Sync(); err != nil {
		return err
	}
	for _, k := range lines {
		if k.Gone {
			delete(r.known, k.Key)
		} else {
			r.known[k.Key] = StoreObject{Key: k.Key, Size: k.Size, ETag: k.ETag}
		}
	}
	return nil
}

// fileID is the batch or compaction a file belongs to: its name up to the last "_" (Parquet files,
// <id>_N.parquet) or to ".ndjson" (dead letters and parts, <id>.ndjson).
func fileID(key string) string {
	name := key[strings.LastIndexByte(key, '/')+1:]
	if id, ok := strings.CutSuffix(name, ".ndjson"); ok {
		return id
	}
	if i := strings.LastIndexByte(name, '_'); i > 0 {
		return name[:i]
	}
	return name
}

func partKey(id string) string { return "_manifest/" + id + ".ndjson" }

// layoutKey reports whether key, as the store lists it, is a file of the lake's layout that a cache
// may hold: type=T/date=D/hour=H/<name>.parquet or _rejected/<name>.ndjson, every segment a plain
// name (not empty, "." or "..", no backslash, no glob character: the views read the cache by glob).
// Keys come from the bucket and are untrusted, and the cache writes (and removes) a file at each
// key it pulls: any other key ("type=x/../../etc/passwd", two keys for one path) is no file of the
// lake, as it would not be for the glob of a local lake.
func layoutKey(key string) bool {
	seg := strings.Split(key, "/")
	for _, s := range seg {
		if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "\\\x00*?[") {
			return false
		}
	}
	switch len(seg) {
	case 4:
		return len(seg[0]) > len("type=") && strings.HasPrefix(seg[0], "type=") && strings.HasPrefix(seg[1], "date=") &&
			strings.HasPrefix(seg[2], "hour=") && strings.HasSuffix(seg[3], ".parquet")
	case 2:
		return seg[0] == "_rejected" && strings.HasSuffix(seg[1], ".ndjson")
	}
	return false
}

// partKeyOK reports whether key is a manifest part: _manifest/<id>.ndjson, nothing deeper.
func partKeyOK(key string) bool {
	name, ok := strings.CutPrefix(key, "_manifest/")
	return ok && strings.HasSuffix(name, ".ndjson") && !strings.ContainsAny(name, "/\\\x00")
}

// cachePath is where the cache holds the file of key, which must be a key of the lake's layout.
func (l *Lake) cachePath(key string) (string, error) {
	if !layoutKey(key) {
		return "", fmt.Errorf("%s%s: not a key of the lake's layout, refused", l.remote.store, key)
	}
	return filepath.Join(l.root, filepath.FromSlash(key)), nil
}

// PublishStats describe what Publish uploaded.
type PublishStats struct {
	Batches, Files int
	Bytes          int64
	Deleted        int // keys replaced by compactions and deleted from the store
	Superseded     int // batches of the cache not published: the store had all their objects already
}

// Publish uploads to the store what the cache has committed and the store lacks, batch by batch in
// the order they were made: each batch's files, then its manifest part (only then are its objects
// acknowledged), then, for a compaction, the deletion of the files it replaced. It does nothing for
// a local lake. The error names the key that could not be uploaded; what is not published stays
// pending in the cache, and the next Publish (or Open) takes it up again.
func (l *Lake) Publish(ctx context.Context) (PublishStats, error) { return l.publish(ctx, false) }

// publish is Publish; atOpen also drops the pending batches whose every object the store has from
// another batch (see superseded).
func (l *Lake) publish(ctx context.Context, atOpen bool) (PublishStats, error) {
	var st PublishStats
	if l.remote == nil {
		return st, nil
	}
	if l.readOnly {
		return st, errors.New("lake opened read-only: publishing needs the writer lock")
	}
	r := l.remote
	if err := r.begin(); err != nil {
		return st, err
	}
	defer r.end()
	byID := map[string]*pending{}
	get := func(id string) *pending {
		p := byID[id]
		if p == nil {
			p = &pending{}
			byID[id] = p
		}
		return p
	}
	parts, err := l.partitions("")
	if err != nil {
		return st, err
	}
	for _, p := range parts {
		for _, f := range p.Files {
			key := filepath.ToSlash(filepath.Join(p.Rel, f.Name))
			if k, ok := r.known[key]; !ok || k.Size != f.Size {
				get(fileID(key)).files = append(get(fileID(key)).files, key)
			}
		}
	}
	rej, _ := os.ReadDir(filepath.Join(l.root, "_rejected"))
	for _, e := range rej {
		if !strings.HasSuffix(e.Name(), ".ndjson") {
			continue
		}
		key := "_rejected/" + e.Name()
		if _, ok := r.known[key]; !ok {
			get(fileID(key)).files = append(get(fileID(key)).files, key)
		}
	}
	published := map[string]bool{} // by batch: a batch has many objects
	l.man.each(func(o Object) {
		if o.Batch == "" {
			return
		}
		pub, ok := published[o.Batch]
		if !ok {
			_, pub = r.known[partKey(o.Batch)]
			published[o.Batch] = pub
		}
		if !pub {
			get(o.Batch).objects = append(get(o.Batch).objects, o)
		}
	})
	comps, _ := os.ReadDir(filepath.Join(r.dir, "compactions"))
	for _, e := range comps {
		var c compactionRecord
		path := filepath.Join(r.dir, "compactions", e.Name())
		if !strings.HasSuffix(e.Name(), ".json") {
			// A record a crash cut short before it was renamed into place (writeFileAtomic): written
			// before the compaction's journal, so that compaction never took place.
			os.Remove(path)
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return st, err
		}
		if err := json.Unmarshal(b, &c); err != nil || c.ID == "" {
			return st, fmt.Errorf("%s: not a compaction record (%v): move it away to publish", path, err)
		}
		if !exists(filepath.Join(l.root, filepath.FromSlash(c.Output))) {
			// The compaction never took place in the cache (dropped after a crash): nothing to publish.
			os.Remove(path)
			continue
		}
		get(c.ID).comp = &c
	}
	if atOpen {
		drop, err := l.superseded(byIDObjects(byID, func(p *pending) ([]Object, bool) { return p.objects, p.comp == nil }))
		if err != nil {
			return st, err
		}
		for _, id := range drop {
			for _, key := range byID[id].files {
				// A publication that failed before the part may have uploaded the file: invisible to
				// ramen without its part, but not to an engine that reads the bucket by glob.
				if err := r.store.Delete(ctx, key); err != nil {
					return st, fmt.Errorf("deleting %s of batch %s, superseded: %w", key, id, err)
				}
				if err := os.Remove(filepath.Join(l.root, filepath.FromSlash(key))); err != nil && !os.IsNotExist(err) {
					return st, err
				}
			}
			// Marked as if published, so that it is never pending again; no such part is listed.
			if err := r.record(knownLine{Key: partKey(id), ETag: "superseded"}); err != nil {
				return st, err
			}
			st.Superseded++
			delete(byID, id)
		}
	}
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	slices.Sort(ids) // ids start with the time they were made: batches before the compactions of their files
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		p := byID[id]
		_, published := r.known[partKey(id)]
		published = published && p.comp == nil
		slices.Sort(p.files)
		if published {
			// Files of a batch whose part is in the store (a kill lost the record of their
			// publication, or they came back into the cache). A part is uploaded only once every
			// file of its batch is: they are recorded, not uploaded again, since the store may have
			// deleted them since (a compaction or a prune, perhaps from another cache) and they must
			// not come back. Recorded without an ETag: a pull takes the store's copy again if it
			// still lists the file, and removes the cache's if not.
			var recs []knownLine
			for _, key := range p.files {
				if fi, err := os.Stat(filepath.Join(l.root, filepath.FromSlash(key))); err == nil {
					recs = append(recs, knownLine{Key: key, Size: fi.Size()})
				}
			}
			if err := r.record(recs...); err != nil {
				return st, err
			}
			continue
		}
		up, err := r.putAll(ctx, l.root, p.files)
		if err != nil {
			return st, fmt.Errorf("publishing batch %s: %w", id, err)
		}
		var recs []knownLine
		for _, o := range up {
			recs = append(recs, knownLine{Key: o.Key, Size: o.Size, ETag: o.ETag})
			st.Files++
			st.Bytes += o.Size
		}
		// The part: the batch's lines of the manifest, or the files a compaction replaces.
		var b bytes.Buffer
		for _, o := range p.objects {
			j, err := json.Marshal(&o)
			if err != nil {
				return st, err
			}
			b.Write(j)
			b.WriteByte('\n')
		}
		if p.comp != nil {
			for _, k := range p.comp.Replaced {
				j, _ := json.Marshal(struct {
					Replaces string `json:"replaces"`
				}{k})
				b.Write(j)
				b.WriteByte('\n')
			}
		}
		path := filepath.Join(r.dir, "parts", id+".ndjson")
		if err := writeSynced(path, b.Bytes()); err != nil {
			return st, err
		}
		o, err := r.put(ctx, partKey(id), path)
		if err != nil {
			return st, fmt.Errorf("publishing batch %s: %w", id, err)
		}
		recs = append(recs, knownLine{Key: o.Key, Size: o.Size, ETag: o.ETag})
		if err := r.record(recs...); err != nil {
			return st, err
		}
		st.Batches++
		if p.comp != nil {
			// Readers skip the replaced files from now on; delete them.
			for _, k := range p.comp.Replaced {
				if err := r.store.Delete(ctx, k); err != nil {
					return st, fmt.Errorf("deleting %s, replaced by compaction %s: %w", k, id, err)
				}
				if err := r.record(knownLine{Key: k, Gone: true}); err != nil {
					return st, err
				}
				st.Deleted++
			}
			if err := os.Remove(filepath.Join(r.dir, "compactions", id+".json")); err != nil && !os.IsNotExist(err) {
				return st, err
			}
		}
	}
	return st, nil
}

// remoteHook lets tests stop a lake on S3 at a named step, as a kill would.
var remoteHook = func(step string) error { return nil }

// pending is what a batch or compaction of the cache has to publish.
type pending struct {
	files   []string // relative to the root, with "/" separators
	objects []Object
	comp    *compactionRecord
}

// byIDObjects returns the objects of each pending batch that may be superseded.
func byIDObjects(byID map[string]*pending, f func(*pending) ([]Object, bool)) map[string][]Object {
	out := map[string][]Object{}
	for id, p := range byID {
		if objs, ok := f(p); ok && len(objs) > 0 {
			out[id] = objs
		}
	}
	return out
}

// superseded returns the pending batches whose every object is in a part the store has, from
// another batch: a cache that committed a batch and stopped before publishing it, while another
// run (another machine, a fresh cache) ingested and published the same objects. Publishing it too
// would store their events twice. It reads the parts the cache has, which a writer's Open has just
// brought up to date; it runs only when a writer opens, as only then can a batch be that old.
func (l *Lake) superseded(batches map[string][]Object) ([]string, error) {
	if len(batches) == 0 {
		return nil, nil
	}
	r := l.remote
	elsewhere := map[string]bool{} // identities of pending objects found in other batches' parts
	want := map[string]bool{}
	for _, objs := range batches {
		for _, o := range objs {
			want[o.Identity()] = true
		}
	}
	ents, err := os.ReadDir(filepath.Join(r.dir, "parts"))
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".ndjson")
		if !ok {
			continue
		}
		if k, ok := r.known[partKey(id)]; !ok || k.ETag == "superseded" {
			continue // not (or never to be) in the store
		}
		if _, mine := batches[id]; mine {
			continue
		}
		o := r.known[partKey(id)]
		lines, err := l.part(context.Background(), o)
		if err != nil {
			return nil, err
		}
		for _, pl := range lines {
			if pl.Key != "" && want[pl.Identity()] {
				elsewhere[pl.Identity()] = true
			}
		}
	}
	var out []string
	for id, objs := range batches {
		all := true
		for _, o := range objs {
			all = all && elsewhere[o.Identity()]
		}
		if all {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out, nil
}

// uploads is how many files of a batch are uploaded (or manifest parts downloaded) at once: a request
// waits tens of milliseconds for S3 whatever its size, and a batch has a file per hour partition it
// touches.
const uploads = 8

// putAll uploads files of the root (keys), up to uploads at once, and returns them in keys' order; the
// error is that of the first key (in order) that failed.
func (r *remote) putAll(ctx context.Context, root string, keys []string) ([]StoreObject, error) {
	out := make([]StoreObject, len(keys))
	errs := make([]error, len(keys))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, uploads)
	var wg sync.WaitGroup
	for i, key := range keys {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if errs[i] = ctx.Err(); errs[i] != nil {
				return
			}
			out[i], errs[i] = r.put(ctx, key, filepath.Join(root, filepath.FromSlash(key)))
			if errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	// The first real failure, not the cancellations it caused.
	var first error
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, err
		}
		if first == nil {
			first = err
		}
	}
	return out, first
}

// put uploads one file.
func (r *remote) put(ctx context.Context, key, path string) (StoreObject, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return StoreObject{}, err
	}
	etag, err := r.store.Put(ctx, key, path)
	if err != nil {
		return StoreObject{}, fmt.Errorf("uploading %s%s: %w", r.store, key, err)
	}
	return StoreObject{Key: key, Size: fi.Size(), ETag: etag}, nil
}

// writeSynced writes a file and fsyncs it.
func writeSynced(path string, data []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// listing is what the store holds that readers may see.
type listing struct {
	parts    map[string]StoreObject // by id
	data     []StoreObject          // visible event files in scope
	rejected []StoreObject          // visible dead-letter files, if in scope
	replaced []string               // keys in scope of replaced files still in the store
	types    []string               // the types the store has (type=<name>/ folders)
	scope    *PullOptions           // what was listed (nil: everything)
}

// list (with the remote lock held) reads the store's manifest parts (downloading those the cache
// lacks) and lists its files, keeping those readers may see: files of published ids that no
// compaction replaced. scope, given the store's types, says which types and days to list (nil:
// everything): a query of one day of one type lists that day's folder only, not the whole lake.
//
// The parts are listed again after the files: a compaction published in between (its part uploaded
// after the first listing of the parts, the files it replaces deleted before the listing of their
// folder) would otherwise leave the listing with neither its files nor the ones they replaced. If a
// new part is a compaction's, the files are listed again, with it.
func (l *Lake) list(ctx context.Context, scope func(types []string) *PullOptions) (*listing, error) {
	parts, err := l.listParts(ctx)
	if err != nil {
		return nil, err
	}
	replaced := map[string]bool{}
	if _, err := l.readReplaced(ctx, parts, slices.Collect(maps.Keys(parts)), replaced); err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		ls, err := l.listFiles(ctx, parts, replaced, scope)
		if err != nil {
			return nil, err
		}
		again, err := l.listParts(ctx)
		if err != nil {
			return nil, err
		}
		var fresh []string
		for id := range again {
			if _, ok := parts[id]; !ok {
				fresh = append(fresh, id)
			}
		}
		compacted, err := l.readReplaced(ctx, again, fresh, replaced)
		if err != nil {
			return nil, err
		}
		if !compacted {
			// Batches published meanwhile are left out with their files: the listing is the lake
			// as it was before them.
			return ls, nil
		}
		if attempt == 5 {
			return nil, fmt.Errorf("%s: compactions kept replacing files while the lake was listed: run again", l.remote.store)
		}
		parts = again
	}
}

// listParts lists the store's manifest parts, by id.
func (l *Lake) listParts(ctx context.Context) (map[string]StoreObject, error) {
	parts := map[string]StoreObject{}
	err := l.remote.store.List(ctx, "_manifest/", func(page []StoreObject) error {
		for _, o := range page {
			if partKeyOK(o.Key) {
				parts[fileID(o.Key)] = o
			}
		}
		return nil
	})
	return parts, err
}

// readReplaced adds to replaced the keys that the parts ids (of parts) replace, and reports whether
// there were any. A fresh cache reads every part once: several at a time, as a GET mostly waits;
// only the replaced keys are kept of each, not its lines.
func (l *Lake) readReplaced(ctx context.Context, parts map[string]StoreObject, ids []string, replaced map[string]bool) (bool, error) {
	slices.Sort(ids)
	keys := make([][]string, len(ids))
	errs := make([]error, len(ids))
	sem := make(chan struct{}, uploads)
	var wg sync.WaitGroup
	for i, id := range ids {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			lines, err := l.part(ctx, parts[id])
			for _, pl := range lines {
				if pl.Replaces != "" {
					keys[i] = append(keys[i], pl.Replaces)
				}
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	found := false
	for i := range ids {
		if errs[i] != nil {
			return false, errs[i]
		}
		for _, k := range keys[i] {
			replaced[k] = true
			found = true
		}
	}
	return found, nil
}

// listFiles lists the files of the store that readers may see, given its parts and the keys they
// replace.
func (l *Lake) listFiles(ctx context.Context, parts map[string]StoreObject, replaced map[string]bool, scope func(types []string) *PullOptions) (*listing, error) {
	r := l.remote
	ls := &listing{parts: parts}
	dirs, err := r.store.Dirs(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, d := range dirs {
		if t, ok := strings.CutPrefix(d, "type="); ok && t != "" {
			ls.types = append(ls.types, t)
		}
	}
	slices.Sort(ls.types)
	if scope != nil {
		ls.scope = scope(ls.types)
	}
	take := func(page []StoreObject) error {
		for _, o := range page {
			if !layoutKey(o.Key) || !strings.HasPrefix(o.Key, "type=") {
				continue // not a file of the lake (and a key never names a path outside the cache)
			}
			if replaced[o.Key] {
				ls.replaced = append(ls.replaced, o.Key)
				continue
			}
			if _, ok := ls.parts[fileID(o.Key)]; !ok {
				continue // a batch whose part is not uploaded (yet, or ever: a crash)
			}
			ls.data = append(ls.data, o)
		}
		return nil
	}
	for _, t := range ls.types {
		sc := ls.scope
		if sc != nil && sc.Types != nil && !slices.Contains(sc.Types, t) {
			continue
		}
		if sc == nil || sc.Since.IsZero() && sc.Until.IsZero() {
			if err := r.store.List(ctx, "type="+t+"/", take); err != nil {
				return nil, err
			}
			continue
		}
		first, last := sc.days()
		days, err := r.store.Dirs(ctx, "type="+t+"/")
		if err != nil {
			return nil, err
		}
		for _, d := range days {
			day := strings.TrimPrefix(d, "type="+t+"/date=")
			if day < first || day > last {
				continue
			}
			if err := r.store.List(ctx, d+"/", take); err != nil {
				return nil, err
			}
		}
	}
	if ls.scope == nil || ls.scope.Rejected {
		err = r.store.List(ctx, "_rejected/", func(page []StoreObject) error {
			for _, o := range page {
				if _, ok := ls.parts[fileID(o.Key)]; ok && layoutKey(o.Key) {
					ls.rejected = append(ls.rejected, o)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return ls, nil
}

// part returns the lines of a manifest part, from the cache or else downloaded into it.
func (l *Lake) part(ctx context.Context, o StoreObject) ([]partLine, error) {
	path := filepath.Join(l.remote.dir, "parts", fileID(o.Key)+".ndjson")
	data, err := os.ReadFile(path)
	if err != nil || int64(len(data)) != o.Size {
		var b bytes.Buffer
		if err := l.remote.store.Get(ctx, o, &b); err != nil {
			return nil, fmt.Errorf("reading the manifest part %s: %w", o.Key, err)
		}
		data = b.Bytes()
		if err := writeSynced(path+".tmp", data); err != nil {
			return nil, err
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			return nil, err
		}
	}
	var out []partLine
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 64<<20)
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var pl partLine
		if err := json.Unmarshal(sc.Bytes(), &pl); err != nil {
			return nil, fmt.Errorf("manifest part %s%s: line %d: %w", l.remote.store, o.Key, n, err)
		}
		out = append(out, pl)
	}
	return out, sc.Err()
}

// loadManifest adds the objects of the store's manifest parts to the cache's manifest, so that what
// is published is not ingested again, whichever machine published it; and deletes the files that
// compactions replaced and a crash left in the store.
func (l *Lake) loadManifest(ctx context.Context) error {
	r := l.remote
	if err := r.begin(); err != nil {
		return err
	}
	defer r.end()
	ls, err := l.list(ctx, nil)
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(ls.parts))
	for id := range ls.parts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		o := ls.parts[id]
		if k, ok := r.known[o.Key]; ok && k.ETag == o.ETag {
			continue // loaded before
		}
		lines, err := l.part(ctx, o)
		if err != nil {
			return err
		}
		var fresh []Object
		for _, pl := range lines {
			if pl.Key == "" {
				continue
			}
			if _, ok := l.man.has(&pl.Object); !ok {
				fresh = append(fresh, pl.Object)
			}
		}
		// The objects first, then the record that the part is loaded: a crash between loads it again,
		// and the manifest ignores what it has.
		if err := l.man.append(fresh); err != nil {
			return err
		}
		if err := r.record(knownLine{Key: o.Key, Size: o.Size, ETag: o.ETag}); err != nil {
			return err
		}
	}
	for _, k := range ls.replaced {
		if err := r.store.Delete(ctx, k); err != nil {
			return fmt.Errorf("deleting %s, replaced by a compaction: %w", k, err)
		}
	}
	return nil
}

// PullOptions choose what Pull brings into the cache.
type PullOptions struct {
	// Types are the log types to pull (nil: every type).
	Types []string
	// Since and Until limit the pull to the days of that range, as QueryOptions do for queries.
	Since, Until time.Time
	// Rejected pulls the dead letters too.
	Rejected bool
}

// PullType is the pull of one log type's files, or of every type's when typ is "" (a command's
// --type).
func PullType(typ string) PullOptions {
	if typ == "" {
		return PullOptions{}
	}
	return PullOptions{Types: []string{typ}}
}

// days returns the first and last day (YYYY-MM-DD) of the range ("" and "9999-12-31" when open).
func (o *PullOptions) days() (first, last string) {
	first, last = "", "9999-12-31"
	if !o.Since.IsZero() {
		first = o.Since.UTC().Format("2006-01-02")
	}
	if !o.Until.IsZero() {
		last = o.Until.UTC().Add(-time.Nanosecond).Format("2006-01-02")
	}
	return first, last
}

// PullStats describe what Pull did.
type PullStats struct {
	Files, Removed int
	Bytes          int64
	Types          []string // the types the store has
}

// Pull brings the cache of a lake on S3 up to date for a query: it downloads the published files of
// the chosen types and days that the cache lacks or has in another version (by size and ETag), and
// removes the cached files of those types and days that the store no longer has (a compaction or a
// prune replaced them). Files committed in the cache and not yet published are kept. It does nothing
// for a local lake.
func (l *Lake) Pull(ctx context.Context, opt PullOptions) (PullStats, error) {
	if l.remote == nil {
		return PullStats{}, nil
	}
	if err := l.remote.begin(); err != nil {
		return PullStats{}, err
	}
	defer l.remote.end()
	return l.listAndPull(ctx, func([]string) *PullOptions { return &opt })
}

// listAndPull lists the store and pulls what scope says, listing again when a file listed was
// deleted before it could be downloaded (a compaction or a prune published meanwhile).
func (l *Lake) listAndPull(ctx context.Context, scope func(types []string) *PullOptions) (PullStats, error) {
	var st PullStats
	for attempt := 1; ; attempt++ {
		ls, err := l.list(ctx, scope)
		if err != nil {
			return st, err
		}
		s, err := l.pull(ctx, ls, *ls.scope)
		st.Files, st.Removed, st.Bytes, st.Types = st.Files+s.Files, st.Removed+s.Removed, st.Bytes+s.Bytes, s.Types
		if err == nil || !errors.Is(err, ErrGone) || attempt == 3 {
			return st, err
		}
	}
}

// pull is Pull with the remote lock held and the store listed (at least what opt covers).
func (l *Lake) pull(ctx context.Context, ls *listing, opt PullOptions) (PullStats, error) {
	st := PullStats{Types: ls.types}
	r := l.remote
	first, last := opt.days()
	inScope := func(key string) bool {
		if strings.HasPrefix(key, "_rejected/") {
			return opt.Rejected
		}
		rest, ok := strings.CutPrefix(key, "type=")
		if !ok {
			return false
		}
		t, rest, _ := strings.Cut(rest, "/")
		if opt.Types != nil && !slices.Contains(opt.Types, t) {
			return false
		}
		day, _, _ := strings.Cut(strings.TrimPrefix(rest, "date="), "/")
		return day >= first && day <= last
	}
	// Files that a compaction in this cache replaced, not yet published: the cache has their rows
	// in the compacted file already.
	replaced := map[string]bool{}
	for _, c := range r.compactions() {
		if exists(filepath.Join(l.root, filepath.FromSlash(c.Output))) {
			for _, k := range c.Replaced {
				replaced[k] = true
			}
		}
	}
	want := map[string]StoreObject{}
	for _, o := range append(ls.data, ls.rejected...) {
		if inScope(o.Key) && !replaced[o.Key] {
			want[o.Key] = o
		}
	}
	// Cached files the store no longer has.
	var gone []knownLine
	for key := range r.known {
		if strings.HasPrefix(key, "_manifest/") || !inScope(key) {
			continue
		}
		if _, ok := want[key]; ok {
			continue
		}
		// A key outside the layout (recorded by an older ramen) names no file of the cache: it is
		// forgotten, and nothing is removed for it.
		if path, err := l.cachePath(key); err == nil {
			if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
				return st, err
			}
		}
		gone = append(gone, knownLine{Key: key, Gone: true})
		st.Removed++
	}
	if err := r.record(gone...); err != nil {
		return st, err
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if err := remoteHook("pulling"); err != nil {
		return st, err
	}
	for _, key := range keys {
		o := want[key]
		path, err := l.cachePath(key)
		if err != nil {
			return st, err
		}
		if k, ok := r.known[key]; ok && k.Size == o.Size && k.ETag == o.ETag && sizeIs(path, o.Size) {
			continue
		}
		if !exists(path) && slices.ContainsFunc(r.compactions(), func(c compactionRecord) bool { return slices.Contains(c.Replaced, key) }) {
			// A compaction in another process (a writer sharing this cache) swapped it out of its
			// partition since the records were read above: it is not to come back beside the
			// compacted file. Its records are read afresh (the swap takes no remote lock), and a
			// file can only be missing here once its compaction's record is written.
			continue
		}
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if err := r.download(ctx, o, path); err != nil {
			return st, err
		}
		st.Files++
		st.Bytes += o.Size
	}
	return st, nil
}

// download copies an object into the cache: into a temporary file, fsynced, recorded as known, then
// renamed into place, so that a query running in the cache never sees part of a file. The record
// comes first: a kill before the rename leaves a key known without its file (pulled again), never a
// file the record does not know, which no pull would remove once the store no longer lists it (a
// compaction replaced it) and which the cache's queries would then count besides its replacement.
func (r *remote) download(ctx context.Context, o StoreObject, path string) error {
	f, err := os.CreateTemp(filepath.Join(r.dir, "tmp"), "get-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	err = r.store.Get(ctx, o, f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("downloading %s%s: %w", r.store, o.Key, err)
	}
	if fi, err := os.Stat(tmp); err != nil || fi.Size() != o.Size {
		return fmt.Errorf("downloading %s%s: got a file of another size than listed (%d bytes)", r.store, o.Key, o.Size)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := r.record(knownLine{Key: o.Key, Size: o.Size, ETag: o.ETag}); err != nil {
		return err
	}
	if err := remoteHook("downloaded"); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// compactions returns the records of the compactions made in the cache and not yet published (or
// about to be made: the record is written before the compaction's journal and swap).
func (r *remote) compactions() []compactionRecord {
	var out []compactionRecord
	ents, _ := os.ReadDir(filepath.Join(r.dir, "compactions"))
	for _, e := range ents {
		var c compactionRecord
		if !strings.HasSuffix(e.Name(), ".json") {
			continue // a record cut short by a crash: its compaction never took place
		}
		if b, err := os.ReadFile(filepath.Join(r.dir, "compactions", e.Name())); err == nil && json.Unmarshal(b, &c) == nil {
			out = append(out, c)
		}
	}
	return out
}

// sizeIs reports whether the file at path exists and has size bytes.
func sizeIs(path string, size int64) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Size() == size
}

// PullQuery pulls what a query needs: the types its SQL mentions (every type when it mentions
// "events" or no view at all), the days of opt's range, and the dead letters when it mentions
// "rejected". Query calls it; a caller that makes views itself (Views, Scan) calls Pull first.
func (l *Lake) PullQuery(ctx context.Context, query string, opt QueryOptions) (PullStats, error) {
	if l.remote == nil {
		return PullStats{}, nil
	}
	if err := l.remote.begin(); err != nil {
		return PullStats{}, err
	}
	defer l.remote.end()
	return l.listAndPull(ctx, func(types []string) *PullOptions {
		only := opt.Only
		if only == nil {
			only = mentioned(query, append(slices.Clone(types), "events", "rejected"))
		}
		po := &PullOptions{Since: opt.Since, Until: opt.Until}
		if len(only) == 0 || slices.Contains(only, "rejected") {
			po.Rejected = true
		}
		if len(only) > 0 && !slices.Contains(only, "events") {
			po.Types = []string{}
			for _, n := range only {
				if n != "rejected" {
					po.Types = append(po.Types, n)
				}
			}
		}
		return po
	})
}

// Remote returns the store of a lake on S3 (nil for a local lake).
func (l *Lake) Remote() Store {
	if l.remote == nil {
		return nil
	}
	return l.remote.store
}

// recordCompaction notes, before a compaction's journal is written, what the compaction will have
// to publish.
func (l *Lake) recordCompaction(j compactJournal) error {
	if l.remote == nil {
		return nil
	}
	c := compactionRecord{ID: strings.TrimSuffix(j.Output, "_c.parquet"), Output: filepath.ToSlash(filepath.Join(j.Partition, j.Output))}
	for _, n := range j.Replaced {
		c.Replaced = append(c.Replaced, filepath.ToSlash(filepath.Join(j.Partition, n)))
	}
	return writeFileAtomic(filepath.Join(l.remote.dir, "compactions", c.ID+".json"), c)
}

// prunedRemote deletes from the store the published files of the days Prune deleted in the cache.
func (l *Lake) prunedRemote(ctx context.Context, days []PrunedPartition) error {
	if l.remote == nil || len(days) == 0 {
		return nil
	}
	if err := remoteHook("pruning"); err != nil {
		return err
	}
	r := l.remote
	if err := r.begin(); err != nil {
		return err
	}
	defer r.end()
	for _, d := range days {
		// Prune deleted the day in the cache before coming here: a query pulling in this cache
		// meanwhile (another process; pulls take the remote lock, held from here on) brought its
		// files back. Nothing else can have written there (the prune holds the lake's lock and
		// published first); left there they would be queried, and published again. They go before
		// the keys in the store, so that a kill in between leaves no file to publish.
		day := filepath.Join(l.root, "type="+d.Type, "date="+d.Date)
		if exists(day) {
			trash := filepath.Join(l.root, "_staging", "prune-"+newBatchID())
			if err := os.Rename(day, trash); err != nil {
				return err
			}
			if err := os.RemoveAll(trash); err != nil {
				return err
			}
		}
		prefix := "type=" + d.Type + "/date=" + d.Date + "/"
		var keys []string
		err := r.store.List(ctx, prefix, func(page []StoreObject) error {
			for _, o := range page {
				keys = append(keys, o.Key)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := r.store.Delete(ctx, k); err != nil {
				return fmt.Errorf("pruning %s: %w", k, err)
			}
			if err := r.record(knownLine{Key: k, Gone: true}); err != nil {
				return err
			}
		}
	}
	return nil
}

// remotePartitions lists the hour partitions of a lake on S3 from its store (the cache may hold
// only some of them), in type, date, hour order, as partitions does for a local lake.
func (l *Lake) remotePartitions(ctx context.Context) ([]partition, error) {
	if err := l.remote.begin(); err != nil {
		return nil, err
	}
	defer l.remote.end()
	ls, err := l.list(ctx, nil)
	if err != nil {
		return nil, err
	}
	var out []partition
	for _, o := range ls.data { // in key order: type, date, hour
		dir, name := o.Key[:strings.LastIndexByte(o.Key, '/')], o.Key[strings.LastIndexByte(o.Key, '/')+1:]
		seg := strings.Split(dir, "/")
		if len(seg) != 3 || !strings.HasPrefix(seg[0], "type=") || !strings.HasPrefix(seg[1], "date=") || !strings.HasPrefix(seg[2], "hour=") {
			continue
		}
		date := strings.TrimPrefix(seg[1], "date=")
		if _, err := time.Parse("2006-01-02", date); err != nil {
			continue
		}
		if n := len(out); n == 0 || out[n-1].Rel != filepath.FromSlash(dir) {
			out = append(out, partition{Type: strings.TrimPrefix(seg[0], "type="), Date: date, Hour: strings.TrimPrefix(seg[2], "hour="),
				Dir: filepath.Join(l.root, filepath.FromSlash(dir)), Rel: filepath.FromSlash(dir)})
		}
		out[len(out)-1].Files = append(out[len(out)-1].Files, partFile{Name: name, Size: o.Size})
	}
	return out, nil
}
