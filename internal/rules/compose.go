package rules

import (
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Target is where the client addressed its request, for composing a
// redirect's Location.
type Target struct {
	// Scheme of the request, "http" or "https" ("" is taken as http).
	Scheme string
	// Host is the request's Host header (with its port, if any).
	Host string
	// Bucket is set when the request was path-style: the Location then
	// keeps "bucket/" in front of the path unless the rule names a HostName.
	Bucket string
	// RawQuery is the request's query string, as received.
	RawQuery string
}

// RewriteKey returns the key a rule sends on: ReplaceKeyWith with ${key}
// replaced by key; or ReplaceKeyPrefixWith followed by key without
// KeyPrefixEquals; or, with EnableReplacePrefix true and no
// ReplaceKeyPrefixWith, key without KeyPrefixEquals; or key unchanged.
func (a *Action) RewriteKey(key string) string {
	switch {
	case a.replaceKeyWith != nil:
		return strings.ReplaceAll(*a.replaceKeyWith, "${key}", key)
	case a.replacePrefix != nil:
		return *a.replacePrefix + strings.TrimPrefix(key, a.prefix)
	case a.stripPrefix:
		return strings.TrimPrefix(key, a.prefix)
	}
	return key
}

// Location composes the Location of a redirect rule (SPEC §8):
// <Protocol or the request's>://<HostName or the request's Host>/<path>[?query]
// where path is RewriteKey(key), with "bucket/" in front for a path-style
// request when the rule names no HostName, percent-encoded as a URL path,
// and query is the client's minus S3 auth parameters when PassQueryString.
func (a *Action) Location(key string, t Target) string {
	scheme := a.Protocol
	if scheme == "" {
		scheme = t.Scheme
	}
	if scheme == "" {
		scheme = "http"
	}
	host := a.HostName
	path := a.RewriteKey(key)
	if host == "" {
		host = t.Host
		if t.Bucket != "" {
			path = t.Bucket + "/" + path
		}
	}
	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString("://")
	b.WriteString(host)
	b.WriteByte('/')
	b.WriteString(EscapePath(path))
	if a.PassQueryString {
		if q := FilterQuery(t.RawQuery, false); q != "" {
			b.WriteByte('?')
			b.WriteString(q)
		}
	}
	return b.String()
}

// RedirectBody is the short HTML body sent with a redirect: the status and
// a link to location.
func RedirectBody(status int, location string) string {
	title := strconv.Itoa(status) + " " + http.StatusText(status)
	loc := html.EscapeString(location)
	return "<html><head><title>" + title + "</title></head><body><h1>" + title +
		"</h1><p>The object has moved to <a href=\"" + loc + "\">" + loc + "</a>.</p></body></html>\n"
}

// OriginURLs returns the URLs a Mirror rule fetches key from (SPEC §7):
// MirrorURL + RewriteKey(key) percent-encoded as a URL path, and the same on
// MirrorURLSlave ("" when the rule has none), each followed by the client's
// query string minus S3 auth and response-* parameters when the rule passes
// the query string. A key whose rewritten path has a "." or ".." segment is
// ErrKeyNotAllowedToOrigin. It panics if a is not a Mirror action.
func (a *Action) OriginURLs(key, rawQuery string) (primary, slave string, err error) {
	k := a.RewriteKey(key)
	if hasDotSegment(k) {
		return "", "", ErrKeyNotAllowedToOrigin
	}
	suffix := EscapePath(k)
	if a.Mirror.PassQueryString {
		if q := FilterQuery(rawQuery, true); q != "" {
			suffix += "?" + q
		}
	}
	primary = a.Mirror.URL + suffix
	if a.Mirror.SlaveURL != "" {
		slave = a.Mirror.SlaveURL + suffix
	}
	return primary, slave, nil
}

func hasDotSegment(p string) bool {
	for {
		i := strings.IndexByte(p, '/')
		seg := p
		if i >= 0 {
			seg = p[:i]
		}
		if seg == "." || seg == ".." {
			return true
		}
		if i < 0 {
			return false
		}
		p = p[i+1:]
	}
}

// EscapePath percent-encodes s as a URL path: every byte but the
// unreserved characters (RFC 3986: letters, digits, '-', '.', '_', '~') and
// '/' becomes %XX. Any byte string, UTF-8 or not, is encoded losslessly.
func EscapePath(s string) string {
	const hex = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreservedOrSlash(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreservedOrSlash(c) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	return string(b)
}

func unreservedOrSlash(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~' || c == '/'
}

// FilterQuery returns the raw query string without the parameters that
// authenticate an S3 request (X-Amz-*, and AWSAccessKeyId, Signature and
// Expires of a V2 presigned URL, i.e. when a Signature parameter is
// present) and, when mirror is true, without response-* parameters (they
// shape this server's answer, not the origin's). The other parameters keep
// their order and encoding. Names are compared case-insensitively.
func FilterQuery(raw string, mirror bool) string {
	if raw == "" {
		return ""
	}
	v2 := false
	for _, part := range strings.Split(raw, "&") {
		if strings.EqualFold(queryName(part), "Signature") {
			v2 = true
		}
	}
	var kept []string
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		name := strings.ToLower(queryName(part))
		switch {
		case strings.HasPrefix(name, "x-amz-"):
			continue
		case v2 && (name == "awsaccesskeyid" || name == "signature" || name == "expires"):
			continue
		case mirror && strings.HasPrefix(name, "response-"):
			continue
		}
		kept = append(kept, part)
	}
	return strings.Join(kept, "&")
}

func queryName(part string) string {
	name, _, _ := strings.Cut(part, "=")
	if dec, err := url.QueryUnescape(name); err == nil {
		return dec
	}
	return name
}

// MirrorTag is the value of the x-oss-tag header of a mirrored object:
// "MIRROR " and the origin URL with its percent-escapes of printable ASCII
// (0x20–0x7E) decoded; escapes of other bytes stay encoded so the header
// remains valid.
func MirrorTag(originURL string) string {
	var b strings.Builder
	b.Grow(len("MIRROR ") + len(originURL))
	b.WriteString("MIRROR ")
	for i := 0; i < len(originURL); i++ {
		c := originURL[i]
		if c == '%' && i+2 < len(originURL) {
			hi, ok1 := unhex(originURL[i+1])
			lo, ok2 := unhex(originURL[i+2])
			if v := hi<<4 | lo; ok1 && ok2 && v >= 0x20 && v <= 0x7e {
				b.WriteByte(v)
				i += 2
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
