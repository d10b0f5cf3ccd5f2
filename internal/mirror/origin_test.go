package mirror

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"mirrorstore/internal/origin"
	"mirrorstore/internal/store"
)

// faultOrigin is a real HTTP origin that counts its hits per path and
// misbehaves on demand: each path gets its own handler.
type faultOrigin struct {
	*httptest.Server
	mu     sync.Mutex
	hits   map[string]int
	routes map[string]http.HandlerFunc
	// release unblocks the handlers that stall; closed at cleanup so no
	// handler outlives the test.
	release chan struct{}
}

func newOrigin(t testing.TB) *faultOrigin {
	o := &faultOrigin{hits: map[string]int{}, routes: map[string]http.HandlerFunc{}, release: make(chan struct{})}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.hits[r.URL.Path]++
		h := o.routes[r.URL.Path]
		o.mu.Unlock()
		if h == nil {
			http.NotFound(w, r)
			return
		}
		h(w, r)
	}))
	t.Cleanup(func() {
		close(o.release)
		o.Close()
	})
	return o
}

func (o *faultOrigin) handle(path string, h http.HandlerFunc) string {
	o.mu.Lock()
	o.routes[path] = h
	o.mu.Unlock()
	return o.URL + path
}

func (o *faultOrigin) hitsOf(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits[path]
}

// stall blocks a handler until the test ends or the client goes away.
func (o *faultOrigin) stall(r *http.Request) {
	select {
	case <-o.release:
	case <-r.Context().Done():
	}
}

// pattern returns n deterministic bytes that differ from offset to offset.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>9)
	}
	return b
}

// patternReader yields n bytes on the fly, repeating a 1 MiB pattern, for
// bodies too large to hold.
type patternReader struct {
	off, n int64
	block  []byte
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.block == nil {
		p.block = pattern(1 << 20)
	}
	if p.off >= p.n {
		return 0, io.EOF
	}
	i := p.off % int64(len(p.block))
	k := copy(b, p.block[i:min(int64(len(p.block)), i+p.n-p.off)])
	p.off += int64(k)
	return k, nil
}

// serve answers 200 with body and its Content-Length, plus headers.
func serve(body []byte, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}
}

// status answers code with a small body.
func status(code int, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.WriteHeader(code)
		io.WriteString(w, "origin says "+strconv.Itoa(code))
	}
}

// chunked answers 200 with no length, flushing in pieces.
func chunked(body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for len(body) > 0 {
			n := min(len(body), 1000)
			w.Write(body[:n])
			w.(http.Flusher).Flush()
			body = body[n:]
		}
	}
}

// shortBody announces more than it sends; Go's server then closes the
// connection, as a crashed origin would.
func shortBody(body []byte, announced int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(announced))
		w.Write(body)
	}
}

// reset sends half the body, then resets the TCP connection.
func reset(body []byte, withLength bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if withLength {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		}
		w.WriteHeader(200)
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		buf.Flush()
		conn.(*net.TCPConn).SetLinger(0) // RST, not FIN
		conn.Close()
	}
}

// gated sends the first part of body, waits for gate (or the end of the
// test), then the rest.
func (o *faultOrigin) gated(body []byte, first int, gate <-chan struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body[:first])
		w.(http.Flusher).Flush()
		select {
		case <-gate:
		case <-o.release:
			return
		case <-r.Context().Done():
			return
		}
		w.Write(body[first:])
	}
}

// firstTime runs bad on the first hit and good afterwards.
func firstTime(bad, good http.HandlerFunc) http.HandlerFunc {
	var mu sync.Mutex
	n := 0
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		first := n == 1
		mu.Unlock()
		if first {
			bad(w, r)
		} else {
			good(w, r)
		}
	}
}

func md5b64(b []byte) string {
	s := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(s[:])
}

// recorder is a Metrics that tests can wait on.
type recorder struct {
	mu       sync.Mutex
	results  []Result
	ended    chan Result // fill ends, not coalesced joins
	joined   chan struct{}
	bytes    int64
	inFlight int
}

func newRecorder() *recorder {
	return &recorder{ended: make(chan Result, 1000), joined: make(chan struct{}, 1000)}
}

func (r *recorder) FillResult(res Result) {
	r.mu.Lock()
	r.results = append(r.results, res)
	r.mu.Unlock()
	if res == ResultCoalesced {
		r.joined <- struct{}{}
	} else {
		r.ended <- res
	}
}

func (r *recorder) FillsInFlight(d int) {
	r.mu.Lock()
	r.inFlight += d
	r.mu.Unlock()
}

func (r *recorder) TimeToFirstByte(time.Duration) {}

func (r *recorder) BytesMirrored(n int64) {
	r.mu.Lock()
	r.bytes += n
	r.mu.Unlock()
}

// waitEnd waits for the next fill to end and returns its result.
func (r *recorder) waitEnd(t testing.TB) Result {
	t.Helper()
	select {
	case res := <-r.ended:
		return res
	case <-time.After(10 * time.Second):
		t.Fatal("no fill ended within 10s")
		return ""
	}
}

// waitJoins waits until n Opens have joined a fill in flight.
func (r *recorder) waitJoins(t testing.TB, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-r.joined:
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d Opens joined within 10s", i, n)
		}
	}
}

type fixture struct {
	m       *Manager
	store   *testStore
	rec     *recorder
	staging string
}

// newFixture builds a Manager over the embedded engine, which adopts
// finished staging files; ocfg configures its origin client (AllowPrivate is
// set unless guard is true).
func newFixture(t testing.TB, ocfg origin.Config, guard bool, maxSize int64) *fixture {
	return newFixtureMode(t, ocfg, guard, maxSize, true)
}

// commitModes are the two ways a fill commits a staging file: adopted by
// the store, or streamed into PutObject (a backend without FileAdopter).
var commitModes = []struct {
	name  string
	adopt bool
}{{"adopted", true}, {"streamed", false}}

// newFixtureMode is newFixture, with the store adopting staging files or
// not.
func newFixtureMode(t testing.TB, ocfg origin.Config, guard bool, maxSize int64, adopt bool) *fixture {
	if !guard {
		ocfg.AllowPrivate = true
	}
	f := &fixture{store: newTestStore(t), rec: newRecorder(), staging: t.TempDir()}
	var st store.Backend = f.store
	if adopt {
		a := adoptingStore{f.store}
		st, f.staging = a, a.AdoptDir()
	}
	f.m = newManager(t, ocfg, Config{Store: st, StagingDir: f.staging, MaxSize: maxSize, Metrics: f.rec})
	return f
}

// newManager builds a Manager from cfg with an origin client made from
// ocfg (Version "test"), and closes both when the test ends, after its
// deferred calls (which may first have to let a held fill go).
func newManager(t testing.TB, ocfg origin.Config, cfg Config) *Manager {
	ocfg.Version = "test"
	client := origin.NewClient(ocfg)
	cfg.Origin = client
	cfg.Logger = slog.New(slog.DiscardHandler)
	m, err := New(cfg)
	if err != nil {
		client.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		client.Close()
	})
	return m
}

// stagingEmpty fails the test when a staging file is left behind.
func (f *fixture) stagingEmpty(t testing.TB) {
	t.Helper()
	ents, err := os.ReadDir(f.staging)
	if err != nil || len(ents) != 0 {
		t.Errorf("staging dir holds %d entries (%v)", len(ents), err)
	}
}

func spec(urls ...string) Spec {
	return Spec{Bucket: "b", Key: "k", URLs: urls, FollowRedirect: true}
}
