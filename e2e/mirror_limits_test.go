package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mirrorstore/internal/server"
)

// SPEC §7 "Origin protection", "Failover" and the redirect limit, against
// real HTTP origins.

func TestMirrorConcurrencyLimitSlowDown(t *testing.T) {
	const timeout = 500 * time.Millisecond
	ts := startMirrorServerWith(t, server.MirrorConfig{
		Timeout:      timeout,
		IdleTimeout:  10 * time.Second,
		Concurrency:  1,
		AllowPrivate: true,
		Version:      "e2e",
	})
	o := newFakeOrigin(t)
	release := make(chan struct{})
	started := make(chan struct{})
	o.handle("/stall", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		_, _ = w.Write([]byte("01234"))
		w.(http.Flusher).Flush()
		close(started)
		// The fill holds the host's only slot while its body is pending.
		<-release
		_, _ = w.Write([]byte("56789"))
	})
	o.serve("/other", []byte("other bytes"))
	ts.mirrorBucket(t, "slots", mirrorRule(1, "", o.URL+"/", ""))

	first := make(chan reply, 1)
	getReq := signedRequest(t, ts.URL(), http.MethodGet, "/slots/stall", nil)
	go func() {
		// No t.Fatal off the test goroutine: a failed request is
		// reported through the reply and fails the check below.
		a, err := ts.try(getReq)
		if err != nil {
			a.readErr = err
		}
		first <- a
	}()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		close(release)
		t.Fatal("the first fill never reached the origin")
	}

	begin := time.Now()
	a := ts.signed(t, http.MethodGet, "/slots/other", nil)
	waited := time.Since(begin)
	if a.status != http.StatusServiceUnavailable || s3Code(a.body) != "SlowDown" {
		close(release)
		t.Fatalf("second key while the slot is held: %d %s, want 503 SlowDown", a.status, a.body)
	}
	if waited < timeout-50*time.Millisecond || waited > 5*time.Second {
		t.Errorf("503 after %v, want after the %v header timeout", waited, timeout)
	}
	if n := o.count("/other"); n != 0 {
		t.Errorf("origin asked for the refused key %d times", n)
	}
	if h := ts.signed(t, http.MethodHead, "/slots/other", nil); h.status != http.StatusNotFound {
		t.Errorf("refused key stored: HEAD %d", h.status)
	}

	close(release)
	if f := <-first; f.status != 200 || f.readErr != nil || string(f.body) != "0123456789" {
		t.Fatalf("the slot holder's GET: %d %v %q", f.status, f.readErr, f.body)
	}
	// The slot is free again: the same key now mirrors. The holder's fill
	// may still be committing, so allow it a moment to give the slot back.
	deadline := time.Now().Add(5 * time.Second)
	for {
		a = ts.signed(t, http.MethodGet, "/slots/other", nil)
		if a.status == 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if a.status != 200 || string(a.body) != "other bytes" {
		t.Fatalf("after the slot was freed: %d %s", a.status, a.body)
	}
}

func TestMirrorMaxSize(t *testing.T) {
	const limit = 1000
	ts := startMirrorServerWith(t, server.MirrorConfig{
		Timeout:      5 * time.Second,
		IdleTimeout:  5 * time.Second,
		MaxSize:      limit,
		AllowPrivate: true,
		Version:      "e2e",
	})
	o := newFakeOrigin(t)
	o.serve("/fits", bytes.Repeat([]byte("f"), limit))
	o.serve("/announced", bytes.Repeat([]byte("a"), limit+1))
	// No Content-Length: the limit is found only once the headers are out.
	o.handle("/chunked", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(bytes.Repeat([]byte("c"), 600))
		w.(http.Flusher).Flush()
		time.Sleep(50 * time.Millisecond)
		_, _ = w.Write(bytes.Repeat([]byte("c"), 600))
	})
	ts.mirrorBucket(t, "sized", mirrorRule(1, "", o.URL+"/", ""))

	a := ts.signed(t, http.MethodGet, "/sized/fits", nil)
	if a.status != 200 || a.readErr != nil || len(a.body) != limit {
		t.Fatalf("object of exactly the limit: %d %v, %d bytes", a.status, a.readErr, len(a.body))
	}
	ts.waitStored(t, "/sized/fits")

	a = ts.signed(t, http.MethodGet, "/sized/announced", nil)
	if a.status != http.StatusFailedDependency || s3Code(a.body) != "MirrorFailed" || !strings.Contains(string(a.body), "size limit") {
		t.Fatalf("Content-Length over the limit: %d %s, want 424 MirrorFailed", a.status, a.body)
	}

	a = ts.signed(t, http.MethodGet, "/sized/chunked", nil)
	if a.status != 200 || a.readErr == nil {
		t.Fatalf("chunked body over the limit: %d, read error %v, %d bytes: the connection must be cut", a.status, a.readErr, len(a.body))
	}
	if len(a.body) > limit {
		t.Fatalf("client got %d bytes, over the %d limit", len(a.body), limit)
	}

	for _, key := range []string{"announced", "chunked"} {
		if h := ts.signed(t, http.MethodHead, "/sized/"+key, nil); h.status != http.StatusNotFound {
			t.Fatalf("%s stored over the size limit: HEAD %d", key, h.status)
		}
		if l := ts.signed(t, http.MethodGet, "/sized?list-type=2", nil); strings.Contains(string(l.body), "<Key>"+key+"</Key>") {
			t.Fatalf("%s listed after a refused fill", key)
		}
	}
}

func TestMirrorIdleTimeoutCutsAndRetries(t *testing.T) {
	const idle = 300 * time.Millisecond
	ts := startMirrorServerWith(t, server.MirrorConfig{
		Timeout:      5 * time.Second,
		IdleTimeout:  idle,
		AllowPrivate: true,
		Version:      "e2e",
	})
	o := newFakeOrigin(t)
	whole := bytes.Repeat([]byte("i"), 1000)
	var served atomic.Int64
	stallEnded := make(chan time.Duration, 1)
	o.handle("/stall", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(whole)))
		if served.Add(1) > 1 {
			_, _ = w.Write(whole)
			return
		}
		_, _ = w.Write(whole[:400])
		w.(http.Flusher).Flush()
		begin := time.Now()
		// Stall mid-body until the server gives up on us (or far past
		// the idle timeout, which fails the test below).
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		stallEnded <- time.Since(begin)
	})
	ts.mirrorBucket(t, "idle", mirrorRule(1, "", o.URL+"/", ""))

	begin := time.Now()
	a := ts.signed(t, http.MethodGet, "/idle/stall", nil)
	took := time.Since(begin)
	if a.status != 200 || a.readErr == nil {
		t.Fatalf("stalled body: %d, read error %v, %d bytes: the connection must be cut", a.status, a.readErr, len(a.body))
	}
	if !bytes.Equal(a.body, whole[:len(a.body)]) || len(a.body) > 400 {
		t.Fatalf("client got %d unexpected bytes before the cut", len(a.body))
	}
	if took < idle || took > 5*time.Second {
		t.Errorf("cut after %v, want just past the %v idle timeout", took, idle)
	}
	if d := <-stallEnded; d > 5*time.Second {
		t.Errorf("the server kept the origin connection for %v", d)
	}
	if h := ts.signed(t, http.MethodHead, "/idle/stall", nil); h.status != http.StatusNotFound {
		t.Fatalf("stored after an idle timeout: HEAD %d", h.status)
	}

	// The next GET mirrors afresh.
	a = ts.signed(t, http.MethodGet, "/idle/stall", nil)
	if a.status != 200 || a.readErr != nil || !bytes.Equal(a.body, whole) || o.count("/stall") != 2 {
		t.Fatalf("GET after the cut: %d %v, %d bytes, %d origin hits", a.status, a.readErr, len(a.body), o.count("/stall"))
	}
	ts.waitStored(t, "/idle/stall")
}

func TestMirrorSwitchAllErrors(t *testing.T) {
	ts := startMirrorServer(t, true)
	primary, slave := newFakeOrigin(t), newFakeOrigin(t)
	for _, p := range []string{"/all/k", "/some/k"} {
		primary.handle(p, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte("primary says no"))
		})
		slave.serve(p, []byte("from the slave"))
	}
	ts.mirrorBucket(t, "switch",
		mirrorRule(1, "all/", primary.URL+"/", "<MirrorURLSlave>"+slave.URL+"/</MirrorURLSlave><MirrorSwitchAllErrors>true</MirrorSwitchAllErrors>"),
		mirrorRule(2, "some/", primary.URL+"/", "<MirrorURLSlave>"+slave.URL+"/</MirrorURLSlave><MirrorSwitchAllErrors>false</MirrorSwitchAllErrors>"))

	a := ts.signed(t, http.MethodGet, "/switch/all/k", nil)
	if a.status != 200 || string(a.body) != "from the slave" || primary.count("/all/k") != 1 || slave.count("/all/k") != 1 {
		t.Fatalf("403 with MirrorSwitchAllErrors true: %d %q, hits %d/%d", a.status, a.body, primary.count("/all/k"), slave.count("/all/k"))
	}
	if tag := a.header.Get("X-Oss-Tag"); tag != "MIRROR "+slave.URL+"/all/k" {
		t.Errorf("tag %q, want the secondary's URL", tag)
	}

	a = ts.signed(t, http.MethodGet, "/switch/some/k", nil)
	if a.status != http.StatusFailedDependency || s3Code(a.body) != "MirrorFailed" || !strings.Contains(string(a.body), "403") {
		t.Fatalf("403 with MirrorSwitchAllErrors false: %d %s, want 424 naming 403", a.status, a.body)
	}
	if primary.count("/some/k") != 1 || slave.count("/some/k") != 0 {
		t.Fatalf("MirrorSwitchAllErrors false failed over on a 403: hits %d/%d", primary.count("/some/k"), slave.count("/some/k"))
	}
	if h := ts.signed(t, http.MethodHead, "/switch/some/k", nil); h.status != http.StatusNotFound {
		t.Fatalf("stored after a refused answer: HEAD %d", h.status)
	}
}

func TestMirrorRedirectHopLimit(t *testing.T) {
	ts := startMirrorServer(t, true)
	o := newFakeOrigin(t)
	// /hN redirects to /h(N-1); /h0 is the file. A GET of /hN follows N hops.
	o.serve("/h0", []byte("end of the chain"))
	for i := 1; i <= 11; i++ {
		next := fmt.Sprintf("/h%d", i-1)
		o.handle(fmt.Sprintf("/h%d", i), func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, next, http.StatusFound)
		})
	}
	ts.mirrorBucket(t, "hops", mirrorRule(1, "", o.URL+"/", ""))

	a := ts.signed(t, http.MethodGet, "/hops/h10", nil)
	if a.status != 200 || string(a.body) != "end of the chain" {
		t.Fatalf("10 hops: %d %s, want 200", a.status, a.body)
	}
	a = ts.signed(t, http.MethodGet, "/hops/h11", nil)
	if a.status != http.StatusFailedDependency || s3Code(a.body) != "MirrorFailed" || !strings.Contains(string(a.body), "redirect") {
		t.Fatalf("11 hops: %d %s, want 424 MirrorFailed", a.status, a.body)
	}
	if o.count("/h0") != 1 {
		t.Fatalf("the 11-hop chain reached the file: %d hits on /h0", o.count("/h0"))
	}
	if h := ts.signed(t, http.MethodHead, "/hops/h11", nil); h.status != http.StatusNotFound {
		t.Fatalf("stored after too many redirects: HEAD %d", h.status)
	}
}
