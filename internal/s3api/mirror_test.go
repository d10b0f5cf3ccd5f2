package s3api

import (
	"context"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mirrorstore/internal/auth"
	"mirrorstore/internal/mirror"
	"mirrorstore/internal/origin"
	"mirrorstore/internal/rules"
	"mirrorstore/internal/store/local"
)

type probeMissing struct{}

func (probeMissing) ProbeObject() int { return 404 }

// mirrorHarness is a Handler with a mirror.Manager over a fresh engine and
// an origin that serves /o/<name> by a table and counts its hits.
type mirrorHarness struct {
	t      *testing.T
	h      *Handler
	m      *rules.Matcher
	hits   atomic.Int64
	origin *httptest.Server
}

func newMirrorHarness(t *testing.T, extra string) *mirrorHarness {
	t.Helper()
	mh := &mirrorHarness{t: t}
	mh.origin = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mh.hits.Add(1)
		switch r.URL.Path {
		case "/o/ok.txt":
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("ETag", `"origin-etag"`)
			w.Header().Set("X-Secret", "dropped")
			_, _ = w.Write([]byte("hello from origin"))
		case "/o/moved":
			http.Redirect(w, r, "/elsewhere", http.StatusMovedPermanently)
		case "/o/teapot":
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusTeapot)
			_, _ = w.Write([]byte("short and stout"))
		case "/o/boom":
			w.WriteHeader(http.StatusInternalServerError)
		case "/o/short":
			w.Header().Set("Content-Length", "100")
			_, _ = w.Write([]byte("only ten b"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(mh.origin.Close)

	eng, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	oc := origin.NewClient(origin.Config{AllowPrivate: true, HeaderTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second})
	mgr, err := mirror.New(mirror.Config{Store: eng, Origin: oc, StagingDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = mgr.Close(context.Background())
		oc.Close()
		eng.Close()
	})
	mh.h = New(Config{Backend: eng, Auth: rootAuth{}, Mirror: mgr})
	cfg, err := rules.Parse([]byte(`<WebsiteConfiguration><RoutingRules><RoutingRule>
  <RuleNumber>1</RuleNumber>
  <Condition><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition>
  <Redirect><RedirectType>Mirror</RedirectType><MirrorURL>` + mh.origin.URL + `/o/</MirrorURL>` + extra + `</Redirect>
</RoutingRule></RoutingRules></WebsiteConfiguration>`))
	if err != nil {
		t.Fatal(err)
	}
	mh.m = rules.Compile(cfg)
	w := httptest.NewRecorder()
	mh.h.ServeHTTP(w, httptest.NewRequest(http.MethodPut, "http://s3.test/bkt", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("create bucket: %d %s", w.Code, w.Body)
	}
	return mh
}

// get runs serveMirror for key as the read path does on a matched miss.
func (mh *mirrorHarness) get(method, key string, hdr ...string) *httptest.ResponseRecorder {
	mh.t.Helper()
	r := httptest.NewRequest(method, "http://s3.test/bkt/"+key, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	res := mh.m.Match(&rules.Request{Key: key, Header: r.Header, Head: method == http.MethodHead}, probeMissing{})
	if res.Outcome != rules.OutcomeMirror {
		mh.t.Fatalf("%s: outcome %v, want mirror", key, res.Outcome)
	}
	rec := httptest.NewRecorder()
	w := &responseWriter{ResponseWriter: rec}
	req := &request{bucket: "bkt", key: key, reqID: "TEST", resource: "/bkt/" + key, id: &auth.Identity{Credential: auth.Credential{AccessKey: "root"}}}
	if err := mh.h.serveMirror(w, r, req, res); err != nil {
		mh.h.writeError(w, r, req, err)
	}
	return rec
}

func TestServeMirrorAnswers(t *testing.T) {
	mh := newMirrorHarness(t, `<MirrorFollowRedirect>false</MirrorFollowRedirect><TransparentMirrorResponseCodes>418</TransparentMirrorResponseCodes>`)
	for _, tc := range []struct {
		key, method string
		hdr         []string
		status      int
		code        string // S3 error code, for error answers
		body        string
		header      map[string]string
	}{
		{key: "ok.txt", method: "GET", status: 200, body: "hello from origin", header: map[string]string{
			"Content-Type": "text/plain", "Content-Length": "17", "ETag": "", "X-Secret": "",
			"X-Oss-Tag": "MIRROR " + mh.origin.URL + "/o/ok.txt"}},
		{key: "missing", method: "GET", status: 404, code: "NoSuchKey"},
		{key: "moved", method: "GET", status: 302, header: map[string]string{"Location": mh.origin.URL + "/elsewhere"}},
		{key: "teapot", method: "GET", status: 418, body: "short and stout"},
		{key: "boom", method: "GET", status: 424, code: "MirrorFailed"},
		{key: "a/../b", method: "GET", status: 424, code: "MirrorFailed", body: "key not allowed to origin"},
		{key: "ok.txt", method: "GET", hdr: []string{"User-Agent", origin.UserAgentPrefix + "test"}, status: 424, code: "MirrorFailed"},
	} {
		t.Run(tc.key+"/"+tc.method, func(t *testing.T) {
			w := mh.get(tc.method, tc.key, tc.hdr...)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if tc.code != "" {
				var e errorBody
				if err := xml.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Code != tc.code {
					t.Fatalf("code %q (%v), want %s: %s", e.Code, err, tc.code, w.Body)
				}
				if tc.body != "" && e.Message != tc.body {
					t.Fatalf("message %q, want %q", e.Message, tc.body)
				}
			} else if tc.body != "" && w.Body.String() != tc.body {
				t.Fatalf("body %q, want %q", w.Body, tc.body)
			}
			for k, v := range tc.header {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestServeMirrorRangeAndConditionals(t *testing.T) {
	mh := newMirrorHarness(t, "")
	// A conditional header on a miss is judged against an object that did
	// not exist: the fill's answer is unconditional.
	w := mh.get(http.MethodGet, "ok.txt", "Range", "bytes=6-9", "If-Match", `"nope"`)
	if w.Code != http.StatusPartialContent || w.Body.String() != "from" || w.Header().Get("Content-Range") != "bytes 6-9/17" {
		t.Fatalf("range: %d %q %q", w.Code, w.Body, w.Header().Get("Content-Range"))
	}
}

func TestServeMirrorBrokenBodyAborts(t *testing.T) {
	mh := newMirrorHarness(t, "")
	defer func() {
		if p := recover(); p != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler", p)
		}
	}()
	mh.get(http.MethodGet, "short")
	t.Fatal("a short body must cut the connection")
}

func TestServeMirrorOff(t *testing.T) {
	mh := newMirrorHarness(t, "")
	mh.h.mirror = nil
	w := mh.get(http.MethodGet, "ok.txt")
	if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "NoSuchKey") || mh.hits.Load() != 0 {
		t.Fatalf("mirroring off: %d %s, %d origin hits", w.Code, w.Body, mh.hits.Load())
	}
}
