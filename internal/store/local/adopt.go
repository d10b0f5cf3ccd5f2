package local

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"mirrorstore/internal/store"
)

var _ store.FileAdopter = (*Engine)(nil)

// AdoptDir is the engine's tmp/: on the same filesystem as objects/, so an
// adopted file is renamed, never copied, and emptied at Open like every
// write a crash interrupted.
func (e *Engine) AdoptDir() string { return filepath.Join(e.dir, "tmp") }

// AdoptFile commits a finished file as key's bytes by renaming it into
// objects/ (see store.FileAdopter). It is PutObject's durable path without
// the copy: the caller fsynced the file, the rename and its directory are
// synced here, and only then is the record committed, under the key's lock
// and its conditions. A file is never inlined, whatever its size.
func (e *Engine) AdoptFile(ctx context.Context, bucket, key, path string, size int64, md5 []byte, opts store.PutOptions) (store.ObjectInfo, error) {
	leave, err := e.enter()
	if err != nil {
		return store.ObjectInfo{}, err
	}
	defer leave()
	wrap := func(err error) error { return fmt.Errorf("adopt %s/%s: %w", bucket, key, err) }
	if len(md5) != 16 || size < 0 {
		return store.ObjectInfo{}, wrap(errors.New("an adopted file needs its size and 16-byte MD5"))
	}
	if filepath.Dir(filepath.Clean(path)) != e.AdoptDir() {
		return store.ObjectInfo{}, wrap(fmt.Errorf("%s is not in %s", path, e.AdoptDir()))
	}
	if err := e.checkBucket(bucket); err != nil {
		return store.ObjectInfo{}, wrap(err)
	}
	// The size is checked against the file itself: a caller that lost
	// track of its own writes must not commit a record that lies.
	fi, err := os.Stat(path)
	if err != nil {
		return store.ObjectInfo{}, wrap(err)
	}
	if fi.Size() != size {
		return store.ObjectInfo{}, wrap(fmt.Errorf("file holds %d bytes, declared %d: %w", fi.Size(), size, store.ErrIncompleteBody))
	}
	// The file already takes its space; the record must not be the
	// write that meets a full disk.
	if err := e.checkReserve(0); err != nil {
		return store.ObjectInfo{}, wrap(err)
	}
	id := newFileID()
	dst := e.dataPath(id)
	if err := os.Rename(path, dst); err != nil {
		return store.ObjectInfo{}, wrap(err)
	}
	if err := syncDir(filepath.Dir(dst)); err != nil {
		os.Remove(dst)
		return store.ObjectInfo{}, wrap(err)
	}
	mod := opts.LastModified
	if mod.IsZero() {
		mod = time.Now()
	}
	rec := objectRecord{
		size:    size,
		etag:    hex.EncodeToString(md5),
		modTime: mod.UnixNano(),
		attrs:   cloneAttrs(opts.Attrs),
		loc:     locFile,
		file:    id,
	}
	unlock := e.lockForWrite(bucket, key)
	old, err := e.commitLocked(ctx, bucket, key, &rec, opts.Conditions, nil)
	unlock()
	if err != nil {
		e.removeFiles([]fileID{id})
		return store.ObjectInfo{}, wrap(err)
	}
	e.removeFiles(old)
	return rec.info(bucket, key), nil
}
