package server

import (
	"errors"
	"fmt"
	"path/filepath"

	"mirrorstore/internal/auth"
	"mirrorstore/internal/store"
	"mirrorstore/internal/store/local"
	"mirrorstore/internal/store/s3backend"
)

// BackendConfig selects where objects live.
type BackendConfig struct {
	// Kind is "local" (the embedded engine in DataDir; "" means local) or
	// "s3" (an existing S3-compatible cluster, SPEC §10).
	Kind string
	// S3 names the cluster when Kind is "s3".
	S3 s3backend.Config
}

// openBackend opens the configured storage.
func openBackend(cfg Config) (store.Backend, error) {
	switch cfg.Backend.Kind {
	case "", "local":
		if cfg.CacheSize < 0 {
			return nil, fmt.Errorf("--cache-size %d: use a size in bytes, 0 for the default", cfg.CacheSize)
		}
		return local.OpenWith(cfg.DataDir, local.Options{CacheBytes: cfg.CacheSize})
	case "s3":
		s3cfg := cfg.Backend.S3
		if s3cfg.SpoolDir == "" {
			// In the node's own folder, so a restart clears what a
			// killed node was sending.
			s3cfg.SpoolDir = filepath.Join(cfg.DataDir, "backend-spool")
		}
		return s3backend.Open(s3cfg)
	}
	return nil, fmt.Errorf("--backend %q: use local or s3", cfg.Backend.Kind)
}

// loadRootCredential is loadCredential, except with the s3 backend: nodes
// behind one load balancer must accept the same keys, and a pair generated
// into one node's data folder would be that node's alone, so the root
// credential must be given.
func loadRootCredential(cfg Config) (auth.Credential, bool, error) {
	if cfg.Backend.Kind == "s3" && (cfg.AccessKey == "" || cfg.SecretKey == "") {
		return auth.Credential{}, false, errors.New("with --backend s3, set MIRRORSTORE_ACCESS_KEY and MIRRORSTORE_SECRET_KEY: every node must accept the same root credential, so none is generated")
	}
	return loadCredential(cfg.DataDir, cfg.AccessKey, cfg.SecretKey)
}

// storageDescription says where the data is, for the start-up line.
func storageDescription(cfg Config) string {
	if cfg.Backend.Kind == "s3" {
		return fmt.Sprintf("objects in bucket %s of %s", cfg.Backend.S3.Bucket, cfg.Backend.S3.Endpoint)
	}
	return "data in " + cfg.DataDir
}
