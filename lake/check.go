package lake

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// A lake file can be damaged by what ramen cannot prevent: a failing disk, a file system restored
// from a bad backup, another tool writing into the lake. Queries then fail with DuckDB's message
// naming the file (every view reads it), and compaction leaves its partition alone. Check finds such
// files without a query, and Quarantine moves them out of the lake so the rest can be queried again;
// the objects whose events they held are listed, so they can be ingested again (see docs/lake.md).

// CheckOptions choose what Check reads.
type CheckOptions struct {
	// Type limits the check to one log type ("": every type).
	Type string
	// Full decodes every value of every file, which reads the whole lake; otherwise only the
	// footers are read (a truncated or overwritten end of file, a foreign file).
	Full bool
	// OnFile, when set, is called after each file is checked (for progress output).
	OnFile func(done, total int, bytes int64)
}

// DamagedFile is a lake file that cannot be read.
type DamagedFile struct {
	Path string // relative to the lake's root
	Size int64
	Err  error
	// Batch is the ingest batch that wrote the file ("" for a compacted file, whose events come
	// from batches that can no longer be told apart).
	Batch string
	// Objects are the objects that batch committed: the file held some of their events.
	Objects []Object
}

// CheckReport is the result of Check.
type CheckReport struct {
	Files   int
	Bytes   int64
	Damaged []DamagedFile
}

// Check reads every Parquet file of the lake (or of one type) and reports those that cannot be read.
// An error is returned only when the lake itself cannot be listed or ctx ends.
func (l *Lake) Check(ctx context.Context, opt CheckOptions) (CheckReport, error) {
	var rep CheckReport
	parts, err := l.partitions(opt.Type)
	if err != nil {
		return rep, err
	}
	total := 0
	for _, p := range parts {
		total += len(p.Files)
	}
	// Reading a file's footer does not read its data: the full check hashes every row, which
	// makes DuckDB decompress and decode every page of every column.
	q := "SELECT count(*) FROM parquet_metadata(?)"
	if opt.Full {
		q = "SELECT count(*) FROM (SELECT hash(t) AS h FROM read_parquet(?, hive_partitioning = false) t) WHERE h IS NOT NULL"
	}
	var batches map[string][]Object
	for _, p := range parts {
		for _, f := range p.Files {
			if err := ctx.Err(); err != nil {
				return rep, err
			}
			path := filepath.Join(p.Dir, f.Name)
			var n int64
			if err := l.db.QueryRowContext(ctx, q, path).Scan(&n); err != nil {
				if ctx.Err() != nil {
					return rep, ctx.Err()
				}
				if batches == nil {
					batches = l.objectsByBatch()
				}
				d := DamagedFile{Path: filepath.Join(p.Rel, f.Name), Size: f.Size, Err: clippedError{err}, Batch: batchOfFile(f.Name)}
				// The batch's objects whose events can be in this file: those with events of the
				// partition's type (or of an unrecorded type).
				for _, o := range batches[d.Batch] {
					if o.Events > 0 && (o.Type == "" || o.Type == p.Type) {
						d.Objects = append(d.Objects, o)
					}
				}
				if _, ok := batches[d.Batch]; !ok {
					d.Batch = ""
				}
				rep.Damaged = append(rep.Damaged, d)
			}
			rep.Files++
			rep.Bytes += f.Size
			if opt.OnFile != nil {
				opt.OnFile(rep.Files, total, rep.Bytes)
			}
		}
	}
	return rep, nil
}

// batchOfFile returns the batch id in a file name written by Commit (<batch>_<n>.parquet).
func batchOfFile(name string) string {
	name = strings.TrimSuffix(name, ".parquet")
	i := strings.LastIndexByte(name, '_')
	if i < 0 {
		return ""
	}
	return name[:i]
}

// objectsByBatch groups the manifest's objects by the batch that committed them.
func (l *Lake) objectsByBatch() map[string][]Object {
	out := map[string][]Object{}
	add := func(o Object) { out[o.Batch] = append(out[o.Batch], o) }
	if l.man != nil {
		l.man.each(add)
	} else if seen, _, err := readManifest(filepath.Join(l.root, "_manifest", "objects.ndjson")); err == nil {
		// read-only: the manifest is read from disk, not kept open
		for _, o := range seen {
			add(o)
		}
	}
	for _, objs := range out {
		slices.SortFunc(objs, func(a, b Object) int { return strings.Compare(a.Key, b.Key) })
	}
	return out
}

// Quarantine moves a damaged file out of the lake into _quarantine/damaged/<its path>, beside a
// .reason.json saying why and which objects its events came from, and returns the new path. Queries
// no longer see it; nothing is deleted.
func (l *Lake) Quarantine(d DamagedFile) (string, error) {
	if l.readOnly {
		return "", fmt.Errorf("lake opened read-only")
	}
	rel := filepath.Clean(d.Path)
	if !strings.HasPrefix(rel, "type=") || strings.Contains(rel, "..") || !strings.HasSuffix(rel, ".parquet") {
		return "", fmt.Errorf("%s: not a lake data file", d.Path)
	}
	src := filepath.Join(l.root, rel)
	dst := filepath.Join(l.root, "_quarantine", "damaged", rel)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	reason := struct {
		File    string    `json:"file"`
		Error   string    `json:"error"`
		Batch   string    `json:"batch,omitempty"`
		Objects []string  `json:"objects,omitempty"`
		At      time.Time `json:"at"`
	}{File: rel, Batch: d.Batch, At: time.Now().UTC()}
	if d.Err != nil {
		reason.Error = d.Err.Error()
	}
	for _, o := range d.Objects {
		reason.Objects = append(reason.Objects, o.Key)
	}
	if err := writeFileAtomic(dst+".reason.json", reason); err != nil {
		return "", err
	}
	if err := os.Rename(src, dst); err != nil {
		return "", err
	}
	if err := syncDir(filepath.Dir(src)); err != nil {
		return "", err
	}
	return dst, syncDir(filepath.Dir(dst))
}

// maxMessage bounds an engine error shown to the user: DuckDB quotes the offending value, which for
// a damaged file or a bad record can be a whole page of log text (untrusted, and useless at that size).
const maxMessage = 600

// clipMessage shortens a long error message in the middle of its longest quoted value.
func clipMessage(msg string) string {
	if len(msg) <= maxMessage {
		return msg
	}
	cut := len(msg) - maxMessage
	// Prefer cutting inside a quoted value, so the message's own words survive.
	if i := strings.IndexByte(msg, '"'); i >= 0 {
		if j := strings.LastIndexByte(msg, '"'); j-i-1 > cut+40 {
			keep := (j - i - 1 - cut) / 2
			return strings.ToValidUTF8(msg[:i+1+keep]+fmt.Sprintf("…[%d bytes]…", cut)+msg[j-keep:], "")
		}
	}
	return strings.ToValidUTF8(msg[:maxMessage/2]+fmt.Sprintf("…[%d bytes]…", cut)+msg[len(msg)-maxMessage/2:], "")
}

// clippedError keeps an engine error (for errors.Is/As) with its message clipped.
type clippedError struct{ err error }

func (e clippedError) Error() string { return clipMessage(e.err.Error()) }
func (e clippedError) Unwrap() error { return e.err }
