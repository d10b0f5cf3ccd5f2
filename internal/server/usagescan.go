package server

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"mirrorstore/internal/metrics"
	"mirrorstore/internal/store"
)

// DefaultUsageScanInterval is the --usage-scan-interval of the command.
const DefaultUsageScanInterval = 5 * time.Minute

// usageScan is the last completed scan: every bucket's objects and bytes,
// and when the scan ended.
type usageScan struct {
	buckets []metrics.BucketUsage
	ended   time.Time
}

// usageScanner counts the objects and bytes of every bucket of a store
// that keeps no counts of its own (the scale-out backend, where no node
// sees every write) by listing it: one scan at start, then the next an
// interval after the previous one ended, so a scan that takes longer than
// the interval never overlaps the next one. Scrapes and the status page read
// the last completed scan, never the store: a write costs nothing extra.
type usageScanner struct {
	backend  store.Backend
	interval time.Duration
	logger   *slog.Logger

	last atomic.Pointer[usageScan]

	stop context.CancelFunc
	done sync.WaitGroup
}

// startUsageScanner starts the scanning goroutine; with interval 0 it
// starts none and the counts stay absent. Close stops it.
func startUsageScanner(backend store.Backend, interval time.Duration, logger *slog.Logger) *usageScanner {
	s := &usageScanner{backend: backend, interval: interval, logger: logger, stop: func() {}}
	if interval <= 0 {
		return s
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	s.done.Add(1)
	go s.run(ctx)
	return s
}

func (s *usageScanner) run(ctx context.Context) {
	defer s.done.Done()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		buckets, err := scanUsage(ctx, s.backend)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			// The last scan's counts stay, with their time: better a
			// known age than numbers from half a scan.
			s.logger.Warn("usage scan failed; the counts stay those of the last scan", "err", err)
		} else {
			s.last.Store(&usageScan{buckets: buckets, ended: time.Now()})
			s.logger.Debug("usage scan done", "buckets", len(buckets), "duration", time.Since(start))
		}
		t.Reset(s.interval)
	}
}

// Close stops the scanning and waits for it to end.
func (s *usageScanner) Close() {
	s.stop()
	s.done.Wait()
}

// usage is the metrics' UsageFunc: the last completed scan.
func (s *usageScanner) usage(context.Context) ([]metrics.BucketUsage, error) {
	if l := s.last.Load(); l != nil {
		return l.buckets, nil
	}
	return nil, nil
}

// lastScan is when the last completed scan ended; zero before the first.
func (s *usageScanner) lastScan() time.Time {
	if l := s.last.Load(); l != nil {
		return l.ended
	}
	return time.Time{}
}

// forget drops a deleted bucket from the last scan, so its series go at
// once on the node that deleted it (other nodes drop it at their next scan).
func (s *usageScanner) forget(bucket string) {
	for {
		old := s.last.Load()
		if old == nil {
			return
		}
		next := &usageScan{ended: old.ended, buckets: make([]metrics.BucketUsage, 0, len(old.buckets))}
		for _, b := range old.buckets {
			if b.Bucket != bucket {
				next.buckets = append(next.buckets, b)
			}
		}
		if s.last.CompareAndSwap(old, next) {
			return
		}
	}
}

// scanUsage lists every object of every bucket through the store's own
// listing (pages of 1,000) and sums them. A bucket deleted during the scan
// is left out.
func scanUsage(ctx context.Context, backend store.Backend) ([]metrics.BucketUsage, error) {
	buckets, err := backend.ListBuckets(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]metrics.BucketUsage, 0, len(buckets))
	for _, b := range buckets {
		u := metrics.BucketUsage{Bucket: b.Name}
		opts := store.ListOptions{MaxKeys: 1000}
		for {
			page, err := backend.ListObjects(ctx, b.Name, opts)
			if errors.Is(err, store.ErrNoSuchBucket) {
				break
			}
			if err != nil {
				return nil, err
			}
			for _, o := range page.Objects {
				u.Objects++
				u.Bytes += o.Size
			}
			if !page.IsTruncated {
				out = append(out, u)
				break
			}
			opts.After = page.NextAfter
		}
	}
	return out, nil
}

// scanningBackend drops a bucket from the scanner's counts when this node
// deletes it. It adds nothing to the object write path.
type scanningBackend struct {
	store.Backend
	scan *usageScanner
}

func (b scanningBackend) DeleteBucket(ctx context.Context, bucket string) error {
	err := b.Backend.DeleteBucket(ctx, bucket)
	if err == nil {
		b.scan.forget(bucket)
	}
	return err
}
