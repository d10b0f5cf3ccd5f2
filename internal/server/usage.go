package server

import (
	"context"
	"errors"

	"mirrorstore/internal/metrics"
	"mirrorstore/internal/store"
)

// newMetrics returns the server's collectors and the backend its writes go
// through. A backend that keeps exact per-bucket counts (the embedded
// engine) is read at scrape time and used as it is, with no extra lookup
// per write. Any other (the scale-out backend, where no node sees every
// write) is wrapped so that this node's writes move per-node counts.
func newMetrics(backend store.Backend) (*metrics.Metrics, store.Backend) {
	if u, ok := backend.(store.Usage); ok {
		return metrics.NewWithUsage(usageOf(backend, u)), backend
	}
	met := metrics.New()
	return met, countingBackend{Backend: backend, m: met}
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
