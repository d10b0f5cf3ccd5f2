package local

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"testing"

	"mirrorstore/internal/store"
)

// stage writes data to a new file in dir, fsynced, as a mirror fill does.
func stage(t *testing.T, dir string, data []byte) (path string, sum []byte) {
	t.Helper()
	f, err := os.CreateTemp(dir, "fill-")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	s := md5.Sum(data)
	return f.Name(), s[:]
}

func TestAdoptFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e := newEngine(t, dir)
	if err := e.CreateBucket(ctx, "b", "owner"); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("adopt me "), 10000)
	path, sum := stage(t, e.AdoptDir(), data)
	// A reader that opened the file before the adoption (a client still
	// streaming the fill) keeps reading it after the rename and after the
	// object is deleted.
	early, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer early.Close()

	info, err := e.AdoptFile(ctx, "b", "k", path, int64(len(data)), sum, store.PutOptions{
		Attrs:      store.ObjectAttrs{ContentType: "text/plain", MirrorOrigin: "http://origin/k"},
		Conditions: store.Conditions{IfNoneMatchStar: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if info.ETag != hex.EncodeToString(sum) || info.Size != int64(len(data)) {
		t.Errorf("info %+v", info)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("staging path still exists after adoption: %v", err)
	}
	if got := mustRead(t, e, "b", "k"); !bytes.Equal(got, data) {
		t.Errorf("stored %d bytes, want %d", len(got), len(data))
	}
	head, err := e.HeadObject(ctx, "b", "k")
	if err != nil || head.Attrs.ContentType != "text/plain" || head.Attrs.MirrorOrigin != "http://origin/k" || head.ETag != info.ETag {
		t.Errorf("head %+v, %v", head, err)
	}
	if n := len(dataFiles(t, dir)); n != 1 {
		t.Errorf("%d data files, want 1", n)
	}
	if err := e.DeleteObject(ctx, "b", "k"); err != nil {
		t.Fatal(err)
	}
	if n := len(dataFiles(t, dir)); n != 0 {
		t.Errorf("%d data files after delete, want 0", n)
	}
	got, err := io.ReadAll(early)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("early reader got %d bytes, %v", len(got), err)
	}

	// The adopted object survives a restart.
	path, sum = stage(t, e.AdoptDir(), data[:5000])
	if _, err := e.AdoptFile(ctx, "b", "k2", path, 5000, sum, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	e.Close()
	e2 := newEngine(t, dir)
	if got := mustRead(t, e2, "b", "k2"); !bytes.Equal(got, data[:5000]) {
		t.Errorf("after reopen: %d bytes", len(got))
	}
}

func TestAdoptFileRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e := newEngine(t, dir)
	if err := e.CreateBucket(ctx, "b", "owner"); err != nil {
		t.Fatal(err)
	}
	mustPut(t, e, "b", "taken", []byte("a client's write"))
	data := []byte("the fill's bytes")
	outside := t.TempDir()

	for _, tc := range []struct {
		name   string
		dir    string // where the file is staged; "" is AdoptDir
		bucket string
		key    string
		size   int64
		want   error
	}{
		{"a write landed during the fill", "", "b", "taken", int64(len(data)), store.ErrPreconditionFailed},
		{"size does not match the file", "", "b", "new", int64(len(data)) + 1, store.ErrIncompleteBody},
		{"no such bucket", "", "nope", "new", int64(len(data)), store.ErrNoSuchBucket},
		{"file outside AdoptDir", outside, "b", "new", int64(len(data)), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.dir
			if d == "" {
				d = e.AdoptDir()
			}
			path, sum := stage(t, d, data)
			defer os.Remove(path)
			_, err := e.AdoptFile(ctx, tc.bucket, tc.key, path, tc.size, sum, store.PutOptions{Conditions: store.Conditions{IfNoneMatchStar: true}})
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			// Nothing of the refused fill is left in objects/: the one
			// data file is the client's write, if any.
			if n := len(dataFiles(t, dir)); n != 0 {
				t.Errorf("%d data files, want 0 (the client's write is inline)", n)
			}
		})
	}
	if got := mustRead(t, e, "b", "taken"); string(got) != "a client's write" {
		t.Errorf("the client's write became %q", got)
	}
	if _, err := e.HeadObject(ctx, "b", "new"); !errors.Is(err, store.ErrNoSuchKey) {
		t.Errorf("refused adoptions stored something: %v", err)
	}
}
