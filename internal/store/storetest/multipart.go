package storetest

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"testing"

	"mirrorstore/internal/store"
)

var multipartTests = []suite{
	{"Multipart/HappyPath", testMultipartHappyPath},
	{"Multipart/Errors", testMultipartErrors},
	{"Multipart/PartReplace", testPartReplace},
	{"Multipart/PartBodyFailures", testPartBodyFailures},
	{"Multipart/Abort", testMultipartAbort},
	{"Multipart/UnnamedParts", testUnnamedParts},
	{"Multipart/Conditions", testMultipartConditions},
	{"Multipart/ListParts", testListParts},
	{"Multipart/ListUploads", testListUploads},
}

func createUpload(t *testing.T, b store.Backend, bucket, key string, attrs store.ObjectAttrs) string {
	t.Helper()
	id, err := b.CreateMultipartUpload(context.Background(), bucket, key, attrs)
	if err != nil {
		t.Fatalf("CreateMultipartUpload(%s/%q): %v", bucket, key, err)
	}
	if id == "" {
		t.Fatal("CreateMultipartUpload returned an empty upload id")
	}
	return id
}

func uploadPart(t *testing.T, b store.Backend, bucket, key, id string, n int, data []byte) store.CompletePart {
	t.Helper()
	info, err := b.UploadPart(context.Background(), bucket, key, id, n, bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatalf("UploadPart(%d): %v", n, err)
	}
	if info.PartNumber != n || info.Size != int64(len(data)) || info.ETag != md5hex(data) {
		t.Fatalf("UploadPart(%d) = %+v", n, info)
	}
	return store.CompletePart{PartNumber: n, ETag: info.ETag}
}

// multipartETag is S3's ETag of a multipart object.
func multipartETag(parts ...[]byte) string {
	var sums []byte
	for _, p := range parts {
		s := md5.Sum(p)
		sums = append(sums, s[:]...)
	}
	s := md5.Sum(sums)
	return fmt.Sprintf("%s-%d", hex.EncodeToString(s[:]), len(parts))
}

func testMultipartHappyPath(t *testing.T, b store.Backend) {
	ctx := context.Background()
	bucket := newBucket(t, b)
	attrs := store.ObjectAttrs{ContentType: "video/mp4", UserMeta: map[string]string{"k": "v"}, Tags: map[string]string{"t": "1"}}
	id := createUpload(t, b, bucket, "big", attrs)
	p1, p2, p3 := pattern(store.MinPartSize, 1), pattern(store.MinPartSize+7, 2), pattern(1000, 3)
	// Parts may arrive in any order.
	c3 := uploadPart(t, b, bucket, "big", id, 3, p3)
	c1 := uploadPart(t, b, bucket, "big", id, 1, p1)
	c2 := uploadPart(t, b, bucket, "big", id, 2, p2)
	info, err := b.CompleteMultipartUpload(ctx, bucket, "big", id, []store.CompletePart{c1, c2, c3}, store.Conditions{})
	if err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	whole := bytes.Join([][]byte{p1, p2, p3}, nil)
	if info.Size != int64(len(whole)) || info.ETag != multipartETag(p1, p2, p3) || info.PartsCount != 3 {
		t.Fatalf("completed info = %+v, want size %d ETag %s", info, len(whole), multipartETag(p1, p2, p3))
	}
	head, err := b.HeadObject(ctx, bucket, "big")
	if err != nil {
		t.Fatal(err)
	}
	checkInfo(t, head, info, attrs)
	if _, got := get(t, b, bucket, "big", store.GetOptions{}); !bytes.Equal(got, whole) {
		t.Fatal("completed object's bytes differ from its parts")
	}
	offsets := []int64{0, int64(len(p1)), int64(len(p1) + len(p2))}
	for i, p := range [][]byte{p1, p2, p3} {
		obj, got := get(t, b, bucket, "big", store.GetOptions{PartNumber: i + 1})
		if !bytes.Equal(got, p) || obj.Offset != offsets[i] || obj.Info.PartsCount != 3 {
			t.Fatalf("part %d: offset %d, %d bytes", i+1, obj.Offset, len(got))
		}
	}
	_, err = b.GetObject(ctx, bucket, "big", store.GetOptions{PartNumber: 4})
	wantErr(t, "GetObject part 4 of 3", err, store.ErrInvalidPartNumber)
	// Ranges across part boundaries.
	for _, r := range []store.Range{
		{First: int64(len(p1)) - 10, Last: int64(len(p1)) + 10},
		{First: 5, Last: int64(len(whole)) - 5},
		{Suffix: 1500},
		{First: int64(len(p1)), Last: int64(len(p1))},
	} {
		off, n, _ := r.Resolve(int64(len(whole)))
		obj, got := get(t, b, bucket, "big", store.GetOptions{Range: &r})
		if obj.Offset != off || !bytes.Equal(got, whole[off:off+n]) {
			t.Fatalf("range %+v across parts: wrong bytes", r)
		}
	}
	_, err = b.ListParts(ctx, bucket, "big", id, 0, 0)
	wantErr(t, "ListParts after complete", err, store.ErrNoSuchUpload)
	ups, err := b.ListMultipartUploads(ctx, bucket, store.ListUploadsOptions{})
	if err != nil || len(ups.Uploads) != 0 {
		t.Fatalf("uploads after complete: %+v, %v", ups, err)
	}
	// A single-part upload of one small part is a valid multipart object.
	id = createUpload(t, b, bucket, "one", store.ObjectAttrs{})
	c := uploadPart(t, b, bucket, "one", id, 7, []byte("tiny"))
	info, err = b.CompleteMultipartUpload(ctx, bucket, "one", id, []store.CompletePart{c}, store.Conditions{})
	if err != nil || info.ETag != multipartETag([]byte("tiny")) || info.Size != 4 || info.PartsCount != 1 {
		t.Fatalf("one-part upload: %+v, %v", info, err)
	}
	if _, got := get(t, b, bucket, "one", store.GetOptions{}); string(got) != "tiny" {
		t.Fatalf("one-part object = %q", got)
	}
}

func testMultipartErrors(t *testing.T, b store.Backend) {
	ctx := context.Background()
	bucket := newBucket(t, b)
	id := createUpload(t, b, bucket, "k", store.ObjectAttrs{})
	other := createUpload(t, b, bucket, "other", store.ObjectAttrs{})
	big := pattern(store.MinPartSize, 1)
	c1 := uploadPart(t, b, bucket, "k", id, 1, big)
	c2 := uploadPart(t, b, bucket, "k", id, 2, []byte("small"))
	c3 := uploadPart(t, b, bucket, "k", id, 3, []byte("last"))

	for _, bad := range []struct{ key, id string }{{"k", "no-such-upload"}, {"k", other}, {"nokey", id}, {"k", ""}} {
		_, err := b.UploadPart(ctx, bucket, bad.key, bad.id, 1, bytes.NewReader([]byte("x")), 1, nil)
		wantErr(t, "UploadPart to "+bad.id, err, store.ErrNoSuchUpload)
		_, err = b.CompleteMultipartUpload(ctx, bucket, bad.key, bad.id, []store.CompletePart{c1}, store.Conditions{})
		wantErr(t, "Complete of "+bad.id, err, store.ErrNoSuchUpload)
		_, err = b.ListParts(ctx, bucket, bad.key, bad.id, 0, 0)
		wantErr(t, "ListParts of "+bad.id, err, store.ErrNoSuchUpload)
		wantErr(t, "Abort of "+bad.id, b.AbortMultipartUpload(ctx, bucket, bad.key, bad.id), store.ErrNoSuchUpload)
	}
	for _, n := range []int{0, -1, 10001} {
		_, err := b.UploadPart(ctx, bucket, "k", id, n, bytes.NewReader([]byte("x")), 1, nil)
		wantErr(t, fmt.Sprintf("UploadPart number %d", n), err, store.ErrInvalidPartNumber)
	}
	complete := func(parts ...store.CompletePart) error {
		_, err := b.CompleteMultipartUpload(ctx, bucket, "k", id, parts, store.Conditions{})
		return err
	}
	wantErr(t, "Complete with no parts", complete(), store.ErrInvalidPart)
	wantErr(t, "Complete with an unknown part", complete(c1, store.CompletePart{PartNumber: 4, ETag: c3.ETag}), store.ErrInvalidPart)
	wantErr(t, "Complete with a wrong ETag", complete(c1, store.CompletePart{PartNumber: 3, ETag: c2.ETag}), store.ErrInvalidPart)
	wantErr(t, "Complete out of order", complete(c1, c3, c2), store.ErrInvalidPartOrder)
	wantErr(t, "Complete with a repeated part", complete(c1, c1, c3), store.ErrInvalidPartOrder)
	wantErr(t, "Complete with a small middle part", complete(c1, c2, c3), store.ErrEntityTooSmall)
	wantErr(t, "Complete with a small first part", complete(c2, c3), store.ErrEntityTooSmall)
	// Each failure left the upload whole.
	if _, err := b.HeadObject(ctx, bucket, "k"); !errors.Is(err, store.ErrNoSuchKey) {
		t.Fatalf("a failed Complete created the object: %v", err)
	}
	if err := complete(c1, c3); err != nil {
		t.Fatalf("Complete after failed attempts: %v", err)
	}
	if _, got := get(t, b, bucket, "k", store.GetOptions{}); !bytes.Equal(got, append(big, "last"...)) {
		t.Fatal("object bytes differ")
	}
	wantErr(t, "Complete twice", complete(c1, c3), store.ErrNoSuchUpload)
}

func testPartReplace(t *testing.T, b store.Backend) {
	ctx := context.Background()
	bucket := newBucket(t, b)
	id := createUpload(t, b, bucket, "k", store.ObjectAttrs{})
	first := uploadPart(t, b, bucket, "k", id, 1, pattern(store.MinPartSize, 1))
	second := uploadPart(t, b, bucket, "k", id, 1, pattern(store.MinPartSize+1, 2))
	res, err := b.ListParts(ctx, bucket, "k", id, 0, 0)
	if err != nil || len(res.Parts) != 1 || res.Parts[0].ETag != second.ETag || res.Parts[0].Size != store.MinPartSize+1 {
		t.Fatalf("ListParts after replace: %+v, %v", res, err)
	}
	last := uploadPart(t, b, bucket, "k", id, 2, []byte("end"))
	_, err = b.CompleteMultipartUpload(ctx, bucket, "k", id, []store.CompletePart{first, last}, store.Conditions{})
	wantErr(t, "Complete with the replaced part's ETag", err, store.ErrInvalidPart)
	if _, err := b.CompleteMultipartUpload(ctx, bucket, "k", id, []store.CompletePart{second, last}, store.Conditions{}); err != nil {
		t.Fatal(err)
	}
	if _, got := get(t, b, bucket, "k", store.GetOptions{}); !bytes.Equal(got, append(pattern(store.MinPartSize+1, 2), "end"...)) {
		t.Fatal("object holds the replaced part's bytes")
	}
}

func testPartBodyFailures(t *testing.T, b store.Backend) {
	ctx := context.Background()
	bucket := newBucket(t, b)
	id := createUpload(t, b, bucket, "k", store.ObjectAttrs{})
	good := uploadPart(t, b, bucket, "k", id, 1, []byte("good"))
	veto := &vetoError{reason: "bad checksum"}
	_, err := b.UploadPart(ctx, bucket, "k", id, 1, &vetoReader{r: bytes.NewReader([]byte("evil")), veto: veto}, 4, nil)
	var got *vetoError
	if !errors.As(err, &got) {
		t.Fatalf("UploadPart with a vetoing body = %v, want the body's error", err)
	}
	_, err = b.UploadPart(ctx, bucket, "k", id, 1, bytes.NewReader([]byte("evil")), 5, nil)
	wantErr(t, "UploadPart with a wrong size", err, store.ErrIncompleteBody)
	wrong := md5.Sum([]byte("other"))
	_, err = b.UploadPart(ctx, bucket, "k", id, 1, bytes.NewReader([]byte("evil")), 4, wrong[:])
	wantErr(t, "UploadPart with a wrong Content-MD5", err, store.ErrBadDigest)
	right := md5.Sum([]byte("fine"))
	if _, err := b.UploadPart(ctx, bucket, "k", id, 2, bytes.NewReader([]byte("fine")), -1, right[:]); err != nil {
		t.Fatalf("UploadPart with a right Content-MD5 and unknown size: %v", err)
	}
	res, err := b.ListParts(ctx, bucket, "k", id, 0, 0)
	if err != nil || len(res.Parts) != 2 || res.Parts[0].ETag != good.ETag {
		t.Fatalf("failed part uploads disturbed the upload: %+v, %v", res, err)
	}
}

func testMultipartAbort(t *testing.T, b store.Backend) {
	ctx := context.Background()
	bucket := newBucket(t, b)
	put(t, b, bucket, "k", []byte("existing"))
	id := createUpload(t, b, bucket, "k", store.ObjectAttrs{})
	c := uploadPart(t, b, bucket, "k", id, 1, pattern(1<<20, 1))
	if err := b.AbortMultipartUpload(ctx, bucket, "k", id); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "Abort twice", b.AbortMultipartUpload(ctx, bucket, "k", id), store.ErrNoSuchUpload)
	_, err := b.CompleteMultipartUpload(ctx, bucket, "k", id, []store.CompletePart{c}, store.Conditions{})
	wantErr(t, "Complete after abort", err, store.ErrNoSuchUpload)
	_, err = b.UploadPart(ctx, bucket, "k", id, 2, bytes.NewReader([]byte("x")), 1, nil)
	wantErr(t, "UploadPart after abort", err, store.ErrNoSuchUpload)
	if _, got := get(t, b, bucket, "k", store.GetOptions{}); string(got) != "existing" {
		t.Fatalf("abort disturbed the existing object: %q", got)
	}
}

func testUnnamedParts(t *testing.T, b store.Backend) {
	ctx := context.Background()
	bucket := newBucket(t, b)
	id := createUpload(t, b, bucket, "k", store.ObjectAttrs{})
	p1 := pattern(store.MinPartSize, 1)
	c1 := uploadPart(t, b, bucket, "k", id, 1, p1)
	uploadPart(t, b, bucket, "k", id, 2, []byte("unnamed"))
	c3 := uploadPart(t, b, bucket, "k", id, 3, []byte("named"))
	info, err := b.CompleteMultipartUpload(ctx, bucket, "k", id, []store.CompletePart{c1, c3}, store.Conditions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.PartsCount != 2 || info.ETag != multipartETag(p1, []byte("named")) {
		t.Fatalf("info = %+v", info)
	}
	obj, got := get(t, b, bucket, "k", store.GetOptions{PartNumber: 2})
	if string(got) != "named" || obj.Offset != int64(len(p1)) {
		t.Fatalf("part 2 of the object (uploaded as 3) = %q at %d", got, obj.Offset)
	}
}

func testMultipartConditions(t *testing.T, b store.Backend) {
	ctx := context.Background()
	bucket := newBucket(t, b)
	old := put(t, b, bucket, "k", []byte("old"))
	id := createUpload(t, b, bucket, "k", store.ObjectAttrs{})
	c := uploadPart(t, b, bucket, "k", id, 1, []byte("new"))
	_, err := b.CompleteMultipartUpload(ctx, bucket, "k", id, []store.CompletePart{c}, store.Conditions{IfNoneMatchStar: true})
	wantErr(t, "Complete IfNoneMatchStar over an object", err, store.ErrPreconditionFailed)
	_, err = b.CompleteMultipartUpload(ctx, bucket, "k", id, []store.CompletePart{c}, store.Conditions{IfMatch: md5hex([]byte("other"))})
	wantErr(t, "Complete IfMatch with another ETag", err, store.ErrPreconditionFailed)
	if _, got := get(t, b, bucket, "k", store.GetOptions{}); string(got) != "old" {
		t.Fatalf("failed conditional Complete replaced the object: %q", got)
	}
	if _, err := b.CompleteMultipartUpload(ctx, bucket, "k", id, []store.CompletePart{c}, store.Conditions{IfMatch: old.ETag}); err != nil {
		t.Fatalf("Complete IfMatch with the current ETag: %v", err)
	}
	if _, got := get(t, b, bucket, "k", store.GetOptions{}); string(got) != "new" {
		t.Fatalf("object = %q, want new", got)
	}
	id = createUpload(t, b, bucket, "fresh", store.ObjectAttrs{})
	c = uploadPart(t, b, bucket, "fresh", id, 1, []byte("x"))
	if _, err := b.CompleteMultipartUpload(ctx, bucket, "fresh", id, []store.CompletePart{c}, store.Conditions{IfNoneMatchStar: true}); err != nil {
		t.Fatalf("Complete IfNoneMatchStar on an absent key: %v", err)
	}
}

func testListParts(t *testing.T, b store.Backend) {
	ctx := context.Background()
	bucket := newBucket(t, b)
	attrs := store.ObjectAttrs{ContentType: "a/b", UserMeta: map[string]string{"m": "1"}}
	id := createUpload(t, b, bucket, "k", attrs)
	for _, n := range []int{5, 1, 3, 2, 10000} {
		uploadPart(t, b, bucket, "k", id, n, []byte(fmt.Sprint("part", n)))
	}
	var got []int
	marker := 0
	for pages := 0; ; pages++ {
		res, err := b.ListParts(ctx, bucket, "k", id, marker, 2)
		if err != nil {
			t.Fatal(err)
		}
		if res.Upload.UploadID != id || res.Upload.Key != "k" || res.Upload.Bucket != bucket || !maps.Equal(res.Upload.Attrs.UserMeta, attrs.UserMeta) {
			t.Fatalf("ListParts upload = %+v", res.Upload)
		}
		if len(res.Parts) > 2 || pages > 3 {
			t.Fatalf("page %d: %+v", pages, res)
		}
		for _, p := range res.Parts {
			if p.ETag != md5hex([]byte(fmt.Sprint("part", p.PartNumber))) || p.LastModified.IsZero() {
				t.Fatalf("part %+v", p)
			}
			got = append(got, p.PartNumber)
		}
		if !res.IsTruncated {
			break
		}
		if res.NextPartNumberMarker != res.Parts[len(res.Parts)-1].PartNumber {
			t.Fatalf("NextPartNumberMarker %d, last part %d", res.NextPartNumberMarker, res.Parts[len(res.Parts)-1].PartNumber)
		}
		marker = res.NextPartNumberMarker
	}
	if fmt.Sprint(got) != "[1 2 3 5 10000]" {
		t.Fatalf("parts %v", got)
	}
	// Exactly maxParts left: not truncated.
	res, err := b.ListParts(ctx, bucket, "k", id, 3, 2)
	if err != nil || res.IsTruncated || len(res.Parts) != 2 {
		t.Fatalf("last full page: %+v, %v", res, err)
	}
	res, err = b.ListParts(ctx, bucket, "k", id, 10000, 0)
	if err != nil || res.IsTruncated || len(res.Parts) != 0 {
		t.Fatalf("after the last part: %+v, %v", res, err)
	}
}

func testListUploads(t *testing.T, b store.Backend) {
	ctx := context.Background()
	bucket := newBucket(t, b)
	type up struct{ key, id string }
	var all []up
	for _, k := range []string{"b", "a/1", "c/x", "a/1", "a/2", "é"} {
		all = append(all, up{k, createUpload(t, b, bucket, k, store.ObjectAttrs{ContentType: k})})
	}
	// By key, then initiation: a/1 (first), a/1 (second), a/2, b, c/x, é.
	want := []up{all[1], all[3], all[4], all[0], all[2], all[5]}
	res, err := b.ListMultipartUploads(ctx, bucket, store.ListUploadsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []up
	for _, u := range res.Uploads {
		if u.Bucket != bucket || u.Initiated.IsZero() || u.Attrs.ContentType != u.Key {
			t.Fatalf("upload %+v", u)
		}
		got = append(got, up{u.Key, u.UploadID})
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || res.IsTruncated {
		t.Fatalf("uploads %v, want %v", got, want)
	}
	// Paging one at a time walks the same list.
	got = nil
	opts := store.ListUploadsOptions{MaxUploads: 1}
	for pages := 0; ; pages++ {
		res, err := b.ListMultipartUploads(ctx, bucket, opts)
		if err != nil || pages > len(want) {
			t.Fatalf("page %d: %+v, %v", pages, res, err)
		}
		for _, u := range res.Uploads {
			got = append(got, up{u.Key, u.UploadID})
		}
		if !res.IsTruncated {
			break
		}
		opts.KeyMarker, opts.UploadIDMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("paged uploads %v, want %v", got, want)
	}
	// KeyMarker alone skips every upload of that key.
	res, err = b.ListMultipartUploads(ctx, bucket, store.ListUploadsOptions{KeyMarker: "a/1"})
	if err != nil || len(res.Uploads) != 4 || res.Uploads[0].Key != "a/2" {
		t.Fatalf("KeyMarker a/1: %+v, %v", res, err)
	}
	res, err = b.ListMultipartUploads(ctx, bucket, store.ListUploadsOptions{Delimiter: "/"})
	if err != nil || !equalStrings(res.CommonPrefixes, []string{"a/", "c/"}) || len(res.Uploads) != 2 || res.Uploads[0].Key != "b" || res.Uploads[1].Key != "é" {
		t.Fatalf("delimiter /: %+v, %v", res, err)
	}
	res, err = b.ListMultipartUploads(ctx, bucket, store.ListUploadsOptions{Prefix: "a/"})
	if err != nil || len(res.Uploads) != 3 || len(res.CommonPrefixes) != 0 {
		t.Fatalf("prefix a/: %+v, %v", res, err)
	}
	res, err = b.ListMultipartUploads(ctx, bucket, store.ListUploadsOptions{Delimiter: "/", MaxUploads: 2})
	if err != nil || !res.IsTruncated || res.NextKeyMarker != "b" || len(res.CommonPrefixes)+len(res.Uploads) != 2 {
		t.Fatalf("delimiter / max 2: %+v, %v", res, err)
	}
}
