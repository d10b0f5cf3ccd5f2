package s3backend

import (
	"bytes"
	"context"
	"io"
	"testing"

	"mirrorstore/internal/store"
)

// BenchmarkGetSmall is one 4 KiB GetObject through the backend: the cost
// a node adds to a client's GET on top of the cluster's own.
func BenchmarkGetSmall(b *testing.B) {
	ctx := context.Background()
	be, _ := newCountedBackend(b)
	if err := be.CreateBucket(ctx, "bench", "owner"); err != nil {
		b.Fatal(err)
	}
	body := bytes.Repeat([]byte("x"), 4096)
	if _, err := be.PutObject(ctx, "bench", "k", bytes.NewReader(body), store.PutOptions{Size: 4096}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		obj, err := be.GetObject(ctx, "bench", "k", store.GetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, obj.Body)
		obj.Body.Close()
	}
}

// BenchmarkPutSmall is one 4 KiB PutObject of a known size.
func BenchmarkPutSmall(b *testing.B) {
	ctx := context.Background()
	be, _ := newCountedBackend(b)
	if err := be.CreateBucket(ctx, "bench", "owner"); err != nil {
		b.Fatal(err)
	}
	body := bytes.Repeat([]byte("x"), 4096)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := be.PutObject(ctx, "bench", "k", bytes.NewReader(body), store.PutOptions{Size: 4096}); err != nil {
			b.Fatal(err)
		}
	}
}
