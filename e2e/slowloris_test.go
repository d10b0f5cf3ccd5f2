package e2e

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mirrorstore/internal/server"
)

// TestSlowHeadersAreCut opens a raw connection that sends a request's
// headers one byte at a time, far slower than ReadHeaderTimeout allows:
// the server closes it at the timeout, while other clients get answers all
// along.
func TestSlowHeadersAreCut(t *testing.T) {
	const headerTimeout = time.Second
	ts := startWithClient(t, server.Config{
		Addr:              "127.0.0.1:0",
		DataDir:           filepath.Join(t.TempDir(), "data"),
		AccessKey:         testAccessKey,
		SecretKey:         testSecretKey,
		ShutdownTimeout:   5 * time.Second,
		ReadHeaderTimeout: headerTimeout,
	}, &http.Client{Timeout: 5 * time.Second})
	s := ts.Server
	if a := ts.signed(t, http.MethodPut, "/busy", nil); a.status != 200 {
		t.Fatalf("create bucket: %d %s", a.status, a.body)
	}
	if a := ts.signed(t, http.MethodPut, "/busy/k", []byte("served meanwhile")); a.status != 200 {
		t.Fatalf("PUT: %d %s", a.status, a.body)
	}

	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// 60 bytes at one every 100 ms would take 6 s.
	head := "GET /busy/k HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + strings.Repeat("z", 10) + "\r\n\r\n"
	start := time.Now()
	sentAll := make(chan bool, 1)
	go func() {
		for i := 0; i < len(head); i++ {
			if _, err := conn.Write([]byte{head[i]}); err != nil {
				sentAll <- false
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		sentAll <- true
	}()
	type closed struct {
		after time.Duration
		got   []byte
		err   error
	}
	cut := make(chan closed, 1)
	go func() {
		got, err := io.ReadAll(conn)
		cut <- closed{time.Since(start), got, err}
	}()

	served := 0
	var c closed
wait:
	for {
		select {
		case c = <-cut:
			break wait
		case <-time.After(100 * time.Millisecond):
		}
		if time.Since(start) > 4*headerTimeout {
			t.Fatalf("slow connection still open after %v (ReadHeaderTimeout %v)", time.Since(start), headerTimeout)
		}
		t0 := time.Now()
		a := ts.signed(t, http.MethodGet, "/busy/k", nil)
		if a.status != 200 || string(a.body) != "served meanwhile" {
			t.Fatalf("GET while a slow client hangs on: %d %q", a.status, a.body)
		}
		if d := time.Since(t0); d > 500*time.Millisecond {
			t.Fatalf("GET while a slow client hangs on took %v", d)
		}
		served++
	}
	if c.after < headerTimeout-100*time.Millisecond || c.after > 3*headerTimeout {
		t.Fatalf("slow connection closed after %v, want about %v", c.after, headerTimeout)
	}
	// The server never answered the half-sent request with the object.
	if strings.Contains(string(c.got), "served meanwhile") || strings.HasPrefix(string(c.got), "HTTP/1.1 200") {
		t.Fatalf("slow request was answered: %q", c.got)
	}
	if served < 5 {
		t.Fatalf("only %d requests served while the slow client hung on", served)
	}
	// Its writer notices the closed connection before sending everything.
	select {
	case all := <-sentAll:
		if all {
			t.Fatal("the slow client sent its whole request before the cut")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("writes to the cut connection kept succeeding")
	}
	t.Logf("cut after %v; %d requests served meanwhile; server sent %q", c.after, served, c.got)
}

// TestIdleConnectionsAreClosed: a kept-alive connection that sends no next
// request is closed at IdleTimeout, and one that keeps asking is not.
func TestIdleConnectionsAreClosed(t *testing.T) {
	const idle = 500 * time.Millisecond
	s := startConfigured(t, server.Config{
		Addr:            "127.0.0.1:0",
		DataDir:         filepath.Join(t.TempDir(), "data"),
		AccessKey:       testAccessKey,
		SecretKey:       testSecretKey,
		ShutdownTimeout: 5 * time.Second,
		IdleTimeout:     idle,
	}).Server
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	ask := func() {
		t.Helper()
		if _, err := io.WriteString(conn, "GET /-/healthy HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/-/healthy: %d", resp.StatusCode)
		}
	}
	// Requests closer together than the idle timeout keep the connection.
	for i := 0; i < 4; i++ {
		ask()
		time.Sleep(idle / 3)
	}
	start := time.Now()
	if err := conn.SetReadDeadline(time.Now().Add(10 * idle)); err != nil {
		t.Fatal(err)
	}
	if n, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection: read %v, %v; want EOF at the idle timeout", n, err)
	}
	if d := time.Since(start); d < idle/2 || d > 6*idle {
		t.Fatalf("idle connection closed after %v, want about %v", d, idle)
	}
}
