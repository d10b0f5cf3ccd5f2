package local

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"mirrorstore/internal/store"
)

// validBucket is S3's bucket-name rule, which the API enforces before any
// name reaches the engine.
var validBucket = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// validKey is what the API lets through as an object key.
func validKey(k string) bool {
	return k != "" && len(k) <= 1024 && utf8.ValidString(k) && strings.IndexByte(k, 0) < 0
}

func sign(n int) int { return cmp.Compare(n, 0) }

// inRange reports whether k lies in [lower, upper), nil upper meaning
// unbounded.
func inRange(k, lower, upper []byte) bool {
	return bytes.Compare(k, lower) >= 0 && (upper == nil || bytes.Compare(k, upper) < 0)
}

// FuzzKeyLayout checks the Pebble key layout of keys.go for any two
// (bucket, key, upload, part) and any listing prefix and markers:
//   - the object key reads back to its bucket and key, and no two
//     distinct pairs share an object, upload, part or config key;
//   - within a bucket, object keys sort as the object names do, and
//     uploads as (name, upload id);
//   - a bucket's prefix range holds exactly its own records, a listing
//     prefix's range exactly the names with that prefix, and the start
//     of a listing after a marker skips exactly the names (and uploads)
//     at or before it;
//   - parts sort by number under their upload's prefix;
//   - prefixEnd is the least key above everything starting with p.
func FuzzKeyLayout(f *testing.F) {
	f.Add("bkt", "a", "bkt", "a/b", "a", "a", "", []byte("0123456789abcdef"), []byte("fedcba9876543210"), uint16(1), uint16(2))
	f.Add("bkt", "a", "bkt", "a\x01", "a", "a", "00", []byte("id"), []byte("id"), uint16(10000), uint16(9999))
	f.Add("bk", "ta", "bkt", "a", "", "b", "", []byte{}, []byte{0xff}, uint16(0), uint16(65535))
	f.Add("a.b", "c", "a", "b.c", "\xff", "a\x00b", "zz", []byte{1}, []byte{2}, uint16(256), uint16(255))
	f.Add("bkt", "日本", "bkt", "日本/語", "日", "日本", "\x00", []byte("x"), []byte("x"), uint16(3), uint16(3))
	// A key marker holding a NUL once started inside the uploads of the
	// key before the NUL.
	f.Add("bkt", "a", "bkt", "b", "", "a\x00", "", []byte("x"), []byte("y"), uint16(1), uint16(1))
	f.Add("bkt", "a", "bkt", "b", "", "a\x00b", "0", []byte("x"), []byte("y"), uint16(1), uint16(1))
	f.Fuzz(func(t *testing.T, b1, k1, b2, k2, prefix, marker, idMarker string, r1, r2 []byte, p1, p2 uint16) {
		if !validBucket.MatchString(b1) || !validBucket.MatchString(b2) || !validKey(k1) || !validKey(k2) {
			return
		}
		id1, id2 := uploadID(r1), uploadID(r2)

		// Objects: read-back and distinctness.
		o1, o2 := objectKey(b1, k1), objectKey(b2, k2)
		base1 := bucketPrefix(kindObject, b1)
		if !bytes.HasPrefix(o1, base1) || string(o1[len(base1):]) != k1 {
			t.Fatalf("objectKey(%q, %q) = %q does not read back", b1, k1, o1)
		}
		same := b1 == b2 && k1 == k2
		if bytes.Equal(o1, o2) != same {
			t.Fatalf("objectKey(%q,%q) = %q, objectKey(%q,%q) = %q", b1, k1, o1, b2, k2, o2)
		}
		if bytes.Equal(uploadKey(b1, k1, id1), uploadKey(b2, k2, id2)) != (same && id1 == id2) {
			t.Fatalf("upload keys of (%q,%q,%s) and (%q,%q,%s) collide or differ wrongly", b1, k1, id1, b2, k2, id2)
		}
		if bytes.Equal(configKey(b1, k1), configKey(b2, k2)) != same {
			t.Fatalf("config keys of (%q,%q) and (%q,%q)", b1, k1, b2, k2)
		}
		// Kinds never meet: each record kind owns its first byte.
		for _, k := range [][]byte{bucketKey(b2), configKey(b2, k2), uploadKey(b2, k2, id2), partKey(id2, int(p2))} {
			if bytes.HasPrefix(k, base1[:2]) {
				t.Fatalf("%q lies among the object records", k)
			}
		}

		// Bucket isolation.
		if inRange(o2, base1, prefixEnd(base1)) != (b1 == b2) {
			t.Fatalf("object %q of %q in bucket %q's range: %v", k2, b2, b1, b1 != b2)
		}
		ub1 := bucketPrefix(kindUpload, b1)
		if inRange(uploadKey(b2, k2, id2), ub1, prefixEnd(ub1)) != (b1 == b2) {
			t.Fatalf("upload of %q/%q in bucket %q's upload range", b2, k2, b1)
		}
		if b1 != b2 {
			return
		}
		b := b1

		// Order within a bucket.
		if got, want := bytes.Compare(o1, o2), strings.Compare(k1, k2); sign(got) != sign(want) {
			t.Fatalf("objects %q, %q sort %d, names %d", k1, k2, got, want)
		}
		u1, u2 := uploadKey(b, k1, id1), uploadKey(b, k2, id2)
		want := strings.Compare(k1, k2)
		if want == 0 {
			want = strings.Compare(id1, id2)
		}
		if got := bytes.Compare(u1, u2); sign(got) != sign(want) {
			t.Fatalf("uploads (%q,%s), (%q,%s) sort %d, want %d", k1, id1, k2, id2, got, want)
		}

		// A listing prefix's range holds exactly the names with it. For
		// uploads the engine answers a NUL prefix itself (no name has one).
		lower := append(bucketPrefix(kindObject, b), prefix...)
		if inRange(o1, lower, prefixEnd(lower)) != strings.HasPrefix(k1, prefix) {
			t.Fatalf("object %q in the range of prefix %q: %v", k1, prefix, !strings.HasPrefix(k1, prefix))
		}
		if strings.IndexByte(prefix, 0) < 0 {
			ul := append(bucketPrefix(kindUpload, b), prefix...)
			if inRange(u1, ul, prefixEnd(ul)) != strings.HasPrefix(k1, prefix) {
				t.Fatalf("upload of %q in the range of prefix %q", k1, prefix)
			}
		}

		// Listing after a marker: objects strictly after it...
		start := append(append(bucketPrefix(kindObject, b), marker...), 0)
		if (bytes.Compare(o1, start) >= 0) != (k1 > marker) {
			t.Fatalf("object %q against marker %q", k1, marker)
		}
		// ...and uploads after (marker, idMarker), or after every upload
		// of marker when there is no id marker.
		if us := uploadsStart(b, marker, idMarker); marker != "" {
			after := k1 > marker
			if idMarker != "" && strings.IndexByte(marker, 0) < 0 {
				after = after || (k1 == marker && id1 > idMarker)
			}
			if (bytes.Compare(u1, us) >= 0) != after {
				t.Fatalf("upload (%q,%s) against markers (%q,%q): start %q", k1, id1, marker, idMarker, us)
			}
		}

		// Parts sort by number under their upload's prefix.
		n1, n2 := int(p1%10000)+1, int(p2%10000)+1
		pk1, pk2 := partKey(id1, n1), partKey(id1, n2)
		if sign(bytes.Compare(pk1, pk2)) != sign(n1-n2) || !bytes.HasPrefix(pk1, partPrefix(id1)) {
			t.Fatalf("parts %d, %d of %s: %q, %q", n1, n2, id1, pk1, pk2)
		}
		if id1 != id2 && bytes.HasPrefix(partKey(id2, n2), partPrefix(id1)) {
			t.Fatalf("part of %s under %s's prefix", id2, id1)
		}

		// prefixEnd.
		p := []byte(prefix)
		end := prefixEnd(p)
		if end == nil {
			if !allFF(p) {
				t.Fatalf("prefixEnd(%q) = nil", p)
			}
			return
		}
		if bytes.Compare(end, p) <= 0 || bytes.HasPrefix(end, p) && len(p) > 0 {
			t.Fatalf("prefixEnd(%q) = %q", p, end)
		}
		for _, x := range [][]byte{p, append(bytes.Clone(p), []byte(k1)...), append(bytes.Clone(p), 0xff, 0xff)} {
			if bytes.Compare(x, end) >= 0 {
				t.Fatalf("%q starts with %q but is not below prefixEnd %q", x, p, end)
			}
		}
		// Least: end minus one in its last byte, followed by anything,
		// still starts with p or lies below it.
		if k := []byte(k1); bytes.Compare(k, end) < 0 && bytes.Compare(k, p) >= 0 && !bytes.HasPrefix(k, p) {
			t.Fatalf("%q lies in [%q, prefixEnd %q) without starting with it", k, p, end)
		}
	})
}

// uploadID makes a well-formed upload id (uploadIDLen lowercase hex) from
// fuzz bytes.
func uploadID(r []byte) string {
	var b [uploadIDLen / 2]byte
	copy(b[:], r)
	return hex.EncodeToString(b[:])
}

// TestListUploadsNULMarkers: a prefix or key marker holding a NUL names no
// key, yet as a byte range it reached into "<key>\x00<id>" records: prefix
// "a\x00" listed the uploads of "a" (and, with a delimiter, sliced past
// the key's end), and marker "a\x00" listed "a" as if it came after.
func TestListUploadsNULMarkers(t *testing.T) {
	ctx := context.Background()
	e, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.CreateBucket(ctx, "bkt", "me"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "ab"} {
		if _, err := e.CreateMultipartUpload(ctx, "bkt", k, store.ObjectAttrs{}); err != nil {
			t.Fatal(err)
		}
	}
	keys := func(opts store.ListUploadsOptions) string {
		res, err := e.ListMultipartUploads(ctx, "bkt", opts)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, u := range res.Uploads {
			out = append(out, u.Key)
		}
		return strings.Join(append(out, res.CommonPrefixes...), ",")
	}
	for _, tc := range []struct {
		opts store.ListUploadsOptions
		want string
	}{
		{store.ListUploadsOptions{Prefix: "a\x00"}, ""},
		{store.ListUploadsOptions{Prefix: "a\x00", Delimiter: "/"}, ""},
		{store.ListUploadsOptions{KeyMarker: "a\x00"}, "ab"},
		{store.ListUploadsOptions{KeyMarker: "a\x00", UploadIDMarker: "0"}, "ab"},
		{store.ListUploadsOptions{KeyMarker: "\x00"}, "a,ab"},
		{store.ListUploadsOptions{KeyMarker: "a"}, "ab"},
	} {
		if got := keys(tc.opts); got != tc.want {
			t.Errorf("%+v listed %q, want %q", tc.opts, got, tc.want)
		}
	}
}

func allFF(p []byte) bool {
	for _, c := range p {
		if c != 0xff {
			return false
		}
	}
	return true
}
