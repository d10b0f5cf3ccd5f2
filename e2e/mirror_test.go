package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"mirrorstore/internal/origin"
	"mirrorstore/internal/server"
)

// fakeOrigin is a real HTTP origin that serves a table of paths, counts
// every request per path and keeps the headers of the last one.
type fakeOrigin struct {
	*httptest.Server
	mu     sync.Mutex
	routes map[string]http.HandlerFunc
	hits   map[string]int
	last   map[string]http.Header
}

func newFakeOrigin(t *testing.T) *fakeOrigin {
	o := &fakeOrigin{routes: map[string]http.HandlerFunc{}, hits: map[string]int{}, last: map[string]http.Header{}}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.hits[r.URL.Path]++
		o.last[r.URL.Path] = r.Header.Clone()
		h := o.routes[r.URL.Path]
		o.mu.Unlock()
		if h == nil {
			http.NotFound(w, r)
			return
		}
		h(w, r)
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *fakeOrigin) handle(path string, h http.HandlerFunc) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.routes[path] = h
}

// serve answers path with body and the given header pairs.
func (o *fakeOrigin) serve(path string, body []byte, hdr ...string) {
	o.handle(path, func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		_, _ = w.Write(body)
	})
}

func (o *fakeOrigin) count(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits[path]
}

func (o *fakeOrigin) lastHeader(path string) http.Header {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last[path]
}

// startMirrorServer starts an in-process server whose mirror may reach
// loopback origins (the test origins) unless allowPrivate is false.
func startMirrorServer(t *testing.T, allowPrivate bool) *testServer {
	t.Helper()
	return startMirrorServerWith(t, server.MirrorConfig{
		Timeout:      5 * time.Second,
		IdleTimeout:  5 * time.Second,
		AllowPrivate: allowPrivate,
		Version:      "e2e",
	})
}

// startMirrorServerWith starts an in-process server with the given mirror
// settings (the --mirror-* flags).
func startMirrorServerWith(t *testing.T, mc server.MirrorConfig) *testServer {
	t.Helper()
	dir := t.TempDir()
	cfg := server.Config{
		Addr:            "127.0.0.1:0",
		DataDir:         filepath.Join(dir, "data"),
		Backend:         testBackend(t, dir),
		AccessKey:       testAccessKey,
		SecretKey:       testSecretKey,
		ShutdownTimeout: 5 * time.Second,
		Mirror:          mc,
	}
	return startConfigured(t, cfg)
}

// signed sends a request signed with the root credential by the SDK's v4
// signer; hdr is name, value pairs.
func signedRequest(t *testing.T, base, method, path string, body []byte, hdr ...string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	r.Header.Set("X-Amz-Content-Sha256", hash)
	creds := aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey}
	// S3 signs the path as sent, not escaped a second time.
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), creds, r, hash, "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	return r
}

// reply is a whole answer, or the error of reading it.
type reply struct {
	status  int
	header  http.Header
	body    []byte
	readErr error
}

func (ts *testServer) send(t *testing.T, r *http.Request) reply {
	t.Helper()
	a, err := ts.try(r)
	if err != nil {
		t.Fatalf("%s %s: %v", r.Method, r.URL, err)
	}
	return a
}

// try is send for requests that may legitimately fail before an answer
// (a server killed mid-request), and for goroutines, where t.Fatal must
// not be called.
func (ts *testServer) try(r *http.Request) (reply, error) {
	resp, err := ts.client.Do(r)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	body, rerr := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: body, readErr: rerr}, nil
}

func (ts *testServer) signed(t *testing.T, method, path string, body []byte, hdr ...string) reply {
	t.Helper()
	return ts.send(t, signedRequest(t, ts.URL(), method, path, body, hdr...))
}

// putWebsite sets a bucket's routing rules with a raw signed PUT ?website.
func (ts *testServer) putWebsite(t *testing.T, bucket, rulesXML string) {
	t.Helper()
	doc := "<WebsiteConfiguration><RoutingRules>" + rulesXML + "</RoutingRules></WebsiteConfiguration>"
	if a := ts.signed(t, http.MethodPut, "/"+bucket+"?website", []byte(doc)); a.status != http.StatusOK {
		t.Fatalf("PUT ?website: %d %s", a.status, a.body)
	}
}

// mirrorRule is one RoutingRule mirroring keys under prefix from url;
// extra goes inside Redirect.
func mirrorRule(n int, prefix, url, extra string) string {
	return fmt.Sprintf(`<RoutingRule><RuleNumber>%d</RuleNumber>
<Condition><KeyPrefixEquals>%s</KeyPrefixEquals><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition>
<Redirect><RedirectType>Mirror</RedirectType><MirrorURL>%s</MirrorURL>%s</Redirect></RoutingRule>`, n, prefix, url, extra)
}

// mirrorBucket creates bucket with the given rules.
func (ts *testServer) mirrorBucket(t *testing.T, bucket string, rulesXML ...string) {
	t.Helper()
	if a := ts.signed(t, http.MethodPut, "/"+bucket, nil); a.status != http.StatusOK {
		t.Fatalf("create bucket: %d %s", a.status, a.body)
	}
	ts.putWebsite(t, bucket, strings.Join(rulesXML, ""))
}

// waitStored waits until a GET of path is served from the store (it has
// an ETag), not from a fill still committing.
func (ts *testServer) waitStored(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		a := ts.signed(t, http.MethodHead, path, nil)
		if a.status == http.StatusOK && a.header.Get("ETag") != "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not stored: HEAD %d %v", path, a.status, a.header)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func s3Code(body []byte) string {
	s := string(body)
	i := strings.Index(s, "<Code>")
	j := strings.Index(s, "</Code>")
	if i < 0 || j < i {
		return ""
	}
	return s[i+len("<Code>") : j]
}

func TestMirrorColdGetStoresThenServesLocally(t *testing.T) {
	ts := startMirrorServer(t, true)
	o := newFakeOrigin(t)
	body := bytes.Repeat([]byte("mirror me "), 10000)
	o.serve("/site/dir/a b.txt", body,
		"Content-Type", "text/plain", "Cache-Control", "max-age=60", "Content-Disposition", "inline",
		"X-Dropped", "yes", "ETag", `"origin"`, "x-amz-meta-color", "blue")
	ts.mirrorBucket(t, "mirrored", mirrorRule(1, "", o.URL+"/site/", `<MirrorHeaders><Pass>x-pass-me</Pass><Set><Key>x-fixed</Key><Value>42</Value></Set></MirrorHeaders>`))

	a := ts.signed(t, http.MethodGet, "/mirrored/dir/a%20b.txt?foo=bar", nil,
		"x-pass-me", "passed", "x-not-passed", "no", "Range", "", "Cookie", "c=1", "If-None-Match", `"x"`)
	if a.status != http.StatusOK || !bytes.Equal(a.body, body) || a.readErr != nil {
		t.Fatalf("cold GET: %d, %d bytes, %v", a.status, len(a.body), a.readErr)
	}
	wantTag := "MIRROR " + o.URL + "/site/dir/a b.txt"
	for name, want := range map[string]string{
		"X-Oss-Tag": wantTag, "Content-Type": "text/plain", "Cache-Control": "max-age=60",
		"Content-Disposition": "inline", "ETag": "", "X-Dropped": "", "X-Amz-Meta-Color": "",
	} {
		if got := a.header.Get(name); got != want {
			t.Errorf("cold GET %s = %q, want %q", name, got, want)
		}
	}
	if a.header.Get("Last-Modified") == "" {
		t.Error("cold GET has no Last-Modified")
	}

	// What the origin saw (SPEC §7 "What is sent").
	seen := o.lastHeader("/site/dir/a b.txt")
	if ua := seen.Get("User-Agent"); !strings.HasPrefix(ua, origin.UserAgentPrefix) {
		t.Errorf("origin saw User-Agent %q", ua)
	}
	if seen.Get("X-Pass-Me") != "passed" || seen.Get("X-Fixed") != "42" {
		t.Errorf("origin missed the rule's headers: %v", seen)
	}
	for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Content-Sha256", "X-Not-Passed", "Cookie", "If-None-Match", "Accept-Encoding", "Range"} {
		if v := seen.Get(h); v != "" {
			t.Errorf("origin saw %s: %q", h, v)
		}
	}

	// The second GET is local; the tag stays, now with the stored ETag.
	// The fill commits just after its readers saw the end, so a GET right
	// away may still join it.
	ts.waitStored(t, "/mirrored/dir/a%20b.txt")
	a = ts.signed(t, http.MethodGet, "/mirrored/dir/a%20b.txt", nil)
	if a.status != http.StatusOK || !bytes.Equal(a.body, body) {
		t.Fatalf("second GET: %d, %d bytes", a.status, len(a.body))
	}
	if n := o.count("/site/dir/a b.txt"); n != 1 {
		t.Fatalf("origin hit %d times, want 1", n)
	}
	sum := md5.Sum(body)
	if a.header.Get("ETag") != `"`+hex.EncodeToString(sum[:])+`"` || a.header.Get("X-Oss-Tag") != wantTag || a.header.Get("Cache-Control") != "max-age=60" {
		t.Fatalf("stored object headers: %v", a.header)
	}
	h := ts.signed(t, http.MethodHead, "/mirrored/dir/a%20b.txt", nil)
	if h.status != http.StatusOK || h.header.Get("X-Oss-Tag") != wantTag {
		t.Fatalf("HEAD: %d tag %q", h.status, h.header.Get("X-Oss-Tag"))
	}

	// A changed origin does not change the stored object.
	o.serve("/site/dir/a b.txt", []byte("changed"))
	if a = ts.signed(t, http.MethodGet, "/mirrored/dir/a%20b.txt", nil); !bytes.Equal(a.body, body) {
		t.Fatal("stored object refreshed from a changed origin")
	}

	// A PUT overwrites the tag.
	if p := ts.signed(t, http.MethodPut, "/mirrored/dir/a%20b.txt", []byte("mine")); p.status != http.StatusOK {
		t.Fatalf("PUT: %d", p.status)
	}
	a = ts.signed(t, http.MethodGet, "/mirrored/dir/a%20b.txt", nil)
	if string(a.body) != "mine" || a.header.Get("X-Oss-Tag") != "" {
		t.Fatalf("after PUT: %q tag %q", a.body, a.header.Get("X-Oss-Tag"))
	}
}

func TestMirrorOriginAnswers(t *testing.T) {
	ts := startMirrorServer(t, true)
	o := newFakeOrigin(t)
	o.serve("/final/x", []byte("final bytes"), "Content-Type", "text/x")
	for _, p := range []string{"/f/x", "/nf/x"} {
		o.handle(p, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/final/x", http.StatusFound)
		})
	}
	o.handle("/t/x", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte("origin says no"))
	})
	o.handle("/e/x", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	o.handle("/p/x", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusPartialContent) })
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()

	ts.mirrorBucket(t, "answers",
		mirrorRule(1, "f/", o.URL+"/", ""),
		mirrorRule(2, "nf/", o.URL+"/", "<MirrorFollowRedirect>false</MirrorFollowRedirect>"),
		mirrorRule(3, "n/", o.URL+"/", ""),
		mirrorRule(4, "t/", o.URL+"/", "<TransparentMirrorResponseCodes>403</TransparentMirrorResponseCodes>"),
		mirrorRule(5, "e/", o.URL+"/", ""),
		mirrorRule(6, "d/", deadURL+"/", ""),
		mirrorRule(7, "p/", o.URL+"/", ""),
		mirrorRule(8, "loop/", ts.URL()+"/answers/", ""),
	)
	for _, tc := range []struct {
		key      string
		status   int
		code     string
		body     string
		location string
	}{
		{key: "f/x", status: 200, body: "final bytes"},
		{key: "nf/x", status: 302, location: o.URL + "/final/x"},
		{key: "n/x", status: 404, code: "NoSuchKey"},
		{key: "t/x", status: 403, body: "origin says no"},
		{key: "e/x", status: 424, code: "MirrorFailed"},
		{key: "d/x", status: 424, code: "MirrorFailed"},
		{key: "p/x", status: 424, code: "MirrorFailed"},
		{key: "loop/x", status: 424, code: "MirrorFailed"},
		{key: "e/../x", status: 424, code: "MirrorFailed", body: "key not allowed to origin"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			ts.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			a := ts.signed(t, http.MethodGet, "/answers/"+tc.key, nil)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.body)
			}
			if tc.code != "" && s3Code(a.body) != tc.code {
				t.Fatalf("code %q, want %s: %s", s3Code(a.body), tc.code, a.body)
			}
			if tc.body != "" && !strings.Contains(string(a.body), tc.body) {
				t.Fatalf("body %q, want %q", a.body, tc.body)
			}
			if tc.location != "" && a.header.Get("Location") != tc.location {
				t.Fatalf("Location %q, want %q", a.header.Get("Location"), tc.location)
			}
			if tc.status == 200 {
				// The fill commits just after its reader saw the end (a
				// backend PUT away with --backend s3).
				ts.waitStored(t, "/answers/"+tc.key)
			} else if stored := ts.signed(t, http.MethodHead, "/answers/"+tc.key, nil); stored.status == 200 {
				t.Fatalf("stored after a %d answer: HEAD %d", tc.status, stored.status)
			}
		})
	}
}

func TestMirrorFailoverToSlave(t *testing.T) {
	ts := startMirrorServer(t, true)
	primary, slave := newFakeOrigin(t), newFakeOrigin(t)
	primary.handle("/k", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	slave.serve("/k", []byte("from the slave"))
	ts.mirrorBucket(t, "failover", mirrorRule(1, "", primary.URL+"/", "<MirrorURLSlave>"+slave.URL+"/</MirrorURLSlave>"))
	a := ts.signed(t, http.MethodGet, "/failover/k", nil)
	if a.status != 200 || string(a.body) != "from the slave" || primary.count("/k") != 1 || slave.count("/k") != 1 {
		t.Fatalf("failover: %d %q, hits %d/%d", a.status, a.body, primary.count("/k"), slave.count("/k"))
	}
	if tag := a.header.Get("X-Oss-Tag"); tag != "MIRROR "+slave.URL+"/k" {
		t.Fatalf("tag %q names the origin that did not answer", tag)
	}
}

func TestMirrorBrokenBodyIsNotStored(t *testing.T) {
	ts := startMirrorServer(t, true)
	o := newFakeOrigin(t)
	var shortServed atomic.Int64
	o.handle("/short", func(w http.ResponseWriter, r *http.Request) {
		if shortServed.Add(1) > 1 {
			_, _ = w.Write(bytes.Repeat([]byte("w"), 1000))
			return
		}
		w.Header().Set("Content-Length", "1000")
		_, _ = w.Write(bytes.Repeat([]byte("s"), 400))
		// The client has the headers before the body breaks.
		w.(http.Flusher).Flush()
		time.Sleep(100 * time.Millisecond)
	})
	good := []byte("the real bytes")
	sum := md5.Sum([]byte("other bytes"))
	o.serve("/md5", good, "Content-Md5", base64.StdEncoding.EncodeToString(sum[:]))
	ts.mirrorBucket(t, "broken", mirrorRule(1, "", o.URL+"/", "<MirrorCheckMd5>true</MirrorCheckMd5>"))

	for _, key := range []string{"short", "md5"} {
		a := ts.signed(t, http.MethodGet, "/broken/"+key, nil)
		if a.status != 200 || a.readErr == nil {
			t.Fatalf("%s: status %d, read error %v, %d bytes %v: the client must see its connection cut (%d origin hits)", key, a.status, a.readErr, len(a.body), a.header, o.count("/"+key))
		}
		if h := ts.signed(t, http.MethodHead, "/broken/"+key, nil); h.status != http.StatusNotFound {
			t.Fatalf("%s: stored after a broken fill: HEAD %d", key, h.status)
		}
	}
	// The next GET mirrors afresh.
	a := ts.signed(t, http.MethodGet, "/broken/short", nil)
	if a.status != 200 || a.readErr != nil || len(a.body) != 1000 || o.count("/short") != 2 {
		t.Fatalf("second GET: %d %v %d bytes, %d origin hits", a.status, a.readErr, len(a.body), o.count("/short"))
	}
}

func TestMirrorHeadOptIn(t *testing.T) {
	ts := startMirrorServer(t, true)
	o := newFakeOrigin(t)
	o.serve("/yes/k", []byte("0123456789"), "Content-Type", "text/plain")
	o.serve("/no/k", []byte("0123456789"))
	ts.mirrorBucket(t, "heads",
		mirrorRule(1, "yes/", o.URL+"/", "<MirrorAllowHeadObject>true</MirrorAllowHeadObject>"),
		mirrorRule(2, "no/", o.URL+"/", ""))
	h := ts.signed(t, http.MethodHead, "/heads/yes/k", nil)
	if h.status != 200 || h.header.Get("Content-Length") != "10" || h.header.Get("X-Oss-Tag") == "" || len(h.body) != 0 {
		t.Fatalf("HEAD with MirrorAllowHeadObject: %d %v", h.status, h.header)
	}
	if h := ts.signed(t, http.MethodHead, "/heads/no/k", nil); h.status != http.StatusNotFound || o.count("/no/k") != 0 {
		t.Fatalf("HEAD without MirrorAllowHeadObject: %d, %d origin hits", h.status, o.count("/no/k"))
	}
}

func TestMirrorRangeOnMiss(t *testing.T) {
	ts := startMirrorServer(t, true)
	o := newFakeOrigin(t)
	body := []byte("0123456789abcdefghij")
	o.serve("/known", body)
	// No Content-Length: the range waits for the body's end.
	o.handle("/chunked", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(body[:10])
		w.(http.Flusher).Flush()
		_, _ = w.Write(body[10:])
	})
	ts.mirrorBucket(t, "ranges", mirrorRule(1, "", o.URL+"/", ""))
	for _, key := range []string{"known", "chunked"} {
		a := ts.signed(t, http.MethodGet, "/ranges/"+key, nil, "Range", "bytes=5-12")
		if a.status != http.StatusPartialContent || string(a.body) != "56789abc" || a.header.Get("Content-Range") != "bytes 5-12/20" {
			t.Fatalf("%s: %d %q %q", key, a.status, a.body, a.header.Get("Content-Range"))
		}
		if o.lastHeader("/"+key).Get("Range") != "" {
			t.Fatalf("%s: Range was sent to the origin", key)
		}
		// The whole object was stored.
		if a := ts.signed(t, http.MethodGet, "/ranges/"+key, nil); !bytes.Equal(a.body, body) {
			t.Fatalf("%s stored as %q", key, a.body)
		}
	}
}

func TestMirrorAnonymousOnPublicBucket(t *testing.T) {
	ts := startMirrorServer(t, true)
	o := newFakeOrigin(t)
	o.serve("/pub.txt", []byte("public"))
	ts.mirrorBucket(t, "public", mirrorRule(1, "", o.URL+"/", ""))
	if _, err := ts.rootClient().PutBucketAcl(context.Background(), &s3.PutBucketAclInput{Bucket: aws.String("public"), ACL: types.BucketCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest(http.MethodGet, ts.URL()+"/public/pub.txt", nil)
	a := ts.send(t, r)
	if a.status != 200 || string(a.body) != "public" || o.count("/pub.txt") != 1 {
		t.Fatalf("anonymous GET: %d %q, %d origin hits", a.status, a.body, o.count("/pub.txt"))
	}
}

func TestMirrorClientPutDuringFillWins(t *testing.T) {
	ts := startMirrorServer(t, true)
	o := newFakeOrigin(t)
	release := make(chan struct{})
	started := make(chan struct{})
	o.handle("/slow", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "8")
		_, _ = w.Write([]byte("orig"))
		w.(http.Flusher).Flush()
		close(started)
		<-release
		_, _ = w.Write([]byte("inal"))
	})
	ts.mirrorBucket(t, "race", mirrorRule(1, "", o.URL+"/", ""))
	done := make(chan reply, 1)
	getReq := signedRequest(t, ts.URL(), http.MethodGet, "/race/slow", nil)
	go func() {
		// No t.Fatal off the test goroutine: a failed request is
		// reported through the reply and fails the check below.
		a, err := ts.try(getReq)
		if err != nil {
			a.readErr = err
		}
		done <- a
	}()
	<-started
	if p := ts.signed(t, http.MethodPut, "/race/slow", []byte("client")); p.status != 200 {
		t.Fatalf("PUT during the fill: %d", p.status)
	}
	close(release)
	if a := <-done; a.status != 200 || string(a.body) != "original" {
		t.Fatalf("the filling GET: %d %q", a.status, a.body)
	}
	// The fill ends after its reader; whenever it commits, the client's
	// PUT must still be what is stored.
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		a := ts.signed(t, http.MethodGet, "/race/slow", nil)
		if string(a.body) != "client" || a.header.Get("X-Oss-Tag") != "" {
			t.Fatalf("the fill overwrote the client's PUT: %q tag %q", a.body, a.header.Get("X-Oss-Tag"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestMirrorRefusesLoopbackOrigin(t *testing.T) {
	ts := startMirrorServer(t, false)
	o := newFakeOrigin(t)
	o.serve("/k", []byte("private"))
	ts.mirrorBucket(t, "guard", mirrorRule(1, "", o.URL+"/", ""))
	a := ts.signed(t, http.MethodGet, "/guard/k", nil)
	if a.status != http.StatusFailedDependency || s3Code(a.body) != "MirrorFailed" || o.count("/k") != 0 {
		t.Fatalf("loopback origin: %d %s, %d origin hits", a.status, a.body, o.count("/k"))
	}
}

// coldConcurrentGets sends n concurrent GETs of one cold key of size bytes
// and checks the origin was asked once and every client got the bytes.
func coldConcurrentGets(t *testing.T, n, size int) {
	ts := startMirrorServer(t, true)
	ts.client.Transport.(*http.Transport).MaxIdleConnsPerHost = n
	o := newFakeOrigin(t)
	body := make([]byte, size)
	for i := range body {
		body[i] = byte(i * 7)
	}
	gate := make(chan struct{})
	o.handle("/big", func(w http.ResponseWriter, r *http.Request) {
		<-gate
		http.ServeContent(w, r, "big", time.Time{}, bytes.NewReader(body))
	})
	ts.mirrorBucket(t, "many", mirrorRule(1, "", o.URL+"/", ""))
	want := sha256.Sum256(body)
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := signedRequest(t, ts.URL(), http.MethodGet, "/many/big", nil)
			resp, err := ts.client.Do(r)
			if err != nil {
				errs <- err.Error()
				return
			}
			defer resp.Body.Close()
			h := sha256.New()
			if _, err := io.Copy(h, resp.Body); err != nil || resp.StatusCode != 200 || !bytes.Equal(h.Sum(nil), want[:]) {
				errs <- fmt.Sprintf("status %d, err %v, body differs", resp.StatusCode, err)
			}
		}()
	}
	// Let the requests pile up on the fill before the origin answers.
	time.Sleep(200 * time.Millisecond)
	close(gate)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if c := o.count("/big"); c != 1 {
		t.Fatalf("origin asked %d times, want 1", c)
	}
}

func TestMirrorConcurrentColdGets(t *testing.T) {
	coldConcurrentGets(t, 100, 2<<20)
}

// startNginx serves dir with Debian's nginx on a free loopback port and
// returns its base URL.
func startNginx(t *testing.T, dir string) string {
	t.Helper()
	work := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	conf := filepath.Join(work, "nginx.conf")
	cfg := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  types { text/plain txt; }
  server { listen %[2]s; location / { root %[3]s; } }
}
`, work, addr, dir)
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/sbin/nginx", "-c", conf, "-p", work)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return "http://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not listen: %v\n%s", err, log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMirrorFromNginx(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("static file served by nginx\n"), 5000)
	if err := os.WriteFile(filepath.Join(dir, "page.txt"), body, 0o644); err != nil {
		t.Fatal(err)
	}
	base := startNginx(t, dir)
	ts := startMirrorServer(t, true)
	ts.mirrorBucket(t, "nginx", mirrorRule(1, "", base+"/", ""))
	a := ts.signed(t, http.MethodGet, "/nginx/page.txt", nil)
	if a.status != 200 || !bytes.Equal(a.body, body) || a.header.Get("Content-Type") != "text/plain" {
		t.Fatalf("GET through nginx: %d, %d bytes, %q", a.status, len(a.body), a.header.Get("Content-Type"))
	}
	// nginx has no such file: 404 passes as NoSuchKey.
	if a := ts.signed(t, http.MethodGet, "/nginx/absent.txt", nil); a.status != 404 || s3Code(a.body) != "NoSuchKey" {
		t.Fatalf("GET of a file nginx lacks: %d %s", a.status, a.body)
	}
	if err := os.Remove(filepath.Join(dir, "page.txt")); err != nil {
		t.Fatal(err)
	}
	if a := ts.signed(t, http.MethodGet, "/nginx/page.txt", nil); a.status != 200 || !bytes.Equal(a.body, body) {
		t.Fatalf("stored object gone once the origin lost it: %d", a.status)
	}
}

// buildServerBinary builds cmd/mirrorstore, as the crash tests do, so a
// test can kill it with SIGKILL.
func buildServerBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mirrorstore")
	out, err := exec.Command("go", "build", "-o", bin, "mirrorstore/cmd/mirrorstore").CombinedOutput()
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// startBinary runs the server binary on addr over data and waits until it
// is ready.
func startBinary(t *testing.T, bin, addr, data string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "server", "--addr", addr, "--data", data, "--mirror-allow-private")
	cmd.Env = append(os.Environ(), "MIRRORSTORE_ACCESS_KEY="+testAccessKey, "MIRRORSTORE_SECRET_KEY="+testSecretKey)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	waitReady(t, http.DefaultClient, "http://"+addr)
	return cmd
}

func TestMirrorKillDuringFill(t *testing.T) {
	bin := buildServerBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	body := make([]byte, 4<<20)
	for i := range body {
		body[i] = byte(i / 3)
	}
	o := newFakeOrigin(t)
	halfSent := make(chan struct{})
	var first atomic.Bool
	o.handle("/cut", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		if first.CompareAndSwap(false, true) {
			_, _ = w.Write(body[:len(body)/2])
			w.(http.Flusher).Flush()
			close(halfSent)
			// Hold the rest until the server is gone.
			<-r.Context().Done()
			return
		}
		_, _ = w.Write(body)
	})

	srv := startBinary(t, bin, addr, data)
	ts := &testServer{client: &http.Client{}}
	base := "http://" + addr
	send := func(method, path string, b []byte) reply {
		return ts.send(t, signedRequest(t, base, method, path, b))
	}
	if a := send(http.MethodPut, "/crash", nil); a.status != 200 {
		t.Fatalf("create bucket: %d %s", a.status, a.body)
	}
	doc := "<WebsiteConfiguration><RoutingRules>" + mirrorRule(1, "", o.URL+"/", "") + "</RoutingRules></WebsiteConfiguration>"
	if a := send(http.MethodPut, "/crash?website", []byte(doc)); a.status != 200 {
		t.Fatalf("PUT ?website: %d %s", a.status, a.body)
	}

	got := make(chan reply, 1)
	cut := signedRequest(t, base, http.MethodGet, "/crash/cut", nil)
	go func() {
		// The kill may land before the answer's headers reach us: then
		// the request itself fails, which is as good as a cut body.
		a, err := ts.try(cut)
		if err != nil {
			a.readErr = err
		}
		got <- a
	}()
	<-halfSent
	_ = srv.Process.Signal(syscall.SIGKILL)
	_ = srv.Wait()
	if a := <-got; a.readErr == nil && a.status == 200 {
		t.Fatalf("the GET cut by the kill ended cleanly with %d bytes", len(a.body))
	}

	startBinary(t, bin, addr, data)
	// Nothing is visible under the key: a listing shows no object.
	if a := send(http.MethodGet, "/crash?list-type=2", nil); a.status != 200 || strings.Contains(string(a.body), "<Key>cut</Key>") {
		t.Fatalf("after restart the listing shows the half-filled key: %d %s", a.status, a.body)
	}
	// Fills stage in the engine's tmp/ (mirror-staging/ over a backend
	// that cannot adopt files): both are emptied at start.
	for _, dir := range []string{"tmp", "mirror-staging"} {
		if leftovers, _ := filepath.Glob(filepath.Join(data, dir, "*")); len(leftovers) != 0 {
			t.Fatalf("staging files survived the restart: %v", leftovers)
		}
	}
	a := send(http.MethodGet, "/crash/cut", nil)
	if a.status != 200 || a.readErr != nil || !bytes.Equal(a.body, body) || o.count("/cut") != 2 {
		t.Fatalf("GET after restart: %d %v, %d bytes, %d origin hits", a.status, a.readErr, len(a.body), o.count("/cut"))
	}
}
