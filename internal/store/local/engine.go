// Package local is mirrorstore's embedded storage engine: metadata in Pebble,
// object bytes in immutable data files.
//
// Layout under the data directory:
//
//	meta/            the Pebble database (every record; the commit point)
//	objects/xx/<id>  data files, named by a random id, fanned out by its first byte
//	tmp/             data files being written; emptied at Open
//
// A write streams its body into tmp/, fsyncs it, renames it into objects/,
// fsyncs that directory, and only then commits its record with a synced
// Pebble batch. A crash therefore leaves at most data files no record names;
// Open removes them. Keys never reach the filesystem: file names are random.
package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"

	"mirrorstore/internal/store"
)

// DefaultInlineMax is the largest object whose bytes are kept in its
// metadata record instead of a data file.
const DefaultInlineMax = 4 << 10

// DefaultCacheBytes is the metadata block cache when Options.CacheBytes is
// zero. Small objects live inside their records, so the cache holds object
// bytes too: 256 MiB keeps ~60,000 records of 4 KiB hot, where Pebble's own
// 8 MiB default held ~2,000 and made nearly every small GET and listing read
// and decompress blocks from the page cache.
const DefaultCacheBytes = 256 << 20

// lockStripes is the number of per-key mutexes; keys hash onto them.
const lockStripes = 256

// Options tune an Engine. The zero value is the default.
type Options struct {
	// InlineMax is the largest object stored inside its metadata record
	// (0 means DefaultInlineMax, negative means never inline).
	InlineMax int
	// WrapDataFile, when set, wraps every data file a body is written
	// into, so tests can inject write, sync and close failures where a
	// real disk would report them.
	WrapDataFile func(*os.File) DataFile
	// ReserveBytes is the free space writes of object bytes leave on the
	// filesystem for metadata (see reserve.go): 0 means 5% of the
	// filesystem, at least 8 MiB and at most 1 GiB; negative means none.
	ReserveBytes int64
	// CacheBytes is the size of the metadata block cache (0 means
	// DefaultCacheBytes).
	CacheBytes int64
}

// Engine is the embedded store.Backend. It is safe for concurrent use.
type Engine struct {
	dir       string
	db        *pebble.DB
	inlineMax int
	// wrapDataFile is Options.WrapDataFile.
	wrapDataFile func(*os.File) DataFile
	// reserve is the free space data writes leave (0: not checked).
	reserve int64

	// life guards closed: every operation holds it shared, Close exclusively,
	// so Close waits for operations in flight and later calls fail.
	life   sync.RWMutex
	closed bool
	// leave is life.RUnlock, made once: a method value made per call
	// would be an allocation per operation.
	leave func()

	// bucketMu is held shared by every commit that needs its bucket to exist
	// and exclusively by CreateBucket and DeleteBucket, so a bucket cannot be
	// deleted between a writer's existence check and its commit.
	bucketMu sync.RWMutex
	// keyLocks serialise the check-and-commit of writes to one key (object
	// record and its uploads); readers hold them shared while they read a
	// record and open its files, so a replaced file is never unlinked
	// between the two.
	keyLocks [lockStripes]sync.RWMutex
	seed     maphash.Seed
	// buckets holds the name of every bucket (string → struct{}), loaded at
	// Open and changed by CreateBucket and DeleteBucket after their commit
	// under bucketMu, so checking a bucket, which every object operation
	// does, costs no metadata lookup.
	buckets sync.Map
	// usage is every bucket's object and byte counts (usage.go).
	usage usageBook

	// listSteps counts iterator positions visited by listings, so tests can
	// check that delimiter listings seek past common prefixes.
	listSteps atomic.Int64
}

var _ store.Backend = (*Engine)(nil)

// Open opens (creating if needed) the engine stored in dir. It removes
// everything in tmp/ and every data file no record names, the leftovers of
// writes a crash interrupted.
func Open(dir string) (*Engine, error) {
	return OpenWith(dir, Options{})
}

// OpenWith is Open with options.
func OpenWith(dir string, opts Options) (*Engine, error) {
	inlineMax := opts.InlineMax
	if inlineMax == 0 {
		inlineMax = DefaultInlineMax
	}
	if err := os.RemoveAll(filepath.Join(dir, "tmp")); err != nil {
		return nil, fmt.Errorf("open %s: clearing tmp: %w", dir, err)
	}
	for _, d := range []string{"tmp", "objects", "meta"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("open %s: %w", dir, err)
		}
	}
	// Every fan-out directory exists up front, so a write never creates one
	// (and never needs to fsync its parent).
	for i := 0; i < 256; i++ {
		if err := os.MkdirAll(filepath.Join(dir, "objects", fmt.Sprintf("%02x", i)), 0o755); err != nil {
			return nil, fmt.Errorf("open %s: %w", dir, err)
		}
	}
	if err := syncDir(filepath.Join(dir, "objects")); err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	popts := pebbleOptions(opts.CacheBytes)
	db, err := pebble.Open(filepath.Join(dir, "meta"), popts)
	// Open took its own reference to the cache; dropping ours lets
	// closing the DB free it.
	popts.Cache.Unref()
	if err != nil {
		return nil, fmt.Errorf("open %s: metadata: %w", dir, err)
	}
	e := &Engine{dir: dir, db: db, inlineMax: inlineMax, wrapDataFile: opts.WrapDataFile, seed: maphash.MakeSeed()}
	e.leave = e.life.RUnlock
	switch {
	case opts.ReserveBytes > 0:
		e.reserve = opts.ReserveBytes
	case opts.ReserveBytes == 0:
		e.reserve = defaultReserve(dir)
	}
	if err := e.loadBuckets(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	if err := e.removeOrphans(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: removing orphan data files: %w", dir, err)
	}
	if err := e.loadUsage(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	return e, nil
}

// pebbleOptions tunes Pebble for this workload: point lookups of one key
// (GET, HEAD, mirror misses), range scans of a bucket (listings) and small
// synced batches.
func pebbleOptions(cacheBytes int64) *pebble.Options {
	if cacheBytes <= 0 {
		cacheBytes = DefaultCacheBytes
	}
	o := &pebble.Options{
		Logger: quietLogger{},
		Cache:  pebble.NewCache(cacheBytes),
		// 4 KiB records fill Pebble's 4 MiB default memtable every ~1,000
		// writes; 64 MiB makes flushes (and L0 files) rarer.
		MemTableSize: 64 << 20,
	}
	for i := range o.Levels {
		// A bloom filter per table lets a lookup of an absent key (a
		// mirror miss, a HEAD of a key not there, the existence check
		// of a write) skip the tables that cannot hold it without
		// reading their blocks.
		o.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	return o
}

// loadBuckets fills e.buckets from the bucket records.
func (e *Engine) loadBuckets() error {
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: []byte{kindBucket, 0}, UpperBound: []byte{kindBucket, 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		e.buckets.Store(string(it.Key()[2:]), struct{}{})
	}
	return it.Error()
}

// enter marks the start of an operation; the returned func ends it.
func (e *Engine) enter() (func(), error) {
	e.life.RLock()
	if e.closed {
		e.life.RUnlock()
		return nil, fmt.Errorf("engine closed: %w", store.ErrUnavailable)
	}
	return e.leave, nil
}

// Close waits for operations in flight and closes the metadata store. Bodies
// of objects already opened stay readable until closed.
func (e *Engine) Close() error {
	e.life.Lock()
	defer e.life.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	return e.db.Close()
}

// Ready reports whether the engine is open and can write: it commits a
// synced metadata write and creates and removes a file in tmp/.
func (e *Engine) Ready(ctx context.Context) error {
	leave, err := e.enter()
	if err != nil {
		return err
	}
	defer leave()
	if err := e.db.Set([]byte("r\x00ready"), nil, pebble.Sync); err != nil {
		return fmt.Errorf("ready: metadata write: %v: %w", err, store.ErrUnavailable)
	}
	f, err := os.CreateTemp(filepath.Join(e.dir, "tmp"), "ready-")
	if err != nil {
		return fmt.Errorf("ready: data write: %v: %w", err, store.ErrUnavailable)
	}
	f.Close()
	if err := os.Remove(f.Name()); err != nil {
		return fmt.Errorf("ready: data write: %v: %w", err, store.ErrUnavailable)
	}
	return nil
}

// keyLock returns the stripe guarding (bucket, key).
func (e *Engine) keyLock(bucket, key string) *sync.RWMutex {
	var h maphash.Hash
	h.SetSeed(e.seed)
	h.WriteString(bucket)
	h.WriteByte(0)
	h.WriteString(key)
	return &e.keyLocks[h.Sum64()%lockStripes]
}

func newFileID() fileID {
	var id fileID
	rand.Read(id[:]) // never fails (crypto/rand documents it)
	return id
}

func (e *Engine) dataPath(id fileID) string {
	s := hex.EncodeToString(id[:])
	return filepath.Join(e.dir, "objects", s[:2], s)
}

// removeFiles deletes data files no record names any more. Failures leave
// orphans, which the next Open removes, so they are not reported.
func (e *Engine) removeFiles(ids []fileID) {
	for _, id := range ids {
		os.Remove(e.dataPath(id))
	}
}

// removeOrphans deletes every data file that no object or part record names.
func (e *Engine) removeOrphans() error {
	live := make(map[fileID]struct{})
	for _, kind := range []byte{kindObject, kindPart} {
		it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: []byte{kind, 0}, UpperBound: []byte{kind, 1}})
		if err != nil {
			return err
		}
		for it.First(); it.Valid(); it.Next() {
			v, err := it.ValueAndErr()
			if err != nil {
				it.Close()
				return err
			}
			if kind == kindObject {
				r, err := decodeObjectInfo(v)
				if err != nil {
					it.Close()
					return fmt.Errorf("object record %q: %w", it.Key(), err)
				}
				for _, id := range r.files() {
					live[id] = struct{}{}
				}
			} else {
				r, err := decodePart(v)
				if err != nil {
					it.Close()
					return fmt.Errorf("part record %q: %w", it.Key(), err)
				}
				live[r.file] = struct{}{}
			}
		}
		if err := it.Close(); err != nil {
			return err
		}
	}
	root := filepath.Join(e.dir, "objects")
	dirs, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	for _, d := range dirs {
		sub := filepath.Join(root, d.Name())
		if !d.IsDir() {
			if err := os.Remove(sub); err != nil {
				return err
			}
			continue
		}
		files, err := os.ReadDir(sub)
		if err != nil {
			return err
		}
		for _, f := range files {
			var id fileID
			b, err := hex.DecodeString(f.Name())
			if err == nil && len(b) == len(id) && f.Name()[:2] == d.Name() {
				copy(id[:], b)
				if _, ok := live[id]; ok {
					continue
				}
			}
			if err := os.RemoveAll(filepath.Join(sub, f.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// syncDir fsyncs a directory, making renames and creations in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// get reads one record and hands its value to fn while Pebble still owns
// the buffer. It returns false when the key is absent.
func (e *Engine) get(key []byte, fn func([]byte) error) (bool, error) {
	v, closer, err := e.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer closer.Close()
	return true, fn(v)
}

// quietLogger keeps Pebble's informational chatter out of the server log
// while still surfacing errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...interface{}) {}
func (quietLogger) Errorf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "pebble: "+format+"\n", args...)
}
func (quietLogger) Fatalf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "pebble: "+format+"\n", args...)
	os.Exit(1)
}
