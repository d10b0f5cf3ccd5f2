package storetest

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"io"
	"maps"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"mirrorstore/internal/store"
)

var objectTests = []suite{
	{"Object/PutGetHead", testPutGetHead},
	{"Object/LastModifiedOverride", testLastModifiedOverride},
	{"Object/UnknownSize", testUnknownSize},
	{"Object/Missing", testObjectMissing},
	{"Object/Delete", testDelete},
	{"Object/Replace", testReplace},
	{"Object/Keys", testKeys},
	{"Object/SizeMismatch", testSizeMismatch},
	{"Object/BadDigest", testBadDigest},
	{"Object/FailingBody", testFailingBody},
	{"Object/Cancelled", testCancelled},
	{"Object/Range", testRange},
	{"Object/PartNumberSinglePart", testPartNumberSingle},
	{"Object/Tags", testTags},
	{"Object/IfMatch", testIfMatch},
	{"Object/IfNoneMatchRace", testIfNoneMatchRace},
	{"Object/AtomicReplace", testAtomicReplace},
	{"Object/OpenBodySurvivesReplace", testOpenBodySurvivesReplace},
}

// sizes straddle the thresholds a backend may have (inline records, buffer
// sizes), so every storage path is exercised.
var sizes = []int{0, 1, 4095, 4096, 4097, 64 << 10, 1<<20 + 3}

func testPutGetHead(t *testing.T, b store.Backend) {
	ctx := context.Background()
	bucket := newBucket(t, b)
	attrs := store.ObjectAttrs{
		ContentType:              "text/html; charset=utf-8",
		ContentEncoding:          "gzip",
		ContentDisposition:       `attachment; filename="a b.html"`,
		ContentLanguage:          "fr",
		CacheControl:             "max-age=60",
		Expires:                  "Thu, 01 Dec 2033 16:00:00 GMT",
		AccessControlAllowOrigin: "*",
		UserMeta:                 map[string]string{"colour": "blue", "note": "ünïcode"},
		Tags:                     map[string]string{"team": "web", "empty": ""},
		MirrorOrigin:             "https://origin.example/a.html",
	}
	for _, n := range sizes {
		key := "obj-" + strings.Repeat("x", n%7)
		data := pattern(n, byte(n))
		before := time.Now().Add(-time.Second)
		info, err := b.PutObject(ctx, bucket, key, bytes.NewReader(data), store.PutOptions{Attrs: attrs, Size: int64(n)})
		if err != nil {
			t.Fatalf("PutObject(%d bytes): %v", n, err)
		}
		if info.Size != int64(n) || info.ETag != md5hex(data) || info.Key != key || info.Bucket != bucket || info.PartsCount != 0 {
			t.Fatalf("PutObject(%d bytes) info = %+v", n, info)
		}
		if info.LastModified.Before(before) || info.LastModified.After(time.Now().Add(time.Second)) {
			t.Fatalf("LastModified = %v, not now", info.LastModified)
		}
		head, err := b.HeadObject(ctx, bucket, key)
		if err != nil {
			t.Fatalf("HeadObject: %v", err)
		}
		checkInfo(t, head, info, attrs)
		obj, got := get(t, b, bucket, key, store.GetOptions{})
		if !bytes.Equal(got, data) {
			t.Fatalf("GetObject(%d bytes) returned other bytes", n)
		}
		if obj.Offset != 0 || obj.Length != int64(n) {
			t.Fatalf("GetObject span = %d+%d, want 0+%d", obj.Offset, obj.Length, n)
		}
		checkInfo(t, obj.Info, info, attrs)
	}
}

func checkInfo(t *testing.T, got, want store.ObjectInfo, attrs store.ObjectAttrs) {
	t.Helper()
	if got.Bucket != want.Bucket || got.Key != want.Key || got.Size != want.Size || got.ETag != want.ETag ||
		!got.LastModified.Equal(want.LastModified) || got.PartsCount != want.PartsCount {
		t.Fatalf("info = %+v, want %+v", got, want)
	}
	g, w := got.Attrs, attrs
	if !maps.Equal(g.UserMeta, w.UserMeta) || !maps.Equal(g.Tags, w.Tags) {
		t.Fatalf("metadata = %v / %v, want %v / %v", g.UserMeta, g.Tags, w.UserMeta, w.Tags)
	}
	if g.ContentType != w.ContentType || g.ContentEncoding != w.ContentEncoding ||
		g.ContentDisposition != w.ContentDisposition || g.ContentLanguage != w.ContentLanguage ||
		g.CacheControl != w.CacheControl || g.Expires != w.Expires ||
		g.AccessControlAllowOrigin != w.AccessControlAllowOrigin || g.MirrorOrigin != w.MirrorOrigin {
		t.Fatalf("attrs = %+v, want %+v", g, w)
	}
}

func testLastModifiedOverride(t *testing.T, b store.Backend) {
	bucket := newBucket(t, b)
	when := time.Date(2020, 2, 29, 12, 30, 45, 0, time.UTC)
	info, err := b.PutObject(context.Background(), bucket, "k", strings.NewReader("x"), store.PutOptions{Size: 1, LastModified: when})
	if err != nil {
		t.Fatal(err)
	}
	head, err := b.HeadObject(context.Background(), bucket, "k")
	if err != nil {
		t.Fatal(err)
	}
	// Backends keep at least second precision (S3's wire precision).
	if !info.LastModified.Truncate(time.Second).Equal(when) || !head.LastModified.Truncate(time.Second).Equal(when) {
		t.Fatalf("LastModified = %v / %v, want %v", info.LastModified, head.LastModified, when)
	}
}

func testUnknownSize(t *testing.T, b store.Backend) {
	bucket := newBucket(t, b)
	for _, n := range []int{0, 10, 100 << 10} {
		data := pattern(n, 7)
		// iotest-style one-byte-at-a-time reads would be slow at 100 KiB;
		// a plain reader without Len hides the size well enough.
		info, err := b.PutObject(context.Background(), bucket, "k", io.MultiReader(bytes.NewReader(data)), store.PutOptions{Size: -1})
		if err != nil {
			t.Fatalf("PutObject(size -1, %d bytes): %v", n, err)
		}
		if info.Size != int64(n) || info.ETag != md5hex(data) {
			t.Fatalf("info = %+v", info)
		}
		if _, got := get(t, b, bucket, "k", store.GetOptions{}); !bytes.Equal(got, data) {
			t.Fatal("body differs")
		}
	}
}

func testObjectMissing(t *testing.T, b store.Backend) {
	ctx := context.Background()
	bucket := newBucket(t, b)
	_, err := b.GetObject(ctx, bucket, "nope", store.GetOptions{})
	wantErr(t, "GetObject", err, store.ErrNoSuchKey)
	_, err = b.HeadObject(ctx, bucket, "nope")
	wantErr(t, "HeadObject", err, store.ErrNoSuchKey)
	wantErr(t, "SetObjectTags", b.SetObjectTags(ctx, bucket, "nope", map[string]string{"a": "b"}), store.ErrNoSuchKey)
	// S3: deleting an absent key succeeds.
	if err := b.DeleteObject(ctx, bucket, "nope"); err != nil {
		t.Fatalf("DeleteObject(absent) = %v, want nil", err)
	}
}

func testDelete(t *testing.T, b store.Backend) {
	ctx := context.Background()
	bucket := newBucket(t, b)
	for _, n := range []int{3, 1 << 20} {
		put(t, b, bucket, "k", pattern(n, 1))
		put(t, b, bucket, "k2", pattern(n, 2))
		if err := b.DeleteObject(ctx, bucket, "k"); err != nil {
			t.Fatal(err)
		}
		_, err := b.HeadObject(ctx, bucket, "k")
		wantErr(t, "HeadObject after delete", err, store.ErrNoSuchKey)
		_, err = b.GetObject(ctx, bucket, "k", store.GetOptions{})
		wantErr(t, "GetObject after delete", err, store.ErrNoSuchKey)
		if _, got := get(t, b, bucket, "k2", store.GetOptions{}); !bytes.Equal(got, pattern(n, 2)) {
			t.Fatal("neighbour disturbed by delete")
		}
	}
}

func testReplace(t *testing.T, b store.Backend) {
	bucket := newBucket(t, b)
	// Every transition between inline-sized and file-sized objects.
	seq := []int{10, 1 << 20, 1 << 20, 20, 30, 200 << 10}
	for i, n := range seq {
		data := pattern(n, byte(i))
		info := put(t, b, bucket, "k", data)
		head, err := b.HeadObject(context.Background(), bucket, "k")
		if err != nil || head.ETag != info.ETag || head.Size != int64(n) {
			t.Fatalf("after replace %d: head = %+v, %v", i, head, err)
		}
		if _, got := get(t, b, bucket, "k", store.GetOptions{}); !bytes.Equal(got, data) {
			t.Fatalf("after replace %d: old or mixed bytes", i)
		}
	}
}

// testKeys: keys are opaque UTF-8 stored verbatim; none aliases another or
// is cleaned like a path (SPEC §2).
func testKeys(t *testing.T, b store.Backend) {
	ctx := context.Background()
	bucket := newBucket(t, b)
	keys := []string{
		"a", "a/b", "a//b", "a/./b", "a/../b", "../x", "./x", "x", "x/", "/x", "//",
		".", "..", "a b", "a+b", "a%2Fb", "ключ/файл", "日本語.txt", "emoji-😀",
		"tab\tkey", "q?x=1#frag", `back\slash`, strings.Repeat("k", 1024),
		strings.Repeat("é", 512), // 1024 bytes of two-byte runes
	}
	for i, k := range keys {
		put(t, b, bucket, k, []byte(k+"#"+string(rune('A'+i))))
	}
	for i, k := range keys {
		if _, got := get(t, b, bucket, k, store.GetOptions{}); string(got) != k+"#"+string(rune('A'+i)) {
			t.Fatalf("key %q returned %q", k, got)
		}
	}
	res, err := b.ListObjects(ctx, bucket, store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := append([]string(nil), keys...)
	sort.Strings(want) // Go compares strings byte-wise, as S3 lists
	if got := objectKeys(res); !equalStrings(got, want) {
		t.Fatalf("ListObjects = %q\nwant %q", got, want)
	}
	if err := b.DeleteObject(ctx, bucket, "a//b"); err != nil {
		t.Fatal(err)
	}
	if _, got := get(t, b, bucket, "a/b", store.GetOptions{}); !strings.HasPrefix(string(got), "a/b#") {
		t.Fatal("deleting a//b disturbed a/b")
	}
}

func testSizeMismatch(t *testing.T, b store.Backend) {
	ctx := context.Background()
	bucket := newBucket(t, b)
	old := put(t, b, bucket, "kept", []byte("old"))
	for _, n := range []int{0, 10, 1 << 20} {
		data := pattern(n, 3)
		for _, declared := range []int64{int64(n) + 1, int64(n) - 1} {
			if declared < 0 {
				continue
			}
			for _, key := range []string{"new", "kept"} {
				_, err := b.PutObject(ctx, bucket, key, bytes.NewReader(data), store.PutOptions{Size: declared})
				wantErr(t, "PutObject with a wrong size", err, store.ErrIncompleteBody)
			}
			_, err := b.HeadObject(ctx, bucket, "new")
			wantErr(t, "HeadObject after a failed put", err, store.ErrNoSuchKey)
			if head, err := b.HeadObject(ctx, bucket, "kept"); err != nil || head.ETag != old.ETag {
				t.Fatalf("failed replace disturbed the old object: %+v, %v", head, err)
			}
		}
	}
}

func testBadDigest(t *testing.T, b store.Backend) {
	ctx := context.Background()
	bucket := newBucket(t, b)
	for _, n := range []int{0, 100, 1 << 20} {
		data := pattern(n, 4)
		wrong := md5.Sum(append(data, 'x'))
		_, err := b.PutObject(ctx, bucket, "k", bytes.NewReader(data), store.PutOptions{Size: int64(n), ContentMD5: wrong[:]})
		wantErr(t, "PutObject with a wrong Content-MD5", err, store.ErrBadDigest)
		_, err = b.HeadObject(ctx, bucket, "k")
		wantErr(t, "HeadObject after BadDigest", err, store.ErrNoSuchKey)
		right := md5.Sum(data)
		if _, err := b.PutObject(ctx, bucket, "k", bytes.NewReader(data), store.PutOptions{Size: int64(n), ContentMD5: right[:]}); err != nil {
			t.Fatalf("PutObject with the right Content-MD5: %v", err)
		}
		if err := b.DeleteObject(ctx, bucket, "k"); err != nil {
			t.Fatal(err)
		}
	}
}

// vetoError is what a verifying reader returns to veto a write.
type vetoError struct{ reason string }

func (v *vetoError) Error() string { return "veto: " + v.reason }

// vetoReader yields data, then fails the read that would return io.EOF, as
// a signature or checksum verifier does when the trailer does not match.
type vetoReader struct {
	r    io.Reader
	veto error
}

func (v *vetoReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	if err == io.EOF {
		return n, v.veto
	}
	return n, err
}

func testFailingBody(t *testing.T, b store.Backend) {
	ctx := context.Background()
	bucket := newBucket(t, b)
	old := put(t, b, bucket, "kept", []byte("old"))
	for _, n := range []int{0, 100, 5000, 1 << 20} {
		for _, size := range []int64{int64(n), -1} {
			for _, key := range []string{"new", "kept"} {
				veto := &vetoError{reason: "bad chunk signature"}
				body := &vetoReader{r: bytes.NewReader(pattern(n, 5)), veto: veto}
				_, err := b.PutObject(ctx, bucket, key, body, store.PutOptions{Size: size})
				var got *vetoError
				if !errors.As(err, &got) || got != veto {
					t.Fatalf("PutObject(%d bytes, size %d) with a failing body = %v, want the body's error", n, size, err)
				}
			}
			_, err := b.HeadObject(ctx, bucket, "new")
			wantErr(t, "HeadObject after a vetoed put", err, store.ErrNoSuchKey)
			if head, err := b.HeadObject(ctx, bucket, "kept"); err != nil || head.ETag != old.ETag {
				t.Fatalf("vetoed replace disturbed the old object: %+v, %v", head, err)
			}
		}
	}
	// A body failing midway, before its end.
	mid := io.MultiReader(bytes.NewReader(pattern(1<<20, 6)), &vetoReader{r: bytes.NewReader(nil), veto: io.ErrUnexpectedEOF}, bytes.NewReader(pattern(10, 1)))
	_, err := b.PutObject(ctx, bucket, "new", mid, store.PutOptions{Size: 1<<20 + 10})
	wantErr(t, "PutObject with a body failing midway", err, io.ErrUnexpectedEOF)
	_, err = b.HeadObject(ctx, bucket, "new")
	wantErr(t, "HeadObject after a failing body", err, store.ErrNoSuchKey)
}

func testCancelled(t *testing.T, b store.Backend) {
	bucket := newBucket(t, b)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := b.PutObject(ctx, bucket, "k", bytes.NewReader(pattern(1<<20, 1)), store.PutOptions{Size: 1 << 20})
	if err == nil {
		t.Fatal("PutObject with a cancelled context succeeded")
	}
	_, err = b.HeadObject(context.Background(), bucket, "k")
	wantErr(t, "HeadObject after a cancelled put", err, store.ErrNoSuchKey)
}

func testRange(t *testing.T, b store.Backend) {
	bucket := newBucket(t, b)
	for _, n := range []int64{100, 1<<20 + 1} {
		data := pattern(int(n), 9)
		put(t, b, bucket, "k", data)
		cases := []struct {
			r            store.Range
			offset, size int64
		}{
			{store.Range{First: 0, Last: 0}, 0, 1},
			{store.Range{First: 0, Last: 9}, 0, 10},
			{store.Range{First: 10, Last: -1}, 10, n - 10},
			{store.Range{First: n - 5, Last: n + 200}, n - 5, 5}, // clipped
			{store.Range{First: n - 1, Last: n - 1}, n - 1, 1},
			{store.Range{Suffix: 10}, n - 10, 10},
			{store.Range{Suffix: n + 1}, 0, n}, // the whole object
			{store.Range{Suffix: n}, 0, n},
		}
		for _, c := range cases {
			r := c.r
			obj, got := get(t, b, bucket, "k", store.GetOptions{Range: &r})
			if obj.Offset != c.offset || obj.Length != c.size || !bytes.Equal(got, data[c.offset:c.offset+c.size]) {
				t.Fatalf("size %d range %+v: got %d+%d (%d bytes), want %d+%d", n, r, obj.Offset, obj.Length, len(got), c.offset, c.size)
			}
			if obj.Info.Size != n {
				t.Fatalf("ranged GetObject Info.Size = %d, want the whole %d", obj.Info.Size, n)
			}
		}
		// S3 answers 416 InvalidRange when the first byte is past the end.
		for _, r := range []store.Range{{First: n, Last: -1}, {First: n + 10, Last: n + 20}, {First: 5, Last: 4}} {
			_, err := b.GetObject(context.Background(), bucket, "k", store.GetOptions{Range: &r})
			wantErr(t, "GetObject with an unsatisfiable range", err, store.ErrInvalidRange)
		}
	}
	put(t, b, bucket, "empty", nil)
	for _, r := range []store.Range{{First: 0, Last: -1}, {Suffix: 1}} {
		_, err := b.GetObject(context.Background(), bucket, "empty", store.GetOptions{Range: &r})
		wantErr(t, "GetObject range of an empty object", err, store.ErrInvalidRange)
	}
}

func testPartNumberSingle(t *testing.T, b store.Backend) {
	bucket := newBucket(t, b)
	data := pattern(5000, 2)
	put(t, b, bucket, "k", data)
	obj, got := get(t, b, bucket, "k", store.GetOptions{PartNumber: 1})
	if !bytes.Equal(got, data) || obj.Info.PartsCount != 0 {
		t.Fatalf("part 1 of a single-part object: %d bytes, info %+v", len(got), obj.Info)
	}
	_, err := b.GetObject(context.Background(), bucket, "k", store.GetOptions{PartNumber: 2})
	wantErr(t, "GetObject part 2 of a single-part object", err, store.ErrInvalidPartNumber)
}

func testTags(t *testing.T, b store.Backend) {
	ctx := context.Background()
	bucket := newBucket(t, b)
	attrs := store.ObjectAttrs{ContentType: "text/plain", UserMeta: map[string]string{"a": "1"}, Tags: map[string]string{"old": "1"}}
	info, err := b.PutObject(ctx, bucket, "k", strings.NewReader("hello"), store.PutOptions{Attrs: attrs, Size: 5})
	if err != nil {
		t.Fatal(err)
	}
	tags := map[string]string{"team": "web", "stage": "prod"}
	if err := b.SetObjectTags(ctx, bucket, "k", tags); err != nil {
		t.Fatal(err)
	}
	tags["team"] = "mutated after the call"
	head, err := b.HeadObject(ctx, bucket, "k")
	if err != nil {
		t.Fatal(err)
	}
	want := attrs
	want.Tags = map[string]string{"team": "web", "stage": "prod"}
	// Tagging changes neither the bytes, the ETag nor Last-Modified (S3).
	checkInfo(t, head, info, want)
	if _, got := get(t, b, bucket, "k", store.GetOptions{}); string(got) != "hello" {
		t.Fatalf("body after tagging = %q", got)
	}
	if err := b.SetObjectTags(ctx, bucket, "k", nil); err != nil {
		t.Fatal(err)
	}
	if head, _ := b.HeadObject(ctx, bucket, "k"); len(head.Attrs.Tags) != 0 {
		t.Fatalf("tags after clearing = %v", head.Attrs.Tags)
	}
}

func testIfMatch(t *testing.T, b store.Backend) {
	ctx := context.Background()
	bucket := newBucket(t, b)
	putIf := func(key, body string, c store.Conditions) error {
		_, err := b.PutObject(ctx, bucket, key, strings.NewReader(body), store.PutOptions{Size: int64(len(body)), Conditions: c})
		return err
	}
	wantErr(t, "IfMatch on an absent key", putIf("k", "a", store.Conditions{IfMatch: md5hex([]byte("a"))}), store.ErrPreconditionFailed)
	if err := putIf("k", "one", store.Conditions{IfNoneMatchStar: true}); err != nil {
		t.Fatalf("IfNoneMatchStar on an absent key: %v", err)
	}
	wantErr(t, "IfNoneMatchStar on an existing key", putIf("k", "two", store.Conditions{IfNoneMatchStar: true}), store.ErrPreconditionFailed)
	wantErr(t, "IfMatch with another ETag", putIf("k", "two", store.Conditions{IfMatch: md5hex([]byte("other"))}), store.ErrPreconditionFailed)
	if err := putIf("k", "two", store.Conditions{IfMatch: md5hex([]byte("one"))}); err != nil {
		t.Fatalf("IfMatch with the current ETag: %v", err)
	}
	if _, got := get(t, b, bucket, "k", store.GetOptions{}); string(got) != "two" {
		t.Fatalf("body = %q, want two", got)
	}
	// A large body losing its condition stores nothing either.
	big := pattern(1<<20, 3)
	_, err := b.PutObject(ctx, bucket, "k", bytes.NewReader(big), store.PutOptions{Size: int64(len(big)), Conditions: store.Conditions{IfNoneMatchStar: true}})
	wantErr(t, "IfNoneMatchStar, large body", err, store.ErrPreconditionFailed)
	if _, got := get(t, b, bucket, "k", store.GetOptions{}); string(got) != "two" {
		t.Fatalf("body = %q after a failed conditional put", got)
	}
}

// testIfNoneMatchRace: of N concurrent create-only writes of one key,
// exactly one wins and its bytes are what is stored.
func testIfNoneMatchRace(t *testing.T, b store.Backend) {
	bucket := newBucket(t, b)
	const n = 12
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := pattern(8000+i, byte(i))
			<-start
			_, errs[i] = b.PutObject(context.Background(), bucket, "race", bytes.NewReader(data), store.PutOptions{Size: int64(len(data)), Conditions: store.Conditions{IfNoneMatchStar: true}})
		}()
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("writers %d and %d both won", winner, i)
			}
			winner = i
		case !errors.Is(err, store.ErrPreconditionFailed):
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer won")
	}
	if _, got := get(t, b, bucket, "race", store.GetOptions{}); !bytes.Equal(got, pattern(8000+winner, byte(winner))) {
		t.Fatal("stored bytes are not the winner's")
	}
}

// testAtomicReplace: readers racing a stream of replaces always read a
// whole version: the bytes match the ETag they came with.
func testAtomicReplace(t *testing.T, b store.Backend) {
	bucket := newBucket(t, b)
	put(t, b, bucket, "k", pattern(100, 0))
	var wg sync.WaitGroup
	done := make(chan struct{})
	errc := make(chan error, 8)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				obj, err := b.GetObject(context.Background(), bucket, "k", store.GetOptions{})
				if err != nil {
					errc <- err
					return
				}
				data, err := io.ReadAll(obj.Body)
				obj.Body.Close()
				if err != nil {
					errc <- err
					return
				}
				if md5hex(data) != obj.Info.ETag || int64(len(data)) != obj.Info.Size {
					errc <- errors.New("read a mix of versions: bytes do not match the ETag")
					return
				}
			}
		}()
	}
	for i := range 40 {
		n := []int{100, 3000, 70 << 10, 5000}[i%4]
		put(t, b, bucket, "k", pattern(n, byte(i)))
	}
	close(done)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}

// testOpenBodySurvivesReplace: a body opened before a replace or delete
// still yields the old version whole.
func testOpenBodySurvivesReplace(t *testing.T, b store.Backend) {
	ctx := context.Background()
	bucket := newBucket(t, b)
	for _, n := range []int{10, 1 << 20} {
		old := pattern(n, 1)
		put(t, b, bucket, "k", old)
		obj, err := b.GetObject(ctx, bucket, "k", store.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		put(t, b, bucket, "k", pattern(n, 2))
		if err := b.DeleteObject(ctx, bucket, "k"); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(obj.Body)
		obj.Body.Close()
		if err != nil || !bytes.Equal(got, old) {
			t.Fatalf("%d bytes: open body after replace and delete: %d bytes, %v", n, len(got), err)
		}
	}
}

func objectKeys(res store.ListResult) []string {
	var ks []string
	for _, o := range res.Objects {
		ks = append(ks, o.Key)
	}
	return ks
}
