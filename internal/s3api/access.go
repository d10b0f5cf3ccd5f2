package s3api

import (
	"context"
	"errors"
	"net"
	"strings"

	"mirrorstore/internal/auth"
	"mirrorstore/internal/store"
)

// authorize decides whether the authenticated caller may run req.op on
// req.bucket. The root credential may do everything; another credential
// reaches the buckets it owns, and others' buckets where their policy
// grants it the operation; an anonymous caller is judged by allowAnonymous.
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
	return h.canAccessBucket(ctx, req, req.bucket, req.op, req.key)
}

// canAccessBucket reports (as an error) whether a signed caller may run op
// on key in bucket: root always, the bucket's owner always, another
// credential where the bucket policy grants its access key the action op
// needs. Copies ask for "GetObject" on their source.
func (h *Handler) canAccessBucket(ctx context.Context, req *request, bucket, op, key string) error {
	if h.isRoot(req) {
		return nil
	}
	info, err := h.backend.HeadBucket(ctx, bucket)
	if err != nil {
		return err
	}
	if info.Owner == req.id.Credential.AccessKey {
		return nil
	}
	if action := policyAction(op); action != "" {
		a, err := h.acl.lookup(ctx, h.backend, bucket)
		if err != nil {
			return err
		}
		if a.policy.Allows(req.id.Credential.AccessKey, action, key) {
			return nil
		}
	}
	return errCode("AccessDenied")
}

// policyAction names the policy action an operation needs, or "" when no
// policy can grant it (it stays the owner's).
func policyAction(op string) string {
	switch op {
	case "GetObject", "HeadObject":
		return auth.ActionGetObject
	case "ListObjects", "ListObjectsV2":
		return auth.ActionListBucket
	}
	return ""
}

// isRoot reports whether the request was signed by the root credential.
func (h *Handler) isRoot(req *request) bool {
	if req.id == nil || req.id.Anonymous {
		return false
	}
	return h.keys == nil || h.keys.IsRoot(req.id.Credential.AccessKey)
}

// allowAnonymous is the one decision about unsigned requests: they may read
// objects (GET, HEAD) of a bucket whose canned ACL is public-read or whose
// policy grants s3:GetObject on the key to "*", and list a bucket whose
// policy grants s3:ListBucket to "*"; a policy Deny overrides the ACL.
// Whether the key exists is not its concern: a miss on a public bucket goes
// on to 404 NoSuchKey (and to the bucket's routing rules), as OSS answers.
func (h *Handler) allowAnonymous(ctx context.Context, req *request) error {
	action := policyAction(req.op)
	if action == "" {
		return errCode("AccessDenied")
	}
	a, err := h.acl.lookup(ctx, h.backend, req.bucket)
	if err != nil {
		return err
	}
	switch a.policy.Decide("", action, req.key) {
	case 1:
		return nil
	case 0:
		if action == auth.ActionGetObject && a.public {
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

// Names of the configuration blobs holding the canned ACL and the bucket
// policy (the JSON document as it was put).
const (
	aclConfig    = "acl"
	policyConfig = "policy"
)

// aclCache keeps what access decisions need about each bucket in memory
// (whether it exists, its public-read flag, its compiled policy) so an
// anonymous GET costs one metadata lookup (the object's), not three. Writes
// through this handler forget the entry; the TTL bounds staleness when
// other nodes share the backend.
type aclCache struct {
	bucketCache[*aclEntry]
}

// aclEntry is one bucket's cached access facts; never modified once stored.
type aclEntry struct {
	exists bool
	public bool
	policy *auth.Policy // nil when the bucket has none
}

// lookup returns bucket's access facts. A bucket that does not exist is
// neither public nor has a policy. A stored policy that no longer compiles
// (it was validated when put) grants nothing.
func (c *aclCache) lookup(ctx context.Context, b store.Backend, bucket string) (*aclEntry, error) {
	e, ok, stale := c.cached(bucket)
	if ok {
		return e, nil
	}
	e = &aclEntry{exists: true}
	data, err := b.GetBucketConfig(ctx, bucket, aclConfig)
	switch {
	case err == nil:
		e.public = string(data) == aclPublicRead
	case errors.Is(err, store.ErrNoSuchBucket):
		e.exists = false
	case errors.Is(err, store.ErrNoSuchConfig):
	default:
		return nil, err
	}
	if e.exists {
		data, err = b.GetBucketConfig(ctx, bucket, policyConfig)
		switch {
		case err == nil:
			e.policy, _ = auth.ParsePolicy(bucket, data)
		case errors.Is(err, store.ErrNoSuchBucket):
			e.exists = false
		case errors.Is(err, store.ErrNoSuchConfig):
		default:
			return nil, err
		}
	}
	// Only buckets that exist are kept: Host headers and anonymous paths
	// name whatever a client likes, and must not grow the map.
	if !e.exists {
		return e, nil
	}
	return c.fill(bucket, stale, e), nil
}

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
	if looksNumeric(name) && net.ParseIP(name) != nil {
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

// looksNumeric reports whether name holds only digits and periods, the only
// bucket names that can parse as an IP address; the others skip the parse,
// which allocates, on every request.
func looksNumeric(name string) bool {
	for i := 0; i < len(name); i++ {
		if c := name[i]; c != '.' && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
