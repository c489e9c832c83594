// Package lake stores events as a Hive-partitioned Parquet lake and queries it with SQL.
//
// Layout under the root directory (docs/lake.md is the contract for other readers):
//
//	type=<log type>/date=YYYY-MM-DD/hour=HH/<batch>_0.parquet   the events, zstd, sorted by time
//	_staging/<batch>/...                                        files of a batch being committed
//	_wal/<batch>.json                                           a sealed batch: its files and objects
//	_rejected/<batch>.ndjson                                    dead letters: records that did not parse
//	_manifest/objects.ndjson                                    every object committed (idempotency)
//	_remote/                                                    a lake on S3: what is published (remote.go)
//	_schemas.tsv                                                the schema of each file, for the views (schemas.go)
//
// Writing goes in batches. An Appender copies each event's fields into the batch's columns in memory
// (it keeps nothing of the event); Commit writes them as
// Parquet (Go writes the files directly, no text format in between) into _staging, fsyncs them,
// seals the batch by writing its description atomically, renames the files into their partitions,
// records the batch's objects in the manifest, and removes the description. An object counts as
// ingested only once its manifest line is on disk. A crash before the seal leaves staged files that
// the next Open deletes (their objects are not in the manifest, so they are ingested again); a crash
// after it leaves a description that the next Open finishes (renames of files still staged, the
// manifest lines not yet written): nothing is lost and nothing is written twice. Readers only look at
// type=*/ directories, which hold only complete files.
//
// A lake can live on S3 (Options.Remote): the directory is then a cache that Publish mirrors to the
// store and Pull fills from it; remote.go has the protocol and docs/lake.md its guarantees.
package lake

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/duckdb/duckdb-go/v2"
)

// Lake is an open lake directory.
type Lake struct {
	root     string
	db       *sql.DB
	man      *manifest
	lock     *os.File
	readOnly bool
	// parts serializes the changes to partition directories made within this process: a commit's
	// renames, a compaction's check and swap, a prune's removal. Without it a file committed into a
	// partition between a compaction's check and its swap would go with the old directory. (Other
	// processes are kept out by the lock file.)
	parts  sync.Mutex
	remote *remote // nil for a local lake
	// udfs are the functions registered on db that rebuild records (original.go), by name, and
	// described the columns of the views' sources; udfMu guards both.
	udfMu     sync.Mutex
	udfs      map[string]*udfRegistration
	described map[[32]byte][]sourceColumn // the columns of the views' sources, by their SQL
	// schemas knows the schema of each file, for the views (schemas.go).
	schemas schemaCache
	// Warnings says what Open found and worked around (a batch that could not be recovered).
	Warnings []string
}

// Options for Open.
type Options struct {
	// ReadOnly opens the lake for queries only: no lock is taken and no recovery is run, so queries
	// can run while an ingest is writing.
	ReadOnly bool
	// Threads limits DuckDB's worker threads (0: one per core).
	Threads int
	// MemoryLimit bounds DuckDB's memory, e.g. "2GB" (empty: DuckDB's default, 80% of RAM); beyond it
	// queries spill to a temporary directory under the lake.
	MemoryLimit string
	// Remote makes this a lake on S3 (or another Store): root is then its cache, a working copy
	// that Open brings up to date with the store's manifest and whose pending batches Open publishes
	// (see remote.go). Commit makes a batch durable in the cache; Publish makes it durable in the
	// store, and only then are its objects acknowledged for the lake.
	Remote Store
	// Context bounds the network work Open does for a Remote lake (nil: none).
	Context context.Context
}

// ErrLocked is returned when another process is writing to the lake.
var ErrLocked = errors.New("the lake is being written by another ramen process")

// Open opens (creating if needed) the lake at root, and finishes any batch a crash left behind.
func Open(root string, opt Options) (*Lake, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	l := &Lake{root: abs, readOnly: opt.ReadOnly}
	if !opt.ReadOnly {
		for _, d := range []string{"_wal", "_rejected", "_manifest", "_staging", "_tmp"} {
			if err := os.MkdirAll(filepath.Join(abs, d), 0o755); err != nil {
				return nil, err
			}
		}
		lk, err := os.OpenFile(filepath.Join(abs, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return nil, err
		}
		if err := syscall.Flock(int(lk.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			lk.Close()
			return nil, fmt.Errorf("%s: %w", abs, ErrLocked)
		}
		l.lock = lk
	} else if opt.Remote != nil {
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return nil, err
		}
	} else if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("no lake at %s: %w", abs, err)
	}
	if opt.Remote != nil {
		if l.remote, err = openRemote(abs, opt.Remote); err != nil {
			l.Close()
			return nil, err
		}
	}
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		l.Close()
		return nil, err
	}
	l.db = sql.OpenDB(connector)
	// One connection: DuckDB parallelises inside a query, and settings below stay in force.
	l.db.SetMaxOpenConns(1)
	settings := []string{"SET preserve_insertion_order = true"}
	if opt.Threads > 0 {
		settings = append(settings, fmt.Sprintf("SET threads = %d", opt.Threads))
	}
	if opt.MemoryLimit != "" {
		settings = append(settings, "SET memory_limit = "+sqlString(opt.MemoryLimit))
	}
	if !opt.ReadOnly {
		settings = append(settings, "SET temp_directory = "+sqlString(filepath.Join(abs, "_tmp")))
	}
	for _, s := range settings {
		if _, err := l.db.Exec(s); err != nil {
			l.Close()
			return nil, fmt.Errorf("%s: %w", s, err)
		}
	}
	if !opt.ReadOnly {
		if l.man, err = openManifest(filepath.Join(abs, "_manifest", "objects.ndjson")); err != nil {
			l.Close()
			return nil, err
		}
		if err := l.finishCompactions(); err != nil { // before recover, which empties _staging
			l.Close()
			return nil, fmt.Errorf("finishing an interrupted compaction: %w", err)
		}
		if err := l.recover(context.Background()); err != nil {
			l.Close()
			return nil, fmt.Errorf("recovering unfinished batches: %w", err)
		}
		if l.remote != nil {
			ctx := opt.Context
			if ctx == nil {
				ctx = context.Background()
			}
			// What the store has first (a fresh cache must not ingest again what is published there),
			// then what the cache committed and the store lacks (a crash before a publication ended).
			if err := l.loadManifest(ctx); err != nil {
				l.Close()
				return nil, fmt.Errorf("reading the manifest of %s: %w", l.remote.store, err)
			}
			if _, err := l.publish(ctx, true); err != nil {
				l.Close()
				return nil, fmt.Errorf("publishing what an earlier run committed in the cache %s: %w", abs, err)
			}
		}
	}
	return l, nil
}

// Root returns the lake's directory.
func (l *Lake) Root() string { return l.root }

// Close releases the lake.
func (l *Lake) Close() error {
	var errs []error
	if l.db != nil {
		errs = append(errs, l.db.Close())
	}
	if l.man != nil {
		errs = append(errs, l.man.close())
	}
	if l.lock != nil {
		errs = append(errs, l.lock.Close())
	}
	return errors.Join(errs...)
}

// Ingested reports whether an identical object was committed before, and its record.
func (l *Lake) Ingested(o Object) (Object, bool) { return l.man.has(&o) }

// Objects returns the number of objects committed.
func (l *Lake) Objects() int { return l.man.len() }

func newBatchID() string {
	var r [6]byte
	rand.Read(r[:])
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(r[:])
}

// syncDir makes a directory's entries (a rename, a new file) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// partitionGlob is the pattern of every event file of a type ("*" for all types).
func (l *Lake) partitionGlob(typ string) string {
	return filepath.Join(l.root, "type="+typ, "date=*", "hour=*", "*.parquet")
}

// Types returns the log types that have data in the lake, sorted.
func (l *Lake) Types() ([]string, error) {
	ents, err := os.ReadDir(l.root)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), "type=") {
			out = append(out, strings.TrimPrefix(e.Name(), "type="))
		}
	}
	return out, nil
}
