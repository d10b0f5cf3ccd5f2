package s3api

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"mirrorstore/internal/store/local"
)

// Answers are flushed before the log line when their declared body is
// whole; over a real connection every shape must keep its framing: a
// counted length (never chunked), the right bytes, and a kept-alive
// connection for the next request.
func TestAnswersKeepTheirFraming(t *testing.T) {
	eng, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	srv := httptest.NewServer(New(Config{Backend: eng, Auth: rootAuth{}}))
	defer srv.Close()
	big := bytes.Repeat([]byte("b"), 4096)
	huge := bytes.Repeat([]byte("h"), 100<<10)
	for _, c := range []struct {
		method, path string
		body         []byte
		status       int
		want         []byte // nil: only the length is checked
	}{
		{"PUT", "/bkt", nil, 200, []byte{}},
		{"PUT", "/bkt/small", []byte("tiny"), 200, []byte{}},
		{"PUT", "/bkt/big", big, 200, []byte{}},
		{"PUT", "/bkt/huge", huge, 200, []byte{}},
		{"GET", "/bkt/small", nil, 200, []byte("tiny")},
		{"GET", "/bkt/big", nil, 200, big},
		{"GET", "/bkt/huge", nil, 200, huge},
		{"HEAD", "/bkt/big", nil, 200, []byte{}},
		{"GET", "/bkt/missing", nil, 404, nil},
		{"GET", "/bkt?list-type=2", nil, 200, nil},
		{"GET", "/-/healthy", nil, 200, []byte("ok\n")},
	} {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, bytes.NewReader(c.body))
		if c.body == nil {
			req.Body = nil
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s %s: %v", c.method, c.path, err)
		}
		if resp.StatusCode != c.status {
			t.Errorf("%s %s: status %d, want %d", c.method, c.path, resp.StatusCode, c.status)
		}
		if len(resp.TransferEncoding) != 0 {
			t.Errorf("%s %s: chunked (%v)", c.method, c.path, resp.TransferEncoding)
		}
		if c.method != "HEAD" && resp.ContentLength != int64(len(got)) {
			t.Errorf("%s %s: Content-Length %d, body %d bytes", c.method, c.path, resp.ContentLength, len(got))
		}
		if c.want != nil && !bytes.Equal(got, c.want) {
			t.Errorf("%s %s: body %q, want %q", c.method, c.path, trunc(got), trunc(c.want))
		}
	}
}

func trunc(b []byte) string {
	s := string(b)
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
