package local

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"mirrorstore/internal/store"
)

// The in-memory set of buckets is rebuilt at Open: buckets created before a
// restart take writes after it, and deleted ones stay gone.
func TestBucketsSurviveReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e := newEngine(t, dir)
	for _, b := range []string{"kept", "gone"} {
		if err := e.CreateBucket(ctx, b, "me"); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.DeleteBucket(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.PutObject(ctx, "gone", "k", bytes.NewReader(nil), store.PutOptions{}); !errors.Is(err, store.ErrNoSuchBucket) {
		t.Fatalf("put into a deleted bucket: %v, want NoSuchBucket", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = newEngine(t, dir)
	if _, err := e.PutObject(ctx, "kept", "k", bytes.NewReader([]byte("v")), store.PutOptions{Size: 1}); err != nil {
		t.Fatalf("put after reopen: %v", err)
	}
	if _, err := e.HeadObject(ctx, "gone", "k"); !errors.Is(err, store.ErrNoSuchBucket) {
		t.Fatalf("head in a deleted bucket after reopen: %v, want NoSuchBucket", err)
	}
	if err := e.CreateBucket(ctx, "gone", "me"); err != nil {
		t.Fatalf("recreate: %v", err)
	}
	if _, err := e.PutObject(ctx, "gone", "k", bytes.NewReader(nil), store.PutOptions{}); err != nil {
		t.Fatalf("put into a recreated bucket: %v", err)
	}
}
