package local

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"

	"mirrorstore/internal/store"
)

// Inline bodies are served from pooled buffers: a closed body must read as
// empty (never as the next object's bytes), Close must be idempotent, and
// bodies open at once must each keep their own bytes.
func TestInlineBodiesPooled(t *testing.T) {
	e := newEngine(t, t.TempDir())
	ctx := context.Background()
	if err := e.CreateBucket(ctx, "b", "me"); err != nil {
		t.Fatal(err)
	}
	a := bytes.Repeat([]byte("a"), DefaultInlineMax)
	z := bytes.Repeat([]byte("z"), 100)
	mustPut(t, e, "b", "a", a)
	mustPut(t, e, "b", "z", z)

	oa, err := e.GetObject(ctx, "b", "a", store.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	oz, err := e.GetObject(ctx, "b", "z", store.GetOptions{Range: &store.Range{First: 10, Last: 19}})
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 10)
	if _, err := io.ReadFull(oa.Body, head); err != nil || !bytes.Equal(head, a[:10]) {
		t.Fatalf("first 10 bytes %q, %v", head, err)
	}
	if got, err := io.ReadAll(oz.Body); err != nil || !bytes.Equal(got, z[10:20]) {
		t.Fatalf("range of z: %q, %v", got, err)
	}
	if err := oz.Body.Close(); err != nil {
		t.Fatal(err)
	}
	if err := oz.Body.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if n, err := oz.Body.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Fatalf("read after Close: %d, %v", n, err)
	}
	// z's buffer went back to the pool; a's, still open, is untouched by
	// the reads that may reuse it.
	for range 10 {
		o, err := e.GetObject(ctx, "b", "z", store.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		o.Body.Close()
	}
	rest, err := io.ReadAll(oa.Body)
	if err != nil || !bytes.Equal(rest, a[10:]) {
		t.Fatalf("rest of a: %d bytes, %v", len(rest), err)
	}
	oa.Body.Close()
}

// Concurrent GETs of different inline objects never see each other's
// bytes (run with -race).
func TestInlineBodiesConcurrent(t *testing.T) {
	e := newEngine(t, t.TempDir())
	ctx := context.Background()
	if err := e.CreateBucket(ctx, "b", "me"); err != nil {
		t.Fatal(err)
	}
	keys := []string{"a", "b", "c", "d"}
	for _, k := range keys {
		mustPut(t, e, "b", k, bytes.Repeat([]byte(k), 3000))
	}
	var wg sync.WaitGroup
	for _, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := bytes.Repeat([]byte(k), 3000)
			for range 200 {
				o, err := e.GetObject(ctx, "b", k, store.GetOptions{})
				if err != nil {
					t.Error(err)
					return
				}
				var got bytes.Buffer
				_, err = io.Copy(&got, o.Body)
				o.Body.Close()
				if err != nil || !bytes.Equal(got.Bytes(), want) {
					t.Errorf("%s: %d bytes, %v", k, got.Len(), err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
