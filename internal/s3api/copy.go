package s3api

import (
	"bytes"
	"crypto/md5"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"mirrorstore/internal/store"
)

// copyObject serves PutObject with x-amz-copy-source: the source is read
// and written again under the destination key (a new data file; the store
// has no server-side reference copy).
func (h *Handler) copyObject(w http.ResponseWriter, r *http.Request, req *request) error {
	if err := checkVersionID(req.query); err != nil {
		return err
	}
	srcBucket, srcKey, err := parseCopySource(r.Header.Get("X-Amz-Copy-Source"))
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := h.canAccessBucket(ctx, req, srcBucket, "GetObject", srcKey); err != nil {
		return err
	}
	metaDirective, err := directive(r.Header, "X-Amz-Metadata-Directive")
	if err != nil {
		return err
	}
	tagDirective, err := directive(r.Header, "X-Amz-Tagging-Directive")
	if err != nil {
		return err
	}
	// Parsed in both directives: it also refuses unsupported features
	// (encryption, object lock) that a COPY would otherwise ignore.
	newAttrs, err := attrsFromHeaders(r.Header)
	if err != nil {
		return err
	}
	cond, err := writeConditions(r.Header)
	if err != nil {
		return err
	}

	src, err := h.backend.GetObject(ctx, srcBucket, srcKey, store.GetOptions{})
	if err != nil {
		return err
	}
	defer src.Body.Close()
	if evalConditions(r.Header, copyConditionHeaders, &src.Info) != 0 {
		// Every failed copy-source condition is 412 for CopyObject.
		return errCode("PreconditionFailed")
	}
	if srcBucket == req.bucket && srcKey == req.key && metaDirective != "REPLACE" {
		return errorf("InvalidRequest", "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
	}
	if src.Info.Size > maxPutSize {
		return errorf("InvalidRequest", "The specified copy source is larger than the maximum allowable size for a copy source: %d.", int64(maxPutSize))
	}

	attrs := src.Info.Attrs
	if metaDirective == "REPLACE" {
		tags := attrs.Tags
		attrs = newAttrs
		attrs.Tags = tags
	}
	if tagDirective == "REPLACE" {
		attrs.Tags = newAttrs.Tags
	}
	// A copy is a new write: it no longer comes from the origin.
	attrs.MirrorOrigin = ""

	info, err := h.backend.PutObject(ctx, req.bucket, req.key, src.Body, store.PutOptions{
		Attrs:      attrs,
		Size:       src.Info.Size,
		Conditions: cond,
	})
	if err != nil {
		return err
	}
	writeXML(w, http.StatusOK, copyObjectResult{
		Xmlns:        s3NS,
		LastModified: isoTime(info.LastModified),
		ETag:         quoteETag(info.ETag),
	})
	return nil
}

// directive reads a COPY/REPLACE directive header (COPY when absent).
func directive(hdr http.Header, name string) (string, error) {
	switch v := hdr.Get(name); v {
	case "", "COPY":
		return "COPY", nil
	case "REPLACE":
		return v, nil
	default:
		return "", errorf("InvalidArgument", "Unknown %s value %q: use COPY or REPLACE.", name, v)
	}
}

// parseCopySource splits x-amz-copy-source ("[/]bucket/key[?versionId=…]",
// URL-encoded) into bucket and key.
func parseCopySource(v string) (bucket, key string, err error) {
	v, query, _ := strings.Cut(v, "?")
	if query != "" {
		if id, ok := strings.CutPrefix(query, "versionId="); !ok || id != "null" {
			return "", "", errorf("InvalidArgument", "Invalid version id specified in x-amz-copy-source: buckets on this server are not versioned.")
		}
	}
	v = strings.TrimPrefix(v, "/")
	rawBucket, rawKey, ok := strings.Cut(v, "/")
	if !ok || rawKey == "" {
		return "", "", errorf("InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey.")
	}
	if bucket, err = unescape(rawBucket); err != nil {
		return "", "", err
	}
	if key, err = unescape(rawKey); err != nil {
		return "", "", err
	}
	if !validBucketName(bucket) {
		return "", "", errorf("InvalidBucketName", "The source bucket name %q is not valid.", bucket)
	}
	if len(key) > MaxKeyLength || !utf8.ValidString(key) {
		return "", "", errorf("InvalidArgument", "The source key is not a valid key: UTF-8 of at most %d bytes.", MaxKeyLength)
	}
	if strings.IndexByte(key, 0) >= 0 {
		return "", "", errNULKey()
	}
	return bucket, key, nil
}

// Limits of DeleteObjects.
const (
	maxDeleteKeys = 1000
	// Each of 1000 keys can take 1024 bytes, escaped up to six times that,
	// plus the elements around it.
	maxDeleteBody = 8 << 20
)

// deleteObjects serves POST ?delete. S3 requires Content-MD5 or an
// x-amz-checksum-* header on this request; this server accepts neither (it
// checks Content-MD5 when given), since the body's integrity is already
// covered by the signature or checksum the authenticator verifies.
func (h *Handler) deleteObjects(w http.ResponseWriter, r *http.Request, req *request) error {
	md5sum, err := contentMD5(r.Header)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxDeleteBody+1))
	if err != nil {
		return err
	}
	if len(data) > maxDeleteBody {
		return errorf("MalformedXML", "The Delete body is larger than %d bytes.", maxDeleteBody)
	}
	if md5sum != nil {
		if sum := md5.Sum(data); !bytes.Equal(sum[:], md5sum) {
			return errCode("BadDigest")
		}
	}
	var del deleteRequest
	if err := xml.Unmarshal(data, &del); err != nil {
		return errorf("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema: %v.", err)
	}
	if len(del.Objects) == 0 || len(del.Objects) > maxDeleteKeys {
		return errorf("MalformedXML", "A Delete request names 1 to %d objects; this one names %d.", maxDeleteKeys, len(del.Objects))
	}
	ctx := r.Context()
	if _, err := h.backend.HeadBucket(ctx, req.bucket); err != nil {
		return err
	}
	res := deleteResult{Xmlns: s3NS}
	for _, o := range del.Objects {
		var err error
		switch {
		case o.Key == "" || len(o.Key) > MaxKeyLength || !utf8.ValidString(o.Key):
			err = errorf("InvalidArgument", "The key is not valid: UTF-8 of 1 to %d bytes.", MaxKeyLength)
		case strings.IndexByte(o.Key, 0) >= 0:
			err = errNULKey()
		case o.VersionID != "" && o.VersionID != "null":
			err = errorf("NoSuchVersion", "The specified version does not exist.")
		default:
			err = h.backend.DeleteObject(ctx, req.bucket, o.Key)
		}
		if err != nil {
			e, internal := toError(err)
			if internal && h.log != nil {
				h.log.Error("delete objects", "id", req.reqID, "bucket", req.bucket, "key", o.Key, "err", err)
			}
			res.Errors = append(res.Errors, deleteError{Key: o.Key, Code: e.Code, Message: e.Message})
			continue
		}
		if !del.Quiet {
			res.Deleted = append(res.Deleted, deletedObject{Key: o.Key})
		}
	}
	writeXML(w, http.StatusOK, res)
	return nil
}
