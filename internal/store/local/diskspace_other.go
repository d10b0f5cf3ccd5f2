//go:build !unix

package local

import "errors"

// diskSpace is unknown here: the reserve is not checked.
func diskSpace(string) (free, size int64, err error) {
	return 0, 0, errors.New("free space unknown on this system")
}
