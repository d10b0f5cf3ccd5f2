package s3backend

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"mirrorstore/internal/store"
)

// pastAll sorts after every UTF-8 continuation of a string: appended to a
// common prefix it makes a start-after that skips the whole group.
const pastAll = "\U0010FFFF"

type entry struct {
	key string
	obj *store.ObjectInfo // nil for a common prefix
}

// ListObjects maps to ListObjectsV2 on the prefixed keys. After becomes
// StartAfter, moved past a whole common prefix when After falls inside
// one (S3's StartAfter would list that prefix again). The backend is asked
// for exactly the entries asked, and its IsTruncated (exact in
// ListObjectsV2) is ours: asking one more than a full page of 1,000 would
// cost a second backend page of 1,000 for that one entry.
func (b *Backend) ListObjects(ctx context.Context, bucket string, opts store.ListOptions) (store.ListResult, error) {
	if err := b.checkBucket(ctx, bucket); err != nil {
		return store.ListResult{}, fmt.Errorf("list %w", err)
	}
	limit := opts.MaxKeys
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	base := objectPrefix + bucket + "/"
	in := &s3.ListObjectsV2Input{
		Bucket:  aws.String(b.bucket),
		Prefix:  aws.String(base + opts.Prefix),
		MaxKeys: aws.Int32(int32(limit)),
	}
	if opts.Delimiter != "" {
		in.Delimiter = aws.String(opts.Delimiter)
	}
	if start := startAfter(opts); start != "" {
		in.StartAfter = aws.String(base + start)
	}
	var entries []entry
	more := false
	for {
		out, err := b.client.ListObjectsV2(ctx, in)
		if err != nil {
			return store.ListResult{}, fmt.Errorf("list %s: %w", bucket, mapErr(ctx, err))
		}
		var page []entry
		for _, o := range out.Contents {
			etag := unquote(o.ETag)
			page = append(page, entry{key: strings.TrimPrefix(aws.ToString(o.Key), base), obj: &store.ObjectInfo{
				Bucket: bucket, Key: strings.TrimPrefix(aws.ToString(o.Key), base),
				Size: aws.ToInt64(o.Size), ETag: etag, LastModified: aws.ToTime(o.LastModified), PartsCount: partsCount(etag),
			}})
		}
		for _, cp := range out.CommonPrefixes {
			p := strings.TrimPrefix(aws.ToString(cp.Prefix), base)
			if opts.After != "" && p <= opts.After {
				continue
			}
			page = append(page, entry{key: p})
		}
		sort.Slice(page, func(i, j int) bool { return page[i].key < page[j].key })
		entries = append(entries, page...)
		more = aws.ToBool(out.IsTruncated) && out.NextContinuationToken != nil
		if len(entries) >= limit || !more {
			break
		}
		in.ContinuationToken, in.StartAfter = out.NextContinuationToken, nil
	}
	var res store.ListResult
	if len(entries) > limit || len(entries) == limit && more {
		entries = entries[:limit]
		res.IsTruncated = true
		res.NextAfter = entries[limit-1].key
	}
	for _, e := range entries {
		if e.obj != nil {
			res.Objects = append(res.Objects, *e.obj)
		} else {
			res.CommonPrefixes = append(res.CommonPrefixes, e.key)
		}
	}
	return res, nil
}

// startAfter is where the backend listing starts: After itself, or, when
// After lies in a common prefix, past that whole prefix.
func startAfter(opts store.ListOptions) string {
	if opts.Delimiter == "" || !strings.HasPrefix(opts.After, opts.Prefix) {
		return opts.After
	}
	rest := opts.After[len(opts.Prefix):]
	if i := strings.Index(rest, opts.Delimiter); i >= 0 {
		return opts.Prefix + rest[:i+len(opts.Delimiter)] + pastAll
	}
	return opts.After
}
