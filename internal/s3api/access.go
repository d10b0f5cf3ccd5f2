package s3api

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"time"

	"mirrorstore/internal/store"
)

// authorize decides whether the authenticated caller may run req.op on
// req.bucket. The root credential may do everything; another credential
// reaches only the buckets it owns (bucket policy will widen that); an
// anonymous caller is judged by allowAnonymous.
func (h *Handler) authorize(ctx context.Context, req *request) error {
	if req.id.Anonymous {
		return h.allowAnonymous(ctx, req)
	}
	switch req.op {
	case "ListBuckets", "CreateBucket":
		// ListBuckets shows a non-root caller only its own buckets;
		// CreateBucket makes the caller the owner.
		return nil
	}
	return h.canAccessBucket(ctx, req, req.bucket)
}

// canAccessBucket reports (as an error) whether a signed caller may use
// bucket: root always, another credential when it owns the bucket.
func (h *Handler) canAccessBucket(ctx context.Context, req *request, bucket string) error {
	if h.isRoot(req) {
		return nil
	}
	info, err := h.backend.HeadBucket(ctx, bucket)
	if err != nil {
		return err
	}
	if info.Owner != req.id.Credential.AccessKey {
		return errCode("AccessDenied")
	}
	return nil
}

// isRoot reports whether the request was signed by the root credential.
func (h *Handler) isRoot(req *request) bool {
	if req.id == nil || req.id.Anonymous {
		return false
	}
	return h.keys == nil || h.keys.IsRoot(req.id.Credential.AccessKey)
}

// allowAnonymous is the one decision about unsigned requests: they may only
// read objects (GET, HEAD) of a bucket whose canned ACL is public-read.
// Bucket policy grants will be added here. Whether the key exists is not
// its concern: a miss on a public bucket goes on to 404 NoSuchKey (and to
// the bucket's routing rules), as OSS answers.
func (h *Handler) allowAnonymous(ctx context.Context, req *request) error {
	switch req.op {
	case "GetObject", "HeadObject":
		public, err := h.acl.isPublic(ctx, h.backend, req.bucket)
		if err != nil {
			return err
		}
		if public {
			return nil
		}
	}
	return errCode("AccessDenied")
}

// Canned ACLs this server supports, stored verbatim as the bucket's "acl"
// configuration blob. No blob means private.
const (
	aclPrivate    = "private"
	aclPublicRead = "public-read"
)

// aclConfig is the name of the configuration blob holding the canned ACL.
const aclConfig = "acl"

// aclCache keeps each bucket's public-read flag in memory so an anonymous
// GET costs one metadata lookup (the object's), not two. Writes through this
// handler forget the entry; the TTL bounds staleness when other nodes share
// the backend.
type aclCache struct {
	ttl time.Duration
	m   sync.Map // bucket name → *aclEntry
}

type aclEntry struct {
	public  bool
	expires time.Time
}

// isPublic reports whether bucket's ACL is public-read. A bucket that does
// not exist is not public.
func (c *aclCache) isPublic(ctx context.Context, b store.Backend, bucket string) (bool, error) {
	now := time.Now()
	if v, ok := c.m.Load(bucket); ok {
		if e := v.(*aclEntry); now.Before(e.expires) {
			return e.public, nil
		}
	}
	data, err := b.GetBucketConfig(ctx, bucket, aclConfig)
	public := false
	switch {
	case err == nil:
		public = string(data) == aclPublicRead
	case errors.Is(err, store.ErrNoSuchConfig), errors.Is(err, store.ErrNoSuchBucket):
	default:
		return false, err
	}
	c.m.Store(bucket, &aclEntry{public: public, expires: now.Add(c.ttl)})
	return public, nil
}

// forget drops bucket's cached ACL after it changed here.
func (c *aclCache) forget(bucket string) { c.m.Delete(bucket) }

// validBucketName applies S3's bucket naming rules: 3 to 63 characters of
// lowercase letters, digits, '-' and '.', starting and ending with a letter
// or digit, no two adjacent periods, not an IPv4 address, and none of the
// prefixes and suffixes S3 reserves.
func validBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' || c == '.':
			if i == 0 || i == len(name)-1 {
				return false
			}
		default:
			return false
		}
	}
	if strings.Contains(name, "..") || strings.Contains(name, ".-") || strings.Contains(name, "-.") {
		return false
	}
	if ip := net.ParseIP(name); ip != nil {
		return false
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, s) {
			return false
		}
	}
	return true
}
