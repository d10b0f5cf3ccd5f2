package local

import (
	"io"
	"os"
	"path/filepath"
)

// DataFile is what a write needs of the file its body streams into.
// *os.File is one; Options.WrapDataFile can put another in front of it.
type DataFile interface {
	io.Writer
	Sync() error
	Close() error
	Name() string
}

// createDataFile opens a new file in tmp/ for a body, wrapped when the
// options ask for it, and checking the free-space reserve as it grows.
func (e *Engine) createDataFile() (DataFile, error) {
	f, err := os.CreateTemp(filepath.Join(e.dir, "tmp"), "data-")
	if err != nil {
		return nil, err
	}
	var df DataFile = f
	if e.wrapDataFile != nil {
		df = e.wrapDataFile(f)
	}
	if e.reserve > 0 {
		df = &reserveFile{DataFile: df, e: e}
	}
	return df, nil
}
