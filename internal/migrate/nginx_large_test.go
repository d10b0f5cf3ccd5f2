//go:build large

package migrate

import "testing"

// TestNginxOriginLarge is TestNginxOrigin at 10,000 files.
func TestNginxOriginLarge(t *testing.T) { migrateFromNginx(t, 10000) }
