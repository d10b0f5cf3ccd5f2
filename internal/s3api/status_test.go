package s3api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"mirrorstore/internal/auth"
	"mirrorstore/internal/metrics"
	"mirrorstore/internal/store/local"
)

func opsHandler(t *testing.T, o Ops) (*Handler, *auth.Keyring) {
	t.Helper()
	keys := auth.NewKeyring(auth.Credential{AccessKey: "ROOTKEY", SecretKey: "rootsecret"},
		auth.Credential{AccessKey: "USERKEY", SecretKey: "usersecret"})
	return New(Config{Auth: auth.NewVerifier(keys), Keys: keys, Ops: o}), keys
}

func get(h http.Handler, target string, setup func(*http.Request)) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "http://localhost"+target, nil)
	if setup != nil {
		setup(r)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func TestStatusAuth(t *testing.T) {
	m := metrics.New()
	h, _ := opsHandler(t, Ops{Metrics: m})
	cases := []struct {
		name       string
		user, pass string
		want       int
	}{
		{"no credentials", "", "", http.StatusUnauthorized},
		{"root key", "ROOTKEY", "rootsecret", http.StatusOK},
		{"other key", "USERKEY", "usersecret", http.StatusOK},
		{"wrong secret", "ROOTKEY", "usersecret", http.StatusUnauthorized},
		{"unknown key", "NOKEY", "rootsecret", http.StatusUnauthorized},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := get(h, "/-/status", func(r *http.Request) {
				if c.user != "" {
					r.SetBasicAuth(c.user, c.pass)
				}
			})
			if rec.Code != c.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.want, rec.Body)
			}
			if c.want == http.StatusUnauthorized && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Basic ") {
				t.Fatalf("401 without a Basic challenge: %v", rec.Header())
			}
		})
	}

	pub, _ := opsHandler(t, Ops{Metrics: m, StatusPublic: true})
	if rec := get(pub, "/-/status", nil); rec.Code != http.StatusOK {
		t.Fatalf("--status-public: %d", rec.Code)
	}
	// Metrics need no credentials either way.
	if rec := get(h, "/-/metrics", nil); rec.Code != http.StatusOK {
		t.Fatalf("/-/metrics: %d", rec.Code)
	}
}

func TestStatusPageContent(t *testing.T) {
	m := metrics.NewWithUsage(func(context.Context) ([]metrics.BucketUsage, error) {
		return []metrics.BucketUsage{{Bucket: "photos", Objects: 3, Bytes: 3 << 20}}, nil
	})
	m.GetServed("photos", false)
	m.GetServed("photos", false)
	m.GetServed("photos", false)
	m.GetServed("photos", true)
	m.OriginError(metrics.OriginError{Bucket: "photos", Key: "<script>alert(1)</script>", URL: "http://old.example/x", Message: "Connect to mirror host failed"})
	h, _ := opsHandler(t, Ops{Metrics: m, StatusPublic: true})

	rec := get(h, "/-/status", nil)
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("%d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	body := rec.Body.String()
	for _, want := range []string{
		`<meta http-equiv="refresh" content="5">`,
		`<td>photos</td><td class="n">3</td><td class="n">3.0 MiB</td>`,
		`75.0% (3 local, 1 filled)`,
		`Mirroring is off.`,
		`http://old.example/x`,
		`Connect to mirror host failed`,
		`&lt;script&gt;alert(1)&lt;/script&gt;`,
		`Objects and bytes are the store's own counts.`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>") {
		t.Error("a key reached the page unescaped")
	}
}

func TestOpsOffWithoutMetrics(t *testing.T) {
	h, _ := opsHandler(t, Ops{})
	for _, p := range []string{"/-/metrics", "/-/status"} {
		if rec := get(h, p, nil); rec.Code != http.StatusNotFound {
			t.Errorf("%s without metrics: %d", p, rec.Code)
		}
	}
}

func TestRequestCap(t *testing.T) {
	m := metrics.New()
	h, _ := opsHandler(t, Ops{Metrics: m, MaxRequests: 2})
	// Take both slots as two requests in flight would.
	var releases []func()
	for i := 0; i < 2; i++ {
		release, ok := h.admit(httptest.NewRequest("GET", "/b/k", nil))
		if !ok {
			t.Fatalf("slot %d refused", i)
		}
		releases = append(releases, release)
	}
	rec := get(h, "/bucket/key", nil)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "<Code>SlowDown</Code>") {
		t.Fatalf("past the cap: %d %s", rec.Code, rec.Body)
	}
	for _, p := range []string{"/-/healthy", "/-/metrics"} {
		if rec := get(h, p, nil); rec.Code != http.StatusOK {
			t.Fatalf("%s past the cap: %d", p, rec.Code)
		}
	}
	if !strings.Contains(get(h, "/-/metrics", nil).Body.String(), `mirrorstore_requests_total{operation="Unknown",status_class="5xx"} 1`) {
		t.Error("the refused request was not counted")
	}
	releases[0]()
	release, ok := h.admit(httptest.NewRequest("GET", "/b/k", nil))
	if !ok {
		t.Fatal("a freed slot still refuses")
	}
	release()
	releases[1]()
}

// TestStatusPageRules: each bucket's routing rules are on the page, one
// line each, and the note says where the counts come from.
func TestStatusPageRules(t *testing.T) {
	ctx := context.Background()
	eng, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	for _, b := range []string{"site", "plain"} {
		if err := eng.CreateBucket(ctx, b, "ROOTKEY"); err != nil {
			t.Fatal(err)
		}
	}
	cfg := `<WebsiteConfiguration><RoutingRules>
<RoutingRule><RuleNumber>1</RuleNumber><Condition><KeyPrefixEquals>img/</KeyPrefixEquals><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition>
<Redirect><RedirectType>Mirror</RedirectType><MirrorURL>http://origin.example/static/</MirrorURL><MirrorURLSlave>http://backup.example/static/</MirrorURLSlave></Redirect></RoutingRule>
<RoutingRule><RuleNumber>2</RuleNumber><Condition><KeySuffixEquals>.old</KeySuffixEquals></Condition>
<Redirect><Protocol>https</Protocol><HostName>old.example</HostName><HttpRedirectCode>302</HttpRedirectCode></Redirect></RoutingRule>
</RoutingRules></WebsiteConfiguration>`
	if err := eng.PutBucketConfig(ctx, "site", "website", []byte(cfg)); err != nil {
		t.Fatal(err)
	}
	m := metrics.NewWithUsage(func(ctx context.Context) ([]metrics.BucketUsage, error) {
		return []metrics.BucketUsage{{Bucket: "plain"}, {Bucket: "site", Objects: 7, Bytes: 2048}}, nil
	})
	keys := auth.NewKeyring(auth.Credential{AccessKey: "ROOTKEY", SecretKey: "rootsecret"})
	h := New(Config{Backend: eng, Auth: auth.NewVerifier(keys), Keys: keys, Ops: Ops{Metrics: m, StatusPublic: true}})
	body := get(h, "/-/status", nil).Body.String()
	for _, want := range []string{
		`<td>plain</td><td class="n">0</td><td class="n">0 B</td><td>no GETs</td><td>no GETs</td><td>none</td>`,
		`<td>site</td><td class="n">7</td><td class="n">2.0 KiB</td>`,
		`<div>#1 img/* on 404 → Mirror http://origin.example/static/ (then http://backup.example/static/)</div>`,
		`<div>#2 *.old → External 302 https://old.example</div>`,
		`Objects and bytes are the store's own counts.`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}
}
