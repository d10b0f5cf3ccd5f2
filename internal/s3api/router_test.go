package s3api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// resolve runs the router's steps on a request: path, query, dispatch.
func resolve(t *testing.T, h *Handler, method, target string, hdr map[string]string) (op, bucket, key, code string) {
	t.Helper()
	r := httptest.NewRequest(method, "http://s3.test"+target, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	bucket, key, err := parsePath(r.URL.EscapedPath())
	if err != nil {
		return "", "", "", err.(*Error).Code
	}
	lvl := levelService
	if bucket != "" {
		lvl = levelBucket
		if key != "" {
			lvl = levelObject
		}
	}
	k, err := routeKeyOf(r, r.URL.Query(), lvl)
	if err != nil {
		return "", bucket, key, err.(*Error).Code
	}
	rt, err := h.dispatch(k)
	if err != nil {
		return "", bucket, key, err.(*Error).Code
	}
	return rt.op, bucket, key, ""
}

func TestRouter(t *testing.T) {
	h := New(Config{})
	long := strings.Repeat("k", MaxKeyLength)
	tests := []struct {
		method, target string
		hdr            map[string]string
		op, bucket     string
		key, code      string
	}{
		{method: "GET", target: "/", op: "ListBuckets"},
		{method: "PUT", target: "/b1", op: "CreateBucket", bucket: "b1"},
		{method: "PUT", target: "/b1/", op: "CreateBucket", bucket: "b1"},
		{method: "HEAD", target: "/b1", op: "HeadBucket", bucket: "b1"},
		{method: "DELETE", target: "/b1", op: "DeleteBucket", bucket: "b1"},
		{method: "GET", target: "/b1?location", op: "GetBucketLocation", bucket: "b1"},
		{method: "GET", target: "/b1?acl", op: "GetBucketAcl", bucket: "b1"},
		{method: "PUT", target: "/b1?acl", op: "PutBucketAcl", bucket: "b1"},
		{method: "GET", target: "/b1?versioning", op: "GetBucketVersioning", bucket: "b1"},
		{method: "GET", target: "/b1", op: "ListObjects", bucket: "b1"},
		{method: "GET", target: "/b1/?prefix=a&delimiter=/", op: "ListObjects", bucket: "b1"},
		{method: "GET", target: "/b1?list-type=2&prefix=x", op: "ListObjectsV2", bucket: "b1"},
		{method: "GET", target: "/b1?list-type=1", op: "ListObjects", bucket: "b1"},
		{method: "POST", target: "/b1?delete", op: "DeleteObjects", bucket: "b1"},
		{method: "PUT", target: "/b1/k", op: "PutObject", bucket: "b1", key: "k"},
		{method: "PUT", target: "/b1/k", hdr: map[string]string{"X-Amz-Copy-Source": "/b0/k"}, op: "CopyObject", bucket: "b1", key: "k"},
		{method: "GET", target: "/b1/k", op: "GetObject", bucket: "b1", key: "k"},
		{method: "GET", target: "/b1/k?response-content-type=text/plain&partNumber=1", op: "GetObject", bucket: "b1", key: "k"},
		{method: "HEAD", target: "/b1/k", op: "HeadObject", bucket: "b1", key: "k"},
		{method: "DELETE", target: "/b1/k", op: "DeleteObject", bucket: "b1", key: "k"},
		// Keys are taken verbatim: no cleaning, one unescape.
		{method: "GET", target: "/b1/a//b", op: "GetObject", bucket: "b1", key: "a//b"},
		{method: "GET", target: "/b1/../x", op: "GetObject", bucket: "b1", key: "../x"},
		{method: "GET", target: "/b1/./x", op: "GetObject", bucket: "b1", key: "./x"},
		{method: "GET", target: "/b1/x/", op: "GetObject", bucket: "b1", key: "x/"},
		{method: "GET", target: "/b1/a%2Fb", op: "GetObject", bucket: "b1", key: "a/b"},
		{method: "GET", target: "/b1/%25", op: "GetObject", bucket: "b1", key: "%"},
		{method: "GET", target: "/b1/%2525", op: "GetObject", bucket: "b1", key: "%25"},
		{method: "GET", target: "/b1/a%20b+c", op: "GetObject", bucket: "b1", key: "a b+c"},
		{method: "GET", target: "/b1/%E6%97%A5%E6%9C%AC", op: "GetObject", bucket: "b1", key: "日本"},
		{method: "GET", target: "/b1/" + long, op: "GetObject", bucket: "b1", key: long},
		{method: "GET", target: "/b1/" + long + "k", code: "KeyTooLongError"},
		{method: "GET", target: "/b1/%FF", code: "InvalidURI"},
		// Subresources without a route are 501, never served as if absent.
		{method: "GET", target: "/b1?website", op: "GetBucketWebsite", bucket: "b1"},
		{method: "PUT", target: "/b1?website", op: "PutBucketWebsite", bucket: "b1"},
		{method: "DELETE", target: "/b1?website", op: "DeleteBucketWebsite", bucket: "b1"},
		{method: "GET", target: "/b1/k?website", bucket: "b1", key: "k", code: "NotImplemented"},
		{method: "GET", target: "/b1?cors", bucket: "b1", code: "NotImplemented"},
		{method: "GET", target: "/b1/k?retention", bucket: "b1", key: "k", code: "NotImplemented"},
		{method: "PUT", target: "/b1/k?legal-hold", bucket: "b1", key: "k", code: "NotImplemented"},
		{method: "POST", target: "/b1/k?restore", bucket: "b1", key: "k", code: "NotImplemented"},
		{method: "GET", target: "/b1?tagging", bucket: "b1", code: "NotImplemented"},
		{method: "GET", target: "/b1?lifecycle", bucket: "b1", code: "NotImplemented"},
		{method: "PUT", target: "/b1/k?tagging", hdr: map[string]string{"X-Amz-Copy-Source": "/b0/k"}, bucket: "b1", key: "k", code: "NotImplemented"},
		{method: "POST", target: "/b1?uploads", bucket: "b1", code: "NotImplemented"},
		// Tagging and multipart.
		{method: "GET", target: "/b1/k?tagging", op: "GetObjectTagging", bucket: "b1", key: "k"},
		{method: "PUT", target: "/b1/k?tagging", op: "PutObjectTagging", bucket: "b1", key: "k"},
		{method: "DELETE", target: "/b1/k?tagging", op: "DeleteObjectTagging", bucket: "b1", key: "k"},
		{method: "POST", target: "/b1/k?uploads", op: "CreateMultipartUpload", bucket: "b1", key: "k"},
		{method: "PUT", target: "/b1/k?partNumber=1&uploadId=u", op: "UploadPart", bucket: "b1", key: "k"},
		{method: "PUT", target: "/b1/k?partNumber=1&uploadId=u", hdr: map[string]string{"X-Amz-Copy-Source": "/b0/k"}, op: "UploadPartCopy", bucket: "b1", key: "k"},
		{method: "POST", target: "/b1/k?uploadId=u", op: "CompleteMultipartUpload", bucket: "b1", key: "k"},
		{method: "DELETE", target: "/b1/k?uploadId=u", op: "AbortMultipartUpload", bucket: "b1", key: "k"},
		{method: "GET", target: "/b1/k?uploadId=u&max-parts=2", op: "ListParts", bucket: "b1", key: "k"},
		{method: "GET", target: "/b1?uploads&prefix=a", op: "ListMultipartUploads", bucket: "b1"},
		{method: "GET", target: "/b1/k?partNumber=2", op: "GetObject", bucket: "b1", key: "k"},
		{method: "GET", target: "/b1?acl&policy", bucket: "b1", code: "InvalidRequest"},
		{method: "POST", target: "/b1", bucket: "b1", code: "MethodNotAllowed"},
		{method: "PATCH", target: "/b1/k", bucket: "b1", key: "k", code: "MethodNotAllowed"},
		{method: "DELETE", target: "/", code: "MethodNotAllowed"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target[:min(len(tt.target), 40)], func(t *testing.T) {
			op, bucket, key, code := resolve(t, h, tt.method, tt.target, tt.hdr)
			if op != tt.op || code != tt.code {
				t.Fatalf("op %q code %q, want op %q code %q", op, code, tt.op, tt.code)
			}
			if tt.code == "" && (bucket != tt.bucket || key != tt.key) {
				t.Fatalf("bucket %q key %q, want %q %q", bucket, key, tt.bucket, tt.key)
			}
		})
	}
}

func TestRoutesHaveDistinctKeys(t *testing.T) {
	h := New(Config{})
	if len(h.table) != len(h.routes()) {
		t.Fatalf("table has %d routes, routes() %d", len(h.table), len(h.routes()))
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a duplicate route did not panic")
		}
	}()
	rs := h.routes()
	buildTable(append(rs, rs[0]))
}

func TestValidBucketName(t *testing.T) {
	for name, want := range map[string]bool{
		"abc": true, "my-bucket.example.com": true, "a1-b2": true, "www.example.com": true,
		"ab": false, strings.Repeat("a", 64): false, strings.Repeat("a", 63): true,
		"Abc": false, "a_b": false, "-ab": false, "ab-": false, ".ab": false,
		"a..b": false, "a.-b": false, "192.168.1.1": false, "xn--abc": false,
		"abc-s3alias": false, "-": false,
	} {
		if got := validBucketName(name); got != want {
			t.Errorf("validBucketName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestParseRange(t *testing.T) {
	tests := []struct {
		in        string
		ok        bool
		first     int64
		last      int64
		suffix    int64
		wantError bool
	}{
		{in: "bytes=0-9", ok: true, first: 0, last: 9},
		{in: "bytes=5-", ok: true, first: 5, last: -1},
		{in: "bytes=-3", ok: true, suffix: 3},
		{in: "bytes=-0", wantError: true},
		{in: "bytes=0-1,4-5"},
		{in: "bytes=9-2"},
		{in: "items=0-1"},
		{in: "bytes=x-1"},
		{in: "bytes=1"},
	}
	for _, tt := range tests {
		rg, ok, err := parseRange(tt.in)
		if (err != nil) != tt.wantError || ok != tt.ok {
			t.Errorf("parseRange(%q) ok %v err %v", tt.in, ok, err)
			continue
		}
		if ok && (rg.First != tt.first || rg.Last != tt.last || rg.Suffix != tt.suffix) {
			t.Errorf("parseRange(%q) = %+v", tt.in, rg)
		}
	}
}

func TestWriteErrorShapes(t *testing.T) {
	h := New(Config{})
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		rec := httptest.NewRecorder()
		w := &responseWriter{ResponseWriter: rec}
		r := httptest.NewRequest(method, "/b1/k", nil)
		req := &request{bucket: "b1", key: "k", resource: "/b1/k", reqID: "REQ1"}
		h.writeError(w, r, req, invalidRangeError(10))
		if rec.Code != http.StatusRequestedRangeNotSatisfiable {
			t.Fatalf("%s: status %d", method, rec.Code)
		}
		if got := rec.Header().Get("Content-Range"); got != "bytes */10" {
			t.Fatalf("%s: Content-Range %q", method, got)
		}
		body := rec.Body.String()
		if method == http.MethodHead {
			if body != "" {
				t.Fatalf("HEAD error has a body: %q", body)
			}
			continue
		}
		want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
			`<Error><Code>InvalidRange</Code><Message>The requested range is not satisfiable</Message><Resource>/b1/k</Resource><RequestId>REQ1</RequestId></Error>`
		if body != want {
			t.Fatalf("body\n%s\nwant\n%s", body, want)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/xml" {
			t.Fatalf("Content-Type %q", ct)
		}
	}
}

func TestWriteErrorAfterHeadersIsSilent(t *testing.T) {
	h := New(Config{})
	rec := httptest.NewRecorder()
	w := &responseWriter{ResponseWriter: rec}
	w.Header().Set("Content-Length", "10")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("abc"))
	h.writeError(w, httptest.NewRequest("GET", "/b1/k", nil), &request{}, errCode("InternalError"))
	if rec.Code != http.StatusOK || rec.Body.String() != "abc" {
		t.Fatalf("error written over a started answer: %d %q", rec.Code, rec.Body.String())
	}
}
