package server

import (
	"strings"
	"testing"
)

func TestOpenBackendCacheSize(t *testing.T) {
	if _, err := openBackend(Config{DataDir: t.TempDir(), CacheSize: -1}); err == nil || !strings.Contains(err.Error(), "--cache-size") {
		t.Fatalf("negative cache size: err = %v, want a --cache-size error", err)
	}
	b, err := openBackend(Config{DataDir: t.TempDir(), CacheSize: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}
