package server

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"mirrorstore/internal/metrics"
	"mirrorstore/internal/store"
)

// newMetrics returns the server's collectors, the backend its requests go
// through and the scanner it started (Close it at shutdown). A backend
// that keeps exact per-bucket counts (the embedded engine) is read at
// scrape time and used as it is. Any other (the scale-out backend, where no
// node sees every write) is counted by a periodic scan of its listing every
// scanInterval (0: never), so a write costs no lookup to keep counts.
func newMetrics(backend store.Backend, scanInterval time.Duration, logger *slog.Logger) (*metrics.Metrics, store.Backend, *usageScanner) {
	if u, ok := backend.(store.Usage); ok {
		return metrics.NewWithUsage(usageOf(backend, u)), backend, startUsageScanner(backend, 0, logger)
	}
	scan := startUsageScanner(backend, scanInterval, logger)
	return metrics.NewFromScan(scan.usage, scan.lastScan), scanningBackend{Backend: backend, scan: scan}, scan
}

// usageOf reads every bucket's counts: one listing of the buckets, then one
// read per bucket. A bucket deleted in between is left out.
func usageOf(backend store.Backend, u store.Usage) metrics.UsageFunc {
	return func(ctx context.Context) ([]metrics.BucketUsage, error) {
		buckets, err := backend.ListBuckets(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]metrics.BucketUsage, 0, len(buckets))
		for _, b := range buckets {
			objects, bytes, err := u.BucketUsage(ctx, b.Name)
			if errors.Is(err, store.ErrNoSuchBucket) {
				continue
			}
			if err != nil {
				return out, err
			}
			out = append(out, metrics.BucketUsage{Bucket: b.Name, Objects: objects, Bytes: bytes})
		}
		return out, nil
	}
}
