package auth

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	testAK     = "AKIAIOSFODNN7EXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// exampleTime is the date of AWS's published SigV4 examples for S3.
var exampleTime = time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)

func newTestVerifier(now time.Time) *Verifier {
	keys := NewKeyring(Credential{AccessKey: "root", SecretKey: "rootsecret"},
		Credential{AccessKey: testAK, SecretKey: testSecret, DisplayName: "example"})
	v := NewVerifier(keys)
	v.Now = func() time.Time { return now }
	return v
}

// wire sends req through its wire form and parses it as a server would,
// so the verifier sees RequestURI, Host and headers exactly as net/http
// delivers them.
func wire(t testing.TB, req *http.Request) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	if err := req.Write(&buf); err != nil {
		t.Fatal(err)
	}
	r, err := http.ReadRequest(bufio.NewReader(&buf))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// rawRequest parses a request written out as text (CRLF added).
func rawRequest(t testing.TB, text string, body []byte) *http.Request {
	t.Helper()
	text = strings.ReplaceAll(strings.TrimLeft(text, "\n"), "\n", "\r\n") + "\r\n"
	r, err := http.ReadRequest(bufio.NewReader(io.MultiReader(strings.NewReader(text), bytes.NewReader(body))))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func codeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err != nil {
		return "non-auth error: " + err.Error()
	}
	return ""
}

// readAll reads the body and returns the error the final Read gave, or nil
// on a clean io.EOF.
func readAll(r io.Reader) ([]byte, error) {
	var out []byte
	buf := make([]byte, 777) // odd size, so reads straddle chunk edges
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// AWS's published "Examples of signature calculations" for S3 (header form).
func TestAWSExamples(t *testing.T) {
	v := newTestVerifier(exampleTime)
	tests := []struct {
		name string
		text string
		body string
	}{
		{"GET object with Range", `
GET /test.txt HTTP/1.1
Host: examplebucket.s3.amazonaws.com
Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41
Range: bytes=0-9
x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
x-amz-date: 20130524T000000Z
`, ""},
		{"PUT object", `
PUT /test%24file.text HTTP/1.1
Host: examplebucket.s3.amazonaws.com
Date: Fri, 24 May 2013 00:00:00 GMT
Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd
x-amz-date: 20130524T000000Z
x-amz-storage-class: REDUCED_REDUNDANCY
x-amz-content-sha256: 44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072
Content-Length: 21
`, "Welcome to Amazon S3."},
		{"GET bucket lifecycle", `
GET /?lifecycle HTTP/1.1
Host: examplebucket.s3.amazonaws.com
Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543
x-amz-date: 20130524T000000Z
x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
`, ""},
		{"GET bucket (list objects)", `
GET /?max-keys=2&prefix=J HTTP/1.1
Host: examplebucket.s3.amazonaws.com
Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7
x-amz-date: 20130524T000000Z
x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
`, ""},
		{"presigned GET", `
GET /test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404 HTTP/1.1
Host: examplebucket.s3.amazonaws.com
`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rawRequest(t, tt.text, []byte(tt.body))
			id, err := v.Authenticate(r)
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if id.Anonymous || id.Credential.AccessKey != testAK || id.Region != "us-east-1" {
				t.Fatalf("identity = %+v", id)
			}
			got, err := readAll(r.Body)
			if err != nil || string(got) != tt.body {
				t.Fatalf("body = %q, %v", got, err)
			}
		})
	}

	t.Run("PUT object with another body", func(t *testing.T) {
		r := rawRequest(t, tests[1].text, []byte("Welcome to Amazon S4."))
		if _, err := v.Authenticate(r); err != nil {
			t.Fatal(err)
		}
		if _, err := readAll(r.Body); codeOf(err) != "XAmzContentSHA256Mismatch" {
			t.Fatalf("final read error = %v, want XAmzContentSHA256Mismatch", err)
		}
	})
}

// sdkSign signs req the way aws-sdk-go-v2's S3 client does (no second
// escaping of the path, x-amz-content-sha256 sent).
func sdkSign(t testing.TB, req *http.Request, payloadHash string, at time.Time) {
	t.Helper()
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	err := v4.NewSigner().SignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: testAK, SecretAccessKey: testSecret},
		req, payloadHash, "s3", "eu-west-3", at,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err != nil {
		t.Fatal(err)
	}
}

func sdkPresign(t testing.TB, req *http.Request, expires time.Duration, at time.Time) *http.Request {
	t.Helper()
	q := req.URL.Query()
	q.Set("X-Amz-Expires", strconv.Itoa(int(expires/time.Second)))
	req.URL.RawQuery = q.Encode()
	signedURL, hdr, err := v4.NewSigner().PresignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: testAK, SecretAccessKey: testSecret},
		req, unsignedPayload, "s3", "us-west-2", at,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err != nil {
		t.Fatal(err)
	}
	out, err := http.NewRequest(req.Method, signedURL, req.Body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		if k != "Host" {
			out.Header[k] = vs
		}
	}
	out.ContentLength = req.ContentLength
	return out
}

// s3Path encodes a key as the AWS SDKs do for S3: every byte but the
// unreserved ones and '/'.
func s3Path(bucket, key string) string {
	return "/" + bucket + "/" + uriEncode(key, false)
}

var sdkCases = []struct {
	name, method, key, query string
	body                     string
}{
	{"get plain", "GET", "photos/cat.jpg", "", ""},
	{"put body", "PUT", "docs/report.txt", "", "hello, world"},
	{"key with spaces", "PUT", "my key with  spaces.txt", "", "x"},
	{"unicode key", "GET", "dossier/été/日本語.txt", "", ""},
	{"plus in key", "PUT", "a+b+c", "", "plus"},
	{"double slash", "GET", "a//b", "", ""},
	{"dot segments", "PUT", "../x", "", "dots"},
	{"dot segments inside", "GET", "a/./b/../c", "", ""},
	{"odd query", "GET", "", "prefix=a b&delimiter=/&marker=%2B*~!'()&encoding-type=url&list-type=2", ""},
	{"subresource query", "GET", "obj", "tagging", ""},
	{"query unicode and empty", "GET", "", "prefix=日本&start-after=&max-keys=10", ""},
	{"delete", "DELETE", "gone.txt", "versionId=3%2F4", ""},
}

func newSDKRequest(t testing.TB, method, key, query, body string) *http.Request {
	t.Helper()
	u := &url.URL{Scheme: "http", Host: "127.0.0.1:9000"}
	u.Path = "/bucket/" + key
	u.RawPath = s3Path("bucket", key)
	if query != "" {
		vals := url.Values{}
		for _, kv := range strings.Split(query, "&") {
			k, v, _ := strings.Cut(kv, "=")
			k, _ = url.QueryUnescape(k)
			v, _ = url.QueryUnescape(v)
			vals.Add(k, v)
		}
		u.RawQuery = strings.ReplaceAll(vals.Encode(), "+", "%20")
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u.String(), rd)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestSDKHeaderSigned(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	v := newTestVerifier(now)
	for _, tc := range sdkCases {
		for _, unsigned := range []bool{false, true} {
			name := tc.name
			if unsigned {
				name += "/unsigned-payload"
			}
			t.Run(name, func(t *testing.T) {
				req := newSDKRequest(t, tc.method, tc.key, tc.query, tc.body)
				req.Header.Set("X-Amz-Meta-Color", "blue  and   green")
				hash := sha256Hex([]byte(tc.body))
				if unsigned {
					hash = unsignedPayload
				}
				sdkSign(t, req, hash, now.Add(-3*time.Minute))
				r := wire(t, req)
				id, err := v.Authenticate(r)
				if err != nil {
					t.Fatalf("Authenticate: %v\n%+v", err, err)
				}
				if id.Credential.AccessKey != testAK || id.Presigned || id.Anonymous {
					t.Fatalf("identity = %+v", id)
				}
				if id.ContentLength != int64(len(tc.body)) {
					t.Fatalf("ContentLength = %d, want %d", id.ContentLength, len(tc.body))
				}
				got, err := readAll(r.Body)
				if err != nil || string(got) != tc.body {
					t.Fatalf("body = %q, %v", got, err)
				}
			})
		}
	}
}

func TestSDKPresigned(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	v := newTestVerifier(now)
	for _, tc := range sdkCases {
		t.Run(tc.name, func(t *testing.T) {
			req := newSDKRequest(t, tc.method, tc.key, tc.query, tc.body)
			req = sdkPresign(t, req, time.Hour, now.Add(-30*time.Minute))
			r := wire(t, req)
			id, err := v.Authenticate(r)
			if err != nil {
				t.Fatalf("Authenticate: %v\n%+v", err, err)
			}
			if !id.Presigned || id.Credential.AccessKey != testAK || id.Region != "us-west-2" {
				t.Fatalf("identity = %+v", id)
			}
			got, err := readAll(r.Body)
			if err != nil || string(got) != tc.body {
				t.Fatalf("body = %q, %v", got, err)
			}
		})
	}
}

// Tampering with any signed part of a header-signed request is caught with
// the code S3 gives.
func TestHeaderTamper(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	v := newTestVerifier(now)
	body := "the original body"
	sign := func(t *testing.T) *http.Request {
		req := newSDKRequest(t, "PUT", "dir/key one", "tagging=", body)
		req.Header.Set("X-Amz-Meta-A", "1")
		sdkSign(t, req, sha256Hex([]byte(body)), now)
		return wire(t, req)
	}
	tests := []struct {
		name    string
		tamper  func(r *http.Request)
		code    string // from Authenticate
		endCode string // from the final Read, when Authenticate succeeds
	}{
		{"untouched", func(r *http.Request) {}, "", ""},
		{"method", func(r *http.Request) { r.Method = "POST" }, "SignatureDoesNotMatch", ""},
		{"path", func(r *http.Request) { r.RequestURI = strings.Replace(r.RequestURI, "key", "kez", 1) }, "SignatureDoesNotMatch", ""},
		{"query", func(r *http.Request) { r.URL.RawQuery += "&acl" }, "SignatureDoesNotMatch", ""},
		{"host", func(r *http.Request) { r.Host = "evil.example" }, "SignatureDoesNotMatch", ""},
		{"signed header value", func(r *http.Request) { r.Header.Set("X-Amz-Meta-A", "2") }, "SignatureDoesNotMatch", ""},
		{"unsigned x-amz header added", func(r *http.Request) { r.Header.Set("X-Amz-Acl", "public-read") }, "AccessDenied", ""},
		{"unsigned other header added", func(r *http.Request) { r.Header.Set("Accept", "text/plain") }, "", ""},
		{"body", func(r *http.Request) { r.Body = io.NopCloser(strings.NewReader("the 0riginal body")) }, "", "XAmzContentSHA256Mismatch"},
		{"body shorter", func(r *http.Request) { r.Body = io.NopCloser(strings.NewReader("the")) }, "", "XAmzContentSHA256Mismatch"},
		{"payload hash", func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", sha256Hex([]byte("x"))) }, "SignatureDoesNotMatch", ""},
		{"payload hash malformed", func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", "abc") }, "InvalidArgument", ""},
		{"payload hash missing", func(r *http.Request) { r.Header.Del("X-Amz-Content-Sha256") }, "InvalidRequest", ""},
		{"signature", func(r *http.Request) {
			a := r.Header.Get("Authorization")
			last := a[len(a)-1]
			r.Header.Set("Authorization", a[:len(a)-1]+map[bool]string{true: "1", false: "0"}[last == '0'])
		}, "SignatureDoesNotMatch", ""},
		{"unknown key", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), testAK, "AKIANOBODY", 1))
		}, "InvalidAccessKeyId", ""},
		{"other secret's key", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), testAK, "root", 1))
		}, "SignatureDoesNotMatch", ""},
		{"service", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/s3/", "/ec2/", 1))
		}, "AuthorizationHeaderMalformed", ""},
		{"scope date", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/20260301/", "/20260302/", 1))
		}, "AuthorizationHeaderMalformed", ""},
		{"region", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/eu-west-3/", "/us-east-1/", 1))
		}, "SignatureDoesNotMatch", ""},
		{"date", func(r *http.Request) { r.Header.Set("X-Amz-Date", "20260301T120001Z") }, "SignatureDoesNotMatch", ""},
		{"date malformed", func(r *http.Request) { r.Header.Set("X-Amz-Date", "yesterday") }, "AccessDenied", ""},
		{"no date", func(r *http.Request) { r.Header.Del("X-Amz-Date") }, "AccessDenied", ""},
		{"sigv2", func(r *http.Request) { r.Header.Set("Authorization", "AWS "+testAK+":c2lnbmF0dXJl") }, "InvalidRequest", ""},
		{"sigv4a", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256", 1))
		}, "InvalidRequest", ""},
		{"garbage", func(r *http.Request) { r.Header.Set("Authorization", "garbage") }, "AuthorizationHeaderMalformed", ""},
		{"host not signed", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "SignedHeaders=content-length;host;", "SignedHeaders=content-length;", 1))
		}, "AuthorizationHeaderMalformed", ""},
		{"both header and query", func(r *http.Request) { r.URL.RawQuery += "&X-Amz-Algorithm=AWS4-HMAC-SHA256" }, "InvalidArgument", ""},
		{"bad content-md5", func(r *http.Request) { r.Header.Set("Content-Md5", "nope") }, "InvalidDigest", ""},
		{"wrong content-md5", func(r *http.Request) { r.Header.Set("Content-Md5", "1B2M2Y8AsgTpgAmY7PhCfg==") }, "", "BadDigest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sign(t)
			tt.tamper(r)
			_, err := v.Authenticate(r)
			if codeOf(err) != tt.code {
				t.Fatalf("Authenticate error = %v, want code %q", err, tt.code)
			}
			if err != nil {
				return
			}
			got, err := readAll(r.Body)
			if codeOf(err) != tt.endCode {
				t.Fatalf("final read error = %v, want code %q", err, tt.endCode)
			}
			if err == nil && string(got) != body {
				t.Fatalf("body = %q", got)
			}
		})
	}
}

func TestSignatureDoesNotMatchCarriesCanonicalRequest(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	v := newTestVerifier(now)
	req := newSDKRequest(t, "GET", "k", "", "")
	sdkSign(t, req, emptySHA256, now)
	r := wire(t, req)
	r.Method = "HEAD"
	_, err := v.Authenticate(r)
	var e *Error
	if !errors.As(err, &e) || e.Code != "SignatureDoesNotMatch" {
		t.Fatalf("err = %v", err)
	}
	if !strings.HasPrefix(e.CanonicalRequest, "HEAD\n/bucket/k\n\n") || !strings.HasPrefix(e.StringToSign, "AWS4-HMAC-SHA256\n20260301T120000Z\n20260301/eu-west-3/s3/aws4_request\n") {
		t.Fatalf("canonical request %q, string to sign %q", e.CanonicalRequest, e.StringToSign)
	}
	if e.AccessKeyID != testAK || e.SignatureProvided == "" || e.Status != http.StatusForbidden {
		t.Fatalf("error = %+v", e)
	}
}

func TestSkew(t *testing.T) {
	signedAt := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		offset time.Duration
		code   string
	}{
		{0, ""},
		{15 * time.Minute, ""},
		{-15 * time.Minute, ""},
		{15*time.Minute + time.Second, "RequestTimeTooSkewed"},
		{-15*time.Minute - time.Second, "RequestTimeTooSkewed"},
		{24 * time.Hour, "RequestTimeTooSkewed"},
	} {
		t.Run(tt.offset.String(), func(t *testing.T) {
			v := newTestVerifier(signedAt.Add(tt.offset))
			req := newSDKRequest(t, "GET", "k", "", "")
			sdkSign(t, req, emptySHA256, signedAt)
			_, err := v.Authenticate(wire(t, req))
			if codeOf(err) != tt.code {
				t.Fatalf("err = %v, want %q", err, tt.code)
			}
			var e *Error
			if errors.As(err, &e) && (e.RequestTime == "" || e.ServerTime == "" || e.MaxAllowedSkewMs != 900000) {
				t.Fatalf("skew error lacks its times: %+v", e)
			}
		})
	}
}

func TestPresignedErrors(t *testing.T) {
	signedAt := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	presign := func(t *testing.T, expires time.Duration) *http.Request {
		req := newSDKRequest(t, "GET", "k", "", "")
		return sdkPresign(t, req, expires, signedAt)
	}
	setQuery := func(r *http.Request, name, value string) {
		q := r.URL.Query()
		q.Set(name, value)
		r.URL.RawQuery = q.Encode()
	}
	tests := []struct {
		name    string
		expires time.Duration
		now     time.Time
		tamper  func(r *http.Request)
		code    string
	}{
		{"valid", time.Hour, signedAt.Add(59 * time.Minute), nil, ""},
		{"valid for 7 days", 7 * 24 * time.Hour, signedAt.Add(7*24*time.Hour - time.Second), nil, ""},
		{"expired", time.Hour, signedAt.Add(time.Hour + time.Second), nil, "AccessDenied"},
		{"not yet valid", time.Hour, signedAt.Add(-time.Hour), nil, "AccessDenied"},
		{"expires over 7 days", 7*24*time.Hour + time.Second, signedAt, nil, "AuthorizationQueryParametersError"},
		{"expires not a number", time.Hour, signedAt, func(r *http.Request) { setQuery(r, "X-Amz-Expires", "soon") }, "AuthorizationQueryParametersError"},
		{"expires zero", time.Hour, signedAt, func(r *http.Request) { setQuery(r, "X-Amz-Expires", "0") }, "AuthorizationQueryParametersError"},
		{"expires changed", time.Hour, signedAt, func(r *http.Request) { setQuery(r, "X-Amz-Expires", "7200") }, "SignatureDoesNotMatch"},
		{"algorithm", time.Hour, signedAt, func(r *http.Request) { setQuery(r, "X-Amz-Algorithm", "AWS4-HMAC-SHA1") }, "AuthorizationQueryParametersError"},
		{"missing signature", time.Hour, signedAt, func(r *http.Request) {
			q := r.URL.Query()
			q.Del("X-Amz-Signature")
			r.URL.RawQuery = q.Encode()
		}, "AuthorizationQueryParametersError"},
		{"bad credential", time.Hour, signedAt, func(r *http.Request) { setQuery(r, "X-Amz-Credential", "nope") }, "AuthorizationQueryParametersError"},
		{"unknown key", time.Hour, signedAt, func(r *http.Request) {
			setQuery(r, "X-Amz-Credential", "AKIANOBODY/20260301/us-west-2/s3/aws4_request")
		}, "InvalidAccessKeyId"},
		{"bad date", time.Hour, signedAt, func(r *http.Request) { setQuery(r, "X-Amz-Date", "2026-03-01") }, "AuthorizationQueryParametersError"},
		{"date changed", time.Hour, signedAt, func(r *http.Request) { setQuery(r, "X-Amz-Date", "20260301T120500Z") }, "SignatureDoesNotMatch"},
		{"extra query parameter", time.Hour, signedAt, func(r *http.Request) { r.URL.RawQuery += "&acl" }, "SignatureDoesNotMatch"},
		{"path", time.Hour, signedAt, func(r *http.Request) { r.RequestURI = strings.Replace(r.RequestURI, "/k?", "/j?", 1) }, "SignatureDoesNotMatch"},
		{"unsigned x-amz header", time.Hour, signedAt, func(r *http.Request) { r.Header.Set("X-Amz-Acl", "public-read") }, "AccessDenied"},
		{"streaming payload", time.Hour, signedAt, func(r *http.Request) { setQuery(r, "X-Amz-Content-Sha256", streamingSigned) }, "InvalidRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := wire(t, presign(t, tt.expires))
			if tt.tamper != nil {
				tt.tamper(r)
				if r.RequestURI != "" && !strings.Contains(tt.name, "path") {
					r.RequestURI = r.URL.RequestURI()
				}
			}
			_, err := newTestVerifier(tt.now).Authenticate(r)
			if codeOf(err) != tt.code {
				t.Fatalf("err = %v, want %q", err, tt.code)
			}
			var e *Error
			if errors.As(err, &e) && tt.name == "expired" && (!strings.Contains(e.Message, "Request has expired") || e.Expires == "") {
				t.Fatalf("expired error = %+v", e)
			}
		})
	}
}

func TestAnonymous(t *testing.T) {
	v := newTestVerifier(time.Now())
	for _, target := range []string{"/bucket/key", "/bucket/key?X-Amz-Signature=abc", "/bucket/?list-type=2"} {
		r := rawRequest(t, "GET "+target+" HTTP/1.1\nHost: h\n", nil)
		id, err := v.Authenticate(r)
		if err != nil || !id.Anonymous || id.Body != nil {
			t.Fatalf("%s: %+v, %v", target, id, err)
		}
	}
	r := rawRequest(t, "GET /b/k?X-Amz-Credential=x HTTP/1.1\nHost: h\n", nil)
	if _, err := v.Authenticate(r); codeOf(err) != "AuthorizationQueryParametersError" {
		t.Fatalf("a partial presigned query must not pass as anonymous: %v", err)
	}
}

func TestSigningKeyCached(t *testing.T) {
	v := newTestVerifier(time.Now())
	a := v.signingKey(testSecret, "20130524", "us-east-1")
	b := v.signingKey(testSecret, "20130524", "us-east-1")
	if &a[0] != &b[0] {
		t.Fatal("second derivation did not come from the cache")
	}
	// The example signing key of AWS's SigV4 documentation for S3.
	if got := hex.EncodeToString(v.signingKey(testSecret, "20130524", "us-east-1")); got != "dbb893acc010964918f1fd433add87c70e8b0db6be30c1fbeafefa5ec6ba8378" {
		t.Fatalf("signing key %s", got)
	}
	if c := v.signingKey("other", "20130524", "us-east-1"); bytes.Equal(c, a) {
		t.Fatal("another secret gave the same key")
	}
}

func BenchmarkAuthenticateHeader(b *testing.B) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	v := newTestVerifier(now)
	req := newSDKRequest(b, "GET", "photos/2026/cat picture.jpg", "versionId=7", "")
	req.Header.Set("Range", "bytes=0-1023")
	sdkSign(b, req, emptySHA256, now)
	r := wire(b, req)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := v.Authenticate(r); err != nil {
			b.Fatal(err)
		}
	}
}
