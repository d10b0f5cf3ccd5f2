package s3api

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzRequestPath checks the mapping between a request path (and an
// x-amz-copy-source) and its bucket and key: any escaped path either
// parses to a key the stores can hold (UTF-8, no NUL, at most
// MaxKeyLength bytes) or is refused with a known code; and every such key,
// escaped as SDKs do or only as far as a path needs, parses back to itself
// byte for byte (nothing cleaned, no "..", "//" or "+" folding).
func FuzzRequestPath(f *testing.F) {
	for _, s := range []string{
		"/bkt/a", "/bkt/a//b", "/bkt/../x", "/bkt/a%2Fb", "/bkt/%", "/bkt/%zz", "/bkt/a%00b",
		"/bkt/\xff", "/bkt/%FF", "/bkt/a+b c", "/bkt/" + strings.Repeat("k", 1025), "//", "/", "",
		"/bkt/%2e%2e/%2E", "/bkt/é/日本", "/bkt/\\evil", "bkt/a", "/bkt?x", "/bkt/a%0D%0Ab",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, escaped string) {
		bucket, key, err := parsePath(escaped)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || (e.Code != "InvalidURI" && e.Code != "KeyTooLongError" && e.Code != "InvalidArgument") {
				t.Fatalf("parsePath(%q): %v is not a known refusal", escaped, err)
			}
		} else {
			if !utf8.ValidString(key) || strings.IndexByte(key, 0) >= 0 || len(key) > MaxKeyLength {
				t.Fatalf("parsePath(%q) let through key %q", escaped, key)
			}
			// An escaped slash may reach the bucket name ("%2F"); the
			// router's name check must then refuse it.
			if strings.ContainsAny(bucket, "/\\\x00") && validBucketName(bucket) {
				t.Fatalf("parsePath(%q) gave bucket %q, which passes as a name", escaped, bucket)
			}
		}

		// Round trips, taking the input as a key.
		k := escaped
		if k == "" || !utf8.ValidString(k) || strings.IndexByte(k, 0) >= 0 || len(k) > MaxKeyLength {
			return
		}
		for _, enc := range []string{url.PathEscape(k), sdkEscape(k), strings.ReplaceAll(url.PathEscape(k), "%2F", "/")} {
			b, got, err := parsePath("/bkt/" + enc)
			if err != nil || b != "bkt" || got != k {
				t.Fatalf("key %q escaped %q parsed to %q %q, %v", k, enc, b, got, err)
			}
			cb, ck, err := parseCopySource("/bkt/" + enc)
			if err != nil || cb != "bkt" || ck != k {
				t.Fatalf("copy source %q parsed to %q %q, %v", enc, cb, ck, err)
			}
		}
	})
}

// sdkEscape escapes a key as the AWS SDKs do for S3 paths: every byte but
// the unreserved characters and '/'.
func sdkEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(hexByte(c)))
	}
	return b.String()
}

func hexByte(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&15]})
}

// TestNULKeyRefused: a key holding U+0000 is refused wherever a key comes
// in, before it reaches a store.
func TestNULKeyRefused(t *testing.T) {
	a := newAPIHarness(t)
	a.ok(200, "PUT", "/bkt", nil)
	a.fails(400, "InvalidArgument", "PUT", "/bkt/a%00b", []byte("x"))
	a.fails(400, "InvalidArgument", "POST", "/bkt/a%00?uploads", nil)
	a.fails(400, "InvalidArgument", "GET", "/bkt/%00", nil)
	a.ok(200, "PUT", "/bkt/src", []byte("x"))
	a.fails(400, "InvalidArgument", "PUT", "/bkt/dst", nil, "X-Amz-Copy-Source", "/bkt/src%00")
	// A listing may still ask for such a prefix or marker; it names no key
	// (and once listed, or with a delimiter crashed on, the uploads of
	// "src").
	a.create("bkt", "src")
	var res listMultipartUploadsResult
	a.decode(a.ok(200, "GET", "/bkt?uploads&prefix=src%00&delimiter=/", nil), &res)
	if len(res.Uploads) != 0 {
		t.Fatalf("prefix src%%00 listed %+v", res.Uploads)
	}
	a.decode(a.ok(200, "GET", "/bkt?uploads&key-marker=src%00", nil), &res)
	if len(res.Uploads) != 0 {
		t.Fatalf("key-marker src%%00 listed %+v", res.Uploads)
	}
}
