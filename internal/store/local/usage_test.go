package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"mirrorstore/internal/store"
)

// listedUsage counts a bucket's objects and bytes the slow way, by listing
// every key: the truth the kept counts must match.
func listedUsage(t *testing.T, e *Engine, bucket string) usage {
	t.Helper()
	var u usage
	opts := store.ListOptions{}
	for {
		res, err := e.ListObjects(context.Background(), bucket, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Objects {
			u.objects++
			u.bytes += o.Size
		}
		if !res.IsTruncated {
			return u
		}
		opts.After = res.NextAfter
	}
}

func keptUsage(t *testing.T, e *Engine, bucket string) usage {
	t.Helper()
	o, b, err := e.BucketUsage(context.Background(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	return usage{o, b}
}

func checkUsage(t *testing.T, e *Engine, bucket string, want usage) {
	t.Helper()
	if got := keptUsage(t, e, bucket); got != want {
		t.Errorf("%s: kept usage %+v, want %+v", bucket, got, want)
	}
	if got := listedUsage(t, e, bucket); got != want {
		t.Errorf("%s: listing finds %+v, want %+v", bucket, got, want)
	}
}

// uploadMultipart completes a two-part upload of key (5 MiB + tail bytes).
func uploadMultipart(t *testing.T, e *Engine, bucket, key string, tail int, cond store.Conditions) (store.ObjectInfo, error) {
	t.Helper()
	ctx := context.Background()
	id, err := e.CreateMultipartUpload(ctx, bucket, key, store.ObjectAttrs{})
	if err != nil {
		t.Fatal(err)
	}
	var parts []store.CompletePart
	for i, size := range []int{store.MinPartSize, tail} {
		data := bytes.Repeat([]byte{byte('a' + i)}, size)
		p, err := e.UploadPart(ctx, bucket, key, id, i+1, bytes.NewReader(data), int64(size), nil)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, store.CompletePart{PartNumber: i + 1, ETag: p.ETag})
	}
	return e.CompleteMultipartUpload(ctx, bucket, key, id, parts, cond)
}

// TestUsageFollowsEveryWrite moves a bucket's counts through each kind of
// write (new, replaced bigger and smaller, inline and file, deleted,
// multipart new and replacing, refused by a condition, aborted), checking
// the kept counts against a listing after each and after a reopen.
func TestUsageFollowsEveryWrite(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { e.Close() }()
	for _, b := range []string{"u1", "u2"} {
		if err := e.CreateBucket(ctx, b, "o"); err != nil {
			t.Fatal(err)
		}
	}
	checkUsage(t, e, "u1", usage{})
	if _, _, err := e.BucketUsage(ctx, "nope"); !errors.Is(err, store.ErrNoSuchBucket) {
		t.Fatalf("usage of a missing bucket: %v", err)
	}

	mustPut(t, e, "u1", "small", []byte("hello"))                // inline
	mustPut(t, e, "u1", "big", bytes.Repeat([]byte("b"), 10000)) // data file
	checkUsage(t, e, "u1", usage{2, 10005})
	mustPut(t, e, "u1", "big", []byte("now small"))
	checkUsage(t, e, "u1", usage{2, 14})
	mustPut(t, e, "u1", "small", bytes.Repeat([]byte("s"), 7000))
	checkUsage(t, e, "u1", usage{2, 7009})
	mustPut(t, e, "u2", "other", []byte("x"))
	checkUsage(t, e, "u2", usage{1, 1})

	// A refused conditional write changes nothing.
	_, err = e.PutObject(ctx, "u1", "small", strings.NewReader("zz"), store.PutOptions{Size: 2, Conditions: store.Conditions{IfNoneMatchStar: true}})
	if !errors.Is(err, store.ErrPreconditionFailed) {
		t.Fatalf("conditional put: %v", err)
	}
	checkUsage(t, e, "u1", usage{2, 7009})

	if err := e.DeleteObject(ctx, "u1", "big"); err != nil {
		t.Fatal(err)
	}
	if err := e.DeleteObject(ctx, "u1", "never-was"); err != nil {
		t.Fatal(err)
	}
	checkUsage(t, e, "u1", usage{1, 7000})

	if _, err := uploadMultipart(t, e, "u1", "mp", 100, store.Conditions{}); err != nil {
		t.Fatal(err)
	}
	checkUsage(t, e, "u1", usage{2, 7000 + store.MinPartSize + 100})
	// Replacing by multipart moves bytes only.
	if _, err := uploadMultipart(t, e, "u1", "small", 1, store.Conditions{}); err != nil {
		t.Fatal(err)
	}
	checkUsage(t, e, "u1", usage{2, 2*store.MinPartSize + 101})
	// A refused completion and an abort change nothing.
	if _, err := uploadMultipart(t, e, "u1", "mp", 5, store.Conditions{IfMatch: "nope"}); !errors.Is(err, store.ErrPreconditionFailed) {
		t.Fatalf("conditional complete: %v", err)
	}
	id, err := e.CreateMultipartUpload(ctx, "u1", "gone", store.ObjectAttrs{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.UploadPart(ctx, "u1", "gone", id, 1, strings.NewReader("abc"), 3, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.AbortMultipartUpload(ctx, "u1", "gone", id); err != nil {
		t.Fatal(err)
	}
	checkUsage(t, e, "u1", usage{2, 2*store.MinPartSize + 101})

	// Tags rewrite the record but not the counts.
	if err := e.SetObjectTags(ctx, "u1", "mp", map[string]string{"a": "b"}); err != nil {
		t.Fatal(err)
	}
	checkUsage(t, e, "u1", usage{2, 2*store.MinPartSize + 101})

	// The counts are kept across a restart.
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if e, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	checkUsage(t, e, "u1", usage{2, 2*store.MinPartSize + 101})
	checkUsage(t, e, "u2", usage{1, 1})

	// A deleted and recreated bucket starts from nothing.
	if err := e.DeleteObject(ctx, "u2", "other"); err != nil {
		t.Fatal(err)
	}
	checkUsage(t, e, "u2", usage{})
	if err := e.DeleteBucket(ctx, "u2"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.BucketUsage(ctx, "u2"); !errors.Is(err, store.ErrNoSuchBucket) {
		t.Fatalf("usage of a deleted bucket: %v", err)
	}
	if err := e.CreateBucket(ctx, "u2", "o"); err != nil {
		t.Fatal(err)
	}
	checkUsage(t, e, "u2", usage{})
}

// TestUsageConcurrentWriters has writers race on a few keys of one bucket
// (replacing, deleting, completing uploads); the kept counts must equal a
// listing at the end, and after a reopen.
func TestUsageConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.CreateBucket(ctx, "race", "o"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for i := 0; i < 60; i++ {
				key := fmt.Sprintf("k%d", r.IntN(6))
				switch r.IntN(4) {
				case 0:
					if err := e.DeleteObject(ctx, "race", key); err != nil {
						t.Error(err)
					}
				default:
					size := r.IntN(9000)
					if _, err := e.PutObject(ctx, "race", key, bytes.NewReader(make([]byte, size)), store.PutOptions{Size: int64(size)}); err != nil {
						t.Error(err)
					}
				}
			}
		}(w)
	}
	wg.Wait()
	want := listedUsage(t, e, "race")
	if got := keptUsage(t, e, "race"); got != want {
		t.Fatalf("kept %+v, listing %+v", got, want)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = newEngine(t, dir)
	if got := keptUsage(t, e, "race"); got != want {
		t.Fatalf("after reopen: kept %+v, listing %+v", got, want)
	}
}

// TestUsageCountedForOlderFolders opens a folder whose usage records and
// marker are gone, as in one written before they were kept: Open counts
// the objects once and keeps the result.
func TestUsageCountedForOlderFolders(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"old1", "old2", "empty"} {
		if err := e.CreateBucket(ctx, b, "o"); err != nil {
			t.Fatal(err)
		}
	}
	mustPut(t, e, "old1", "a", bytes.Repeat([]byte("a"), 5000))
	mustPut(t, e, "old1", "b/c", []byte("bc"))
	mustPut(t, e, "old2", "x", []byte("xyz"))
	if err := e.db.DeleteRange([]byte{kindUsage, 0}, []byte{kindUsage, 1}, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := e.db.Delete(usageMarker, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = newEngine(t, dir)
	checkUsage(t, e, "old1", usage{2, 5002})
	checkUsage(t, e, "old2", usage{1, 3})
	checkUsage(t, e, "empty", usage{})
	if ok, err := e.get(usageMarker, func([]byte) error { return nil }); err != nil || !ok {
		t.Fatalf("marker not written: %v %v", ok, err)
	}
}

// crashChildEnv names the data folder of TestUsageCrashChild; when unset
// the child test does nothing.
const crashChildEnv = "MIRRORSTORE_USAGE_CRASH_DIR"

// TestUsageCrashChild is the process TestUsageSurvivesKill kills: it
// writes, replaces and deletes objects of one bucket as fast as it can,
// printing "ready" once it has started.
func TestUsageCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("run by TestUsageSurvivesKill")
	}
	ctx := context.Background()
	e, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.CreateBucket(ctx, "crash", "o"); err != nil && !errors.Is(err, store.ErrBucketAlreadyOwnedByYou) {
		t.Fatal(err)
	}
	fmt.Println("ready")
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for {
				key := fmt.Sprintf("k%d", r.IntN(20))
				if r.IntN(3) == 0 {
					_ = e.DeleteObject(ctx, "crash", key)
					continue
				}
				size := r.IntN(8000)
				_, _ = e.PutObject(ctx, "crash", key, bytes.NewReader(make([]byte, size)), store.PutOptions{Size: int64(size)})
			}
		}(w)
	}
	wg.Wait()
}

// TestUsageSurvivesKill kills a process in the middle of concurrent writes
// (SIGKILL, no chance to close anything) a few times; each time the
// reopened engine's counts must equal a listing.
func TestUsageSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	for round := 0; round < 3; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestUsageCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 6)
		if _, err := out.Read(buf); err != nil || string(buf[:5]) != "ready" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child did not start: %q %v", buf, err)
		}
		time.Sleep(time.Duration(200+100*round) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()

		e, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		want := listedUsage(t, e, "crash")
		got := keptUsage(t, e, "crash")
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("round %d: kept %+v, listing %+v", round, got, want)
		}
		if want.objects == 0 {
			t.Fatalf("round %d: the child wrote nothing", round)
		}
		t.Logf("round %d: %d objects, %d bytes", round, want.objects, want.bytes)
	}
}

// BenchmarkPutNewKeysParallel measures durable small writes of new keys
// from many writers into one bucket: each moves the bucket's usage record,
// so it shows what ordering those records costs against the grouped fsync.
func BenchmarkPutNewKeysParallel(b *testing.B) {
	e := benchEngine(b)
	data := bytes.Repeat([]byte("p"), 4<<10)
	b.SetBytes(int64(len(data)))
	var n atomic.Int64
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			key := fmt.Sprintf("n%09d", n.Add(1))
			if _, err := e.PutObject(context.Background(), "bench", key, bytes.NewReader(data), store.PutOptions{Size: int64(len(data))}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
