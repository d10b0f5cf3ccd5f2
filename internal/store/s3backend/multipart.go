package s3backend

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"mirrorstore/internal/store"
)

// Upload ids are "<initiation, 20-digit Unix nanoseconds>-<backend upload
// id>": the backend's id (valid only with its key, which every call names)
// plus the initiation time that orders a key's uploads.
func encodeUploadID(initiated time.Time, backendID string) string {
	return fmt.Sprintf("%020d-%s", initiated.UnixNano(), backendID)
}

func decodeUploadID(id string) (initiated time.Time, backendID string, ok bool) {
	if len(id) < 22 || id[20] != '-' {
		return time.Time{}, "", false
	}
	ns, err := strconv.ParseInt(id[:20], 10, 64)
	if err != nil {
		return time.Time{}, "", false
	}
	return time.Unix(0, ns), id[21:], true
}

func uploadsPrefix(bucket string) string { return uploadsDir + bucket + "/" }

// uploadRecordKey names an upload's record; the key in hex sorts like the
// key itself and holds no '/'. A key's hex form counts twice against the
// backend's 1024-byte key limit, so multipart keys are limited to about
// 400 bytes in this backend.
func uploadRecordKey(bucket, key, uploadID string) string {
	return uploadsPrefix(bucket) + hex.EncodeToString([]byte(key)) + "/" + uploadID
}

// uploadsStartAfter is the backend StartAfter of an uploads listing after
// opts' markers, or "" without a key marker. With a key marker alone it is
// "<hex key>/" and then U+10FFFF, past every "<hex key>/<upload id>" (ids
// are ASCII) yet before the records of longer keys, whose hex goes on with
// a digit where the marker's has '/'. (A '~' right after the hex, as once
// here, also skipped every key the marker is a prefix of: marker "a"
// skipped "ab".)
func uploadsStartAfter(bucket string, opts store.ListUploadsOptions) string {
	switch {
	case opts.KeyMarker == "":
		return ""
	case opts.UploadIDMarker != "":
		return uploadRecordKey(bucket, opts.KeyMarker, opts.UploadIDMarker)
	}
	return uploadsPrefix(bucket) + hex.EncodeToString([]byte(opts.KeyMarker)) + "/" + pastAll
}

// CreateMultipartUpload starts a backend multipart upload carrying attrs
// and writes its record (attrs for ListParts and ListMultipartUploads,
// which the backend does not return).
func (b *Backend) CreateMultipartUpload(ctx context.Context, bucket, key string, attrs store.ObjectAttrs) (string, error) {
	if err := b.checkBucket(ctx, bucket); err != nil {
		return "", fmt.Errorf("create upload %s/%s: %w", bucket, key, err)
	}
	backendID, err := b.createBackendUpload(ctx, bucket, key, toHeaders(attrs, time.Time{}))
	if err != nil {
		return "", fmt.Errorf("create upload %s/%s: %w", bucket, key, err)
	}
	id := encodeUploadID(time.Now(), backendID)
	rec, _ := json.Marshal(attrs)
	if _, err := b.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(b.bucket), Key: aws.String(uploadRecordKey(bucket, key, id)), Body: bytes.NewReader(rec),
	}); err != nil {
		b.abortBackendUpload(ctx, bucket, key, backendID)
		return "", fmt.Errorf("create upload %s/%s: %w", bucket, key, mapErr(ctx, err))
	}
	return id, nil
}

func (b *Backend) createBackendUpload(ctx context.Context, bucket, key string, h headerAttrs) (string, error) {
	out, err := b.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:             aws.String(b.bucket),
		Key:                aws.String(objectKey(bucket, key)),
		ContentType:        h.contentType,
		ContentEncoding:    h.contentEncoding,
		ContentDisposition: h.contentDisposition,
		ContentLanguage:    h.contentLanguage,
		CacheControl:       h.cacheControl,
		Expires:            h.expires,
		Metadata:           h.meta,
		Tagging:            h.tagging,
	})
	if err != nil {
		return "", mapErr(ctx, err)
	}
	return aws.ToString(out.UploadId), nil
}

// abortBackendUpload frees an upload's parts, even when ctx is cancelled
// (cancellation is what often brings us here).
func (b *Backend) abortBackendUpload(ctx context.Context, bucket, key, backendID string) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_, _ = b.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(b.bucket), Key: aws.String(objectKey(bucket, key)), UploadId: aws.String(backendID),
	})
}

// UploadPart stores one part. A known size streams through with its last
// byte held back until verified; an unknown size is spooled first (memory
// up to 8 MiB, then a temporary file) because the backend needs a length.
func (b *Backend) UploadPart(ctx context.Context, bucket, key, uploadID string, partNumber int, body io.Reader, size int64, contentMD5 []byte) (store.PartInfo, error) {
	if partNumber < 1 || partNumber > 10000 {
		return store.PartInfo{}, fmt.Errorf("upload part %d: %w", partNumber, store.ErrInvalidPartNumber)
	}
	_, backendID, ok := decodeUploadID(uploadID)
	if !ok {
		return store.PartInfo{}, fmt.Errorf("upload part to %q: %w", uploadID, store.ErrNoSuchUpload)
	}
	var (
		src     io.Reader
		sum     func() string
		v       *verifier
		optFns  []func(*s3.Options)
		cleanup = func() {}
	)
	switch {
	case size > 0:
		v = newVerifier(body, size, contentMD5, true)
		src, sum, optFns = v, v.sum, []func(*s3.Options){unsignedPayload}
	default:
		sp, err := spool(b.spoolDir, body, size, contentMD5)
		if err != nil {
			return store.PartInfo{}, fmt.Errorf("upload part %d: %w", partNumber, err)
		}
		cleanup = sp.close
		src, size, sum = sp.r, sp.size, func() string { return sp.md5 }
	}
	defer cleanup()
	in := &s3.UploadPartInput{
		Bucket: aws.String(b.bucket), Key: aws.String(objectKey(bucket, key)), UploadId: aws.String(backendID),
		PartNumber: aws.Int32(int32(partNumber)), Body: src, ContentLength: aws.Int64(size),
	}
	if contentMD5 != nil {
		in.ContentMD5 = aws.String(base64.StdEncoding.EncodeToString(contentMD5))
	}
	out, err := b.client.UploadPart(ctx, in, optFns...)
	if v != nil && v.err != nil {
		err = v.err
	} else if err != nil {
		err = mapErr(ctx, err)
	} else if got := unquote(out.ETag); got != sum() {
		err = fmt.Errorf("%w: backend part ETag %s is not the body's MD5 %s", store.ErrUnavailable, got, sum())
	}
	if err != nil {
		return store.PartInfo{}, fmt.Errorf("upload part %d of %s/%s: %w", partNumber, bucket, key, err)
	}
	return store.PartInfo{PartNumber: partNumber, Size: size, ETag: sum(), LastModified: time.Now()}, nil
}

type spooled struct {
	r     io.ReadSeeker
	size  int64
	md5   string
	close func()
}

// spool reads a body whole, checking its size and MD5, into memory up to
// streamPartSize and into a temporary file in dir beyond.
func spool(dir string, body io.Reader, size int64, contentMD5 []byte) (*spooled, error) {
	v := newVerifier(body, size, contentMD5, false)
	bufSize := int64(streamPartSize)
	if size >= 0 && size < bufSize {
		bufSize = size + 1 // room to see the end, or one byte too many
	}
	buf := make([]byte, bufSize)
	n, err := readFull(v, buf)
	if err == io.EOF {
		return &spooled{r: bytes.NewReader(buf[:n]), size: int64(n), md5: v.sum(), close: func() {}}, nil
	}
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "mirrorstore-part-*")
	if err != nil {
		return nil, err
	}
	done := func() { f.Close(); os.Remove(f.Name()) }
	if _, err := f.Write(buf); err != nil {
		done()
		return nil, err
	}
	m, err := io.Copy(f, v)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		done()
		return nil, err
	}
	return &spooled{r: f, size: int64(n) + m, md5: v.sum(), close: done}, nil
}

// CompleteMultipartUpload completes the backend upload with the backend's
// conditional Complete, then removes the upload's record.
func (b *Backend) CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []store.CompletePart, cond store.Conditions) (store.ObjectInfo, error) {
	_, backendID, ok := decodeUploadID(uploadID)
	if !ok {
		return store.ObjectInfo{}, fmt.Errorf("complete %q: %w", uploadID, store.ErrNoSuchUpload)
	}
	if len(parts) == 0 {
		return store.ObjectInfo{}, fmt.Errorf("complete %s/%s with no parts: %w", bucket, key, store.ErrInvalidPart)
	}
	completed := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		if i > 0 && p.PartNumber <= parts[i-1].PartNumber {
			return store.ObjectInfo{}, fmt.Errorf("complete %s/%s: %w", bucket, key, store.ErrInvalidPartOrder)
		}
		completed[i] = types.CompletedPart{PartNumber: aws.Int32(int32(p.PartNumber)), ETag: aws.String(`"` + p.ETag + `"`)}
	}
	etag, err := b.completeBackend(ctx, bucket, key, backendID, completed, cond)
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("complete %s/%s: %w", bucket, key, err)
	}
	if err := b.deleteKey(ctx, uploadRecordKey(bucket, key, uploadID)); err != nil {
		return store.ObjectInfo{}, fmt.Errorf("complete %s/%s: removing the upload record: %w", bucket, key, err)
	}
	return b.completedInfo(ctx, bucket, key, etag)
}

func (b *Backend) completeBackend(ctx context.Context, bucket, key, backendID string, parts []types.CompletedPart, cond store.Conditions) (string, error) {
	out, err := b.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(b.bucket), Key: aws.String(objectKey(bucket, key)), UploadId: aws.String(backendID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		IfNoneMatch:     ifNoneMatch(cond),
		IfMatch:         ifMatch(cond),
	})
	if err != nil {
		return "", condErr(ctx, err, cond)
	}
	return unquote(out.ETag), nil
}

// completedInfo reads back what a Complete created (size, time, attrs);
// the ETag is the one the Complete returned, in case another write has
// replaced the key since.
func (b *Backend) completedInfo(ctx context.Context, bucket, key, etag string) (store.ObjectInfo, error) {
	info, err := b.HeadObject(ctx, bucket, key)
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("complete %s/%s: %w", bucket, key, err)
	}
	info.ETag, info.PartsCount = etag, partsCount(etag)
	return info, nil
}

// streamMultipart writes the body v yields as a backend multipart upload.
// With buf it reads parts of len(buf) into it (unknown size); without, it
// streams parts of partSize straight through (known size v.size). Any
// failure aborts the upload, so nothing is stored.
func (b *Backend) streamMultipart(ctx context.Context, bucket, key string, v *verifier, buf []byte, partSize int64, h headerAttrs, cond store.Conditions) (etag string, parts int, err error) {
	backendID, err := b.createBackendUpload(ctx, bucket, key, h)
	if err != nil {
		return "", 0, err
	}
	defer func() {
		if err != nil {
			b.abortBackendUpload(ctx, bucket, key, backendID)
		}
	}()
	var completed []types.CompletedPart
	var sums []byte
	for n := int32(1); ; n++ {
		var (
			body   io.Reader
			length int64
			last   bool
			ph     hash.Hash = md5.New()
			optFns []func(*s3.Options)
		)
		if buf != nil {
			m, rerr := readFull(v, buf)
			if rerr != nil && rerr != io.EOF {
				return "", 0, rerr
			}
			if m == 0 && n > 1 {
				break
			}
			ph.Write(buf[:m])
			body, length, last = bytes.NewReader(buf[:m]), int64(m), rerr == io.EOF
		} else {
			length = min(partSize, v.size-v.n)
			body = io.TeeReader(io.LimitReader(v, length), ph)
			last = v.n+length == v.size
			optFns = []func(*s3.Options){unsignedPayload}
		}
		out, uerr := b.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: aws.String(b.bucket), Key: aws.String(objectKey(bucket, key)), UploadId: aws.String(backendID),
			PartNumber: aws.Int32(n), Body: body, ContentLength: aws.Int64(length),
		}, optFns...)
		if v.err != nil {
			return "", 0, v.err
		}
		if uerr != nil {
			return "", 0, mapErr(ctx, uerr)
		}
		sum := ph.Sum(nil)
		if got := unquote(out.ETag); got != hex.EncodeToString(sum) {
			return "", 0, fmt.Errorf("%w: backend part ETag %s is not the part's MD5 %x", store.ErrUnavailable, got, sum)
		}
		sums = append(sums, sum...)
		completed = append(completed, types.CompletedPart{PartNumber: aws.Int32(n), ETag: out.ETag})
		if last {
			break
		}
	}
	if buf == nil {
		// The declared size is read; the source must end here, and
		// the verifier then checks length and Content-MD5.
		var one [1]byte
		if _, rerr := v.Read(one[:]); rerr != io.EOF {
			if v.err != nil {
				return "", 0, v.err
			}
			return "", 0, rerr
		}
	}
	whole := md5.Sum(sums)
	want := fmt.Sprintf("%x-%d", whole, len(completed))
	etag, err = b.completeBackend(ctx, bucket, key, backendID, completed, cond)
	if err != nil {
		return "", 0, err
	}
	if etag != want {
		return "", 0, fmt.Errorf("%w: backend ETag %s, computed %s", store.ErrUnavailable, etag, want)
	}
	return etag, len(completed), nil
}

// AbortMultipartUpload aborts the backend upload and removes its record.
func (b *Backend) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	_, backendID, ok := decodeUploadID(uploadID)
	if !ok {
		return fmt.Errorf("abort %q: %w", uploadID, store.ErrNoSuchUpload)
	}
	// MinIO answers an abort of a finished upload with success; the
	// record says whether the upload is still ours to abort.
	if _, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(uploadRecordKey(bucket, key, uploadID))}); err != nil {
		return fmt.Errorf("abort %s/%s: %w", bucket, key, uploadErr(mapErr(ctx, err)))
	}
	_, err := b.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(b.bucket), Key: aws.String(objectKey(bucket, key)), UploadId: aws.String(backendID),
	})
	if err != nil {
		return fmt.Errorf("abort %s/%s: %w", bucket, key, mapErr(ctx, err))
	}
	if err := b.deleteKey(ctx, uploadRecordKey(bucket, key, uploadID)); err != nil {
		return fmt.Errorf("abort %s/%s: removing the upload record: %w", bucket, key, err)
	}
	return nil
}

// uploadInfo reads an upload's record.
func (b *Backend) uploadInfo(ctx context.Context, bucket, key, uploadID string) (store.UploadInfo, error) {
	initiated, _, _ := decodeUploadID(uploadID)
	info := store.UploadInfo{Bucket: bucket, Key: key, UploadID: uploadID, Initiated: initiated}
	data, err := b.getSmall(ctx, uploadRecordKey(bucket, key, uploadID))
	if errors.Is(err, store.ErrNoSuchKey) {
		return info, fmt.Errorf("upload %s of %s/%s: %w", uploadID, bucket, key, store.ErrNoSuchUpload)
	}
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(data, &info.Attrs); err != nil {
		return info, fmt.Errorf("upload record of %s/%s: %w", bucket, key, err)
	}
	return info, nil
}

// ListParts lists the backend upload's parts, one more than asked so
// IsTruncated is exact.
func (b *Backend) ListParts(ctx context.Context, bucket, key, uploadID string, partNumberMarker, maxParts int) (store.ListPartsResult, error) {
	_, backendID, ok := decodeUploadID(uploadID)
	if !ok {
		return store.ListPartsResult{}, fmt.Errorf("list parts of %q: %w", uploadID, store.ErrNoSuchUpload)
	}
	if maxParts <= 0 || maxParts > 1000 {
		maxParts = 1000
	}
	in := &s3.ListPartsInput{
		Bucket: aws.String(b.bucket), Key: aws.String(objectKey(bucket, key)), UploadId: aws.String(backendID),
		MaxParts: aws.Int32(int32(min(maxParts+1, 1000))),
	}
	if partNumberMarker > 0 {
		in.PartNumberMarker = aws.String(strconv.Itoa(partNumberMarker))
	}
	out, err := b.client.ListParts(ctx, in)
	if err != nil {
		return store.ListPartsResult{}, fmt.Errorf("list parts of %s/%s: %w", bucket, key, mapErr(ctx, err))
	}
	up, err := b.uploadInfo(ctx, bucket, key, uploadID)
	if err != nil {
		return store.ListPartsResult{}, fmt.Errorf("list parts: %w", err)
	}
	res := store.ListPartsResult{Upload: up, IsTruncated: aws.ToBool(out.IsTruncated)}
	for _, p := range out.Parts {
		if len(res.Parts) == maxParts {
			res.IsTruncated = true
			break
		}
		res.Parts = append(res.Parts, store.PartInfo{
			PartNumber: int(aws.ToInt32(p.PartNumber)), Size: aws.ToInt64(p.Size),
			ETag: unquote(p.ETag), LastModified: aws.ToTime(p.LastModified),
		})
	}
	if res.IsTruncated && len(res.Parts) > 0 {
		res.NextPartNumberMarker = res.Parts[len(res.Parts)-1].PartNumber
	}
	return res, nil
}

// ListMultipartUploads lists the upload records (see the package comment),
// in key order and, within a key, by initiation.
func (b *Backend) ListMultipartUploads(ctx context.Context, bucket string, opts store.ListUploadsOptions) (store.ListUploadsResult, error) {
	if err := b.checkBucket(ctx, bucket); err != nil {
		return store.ListUploadsResult{}, fmt.Errorf("list uploads: %w", err)
	}
	limit := opts.MaxUploads
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	base := uploadsPrefix(bucket)
	in := &s3.ListObjectsV2Input{Bucket: aws.String(b.bucket), Prefix: aws.String(base + hex.EncodeToString([]byte(opts.Prefix)))}
	if start := uploadsStartAfter(bucket, opts); start != "" {
		in.StartAfter = aws.String(start)
	}
	type item struct {
		key, id string // id "" for a common prefix
	}
	var items []item
scan:
	for {
		out, err := b.client.ListObjectsV2(ctx, in)
		if err != nil {
			return store.ListUploadsResult{}, fmt.Errorf("list uploads of %s: %w", bucket, mapErr(ctx, err))
		}
		restart := false
		for _, o := range out.Contents {
			hexKey, id, ok := strings.Cut(strings.TrimPrefix(aws.ToString(o.Key), base), "/")
			raw, err := hex.DecodeString(hexKey)
			if !ok || err != nil {
				continue
			}
			key := string(raw)
			if opts.Delimiter != "" {
				if i := strings.Index(key[len(opts.Prefix):], opts.Delimiter); i >= 0 {
					cp := key[:len(opts.Prefix)+i+len(opts.Delimiter)]
					if cp > opts.KeyMarker {
						items = append(items, item{key: cp})
					}
					// Skip the rest of the group with a fresh listing.
					in.StartAfter, in.ContinuationToken = aws.String(base+hex.EncodeToString([]byte(cp))+"~"), nil
					restart = true
					if len(items) > limit {
						break scan
					}
					break
				}
			}
			items = append(items, item{key: key, id: id})
			if len(items) > limit {
				break scan
			}
		}
		if restart {
			continue
		}
		if !aws.ToBool(out.IsTruncated) || out.NextContinuationToken == nil {
			break
		}
		in.ContinuationToken, in.StartAfter = out.NextContinuationToken, nil
	}
	var res store.ListUploadsResult
	if len(items) > limit {
		items = items[:limit]
		res.IsTruncated = true
		last := items[limit-1]
		res.NextKeyMarker, res.NextUploadIDMarker = last.key, last.id
	}
	for _, it := range items {
		if it.id == "" {
			res.CommonPrefixes = append(res.CommonPrefixes, it.key)
			continue
		}
		up, err := b.uploadInfo(ctx, bucket, it.key, it.id)
		if errors.Is(err, store.ErrNoSuchUpload) {
			continue // completed or aborted since the listing
		}
		if err != nil {
			return store.ListUploadsResult{}, fmt.Errorf("list uploads: %w", err)
		}
		res.Uploads = append(res.Uploads, up)
	}
	return res, nil
}

// uploadErr turns a missing upload record into ErrNoSuchUpload.
func uploadErr(err error) error {
	if errors.Is(err, store.ErrNoSuchKey) {
		return fmt.Errorf("%w (no upload record)", store.ErrNoSuchUpload)
	}
	return err
}
