package s3backend

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/encoding/httpbinding"
	smithytime "github.com/aws/smithy-go/time"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// The lean path sends a node's hot reads (GetObject and HeadObject of an
// object) without the SDK's operation stack: on a 4 KiB GET the SDK's
// middleware stages cost about as much CPU as the cluster's own work, and
// a node usually shares its cores with the cluster or its peers. The
// request is the one the SDK would send (path-style URL, SigV4 with the
// SDK's own signer, the empty body's hash), through the same http.Client
// (so the same connect, write, header and body timeouts), retried by the
// same retryer, and its answer is read into the same storedHeaders with
// errors shaped as the SDK shapes them (a smithyhttp.ResponseError holding
// the backend's code), so mapErr and mapReadErr treat both paths alike.
// Everything else, including the tag reads a tag count triggers, keeps
// the SDK.

// leanClient is what the lean path needs besides the http.Client.
type leanClient struct {
	endpoint *url.URL
	creds    aws.Credentials
	region   string
	signer   *v4.Signer
	retryer  aws.Retryer
}

// emptySHA256 is the SHA-256 of an empty body, which a GET or HEAD has.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func newLeanClient(endpoint, accessKey, secretKey, sessionToken, region string) (*leanClient, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("s3 backend: endpoint %q is not a URL", endpoint)
	}
	u.Path, u.RawPath = strings.TrimSuffix(u.Path, "/"), strings.TrimSuffix(u.EscapedPath(), "/")
	return &leanClient{
		endpoint: u,
		creds:    aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey, SessionToken: sessionToken, Source: "static"},
		region:   region,
		// S3 signs the path as sent, not escaped a second time.
		signer:  v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }),
		retryer: newRetryer(),
	}, nil
}

// objectURL is the path-style URL of a backend object, escaped as the SDK
// escapes it.
func (lc *leanClient) objectURL(bucket, bkey string) *url.URL {
	u := *lc.endpoint
	u.Path = lc.endpoint.Path + "/" + bucket + "/" + bkey
	u.RawPath = lc.endpoint.RawPath + "/" + httpbinding.EscapePath(bucket, true) + "/" + httpbinding.EscapePath(bkey, false)
	return &u
}

// leanResult is a GET's or HEAD's answer, read as the SDK reads it.
type leanResult struct {
	hdr           storedHeaders
	contentLength int64
	contentRange  string
	body          io.ReadCloser
}

// leanGet sends a GET (or, with method HEAD, a HEAD) of the backend key,
// with the Range and If-Match values when not empty. The answer's body is
// the caller's to close.
func (b *Backend) leanGet(ctx context.Context, method, bkey, rng, ifMatch string) (*leanResult, error) {
	lc := b.lean
	for attempt := 1; ; attempt++ {
		resp, err := b.leanOnce(ctx, method, bkey, rng, ifMatch)
		if err == nil {
			res, err := readLeanResult(resp)
			if err != nil {
				resp.Body.Close()
				return nil, err
			}
			return res, nil
		}
		if ctx.Err() != nil {
			return nil, &smithy.CanceledError{Err: ctx.Err()}
		}
		if attempt >= lc.retryer.MaxAttempts() || !lc.retryer.IsErrorRetryable(err) {
			return nil, err
		}
		delay, derr := lc.retryer.RetryDelay(attempt, err)
		if derr != nil {
			return nil, err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, &smithy.CanceledError{Err: ctx.Err()}
		case <-t.C:
		}
	}
}

// leanOnce is one attempt: a 2xx answer, or the error the SDK would make of
// the attempt (a RequestSendError for a request that got no answer, a
// ResponseError with the backend's code otherwise).
func (b *Backend) leanOnce(ctx context.Context, method, bkey, rng, ifMatch string) (*http.Response, error) {
	lc := b.lean
	req, err := http.NewRequestWithContext(ctx, method, "", nil)
	if err != nil {
		return nil, err
	}
	req.URL = lc.objectURL(b.bucket, bkey)
	req.Host = req.URL.Host
	req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	if err := lc.signer.SignHTTP(ctx, lc.creds, req, emptySHA256, "s3", lc.region, time.Now().UTC()); err != nil {
		return nil, err
	}
	resp, err := b.http.Do(req)
	if err != nil {
		return nil, &smithyhttp.RequestSendError{Err: err}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	return nil, leanResponseError(resp)
}

// leanResponseError reads an error answer's code as the SDK does: the
// <Code> of its XML body, or for a body-less answer (every HEAD error) the
// status text without spaces ("NotFound", "BadRequest").
func leanResponseError(resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	var parts struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := xml.Unmarshal(raw, &parts); err != nil {
			return &smithyhttp.ResponseError{
				Response: &smithyhttp.Response{Response: resp},
				Err:      &smithy.DeserializationError{Err: fmt.Errorf("backend error body: %w", err)},
			}
		}
	}
	if parts.Code == "" && parts.Message == "" {
		text := http.StatusText(resp.StatusCode)
		parts.Code, parts.Message = strings.ReplaceAll(text, " ", ""), text
	}
	if parts.Code == "" {
		parts.Code = "UnknownError"
	}
	return &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: resp},
		Err:      &smithy.GenericAPIError{Code: parts.Code, Message: parts.Message},
	}
}

// readLeanResult reads the headers the SDK's GetObject and HeadObject
// outputs carry into storedHeaders, trimmed as the SDK trims them.
func readLeanResult(resp *http.Response) (*leanResult, error) {
	h := resp.Header
	res := &leanResult{body: resp.Body, contentRange: headerString(h, "Content-Range")}
	res.hdr = storedHeaders{
		contentType:        headerPtr(h, "Content-Type"),
		contentEncoding:    headerPtr(h, "Content-Encoding"),
		contentDisposition: headerPtr(h, "Content-Disposition"),
		contentLanguage:    headerPtr(h, "Content-Language"),
		cacheControl:       headerPtr(h, "Cache-Control"),
		expires:            headerPtr(h, "Expires"),
		etag:               headerPtr(h, "Etag"),
	}
	if v := headerPtr(h, "Content-Length"); v != nil {
		n, err := strconv.ParseInt(*v, 0, 64)
		if err != nil {
			return nil, leanDeserializationError(resp, "Content-Length", err)
		}
		res.contentLength = n
	}
	if v := headerPtr(h, "Last-Modified"); v != nil {
		t, err := smithytime.ParseHTTPDate(*v)
		if err != nil {
			return nil, leanDeserializationError(resp, "Last-Modified", err)
		}
		res.hdr.lastModified = &t
	}
	if v := headerPtr(h, "X-Amz-Tagging-Count"); v != nil {
		n, err := strconv.ParseInt(*v, 0, 32)
		if err != nil {
			return nil, leanDeserializationError(resp, "x-amz-tagging-count", err)
		}
		c := int32(n)
		res.hdr.tagCount = &c
	}
	const metaHeader = "x-amz-meta-"
	for k, vs := range h {
		if len(k) >= len(metaHeader) && strings.EqualFold(k[:len(metaHeader)], metaHeader) && len(vs) > 0 {
			if res.hdr.meta == nil {
				res.hdr.meta = map[string]string{}
			}
			res.hdr.meta[strings.ToLower(k[len(metaHeader):])] = strings.TrimSpace(vs[0])
		}
	}
	return res, nil
}

func leanDeserializationError(resp *http.Response, header string, err error) error {
	return &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: resp},
		Err:      &smithy.DeserializationError{Err: fmt.Errorf("backend %s header: %w", header, err)},
	}
}

// headerPtr is the header's first value, trimmed, or nil when absent (the
// SDK's *string).
func headerPtr(h http.Header, name string) *string {
	vs := h[name]
	if len(vs) == 0 {
		return nil
	}
	v := strings.TrimSpace(vs[0])
	return &v
}

func headerString(h http.Header, name string) string {
	if v := headerPtr(h, name); v != nil {
		return *v
	}
	return ""
}
