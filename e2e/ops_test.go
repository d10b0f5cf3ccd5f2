package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"mirrorstore/internal/server"
)

// startOpsServer starts a plain-HTTP server with the test credentials and
// the operator settings edit makes.
func startOpsServer(t *testing.T, edit func(*server.Config)) *testServer {
	t.Helper()
	cfg := server.Config{
		Addr:            "127.0.0.1:0",
		DataDir:         filepath.Join(t.TempDir(), "data"),
		AccessKey:       testAccessKey,
		SecretKey:       testSecretKey,
		ShutdownTimeout: 5 * time.Second,
	}
	if edit != nil {
		edit(&cfg)
	}
	return startConfigured(t, cfg)
}

// scrape returns the value of every sample of /-/metrics, by its line's
// name and labels as exposed ("name{a=\"b\"}").
func (ts *testServer) scrape(t *testing.T) map[string]float64 {
	t.Helper()
	resp, err := ts.client.Get(ts.URL() + "/-/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/-/metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

func TestMetricsAfterRealRequests(t *testing.T) {
	ts := startOpsServer(t, nil)
	ctx := context.Background()
	c := ts.rootClient()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("ops")}); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("x"), 10_000)
	for _, k := range []string{"a", "b"} {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("ops"), Key: aws.String(k), Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	// Replacing "a" with a smaller object moves bytes, not objects.
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("ops"), Key: aws.String("a"), Body: strings.NewReader("small")}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("ops"), Key: aws.String("b")})
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, out.Body)
		out.Body.Close()
	}
	_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("ops"), Key: aws.String("missing")})
	wantCode(t, err, "NoSuchKey")
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("ops"), Key: aws.String("a")}); err != nil {
		t.Fatal(err)
	}
	// Deleting an absent key changes nothing.
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("ops"), Key: aws.String("never")}); err != nil {
		t.Fatal(err)
	}

	m := ts.scrape(t)
	want := map[string]float64{
		`mirrorstore_requests_total{operation="PutObject",status_class="2xx"}`:    3,
		`mirrorstore_requests_total{operation="GetObject",status_class="2xx"}`:    3,
		`mirrorstore_requests_total{operation="GetObject",status_class="4xx"}`:    1,
		`mirrorstore_requests_total{operation="DeleteObject",status_class="2xx"}`: 2,
		`mirrorstore_requests_total{operation="CreateBucket",status_class="2xx"}`: 1,
		`mirrorstore_request_duration_seconds_count{operation="GetObject"}`:       4,
		`mirrorstore_bucket_objects{bucket="ops"}`:                                1,
		`mirrorstore_bucket_bytes{bucket="ops"}`:                                  10_000,
		`mirrorstore_gets_local_total{bucket="ops"}`:                              3,
		`mirrorstore_gets_filled_total{bucket="ops"}`:                             0,
		`mirrorstore_mirror_fills_total{result="stored"}`:                         0,
		`mirrorstore_mirror_fills_in_flight`:                                      0,
	}
	for k, v := range want {
		got, ok := m[k]
		if !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	// The 404's error document goes out too, so sent bytes exceed the
	// three bodies; received bytes are at least the three PUT bodies.
	if got := m[`mirrorstore_bytes_sent_total{operation="GetObject"}`]; got <= 3*10_000 {
		t.Errorf("bytes sent by GetObject: %v", got)
	}
	if got := m[`mirrorstore_bytes_received_total{operation="PutObject"}`]; got < 2*10_000+5 {
		t.Errorf("bytes received by PutObject: %v", got)
	}
	// The scrape itself is a request, seen by the next one.
	if m2 := ts.scrape(t); m2[`mirrorstore_requests_total{operation="Metrics",status_class="2xx"}`] < 1 {
		t.Error("scrapes are not counted")
	}
}

func TestStatusPageAuth(t *testing.T) {
	ts := startOpsServer(t, nil)
	get := func(user, pass string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", ts.URL()+"/-/status", nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := ts.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("", ""); code != http.StatusUnauthorized {
		t.Fatalf("no credentials: %d", code)
	}
	if code, _ := get(testAccessKey, "wrong"); code != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d", code)
	}
	code, page := get(testAccessKey, testSecretKey)
	if code != http.StatusOK || !strings.Contains(page, "mirrorstore status") || !strings.Contains(page, `http-equiv="refresh"`) {
		t.Fatalf("with credentials: %d %s", code, page)
	}

	pub := startOpsServer(t, func(c *server.Config) { c.StatusPublic = true })
	resp, err := pub.client.Get(pub.URL() + "/-/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("--status-public: %d", resp.StatusCode)
	}
}

// TestSlowDownPastMaxRequests holds the only request slot with a GET
// whose client does not read, and checks that another request gets 503
// SlowDown while health and metrics still answer.
func TestSlowDownPastMaxRequests(t *testing.T) {
	ts := startOpsServer(t, func(c *server.Config) { c.MaxRequests = 1 })
	ctx := context.Background()
	c := ts.rootClient()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("pub"), ACL: types.BucketCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
	// Larger than any socket buffers, so the server blocks writing it.
	big := bytes.Repeat([]byte("z"), 64<<20)
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("pub"), Key: aws.String("big"), Body: bytes.NewReader(big)}); err != nil {
		t.Fatal(err)
	}

	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /pub/big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(status, "200") {
		t.Fatalf("held GET: %q %v", status, err)
	}

	resp, err := ts.client.Get(ts.URL() + "/pub/big")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "<Code>SlowDown</Code>") {
		t.Fatalf("past the cap: %d %s", resp.StatusCode, b)
	}
	for _, p := range []string{"/-/healthy", "/-/ready", "/-/metrics"} {
		resp, err := ts.client.Get(ts.URL() + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s past the cap: %d", p, resp.StatusCode)
		}
	}

	// Hanging up frees the slot.
	conn.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := ts.client.Head(ts.URL() + "/pub/big")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot never freed: %d", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if m := ts.scrape(t); m[`mirrorstore_requests_total{operation="Unknown",status_class="5xx"}`] != 1 {
		t.Errorf("refused requests: %v", m[`mirrorstore_requests_total{operation="Unknown",status_class="5xx"}`])
	}
}

// opsSigned sends a request signed with the root credential and returns
// its status and body.
func (ts *testServer) opsSigned(t *testing.T, method, path string, body []byte) (int, string) {
	t.Helper()
	r, err := http.NewRequest(method, ts.URL()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	r.Header.Set("X-Amz-Content-Sha256", hash)
	creds := aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), creds, r, hash, "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	client := *ts.client
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// statusPage returns /-/status, read with Basic auth.
func (ts *testServer) statusPage(t *testing.T) string {
	t.Helper()
	req, _ := http.NewRequest("GET", ts.URL()+"/-/status", nil)
	req.SetBasicAuth(testAccessKey, testSecretKey)
	resp, err := ts.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/-/status: %d %s", resp.StatusCode, b)
	}
	return string(b)
}

// TestMirrorMetricsAndStatus fills a key from a real origin and checks
// what the metrics and the status page say during and after the fill,
// after an origin failure and after a redirect rule.
func TestMirrorMetricsAndStatus(t *testing.T) {
	body := bytes.Repeat([]byte("m"), 200_000)
	gate := make(chan struct{})
	var gateOnce bool
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/site/slow.bin":
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.Write(body[:1000])
			w.(http.Flusher).Flush()
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
			w.Write(body[1000:])
		case "/site/broken":
			http.Error(w, "down", http.StatusInternalServerError)
		default:
			http.NotFound(w, r)
		}
	}))
	defer origin.Close()
	defer func() {
		if !gateOnce {
			close(gate)
		}
	}()

	ts := startOpsServer(t, func(c *server.Config) { c.Mirror.AllowPrivate = true })
	if code, b := ts.opsSigned(t, "PUT", "/site", nil); code != http.StatusOK {
		t.Fatalf("create bucket: %d %s", code, b)
	}
	doc := fmt.Sprintf(`<WebsiteConfiguration><RoutingRules>
<RoutingRule><RuleNumber>1</RuleNumber><Condition><KeyPrefixEquals>old/</KeyPrefixEquals></Condition>
<Redirect><HostName>example.org</HostName><HttpRedirectCode>302</HttpRedirectCode></Redirect></RoutingRule>
<RoutingRule><RuleNumber>2</RuleNumber><Condition><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition>
<Redirect><RedirectType>Mirror</RedirectType><MirrorURL>%s/site/</MirrorURL></Redirect></RoutingRule>
</RoutingRules></WebsiteConfiguration>`, origin.URL)
	if code, b := ts.opsSigned(t, "PUT", "/site?website", []byte(doc)); code != http.StatusOK {
		t.Fatalf("PUT ?website: %d %s", code, b)
	}

	// A fill in flight shows on the status page with its origin and bytes.
	type result struct {
		code int
		body string
	}
	done := make(chan result, 1)
	go func() {
		code, b := ts.opsSigned(t, "GET", "/site/slow.bin", nil)
		done <- result{code, b}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		page := ts.statusPage(t)
		// The row shows the primary URL at once, the size once the
		// origin's headers are in.
		if strings.Contains(page, "<td>slow.bin</td><td>"+origin.URL+"/site/slow.bin</td>") && strings.Contains(page, "195.3 KiB") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the fill never showed on the status page:\n%s", page)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if v := ts.scrape(t)["mirrorstore_mirror_fills_in_flight"]; v != 1 {
		t.Errorf("fills in flight during the fill: %v", v)
	}
	close(gate)
	gateOnce = true
	if r := <-done; r.code != http.StatusOK || r.body != string(body) {
		t.Fatalf("filled GET: %d, %d bytes", r.code, len(r.body))
	}

	// Once stored, the next GET is local.
	deadline = time.Now().Add(10 * time.Second)
	for ts.scrape(t)[`mirrorstore_mirror_fills_total{result="stored"}`] != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the fill was never counted as stored")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, _ := ts.opsSigned(t, "GET", "/site/slow.bin", nil); code != http.StatusOK {
		t.Fatalf("local GET: %d", code)
	}
	if code, _ := ts.opsSigned(t, "GET", "/site/broken", nil); code != http.StatusFailedDependency {
		t.Fatalf("broken origin: %d", code)
	}
	if code, _ := ts.opsSigned(t, "GET", "/site/gone", nil); code != http.StatusNotFound {
		t.Fatalf("origin 404: %d", code)
	}
	if code, _ := ts.opsSigned(t, "GET", "/site/old/page", nil); code != http.StatusFound {
		t.Fatalf("redirect: %d", code)
	}

	m := ts.scrape(t)
	for k, v := range map[string]float64{
		`mirrorstore_mirror_fills_total{result="stored"}`:     1,
		`mirrorstore_mirror_fills_total{result="failed"}`:     1,
		`mirrorstore_mirror_fills_total{result="origin_404"}`: 1,
		`mirrorstore_mirror_fills_in_flight`:                  0,
		`mirrorstore_mirror_bytes_total`:                      float64(len(body)),
		`mirrorstore_mirror_origin_ttfb_seconds_count`:        3,
		`mirrorstore_gets_filled_total{bucket="site"}`:        1,
		`mirrorstore_gets_local_total{bucket="site"}`:         1,
		`mirrorstore_bucket_objects{bucket="site"}`:           1,
		`mirrorstore_bucket_bytes{bucket="site"}`:             float64(len(body)),
		`mirrorstore_redirects_total{bucket="site",rule="1"}`: 1,
	} {
		if got, ok := m[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}

	page := ts.statusPage(t)
	for _, want := range []string{
		"50.0% (1 local, 1 filled)",
		"<td>site</td><td>broken</td>",
		"Mirror host returned HTTP status 500",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("status page lacks %q:\n%s", want, page)
		}
	}
}

// startOn starts a server over dataDir with the test credentials; the
// caller shuts it down (the cleanup does too, if the test stops first).
func startOn(t *testing.T, dataDir string, edit func(*server.Config)) *testServer {
	t.Helper()
	cfg := server.Config{
		Addr:            "127.0.0.1:0",
		DataDir:         dataDir,
		AccessKey:       testAccessKey,
		SecretKey:       testSecretKey,
		ShutdownTimeout: 5 * time.Second,
		StatusPublic:    true,
	}
	if edit != nil {
		edit(&cfg)
	}
	s, err := server.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	t.Cleanup(func() {
		client.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx) // a second Shutdown returns the first one's result
	})
	waitReady(t, client, s.URL())
	return &testServer{Server: s, client: client}
}

func (ts *testServer) stop(t *testing.T) {
	t.Helper()
	ts.client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// TestBucketCountsSurviveRestart: the objects and bytes per bucket are the
// store's own counts, so a restarted server scrapes the same numbers, and
// deleting an object written before the restart counts down from them
// (never below zero).
func TestBucketCountsSurviveRestart(t *testing.T) {
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), "data")
	ts := startOn(t, data, nil)
	c := ts.rootClient()
	for _, b := range []string{"keep", "idle"} {
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	put := func(c *s3.Client, key string, size int) {
		t.Helper()
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("keep"), Key: aws.String(key), Body: bytes.NewReader(bytes.Repeat([]byte("k"), size))}); err != nil {
			t.Fatal(err)
		}
	}
	put(c, "a", 10_000)
	put(c, "b", 5)
	put(c, "a", 3) // replaced: bytes move, objects do not
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("keep"), Key: aws.String("b")}); err != nil {
		t.Fatal(err)
	}
	// A multipart object: one 5 MiB part and a 10-byte one.
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("keep"), Key: aws.String("mp")})
	if err != nil {
		t.Fatal(err)
	}
	var parts []types.CompletedPart
	for i, size := range []int{5 << 20, 10} {
		p, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("keep"), Key: aws.String("mp"), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(bytes.Repeat([]byte("p"), size))})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, types.CompletedPart{ETag: p.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("keep"), Key: aws.String("mp"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		t.Fatal(err)
	}

	want := map[string]float64{
		`mirrorstore_bucket_objects{bucket="keep"}`: 2,
		`mirrorstore_bucket_bytes{bucket="keep"}`:   3 + 5<<20 + 10,
		`mirrorstore_bucket_objects{bucket="idle"}`: 0,
		`mirrorstore_bucket_bytes{bucket="idle"}`:   0,
	}
	check := func(ts *testServer, when string) {
		t.Helper()
		m := ts.scrape(t)
		for k, v := range want {
			if got, ok := m[k]; !ok || got != v {
				t.Errorf("%s: %s = %v (present %v), want %v", when, k, got, ok, v)
			}
		}
		row := fmt.Sprintf(`<td>keep</td><td class="n">%d</td><td class="n">%s</td>`,
			int(want[`mirrorstore_bucket_objects{bucket="keep"}`]), fmt.Sprintf("%.1f MiB", want[`mirrorstore_bucket_bytes{bucket="keep"}`]/(1<<20)))
		if page := ts.statusPage(t); !strings.Contains(page, row) {
			t.Errorf("%s: status page lacks %q:\n%s", when, row, page)
		}
	}
	check(ts, "before the restart")
	ts.stop(t)

	ts = startOn(t, data, nil)
	check(ts, "after the restart")

	// Objects written before the restart count down from the kept
	// numbers: a delta kept in memory would go below zero here.
	c = ts.rootClient()
	for _, k := range []string{"a", "mp"} {
		if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("keep"), Key: aws.String(k)}); err != nil {
			t.Fatal(err)
		}
	}
	want[`mirrorstore_bucket_objects{bucket="keep"}`] = 0
	want[`mirrorstore_bucket_bytes{bucket="keep"}`] = 0
	m := ts.scrape(t)
	for k, v := range want {
		if got, ok := m[k]; !ok || got != v {
			t.Errorf("after deleting everything: %s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	// A deleted bucket leaves the metrics.
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("idle")}); err != nil {
		t.Fatal(err)
	}
	if _, ok := ts.scrape(t)[`mirrorstore_bucket_objects{bucket="idle"}`]; ok {
		t.Error("a deleted bucket still has an object count")
	}
}

// logSink collects a server's log lines for a test to read.
type logSink struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the JSON log records whose msg is msg.
func (s *logSink) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(s.b.String(), "\n") {
		if l == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// TestAbortedMirrorAnswerIsLoggedAndCounted: an origin that drops its
// connection in the middle of a body cuts the client's answer after its
// 200 went out. The request still gets its log line (status 200, outcome
// aborted, the origin URL, the cause) and counts under status_class
// "aborted", not as a served GET.
func TestAbortedMirrorAnswerIsLoggedAndCounted(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000")
		w.Write(bytes.Repeat([]byte("d"), 5000))
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer origin.Close()
	var logs logSink
	ts := startOn(t, filepath.Join(t.TempDir(), "data"), func(c *server.Config) {
		c.Mirror.AllowPrivate = true
		c.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	})
	ts.mirrorBucket(t, "cut", mirrorRule(1, "", origin.URL+"/", ""))

	a, err := ts.try(signedRequest(t, ts.URL(), http.MethodGet, "/cut/file.bin", nil))
	if err == nil && a.readErr == nil {
		t.Fatalf("the cut answer read whole: %d, %d bytes", a.status, len(a.body))
	}
	if err == nil && a.status != http.StatusOK {
		t.Fatalf("status %d, want the 200 sent before the cut", a.status)
	}

	var line map[string]any
	deadline := time.Now().Add(10 * time.Second)
	for line == nil {
		for _, l := range logs.lines(t, "request") {
			if l["op"] == "GetObject" && l["key"] == "file.bin" {
				line = l
			}
		}
		if line == nil && time.Now().After(deadline) {
			t.Fatalf("no request line for the cut GET:\n%s", logs.b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if line["outcome"] != "aborted" || line["status"] != float64(200) || line["level"] != "WARN" ||
		line["origin"] != origin.URL+"/file.bin" || line["err"] == nil || line["bucket"] != "cut" {
		t.Errorf("request line: %v", line)
	}
	if bo, _ := line["bytes_out"].(float64); bo >= 100000 {
		t.Errorf("bytes_out %v: want what went out before the cut", line["bytes_out"])
	}

	m := ts.scrape(t)
	for k, v := range map[string]float64{
		`mirrorstore_requests_total{operation="GetObject",status_class="aborted"}`: 1,
		`mirrorstore_gets_filled_total{bucket="cut"}`:                              0,
		`mirrorstore_mirror_fills_total{result="failed"}`:                          1,
		`mirrorstore_bucket_objects{bucket="cut"}`:                                 0,
	} {
		if got := m[k]; got != v {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
	if _, ok := m[`mirrorstore_requests_total{operation="GetObject",status_class="2xx"}`]; ok {
		t.Error("the cut GET was counted as a 2xx")
	}
}

// TestXMLBodyCaps sends every operation that reads an XML (or JSON) body
// one byte more than its cap: each answers 400 with the error S3 gives for
// that body (MalformedXML, MalformedACLError for ACLs, PolicyTooLarge for
// policies, InvalidArgument for the website configuration as its
// validator says), and nothing changes.
func TestXMLBodyCaps(t *testing.T) {
	ts := startOpsServer(t, nil)
	if code, b := ts.opsSigned(t, "PUT", "/caps", nil); code != http.StatusOK {
		t.Fatalf("create bucket: %d %s", code, b)
	}
	if code, b := ts.opsSigned(t, "PUT", "/caps/obj", []byte("kept")); code != http.StatusOK {
		t.Fatalf("put: %d %s", code, b)
	}
	code, b := ts.opsSigned(t, "POST", "/caps/mp?uploads", nil)
	if code != http.StatusOK {
		t.Fatalf("create upload: %d %s", code, b)
	}
	uploadID := b[strings.Index(b, "<UploadId>")+len("<UploadId>") : strings.Index(b, "</UploadId>")]

	// body returns an XML document of exactly n bytes rooted at root.
	body := func(root string, n int) []byte {
		open, end := "<"+root+">", "</"+root+">"
		return []byte(open + strings.Repeat(" ", n-len(open)-len(end)) + end)
	}
	cases := []struct {
		op, method, path, root string
		limit                  int
		code                   string
	}{
		{"CreateBucket", "PUT", "/caps-new", "CreateBucketConfiguration", 64 << 10, "MalformedXML"},
		{"PutBucketAcl", "PUT", "/caps?acl", "AccessControlPolicy", 64 << 10, "MalformedACLError"},
		{"PutBucketVersioning", "PUT", "/caps?versioning", "VersioningConfiguration", 64 << 10, "MalformedXML"},
		{"PutBucketWebsite", "PUT", "/caps?website", "WebsiteConfiguration", 64 << 10, "InvalidArgument"},
		{"PutBucketPolicy", "PUT", "/caps?policy", "", 20 << 10, "PolicyTooLarge"},
		{"PutObjectTagging", "PUT", "/caps/obj?tagging", "Tagging", 64 << 10, "MalformedXML"},
		{"DeleteObjects", "POST", "/caps?delete", "Delete", 8 << 20, "MalformedXML"},
		{"CompleteMultipartUpload", "POST", "/caps/mp?uploadId=" + uploadID, "CompleteMultipartUpload", 4 << 20, "MalformedXML"},
	}
	for _, c := range cases {
		t.Run(c.op, func(t *testing.T) {
			var over []byte
			if c.root == "" {
				over = []byte(`{"Version":"2012-10-17","Statement":[]}` + strings.Repeat(" ", c.limit+1-39))
			} else {
				over = body(c.root, c.limit+1)
			}
			if len(over) != c.limit+1 {
				t.Fatalf("body of %d bytes", len(over))
			}
			code, b := ts.opsSigned(t, c.method, c.path, over)
			if code != http.StatusBadRequest || !strings.Contains(b, "<Code>"+c.code+"</Code>") {
				t.Fatalf("%s with %d bytes: %d %s", c.op, len(over), code, b)
			}
		})
	}

	// Nothing changed: no new bucket, no configuration, the object and its
	// (absent) tags, the upload still open.
	for path, want := range map[string]int{
		"/caps-new":                     http.StatusNotFound,
		"/caps?website":                 http.StatusNotFound,
		"/caps?policy":                  http.StatusNotFound,
		"/caps/obj":                     http.StatusOK,
		"/caps/mp?uploadId=" + uploadID: http.StatusOK,
	} {
		method := "GET"
		if path == "/caps-new" {
			method = "HEAD"
		}
		if code, b := ts.opsSigned(t, method, path, nil); code != want {
			t.Errorf("%s %s after the refusals: %d, want %d %s", method, path, code, want, b)
		}
	}
	if code, b := ts.opsSigned(t, "GET", "/caps/obj?tagging", nil); code != http.StatusOK || strings.Contains(b, "<Tag>") {
		t.Errorf("tags after the refusal: %d %s", code, b)
	}
	if code, b := ts.opsSigned(t, "GET", "/caps?acl", nil); code != http.StatusOK || strings.Contains(b, "AllUsers") {
		t.Errorf("ACL after the refusal: %d %s", code, b)
	}
}

// TestRequestLogLines: every request gets one JSON line with its id,
// operation, bucket, key, status, bytes and duration; a fill's line names
// its origin URL and outcome; and no secret reaches the log (the secret
// key, the header signature, the presigned URL's signature).
func TestRequestLogLines(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "from the origin")
	}))
	defer origin.Close()
	var logs logSink
	ts := startOn(t, filepath.Join(t.TempDir(), "data"), func(c *server.Config) {
		c.Mirror.AllowPrivate = true
		c.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	})
	ts.mirrorBucket(t, "logs", mirrorRule(1, "m/", origin.URL+"/", ""))

	put := signedRequest(t, ts.URL(), http.MethodPut, "/logs/local.txt", []byte("twelve bytes"))
	headerSignature := put.Header.Get("Authorization")[strings.LastIndex(put.Header.Get("Authorization"), "Signature=")+len("Signature="):]
	if a, err := ts.try(put); err != nil || a.status != http.StatusOK {
		t.Fatalf("PUT: %v %d", err, a.status)
	}
	if a, err := ts.try(signedRequest(t, ts.URL(), http.MethodGet, "/logs/m/filled.txt", nil)); err != nil || a.status != http.StatusOK {
		t.Fatalf("fill GET: %v %d", err, a.status)
	}
	presigned := presignAt(t, ts.URL(), http.MethodGet, "/logs/local.txt", time.Minute, time.Now())
	u, err := url.Parse(presigned)
	if err != nil {
		t.Fatal(err)
	}
	presignedSignature := u.Query().Get("X-Amz-Signature")
	resp, err := ts.client.Get(presigned)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("presigned GET: %d", resp.StatusCode)
	}

	// The three lines, by operation and key.
	want := []string{"PutObject local.txt", "GetObject m/filled.txt", "GetObject local.txt"}
	byKey := map[string]map[string]any{}
	deadline := time.Now().Add(10 * time.Second)
	for len(byKey) < len(want) {
		for _, l := range logs.lines(t, "request") {
			if l["bucket"] == "logs" {
				byKey[fmt.Sprint(l["op"], " ", l["key"])] = l
			}
		}
		if len(byKey) < len(want) && time.Now().After(deadline) {
			t.Fatalf("request lines: want %v, got %v\n%s", want, byKey, logs.b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	ids := map[any]bool{}
	for _, what := range want {
		l := byKey[what]
		for _, field := range []string{"id", "op", "bucket", "key", "status", "bytes_in", "bytes_out", "duration"} {
			if _, ok := l[field]; !ok {
				t.Errorf("%s: no %q in %v", what, field, l)
			}
		}
		if ids[l["id"]] || l["id"] == "" {
			t.Errorf("%s: request id %v empty or not unique", what, l["id"])
		}
		ids[l["id"]] = true
		if l["status"] != float64(200) {
			t.Errorf("%s: status %v", what, l["status"])
		}
	}
	fill := byKey["GetObject m/filled.txt"]
	if fill["origin"] != origin.URL+"/m/filled.txt" || fill["outcome"] != "filled" || fill["bytes_out"] != float64(len("from the origin")) {
		t.Errorf("fill line: %v", fill)
	}
	if l := byKey["PutObject local.txt"]; l["bytes_in"] != float64(len("twelve bytes")) {
		t.Errorf("PUT line: %v", l)
	}

	all := logs.b.String()
	for name, secret := range map[string]string{"secret key": testSecretKey, "header signature": headerSignature, "presigned signature": presignedSignature} {
		if secret == "" || strings.Contains(all, secret) {
			t.Errorf("the %s (%q) is in the log", name, secret)
		}
	}
}
