package migrate

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"go.uber.org/goleak"

	"mirrorstore/internal/origin"
)

const partSize = 5 << 20

func TestFolderSource(t *testing.T) {
	srv := startServer(t)
	rec := &recorder{}
	c := newClient(srv, rec)
	mkBucket(t, c, "dst")
	large := pattern(2*partSize+12345, 1) // three parts
	files := map[string][]byte{
		"index.html":                     []byte("<h1>home</h1>"),
		"a/b/c/deep.txt":                 []byte("deep"),
		"ünïcödé/文件 with space.json":     []byte(`{"k":1}`),
		"empty.bin":                      {},
		"big/large.bin":                  large,
		"emoji/🙂.css":                    []byte("body{}"),
		"a/b/sibling-of-c.txt":           []byte("sibling"),
		"percent%20and+plus&amp;eq=.txt": []byte("odd"),
	}
	dir := writeTree(t, files)
	sum, err := Run(context.Background(), Config{Source: folder(t, dir), Client: c, Bucket: "dst", PartSize: partSize})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Copied != len(files) || sum.Failed != 0 || sum.Skipped != 0 {
		t.Fatalf("summary %+v", sum)
	}
	var total int64
	for k, want := range files {
		total += int64(len(want))
		got, out := get(t, c, "dst", k)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes back, want %d", k, len(got), len(want))
		}
		if k == "big/large.bin" && !strings.HasSuffix(aws.ToString(out.ETag), `-3"`) {
			t.Errorf("large file ETag %s: want a 3-part multipart ETag", aws.ToString(out.ETag))
		}
		if k == "index.html" && aws.ToString(out.ContentType) != "text/html; charset=utf-8" {
			t.Errorf("index.html Content-Type %q", aws.ToString(out.ContentType))
		}
		// Every write of a new object is conditional: PUT, or the
		// CompleteMultipartUpload of the large one.
		for _, w := range rec.writes("dst", k) {
			if w.IfNoneMatch != "*" || w.IfMatch != "" {
				t.Errorf("%s: %s sent If-None-Match %q If-Match %q", k, w.Method, w.IfNoneMatch, w.IfMatch)
			}
		}
		if len(rec.writes("dst", k)) != 1 {
			t.Errorf("%s: %d writes", k, len(rec.writes("dst", k)))
		}
	}
	if sum.CopiedBytes != total {
		t.Errorf("copied %d bytes, want %d", sum.CopiedBytes, total)
	}
}

func TestS3Source(t *testing.T) {
	src, dst := startServer(t), startServer(t)
	sc, dc := newClient(src, nil), newClient(dst, nil)
	mkBucket(t, sc, "old")
	mkBucket(t, dc, "new")
	ctx := context.Background()
	_, err := sc.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String("old"), Key: aws.String("site/page.html"), Body: strings.NewReader("<p>page</p>"),
		ContentType: aws.String("text/html"), CacheControl: aws.String("max-age=60"),
		ContentDisposition: aws.String(`inline; filename="page.html"`), ContentLanguage: aws.String("fr"),
		Metadata: map[string]string{"origin": "old-site"},
	})
	if err != nil {
		t.Fatal(err)
	}
	put(t, sc, "old", "site/ü/data.bin", pattern(1000, 2))
	put(t, sc, "old", "elsewhere/not-copied", []byte("x"))
	// A multipart object in the source: its ETag is not an MD5.
	big := pattern(partSize+10, 3)
	runMultipart(t, sc, "old", "site/big.bin", big)

	s := counting(NewS3Source(sc, "old", "site/"))
	sum, err := Run(ctx, Config{Source: s, Client: dc, Bucket: "new", PartSize: partSize})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Copied != 3 || sum.Failed != 0 {
		t.Fatalf("summary %+v", sum)
	}
	keys := keysOf(t, dc, "new")
	if len(keys) != 3 || !keys["site/page.html"] || !keys["site/ü/data.bin"] || !keys["site/big.bin"] {
		t.Fatalf("keys %v", keys)
	}
	_, out := get(t, dc, "new", "site/page.html")
	if aws.ToString(out.ContentType) != "text/html" || aws.ToString(out.CacheControl) != "max-age=60" ||
		aws.ToString(out.ContentDisposition) != `inline; filename="page.html"` || aws.ToString(out.ContentLanguage) != "fr" ||
		out.Metadata["origin"] != "old-site" {
		t.Errorf("headers not kept: %+v", out)
	}
	if got, _ := get(t, dc, "new", "site/big.bin"); !bytes.Equal(got, big) {
		t.Error("big.bin differs")
	}

	// A second run finds everything in place: nothing is read again,
	// whether the ETags are MD5s (compared) or multipart (size only).
	s2 := counting(NewS3Source(sc, "old", "site/"))
	sum, err = Run(ctx, Config{Source: s2, Client: dc, Bucket: "new", Overwrite: true, PartSize: partSize})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Skipped != 3 || sum.Copied != 0 || len(s2.opened()) != 0 {
		t.Errorf("rerun: summary %+v, opened %v", sum, s2.opened())
	}
}

func runMultipart(t *testing.T, c *s3.Client, bucket, key string, body []byte) {
	t.Helper()
	ctx := context.Background()
	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	var parts []types.CompletedPart
	for i, off := int32(1), 0; off < len(body); i, off = i+1, off+partSize {
		end := min(off+partSize, len(body))
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: cr.UploadId,
			PartNumber: aws.Int32(i), Body: bytes.NewReader(body[off:end])})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(i)})
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key),
		UploadId: cr.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		t.Fatal(err)
	}
}

// origin is an httptest origin serving files with headers, counting hits.
type testOrigin struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

type originFile struct {
	body   []byte
	header map[string]string
	// fail503 is how many first requests answer 503.
	fail503 int
}

func startOrigin(t *testing.T, files map[string]*originFile) *testOrigin {
	o := &testOrigin{hits: map[string]int{}}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.hits[r.URL.Path]++
		n := o.hits[r.URL.Path]
		o.mu.Unlock()
		f, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if n <= f.fail503 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		for k, v := range f.header {
			w.Header().Set(k, v)
		}
		w.Write(f.body)
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *testOrigin) hitsOf(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits[path]
}

func httpSource(t *testing.T, base string, keys []string, allowPrivate bool) *HTTPSource {
	t.Helper()
	client := origin.NewClient(origin.Config{AllowPrivate: allowPrivate, Version: "test"})
	t.Cleanup(client.Close)
	s, err := NewHTTPSource(client, base, keys)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHTTPSource(t *testing.T) {
	srv := startServer(t)
	c := newClient(srv, nil)
	mkBucket(t, c, "site")
	gz := []byte("\x1f\x8b pretend gzip")
	sum := md5.Sum([]byte("styled"))
	o := startOrigin(t, map[string]*originFile{
		"/img/logo.png": {body: []byte("png"), header: map[string]string{
			"Content-Type": "image/png", "Cache-Control": "public, max-age=86400", "Expires": "Thu, 01 Dec 2033 16:00:00 GMT",
			"Content-Disposition": "inline", "Content-Language": "de", "X-Powered-By": "old-server", "Set-Cookie": "a=b",
		}},
		"/js/app.js":         {body: gz, header: map[string]string{"Content-Type": "application/javascript", "Content-Encoding": "gzip"}},
		"/docs/été 2024.txt": {body: []byte("summer"), header: map[string]string{"Content-Type": "text/plain"}},
		"/css/site.css":      {body: []byte("styled"), header: map[string]string{"Content-Md5": b64(sum[:])}},
		"/big.bin":           {body: pattern(partSize+1, 4)},
		"/expires-zero.html": {body: []byte("x"), header: map[string]string{"Expires": "0"}},
	})
	keys := []string{"img/logo.png", "js/app.js", "docs/été 2024.txt", "css/site.css", "big.bin", "expires-zero.html", "missing.txt", "a/../escape"}
	res, err := Run(context.Background(), Config{Source: httpSource(t, o.URL, keys, true), Client: c, Bucket: "site", PartSize: partSize})
	if err != nil {
		t.Fatal(err)
	}
	if res.Copied != 6 || res.Failed != 2 {
		t.Fatalf("summary %+v", res)
	}
	reasons := map[string]string{}
	for _, f := range res.Failures {
		reasons[f.Key] = f.Error
	}
	if !strings.Contains(reasons["missing.txt"], "404") || !strings.Contains(reasons["a/../escape"], "not allowed") {
		t.Errorf("failures %v", reasons)
	}
	_, out := get(t, c, "site", "img/logo.png")
	if aws.ToString(out.ContentType) != "image/png" || aws.ToString(out.CacheControl) != "public, max-age=86400" ||
		aws.ToString(out.ExpiresString) != "Thu, 01 Dec 2033 16:00:00 GMT" || aws.ToString(out.ContentDisposition) != "inline" ||
		aws.ToString(out.ContentLanguage) != "de" || len(out.Metadata) != 0 {
		t.Errorf("logo headers: %+v", out)
	}
	body, out := get(t, c, "site", "js/app.js")
	if !bytes.Equal(body, gz) || aws.ToString(out.ContentEncoding) != "gzip" {
		t.Errorf("app.js: %q, encoding %q", body, aws.ToString(out.ContentEncoding))
	}
	if body, _ := get(t, c, "site", "docs/été 2024.txt"); string(body) != "summer" {
		t.Errorf("unicode key: %q", body)
	}
	if o.hitsOf("/a/../escape") != 0 || o.hitsOf("/escape") != 0 {
		t.Error("a key with a '..' segment reached the origin")
	}

	// The guard is on by default: the origin is on loopback.
	mkBucket(t, c, "guarded")
	res, err = Run(context.Background(), Config{Source: httpSource(t, o.URL, []string{"js/app.js"}, false), Client: c, Bucket: "guarded", PartSize: partSize})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != 1 || !strings.Contains(res.Failures[0].Error, "not allowed") {
		t.Errorf("private origin without AllowPrivate: %+v", res)
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func TestSkipExistingReadsNothing(t *testing.T) {
	srv := startServer(t)
	c := newClient(srv, nil)
	mkBucket(t, c, "dst")
	dir := writeTree(t, map[string][]byte{"same": []byte("same"), "differs": []byte("source"), "new": []byte("new")})
	put(t, c, "dst", "same", []byte("same"))
	put(t, c, "dst", "differs", []byte("client version"))
	s := counting(folder(t, dir))
	sum, err := Run(context.Background(), Config{Source: s, Client: c, Bucket: "dst"})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Copied != 1 || sum.Skipped != 2 || sum.Differ != 1 {
		t.Errorf("summary %+v", sum)
	}
	if got := s.opened(); len(got) != 1 || got["new"] != 1 {
		t.Errorf("source reads %v, want only new", got)
	}
	if b, _ := get(t, c, "dst", "differs"); string(b) != "client version" {
		t.Errorf("differs was overwritten without --overwrite: %q", b)
	}

	// HTTP keys have no size until fetched: present keys are still not read.
	o := startOrigin(t, map[string]*originFile{"/same": {body: []byte("same")}, "/other": {body: []byte("other")}})
	sum, err = Run(context.Background(), Config{Source: httpSource(t, o.URL, []string{"same", "other"}, true), Client: c, Bucket: "dst"})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Copied != 1 || sum.Skipped != 1 || o.hitsOf("/same") != 0 || o.hitsOf("/other") != 1 {
		t.Errorf("http: summary %+v, hits same=%d other=%d", sum, o.hitsOf("/same"), o.hitsOf("/other"))
	}
}

func TestOverwrite(t *testing.T) {
	srv := startServer(t)
	rec := &recorder{}
	c := newClient(srv, rec)
	mkBucket(t, c, "dst")
	big := pattern(partSize+100, 5)
	dir := writeTree(t, map[string][]byte{"same": []byte("same"), "size": []byte("longer source"), "md5": []byte("AAAA"), "big": big})
	put(t, c, "dst", "same", []byte("same"))
	put(t, c, "dst", "size", []byte("short"))
	put(t, c, "dst", "md5", []byte("BBBB"))
	put(t, c, "dst", "big", []byte("small before"))
	etags := map[string]string{}
	for _, k := range []string{"size", "md5", "big"} {
		_, out := get(t, c, "dst", k)
		etags[k] = aws.ToString(out.ETag)
	}
	sum, err := Run(context.Background(), Config{Source: folder(t, dir), Client: c, Bucket: "dst", Overwrite: true, PartSize: partSize})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Copied != 3 || sum.Replaced != 3 || sum.Skipped != 1 || sum.Failed+sum.Conflicts != 0 {
		t.Fatalf("summary %+v", sum)
	}
	for k, want := range map[string]string{"same": "same", "size": "longer source", "md5": "AAAA"} {
		if b, _ := get(t, c, "dst", k); string(b) != want {
			t.Errorf("%s = %q, want %q", k, b, want)
		}
	}
	if b, _ := get(t, c, "dst", "big"); !bytes.Equal(b, big) {
		t.Error("big not replaced")
	}
	for k, etag := range etags {
		w := rec.writes("dst", k)
		last := w[len(w)-1] // the first is the test's own put
		if len(w) != 2 || last.IfMatch != etag || last.IfNoneMatch != "" {
			t.Errorf("%s: writes %+v, want the last with If-Match %s", k, w, etag)
		}
	}
	if len(rec.writes("dst", "same")) != 1 {
		t.Error("an identical object was written again")
	}
}

func TestConflict(t *testing.T) {
	srv := startServer(t)
	c := newClient(srv, nil)
	other := newClient(srv, nil) // a client writing meanwhile
	mkBucket(t, c, "dst")
	dir := writeTree(t, map[string][]byte{"new.txt": []byte("migrated"), "big.bin": pattern(partSize+1, 6), "old.txt": []byte("migrated"), "quiet.txt": []byte("q")})
	put(t, c, "dst", "old.txt", []byte("before"))
	var hookCalls atomic.Int32
	hook := func(key string) {
		if key == "quiet.txt" {
			return
		}
		hookCalls.Add(1)
		put(t, other, "dst", key, []byte("client wrote "+key))
	}
	cfg := Config{Source: folder(t, dir), Client: c, Bucket: "dst", Overwrite: true, PartSize: partSize, Backoff: time.Millisecond, beforeWrite: hook}
	sum, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Conflicts != 3 || sum.Copied != 1 || sum.Failed != 0 {
		t.Fatalf("summary %+v", sum)
	}
	if hookCalls.Load() != 3 {
		t.Errorf("%d writes before the conflict: a 412 was retried", hookCalls.Load())
	}
	for _, f := range sum.Failures {
		if f.Kind != "conflict" || !strings.Contains(f.Error, "412") {
			t.Errorf("failure %+v", f)
		}
	}
	for _, k := range []string{"new.txt", "big.bin", "old.txt"} {
		if b, _ := get(t, c, "dst", k); string(b) != "client wrote "+k {
			t.Errorf("%s clobbered: %q", k, b)
		}
	}
}

func TestRetries(t *testing.T) {
	srv := startServer(t)
	c := newClient(srv, nil)
	mkBucket(t, c, "dst")
	o := startOrigin(t, map[string]*originFile{
		"/flaky": {body: []byte("finally"), fail503: 2},
		"/down":  {body: []byte("never"), fail503: 1000},
	})
	sum, err := Run(context.Background(), Config{Source: httpSource(t, o.URL, []string{"flaky", "down"}, true), Client: c, Bucket: "dst", Retries: 3, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Copied != 1 || sum.Failed != 1 {
		t.Fatalf("summary %+v", sum)
	}
	if b, _ := get(t, c, "dst", "flaky"); string(b) != "finally" || o.hitsOf("/flaky") != 3 {
		t.Errorf("flaky: %q after %d hits", b, o.hitsOf("/flaky"))
	}
	if o.hitsOf("/down") != 4 || !strings.Contains(sum.Failures[0].Error, "503") || !strings.Contains(sum.Failures[0].Error, "4 attempts") {
		t.Errorf("down: %d hits, failure %+v", o.hitsOf("/down"), sum.Failures)
	}
}

func TestResume(t *testing.T) {
	srv := startServer(t)
	c := newClient(srv, nil)
	mkBucket(t, c, "dst")
	files := map[string][]byte{}
	for i := range 60 {
		files[filepath.ToSlash(filepath.Join("d", string(rune('a'+i%6)), "f"+strings.Repeat("x", i%5)+string(rune('A'+i))))] = pattern(1000+i, byte(i))
	}
	dir := writeTree(t, files)
	state := filepath.Join(t.TempDir(), "state")

	ctx, cancel := context.WithCancel(context.Background())
	first := counting(folder(t, dir))
	first.onOpen = func(n int) {
		if n == 20 {
			cancel()
		}
	}
	sum, err := Run(ctx, Config{Source: first, Client: c, Bucket: "dst", StatePath: state, Concurrency: 4})
	if err != context.Canceled {
		t.Fatalf("interrupted run: %v", err)
	}
	done := keysOf(t, c, "dst")
	if sum.Copied == 0 || len(done) >= len(files) {
		t.Fatalf("interrupted run copied %d (%d in the bucket): the test needs a partial run", sum.Copied, len(done))
	}
	logged := readState(t, state)
	for k := range logged {
		if !done[k] {
			t.Errorf("state has %q, which is not in the bucket", k)
		}
	}

	// The rerun reads only what the first run did not complete, even with
	// --overwrite, which would otherwise compare every present object.
	second := counting(folder(t, dir))
	sum, err = Run(context.Background(), Config{Source: second, Client: c, Bucket: "dst", StatePath: state, Overwrite: true, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	for k := range second.opened() {
		if logged[k] {
			t.Errorf("%q completed in the first run and was read again", k)
		}
	}
	if sum.Resumed != len(logged) || sum.Failed+sum.Conflicts != 0 {
		t.Errorf("rerun summary %+v, %d logged", sum, len(logged))
	}
	if got := keysOf(t, c, "dst"); len(got) != len(files) {
		t.Errorf("%d keys after the rerun, want %d", len(got), len(files))
	}

	// Another migration cannot reuse the file.
	if _, err := Run(context.Background(), Config{Source: folder(t, t.TempDir()), Client: c, Bucket: "dst", StatePath: state}); err == nil {
		t.Error("a state file of another source was accepted")
	}
}

func readState(t *testing.T, path string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, l := range strings.Split(string(data), "\n")[1:] {
		var k string
		if json.Unmarshal([]byte(l), &k) == nil {
			keys[k] = true
		}
	}
	return keys
}

func TestCheckpointTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	h := stateHeader{Source: "/src", Bucket: "b"}
	cp, err := openCheckpoint(path, h)
	if err != nil {
		t.Fatal(err)
	}
	cp.Add("one")
	cp.Add("two\nlines")
	if err := cp.Close(); err != nil {
		t.Fatal(err)
	}
	// A crash mid-append leaves half a line.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`"thr`)
	f.Close()
	cp, err = openCheckpoint(path, h)
	if err != nil {
		t.Fatal(err)
	}
	if !cp.Done("one") || !cp.Done("two\nlines") || cp.Done("thr") {
		t.Errorf("loaded %v", cp.done)
	}
	cp.Add("four")
	cp.Close()
	cp, err = openCheckpoint(path, h)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if !cp.Done("four") || len(cp.done) != 3 {
		t.Errorf("after the torn line: %v", cp.done)
	}
}

func TestDryRun(t *testing.T) {
	srv := startServer(t)
	c := newClient(srv, nil)
	mkBucket(t, c, "dst")
	dir := writeTree(t, map[string][]byte{"a": []byte("12345"), "b/c": []byte("123"), "have": []byte("x")})
	put(t, c, "dst", "have", []byte("x"))
	s := counting(folder(t, dir))
	var out bytes.Buffer
	sum, err := Run(context.Background(), Config{Source: s, Client: c, Bucket: "dst", DryRun: true, Out: &out, StatePath: filepath.Join(t.TempDir(), "st")})
	if err != nil {
		t.Fatal(err)
	}
	if sum.WouldCopy != 2 || sum.WouldCopyBytes != 8 || sum.Copied != 0 || len(s.opened()) != 0 {
		t.Errorf("summary %+v, opened %v", sum, s.opened())
	}
	for _, want := range []string{`would copy "a" (5 bytes)`, `would copy "b/c" (3 bytes)`, "would copy 2 objects, 8 B; 1 already in the bucket"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if got := keysOf(t, c, "dst"); len(got) != 1 {
		t.Errorf("dry run wrote: %v", got)
	}
}

func TestLimits(t *testing.T) {
	srv := startServer(t)
	c := newClient(srv, nil)
	mkBucket(t, c, "dst")
	files := map[string][]byte{}
	for i := range 6 {
		files[string(rune('a'+i))] = pattern(100<<10, byte(i))
	}
	dir := writeTree(t, files)

	start := time.Now()
	sum, err := Run(context.Background(), Config{Source: folder(t, dir), Client: c, Bucket: "dst", Rate: 10})
	if err != nil || sum.Copied != 6 {
		t.Fatalf("rate: %+v %v", sum, err)
	}
	// A burst of one, then one every 100 ms.
	if el := time.Since(start); el < 450*time.Millisecond {
		t.Errorf("6 objects at 10/s took %s", el)
	}

	mkBucket(t, c, "dst2")
	start = time.Now()
	sum, err = Run(context.Background(), Config{Source: folder(t, dir), Client: c, Bucket: "dst2", Bandwidth: 1 << 20})
	if err != nil || sum.Copied != 6 {
		t.Fatalf("bandwidth: %+v %v", sum, err)
	}
	// The burst is 1/20 s of bandwidth, so 600 KiB take about 0.55 s.
	if el := time.Since(start); el < 400*time.Millisecond {
		t.Errorf("600 KiB at 1 MiB/s took %s", el)
	}
}

func TestProgressLines(t *testing.T) {
	srv := startServer(t)
	c := newClient(srv, nil)
	mkBucket(t, c, "dst")
	dir := writeTree(t, map[string][]byte{"a": pattern(3000, 1), "b": pattern(2000, 2)})
	var buf syncBuffer
	sum, err := Run(context.Background(), Config{Source: folder(t, dir), Client: c, Bucket: "dst", Progress: &buf, ProgressInterval: time.Hour})
	if err != nil || sum.Copied != 2 {
		t.Fatal(sum, err)
	}
	if !strings.Contains(buf.String(), "migrate: 2/2 objects, 4.9 KiB") {
		t.Errorf("progress: %q", buf.String())
	}
	var s bytes.Buffer
	WriteSummary(&s, sum)
	if !strings.HasPrefix(s.String(), "copied 2 objects (4.9 KiB, 0 replaced), skipped 0") {
		t.Errorf("summary: %q", s.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestReport(t *testing.T) {
	sum := Summary{Failures: []Failure{{Key: "k\n1", Kind: "failed", Error: "boom"}, {Key: "k2", Kind: "conflict", Error: "412"}}}
	var b bytes.Buffer
	if err := WriteReport(&b, sum); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("report %q", b.String())
	}
	var f Failure
	if err := json.Unmarshal([]byte(lines[0]), &f); err != nil || f != sum.Failures[0] {
		t.Errorf("line 1 %q: %+v %v", lines[0], f, err)
	}
}

// dropFirstAnswer commits each write at the server but loses the first
// answer for every key, as a connection reset after the commit would.
type dropFirstAnswer struct {
	mu      sync.Mutex
	dropped map[string]bool
	writes  map[string]int
}

func (d *dropFirstAnswer) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	hasKey := strings.Count(req.URL.Path, "/") >= 2
	isWrite := req.Method == http.MethodPut && !strings.Contains(req.URL.RawQuery, "partNumber") ||
		req.Method == http.MethodPost && strings.Contains(req.URL.RawQuery, "uploadId")
	if err != nil || !isWrite || !hasKey {
		return resp, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.writes[req.URL.Path]++
	if d.dropped[req.URL.Path] {
		return resp, nil
	}
	d.dropped[req.URL.Path] = true
	resp.Body.Close()
	return nil, errors.New("read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer")
}

// TestLostAnswerIsNotAConflict: a retried write of our own finds its first
// attempt committed (412); the object holds what we sent, so it is copied,
// not a conflict.
func TestLostAnswerIsNotAConflict(t *testing.T) {
	srv := startServer(t)
	drop := &dropFirstAnswer{dropped: map[string]bool{}, writes: map[string]int{}}
	c := newClient(srv, drop)
	mkBucket(t, c, "dst")
	big := pattern(partSize+7, 8)
	dir := writeTree(t, map[string][]byte{"small": []byte("small"), "big": big})
	sum, err := Run(context.Background(), Config{Source: folder(t, dir), Client: c, Bucket: "dst", PartSize: partSize, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Copied != 2 || sum.Conflicts != 0 || sum.Failed != 0 {
		t.Fatalf("summary %+v", sum)
	}
	for _, k := range []string{"/dst/small", "/dst/big"} {
		if drop.writes[k] < 2 {
			t.Errorf("%s written %d times: the lost answer was not retried", k, drop.writes[k])
		}
	}
	if b, _ := get(t, c, "dst", "big"); !bytes.Equal(b, big) {
		t.Error("big differs")
	}
}

func TestProgressBar(t *testing.T) {
	srv := startServer(t)
	c := newClient(srv, nil)
	mkBucket(t, c, "dst")
	dir := writeTree(t, map[string][]byte{"a": pattern(300<<10, 1), "b": pattern(200<<10, 2)})
	var buf syncBuffer
	sum, err := Run(context.Background(), Config{Source: folder(t, dir), Client: c, Bucket: "dst", Progress: &buf, Terminal: true})
	if err != nil || sum.Copied != 2 {
		t.Fatal(sum, err)
	}
	// The bar's last frame: objects, bytes of the total, rate, elapsed.
	out := buf.String()
	for _, want := range []string{"2/2 objects", "100%", "500 KiB", "/s"} {
		if !strings.Contains(out, want) {
			t.Errorf("bar lacks %q: %q", want, out)
		}
	}
}

// TestNoGoroutineLeft: an interrupted run with a checkpoint and progress
// lines stops every goroutine it started.
func TestNoGoroutineLeft(t *testing.T) {
	srv := startServer(t)
	tr := &http.Transport{}
	c := newClient(srv, tr)
	mkBucket(t, c, "dst")
	files := map[string][]byte{}
	for i := range 40 {
		files["f"+strings.Repeat("x", i)] = pattern(5000, byte(i))
	}
	dir := writeTree(t, files)
	tr.CloseIdleConnections()
	opt := goleak.IgnoreCurrent()
	ctx, cancel := context.WithCancel(context.Background())
	s := counting(folder(t, dir))
	s.onOpen = func(n int) {
		if n == 10 {
			cancel()
		}
	}
	_, err := Run(ctx, Config{Source: s, Client: c, Bucket: "dst", StatePath: filepath.Join(t.TempDir(), "st"),
		Progress: &syncBuffer{}, ProgressInterval: time.Millisecond, Concurrency: 4})
	if err != context.Canceled {
		t.Fatal(err)
	}
	tr.CloseIdleConnections()
	goleak.VerifyNone(t, opt)
}

// flakyDest answers the first fail writes of each key with status and an
// S3 error code, without passing them on.
type flakyDest struct {
	status int
	code   string
	fail   int
	mu     sync.Mutex
	tries  map[string]int
}

func (f *flakyDest) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPut && strings.Count(req.URL.Path, "/") >= 2 {
		f.mu.Lock()
		f.tries[req.URL.Path]++
		n := f.tries[req.URL.Path]
		f.mu.Unlock()
		if n <= f.fail {
			if req.Body != nil {
				req.Body.Close()
			}
			body := "<Error><Code>" + f.code + "</Code><Message>injected</Message></Error>"
			return &http.Response{StatusCode: f.status, Status: http.StatusText(f.status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
				Header: http.Header{"Content-Type": {"application/xml"}}, Body: io.NopCloser(strings.NewReader(body)),
				ContentLength: int64(len(body)), Request: req}, nil
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}

func TestDestinationRetries(t *testing.T) {
	srv := startServer(t)
	for _, tc := range []struct {
		status  int
		code    string
		fail    int
		copied  bool
		attempt int
	}{
		{http.StatusServiceUnavailable, "SlowDown", 3, true, 4},
		{http.StatusInternalServerError, "InternalError", 3, true, 4},
		{http.StatusBadRequest, "InvalidRequest", 100, false, 1},
	} {
		t.Run(tc.code, func(t *testing.T) {
			f := &flakyDest{status: tc.status, code: tc.code, fail: tc.fail, tries: map[string]int{}}
			// Two attempts per request in the SDK, quickly: the rest is
			// migrate's own retry.
			c := s3.New(s3.Options{
				Region: "us-east-1", BaseEndpoint: aws.String(srv.URL()), UsePathStyle: true,
				Credentials: credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""),
				HTTPClient:  &http.Client{Transport: f},
				Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
					o.MaxAttempts = 2
					o.MaxBackoff = time.Millisecond
					o.RateLimiter = ratelimit.None
				}),
			})
			bucket := strings.ToLower(tc.code)
			mkBucket(t, c, bucket)
			dir := writeTree(t, map[string][]byte{"k": []byte("v")})
			sum, err := Run(context.Background(), Config{Source: folder(t, dir), Client: c, Bucket: bucket, Backoff: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if got := f.tries["/"+bucket+"/k"]; got != tc.attempt {
				t.Errorf("%d attempts, want %d", got, tc.attempt)
			}
			if tc.copied != (sum.Copied == 1) || tc.copied == (sum.Failed == 1) {
				t.Errorf("summary %+v", sum)
			}
		})
	}
}
