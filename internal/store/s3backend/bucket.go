package s3backend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"mirrorstore/internal/store"
)

// bucketRecord is the JSON body of .mirrorstore/buckets/<bucket>.
type bucketRecord struct {
	Owner   string    `json:"owner"`
	Created time.Time `json:"created"`
}

// CreateBucket writes the bucket record with a create-only conditional PUT,
// so two nodes creating one name concurrently agree on a single owner.
func (b *Backend) CreateBucket(ctx context.Context, bucket, owner string) error {
	rec, _ := json.Marshal(bucketRecord{Owner: owner, Created: time.Now().UTC()})
	_, err := b.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:      aws.String(b.bucket),
		Key:         aws.String(bucketRecordKey(bucket)),
		Body:        bytes.NewReader(rec),
		IfNoneMatch: aws.String("*"),
		ContentType: aws.String("application/json"),
	})
	if err == nil {
		b.sawBucket(bucket)
		return nil
	}
	if err = mapErr(ctx, err); !errors.Is(err, store.ErrPreconditionFailed) {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	info, err := b.HeadBucket(ctx, bucket)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	if info.Owner == owner {
		return fmt.Errorf("create bucket %s: %w", bucket, store.ErrBucketAlreadyOwnedByYou)
	}
	return fmt.Errorf("create bucket %s: %w", bucket, store.ErrBucketAlreadyExists)
}

// HeadBucket reads the bucket record.
func (b *Backend) HeadBucket(ctx context.Context, bucket string) (store.BucketInfo, error) {
	data, err := b.getSmall(ctx, bucketRecordKey(bucket))
	if errors.Is(err, store.ErrNoSuchKey) {
		return store.BucketInfo{}, fmt.Errorf("bucket %s: %w", bucket, store.ErrNoSuchBucket)
	}
	if err != nil {
		return store.BucketInfo{}, fmt.Errorf("bucket %s: %w", bucket, err)
	}
	var rec bucketRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return store.BucketInfo{}, fmt.Errorf("bucket %s: record %s is not JSON: %w", bucket, bucketRecordKey(bucket), err)
	}
	return store.BucketInfo{Name: bucket, Created: rec.Created, Owner: rec.Owner}, nil
}

// checkBucket returns ErrNoSuchBucket unless the bucket record exists. A
// record seen within bucketTTL is trusted without asking the cluster
// again: otherwise every object write, delete and listing would pay a
// second round trip (a HEAD of the record) before its own. Only presence
// is remembered, so a bucket created on another node is seen at once; one
// deleted on another node is still taken for present here for at most
// bucketTTL (the s3api access cache's bound).
func (b *Backend) checkBucket(ctx context.Context, bucket string) error {
	if exp, ok := b.buckets.Load(bucket); ok && time.Now().Before(exp.(time.Time)) {
		return nil
	}
	return b.checkBucketFresh(ctx, bucket)
}

// checkBucketFresh is checkBucket asking the cluster.
func (b *Backend) checkBucketFresh(ctx context.Context, bucket string) error {
	_, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(bucketRecordKey(bucket))})
	if err == nil {
		b.sawBucket(bucket)
		return nil
	}
	b.buckets.Delete(bucket)
	if err = mapErr(ctx, err); errors.Is(err, store.ErrNoSuchKey) {
		return fmt.Errorf("bucket %s: %w", bucket, store.ErrNoSuchBucket)
	}
	return fmt.Errorf("bucket %s: %w", bucket, err)
}

// ListBuckets lists the bucket records and reads each (buckets are few).
func (b *Backend) ListBuckets(ctx context.Context) ([]store.BucketInfo, error) {
	keys, err := b.listAll(ctx, bucketsDir, 0)
	if err != nil {
		return nil, fmt.Errorf("list buckets: %w", err)
	}
	var out []store.BucketInfo
	for _, k := range keys {
		info, err := b.HeadBucket(ctx, strings.TrimPrefix(k, bucketsDir))
		if errors.Is(err, store.ErrNoSuchBucket) {
			continue // deleted since the listing
		}
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// DeleteBucket removes an empty bucket's configuration and record. The
// emptiness check and the delete are two steps: an object written by
// another node between them survives under a bucket that no longer
// exists, and reappears if the name is created again.
func (b *Backend) DeleteBucket(ctx context.Context, bucket string) error {
	// Asked afresh: deleting on a remembered presence would answer
	// success for a bucket another node has already deleted.
	b.buckets.Delete(bucket)
	if err := b.checkBucketFresh(ctx, bucket); err != nil {
		return fmt.Errorf("delete %w", err)
	}
	defer b.buckets.Delete(bucket)
	for _, prefix := range []string{objectPrefix + bucket + "/", uploadsDir + bucket + "/"} {
		keys, err := b.listAll(ctx, prefix, 1)
		if err != nil {
			return fmt.Errorf("delete bucket %s: %w", bucket, err)
		}
		if len(keys) > 0 {
			return fmt.Errorf("delete bucket %s: %w", bucket, store.ErrBucketNotEmpty)
		}
	}
	configs, err := b.listAll(ctx, configDir+bucket+"/", 0)
	if err != nil {
		return fmt.Errorf("delete bucket %s: %w", bucket, err)
	}
	for _, k := range append(configs, bucketRecordKey(bucket)) {
		if err := b.deleteKey(ctx, k); err != nil {
			return fmt.Errorf("delete bucket %s: %w", bucket, err)
		}
	}
	return nil
}

// PutBucketConfig stores or (nil data) deletes a configuration blob.
func (b *Backend) PutBucketConfig(ctx context.Context, bucket, name string, data []byte) error {
	if err := b.checkBucket(ctx, bucket); err != nil {
		return fmt.Errorf("put %s config: %w", name, err)
	}
	if data == nil {
		if err := b.deleteKey(ctx, configKey(bucket, name)); err != nil {
			return fmt.Errorf("delete %s config of %s: %w", name, bucket, err)
		}
		return nil
	}
	_, err := b.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(b.bucket),
		Key:    aws.String(configKey(bucket, name)),
		Body:   bytes.NewReader(data),
	})
	if err != nil {
		return fmt.Errorf("put %s config of %s: %w", name, bucket, mapErr(ctx, err))
	}
	return nil
}

// GetBucketConfig reads a configuration blob.
func (b *Backend) GetBucketConfig(ctx context.Context, bucket, name string) ([]byte, error) {
	data, err := b.getSmall(ctx, configKey(bucket, name))
	if errors.Is(err, store.ErrNoSuchKey) {
		if err := b.checkBucket(ctx, bucket); err != nil {
			return nil, fmt.Errorf("get %s config: %w", name, err)
		}
		return nil, fmt.Errorf("%s config of %s: %w", name, bucket, store.ErrNoSuchConfig)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s config of %s: %w", name, bucket, err)
	}
	return data, nil
}

// maxRecord bounds what getSmall reads: records and configuration blobs
// are kilobytes; a larger one is not ours.
const maxRecord = 16 << 20

// getSmall reads one of our own records whole.
func (b *Backend) getSmall(ctx context.Context, key string) ([]byte, error) {
	out, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(key)})
	if err != nil {
		return nil, mapErr(ctx, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(io.LimitReader(out.Body, maxRecord+1))
	if err != nil {
		return nil, unavailable(ctx, err)
	}
	if len(data) > maxRecord {
		return nil, fmt.Errorf("%s is larger than %d bytes", key, maxRecord)
	}
	return data, nil
}

func (b *Backend) deleteKey(ctx context.Context, key string) error {
	_, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(key)})
	return mapErr(ctx, err)
}

// listAll lists every backend key under prefix (at most limit when
// limit > 0).
func (b *Backend) listAll(ctx context.Context, prefix string, limit int) ([]string, error) {
	var keys []string
	in := &s3.ListObjectsV2Input{Bucket: aws.String(b.bucket), Prefix: aws.String(prefix)}
	if limit > 0 {
		in.MaxKeys = aws.Int32(int32(limit))
	}
	for {
		out, err := b.client.ListObjectsV2(ctx, in)
		if err != nil {
			return nil, mapErr(ctx, err)
		}
		keys = appendKeys(keys, out.Contents)
		if limit > 0 && len(keys) >= limit {
			return keys[:limit], nil
		}
		if !aws.ToBool(out.IsTruncated) || out.NextContinuationToken == nil {
			return keys, nil
		}
		in.ContinuationToken = out.NextContinuationToken
	}
}

func appendKeys(keys []string, objs []types.Object) []string {
	for _, o := range objs {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

// sawBucket remembers that bucket's record exists, for bucketTTL.
func (b *Backend) sawBucket(bucket string) {
	b.buckets.Store(bucket, time.Now().Add(b.bucketTTL))
}
