//go:build large

package e2e

import "testing"

// TestMirrorConcurrentColdGetsLarge is the 50 MiB version of
// TestMirrorConcurrentColdGets: 100 clients miss one key at once, the
// origin is asked once and all of them get the same bytes.
func TestMirrorConcurrentColdGetsLarge(t *testing.T) {
	coldConcurrentGets(t, 100, 50<<20)
}
