package s3api

import (
	"bytes"
	"net/http/httptest"
	"testing"
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
