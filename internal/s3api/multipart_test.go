package s3api

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"mirrorstore/internal/auth"
	"mirrorstore/internal/store/local"
)

// rootAuth authenticates every request as the root credential, so these
// tests exercise the handlers; signatures have their own tests in auth
// and end to end.
type rootAuth struct{}

func (rootAuth) Authenticate(r *http.Request) (*auth.Identity, error) {
	return &auth.Identity{Credential: auth.Credential{AccessKey: "root"}, ContentLength: r.ContentLength}, nil
}

// apiHarness is a Handler over a fresh embedded engine.
type apiHarness struct {
	t *testing.T
	h *Handler
}

func newAPIHarness(t *testing.T) *apiHarness {
	t.Helper()
	eng, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	return &apiHarness{t: t, h: New(Config{Backend: eng, Auth: rootAuth{}})}
}

// do sends one request; hdr is name, value pairs.
func (a *apiHarness) do(method, target string, body []byte, hdr ...string) *httptest.ResponseRecorder {
	a.t.Helper()
	r := httptest.NewRequest(method, "http://s3.test"+target, bytes.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	return w
}

// ok sends a request that must answer want.
func (a *apiHarness) ok(want int, method, target string, body []byte, hdr ...string) *httptest.ResponseRecorder {
	a.t.Helper()
	w := a.do(method, target, body, hdr...)
	if w.Code != want {
		a.t.Fatalf("%s %s: status %d, want %d: %s", method, target, w.Code, want, w.Body.String())
	}
	return w
}

// fails sends a request that must fail with status and S3 code.
func (a *apiHarness) fails(status int, code, method, target string, body []byte, hdr ...string) {
	a.t.Helper()
	w := a.do(method, target, body, hdr...)
	var e errorBody
	_ = xml.Unmarshal(w.Body.Bytes(), &e)
	if w.Code != status || e.Code != code {
		a.t.Fatalf("%s %s: status %d code %q, want %d %s: %s", method, target, w.Code, e.Code, status, code, w.Body.String())
	}
}

func (a *apiHarness) decode(w *httptest.ResponseRecorder, v any) {
	a.t.Helper()
	// Decoding appends to slices; start from zero so reused values do not
	// carry the previous answer.
	reflect.ValueOf(v).Elem().SetZero()
	if err := xml.Unmarshal(w.Body.Bytes(), v); err != nil {
		a.t.Fatalf("decode %T: %v\n%s", v, err, w.Body.String())
	}
}

// create starts an upload and returns its id.
func (a *apiHarness) create(bucket, key string, hdr ...string) string {
	a.t.Helper()
	var res initiateMultipartUploadResult
	a.decode(a.ok(200, "POST", "/"+bucket+"/"+key+"?uploads", nil, hdr...), &res)
	if k, _ := url.PathUnescape(key); res.UploadID == "" || res.Bucket != bucket || res.Key != k {
		a.t.Fatalf("initiate: %+v", res)
	}
	return res.UploadID
}

// part uploads one part and returns its quoted ETag.
func (a *apiHarness) part(bucket, key, id string, n int, body []byte) string {
	a.t.Helper()
	w := a.ok(200, "PUT", fmt.Sprintf("/%s/%s?partNumber=%d&uploadId=%s", bucket, key, n, id), body)
	sum := md5.Sum(body)
	if want := `"` + hex.EncodeToString(sum[:]) + `"`; etagOf(w.Header()) != want {
		a.t.Fatalf("part %d ETag %q, want %q", n, etagOf(w.Header()), want)
	}
	return etagOf(w.Header())
}

// etagOf reads the ETag header whether it was set under its canonical
// name or as S3 spells it.
func etagOf(h http.Header) string {
	if v, ok := map[string][]string(h)["ETag"]; ok {
		return v[0]
	}
	return h.Get("Etag")
}

func completeBody(parts ...any) []byte {
	var b strings.Builder
	b.WriteString("<CompleteMultipartUpload>")
	for i := 0; i+1 < len(parts); i += 2 {
		fmt.Fprintf(&b, "<Part><PartNumber>%v</PartNumber><ETag>%s</ETag></Part>", parts[i], parts[i+1])
	}
	b.WriteString("</CompleteMultipartUpload>")
	return []byte(b.String())
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// multipartETag is S3's ETag of a multipart object: the MD5 of the parts'
// binary MD5s, a dash, the number of parts.
func multipartETag(parts ...[]byte) string {
	var sums []byte
	for _, p := range parts {
		s := md5.Sum(p)
		sums = append(sums, s[:]...)
	}
	s := md5.Sum(sums)
	return fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(s[:]), len(parts))
}

func TestMultipartRoundTrip(t *testing.T) {
	a := newAPIHarness(t)
	a.ok(200, "PUT", "/mpb", nil)
	id := a.create("mpb", "dir/obj",
		"Content-Type", "text/x-parts", "Cache-Control", "no-cache",
		"X-Amz-Meta-Who", "test", "X-Amz-Tagging", "a=1&b=two")
	p1, p2 := randomBytes(5<<20), randomBytes(1234)
	e1 := a.part("mpb", "dir/obj", id, 1, p1)
	// A part uploaded again replaces the earlier one.
	a.part("mpb", "dir/obj", id, 2, []byte("replaced"))
	e2 := a.part("mpb", "dir/obj", id, 2, p2)

	var lp listPartsResult
	a.decode(a.ok(200, "GET", "/mpb/dir/obj?uploadId="+id, nil), &lp)
	if lp.UploadID != id || len(lp.Parts) != 2 || lp.Parts[0].ETag != e1 || lp.Parts[1].Size != 1234 || lp.IsTruncated || lp.StorageClass != "STANDARD" || lp.Initiator.ID == "" {
		t.Fatalf("list parts: %+v", lp)
	}
	a.decode(a.ok(200, "GET", "/mpb/dir/obj?uploadId="+id+"&max-parts=1", nil), &lp)
	if len(lp.Parts) != 1 || !lp.IsTruncated || lp.NextPartNumberMarker != 1 || lp.MaxParts != 1 {
		t.Fatalf("list parts page 1: %+v", lp)
	}
	a.decode(a.ok(200, "GET", "/mpb/dir/obj?uploadId="+id+"&max-parts=1&part-number-marker=1", nil), &lp)
	if len(lp.Parts) != 1 || lp.Parts[0].PartNumber != 2 || lp.IsTruncated || lp.PartNumberMarker != 1 {
		t.Fatalf("list parts page 2: %+v", lp)
	}

	var lu listMultipartUploadsResult
	a.decode(a.ok(200, "GET", "/mpb?uploads", nil), &lu)
	if len(lu.Uploads) != 1 || lu.Uploads[0].Key != "dir/obj" || lu.Uploads[0].UploadID != id || lu.MaxUploads != 1000 {
		t.Fatalf("list uploads: %+v", lu)
	}

	var done completeMultipartUploadResult
	a.decode(a.ok(200, "POST", "/mpb/dir/obj?uploadId="+id, completeBody(1, e1, 2, e2)), &done)
	want := multipartETag(p1, p2)
	if done.ETag != want || done.Bucket != "mpb" || done.Key != "dir/obj" || done.Location != "http://s3.test/mpb/dir/obj" {
		t.Fatalf("complete: %+v, want ETag %s", done, want)
	}
	// The upload is gone.
	a.fails(404, "NoSuchUpload", "GET", "/mpb/dir/obj?uploadId="+id, nil)
	a.decode(a.ok(200, "GET", "/mpb?uploads", nil), &lu)
	if len(lu.Uploads) != 0 {
		t.Fatalf("uploads left after complete: %+v", lu.Uploads)
	}

	w := a.ok(200, "GET", "/mpb/dir/obj", nil)
	if !bytes.Equal(w.Body.Bytes(), append(append([]byte{}, p1...), p2...)) {
		t.Fatal("object bytes differ from the parts")
	}
	h := w.Header()
	// User metadata goes out in lower case, as S3 sends it.
	who := map[string][]string(h)["X-Amz-Meta-who"]
	if len(who) != 1 || etagOf(h) != want || h.Get("Content-Type") != "text/x-parts" || h.Get("Cache-Control") != "no-cache" ||
		who[0] != "test" || h.Get("X-Amz-Tagging-Count") != "2" || h.Get("X-Amz-Mp-Parts-Count") != "" {
		t.Fatalf("GET headers: %v", h)
	}

	// partNumber selects one part: 206 with its span, and the part count.
	w = a.ok(206, "GET", "/mpb/dir/obj?partNumber=2", nil)
	if !bytes.Equal(w.Body.Bytes(), p2) || w.Header().Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", 5<<20, 5<<20+1233, 5<<20+1234) ||
		w.Header().Get("X-Amz-Mp-Parts-Count") != "2" || w.Header().Get("Content-Length") != "1234" {
		t.Fatalf("GET partNumber=2: %d bytes, %v", w.Body.Len(), w.Header())
	}
	w = a.ok(206, "HEAD", "/mpb/dir/obj?partNumber=1", nil)
	if w.Header().Get("Content-Length") != fmt.Sprint(5<<20) || w.Header().Get("X-Amz-Mp-Parts-Count") != "2" || w.Body.Len() != 0 {
		t.Fatalf("HEAD partNumber=1: %v", w.Header())
	}
	a.fails(416, "InvalidPartNumber", "GET", "/mpb/dir/obj?partNumber=3", nil)
	a.fails(400, "InvalidRequest", "GET", "/mpb/dir/obj?partNumber=1", nil, "Range", "bytes=0-1")
	a.fails(400, "InvalidArgument", "GET", "/mpb/dir/obj?partNumber=0", nil)
	a.fails(400, "InvalidArgument", "GET", "/mpb/dir/obj?partNumber=10001", nil)
}

func TestMultipartErrors(t *testing.T) {
	a := newAPIHarness(t)
	a.ok(200, "PUT", "/mpb", nil)
	small, big := []byte("small part"), randomBytes(5<<20)
	id := a.create("mpb", "k")
	eSmall := a.part("mpb", "k", id, 1, small)
	eBig := a.part("mpb", "k", id, 2, big)
	a.part("mpb", "k", id, 3, small)
	complete := "/mpb/k?uploadId=" + id
	bogus := strings.Repeat("0", 32)

	tests := []struct {
		name, method, target string
		body                 []byte
		hdr                  []string
		status               int
		code                 string
	}{
		{"part 0", "PUT", "/mpb/k?partNumber=0&uploadId=" + id, small, nil, 400, "InvalidArgument"},
		{"part 10001", "PUT", "/mpb/k?partNumber=10001&uploadId=" + id, small, nil, 400, "InvalidArgument"},
		{"part not a number", "PUT", "/mpb/k?partNumber=x&uploadId=" + id, small, nil, 400, "InvalidArgument"},
		{"part without number", "PUT", "/mpb/k?uploadId=" + id, small, nil, 400, "InvalidArgument"},
		{"part of unknown upload", "PUT", "/mpb/k?partNumber=1&uploadId=" + bogus, small, nil, 404, "NoSuchUpload"},
		{"part of malformed upload id", "PUT", "/mpb/k?partNumber=1&uploadId=nope", small, nil, 404, "NoSuchUpload"},
		{"part of another key's upload", "PUT", "/mpb/other?partNumber=1&uploadId=" + id, small, nil, 404, "NoSuchUpload"},
		{"part with bad Content-MD5", "PUT", "/mpb/k?partNumber=4&uploadId=" + id, small, []string{"Content-Md5", "AAAAAAAAAAAAAAAAAAAAAA=="}, 400, "BadDigest"},
		{"part with invalid Content-MD5", "PUT", "/mpb/k?partNumber=4&uploadId=" + id, small, []string{"Content-Md5", "nope"}, 400, "InvalidDigest"},
		{"part in no bucket", "PUT", "/nobucket/k?partNumber=1&uploadId=" + id, small, nil, 404, "NoSuchBucket"},
		{"complete too small", "POST", complete, completeBody(1, eSmall, 2, eBig), nil, 400, "EntityTooSmall"},
		{"complete unknown part", "POST", complete, completeBody(2, eBig, 7, eSmall), nil, 400, "InvalidPart"},
		{"complete wrong ETag", "POST", complete, completeBody(2, eSmall), nil, 400, "InvalidPart"},
		{"complete descending", "POST", complete, completeBody(2, eBig, 1, eSmall), nil, 400, "InvalidPartOrder"},
		{"complete repeated part", "POST", complete, completeBody(2, eBig, 2, eBig), nil, 400, "InvalidPartOrder"},
		{"complete part 0", "POST", complete, completeBody(0, eBig), nil, 400, "InvalidArgument"},
		{"complete part 10001", "POST", complete, completeBody(10001, eBig), nil, 400, "InvalidArgument"},
		{"complete no parts", "POST", complete, completeBody(), nil, 400, "MalformedXML"},
		{"complete not XML", "POST", complete, []byte("parts please"), nil, 400, "MalformedXML"},
		{"complete part number not a number", "POST", complete, completeBody("two", eBig), nil, 400, "MalformedXML"},
		{"complete unknown upload", "POST", "/mpb/k?uploadId=" + bogus, completeBody(2, eBig), nil, 404, "NoSuchUpload"},
		{"complete If-Match on absent key", "POST", complete, completeBody(2, eBig), []string{"If-Match", `"abc"`}, 412, "PreconditionFailed"},
		{"abort unknown upload", "DELETE", "/mpb/k?uploadId=" + bogus, nil, nil, 404, "NoSuchUpload"},
		{"list parts of unknown upload", "GET", "/mpb/k?uploadId=" + bogus, nil, nil, 404, "NoSuchUpload"},
		{"list parts bad max-parts", "GET", "/mpb/k?uploadId=" + id + "&max-parts=-1", nil, nil, 400, "InvalidArgument"},
		{"list uploads bad max-uploads", "GET", "/mpb?uploads&max-uploads=x", nil, nil, 400, "InvalidArgument"},
		{"list uploads bad encoding", "GET", "/mpb?uploads&encoding-type=base64", nil, nil, 400, "InvalidArgument"},
		{"list uploads no bucket", "GET", "/nobucket?uploads", nil, nil, 404, "NoSuchBucket"},
		{"create in no bucket", "POST", "/nobucket/k?uploads", nil, nil, 404, "NoSuchBucket"},
		{"create with too many tags", "POST", "/mpb/k?uploads", nil, []string{"X-Amz-Tagging", "a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9&j=10&k=11"}, 400, "BadRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a.t = t
			a.fails(tt.status, tt.code, tt.method, tt.target, tt.body, tt.hdr...)
		})
	}
	a.t = t

	// Failed completes left the upload whole: it still completes, the
	// small last part is allowed, and the unnamed part 1 is dropped.
	a.ok(200, "POST", complete, completeBody(2, eBig, 3, `"`+strings.Trim(eSmall, `"`)+`"`))
	w := a.ok(200, "GET", "/mpb/k", nil)
	if !bytes.Equal(w.Body.Bytes(), append(append([]byte{}, big...), small...)) {
		t.Fatal("completed object has the wrong bytes")
	}

	// Conditional completes against the existing key.
	id2 := a.create("mpb", "k")
	e := a.part("mpb", "k", id2, 1, small)
	a.fails(412, "PreconditionFailed", "POST", "/mpb/k?uploadId="+id2, completeBody(1, e), "If-None-Match", "*")
	a.fails(412, "PreconditionFailed", "POST", "/mpb/k?uploadId="+id2, completeBody(1, e), "If-Match", `"0123"`)
	cur := etagOf(a.ok(200, "HEAD", "/mpb/k", nil).Header())
	a.ok(200, "POST", "/mpb/k?uploadId="+id2, completeBody(1, e), "If-Match", cur)

	// Abort answers 204 and the upload is gone.
	id3 := a.create("mpb", "k")
	a.part("mpb", "k", id3, 1, small)
	a.ok(204, "DELETE", "/mpb/k?uploadId="+id3, nil)
	a.fails(404, "NoSuchUpload", "PUT", "/mpb/k?partNumber=1&uploadId="+id3, small)
}

func TestUploadPartCopy(t *testing.T) {
	a := newAPIHarness(t)
	a.ok(200, "PUT", "/mpb", nil)
	src := randomBytes(6 << 20)
	srcETag := etagOf(a.ok(200, "PUT", "/mpb/src", src).Header())
	id := a.create("mpb", "dst")
	target := "/mpb/dst?partNumber=1&uploadId=" + id

	var cp copyPartResult
	a.decode(a.ok(200, "PUT", target, nil, "X-Amz-Copy-Source", "/mpb/src", "X-Amz-Copy-Source-If-Match", srcETag), &cp)
	if cp.ETag != srcETag || cp.LastModified == "" {
		t.Fatalf("copy part: %+v", cp)
	}
	target2 := "/mpb/dst?partNumber=2&uploadId=" + id
	a.decode(a.ok(200, "PUT", target2, nil, "X-Amz-Copy-Source", "mpb/src", "X-Amz-Copy-Source-Range", "bytes=10-19"), &cp)
	sum := md5.Sum(src[10:20])
	if cp.ETag != `"`+hex.EncodeToString(sum[:])+`"` {
		t.Fatalf("ranged copy part ETag %s", cp.ETag)
	}

	a.fails(412, "PreconditionFailed", "PUT", target2, nil, "X-Amz-Copy-Source", "/mpb/src", "X-Amz-Copy-Source-If-None-Match", srcETag)
	a.fails(412, "PreconditionFailed", "PUT", target2, nil, "X-Amz-Copy-Source", "/mpb/src", "X-Amz-Copy-Source-If-Match", `"other"`)
	a.fails(400, "InvalidArgument", "PUT", target2, nil, "X-Amz-Copy-Source", "/mpb/src", "X-Amz-Copy-Source-Range", "bytes=10-")
	a.fails(400, "InvalidArgument", "PUT", target2, nil, "X-Amz-Copy-Source", "/mpb/src", "X-Amz-Copy-Source-Range", "bytes=9-3")
	a.fails(400, "InvalidArgument", "PUT", target2, nil, "X-Amz-Copy-Source", "/mpb/src", "X-Amz-Copy-Source-Range", fmt.Sprintf("bytes=%d-%d", 6<<20, 6<<20+5))
	a.fails(404, "NoSuchKey", "PUT", target2, nil, "X-Amz-Copy-Source", "/mpb/missing")
	a.fails(404, "NoSuchUpload", "PUT", "/mpb/dst?partNumber=1&uploadId="+strings.Repeat("a", 32), nil, "X-Amz-Copy-Source", "/mpb/src")
	a.fails(400, "InvalidArgument", "PUT", "/mpb/dst?partNumber=0&uploadId="+id, nil, "X-Amz-Copy-Source", "/mpb/src")

	var done completeMultipartUploadResult
	a.decode(a.ok(200, "POST", "/mpb/dst?uploadId="+id, completeBody(1, cp0(srcETag), 2, cp.ETag)), &done)
	if done.ETag != multipartETag(src, src[10:20]) {
		t.Fatalf("complete ETag %s", done.ETag)
	}
	got := a.ok(200, "GET", "/mpb/dst", nil).Body.Bytes()
	if !bytes.Equal(got, append(append([]byte{}, src...), src[10:20]...)) {
		t.Fatal("copied object has the wrong bytes")
	}
}

// cp0 returns an ETag as clients may send it in a Complete body: unquoted.
func cp0(etag string) string { return strings.Trim(etag, `"`) }

func TestListMultipartUploadsPaging(t *testing.T) {
	a := newAPIHarness(t)
	a.ok(200, "PUT", "/mpb", nil)
	ids := map[string]string{}
	for _, k := range []string{"a/1", "a/2", "b", "c d", "c d"} {
		ids[k] = a.create("mpb", strings.ReplaceAll(k, " ", "%20"))
	}
	var lu listMultipartUploadsResult
	a.decode(a.ok(200, "GET", "/mpb?uploads&delimiter=/", nil), &lu)
	if len(lu.CommonPrefixes) != 1 || lu.CommonPrefixes[0].Prefix != "a/" || len(lu.Uploads) != 3 || lu.Delimiter != "/" {
		t.Fatalf("delimited: %+v", lu)
	}
	a.decode(a.ok(200, "GET", "/mpb?uploads&max-uploads=2", nil), &lu)
	if len(lu.Uploads) != 2 || !lu.IsTruncated || lu.NextKeyMarker != "a/2" || lu.NextUploadIDMarker != ids["a/2"] {
		t.Fatalf("page 1: %+v", lu)
	}
	a.decode(a.ok(200, "GET", "/mpb?uploads&max-uploads=2&key-marker=a/2&upload-id-marker="+lu.NextUploadIDMarker, nil), &lu)
	if len(lu.Uploads) != 2 || lu.Uploads[0].Key != "b" || lu.Uploads[1].Key != "c d" || !lu.IsTruncated || lu.KeyMarker != "a/2" {
		t.Fatalf("page 2: %+v", lu)
	}
	a.decode(a.ok(200, "GET", "/mpb?uploads&key-marker=c%20d&upload-id-marker="+lu.NextUploadIDMarker+"&encoding-type=url", nil), &lu)
	if len(lu.Uploads) != 1 || lu.Uploads[0].Key != "c+d" || lu.IsTruncated || lu.EncodingType != "url" || lu.KeyMarker != "c+d" {
		t.Fatalf("page 3: %+v", lu)
	}
	a.decode(a.ok(200, "GET", "/mpb?uploads&prefix=a/", nil), &lu)
	if len(lu.Uploads) != 2 || lu.Prefix != "a/" {
		t.Fatalf("prefix: %+v", lu)
	}
	a.decode(a.ok(200, "GET", "/mpb?uploads&max-uploads=0", nil), &lu)
	if len(lu.Uploads) != 0 || lu.MaxUploads != 0 {
		t.Fatalf("max-uploads=0: %+v", lu)
	}
}

// TestUnroutedSubresources checks that the server never answers a
// subresource it does not implement as if it were a plain request, and that
// versioning is reported honestly.
func TestUnroutedSubresources(t *testing.T) {
	a := newAPIHarness(t)
	a.ok(200, "PUT", "/vbk", nil)
	a.ok(200, "PUT", "/vbk/k", []byte("x"))
	for _, target := range []string{"/vbk?cors", "/vbk?lifecycle", "/vbk?tagging", "/vbk?encryption", "/vbk/k?retention", "/vbk/k?legal-hold", "/vbk/k?torrent", "/vbk?versions"} {
		a.fails(501, "NotImplemented", "GET", target, nil)
	}
	a.fails(501, "NotImplemented", "PUT", "/vbk?lifecycle", []byte("<LifecycleConfiguration/>"))
	a.fails(501, "NotImplemented", "POST", "/vbk/k?restore", nil)

	var v versioningConfiguration
	w := a.ok(200, "GET", "/vbk?versioning", nil)
	a.decode(w, &v)
	if v.Status != "" || v.MfaDelete != "" || strings.Contains(w.Body.String(), "<Status>") {
		t.Fatalf("versioning of a new bucket: %s", w.Body.String())
	}
	a.fails(501, "NotImplemented", "PUT", "/vbk?versioning", []byte(`<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>`))
	a.decode(a.ok(200, "GET", "/vbk?versioning", nil), &v)
	if v.Status != "" {
		t.Fatalf("versioning after a refused enable: %+v", v)
	}
}

// The ETag check in a Complete body must not depend on how the client
// quoted it; the test above sends both forms, this one pins the reader.
func TestCompleteBodyShapes(t *testing.T) {
	var doc completeMultipartUpload
	body := `<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Part><ChecksumCRC32>AAAAAA==</ChecksumCRC32><ETag>&quot;abc&quot;</ETag><PartNumber>1</PartNumber></Part>
  <Part><PartNumber> 2 </PartNumber><ETag>def</ETag></Part>
</CompleteMultipartUpload>`
	if err := decodeXML(io.NopCloser(strings.NewReader(body)), maxCompleteBody, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Parts) != 2 || doc.Parts[0].PartNumber != "1" || trimETag(doc.Parts[0].ETag) != "abc" || trimETag(doc.Parts[1].ETag) != "def" {
		t.Fatalf("%+v", doc)
	}
}
