package local

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

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
	cpuPerOp(b)
	for b.Loop() {
		res, err := e.ListObjects(context.Background(), "bench", store.ListOptions{Prefix: "photos/", After: "photos/2024/001000.png"})
		if err != nil || len(res.Objects) != 1000 {
			b.Fatalf("%d objects, %v", len(res.Objects), err)
		}
	}
}

// fill20k stores 20,000 objects of 4 KiB, inlined in their records, as the
// s3 suite's listing and GET runs do: ~80 MiB of records, well past a small
// block cache.
func fill20k(b *testing.B, e *Engine) {
	data := bytes.Repeat([]byte("x"), 4<<10)
	batch := e.db.NewBatch()
	for i := range 20000 {
		rec := objectRecord{size: int64(len(data)), etag: "0123456789abcdef0123456789abcdef", loc: locInline, inline: data,
			attrs: store.ObjectAttrs{ContentType: "application/octet-stream"}}
		if err := batch.Set(objectKey("bench", fmt.Sprintf("obj/%06d", i)), rec.encode(), nil); err != nil {
			b.Fatal(err)
		}
	}
	if err := batch.Commit(pebble.Sync); err != nil {
		b.Fatal(err)
	}
	// Flush, so reads go through sstables and the block cache, not the memtable.
	if err := e.db.Flush(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkList1000Inline4KiB lists pages of 1000 keys of a 20,000-key bucket
// of 4 KiB inline objects, each page starting at a different place.
func BenchmarkList1000Inline4KiB(b *testing.B) {
	e := benchEngine(b)
	fill20k(b, e)
	b.ReportAllocs()
	cpuPerOp(b)
	i := 0
	for b.Loop() {
		after := fmt.Sprintf("obj/%06d", (i*7919)%19000)
		res, err := e.ListObjects(context.Background(), "bench", store.ListOptions{After: after})
		if err != nil || len(res.Objects) != 1000 {
			b.Fatalf("%d objects, %v", len(res.Objects), err)
		}
		i++
	}
}

// BenchmarkGetRandom4KiB reads random objects of a 20,000-key bucket of
// 4 KiB inline objects.
func BenchmarkGetRandom4KiB(b *testing.B) {
	e := benchEngine(b)
	fill20k(b, e)
	b.SetBytes(4 << 10)
	b.ReportAllocs()
	cpuPerOp(b)
	i := 0
	for b.Loop() {
		obj, err := e.GetObject(context.Background(), "bench", fmt.Sprintf("obj/%06d", (i*7919)%20000), store.GetOptions{})
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

// BenchmarkHeadAbsent looks up keys that do not exist in a 20,000-key
// bucket, as a mirror miss or a HEAD of an absent key does.
func BenchmarkHeadAbsent(b *testing.B) {
	e := benchEngine(b)
	fill20k(b, e)
	b.ReportAllocs()
	cpuPerOp(b)
	i := 0
	for b.Loop() {
		_, err := e.HeadObject(context.Background(), "bench", fmt.Sprintf("obj/%06dx", (i*7919)%20000))
		if err == nil {
			b.Fatal("found")
		}
		i++
	}
}

// cpuPerOp reports the process CPU time (user and system) per operation
// beside the wall time: on a loaded machine the wall time mostly measures
// the wait for a core, the CPU time what an operation costs. Call it right
// before the timed loop; it reports when the benchmark ends.
func cpuPerOp(b *testing.B) {
	start := cpuTime()
	b.Cleanup(func() {
		if b.N > 0 {
			b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	})
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkList1000Large lists pages of 1000 keys of a 200,000-key bucket
// of empty objects named as the s3 suite's listed bucket names them
// (p0000/k0000000: folders of 1,000 keys, listed without a delimiter),
// each page starting at a different place.
func BenchmarkList1000Large(b *testing.B) {
	e := benchEngine(b)
	const n = 200000
	batch := e.db.NewBatch()
	for i := range n {
		rec := objectRecord{etag: "d41d8cd98f00b204e9800998ecf8427e", modTime: time.Now().UnixNano(), loc: locInline,
			attrs: store.ObjectAttrs{ContentType: "application/octet-stream"}}
		if err := batch.Set(objectKey("bench", fmt.Sprintf("p%04d/k%07d", i/1000, i)), rec.encode(), nil); err != nil {
			b.Fatal(err)
		}
	}
	if err := batch.Commit(pebble.Sync); err != nil {
		b.Fatal(err)
	}
	if err := e.db.Flush(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpuPerOp(b)
	i := 0
	for b.Loop() {
		j := (i * 7919) % (n - 1000)
		after := fmt.Sprintf("p%04d/k%07d", j/1000, j)
		res, err := e.ListObjects(context.Background(), "bench", store.ListOptions{After: after})
		if err != nil || len(res.Objects) != 1000 {
			b.Fatalf("%d objects, %v", len(res.Objects), err)
		}
		i++
	}
}

// BenchmarkPut64MiBParallel is the engine's share of the s3 suite's PUT
// 64 MiB row: four writers, each body hashed (MD5), written to tmp/,
// fsynced, renamed and committed.
func BenchmarkPut64MiBParallel(b *testing.B) {
	e := benchEngine(b)
	data := bytes.Repeat([]byte("L"), 64<<20)
	b.SetBytes(int64(len(data)))
	b.SetParallelism(2) // four writers on two cores, as the suite's clients
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			key := fmt.Sprintf("large/%04d", n.Add(1)%8)
			if _, err := e.PutObject(context.Background(), "bench", key, bytes.NewReader(data), store.PutOptions{Size: int64(len(data))}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
