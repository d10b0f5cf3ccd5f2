package s3backend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mirrorstore/internal/store"
)

// cutProxy is a TCP proxy in front of MinIO that can cut or stall the
// backend's answers after a number of bytes, and close every connection
// it carries (as a backend closing idle connections does).
type cutProxy struct {
	ln     net.Listener
	target string

	quit chan struct{}

	mu    sync.Mutex
	after int64 // bytes of each answer passed before acting; <0 passes all
	stall bool  // stall instead of cutting
	conns []net.Conn
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: strings.TrimPrefix(target, "http://"), after: -1, quit: make(chan struct{})}
	go p.accept()
	t.Cleanup(func() { ln.Close(); close(p.quit); p.closeAll() })
	return p
}

func (p *cutProxy) endpoint() string { return "http://" + p.ln.Addr().String() }

func (p *cutProxy) set(after int64, stall bool) {
	p.mu.Lock()
	p.after, p.stall = after, stall
	p.mu.Unlock()
}

func (p *cutProxy) closeAll() {
	p.mu.Lock()
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

func (p *cutProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		after, stall := p.after, p.stall
		p.mu.Unlock()
		go func() { io.Copy(up, c); up.Close() }()
		go func() {
			if after < 0 {
				io.Copy(c, up)
			} else {
				io.CopyN(c, up, after)
				if stall {
					<-p.quit
				}
			}
			c.Close()
		}()
	}
}

// newRawBackend is newBackend reached through proxy, with timeout.
func newRawBackend(t *testing.T, proxy *cutProxy, bucket string, timeout time.Duration) *Backend {
	t.Helper()
	b, err := Open(Config{Endpoint: proxy.endpoint(), Bucket: bucket, AccessKey: minioUser, SecretKey: minioPassword, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	if b.raw == nil {
		t.Fatal("a plain-http backend does not use its own connections")
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// serveObject is a node's GET in miniature: the object's bytes through a
// real HTTP server with its Content-Length, by io.Copy (the handler's
// path to the connection's ReadFrom, hence splice). A body that fails
// cuts the answer.
func serveObject(t *testing.T, b *Backend, bucket string, active *atomic.Int32) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		active.Add(1)
		defer active.Add(-1)
		var opts store.GetOptions
		if v := r.URL.Query().Get("first"); v != "" {
			first, _ := strconv.ParseInt(v, 10, 64)
			last, _ := strconv.ParseInt(r.URL.Query().Get("last"), 10, 64)
			opts.Range = &store.Range{First: first, Last: last}
		}
		obj, err := b.GetObject(r.Context(), bucket, strings.TrimPrefix(r.URL.Path, "/"), opts)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		defer obj.Body.Close()
		w.Header().Set("Content-Length", strconv.FormatInt(obj.Length, 10))
		if _, err := io.Copy(w, obj.Body); err != nil {
			panic(http.ErrAbortHandler)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(int64(n))).Read(b)
	return b
}

// TestRawGets: over a plain-http backend, GET (whole, ranged, through an
// HTTP server's splice path), HEAD and errors use the backend's own
// connections, which are reused when an answer was read to its end and
// replaced when the backend closed them while idle.
func TestRawGets(t *testing.T) {
	ctx := context.Background()
	seed := newBackend(t)
	mustBucket(t, seed, "raw")
	big := randomBytes(9<<20 + 123)
	for key, body := range map[string][]byte{"big": big, "small": []byte("hello"), "empty": nil} {
		if _, err := seed.PutObject(ctx, "raw", key, bytes.NewReader(body), store.PutOptions{Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
	}
	proxy := newCutProxy(t, minioEndpoint)
	b := newRawBackend(t, proxy, seed.bucket, 5*time.Second)
	srv := serveObject(t, b, "raw", new(atomic.Int32))
	client := srv.Client()

	fetch := func(path string) ([]byte, error) {
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%s: %s", resp.Status, data)
		}
		return data, err
	}
	for i := 0; i < 3; i++ {
		if got, err := fetch("/big"); err != nil || !bytes.Equal(got, big) {
			t.Fatalf("GET big: %d bytes, %v", len(got), err)
		}
	}
	if got, err := fetch("/big?first=100&last=5000099"); err != nil || !bytes.Equal(got, big[100:5000100]) {
		t.Fatalf("ranged GET: %d bytes, %v", len(got), err)
	}
	if got, err := fetch("/small"); err != nil || string(got) != "hello" {
		t.Fatalf("GET small: %q, %v", got, err)
	}
	if got, err := fetch("/empty"); err != nil || len(got) != 0 {
		t.Fatalf("GET empty: %q, %v", got, err)
	}
	if info, err := b.HeadObject(ctx, "raw", "big"); err != nil || info.Size != int64(len(big)) {
		t.Fatalf("HEAD big: %+v, %v", info, err)
	}
	if _, err := b.HeadObject(ctx, "raw", "absent"); !errors.Is(err, store.ErrNoSuchKey) {
		t.Fatalf("HEAD absent: %v", err)
	}
	if _, err := b.GetObject(ctx, "raw", "absent", store.GetOptions{}); !errors.Is(err, store.ErrNoSuchKey) {
		t.Fatalf("GET absent: %v", err)
	}
	// Read directly (no WriteTo) too.
	obj, err := b.GetObject(ctx, "raw", "big", store.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(struct{ io.Reader }{obj.Body})
	obj.Body.Close()
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("read big: %d bytes, %v", len(got), err)
	}
	if n := b.raw.dials.Load(); n != 1 {
		t.Errorf("%d connections for requests one after another, want 1", n)
	}

	// The backend closes its idle connections: the next request goes
	// through on a new one, with no error.
	proxy.closeAll()
	if got, err := fetch("/small"); err != nil || string(got) != "hello" {
		t.Fatalf("GET after the backend closed idle connections: %q, %v", got, err)
	}
	if n := b.raw.dials.Load(); n != 2 {
		t.Errorf("%d connections after one was closed, want 2", n)
	}
}

// TestRawCutBodies: a body that does not arrive whole is never presented
// as whole: a backend that dies mid-body or stalls makes the read fail
// (the stall as ErrUnavailable, within the timeout) and the client's
// answer cut; a client that leaves mid-body closes the backend connection
// rather than returning it to the pool.
func TestRawCutBodies(t *testing.T) {
	ctx := context.Background()
	seed := newBackend(t)
	mustBucket(t, seed, "cut")
	big := randomBytes(6 << 20)
	if _, err := seed.PutObject(ctx, "cut", "big", bytes.NewReader(big), store.PutOptions{Size: int64(len(big))}); err != nil {
		t.Fatal(err)
	}
	proxy := newCutProxy(t, minioEndpoint)
	const timeout = 700 * time.Millisecond
	b := newRawBackend(t, proxy, seed.bucket, timeout)
	b.buckets.Store("cut", time.Now().Add(time.Hour)) // no bucket checks through the proxy
	var active atomic.Int32
	srv := serveObject(t, b, "cut", &active)

	for _, tc := range []struct {
		name  string
		stall bool
	}{{"backend dies", false}, {"backend stalls", true}} {
		t.Run(tc.name, func(t *testing.T) {
			proxy.set(3<<20, tc.stall)
			defer proxy.set(-1, false)
			defer proxy.closeAll()
			// Read directly.
			start := time.Now()
			obj, err := b.GetObject(ctx, "cut", "big", store.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(struct{ io.Reader }{obj.Body})
			obj.Body.Close()
			if err == nil || len(got) >= len(big) {
				t.Fatalf("read %d of %d bytes, err %v", len(got), len(big), err)
			}
			if tc.stall {
				if !errors.Is(err, store.ErrUnavailable) {
					t.Errorf("stalled read: %v, want ErrUnavailable", err)
				}
				if d := time.Since(start); d > 5*timeout {
					t.Errorf("stall noticed after %s (timeout %s)", d, timeout)
				}
			}
			// Through an HTTP server's splice path: the client's answer is
			// cut, never complete.
			resp, err := srv.Client().Get(srv.URL + "/big")
			if err != nil {
				t.Fatal(err)
			}
			got, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil || len(got) >= len(big) {
				t.Fatalf("client got %d of %d bytes, err %v", len(got), len(big), err)
			}
			if !bytes.Equal(got, big[:len(got)]) {
				t.Error("the bytes before the cut are not the object's")
			}
			if n := b.raw.idleCount(); n != 0 {
				t.Errorf("%d broken connections went back to the pool", n)
			}
		})
	}

	t.Run("client leaves", func(t *testing.T) {
		before := b.raw.dials.Load()
		resp, err := srv.Client().Get(srv.URL + "/big")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(resp.Body, make([]byte, 100<<10)); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		srv.Client().Transport.(*http.Transport).CloseIdleConnections()
		// The handler notices when its writes fail; then the next GET
		// needs a new backend connection and gets the whole object.
		deadline := time.Now().Add(10 * time.Second)
		for active.Load() != 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		obj, err := b.GetObject(ctx, "cut", "big", store.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(obj.Body)
		obj.Body.Close()
		if err != nil || !bytes.Equal(got, big) {
			t.Fatalf("GET after a client left: %d bytes, %v", len(got), err)
		}
		if n := b.raw.dials.Load() - before; n != 2 {
			t.Errorf("%d new connections, want 2 (the abandoned one is not reused)", n)
		}
	})
}
