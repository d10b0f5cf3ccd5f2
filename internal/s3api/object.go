package s3api

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"mirrorstore/internal/store"
)

// Limits S3 sets on a single PUT.
const (
	maxPutSize      = 5 << 30 // EntityTooLarge past it
	maxUserMetaSize = 2 << 10 // MetadataTooLarge past it
)

func (h *Handler) putObject(w http.ResponseWriter, r *http.Request, req *request) error {
	if err := checkVersionID(req.query); err != nil {
		return err
	}
	attrs, err := attrsFromHeaders(r.Header)
	if err != nil {
		return err
	}
	cond, err := writeConditions(r.Header)
	if err != nil {
		return err
	}
	md5sum, err := contentMD5(r.Header)
	if err != nil {
		return err
	}
	size := req.id.ContentLength
	if size < 0 {
		return errCode("MissingContentLength")
	}
	if size > maxPutSize {
		return errorf("EntityTooLarge", "Your proposed upload of %d bytes exceeds the maximum of %d bytes for a single PUT; use a multipart upload.", size, int64(maxPutSize))
	}
	info, err := h.backend.PutObject(r.Context(), req.bucket, req.key, r.Body, store.PutOptions{
		Attrs:      attrs,
		Size:       size,
		ContentMD5: md5sum,
		Conditions: cond,
	})
	if err != nil {
		return err
	}
	w.Header().Set("ETag", quoteETag(info.ETag))
	w.WriteHeader(http.StatusOK)
	return nil
}

func (h *Handler) getObject(w http.ResponseWriter, r *http.Request, req *request) error {
	return h.readObject(w, r, req, true)
}

func (h *Handler) headObject(w http.ResponseWriter, r *http.Request, req *request) error {
	return h.readObject(w, r, req, false)
}

// readObject serves GetObject (withBody) and HeadObject: one metadata
// lookup, the conditional headers, the range or part, the stored headers
// with any response-* overrides, then the bytes.
//
// What is looked up and served is routeRead's decision (website.go): the
// bucket's routing rules may redirect or mirror instead, and for anonymous
// readers a miss may serve an index or error document.
func (h *Handler) readObject(w http.ResponseWriter, r *http.Request, req *request, withBody bool) error {
	if err := checkVersionID(req.query); err != nil {
		return err
	}
	overrides, err := responseOverrides(req)
	if err != nil {
		return err
	}
	opts, ranged, err := readOptions(r, req.query)
	if err != nil {
		return err
	}

	// forced is 0 for the normal answer, or the status of an error
	// document served whole in place of a 404.
	obj, forced, err := h.routeRead(w, r, req, opts, withBody)
	if err != nil || obj == nil {
		return err
	}
	if obj.Body != nil {
		defer obj.Body.Close()
	}
	info := &obj.Info

	hdr := w.Header()
	if forced == 0 {
		if status := evalReadConditions(r.Header, info); status != 0 {
			if status == http.StatusPreconditionFailed {
				return errCode("PreconditionFailed")
			}
			hdr["ETag"] = []string{quoteETag(info.ETag)}
			hdr["Last-Modified"] = []string{httpTime(info.LastModified)}
			w.WriteHeader(http.StatusNotModified)
			return nil
		}
	}

	setObjectHeaders(hdr, info)
	for _, o := range overrides {
		hdr[o.header] = []string{o.value}
	}
	hdr["Content-Length"] = []string{strconv.FormatInt(obj.Length, 10)}
	status := http.StatusOK
	switch {
	case forced != 0:
		status = forced
	case ranged || (opts.PartNumber > 0 && info.PartsCount > 0):
		status = http.StatusPartialContent
		hdr["Content-Range"] = []string{contentRange(obj.Offset, obj.Length, info.Size)}
	}
	if forced == 0 && opts.PartNumber > 0 && info.PartsCount > 0 {
		hdr["X-Amz-Mp-Parts-Count"] = []string{strconv.Itoa(info.PartsCount)}
	}
	w.WriteHeader(status)
	if !withBody || obj.Length == 0 {
		return nil
	}
	// store/local's file bodies implement io.WriterTo through an
	// io.LimitedReader over the file, which the responseWriter's ReadFrom
	// passes to net/http: sendfile on plain TCP.
	_, err = io.Copy(w, obj.Body)
	return err
}

// lookupObject is a read's one metadata lookup of key: the object opened
// for reading (GET, or any partNumber read), or its info with the range
// resolved (HEAD, Body nil). The caller closes a non-nil Body.
func (h *Handler) lookupObject(ctx context.Context, bucket, key string, opts store.GetOptions, withBody bool) (*store.Object, error) {
	if withBody || opts.PartNumber > 0 {
		obj, err := h.backend.GetObject(ctx, bucket, key, opts)
		if errors.Is(err, store.ErrInvalidRange) {
			return nil, h.invalidRange(ctx, bucket, key)
		}
		return obj, err
	}
	info, err := h.backend.HeadObject(ctx, bucket, key)
	if err != nil {
		return nil, err
	}
	obj := &store.Object{Info: info, Length: info.Size}
	if opts.Range != nil {
		off, n, err := opts.Range.Resolve(info.Size)
		if err != nil {
			return nil, invalidRangeError(info.Size)
		}
		obj.Offset, obj.Length = off, n
	}
	return obj, nil
}

// invalidRange answers a range that does not overlap the object, with the
// object's size in Content-Range as S3 sends it.
func (h *Handler) invalidRange(ctx context.Context, bucket, key string) error {
	info, err := h.backend.HeadObject(ctx, bucket, key)
	if err != nil {
		return err
	}
	return invalidRangeError(info.Size)
}

func invalidRangeError(size int64) error {
	e := errCode("InvalidRange")
	e.Header = http.Header{"Content-Range": {"bytes */" + strconv.FormatInt(size, 10)}}
	return e
}

func contentRange(off, n, size int64) string {
	last := off + n - 1
	if n == 0 {
		last = off
	}
	return "bytes " + strconv.FormatInt(off, 10) + "-" + strconv.FormatInt(last, 10) + "/" + strconv.FormatInt(size, 10)
}

// readOptions parses Range and partNumber. ranged reports whether a single
// satisfiable-looking Range applies (answered 206).
func readOptions(r *http.Request, query url.Values) (opts store.GetOptions, ranged bool, err error) {
	if pn := query.Get("partNumber"); pn != "" {
		n, err := strconv.Atoi(pn)
		if err != nil || n < 1 || n > 10000 {
			return opts, false, errorf("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive.")
		}
		if r.Header.Get("Range") != "" {
			return opts, false, errorf("InvalidRequest", "Cannot specify both Range header and partNumber query parameter.")
		}
		opts.PartNumber = n
		return opts, false, nil
	}
	if v := r.Header.Get("Range"); v != "" {
		rg, ok, err := parseRange(v)
		if err != nil {
			return opts, false, err
		}
		if ok {
			opts.Range = &rg
			ranged = true
		}
	}
	return opts, ranged, nil
}

// parseRange parses one Range header value. As S3 does, a value that is not
// a single byte range (malformed, another unit, or several ranges) is
// ignored and the whole object served; ok is false then. A suffix of zero
// bytes can never be satisfied and is InvalidRange.
func parseRange(v string) (rg store.Range, ok bool, err error) {
	spec, found := strings.CutPrefix(v, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return rg, false, nil
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return rg, false, nil
	}
	if first == "" {
		n, ok := parseOffset(last)
		if !ok {
			return rg, false, nil
		}
		if n == 0 {
			e := errCode("InvalidRange")
			return rg, false, e
		}
		return store.Range{Suffix: n}, true, nil
	}
	f, ok := parseOffset(first)
	if !ok {
		return rg, false, nil
	}
	l := int64(-1)
	if last != "" {
		if l, ok = parseOffset(last); !ok || l < f {
			return rg, false, nil
		}
	}
	return store.Range{First: f, Last: l}, true, nil
}

// parseOffset parses a byte offset as RFC 9110 writes it: decimal digits
// only. strconv.ParseInt alone would also take a sign, so "bytes=+0-9" or
// "bytes=-+5" would pass for ranges no S3 client sends.
func parseOffset(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// override is one response-* query parameter turned into a header.
type override struct{ header, value string }

var overrideParams = [...]override{
	{"Content-Type", "response-content-type"},
	{"Content-Language", "response-content-language"},
	{"Expires", "response-expires"},
	{"Cache-Control", "response-cache-control"},
	{"Content-Disposition", "response-content-disposition"},
	{"Content-Encoding", "response-content-encoding"},
}

// responseOverrides collects the response-* parameters of a GET. S3 honours
// them on signed requests only and refuses them on anonymous ones.
func responseOverrides(req *request) ([]override, error) {
	if req.query == nil {
		return nil, nil
	}
	var out []override
	for _, p := range overrideParams {
		v, ok := req.query[p.value]
		if !ok {
			continue
		}
		if req.id.Anonymous {
			return nil, errorf("InvalidRequest", "Request specific response headers cannot be used for anonymous GET requests.")
		}
		out = append(out, override{header: p.header, value: v[0]})
	}
	return out, nil
}

// checkVersionID refuses a versionId other than "null": buckets here are
// never versioned, so any other id names nothing.
func checkVersionID(query url.Values) error {
	if v, ok := query["versionId"]; ok && v[0] != "null" {
		return errorf("InvalidArgument", "Invalid version id specified: buckets on this server are not versioned.")
	}
	return nil
}

func (h *Handler) deleteObject(w http.ResponseWriter, r *http.Request, req *request) error {
	if err := checkVersionID(req.query); err != nil {
		return err
	}
	if err := h.backend.DeleteObject(r.Context(), req.bucket, req.key); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// contentMD5 decodes Content-MD5; a value that is not base64 of 16 bytes
// is InvalidDigest.
func contentMD5(hdr http.Header) ([]byte, error) {
	v, ok := hdr["Content-Md5"]
	if !ok {
		return nil, nil
	}
	sum, err := base64.StdEncoding.DecodeString(v[0])
	if err != nil || len(sum) != md5.Size {
		return nil, errorf("InvalidDigest", "The Content-MD5 you specified is not valid: it must be the base64 encoding of a 16-byte MD5 digest.")
	}
	return sum, nil
}

// writeConditions reads If-None-Match and If-Match of a write. S3 supports
// only "*" for If-None-Match and an ETag for If-Match on writes.
func writeConditions(hdr http.Header) (store.Conditions, error) {
	var c store.Conditions
	if v := hdr.Get("If-None-Match"); v != "" {
		if strings.TrimSpace(v) != "*" {
			return c, errorf("NotImplemented", "If-None-Match on a write supports only '*'.")
		}
		c.IfNoneMatchStar = true
	}
	if v := hdr.Get("If-Match"); v != "" {
		etag := trimETag(v)
		if etag == "*" || etag == "" {
			return c, errorf("NotImplemented", "If-Match on a write needs one ETag.")
		}
		c.IfMatch = etag
	}
	return c, nil
}

// attrsFromHeaders collects the stored headers, user metadata and tags of
// a PutObject (or a CopyObject with REPLACE), refusing the features this
// server does not provide instead of ignoring them.
func attrsFromHeaders(hdr http.Header) (store.ObjectAttrs, error) {
	var a store.ObjectAttrs
	for _, name := range []string{
		"X-Amz-Server-Side-Encryption", "X-Amz-Server-Side-Encryption-Customer-Algorithm",
		"X-Amz-Object-Lock-Mode", "X-Amz-Object-Lock-Legal-Hold", "X-Amz-Website-Redirect-Location",
	} {
		if hdr.Get(name) != "" {
			return a, errorf("NotImplemented", "The %s header is not supported by this server.", name)
		}
	}
	if acl := hdr.Get("X-Amz-Acl"); acl != "" && acl != aclPrivate && acl != "bucket-owner-full-control" {
		return a, errorf("NotImplemented", "Object ACLs are not supported; make the bucket public-read instead.")
	}
	if sc := hdr.Get("X-Amz-Storage-Class"); sc != "" && sc != "STANDARD" {
		return a, errorf("InvalidStorageClass", "The storage class %q is not supported; this server stores everything as STANDARD.", sc)
	}
	a.ContentType = hdr.Get("Content-Type")
	if a.ContentType == "" {
		a.ContentType = "binary/octet-stream"
	}
	a.ContentEncoding = hdr.Get("Content-Encoding")
	a.ContentDisposition = hdr.Get("Content-Disposition")
	a.ContentLanguage = hdr.Get("Content-Language")
	a.CacheControl = hdr.Get("Cache-Control")
	a.Expires = hdr.Get("Expires")
	meta, err := userMeta(hdr)
	if err != nil {
		return a, err
	}
	a.UserMeta = meta
	if v := hdr.Get("X-Amz-Tagging"); v != "" {
		if a.Tags, err = parseTagging(v); err != nil {
			return a, err
		}
	}
	return a, nil
}

// userMeta collects x-amz-meta-* headers, keyed by the lower-case name
// without the prefix. Their size (names without the prefix plus values) is
// limited to 2 KiB, as S3 limits it.
func userMeta(hdr http.Header) (map[string]string, error) {
	var meta map[string]string
	size := 0
	for name, vals := range hdr {
		if len(name) <= len("X-Amz-Meta-") || !strings.EqualFold(name[:len("X-Amz-Meta-")], "X-Amz-Meta-") {
			continue
		}
		k := strings.ToLower(name[len("X-Amz-Meta-"):])
		v := strings.Join(vals, ",")
		size += len(k) + len(v)
		if meta == nil {
			meta = make(map[string]string)
		}
		meta[k] = v
	}
	if size > maxUserMetaSize {
		return nil, errorf("MetadataTooLarge", "Your metadata headers total %d bytes; at most %d are allowed.", size, maxUserMetaSize)
	}
	return meta, nil
}

// setObjectHeaders writes the headers every GET and HEAD of an object
// carries.
func setObjectHeaders(hdr http.Header, info *store.ObjectInfo) {
	a := &info.Attrs
	ct := a.ContentType
	if ct == "" {
		ct = "binary/octet-stream"
	}
	// One backing array for the headers every answer has, instead of a
	// slice each; capacities are cut so an Add cannot spill into the next.
	etag, modified := etagAndTime(info)
	v := [...]string{etag, modified, "bytes", ct}
	vs := v[:]
	hdr["ETag"] = vs[0:1:1]
	hdr["Last-Modified"] = vs[1:2:2]
	hdr["Accept-Ranges"] = vs[2:3:3]
	hdr["Content-Type"] = vs[3:4:4]
	setIf(hdr, "Content-Encoding", a.ContentEncoding)
	setIf(hdr, "Content-Disposition", a.ContentDisposition)
	setIf(hdr, "Content-Language", a.ContentLanguage)
	setIf(hdr, "Cache-Control", a.CacheControl)
	setIf(hdr, "Expires", a.Expires)
	setIf(hdr, "Access-Control-Allow-Origin", a.AccessControlAllowOrigin)
	for k, v := range a.UserMeta {
		hdr["X-Amz-Meta-"+k] = []string{v}
	}
	if len(a.Tags) > 0 {
		hdr["X-Amz-Tagging-Count"] = []string{strconv.Itoa(len(a.Tags))}
	}
	if a.MirrorOrigin != "" {
		hdr["X-Oss-Tag"] = []string{"MIRROR " + mirrorTagURL(a.MirrorOrigin)}
	}
}

// etagAndTime returns the quoted ETag and the Last-Modified date of info,
// both cut from one string: one allocation instead of two.
func etagAndTime(info *store.ObjectInfo) (etag, modified string) {
	var buf [96]byte
	b := append(buf[:0], '"')
	b = append(b, info.ETag...)
	b = append(b, '"')
	n := len(b)
	b = info.LastModified.UTC().AppendFormat(b, http.TimeFormat)
	s := string(b)
	return s[:n], s[n:]
}

func setIf(hdr http.Header, name, v string) {
	if v != "" {
		hdr[name] = []string{v}
	}
}

// mirrorTagURL decodes the percent escapes of an origin URL that stand for
// printable ASCII and keeps the others, so the header stays valid.
func mirrorTagURL(u string) string {
	var b strings.Builder
	for i := 0; i < len(u); i++ {
		if u[i] == '%' && i+2 < len(u) {
			if c, err := strconv.ParseUint(u[i+1:i+3], 16, 8); err == nil && c >= 0x20 && c < 0x7f {
				b.WriteByte(byte(c))
				i += 2
				continue
			}
		}
		b.WriteByte(u[i])
	}
	return b.String()
}
