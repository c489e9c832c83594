package lake

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"
)

// ingestLevel is the zstd level of the files ingest writes: the fastest, since compaction rewrites
// partitions at level 9 later (see docs/performance.md for what each level costs in time and size).
var ingestLevel = zstd.SpeedFastest

// A type's rows are written column by column. First every column is put in the written order (by
// time, through a permutation of the rows); then the files (one per hour partition) are encoded by
// GOMAXPROCS workers taking (file, column) jobs, files in order and each file's largest columns
// first, straight from the batch's columns into compressed pages (pqwrite.go). A file is written
// (its pages, its footer, fsynced) by another goroutine as soon as all its columns are encoded. The
// encoders' buffers are one page per worker; the encoded files waiting to be written are
// compressed, a fraction of the batch.

// filePart is one file of a type in a batch: an hour partition and its rows [start, end) in the
// written order.
type filePart struct {
	rel        string
	start, end int
	path       string
	chunks     [][]*chunk    // [row group][leaf column]
	left       atomic.Int32  // columns still to encode
	done       chan struct{} // closed when none is left
}

// writeType writes the type's rows of the batch into staging, one file per hour partition, rows
// sorted by time, fsyncs the files and returns their paths relative to staging.
func (a *Appender) writeType(ctx context.Context, staging, typ string) (files []string, err error) {
	tb := a.types[typ]
	n := int(tb.rows)
	// Columns whose schema became text (a kind seen only as null elsewhere) are made text too, and
	// text columns whose values repeat get a dictionary.
	step := max(1, n/samples)
	dict := map[string]bool{}
	for _, c := range tb.cols {
		if c.alias != nil && c.n != c.alias.n {
			c.unalias() // an alias is written from the other column's values: they must be the same rows
		}
	}
	for _, c := range tb.cols {
		if node := tb.schema.leaf(c.path); node != nil && node.mixed && !c.mixed {
			c.toText()
		}
		if c.isText() {
			dict[c.path] = c.repeats(step)
		}
	}
	ps := buildSchema(tb.schema, dict)
	fs := flatten(ps)
	if leaves := ps.schema.Columns(); len(leaves) != len(tb.cols) || len(fs.leaves) != len(leaves) {
		// Every leaf of the schema must get its rows, or the file would be invalid.
		return nil, fmt.Errorf("internal error: %d columns for %d leaves", len(tb.cols), len(leaves))
	} else {
		for i, l := range leaves {
			if !slices.Equal(l, fs.leaves[i].path) {
				return nil, fmt.Errorf("internal error: leaf %d is %v in the footer, %v in the schema", i, fs.leaves[i].path, l)
			}
		}
	}

	// The written order: by time, ties in the order added. inv[row] is a row's written position.
	ts := make([]int64, 0, n)
	for _, b := range tb.ts.b {
		ts = append(ts, b...)
	}
	perm := timeOrder(ts)
	ts = nil
	// Partitions by the hour of @timestamp (microseconds, the column as written).
	const hourMicros = int64(time.Hour / time.Microsecond)
	us := tb.byPath["@timestamp"] // every row has one: value i is row i's
	var parts []*filePart
	for start := 0; start < n; {
		hour := floorDiv(us.nums.at(int(perm[start])), hourMicros)
		end := start + 1
		for end < n && floorDiv(us.nums.at(int(perm[end])), hourMicros) == hour {
			end++
		}
		t := time.UnixMicro(hour * hourMicros).UTC()
		rel := filepath.Join("type="+typ, "date="+t.Format("2006-01-02"), "hour="+t.Format("15"), a.batch+"_0.parquet")
		parts = append(parts, &filePart{rel: rel, start: start, end: end, path: filepath.Join(staging, rel)})
		start = end
	}
	inv := make([]int32, n)
	for pos, r := range perm {
		inv[r] = int32(pos)
	}
	// Aliases are written by the jobs of the columns they are aliases of (pageEncoder.write).
	jobs := slices.DeleteFunc(slices.Clone(tb.cols), func(c *column) bool { return c.alias != nil })
	size := map[*column]int64{}
	for _, c := range jobs {
		size[c] = c.size()
	}
	slices.SortFunc(jobs, func(x, y *column) int { return cmp.Compare(size[y], size[x]) })
	if err := parallel(ctx, jobs, func() func(c *column) error {
		var tmp []int32
		return func(c *column) error { tmp = c.arrange(inv, tmp); return nil }
	}); err != nil {
		return nil, err
	}
	inv = nil
	if err := encodeParts(ctx, parts, jobs, ps, fs, perm); err != nil {
		return nil, err
	}
	// The files' schema, for the views' cache once they are in place (noteSchemas).
	if d, err := schemaDigest(fs.elems, nil); err == nil {
		if a.digests == nil {
			a.digests = map[string]string{}
		}
		for _, p := range parts {
			a.digests[p.rel] = d
		}
	}
	for _, p := range parts {
		files = append(files, p.rel)
	}
	return files, nil
}

// timeOrder returns the rows in time order, ties in the order added: perm[i] is the i-th row.
func timeOrder(ts []int64) []int32 {
	perm := make([]int32, len(ts))
	for i := range perm {
		perm[i] = int32(i)
	}
	if slices.IsSorted(ts) {
		return perm
	}
	// The rows radix sorted by their time from the batch's first, in nanoseconds: on 400,000 flow
	// records, 8 ms against 44 for the rows sorted by comparing the times they point to.
	lo := slices.Min(ts)
	keys := make([]uint64, len(ts))
	for i, t := range ts {
		keys[i] = uint64(t) - uint64(lo)
	}
	return radixSort(keys, perm)
}

// radixSort sorts rows by their keys (keys[i] is rows[i]'s), stably: rows of equal keys keep their
// order. It sorts least significant digit first, 11 bits at a time, skipping the digits that every
// key has alike (the low bits of times in whole seconds, the high bits of times close together), and
// returns the sorted rows, in rows or in a slice of its own; keys are overwritten.
func radixSort(keys []uint64, rows []int32) []int32 {
	const digit = 11
	const mask = 1<<digit - 1
	or, and := uint64(0), ^uint64(0)
	for _, k := range keys {
		or |= k
		and &= k
	}
	differ := or ^ and
	srcK, srcR := keys, rows
	var dstK []uint64
	var dstR []int32
	var count [1 << digit]int
	for shift := 0; shift < 64; shift += digit {
		if differ>>shift&mask == 0 {
			continue
		}
		if dstK == nil {
			dstK, dstR = make([]uint64, len(keys)), make([]int32, len(rows))
		}
		clear(count[:])
		for _, k := range srcK {
			count[k>>shift&mask]++
		}
		sum := 0
		for i, c := range count {
			count[i] = sum
			sum += c
		}
		for i, k := range srcK {
			d := k >> shift & mask
			dstK[count[d]], dstR[count[d]] = k, srcR[i]
			count[d]++
		}
		srcK, dstK, srcR, dstR = dstK, srcK, dstR, srcR
	}
	return srcR
}

// encodeParts encodes the columns of every file on GOMAXPROCS workers, one (file, column) job at a
// time, files in order and each file's largest columns first, and writes each file (another
// goroutine) once all its columns are encoded. One pool for all the files, not one round per file:
// a file's largest column (the original records: most of a CloudTrail file) would otherwise keep one
// worker busy while the others wait for the next file.
func encodeParts(ctx context.Context, parts []*filePart, cols []*column, ps *pqSchema, fs *fileSchema, perm []int32) error {
	type job struct {
		p *filePart
		c *column
	}
	workers := runtime.GOMAXPROCS(0)
	for _, p := range parts {
		p.create(fs)
		p.left.Store(int32(len(cols)))
		p.done = make(chan struct{})
	}
	var failed atomic.Bool
	var firstErr error
	var errOnce sync.Once
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err })
		failed.Store(true)
	}
	ferr := make(chan error, 1)
	go func() {
		var err error
		for _, p := range parts {
			<-p.done
			if err == nil && !failed.Load() {
				if err = p.finish(fs); err != nil {
					fail(err) // a full disk: the workers stop too
				}
			}
			p.chunks = nil
		}
		ferr <- err
	}()
	next := make(chan job)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var enc *pageEncoder
			for j := range next {
				if !failed.Load() {
					if err := ctx.Err(); err != nil {
						fail(err)
					} else if enc == nil {
						var err error
						if enc, err = newPageEncoder(ingestLevel); err != nil {
							fail(err)
						}
					}
					if enc != nil && !failed.Load() {
						if err := enc.write(j.c, ps, fs, j.p, perm); err != nil {
							fail(fmt.Errorf("column %s: %w", j.c.path, err))
						}
					}
				}
				if j.p.left.Add(-1) == 0 {
					close(j.p.done)
				}
			}
		}()
	}
	for _, p := range parts {
		for _, c := range cols {
			next <- job{p, c}
		}
	}
	close(next)
	wg.Wait()
	if err := <-ferr; firstErr == nil {
		firstErr = err
	}
	return firstErr
}

// parallel runs a job for every column on GOMAXPROCS workers, each with its own state (made by
// worker), and returns the first error.
func parallel(ctx context.Context, cols []*column, worker func() func(*column) error) error {
	next := make(chan *column)
	errs := make(chan error, len(cols))
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(cols)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			do := worker()
			for c := range next {
				if err := ctx.Err(); err != nil {
					errs <- err
					continue
				}
				if err := do(c); err != nil {
					errs <- fmt.Errorf("column %s: %w", c.path, err)
				}
			}
		}()
	}
	for _, c := range cols {
		next <- c
	}
	close(next)
	wg.Wait()
	close(errs)
	return <-errs
}

// create makes room for the file's column chunks.
func (p *filePart) create(fs *fileSchema) {
	for s := p.start; s < p.end; s += rowGroupRows {
		p.chunks = append(p.chunks, make([]*chunk, len(fs.leaves)))
	}
}

// finish writes the file of the encoded chunks and fsyncs it.
func (p *filePart) finish(fs *fileSchema) error {
	if err := os.MkdirAll(filepath.Dir(p.path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(p.path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	var rows []int64
	for s := p.start; s < p.end; s += rowGroupRows {
		rows = append(rows, int64(min(p.end, s+rowGroupRows)-s))
	}
	_, err = writeFile(bw, fs, p.path, p.chunks, rows)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	p.chunks = nil
	return err
}

// size is what the column costs to write, roughly: its values and its text.
func (c *column) size() int64 {
	return int64(c.nums.len())*8 + int64(c.text.len())*4 + int64(c.codes.len()) + int64(c.n) + c.ar.bytes
}

// write encodes and compresses the column's values of one file, a column chunk per row group, and
// those of its aliases: the same values in the same rows, so that a chunk of an alias whose leaf is
// like the column's (same type, levels, encoding and statistics) is the column's chunk, the same
// pages under another path, and is not encoded again.
func (e *pageEncoder) write(c *column, ps *pqSchema, fs *fileSchema, p *filePart, perm []int32) error {
	leaf, ok := ps.cols[c.path]
	if !ok || leaf >= len(fs.leaves) {
		return fmt.Errorf("internal error: no leaf column")
	}
	li := &fs.leaves[leaf]
	aliases := make([]int, len(c.aliases))
	for i, a := range c.aliases {
		if aliases[i], ok = ps.cols[a.path]; !ok || aliases[i] >= len(fs.leaves) {
			return fmt.Errorf("internal error: no leaf column for %s", a.path)
		}
	}
	// The column's values from the file's first row on (positions are sorted).
	k, _ := slices.BinarySearch(c.pos, int32(p.start))
	for g := range p.chunks {
		start := p.start + g*rowGroupRows
		end := min(p.end, start+rowGroupRows)
		ch, next, err := e.encodeChunk(c, li, k, int32(start), int32(end), perm)
		if err != nil {
			return err
		}
		p.chunks[g][leaf] = ch
		for _, al := range aliases {
			ai := &fs.leaves[al]
			if ai.phys == li.phys && ai.maxDef == li.maxDef && ai.maxRep == li.maxRep && ai.dict == li.dict && ai.stats == li.stats {
				cp := *ch
				cp.meta.PathInSchema = ai.path
				p.chunks[g][al] = &cp
			} else if p.chunks[g][al], _, err = e.encodeChunk(c, ai, k, int32(start), int32(end), perm); err != nil {
				return err
			}
		}
		k = next
	}
	return nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// leaf returns the schema's leaf at a column path, or nil.
func (s *schema) leaf(path string) *node {
	n := s.root
	for _, seg := range strings.Split(path, ".") {
		if n = n.children[seg]; n == nil {
			return nil
		}
	}
	if !n.leaf {
		return nil
	}
	return n
}
