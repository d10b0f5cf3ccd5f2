package s3backend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"mirrorstore/internal/store"
)

// TestLeanMatchesSDK: the lean GET and HEAD read every kind of attribute,
// range and error exactly as the SDK's GetObject and HeadObject do.
func TestLeanMatchesSDK(t *testing.T) {
	ctx := context.Background()
	b := newBackend(t)
	b.singlePutMax, b.streamPartMin = 6<<20, 5<<20
	mustBucket(t, b, "lean")
	lean := b.lean
	if lean == nil {
		t.Fatal("the lean path is off by default")
	}
	mtime := time.Date(2024, 2, 29, 12, 34, 56, 789000000, time.UTC)
	objects := map[string]struct {
		body  []byte
		attrs store.ObjectAttrs
	}{
		"plain": {body: []byte("hello")},
		"empty": {},
		"every attr": {body: []byte("x"), attrs: store.ObjectAttrs{
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
		}},
		"odd expires":               {body: []byte("y"), attrs: store.ObjectAttrs{Expires: "0"}},
		"rfc850 expires":            {body: []byte("y"), attrs: store.ObjectAttrs{Expires: "Wednesday, 21-Oct-37 07:28:00 GMT"}},
		"dir/key with spaces+plus%": {body: []byte("z")},
		"multipart":                 {body: bytes.Repeat([]byte("0123456789abcdef"), (11<<20+5)/16), attrs: store.ObjectAttrs{ContentType: "application/x-big", Tags: map[string]string{"t": "v"}}},
	}
	for key, o := range objects {
		if _, err := b.PutObject(ctx, "lean", key, bytes.NewReader(o.body), store.PutOptions{Size: int64(len(o.body)), Attrs: o.attrs, LastModified: mtime}); err != nil {
			t.Fatalf("put %q: %v", key, err)
		}
	}

	// both runs op on the lean path and on the SDK's.
	both := func(op func() (any, error)) (leanV, sdkV any, leanErr, sdkErr error) {
		b.lean = lean
		leanV, leanErr = op()
		b.lean = nil
		sdkV, sdkErr = op()
		b.lean = lean
		return
	}
	sameErr := func(what string, le, se error) {
		t.Helper()
		for _, s := range []error{store.ErrNoSuchKey, store.ErrNoSuchBucket, store.ErrInvalidRange, store.ErrInvalidPartNumber, store.ErrPreconditionFailed, store.ErrUnavailable} {
			if errors.Is(le, s) != errors.Is(se, s) {
				t.Errorf("%s: lean error %v, SDK error %v", what, le, se)
			}
		}
		if (le == nil) != (se == nil) {
			t.Errorf("%s: lean error %v, SDK error %v", what, le, se)
		}
	}
	type got struct {
		Info           store.ObjectInfo
		Offset, Length int64
		Body           []byte
	}
	get := func(key string, opts store.GetOptions) func() (any, error) {
		return func() (any, error) {
			obj, err := b.GetObject(ctx, "lean", key, opts)
			if err != nil {
				return nil, err
			}
			defer obj.Body.Close()
			body, err := io.ReadAll(obj.Body)
			return got{obj.Info, obj.Offset, obj.Length, body}, err
		}
	}
	keys := []string{"absent", "../x", "a//b"}
	for key := range objects {
		keys = append(keys, key)
	}
	ranges := []*store.Range{nil, {First: 0, Last: 0}, {First: 2, Last: -1}, {Suffix: 3}, {First: 1, Last: 1 << 40}, {First: 1 << 30, Last: -1}, {First: 3, Last: 1}}
	for _, key := range keys {
		lv, sv, le, se := both(func() (any, error) { return b.HeadObject(ctx, "lean", key) })
		sameErr("head "+key, le, se)
		if !reflect.DeepEqual(lv, sv) {
			t.Errorf("head %q:\nlean %+v\nSDK  %+v", key, lv, sv)
		}
		if o, ok := objects[key]; ok && le == nil {
			info := lv.(store.ObjectInfo)
			want := o.attrs
			if want.ContentType == "" {
				want.ContentType = "application/octet-stream" // the backend's default
			}
			if !info.LastModified.Equal(mtime) || info.Size != int64(len(o.body)) || !reflect.DeepEqual(noEmptyMaps(info.Attrs), want) {
				t.Errorf("head %q = %+v, want attrs %+v", key, info, o.attrs)
			}
		}
		for _, r := range ranges {
			lv, sv, le, se := both(get(key, store.GetOptions{Range: r}))
			what := fmt.Sprintf("get %q range %+v", key, r)
			sameErr(what, le, se)
			if !reflect.DeepEqual(lv, sv) {
				t.Errorf("%s:\nlean %+v\nSDK  %+v", what, lv, sv)
			}
		}
		for _, n := range []int{1, 2, 3} {
			lv, sv, le, se := both(get(key, store.GetOptions{PartNumber: n}))
			sameErr("get part of "+key, le, se)
			if !reflect.DeepEqual(lv, sv) {
				t.Errorf("get %q part %d:\nlean %+v\nSDK  %+v", key, n, lv, sv)
			}
		}
	}
	if info, err := b.HeadObject(ctx, "lean", "multipart"); err != nil || info.PartsCount != 3 {
		t.Errorf("multipart head = %+v, %v; want 3 parts", info, err)
	}
	_, _, le, se := both(func() (any, error) { return b.HeadObject(ctx, "no-such-bucket", "k") })
	sameErr("head in an absent bucket", le, se)
	if !errors.Is(le, store.ErrNoSuchBucket) {
		t.Errorf("head in an absent bucket: %v", le)
	}
}

// TestLeanUnavailable: a cluster that refuses connections is retried and
// then reported unavailable, as on the SDK path.
func TestLeanUnavailable(t *testing.T) {
	var sent atomic.Int32
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})}
	b, err := Open(Config{Endpoint: "http://127.0.0.1:1", Bucket: "x", AccessKey: "a", SecretKey: "b", HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	b.buckets.Store("bk", time.Now().Add(time.Hour))
	start := time.Now()
	_, err = b.leanGet(context.Background(), "GET", objectKey("bk", "k"), "", "")
	if err == nil || !errors.Is(mapReadErr(context.Background(), err), store.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	if n := sent.Swap(0); n != maxAttempts {
		t.Errorf("a refused GET was sent %d times, want %d", n, maxAttempts)
	}
	if _, err := b.HeadObject(context.Background(), "bk", "k"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("head err = %v", err)
	}
	if _, err := b.GetObject(context.Background(), "bk", "k", store.GetOptions{}); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("get err = %v", err)
	}
	t.Logf("three refused requests reported in %s", time.Since(start))
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// noEmptyMaps is a with empty maps as nil.
func noEmptyMaps(a store.ObjectAttrs) store.ObjectAttrs {
	if len(a.UserMeta) == 0 {
		a.UserMeta = nil
	}
	if len(a.Tags) == 0 {
		a.Tags = nil
	}
	return a
}
