package auth

import (
	"encoding/hex"
	"net/http"
	"net/textproto"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

const (
	algorithmV4  = "AWS4-HMAC-SHA256"
	amzDateFmt   = "20060102T150405Z"
	scopeDateFmt = "20060102"
	scopeEnd     = "aws4_request"
	service      = "s3"

	unsignedPayload        = "UNSIGNED-PAYLOAD"
	streamingSigned        = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	streamingSignedTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	streamingUnsigned      = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	emptySHA256            = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// authHeader is a parsed "AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…,
// Signature=…" Authorization header.
type authHeader struct {
	credential    credential
	signedHeaders []string
	signature     []byte // decoded, 32 bytes
	signatureHex  string
}

// credential is the "AKID/yyyymmdd/region/s3/aws4_request" value.
type credential struct {
	accessKey, date, region string
}

// parseAuthorization parses an Authorization header. Errors are
// AuthorizationHeaderMalformed, or InvalidRequest for another scheme
// (SigV2, SigV4a), which S3 names as unsupported rather than malformed.
func parseAuthorization(h string) (authHeader, error) {
	var a authHeader
	alg, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if alg != algorithmV4 {
		if alg == "AWS" || strings.HasPrefix(alg, "AWS4-") {
			return a, newError("InvalidRequest", "The authorization mechanism "+quote(alg)+" is not supported; sign the request with AWS4-HMAC-SHA256 (Signature Version 4).")
		}
		return a, malformed("the Authorization header must start with \"AWS4-HMAC-SHA256 \"")
	}
	if !ok {
		return a, malformed("the Authorization header has no Credential, SignedHeaders and Signature")
	}
	var cred, signed, sig string
	var haveCred, haveSigned, haveSig bool
	for _, part := range strings.Split(rest, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, value, ok := strings.Cut(part, "=")
		if !ok {
			return a, malformed("the Authorization header component " + quote(part) + " is not of the form Name=Value")
		}
		var dup bool
		switch name {
		case "Credential":
			dup, haveCred, cred = haveCred, true, value
		case "SignedHeaders":
			dup, haveSigned, signed = haveSigned, true, value
		case "Signature":
			dup, haveSig, sig = haveSig, true, value
		default:
			return a, malformed("the Authorization header has an unknown component " + quote(name) + "; expected Credential, SignedHeaders and Signature")
		}
		if dup {
			return a, malformed("the Authorization header gives " + name + " twice")
		}
	}
	switch {
	case !haveCred:
		return a, malformed("the Authorization header is missing Credential")
	case !haveSigned:
		return a, malformed("the Authorization header is missing SignedHeaders")
	case !haveSig:
		return a, malformed("the Authorization header is missing Signature")
	}
	var msg string
	if a.credential, msg = parseCredential(cred); msg != "" {
		return a, malformed(msg)
	}
	if a.signedHeaders, msg = parseSignedHeaders(signed); msg != "" {
		return a, malformed(msg)
	}
	if a.signature, msg = parseSignature(sig); msg != "" {
		return a, malformed(msg)
	}
	a.signatureHex = sig
	return a, nil
}

func malformed(msg string) *Error {
	return newError("AuthorizationHeaderMalformed", "The authorization header is malformed: "+msg+".")
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strconv.Quote(s)
}

// parseCredential splits a credential; msg says what is wrong, or is "".
func parseCredential(s string) (credential, string) {
	const want = "; expecting \"<access key>/YYYYMMDD/<region>/s3/aws4_request\""
	var c credential
	// The access key is split off from the right, so a key that contains
	// a slash still parses.
	parts := strings.Split(s, "/")
	if len(parts) < 5 {
		return c, "the Credential " + quote(s) + " is malformed" + want
	}
	n := len(parts)
	c.accessKey = strings.Join(parts[:n-4], "/")
	c.date, c.region = parts[n-4], parts[n-3]
	switch {
	case c.accessKey == "":
		return c, "the Credential has an empty access key" + want
	case len(c.date) != 8 || !allDigits(c.date):
		return c, "the Credential date " + quote(c.date) + " is not YYYYMMDD" + want
	case parts[n-2] != service:
		return c, "the Credential names service " + quote(parts[n-2]) + " but this server is s3; sign for service \"s3\""
	case parts[n-1] != scopeEnd:
		return c, "the Credential must end in \"aws4_request\", not " + quote(parts[n-1])
	}
	return c, ""
}

func parseSignedHeaders(s string) ([]string, string) {
	if s == "" {
		return nil, "SignedHeaders is empty; it must list at least host"
	}
	names := strings.Split(s, ";")
	host := false
	for _, n := range names {
		if n == "" || n != strings.ToLower(n) {
			return nil, "SignedHeaders " + quote(s) + " must be lowercase header names separated by ';'"
		}
		if n == "host" {
			host = true
		}
	}
	if !host {
		return nil, "SignedHeaders must include host"
	}
	return names, ""
}

func parseSignature(s string) ([]byte, string) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return nil, "Signature " + quote(s) + " is not 64 hexadecimal digits"
	}
	return b, ""
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// queryParam is one name=value pair of a raw query, decoded.
type queryParam struct{ name, value string }

// parseQuery splits a raw query in order, keeping duplicates. A pair
// whose escapes do not decode is kept as sent, so it still takes part in
// the canonical query (and the signature then shows it).
func parseQuery(raw string) []queryParam {
	if raw == "" {
		return nil
	}
	ps := make([]queryParam, 0, strings.Count(raw, "&")+1)
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		name, value, _ := strings.Cut(part, "=")
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		if v, err := url.QueryUnescape(value); err == nil {
			value = v
		}
		ps = append(ps, queryParam{name, value})
	}
	return ps
}

// canonicalQuery encodes params as SigV4 wants: each name and value
// URI-encoded, sorted by name then value, leaving out skip.
func canonicalQuery(ps []queryParam, skip string) string {
	enc := make([]string, 0, len(ps))
	for _, p := range ps {
		if skip != "" && p.name == skip {
			continue
		}
		enc = append(enc, uriEncode(p.name, true)+"="+uriEncode(p.value, true))
	}
	// Pairs are compared name first, then value, rather than as joined
	// strings, so that "a-b=1" and "a=2" order by their names.
	sort.Slice(enc, func(i, j int) bool {
		ni, vi, _ := strings.Cut(enc[i], "=")
		nj, vj, _ := strings.Cut(enc[j], "=")
		if ni != nj {
			return ni < nj
		}
		return vi < vj
	})
	return strings.Join(enc, "&")
}

// uriEncode encodes s per SigV4: every byte but the unreserved characters
// A-Z a-z 0-9 - _ . ~ becomes %XX with upper-case hex; '/' stays when
// encodeSlash is false (paths).
func uriEncode(s string, encodeSlash bool) string {
	const hexUpper = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) && (encodeSlash || s[i] != '/') {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || (!encodeSlash && c == '/') {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexUpper[c>>4], hexUpper[c&15])
	}
	return string(b)
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// rawPath is the request's path exactly as the client sent it: S3 signs
// the path as sent, neither cleaned ("a//b", "../x" are keys) nor encoded
// a second time.
func rawPath(r *http.Request) string {
	p := ""
	if r.RequestURI != "" && r.RequestURI != "*" {
		p, _, _ = strings.Cut(r.RequestURI, "?")
		if !strings.HasPrefix(p, "/") {
			// absolute-form request target: "http://host/path".
			if u, err := url.ParseRequestURI(p); err == nil {
				p = u.EscapedPath()
			}
		}
	} else {
		p = r.URL.EscapedPath()
	}
	if p == "" {
		p = "/"
	}
	return p
}

// awsPath re-encodes the sent path as an AWS SDK encodes a decoded one;
// it differs from the sent path only for a client that sent characters
// other than it signed them (a literal '!', lower-case escapes).
func awsPath(sent string) string {
	p, err := url.PathUnescape(sent)
	if err != nil {
		return sent
	}
	return uriEncode(p, false)
}

// appendCanonicalHeaders appends "name:value\n" for each signed header,
// values trimmed, inner runs of spaces folded, repeated headers joined by
// ','.
func appendCanonicalHeaders(b []byte, r *http.Request, names []string) []byte {
	for _, name := range names {
		b = append(b, name...)
		b = append(b, ':')
		switch name {
		case "host":
			// net/http moves Host out of the header map.
			b = append(b, foldSpaces(r.Host)...)
		case "content-length":
			if v := r.Header["Content-Length"]; len(v) > 0 {
				b = appendValues(b, v)
			} else if r.ContentLength >= 0 {
				b = strconv.AppendInt(b, r.ContentLength, 10)
			}
		case "transfer-encoding":
			b = appendValues(b, r.TransferEncoding)
		default:
			b = appendValues(b, headerValues(r.Header, name))
		}
		b = append(b, '\n')
	}
	return b
}

func appendValues(b []byte, vs []string) []byte {
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, foldSpaces(v)...)
	}
	return b
}

// headerKeys maps the lower-case names clients sign and the verifier reads
// to net/http's canonical form, worked out once: Header.Values with a
// lower-case name canonicalises it into a new string on every call, a
// handful of allocations per request.
var headerKeys = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{
		"x-amz-date", "x-amz-content-sha256", "x-amz-security-token", "x-amz-user-agent",
		"x-amz-decoded-content-length", "x-amz-trailer", "x-amz-sdk-checksum-algorithm",
		"x-amz-checksum-crc32", "x-amz-checksum-crc32c", "x-amz-checksum-sha1",
		"x-amz-checksum-sha256", "x-amz-checksum-crc64nvme", "x-amz-checksum-mode",
		"x-amz-checksum-algorithm", "x-amz-acl", "x-amz-copy-source", "x-amz-storage-class",
		"x-amz-tagging", "x-amz-expected-bucket-owner", "x-amz-request-payer",
		"amz-sdk-invocation-id", "amz-sdk-request", "content-type", "content-md5",
		"content-encoding", "content-disposition", "content-language", "cache-control",
		"expires", "range", "if-match", "if-none-match", "if-modified-since",
		"if-unmodified-since", "user-agent", "accept-encoding", "date",
	} {
		m[n] = textproto.CanonicalMIMEHeaderKey(n)
	}
	return m
}()

// headerValues is h.Values(name) for a lower-case name.
func headerValues(h http.Header, name string) []string {
	if k, ok := headerKeys[name]; ok {
		return h[k]
	}
	return h.Values(name)
}

// foldSpaces trims s and folds each run of spaces into one, as SigV4's
// canonical header values require.
func foldSpaces(s string) string {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
