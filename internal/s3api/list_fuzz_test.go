package s3api

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"mirrorstore/internal/store/local"
)

// listFuzzKeys are the objects FuzzListObjects lists: shared prefixes,
// delimiters inside and at the ends, bytes XML and URLs escape, and
// multi-byte UTF-8.
var listFuzzKeys = []string{
	"a", "a b", "a+b", "a%2F", "a/", "a/b", "a/b/c", "a//d", "a/c", "ab",
	"b/", "b//c", "c&<>\"'", "d\t", "d\r\n", "é/ü", "日本/語", "z", "zz/y/x", "~x",
}

// listWire is the part of a ListBucketResult the fuzz target reads.
type listWire struct {
	Prefix                string
	Delimiter             string
	MaxKeys               int
	KeyCount              int
	EncodingType          string
	IsTruncated           bool
	NextMarker            string
	NextContinuationToken string
	Contents              []struct{ Key string }
	CommonPrefixes        []struct{ Prefix string }
}

// FuzzListObjects sends ListObjects (v1 and v2) with fuzzed parameters to
// a handler over a real engine holding listFuzzKeys. Bad parameters must
// be InvalidArgument; good ones must page, through NextMarker or
// continuation tokens, to exactly the listing computed here from the key
// set by brute force, no page longer than max-keys.
func FuzzListObjects(f *testing.F) {
	eng, err := local.Open(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { eng.Close() })
	h := New(Config{Backend: eng, Auth: rootAuth{}})
	put := func(target, body string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("PUT", "http://s3.test"+target, strings.NewReader(body)))
		if w.Code != http.StatusOK {
			f.Fatalf("PUT %s: %d %s", target, w.Code, w.Body)
		}
	}
	put("/bkt", "")
	for _, k := range listFuzzKeys {
		put("/bkt/"+url.PathEscape(k), "x")
	}

	f.Add(true, "", "", "", false, "", false, "", "", "")
	f.Add(true, "a", "/", "1", true, "", false, "", "", "url")
	f.Add(false, "", "/", "2", true, "", false, "", "a/b", "")
	f.Add(false, "a/", "/", "0", true, "", false, "", "", "url")
	f.Add(true, "", "b", "3", true, "YS8", true, "zz", "", "")
	f.Add(true, "", "", "-1", true, "", false, "", "", "")
	f.Add(true, "", "", "+2", true, "", true, "", "", "")
	f.Add(true, "", "", "99999999999999999999", true, "!!", true, "", "", "URL")
	f.Add(false, "日", "/", "1", true, "", false, "", "a/", "url")
	f.Add(true, "a", "a", "1", true, "", false, "a/b/c", "", "")
	f.Fuzz(func(t *testing.T, v2 bool, prefix, delimiter, maxKeys string, hasMaxKeys bool, token string, hasToken bool, startAfter, marker, encoding string) {
		for _, s := range []string{prefix, delimiter, maxKeys, token, startAfter, marker, encoding} {
			if len(s) > 1100 {
				return
			}
		}
		q := url.Values{}
		set := func(name, v string) {
			if v != "" {
				q.Set(name, v)
			}
		}
		set("prefix", prefix)
		set("delimiter", delimiter)
		set("encoding-type", encoding)
		if hasMaxKeys {
			q.Set("max-keys", maxKeys)
		}
		after := marker
		if v2 {
			q.Set("list-type", "2")
			set("start-after", startAfter)
			after = startAfter
			if hasToken {
				q.Set("continuation-token", token)
			}
		} else {
			set("marker", marker)
		}

		// What S3 refuses, decided here apart from the handler.
		limit := 1000
		bad := false
		if hasMaxKeys {
			n, err := strconv.ParseInt(strings.TrimPrefix(maxKeys, "+"), 10, 64)
			digits := strings.TrimLeft(strings.TrimPrefix(maxKeys, "+"), "0123456789") == "" && maxKeys != "+" && maxKeys != ""
			switch {
			case maxKeys == "-0" || (strings.HasPrefix(maxKeys, "-") && strings.Trim(maxKeys[1:], "0") == "" && len(maxKeys) > 1):
				limit = 0
			case !digits || err != nil:
				bad = true
			default:
				limit = int(min(n, 1000))
			}
		}
		if encoding != "" && encoding != "url" {
			bad = true
		}
		if v2 && hasToken {
			dec, err := base64.RawURLEncoding.DecodeString(token)
			if err != nil || token == "" {
				bad = true
			}
			after = string(dec)
		}

		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "http://s3.test/bkt?"+q.Encode(), nil))
		if bad {
			var e errorBody
			_ = xml.Unmarshal(w.Body.Bytes(), &e)
			if w.Code != http.StatusBadRequest || e.Code != "InvalidArgument" {
				t.Fatalf("GET /bkt?%s: %d %s, want 400 InvalidArgument", q.Encode(), w.Code, w.Body)
			}
			return
		}
		want := referenceListing(prefix, delimiter, after)
		var got []string
		for page := 0; ; page++ {
			if w.Code != http.StatusOK {
				t.Fatalf("GET /bkt?%s: %d %s", q.Encode(), w.Code, w.Body)
			}
			var res listWire
			if err := xml.NewDecoder(bytes.NewReader(w.Body.Bytes())).Decode(&res); err != nil {
				t.Fatalf("GET /bkt?%s: %v\n%s", q.Encode(), err, w.Body)
			}
			dec := func(s string) string {
				if encoding != "url" {
					return s
				}
				d, err := url.QueryUnescape(s)
				if err != nil {
					t.Fatalf("%q is not query-escaped: %v", s, err)
				}
				return d
			}
			n := len(res.Contents) + len(res.CommonPrefixes)
			if n > limit || res.MaxKeys != limit || (v2 && res.KeyCount != n) {
				t.Fatalf("GET /bkt?%s: %d entries, MaxKeys %d, KeyCount %d; limit %d", q.Encode(), n, res.MaxKeys, res.KeyCount, limit)
			}
			if encoding != "url" && (!xmlClean(prefix) || !xmlClean(delimiter)) {
				// XML 1.0 cannot carry these characters, so the echo and any
				// common prefix or NextMarker hold U+FFFD in their place, as
				// encoding/xml writes them; encoding-type=url is the way to
				// list such names, and that case is checked in full.
				if res.Prefix != xmlSafe(prefix) || res.Delimiter != xmlSafe(delimiter) {
					t.Fatalf("GET /bkt?%s echoes prefix %q delimiter %q", q.Encode(), res.Prefix, res.Delimiter)
				}
				return
			}
			if dec(res.Prefix) != prefix || dec(res.Delimiter) != delimiter {
				t.Fatalf("GET /bkt?%s echoes prefix %q delimiter %q", q.Encode(), res.Prefix, res.Delimiter)
			}
			var entries []string
			for _, c := range res.Contents {
				entries = append(entries, dec(c.Key))
			}
			for _, c := range res.CommonPrefixes {
				entries = append(entries, dec(c.Prefix))
			}
			sort.Strings(entries)
			got = append(got, entries...)
			if !res.IsTruncated || limit == 0 {
				if limit == 0 && (n != 0 || res.IsTruncated) {
					t.Fatalf("max-keys 0 gave %d entries, truncated %v", n, res.IsTruncated)
				}
				break
			}
			if n == 0 || page > len(listFuzzKeys) {
				t.Fatalf("GET /bkt?%s: truncated page %d of %d entries", q.Encode(), page, n)
			}
			if v2 {
				if res.NextContinuationToken == "" {
					t.Fatal("truncated v2 page without NextContinuationToken")
				}
				q.Set("continuation-token", res.NextContinuationToken)
			} else {
				next := entries[len(entries)-1]
				if delimiter != "" {
					if res.NextMarker == "" {
						t.Fatal("truncated v1 page with a delimiter but no NextMarker")
					}
					next = dec(res.NextMarker)
				}
				q.Set("marker", next)
			}
			w = httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", "http://s3.test/bkt?"+q.Encode(), nil))
		}
		if limit == 0 {
			return
		}
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Fatalf("GET /bkt?%s listed\n%q\nwant\n%q", q.Encode(), got, want)
		}
	})
}

// xmlSafe is s as encoding/xml writes it: each invalid UTF-8 byte and each
// character outside XML 1.0's Char production becomes U+FFFD.
func xmlSafe(s string) string {
	var b strings.Builder
	for _, r := range s {
		if !xmlChar(r) {
			r = '\uFFFD'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func xmlClean(s string) bool { return utf8.ValidString(s) && xmlSafe(s) == s }

func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// referenceListing lists listFuzzKeys by the definition: keys with prefix,
// each rolled up to its common prefix when the delimiter follows the
// prefix, keeping entries that sort after after, each once, in order.
func referenceListing(prefix, delimiter, after string) []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range listFuzzKeys {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		e := k
		if delimiter != "" {
			if i := strings.Index(k[len(prefix):], delimiter); i >= 0 {
				e = k[:len(prefix)+i+len(delimiter)]
			}
		}
		if e > after && !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	sort.Strings(out)
	return out
}
