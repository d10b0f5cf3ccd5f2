package s3api

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"mirrorstore/internal/store"
)

// writeListXML must write the bytes encoding/xml writes for every shape of
// listing answer (v1 and v2, owners, prefixes, names that need escaping).
func TestWriteListXMLMatchesEncodingXML(t *testing.T) {
	marker := "a&b"
	count := 3
	o := ownerOf("AKID<>", "név")
	names := []string{"", "plain/key.txt", "a&b<c>\"d'e", "tab\tnl\ncr\r", "ütf-8 ключ", "bad\xffutf8", "nul\x00ctl\x01", "\uFFFD", "%2F/enc"}
	var cases []listBucketResult
	for _, n := range names {
		cases = append(cases,
			listBucketResult{Xmlns: s3NS, Name: "b", Prefix: n, Marker: &marker, NextMarker: n, MaxKeys: 1000, Delimiter: n, IsTruncated: true,
				Contents:       []objectWire{{Key: n, LastModified: "2024-01-02T03:04:05.000Z", ETag: `"e"`, Size: 1 << 40, Owner: &o, StorageClass: "STANDARD"}},
				CommonPrefixes: []commonPrefix{{Prefix: n}, {Prefix: n + "/"}}},
			listBucketResult{Xmlns: s3NS, Name: n, StartAfter: n, ContinuationToken: n, NextContinuationToken: "dG9r", KeyCount: &count, EncodingType: "url",
				Contents: []objectWire{{Key: n, ETag: n, StorageClass: "STANDARD"}, {Key: "k2", Size: 0}}},
			listBucketResult{Xmlns: s3NS, Name: "empty"},
		)
	}
	for i := range cases {
		want := httptest.NewRecorder()
		writeXML(want, 200, cases[i])
		got := httptest.NewRecorder()
		writeListXML(got, &cases[i])
		if !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
			t.Fatalf("case %d:\n got %s\nwant %s", i, got.Body, want.Body)
		}
		for _, h := range []string{"Content-Type", "Content-Length"} {
			if got.Header().Get(h) != want.Header().Get(h) {
				t.Errorf("case %d: %s %q, want %q", i, h, got.Header().Get(h), want.Header().Get(h))
			}
		}
		if got.Code != want.Code {
			t.Errorf("case %d: status %d, want %d", i, got.Code, want.Code)
		}
	}
}

// appendISOTime writes what time.Format wrote before it, for times of
// every shape (sub-second parts dropped, other zones, far years), and
// isoTimeSize says how long that is.
func TestISOTimeMatchesFormat(t *testing.T) {
	times := []time.Time{
		time.Unix(0, 0), time.Unix(1700000000, 999999999), time.Date(2024, 2, 29, 23, 59, 59, 500, time.FixedZone("x", 5*3600+1800)),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 6, 1, 0, 0, 0, 0, time.UTC), {},
	}
	for i := range 1000 {
		times = append(times, time.Unix(int64(i)*7919*86413, int64(i)*1000003))
	}
	for _, tm := range times {
		want := tm.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05.000Z")
		if got := string(appendISOTime([]byte("x"), tm)); got != "x"+want {
			t.Errorf("%v: %q, want %q", tm, got, want)
		}
		if n := isoTimeSize(tm); n != len(want) {
			t.Errorf("%v: size %d, want %d", tm, n, len(want))
		}
	}
}

// escapeXML writes what encoding/xml writes for every printable ASCII
// character alone and among others, and for strings it hands on.
func TestEscapeXMLMatchesEncodingXML(t *testing.T) {
	var ss []string
	for c := 0; c < 0x100; c++ {
		ss = append(ss, string(rune(c)), "a"+string(rune(c))+"b", string([]byte{byte(c)}), `"`+string(rune(c))+`"`)
	}
	ss = append(ss, `"0123456789abcdef"`, `a&b<c>"d'e`, "", "plain/key", "ü\"<")
	for _, s := range ss {
		var got, want bytes.Buffer
		escapeXML(&got, s)
		_ = xml.EscapeText(&want, []byte(s))
		if got.String() != want.String() {
			t.Errorf("%q: %q, want %q", s, got.String(), want.String())
		}
	}
}

// fill cuts every entry's time and ETag from shared strings: each entry
// must still get its own, for runs of one second, mixed seconds and
// times outside the years 0 to 9999.
func TestListFillTimesAndETags(t *testing.T) {
	base := time.Unix(1700000000, 0)
	var res store.ListResult
	for i, tm := range []time.Time{
		base, base.Add(10), base.Add(999999999), base.Add(time.Second), base.Add(time.Second + 5),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), base,
		time.Unix(-5, 3), time.Unix(-5, 7), {},
	} {
		res.Objects = append(res.Objects, store.ObjectInfo{Key: fmt.Sprintf("k%d", i), ETag: strings.Repeat("e", i), LastModified: tm, Size: int64(i)})
	}
	var out listBucketResult
	listParams{maxKeys: 1000}.fill(&out, res, nil)
	for i, obj := range res.Objects {
		c := out.Contents[i]
		if c.LastModified != isoTime(obj.LastModified) || c.ETag != quoteETag(obj.ETag) || c.Key != obj.Key || c.Size != obj.Size {
			t.Errorf("entry %d: %+v, want time %q etag %q", i, c, isoTime(obj.LastModified), quoteETag(obj.ETag))
		}
	}
}
