package local

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"mirrorstore/internal/store"
)

// Per-bucket usage: the number of objects and their bytes, kept exact and
// crash-consistent by writing them in the same synced batch as the record
// change that moves them.
//
//	n\x00<bucket>   usage record: objects, bytes (two big-endian int64)
//	r\x00usage      present once every bucket's usage record is kept
//
// A bucket with no usage record holds nothing. Data folders written before
// usage was kept have no marker; Open counts their objects once (one scan)
// and writes the records and the marker in one batch.
const kindUsage = 'n'

var usageMarker = []byte("r\x00usage")

func usageKey(bucket string) []byte {
	return append([]byte{kindUsage, 0}, bucket...)
}

// usage is one bucket's counts, or a change to them.
type usage struct{ objects, bytes int64 }

func (u usage) encode() []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, uint64(u.objects))
	binary.BigEndian.PutUint64(b[8:], uint64(u.bytes))
	return b
}

func decodeUsage(b []byte) (usage, error) {
	if len(b) != 16 {
		return usage{}, errCorrupt
	}
	return usage{int64(binary.BigEndian.Uint64(b)), int64(binary.BigEndian.Uint64(b[8:]))}, nil
}

// usageBook is the engine's copy of every usage record. Commits that move
// a bucket's usage write its new absolute value into their batch and hand
// the batch to Pebble while holding mu, so the records reach the log in
// the order of the values they carry: the last one written is the sum of
// every change before it, whichever writer committed first. Only the WAL
// fsync, which Pebble groups across writers, waits outside the lock.
type usageBook struct {
	mu sync.Mutex
	m  map[string]usage
}

// usageDelta is what replacing cur (when exists) with a record of size
// newSize changes.
func usageDelta(cur *objectRecord, exists bool, newSize int64) usage {
	if exists {
		return usage{0, newSize - cur.size}
	}
	return usage{1, newSize}
}

// commitUsage commits b with pebble.Sync, adding bucket's usage moved by d
// to it. A zero d commits b as it is.
func (e *Engine) commitUsage(b *pebble.Batch, bucket string, d usage) error {
	if d == (usage{}) {
		return b.Commit(pebble.Sync)
	}
	e.usage.mu.Lock()
	u := e.usage.m[bucket]
	u.objects += d.objects
	u.bytes += d.bytes
	if err := b.Set(usageKey(bucket), u.encode(), nil); err != nil {
		e.usage.mu.Unlock()
		return err
	}
	// The batch gets its place in the log here; the fsync is waited for
	// below, outside the lock, grouped with other writers'. The record is
	// visible to readers from now on, as it would be with Commit before
	// its fsync returns.
	if err := e.db.ApplyNoSyncWait(b, pebble.Sync); err != nil {
		e.usage.mu.Unlock()
		return err
	}
	e.usage.m[bucket] = u
	e.usage.mu.Unlock()
	return b.SyncWait()
}

// forgetUsage drops a deleted bucket's copy; its record went with the
// bucket's deletion batch.
func (e *Engine) forgetUsage(bucket string) {
	e.usage.mu.Lock()
	delete(e.usage.m, bucket)
	e.usage.mu.Unlock()
}

// loadUsage reads every usage record into memory, counting the objects of
// a data folder that predates them first.
func (e *Engine) loadUsage() error {
	e.usage.m = map[string]usage{}
	ok, err := e.get(usageMarker, func([]byte) error { return nil })
	if err != nil {
		return err
	}
	if !ok {
		if err := e.countUsage(); err != nil {
			return fmt.Errorf("counting objects per bucket: %w", err)
		}
	}
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: []byte{kindUsage, 0}, UpperBound: []byte{kindUsage, 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		u, err := decodeUsage(v)
		if err != nil {
			return fmt.Errorf("usage record %q: %w", it.Key(), err)
		}
		e.usage.m[string(it.Key()[2:])] = u
	}
	return it.Error()
}

// countUsage scans every object record once and writes each bucket's usage
// record and the marker in one synced batch.
func (e *Engine) countUsage() error {
	counts := map[string]usage{}
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: []byte{kindObject, 0}, UpperBound: []byte{kindObject, 1}})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()[2:]
		i := bytes.IndexByte(k, 0)
		if i < 0 {
			it.Close()
			return fmt.Errorf("object key %q: %w", it.Key(), errCorrupt)
		}
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return err
		}
		r, err := decodeObject(v)
		if err != nil {
			it.Close()
			return fmt.Errorf("object record %q: %w", it.Key(), err)
		}
		u := counts[string(k[:i])]
		u.objects++
		u.bytes += r.size
		counts[string(k[:i])] = u
	}
	if err := it.Close(); err != nil {
		return err
	}
	b := e.db.NewBatch()
	defer b.Close()
	// Stray records of buckets that no longer exist cannot be, with no
	// marker yet; clear the range anyway so the count is the whole truth.
	if err := b.DeleteRange([]byte{kindUsage, 0}, []byte{kindUsage, 1}, nil); err != nil {
		return err
	}
	for bucket, u := range counts {
		if err := b.Set(usageKey(bucket), u.encode(), nil); err != nil {
			return err
		}
	}
	if err := b.Set(usageMarker, nil, nil); err != nil {
		return err
	}
	return b.Commit(pebble.Sync)
}

// BucketUsage implements store.Usage: the bucket's objects and their bytes,
// exact as of the last committed write, from one metadata read.
func (e *Engine) BucketUsage(ctx context.Context, bucket string) (objects, bytes int64, err error) {
	leave, err := e.enter()
	if err != nil {
		return 0, 0, err
	}
	defer leave()
	var u usage
	ok, err := e.get(usageKey(bucket), func(v []byte) (err error) {
		u, err = decodeUsage(v)
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("usage %s: %w", bucket, err)
	}
	if !ok {
		// Nothing stored, or no such bucket.
		if err := e.checkBucket(bucket); err != nil {
			return 0, 0, fmt.Errorf("usage %s: %w", bucket, err)
		}
	}
	return u.objects, u.bytes, nil
}

var _ store.Usage = (*Engine)(nil)
