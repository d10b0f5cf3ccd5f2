package mirror

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"mirrorstore/internal/origin"
	"mirrorstore/internal/store"
)

// slowFailStore is a store without file adoption whose PutObject, when the
// body it reads fails, waits for gate before it returns: the aborted fill
// stays in flight meanwhile.
type slowFailStore struct {
	*testStore
	gate chan struct{}
}

func (s slowFailStore) PutObject(ctx context.Context, bucket, key string, body io.Reader, opts store.PutOptions) (store.ObjectInfo, error) {
	data, err := io.ReadAll(body)
	if err != nil {
		<-s.gate
		return store.ObjectInfo{}, err
	}
	return s.testStore.PutObject(ctx, bucket, key, bytes.NewReader(data), opts)
}

// TestOpenDuringAbort: a request that comes while an aborted fill is still
// winding down (here, its commit has not returned yet) fetches afresh
// rather than joining a body that is gone (SPEC §7: the next GET mirrors
// again).
func TestOpenDuringAbort(t *testing.T) {
	body := pattern(300 << 10)
	o := newOrigin(t)
	st := slowFailStore{newTestStore(t), make(chan struct{})}
	rec := newRecorder()
	m := newManager(t, origin.Config{AllowPrivate: true}, Config{Store: st, StagingDir: t.TempDir(), Metrics: rec})
	gateOpen := false
	defer func() {
		if !gateOpen {
			close(st.gate)
		}
	}()
	s := spec(o.handle("/obj", firstTime(shortBody(body[:1000], len(body)), serve(body))))

	r, err := m.Open(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(r)
	r.Close()
	wantFailed(t, err, MsgShortBody)
	if n := m.InFlight(); n != 1 {
		t.Fatalf("%d fills in flight, want the aborted one still winding down", n)
	}

	r, err = m.Open(context.Background(), s)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("second fill: %d bytes, %v", len(got), err)
	}
	if n := o.hitsOf("/obj"); n != 2 {
		t.Errorf("origin hits = %d, want 2", n)
	}
	gateOpen = true
	close(st.gate)
	deadline := time.Now().Add(10 * time.Second)
	for m.InFlight() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if data, _, _ := st.get("b", "k"); !bytes.Equal(data, body) {
		t.Fatal("the second fill's body was not stored")
	}
}
