package s3backend

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
	"time"

	"mirrorstore/internal/store"
)

// TestLeanPutMatchesSDK: a streamed PUT sent by the lean path stores the
// same object (headers, metadata, tags, ETag) as the SDK's PutObject, and
// its conditions and checks fail the same way.
func TestLeanPutMatchesSDK(t *testing.T) {
	ctx := context.Background()
	b := newBackend(t)
	mustBucket(t, b, "lp")
	lean := b.lean
	mtime := time.Date(2024, 2, 29, 12, 34, 56, 789000000, time.UTC)
	objects := map[string]store.ObjectAttrs{
		"plain": {},
		"every attr": {
			ContentType:              "text/plain; charset=utf-8",
			ContentEncoding:          "gzip",
			ContentDisposition:       `attachment; filename="ünï.txt"`,
			ContentLanguage:          "de-CH",
			CacheControl:             "max-age=60, public",
			Expires:                  "Wed, 21 Oct 2037 07:28:00 GMT",
			UserMeta:                 map[string]string{"word": "=?UTF-8?B?eA==?=", "space": " padded ", "plain": "v", "mixed-case": "ÄÖ", "comma": "a, b"},
			MirrorOrigin:             "https://origin.example/ü",
			AccessControlAllowOrigin: "*",
			Tags:                     map[string]string{"a": "1", "b c": "d-e"},
		},
		"odd expires":               {Expires: "0"},
		"dir/key with spaces+plus%": {ContentType: "image/png"},
	}
	put := func(useLean bool, key string, body []byte, opts store.PutOptions) (store.ObjectInfo, error) {
		if useLean {
			b.lean = lean
		} else {
			b.lean = nil
		}
		defer func() { b.lean = lean }()
		opts.Size = int64(len(body))
		return b.PutObject(ctx, "lp", key, bytes.NewReader(body), opts)
	}
	body := []byte("lean put body")
	for key, attrs := range objects {
		for _, useLean := range []bool{true, false} {
			name := map[bool]string{true: "lean/", false: "sdk/"}[useLean] + key
			info, err := put(useLean, name, body, store.PutOptions{Attrs: attrs, LastModified: mtime})
			if err != nil {
				t.Fatalf("put %q: %v", name, err)
			}
			sum := md5.Sum(body)
			if info.ETag != hex.EncodeToString(sum[:]) {
				t.Errorf("put %q: ETag %s", name, info.ETag)
			}
		}
		l, err := b.HeadObject(ctx, "lp", "lean/"+key)
		if err != nil {
			t.Fatal(err)
		}
		s, err := b.HeadObject(ctx, "lp", "sdk/"+key)
		if err != nil {
			t.Fatal(err)
		}
		l.Key, s.Key = "", ""
		if !reflect.DeepEqual(l, s) {
			t.Errorf("%q:\nlean %+v\nSDK  %+v", key, l, s)
		}
	}
	// Conditions and checks.
	for _, useLean := range []bool{true, false} {
		_, err := put(useLean, "lean/plain", body, store.PutOptions{Conditions: store.Conditions{IfNoneMatchStar: true}})
		if !errors.Is(err, store.ErrPreconditionFailed) {
			t.Errorf("lean %v: create-only over an object: %v", useLean, err)
		}
		_, err = put(useLean, "lean/plain", body, store.PutOptions{Conditions: store.Conditions{IfMatch: "0123456789abcdef0123456789abcdef"}})
		if !errors.Is(err, store.ErrPreconditionFailed) {
			t.Errorf("lean %v: If-Match another ETag: %v", useLean, err)
		}
		_, err = put(useLean, "lean/plain", body, store.PutOptions{ContentMD5: make([]byte, 16)})
		if !errors.Is(err, store.ErrBadDigest) {
			t.Errorf("lean %v: wrong Content-MD5: %v", useLean, err)
		}
		good := md5.Sum([]byte("new"))
		if _, err := put(useLean, "lean/md5", []byte("new"), store.PutOptions{ContentMD5: good[:]}); err != nil {
			t.Errorf("lean %v: right Content-MD5: %v", useLean, err)
		}
		if _, err := put(useLean, "lean/plain", body, store.PutOptions{}); err != nil {
			t.Errorf("lean %v: overwrite: %v", useLean, err)
		}
	}
}
