package s3backend

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"mirrorstore/internal/store"
)

// lingeringConn closes a moment late, as a loaded machine may: whatever
// the request wrote before it was cut has time to reach the cluster and
// be acted on.
type lingeringConn struct{ net.Conn }

func (c lingeringConn) Close() error {
	time.Sleep(300 * time.Millisecond)
	return c.Conn.Close()
}

// TestOverlongBodyNeverReachesDeclaredSize: a body longer than its declared
// size must not hand the cluster the declared number of bytes before the
// error, or the cluster has a whole request to store before it notices
// the cut. Connections that close late make that deterministic: once the
// declared length arrives, MinIO stores the object.
func TestOverlongBodyNeverReachesDeclaredSize(t *testing.T) {
	b := newBackend(t)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return lingeringConn{c}, nil
	}
	lb, err := Open(Config{Endpoint: minioEndpoint, Bucket: b.bucket, AccessKey: minioUser, SecretKey: minioPassword, HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	mustBucket(t, lb, "overlong")
	ctx := context.Background()
	// Larger than the transport's write buffer, so the body streams
	// straight to the connection.
	for _, size := range []int64{10, 64 << 10, 1 << 20} {
		data := bytes.Repeat([]byte("x"), int(size)+1)
		_, err := lb.PutObject(ctx, "overlong", "k", bytes.NewReader(data), store.PutOptions{Size: size})
		if !errors.Is(err, store.ErrIncompleteBody) {
			t.Fatalf("PutObject of %d bytes declared %d: %v, want ErrIncompleteBody", size+1, size, err)
		}
		if info, err := lb.HeadObject(ctx, "overlong", "k"); !errors.Is(err, store.ErrNoSuchKey) {
			t.Fatalf("size %d: an overlong PUT stored %+v (%v)", size, info, err)
		}
		id, err := lb.CreateMultipartUpload(ctx, "overlong", "k", store.ObjectAttrs{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := lb.UploadPart(ctx, "overlong", "k", id, 1, bytes.NewReader(data), size, nil); !errors.Is(err, store.ErrIncompleteBody) {
			t.Fatalf("UploadPart of %d bytes declared %d: %v, want ErrIncompleteBody", size+1, size, err)
		}
		parts, err := lb.ListParts(ctx, "overlong", "k", id, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(parts.Parts) != 0 {
			t.Fatalf("size %d: an overlong UploadPart stored %+v", size, parts.Parts)
		}
		if err := lb.AbortMultipartUpload(ctx, "overlong", "k", id); err != nil {
			t.Fatal(err)
		}
	}
}

// TestVerifierHoldsBackOverlong: read as an HTTP client reads a body of
// known length, an overlong source yields fewer bytes than declared.
func TestVerifierHoldsBackOverlong(t *testing.T) {
	for _, size := range []int64{1, 2, 10, 40000} {
		v := newVerifier(bytes.NewReader(make([]byte, size+1)), size, nil, true)
		n, err := io.Copy(io.Discard, io.LimitReader(v, size))
		if !errors.Is(err, store.ErrIncompleteBody) || n >= size {
			t.Errorf("declared %d, source %d: passed %d bytes, %v; want fewer than declared and ErrIncompleteBody", size, size+1, n, err)
		}
	}
}
