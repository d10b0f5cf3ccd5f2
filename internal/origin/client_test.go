package origin

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func newTestClient(cfg Config) *Client {
	cfg.AllowPrivate = true
	cfg.Version = "test"
	c := NewClient(cfg)
	return c
}

func get(t *testing.T, c *Client, req Request) *Response {
	t.Helper()
	resp, err := c.Get(context.Background(), req)
	if err != nil {
		t.Fatalf("Get %s: %v", req.URL, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestRefusedAddresses(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1":        true,
		"127.1.2.3":        true,
		"::1":              true,
		"::ffff:127.0.0.1": true,
		"169.254.169.254":  true,
		"fe80::1":          true,
		"10.1.2.3":         true,
		"172.16.0.1":       true,
		"172.31.255.255":   true,
		"192.168.1.1":      true,
		"fc00::1":          true,
		"fd12::1":          true,
		"100.64.0.1":       true,
		"0.0.0.0":          true,
		"0.1.2.3":          true,
		"::":               true,
		"224.0.0.1":        true,
		"ff02::1":          true,
		"255.255.255.255":  true,
		"8.8.8.8":          false,
		"172.32.0.1":       false,
		"100.128.0.1":      false,
		"2001:4860::8888":  false,
		"93.184.216.34":    false,
	} {
		if got := refused(netip.MustParseAddr(addr)); got != want {
			t.Errorf("refused(%s) = %v, want %v", addr, got, want)
		}
	}
}

func TestGuardRefusesLoopback(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	c := NewClient(Config{HeaderTimeout: 2 * time.Second})
	defer c.Close()
	for _, u := range []string{srv.URL + "/x", "http://localhost:" + port + "/x"} {
		_, err := c.Get(context.Background(), Request{URL: u})
		if !errors.Is(err, ErrRefusedAddress) {
			t.Errorf("Get %s: err = %v, want ErrRefusedAddress", u, err)
		}
	}
	if hits.Load() != 0 {
		t.Errorf("refused origin saw %d requests", hits.Load())
	}
}

// TestGuardOnRedirectHop serves the first hop from 127.0.0.2, which this test
// allows, and redirects to 127.0.0.1, which it refuses: the hop must be
// dialed through the guard too.
func TestGuardOnRedirectHop(t *testing.T) {
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer target.Close()
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatalf("listen on 127.0.0.2: %v", err)
	}
	first := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/y", http.StatusFound)
	}))
	first.Listener.Close()
	first.Listener = ln
	first.Start()
	defer first.Close()

	c := NewClient(Config{HeaderTimeout: 2 * time.Second})
	defer c.Close()
	c.dialer.Control = guard(func(a netip.Addr) bool { return a == netip.MustParseAddr("127.0.0.1") })
	_, err = c.Get(context.Background(), Request{URL: first.URL + "/x", FollowRedirects: true})
	if !errors.Is(err, ErrRefusedAddress) {
		t.Fatalf("err = %v, want ErrRefusedAddress", err)
	}
	if hits.Load() != 0 {
		t.Errorf("refused hop saw %d requests", hits.Load())
	}
	// The first hop itself was allowed.
	resp, err := c.Get(context.Background(), Request{URL: first.URL + "/x"})
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("first hop: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestHeaderPolicy(t *testing.T) {
	client := http.Header{}
	for k, v := range map[string]string{
		"X-App-Token":         "tok",
		"Cookie":              "a=b",
		"Accept":              "image/*",
		"X-Other":             "o",
		"Host":                "client.example",
		"Authorization":       "AWS4-HMAC-SHA256 x",
		"Range":               "bytes=0-1",
		"Content-Length":      "0",
		"Date":                "today",
		"Connection":          "keep-alive, X-Hop",
		"X-Hop":               "hop",
		"Keep-Alive":          "timeout=5",
		"Proxy-Authorization": "p",
		"Te":                  "trailers",
		"Trailer":             "X",
		"Transfer-Encoding":   "chunked",
		"Upgrade":             "h2c",
		"If-None-Match":       "*",
		"If-Modified-Since":   "x",
		"X-Amz-Date":          "d",
		"X-Oss-Meta-A":        "m",
		"Oss-Thing":           "t",
		"X-Drs-Foo":           "f",
		"Accept-Encoding":     "gzip",
		"User-Agent":          "curl/8",
	} {
		client.Set(k, v)
	}
	never := []string{"Host", "Authorization", "Range", "Content-Length", "Date", "Connection", "X-Hop",
		"Keep-Alive", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"If-None-Match", "If-Modified-Since", "X-Amz-Date", "X-Oss-Meta-A", "Oss-Thing", "X-Drs-Foo",
		"Accept-Encoding", "User-Agent"}

	cases := []struct {
		name   string
		policy HeaderPolicy
		want   map[string]string // "" means absent
	}{
		{"nothing by default", HeaderPolicy{},
			map[string]string{"X-App-Token": "", "Cookie": "", "Accept": ""}},
		{"pass list", HeaderPolicy{Pass: []string{"x-app-token", "authorization", "range"}},
			map[string]string{"X-App-Token": "tok", "Cookie": "", "Authorization": "", "Range": ""}},
		{"pass all minus remove", HeaderPolicy{PassAll: true, Remove: []string{"cookie"}},
			map[string]string{"X-App-Token": "tok", "Accept": "image/*", "X-Other": "o", "Cookie": ""}},
		{"set wins and may name Host", HeaderPolicy{PassAll: true, Set: []HeaderValue{
			{"x-other", "fixed"}, {"Host", "site.example"}, {"Accept-Encoding", "gzip"},
			{"Range", "bytes=0-0"}, {"If-Match", "x"}, {"User-Agent", "spoof"}}},
			map[string]string{"X-Other": "fixed", "Host": "site.example", "Accept-Encoding": "",
				"Range": "", "If-Match": "", "User-Agent": ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.policy.Build(client)
			for k, v := range tc.want {
				if g := got.Get(k); g != v {
					t.Errorf("%s = %q, want %q", k, g, v)
				}
			}
			for _, k := range never {
				if k == "Host" && tc.want["Host"] != "" {
					continue
				}
				if v := got.Get(k); v != "" {
					t.Errorf("never-passed %s was passed: %q", k, v)
				}
			}
		})
	}
}

// TestWhatTheOriginSees sends a built policy through a real server and checks
// the request it got, header by header.
func TestWhatTheOriginSees(t *testing.T) {
	var seen *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Clone(context.Background())
	}))
	defer srv.Close()
	client := http.Header{
		"X-App-Token":     {"tok"},
		"Cookie":          {"a=b"},
		"Accept-Encoding": {"gzip, br"},
		"User-Agent":      {"curl/8"},
		"Authorization":   {"secret"},
		"If-None-Match":   {"*"},
		"X-Amz-Date":      {"now"},
	}
	h := HeaderPolicy{PassAll: true, Remove: []string{"Cookie"},
		Set: []HeaderValue{{"Host", "site.example"}, {"X-From", "mirrorstore"}}}.Build(client)
	c := newTestClient(Config{})
	defer c.Close()
	get(t, c, Request{URL: srv.URL + "/k"})
	get(t, c, Request{URL: srv.URL + "/k", Header: h})

	if seen.Host != "site.example" {
		t.Errorf("Host = %q, want the Set override", seen.Host)
	}
	want := map[string]string{
		"X-App-Token": "tok", "X-From": "mirrorstore", "User-Agent": "mirrorstore-mirror/test",
		"Cookie": "", "Accept-Encoding": "", "Authorization": "", "If-None-Match": "", "X-Amz-Date": "",
	}
	for k, v := range want {
		if g := seen.Header.Get(k); g != v {
			t.Errorf("origin saw %s = %q, want %q", k, g, v)
		}
	}
	if !IsMirrorRequest(seen) {
		t.Error("IsMirrorRequest(origin's request) = false")
	}
	if r := httptest.NewRequest("GET", "/", nil); IsMirrorRequest(r) {
		t.Error("IsMirrorRequest(plain request) = true")
	}
}

func TestNoDecompression(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(bytes.Repeat([]byte("mirror "), 1000))
	zw.Close()
	gz := buf.Bytes()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(gz)
	}))
	defer srv.Close()
	c := newTestClient(Config{})
	defer c.Close()
	resp := get(t, c, Request{URL: srv.URL})
	body, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(body, gz) {
		t.Fatalf("body changed in transit (%d bytes, want %d gzip bytes): %v", len(body), len(gz), err)
	}
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("Content-Encoding = %q", resp.Header.Get("Content-Encoding"))
	}
}

func TestRedirects(t *testing.T) {
	var other *http.Request
	otherSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		other = r.Clone(context.Background())
		io.WriteString(w, "moved here")
	}))
	defer otherSrv.Close()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		var n int
		switch {
		case r.URL.Path == "/away":
			http.Redirect(w, r, otherSrv.URL+"/there", http.StatusMovedPermanently)
		case r.URL.Path == "/a/relative":
			w.Header().Set("Location", "../final")
			w.WriteHeader(http.StatusFound)
		case r.URL.Path == "/final":
			io.WriteString(w, "final")
		default:
			// /hops/N redirects N more times.
			fmt.Sscanf(r.URL.Path, "/hops/%d", &n)
			if n == 0 {
				io.WriteString(w, "done")
				return
			}
			http.Redirect(w, r, fmt.Sprintf("/hops/%d", n-1), http.StatusTemporaryRedirect)
		}
	}))
	defer srv.Close()
	c := newTestClient(Config{})
	defer c.Close()

	resp := get(t, c, Request{URL: srv.URL + "/hops/10", FollowRedirects: true})
	if b, _ := io.ReadAll(resp.Body); string(b) != "done" || resp.URL != srv.URL+"/hops/0" {
		t.Errorf("10 hops: body %q from %s", b, resp.URL)
	}
	hits.Store(0)
	if _, err := c.Get(context.Background(), Request{URL: srv.URL + "/hops/11", FollowRedirects: true}); !errors.Is(err, ErrTooManyRedirects) {
		t.Errorf("11 hops: err = %v, want ErrTooManyRedirects", err)
	}
	if hits.Load() != MaxRedirects+1 {
		t.Errorf("11 hops: origin saw %d requests, want %d", hits.Load(), MaxRedirects+1)
	}

	resp = get(t, c, Request{URL: srv.URL + "/a/relative"})
	if resp.StatusCode != http.StatusFound || resp.Location != srv.URL+"/final" {
		t.Errorf("not followed: %d Location %q", resp.StatusCode, resp.Location)
	}

	h := http.Header{"Host": {"site.example"}, "Cookie": {"a=b"}, "X-Keep": {"k"}}
	resp = get(t, c, Request{URL: srv.URL + "/away", Header: h, FollowRedirects: true})
	if b, _ := io.ReadAll(resp.Body); string(b) != "moved here" {
		t.Fatalf("cross-host redirect: body %q", b)
	}
	if other.Host == "site.example" || other.Header.Get("Cookie") != "" || other.Header.Get("X-Keep") != "k" {
		t.Errorf("cross-host hop saw Host %q Cookie %q X-Keep %q", other.Host, other.Header.Get("Cookie"), other.Header.Get("X-Keep"))
	}
}

func TestTimeouts(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/noheaders":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/drip":
			w.Header().Set("Content-Length", "100")
			w.Write([]byte("x"))
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	}))
	defer srv.Close()
	c := newTestClient(Config{HeaderTimeout: 200 * time.Millisecond, IdleTimeout: 200 * time.Millisecond})
	defer c.Close()

	start := time.Now()
	if _, err := c.Get(context.Background(), Request{URL: srv.URL + "/noheaders"}); !errors.Is(err, ErrHeaderTimeout) {
		t.Errorf("no headers: err = %v, want ErrHeaderTimeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("header timeout took %v", d)
	}
	resp := get(t, c, Request{URL: srv.URL + "/drip"})
	_, err := io.ReadAll(resp.Body)
	if !errors.Is(err, ErrIdleTimeout) {
		t.Errorf("stalled body: err = %v, want ErrIdleTimeout", err)
	}
}

func TestPerHostLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	c := newTestClient(Config{PerHostLimit: 2, HeaderTimeout: 200 * time.Millisecond})
	defer c.Close()
	a := get(t, c, Request{URL: srv.URL + "/a"})
	b := get(t, c, Request{URL: srv.URL + "/b"})
	start := time.Now()
	_, err := c.Get(context.Background(), Request{URL: srv.URL + "/c"})
	if !errors.Is(err, ErrSlowDown) {
		t.Fatalf("third request: err = %v, want ErrSlowDown", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("SlowDown after %v, want a wait of the header timeout", d)
	}
	a.Body.Close()
	get(t, c, Request{URL: srv.URL + "/c"})

	// A waiter gets the slot freed during its wait.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(50 * time.Millisecond)
		b.Body.Close()
	}()
	resp, err := c.Get(context.Background(), Request{URL: srv.URL + "/d"})
	wg.Wait()
	if err != nil {
		t.Fatalf("waiter: %v", err)
	}
	resp.Body.Close()
}

func TestSNI(t *testing.T) {
	var sni atomic.Value
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Host)
	}))
	srv.TLS = &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		sni.Store(h.ServerName)
		return nil, nil
	}}
	srv.StartTLS()
	defer srv.Close()
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	c := newTestClient(Config{TLSConfig: &tls.Config{RootCAs: roots}})
	defer c.Close()
	// httptest's certificate names example.com.
	h := http.Header{"Host": {"example.com"}}
	resp := get(t, c, Request{URL: srv.URL + "/k", Header: h, SNI: true})
	if b, _ := io.ReadAll(resp.Body); string(b) != "example.com" {
		t.Errorf("origin saw Host %q", b)
	}
	if got := sni.Load(); got != "example.com" {
		t.Errorf("SNI = %v, want example.com", got)
	}
	// Without SNI the name is the URL's (an IP sends none).
	resp = get(t, c, Request{URL: srv.URL + "/k", Header: h})
	resp.Body.Close()
	if got := sni.Load(); got != "" {
		t.Errorf("SNI without MirrorSNI = %q, want none", got)
	}
}

func TestKeep(t *testing.T) {
	h := http.Header{
		"Content-Type":                {"image/png"},
		"Content-Encoding":            {"gzip"},
		"Content-Disposition":         {"inline"},
		"Cache-Control":               {"max-age=60"},
		"Expires":                     {"Thu, 01 Dec 2044 16:00:00 GMT"},
		"Content-Language":            {"fr"},
		"Access-Control-Allow-Origin": {"*"},
		"Etag":                        {`"abc"`},
		"Server":                      {"nginx"},
		"X-Oss-Meta-Color":            {"red"},
		"X-Amz-Meta-Size":             {"big"},
	}
	k, err := Keep(h, false)
	if err != nil || len(k.Header) != 7 || k.Meta != nil {
		t.Fatalf("Keep without meta: %+v %v", k, err)
	}
	if k.Header["Content-Encoding"] != "gzip" || k.Header["Access-Control-Allow-Origin"] != "*" {
		t.Errorf("kept %+v", k.Header)
	}
	k, err = Keep(h, true)
	if err != nil || k.Meta["color"] != "red" || k.Meta["size"] != "big" || len(k.Meta) != 2 {
		t.Fatalf("Keep with meta: %+v %v", k.Meta, err)
	}
	h.Set("X-Amz-Meta-Big", strings.Repeat("v", MaxUserMeta))
	if _, err := Keep(h, true); !errors.Is(err, ErrMetaTooLarge) {
		t.Errorf("oversized meta: err = %v", err)
	}
	if _, err := Keep(h, false); err != nil {
		t.Errorf("oversized meta ignored without SaveMeta: err = %v", err)
	}
}
