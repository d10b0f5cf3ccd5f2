package migrate

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// S3Source lists and reads the objects under a prefix of a bucket of
// another S3-compatible store. Keys are kept whole, prefix included.
type S3Source struct {
	client         *s3.Client
	bucket, prefix string
}

// NewS3Source returns the source for s3://bucket/prefix through client.
func NewS3Source(client *s3.Client, bucket, prefix string) *S3Source {
	return &S3Source{client: client, bucket: bucket, prefix: prefix}
}

func (s *S3Source) String() string { return "s3://" + s.bucket + "/" + s.prefix }

// List pages through ListObjectsV2.
func (s *S3Source) List(ctx context.Context, fn func(Object) error) error {
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(s.prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list %s: %w", s, err)
		}
		for _, o := range page.Contents {
			obj := Object{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size), ETag: trimETag(aws.ToString(o.ETag))}
			if err := fn(obj); err != nil {
				return err
			}
		}
	}
	return nil
}

// Open GETs the object; its content headers and user metadata go along.
func (s *S3Source) Open(ctx context.Context, obj Object) (*Content, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(obj.Key)})
	if err != nil {
		err = fmt.Errorf("get %s%s: %w", s, obj.Key, err)
		if isRetryableSDK(ctx, err) {
			return nil, retryable(err)
		}
		return nil, err
	}
	c := &Content{
		Body:   out.Body,
		Size:   aws.ToInt64(out.ContentLength),
		ETag:   trimETag(aws.ToString(out.ETag)),
		Header: map[string]string{},
		Meta:   out.Metadata,
	}
	if out.ContentLength == nil {
		c.Size = -1
	}
	for name, v := range map[string]*string{
		"Content-Type":        out.ContentType,
		"Content-Encoding":    out.ContentEncoding,
		"Content-Disposition": out.ContentDisposition,
		"Cache-Control":       out.CacheControl,
		"Expires":             out.ExpiresString,
		"Content-Language":    out.ContentLanguage,
	} {
		if v != nil && *v != "" {
			c.Header[name] = *v
		}
	}
	return c, nil
}

// statusOf returns the HTTP status of an SDK error, 0 when it has none.
func statusOf(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// isConflict reports whether err is a failed precondition (412).
func isConflict(err error) bool {
	if statusOf(err) == http.StatusPreconditionFailed {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "PreconditionFailed"
}

// isRetryableSDK reports whether an SDK error may pass on a later attempt:
// 5xx (SlowDown included), 429, or no answer at all (a network error).
func isRetryableSDK(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	st := statusOf(err)
	if st >= 500 || st == http.StatusTooManyRequests {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode() == "SlowDown"
	}
	return st == 0
}
