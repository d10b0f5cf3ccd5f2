package mirror

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"testing"

	"mirrorstore/internal/origin"
	"mirrorstore/internal/store"
)

// sinkStore is a store that reads every body and keeps nothing, so the
// benchmark measures the fill, not an engine (a real one adds its MD5 for the
// ETag, about as costly as the whole fill, on another core).
type sinkStore struct{ store.Backend }

func (sinkStore) PutObject(ctx context.Context, bucket, key string, body io.Reader, opts store.PutOptions) (store.ObjectInfo, error) {
	n, err := io.Copy(io.Discard, body)
	return store.ObjectInfo{Bucket: bucket, Key: key, Size: n}, err
}

// BenchmarkColdFill64MiB compares a cold fill through the Manager (origin →
// staging file → client reader, plus the commit reader) with reading the same
// origin directly; "engine" is the same fill committed into the embedded
// engine by adoption. Run with -bench ColdFill -benchtime 5x.
func BenchmarkColdFill64MiB(b *testing.B) {
	const size = 64 << 20
	o := newOrigin(b)
	url := o.handle("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		io.Copy(w, &patternReader{n: size})
	})

	b.Run("direct", func(b *testing.B) {
		b.SetBytes(size)
		client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
		defer client.CloseIdleConnections()
		for b.Loop() {
			resp, err := client.Get(url)
			if err != nil {
				b.Fatal(err)
			}
			if n, err := io.Copy(io.Discard, resp.Body); err != nil || n != size {
				b.Fatalf("%d bytes, %v", n, err)
			}
			resp.Body.Close()
		}
	})

	b.Run("manager", func(b *testing.B) { benchFill(b, url, size, sinkStore{}) })
	// The production path: the embedded engine adopts the staging file
	// (fsync, rename, commit) with the MD5 the fill computed.
	b.Run("engine", func(b *testing.B) { benchFill(b, url, size, adoptingStore{newTestStore(b)}) })
}

// benchFill fills a new key from url per iteration through a Manager over
// st, reading it to the end as one client.
func benchFill(b *testing.B, url string, size int64, st store.Backend) {
	b.SetBytes(size)
	client := origin.NewClient(origin.Config{AllowPrivate: true})
	defer client.Close()
	rec := newRecorder()
	m, err := New(Config{Store: st, Origin: client, StagingDir: b.TempDir(), Metrics: rec,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close(context.Background())
	i := 0
	for b.Loop() {
		s := spec(url)
		s.Key = strconv.Itoa(i) // every iteration is a cold miss
		i++
		r, err := m.Open(context.Background(), s)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, r); err != nil || n != size {
			b.Fatalf("%d bytes, %v", n, err)
		}
		r.Close()
		if res := rec.waitEnd(b); res != ResultStored {
			b.Fatalf("result %s", res)
		}
	}
}
