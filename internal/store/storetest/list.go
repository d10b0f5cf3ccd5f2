package storetest

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"

	"mirrorstore/internal/store"
)

var listTests = []suite{
	{"List/Empty", testListEmpty},
	{"List/ByteOrder", testListByteOrder},
	{"List/Prefix", testListPrefix},
	{"List/Delimiter", testListDelimiter},
	{"List/Pagination", testListPagination},
	{"List/AfterCommonPrefix", testListAfterCommonPrefix},
	{"List/TruncationAtEnd", testListTruncationAtEnd},
}

func list(t *testing.T, b store.Backend, bucket string, opts store.ListOptions) store.ListResult {
	t.Helper()
	res, err := b.ListObjects(context.Background(), bucket, opts)
	if err != nil {
		t.Fatalf("ListObjects(%+v): %v", opts, err)
	}
	return res
}

func putKeys(t *testing.T, b store.Backend, bucket string, keys []string) {
	t.Helper()
	for _, k := range keys {
		put(t, b, bucket, k, []byte(k))
	}
}

func testListEmpty(t *testing.T, b store.Backend) {
	bucket := newBucket(t, b)
	res := list(t, b, bucket, store.ListOptions{Delimiter: "/"})
	if len(res.Objects)+len(res.CommonPrefixes) != 0 || res.IsTruncated || res.NextAfter != "" {
		t.Fatalf("empty bucket lists %+v", res)
	}
}

// testListByteOrder: S3 lists keys in UTF-8 byte order, which differs from
// UTF-16 order (U+FFFD sorts before U+1F600 byte-wise, after it in UTF-16).
func testListByteOrder(t *testing.T, b store.Backend) {
	bucket := newBucket(t, b)
	keys := []string{"b", "a", "A", "a/", "a-", "a0", "\uFFFD", "😀", "é", "z", "~", "a/b"}
	putKeys(t, b, bucket, keys)
	want := slices.Clone(keys)
	sort.Strings(want)
	res := list(t, b, bucket, store.ListOptions{})
	if got := objectKeys(res); !equalStrings(got, want) {
		t.Fatalf("order = %q, want %q", got, want)
	}
	for _, o := range res.Objects {
		if o.Size != int64(len(o.Key)) || o.ETag != md5hex([]byte(o.Key)) || o.LastModified.IsZero() {
			t.Fatalf("listed info %+v", o)
		}
	}
}

func testListPrefix(t *testing.T, b store.Backend) {
	bucket := newBucket(t, b)
	putKeys(t, b, bucket, []string{"ab", "abc", "abd/e", "ac", "a", "b", "é1", "é2", "éa"})
	for prefix, want := range map[string][]string{
		"ab":  {"ab", "abc", "abd/e"},
		"a":   {"a", "ab", "abc", "abd/e", "ac"},
		"é":   {"é1", "é2", "éa"},
		"abz": nil,
		"":    {"a", "ab", "abc", "abd/e", "ac", "b", "é1", "é2", "éa"},
	} {
		if got := objectKeys(list(t, b, bucket, store.ListOptions{Prefix: prefix})); !equalStrings(got, want) {
			t.Fatalf("prefix %q: %q, want %q", prefix, got, want)
		}
	}
}

func testListDelimiter(t *testing.T, b store.Backend) {
	bucket := newBucket(t, b)
	putKeys(t, b, bucket, []string{
		"a/1", "a/2", "a/b/3", "b/x/1", "b/y", "c", "d/", "é/1", "é/2", "éa",
		"x--y--z", "x--w", "x-y", "xéy", "xéz/1", "日/本", "日本",
	})
	cases := []struct {
		prefix, delim string
		objects, cps  []string
	}{
		{"", "/", []string{"c", "x--w", "x--y--z", "x-y", "xéy", "éa", "日本"}, []string{"a/", "b/", "d/", "xéz/", "é/", "日/"}},
		{"b/", "/", []string{"b/y"}, []string{"b/x/"}},
		{"a/", "/", []string{"a/1", "a/2"}, []string{"a/b/"}},
		{"d/", "/", []string{"d/"}, nil},
		{"x", "--", []string{"x-y", "xéy", "xéz/1"}, []string{"x--"}},
		{"x--", "--", []string{"x--w"}, []string{"x--y--"}},
		{"", "é", []string{"a/1", "a/2", "a/b/3", "b/x/1", "b/y", "c", "d/", "x--w", "x--y--z", "x-y", "日/本", "日本"}, []string{"xé", "é"}},
		{"", "本", []string{"a/1", "a/2", "a/b/3", "b/x/1", "b/y", "c", "d/", "x--w", "x--y--z", "x-y", "xéy", "xéz/1", "é/1", "é/2", "éa"}, []string{"日/本", "日本"}},
		{"zzz", "/", nil, nil},
	}
	for _, c := range cases {
		res := list(t, b, bucket, store.ListOptions{Prefix: c.prefix, Delimiter: c.delim})
		if got := objectKeys(res); !equalStrings(got, c.objects) {
			t.Fatalf("prefix %q delimiter %q: objects %q, want %q", c.prefix, c.delim, got, c.objects)
		}
		if !equalStrings(res.CommonPrefixes, c.cps) {
			t.Fatalf("prefix %q delimiter %q: common prefixes %q, want %q", c.prefix, c.delim, res.CommonPrefixes, c.cps)
		}
		if res.IsTruncated {
			t.Fatalf("prefix %q delimiter %q: truncated", c.prefix, c.delim)
		}
	}
}

// entries merges a page's objects and common prefixes in key order.
func entries(res store.ListResult) []string {
	out := append(objectKeys(res), res.CommonPrefixes...)
	sort.Strings(out)
	return out
}

// testListPagination: walking with every page size yields exactly the
// unpaged listing, each page at most MaxKeys long.
func testListPagination(t *testing.T, b store.Backend) {
	bucket := newBucket(t, b)
	putKeys(t, b, bucket, []string{"a/1", "a/2", "b", "c/1", "c/2", "c/3", "d", "e/", "e/f", "g"})
	for _, o := range []store.ListOptions{{}, {Delimiter: "/"}, {Prefix: "c/"}, {Prefix: "c", Delimiter: "/"}} {
		whole := entries(list(t, b, bucket, o))
		for size := 1; size <= len(whole)+1; size++ {
			var got []string
			opts := o
			opts.MaxKeys = size
			for pages := 0; ; pages++ {
				if pages > len(whole)+1 {
					t.Fatalf("%+v: pagination does not end", opts)
				}
				res := list(t, b, bucket, opts)
				page := entries(res)
				if len(page) > size {
					t.Fatalf("%+v: page of %d entries", opts, len(page))
				}
				got = append(got, page...)
				if !res.IsTruncated {
					break
				}
				if res.NextAfter != page[len(page)-1] {
					t.Fatalf("%+v: NextAfter %q, last entry %q", opts, res.NextAfter, page[len(page)-1])
				}
				opts.After = res.NextAfter
			}
			if !equalStrings(got, whole) {
				t.Fatalf("%+v paged by %d: %q, want %q", o, size, got, whole)
			}
		}
	}
}

// testListAfterCommonPrefix: a common prefix at or before After (the v2
// continuation point may be a common prefix) is not listed again.
func testListAfterCommonPrefix(t *testing.T, b store.Backend) {
	bucket := newBucket(t, b)
	putKeys(t, b, bucket, []string{"a/1", "a/2", "a0", "b/1", "c"})
	cases := []struct {
		after string
		want  []string
	}{
		{"a/", []string{"a0", "b/", "c"}},
		{"a/1", []string{"a0", "b/", "c"}},
		{"a", []string{"a/", "a0", "b/", "c"}},
		{"b/", []string{"c"}},
		{"c", nil},
		{"zzz", nil},
	}
	for _, c := range cases {
		res := list(t, b, bucket, store.ListOptions{Delimiter: "/", After: c.after})
		if got := entries(res); !equalStrings(got, c.want) {
			t.Fatalf("After %q: %q, want %q", c.after, got, c.want)
		}
	}
	// Without a delimiter After is a plain key bound.
	if got := objectKeys(list(t, b, bucket, store.ListOptions{After: "a/1"})); !equalStrings(got, []string{"a/2", "a0", "b/1", "c"}) {
		t.Fatalf("After a/1 without delimiter: %q", got)
	}
	if got := objectKeys(list(t, b, bucket, store.ListOptions{Prefix: "b", After: "a"})); !equalStrings(got, []string{"b/1"}) {
		t.Fatalf("After before Prefix: %q", got)
	}
}

func testListTruncationAtEnd(t *testing.T, b store.Backend) {
	bucket := newBucket(t, b)
	putKeys(t, b, bucket, []string{"a", "b/1", "b/2", "c"})
	// Exactly MaxKeys entries left: not truncated (S3 answers IsTruncated
	// false rather than an empty last page).
	res := list(t, b, bucket, store.ListOptions{Delimiter: "/", MaxKeys: 3})
	if res.IsTruncated || !equalStrings(entries(res), []string{"a", "b/", "c"}) {
		t.Fatalf("MaxKeys 3 of 3: %+v", res)
	}
	res = list(t, b, bucket, store.ListOptions{Delimiter: "/", MaxKeys: 2})
	if !res.IsTruncated || res.NextAfter != "b/" || !equalStrings(entries(res), []string{"a", "b/"}) {
		t.Fatalf("MaxKeys 2 of 3: %+v", res)
	}
	res = list(t, b, bucket, store.ListOptions{Delimiter: "/", MaxKeys: 1, After: "b/"})
	if res.IsTruncated || !equalStrings(entries(res), []string{"c"}) {
		t.Fatalf("last page of 1: %+v", res)
	}
	res = list(t, b, bucket, store.ListOptions{MaxKeys: 4})
	if res.IsTruncated || len(res.Objects) != 4 {
		t.Fatalf("MaxKeys 4 of 4 keys: %+v", res)
	}
	if strings.Join(objectKeys(list(t, b, bucket, store.ListOptions{MaxKeys: 1, After: "b/2"})), ",") != "c" {
		t.Fatal("MaxKeys 1 after b/2 did not return c")
	}
}
