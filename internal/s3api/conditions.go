package s3api

import (
	"net/http"
	"strings"
	"time"

	"mirrorstore/internal/store"
)

// httpTime formats t for Last-Modified: second precision, GMT.
func httpTime(t time.Time) string {
	return t.UTC().Format(http.TimeFormat)
}

// trimETag removes the quotes and weak marker around an ETag as clients
// send it.
func trimETag(v string) string {
	v = strings.TrimSpace(v)
	v = strings.TrimPrefix(v, "W/")
	return strings.Trim(v, `"`)
}

// etagListMatches reports whether a comma-separated If-Match or
// If-None-Match list names etag or is "*".
func etagListMatches(list, etag string) bool {
	for list != "" {
		var item string
		item, list, _ = strings.Cut(list, ",")
		if t := trimETag(item); t == "*" || t == etag {
			return true
		}
	}
	return false
}

// conditionHeaders names the four conditional headers of a request; for
// CopyObject they are the x-amz-copy-source-if-* ones.
type conditionHeaders struct {
	ifMatch, ifNoneMatch, ifModifiedSince, ifUnmodifiedSince string
}

var readConditionHeaders = conditionHeaders{"If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since"}

var copyConditionHeaders = conditionHeaders{
	"X-Amz-Copy-Source-If-Match", "X-Amz-Copy-Source-If-None-Match",
	"X-Amz-Copy-Source-If-Modified-Since", "X-Amz-Copy-Source-If-Unmodified-Since",
}

// evalConditions applies S3's precedence (RFC 7232's): If-Match decides
// alone when present, else If-Unmodified-Since; then If-None-Match decides
// alone when present, else If-Modified-Since. It returns 0 when the request
// goes on, 412 for a failed If-Match or If-Unmodified-Since, and 304 for a
// failed If-None-Match or If-Modified-Since. Dates that do not parse are
// ignored, as S3 ignores them.
func evalConditions(hdr http.Header, names conditionHeaders, info *store.ObjectInfo) int {
	if len(hdr) == 0 {
		return 0
	}
	lastMod := info.LastModified.Truncate(time.Second)
	if v := hdr.Get(names.ifMatch); v != "" {
		if !etagListMatches(v, info.ETag) {
			return http.StatusPreconditionFailed
		}
	} else if v := hdr.Get(names.ifUnmodifiedSince); v != "" {
		if t, err := http.ParseTime(v); err == nil && lastMod.After(t) {
			return http.StatusPreconditionFailed
		}
	}
	if v := hdr.Get(names.ifNoneMatch); v != "" {
		if etagListMatches(v, info.ETag) {
			return http.StatusNotModified
		}
	} else if v := hdr.Get(names.ifModifiedSince); v != "" {
		if t, err := http.ParseTime(v); err == nil && !lastMod.After(t) {
			return http.StatusNotModified
		}
	}
	return 0
}

// evalReadConditions evaluates a GET's or HEAD's conditional headers.
func evalReadConditions(hdr http.Header, info *store.ObjectInfo) int {
	return evalConditions(hdr, readConditionHeaders, info)
}
