package migrate

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"mirrorstore/internal/server"
)

const (
	testAccessKey = "MIGRATETESTACCESSKEY"
	testSecretKey = "migrate-test-secret-key-0123456789abcdef"
)

// startServer runs an in-process mirrorstore on 127.0.0.1:0 with a temp
// data folder; it is shut down when the test ends.
func startServer(t *testing.T) *server.Server {
	t.Helper()
	srv, err := server.Start(server.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), AccessKey: testAccessKey, SecretKey: testSecretKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv
}

// recorded is one request the destination client sent.
type recorded struct {
	Method, Path, Query, IfNoneMatch, IfMatch string
}

// recorder is an http.RoundTripper that notes each request's conditions.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, recorded{req.Method, req.URL.Path, req.URL.RawQuery, req.Header.Get("If-None-Match"), req.Header.Get("If-Match")})
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// writes returns the PUTs and completing POSTs sent for key.
func (r *recorder) writes(bucket, key string) []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []recorded
	for _, q := range r.reqs {
		if q.Path != "/"+bucket+"/"+key {
			continue
		}
		complete := q.Method == http.MethodPost && strings.Contains(q.Query, "uploadId")
		put := q.Method == http.MethodPut && !strings.Contains(q.Query, "partNumber")
		if complete || put {
			out = append(out, q)
		}
	}
	return out
}

func newClient(srv *server.Server, rt http.RoundTripper) *s3.Client {
	o := s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL()),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""),
	}
	if rt != nil {
		o.HTTPClient = &http.Client{Transport: rt}
	}
	return s3.New(o)
}

func mkBucket(t *testing.T, c *s3.Client, name string) {
	t.Helper()
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
}

func put(t *testing.T, c *s3.Client, bucket, key string, body []byte) {
	t.Helper()
	if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func get(t *testing.T, c *s3.Client, bucket, key string) ([]byte, *s3.GetObjectOutput) {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b, out
}

func keysOf(t *testing.T, c *s3.Client, bucket string) map[string]bool {
	t.Helper()
	keys := map[string]bool{}
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			keys[aws.ToString(o.Key)] = true
		}
	}
	return keys
}

// writeTree creates files (key → content) under a new temp folder.
func writeTree(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for k, v := range files {
		p := filepath.Join(dir, filepath.FromSlash(k))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, v, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// countingSource counts Open calls per key, and can run a hook on each.
type countingSource struct {
	Source
	mu     sync.Mutex
	opens  map[string]int
	onOpen func(n int) // n: opens so far, this one included
}

func counting(s Source) *countingSource { return &countingSource{Source: s, opens: map[string]int{}} }

func (c *countingSource) Open(ctx context.Context, obj Object) (*Content, error) {
	c.mu.Lock()
	c.opens[obj.Key]++
	n := 0
	for _, v := range c.opens {
		n += v
	}
	hook := c.onOpen
	c.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	return c.Source.Open(ctx, obj)
}

func (c *countingSource) opened() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.opens {
		out[k] = v
	}
	return out
}

func folder(t *testing.T, dir string) *FolderSource {
	t.Helper()
	s, err := NewFolderSource(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// pattern returns n bytes that differ by offset, so a part in the wrong
// place shows.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ byte(i>>10) ^ seed
	}
	return b
}
