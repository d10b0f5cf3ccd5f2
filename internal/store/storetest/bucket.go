package storetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"mirrorstore/internal/store"
)

var bucketTests = []suite{
	{"Bucket/Lifecycle", testBucketLifecycle},
	{"Bucket/CreateTwice", testBucketCreateTwice},
	{"Bucket/Missing", testBucketMissing},
	{"Bucket/NotEmpty", testBucketNotEmpty},
	{"Bucket/Config", testBucketConfig},
	{"Ready", testReady},
}

func testBucketLifecycle(t *testing.T, b store.Backend) {
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	names := []string{"zeta-bucket", "alpha-bucket", "mid.bucket"}
	for _, n := range names {
		if err := b.CreateBucket(ctx, n, Owner); err != nil {
			t.Fatalf("CreateBucket(%s): %v", n, err)
		}
	}
	info, err := b.HeadBucket(ctx, "mid.bucket")
	if err != nil {
		t.Fatalf("HeadBucket: %v", err)
	}
	if info.Name != "mid.bucket" || info.Owner != Owner || info.Created.Before(before) || info.Created.After(time.Now().Add(time.Second)) {
		t.Fatalf("HeadBucket = %+v", info)
	}
	list, err := b.ListBuckets(ctx)
	if err != nil {
		t.Fatalf("ListBuckets: %v", err)
	}
	var got []string
	for _, bi := range list {
		got = append(got, bi.Name)
	}
	if want := []string{"alpha-bucket", "mid.bucket", "zeta-bucket"}; !equalStrings(got, want) {
		t.Fatalf("ListBuckets = %q, want %q (name order)", got, want)
	}
	if err := b.DeleteBucket(ctx, "mid.bucket"); err != nil {
		t.Fatalf("DeleteBucket: %v", err)
	}
	_, err = b.HeadBucket(ctx, "mid.bucket")
	wantErr(t, "HeadBucket after delete", err, store.ErrNoSuchBucket)
	wantErr(t, "DeleteBucket twice", b.DeleteBucket(ctx, "mid.bucket"), store.ErrNoSuchBucket)
	// A deleted name can be created again, by anyone.
	if err := b.CreateBucket(ctx, "mid.bucket", "someone-else"); err != nil {
		t.Fatalf("CreateBucket after delete: %v", err)
	}
}

func testBucketCreateTwice(t *testing.T, b store.Backend) {
	ctx := context.Background()
	bucket := newBucket(t, b)
	wantErr(t, "CreateBucket by owner", b.CreateBucket(ctx, bucket, Owner), store.ErrBucketAlreadyOwnedByYou)
	wantErr(t, "CreateBucket by another", b.CreateBucket(ctx, bucket, "other"), store.ErrBucketAlreadyExists)
}

func testBucketMissing(t *testing.T, b store.Backend) {
	ctx := context.Background()
	const m = "no-such-bucket"
	_, err := b.HeadBucket(ctx, m)
	wantErr(t, "HeadBucket", err, store.ErrNoSuchBucket)
	_, err = b.PutObject(ctx, m, "k", bytes.NewReader(nil), store.PutOptions{Size: 0})
	wantErr(t, "PutObject", err, store.ErrNoSuchBucket)
	_, err = b.GetObject(ctx, m, "k", store.GetOptions{})
	wantErr(t, "GetObject", err, store.ErrNoSuchBucket)
	_, err = b.HeadObject(ctx, m, "k")
	wantErr(t, "HeadObject", err, store.ErrNoSuchBucket)
	wantErr(t, "DeleteObject", b.DeleteObject(ctx, m, "k"), store.ErrNoSuchBucket)
	_, err = b.ListObjects(ctx, m, store.ListOptions{})
	wantErr(t, "ListObjects", err, store.ErrNoSuchBucket)
	wantErr(t, "PutBucketConfig", b.PutBucketConfig(ctx, m, "website", []byte("x")), store.ErrNoSuchBucket)
	_, err = b.GetBucketConfig(ctx, m, "website")
	wantErr(t, "GetBucketConfig", err, store.ErrNoSuchBucket)
	_, err = b.CreateMultipartUpload(ctx, m, "k", store.ObjectAttrs{})
	wantErr(t, "CreateMultipartUpload", err, store.ErrNoSuchBucket)
	_, err = b.ListMultipartUploads(ctx, m, store.ListUploadsOptions{})
	wantErr(t, "ListMultipartUploads", err, store.ErrNoSuchBucket)
	wantErr(t, "SetObjectTags", b.SetObjectTags(ctx, m, "k", nil), store.ErrNoSuchBucket)
}

func testBucketNotEmpty(t *testing.T, b store.Backend) {
	ctx := context.Background()
	bucket := newBucket(t, b)
	put(t, b, bucket, "k", []byte("x"))
	wantErr(t, "DeleteBucket with an object", b.DeleteBucket(ctx, bucket), store.ErrBucketNotEmpty)
	if err := b.DeleteObject(ctx, bucket, "k"); err != nil {
		t.Fatal(err)
	}
	id, err := b.CreateMultipartUpload(ctx, bucket, "u", store.ObjectAttrs{})
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "DeleteBucket with an upload", b.DeleteBucket(ctx, bucket), store.ErrBucketNotEmpty)
	if err := b.AbortMultipartUpload(ctx, bucket, "u", id); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteBucket(ctx, bucket); err != nil {
		t.Fatalf("DeleteBucket once empty: %v", err)
	}
}

func testBucketConfig(t *testing.T, b store.Backend) {
	ctx := context.Background()
	bucket := newBucket(t, b)
	_, err := b.GetBucketConfig(ctx, bucket, "website")
	wantErr(t, "GetBucketConfig before put", err, store.ErrNoSuchConfig)
	web := []byte("<WebsiteConfiguration/>")
	pol := []byte(`{"Statement":[]}`)
	if err := b.PutBucketConfig(ctx, bucket, "website", web); err != nil {
		t.Fatal(err)
	}
	if err := b.PutBucketConfig(ctx, bucket, "policy", pol); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{"website": web, "policy": pol} {
		got, err := b.GetBucketConfig(ctx, bucket, name)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("GetBucketConfig(%s) = %q, %v; want %q", name, got, err, want)
		}
	}
	web2 := []byte("<WebsiteConfiguration><IndexDocument/></WebsiteConfiguration>")
	if err := b.PutBucketConfig(ctx, bucket, "website", web2); err != nil {
		t.Fatal(err)
	}
	if got, err := b.GetBucketConfig(ctx, bucket, "website"); err != nil || !bytes.Equal(got, web2) {
		t.Fatalf("GetBucketConfig after replace = %q, %v", got, err)
	}
	if err := b.PutBucketConfig(ctx, bucket, "website", nil); err != nil {
		t.Fatalf("PutBucketConfig(nil): %v", err)
	}
	_, err = b.GetBucketConfig(ctx, bucket, "website")
	wantErr(t, "GetBucketConfig after delete", err, store.ErrNoSuchConfig)
	if got, err := b.GetBucketConfig(ctx, bucket, "policy"); err != nil || !bytes.Equal(got, pol) {
		t.Fatalf("other config disturbed: %q, %v", got, err)
	}
	// Deleting the bucket deletes its configuration: a new bucket of the
	// same name starts bare.
	if err := b.DeleteBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateBucket(ctx, bucket, Owner); err != nil {
		t.Fatal(err)
	}
	_, err = b.GetBucketConfig(ctx, bucket, "policy")
	wantErr(t, "GetBucketConfig on a recreated bucket", err, store.ErrNoSuchConfig)
}

func testReady(t *testing.T, b store.Backend) {
	if err := b.Ready(context.Background()); err != nil {
		t.Fatalf("Ready: %v", err)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
