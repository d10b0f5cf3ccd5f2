//go:build unix

package local

import "syscall"

// diskSpace returns the bytes an unprivileged writer may still use on the
// filesystem holding dir, and its size.
func diskSpace(dir string) (free, size int64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), int64(st.Blocks) * int64(st.Bsize), nil
}
