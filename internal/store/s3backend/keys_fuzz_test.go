package s3backend

import (
	"cmp"
	"context"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"mirrorstore/internal/store"
)

var validBucket = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

func validKey(k string) bool { return k != "" && len(k) <= 1024 && utf8.ValidString(k) }

// rollup is the listing entry of key k: its common prefix, or k itself.
func rollup(k, prefix, delimiter string) string {
	if delimiter != "" {
		if i := strings.Index(k[len(prefix):], delimiter); i >= 0 {
			return k[:len(prefix)+i+len(delimiter)]
		}
	}
	return k
}

// fuzzUploadID makes an upload id as CreateMultipartUpload does, from a
// time and a backend id of printable ASCII.
func fuzzUploadID(ns int64, backend string) string {
	b := []byte(backend)
	for i := range b {
		b[i] = '!' + b[i]%('~'-'!'+1)
	}
	if len(b) == 0 {
		b = []byte("x")
	}
	return encodeUploadID(time.Unix(0, ns), string(b))
}

// FuzzBackendKeyLayout checks how names map onto the backend bucket's keys
// (see the package comment) for any two (bucket, key, upload) and any
// listing prefix, delimiter and markers:
//   - object and upload record keys read back to their names, no two
//     distinct names share one, and metadata never meets objects;
//   - a bucket's object and upload prefixes hold exactly its own names,
//     and a listing prefix exactly the names with it;
//   - object keys sort as the names do, upload records as (name, id);
//   - the StartAfter of an uploads listing skips exactly the uploads at
//     or before the markers, and that of an object listing skips no entry
//     after After and lets through no plain key at or before it.
func FuzzBackendKeyLayout(f *testing.F) {
	f.Add("bkt", "a", "bkt", "ab", "", "", "a", "", int64(1), "id1", int64(2), "id2")
	// Marker "a" once skipped the uploads of "ab".
	f.Add("bkt", "ab", "bkt", "a", "", "", "a", "", int64(1), "id1", int64(2), "id2")
	f.Add("bkt", "a/b", "bkt", "a/c", "a", "/", "a/b", "0", int64(5), "x", int64(5), "y")
	f.Add("bkt", "a/\U0010FFFFz", "bkt", "b", "", "/", "a/\xff", "", int64(0), "", int64(0), "")
	f.Add("b.c", "d", "b", "c/d", "", "", "", "", int64(-1), "~~", int64(1<<62), "/")
	f.Add("bkt", "xaab", "bkt", "xab", "", "aa", "xaaa", "", int64(3), "a", int64(3), "a")
	f.Fuzz(func(t *testing.T, b1, k1, b2, k2, prefix, delimiter, after, idMarker string, t1 int64, r1 string, t2 int64, r2 string) {
		if !validBucket.MatchString(b1) || !validBucket.MatchString(b2) || !validKey(k1) || !validKey(k2) {
			return
		}
		id1, id2 := fuzzUploadID(t1, r1), fuzzUploadID(t2, r2)
		same := b1 == b2 && k1 == k2

		o1, o2 := objectKey(b1, k1), objectKey(b2, k2)
		base1 := objectPrefix + b1 + "/"
		if strings.TrimPrefix(o1, base1) != k1 || !strings.HasPrefix(o1, base1) {
			t.Fatalf("objectKey(%q, %q) = %q does not read back", b1, k1, o1)
		}
		if (o1 == o2) != same || strings.HasPrefix(o2, base1) != (b1 == b2) {
			t.Fatalf("objects (%q,%q) %q and (%q,%q) %q", b1, k1, o1, b2, k2, o2)
		}
		for _, m := range []string{bucketRecordKey(b2), configKey(b2, k2), uploadRecordKey(b2, k2, id2)} {
			if !strings.HasPrefix(m, metaPrefix) || strings.HasPrefix(m, objectPrefix) {
				t.Fatalf("metadata key %q outside %q", m, metaPrefix)
			}
		}
		if strings.HasPrefix(o1, metaPrefix) {
			t.Fatalf("object key %q among the metadata", o1)
		}
		if (configKey(b1, k1) == configKey(b2, k2)) != same {
			t.Fatalf("config keys of (%q,%q), (%q,%q)", b1, k1, b2, k2)
		}

		u1, u2 := uploadRecordKey(b1, k1, id1), uploadRecordKey(b2, k2, id2)
		ub1 := uploadsPrefix(b1)
		hexKey, id, ok := strings.Cut(strings.TrimPrefix(u1, ub1), "/")
		raw, err := hex.DecodeString(hexKey)
		if !ok || err != nil || string(raw) != k1 || id != id1 {
			t.Fatalf("upload record %q does not read back to (%q, %q)", u1, k1, id1)
		}
		if (u1 == u2) != (same && id1 == id2) || strings.HasPrefix(u2, ub1) != (b1 == b2) {
			t.Fatalf("upload records %q and %q", u1, u2)
		}
		if b1 != b2 {
			return
		}
		b := b1

		if sign(strings.Compare(o1, o2)) != sign(strings.Compare(k1, k2)) {
			t.Fatalf("objects %q, %q sort unlike their names", k1, k2)
		}
		want := strings.Compare(k1, k2)
		if want == 0 {
			want = strings.Compare(id1, id2)
		}
		if sign(strings.Compare(u1, u2)) != sign(want) {
			t.Fatalf("upload records of (%q,%s), (%q,%s) sort unlike them", k1, id1, k2, id2)
		}
		if strings.HasPrefix(u1, ub1+hex.EncodeToString([]byte(prefix))) != strings.HasPrefix(k1, prefix) {
			t.Fatalf("upload record of %q against prefix %q", k1, prefix)
		}

		// Uploads after the markers (after as the key marker).
		if start := uploadsStartAfter(b, store.ListUploadsOptions{KeyMarker: after, UploadIDMarker: idMarker}); after != "" {
			listed := k1 > after || (idMarker != "" && k1 == after && id1 > idMarker)
			if (u1 > start) != listed {
				t.Fatalf("upload (%q,%s) against markers (%q,%q): StartAfter %q lists it: %v", k1, id1, after, idMarker, start, u1 > start)
			}
		} else if start != "" {
			t.Fatalf("StartAfter %q without a key marker", start)
		}

		// Objects after After.
		if !strings.HasPrefix(k1, prefix) {
			return
		}
		sa := objectPrefix + b + "/" + startAfter(store.ListOptions{Prefix: prefix, Delimiter: delimiter, After: after})
		e := rollup(k1, prefix, delimiter)
		if e > after && !(o1 > sa) {
			t.Fatalf("key %q (entry %q) is after %q but StartAfter %q skips it", k1, e, after, sa)
		}
		if e == k1 && k1 <= after && o1 > sa {
			t.Fatalf("key %q is at or before %q but StartAfter %q lets it through", k1, after, sa)
		}
	})
}

func sign(n int) int { return cmp.Compare(n, 0) }

// TestUploadsAfterKeyMarker: a key marker alone once skipped the uploads
// of every key it is a prefix of ("a" skipped "ab"), on MinIO.
func TestUploadsAfterKeyMarker(t *testing.T) {
	ctx := context.Background()
	b := newBackend(t)
	mustBucket(t, b, "bkt")
	for _, k := range []string{"a", "ab", "a/b", "b"} {
		if _, err := b.CreateMultipartUpload(ctx, "bkt", k, store.ObjectAttrs{}); err != nil {
			t.Fatal(err)
		}
	}
	for marker, want := range map[string]string{"a": "a/b,ab,b", "a/": "a/b,ab,b", "ab": "b", "": "a,a/b,ab,b"} {
		res, err := b.ListMultipartUploads(ctx, "bkt", store.ListUploadsOptions{KeyMarker: marker})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, u := range res.Uploads {
			got = append(got, u.Key)
		}
		if strings.Join(got, ",") != want {
			t.Errorf("key marker %q listed %q, want %q", marker, got, want)
		}
	}
}
