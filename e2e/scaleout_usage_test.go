package e2e

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"mirrorstore/internal/server"
	"mirrorstore/internal/store/s3backend"
)

// backendLog is a reverse proxy in front of MinIO that records the method
// and path of every request a node sends it.
type backendLog struct {
	mu   sync.Mutex
	reqs []string
}

func (l *backendLog) proxy(t *testing.T, endpoint string) string {
	t.Helper()
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.reqs = append(l.reqs, r.Method+" "+r.URL.Path)
		l.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// heads returns the HEAD requests of objects (not of the node's bucket
// records, which it reads now and then) recorded since mark, and the new
// mark.
func (l *backendLog) heads(mark int) ([]string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.reqs[mark:] {
		if strings.HasPrefix(r, "HEAD ") && !strings.Contains(r, "/.mirrorstore/") {
			out = append(out, r)
		}
	}
	return out, len(l.reqs)
}

func startScanningNode(t *testing.T, backend s3backend.Config, interval time.Duration) *testServer {
	t.Helper()
	return startConfigured(t, server.Config{
		Addr:              "127.0.0.1:0",
		DataDir:           t.TempDir(),
		AccessKey:         testAccessKey,
		SecretKey:         testSecretKey,
		ShutdownTimeout:   5 * time.Second,
		UsageScanInterval: interval,
		Backend:           server.BackendConfig{Kind: "s3", S3: backend},
	})
}

// TestScaleOutUsageScan: over the scale-out backend the per-bucket objects
// and bytes are the whole cluster's, counted by a periodic scan (writes of
// another node included), as of a scan that ended at the time the gauge
// says; they follow overwrites, deletes and multipart uploads at the next
// scan, and no write or delete sends the backend a HEAD to keep them.
func TestScaleOutUsageScan(t *testing.T) {
	cluster, _ := startMinioCluster(t)
	var log backendLog
	proxied := cluster
	proxied.Endpoint = log.proxy(t, cluster.Endpoint)
	a := startScanningNode(t, proxied, 200*time.Millisecond)
	b := startScanningNode(t, cluster, 0) // scans off: counts come from a alone
	ca, cb := a.rootClient(), b.rootClient()
	ctx := context.Background()

	if _, err := ca.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("counted")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("empty")}); err != nil {
		t.Fatal(err)
	}
	_, mark := log.heads(0)
	put := func(c *s3.Client, key string, size int) {
		t.Helper()
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("counted"), Key: aws.String(key), Body: bytes.NewReader(bytes.Repeat([]byte("u"), size))}); err != nil {
			t.Fatal(err)
		}
	}
	put(ca, "one", 100)
	put(ca, "dir/two", 2000)
	put(cb, "from-b", 7) // another node's write counts too
	if heads, _ := log.heads(mark); len(heads) != 0 {
		t.Errorf("PUTs sent the backend HEADs: %v", heads)
	}
	// A multipart upload of 5 MiB + 1 byte through a.
	up, err := ca.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("counted"), Key: aws.String("multi")})
	if err != nil {
		t.Fatal(err)
	}
	var parts []types.CompletedPart
	for i, size := range []int{5 << 20, 1} {
		p, err := ca.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: aws.String("counted"), Key: aws.String("multi"), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(bytes.Repeat([]byte("m"), size)),
		})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, types.CompletedPart{ETag: p.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	if _, err := ca.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String("counted"), Key: aws.String("multi"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}); err != nil {
		t.Fatal(err)
	}
	// The Complete reads back the object it made (size, time, headers):
	// one HEAD, and none more to keep counts.
	if heads, _ := log.heads(mark); len(heads) > 1 {
		t.Errorf("a multipart upload sent the backend more than its read-back HEAD: %v", heads)
	}
	wantUsage(t, a, time.Now(), map[string]float64{
		`mirrorstore_bucket_objects{bucket="counted"}`: 4,
		`mirrorstore_bucket_bytes{bucket="counted"}`:   100 + 2000 + 7 + 5<<20 + 1,
		`mirrorstore_bucket_objects{bucket="empty"}`:   0,
		`mirrorstore_bucket_bytes{bucket="empty"}`:     0,
	})
	page := a.statusPage(t)
	if !strings.Contains(page, "as of the last scan of the backend, which ended") || !strings.Contains(page, "<td>counted</td><td class=\"n\">4</td>") {
		t.Errorf("status page does not show the scanned counts:\n%s", page)
	}

	// An overwrite with another size, and a delete, through a.
	_, mark = log.heads(0)
	put(ca, "dir/two", 50)
	if _, err := ca.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("counted"), Key: aws.String("one")}); err != nil {
		t.Fatal(err)
	}
	// Deleting a key that does not exist changes nothing.
	if _, err := ca.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("counted"), Key: aws.String("never")}); err != nil {
		t.Fatal(err)
	}
	if heads, _ := log.heads(mark); len(heads) != 0 {
		t.Errorf("writes and deletes sent the backend HEADs: %v", heads)
	}
	wantUsage(t, a, time.Now(), map[string]float64{
		`mirrorstore_bucket_objects{bucket="counted"}`: 3,
		`mirrorstore_bucket_bytes{bucket="counted"}`:   50 + 7 + 5<<20 + 1,
	})

	// A bucket deleted through a leaves a's metrics at once.
	if _, err := ca.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("empty")}); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.scrape(t)[`mirrorstore_bucket_objects{bucket="empty"}`]; ok {
		t.Error("a deleted bucket still has counts")
	}

	// A node with scans off shows no counts and no scan time.
	m := b.scrape(t)
	for name := range m {
		if strings.HasPrefix(name, "mirrorstore_bucket_objects") || strings.HasPrefix(name, "mirrorstore_usage_scan_timestamp_seconds") {
			t.Errorf("node without scans exposes %s", name)
		}
	}
}

// wantUsage waits for a scan that ended after since and checks its counts.
func wantUsage(t *testing.T, ts *testServer, since time.Time, want map[string]float64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		m := ts.scrape(t)
		if ended := m["mirrorstore_usage_scan_timestamp_seconds"]; ended > float64(since.UnixNano())/1e9 {
			for name, v := range want {
				if got, ok := m[name]; !ok || got != v {
					t.Errorf("%s = %v (present %v), want %v", name, got, ok, v)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no scan ended after %v within 30 s", since)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
