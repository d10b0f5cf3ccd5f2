package local

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"mirrorstore/internal/store"
)

const (
	maxPartNumber = 10000
	// uploadIDLen is the length of an upload id: 16 hex chars of the
	// initiation time (so a key's uploads sort by initiation) and 16 of
	// randomness.
	uploadIDLen = 32
)

func newUploadID(t time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixNano()))
	rand.Read(b[8:])
	return hex.EncodeToString(b[:])
}

func validUploadID(id string) bool {
	if len(id) != uploadIDLen {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}

// upload reads an upload record; ok is false when there is no such upload.
func (e *Engine) upload(bucket, key, id string) (rec uploadRecord, ok bool, err error) {
	if !validUploadID(id) {
		return rec, false, nil
	}
	ok, err = e.get(uploadKey(bucket, key, id), func(v []byte) (err error) {
		rec, err = decodeUpload(v)
		return err
	})
	return rec, ok, err
}

// checkUpload returns ErrNoSuchBucket or ErrNoSuchUpload when either is absent.
func (e *Engine) checkUpload(bucket, key, id string) (uploadRecord, error) {
	if err := e.checkBucket(bucket); err != nil {
		return uploadRecord{}, err
	}
	rec, ok, err := e.upload(bucket, key, id)
	if err != nil {
		return rec, err
	}
	if !ok {
		return rec, store.ErrNoSuchUpload
	}
	return rec, nil
}

// CreateMultipartUpload starts an upload whose object will carry attrs.
func (e *Engine) CreateMultipartUpload(ctx context.Context, bucket, key string, attrs store.ObjectAttrs) (string, error) {
	leave, err := e.enter()
	if err != nil {
		return "", err
	}
	defer leave()
	wrap := func(err error) error { return fmt.Errorf("create upload %s/%s: %w", bucket, key, err) }
	e.bucketMu.RLock()
	defer e.bucketMu.RUnlock()
	if err := e.checkBucket(bucket); err != nil {
		return "", wrap(err)
	}
	now := time.Now()
	id := newUploadID(now)
	rec := uploadRecord{initiated: now.UnixNano(), attrs: cloneAttrs(attrs)}
	if err := e.db.Set(uploadKey(bucket, key, id), rec.encode(), pebble.Sync); err != nil {
		return "", wrap(err)
	}
	return id, nil
}

// UploadPart stores one part in its own data file. A part uploaded again
// replaces the earlier one, whose file is freed.
func (e *Engine) UploadPart(ctx context.Context, bucket, key, uploadID string, partNumber int, body io.Reader, size int64, contentMD5 []byte) (store.PartInfo, error) {
	leave, err := e.enter()
	if err != nil {
		return store.PartInfo{}, err
	}
	defer leave()
	wrap := func(err error) error {
		return fmt.Errorf("upload part %d of %s/%s: %w", partNumber, bucket, key, err)
	}
	if partNumber < 1 || partNumber > maxPartNumber {
		return store.PartInfo{}, wrap(store.ErrInvalidPartNumber)
	}
	if _, err := e.checkUpload(bucket, key, uploadID); err != nil {
		return store.PartInfo{}, wrap(err)
	}
	// Parts always get a data file, since a completed object lists files.
	w, err := e.writeData(ctx, body, size, contentMD5, -1)
	if err != nil {
		return store.PartInfo{}, wrap(err)
	}
	rec := partRecord{size: w.size, md5: w.md5, modTime: time.Now().UnixNano(), file: w.file}
	unlock := e.lockForWrite(bucket, key)
	old, err := e.commitPartLocked(ctx, bucket, key, uploadID, partNumber, &rec)
	unlock()
	if err != nil {
		e.removeFiles(w.files())
		return store.PartInfo{}, wrap(err)
	}
	e.removeFiles(old)
	return rec.info(partNumber), nil
}

// commitPartLocked commits a part record if its upload still exists and
// returns the file of the part it replaced.
func (e *Engine) commitPartLocked(ctx context.Context, bucket, key, uploadID string, partNumber int, rec *partRecord) ([]fileID, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := e.checkUpload(bucket, key, uploadID); err != nil {
		return nil, err
	}
	var old []fileID
	pk := partKey(uploadID, partNumber)
	if _, err := e.get(pk, func(v []byte) error {
		p, err := decodePart(v)
		old = []fileID{p.file}
		return err
	}); err != nil {
		return nil, err
	}
	if err := e.db.Set(pk, rec.encode(), pebble.Sync); err != nil {
		return nil, err
	}
	return old, nil
}

func (r *partRecord) info(n int) store.PartInfo {
	return store.PartInfo{
		PartNumber:   n,
		Size:         r.size,
		ETag:         hex.EncodeToString(r.md5[:]),
		LastModified: time.Unix(0, r.modTime).UTC(),
	}
}

// parts reads every part record of an upload, by part number.
func (e *Engine) parts(uploadID string) (map[int]partRecord, error) {
	p := partPrefix(uploadID)
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := make(map[int]partRecord)
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, err
		}
		rec, err := decodePart(v)
		if err != nil {
			return nil, fmt.Errorf("part record %q: %w", it.Key(), err)
		}
		out[int(binary.BigEndian.Uint32(it.Key()[len(p):]))] = rec
	}
	return out, it.Error()
}

// CompleteMultipartUpload commits an object whose record lists the named
// parts' data files: no byte is copied, so it costs the same for 5 MiB or
// 5 TiB. Checks, in order: the upload exists, at least one part is named
// (ErrInvalidPart otherwise), part numbers strictly ascend, every part
// exists with its ETag, every part but the last is at least MinPartSize,
// then cond. When any check fails the upload is left as it was.
func (e *Engine) CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []store.CompletePart, cond store.Conditions) (store.ObjectInfo, error) {
	leave, err := e.enter()
	if err != nil {
		return store.ObjectInfo{}, err
	}
	defer leave()
	wrap := func(err error) error { return fmt.Errorf("complete upload %s/%s: %w", bucket, key, err) }
	unlock := e.lockForWrite(bucket, key)
	rec, freed, err := e.completeLocked(ctx, bucket, key, uploadID, parts, cond)
	unlock()
	if err != nil {
		return store.ObjectInfo{}, wrap(err)
	}
	e.removeFiles(freed)
	return rec.info(bucket, key), nil
}

func (e *Engine) completeLocked(ctx context.Context, bucket, key, uploadID string, parts []store.CompletePart, cond store.Conditions) (*objectRecord, []fileID, error) {
	up, err := e.checkUpload(bucket, key, uploadID)
	if err != nil {
		return nil, nil, err
	}
	if len(parts) == 0 {
		return nil, nil, fmt.Errorf("no parts named: %w", store.ErrInvalidPart)
	}
	for i := 1; i < len(parts); i++ {
		if parts[i].PartNumber <= parts[i-1].PartNumber {
			return nil, nil, fmt.Errorf("part %d after part %d: %w", parts[i].PartNumber, parts[i-1].PartNumber, store.ErrInvalidPartOrder)
		}
	}
	stored, err := e.parts(uploadID)
	if err != nil {
		return nil, nil, err
	}
	rec := &objectRecord{
		modTime: time.Now().UnixNano(),
		attrs:   up.attrs,
		loc:     locParts,
		parts:   make([]partRef, len(parts)),
	}
	sums := make([]byte, 0, md5.Size*len(parts))
	for i, cp := range parts {
		p, ok := stored[cp.PartNumber]
		if !ok {
			return nil, nil, fmt.Errorf("part %d was not uploaded: %w", cp.PartNumber, store.ErrInvalidPart)
		}
		if hex.EncodeToString(p.md5[:]) != strings.ToLower(unquote(cp.ETag)) {
			return nil, nil, fmt.Errorf("part %d has another ETag: %w", cp.PartNumber, store.ErrInvalidPart)
		}
		if i < len(parts)-1 && p.size < store.MinPartSize {
			return nil, nil, fmt.Errorf("part %d is %d bytes: %w", cp.PartNumber, p.size, store.ErrEntityTooSmall)
		}
		rec.parts[i] = partRef{id: p.file, size: p.size}
		rec.size += p.size
		sums = append(sums, p.md5[:]...)
		delete(stored, cp.PartNumber)
	}
	sum := md5.Sum(sums)
	rec.etag = fmt.Sprintf("%s-%d", hex.EncodeToString(sum[:]), len(parts))
	pp := partPrefix(uploadID)
	old, err := e.commitLocked(ctx, bucket, key, rec, cond, func(b *pebble.Batch) error {
		if err := b.Delete(uploadKey(bucket, key, uploadID), nil); err != nil {
			return err
		}
		return b.DeleteRange(pp, prefixEnd(pp), nil)
	})
	if err != nil {
		return nil, nil, err
	}
	for _, p := range stored { // the parts no one named
		old = append(old, p.file)
	}
	return rec, old, nil
}

// AbortMultipartUpload removes an upload and frees its parts' files.
func (e *Engine) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	leave, err := e.enter()
	if err != nil {
		return err
	}
	defer leave()
	wrap := func(err error) error { return fmt.Errorf("abort upload %s/%s: %w", bucket, key, err) }
	unlock := e.lockForWrite(bucket, key)
	freed, err := e.abortLocked(bucket, key, uploadID)
	unlock()
	if err != nil {
		return wrap(err)
	}
	e.removeFiles(freed)
	return nil
}

func (e *Engine) abortLocked(bucket, key, uploadID string) ([]fileID, error) {
	if _, err := e.checkUpload(bucket, key, uploadID); err != nil {
		return nil, err
	}
	stored, err := e.parts(uploadID)
	if err != nil {
		return nil, err
	}
	b := e.db.NewBatch()
	defer b.Close()
	pp := partPrefix(uploadID)
	if err := b.Delete(uploadKey(bucket, key, uploadID), nil); err != nil {
		return nil, err
	}
	if err := b.DeleteRange(pp, prefixEnd(pp), nil); err != nil {
		return nil, err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return nil, err
	}
	var freed []fileID
	for _, p := range stored {
		freed = append(freed, p.file)
	}
	return freed, nil
}

func (r *uploadRecord) info(bucket, key, id string) store.UploadInfo {
	return store.UploadInfo{
		Bucket:    bucket,
		Key:       key,
		UploadID:  id,
		Initiated: time.Unix(0, r.initiated).UTC(),
		Attrs:     r.attrs,
	}
}

// ListParts lists an upload's parts with numbers above partNumberMarker
// (maxParts 0 means 1000).
func (e *Engine) ListParts(ctx context.Context, bucket, key, uploadID string, partNumberMarker, maxParts int) (store.ListPartsResult, error) {
	leave, err := e.enter()
	if err != nil {
		return store.ListPartsResult{}, err
	}
	defer leave()
	wrap := func(err error) error { return fmt.Errorf("list parts %s/%s: %w", bucket, key, err) }
	up, err := e.checkUpload(bucket, key, uploadID)
	if err != nil {
		return store.ListPartsResult{}, wrap(err)
	}
	res := store.ListPartsResult{Upload: up.info(bucket, key, uploadID)}
	if partNumberMarker >= maxPartNumber {
		return res, nil
	}
	limit := pageSize(maxParts)
	pp := partPrefix(uploadID)
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: pp, UpperBound: prefixEnd(pp)})
	if err != nil {
		return store.ListPartsResult{}, wrap(err)
	}
	defer it.Close()
	for valid := it.SeekGE(partKey(uploadID, max(partNumberMarker, 0)+1)); valid; valid = it.Next() {
		if len(res.Parts) == limit {
			res.IsTruncated = true
			res.NextPartNumberMarker = res.Parts[len(res.Parts)-1].PartNumber
			break
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return store.ListPartsResult{}, wrap(err)
		}
		rec, err := decodePart(v)
		if err != nil {
			return store.ListPartsResult{}, wrap(err)
		}
		res.Parts = append(res.Parts, rec.info(int(binary.BigEndian.Uint32(it.Key()[len(pp):]))))
	}
	if err := it.Error(); err != nil {
		return store.ListPartsResult{}, wrap(err)
	}
	return res, nil
}

// ListMultipartUploads lists uploads in progress ordered by key, then by
// initiation. With KeyMarker alone, uploads of keys after it are listed;
// with UploadIDMarker too, later uploads of KeyMarker itself come first.
func (e *Engine) ListMultipartUploads(ctx context.Context, bucket string, opts store.ListUploadsOptions) (store.ListUploadsResult, error) {
	leave, err := e.enter()
	if err != nil {
		return store.ListUploadsResult{}, err
	}
	defer leave()
	wrap := func(err error) error { return fmt.Errorf("list uploads %s: %w", bucket, err) }
	if err := e.checkBucket(bucket); err != nil {
		return store.ListUploadsResult{}, wrap(err)
	}
	if strings.IndexByte(opts.Prefix, 0) >= 0 {
		// No key holds a NUL; as a byte range, "<prefix>" would reach
		// into the "<key>\x00<id>" records of shorter keys instead.
		return store.ListUploadsResult{}, nil
	}
	base := bucketPrefix(kindUpload, bucket)
	lower := append(bytes.Clone(base), opts.Prefix...)
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(lower)})
	if err != nil {
		return store.ListUploadsResult{}, wrap(err)
	}
	defer it.Close()
	start := lower
	if s := uploadsStart(bucket, opts.KeyMarker, opts.UploadIDMarker); bytes.Compare(s, start) > 0 {
		start = s
	}
	limit := pageSize(opts.MaxUploads)
	var res store.ListUploadsResult
	n := 0
	for valid := it.SeekGE(start); valid; {
		k := it.Key()[len(base):]
		if len(k) < uploadIDLen+1 {
			return store.ListUploadsResult{}, wrap(fmt.Errorf("upload key %q: %w", it.Key(), errCorrupt))
		}
		key := string(k[:len(k)-uploadIDLen-1])
		id := string(k[len(k)-uploadIDLen:])
		if opts.Delimiter != "" {
			if i := strings.Index(key[len(opts.Prefix):], opts.Delimiter); i >= 0 {
				cp := key[:len(opts.Prefix)+i+len(opts.Delimiter)]
				if cp > opts.KeyMarker {
					if n == limit {
						res.IsTruncated = true
						break
					}
					res.CommonPrefixes = append(res.CommonPrefixes, cp)
					res.NextKeyMarker, res.NextUploadIDMarker = cp, ""
					n++
				}
				valid = it.SeekGE(prefixEnd(append(bytes.Clone(base), cp...)))
				continue
			}
		}
		if n == limit {
			res.IsTruncated = true
			break
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return store.ListUploadsResult{}, wrap(err)
		}
		rec, err := decodeUpload(v)
		if err != nil {
			return store.ListUploadsResult{}, wrap(err)
		}
		res.Uploads = append(res.Uploads, rec.info(bucket, key, id))
		res.NextKeyMarker, res.NextUploadIDMarker = key, id
		n++
		valid = it.Next()
	}
	if err := it.Error(); err != nil {
		return store.ListUploadsResult{}, wrap(err)
	}
	if !res.IsTruncated {
		res.NextKeyMarker, res.NextUploadIDMarker = "", ""
	}
	return res, nil
}
