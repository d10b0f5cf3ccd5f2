package s3backend

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"mirrorstore/internal/store"
)

// countingTransport records every request sent to the cluster as
// "METHOD path?query".
type countingTransport struct {
	mu   sync.Mutex
	reqs []string
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.reqs = append(c.reqs, r.Method+" "+r.URL.Path)
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

// take returns the requests recorded since the last take.
func (c *countingTransport) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.reqs
	c.reqs = nil
	return out
}

// newCountedBackend is newBackend whose requests to the cluster are
// recorded.
func newCountedBackend(t testing.TB) (*Backend, *countingTransport) {
	t.Helper()
	ct := &countingTransport{}
	b, err := Open(Config{Endpoint: minioEndpoint, Bucket: fmt.Sprintf("s3backend-rt-%d-%d", os.Getpid(), backendSeq.Add(1)), AccessKey: minioUser, SecretKey: minioPassword, HTTPClient: &http.Client{Transport: ct}})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, err := b.client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(b.bucket)})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("create backend bucket: %v", err)
		}
	}
	t.Cleanup(func() { b.Close() })
	ct.take()
	return b, ct
}

// TestRoundTrips pins how many requests each object operation sends to
// the cluster once the bucket is known: one each, as a client talking to
// the cluster directly would send.
func TestRoundTrips(t *testing.T) {
	ctx := context.Background()
	b, ct := newCountedBackend(t)
	mustBucket(t, b, "rt")
	if got := ct.take(); len(got) != 1 {
		t.Fatalf("CreateBucket sent %q, want one PUT", got)
	}
	body := bytes.Repeat([]byte("x"), 4096)
	check := func(op string, want ...string) {
		t.Helper()
		if got := ct.take(); !slices.Equal(got, want) {
			t.Errorf("%s sent %q, want %q", op, got, want)
		}
	}
	if _, err := b.PutObject(ctx, "rt", "k", bytes.NewReader(body), store.PutOptions{Size: int64(len(body))}); err != nil {
		t.Fatal(err)
	}
	check("PutObject of a known size", "PUT /"+b.bucket+"/b/rt/k")
	if _, err := b.PutObject(ctx, "rt", "u", bytes.NewReader(body), store.PutOptions{Size: -1}); err != nil {
		t.Fatal(err)
	}
	check("PutObject of an unknown small size", "PUT /"+b.bucket+"/b/rt/u")
	obj, err := b.GetObject(ctx, "rt", "k", store.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if !bytes.Equal(got, body) {
		t.Fatal("GET returned other bytes")
	}
	check("GetObject", "GET /"+b.bucket+"/b/rt/k")
	if _, err := b.HeadObject(ctx, "rt", "k"); err != nil {
		t.Fatal(err)
	}
	check("HeadObject", "HEAD /"+b.bucket+"/b/rt/k")
	res, err := b.ListObjects(ctx, "rt", store.ListOptions{MaxKeys: 1000})
	if err != nil || len(res.Objects) != 2 {
		t.Fatalf("list: %v, %d objects", err, len(res.Objects))
	}
	check("ListObjects", "GET /"+b.bucket)
	// A full page is one backend page too, and its IsTruncated exact.
	res, err = b.ListObjects(ctx, "rt", store.ListOptions{MaxKeys: 1})
	if err != nil || len(res.Objects) != 1 || !res.IsTruncated || res.NextAfter != "k" {
		t.Fatalf("list of 1: %v, %+v", err, res)
	}
	check("ListObjects of a full page", "GET /"+b.bucket)
	res, err = b.ListObjects(ctx, "rt", store.ListOptions{MaxKeys: 1, After: "k"})
	if err != nil || len(res.Objects) != 1 || res.Objects[0].Key != "u" || res.IsTruncated {
		t.Fatalf("list of the last 1: %v, %+v", err, res)
	}
	check("ListObjects of the last full page", "GET /"+b.bucket)
	// A missing key costs nothing more: the bucket is known to exist.
	if _, err := b.HeadObject(ctx, "rt", "absent"); !errors.Is(err, store.ErrNoSuchKey) {
		t.Fatalf("head absent: %v", err)
	}
	check("HeadObject of an absent key", "HEAD /"+b.bucket+"/b/rt/absent")
	if err := b.DeleteObject(ctx, "rt", "u"); err != nil {
		t.Fatal(err)
	}
	check("DeleteObject", "DELETE /"+b.bucket+"/b/rt/u")
}

// TestBucketDeletedElsewhere: a bucket deleted through another node is
// refused here once the remembered presence has expired, and at once when
// deleted through this node.
func TestBucketDeletedElsewhere(t *testing.T) {
	ctx := context.Background()
	a := newBackend(t)
	a.bucketTTL = 200 * time.Millisecond
	other, err := Open(Config{Endpoint: minioEndpoint, Bucket: a.bucket, AccessKey: minioUser, SecretKey: minioPassword})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	put := func(b *Backend, bucket string) error {
		_, err := b.PutObject(ctx, bucket, "k", bytes.NewReader([]byte("v")), store.PutOptions{Size: 1})
		return err
	}
	mustBucket(t, a, "gone")
	if err := a.DeleteBucket(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if err := put(a, "gone"); !errors.Is(err, store.ErrNoSuchBucket) {
		t.Fatalf("put after this node's delete: %v, want NoSuchBucket", err)
	}
	mustBucket(t, a, "elsewhere")
	if err := put(a, "elsewhere"); err != nil {
		t.Fatal(err)
	}
	if err := other.DeleteObject(ctx, "elsewhere", "k"); err != nil {
		t.Fatal(err)
	}
	if err := other.DeleteBucket(ctx, "elsewhere"); err != nil {
		t.Fatal(err)
	}
	// The other node's delete needs no notice to be refused by it...
	if err := put(other, "elsewhere"); !errors.Is(err, store.ErrNoSuchBucket) {
		t.Fatalf("put on the deleting node: %v, want NoSuchBucket", err)
	}
	// ...and this node sees it within bucketTTL.
	time.Sleep(300 * time.Millisecond)
	if err := put(a, "elsewhere"); !errors.Is(err, store.ErrNoSuchBucket) {
		t.Fatalf("put past the TTL: %v, want NoSuchBucket", err)
	}
	if _, err := a.HeadObject(ctx, "elsewhere", "k"); !errors.Is(err, store.ErrNoSuchBucket) {
		t.Fatalf("head past the TTL: %v, want NoSuchBucket", err)
	}
}

// TestPutETagWithoutOwnHash: a known-size PUT without Content-MD5 is not
// hashed by the node; its ETag, the backend's, is still the body's MD5,
// and a wrong Content-MD5 still stores nothing.
func TestPutETagWithoutOwnHash(t *testing.T) {
	ctx := context.Background()
	b, ct := newCountedBackend(t)
	mustBucket(t, b, "etag")
	body := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	info, err := b.PutObject(ctx, "etag", "k", bytes.NewReader(body), store.PutOptions{Size: int64(len(body))})
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%x", md5.Sum(body)); info.ETag != want {
		t.Fatalf("ETag %s, want the body's MD5 %s", info.ETag, want)
	}
	obj, err := b.GetObject(ctx, "etag", "k", store.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := io.Copy(&got, obj.Body); err != nil {
		t.Fatal(err)
	}
	obj.Body.Close()
	if !bytes.Equal(got.Bytes(), body) {
		t.Fatal("GET returned other bytes")
	}
	ct.take()
	wrong := md5.Sum([]byte("other"))
	_, err = b.PutObject(ctx, "etag", "bad", bytes.NewReader(body), store.PutOptions{Size: int64(len(body)), ContentMD5: wrong[:]})
	if !errors.Is(err, store.ErrBadDigest) {
		t.Fatalf("wrong Content-MD5: %v, want BadDigest", err)
	}
	if _, err := b.HeadObject(ctx, "etag", "bad"); !errors.Is(err, store.ErrNoSuchKey) {
		t.Fatalf("after a BadDigest: %v, want NoSuchKey", err)
	}
}
