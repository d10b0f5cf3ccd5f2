package migrate

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"mirrorstore/internal/origin"
)

// HTTPSource fetches keys from an HTTP origin: a key's URL is the base URL
// followed by the key percent-encoded as a URL path, as a Mirror rule
// builds it (SPEC §7). The keys come from a list, since HTTP cannot list.
type HTTPSource struct {
	client *origin.Client
	base   string
	keys   []string
}

// NewHTTPSource returns the source for the origin at base (an http or
// https URL) and keys. client is not closed by the source.
func NewHTTPSource(client *origin.Client, base string, keys []string) (*HTTPSource, error) {
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return nil, fmt.Errorf("origin %q: need an http:// or https:// URL", base)
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	return &HTTPSource{client: client, base: base, keys: keys}, nil
}

// ReadKeys reads a key list: one key a line, empty lines ignored, a
// trailing "\r" removed.
func ReadKeys(r io.Reader) ([]string, error) {
	var keys []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		k := strings.TrimSuffix(sc.Text(), "\r")
		if k != "" {
			keys = append(keys, k)
		}
	}
	return keys, sc.Err()
}

func (s *HTTPSource) String() string { return s.base }

// List yields the keys with unknown sizes.
func (s *HTTPSource) List(ctx context.Context, fn func(Object) error) error {
	for _, k := range s.keys {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(Object{Key: k, Size: -1}); err != nil {
			return err
		}
	}
	return nil
}

// Open GETs the key's URL, following redirects through the client's
// address guard, and keeps the §7 content headers.
func (s *HTTPSource) Open(ctx context.Context, obj Object) (*Content, error) {
	if hasDotSegment(obj.Key) {
		return nil, errors.New("key not allowed to origin: it has a '.' or '..' path segment")
	}
	u := s.base + escapePath(strings.TrimPrefix(obj.Key, "/"))
	resp, err := s.client.Get(ctx, origin.Request{URL: u, FollowRedirects: true})
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, origin.ErrRefusedAddress) ||
			errors.Is(err, origin.ErrTooManyRedirects) || errors.Is(err, origin.ErrBadRedirect) {
			return nil, err
		}
		return nil, retryable(err)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusNotFound:
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %w (404)", u, errNotFound)
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		resp.Body.Close()
		return nil, retryable(fmt.Errorf("GET %s: origin answered %d", u, resp.StatusCode))
	default:
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: origin answered %d", u, resp.StatusCode)
	}
	kept, err := origin.Keep(resp.Header, false)
	if err != nil {
		resp.Body.Close()
		return nil, err
	}
	c := &Content{Body: resp.Body, Size: resp.ContentLength, Header: kept.Header}
	if sum, err := base64.StdEncoding.DecodeString(resp.Header.Get("Content-Md5")); err == nil && len(sum) == 16 {
		c.ETag = hex.EncodeToString(sum)
	} else if et := trimETag(resp.Header.Get("Etag")); isMD5(et) {
		c.ETag = strings.ToLower(et)
	}
	return c, nil
}

// hasDotSegment reports whether key has a "." or ".." path segment, which
// an origin would resolve outside the base URL's path.
func hasDotSegment(key string) bool {
	for _, seg := range strings.Split(key, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// escapePath percent-encodes every byte of s but the RFC 3986 unreserved
// characters and '/', the encoding the mirror uses for origin URLs.
func escapePath(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '/' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
