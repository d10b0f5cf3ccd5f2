package origin

import (
	"errors"
	"net/http"
	"strings"
)

// HeaderPolicy is a rule's MirrorHeaders: which of the client's headers go
// on to the origin (SPEC §7 "What is sent").
type HeaderPolicy struct {
	// PassAll passes every client header but the never-passed ones.
	PassAll bool
	// Pass names client headers to pass (case-insensitive).
	Pass []string
	// Remove names headers to strip, after PassAll/Pass.
	Remove []string
	// Set gives fixed headers, applied last. Set may name Host: the origin is
	// then dialed at the URL's address but asked for that site.
	Set []HeaderValue
}

// HeaderValue is one Set entry.
type HeaderValue struct {
	Key, Value string
}

// neverFromClient are the headers never passed on from the client, whatever
// the rule says (canonical names). User-Agent is here because the origin
// request always carries ours: the loop guard depends on it.
var neverFromClient = map[string]bool{
	"Host":                true,
	"Authorization":       true,
	"Range":               true,
	"Content-Length":      true,
	"Date":                true,
	"Accept-Encoding":     true,
	"User-Agent":          true,
	"Connection":          true,
	"Keep-Alive":          true,
	"Te":                  true,
	"Trailer":             true,
	"Transfer-Encoding":   true,
	"Upgrade":             true,
	"Proxy-Authorization": true,
	"Proxy-Authenticate":  true,
	"Proxy-Connection":    true,
	"Expect":              true,
}

// neverSet are the headers a rule's Set cannot send either: each would break
// what a fill is (a whole, unconditional, uncompressed-by-us GET) or the
// framing of the request, or the loop guard.
var neverSet = map[string]bool{
	"Range":             true,
	"Content-Length":    true,
	"Accept-Encoding":   true,
	"User-Agent":        true,
	"Connection":        true,
	"Keep-Alive":        true,
	"Te":                true,
	"Trailer":           true,
	"Transfer-Encoding": true,
	"Upgrade":           true,
	"Expect":            true,
}

// neverPassed reports whether a client header (canonical name) is dropped.
func neverPassed(name string) bool {
	if neverFromClient[name] {
		return true
	}
	l := strings.ToLower(name)
	return strings.HasPrefix(l, "if-") || strings.HasPrefix(l, "proxy-") ||
		strings.HasPrefix(l, "x-amz-") || strings.HasPrefix(l, "x-oss-") ||
		strings.HasPrefix(l, "oss-") || strings.HasPrefix(l, "x-drs-")
}

// hopByHop returns the extra hop-by-hop names a message lists in its
// Connection header (RFC 9110 §7.6.1), canonicalized.
func hopByHop(h http.Header) map[string]bool {
	var m map[string]bool
	for _, v := range h.Values("Connection") {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				if m == nil {
					m = map[string]bool{}
				}
				m[http.CanonicalHeaderKey(f)] = true
			}
		}
	}
	return m
}

// Build returns the headers of the origin request for a client request with
// headers client. It never returns User-Agent (Client.Get sets ours) nor
// Accept-Encoding; it may return Host (from Set), which Client.Get turns into
// the request's Host. client is not modified.
func (p HeaderPolicy) Build(client http.Header) http.Header {
	out := http.Header{}
	conn := hopByHop(client)
	pass := func(name string, values []string) {
		name = http.CanonicalHeaderKey(name)
		if neverPassed(name) || conn[name] || len(values) == 0 {
			return
		}
		out[name] = append([]string(nil), values...)
	}
	if p.PassAll {
		for name, values := range client {
			pass(name, values)
		}
	} else {
		for _, name := range p.Pass {
			pass(name, client.Values(name))
		}
	}
	for _, name := range p.Remove {
		out.Del(name)
	}
	for _, s := range p.Set {
		name := http.CanonicalHeaderKey(s.Key)
		if neverSet[name] || strings.HasPrefix(name, "If-") || strings.HasPrefix(name, "Proxy-") {
			continue
		}
		out.Set(name, s.Value)
	}
	return out
}

// ErrMetaTooLarge means the origin's x-oss-meta-*/x-amz-meta-* headers exceed
// MaxUserMeta; the fill is refused with "Meta is too large".
var ErrMetaTooLarge = errors.New("meta is too large")

// MaxUserMeta is the limit on user metadata, the same as a PUT's: the sum of
// the lengths of each name (without its prefix) and value.
const MaxUserMeta = 2 << 10

// keptHeaders are the content headers kept from an origin's answer, returned
// to the client and stored with the object (SPEC §7 "Headers kept").
var keptHeaders = []string{
	"Content-Type",
	"Content-Encoding",
	"Content-Disposition",
	"Cache-Control",
	"Expires",
	"Content-Language",
	"Access-Control-Allow-Origin",
}

// Kept is what is kept from an origin's answer.
type Kept struct {
	// Header holds the kept content headers (canonical names, first value).
	Header map[string]string
	// Meta holds user metadata keyed by lower-case name without the
	// x-oss-meta-/x-amz-meta- prefix; nil unless saveMeta.
	Meta map[string]string
}

// Keep extracts the headers kept from an origin answer's headers h. With
// saveMeta, x-oss-meta-* and x-amz-meta-* are kept too (an x-amz-meta- value
// wins over the x-oss-meta- one of the same name), and ErrMetaTooLarge is
// returned when they exceed MaxUserMeta.
func Keep(h http.Header, saveMeta bool) (Kept, error) {
	k := Kept{Header: map[string]string{}}
	for _, name := range keptHeaders {
		if v := h.Get(name); v != "" {
			k.Header[name] = v
		}
	}
	if !saveMeta {
		return k, nil
	}
	for _, prefix := range []string{"x-oss-meta-", "x-amz-meta-"} {
		for name, values := range h {
			l := strings.ToLower(name)
			if !strings.HasPrefix(l, prefix) || len(l) == len(prefix) || len(values) == 0 {
				continue
			}
			if k.Meta == nil {
				k.Meta = map[string]string{}
			}
			k.Meta[l[len(prefix):]] = strings.Join(values, ",")
		}
	}
	size := 0
	for name, v := range k.Meta {
		size += len(name) + len(v)
	}
	if size > MaxUserMeta {
		return Kept{}, ErrMetaTooLarge
	}
	return k, nil
}

// IsMirrorRequest reports whether r comes from a mirrorstore fill (ours or
// another node's), by its User-Agent. Such a request is never mirrored, so a
// MirrorURL that resolves back to mirrorstore fails fast instead of looping.
func IsMirrorRequest(r *http.Request) bool {
	return strings.HasPrefix(r.UserAgent(), UserAgentPrefix)
}
