package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"mirrorstore/internal/rules"
	"mirrorstore/internal/server"
)

// webAnswer is one whole answer to a website test's request.
type webAnswer struct {
	status int
	header http.Header
	body   string
}

// webClient never follows redirects: the tests look at the redirect itself.
func webClient(ts *testServer) *http.Client {
	return &http.Client{
		Transport:     ts.client.Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// webDo sends method path (escaped as given) with body, signed by the root
// credential with the SDK's v4 signer unless anonymous; hdr is name, value
// pairs.
func webDo(t *testing.T, ts *testServer, anonymous bool, method, path string, body []byte, hdr ...string) webAnswer {
	t.Helper()
	r, err := http.NewRequest(method, ts.URL()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	if !anonymous {
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:])
		r.Header.Set("X-Amz-Content-Sha256", hash)
		creds := aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey}
		// The path is signed as sent (S3 does not escape it twice).
		signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
		if err := signer.SignHTTP(context.Background(), creds, r, hash, "s3", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := webClient(ts).Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return webAnswer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// errCodeOf returns the <Code> of an S3 error body.
func errCodeOf(body string) string {
	_, rest, ok := strings.Cut(body, "<Code>")
	if !ok {
		return ""
	}
	code, _, _ := strings.Cut(rest, "</Code>")
	return code
}

func mustWebsite(t *testing.T, ts *testServer, bucket, doc string) {
	t.Helper()
	if a := webDo(t, ts, false, "PUT", "/"+bucket+"?website", []byte(doc)); a.status != 200 {
		t.Fatalf("PUT %s?website: %d %s", bucket, a.status, a.body)
	}
}

func createPublicBucket(t *testing.T, c *s3.Client, name string) {
	t.Helper()
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name), ACL: types.BucketCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
}

// TestWebsiteSDK sets an S3-dialect configuration with aws-sdk-go-v2 and
// reads it back through the SDK's decoder; delete and owner-only access.
func TestWebsiteSDK(t *testing.T) {
	ts := startServer(t, false)
	c := ts.rootClient()
	ctx := context.Background()
	mustCreateBucket(t, c, "sdkweb")

	in := &types.WebsiteConfiguration{
		IndexDocument: &types.IndexDocument{Suffix: aws.String("index.html")},
		ErrorDocument: &types.ErrorDocument{Key: aws.String("error.html")},
		RoutingRules: []types.RoutingRule{
			{
				Condition: &types.Condition{KeyPrefixEquals: aws.String("docs/")},
				Redirect:  &types.Redirect{ReplaceKeyPrefixWith: aws.String("documents/"), HttpRedirectCode: aws.String("302")},
			},
			{
				Condition: &types.Condition{HttpErrorCodeReturnedEquals: aws.String("404")},
				Redirect:  &types.Redirect{HostName: aws.String("old.example.com"), Protocol: types.ProtocolHttps, ReplaceKeyWith: aws.String("gone.html")},
			},
		},
	}
	if _, err := c.PutBucketWebsite(ctx, &s3.PutBucketWebsiteInput{Bucket: aws.String("sdkweb"), WebsiteConfiguration: in}); err != nil {
		t.Fatal(err)
	}
	out, err := c.GetBucketWebsite(ctx, &s3.GetBucketWebsiteInput{Bucket: aws.String("sdkweb")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.IndexDocument.Suffix) != "index.html" || aws.ToString(out.ErrorDocument.Key) != "error.html" || len(out.RoutingRules) != 2 {
		t.Fatalf("read back %+v", out)
	}
	r0, r1 := out.RoutingRules[0], out.RoutingRules[1]
	if aws.ToString(r0.Condition.KeyPrefixEquals) != "docs/" || aws.ToString(r0.Redirect.ReplaceKeyPrefixWith) != "documents/" || aws.ToString(r0.Redirect.HttpRedirectCode) != "302" {
		t.Errorf("rule 1 read back as %+v %+v", r0.Condition, r0.Redirect)
	}
	if aws.ToString(r1.Condition.HttpErrorCodeReturnedEquals) != "404" || aws.ToString(r1.Redirect.HostName) != "old.example.com" || r1.Redirect.Protocol != types.ProtocolHttps || aws.ToString(r1.Redirect.ReplaceKeyWith) != "gone.html" {
		t.Errorf("rule 2 read back as %+v %+v", r1.Condition, r1.Redirect)
	}
	// S3-dialect rules are numbered in document order.
	if raw := webDo(t, ts, false, "GET", "/sdkweb?website", nil); !strings.Contains(raw.body, "<RuleNumber>2</RuleNumber>") {
		t.Errorf("stored configuration is not numbered: %s", raw.body)
	}

	anon := ts.sdkClient(aws.AnonymousCredentials{})
	_, err = anon.GetBucketWebsite(ctx, &s3.GetBucketWebsiteInput{Bucket: aws.String("sdkweb")})
	wantCode(t, err, "AccessDenied")
	_, err = anon.PutBucketWebsite(ctx, &s3.PutBucketWebsiteInput{Bucket: aws.String("sdkweb"), WebsiteConfiguration: in})
	wantCode(t, err, "AccessDenied")
	_, err = anon.DeleteBucketWebsite(ctx, &s3.DeleteBucketWebsiteInput{Bucket: aws.String("sdkweb")})
	wantCode(t, err, "AccessDenied")

	if _, err := c.DeleteBucketWebsite(ctx, &s3.DeleteBucketWebsiteInput{Bucket: aws.String("sdkweb")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetBucketWebsite(ctx, &s3.GetBucketWebsiteInput{Bucket: aws.String("sdkweb")})
	wantCode(t, err, "NoSuchWebsiteConfiguration")
	if httpStatus(err) != 404 {
		t.Errorf("status %d, want 404", httpStatus(err))
	}
}

// ossConfig is an OSS-dialect configuration with a Mirror rule and its
// MirrorHeaders, which the SDK's S3 types cannot express.
const ossConfig = `<WebsiteConfiguration>
  <RoutingRules>
    <RoutingRule>
      <RuleNumber>2</RuleNumber>
      <Condition><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition>
      <Redirect><RedirectType>External</RedirectType><HostName>old.example.com</HostName><HttpRedirectCode>302</HttpRedirectCode></Redirect>
    </RoutingRule>
    <RoutingRule>
      <RuleNumber>1</RuleNumber>
      <Condition><KeyPrefixEquals>img/</KeyPrefixEquals><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals>
        <IncludeHeader><Key>User-Agent</Key><Equals>app</Equals></IncludeHeader></Condition>
      <Redirect>
        <RedirectType>Mirror</RedirectType>
        <MirrorURL>ORIGIN/static/</MirrorURL>
        <MirrorPassQueryString>false</MirrorPassQueryString>
        <MirrorFollowRedirect>true</MirrorFollowRedirect>
        <MirrorHeaders>
          <PassAll>false</PassAll><Pass>x-app-token</Pass><Remove>cookie</Remove>
          <Set><Key>x-from</Key><Value>mirrorstore</Value></Set>
        </MirrorHeaders>
      </Redirect>
    </RoutingRule>
  </RoutingRules>
</WebsiteConfiguration>`

// TestWebsiteOSSDialect puts the OSS dialect with raw signed requests:
// GET answers the canonical form (rules sorted, nothing lost), refused
// configurations answer 400 with the validator's code and leave the old
// one in force, and the Mirror rule fills from a real origin with its
// header policy.
func TestWebsiteOSSDialect(t *testing.T) {
	var hits atomic.Int64
	var seen atomic.Pointer[http.Header]
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h := r.Header.Clone()
		seen.Store(&h)
		if r.URL.Path != "/static/img/cat.jpg" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "image/jpeg")
		_, _ = w.Write([]byte("meow"))
	}))
	t.Cleanup(origin.Close)
	ts, _ := startWebsiteServer(t, t.TempDir())
	createPublicBucket(t, ts.rootClient(), "oss")

	doc := strings.Replace(ossConfig, "ORIGIN", origin.URL, 1)
	mustWebsite(t, ts, "oss", doc)
	cfg, err := rules.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := cfg.Marshal()
	got := webDo(t, ts, false, "GET", "/oss?website", nil)
	if got.status != 200 || got.body != string(want) {
		t.Fatalf("GET ?website: %d\n%s\nwant\n%s", got.status, got.body, want)
	}
	for _, s := range []string{"<Pass>x-app-token</Pass>", "<Remove>cookie</Remove>", "<Key>x-from</Key>", "<RuleNumber>1</RuleNumber>"} {
		if !strings.Contains(got.body, s) {
			t.Errorf("canonical form lost %s", s)
		}
	}
	if i, j := strings.Index(got.body, "<RuleNumber>1<"), strings.Index(got.body, "<RuleNumber>2<"); i > j {
		t.Errorf("rules not sorted by RuleNumber:\n%s", got.body)
	}

	for _, tt := range []struct{ name, doc, code, msg string }{
		{"not XML", "<WebsiteConfiguration><RoutingRules>", "MalformedXML", ""},
		{"unknown element", strings.Replace(doc, "<MirrorFollowRedirect>", "<MirrorFollowRedirects>true</MirrorFollowRedirects><MirrorFollowRedirect>", 1), "MalformedXML", "MirrorFollowRedirects"},
		{"unsupported OSS field", strings.Replace(doc, "<MirrorFollowRedirect>", "<MirrorAuth><AccessKeyId>x</AccessKeyId></MirrorAuth><MirrorFollowRedirect>", 1), "InvalidArgument", "MirrorAuth"},
		{"MirrorURL without a slash", strings.Replace(doc, "/static/</MirrorURL>", "/static</MirrorURL>", 1), "InvalidArgument", "MirrorURL"},
		{"duplicate RuleNumber", strings.Replace(doc, "<RuleNumber>2</RuleNumber>", "<RuleNumber>1</RuleNumber>", 1), "InvalidArgument", "RuleNumber"},
		{"redirect code 300", strings.Replace(doc, "<HttpRedirectCode>302", "<HttpRedirectCode>300", 1), "InvalidArgument", "HttpRedirectCode"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := webDo(t, ts, false, "PUT", "/oss?website", []byte(tt.doc))
			if a.status != 400 || errCodeOf(a.body) != tt.code || !strings.Contains(a.body, tt.msg) {
				t.Fatalf("got %d %s, want 400 %s naming %s", a.status, a.body, tt.code, tt.msg)
			}
			if again := webDo(t, ts, false, "GET", "/oss?website", nil); again.body != string(want) {
				t.Fatalf("a refused PUT changed the configuration:\n%s", again.body)
			}
			if r := webDo(t, ts, true, "GET", "/oss/elsewhere", nil); r.status != 302 || r.header.Get("Location") != "http://old.example.com/elsewhere" {
				t.Fatalf("old rules not in force: %d %q", r.status, r.header.Get("Location"))
			}
		})
	}

	// The Mirror rule acts for an anonymous visitor with the right
	// User-Agent; its header policy reaches the origin.
	a := webDo(t, ts, true, "GET", "/oss/img/cat.jpg", nil, "User-Agent", "app", "X-App-Token", "t0k", "Cookie", "c=1")
	if a.status != 200 || a.body != "meow" {
		t.Fatalf("mirrored GET: %d %q", a.status, a.body)
	}
	h := *seen.Load()
	if h.Get("X-App-Token") != "t0k" || h.Get("Cookie") != "" || h.Get("X-From") != "mirrorstore" {
		t.Errorf("origin saw %v", h)
	}
	// Without the header the Mirror rule does not match: the 404 redirect does.
	if r := webDo(t, ts, true, "GET", "/oss/img/dog.jpg", nil); r.status != 302 || r.header.Get("Location") != "http://old.example.com/img/dog.jpg" {
		t.Fatalf("GET without the header: %d %q", r.status, r.header.Get("Location"))
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("origin hits %d, want 1", n)
	}
}

// startWebsiteServer starts a server over dir with mirroring allowed to
// loopback origins. stop shuts it down; it is also registered with t and
// runs once.
func startWebsiteServer(t *testing.T, dir string) (ts *testServer, stop func()) {
	t.Helper()
	s, err := server.Start(server.Config{
		Addr:            "127.0.0.1:0",
		DataDir:         filepath.Join(dir, "data"),
		Backend:         testBackend(t, dir),
		AccessKey:       testAccessKey,
		SecretKey:       testSecretKey,
		ShutdownTimeout: 5 * time.Second,
		Mirror:          server.MirrorConfig{Timeout: 5 * time.Second, IdleTimeout: 5 * time.Second, AllowPrivate: true, Version: "e2e"},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts = &testServer{Server: s, client: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.Shutdown(ctx); err != nil {
				t.Errorf("shutdown: %v", err)
			}
			ts.client.CloseIdleConnections()
		})
	}
	t.Cleanup(stop)
	waitReady(t, ts.client, s.URL())
	return ts, stop
}

// redirectRules exercises every part of a redirect's Location (SPEC §8).
const redirectRules = `<WebsiteConfiguration><RoutingRules>
<RoutingRule><RuleNumber>1</RuleNumber><Condition><KeyPrefixEquals>code/301/</KeyPrefixEquals></Condition>
  <Redirect><HostName>codes.example.com</HostName><HttpRedirectCode>301</HttpRedirectCode></Redirect></RoutingRule>
<RoutingRule><RuleNumber>2</RuleNumber><Condition><KeyPrefixEquals>code/302/</KeyPrefixEquals></Condition>
  <Redirect><HostName>codes.example.com</HostName><HttpRedirectCode>302</HttpRedirectCode></Redirect></RoutingRule>
<RoutingRule><RuleNumber>3</RuleNumber><Condition><KeyPrefixEquals>code/303/</KeyPrefixEquals></Condition>
  <Redirect><HostName>codes.example.com</HostName><HttpRedirectCode>303</HttpRedirectCode></Redirect></RoutingRule>
<RoutingRule><RuleNumber>4</RuleNumber><Condition><KeyPrefixEquals>code/307/</KeyPrefixEquals></Condition>
  <Redirect><HostName>codes.example.com</HostName><HttpRedirectCode>307</HttpRedirectCode></Redirect></RoutingRule>
<RoutingRule><RuleNumber>5</RuleNumber><Condition><KeyPrefixEquals>code/308/</KeyPrefixEquals></Condition>
  <Redirect><HostName>codes.example.com</HostName><HttpRedirectCode>308</HttpRedirectCode></Redirect></RoutingRule>
<RoutingRule><RuleNumber>6</RuleNumber><Condition><KeyPrefixEquals>keep/</KeyPrefixEquals></Condition>
  <Redirect></Redirect></RoutingRule>
<RoutingRule><RuleNumber>7</RuleNumber><Condition><KeyPrefixEquals>with/</KeyPrefixEquals></Condition>
  <Redirect><Protocol>https</Protocol><HostName>www.example.com</HostName><ReplaceKeyWith>pages/${key}.html</ReplaceKeyWith><HttpRedirectCode>302</HttpRedirectCode></Redirect></RoutingRule>
<RoutingRule><RuleNumber>8</RuleNumber><Condition><KeyPrefixEquals>pre/</KeyPrefixEquals></Condition>
  <Redirect><HostName>new.example.com</HostName><ReplaceKeyPrefixWith>post/</ReplaceKeyPrefixWith><PassQueryString>true</PassQueryString><HttpRedirectCode>307</HttpRedirectCode></Redirect></RoutingRule>
<RoutingRule><RuleNumber>9</RuleNumber><Condition><KeyPrefixEquals>noq/</KeyPrefixEquals></Condition>
  <Redirect><HostName>new.example.com</HostName><HttpRedirectCode>302</HttpRedirectCode></Redirect></RoutingRule>
<RoutingRule><RuleNumber>10</RuleNumber><Condition><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition>
  <Redirect><Protocol>https</Protocol><HostName>fallback.example.com</HostName><HttpRedirectCode>302</HttpRedirectCode></Redirect></RoutingRule>
</RoutingRules></WebsiteConfiguration>`

// TestWebsiteRedirects checks each redirect's status and Location byte for
// byte, for anonymous readers of a public bucket and for signed requests,
// with GET and HEAD.
func TestWebsiteRedirects(t *testing.T) {
	ts := startServer(t, false)
	c := ts.rootClient()
	createPublicBucket(t, c, "redir")
	mustPut(t, c, "redir", "exists.txt", []byte("here"))
	mustPut(t, c, "redir", "keep/here.txt", []byte("kept"))
	mustWebsite(t, ts, "redir", redirectRules)
	self := strings.TrimPrefix(ts.URL(), "http://")

	for _, tt := range []struct {
		name     string
		path     string // as sent, escaped
		status   int
		location string
	}{
		{"301", "/redir/code/301/a", 301, "http://codes.example.com/code/301/a"},
		{"302", "/redir/code/302/a", 302, "http://codes.example.com/code/302/a"},
		{"303", "/redir/code/303/a", 303, "http://codes.example.com/code/303/a"},
		{"307", "/redir/code/307/a", 307, "http://codes.example.com/code/307/a"},
		{"308", "/redir/code/308/a", 308, "http://codes.example.com/code/308/a"},
		// No Protocol, HostName nor code: the request's scheme and host,
		// the bucket kept in front of a path-style key, 301.
		{"defaults", "/redir/keep/x.html", 301, "http://" + self + "/redir/keep/x.html"},
		{"unconditional on an existing object", "/redir/keep/here.txt", 301, "http://" + self + "/redir/keep/here.txt"},
		{"ReplaceKeyWith", "/redir/with/a%20b", 302, "https://www.example.com/pages/with/a%20b.html"},
		// (The SDK's signer sorts the query of the requests it signs, so
		// the one sent is already in order.)
		{"ReplaceKeyPrefixWith and PassQueryString", "/redir/pre/p/q.txt?a=%2F1&b=2", 307, "http://new.example.com/post/p/q.txt?a=%2F1&b=2"},
		{"query dropped without PassQueryString", "/redir/noq/k?x=1", 302, "http://new.example.com/noq/k"},
		{"space, plus, unicode and //", "/redir/noq/a%20b+c/%E6%97%A5%E6%9C%AC//x", 302, "http://new.example.com/noq/a%20b%2Bc/%E6%97%A5%E6%9C%AC//x"},
		{"reserved characters escaped", "/redir/noq/%3F%23%25&=", 302, "http://new.example.com/noq/%3F%23%25%26%3D"},
		{"404 rule on a miss", "/redir/missing/a%20b", 302, "https://fallback.example.com/missing/a%20b"},
		{"404 rule leaves an existing object", "/redir/exists.txt", 200, ""},
	} {
		for _, anonymous := range []bool{true, false} {
			for _, method := range []string{"GET", "HEAD"} {
				who := "signed"
				if anonymous {
					who = "anonymous"
				}
				t.Run(tt.name+"/"+who+"/"+method, func(t *testing.T) {
					a := webDo(t, ts, anonymous, method, tt.path, nil)
					if a.status != tt.status {
						t.Fatalf("status %d, want %d: %s", a.status, tt.status, a.body)
					}
					if loc := a.header.Get("Location"); loc != tt.location {
						t.Fatalf("Location\n got %s\nwant %s", loc, tt.location)
					}
					if tt.location == "" {
						if method == "GET" && a.body != "here" {
							t.Fatalf("body %q", a.body)
						}
						return
					}
					wantBody := rules.RedirectBody(tt.status, tt.location)
					if method == "HEAD" {
						wantBody = ""
					}
					if a.body != wantBody {
						t.Fatalf("body %q, want %q", a.body, wantBody)
					}
				})
			}
		}
	}

	// An anonymous visitor's query keeps its order; a presigned URL's
	// authentication parameters never reach the Location.
	if a := webDo(t, ts, true, "GET", "/redir/pre/k?z=1&a=2", nil); a.header.Get("Location") != "http://new.example.com/post/k?z=1&a=2" {
		t.Errorf("anonymous query: %q", a.header.Get("Location"))
	}
	r, err := http.NewRequest("GET", ts.URL()+"/redir/pre/k?z=1&X-Amz-Expires=300", nil)
	if err != nil {
		t.Fatal(err)
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	presigned, _, err := signer.PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey}, r, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := webClient(ts).Get(presigned)
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != 307 || loc != "http://new.example.com/post/k?z=1" {
		t.Errorf("presigned: %d %q %s", resp.StatusCode, loc, pb)
	}

	// A private bucket's rules do not act for anonymous callers.
	mustCreateBucket(t, c, "privredir")
	mustWebsite(t, ts, "privredir", redirectRules)
	if a := webDo(t, ts, true, "GET", "/privredir/code/302/a", nil); a.status != 403 || errCodeOf(a.body) != "AccessDenied" {
		t.Fatalf("anonymous on a private bucket: %d %s", a.status, a.body)
	}
	if a := webDo(t, ts, false, "GET", "/privredir/code/302/a", nil); a.status != 302 {
		t.Fatalf("signed on a private bucket: %d %s", a.status, a.body)
	}
}

// TestWebsiteDocumentsE2E serves index and error documents to anonymous
// readers while signed requests keep the S3 API.
func TestWebsiteDocumentsE2E(t *testing.T) {
	ts := startServer(t, false)
	c := ts.rootClient()
	createPublicBucket(t, c, "site")
	for k, v := range map[string]string{
		"index.html": "home", "blog/index.html": "blog home", "error.html": "not here", "about.html": "about",
	} {
		mustPut(t, c, "site", k, []byte(v))
	}
	config := func(typ, status string) string {
		return `<WebsiteConfiguration><IndexDocument><Suffix>index.html</Suffix><SupportSubDir>true</SupportSubDir><Type>` + typ +
			`</Type></IndexDocument><ErrorDocument><Key>error.html</Key><HttpStatus>` + status + `</HttpStatus></ErrorDocument></WebsiteConfiguration>`
	}
	type want struct {
		status   int
		body     string
		location string
	}
	for _, tt := range []struct {
		typ, errStatus string
		path           string
		want           want
	}{
		{"0", "404", "/site/", want{200, "home", ""}},
		{"0", "404", "/site", want{200, "home", ""}},
		{"0", "404", "/site/blog/", want{200, "blog home", ""}},
		{"0", "404", "/site/blog", want{302, "", "/site/blog/"}},
		{"0", "404", "/site/about.html", want{200, "about", ""}},
		{"0", "404", "/site/nope", want{404, "not here", ""}},
		{"1", "404", "/site/blog", want{404, "not here", ""}},
		{"1", "200", "/site/blog", want{200, "not here", ""}},
		{"1", "200", "/site/nope/", want{200, "not here", ""}},
		{"2", "404", "/site/blog", want{200, "blog home", ""}},
		{"2", "404", "/site/nope", want{404, "not here", ""}},
	} {
		t.Run("Type"+tt.typ+"/ErrorDocument"+tt.errStatus+tt.path, func(t *testing.T) {
			mustWebsite(t, ts, "site", config(tt.typ, tt.errStatus))
			a := webDo(t, ts, true, "GET", tt.path, nil)
			if a.status != tt.want.status || a.header.Get("Location") != tt.want.location {
				t.Fatalf("%d %q, want %d %q: %s", a.status, a.header.Get("Location"), tt.want.status, tt.want.location, a.body)
			}
			if tt.want.body != "" && a.body != tt.want.body {
				t.Fatalf("body %q, want %q", a.body, tt.want.body)
			}
			if h := webDo(t, ts, true, "HEAD", tt.path, nil); h.status != tt.want.status || h.body != "" {
				t.Fatalf("HEAD: %d %q", h.status, h.body)
			}
		})
	}

	// Signed requests: GET /site/ is ListObjects, a miss is NoSuchKey.
	if a := webDo(t, ts, false, "GET", "/site/", nil); a.status != 200 || !strings.Contains(a.body, "<ListBucketResult") {
		t.Fatalf("signed GET /site/: %d %s", a.status, a.body)
	}
	out, err := c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("site")})
	if err != nil || len(out.Contents) != 4 {
		t.Fatalf("ListObjectsV2: %v %d", err, len(out.Contents))
	}
	if a := webDo(t, ts, false, "GET", "/site/nope", nil); a.status != 404 || errCodeOf(a.body) != "NoSuchKey" {
		t.Fatalf("signed miss: %d %s", a.status, a.body)
	}
}

// TestWebsiteSurvivesRestart: the configuration lives in the store, so a
// restarted server answers GET ?website and applies the rules at once.
func TestWebsiteSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ts, stop := startWebsiteServer(t, dir)
	mustCreateBucket(t, ts.rootClient(), "kept")
	mustWebsite(t, ts, "kept", redirectRules)
	before := webDo(t, ts, false, "GET", "/kept?website", nil)
	stop()

	ts2, _ := startWebsiteServer(t, dir)
	after := webDo(t, ts2, false, "GET", "/kept?website", nil)
	if after.status != 200 || after.body != before.body {
		t.Fatalf("after restart: %d\n%s\nwant\n%s", after.status, after.body, before.body)
	}
	if a := webDo(t, ts2, false, "GET", "/kept/code/308/x", nil); a.status != 308 || a.header.Get("Location") != "http://codes.example.com/code/308/x" {
		t.Fatalf("rules after restart: %d %q", a.status, a.header.Get("Location"))
	}
}
