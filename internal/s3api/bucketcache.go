package s3api

import (
	"sync"
	"time"
)

// bucketCache keeps one immutable value per bucket in memory, read from
// the backend on first use and trusted for ttl. A value is replaced whole,
// never modified, so a reader sees the old one or the new one. Writes made
// through this handler replace (set) or drop (forget) the entry at once;
// the TTL only bounds how long another node sharing the backend keeps
// serving what it read before.
//
// It is the access facts' cache (aclCache) and the website matchers'
// (websiteCache). Callers only fill entries for buckets that exist: names
// come from clients, and must not grow the map.
type bucketCache[V any] struct {
	ttl time.Duration
	m   sync.Map // bucket name → *cacheEntry[V]
}

type cacheEntry[V any] struct {
	v       V
	expires time.Time
}

// cached returns bucket's value when a fresh one is held. Otherwise stale
// is what the map held (nil for nothing), to pass on to fill.
func (c *bucketCache[V]) cached(bucket string) (v V, ok bool, stale any) {
	old, found := c.m.Load(bucket)
	if !found {
		return v, false, nil
	}
	if e := old.(*cacheEntry[V]); time.Now().Before(e.expires) {
		return e.v, true, nil
	}
	return v, false, old
}

// fill keeps v, read from the backend after cached missed with stale, and
// returns the value to use. A write (set, forget) that raced with the read
// wins: fill replaces only the entry it found stale (or an empty slot) and
// otherwise answers with what is there now, so a value read before a PUT
// never overwrites the PUT's.
func (c *bucketCache[V]) fill(bucket string, stale any, v V) V {
	e := &cacheEntry[V]{v: v, expires: time.Now().Add(c.ttl)}
	if stale != nil {
		if c.m.CompareAndSwap(bucket, stale, e) {
			return v
		}
	} else if cur, loaded := c.m.LoadOrStore(bucket, e); loaded {
		return cur.(*cacheEntry[V]).v
	} else {
		return v
	}
	if cur, ok := c.m.Load(bucket); ok {
		return cur.(*cacheEntry[V]).v
	}
	return v
}

// set replaces bucket's value after a write through this handler.
func (c *bucketCache[V]) set(bucket string, v V) {
	c.m.Store(bucket, &cacheEntry[V]{v: v, expires: time.Now().Add(c.ttl)})
}

// forget drops bucket's entry; the next use reads the backend again.
func (c *bucketCache[V]) forget(bucket string) { c.m.Delete(bucket) }
