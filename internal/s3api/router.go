package s3api

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// level is what a request path addresses.
type level uint8

const (
	levelService level = iota // "/"
	levelBucket               // "/bucket" or "/bucket/"
	levelObject               // "/bucket/key"
)

func (l level) String() string {
	switch l {
	case levelService:
		return "service"
	case levelBucket:
		return "bucket"
	}
	return "object"
}

// MaxKeyLength is the longest key S3 accepts, in bytes of UTF-8.
const MaxKeyLength = 1024

// parsePath splits a request's escaped path into bucket and key, unescaping
// each once. Nothing is cleaned: "a//b", "../x" and "x/" are distinct keys
// taken verbatim, as S3 takes them. A path whose escapes do not decode, or
// whose key is not UTF-8, is InvalidURI; a key past MaxKeyLength bytes is
// KeyTooLongError; a key holding NUL is InvalidArgument.
func parsePath(escaped string) (bucket, key string, err error) {
	p := strings.TrimPrefix(escaped, "/")
	rawBucket, rawKey, _ := strings.Cut(p, "/")
	if bucket, err = unescape(rawBucket); err != nil {
		return "", "", err
	}
	if key, err = unescape(rawKey); err != nil {
		return "", "", err
	}
	if len(key) > MaxKeyLength {
		return "", "", errorf("KeyTooLongError", "Your key is too long: %d bytes, at most %d are allowed.", len(key), MaxKeyLength)
	}
	if !utf8.ValidString(key) {
		return "", "", errorf("InvalidURI", "Object keys must be valid UTF-8.")
	}
	if strings.IndexByte(key, 0) >= 0 {
		return "", "", errNULKey()
	}
	return bucket, key, nil
}

// errNULKey refuses a key holding U+0000: XML 1.0 cannot carry it in any
// answer, not even as a character reference, and the embedded store ends
// a key with it in its multipart records (see store/local/keys.go).
func errNULKey() *Error {
	return errorf("InvalidArgument", "Object keys may not contain the NUL character (U+0000).")
}

// unescape decodes percent escapes once; it returns s itself (no copy) when
// there is nothing to decode, which is the common case on the hot path.
func unescape(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 {
		return s, nil
	}
	u, err := url.PathUnescape(s)
	if err != nil {
		return "", errorf("InvalidURI", "Couldn't parse the specified URI: %v.", err)
	}
	return u, nil
}

// subresources are the query parameters that select an operation rather
// than parameterise one (S3's "sub-resources"). A request naming one that
// has no route is answered 501 NotImplemented, never served as if the
// parameter were absent.
var subresources = map[string]bool{
	"accelerate": true, "acl": true, "analytics": true, "attributes": true,
	"cors": true, "delete": true, "encryption": true, "intelligent-tiering": true,
	"inventory": true, "legal-hold": true, "lifecycle": true, "location": true,
	"logging": true, "metadataTable": true, "metrics": true, "notification": true,
	"object-lock": true, "ownershipControls": true, "policy": true,
	"policyStatus": true, "publicAccessBlock": true, "replication": true,
	"requestPayment": true, "restore": true, "retention": true, "select": true,
	"session": true, "tagging": true, "torrent": true, "uploadId": true,
	"uploads": true, "versioning": true, "versions": true, "website": true,
}

// routeKey is what selects an operation. Matching is exact, so the order in
// which routes are added never matters.
type routeKey struct {
	method string
	level  level
	// sub is the subresource named in the query ("acl", "uploadId"…), or
	// "" for none. ListObjectsV2 is told apart from v1 by the pseudo
	// subresource "list-type=2".
	sub string
	// copy is true when the request carries x-amz-copy-source.
	copy bool
}

// route is one entry of the dispatch table.
type route struct {
	key     routeKey
	op      string
	handler handlerFunc
}

// routes is the dispatch table. To add an operation, add one line here and
// write its handler; a duplicate key panics at start-up.
func (h *Handler) routes() []route {
	return []route{
		{routeKey{http.MethodGet, levelService, "", false}, "ListBuckets", h.listBuckets},

		{routeKey{http.MethodPut, levelBucket, "", false}, "CreateBucket", h.createBucket},
		{routeKey{http.MethodHead, levelBucket, "", false}, "HeadBucket", h.headBucket},
		{routeKey{http.MethodDelete, levelBucket, "", false}, "DeleteBucket", h.deleteBucket},
		{routeKey{http.MethodGet, levelBucket, "location", false}, "GetBucketLocation", h.getBucketLocation},
		{routeKey{http.MethodGet, levelBucket, "acl", false}, "GetBucketAcl", h.getBucketACL},
		{routeKey{http.MethodPut, levelBucket, "acl", false}, "PutBucketAcl", h.putBucketACL},
		{routeKey{http.MethodGet, levelBucket, "policy", false}, "GetBucketPolicy", h.getBucketPolicy},
		{routeKey{http.MethodPut, levelBucket, "policy", false}, "PutBucketPolicy", h.putBucketPolicy},
		{routeKey{http.MethodDelete, levelBucket, "policy", false}, "DeleteBucketPolicy", h.deleteBucketPolicy},
		{routeKey{http.MethodGet, levelBucket, "website", false}, "GetBucketWebsite", h.getBucketWebsite},
		{routeKey{http.MethodPut, levelBucket, "website", false}, "PutBucketWebsite", h.putBucketWebsite},
		{routeKey{http.MethodDelete, levelBucket, "website", false}, "DeleteBucketWebsite", h.deleteBucketWebsite},
		{routeKey{http.MethodGet, levelBucket, "versioning", false}, "GetBucketVersioning", h.getBucketVersioning},
		{routeKey{http.MethodPut, levelBucket, "versioning", false}, "PutBucketVersioning", h.putBucketVersioning},
		{routeKey{http.MethodGet, levelBucket, "", false}, "ListObjects", h.listObjectsV1},
		{routeKey{http.MethodGet, levelBucket, "list-type=2", false}, "ListObjectsV2", h.listObjectsV2},
		{routeKey{http.MethodPost, levelBucket, "delete", false}, "DeleteObjects", h.deleteObjects},

		{routeKey{http.MethodPut, levelObject, "", false}, "PutObject", h.putObject},
		{routeKey{http.MethodPut, levelObject, "", true}, "CopyObject", h.copyObject},
		{routeKey{http.MethodGet, levelObject, "", false}, "GetObject", h.getObject},
		{routeKey{http.MethodHead, levelObject, "", false}, "HeadObject", h.headObject},
		{routeKey{http.MethodDelete, levelObject, "", false}, "DeleteObject", h.deleteObject},
		{routeKey{http.MethodGet, levelObject, "tagging", false}, "GetObjectTagging", h.getObjectTagging},
		{routeKey{http.MethodPut, levelObject, "tagging", false}, "PutObjectTagging", h.putObjectTagging},
		{routeKey{http.MethodDelete, levelObject, "tagging", false}, "DeleteObjectTagging", h.deleteObjectTagging},

		{routeKey{http.MethodPost, levelObject, "uploads", false}, "CreateMultipartUpload", h.createMultipartUpload},
		{routeKey{http.MethodPut, levelObject, "uploadId", false}, "UploadPart", h.uploadPart},
		{routeKey{http.MethodPut, levelObject, "uploadId", true}, "UploadPartCopy", h.uploadPartCopy},
		{routeKey{http.MethodPost, levelObject, "uploadId", false}, "CompleteMultipartUpload", h.completeMultipartUpload},
		{routeKey{http.MethodDelete, levelObject, "uploadId", false}, "AbortMultipartUpload", h.abortMultipartUpload},
		{routeKey{http.MethodGet, levelObject, "uploadId", false}, "ListParts", h.listParts},
		{routeKey{http.MethodGet, levelBucket, "uploads", false}, "ListMultipartUploads", h.listMultipartUploads},
	}
}

// buildTable indexes routes by key.
func buildTable(rs []route) map[routeKey]route {
	t := make(map[routeKey]route, len(rs))
	for _, r := range rs {
		if _, dup := t[r.key]; dup {
			panic("s3api: duplicate route for " + r.op)
		}
		t[r.key] = r
	}
	return t
}

// routeKeyOf computes the key that selects r's operation. It fails with
// InvalidRequest when the query names two subresources at once.
func routeKeyOf(r *http.Request, query url.Values, lvl level) (routeKey, error) {
	k := routeKey{method: r.Method, level: lvl}
	for name := range query {
		if !subresources[name] {
			continue
		}
		if k.sub != "" {
			a, b := k.sub, name
			if b < a {
				a, b = b, a
			}
			return k, errorf("InvalidRequest", "The query names two subresources, %q and %q; send one per request.", a, b)
		}
		k.sub = name
	}
	if k.sub == "" && lvl == levelBucket && query.Get("list-type") == "2" {
		k.sub = "list-type=2"
	}
	if lvl == levelObject && r.Header.Get("X-Amz-Copy-Source") != "" {
		k.copy = true
	}
	return k, nil
}

// dispatch finds the route for k. A known subresource (or a copy) without
// a route is NotImplemented; a plain method the resource does not answer
// is MethodNotAllowed.
func (h *Handler) dispatch(k routeKey) (route, error) {
	if rt, ok := h.table[k]; ok {
		return rt, nil
	}
	if k.sub != "" || k.copy {
		what := "?" + k.sub
		if k.copy {
			what = "x-amz-copy-source"
			if k.sub != "" {
				what += " with ?" + k.sub
			}
		}
		return route{}, errorf("NotImplemented", "%s %s (%s level) is not implemented by this server.", k.method, what, k.level)
	}
	return route{}, errorf("MethodNotAllowed", "The specified method %s is not allowed against this resource (%s level).", k.method, k.level)
}
