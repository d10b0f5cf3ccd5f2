package s3backend

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"time"

	smithytime "github.com/aws/smithy-go/time"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"mirrorstore/internal/store"
)

// unsignedPayloadHash is the payload hash of a body sent unhashed.
const unsignedPayloadHash = "UNSIGNED-PAYLOAD"

// leanPut sends a streamed PutObject (a known-size body, read once) the
// way leanGet sends reads: the request the SDK's PutObject would send with
// its UNSIGNED-PAYLOAD option (the same headers, path and SigV4 signer),
// through the same http.Client, its errors shaped as the SDK shapes them.
// On a 4 KiB PUT the SDK's operation stack cost the node a fifth of its
// CPU. There is no retry: a streamed body cannot be sent twice, and the
// SDK cannot rewind it for a retry either.
func (b *Backend) leanPut(ctx context.Context, bkey string, body io.Reader, size int64, h headerAttrs, opts store.PutOptions) (string, error) {
	lc := b.lean
	if size == 0 {
		body = http.NoBody
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, "", body)
	if err != nil {
		return "", err
	}
	req.URL = lc.objectURL(b.bucket, bkey)
	req.Host = req.URL.Host
	req.ContentLength = size
	set := func(name string, v *string) {
		if v != nil {
			req.Header.Set(name, *v)
		}
	}
	set("Cache-Control", h.cacheControl)
	set("Content-Disposition", h.contentDisposition)
	set("Content-Encoding", h.contentEncoding)
	set("Content-Language", h.contentLanguage)
	// The SDK gives a streamed body without a type this one (the
	// backend's own default would be binary/octet-stream).
	req.Header.Set("Content-Type", "application/octet-stream")
	set("Content-Type", h.contentType)
	if h.expires != nil {
		req.Header.Set("Expires", smithytime.FormatHTTPDate(*h.expires))
	}
	for k, v := range h.meta {
		req.Header.Set("X-Amz-Meta-"+http.CanonicalHeaderKey(k), v)
	}
	set("X-Amz-Tagging", h.tagging)
	set("If-None-Match", ifNoneMatch(opts.Conditions))
	set("If-Match", ifMatch(opts.Conditions))
	if opts.ContentMD5 != nil {
		req.Header.Set("Content-Md5", base64.StdEncoding.EncodeToString(opts.ContentMD5))
	}
	req.Header.Set("X-Amz-Content-Sha256", unsignedPayloadHash)
	if err := lc.signer.SignHTTP(ctx, lc.creds, req, unsignedPayloadHash, "s3", lc.region, time.Now().UTC()); err != nil {
		return "", err
	}
	resp, err := b.http.Do(req)
	if err != nil {
		return "", &smithyhttp.RequestSendError{Err: err}
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return "", leanResponseError(resp)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return unquote(headerPtr(resp.Header, "Etag")), nil
}
