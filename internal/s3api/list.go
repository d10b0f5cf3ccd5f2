package s3api

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"mirrorstore/internal/store"
)

// maxListKeys is the most entries one listing page returns.
const maxListKeys = 1000

// listParams are the parameters both ListObjects versions share.
type listParams struct {
	prefix, delimiter string
	maxKeys           int
	encode            bool
}

func parseListParams(q url.Values) (listParams, error) {
	p := listParams{prefix: q.Get("prefix"), delimiter: q.Get("delimiter"), maxKeys: maxListKeys}
	if v, ok := q["max-keys"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 0 {
			return p, errorf("InvalidArgument", "max-keys must be an integer between 0 and 2147483647.")
		}
		p.maxKeys = min(n, maxListKeys)
	}
	switch q.Get("encoding-type") {
	case "":
	case "url":
		p.encode = true
	default:
		return p, errorf("InvalidArgument", "Invalid Encoding Method specified in Request: use encoding-type=url or none.")
	}
	return p, nil
}

// enc encodes a key or prefix for the answer when encoding-type=url was
// asked for, as S3 does: query escaping with '/' kept.
func (p listParams) enc(s string) string {
	if !p.encode || s == "" {
		return s
	}
	return strings.ReplaceAll(url.QueryEscape(s), "%2F", "/")
}

// list runs one page. A page of zero keys is answered without asking the
// store (whose 0 means the default), after checking that the bucket exists.
func (h *Handler) list(ctx context.Context, bucket string, p listParams, after string) (store.ListResult, error) {
	if p.maxKeys == 0 {
		_, err := h.backend.HeadBucket(ctx, bucket)
		return store.ListResult{}, err
	}
	return h.backend.ListObjects(ctx, bucket, store.ListOptions{
		Prefix:    p.prefix,
		Delimiter: p.delimiter,
		After:     after,
		MaxKeys:   p.maxKeys,
	})
}

// fill copies a page's entries into the answer.
func (p listParams) fill(out *listBucketResult, res store.ListResult, o *owner) {
	// Every entry's time and quoted ETag are cut from two strings made
	// once per page, instead of two strings per entry.
	var times, etags []byte
	lastSec, last := int64(-1), -1 // the previous entry's second and where its time starts
	for _, obj := range res.Objects {
		// Keys written together share their second: copy its text.
		if sec := obj.LastModified.Unix(); sec == lastSec && sec >= 0 {
			times = append(times, times[last:last+isoTimeLen]...)
		} else {
			start := len(times)
			times = appendISOTime(times, obj.LastModified)
			if len(times)-start == isoTimeLen {
				lastSec, last = sec, start
			}
		}
		etags = append(append(append(etags, '"'), obj.ETag...), '"')
	}
	ts, es := string(times), string(etags)
	out.Contents = make([]objectWire, 0, len(res.Objects))
	for _, obj := range res.Objects {
		tn, en := isoTimeSize(obj.LastModified), len(obj.ETag)+2
		out.Contents = append(out.Contents, objectWire{
			Key:          p.enc(obj.Key),
			LastModified: ts[:tn],
			ETag:         es[:en],
			Size:         obj.Size,
			Owner:        o,
			StorageClass: "STANDARD",
		})
		ts, es = ts[tn:], es[en:]
	}
	for _, cp := range res.CommonPrefixes {
		out.CommonPrefixes = append(out.CommonPrefixes, commonPrefix{Prefix: p.enc(cp)})
	}
	out.IsTruncated = res.IsTruncated
	if p.encode {
		out.EncodingType = "url"
	}
	out.Prefix = p.enc(p.prefix)
	out.Delimiter = p.enc(p.delimiter)
	out.MaxKeys = p.maxKeys
}

// bucketOwner returns the wire owner of bucket for listings.
func (h *Handler) bucketOwner(ctx context.Context, bucket string) (*owner, error) {
	info, err := h.backend.HeadBucket(ctx, bucket)
	if err != nil {
		return nil, err
	}
	name, _ := h.lookupCredential(info.Owner)
	o := ownerOf(info.Owner, name)
	return &o, nil
}

func (h *Handler) listObjectsV1(w http.ResponseWriter, r *http.Request, req *request) error {
	p, err := parseListParams(req.query)
	if err != nil {
		return err
	}
	ctx := r.Context()
	// v1 always names each object's owner: the bucket's, since objects
	// here belong to their bucket's owner.
	o, err := h.bucketOwner(ctx, req.bucket)
	if err != nil {
		return err
	}
	marker := req.query.Get("marker")
	res, err := h.list(ctx, req.bucket, p, marker)
	if err != nil {
		return err
	}
	encMarker := p.enc(marker)
	out := listBucketResult{Xmlns: s3NS, Name: req.bucket, Marker: &encMarker}
	p.fill(&out, res, o)
	// As in S3, NextMarker is sent only with a delimiter; without one the
	// client continues from the last key it got.
	if res.IsTruncated && p.delimiter != "" {
		out.NextMarker = p.enc(res.NextAfter)
	}
	writeListXML(w, &out)
	return nil
}

func (h *Handler) listObjectsV2(w http.ResponseWriter, r *http.Request, req *request) error {
	p, err := parseListParams(req.query)
	if err != nil {
		return err
	}
	ctx := r.Context()
	token := req.query.Get("continuation-token")
	startAfter := req.query.Get("start-after")
	after := startAfter
	if _, ok := req.query["continuation-token"]; ok {
		if after, err = decodeToken(token); err != nil {
			return err
		}
	}
	var o *owner
	if req.query.Get("fetch-owner") == "true" {
		if o, err = h.bucketOwner(ctx, req.bucket); err != nil {
			return err
		}
	}
	res, err := h.list(ctx, req.bucket, p, after)
	if err != nil {
		return err
	}
	keyCount := len(res.Objects) + len(res.CommonPrefixes)
	out := listBucketResult{
		Xmlns:             s3NS,
		Name:              req.bucket,
		StartAfter:        p.enc(startAfter),
		ContinuationToken: token,
		KeyCount:          &keyCount,
	}
	p.fill(&out, res, o)
	if res.IsTruncated {
		out.NextContinuationToken = encodeToken(res.NextAfter)
	}
	writeListXML(w, &out)
	return nil
}

// Continuation tokens are opaque to clients: the base64 of the key (or
// common prefix) the next page starts after. A token that names a key
// never listed still works: listing resumes after it.
func encodeToken(after string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(after))
}

func decodeToken(token string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || token == "" {
		return "", errorf("InvalidArgument", "The continuation token provided is incorrect.")
	}
	return string(b), nil
}
