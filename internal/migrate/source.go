package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"os"
	"path"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Object is one object a Source lists.
type Object struct {
	Key string
	// Size is the object's length in bytes, -1 when the listing does not
	// give it (an HTTP key list).
	Size int64
	// ETag is the source's ETag without quotes, "" when unknown. A plain
	// MD5 (32 hex digits) is compared with the bucket's; others are not.
	ETag string
}

// Content is an opened source object. The caller must Close Body.
type Content struct {
	Body io.ReadCloser
	// Size is the announced length, -1 when unknown.
	Size int64
	// ETag is the source's ETag or MD5 (hex, no quotes), "" when unknown.
	ETag string
	// Header holds the content headers kept (SPEC §7 "Headers kept"),
	// canonical names.
	Header map[string]string
	// Meta is user metadata, lower-case names without their prefix.
	Meta map[string]string
}

// Source is where objects come from. Implementations are safe for
// concurrent use by Run's workers.
type Source interface {
	// String names the source for summaries and the state file.
	String() string
	// List calls fn for every object, in any order, stopping at fn's
	// first error, which List returns.
	List(ctx context.Context, fn func(Object) error) error
	// Open starts reading obj. A *RetryableError means a later attempt may
	// succeed (5xx, SlowDown, network); other errors are final.
	Open(ctx context.Context, obj Object) (*Content, error)
}

// RetryableError marks a failure that may pass on a later attempt.
type RetryableError struct{ Err error }

func (e *RetryableError) Error() string { return e.Err.Error() }
func (e *RetryableError) Unwrap() error { return e.Err }

func retryable(err error) error { return &RetryableError{Err: err} }

// FolderSource lists the regular files under a local folder; a file's key
// is its path relative to the folder with '/' separators.
type FolderSource struct {
	dir string
}

// NewFolderSource returns the source for the folder dir, which must exist.
func NewFolderSource(dir string) (*FolderSource, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a folder", dir)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	return &FolderSource{dir: abs}, nil
}

func (s *FolderSource) String() string { return s.dir }

// List walks the folder. Symbolic links, devices and other non-regular
// files are not objects and are passed over, as rclone does by default.
func (s *FolderSource) List(ctx context.Context, fn func(Object) error) error {
	return filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(s.dir, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !utf8.ValidString(key) {
			return fmt.Errorf("%q: file name is not UTF-8, so it cannot be an S3 key", p)
		}
		return fn(Object{Key: key, Size: info.Size()})
	})
}

// Open opens the file of obj. Its Content-Type comes from the file
// extension, since a folder has no headers.
func (s *FolderSource) Open(_ context.Context, obj Object) (*Content, error) {
	f, err := os.Open(filepath.Join(s.dir, filepath.FromSlash(obj.Key)))
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	c := &Content{Body: f, Size: fi.Size(), Header: map[string]string{}}
	if ct := mime.TypeByExtension(path.Ext(obj.Key)); ct != "" {
		c.Header["Content-Type"] = ct
	}
	return c, nil
}

// isMD5 reports whether etag is a plain MD5 in hex, as a single-part
// upload's ETag is.
func isMD5(etag string) bool {
	if len(etag) != 32 {
		return false
	}
	for _, c := range etag {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

func trimETag(s string) string {
	s = strings.TrimPrefix(strings.TrimSpace(s), "W/")
	return strings.Trim(s, `"`)
}

// errNotFound is a source object that vanished after the listing.
var errNotFound = errors.New("not found at the source")
