package local

import (
	"testing"

	"mirrorstore/internal/store"
	"mirrorstore/internal/store/storetest"
)

func newEngine(t testing.TB, dir string) *Engine {
	t.Helper()
	e, err := Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Backend { return newEngine(t, t.TempDir()) })
}
