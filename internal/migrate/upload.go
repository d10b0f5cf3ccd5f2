package migrate

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// condition is the precondition of a write: IfNoneMatch for a new object,
// IfMatch (an ETag without quotes) for a replacement.
type condition struct {
	ifMatch string
}

func (c condition) apply(ifNoneMatch, ifMatch **string) {
	if c.ifMatch != "" {
		*ifMatch = aws.String(`"` + c.ifMatch + `"`)
		return
	}
	*ifNoneMatch = aws.String("*")
}

// errShort means the source body ended before its announced length.
var errShort = errors.New("source body ended before its announced length")

// upload writes c's body to key: one PutObject when it fits in a part,
// else a multipart upload whose parts are len(buf) bytes. The body is read
// part by part into buf, so a part can be retried by the SDK without
// reading the source again. buf is shorter than a part only for a body of
// known smaller size, and then one byte longer than it. It returns the
// bytes written and the new ETag.
func (m *migration) upload(ctx context.Context, key string, c *Content, cond condition, buf []byte) (int64, string, error) {
	br := bufio.NewReaderSize(c.Body, 64<<10)
	n, err := io.ReadFull(br, buf)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return 0, "", retryable(fmt.Errorf("read source: %w", err))
	}
	single := err != nil
	if !single && int64(len(buf)) < m.cfg.PartSize {
		return 0, "", retryable(fmt.Errorf("source body longer than its announced %d bytes", c.Size))
	}
	if !single {
		if _, perr := br.Peek(1); perr == io.EOF {
			single = true
		} else if perr != nil {
			return 0, "", retryable(fmt.Errorf("read source: %w", perr))
		}
	}
	if single {
		if c.Size >= 0 && int64(n) != c.Size {
			return 0, "", retryable(errShort)
		}
		in := &s3.PutObjectInput{
			Bucket:        aws.String(m.cfg.Bucket),
			Key:           aws.String(key),
			Body:          bytes.NewReader(buf[:n]),
			ContentLength: aws.Int64(int64(n)),
			Metadata:      c.Meta,
		}
		setHeaders(c.Header, &in.ContentType, &in.ContentEncoding, &in.ContentDisposition,
			&in.CacheControl, &in.ContentLanguage, &in.Expires)
		cond.apply(&in.IfNoneMatch, &in.IfMatch)
		out, err := m.cfg.Client.PutObject(ctx, in)
		if err != nil {
			sum := md5.Sum(buf[:n])
			if etag := hex.EncodeToString(sum[:]); m.ownWrite(ctx, key, err, etag) {
				return int64(n), etag, nil
			}
			return 0, "", m.destErr(ctx, "put", err)
		}
		return int64(n), trimETag(aws.ToString(out.ETag)), nil
	}
	return m.multipart(ctx, key, c, cond, br, buf, n)
}

func (m *migration) multipart(ctx context.Context, key string, c *Content, cond condition, r io.Reader, buf []byte, n int) (int64, string, error) {
	in := &s3.CreateMultipartUploadInput{Bucket: aws.String(m.cfg.Bucket), Key: aws.String(key), Metadata: c.Meta}
	setHeaders(c.Header, &in.ContentType, &in.ContentEncoding, &in.ContentDisposition,
		&in.CacheControl, &in.ContentLanguage, &in.Expires)
	created, err := m.cfg.Client.CreateMultipartUpload(ctx, in)
	if err != nil {
		return 0, "", m.destErr(ctx, "create multipart upload", err)
	}
	id := created.UploadId
	completed := false
	defer func() {
		if completed {
			return
		}
		// The run may be over (Ctrl-C): abort on a context of our own so
		// the staged parts do not linger.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		m.cfg.Client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: aws.String(m.cfg.Bucket), Key: aws.String(key), UploadId: id})
	}()
	var (
		parts []types.CompletedPart
		total int64
	)
	for num := int32(1); n > 0; num++ {
		out, err := m.cfg.Client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: aws.String(m.cfg.Bucket), Key: aws.String(key), UploadId: id,
			PartNumber: aws.Int32(num), Body: bytes.NewReader(buf[:n]), ContentLength: aws.Int64(int64(n)),
		})
		if err != nil {
			return 0, "", m.destErr(ctx, fmt.Sprintf("upload part %d", num), err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
		total += int64(n)
		n, err = io.ReadFull(r, buf)
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			return 0, "", retryable(fmt.Errorf("read source: %w", err))
		}
	}
	if c.Size >= 0 && total != c.Size {
		return 0, "", retryable(errShort)
	}
	cin := &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(m.cfg.Bucket), Key: aws.String(key), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}
	cond.apply(&cin.IfNoneMatch, &cin.IfMatch)
	out, err := m.cfg.Client.CompleteMultipartUpload(ctx, cin)
	if err != nil {
		if etag := multipartETag(parts); etag != "" && m.ownWrite(ctx, key, err, etag) {
			completed = true
			return total, etag, nil
		}
		return 0, "", m.destErr(ctx, "complete multipart upload", err)
	}
	completed = true
	return total, trimETag(aws.ToString(out.ETag)), nil
}

// ownWrite reports whether a 412 (or NoSuchUpload, for a completion)
// answered a retry of our own write: the SDK resends a request whose answer
// was lost, and the first one may have committed. Then the key holds
// exactly what we sent, ETag etag.
func (m *migration) ownWrite(ctx context.Context, key string, err error, etag string) bool {
	var ae smithy.APIError
	if !isConflict(err) && !(errors.As(err, &ae) && ae.ErrorCode() == "NoSuchUpload") {
		return false
	}
	head, herr := m.cfg.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(m.cfg.Bucket), Key: aws.String(key)})
	return herr == nil && strings.EqualFold(trimETag(aws.ToString(head.ETag)), etag)
}

// multipartETag computes the ETag S3 gives a multipart object: the MD5 of
// the parts' binary MD5s, a dash and the part count; "" when a part's ETag
// is not an MD5.
func multipartETag(parts []types.CompletedPart) string {
	h := md5.New()
	for _, p := range parts {
		b, err := hex.DecodeString(trimETag(aws.ToString(p.ETag)))
		if err != nil || len(b) != md5.Size {
			return ""
		}
		h.Write(b)
	}
	return fmt.Sprintf("%x-%d", h.Sum(nil), len(parts))
}

// conflictError is a 412: a client wrote the key since it was compared.
type conflictError struct{ err error }

func (e *conflictError) Error() string {
	return "the object changed in the bucket since it was compared (412 Precondition Failed); left as it is"
}
func (e *conflictError) Unwrap() error { return e.err }

// destErr classifies an error of the destination.
func (m *migration) destErr(ctx context.Context, op string, err error) error {
	if isConflict(err) {
		return &conflictError{err: err}
	}
	err = fmt.Errorf("%s: %w", op, err)
	if isRetryableSDK(ctx, err) {
		return retryable(err)
	}
	return err
}

// setHeaders copies the kept content headers into a PUT's fields. An
// Expires that is not an HTTP date ("0", "-1": common on origins and
// meaning "already expired") cannot go through the SDK and is dropped.
func setHeaders(h map[string]string, ct, ce, cd, cc, cl **string, exp **time.Time) {
	str := func(name string) *string {
		if v := h[name]; v != "" {
			return aws.String(v)
		}
		return nil
	}
	*ct, *ce, *cd, *cc, *cl = str("Content-Type"), str("Content-Encoding"), str("Content-Disposition"),
		str("Cache-Control"), str("Content-Language")
	if v := h["Expires"]; v != "" {
		if t, err := http.ParseTime(v); err == nil {
			*exp = &t
		}
	}
}
