package lake

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// Views read the files of a type grouped by schema. Files of one type can have different columns
// (each batch has the columns of its own events) and different types for one column, so the views
// need the union of the files' schemas. DuckDB's read_parquet(union_by_name = true) gives it by
// reading the footer of every file when the view is bound, and a view is bound twice per query
// (CREATE VIEW, then the query): on 3,600 files that was about half of a 1 s count by hour, and it
// came before any partition was pruned. Instead the views read each group of files with one schema
// without union_by_name (DuckDB then reads one footer to bind, and each file's footer only when it
// scans the file, in parallel, after pruning by date) and combine the groups with UNION ALL BY NAME,
// which gives the same columns, order, types and NULLs as union_by_name (see parquetSource).
//
// Which schema a file has is learned once, from its footer, and remembered in _schemas.tsv, keyed
// by the file's path, size and modification time. The cache is a hint, never the truth: an entry
// whose file is gone is dropped, an entry whose file's size or time changed is learned again, a
// cache that cannot be read or parsed is rebuilt, and a cache that cannot be written (a read-only
// lake) is only kept in memory. A file is never in two groups, and every file of the glob is in one.

// schemaCacheName is the cache's file under the lake's root.
const schemaCacheName = "_schemas.tsv"

// schemaCacheHeader is the first line of the cache: a file with another first line is not read.
const schemaCacheHeader = "ramen-schemas 1"

// maxSchemaGroups bounds the groups a view reads separately: each costs a footer read when a query
// binds the view and a branch of the plan. The files of the smaller groups beyond it are read
// together with union_by_name, as every file was before. (A variable for the tests.)
var maxSchemaGroups = 32

// schemaEntry is what the cache knows of one file.
type schemaEntry struct {
	size, mtime int64  // the file's, when its schema was learned
	schema      string // hash of its schema ("" when it could not be read: never cached)
}

// schemaCache maps a file's path relative to the lake's root to its schema.
type schemaCache struct {
	mu      sync.Mutex
	loaded  bool
	entries map[string]schemaEntry
}

// load reads the cache file; anything it cannot parse is left out (and learned again).
func (c *schemaCache) load(path string) {
	c.entries = map[string]schemaEntry{}
	c.loaded = true
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	if !sc.Scan() || sc.Text() != schemaCacheHeader {
		return
	}
	for sc.Scan() {
		line := sc.Text()
		k := strings.LastIndexByte(line, '\t')
		if k < 0 || line[k+1:] != lineSum(line[:k]) {
			continue // a damaged line: that file's schema is learned again
		}
		f := strings.Split(line[:k], "\t")
		if len(f) != 4 || f[0] == "" || len(f[3]) != 32 {
			continue
		}
		size, err1 := strconv.ParseInt(f[1], 10, 64)
		mtime, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		if _, err := hex.DecodeString(f[3]); err != nil {
			continue
		}
		c.entries[f[0]] = schemaEntry{size: size, mtime: mtime, schema: f[3]}
	}
}

// lineSum is the checksum ending each line of the cache, so that a damaged line is not believed.
func lineSum(line string) string {
	return strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(line))), 16)
}

// save writes the cache atomically (two processes saving at once: the last one wins, and both
// wrote true entries). It is only an optimisation: failing to write it is not an error.
func (c *schemaCache) save(path string) {
	keys := make([]string, 0, len(c.entries))
	for k := range c.entries {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteString(schemaCacheHeader + "\n")
	for _, k := range keys {
		e := c.entries[k]
		line := fmt.Sprintf("%s\t%d\t%d\t%s", k, e.size, e.mtime, e.schema)
		b.WriteString(line + "\t" + lineSum(line) + "\n")
	}
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	if err := os.WriteFile(tmp, b.Bytes(), 0o644); err != nil {
		os.Remove(tmp)
		return
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
	}
}

// footerSchema is the part of a Parquet footer (FileMetaData) that says how a reader sees the file:
// decoding only it skips the row groups' metadata.
type footerSchema struct {
	Schema           []format.SchemaElement `thrift:"2,required"`
	KeyValueMetadata []format.KeyValue      `thrift:"5,optional"`
}

// schemaHash hashes the schema of a Parquet file from its footer: the schema elements and the
// key-value metadata exactly as stored, so two files with the same hash read the same to any reader.
// It reads and decodes only the footer (about a kilobyte for a flow log file of the lake).
func schemaHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	size := fi.Size()
	if size < 12 {
		return "", fmt.Errorf("%s: too small for Parquet", path)
	}
	// The footer's length, then the footer: the bytes a reader reads to bind the file, no more.
	var end [8]byte
	if _, err := f.ReadAt(end[:], size-8); err != nil {
		return "", err
	}
	if string(end[4:]) != "PAR1" { // "PARE", an encrypted footer, is not ours: union_by_name reads it
		return "", fmt.Errorf("%s: no Parquet footer", path)
	}
	n := int64(binary.LittleEndian.Uint32(end[:4]))
	if n+12 > size {
		return "", fmt.Errorf("%s: footer length %d beyond the file", path, n)
	}
	footer := make([]byte, n)
	if _, err := f.ReadAt(footer, size-8-n); err != nil {
		return "", err
	}
	var md footerSchema
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), footer, &md); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if len(md.Schema) == 0 {
		return "", fmt.Errorf("%s: no schema in the footer", path)
	}
	return schemaDigest(md.Schema, md.KeyValueMetadata)
}

// schemaDigest is the hash of a schema as schemaHash reads it from a footer, and as the writer
// knows it before it writes the footer (noteSchemas).
func schemaDigest(schema []format.SchemaElement, kv []format.KeyValue) (string, error) {
	h := sha256.New()
	for _, v := range []any{schema, kv} {
		b, err := thrift.Marshal(new(thrift.CompactProtocol), v)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%d:", len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)[:16]), nil
}

// noteSchemas records the schemas of files a commit or a compaction just put in place (path
// relative to the root -> schemaDigest), so that the first query after it does not read their
// footers to learn what the writer knew. A commit's lines are appended to the cache file (a later
// line for a path wins when it is loaded); after a compaction (rewrite), whose files replaced
// others, the cache is written again without the files gone. Failing to write only means the
// footers are read after all.
func (l *Lake) noteSchemas(digests map[string]string, rewrite bool) {
	if len(digests) == 0 {
		return
	}
	c := &l.schemas
	c.mu.Lock()
	defer c.mu.Unlock()
	path := filepath.Join(l.root, schemaCacheName)
	if !c.loaded {
		c.load(path)
	}
	var b bytes.Buffer
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		b.WriteString(schemaCacheHeader + "\n")
	}
	rels := make([]string, 0, len(digests))
	for rel := range digests {
		rels = append(rels, rel)
	}
	sort.Strings(rels)
	for _, rel := range rels {
		fi, err := os.Stat(filepath.Join(l.root, rel))
		if err != nil {
			continue
		}
		e := schemaEntry{size: fi.Size(), mtime: fi.ModTime().UnixNano(), schema: digests[rel]}
		c.entries[rel] = e
		line := fmt.Sprintf("%s\t%d\t%d\t%s", rel, e.size, e.mtime, e.schema)
		b.WriteString(line + "\t" + lineSum(line) + "\n")
	}
	if rewrite {
		seen := make(map[string]bool, len(rels))
		for _, rel := range rels {
			seen[rel] = true
		}
		l.forgetMissing(seen)
		c.save(path)
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	f.Write(b.Bytes())
	f.Close()
}

// schemaGroups splits files (absolute paths under the root, in glob order) into groups of one
// schema each, in the order of their first file, plus the files whose schema is unknown (a footer
// that cannot be read: DuckDB reports it when the query reads the file).
func (l *Lake) schemaGroups(files []string) (groups [][]string, unknown []string) {
	c := &l.schemas
	c.mu.Lock()
	defer c.mu.Unlock()
	cachePath := filepath.Join(l.root, schemaCacheName)
	if !c.loaded {
		c.load(cachePath)
	}
	// What the cache does not know (or knows of an older file by that name) is learned from the
	// footers, several at once: after an ingest of thousands of files this is the first query's cost.
	type item struct {
		rel   string
		fi    os.FileInfo
		entry schemaEntry
		ok    bool
	}
	items := make([]item, len(files))
	var learn []int
	for i, f := range files {
		rel, err := filepath.Rel(l.root, f)
		fi, serr := os.Stat(f)
		if err != nil || serr != nil {
			continue // gone since the glob: read with the unknown, the query says so
		}
		e, ok := c.entries[rel]
		items[i] = item{rel: rel, fi: fi, entry: e, ok: ok && e.size == fi.Size() && e.mtime == fi.ModTime().UnixNano()}
		if !items[i].ok {
			learn = append(learn, i)
		}
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(learn)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if s, err := schemaHash(files[i]); err == nil {
					it := &items[i]
					it.entry, it.ok = schemaEntry{size: it.fi.Size(), mtime: it.fi.ModTime().UnixNano(), schema: s}, true
				}
			}
		}()
	}
	for _, i := range learn {
		next <- i
	}
	close(next)
	wg.Wait()
	changed := false
	for _, i := range learn {
		if it := items[i]; it.ok {
			c.entries[it.rel] = it.entry
			changed = true
		} else if _, had := c.entries[it.rel]; had && it.rel != "" {
			delete(c.entries, it.rel)
			changed = true
		}
	}
	index := map[string]int{}
	for i, f := range files {
		it := items[i]
		if !it.ok {
			unknown = append(unknown, f)
			continue
		}
		g, ok := index[it.entry.schema]
		if !ok {
			g = len(groups)
			index[it.entry.schema] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], f)
	}
	if changed {
		seen := make(map[string]bool, len(items))
		for _, it := range items {
			seen[it.rel] = true
		}
		l.forgetMissing(seen)
		c.save(cachePath)
	}
	return groups, unknown
}

// forgetMissing drops the entries of files that no longer exist (compacted, pruned, quarantined),
// so that the cache does not grow with every file the lake ever had. Only called when the cache
// is about to be written anyway; the files just listed (seen) exist and are not looked at again.
func (l *Lake) forgetMissing(seen map[string]bool) {
	for rel := range l.schemas.entries {
		if seen[rel] {
			continue
		}
		if _, err := os.Stat(filepath.Join(l.root, rel)); err != nil {
			delete(l.schemas.entries, rel)
		}
	}
}

// parquetSource returns the FROM expression that reads files (absolute paths, in glob order) with
// the hive columns and the union of their schemas, as read_parquet(union_by_name = true) over all
// of them would: one read_parquet per schema, joined by UNION ALL BY NAME. The union's first
// branch is empty and reads the first file of each group with union_by_name: it fixes the columns'
// order and types to what union_by_name over every file gives (a later branch only adds NULLs and
// casts each column straight to its final type; without it, a number that is an integer in one
// group, a float in a second and text in a third would become text by way of the float, 1 as
// '1.0'). Files of an unknown schema, and those of the smallest groups beyond maxSchemaGroups, are
// read by one read_parquet with union_by_name.
func (l *Lake) parquetSource(files []string) string {
	const opts = "hive_partitioning = true, hive_types = {'date': DATE, 'hour': INTEGER}"
	groups, unknown := l.schemaGroups(files)
	list := func(fs []string) string {
		q := make([]string, len(fs))
		for i, f := range fs {
			q[i] = sqlString(f)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	if len(groups) == 1 && len(unknown) == 0 {
		return fmt.Sprintf("read_parquet(%s, %s)", list(groups[0]), opts)
	}
	if len(groups) == 0 {
		return fmt.Sprintf("read_parquet(%s, union_by_name = true, %s)", list(unknown), opts)
	}
	// The first file of each group, in glob order (groups are in the order of their first file).
	firsts := append([]string{}, unknown...)
	for _, g := range groups {
		firsts = append(firsts, g[0])
	}
	sort.Strings(firsts)
	rest := unknown
	if len(groups) > maxSchemaGroups {
		bySize := make([]int, len(groups))
		for i := range bySize {
			bySize[i] = i
		}
		sort.SliceStable(bySize, func(a, b int) bool { return len(groups[bySize[a]]) > len(groups[bySize[b]]) })
		keep := map[int]bool{}
		for _, i := range bySize[:maxSchemaGroups] {
			keep[i] = true
		}
		var kept [][]string
		for i, g := range groups {
			if keep[i] {
				kept = append(kept, g)
			} else {
				rest = append(rest, g...)
			}
		}
		groups = kept
	}
	sel := []string{fmt.Sprintf("SELECT * FROM read_parquet(%s, union_by_name = true, %s) WHERE false", list(firsts), opts)}
	for _, g := range groups {
		sel = append(sel, fmt.Sprintf("SELECT * FROM read_parquet(%s, %s)", list(g), opts))
	}
	if len(rest) > 0 {
		sort.Strings(rest)
		sel = append(sel, fmt.Sprintf("SELECT * FROM read_parquet(%s, union_by_name = true, %s)", list(rest), opts))
	}
	return "(" + strings.Join(sel, " UNION ALL BY NAME ") + ")"
}
