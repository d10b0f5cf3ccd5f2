package e2e

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestAnonymousAndHealth uses plain net/http, as a browser or a site's
// visitors would: public-read buckets are readable, everything else is
// AccessDenied, and the health endpoints need no signature.
func TestAnonymousAndHealth(t *testing.T) {
	ts := startServer(t, false)
	c := ts.rootClient()
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("public"), ACL: types.BucketCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
	mustCreateBucket(t, c, "private")
	mustCreateBucket(t, c, "later")
	for _, b := range []string{"public", "private", "later"} {
		mustPut(t, c, b, "dir/page.html", []byte("<p>hi</p>"))
	}

	type answer struct {
		status int
		code   string
		body   string
		hdr    http.Header
	}
	do := func(method, path string, body string, hdr map[string]string) answer {
		t.Helper()
		req, err := http.NewRequest(method, ts.URL()+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := ts.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		a := answer{status: resp.StatusCode, body: string(b), hdr: resp.Header}
		var e struct{ Code string }
		if xml.Unmarshal(b, &e) == nil {
			a.code = e.Code
		}
		if resp.Header.Get("X-Amz-Request-Id") == "" {
			t.Errorf("%s %s: no x-amz-request-id", method, path)
		}
		return a
	}

	for _, tt := range []struct {
		method, path string
		hdr          map[string]string
		status       int
		code, body   string
	}{
		{method: "GET", path: "/-/healthy", status: 200, body: "ok\n"},
		{method: "GET", path: "/-/ready", status: 200, body: "ok\n"},
		{method: "GET", path: "/public/dir/page.html", status: 200, body: "<p>hi</p>"},
		{method: "HEAD", path: "/public/dir/page.html", status: 200},
		{method: "GET", path: "/public/dir/page.html", hdr: map[string]string{"Range": "bytes=3-5"}, status: 206, body: "hi<"},
		// A miss on a public bucket is 404 NoSuchKey for anonymous readers.
		{method: "GET", path: "/public/missing.html", status: 404, code: "NoSuchKey"},
		{method: "HEAD", path: "/public/missing.html", status: 404},
		{method: "GET", path: "/public/dir/page.html?response-content-type=text/plain", status: 400, code: "InvalidRequest"},
		{method: "GET", path: "/private/dir/page.html", status: 403, code: "AccessDenied"},
		{method: "HEAD", path: "/private/dir/page.html", status: 403},
		{method: "GET", path: "/private/missing", status: 403, code: "AccessDenied"},
		{method: "GET", path: "/public", status: 403, code: "AccessDenied"},
		{method: "GET", path: "/public?acl", status: 403, code: "AccessDenied"},
		{method: "GET", path: "/", status: 403, code: "AccessDenied"},
		{method: "PUT", path: "/public/new.txt", status: 403, code: "AccessDenied"},
		{method: "DELETE", path: "/public/dir/page.html", status: 403, code: "AccessDenied"},
		{method: "PUT", path: "/anon-bucket", status: 403, code: "AccessDenied"},
		{method: "PUT", path: "/public/copy", hdr: map[string]string{"X-Amz-Copy-Source": "/private/dir/page.html"}, status: 403, code: "AccessDenied"},
		{method: "POST", path: "/public?delete", status: 403, code: "AccessDenied"},
		{method: "GET", path: "/public?website", status: 403, code: "AccessDenied"},
	} {
		a := do(tt.method, tt.path, "", tt.hdr)
		if a.status != tt.status || a.code != tt.code || (tt.body != "" && a.body != tt.body) {
			t.Errorf("%s %s: %d %q %q, want %d %q %q", tt.method, tt.path, a.status, a.code, a.body, tt.status, tt.code, tt.body)
		}
		if tt.method == "HEAD" && a.body != "" {
			t.Errorf("HEAD %s has a body", tt.path)
		}
	}

	// The object is still there after the refused anonymous delete.
	if a := do("GET", "/public/dir/page.html", "", nil); a.status != 200 {
		t.Fatalf("object gone after anonymous DELETE: %d", a.status)
	}
	// Making a bucket public takes effect at once, and so does making it
	// private again.
	if a := do("GET", "/later/dir/page.html", "", nil); a.status != 403 {
		t.Fatalf("later before PutBucketAcl: %d", a.status)
	}
	if _, err := c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("later"), ACL: types.BucketCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
	if a := do("GET", "/later/dir/page.html", "", nil); a.status != 200 {
		t.Fatalf("later after public-read: %d", a.status)
	}
	if _, err := c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("later"), ACL: types.BucketCannedACLPrivate}); err != nil {
		t.Fatal(err)
	}
	if a := do("GET", "/later/dir/page.html", "", nil); a.status != 403 {
		t.Fatalf("later after private: %d", a.status)
	}

	a := do("GET", "/public/dir/page.html", "", nil)
	if a.hdr.Get("ETag") != `"`+md5hex([]byte("<p>hi</p>"))+`"` || a.hdr.Get("Accept-Ranges") != "bytes" || a.hdr.Get("Last-Modified") == "" {
		t.Fatalf("object headers: %v", a.hdr)
	}
	if a := do("GET", "/public/dir/page.html", "", map[string]string{"If-None-Match": a.hdr.Get("ETag")}); a.status != 304 || a.body != "" {
		t.Fatalf("If-None-Match: %d %q", a.status, a.body)
	}
	if a := do("GET", "/public/dir/page.html", "", map[string]string{"Range": "bytes=100-"}); a.status != 416 || a.hdr.Get("Content-Range") != "bytes */9" {
		t.Fatalf("InvalidRange: %d %q", a.status, a.hdr.Get("Content-Range"))
	}
}
