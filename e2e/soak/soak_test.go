// Package soak runs the real server binary under sustained mixed load from
// several clients (PUT, GET, HEAD, LIST, DELETE, multipart, fills from a
// good origin and from a misbehaving one) and checks that it keeps its
// promises over time: no unexpected error, RSS and goroutines flat. It
// prints both at every sample and the latency percentiles at the end.
//
// It runs only when MIRRORSTORE_SOAK names a duration: `make test` runs a
// two-minute form, `make soak` thirty minutes.
package soak

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

const (
	accessKey = "soakaccesskey"
	secretKey = "soaksecretkey0123456789"
	bucket    = "soak"
	// s3Clients is how many clients send the S3 mix; two more fill, one
	// from the good origin and one from the misbehaving origin.
	s3Clients = 4
	// keysPerClient bounds what each S3 client keeps stored, so the data
	// stays the same size however long the soak runs.
	keysPerClient = 200
)

// server is the real binary, run as a subprocess so its RSS is its own.
type server struct {
	cmd  *exec.Cmd
	addr string
	log  bytes.Buffer
}

func startServer(t *testing.T) *server {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mirrorstore")
	if out, err := exec.Command("go", "build", "-o", bin, "mirrorstore/cmd/mirrorstore").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{addr: l.Addr().String()}
	l.Close()
	// The origins are on loopback; a short idle timeout makes the
	// dripping origin's fills fail within the soak.
	s.cmd = exec.Command(bin, "server", "--addr", s.addr, "--data", filepath.Join(t.TempDir(), "data"),
		"--mirror-allow-private", "--mirror-timeout", "5s", "--mirror-idle-timeout", "2s", "--log-format", "json")
	s.cmd.Env = append(os.Environ(), "MIRRORSTORE_ACCESS_KEY="+accessKey, "MIRRORSTORE_SECRET_KEY="+secretKey)
	// The request log is not kept: 30 minutes of it is hundreds of MiB.
	s.cmd.Stdout, s.cmd.Stderr = io.Discard, &s.log
	// A test binary killed by its timeout takes the server with it.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		_ = s.cmd.Wait()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + s.addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sample is one reading of the server's own gauges from /-/metrics.
type sample struct {
	rss, goroutines float64
}

func (s *server) sample() (sample, error) {
	resp, err := http.Get("http://" + s.addr + "/-/metrics")
	if err != nil {
		return sample{}, err
	}
	defer resp.Body.Close()
	var out sample
	found := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		switch name {
		case "process_resident_memory_bytes":
			out.rss, err = strconv.ParseFloat(value, 64)
			found++
		case "go_goroutines":
			out.goroutines, err = strconv.ParseFloat(value, 64)
			found++
		}
		if err != nil {
			return out, err
		}
	}
	if found != 2 {
		return out, fmt.Errorf("/-/metrics lacks process_resident_memory_bytes or go_goroutines")
	}
	return out, sc.Err()
}

func newClient(addr string) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String("http://" + addr),
		Region:       "us-east-1",
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   &http.Client{Timeout: 60 * time.Second},
	})
}

// body is the deterministic content of a key's generation.
func body(seed string, size int) []byte {
	out := make([]byte, size)
	s := sha256.Sum256([]byte(seed))
	_, _ = rand.NewChaCha8(s).Read(out)
	return out
}

// originBody is what the origins serve for a key: its size comes from the
// key, 4..67 KiB.
func originBody(key string) []byte {
	s := sha256.Sum256([]byte(key))
	return body("origin:"+key, 4<<10+int(s[0])<<8)
}

// Misbehaviours of the bad origin, named in the key it is asked for, so
// the client knows what to expect: the expected outcome is not an error.
var badModes = []string{"ok", "404", "500", "reset", "drip", "short"}

// startOrigins returns the good origin (every key, whole) and the
// misbehaving one (the mode named by the key's first path segment).
func startOrigins(t *testing.T) (good, bad *httptest.Server) {
	good = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := originBody(strings.TrimPrefix(r.URL.Path, "/"))
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
	}))
	t.Cleanup(good.Close)
	bad = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.URL.Path, "/")
		b := originBody(key)
		mode, _, _ := strings.Cut(key, "/")
		switch mode {
		case "404":
			http.NotFound(w, r)
		case "500":
			http.Error(w, "origin failure", http.StatusInternalServerError)
		case "reset", "short":
			conn, rw, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			fmt.Fprintf(rw, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(b))
			_, _ = rw.Write(b[:len(b)/2])
			_ = rw.Flush()
			if mode == "reset" {
				_ = conn.(*net.TCPConn).SetLinger(0)
			}
			conn.Close()
		case "drip":
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			_, _ = w.Write(b[:100])
			w.(http.Flusher).Flush()
			// Past the server's 2 s idle timeout.
			select {
			case <-r.Context().Done():
			case <-time.After(6 * time.Second):
			}
		default:
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			_, _ = w.Write(b)
		}
	}))
	t.Cleanup(bad.Close)
	return good, bad
}

func putWebsite(t *testing.T, addr string, doc string) {
	t.Helper()
	r, err := http.NewRequest(http.MethodPut, "http://"+addr+"/"+bucket+"?website", strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(doc))
	hash := hex.EncodeToString(sum[:])
	r.Header.Set("X-Amz-Content-Sha256", hash)
	creds := aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hash, "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT ?website: %d %s", resp.StatusCode, b)
	}
}

func mirrorRule(n int, prefix, url string) string {
	return fmt.Sprintf(`<RoutingRule><RuleNumber>%d</RuleNumber><Condition><KeyPrefixEquals>%s</KeyPrefixEquals>`+
		`<HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition><Redirect><RedirectType>Mirror</RedirectType>`+
		`<MirrorURL>%s</MirrorURL><ReplaceKeyPrefixWith></ReplaceKeyPrefixWith></Redirect></RoutingRule>`, n, prefix, url)
}

// stats gathers latencies by operation and the errors nobody expected.
type stats struct {
	mu         sync.Mutex
	latency    map[string][]time.Duration
	expected   map[string]int // expected failures, by kind
	unexpected []string
	ops        atomic.Int64
}

func (s *stats) record(op string, d time.Duration) {
	s.ops.Add(1)
	s.mu.Lock()
	s.latency[op] = append(s.latency[op], d)
	s.mu.Unlock()
}

func (s *stats) expect(kind string) {
	s.mu.Lock()
	s.expected[kind]++
	s.mu.Unlock()
}

func (s *stats) fail(format string, args ...any) {
	s.mu.Lock()
	s.unexpected = append(s.unexpected, fmt.Sprintf(format, args...))
	s.mu.Unlock()
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	i := int(float64(len(ds)-1) * p)
	return ds[i]
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestSoak(t *testing.T) {
	v := os.Getenv("MIRRORSTORE_SOAK")
	if v == "" {
		t.Skip("MIRRORSTORE_SOAK is not set: make test runs the 2-minute soak, make soak the 30-minute one")
	}
	duration, err := time.ParseDuration(v)
	if err != nil || duration <= 0 {
		t.Fatalf("MIRRORSTORE_SOAK=%q: want a duration such as 2m or 30m", v)
	}
	// A sample a minute; every 20 s when the soak is short, so the flat
	// check has several points.
	every := time.Minute
	if duration < 10*time.Minute {
		every = 20 * time.Second
	}

	good, bad := startOrigins(t)
	srv := startServer(t)
	ctx := context.Background()
	admin := newClient(srv.addr)
	if _, err := admin.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	putWebsite(t, srv.addr, "<WebsiteConfiguration><RoutingRules>"+
		mirrorRule(1, "good/", good.URL+"/")+mirrorRule(2, "bad/", bad.URL+"/")+
		"</RoutingRules></WebsiteConfiguration>")
	idle, err := srv.sample()
	if err != nil {
		t.Fatal(err)
	}

	st := &stats{latency: map[string][]time.Duration{}, expected: map[string]int{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < s3Clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s3Mix(ctx, newClient(srv.addr), fmt.Sprintf("c%d/", i), st, stop)
		}()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		fills(ctx, newClient(srv.addr), "good/", []string{"ok"}, st, stop)
	}()
	go func() {
		defer wg.Done()
		fills(ctx, newClient(srv.addr), "bad/", badModes, st, stop)
	}()

	var samples []sample
	begin := time.Now()
	tick := time.NewTicker(every)
	end := time.NewTimer(duration)
	for done := false; !done; {
		select {
		case <-tick.C:
			if time.Until(begin.Add(duration)) < every/4 {
				continue // the end's sample comes next
			}
		case <-end.C:
			done = true
		}
		sm, err := srv.sample()
		if err != nil {
			st.fail("scrape /-/metrics: %v", err)
			continue
		}
		samples = append(samples, sm)
		st.mu.Lock()
		nerr := len(st.unexpected)
		st.mu.Unlock()
		t.Logf("%6s  ops %8d  unexpected errors %d  RSS %6.1f MiB  goroutines %4.0f",
			time.Since(begin).Round(time.Second), st.ops.Load(), nerr, sm.rss/(1<<20), sm.goroutines)
	}
	tick.Stop()
	close(stop)
	wg.Wait()

	// At rest again, the goroutines come back to where they were before
	// the load (idle connections closed by their clients' end).
	var rest sample
	for deadline := time.Now().Add(15 * time.Second); ; {
		if rest, err = srv.sample(); err == nil && rest.goroutines <= idle.goroutines+10 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}

	var all []time.Duration
	ops := make([]string, 0, len(st.latency))
	for op := range st.latency {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		ds := st.latency[op]
		slices.Sort(ds)
		all = append(all, ds...)
		t.Logf("%-10s %7d ops  p50 %8v  p99 %8v  max %8v", op, len(ds), percentile(ds, .5).Round(time.Microsecond), percentile(ds, .99).Round(time.Microsecond), ds[len(ds)-1].Round(time.Microsecond))
	}
	slices.Sort(all)
	t.Logf("soak: %v, %d ops (%.0f/s) from %d clients, p99 %v; expected failures from the bad origin %v; unexpected errors %d",
		duration, len(all), float64(len(all))/duration.Seconds(), s3Clients+2, percentile(all, .99).Round(time.Microsecond), st.expected, len(st.unexpected))
	t.Logf("RSS first %.1f MiB, last %.1f MiB; goroutines idle %.0f, under load first %.0f, max %.0f, at rest after %.0f",
		samples[0].rss/(1<<20), samples[len(samples)-1].rss/(1<<20), idle.goroutines, samples[0].goroutines,
		slices.MaxFunc(samples, func(a, b sample) int { return int(a.goroutines - b.goroutines) }).goroutines, rest.goroutines)

	for i, e := range st.unexpected {
		if i == 20 {
			t.Errorf("… and %d more", len(st.unexpected)-20)
			break
		}
		t.Errorf("unexpected: %s", e)
	}
	// Flat: past the first sample (warm-up: caches and pools filling),
	// RSS ends within 1.5 times it, and goroutines never pass 1.5 times it
	// (plus room for the connections the clients hold).
	if len(samples) < 2 {
		t.Fatalf("%d samples: the soak is too short to judge", len(samples))
	}
	first, last := samples[0], samples[len(samples)-1]
	if last.rss > 1.5*first.rss {
		t.Errorf("RSS grew from %.1f MiB to %.1f MiB", first.rss/(1<<20), last.rss/(1<<20))
	}
	for _, sm := range samples[1:] {
		if sm.goroutines > 1.5*first.goroutines+20 {
			t.Errorf("goroutines grew from %.0f to %.0f", first.goroutines, sm.goroutines)
			break
		}
	}
	if rest.goroutines > idle.goroutines+10 {
		t.Errorf("%.0f goroutines at rest after the load, %.0f before it", rest.goroutines, idle.goroutines)
	}
	if t.Failed() {
		t.Logf("server log:\n%s", srv.log.String())
	}
}

// s3Mix sends PUT, GET, HEAD, LIST, DELETE and now and then a multipart
// upload under prefix, checking every answer against what it stored.
func s3Mix(ctx context.Context, c *s3.Client, prefix string, st *stats, stop chan struct{}) {
	stored := map[string][16]byte{} // key → MD5 of its bytes
	var keys []string
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		r := rand.IntN(100)
		begin := time.Now()
		switch {
		case r < 30 || len(keys) == 0:
			key := fmt.Sprintf("%s%06d", prefix, n)
			if len(keys) > 0 && rand.IntN(4) == 0 {
				key = keys[rand.IntN(len(keys))] // overwrite
			}
			b := body(fmt.Sprintf("%s#%d", key, n), 1<<10+rand.IntN(256<<10))
			if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(b)}); err != nil {
				st.fail("PUT %s: %v", key, err)
				continue
			}
			st.record("PUT", time.Since(begin))
			if _, ok := stored[key]; !ok {
				keys = append(keys, key)
			}
			stored[key] = md5.Sum(b)
		case r < 65:
			key := keys[rand.IntN(len(keys))]
			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			if err != nil {
				st.fail("GET %s: %v", key, err)
				continue
			}
			got, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil || md5.Sum(got) != stored[key] {
				st.fail("GET %s: %d bytes, %v: not what was stored", key, len(got), err)
				continue
			}
			st.record("GET", time.Since(begin))
		case r < 75:
			key := keys[rand.IntN(len(keys))]
			out, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			if err != nil {
				st.fail("HEAD %s: %v", key, err)
				continue
			}
			if want := stored[key]; strings.Trim(aws.ToString(out.ETag), `"`) != hex.EncodeToString(want[:]) && !strings.Contains(aws.ToString(out.ETag), "-") {
				st.fail("HEAD %s: ETag %s, want %x", key, aws.ToString(out.ETag), want)
				continue
			}
			st.record("HEAD", time.Since(begin))
		case r < 83:
			out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
			if err != nil {
				st.fail("LIST %s: %v", prefix, err)
				continue
			}
			if len(out.Contents) != min(len(keys), 1000) {
				st.fail("LIST %s: %d keys, want %d", prefix, len(out.Contents), len(keys))
				continue
			}
			st.record("LIST", time.Since(begin))
		case r < 99:
			if len(keys) < keysPerClient/2 {
				continue
			}
			i := rand.IntN(len(keys))
			key := keys[i]
			if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
				st.fail("DELETE %s: %v", key, err)
				continue
			}
			st.record("DELETE", time.Since(begin))
			delete(stored, key)
			keys = slices.Delete(keys, i, i+1)
			if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); code(err) != "NotFound" {
				st.fail("HEAD %s after its DELETE: %v, want 404", key, err)
			}
		default:
			key := fmt.Sprintf("%smp%06d", prefix, n)
			sum, err := multipart(ctx, c, key)
			if err != nil {
				st.fail("multipart %s: %v", key, err)
				continue
			}
			st.record("MULTIPART", time.Since(begin))
			keys = append(keys, key)
			stored[key] = sum
		}
		for len(keys) > keysPerClient {
			key := keys[0]
			if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
				st.fail("DELETE %s: %v", key, err)
				break
			}
			delete(stored, key)
			keys = keys[1:]
		}
	}
}

// multipart uploads a 5 MiB part and a small last one, completes them, and
// returns the MD5 of the whole object.
func multipart(ctx context.Context, c *s3.Client, key string) ([16]byte, error) {
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return [16]byte{}, err
	}
	parts := [][]byte{body(key+"#1", 5<<20), body(key+"#2", 1<<10+rand.IntN(64<<10))}
	var done []types.CompletedPart
	for i, p := range parts {
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId, PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		if err != nil {
			return [16]byte{}, err
		}
		done = append(done, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}); err != nil {
		return [16]byte{}, err
	}
	return md5.Sum(append(parts[0], parts[1]...)), nil
}

// fills GETs fresh keys under prefix (each with a mode of the origin in
// its name) so the Mirror rule fetches them, checks each outcome against
// the one the mode calls for, and reads every stored fill back once more
// from the store.
func fills(ctx context.Context, c *s3.Client, prefix string, modes []string, st *stats, stop chan struct{}) {
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		mode := modes[rand.IntN(len(modes))]
		key := fmt.Sprintf("%s%s/%07d", prefix, mode, n)
		begin := time.Now()
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		var got []byte
		if err == nil {
			got, err = io.ReadAll(out.Body)
			out.Body.Close()
		}
		// The origin's path is the key without the rule's prefix.
		want := originBody(strings.TrimPrefix(key, prefix))
		switch mode {
		case "ok":
			if err != nil || !bytes.Equal(got, want) {
				st.fail("fill %s: %d bytes, %v", key, len(got), err)
				continue
			}
			st.record("FILL", time.Since(begin))
			// The stored copy serves the next GET.
			waitStored(ctx, c, key, want, st)
		case "404":
			if code(err) != "NoSuchKey" {
				st.fail("fill %s from an origin 404: %v, want 404 NoSuchKey", key, err)
				continue
			}
			st.expect("404")
			st.record("FILL-404", time.Since(begin))
		case "500":
			if code(err) != "MirrorFailed" {
				st.fail("fill %s from an origin 500: %v, want 424 MirrorFailed", key, err)
				continue
			}
			st.expect("424")
			st.record("FILL-424", time.Since(begin))
		default: // reset, short, drip: the client has a 200, then a cut
			if err == nil || bytes.Equal(got, want) {
				st.fail("fill %s from a %s origin ended cleanly with %d bytes", key, mode, len(got))
				continue
			}
			st.expect("cut")
			st.record("FILL-CUT", time.Since(begin))
			if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); code(err) != "NotFound" {
				st.fail("HEAD %s after a cut fill: %v, want 404 (nothing stored)", key, err)
			}
		}
	}
}

// waitStored reads key until the store serves it (with an ETag), at most
// 30 s: a fill commits just after the client has its last byte.
func waitStored(ctx context.Context, c *s3.Client, key string, want []byte, st *stats) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err == nil {
			got, rerr := io.ReadAll(out.Body)
			out.Body.Close()
			if rerr != nil || !bytes.Equal(got, want) {
				st.fail("GET of the filled %s: %d bytes, %v", key, len(got), rerr)
				return
			}
			if out.ETag != nil {
				return
			}
		} else {
			st.fail("GET of the filled %s: %v", key, err)
			return
		}
		if time.Now().After(deadline) {
			st.fail("fill %s not stored after 30 s", key)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
