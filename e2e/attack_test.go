package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"mirrorstore/internal/server"
)

// TestAttacks sends a real server on loopback what a hostile client would:
// one subtest per attack of RELIABILITY.md, each with the exact S3 error it
// must get and a check that nothing was lost or leaked. Requests the SDK
// would refuse to send go out as raw bytes on a TCP connection; signing
// uses the SDK's v4 signer.
func TestAttacks(t *testing.T) {
	root := t.TempDir()
	dataDir := filepath.Join(root, "data")
	ts := startServerWith(t, func(c *server.Config) {
		c.DataDir = dataDir
		c.Backend = testBackend(t, root)
		c.Mirror = server.MirrorConfig{Timeout: 5 * time.Second, IdleTimeout: 5 * time.Second, AllowPrivate: true, Version: "e2e"}
		c.BodyIdleTimeout = time.Second
	})
	origin := newFakeOrigin(t)
	host := strings.TrimPrefix(ts.URL(), "http://")
	// Redirects are what some attacks are about: never follow them.
	nr := &http.Client{Transport: ts.client.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(r *http.Request) reply {
		resp, err := nr.Do(r)
		if err != nil {
			return reply{status: -1, readErr: err}
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return reply{status: resp.StatusCode, header: resp.Header, body: b, readErr: err}
	}
	// anon sends an unsigned request; a transport error shows as status
	// -1, so the subtest that sent it fails.
	anon := func(method, path string, body []byte, hdr ...string) reply {
		r, err := http.NewRequest(method, ts.URL()+path, bytes.NewReader(body))
		if err != nil {
			return reply{status: -1, readErr: err}
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		return do(r)
	}
	want := func(t *testing.T, what string, a reply, status int, code string) {
		t.Helper()
		if a.status != status || s3Code(a.body) != code {
			t.Fatalf("%s: %d %q, want %d %s: %s", what, a.status, s3Code(a.body), status, code, a.body)
		}
	}
	for _, b := range []string{"/atk", "/pub", "/site"} {
		if a := ts.signed(t, "PUT", b, nil); a.status != 200 {
			t.Fatalf("create %s: %d %s", b, a.status, a.body)
		}
	}

	t.Run("PathTraversalInKeys", func(t *testing.T) {
		// Keys are names, never paths: each is stored and listed verbatim,
		// and nothing appears outside the data folder.
		keys := map[string]string{
			"../../../../escape-a":          "/atk/../../../../escape-a",
			"..%2F..%2Fescape-b":            "/atk/..%252F..%252Fescape-b",
			"../../escape-c":                "/atk/%2E%2E/%2e%2e/escape-c",
			"..\\..\\escape-d":              "/atk/..%5C..%5Cescape-d",
			"a/../../../escape-e":           "/atk/a/../../../escape-e",
			"/../escape-f":                  "/atk//../escape-f",
			"./escape-g":                    "/atk/./escape-g",
			"objects/../../../etc/escape-h": "/atk/objects/../../../etc/escape-h",
		}
		for key, path := range keys {
			if a := ts.signed(t, "PUT", path, []byte("body of "+key)); a.status != 200 {
				t.Fatalf("PUT %s: %d %s", path, a.status, a.body)
			}
		}
		for key, path := range keys {
			if a := ts.signed(t, "GET", path, nil); a.status != 200 || string(a.body) != "body of "+key {
				t.Fatalf("GET %s: %d %q", path, a.status, a.body)
			}
		}
		got, err := listKeys(ts.rootClient(), "atk")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(keys) {
			t.Fatalf("listed %q, want the %d keys verbatim", got, len(keys))
		}
		for _, k := range got {
			if _, ok := keys[k]; !ok {
				t.Fatalf("listed %q, not a key that was written", k)
			}
		}
		escaped := 0
		_ = filepath.WalkDir(filepath.Dir(root), func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.Contains(d.Name(), "escape-") {
				t.Errorf("file %s appeared", p)
				escaped++
			}
			return nil
		})
		// Bucket names are checked before anything else.
		for _, path := range []string{"/..", "/../etc", "/%2E%2E/x", "/..%2F..%2Fetc/x", "/a%2Fb/x", "/.atk/x", "/atk%00/x"} {
			want(t, "PUT "+path, rawExchange(t, host, "PUT "+path+" HTTP/1.1\r\nHost: "+host+"\r\nContent-Length: 0\r\n\r\n"), 400, "InvalidBucketName")
		}
		t.Logf("path traversal: %d keys stored verbatim, %d files outside the store, 7 bucket names refused", len(keys), escaped)
	})

	t.Run("OversizedHeaders", func(t *testing.T) {
		big := strings.Repeat("a", 80<<10)
		a := rawExchange(t, host, "GET /atk/k HTTP/1.1\r\nHost: "+host+"\r\nX-Big: "+big+"\r\n\r\n")
		if a.status != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("80 KiB header: %d %s", a.status, a.body)
		}
		many := strings.Repeat("X-Amz-Meta-M: v\r\n", 5000)
		if a := rawExchange(t, host, "PUT /atk/k HTTP/1.1\r\nHost: "+host+"\r\n"+many+"Content-Length: 0\r\n\r\n"); a.status != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("5000 headers: %d %s", a.status, a.body)
		}
		// Under the header cap, user metadata still has S3's 2 KiB.
		want(t, "3 KiB of metadata", ts.signed(t, "PUT", "/atk/meta", []byte("x"), "X-Amz-Meta-Big", strings.Repeat("m", 3<<10)), 400, "MetadataTooLarge")
		if a := ts.signed(t, "HEAD", "/atk/meta", nil); a.status != 404 {
			t.Fatalf("refused object exists: %d", a.status)
		}
		if a := anon("GET", "/-/ready", nil); a.status != 200 {
			t.Fatalf("server after oversized headers: %d", a.status)
		}
		t.Logf("oversized headers: 80 KiB header and 5000 headers answered 431; 3 KiB metadata 400 MetadataTooLarge")
	})

	t.Run("XMLBombs", func(t *testing.T) {
		laughs := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">` +
			`<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">` +
			`<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">` +
			`<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">` +
			`<!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>`
		external := `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY ext SYSTEM "file:///etc/passwd">]>`
		up := ts.signed(t, "POST", "/atk/mp?uploads", nil)
		uploadID := between(string(up.body), "<UploadId>", "</UploadId>")
		if uploadID == "" {
			t.Fatalf("initiate: %s", up.body)
		}
		targets := []struct{ method, path, root, inner string }{
			{"PUT", "/atk?website", "WebsiteConfiguration", "<IndexDocument><Suffix>&lol9;</Suffix></IndexDocument>"},
			{"PUT", "/atk/meta?tagging", "Tagging", "<TagSet><Tag><Key>k</Key><Value>&lol9;</Value></Tag></TagSet>"},
			{"POST", "/atk?delete", "Delete", "<Object><Key>&lol9;</Key></Object>"},
			{"POST", "/atk/mp?uploadId=" + uploadID, "CompleteMultipartUpload", "<Part><PartNumber>1</PartNumber><ETag>&lol9;</ETag></Part>"},
		}
		for _, tg := range targets {
			for name, head := range map[string]string{"entity expansion": laughs, "external entity": strings.Replace(laughs, `<!DOCTYPE lolz [`, `<!DOCTYPE lolz [<!ENTITY ext SYSTEM "file:///etc/passwd">`, 1)} {
				body := head + "<" + tg.root + ">" + tg.inner + "</" + tg.root + ">"
				if name == "external entity" {
					body = external + "<" + tg.root + ">" + strings.ReplaceAll(tg.inner, "&lol9;", "&ext;") + "</" + tg.root + ">"
				}
				a := ts.signed(t, tg.method, tg.path, []byte(body))
				want(t, name+" to "+tg.method+" "+tg.path, a, 400, "MalformedXML")
				if bytes.Contains(a.body, []byte("root:")) || bytes.Contains(a.body, []byte("lollol")) {
					t.Fatalf("%s answer expanded an entity: %s", tg.path, a.body)
				}
			}
		}
		// Deep nesting: 100 000 levels fit the DeleteObjects cap (8 MiB);
		// the website cap (64 KiB) takes 9 000 short ones.
		start := time.Now()
		deep := "<Delete>" + strings.Repeat("<Object>", 100000) + strings.Repeat("</Object>", 100000) + "</Delete>"
		// encoding/xml skips the unknown inner elements iteratively, so the
		// document decodes to one Object without a Key, refused alone.
		if a := ts.signed(t, "POST", "/atk?delete", []byte(deep)); a.status != 200 || s3Code(a.body) != "InvalidArgument" || strings.Count(string(a.body), "<Error>") != 1 {
			t.Fatalf("100 000 nested elements to ?delete: %d %s", a.status, a.body)
		}
		deepTook := time.Since(start)
		start = time.Now()
		deepSite := "<WebsiteConfiguration>" + strings.Repeat("<a>", 9000) + strings.Repeat("</a>", 9000) + "</WebsiteConfiguration>"
		want(t, "9 000 nested elements to ?website", ts.signed(t, "PUT", "/atk?website", []byte(deepSite)), 400, "MalformedXML")
		siteTook := time.Since(start)
		// Huge bodies: past each cap is refused whole, without reading on.
		// (The rules package names the size: InvalidArgument, SPEC §6.)
		want(t, "65 KiB ?website", ts.signed(t, "PUT", "/atk?website", []byte("<WebsiteConfiguration>"+strings.Repeat(" ", 65<<10)+"</WebsiteConfiguration>")), 400, "InvalidArgument")
		want(t, "9 MiB ?delete", ts.signed(t, "POST", "/atk?delete", []byte("<Delete>"+strings.Repeat(" ", 9<<20)+"</Delete>")), 400, "MalformedXML")
		sent := &countingReader{r: io.LimitReader(zeros{}, 1<<30)}
		r, err := http.NewRequest("PUT", ts.URL()+"/atk?website", sent)
		if err != nil {
			t.Fatal(err)
		}
		signUnsigned(t, r)
		resp, err := ts.client.Do(r)
		status := 0
		if err == nil {
			status = resp.StatusCode
			resp.Body.Close()
		}
		if status != 400 && err == nil {
			t.Fatalf("1 GiB ?website: %d", status)
		}
		if sent.n.Load() > 64<<20 {
			t.Fatalf("1 GiB ?website: the server read %d bytes before answering", sent.n.Load())
		}
		if a := ts.signed(t, "GET", "/atk?website", nil); a.status != 404 {
			t.Fatalf("a refused website configuration is in force: %d %s", a.status, a.body)
		}
		t.Logf("XML bombs: %d entity-expansion and external-entity bodies 400 MalformedXML; 100 000 nested elements answered in %v, 9 000 refused in %v; 1 GiB body cut after %d bytes sent (status %d, %v)",
			2*len(targets), deepTook.Round(time.Millisecond), siteTook.Round(time.Millisecond), sent.n.Load(), status, err)
	})

	t.Run("AnonymousWritesOnPublicBuckets", func(t *testing.T) {
		if a := ts.signed(t, "PUT", "/pub?acl", nil, "X-Amz-Acl", "public-read"); a.status != 200 {
			t.Fatalf("public-read: %d %s", a.status, a.body)
		}
		policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::site","arn:aws:s3:::site/*"]}]}`
		if a := ts.signed(t, "PUT", "/site?policy", []byte(policy)); a.status != 204 && a.status != 200 {
			t.Fatalf("policy: %d %s", a.status, a.body)
		}
		rules := "<WebsiteConfiguration><IndexDocument><Suffix>index.html</Suffix></IndexDocument></WebsiteConfiguration>"
		for _, b := range []string{"pub", "site"} {
			if a := ts.signed(t, "PUT", "/"+b+"/page", []byte("original")); a.status != 200 {
				t.Fatal(a.status)
			}
			if a := ts.signed(t, "PUT", "/"+b+"?website", []byte(rules)); a.status != 200 {
				t.Fatalf("website: %d %s", a.status, a.body)
			}
			if a := anon("GET", "/"+b+"/page", nil); a.status != 200 {
				t.Fatalf("anonymous read of %s: %d", b, a.status)
			}
		}
		n := 0
		for _, b := range []string{"pub", "site"} {
			for _, tc := range []struct {
				method, path string
				body         string
				hdr          []string
			}{
				{"PUT", "/page", "defaced", nil},
				{"PUT", "/new", "planted", nil},
				{"DELETE", "/page", "", nil},
				{"POST", "?delete", "<Delete><Object><Key>page</Key></Object></Delete>", nil},
				{"PUT", "/copy", "", []string{"X-Amz-Copy-Source", "/" + b + "/page"}},
				{"POST", "/big?uploads", "", nil},
				{"PUT", "/page?tagging", "<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>", nil},
				{"PUT", "?website", "<WebsiteConfiguration><IndexDocument><Suffix>evil.html</Suffix></IndexDocument></WebsiteConfiguration>", nil},
				{"DELETE", "?website", "", nil},
				{"PUT", "?policy", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::` + b + `/*"}]}`, nil},
				{"DELETE", "?policy", "", nil},
				{"PUT", "?acl", "", []string{"X-Amz-Acl", "public-read-write"}},
				{"PUT", "?tagging", "<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>", nil},
				{"DELETE", "", "", nil},
			} {
				want(t, "anonymous "+tc.method+" /"+b+tc.path, anon(tc.method, "/"+b+tc.path, []byte(tc.body), tc.hdr...), 403, "AccessDenied")
				n++
			}
			if a := anon("GET", "/"+b+"/page", nil); a.status != 200 || string(a.body) != "original" {
				t.Fatalf("%s/page after the attempts: %d %q", b, a.status, a.body)
			}
			if a := ts.signed(t, "HEAD", "/"+b+"/new", nil); a.status != 404 {
				t.Fatalf("planted object exists in %s", b)
			}
			if a := ts.signed(t, "GET", "/"+b+"?website", nil); a.status != 200 || !bytes.Contains(a.body, []byte("index.html")) {
				t.Fatalf("%s website changed: %d %s", b, a.status, a.body)
			}
		}
		if a := ts.signed(t, "GET", "/site?policy", nil); a.status != 200 || !strings.Contains(string(a.body), "s3:GetObject") || strings.Contains(string(a.body), "s3:*") {
			t.Fatalf("policy changed: %d %s", a.status, a.body)
		}
		t.Logf("anonymous writes: %d write and configuration calls on a public-read bucket and a public-policy bucket, all 403 AccessDenied, nothing changed", n)
	})

	t.Run("PresignedReplay", func(t *testing.T) {
		if a := ts.signed(t, "PUT", "/atk/secret", []byte("secret")); a.status != 200 {
			t.Fatal(a.status)
		}
		fresh := presignAt(t, ts.URL(), "GET", "/atk/secret", time.Hour, time.Now())
		if a := anon("GET", strings.TrimPrefix(fresh, ts.URL()), nil); a.status != 200 || string(a.body) != "secret" {
			t.Fatalf("fresh presigned GET: %d %s", a.status, a.body)
		}
		// Replay after expiry: signed two hours ago for one hour.
		old := presignAt(t, ts.URL(), "GET", "/atk/secret", time.Hour, time.Now().Add(-2*time.Hour))
		a := anon("GET", strings.TrimPrefix(old, ts.URL()), nil)
		want(t, "expired presigned GET", a, 403, "AccessDenied")
		if !strings.Contains(string(a.body), "expired") {
			t.Fatalf("expired URL answer does not say so: %s", a.body)
		}
		// One-second URL replayed two seconds later.
		short := presignAt(t, ts.URL(), "GET", "/atk/secret", time.Second, time.Now().Add(-2*time.Second))
		want(t, "1 s presigned GET after 2 s", anon("GET", strings.TrimPrefix(short, ts.URL()), nil), 403, "AccessDenied")
		// Tampered parameters on a fresh URL.
		path := strings.TrimPrefix(fresh, ts.URL())
		tampered := map[string]string{
			"longer expiry":     strings.Replace(path, "X-Amz-Expires=3600", "X-Amz-Expires=604800", 1),
			"other key":         strings.Replace(path, "/atk/secret?", "/atk/meta?", 1),
			"other bucket":      strings.Replace(path, "/atk/secret?", "/pub/page?", 1),
			"added parameter":   path + "&response-content-type=text%2Fhtml",
			"added subresource": path + "&acl",
			"later date":        strings.Replace(path, "X-Amz-Date=", "X-Amz-Date=2", 1),
		}
		for name, p := range tampered {
			if p == path {
				t.Fatalf("%s: tampering changed nothing", name)
			}
			a := anon("GET", p, nil)
			if a.status != 403 && a.status != 400 {
				t.Fatalf("%s: %d %s", name, a.status, a.body)
			}
			if c := s3Code(a.body); c != "SignatureDoesNotMatch" && c != "AuthorizationQueryParametersError" && c != "AccessDenied" {
				t.Fatalf("%s: code %s", name, c)
			}
		}
		// The same URL with another method.
		want(t, "presigned GET replayed as DELETE", anon("DELETE", path, nil), 403, "SignatureDoesNotMatch")
		if a := ts.signed(t, "GET", "/atk/secret", nil); a.status != 200 {
			t.Fatalf("object gone: %d", a.status)
		}
		t.Logf("presigned replay: expired (2 h late, 1 s late) 403 AccessDenied; %d tampered URLs and a method change refused", len(tampered))
	})

	t.Run("SignatureForBucketAOnBucketB", func(t *testing.T) {
		if a := ts.signed(t, "PUT", "/pub/victim", []byte("keep")); a.status != 200 {
			t.Fatal(a.status)
		}
		r := signedRequest(t, ts.URL(), "DELETE", "/atk/victim", nil)
		r.URL.Path = "/pub/victim"
		want(t, "DELETE signed for /atk sent to /pub", ts.send(t, r), 403, "SignatureDoesNotMatch")
		r = signedRequest(t, ts.URL(), "PUT", "/atk/x", []byte("planted"))
		r.URL.Path = "/pub/x"
		want(t, "PUT signed for /atk sent to /pub", ts.send(t, r), 403, "SignatureDoesNotMatch")
		// Path-style signature replayed virtual-host style.
		r = signedRequest(t, ts.URL(), "GET", "/atk/secret", nil)
		r.URL.Path = "/secret"
		r.Host = "pub." + host
		if a := ts.send(t, r); a.status != 403 && a.status != 400 && a.status != 404 {
			t.Fatalf("vhost replay: %d %s", a.status, a.body)
		}
		if a := ts.signed(t, "GET", "/pub/victim", nil); a.status != 200 || string(a.body) != "keep" {
			t.Fatalf("victim: %d %q", a.status, a.body)
		}
		if a := ts.signed(t, "HEAD", "/pub/x", nil); a.status != 404 {
			t.Fatal("planted object exists")
		}
	})

	t.Run("ClockSkew", func(t *testing.T) {
		for _, d := range []time.Duration{-16 * time.Minute, 16 * time.Minute, -24 * time.Hour, 365 * 24 * time.Hour} {
			r := signedRequestAt(t, ts.URL(), "PUT", "/atk/skew", []byte("x"), time.Now().Add(d))
			a := ts.send(t, r)
			want(t, fmt.Sprintf("clock %v off", d), a, 403, "RequestTimeTooSkewed")
		}
		if a := ts.signed(t, "HEAD", "/atk/skew", nil); a.status != 404 {
			t.Fatal("a skewed PUT was stored")
		}
		if a := ts.send(t, signedRequestAt(t, ts.URL(), "PUT", "/atk/skew", []byte("x"), time.Now().Add(-14*time.Minute))); a.status != 200 {
			t.Fatalf("14 minutes off: %d %s", a.status, a.body)
		}
	})

	t.Run("SlowBody", func(t *testing.T) {
		// Headers arrive at once, then the body stalls: the server must not
		// hold the connection (and a goroutine) for ever, whether the
		// handler is reading the body (a signed PUT) or has refused the
		// request without reading it (an anonymous one, whose unread body
		// net/http drains before answering). Slow headers are
		// TestSlowHeadersAreCut.
		signedHead := signedRequestHash(t, ts.URL(), "PUT", "/atk/slow", "UNSIGNED-PAYLOAD").Header
		for _, tc := range []struct {
			name   string
			hdr    http.Header
			status int
			code   string
		}{
			{"signed PUT", signedHead, 400, "RequestTimeout"},
			{"anonymous PUT", http.Header{}, 403, "AccessDenied"},
		} {
			conn, err := net.Dial("tcp", host)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			var head bytes.Buffer
			fmt.Fprintf(&head, "PUT /atk/slow HTTP/1.1\r\nHost: %s\r\nContent-Length: 100000\r\n", host)
			for k, vs := range tc.hdr {
				for _, v := range vs {
					fmt.Fprintf(&head, "%s: %s\r\n", k, v)
				}
			}
			head.WriteString("\r\n0123456789")
			if _, err := conn.Write(head.Bytes()); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("%s, body stalled: no answer after %v: %v", tc.name, time.Since(start).Round(time.Millisecond), err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || s3Code(b) != tc.code {
				t.Fatalf("%s, body stalled: %d %s", tc.name, resp.StatusCode, b)
			}
			// And the connection is closed, not kept waiting for more.
			if _, err := br.ReadByte(); err != io.EOF {
				t.Fatalf("%s: connection still open after the answer: %v", tc.name, err)
			}
			t.Logf("slow body: %s whose body stalled after 10 of 100000 bytes answered %d %s and closed after %v (idle limit 1 s)", tc.name, resp.StatusCode, tc.code, time.Since(start).Round(time.Millisecond))
		}
		if a := ts.signed(t, "HEAD", "/atk/slow", nil); a.status != 404 {
			t.Fatal("a stalled PUT was stored")
		}
	})

	t.Run("HeaderInjection", func(t *testing.T) {
		for name, rule := range map[string]string{
			"MirrorHeaders Set": mirrorRule(1, "", origin.URL+"/o/", "<MirrorHeaders><Set><Key>X-A</Key><Value>a&#13;&#10;X-Injected: 1</Value></Set></MirrorHeaders>"),
			"MirrorHeaders LF":  mirrorRule(1, "", origin.URL+"/o/", "<MirrorHeaders><Set><Key>X-A</Key><Value>a&#10;X-Injected: 1</Value></Set></MirrorHeaders>"),
			"ReplaceKeyWith":    `<RoutingRule><RuleNumber>1</RuleNumber><Redirect><HostName>www.example.com</HostName><ReplaceKeyWith>x&#13;&#10;Set-Cookie: a=1</ReplaceKeyWith></Redirect></RoutingRule>`,
			"ReplaceKeyPrefix":  `<RoutingRule><RuleNumber>1</RuleNumber><Condition><KeyPrefixEquals>p/</KeyPrefixEquals></Condition><Redirect><HostName>www.example.com</HostName><ReplaceKeyPrefixWith>q&#10;Set-Cookie: a=1/</ReplaceKeyPrefixWith></Redirect></RoutingRule>`,
			"IncludeHeader":     `<RoutingRule><RuleNumber>1</RuleNumber><Condition><IncludeHeader><Key>X-A</Key><Equals>a&#13;&#10;b</Equals></IncludeHeader></Condition><Redirect><HostName>www.example.com</HostName></Redirect></RoutingRule>`,
		} {
			doc := "<WebsiteConfiguration><RoutingRules>" + rule + "</RoutingRules></WebsiteConfiguration>"
			a := ts.signed(t, "PUT", "/atk?website", []byte(doc))
			want(t, name+" with CR/LF", a, 400, "InvalidArgument")
			if !bytes.Contains(a.body, []byte("line break")) {
				t.Fatalf("%s: the message does not name the line break: %s", name, a.body)
			}
		}
		if a := ts.signed(t, "GET", "/atk?website", nil); a.status != 404 {
			t.Fatalf("a refused configuration is in force: %d %s", a.status, a.body)
		}
		// CR/LF arriving in the key itself reaches neither a Location nor
		// the origin's request as a header.
		origin.serve("/o/m/k\r\nX-Injected: 1", []byte("from origin"))
		ts.putWebsite(t, "site", mirrorRule(1, "m/", origin.URL+"/o/", "")+
			`<RoutingRule><RuleNumber>2</RuleNumber><Condition><KeyPrefixEquals>r/</KeyPrefixEquals></Condition><Redirect><HostName>www.example.com</HostName><HttpRedirectCode>302</HttpRedirectCode></Redirect></RoutingRule>`)
		a := anon("GET", "/site/r/k%0D%0ASet-Cookie:%20a=1", nil)
		if a.status != 302 || a.header.Get("Set-Cookie") != "" || strings.ContainsAny(a.header.Get("Location"), "\r\n") ||
			a.header.Get("Location") != "http://www.example.com/r/k%0D%0ASet-Cookie%3A%20a%3D1" {
			t.Fatalf("redirect of a CR/LF key: %d %v", a.status, a.header)
		}
		a = do(signedRequest(t, ts.URL(), "GET", "/site/m/k%0D%0AX-Injected:%201", nil))
		if a.status != 200 || string(a.body) != "from origin" {
			t.Fatalf("mirror of a CR/LF key: %d %s", a.status, a.body)
		}
		if h := origin.lastHeader("/o/m/k\r\nX-Injected: 1"); h == nil || h.Get("X-Injected") != "" {
			t.Fatalf("origin request headers: %v", h)
		}
		t.Logf("header injection: CR/LF in MirrorHeaders Set, ReplaceKeyWith, ReplaceKeyPrefixWith and IncludeHeader refused with 400 InvalidArgument; CR/LF keys reach Location and the origin percent-encoded")
	})

	t.Run("OpenRedirectThroughKey", func(t *testing.T) {
		ts.putWebsite(t, "site", `<RoutingRule><RuleNumber>1</RuleNumber><Condition><KeyPrefixEquals>named/</KeyPrefixEquals></Condition><Redirect><HostName>www.example.com</HostName><HttpRedirectCode>302</HttpRedirectCode></Redirect></RoutingRule>`+
			`<RoutingRule><RuleNumber>2</RuleNumber><Condition><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition><Redirect><HttpRedirectCode>302</HttpRedirectCode></Redirect></RoutingRule>`)
		n := 0
		for _, key := range []string{"//evil.example/", "/%5Cevil.example", "%5C%5Cevil.example/x", "http://evil.example/", "%2F%2Fevil.example", "/%09/evil.example", "@evil.example", "..//evil.example", "%0D%0ALocation:%20http://evil.example/"} {
			for prefix, wantHost := range map[string]string{"": host, "named/": "www.example.com"} {
				a := anon("GET", "/site/"+prefix+key, nil)
				loc := a.header.Get("Location")
				u, err := url.Parse(loc)
				if a.status != 302 || err != nil || u.Host != wantHost || !strings.HasPrefix(loc, "http://"+wantHost+"/") {
					t.Fatalf("GET /site/%s%s: %d Location %q (host %q), want a redirect to %s", prefix, key, a.status, loc, urlHost(u), wantHost)
				}
				// What a browser would make of it, resolved against the page.
				page, _ := url.Parse(ts.URL() + "/site/" + prefix + key)
				if got := page.ResolveReference(u); got.Host != wantHost {
					t.Fatalf("Location %q resolves to host %q", loc, got.Host)
				}
				n++
			}
		}
		t.Logf("open redirect: %d keys shaped like other hosts redirected only to the request's host or the rule's HostName", n)
	})
}

func urlHost(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.Host
}

// rawExchange writes text to a fresh connection and reads one answer.
func rawExchange(t *testing.T, host, text string) reply {
	t.Helper()
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, text); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%.60q: %v", text, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b, readErr: err}
}

func between(s, a, b string) string {
	_, rest, ok := strings.Cut(s, a)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, b)
	return v
}

// presignAt presigns method path with the root credential as of at.
func presignAt(t *testing.T, base, method, path string, expires time.Duration, at time.Time) string {
	t.Helper()
	r, err := http.NewRequest(method, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	q := r.URL.Query()
	q.Set("X-Amz-Expires", fmt.Sprint(int(expires/time.Second)))
	r.URL.RawQuery = q.Encode()
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	u, _, err := signer.PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey}, r, "UNSIGNED-PAYLOAD", "s3", "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// signedRequestAt is signedRequest with the signing clock set to at.
func signedRequestAt(t *testing.T, base, method, path string, body []byte, at time.Time) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	hash := fmt.Sprintf("%x", sha256.Sum256(body))
	r.Header.Set("X-Amz-Content-Sha256", hash)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey}, r, hash, "s3", "us-east-1", at); err != nil {
		t.Fatal(err)
	}
	return r
}

// signedRequestHash signs a bodiless request declaring payload hash h.
func signedRequestHash(t *testing.T, base, method, path, h string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("X-Amz-Content-Sha256", h)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey}, r, h, "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	return r
}

// signUnsigned signs r (whose body is streamed) with UNSIGNED-PAYLOAD.
func signUnsigned(t *testing.T, r *http.Request) {
	t.Helper()
	r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey}, r, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// countingReader counts what the client actually sent. The transport's
// writer may still be reading after Do returns (the server answered before
// the body ended), so the count is atomic.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
