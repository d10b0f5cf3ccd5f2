package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net/url"
	"slices"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// TestMinioGo drives the server with minio-go over plain HTTP, where it
// signs every chunk of a body (STREAMING-AWS4-HMAC-SHA256-PAYLOAD).
func TestMinioGo(t *testing.T) {
	ts := startServer(t, false)
	u, err := url.Parse(ts.URL())
	if err != nil {
		t.Fatal(err)
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds:  credentials.NewStaticV4(testAccessKey, testSecretKey, ""),
		Secure: false,
		Region: "us-east-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.MakeBucket(ctx, "minio", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	// 1 MiB + 1 byte: sixteen 64 KiB signed chunks and a short one.
	body := make([]byte, 1<<20+1)
	rand.Read(body)
	info, err := c.PutObject(ctx, "minio", "big/chunked.bin", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{
		ContentType:  "application/x-test",
		UserMetadata: map[string]string{"origin": "minio-go"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if info.ETag != md5hex(body) {
		t.Fatalf("ETag %s, want %s", info.ETag, md5hex(body))
	}
	if _, err := c.PutObject(ctx, "minio", "small", bytes.NewReader([]byte("s")), 1, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}

	st, err := c.StatObject(ctx, "minio", "big/chunked.bin", minio.StatObjectOptions{})
	if err != nil || st.Size != int64(len(body)) || st.ContentType != "application/x-test" || st.UserMetadata["Origin"] != "minio-go" {
		t.Fatalf("stat: %+v %v", st, err)
	}
	obj, err := c.GetObject(ctx, "minio", "big/chunked.bin", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	obj.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("get: %d bytes, %v", len(got), err)
	}

	var keys []string
	for o := range c.ListObjects(ctx, "minio", minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		keys = append(keys, o.Key)
	}
	if len(keys) != 2 || keys[0] != "big/chunked.bin" || keys[1] != "small" {
		t.Fatalf("list: %v", keys)
	}
	var top []string
	for o := range c.ListObjects(ctx, "minio", minio.ListObjectsOptions{}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		top = append(top, o.Key)
	}
	// minio-go yields a page's objects before its common prefixes.
	slices.Sort(top)
	if len(top) != 2 || top[0] != "big/" || top[1] != "small" {
		t.Fatalf("list with delimiter: %v", top)
	}

	for _, k := range []string{"big/chunked.bin", "small"} {
		if err := c.RemoveObject(ctx, "minio", k, minio.RemoveObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.StatObject(ctx, "minio", "small", minio.StatObjectOptions{}); minio.ToErrorResponse(err).Code != "NoSuchKey" {
		t.Fatalf("stat after remove: %v", err)
	}
	if err := c.RemoveBucket(ctx, "minio"); err != nil {
		t.Fatal(err)
	}

	// A wrong secret fails the chunk signatures: nothing is stored.
	if err := c.MakeBucket(ctx, "minio2", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	bad, err := minio.New(u.Host, &minio.Options{Creds: credentials.NewStaticV4(testAccessKey, "wrong", ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.PutObject(ctx, "minio2", "x", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{})
	if code := minio.ToErrorResponse(err).Code; code != "SignatureDoesNotMatch" {
		t.Fatalf("wrong secret: %v (%s)", err, code)
	}
	if _, err := c.StatObject(ctx, "minio2", "x", minio.StatObjectOptions{}); minio.ToErrorResponse(err).Code != "NoSuchKey" {
		t.Fatalf("object stored despite a bad signature: %v", err)
	}
}
