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
// options ask for it.
func (e *Engine) createDataFile() (DataFile, error) {
	f, err := os.CreateTemp(filepath.Join(e.dir, "tmp"), "data-")
	if err != nil {
		return nil, err
	}
	if e.wrapDataFile != nil {
		return e.wrapDataFile(f), nil
	}
	return f, nil
}
