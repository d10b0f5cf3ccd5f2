package mirror

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"mirrorstore/internal/origin"
	"mirrorstore/internal/store"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// wantFailed checks err is a *FailedError with msg.
func wantFailed(t *testing.T, err error, msg string) {
	t.Helper()
	var fe *FailedError
	if !errors.As(err, &fe) || fe.Message != msg {
		t.Fatalf("err = %v, want FailedError %q", err, msg)
	}
}

// TestOriginAnswers covers every row of SPEC §7's origin-answer table.
func TestOriginAnswers(t *testing.T) {
	body := []byte("hello from the origin")
	cases := []struct {
		name    string
		handler func(o *faultOrigin) http.HandlerFunc
		spec    func(*Spec)
		check   func(t *testing.T, o *faultOrigin, err error)
		result  Result
		stored  bool
	}{
		{name: "200 is streamed and stored",
			handler: func(o *faultOrigin) http.HandlerFunc { return serve(body, "Content-Type", "text/plain") },
			result:  ResultStored, stored: true},
		{name: "3xx followed",
			handler: func(o *faultOrigin) http.HandlerFunc {
				o.handle("/final", serve(body))
				return func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, "/final", http.StatusMovedPermanently)
				}
			},
			result: ResultStored, stored: true},
		{name: "3xx not followed is 302 with the origin's Location",
			handler: func(o *faultOrigin) http.HandlerFunc { return status(http.StatusFound, "Location", "/elsewhere") },
			spec:    func(s *Spec) { s.FollowRedirect = false },
			check: func(t *testing.T, o *faultOrigin, err error) {
				var re *RedirectError
				if !errors.As(err, &re) || re.Location != o.URL+"/elsewhere" {
					t.Fatalf("err = %v, want RedirectError to %s/elsewhere", err, o.URL)
				}
			},
			result: ResultFailed},
		{name: "206 is MirrorFailed",
			handler: func(o *faultOrigin) http.HandlerFunc { return status(http.StatusPartialContent) },
			check: func(t *testing.T, o *faultOrigin, err error) {
				wantFailed(t, err, "Mirror host returned HTTP status 206")
			},
			result: ResultFailed},
		{name: "304 is MirrorFailed",
			handler: func(o *faultOrigin) http.HandlerFunc { return status(http.StatusNotModified) },
			check: func(t *testing.T, o *faultOrigin, err error) {
				wantFailed(t, err, "Mirror host returned HTTP status 304")
			},
			result: ResultFailed},
		{name: "other 2xx is MirrorFailed",
			handler: func(o *faultOrigin) http.HandlerFunc { return status(http.StatusAccepted) },
			check: func(t *testing.T, o *faultOrigin, err error) {
				wantFailed(t, err, "Mirror host returned HTTP status 202")
			},
			result: ResultFailed},
		{name: "404 is NoSuchKey",
			handler: func(o *faultOrigin) http.HandlerFunc { return status(http.StatusNotFound) },
			check: func(t *testing.T, o *faultOrigin, err error) {
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("err = %v, want ErrNotFound", err)
				}
			},
			result: ResultOrigin404},
		{name: "transparent code passes status and body",
			handler: func(o *faultOrigin) http.HandlerFunc {
				return status(http.StatusForbidden, "Content-Type", "text/html")
			},
			spec: func(s *Spec) { s.TransparentCodes = []int{403, 503} },
			check: func(t *testing.T, o *faultOrigin, err error) {
				var te *TransparentError
				if !errors.As(err, &te) || te.StatusCode != 403 || string(te.Body) != "origin says 403" ||
					te.Header.Get("Content-Type") != "text/html" {
					t.Fatalf("err = %#v, want TransparentError 403", err)
				}
			},
			result: ResultFailed},
		{name: "other codes are MirrorFailed with the status",
			handler: func(o *faultOrigin) http.HandlerFunc { return status(http.StatusInternalServerError) },
			spec:    func(s *Spec) { s.TransparentCodes = []int{403} },
			check: func(t *testing.T, o *faultOrigin, err error) {
				wantFailed(t, err, "Mirror host returned HTTP status 500")
			},
			result: ResultFailed},
		{name: "redirect loop",
			handler: func(o *faultOrigin) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, r.URL.Path, http.StatusFound) }
			},
			check: func(t *testing.T, o *faultOrigin, err error) {
				wantFailed(t, err, MsgRedirects)
				if n := o.hitsOf("/obj"); n != origin.MaxRedirects+1 {
					t.Errorf("origin saw %d requests, want %d", n, origin.MaxRedirects+1)
				}
			},
			result: ResultFailed},
		{name: "header timeout",
			handler: func(o *faultOrigin) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) { o.stall(r) }
			},
			check: func(t *testing.T, o *faultOrigin, err error) {
				wantFailed(t, err, MsgTimeout)
			},
			result: ResultFailed},
		{name: "meta too large",
			handler: func(o *faultOrigin) http.HandlerFunc {
				return serve(body, "X-Oss-Meta-Big", strings.Repeat("m", 3000))
			},
			spec: func(s *Spec) { s.SaveMeta = true },
			check: func(t *testing.T, o *faultOrigin, err error) {
				wantFailed(t, err, MsgMetaTooLarge)
			},
			result: ResultFailed},
		{name: "announced length over MaxSize",
			handler: func(o *faultOrigin) http.HandlerFunc { return serve(pattern(2000)) },
			check: func(t *testing.T, o *faultOrigin, err error) {
				wantFailed(t, err, MsgTooLarge)
			},
			result: ResultFailed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrigin(t)
			f := newFixture(t, origin.Config{HeaderTimeout: 300 * time.Millisecond}, false, 1000)
			s := spec(o.handle("/obj", tc.handler(o)))
			if tc.spec != nil {
				tc.spec(&s)
			}
			r, err := f.m.Open(context.Background(), s)
			if tc.stored {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				got, err := io.ReadAll(r)
				r.Close()
				if err != nil || !bytes.Equal(got, body) {
					t.Fatalf("body %q, %v", got, err)
				}
				if r.Info.Size != int64(len(body)) {
					t.Errorf("Info.Size = %d", r.Info.Size)
				}
			} else {
				if err == nil {
					r.Close()
					t.Fatal("Open succeeded")
				}
				tc.check(t, o, err)
			}
			if res := f.rec.waitEnd(t); res != tc.result {
				t.Errorf("result = %s, want %s", res, tc.result)
			}
			data, info, ok := f.store.get("b", "k")
			if ok != tc.stored {
				t.Fatalf("stored = %v, want %v", ok, tc.stored)
			}
			if ok && (!bytes.Equal(data, body) || info.Attrs.MirrorOrigin != s.URLs[0]) {
				t.Errorf("stored %q with origin %q", data, info.Attrs.MirrorOrigin)
			}
			f.stagingEmpty(t)
		})
	}

	t.Run("connect failure", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		f := newFixture(t, origin.Config{}, false, 0)
		_, err := f.m.Open(context.Background(), spec(dead.URL+"/obj"))
		wantFailed(t, err, MsgConnectFailed)
		if res := f.rec.waitEnd(t); res != ResultFailed {
			t.Errorf("result = %s", res)
		}
	})
}

func TestRefusedAddress(t *testing.T) {
	o := newOrigin(t)
	f := newFixture(t, origin.Config{}, true, 0)
	for _, u := range []string{o.handle("/obj", serve([]byte("x"))), strings.Replace(o.URL, "127.0.0.1", "localhost", 1) + "/obj"} {
		_, err := f.m.Open(context.Background(), spec(u))
		wantFailed(t, err, MsgRefused)
		if !errors.Is(err, origin.ErrRefusedAddress) {
			t.Errorf("err %v does not wrap ErrRefusedAddress", err)
		}
		if res := f.rec.waitEnd(t); res != ResultRefused {
			t.Errorf("result = %s, want refused", res)
		}
	}
	if n := o.hitsOf("/obj"); n != 0 {
		t.Errorf("refused origin saw %d requests", n)
	}
}

func TestFailover(t *testing.T) {
	body := []byte("from the secondary")
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	cases := []struct {
		name      string
		primary   func(o *faultOrigin) http.HandlerFunc
		dead      bool
		switchAll bool
		transp    []int
		secondary http.HandlerFunc
		wantSec   bool // the secondary was asked
		check     func(t *testing.T, err error)
	}{
		{name: "connection failure", dead: true, wantSec: true},
		{name: "5xx", primary: func(*faultOrigin) http.HandlerFunc { return status(503) }, wantSec: true},
		{name: "header timeout", wantSec: true,
			primary: func(o *faultOrigin) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) { o.stall(r) }
			}},
		{name: "4xx does not switch by default", primary: func(*faultOrigin) http.HandlerFunc { return status(403) },
			check: func(t *testing.T, err error) { wantFailed(t, err, "Mirror host returned HTTP status 403") }},
		{name: "4xx switches with SwitchAllErrors", primary: func(*faultOrigin) http.HandlerFunc { return status(403) },
			switchAll: true, wantSec: true},
		{name: "404 never switches", primary: func(*faultOrigin) http.HandlerFunc { return status(404) }, switchAll: true,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("err = %v", err)
				}
			}},
		{name: "206 never switches", primary: func(*faultOrigin) http.HandlerFunc { return status(206) }, switchAll: true,
			check: func(t *testing.T, err error) { wantFailed(t, err, "Mirror host returned HTTP status 206") }},
		{name: "transparent codes judged on the last origin", primary: func(*faultOrigin) http.HandlerFunc { return status(500) },
			transp: []int{500, 502}, secondary: status(502), wantSec: true,
			check: func(t *testing.T, err error) {
				var te *TransparentError
				if !errors.As(err, &te) || te.StatusCode != 502 {
					t.Fatalf("err = %v, want the secondary's 502", err)
				}
			}},
		{name: "no failover once headers are sent", primary: func(*faultOrigin) http.HandlerFunc { return reset(pattern(100000), true) },
			check: func(t *testing.T, err error) { wantFailed(t, err, MsgReadFailed) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrigin(t)
			f := newFixture(t, origin.Config{HeaderTimeout: 300 * time.Millisecond}, false, 0)
			primary := dead.URL + "/p"
			if !tc.dead {
				primary = o.handle("/p", tc.primary(o))
			}
			sec := tc.secondary
			if sec == nil {
				sec = serve(body)
			}
			s := spec(primary, o.handle("/s", sec))
			s.SwitchAllErrors, s.TransparentCodes = tc.switchAll, tc.transp
			r, err := f.m.Open(context.Background(), s)
			if err == nil {
				var got []byte
				got, err = io.ReadAll(r)
				r.Close()
				if err == nil && (!bytes.Equal(got, body) || r.Info.OriginURL != s.URLs[1]) {
					t.Errorf("body %q from %s", got, r.Info.OriginURL)
				}
			}
			if tc.check != nil {
				tc.check(t, err)
			} else if err != nil {
				t.Fatalf("err = %v", err)
			}
			if asked := o.hitsOf("/s") > 0; asked != tc.wantSec {
				t.Errorf("secondary asked = %v, want %v", asked, tc.wantSec)
			}
			res := f.rec.waitEnd(t)
			if _, info, ok := f.store.get("b", "k"); ok != (tc.check == nil) || (ok && info.Attrs.MirrorOrigin != s.URLs[1]) {
				t.Errorf("stored = %v (origin %q), result %s", ok, info.Attrs.MirrorOrigin, res)
			}
		})
	}
}

// TestWholeOrNothing: a body that ends short, breaks, stalls, fails MD5 or
// grows past MaxSize is never stored; readers get an error, the store's body
// reader fails (not io.EOF), staging is cleaned, and the next Open fetches
// afresh.
// wholeCase is one bad origin body of TestWholeOrNothing.
type wholeCase struct {
	name string
	bad  func(o *faultOrigin) http.HandlerFunc
	spec func(*Spec)
	msg  string
	// small: the body announces a length the fill keeps in memory, so no
	// store ever reads it.
	small bool
}

func TestWholeOrNothing(t *testing.T) {
	body := pattern(300 << 10)
	stall := func(length int) func(o *faultOrigin) http.HandlerFunc {
		return func(o *faultOrigin) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", strconv.Itoa(length))
				w.Write(make([]byte, 10))
				w.(http.Flusher).Flush()
				o.stall(r)
			}
		}
	}
	cases := []wholeCase{
		{"short body", func(*faultOrigin) http.HandlerFunc { return shortBody(body[:1000], len(body)) }, nil, MsgShortBody, false},
		{"short small body", func(*faultOrigin) http.HandlerFunc { return shortBody(body[:1000], 2000) }, nil, MsgShortBody, true},
		{"reset mid-body with length", func(*faultOrigin) http.HandlerFunc { return reset(body, true) }, nil, MsgReadFailed, false},
		{"reset mid-body chunked", func(*faultOrigin) http.HandlerFunc { return reset(body, false) }, nil, MsgReadFailed, false},
		{"MD5 mismatch", func(*faultOrigin) http.HandlerFunc { return serve(body, "Content-MD5", md5b64([]byte("other"))) },
			func(s *Spec) { s.CheckMD5 = true }, MsgMD5Mismatch, false},
		{"small MD5 mismatch", func(*faultOrigin) http.HandlerFunc { return serve(body[:100], "Content-MD5", md5b64([]byte("other"))) },
			func(s *Spec) { s.CheckMD5 = true }, MsgMD5Mismatch, true},
		{"chunked past MaxSize", func(*faultOrigin) http.HandlerFunc { return chunked(pattern(600 << 10)) }, nil, MsgTooLarge, false},
		{"stall past the idle timeout", stall(1000), nil, MsgReadFailed, true},
		{"stall past the idle timeout, large", stall(300 << 10), nil, MsgReadFailed, false},
	}
	for _, mode := range commitModes {
		for _, tc := range cases {
			t.Run(mode.name+"/"+tc.name, func(t *testing.T) {
				wholeOrNothing(t, body, tc, mode.adopt)
			})
		}
	}
}

func wholeOrNothing(t *testing.T, body []byte, tc wholeCase, adopt bool) {
	o := newOrigin(t)
	// The idle timeout applies to the good second fill too: on a loaded
	// machine a healthy 300 KiB body can pause for a few hundred
	// milliseconds between reads, which a 200 ms timeout took for a
	// stall. The stalls above never end on their own (until the test
	// does), so a longer timeout still catches each of them.
	f := newFixtureMode(t, origin.Config{IdleTimeout: 2 * time.Second}, false, 500<<10, adopt)
	s := spec(o.handle("/obj", firstTime(tc.bad(o), serve(body, "Content-MD5", md5b64(body)))))
	s.CheckMD5 = true
	if tc.spec != nil {
		tc.spec(&s)
	}
	r, err := f.m.Open(context.Background(), s)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	_, err = io.ReadAll(r)
	r.Close()
	wantFailed(t, err, tc.msg)
	if res := f.rec.waitEnd(t); res != ResultFailed {
		t.Errorf("result = %s", res)
	}
	if _, _, ok := f.store.get("b", "k"); ok {
		t.Fatal("a bad body was stored")
	}
	// Streamed into PutObject, the store's read must fail, not
	// end; adopted or small, the store never saw the body.
	streamed := !adopt && !tc.small
	if errs := f.store.errs(); (streamed && (len(errs) != 1 || errors.Is(errs[0], io.EOF))) || (!streamed && len(errs) != 0) {
		t.Errorf("store's body errors = %v, want the fill's error", errs)
	}
	f.stagingEmpty(t)

	r, err = f.m.Open(context.Background(), s)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("second fill: %d bytes, %v", len(got), err)
	}
	if res := f.rec.waitEnd(t); res != ResultStored {
		t.Errorf("second result = %s", res)
	}
	if n := o.hitsOf("/obj"); n != 2 {
		t.Errorf("origin hits = %d, want 2", n)
	}
	f.stagingEmpty(t)
}

func TestOneFetchManyReaders(t *testing.T) {
	for _, mode := range commitModes {
		t.Run(mode.name, func(t *testing.T) { oneFetchManyReaders(t, mode.adopt) })
	}
}

func oneFetchManyReaders(t *testing.T, adopt bool) {
	const readers = 100
	body := pattern(2 << 20)
	o := newOrigin(t)
	gate := make(chan struct{})
	f := newFixtureMode(t, origin.Config{}, false, 0, adopt)
	s := spec(o.handle("/obj", o.gated(body, 1000, gate)))
	sums := make([][16]byte, readers)
	errs := make([]error, readers)
	var wg sync.WaitGroup
	for i := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := f.m.Open(context.Background(), s)
			if err != nil {
				errs[i] = err
				return
			}
			defer r.Close()
			h := md5.New()
			_, errs[i] = io.Copy(h, r)
			copy(sums[i][:], h.Sum(nil))
		}()
	}
	f.rec.waitJoins(t, readers-1)
	close(gate)
	wg.Wait()
	want := md5.Sum(body)
	for i := range readers {
		if errs[i] != nil || sums[i] != want {
			t.Fatalf("reader %d: %v, md5 %x want %x", i, errs[i], sums[i], want)
		}
	}
	if res := f.rec.waitEnd(t); res != ResultStored {
		t.Errorf("result = %s", res)
	}
	if n := o.hitsOf("/obj"); n != 1 {
		t.Errorf("origin hits = %d, want 1", n)
	}
	if data, _, _ := f.store.get("b", "k"); !bytes.Equal(data, body) {
		t.Error("stored body differs")
	}
}

// TestSlowReaderDoesNotSlowOthers: one reader reads nothing while another
// reads the whole body; the fill and the fast reader finish regardless.
func TestSlowReaderDoesNotSlowOthers(t *testing.T) {
	body := pattern(8 << 20)
	o := newOrigin(t)
	gate := make(chan struct{})
	f := newFixture(t, origin.Config{}, false, 0)
	s := spec(o.handle("/obj", o.gated(body, 1, gate)))
	slow, err := f.m.Open(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fast, err := f.m.Open(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	close(gate)
	got, err := io.ReadAll(fast)
	fast.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("fast reader: %d bytes, %v", len(got), err)
	}
	// The fill committed while the slow reader had read nothing.
	if res := f.rec.waitEnd(t); res != ResultStored {
		t.Fatalf("result = %s", res)
	}
	got, err = io.ReadAll(slow)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("slow reader, after the fill ended: %d bytes, %v", len(got), err)
	}
	f.stagingEmpty(t)
}

// TestFirstReaderLeaving: the client that started the fill goes away; the
// fill finishes and commits.
func TestFirstReaderLeaving(t *testing.T) {
	body := pattern(1 << 20)
	o := newOrigin(t)
	gate := make(chan struct{})
	f := newFixture(t, origin.Config{}, false, 0)
	s := spec(o.handle("/obj", o.gated(body, 100, gate)))
	ctx, cancel := context.WithCancel(context.Background())
	r, err := f.m.Open(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(r, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := r.Read(make([]byte, 10)) // blocks: the origin is gated
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("blocked Read after cancel: %v", err)
	}
	r.Close()
	close(gate)
	if res := f.rec.waitEnd(t); res != ResultStored {
		t.Fatalf("result = %s", res)
	}
	if data, _, _ := f.store.get("b", "k"); !bytes.Equal(data, body) {
		t.Error("stored body differs")
	}
}

func TestGzipStoredAsSent(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(bytes.Repeat([]byte("compressible "), 5000))
	zw.Close()
	gz := buf.Bytes()
	o := newOrigin(t)
	f := newFixture(t, origin.Config{}, false, 0)
	var sawAE string
	s := spec(o.handle("/obj", func(w http.ResponseWriter, r *http.Request) {
		sawAE = r.Header.Get("Accept-Encoding")
		serve(gz, "Content-Encoding", "gzip", "Content-Type", "text/plain")(w, r)
	}))
	s.Header = origin.HeaderPolicy{PassAll: true}.Build(http.Header{"Accept-Encoding": {"gzip"}})
	r, err := f.m.Open(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, gz) {
		t.Fatalf("reader got %d bytes (%v), want the %d gzip bytes", len(got), err, len(gz))
	}
	f.rec.waitEnd(t)
	data, info, _ := f.store.get("b", "k")
	if !bytes.Equal(data, gz) || info.Attrs.ContentEncoding != "gzip" || r.Info.Attrs.ContentEncoding != "gzip" {
		t.Errorf("stored %d bytes with Content-Encoding %q", len(data), info.Attrs.ContentEncoding)
	}
	if sawAE != "" {
		t.Errorf("origin saw Accept-Encoding %q", sawAE)
	}
}

func TestChunkedAndAttrs(t *testing.T) {
	body := pattern(100 << 10)
	o := newOrigin(t)
	f := newFixture(t, origin.Config{}, false, 0)
	s := spec(o.handle("/obj", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "image/png")
		h.Set("Cache-Control", "max-age=60")
		h.Set("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
		h.Set("Etag", `"origin-etag"`)
		h.Set("X-Oss-Meta-Color", "red")
		h.Set("X-Amz-Meta-Shape", "round")
		chunked(body)(w, r)
	}))
	s.SaveMeta, s.UseOriginLastModified = true, true
	r, err := f.m.Open(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Info.Size != -1 {
		t.Errorf("Info.Size = %d, want -1 for a chunked origin", r.Info.Size)
	}
	size, err := r.Wait(context.Background())
	if err != nil || size != int64(len(body)) {
		t.Fatalf("Wait = %d, %v", size, err)
	}
	if _, err := r.Seek(1000, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, body[1000:]) {
		t.Fatalf("after Seek: %d bytes, %v", len(got), err)
	}
	f.rec.waitEnd(t)
	_, info, ok := f.store.get("b", "k")
	wantLM := time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC)
	a := info.Attrs
	if !ok || a.ContentType != "image/png" || a.CacheControl != "max-age=60" ||
		a.UserMeta["color"] != "red" || a.UserMeta["shape"] != "round" || !info.LastModified.Equal(wantLM) ||
		!r.Info.LastModified.Equal(wantLM) || a.MirrorOrigin != s.URLs[0] {
		t.Errorf("stored %+v, Info %+v", info, r.Info)
	}

	// Without the flag, Last-Modified is the fill's start.
	s.Key, s.UseOriginLastModified = "k2", false
	before := time.Now().Add(-time.Second)
	r2, err := f.m.Open(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, r2)
	r2.Close()
	f.rec.waitEnd(t)
	if lm := r2.Info.LastModified; lm.Before(before) || lm.After(time.Now()) {
		t.Errorf("LastModified = %v, want the fill's start", lm)
	}
}

// TestClientPutWins: a PUT that lands during a fill is kept; the fill yields
// and its readers still get the whole body.
func TestClientPutWins(t *testing.T) {
	for _, mode := range commitModes {
		t.Run(mode.name, func(t *testing.T) { clientPutWins(t, mode.adopt) })
	}
}

func clientPutWins(t *testing.T, adopt bool) {
	body := pattern(500 << 10)
	o := newOrigin(t)
	gate := make(chan struct{})
	f := newFixtureMode(t, origin.Config{}, false, 0, adopt)
	r, err := f.m.Open(context.Background(), spec(o.handle("/obj", o.gated(body, 1000, gate))))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := f.store.PutObject(context.Background(), "b", "k", strings.NewReader("client"), store.PutOptions{Size: -1}); err != nil {
		t.Fatal(err)
	}
	close(gate)
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("reader: %d bytes, %v", len(got), err)
	}
	if res := f.rec.waitEnd(t); res != ResultStored {
		t.Errorf("result = %s", res)
	}
	if data, _, _ := f.store.get("b", "k"); string(data) != "client" {
		t.Errorf("stored %d bytes, want the client's", len(data))
	}
}

func TestPerHostCapSlowDown(t *testing.T) {
	o := newOrigin(t)
	gate := make(chan struct{})
	defer close(gate)
	f := newFixture(t, origin.Config{PerHostLimit: 1, HeaderTimeout: 200 * time.Millisecond}, false, 0)
	r, err := f.m.Open(context.Background(), spec(o.handle("/a", o.gated(pattern(1000), 10, gate))))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s := spec(o.handle("/b", serve([]byte("b"))))
	s.Key = "other"
	_, err = f.m.Open(context.Background(), s)
	if !errors.Is(err, ErrSlowDown) {
		t.Fatalf("err = %v, want ErrSlowDown", err)
	}
	if n := o.hitsOf("/b"); n != 0 {
		t.Errorf("origin saw %d requests past the cap", n)
	}
}

// TestCloseAbortsAfterDeadline: fills still running when Close's context ends
// are aborted without committing.
func TestCloseAbortsAfterDeadline(t *testing.T) {
	o := newOrigin(t)
	f := newFixture(t, origin.Config{}, false, 0)
	r, err := f.m.Open(context.Background(), spec(o.handle("/obj", o.gated(pattern(10000), 10, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := f.m.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want DeadlineExceeded", err)
	}
	if _, err := io.ReadAll(r); err == nil {
		t.Error("reader of an aborted fill ended cleanly")
	}
	if _, _, ok := f.store.get("b", "k"); ok {
		t.Error("aborted fill was stored")
	}
	if _, err := f.m.Open(context.Background(), spec(o.URL+"/obj")); !errors.Is(err, ErrClosed) {
		t.Errorf("Open after Close: %v", err)
	}
	f.stagingEmpty(t)
}

func TestCloseWaitsForFills(t *testing.T) {
	body := pattern(100 << 10)
	o := newOrigin(t)
	gate := make(chan struct{})
	f := newFixture(t, origin.Config{}, false, 0)
	r, err := f.m.Open(context.Background(), spec(o.handle("/obj", o.gated(body, 10, gate))))
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	go func() {
		time.Sleep(50 * time.Millisecond)
		close(gate)
	}()
	if err := f.m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if data, _, _ := f.store.get("b", "k"); !bytes.Equal(data, body) {
		t.Error("Close did not let the fill commit")
	}
}

// TestSendfileAcrossAdoption: readers copying to TCP connections (sendfile
// from their own descriptor of the staging file) keep streaming while the
// store adopts the file by rename and a client deletes the object.
func TestSendfileAcrossAdoption(t *testing.T) {
	const readers = 8
	body := pattern(8 << 20)
	o := newOrigin(t)
	gate := make(chan struct{})
	f := newFixture(t, origin.Config{}, false, 0)
	s := spec(o.handle("/obj", o.gated(body, 1000, gate)))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	drain := make(chan struct{}) // the receivers read nothing until closed
	sums := make([][16]byte, readers)
	sendErrs := make([]error, readers)
	recvErrs := make([]error, readers)
	sendfile := make([]bool, readers)
	var wg sync.WaitGroup
	for i := range readers {
		r, err := f.m.Open(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		out, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		in, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(2)
		go func() {
			defer wg.Done()
			defer out.Close()
			defer r.Close()
			_, sendErrs[i] = io.Copy(out, r)
			sendfile[i] = r.own != nil
		}()
		go func() {
			defer wg.Done()
			defer in.Close()
			<-drain
			h := md5.New()
			_, recvErrs[i] = io.Copy(h, in)
			copy(sums[i][:], h.Sum(nil))
		}()
	}
	close(gate)
	if res := f.rec.waitEnd(t); res != ResultStored {
		t.Fatalf("result = %s", res)
	}
	f.stagingEmpty(t) // renamed into the store while the readers were mid-body
	if data, _, _ := f.store.get("b", "k"); !bytes.Equal(data, body) {
		t.Fatal("stored body differs")
	}
	if err := f.store.DeleteObject(context.Background(), "b", "k"); err != nil {
		t.Fatal(err)
	}
	close(drain)
	wg.Wait()
	want := md5.Sum(body)
	for i := range readers {
		if sendErrs[i] != nil || recvErrs[i] != nil || sums[i] != want {
			t.Errorf("reader %d: send %v, receive %v, md5 %x want %x", i, sendErrs[i], recvErrs[i], sums[i], want)
		}
		if !sendfile[i] {
			t.Errorf("reader %d did not use its own descriptor", i)
		}
	}
}

// TestOpenAfterCommitDoesNotRefetch: a request whose store lookup missed
// just before a fill of the same key committed reaches Open after the fill
// ended. Its answer comes from the store, with no second origin request;
// once the object is deleted, a miss mirrors afresh.
func TestOpenAfterCommitDoesNotRefetch(t *testing.T) {
	for _, size := range []int{100, 300 << 10} { // in memory, and staged in a file
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			body := pattern(size)
			o := newOrigin(t)
			f := newFixture(t, origin.Config{}, false, 0)
			s := spec(o.handle("/obj", serve(body, "Content-Type", "text/plain")))
			read := func() (Info, []byte) {
				t.Helper()
				r, err := f.m.Open(context.Background(), s)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				got, err := io.ReadAll(r)
				if err != nil || !bytes.Equal(got, body) {
					t.Fatalf("%d bytes, %v", len(got), err)
				}
				return r.Info, got
			}
			first, _ := read()
			if res := f.rec.waitEnd(t); res != ResultStored {
				t.Fatalf("result = %s", res)
			}

			late, _ := read()     // the late request of the race
			f.rec.waitJoins(t, 1) // counted as joining the fill that stored it
			if n := o.hitsOf("/obj"); n != 1 {
				t.Errorf("origin hits = %d, want 1", n)
			}
			if late.Size != int64(size) || late.Attrs.ContentType != "text/plain" || late.OriginURL != first.OriginURL || !late.LastModified.Equal(first.LastModified) {
				t.Errorf("late Info %+v, first %+v", late, first)
			}
			f.stagingEmpty(t)

			if err := f.store.DeleteObject(context.Background(), "b", "k"); err != nil {
				t.Fatal(err)
			}
			read()
			if res := f.rec.waitEnd(t); res != ResultStored {
				t.Errorf("after delete, result = %s", res)
			}
			if n := o.hitsOf("/obj"); n != 2 {
				t.Errorf("origin hits after delete = %d, want 2", n)
			}
			if data, _, _ := f.store.get("b", "k"); !bytes.Equal(data, body) {
				t.Error("refilled body differs")
			}
		})
	}
}
