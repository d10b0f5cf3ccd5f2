package server

import (
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

// stagingDirName is the folder of DataDir holding fills in progress when
// the backend cannot adopt files (the s3 backend); the embedded engine is a
// store.FileAdopter, and fills are staged in its own tmp/ so that a finished
// one is renamed into it, not copied. The Manager empties the folder it uses
// of a crash's leftovers.
const stagingDirName = "mirror-staging"

// startMirror builds the origin client and the fill manager over backend,
// reporting to met. The caller closes the Manager, then the client.
func startMirror(cfg MirrorConfig, dataDir string, backend store.Backend, log *slog.Logger, met mirror.Metrics) (*mirror.Manager, *origin.Client, error) {
	// An adopting engine stages fills in its own folder: the Manager takes
	// it from the engine, and no folder of ours is made.
	var staging string
	if _, adopts := backend.(store.FileAdopter); !adopts {
		staging = filepath.Join(dataDir, stagingDirName)
		if err := os.MkdirAll(staging, 0o755); err != nil {
			return nil, nil, fmt.Errorf("mirror staging folder: %w", err)
		}
	}
	oc := origin.NewClient(origin.Config{
		HeaderTimeout: cfg.Timeout,
		IdleTimeout:   cfg.IdleTimeout,
		PerHostLimit:  cfg.Concurrency,
		AllowPrivate:  cfg.AllowPrivate,
		Version:       cfg.Version,
	})
	m, err := mirror.New(mirror.Config{
		Store:      backend,
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
