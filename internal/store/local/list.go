package local

import (
	"bytes"
	"context"
	"fmt"
	"time"

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
	// Objects are gathered compactly, their keys and ETags in two byte
	// arenas, and become ObjectInfos at the end: two strings per page
	// instead of three per key, and one slice of the exact size instead of
	// a doubling slice of large structs.
	var (
		found       []listed
		keys, etags []byte
		// lastObject is set when the page so far ends on an object
		// rather than a common prefix.
		lastObject bool
	)
	delim := []byte(opts.Delimiter)
	n := 0
	for valid := it.SeekGE(start); valid; {
		e.listSteps.Add(1)
		if err := ctx.Err(); err != nil {
			return store.ListResult{}, wrap(err)
		}
		rawKey := it.Key()[len(base):]
		if opts.Delimiter != "" {
			if i := bytes.Index(rawKey[len(opts.Prefix):], delim); i >= 0 {
				cp := string(rawKey[:len(opts.Prefix)+i+len(opts.Delimiter)])
				// A common prefix at or before After (After inside it, or
				// equal to it) was listed on an earlier page.
				if cp > opts.After {
					if n == limit {
						res.IsTruncated = true
						break
					}
					res.CommonPrefixes = append(res.CommonPrefixes, cp)
					res.NextAfter, lastObject = cp, false
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
		ent, err := decodeListEntry(v)
		if err != nil {
			return store.ListResult{}, wrap(fmt.Errorf("%q: %w", rawKey, err))
		}
		found = append(found, listed{key: len(keys), etag: len(etags), size: ent.size, modTime: ent.modTime, parts: ent.parts})
		keys = append(keys, rawKey...)
		etags = append(etags, ent.etag...)
		lastObject = true
		n++
		valid = it.Next()
	}
	if err := it.Error(); err != nil {
		return store.ListResult{}, wrap(err)
	}
	if len(found) > 0 {
		ks, es := string(keys), string(etags)
		res.Objects = make([]store.ObjectInfo, len(found))
		for i, f := range found {
			kEnd, eEnd := len(ks), len(es)
			if i+1 < len(found) {
				kEnd, eEnd = found[i+1].key, found[i+1].etag
			}
			res.Objects[i] = store.ObjectInfo{
				Bucket:       bucket,
				Key:          ks[f.key:kEnd],
				Size:         f.size,
				ETag:         es[f.etag:eEnd],
				LastModified: time.Unix(0, f.modTime).UTC(),
				PartsCount:   f.parts,
			}
		}
		if lastObject {
			res.NextAfter = res.Objects[len(res.Objects)-1].Key
		}
	}
	if !res.IsTruncated {
		res.NextAfter = ""
	}
	return res, nil
}

// listed is one object of a listing page while it is gathered: offsets
// into the page's key and ETag arenas, and the record's fields.
type listed struct {
	key, etag int
	size      int64
	modTime   int64
	parts     int
}
