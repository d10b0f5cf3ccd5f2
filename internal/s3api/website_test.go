package s3api

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mirrorstore/internal/auth"
	"mirrorstore/internal/rules"
	"mirrorstore/internal/store"
	"mirrorstore/internal/store/local"
)

// asAuth authenticates a request as the access key named in X-Test-As:
// none means root, "anon" means an unsigned request.
type asAuth struct{}

func (asAuth) Authenticate(r *http.Request) (*auth.Identity, error) {
	switch who := r.Header.Get("X-Test-As"); who {
	case "anon":
		return &auth.Identity{Anonymous: true, ContentLength: r.ContentLength}, nil
	case "":
		return &auth.Identity{Credential: auth.Credential{AccessKey: "root"}, ContentLength: r.ContentLength}, nil
	default:
		return &auth.Identity{Credential: auth.Credential{AccessKey: who}, ContentLength: r.ContentLength}, nil
	}
}

// countingBackend counts the reads the GET path makes.
type countingBackend struct {
	store.Backend
	configReads atomic.Int64 // GetBucketConfig of "website"
	gets        atomic.Int64
	heads       atomic.Int64
}

func (c *countingBackend) GetBucketConfig(ctx context.Context, bucket, name string) ([]byte, error) {
	if name == websiteConfig {
		c.configReads.Add(1)
	}
	return c.Backend.GetBucketConfig(ctx, bucket, name)
}

func (c *countingBackend) GetObject(ctx context.Context, bucket, key string, opts store.GetOptions) (*store.Object, error) {
	c.gets.Add(1)
	return c.Backend.GetObject(ctx, bucket, key, opts)
}

func (c *countingBackend) HeadObject(ctx context.Context, bucket, key string) (store.ObjectInfo, error) {
	c.heads.Add(1)
	return c.Backend.HeadObject(ctx, bucket, key)
}

type websiteHarness struct {
	*apiHarness
	be *countingBackend
}

func newWebsiteHarness(t *testing.T, ttl time.Duration) *websiteHarness {
	t.Helper()
	eng, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	return newWebsiteHarnessOn(t, eng, ttl)
}

func newWebsiteHarnessOn(t *testing.T, b store.Backend, ttl time.Duration) *websiteHarness {
	be := &countingBackend{Backend: b}
	h := New(Config{
		Backend:     be,
		Auth:        asAuth{},
		Keys:        auth.NewKeyring(auth.Credential{AccessKey: "root"}),
		ACLCacheTTL: ttl,
	})
	return &websiteHarness{apiHarness: &apiHarness{t: t, h: h}, be: be}
}

const redirect404 = `<WebsiteConfiguration><RoutingRules><RoutingRule>
<Condition><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition>
<Redirect><HostName>old.example.com</HostName><HttpRedirectCode>302</HttpRedirectCode></Redirect>
</RoutingRule></RoutingRules></WebsiteConfiguration>`

func TestBucketWebsiteConfiguration(t *testing.T) {
	a := newWebsiteHarness(t, 0)
	a.ok(200, "PUT", "/bkt", nil)
	a.ok(200, "PUT", "/bobs", nil, "X-Test-As", "bob")
	a.fails(404, "NoSuchWebsiteConfiguration", "GET", "/bkt?website", nil)

	a.ok(200, "PUT", "/bkt?website", []byte(redirect404))
	got := a.ok(200, "GET", "/bkt?website", nil)
	cfg, err := rules.Parse([]byte(redirect404))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := cfg.Marshal()
	if !bytes.Equal(got.Body.Bytes(), want) {
		t.Fatalf("GET ?website:\n%s\nwant the canonical form:\n%s", got.Body, want)
	}
	if ct := got.Header().Get("Content-Type"); ct != "application/xml" {
		t.Errorf("Content-Type %q", ct)
	}

	// Owner only: anonymous and another credential are refused, even
	// reading; the owner of a bucket who is not root may set its own.
	for _, m := range []string{"GET", "PUT", "DELETE"} {
		a.fails(403, "AccessDenied", m, "/bkt?website", []byte(redirect404), "X-Test-As", "anon")
		a.fails(403, "AccessDenied", m, "/bkt?website", []byte(redirect404), "X-Test-As", "bob")
	}
	a.ok(200, "PUT", "/bobs?website", []byte(redirect404), "X-Test-As", "bob")
	a.ok(200, "GET", "/bobs?website", nil, "X-Test-As", "bob")
	a.fails(403, "AccessDenied", "GET", "/bobs?website", nil, "X-Test-As", "eve")
	a.fails(404, "NoSuchBucket", "PUT", "/nobucket?website", []byte(redirect404))

	// Invalid bodies: the rules package's code and message, the old
	// configuration still stored and still acting.
	for _, tt := range []struct {
		name, body, code, msg string
	}{
		{"not xml", "<WebsiteConfiguration>", "MalformedXML", ""},
		{"unknown element", "<WebsiteConfiguration><Bogus/></WebsiteConfiguration>", "MalformedXML", ""},
		{"bad code", strings.Replace(redirect404, "302", "300", 1), "InvalidArgument", "HttpRedirectCode"},
		{"unsupported OSS field", strings.Replace(redirect404, "<HostName>", "<MirrorAuth/><HostName>", 1), "", ""},
		{"too large", "<WebsiteConfiguration>" + strings.Repeat(" ", rules.MaxBodySize) + "</WebsiteConfiguration>", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := a.do("PUT", "/bkt?website", []byte(tt.body))
			var e errorBody
			a.decode(w, &e)
			// The server reads one byte past the limit, no more.
			_, perr := rules.Parse([]byte(tt.body)[:min(len(tt.body), rules.MaxBodySize+1)])
			re, ok := perr.(*rules.Error)
			if !ok {
				t.Fatalf("rules.Parse accepted the body: %v", perr)
			}
			if w.Code != 400 || e.Code != re.Code || e.Message != re.Message {
				t.Fatalf("got %d %s %q, want 400 %s %q", w.Code, e.Code, e.Message, re.Code, re.Message)
			}
			if tt.code != "" && e.Code != tt.code {
				t.Fatalf("code %s, want %s", e.Code, tt.code)
			}
			if !strings.Contains(e.Message, tt.msg) {
				t.Fatalf("message %q does not name %s", e.Message, tt.msg)
			}
			if got := a.ok(200, "GET", "/bkt?website", nil); !bytes.Equal(got.Body.Bytes(), want) {
				t.Fatalf("configuration changed by a refused PUT:\n%s", got.Body)
			}
			r := a.ok(302, "GET", "/bkt/missing", nil)
			if loc := r.Header().Get("Location"); loc != "http://old.example.com/missing" {
				t.Fatalf("Location %q", loc)
			}
		})
	}

	a.ok(204, "DELETE", "/bkt?website", nil)
	a.ok(204, "DELETE", "/bkt?website", nil)
	a.fails(404, "NoSuchWebsiteConfiguration", "GET", "/bkt?website", nil)
	a.fails(404, "NoSuchKey", "GET", "/bkt/missing", nil)
}

func TestRedirectAnswers(t *testing.T) {
	a := newWebsiteHarness(t, 0)
	a.ok(200, "PUT", "/bkt", nil, "X-Amz-Acl", "public-read")
	a.ok(200, "PUT", "/bkt/docs/here.txt", []byte("here"))
	a.ok(200, "PUT", "/bkt?website", []byte(`<WebsiteConfiguration><RoutingRules>
<RoutingRule><RuleNumber>1</RuleNumber><Condition><KeyPrefixEquals>docs/</KeyPrefixEquals></Condition>
  <Redirect><RedirectType>Internal</RedirectType><ReplaceKeyPrefixWith>manual/</ReplaceKeyPrefixWith><HttpRedirectCode>307</HttpRedirectCode></Redirect></RoutingRule>
<RoutingRule><RuleNumber>2</RuleNumber><Condition><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition>
  <Redirect><Protocol>https</Protocol><HostName>old.example.com</HostName><PassQueryString>true</PassQueryString></Redirect></RoutingRule>
</RoutingRules></WebsiteConfiguration>`))

	for _, tt := range []struct {
		name, method, target string
		hdr                  []string
		status               int
		location             string
	}{
		{"unconditional prefix on an existing object", "GET", "/bkt/docs/here.txt", nil, 307, "http://s3.test/bkt/manual/here.txt"},
		{"head", "HEAD", "/bkt/docs/here.txt", nil, 307, "http://s3.test/bkt/manual/here.txt"},
		{"anonymous", "GET", "/bkt/docs/a%20b", []string{"X-Test-As", "anon"}, 307, "http://s3.test/bkt/manual/a%20b"},
		{"forwarded https", "GET", "/bkt/docs/x", []string{"X-Forwarded-Proto", "https"}, 307, "https://s3.test/bkt/manual/x"},
		{"forwarded nonsense is ignored", "GET", "/bkt/docs/x", []string{"X-Forwarded-Proto", "gopher"}, 307, "http://s3.test/bkt/manual/x"},
		{"404 rule on a miss, host named: no bucket in the path", "GET", "/bkt/gone?a=1&X-Amz-Date=x", nil, 301, "https://old.example.com/gone?a=1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := a.ok(tt.status, tt.method, tt.target, nil, tt.hdr...)
			if loc := w.Header().Get("Location"); loc != tt.location {
				t.Fatalf("Location %q, want %q", loc, tt.location)
			}
			body := rules.RedirectBody(tt.status, tt.location)
			if tt.method == "HEAD" {
				body = ""
			}
			if w.Body.String() != body {
				t.Fatalf("body %q, want %q", w.Body, body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Fatalf("Content-Type %q", ct)
			}
		})
	}
	// The 404 rule leaves an existing object alone.
	a.ok(200, "PUT", "/bkt/kept.txt", []byte("kept"))
	if w := a.ok(200, "GET", "/bkt/kept.txt", nil); w.Body.String() != "kept" {
		t.Fatalf("body %q", w.Body)
	}
}

// TestReadLooksUpOnce: the rules' probe and the answer share one lookup,
// and a cached configuration (or its absence) costs no store read.
func TestReadLooksUpOnce(t *testing.T) {
	a := newWebsiteHarness(t, time.Hour)
	a.ok(200, "PUT", "/plain", nil)
	a.ok(200, "PUT", "/plain/k", []byte("v"))
	a.ok(200, "PUT", "/ruled", nil)
	a.ok(200, "PUT", "/ruled/k", []byte("v"))
	a.ok(200, "PUT", "/ruled?website", []byte(redirect404))

	for _, b := range []string{"plain", "ruled"} {
		a.ok(200, "GET", "/"+b+"/k", nil) // warms the cache
		cfg, gets, heads := a.be.configReads.Load(), a.be.gets.Load(), a.be.heads.Load()
		for i := 0; i < 10; i++ {
			a.ok(200, "GET", "/"+b+"/k", nil)
			a.ok(200, "HEAD", "/"+b+"/k", nil)
		}
		if n := a.be.configReads.Load() - cfg; n != 0 {
			t.Errorf("%s: %d configuration reads for 20 cached reads", b, n)
		}
		if n := a.be.gets.Load() - gets; n != 10 {
			t.Errorf("%s: %d GetObject calls for 10 GETs", b, n)
		}
		if n := a.be.heads.Load() - heads; n != 10 {
			t.Errorf("%s: %d HeadObject calls for 10 HEADs", b, n)
		}
	}
	gets := a.be.gets.Load()
	a.ok(302, "GET", "/ruled/missing", nil)
	if n := a.be.gets.Load() - gets; n != 1 {
		t.Errorf("a redirected miss looked the key up %d times", n)
	}
}

// TestWebsiteCacheTTL: a node that did not make the change sees it once its
// cached entry expires, and at once on the node that made it.
func TestWebsiteCacheTTL(t *testing.T) {
	eng, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	const ttl = 150 * time.Millisecond
	a := newWebsiteHarnessOn(t, eng, ttl)
	b := newWebsiteHarnessOn(t, eng, ttl)
	a.ok(200, "PUT", "/bkt", nil)
	b.fails(404, "NoSuchKey", "GET", "/bkt/missing", nil) // b caches "no rules"
	a.ok(200, "PUT", "/bkt?website", []byte(redirect404))
	a.ok(302, "GET", "/bkt/missing", nil)
	b.fails(404, "NoSuchKey", "GET", "/bkt/missing", nil)
	deadline := time.Now().Add(5 * time.Second)
	for b.do("GET", "/bkt/missing", nil).Code != 302 {
		if time.Now().After(deadline) {
			t.Fatal("the other node never saw the new configuration")
		}
		time.Sleep(ttl / 3)
	}
	a.ok(204, "DELETE", "/bkt?website", nil)
	a.fails(404, "NoSuchKey", "GET", "/bkt/missing", nil)
}

// TestWebsiteSwapUnderLoad reads while configurations are swapped: every
// answer is one configuration's or the other's, never a mix (run with
// -race).
func TestWebsiteSwapUnderLoad(t *testing.T) {
	a := newWebsiteHarness(t, time.Hour)
	a.ok(200, "PUT", "/bkt", nil)
	cfgA := strings.Replace(redirect404, "old.example.com", "a.example.com", 1)
	cfgB := strings.Replace(strings.Replace(redirect404, "old.example.com", "b.example.com", 1), "302", "307", 1)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan string, 8)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r := httptest.NewRequest("GET", "http://s3.test/bkt/k", nil)
				w := httptest.NewRecorder()
				a.h.ServeHTTP(w, r)
				loc := w.Header().Get("Location")
				ok := (w.Code == 302 && loc == "http://a.example.com/k") ||
					(w.Code == 307 && loc == "http://b.example.com/k") ||
					(w.Code == 404 && loc == "")
				if !ok {
					select {
					case errs <- fmt.Sprintf("%d %q", w.Code, loc):
					default:
					}
				}
			}
		}()
	}
	for i := 0; i < 50; i++ {
		a.ok(200, "PUT", "/bkt?website", []byte(cfgA))
		a.ok(200, "PUT", "/bkt?website", []byte(cfgB))
		a.ok(204, "DELETE", "/bkt?website", nil)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("mixed answer: %s", e)
	}
}

func TestWebsiteDocuments(t *testing.T) {
	a := newWebsiteHarness(t, 0)
	a.ok(200, "PUT", "/site", nil, "X-Amz-Acl", "public-read")
	a.ok(200, "PUT", "/site/index.html", []byte("root index"))
	a.ok(200, "PUT", "/site/dir/index.html", []byte("dir index"))
	a.ok(200, "PUT", "/site/error.html", []byte("oops"))
	a.ok(200, "PUT", "/site/page", []byte("page"))
	put := func(typ, status string) {
		a.ok(200, "PUT", "/site?website", []byte(`<WebsiteConfiguration>
<IndexDocument><Suffix>index.html</Suffix><SupportSubDir>true</SupportSubDir><Type>`+typ+`</Type></IndexDocument>
<ErrorDocument><Key>error.html</Key><HttpStatus>`+status+`</HttpStatus></ErrorDocument>
</WebsiteConfiguration>`))
	}
	anon := []string{"X-Test-As", "anon"}
	type want struct {
		status   int
		body     string
		location string
	}
	check := func(method, target string, hdr []string, w want) {
		t.Helper()
		r := a.ok(w.status, method, target, nil, hdr...)
		if method == "GET" && w.body != "" && r.Body.String() != w.body {
			t.Errorf("%s %s: body %q, want %q", method, target, r.Body, w.body)
		}
		if loc := r.Header().Get("Location"); loc != w.location {
			t.Errorf("%s %s: Location %q, want %q", method, target, loc, w.location)
		}
	}

	put("0", "404")
	check("GET", "/site/", anon, want{200, "root index", ""})
	check("GET", "/site", anon, want{200, "root index", ""})
	check("HEAD", "/site/", anon, want{200, "", ""})
	check("GET", "/site/dir/", anon, want{200, "dir index", ""})
	check("GET", "/site/dir", anon, want{302, "", "/site/dir/"})
	check("GET", "/site/page", anon, want{200, "page", ""})
	check("GET", "/site/nothing", anon, want{404, "oops", ""})
	check("HEAD", "/site/nothing", anon, want{404, "", ""})
	// A Range meant for the missing key does not cut the error page.
	check("GET", "/site/nothing", append([]string{"Range", "bytes=0-1"}, anon...), want{404, "oops", ""})

	// Signed requests keep the S3 API: the root lists, a miss is NoSuchKey.
	if w := a.ok(200, "GET", "/site/", nil); !strings.Contains(w.Body.String(), "<ListBucketResult") {
		t.Fatalf("signed GET /site/ is not ListObjects: %s", w.Body)
	}
	a.fails(404, "NoSuchKey", "GET", "/site/dir", nil)
	a.fails(404, "NoSuchKey", "GET", "/site/nothing", nil)

	put("1", "200")
	check("GET", "/site/dir", anon, want{200, "oops", ""})
	put("2", "404")
	check("GET", "/site/dir", anon, want{200, "dir index", ""})

	// Without a configuration anonymous callers cannot list.
	a.ok(204, "DELETE", "/site?website", nil)
	a.fails(403, "AccessDenied", "GET", "/site/", nil, anon...)
	a.fails(404, "NoSuchKey", "GET", "/site/nothing", nil, anon...)
}

// TestMirrorRuleReachesServeMirror: a Mirror rule's miss is filled from the
// origin through the whole handler; a HEAD without MirrorAllowHeadObject is
// a plain 404 and never reaches the origin.
func TestMirrorRuleReachesServeMirror(t *testing.T) {
	mh := newMirrorHarness(t, "")
	a := &apiHarness{t: t, h: mh.h}
	a.ok(200, "PUT", "/bkt?website", []byte(`<WebsiteConfiguration><RoutingRules><RoutingRule>
<RuleNumber>1</RuleNumber><Condition><KeyPrefixEquals>m/</KeyPrefixEquals></Condition>
<Redirect><RedirectType>Mirror</RedirectType><MirrorURL>`+mh.origin.URL+`/o/</MirrorURL><ReplaceKeyPrefixWith></ReplaceKeyPrefixWith></Redirect>
</RoutingRule></RoutingRules></WebsiteConfiguration>`))
	a.ok(404, "HEAD", "/bkt/m/ok.txt", nil)
	if n := mh.hits.Load(); n != 0 {
		t.Fatalf("a HEAD reached the origin %d times", n)
	}
	if w := a.ok(200, "GET", "/bkt/m/ok.txt", nil); w.Body.String() != "hello from origin" {
		t.Fatalf("body %q", w.Body)
	}
	if n := mh.hits.Load(); n != 1 {
		t.Fatalf("origin hits %d, want 1", n)
	}
	// Not a miss any more: served from the store, no further fill.
	deadline := time.Now().Add(5 * time.Second)
	for {
		w := a.do("GET", "/bkt/m/ok.txt", nil)
		if w.Code == 200 && etagOf(w.Header()) != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the filled object never became readable from the store: %d %v %s", w.Code, w.Header(), w.Body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := mh.hits.Load(); n != 1 {
		t.Fatalf("origin hits %d after the fill, want 1", n)
	}
}

// TestWebsiteBucketNamedHost: a site's own domain pointed at the server
// (a bucket named like the Host) gets its index at "/" and redirects
// without the bucket in the path, as the visitor addressed it.
func TestWebsiteBucketNamedHost(t *testing.T) {
	a := newWebsiteHarness(t, 0)
	a.ok(200, "PUT", "/www.example.com", nil, "X-Amz-Acl", "public-read")
	a.ok(200, "PUT", "/www.example.com/index.html", []byte("welcome"))
	a.ok(200, "PUT", "/www.example.com?website", []byte(`<WebsiteConfiguration>
<IndexDocument><Suffix>index.html</Suffix></IndexDocument>
<RoutingRules><RoutingRule><Condition><KeyPrefixEquals>old/</KeyPrefixEquals></Condition>
<Redirect><ReplaceKeyPrefixWith>new/</ReplaceKeyPrefixWith><HttpRedirectCode>302</HttpRedirectCode></Redirect></RoutingRule></RoutingRules>
</WebsiteConfiguration>`))
	visit := func(path string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "http://www.example.com"+path, nil)
		r.Header.Set("X-Test-As", "anon")
		w := httptest.NewRecorder()
		a.h.ServeHTTP(w, r)
		return w
	}
	if w := visit("/"); w.Code != 200 || w.Body.String() != "welcome" {
		t.Fatalf("GET /: %d %s", w.Code, w.Body)
	}
	if w := visit("/old/page"); w.Code != 302 || w.Header().Get("Location") != "http://www.example.com/new/page" {
		t.Fatalf("GET /old/page: %d %q", w.Code, w.Header().Get("Location"))
	}
	// Path-style on the server's own name keeps the bucket.
	if w := a.ok(302, "GET", "/www.example.com/old/page", nil, "X-Test-As", "anon"); w.Header().Get("Location") != "http://s3.test/www.example.com/new/page" {
		t.Fatalf("path-style: %q", w.Header().Get("Location"))
	}
}
