package mirror

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"time"

	"mirrorstore/internal/store"
)

// memStore is a test-only store.Backend holding objects in memory, with the
// parts of the contract a fill relies on: PutObject stores whole or nothing
// (a body error other than io.EOF stores nothing), checks Size, and applies
// IfNoneMatchStar atomically at commit. Methods a fill never calls are the
// embedded nil interface's and would panic if called.
type memStore struct {
	store.Backend

	mu      sync.Mutex
	objects map[string]memObject
	// bodyErrs records the body errors PutObject saw, to check that an
	// aborted fill fails the store's read rather than ending it cleanly.
	bodyErrs []error
	puts     int
}

type memObject struct {
	info store.ObjectInfo
	data []byte
}

func newMemStore() *memStore { return &memStore{objects: map[string]memObject{}} }

func (s *memStore) PutObject(ctx context.Context, bucket, key string, body io.Reader, opts store.PutOptions) (store.ObjectInfo, error) {
	data, err := io.ReadAll(body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.puts++
	if err != nil {
		s.bodyErrs = append(s.bodyErrs, err)
		return store.ObjectInfo{}, fmt.Errorf("put %s/%s: %w", bucket, key, err)
	}
	if err := ctx.Err(); err != nil {
		return store.ObjectInfo{}, err
	}
	if opts.Size >= 0 && int64(len(data)) != opts.Size {
		return store.ObjectInfo{}, store.ErrIncompleteBody
	}
	k := bucket + "/" + key
	if _, ok := s.objects[k]; ok && opts.Conditions.IfNoneMatchStar {
		return store.ObjectInfo{}, store.ErrPreconditionFailed
	}
	sum := md5.Sum(data)
	lm := opts.LastModified
	if lm.IsZero() {
		lm = time.Now()
	}
	info := store.ObjectInfo{Bucket: bucket, Key: key, Size: int64(len(data)),
		ETag: hex.EncodeToString(sum[:]), LastModified: lm, Attrs: opts.Attrs}
	s.objects[k] = memObject{info: info, data: data}
	return info, nil
}

func (s *memStore) GetObject(ctx context.Context, bucket, key string, opts store.GetOptions) (*store.Object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[bucket+"/"+key]
	if !ok {
		return nil, store.ErrNoSuchKey
	}
	return &store.Object{Info: o.info, Length: o.info.Size, Body: io.NopCloser(bytes.NewReader(o.data))}, nil
}

// get returns a stored object's bytes and info, ok false when absent.
func (s *memStore) get(bucket, key string) ([]byte, store.ObjectInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[bucket+"/"+key]
	return o.data, o.info, ok
}

func (s *memStore) errs() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.bodyErrs...)
}
