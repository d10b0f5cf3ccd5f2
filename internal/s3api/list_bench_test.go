package s3api

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"mirrorstore/internal/store"
)

// BenchmarkListEncode1000 encodes one ListObjectsV2 answer of 1000 keys,
// the part of a listing page spent after the store has answered.
func BenchmarkListEncode1000(b *testing.B) {
	res := store.ListResult{IsTruncated: true, NextAfter: "obj/000999"}
	for i := range 1000 {
		res.Objects = append(res.Objects, store.ObjectInfo{Key: fmt.Sprintf("obj/%06d", i), Size: 4096,
			ETag: "0123456789abcdef0123456789abcdef", LastModified: time.Unix(1700000000, 0).UTC()})
	}
	p := listParams{maxKeys: 1000}
	for _, enc := range []struct {
		name  string
		write func(*httptest.ResponseRecorder, *listBucketResult)
	}{
		{"encoding-xml", func(w *httptest.ResponseRecorder, out *listBucketResult) { writeXML(w, 200, *out) }},
		{"by-hand", func(w *httptest.ResponseRecorder, out *listBucketResult) { writeListXML(w, out) }},
	} {
		b.Run(enc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				keyCount := len(res.Objects)
				out := listBucketResult{Xmlns: s3NS, Name: "bench", KeyCount: &keyCount}
				p.fill(&out, res, nil)
				out.NextContinuationToken = encodeToken(res.NextAfter)
				enc.write(httptest.NewRecorder(), &out)
			}
		})
	}
}
