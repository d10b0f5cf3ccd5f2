package local

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"mirrorstore/internal/store"
)

// TestReserve: with less free space than the reserve, object writes
// (inline, data file, part, adopted file) fail with ENOSPC and leave
// nothing, while deletes and reads go on; without a reserve they pass.
func TestReserve(t *testing.T) {
	dir := t.TempDir()
	free, _, err := diskSpace(dir)
	if err != nil {
		t.Skipf("free space unknown: %v", err)
	}
	ctx := context.Background()
	e, err := OpenWith(dir, Options{ReserveBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.CreateBucket(ctx, "b", "owner"); err != nil {
		t.Fatal(err)
	}
	mustPut(t, e, "b", "kept", bytes.Repeat([]byte("k"), 64<<10))
	e.Close()

	// A reserve past the free space: every object write is refused.
	e, err = OpenWith(dir, Options{ReserveBytes: free + 1<<30})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, size := range []int{10, 64 << 10} {
		_, err := e.PutObject(ctx, "b", "new", bytes.NewReader(make([]byte, size)), store.PutOptions{Size: int64(size)})
		if !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("PUT of %d bytes past the reserve: %v, want ENOSPC", size, err)
		}
	}
	id, err := e.CreateMultipartUpload(ctx, "b", "mp", store.ObjectAttrs{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.UploadPart(ctx, "b", "mp", id, 1, bytes.NewReader(make([]byte, 1<<20)), 1<<20, nil); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("UploadPart past the reserve: %v, want ENOSPC", err)
	}
	staged := filepath.Join(e.AdoptDir(), "fill")
	if err := os.WriteFile(staged, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := [16]byte{}
	if _, err := e.AdoptFile(ctx, "b", "adopted", staged, 1, sum[:], store.PutOptions{}); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("AdoptFile past the reserve: %v, want ENOSPC", err)
	}
	os.Remove(staged)
	if got := mustRead(t, e, "b", "kept"); len(got) != 64<<10 {
		t.Errorf("read past the reserve: %d bytes", len(got))
	}
	if _, err := e.HeadObject(ctx, "b", "new"); !errors.Is(err, store.ErrNoSuchKey) {
		t.Errorf("HEAD of the refused PUT: %v", err)
	}
	if files := dataFiles(t, dir); len(files) != 1 {
		t.Errorf("%d data files, want the kept object's one", len(files))
	}
	if err := e.DeleteObject(ctx, "b", "kept"); err != nil {
		t.Errorf("DELETE past the reserve: %v", err)
	}
}
