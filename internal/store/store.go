// Package store defines the storage contract every mirrorstore backend
// implements: buckets, objects, listings, multipart uploads and per-bucket
// configuration blobs. It knows nothing of HTTP; s3api maps its errors to S3
// codes in one table.
//
// Two backends implement it: store/local (Pebble + data files, the embedded
// default) and store/s3backend (an existing S3-compatible cluster). The
// conformance suite in store/storetest runs against both.
package store

import (
	"context"
	"errors"
	"io"
	"time"
)

// Sentinel errors. Backends wrap them with context
// (fmt.Errorf("put %s/%s: %w", bucket, key, ErrNoSuchBucket)); callers test
// with errors.Is.
var (
	ErrNoSuchBucket            = errors.New("no such bucket")
	ErrBucketAlreadyExists     = errors.New("bucket already exists and is owned by another credential")
	ErrBucketAlreadyOwnedByYou = errors.New("bucket already exists and is owned by you")
	ErrBucketNotEmpty          = errors.New("bucket is not empty")
	ErrNoSuchKey               = errors.New("no such key")
	ErrNoSuchConfig            = errors.New("no such bucket configuration")
	ErrPreconditionFailed      = errors.New("precondition failed")
	ErrBadDigest               = errors.New("body MD5 does not match Content-MD5")
	ErrIncompleteBody          = errors.New("body shorter or longer than its declared size")
	ErrInvalidRange            = errors.New("range not satisfiable")
	ErrNoSuchUpload            = errors.New("no such multipart upload")
	ErrInvalidPart             = errors.New("invalid part")
	ErrInvalidPartOrder        = errors.New("parts not in ascending order")
	ErrEntityTooSmall          = errors.New("part smaller than the 5 MiB minimum")
	ErrInvalidPartNumber       = errors.New("invalid part number")
	ErrUnavailable             = errors.New("storage unavailable")
)

// MinPartSize is the smallest size of a multipart part other than the last.
const MinPartSize = 5 << 20

// BucketInfo describes one bucket.
type BucketInfo struct {
	Name    string
	Created time.Time
	// Owner is the access key of the credential that created the bucket.
	Owner string
}

// ObjectAttrs are the headers and metadata stored with an object and returned
// on every GET and HEAD of it.
type ObjectAttrs struct {
	ContentType              string
	ContentEncoding          string
	ContentDisposition       string
	ContentLanguage          string
	CacheControl             string
	Expires                  string
	AccessControlAllowOrigin string
	// UserMeta holds x-amz-meta-* values keyed by the lower-case name
	// without the prefix.
	UserMeta map[string]string
	// Tags are the object's tags (x-amz-tagging).
	Tags map[string]string
	// MirrorOrigin is the origin URL an object was mirrored from; non-empty
	// only for objects written by a mirror fill (served as x-oss-tag).
	MirrorOrigin string
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Bucket string
	Key    string
	Size   int64
	// ETag is the quoted-free hex MD5 for single writes, or
	// "<hex md5 of concatenated part md5s>-N" for multipart objects.
	ETag         string
	LastModified time.Time
	// PartsCount is the number of parts of a multipart object, 0 otherwise.
	PartsCount int
	Attrs      ObjectAttrs
}

// Range is one HTTP byte range as a client sent it. Exactly one of the two
// forms is used: First with Last (-1 meaning "to the end"), or Suffix > 0
// meaning the last Suffix bytes.
type Range struct {
	First, Last int64
	Suffix      int64
}

// Resolve turns r into an offset and length within an object of the given
// size. It returns ErrInvalidRange when the range does not overlap the object.
func (r Range) Resolve(size int64) (offset, length int64, err error) {
	if r.Suffix > 0 {
		if size == 0 {
			return 0, 0, ErrInvalidRange
		}
		if r.Suffix > size {
			return 0, size, nil
		}
		return size - r.Suffix, r.Suffix, nil
	}
	if r.First < 0 || r.First >= size || (r.Last >= 0 && r.Last < r.First) {
		return 0, 0, ErrInvalidRange
	}
	last := r.Last
	if last < 0 || last >= size {
		last = size - 1
	}
	return r.First, last - r.First + 1, nil
}

// Conditions make a write conditional on the current state of the key.
// The check and the commit happen atomically with respect to other writes of
// the same key.
type Conditions struct {
	// IfNoneMatchStar fails the write with ErrPreconditionFailed when the key
	// exists.
	IfNoneMatchStar bool
	// IfMatch, when set, fails the write with ErrPreconditionFailed unless the
	// key exists with this ETag (unquoted).
	IfMatch string
}

// PutOptions go with a PutObject.
type PutOptions struct {
	Attrs ObjectAttrs
	// Size is the body's exact length, or -1 when unknown. A body that ends
	// at another length fails with ErrIncompleteBody and stores nothing.
	Size int64
	// ContentMD5, when non-nil, is the 16-byte MD5 the body must have
	// (ErrBadDigest otherwise, nothing stored).
	ContentMD5 []byte
	// LastModified overrides the modification time (zero means now).
	LastModified time.Time
	Conditions   Conditions
}

// GetOptions select what part of an object GetObject returns.
type GetOptions struct {
	// Range, when non-nil, selects a byte range (ErrInvalidRange when it
	// does not overlap the object).
	Range *Range
	// PartNumber, when > 0, selects one part of a multipart object (part 1
	// of a single-part object is the whole object); ErrInvalidPartNumber when
	// out of range.
	PartNumber int
}

// Object is an open object returned by GetObject. The caller must Close Body.
type Object struct {
	Info ObjectInfo
	// Offset and Length give the byte span Body yields within the object.
	Offset, Length int64
	Body           io.ReadCloser
}

// ListOptions select a page of a listing.
type ListOptions struct {
	Prefix    string
	Delimiter string
	// After is exclusive: only keys (and common prefixes) sorting strictly
	// after it are listed. It is the v1 marker, the v2 start-after, or the
	// v2 continuation point.
	After string
	// MaxKeys bounds Objects plus CommonPrefixes (1..1000; 0 means 1000).
	MaxKeys int
}

// ListResult is one page of a listing, in byte-wise key order.
type ListResult struct {
	Objects        []ObjectInfo
	CommonPrefixes []string
	IsTruncated    bool
	// NextAfter is the last key or common prefix returned, to be passed as
	// After for the next page; set whenever IsTruncated is true.
	NextAfter string
}

// UploadInfo describes a multipart upload in progress.
type UploadInfo struct {
	Bucket    string
	Key       string
	UploadID  string
	Initiated time.Time
	Attrs     ObjectAttrs
}

// PartInfo describes one uploaded part.
type PartInfo struct {
	PartNumber   int
	Size         int64
	ETag         string // hex MD5 of the part, unquoted
	LastModified time.Time
}

// CompletePart names a part in CompleteMultipartUpload.
type CompletePart struct {
	PartNumber int
	ETag       string // unquoted
}

// ListUploadsOptions select a page of ListMultipartUploads.
type ListUploadsOptions struct {
	Prefix         string
	Delimiter      string
	KeyMarker      string
	UploadIDMarker string
	MaxUploads     int // 0 means 1000
}

// ListUploadsResult is one page of ListMultipartUploads, ordered by key and
// then by initiation.
type ListUploadsResult struct {
	Uploads            []UploadInfo
	CommonPrefixes     []string
	IsTruncated        bool
	NextKeyMarker      string
	NextUploadIDMarker string
}

// ListPartsResult is one page of ListParts.
type ListPartsResult struct {
	Upload               UploadInfo
	Parts                []PartInfo
	IsTruncated          bool
	NextPartNumberMarker int
}

// Backend is the storage contract. Every method takes a context first;
// cancelling it stops the work and removes anything staged.
//
// Atomicity: a write MUST become visible whole or not at all. A reader sees
// the old object or the new one, never a mix. A write that returned nil MUST
// survive a process kill and a power loss. A write whose body reader returns
// an error other than io.EOF MUST store nothing and return that error
// (wrapped), so verifying readers (signatures, checksums) can veto a write by
// failing their last Read.
type Backend interface {
	// CreateBucket creates a bucket owned by owner. ErrBucketAlreadyOwnedByYou
	// when owner already has it, ErrBucketAlreadyExists when another does.
	CreateBucket(ctx context.Context, bucket, owner string) error
	// HeadBucket returns the bucket's info, ErrNoSuchBucket when absent.
	HeadBucket(ctx context.Context, bucket string) (BucketInfo, error)
	// ListBuckets lists every bucket in name order.
	ListBuckets(ctx context.Context) ([]BucketInfo, error)
	// DeleteBucket removes an empty bucket with its configuration
	// (ErrBucketNotEmpty when it holds objects or multipart uploads).
	DeleteBucket(ctx context.Context, bucket string) error

	// PutBucketConfig stores a configuration blob by name ("website",
	// "policy", "acl"…) for the bucket; a nil data deletes it.
	PutBucketConfig(ctx context.Context, bucket, name string, data []byte) error
	// GetBucketConfig returns the blob, ErrNoSuchConfig when none is stored.
	GetBucketConfig(ctx context.Context, bucket, name string) ([]byte, error)

	// PutObject stores body under key, atomically replacing any previous
	// object (subject to opts.Conditions).
	PutObject(ctx context.Context, bucket, key string, body io.Reader, opts PutOptions) (ObjectInfo, error)
	// GetObject opens an object for reading; ErrNoSuchKey when absent.
	GetObject(ctx context.Context, bucket, key string, opts GetOptions) (*Object, error)
	// HeadObject returns an object's info; ErrNoSuchKey when absent.
	HeadObject(ctx context.Context, bucket, key string) (ObjectInfo, error)
	// DeleteObject removes an object; deleting an absent key is not an
	// error (as in S3), but an absent bucket is ErrNoSuchBucket.
	DeleteObject(ctx context.Context, bucket, key string) error
	// SetObjectTags replaces an object's tags without rewriting its bytes.
	SetObjectTags(ctx context.Context, bucket, key string, tags map[string]string) error
	// ListObjects lists one page of keys in byte-wise order.
	ListObjects(ctx context.Context, bucket string, opts ListOptions) (ListResult, error)

	// CreateMultipartUpload starts an upload whose object will carry attrs.
	CreateMultipartUpload(ctx context.Context, bucket, key string, attrs ObjectAttrs) (uploadID string, err error)
	// UploadPart stores one part (1..10000), replacing an earlier upload of
	// the same number. size is exact or -1; contentMD5 as in PutOptions.
	UploadPart(ctx context.Context, bucket, key, uploadID string, partNumber int, body io.Reader, size int64, contentMD5 []byte) (PartInfo, error)
	// CompleteMultipartUpload assembles the named parts into the object
	// without copying their bytes, atomically and subject to cond.
	// ErrInvalidPart for an unknown part or ETag mismatch,
	// ErrInvalidPartOrder, ErrEntityTooSmall for a part but the last under
	// MinPartSize. The upload is gone afterwards; unnamed parts are freed.
	CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []CompletePart, cond Conditions) (ObjectInfo, error)
	// AbortMultipartUpload removes an upload and frees its parts.
	AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error
	// ListParts lists the parts of an upload after partNumberMarker.
	ListParts(ctx context.Context, bucket, key, uploadID string, partNumberMarker, maxParts int) (ListPartsResult, error)
	// ListMultipartUploads lists uploads in progress.
	ListMultipartUploads(ctx context.Context, bucket string, opts ListUploadsOptions) (ListUploadsResult, error)

	// Ready reports whether the backend is open and writable.
	Ready(ctx context.Context) error
	// Close releases everything the backend holds.
	Close() error
}

// Usage is implemented by backends that keep each bucket's object and byte
// counts exactly, so reading them is cheap (no listing). BucketUsage
// returns them as of the last committed write, ErrNoSuchBucket when the
// bucket does not exist. The counts MUST move in the same commit as the
// write that changes them, so they survive a restart and a crash.
type Usage interface {
	BucketUsage(ctx context.Context, bucket string) (objects, bytes int64, err error)
}

// FileAdopter is implemented by backends that can take a finished file as an
// object's bytes without copying them (the embedded engine renames it into
// place). A mirror fill uses it to commit its staging file.
type FileAdopter interface {
	// AdoptDir is the folder a caller creates adoptable files in: it is on
	// the backend's own filesystem, and the backend may empty it of
	// leftovers when it opens.
	AdoptDir() string
	// AdoptFile commits the file at path, which MUST be in AdoptDir, no longer
	// written and already fsynced by the caller, as key's bytes. size
	// and md5 are the file's length and MD5 as the caller computed them
	// while writing it (the backend does not read the file again); they
	// become the object's size and ETag. opts.Size and opts.ContentMD5 are
	// not used; opts.Conditions are checked under the key's lock at commit
	// time, as in PutObject. On success the file belongs to the backend and
	// path no longer names it; descriptors already open on it stay
	// readable. On error the caller still owns whatever remains at path.
	AdoptFile(ctx context.Context, bucket, key, path string, size int64, md5 []byte, opts PutOptions) (ObjectInfo, error)
}
