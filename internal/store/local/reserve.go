package local

import (
	"errors"
	"fmt"
	"syscall"
)

// Pebble does not survive a full disk: a metadata log write that fails is a
// "fatal commit error" that ends the process. So writes of object bytes
// stop short of filling the disk, keeping a reserve of free space for
// metadata (records, deletes that free space, Pebble's flushes and
// compactions): such a write fails with 500 and stores nothing, while the
// server goes on serving reads and deletes.
const (
	// The default reserve is 5% of the filesystem, within these bounds.
	minReserve = 8 << 20
	maxReserve = 1 << 30
	// reserveCheckEvery is how many bytes a data file takes between two
	// looks at the free space.
	reserveCheckEvery = 1 << 20
)

// errDiskFull is the error of a write refused for the reserve; it also
// matches syscall.ENOSPC.
var errDiskFull = errors.New("disk full")

// defaultReserve is the reserve for the filesystem holding dir, or 0 when
// its size cannot be known (no check is then made).
func defaultReserve(dir string) int64 {
	_, size, err := diskSpace(dir)
	if err != nil {
		return 0
	}
	return min(max(size/20, minReserve), maxReserve)
}

// checkReserve fails when writing need more bytes would leave less than the
// reserve free.
func (e *Engine) checkReserve(need int64) error {
	if e.reserve <= 0 {
		return nil
	}
	free, _, err := diskSpace(e.dir)
	if err != nil {
		return nil // unknown: the write meets the disk as it is
	}
	if free-need < e.reserve {
		return fmt.Errorf("%w: %d MiB free on the data folder's filesystem, %d MiB kept for metadata: %w",
			errDiskFull, free>>20, e.reserve>>20, syscall.ENOSPC)
	}
	return nil
}

// reserveFile checks the reserve as a data file grows.
type reserveFile struct {
	DataFile
	e     *Engine
	since int64 // bytes written since the last check
}

func (f *reserveFile) Write(p []byte) (int, error) {
	f.since += int64(len(p))
	if f.since >= reserveCheckEvery {
		f.since = 0
		if err := f.e.checkReserve(int64(len(p))); err != nil {
			return 0, fmt.Errorf("write %s: %w", f.Name(), err)
		}
	}
	return f.DataFile.Write(p)
}
