package s3api

import (
	"testing"
	"time"
)

// TestBucketCacheWritesWin: a value read before a write must not replace
// the write's, whether the slot was empty, stale or forgotten meanwhile.
func TestBucketCacheWritesWin(t *testing.T) {
	c := &bucketCache[string]{ttl: time.Hour}

	_, ok, stale := c.cached("b")
	if ok || stale != nil {
		t.Fatal("empty cache answered")
	}
	c.set("b", "put") // a PUT lands while "old" is being read
	if got := c.fill("b", stale, "old"); got != "put" {
		t.Fatalf("fill over an empty slot that a write took: %q", got)
	}

	c.ttl = 0 // every entry is stale at once
	c.set("b", "v1")
	_, ok, stale = c.cached("b")
	if ok || stale == nil {
		t.Fatal("a stale entry was answered as fresh")
	}
	c.set("b", "v2")
	if got := c.fill("b", stale, "read-before-v2"); got != "v2" {
		t.Fatalf("fill over a stale entry a write replaced: %q", got)
	}

	_, _, stale = c.cached("b")
	c.forget("b")
	if got := c.fill("b", stale, "read-before-forget"); got != "read-before-forget" {
		t.Fatalf("fill answered %q", got)
	}
	if _, found := c.m.Load("b"); found {
		t.Fatal("a value read before a forget was kept")
	}

	c.ttl = time.Hour
	_, _, stale = c.cached("b")
	if got := c.fill("b", stale, "fresh"); got != "fresh" {
		t.Fatalf("plain fill: %q", got)
	}
	if v, ok, _ := c.cached("b"); !ok || v != "fresh" {
		t.Fatalf("cached after fill: %q %v", v, ok)
	}
}

// TestWebsiteCacheKeepsOnlyBuckets: names of buckets that do not exist,
// which anonymous clients choose freely, are never kept.
func TestWebsiteCacheKeepsOnlyBuckets(t *testing.T) {
	a := newWebsiteHarness(t, time.Hour)
	for _, name := range []string{"/nothere1/", "/nothere2/k", "/nothere3/"} {
		a.do("GET", name, nil, "X-Test-As", "anon")
		a.do("GET", name, nil)
	}
	a.h.website.m.Range(func(k, _ any) bool {
		t.Errorf("kept an entry for %v", k)
		return true
	})
}
