package s3backend

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"mirrorstore/internal/store"
)

func mustBucket(t *testing.T, b *Backend, name string) {
	t.Helper()
	if err := b.CreateBucket(context.Background(), name, "owner"); err != nil {
		t.Fatal(err)
	}
}

// TestKeysMinioAccepts is storetest's Object/Keys without the keys MinIO
// refuses (see minioFailures): every other key is stored verbatim and
// lists in byte order.
func TestKeysMinioAccepts(t *testing.T) {
	ctx := context.Background()
	b := newBackend(t)
	mustBucket(t, b, "keys")
	keys := []string{
		// Not "a" with "a/b": MinIO's listing hides a key under another
		// key's name (see minioFailures).
		"a", "x", "x/", "a b", "a+b", "a%2Fb", "ключ/файл", "日本語.txt", "emoji-😀",
		"tab\tkey", "q?x=1#frag", `back\slash`, "...", "a..b",
		// MinIO caps each path segment at 255 bytes (a file name).
		strings.Repeat(strings.Repeat("k", 250)+"/", 3) + strings.Repeat("é", 100),
	}
	for _, k := range keys {
		if _, err := b.PutObject(ctx, "keys", k, strings.NewReader(k), store.PutOptions{Size: int64(len(k))}); err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
	}
	for _, k := range keys {
		obj, err := b.GetObject(ctx, "keys", k, store.GetOptions{})
		if err != nil {
			t.Fatalf("get %q: %v", k, err)
		}
		got, _ := io.ReadAll(obj.Body)
		obj.Body.Close()
		if string(got) != k {
			t.Fatalf("key %q returned %q", k, got)
		}
	}
	res, err := b.ListObjects(ctx, "keys", store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range res.Objects {
		got = append(got, o.Key)
	}
	want := slices.Clone(keys)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("listed %q\nwant %q", got, want)
	}
}

// TestUnstorableKeys: a key MinIO refuses to hold is absent to every read
// (so a website rule can still answer for it) and a write of it fails.
func TestUnstorableKeys(t *testing.T) {
	ctx := context.Background()
	b := newBackend(t)
	mustBucket(t, b, "k")
	for _, key := range []string{"a//b", "../x", "e/../x", strings.Repeat("k", 300)} {
		_, err := b.GetObject(ctx, "k", key, store.GetOptions{})
		if !errors.Is(err, store.ErrNoSuchKey) {
			t.Fatalf("GetObject(%q) = %v", key, err)
		}
		if _, err := b.HeadObject(ctx, "k", key); !errors.Is(err, store.ErrNoSuchKey) {
			t.Fatalf("HeadObject(%q) = %v", key, err)
		}
		if err := b.SetObjectTags(ctx, "k", key, map[string]string{"a": "b"}); !errors.Is(err, store.ErrNoSuchKey) {
			t.Fatalf("SetObjectTags(%q) = %v", key, err)
		}
		if err := b.DeleteObject(ctx, "k", key); err != nil {
			t.Fatalf("DeleteObject(%q) = %v", key, err)
		}
		if _, err := b.PutObject(ctx, "k", key, strings.NewReader("x"), store.PutOptions{Size: 1}); err == nil || errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("PutObject(%q) = %v, want the backend's refusal", key, err)
		}
	}
}

// TestUnavailable: a cluster that cannot be reached or answers 5xx is
// ErrUnavailable, never a missing key or bucket.
func TestUnavailable(t *testing.T) {
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for name, endpoint := range map[string]string{"503": failing.URL, "refused": closed.URL} {
		t.Run(name, func(t *testing.T) {
			b, err := Open(Config{Endpoint: endpoint, Bucket: "x", AccessKey: "k", SecretKey: "s"})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			// The SDK retries 5xx with backoff; keep the test short.
			b.client = s3.New(b.client.Options(), func(o *s3.Options) { o.RetryMaxAttempts = 1 })
			ctx := context.Background()
			checks := map[string]error{"Ready": b.Ready(ctx)}
			_, checks["HeadObject"] = b.HeadObject(ctx, "bucket", "key")
			_, checks["GetObject"] = b.GetObject(ctx, "bucket", "key", store.GetOptions{})
			_, checks["HeadBucket"] = b.HeadBucket(ctx, "bucket")
			_, checks["PutObject"] = b.PutObject(ctx, "bucket", "key", strings.NewReader("x"), store.PutOptions{Size: 1})
			for op, err := range checks {
				if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrNoSuchKey) || errors.Is(err, store.ErrNoSuchBucket) {
					t.Errorf("%s = %v, want ErrUnavailable only", op, err)
				}
			}
		})
	}
}

// failAfter yields n bytes of data, then fails.
type failAfter struct {
	r   io.Reader
	err error
}

func (f *failAfter) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

// TestUnknownSizeMultipart: a body of unknown size past one buffer goes up
// as a multipart upload; a failure midway aborts it, leaving nothing.
func TestUnknownSizeMultipart(t *testing.T) {
	ctx := context.Background()
	b := newBackend(t)
	mustBucket(t, b, "big")
	data := make([]byte, 2*streamPartSize+12345)
	for i := range data {
		data[i] = byte(i * 7)
	}
	sum := md5.Sum(data)
	info, err := b.PutObject(ctx, "big", "k", io.MultiReader(bytes.NewReader(data)), store.PutOptions{Size: -1, ContentMD5: sum[:], Attrs: store.ObjectAttrs{ContentType: "a/b"}})
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(data)) || info.PartsCount != 3 || !strings.HasSuffix(info.ETag, "-3") {
		t.Fatalf("info = %+v", info)
	}
	obj, err := b.GetObject(ctx, "big", "k", store.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if !bytes.Equal(got, data) || obj.Info.Attrs.ContentType != "a/b" || obj.Info.ETag != info.ETag {
		t.Fatalf("read back %d bytes, info %+v", len(got), obj.Info)
	}

	wrong := md5.Sum([]byte("other"))
	veto := errors.New("veto")
	for name, c := range map[string]struct {
		body io.Reader
		md5  []byte
		want error
	}{
		"failing body": {&failAfter{bytes.NewReader(data), veto}, nil, veto},
		"bad digest":   {io.MultiReader(bytes.NewReader(data)), wrong[:], store.ErrBadDigest},
	} {
		_, err := b.PutObject(ctx, "big", "new", c.body, store.PutOptions{Size: -1, ContentMD5: c.md5})
		if !errors.Is(err, c.want) {
			t.Fatalf("%s: %v, want %v", name, err, c.want)
		}
		if _, err := b.HeadObject(ctx, "big", "new"); !errors.Is(err, store.ErrNoSuchKey) {
			t.Fatalf("%s stored an object: %v", name, err)
		}
		ups, err := b.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(b.bucket), Prefix: aws.String(objectKey("big", "new"))})
		if err != nil || len(ups.Uploads) != 0 {
			t.Fatalf("%s left backend uploads: %+v, %v", name, ups.Uploads, err)
		}
	}
}

// TestAttrValues: header values HTTP cannot carry verbatim come back
// exactly, and our own fields never show as user metadata.
func TestAttrValues(t *testing.T) {
	ctx := context.Background()
	b := newBackend(t)
	mustBucket(t, b, "attrs")
	attrs := store.ObjectAttrs{
		ContentDisposition: `attachment; filename="ünï.txt"`,
		Expires:            "0",
		UserMeta:           map[string]string{"word": "=?UTF-8?B?eA==?=", "space": " padded ", "plain": "v"},
		MirrorOrigin:       "https://origin.example/ü",
	}
	if _, err := b.PutObject(ctx, "attrs", "k", strings.NewReader("x"), store.PutOptions{Size: 1, Attrs: attrs}); err != nil {
		t.Fatal(err)
	}
	info, err := b.HeadObject(ctx, "attrs", "k")
	if err != nil {
		t.Fatal(err)
	}
	a := info.Attrs
	if a.ContentDisposition != attrs.ContentDisposition || a.Expires != "0" || a.MirrorOrigin != attrs.MirrorOrigin || !maps.Equal(a.UserMeta, attrs.UserMeta) {
		t.Fatalf("attrs = %+v, want %+v", a, attrs)
	}
}

// TestCreateBucketRace: of concurrent creates by different owners (as from
// several nodes), exactly one wins; the others see the bucket as taken.
func TestCreateBucketRace(t *testing.T) {
	b := newBackend(t)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = b.CreateBucket(context.Background(), "race", fmt.Sprint("owner-", i)) })
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrBucketAlreadyExists):
			t.Fatalf("create %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d creates won", won)
	}
}

// TestKnownSizeMultipart: a known size past the single-PUT limit streams
// as a multipart upload with no buffering; a short, long, vetoed or
// mis-digested body aborts it and stores nothing.
func TestKnownSizeMultipart(t *testing.T) {
	ctx := context.Background()
	b := newBackend(t)
	b.singlePutMax, b.streamPartMin = 6<<20, 5<<20
	mustBucket(t, b, "big")
	data := make([]byte, 17<<20+3)
	for i := range data {
		data[i] = byte(i * 13)
	}
	sum := md5.Sum(data)
	info, err := b.PutObject(ctx, "big", "k", bytes.NewReader(data), store.PutOptions{Size: int64(len(data)), ContentMD5: sum[:]})
	if err != nil {
		t.Fatal(err)
	}
	if info.PartsCount != 4 || !strings.HasSuffix(info.ETag, "-4") {
		t.Fatalf("info = %+v", info)
	}
	obj, err := b.GetObject(ctx, "big", "k", store.GetOptions{PartNumber: 4})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if obj.Offset != 15<<20 || !bytes.Equal(got, data[15<<20:]) {
		t.Fatalf("part 4: offset %d, %d bytes", obj.Offset, len(got))
	}
	for _, n := range []int{5, 6, 1000} {
		if _, err := b.GetObject(ctx, "big", "k", store.GetOptions{PartNumber: n}); !errors.Is(err, store.ErrInvalidPartNumber) {
			t.Fatalf("part %d of 4: %v", n, err)
		}
	}

	wrong := md5.Sum([]byte("other"))
	veto := errors.New("veto")
	for name, c := range map[string]struct {
		body io.Reader
		size int64
		md5  []byte
		want error
	}{
		"short":      {bytes.NewReader(data[:len(data)-1]), int64(len(data)), nil, store.ErrIncompleteBody},
		"long":       {bytes.NewReader(data), int64(len(data)) - 1, nil, store.ErrIncompleteBody},
		"veto":       {&failAfter{bytes.NewReader(data), veto}, int64(len(data)), nil, veto},
		"bad digest": {bytes.NewReader(data), int64(len(data)), wrong[:], store.ErrBadDigest},
	} {
		_, err := b.PutObject(ctx, "big", "new", c.body, store.PutOptions{Size: c.size, ContentMD5: c.md5})
		if !errors.Is(err, c.want) {
			t.Fatalf("%s: %v, want %v", name, err, c.want)
		}
		if _, err := b.HeadObject(ctx, "big", "new"); !errors.Is(err, store.ErrNoSuchKey) {
			t.Fatalf("%s stored an object: %v", name, err)
		}
		ups, err := b.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(b.bucket), Prefix: aws.String(objectKey("big", "new"))})
		if err != nil || len(ups.Uploads) != 0 {
			t.Fatalf("%s left backend uploads: %+v, %v", name, ups.Uploads, err)
		}
	}
}

// TestSlowConditionalPutDoesNotStallReads: MinIO locks a key for the whole
// body of a conditional PUT, so a slow conditional body (a mirror fill at
// the origin's pace) is spooled before it is sent; meanwhile the key reads
// and writes as usual.
func TestSlowConditionalPutDoesNotStallReads(t *testing.T) {
	ctx := context.Background()
	b := newBackend(t)
	mustBucket(t, b, "p")
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := b.PutObject(ctx, "p", "k", pr, store.PutOptions{Size: 8, Conditions: store.Conditions{IfNoneMatchStar: true}})
		done <- err
	}()
	if _, err := pw.Write([]byte("orig")); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := b.HeadObject(cctx, "p", "k"); !errors.Is(err, store.ErrNoSuchKey) {
		t.Fatalf("HEAD during a slow conditional PUT: %v", err)
	}
	if _, err := b.PutObject(cctx, "p", "k", strings.NewReader("client"), store.PutOptions{Size: 6}); err != nil {
		t.Fatalf("PUT during a slow conditional PUT: %v", err)
	}
	_, _ = pw.Write([]byte("inal"))
	pw.Close()
	if err := <-done; !errors.Is(err, store.ErrPreconditionFailed) {
		t.Fatalf("the slow conditional PUT = %v, want ErrPreconditionFailed (the client's PUT came first)", err)
	}
}

// TestTimeout: a cluster that accepts requests but stalls answers with
// ErrUnavailable within Config.Timeout, tried once (not once per retry);
// one that stalls mid-body ends the read within Timeout.
func TestTimeout(t *testing.T) {
	const timeout = 500 * time.Millisecond
	var hits atomic.Int64
	release := make(chan struct{})
	stalled := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead && strings.Contains(r.URL.Path, bucketsDir) {
			return // the bucket exists, so a PUT goes on to its body
		}
		hits.Add(1)
		if r.Method == http.MethodGet && r.URL.Query().Get("tagging") == "" && strings.HasSuffix(r.URL.Path, "/body") {
			w.Header().Set("Content-Length", "100")
			w.Header().Set("ETag", `"0123456789abcdef0123456789abcdef"`)
			_, _ = w.Write([]byte("first bytes"))
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer stalled.Close()
	defer close(release)
	b, err := Open(Config{Endpoint: stalled.URL, Bucket: "x", AccessKey: "k", SecretKey: "s", Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()

	start := time.Now()
	_, err = b.HeadObject(ctx, "bucket", "key")
	if took := time.Since(start); !errors.Is(err, store.ErrUnavailable) || took > timeout+time.Second {
		t.Fatalf("HeadObject on a stalled cluster = %v after %s, want ErrUnavailable within %s", err, took, timeout)
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("a timed-out request was sent %d times, want once", n)
	}

	obj, err := b.GetObject(ctx, "bucket", "body", store.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Body.Close()
	start = time.Now()
	data, err := io.ReadAll(obj.Body)
	if took := time.Since(start); !errors.Is(err, store.ErrUnavailable) || took > timeout+time.Second {
		t.Fatalf("reading a body the cluster stalls = %d bytes, %v after %s, want ErrUnavailable within %s", len(data), err, took, timeout)
	}
	if string(data) != "first bytes" {
		t.Fatalf("read %q before the stall", data)
	}

	// The handler never reads the body: once the sockets' buffers are
	// full, the cluster has stopped taking the request.
	const size = 64 << 20
	start = time.Now()
	_, err = b.PutObject(ctx, "bucket", "key", io.LimitReader(zeros{}, size), store.PutOptions{Size: size})
	if took := time.Since(start); !errors.Is(err, store.ErrUnavailable) || took > timeout+time.Second {
		t.Fatalf("PutObject to a cluster that stopped reading = %v after %s, want ErrUnavailable within %s", err, took, timeout)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestSpoolDir: a conditional body past the memory buffer is spooled in
// Config.SpoolDir while it is sent and removed after; Open empties the
// folder, so what a killed node was spooling does not outlive its restart.
func TestSpoolDir(t *testing.T) {
	ctx := context.Background()
	b := newBackend(t)
	dir := t.TempDir()
	stale := filepath.Join(dir, "mirrorstore-part-left-by-a-kill")
	if err := os.WriteFile(stale, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	b2, err := Open(Config{Endpoint: minioEndpoint, Bucket: b.bucket, AccessKey: minioUser, SecretKey: minioPassword, SpoolDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("Open left %v in the spool folder", left)
	}
	mustBucket(t, b2, "spool")
	data := bytes.Repeat([]byte("spooled "), (streamPartSize+1<<20)/8)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := b2.PutObject(ctx, "spool", "k", pr, store.PutOptions{Size: int64(len(data)), Conditions: store.Conditions{IfNoneMatchStar: true}})
		done <- err
	}()
	if _, err := pw.Write(data[:len(data)-1]); err != nil {
		t.Fatal(err)
	}
	if spooling, _ := filepath.Glob(filepath.Join(dir, "mirrorstore-part-*")); len(spooling) != 1 {
		t.Fatalf("while spooling, the spool folder holds %v", spooling)
	}
	_, _ = pw.Write(data[len(data)-1:])
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("the spooled body outlived its PUT: %v", left)
	}
}
