package e2e

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// runBinary starts the server binary on addr over data with extra flags and
// waits until it is ready. The returned channel is closed once the process
// has exited.
func runBinary(t *testing.T, bin, addr, data string, extra ...string) (*exec.Cmd, <-chan struct{}, *bytes.Buffer) {
	t.Helper()
	args := append([]string{"server", "--addr", addr, "--data", data, "--mirror-allow-private"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "MIRRORSTORE_ACCESS_KEY="+testAccessKey, "MIRRORSTORE_SECRET_KEY="+testSecretKey)
	log := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	waitReady(t, http.DefaultClient, "http://"+addr)
	return cmd, done, log
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// slowBody is an origin body sent in chunks, one every pause, with its
// Content-Length up front. started is closed once the first chunk is out.
func slowBody(body []byte, chunks int, pause time.Duration, started chan<- struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Header().Set("Content-Type", "application/octet-stream")
		step := (len(body) + chunks - 1) / chunks
		for i := 0; i < len(body); i += step {
			_, _ = w.Write(body[i:min(i+step, len(body))])
			w.(http.Flusher).Flush()
			if i == 0 {
				close(started)
			}
			select {
			case <-time.After(pause):
			case <-r.Context().Done():
				return
			}
		}
	}
}

// TestShutdownLetsFillsFinish sends SIGTERM to the server binary while a
// mirror fill is reading a slow origin. With a shutdown timeout longer than
// the fill, the fill completes, its GET gets the whole body and the object
// is there after a restart; with a timeout shorter than the fill, the fill
// is aborted and nothing is stored under its key.
func TestShutdownLetsFillsFinish(t *testing.T) {
	bin := buildServerBinary(t)
	body := make([]byte, 1<<20)
	for i := range body {
		body[i] = byte(i * 7 / 5)
	}

	for _, tc := range []struct {
		name    string
		timeout string
		pause   time.Duration // between the 10 chunks of the body
		whole   bool
	}{
		{name: "fill within the timeout", timeout: "20s", pause: 150 * time.Millisecond, whole: true},
		{name: "fill cut by the timeout", timeout: "500ms", pause: time.Second, whole: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			addr := freeLoopbackAddr(t)
			base := "http://" + addr
			o := newFakeOrigin(t)
			started := make(chan struct{})
			o.handle("/slow", slowBody(body, 10, tc.pause, started))

			srv, exited, log := runBinary(t, bin, addr, data, "--shutdown-timeout", tc.timeout)
			ts := &testServer{client: &http.Client{Timeout: 60 * time.Second}}
			send := func(method, path string, b []byte) reply {
				return ts.send(t, signedRequest(t, base, method, path, b))
			}
			if a := send(http.MethodPut, "/drain", nil); a.status != 200 {
				t.Fatalf("create bucket: %d %s", a.status, a.body)
			}
			doc := "<WebsiteConfiguration><RoutingRules>" + mirrorRule(1, "", o.URL+"/", "") + "</RoutingRules></WebsiteConfiguration>"
			if a := send(http.MethodPut, "/drain?website", []byte(doc)); a.status != 200 {
				t.Fatalf("PUT ?website: %d %s", a.status, a.body)
			}

			type result struct {
				a   reply
				err error
			}
			got := make(chan result, 1)
			req := signedRequest(t, base, http.MethodGet, "/drain/slow", nil)
			go func() {
				a, err := ts.try(req)
				got <- result{a, err}
			}()
			select {
			case <-started:
			case <-time.After(10 * time.Second):
				t.Fatal("the fill never reached the origin")
			}
			sent := time.Now()
			if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case <-exited:
			case <-time.After(30 * time.Second):
				t.Fatalf("server still running 30 s after SIGTERM; its log:\n%s", log)
			}
			took := time.Since(sent)
			r := <-got

			if tc.whole {
				if r.err != nil || r.a.status != 200 || r.a.readErr != nil || !bytes.Equal(r.a.body, body) {
					t.Fatalf("GET during shutdown: err %v, status %d, read %v, %d of %d bytes; log:\n%s",
						r.err, r.a.status, r.a.readErr, len(r.a.body), len(body), log)
				}
			} else {
				if took > 5*time.Second {
					t.Fatalf("shutdown took %v with --shutdown-timeout %s", took, tc.timeout)
				}
				if r.err == nil && r.a.readErr == nil && bytes.Equal(r.a.body, body) {
					t.Fatal("the GET cut by the shutdown timeout got the whole body")
				}
			}

			// Restart on the same data; the origin now refuses, so what a GET
			// finds is what was committed before the shutdown.
			o.handle("/slow", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotFound) })
			runBinary(t, bin, addr, data)
			h := send(http.MethodHead, "/drain/slow", nil)
			a := send(http.MethodGet, "/drain/slow", nil)
			if tc.whole {
				if h.status != 200 || h.header.Get("ETag") == "" || a.status != 200 || !bytes.Equal(a.body, body) {
					t.Fatalf("after restart: HEAD %d ETag %q, GET %d with %d of %d bytes",
						h.status, h.header.Get("ETag"), a.status, len(a.body), len(body))
				}
				if n := o.count("/slow"); n != 1 {
					t.Fatalf("origin asked %d times, want 1 (the restart served from the store)", n)
				}
			} else {
				if h.status != http.StatusNotFound || a.status != http.StatusNotFound {
					t.Fatalf("after restart: HEAD %d, GET %d %q; want 404, nothing stored", h.status, a.status, a.body)
				}
			}
		})
	}
}
