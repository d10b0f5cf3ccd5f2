package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"mirrorstore/internal/mirror"
	"mirrorstore/internal/origin"
	"mirrorstore/internal/store"
)

// MirrorConfig is the origin protection of mirror fills (SPEC §7, the
// --mirror-* flags). Zero values take the defaults.
type MirrorConfig struct {
	// Timeout bounds connecting to an origin and waiting for its headers,
	// and the wait for a per-host slot (10 s).
	Timeout time.Duration
	// IdleTimeout bounds each wait between body reads (30 s).
	IdleTimeout time.Duration
	// MaxSize is the largest object a fill stores (5 GiB).
	MaxSize int64
	// Concurrency caps fills in flight per origin host (64).
	Concurrency int
	// AllowPrivate lets origins resolve to loopback, link-local and
	// private addresses (tests, private networks).
	AllowPrivate bool
	// Version goes into the mirror User-Agent.
	Version string
}

// stagingDirName is the folder of DataDir holding fills in progress; the
// engine never uses it, and the Manager empties it of a crash's leftovers.
const stagingDirName = "mirror-staging"

// startMirror builds the origin client and the fill manager over backend,
// reporting to met. The caller closes the Manager, then the client.
func startMirror(cfg MirrorConfig, dataDir string, backend store.Backend, log *slog.Logger, met mirror.Metrics) (*mirror.Manager, *origin.Client, error) {
	staging := filepath.Join(dataDir, stagingDirName)
	if err := os.MkdirAll(staging, 0o755); err != nil {
		return nil, nil, fmt.Errorf("mirror staging folder: %w", err)
	}
	oc := origin.NewClient(origin.Config{
		HeaderTimeout: cfg.Timeout,
		IdleTimeout:   cfg.IdleTimeout,
		PerHostLimit:  cfg.Concurrency,
		AllowPrivate:  cfg.AllowPrivate,
		Version:       cfg.Version,
	})
	m, err := mirror.New(mirror.Config{
		Store:      adoptingBackend(backend),
		Origin:     oc,
		StagingDir: staging,
		MaxSize:    cfg.MaxSize,
		Metrics:    met,
		Logger:     log,
	})
	if err != nil {
		oc.Close()
		return nil, nil, err
	}
	return m, oc, nil
}

// countingAdopter lets a fill commit through the engine's FileAdopter (its
// staging file renamed into the store, not copied) while the bucket counts
// still move, as they do for every write through countingBackend.
type countingAdopter struct {
	countingBackend
	a store.FileAdopter
}

func (b countingAdopter) AdoptDir() string { return b.a.AdoptDir() }

func (b countingAdopter) AdoptFile(ctx context.Context, bucket, key, path string, size int64, md5 []byte, opts store.PutOptions) (store.ObjectInfo, error) {
	old, existed, err := b.before(ctx, bucket, key)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	info, err := b.a.AdoptFile(ctx, bucket, key, path, size, md5, opts)
	if err == nil {
		b.wrote(bucket, old, existed, info.Size)
	}
	return info, err
}

// adoptingBackend shows the FileAdopter of a backend behind the counting
// wrapper; a backend passed as it is shows its own. The s3 backend has none
// and keeps the streamed commit.
func adoptingBackend(b store.Backend) store.Backend {
	if cb, ok := b.(countingBackend); ok {
		if a, ok := cb.Backend.(store.FileAdopter); ok {
			return countingAdopter{countingBackend: cb, a: a}
		}
	}
	return b
}
