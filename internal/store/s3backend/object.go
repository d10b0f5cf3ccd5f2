package s3backend

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"mirrorstore/internal/store"
)

const (
	// maxSinglePut is the largest body the backend takes in one PUT (S3's
	// limit); larger known sizes go up as a multipart upload of parts of
	// at least minStreamPart, streamed straight through.
	maxSinglePut  = 5 << 30
	minStreamPart = 64 << 20
	// streamPartSize is the buffer of an unknown-size PUT: a body that ends
	// within it is one backend PUT, a longer one a multipart upload of
	// parts this size, so memory stays bounded whatever the size.
	streamPartSize = 8 << 20
)

// unsignedPayload streams a body without hashing it first (the SDK would
// otherwise need a seekable body); our verifier checks MD5 and length.
var unsignedPayload = s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)

// PutObject writes one backend object. A body of known size streams
// through in one PUT with its last byte held back until the body has been
// verified (see verifier); a body of unknown size is buffered up to 8 MiB
// and, when longer, streamed as a multipart upload whose ETag is then the
// multipart "<md5>-N" form. Conditions use the backend's conditional PUT
// or Complete, so concurrent nodes store a create-only key once; a
// conditional body is spooled (memory up to 8 MiB, then a temporary file)
// before it is sent.
func (b *Backend) PutObject(ctx context.Context, bucket, key string, body io.Reader, opts store.PutOptions) (store.ObjectInfo, error) {
	if err := b.checkBucket(ctx, bucket); err != nil {
		return store.ObjectInfo{}, fmt.Errorf("put %s/%s: %w", bucket, key, err)
	}
	mtime := opts.LastModified
	if mtime.IsZero() {
		mtime = time.Now()
	}
	mtime, _ = time.Parse(time.RFC3339Nano, mtime.UTC().Format(time.RFC3339Nano))
	h := toHeaders(opts.Attrs, mtime)
	if opts.Conditions != (store.Conditions{}) {
		// MinIO holds the key's lock for the whole body of a conditional
		// PUT, stalling every read and write of the key on every node;
		// a body arriving at a client's or an origin's pace (a mirror
		// fill) is therefore spooled first, so the lock lasts only for
		// the transfer from here.
		if opts.Conditions.IfNoneMatchStar {
			if _, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(objectKey(bucket, key))}); err == nil {
				return store.ObjectInfo{}, fmt.Errorf("put %s/%s: %w: the key exists", bucket, key, store.ErrPreconditionFailed)
			}
		}
		sp, err := spool(b.spoolDir, body, opts.Size, opts.ContentMD5)
		if err != nil {
			return store.ObjectInfo{}, fmt.Errorf("put %s/%s: %w", bucket, key, err)
		}
		defer sp.close()
		body, opts.Size = sp.r, sp.size
	}
	info := store.ObjectInfo{Bucket: bucket, Key: key, Size: opts.Size, LastModified: mtime, Attrs: opts.Attrs}
	var err error
	switch {
	case opts.Size == 0:
		// An empty request body is never read by the HTTP client, so
		// the source is drained (and may veto) first.
		v := newVerifier(body, 0, opts.ContentMD5, false)
		if _, err := io.Copy(io.Discard, v); err != nil {
			return store.ObjectInfo{}, fmt.Errorf("put %s/%s: %w", bucket, key, err)
		}
		info.ETag, err = b.putOnce(ctx, bucket, key, bytes.NewReader(nil), 0, h, opts)
	case opts.Size > 0 && opts.Size <= b.singlePutMax:
		v := newVerifier(body, opts.Size, opts.ContentMD5, true)
		if opts.ContentMD5 == nil {
			v.noHash()
		}
		if b.lean != nil {
			if info.ETag, err = b.leanPut(ctx, objectKey(bucket, key), v, opts.Size, h, opts); err != nil {
				err = condErr(ctx, err, opts.Conditions)
			}
		} else {
			info.ETag, err = b.putOnce(ctx, bucket, key, v, opts.Size, h, opts, unsignedPayload)
		}
		if v.err != nil {
			err = v.err
		} else if err == nil && v.h != nil && info.ETag != v.sum() {
			err = fmt.Errorf("%w: backend ETag %s is not the body's MD5 %s", store.ErrUnavailable, info.ETag, v.sum())
		}
	case opts.Size > 0:
		v := newVerifier(body, opts.Size, opts.ContentMD5, false)
		partSize := max(b.streamPartMin, (opts.Size+9999)/10000)
		info.ETag, info.PartsCount, err = b.streamMultipart(ctx, bucket, key, v, nil, partSize, h, opts.Conditions)
	default:
		info, err = b.putUnknownSize(ctx, bucket, key, body, h, opts, info)
	}
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("put %s/%s: %w", bucket, key, err)
	}
	return info, nil
}

func (b *Backend) putUnknownSize(ctx context.Context, bucket, key string, body io.Reader, h headerAttrs, opts store.PutOptions, info store.ObjectInfo) (store.ObjectInfo, error) {
	buf := make([]byte, streamPartSize)
	n, err := readFull(body, buf)
	if err != nil && err != io.EOF {
		return info, err
	}
	if err == io.EOF {
		data := buf[:n]
		sum := md5.Sum(data)
		if opts.ContentMD5 != nil && !bytes.Equal(sum[:], opts.ContentMD5) {
			return info, fmt.Errorf("body MD5 %x, Content-MD5 %x: %w", sum, opts.ContentMD5, store.ErrBadDigest)
		}
		info.Size = int64(n)
		info.ETag, err = b.putOnce(ctx, bucket, key, bytes.NewReader(data), int64(n), h, opts)
		if err == nil && info.ETag != hex.EncodeToString(sum[:]) {
			err = fmt.Errorf("%w: backend ETag %s is not the body's MD5 %x", store.ErrUnavailable, info.ETag, sum)
		}
		return info, err
	}
	v := newVerifier(io.MultiReader(bytes.NewReader(buf), body), -1, opts.ContentMD5, false)
	info.ETag, info.PartsCount, err = b.streamMultipart(ctx, bucket, key, v, buf, streamPartSize, h, opts.Conditions)
	info.Size = v.n
	return info, err
}

// readFull reads until buf is full or the source ends; unlike io.ReadFull
// it returns the source's own error (io.EOF for a clean end) unchanged.
func readFull(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// putOnce is one backend PUT; it returns the backend's ETag.
func (b *Backend) putOnce(ctx context.Context, bucket, key string, body io.Reader, size int64, h headerAttrs, opts store.PutOptions, optFns ...func(*s3.Options)) (string, error) {
	in := &s3.PutObjectInput{
		Bucket:             aws.String(b.bucket),
		Key:                aws.String(objectKey(bucket, key)),
		Body:               body,
		ContentLength:      aws.Int64(size),
		ContentType:        h.contentType,
		ContentEncoding:    h.contentEncoding,
		ContentDisposition: h.contentDisposition,
		ContentLanguage:    h.contentLanguage,
		CacheControl:       h.cacheControl,
		Expires:            h.expires,
		Metadata:           h.meta,
		Tagging:            h.tagging,
		IfNoneMatch:        ifNoneMatch(opts.Conditions),
		IfMatch:            ifMatch(opts.Conditions),
	}
	if opts.ContentMD5 != nil {
		in.ContentMD5 = aws.String(base64.StdEncoding.EncodeToString(opts.ContentMD5))
	}
	out, err := b.client.PutObject(ctx, in, optFns...)
	if err != nil {
		return "", condErr(ctx, err, opts.Conditions)
	}
	return unquote(out.ETag), nil
}

func ifNoneMatch(c store.Conditions) *string {
	if c.IfNoneMatchStar {
		return aws.String("*")
	}
	return nil
}

func ifMatch(c store.Conditions) *string {
	if c.IfMatch == "" {
		return nil
	}
	return aws.String(`"` + c.IfMatch + `"`)
}

// condErr maps a conditional write's error: If-Match on an absent key is
// a failed precondition (S3 answers it 404 NoSuchKey).
func condErr(ctx context.Context, err error, c store.Conditions) error {
	err = mapErr(ctx, err)
	if c.IfMatch != "" && errors.Is(err, store.ErrNoSuchKey) {
		return fmt.Errorf("%w: no object to match", store.ErrPreconditionFailed)
	}
	return err
}

// GetObject opens the backend object. The body streams from the backend;
// a replace or delete of the key while it is open is the backend's affair
// (S3 and MinIO keep serving the version the GET started on).
func (b *Backend) GetObject(ctx context.Context, bucket, key string, opts store.GetOptions) (*store.Object, error) {
	obj, err := b.getObject(ctx, bucket, key, opts)
	if opts.PartNumber > 0 && errors.Is(err, store.ErrPreconditionFailed) {
		// Replaced between finding the part and reading it: find it
		// again in the new version.
		obj, err = b.getObject(ctx, bucket, key, opts)
	}
	return obj, err
}

func (b *Backend) getObject(ctx context.Context, bucket, key string, opts store.GetOptions) (*store.Object, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(objectKey(bucket, key))}
	if r := opts.Range; r != nil {
		switch {
		case r.Suffix > 0:
			in.Range = aws.String(fmt.Sprintf("bytes=-%d", r.Suffix))
		case r.First < 0 || (r.Last >= 0 && r.Last < r.First):
			// S3 ignores a malformed range; the store contract refuses it.
			return nil, fmt.Errorf("get %s/%s: %w", bucket, key, store.ErrInvalidRange)
		case r.Last < 0:
			in.Range = aws.String(fmt.Sprintf("bytes=%d-", r.First))
		default:
			in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", r.First, r.Last))
		}
	}
	var part *partSpan
	if opts.PartNumber > 0 {
		var err error
		if part, err = b.partSpan(ctx, bucket, key, opts.PartNumber); err != nil {
			return nil, fmt.Errorf("get %s/%s part %d: %w", bucket, key, opts.PartNumber, err)
		}
		if part.size > 0 {
			in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", part.offset, part.offset+part.size-1))
		}
		in.IfMatch = aws.String(`"` + part.etag + `"`)
	}
	// The request's context lives as long as its body: idleBody cancels
	// it to interrupt a read the cluster stalls.
	bctx, cancel := context.WithCancel(ctx)
	out, err := b.sendGet(bctx, in)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("get %s/%s: %w", bucket, key, b.missing(ctx, bucket, mapReadErr(ctx, err)))
	}
	body := newIdleBody(out.body, b.timeout, cancel)
	length := out.contentLength
	offset, size := int64(0), length
	if cr := out.contentRange; in.Range != nil && (strings.HasSuffix(cr, "/0") || cr == "" && length == 0) {
		// MinIO answers a range of an empty object with the empty body;
		// S3 and the store contract call it unsatisfiable.
		body.Close()
		return nil, fmt.Errorf("get %s/%s: %w", bucket, key, store.ErrInvalidRange)
	} else if cr != "" {
		var last int64
		offset, last, size, err = parseContentRange(cr)
		if err != nil {
			body.Close()
			return nil, fmt.Errorf("get %s/%s: %w", bucket, key, err)
		}
		length = last - offset + 1
	}
	info := out.hdr.info(bucket, key, size)
	if err := b.fillTags(ctx, &info, aws.ToInt32(out.hdr.tagCount)); err != nil {
		body.Close()
		return nil, fmt.Errorf("get %s/%s: %w", bucket, key, err)
	}
	return &store.Object{Info: info, Offset: offset, Length: length, Body: body}, nil
}

// sendGet is the backend GET of in, by the lean path unless it is off.
func (b *Backend) sendGet(ctx context.Context, in *s3.GetObjectInput) (*leanResult, error) {
	if b.lean != nil {
		return b.leanGet(ctx, http.MethodGet, aws.ToString(in.Key), aws.ToString(in.Range), aws.ToString(in.IfMatch))
	}
	out, err := b.client.GetObject(ctx, in)
	if err != nil {
		return nil, err
	}
	return &leanResult{
		hdr: storedHeaders{
			contentType: out.ContentType, contentEncoding: out.ContentEncoding,
			contentDisposition: out.ContentDisposition, contentLanguage: out.ContentLanguage,
			cacheControl: out.CacheControl, expires: out.ExpiresString, meta: out.Metadata,
			etag: out.ETag, lastModified: out.LastModified, tagCount: out.TagCount,
		},
		contentLength: aws.ToInt64(out.ContentLength),
		contentRange:  aws.ToString(out.ContentRange),
		body:          out.Body,
	}, nil
}

// sendHead is the backend HEAD of bkey, by the lean path unless it is off.
func (b *Backend) sendHead(ctx context.Context, bkey string) (*leanResult, error) {
	if b.lean != nil {
		res, err := b.leanGet(ctx, http.MethodHead, bkey, "", "")
		if err != nil {
			return nil, err
		}
		res.body.Close()
		res.body = nil
		return res, nil
	}
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(bkey)})
	if err != nil {
		return nil, err
	}
	return &leanResult{
		hdr: storedHeaders{
			contentType: out.ContentType, contentEncoding: out.ContentEncoding,
			contentDisposition: out.ContentDisposition, contentLanguage: out.ContentLanguage,
			cacheControl: out.CacheControl, expires: out.ExpiresString, meta: out.Metadata,
			etag: out.ETag, lastModified: out.LastModified, tagCount: out.TagCount,
		},
		contentLength: aws.ToInt64(out.ContentLength),
	}, nil
}

// partSpan is where one part of an object lies.
type partSpan struct {
	offset, size int64
	etag         string
}

// partSpan finds the n-th part (counting from 1 in the completed object,
// whatever number it was uploaded as) from the backend's object
// attributes. MinIO's own ?partNumber= takes the uploaded number, so a
// ranged GET (pinned to the ETag) serves the part instead.
func (b *Backend) partSpan(ctx context.Context, bucket, key string, n int) (*partSpan, error) {
	in := &s3.GetObjectAttributesInput{
		Bucket: aws.String(b.bucket), Key: aws.String(objectKey(bucket, key)),
		ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesEtag, types.ObjectAttributesObjectSize, types.ObjectAttributesObjectParts},
		MaxParts:         aws.Int32(1000),
	}
	var span partSpan
	seen, lastNumber := 0, int32(0)
	for {
		out, err := b.client.GetObjectAttributes(ctx, in)
		if err != nil {
			return nil, b.missing(ctx, bucket, mapReadErr(ctx, err))
		}
		span.etag = unquote(out.ETag)
		if out.ObjectParts == nil || len(out.ObjectParts.Parts) == 0 && seen == 0 {
			if n != 1 {
				return nil, store.ErrInvalidPartNumber
			}
			span.size = aws.ToInt64(out.ObjectSize)
			return &span, nil
		}
		if total := aws.ToInt32(out.ObjectParts.TotalPartsCount); total > 0 && n > int(total) {
			return nil, store.ErrInvalidPartNumber
		}
		progressed := false
		for _, p := range out.ObjectParts.Parts {
			// Only parts past the marker count: MinIO answers a page
			// past the end as truncated and then starts over.
			num := aws.ToInt32(p.PartNumber)
			if num <= lastNumber {
				continue
			}
			lastNumber, progressed = num, true
			seen++
			if seen == n {
				span.size = aws.ToInt64(p.Size)
				return &span, nil
			}
			span.offset += aws.ToInt64(p.Size)
		}
		if !progressed || !aws.ToBool(out.ObjectParts.IsTruncated) {
			return nil, store.ErrInvalidPartNumber
		}
		in.PartNumberMarker = aws.String(strconv.Itoa(int(lastNumber)))
	}
}

// parseContentRange reads "bytes first-last/size".
func parseContentRange(s string) (first, last, size int64, err error) {
	rest, ok := strings.CutPrefix(s, "bytes ")
	span, total, ok2 := strings.Cut(rest, "/")
	a, z, ok3 := strings.Cut(span, "-")
	if !ok || !ok2 || !ok3 {
		return 0, 0, 0, fmt.Errorf("%w: backend Content-Range %q", store.ErrUnavailable, s)
	}
	first, e1 := strconv.ParseInt(a, 10, 64)
	last, e2 := strconv.ParseInt(z, 10, 64)
	size, e3 := strconv.ParseInt(total, 10, 64)
	if e1 != nil || e2 != nil || e3 != nil || last < first {
		return 0, 0, 0, fmt.Errorf("%w: backend Content-Range %q", store.ErrUnavailable, s)
	}
	return first, last, size, nil
}

// missing turns ErrNoSuchKey into ErrNoSuchBucket when the bucket is gone.
func (b *Backend) missing(ctx context.Context, bucket string, err error) error {
	if !errors.Is(err, store.ErrNoSuchKey) {
		return err
	}
	if berr := b.checkBucket(ctx, bucket); berr != nil {
		return berr
	}
	return err
}

// fillTags reads the tags S3 only counts on a GET or HEAD.
func (b *Backend) fillTags(ctx context.Context, info *store.ObjectInfo, count int32) error {
	if count == 0 {
		return nil
	}
	out, err := b.client.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(b.bucket), Key: aws.String(objectKey(info.Bucket, info.Key))})
	if err != nil {
		err = mapErr(ctx, err)
		if errors.Is(err, store.ErrNoSuchKey) {
			return nil // replaced or deleted since; the caller has its version
		}
		return err
	}
	info.Attrs.Tags = make(map[string]string, len(out.TagSet))
	for _, t := range out.TagSet {
		info.Attrs.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return nil
}

// HeadObject reads the backend object's headers (and tags, when it has
// any).
func (b *Backend) HeadObject(ctx context.Context, bucket, key string) (store.ObjectInfo, error) {
	out, err := b.sendHead(ctx, objectKey(bucket, key))
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("head %s/%s: %w", bucket, key, b.missing(ctx, bucket, mapReadErr(ctx, err)))
	}
	info := out.hdr.info(bucket, key, out.contentLength)
	if err := b.fillTags(ctx, &info, aws.ToInt32(out.hdr.tagCount)); err != nil {
		return store.ObjectInfo{}, fmt.Errorf("head %s/%s: %w", bucket, key, err)
	}
	return info, nil
}

// DeleteObject deletes the backend object (absent keys are no error).
func (b *Backend) DeleteObject(ctx context.Context, bucket, key string) error {
	if err := b.checkBucket(ctx, bucket); err != nil {
		return fmt.Errorf("delete %s/%s: %w", bucket, key, err)
	}
	_, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(objectKey(bucket, key))})
	if err = mapReadErr(ctx, err); err != nil && !errors.Is(err, store.ErrNoSuchKey) {
		return fmt.Errorf("delete %s/%s: %w", bucket, key, err)
	}
	return nil
}

// SetObjectTags replaces the backend object's tags in place.
func (b *Backend) SetObjectTags(ctx context.Context, bucket, key string, tags map[string]string) error {
	if err := b.checkBucket(ctx, bucket); err != nil {
		return fmt.Errorf("tag %s/%s: %w", bucket, key, err)
	}
	bkey := aws.String(objectKey(bucket, key))
	var err error
	if len(tags) == 0 {
		// DeleteObjectTagging of an absent key succeeds on some servers;
		// check the key first so the contract's ErrNoSuchKey holds.
		if _, err = b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.bucket), Key: bkey}); err == nil {
			_, err = b.client.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: aws.String(b.bucket), Key: bkey})
		}
	} else {
		_, err = b.client.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{
			Bucket: aws.String(b.bucket), Key: bkey,
			Tagging: &types.Tagging{TagSet: tagSet(tags)},
		})
	}
	if err != nil {
		return fmt.Errorf("tag %s/%s: %w", bucket, key, mapReadErr(ctx, err))
	}
	return nil
}
