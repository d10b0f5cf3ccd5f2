package local

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"mirrorstore/internal/store"
)

// maxPage bounds every listing page, as S3 does.
const maxPage = 1000

func pageSize(n int) int {
	if n <= 0 || n > maxPage {
		return maxPage
	}
	return n
}

// ListObjects lists one page of a bucket's keys in byte-wise order. It is
// one range scan over the prefix; each common prefix costs one seek past all
// the keys it rolls up, so a delimiter listing visits O(page) records no
// matter how many keys sit under each common prefix.
func (e *Engine) ListObjects(ctx context.Context, bucket string, opts store.ListOptions) (store.ListResult, error) {
	leave, err := e.enter()
	if err != nil {
		return store.ListResult{}, err
	}
	defer leave()
	wrap := func(err error) error { return fmt.Errorf("list %s: %w", bucket, err) }
	if err := e.checkBucket(bucket); err != nil {
		return store.ListResult{}, wrap(err)
	}
	base := bucketPrefix(kindObject, bucket)
	lower := append(bytes.Clone(base), opts.Prefix...)
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(lower)})
	if err != nil {
		return store.ListResult{}, wrap(err)
	}
	defer it.Close()

	start := lower
	if opts.After != "" {
		// The smallest key strictly after After.
		if a := append(append(bytes.Clone(base), opts.After...), 0); bytes.Compare(a, start) > 0 {
			start = a
		}
	}
	limit := pageSize(opts.MaxKeys)
	var res store.ListResult
	n := 0
	for valid := it.SeekGE(start); valid; {
		e.listSteps.Add(1)
		if err := ctx.Err(); err != nil {
			return store.ListResult{}, wrap(err)
		}
		key := string(it.Key()[len(base):])
		if opts.Delimiter != "" {
			if i := strings.Index(key[len(opts.Prefix):], opts.Delimiter); i >= 0 {
				cp := key[:len(opts.Prefix)+i+len(opts.Delimiter)]
				// A common prefix at or before After (After inside it, or
				// equal to it) was listed on an earlier page.
				if cp > opts.After {
					if n == limit {
						res.IsTruncated = true
						break
					}
					res.CommonPrefixes = append(res.CommonPrefixes, cp)
					res.NextAfter = cp
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
			return store.ListResult{}, wrap(err)
		}
		rec, err := decodeObjectInfo(v)
		if err != nil {
			return store.ListResult{}, wrap(fmt.Errorf("%q: %w", key, err))
		}
		res.Objects = append(res.Objects, rec.info(bucket, key))
		res.NextAfter = key
		n++
		valid = it.Next()
	}
	if err := it.Error(); err != nil {
		return store.ListResult{}, wrap(err)
	}
	if !res.IsTruncated {
		res.NextAfter = ""
	}
	return res, nil
}
