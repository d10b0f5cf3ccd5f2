// Package storetest is the conformance suite every store.Backend must pass.
// A backend's own tests call Run with a constructor that returns a fresh,
// empty backend (and registers its cleanup with t.Cleanup).
//
// Facts about S3 the suite encodes are cited where a test relies on them.
package storetest

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"testing"

	"mirrorstore/internal/store"
)

// Owner is the credential that creates the suite's buckets.
const Owner = "AKIDSTORETEST"

type suite struct {
	name string
	fn   func(t *testing.T, b store.Backend)
}

// Run runs every contract test against backends made by newBackend; each
// subtest gets its own backend.
func Run(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	var all []suite
	all = append(all, bucketTests...)
	all = append(all, objectTests...)
	all = append(all, listTests...)
	all = append(all, multipartTests...)
	for _, s := range all {
		t.Run(s.name, func(t *testing.T) { s.fn(t, newBackend(t)) })
	}
}

var bucketSeq int

// newBucket creates a bucket with a name unique within the test binary.
func newBucket(t *testing.T, b store.Backend) string {
	t.Helper()
	bucketSeq++
	name := fmt.Sprintf("storetest-%d", bucketSeq)
	if err := b.CreateBucket(context.Background(), name, Owner); err != nil {
		t.Fatalf("CreateBucket(%s): %v", name, err)
	}
	return name
}

func put(t *testing.T, b store.Backend, bucket, key string, data []byte) store.ObjectInfo {
	t.Helper()
	info, err := b.PutObject(context.Background(), bucket, key, bytes.NewReader(data), store.PutOptions{Size: int64(len(data))})
	if err != nil {
		t.Fatalf("PutObject(%s/%q): %v", bucket, key, err)
	}
	return info
}

// get reads an object whole; it fails the test on error.
func get(t *testing.T, b store.Backend, bucket, key string, opts store.GetOptions) (*store.Object, []byte) {
	t.Helper()
	obj, err := b.GetObject(context.Background(), bucket, key, opts)
	if err != nil {
		t.Fatalf("GetObject(%s/%q, %+v): %v", bucket, key, opts, err)
	}
	defer obj.Body.Close()
	data, err := io.ReadAll(obj.Body)
	if err != nil {
		t.Fatalf("reading %s/%q: %v", bucket, key, err)
	}
	if int64(len(data)) != obj.Length {
		t.Fatalf("GetObject(%s/%q) body has %d bytes, Length says %d", bucket, key, len(data), obj.Length)
	}
	return obj, data
}

func md5hex(data []byte) string {
	sum := md5.Sum(data)
	return hex.EncodeToString(sum[:])
}

func wantErr(t *testing.T, op string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", op, err, want)
	}
}

// pattern returns n bytes that differ at every offset modulo 251 and with
// seed, so a misplaced or mixed span is detected.
func pattern(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i%251) ^ seed
	}
	return p
}
