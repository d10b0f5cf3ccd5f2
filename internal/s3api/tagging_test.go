package s3api

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

func taggingBody(pairs ...string) []byte {
	var b strings.Builder
	b.WriteString(`<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet>`)
	for i := 0; i+1 < len(pairs); i += 2 {
		fmt.Fprintf(&b, "<Tag><Key>%s</Key><Value>%s</Value></Tag>", pairs[i], pairs[i+1])
	}
	b.WriteString("</TagSet></Tagging>")
	return []byte(b.String())
}

// manyTags returns n distinct key, value pairs.
func manyTags(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("k%d", i), "v")
	}
	return out
}

func TestObjectTagging(t *testing.T) {
	a := newAPIHarness(t)
	a.ok(200, "PUT", "/tags", nil)
	etag := etagOf(a.ok(200, "PUT", "/tags/o", []byte("body"), "X-Amz-Tagging", "team=web&env=prod%20eu").Header())
	if got := a.ok(200, "HEAD", "/tags/o", nil).Header().Get("X-Amz-Tagging-Count"); got != "2" {
		t.Fatalf("x-amz-tagging-count %q", got)
	}

	var tg tagging
	a.decode(a.ok(200, "GET", "/tags/o?tagging", nil), &tg)
	if len(tg.TagSet.Tags) != 2 || tg.TagSet.Tags[0] != (tagWire{"env", "prod eu"}) || tg.TagSet.Tags[1] != (tagWire{"team", "web"}) {
		t.Fatalf("get tagging: %+v", tg)
	}

	// Put replaces the set whole and leaves the object as it was.
	key128 := strings.Repeat("é", 128)
	value256 := strings.Repeat("ü", 256)
	a.ok(200, "PUT", "/tags/o?tagging", taggingBody(append(manyTags(9), key128, value256)...))
	a.decode(a.ok(200, "GET", "/tags/o?tagging", nil), &tg)
	if len(tg.TagSet.Tags) != 10 {
		t.Fatalf("after put: %d tags", len(tg.TagSet.Tags))
	}
	h := a.ok(200, "GET", "/tags/o", nil).Header()
	if h.Get("X-Amz-Tagging-Count") != "10" || etagOf(h) != etag {
		t.Fatalf("GET after put tagging: %v", h)
	}

	a.ok(204, "DELETE", "/tags/o?tagging", nil)
	w := a.ok(200, "GET", "/tags/o?tagging", nil)
	a.decode(w, &tg)
	if len(tg.TagSet.Tags) != 0 || !strings.Contains(w.Body.String(), "<TagSet></TagSet>") {
		t.Fatalf("after delete: %s", w.Body.String())
	}
	if got := a.ok(200, "HEAD", "/tags/o", nil).Header().Get("X-Amz-Tagging-Count"); got != "" {
		t.Fatalf("x-amz-tagging-count after delete: %q", got)
	}

	a.fails(404, "NoSuchKey", "GET", "/tags/missing?tagging", nil)
	a.fails(404, "NoSuchKey", "PUT", "/tags/missing?tagging", taggingBody("a", "b"))
	a.fails(404, "NoSuchKey", "DELETE", "/tags/missing?tagging", nil)
	a.fails(404, "NoSuchBucket", "GET", "/nobucket/o?tagging", nil)
	a.fails(400, "InvalidArgument", "GET", "/tags/o?tagging&versionId=abc", nil)
}

func TestTaggingLimits(t *testing.T) {
	a := newAPIHarness(t)
	a.ok(200, "PUT", "/tags", nil)
	a.ok(200, "PUT", "/tags/o", []byte("body"))
	tooLongKey := strings.Repeat("k", 129)
	tooLongValue := strings.Repeat("v", 257)

	xmlCases := []struct {
		name   string
		body   []byte
		status int
		code   string
	}{
		{"eleven tags", taggingBody(manyTags(11)...), 400, "BadRequest"},
		{"key too long", taggingBody(tooLongKey, "v"), 400, "InvalidTag"},
		{"value too long", taggingBody("k", tooLongValue), 400, "InvalidTag"},
		{"empty key", taggingBody("", "v"), 400, "InvalidTag"},
		{"duplicate key", taggingBody("k", "1", "k", "2"), 400, "InvalidTag"},
		{"aws prefix", taggingBody("aws:cloudformation", "v"), 400, "InvalidTag"},
		{"AWS prefix", taggingBody("AWS:x", "v"), 400, "InvalidTag"},
		{"not XML", []byte("tags!"), 400, "MalformedXML"},
		{"unclosed", []byte("<Tagging><TagSet>"), 400, "MalformedXML"},
	}
	for _, tt := range xmlCases {
		t.Run("PutObjectTagging "+tt.name, func(t *testing.T) {
			a.t = t
			a.fails(tt.status, tt.code, "PUT", "/tags/o?tagging", tt.body)
		})
	}
	a.t = t
	a.fails(400, "BadDigest", "PUT", "/tags/o?tagging", taggingBody("a", "b"), "Content-Md5", "AAAAAAAAAAAAAAAAAAAAAA==")

	hdr := func(pairs ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(pairs); i += 2 {
			v.Add(pairs[i], pairs[i+1])
		}
		return v.Encode()
	}
	headerCases := []struct {
		name, value string
		code        string
	}{
		{"eleven tags", hdr(manyTags(11)...), "BadRequest"},
		{"key too long", hdr(tooLongKey, "v"), "InvalidTag"},
		{"value too long", hdr("k", tooLongValue), "InvalidTag"},
		{"duplicate key", "k=1&k=2", "InvalidTag"},
		{"aws prefix", hdr("aws:x", "v"), "InvalidTag"},
		{"bad escape", "k=%zz", "InvalidArgument"},
	}
	for _, tt := range headerCases {
		for _, op := range []struct{ method, target string }{{"PUT", "/tags/h"}, {"POST", "/tags/h?uploads"}} {
			t.Run(op.method+" x-amz-tagging "+tt.name, func(t *testing.T) {
				a.t = t
				a.fails(400, tt.code, op.method, op.target, nil, "X-Amz-Tagging", tt.value)
			})
		}
	}
	a.t = t
	// No header case stored anything.
	if w := a.do("HEAD", "/tags/h", nil); w.Code != 404 {
		t.Fatalf("HEAD after refused puts: %d", w.Code)
	}
	// Ten tags at the longest lengths (in characters, not bytes) pass.
	long := hdr(append(manyTags(9), strings.Repeat("ß", 128), strings.Repeat("日", 256))...)
	a.ok(200, "PUT", "/tags/h", []byte("x"), "X-Amz-Tagging", long)
	if got := a.ok(200, "HEAD", "/tags/h", nil).Header().Get("X-Amz-Tagging-Count"); got != "10" {
		t.Fatalf("tagging count %q", got)
	}
}

func TestCopyObjectTaggingDirective(t *testing.T) {
	a := newAPIHarness(t)
	a.ok(200, "PUT", "/tags", nil)
	a.ok(200, "PUT", "/tags/src", []byte("body"), "X-Amz-Tagging", "a=1&b=2")
	a.ok(200, "PUT", "/tags/copy", nil, "X-Amz-Copy-Source", "/tags/src", "X-Amz-Tagging", "ignored=1")
	var tg tagging
	a.decode(a.ok(200, "GET", "/tags/copy?tagging", nil), &tg)
	if len(tg.TagSet.Tags) != 2 || tg.TagSet.Tags[0].Key != "a" {
		t.Fatalf("COPY directive: %+v", tg)
	}
	a.ok(200, "PUT", "/tags/replaced", nil, "X-Amz-Copy-Source", "/tags/src", "X-Amz-Tagging-Directive", "REPLACE", "X-Amz-Tagging", "c=3")
	a.decode(a.ok(200, "GET", "/tags/replaced?tagging", nil), &tg)
	if len(tg.TagSet.Tags) != 1 || tg.TagSet.Tags[0] != (tagWire{"c", "3"}) {
		t.Fatalf("REPLACE directive: %+v", tg)
	}
	a.fails(400, "InvalidTag", "PUT", "/tags/bad", nil, "X-Amz-Copy-Source", "/tags/src", "X-Amz-Tagging-Directive", "REPLACE", "X-Amz-Tagging", "aws:x=1")
	a.fails(400, "InvalidArgument", "PUT", "/tags/bad", nil, "X-Amz-Copy-Source", "/tags/src", "X-Amz-Tagging-Directive", "MERGE")
}
