package local

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"mirrorstore/internal/store"
)

// CreateBucket creates a bucket owned by owner.
func (e *Engine) CreateBucket(ctx context.Context, bucket, owner string) error {
	leave, err := e.enter()
	if err != nil {
		return err
	}
	defer leave()
	e.bucketMu.Lock()
	defer e.bucketMu.Unlock()
	b, ok, err := e.bucket(bucket)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	if ok {
		if b.owner == owner {
			return fmt.Errorf("create bucket %s: %w", bucket, store.ErrBucketAlreadyOwnedByYou)
		}
		return fmt.Errorf("create bucket %s: %w", bucket, store.ErrBucketAlreadyExists)
	}
	rec := bucketRecord{created: time.Now().UnixNano(), owner: owner}
	if err := e.db.Set(bucketKey(bucket), rec.encode(), pebble.Sync); err != nil {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	e.buckets.Store(bucket, struct{}{})
	return nil
}

// bucket reads a bucket record; ok is false when the bucket does not exist.
func (e *Engine) bucket(bucket string) (rec bucketRecord, ok bool, err error) {
	ok, err = e.get(bucketKey(bucket), func(v []byte) (err error) {
		rec, err = decodeBucket(v)
		return err
	})
	return rec, ok, err
}

// checkBucket returns ErrNoSuchBucket (wrapped by the caller) when absent.
// It reads the in-memory set of buckets, not the bucket record.
func (e *Engine) checkBucket(bucket string) error {
	if _, ok := e.buckets.Load(bucket); !ok {
		return store.ErrNoSuchBucket
	}
	return nil
}

func bucketInfo(name string, r bucketRecord) store.BucketInfo {
	return store.BucketInfo{Name: name, Created: time.Unix(0, r.created).UTC(), Owner: r.owner}
}

// HeadBucket returns the bucket's info.
func (e *Engine) HeadBucket(ctx context.Context, bucket string) (store.BucketInfo, error) {
	leave, err := e.enter()
	if err != nil {
		return store.BucketInfo{}, err
	}
	defer leave()
	rec, ok, err := e.bucket(bucket)
	if err != nil {
		return store.BucketInfo{}, fmt.Errorf("head bucket %s: %w", bucket, err)
	}
	if !ok {
		return store.BucketInfo{}, fmt.Errorf("head bucket %s: %w", bucket, store.ErrNoSuchBucket)
	}
	return bucketInfo(bucket, rec), nil
}

// ListBuckets lists every bucket in name order.
func (e *Engine) ListBuckets(ctx context.Context) ([]store.BucketInfo, error) {
	leave, err := e.enter()
	if err != nil {
		return nil, err
	}
	defer leave()
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: []byte{kindBucket, 0}, UpperBound: []byte{kindBucket, 1}})
	if err != nil {
		return nil, fmt.Errorf("list buckets: %w", err)
	}
	defer it.Close()
	var out []store.BucketInfo
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("list buckets: %w", err)
		}
		rec, err := decodeBucket(v)
		if err != nil {
			return nil, fmt.Errorf("list buckets: %q: %w", it.Key(), err)
		}
		out = append(out, bucketInfo(string(it.Key()[2:]), rec))
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("list buckets: %w", err)
	}
	return out, nil
}

// DeleteBucket removes an empty bucket and its configuration blobs.
func (e *Engine) DeleteBucket(ctx context.Context, bucket string) error {
	leave, err := e.enter()
	if err != nil {
		return err
	}
	defer leave()
	e.bucketMu.Lock()
	defer e.bucketMu.Unlock()
	if err := e.checkBucket(bucket); err != nil {
		return fmt.Errorf("delete bucket %s: %w", bucket, err)
	}
	for _, kind := range []byte{kindObject, kindUpload} {
		empty, err := e.rangeEmpty(bucketPrefix(kind, bucket))
		if err != nil {
			return fmt.Errorf("delete bucket %s: %w", bucket, err)
		}
		if !empty {
			return fmt.Errorf("delete bucket %s: %w", bucket, store.ErrBucketNotEmpty)
		}
	}
	b := e.db.NewBatch()
	defer b.Close()
	cp := bucketPrefix(kindConfig, bucket)
	if err := b.DeleteRange(cp, prefixEnd(cp), nil); err != nil {
		return fmt.Errorf("delete bucket %s: %w", bucket, err)
	}
	if err := b.Delete(bucketKey(bucket), nil); err != nil {
		return fmt.Errorf("delete bucket %s: %w", bucket, err)
	}
	if err := b.Delete(usageKey(bucket), nil); err != nil {
		return fmt.Errorf("delete bucket %s: %w", bucket, err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("delete bucket %s: %w", bucket, err)
	}
	e.buckets.Delete(bucket)
	e.forgetUsage(bucket)
	return nil
}

// rangeEmpty reports whether no key starts with prefix.
func (e *Engine) rangeEmpty(prefix []byte) (bool, error) {
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return false, err
	}
	defer it.Close()
	return !it.First(), it.Error()
}

// PutBucketConfig stores (or, with nil data, deletes) a configuration blob.
func (e *Engine) PutBucketConfig(ctx context.Context, bucket, name string, data []byte) error {
	leave, err := e.enter()
	if err != nil {
		return err
	}
	defer leave()
	e.bucketMu.RLock()
	defer e.bucketMu.RUnlock()
	if err := e.checkBucket(bucket); err != nil {
		return fmt.Errorf("put config %s %s: %w", bucket, name, err)
	}
	if data == nil {
		err = e.db.Delete(configKey(bucket, name), pebble.Sync)
	} else {
		err = e.db.Set(configKey(bucket, name), data, pebble.Sync)
	}
	if err != nil {
		return fmt.Errorf("put config %s %s: %w", bucket, name, err)
	}
	return nil
}

// GetBucketConfig returns a configuration blob; ErrNoSuchConfig when none is
// stored, ErrNoSuchBucket when the bucket does not exist.
func (e *Engine) GetBucketConfig(ctx context.Context, bucket, name string) ([]byte, error) {
	leave, err := e.enter()
	if err != nil {
		return nil, err
	}
	defer leave()
	if err := e.checkBucket(bucket); err != nil {
		return nil, fmt.Errorf("get config %s %s: %w", bucket, name, err)
	}
	var data []byte
	ok, err := e.get(configKey(bucket, name), func(v []byte) error {
		data = bytes.Clone(v)
		if data == nil {
			data = []byte{}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("get config %s %s: %w", bucket, name, err)
	}
	if !ok {
		return nil, fmt.Errorf("get config %s %s: %w", bucket, name, store.ErrNoSuchConfig)
	}
	return data, nil
}
