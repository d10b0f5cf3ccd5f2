package mirror

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"

	"mirrorstore/internal/store"
	"mirrorstore/internal/store/local"
)

// testStore is the embedded engine with bucket "b", recording the errors its
// PutObject bodies returned: an aborted fill must fail the store's read (not
// end it with io.EOF), so the store keeps nothing.
type testStore struct {
	store.Backend

	mu       sync.Mutex
	bodyErrs []error
}

func newTestStore(t testing.TB) *testStore {
	e, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	if err := e.CreateBucket(context.Background(), "b", "owner"); err != nil {
		t.Fatal(err)
	}
	return &testStore{Backend: e}
}

func (s *testStore) PutObject(ctx context.Context, bucket, key string, body io.Reader, opts store.PutOptions) (store.ObjectInfo, error) {
	return s.Backend.PutObject(ctx, bucket, key, &recordingBody{r: body, s: s}, opts)
}

type recordingBody struct {
	r io.Reader
	s *testStore
}

func (b *recordingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.s.mu.Lock()
		b.s.bodyErrs = append(b.s.bodyErrs, err)
		b.s.mu.Unlock()
	}
	return n, err
}

// get returns a stored object's bytes and info, ok false when absent.
func (s *testStore) get(bucket, key string) ([]byte, store.ObjectInfo, bool) {
	o, err := s.GetObject(context.Background(), bucket, key, store.GetOptions{})
	if errors.Is(err, store.ErrNoSuchKey) {
		return nil, store.ObjectInfo{}, false
	}
	if err != nil {
		panic(err)
	}
	defer o.Body.Close()
	data, err := io.ReadAll(o.Body)
	if err != nil {
		panic(err)
	}
	return data, o.Info, true
}

func (s *testStore) errs() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.bodyErrs...)
}

// adoptingStore is testStore with the engine's FileAdopter showing through,
// as the server wires it.
type adoptingStore struct{ *testStore }

func (s adoptingStore) AdoptDir() string { return s.Backend.(store.FileAdopter).AdoptDir() }

func (s adoptingStore) AdoptFile(ctx context.Context, bucket, key, path string, size int64, md5 []byte, opts store.PutOptions) (store.ObjectInfo, error) {
	return s.Backend.(store.FileAdopter).AdoptFile(ctx, bucket, key, path, size, md5, opts)
}
