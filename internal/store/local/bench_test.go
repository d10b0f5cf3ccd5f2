package local

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"mirrorstore/internal/store"
)

func benchEngine(b *testing.B) *Engine {
	e := newEngine(b, b.TempDir())
	if err := e.CreateBucket(context.Background(), "bench", "me"); err != nil {
		b.Fatal(err)
	}
	return e
}

// BenchmarkPut4KiB measures a durable small write: one synced Pebble batch
// with the bytes inlined in the record.
func BenchmarkPut4KiB(b *testing.B) {
	e := benchEngine(b)
	data := bytes.Repeat([]byte("p"), 4<<10)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_, err := e.PutObject(context.Background(), "bench", fmt.Sprintf("k%08d", i%1000), bytes.NewReader(data), store.PutOptions{Size: int64(len(data))})
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkGet4KiB(b *testing.B) {
	e := benchEngine(b)
	data := bytes.Repeat([]byte("g"), 4<<10)
	for i := range 100 {
		mustPut(b, e, "bench", fmt.Sprintf("k%03d", i), data)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		obj, err := e.GetObject(context.Background(), "bench", fmt.Sprintf("k%03d", i%100), store.GetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, obj.Body); err != nil {
			b.Fatal(err)
		}
		obj.Body.Close()
		i++
	}
}

// BenchmarkList1000 lists one full page of 1000 keys.
func BenchmarkList1000(b *testing.B) {
	e := benchEngine(b)
	batch := e.db.NewBatch()
	rec := objectRecord{size: 100, etag: "0123456789abcdef0123456789abcdef", loc: locFile, attrs: store.ObjectAttrs{ContentType: "image/png"}}
	v := rec.encode()
	for i := range 5000 {
		if err := batch.Set(objectKey("bench", fmt.Sprintf("photos/2024/%06d.png", i)), v, nil); err != nil {
			b.Fatal(err)
		}
	}
	if err := batch.Commit(nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := e.ListObjects(context.Background(), "bench", store.ListOptions{Prefix: "photos/", After: "photos/2024/001000.png"})
		if err != nil || len(res.Objects) != 1000 {
			b.Fatalf("%d objects, %v", len(res.Objects), err)
		}
	}
}
