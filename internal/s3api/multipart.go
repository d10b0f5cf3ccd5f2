package s3api

import (
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"mirrorstore/internal/store"
)

// Limits of multipart uploads, as S3 sets them.
const (
	maxPartNumber = 10000
	// maxListParts bounds ListParts and ListMultipartUploads pages.
	maxListParts = 1000
	// maxCompleteBody bounds the CompleteMultipartUpload document: 10000
	// parts with an ETag and every checksum field each stay well under it.
	maxCompleteBody = 4 << 20
)

// Multipart wire types, shaped as S3's API reference shows them.

type initiateMultipartUploadResult struct {
	XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
	Xmlns    string   `xml:"xmlns,attr"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	UploadID string   `xml:"UploadId"`
}

// completeMultipartUpload is the request body of CompleteMultipartUpload.
// The per-part checksum fields clients add are accepted and not checked:
// each part's body was already verified against them when it was uploaded.
type completeMultipartUpload struct {
	XMLName xml.Name `xml:"CompleteMultipartUpload"`
	Parts   []struct {
		PartNumber string `xml:"PartNumber"`
		ETag       string `xml:"ETag"`
	} `xml:"Part"`
}

type completeMultipartUploadResult struct {
	XMLName  xml.Name `xml:"CompleteMultipartUploadResult"`
	Xmlns    string   `xml:"xmlns,attr"`
	Location string   `xml:"Location"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	ETag     string   `xml:"ETag"`
}

type copyPartResult struct {
	XMLName      xml.Name `xml:"CopyPartResult"`
	Xmlns        string   `xml:"xmlns,attr"`
	LastModified string   `xml:"LastModified"`
	ETag         string   `xml:"ETag"`
}

type listPartsResult struct {
	XMLName              xml.Name   `xml:"ListPartsResult"`
	Xmlns                string     `xml:"xmlns,attr"`
	Bucket               string     `xml:"Bucket"`
	Key                  string     `xml:"Key"`
	UploadID             string     `xml:"UploadId"`
	Initiator            owner      `xml:"Initiator"`
	Owner                owner      `xml:"Owner"`
	StorageClass         string     `xml:"StorageClass"`
	PartNumberMarker     int        `xml:"PartNumberMarker"`
	NextPartNumberMarker int        `xml:"NextPartNumberMarker"`
	MaxParts             int        `xml:"MaxParts"`
	IsTruncated          bool       `xml:"IsTruncated"`
	Parts                []partWire `xml:"Part"`
}

type partWire struct {
	PartNumber   int    `xml:"PartNumber"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
}

type listMultipartUploadsResult struct {
	XMLName            xml.Name       `xml:"ListMultipartUploadsResult"`
	Xmlns              string         `xml:"xmlns,attr"`
	Bucket             string         `xml:"Bucket"`
	KeyMarker          string         `xml:"KeyMarker"`
	UploadIDMarker     string         `xml:"UploadIdMarker"`
	NextKeyMarker      string         `xml:"NextKeyMarker"`
	NextUploadIDMarker string         `xml:"NextUploadIdMarker"`
	Delimiter          string         `xml:"Delimiter,omitempty"`
	Prefix             string         `xml:"Prefix"`
	MaxUploads         int            `xml:"MaxUploads"`
	IsTruncated        bool           `xml:"IsTruncated"`
	Uploads            []uploadWire   `xml:"Upload"`
	CommonPrefixes     []commonPrefix `xml:"CommonPrefixes"`
	EncodingType       string         `xml:"EncodingType,omitempty"`
}

type uploadWire struct {
	Key          string `xml:"Key"`
	UploadID     string `xml:"UploadId"`
	Initiator    owner  `xml:"Initiator"`
	Owner        owner  `xml:"Owner"`
	StorageClass string `xml:"StorageClass"`
	Initiated    string `xml:"Initiated"`
}

// createMultipartUpload serves POST ?uploads. The object's headers,
// metadata and tags are taken now, as S3 takes them, and given to the
// object on completion.
func (h *Handler) createMultipartUpload(w http.ResponseWriter, r *http.Request, req *request) error {
	attrs, err := attrsFromHeaders(r.Header)
	if err != nil {
		return err
	}
	id, err := h.backend.CreateMultipartUpload(r.Context(), req.bucket, req.key, attrs)
	if err != nil {
		return err
	}
	// Clients that chose a checksum algorithm expect it named back; each
	// part is verified against its checksum as it arrives.
	if v := r.Header.Get("X-Amz-Checksum-Algorithm"); v != "" {
		w.Header().Set("X-Amz-Checksum-Algorithm", v)
	}
	writeXML(w, http.StatusOK, initiateMultipartUploadResult{Xmlns: s3NS, Bucket: req.bucket, Key: req.key, UploadID: id})
	return nil
}

// partNumber reads partNumber of UploadPart and UploadPartCopy.
func partNumber(q url.Values) (int, error) {
	n, err := strconv.Atoi(q.Get("partNumber"))
	if err != nil || n < 1 || n > maxPartNumber {
		return 0, errorf("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive.")
	}
	return n, nil
}

// uploadPart serves PUT ?partNumber&uploadId. The body is the verifying
// reader the authenticator put in place, so a part whose signature,
// checksum or Content-MD5 does not match is not stored.
func (h *Handler) uploadPart(w http.ResponseWriter, r *http.Request, req *request) error {
	n, err := partNumber(req.query)
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
		return errorf("EntityTooLarge", "Your proposed part of %d bytes exceeds the maximum part size of %d bytes.", size, int64(maxPutSize))
	}
	info, err := h.backend.UploadPart(r.Context(), req.bucket, req.key, req.query.Get("uploadId"), n, r.Body, size, md5sum)
	if err != nil {
		return err
	}
	hdr := w.Header()
	hdr.Set("ETag", quoteETag(info.ETag))
	if req.id.Body != nil {
		if name, v := req.id.Body.Checksum(); name != "" {
			hdr.Set(name, v)
		}
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// uploadPartCopy serves PUT ?partNumber&uploadId with x-amz-copy-source:
// the source (or the span x-amz-copy-source-range names) is read and stored
// as the part.
func (h *Handler) uploadPartCopy(w http.ResponseWriter, r *http.Request, req *request) error {
	n, err := partNumber(req.query)
	if err != nil {
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
	var opts store.GetOptions
	if v := r.Header.Get("X-Amz-Copy-Source-Range"); v != "" {
		rg, err := parseCopySourceRange(v)
		if err != nil {
			return err
		}
		opts.Range = &rg
	}
	src, err := h.backend.GetObject(ctx, srcBucket, srcKey, opts)
	if errors.Is(err, store.ErrInvalidRange) {
		info, err := h.backend.HeadObject(ctx, srcBucket, srcKey)
		if err != nil {
			return err
		}
		return errorf("InvalidArgument", "Range specified is not valid for source object of size: %d", info.Size)
	}
	if err != nil {
		return err
	}
	defer src.Body.Close()
	if evalConditions(r.Header, copyConditionHeaders, &src.Info) != 0 {
		// Every failed copy-source condition is 412, as for CopyObject.
		return errCode("PreconditionFailed")
	}
	if src.Length > maxPutSize {
		return errorf("InvalidRequest", "The specified copy source is larger than the maximum allowable size for a copy source: %d; copy it in ranges with x-amz-copy-source-range.", int64(maxPutSize))
	}
	info, err := h.backend.UploadPart(ctx, req.bucket, req.key, req.query.Get("uploadId"), n, src.Body, src.Length, nil)
	if err != nil {
		return err
	}
	writeXML(w, http.StatusOK, copyPartResult{Xmlns: s3NS, LastModified: isoTime(info.LastModified), ETag: quoteETag(info.ETag)})
	return nil
}

// parseCopySourceRange parses x-amz-copy-source-range, which unlike Range
// has exactly one form: bytes=first-last, both given.
func parseCopySourceRange(v string) (store.Range, error) {
	bad := errorf("InvalidArgument", "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy.")
	spec, ok := strings.CutPrefix(v, "bytes=")
	if !ok {
		return store.Range{}, bad
	}
	a, b, ok := strings.Cut(spec, "-")
	if !ok {
		return store.Range{}, bad
	}
	first, ok1 := parseOffset(a)
	last, ok2 := parseOffset(b)
	if !ok1 || !ok2 || last < first {
		return store.Range{}, bad
	}
	return store.Range{First: first, Last: last}, nil
}

// completeMultipartUpload serves POST ?uploadId. The store assembles the
// object without copying, so the answer comes at once (S3 may keep the
// connection open and send whitespace; nothing here takes that long).
func (h *Handler) completeMultipartUpload(w http.ResponseWriter, r *http.Request, req *request) error {
	cond, err := writeConditions(r.Header)
	if err != nil {
		return err
	}
	var doc completeMultipartUpload
	if err := decodeXML(r.Body, maxCompleteBody, &doc); err != nil {
		return err
	}
	if len(doc.Parts) == 0 {
		return errorf("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema: CompleteMultipartUpload names no Part.")
	}
	if len(doc.Parts) > maxPartNumber {
		return errorf("MalformedXML", "CompleteMultipartUpload names %d parts; at most %d are allowed.", len(doc.Parts), maxPartNumber)
	}
	parts := make([]store.CompletePart, len(doc.Parts))
	for i, p := range doc.Parts {
		n, err := strconv.Atoi(strings.TrimSpace(p.PartNumber))
		if err != nil {
			return errorf("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema: PartNumber %q is not an integer.", p.PartNumber)
		}
		if n < 1 || n > maxPartNumber {
			return errorf("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive.")
		}
		parts[i] = store.CompletePart{PartNumber: n, ETag: trimETag(p.ETag)}
	}
	info, err := h.backend.CompleteMultipartUpload(r.Context(), req.bucket, req.key, req.query.Get("uploadId"), parts, cond)
	if err != nil {
		return err
	}
	writeXML(w, http.StatusOK, completeMultipartUploadResult{
		Xmlns:    s3NS,
		Location: objectLocation(r, req),
		Bucket:   req.bucket,
		Key:      req.key,
		ETag:     quoteETag(info.ETag),
	})
	return nil
}

// objectLocation is the URL of the object a request addressed, path-style
// on the host the client used.
func objectLocation(r *http.Request, req *request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: r.Host, Path: "/" + req.bucket + "/" + req.key}
	return u.String()
}

// abortMultipartUpload serves DELETE ?uploadId.
func (h *Handler) abortMultipartUpload(w http.ResponseWriter, r *http.Request, req *request) error {
	if err := h.backend.AbortMultipartUpload(r.Context(), req.bucket, req.key, req.query.Get("uploadId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// intParam reads an optional non-negative integer query parameter.
func intParam(q url.Values, name string, def int) (int, error) {
	v, ok := q[name]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(v[0])
	if err != nil || n < 0 {
		return 0, errorf("InvalidArgument", "Argument %s must be an integer between 0 and 2147483647.", name)
	}
	return n, nil
}

// listParts serves GET ?uploadId.
func (h *Handler) listParts(w http.ResponseWriter, r *http.Request, req *request) error {
	marker, err := intParam(req.query, "part-number-marker", 0)
	if err != nil {
		return err
	}
	maxParts, err := intParam(req.query, "max-parts", maxListParts)
	if err != nil {
		return err
	}
	maxParts = min(maxParts, maxListParts)
	ctx := r.Context()
	o, err := h.bucketOwner(ctx, req.bucket)
	if err != nil {
		return err
	}
	// The store reads 0 as its default page; a page of zero parts still
	// asks it for one, to learn whether the upload exists and has more.
	res, err := h.backend.ListParts(ctx, req.bucket, req.key, req.query.Get("uploadId"), marker, max(maxParts, 1))
	if err != nil {
		return err
	}
	if maxParts == 0 {
		res.IsTruncated = len(res.Parts) > 0
		res.Parts, res.NextPartNumberMarker = nil, marker
	}
	out := listPartsResult{
		Xmlns:                s3NS,
		Bucket:               req.bucket,
		Key:                  req.key,
		UploadID:             res.Upload.UploadID,
		Initiator:            *o,
		Owner:                *o,
		StorageClass:         "STANDARD",
		PartNumberMarker:     marker,
		NextPartNumberMarker: res.NextPartNumberMarker,
		MaxParts:             maxParts,
		IsTruncated:          res.IsTruncated,
		Parts:                make([]partWire, 0, len(res.Parts)),
	}
	if !res.IsTruncated && len(res.Parts) > 0 {
		out.NextPartNumberMarker = res.Parts[len(res.Parts)-1].PartNumber
	}
	for _, p := range res.Parts {
		out.Parts = append(out.Parts, partWire{
			PartNumber:   p.PartNumber,
			LastModified: isoTime(p.LastModified),
			ETag:         quoteETag(p.ETag),
			Size:         p.Size,
		})
	}
	writeXML(w, http.StatusOK, out)
	return nil
}

// listMultipartUploads serves GET ?uploads. As in S3, upload-id-marker
// counts only together with key-marker.
func (h *Handler) listMultipartUploads(w http.ResponseWriter, r *http.Request, req *request) error {
	q := req.query
	p := listParams{prefix: q.Get("prefix"), delimiter: q.Get("delimiter")}
	switch q.Get("encoding-type") {
	case "":
	case "url":
		p.encode = true
	default:
		return errorf("InvalidArgument", "Invalid Encoding Method specified in Request: use encoding-type=url or none.")
	}
	maxUploads, err := intParam(q, "max-uploads", maxListParts)
	if err != nil {
		return err
	}
	maxUploads = min(maxUploads, maxListParts)
	opts := store.ListUploadsOptions{
		Prefix:     p.prefix,
		Delimiter:  p.delimiter,
		KeyMarker:  q.Get("key-marker"),
		MaxUploads: maxUploads,
	}
	if opts.KeyMarker != "" {
		opts.UploadIDMarker = q.Get("upload-id-marker")
	}
	ctx := r.Context()
	o, err := h.bucketOwner(ctx, req.bucket)
	if err != nil {
		return err
	}
	var res store.ListUploadsResult
	if maxUploads > 0 {
		if res, err = h.backend.ListMultipartUploads(ctx, req.bucket, opts); err != nil {
			return err
		}
	}
	out := listMultipartUploadsResult{
		Xmlns:              s3NS,
		Bucket:             req.bucket,
		KeyMarker:          p.enc(opts.KeyMarker),
		UploadIDMarker:     opts.UploadIDMarker,
		NextKeyMarker:      p.enc(res.NextKeyMarker),
		NextUploadIDMarker: res.NextUploadIDMarker,
		Delimiter:          p.enc(p.delimiter),
		Prefix:             p.enc(p.prefix),
		MaxUploads:         maxUploads,
		IsTruncated:        res.IsTruncated,
	}
	if p.encode {
		out.EncodingType = "url"
	}
	for _, u := range res.Uploads {
		out.Uploads = append(out.Uploads, uploadWire{
			Key:          p.enc(u.Key),
			UploadID:     u.UploadID,
			Initiator:    *o,
			Owner:        *o,
			StorageClass: "STANDARD",
			Initiated:    isoTime(u.Initiated),
		})
	}
	for _, cp := range res.CommonPrefixes {
		out.CommonPrefixes = append(out.CommonPrefixes, commonPrefix{Prefix: p.enc(cp)})
	}
	writeXML(w, http.StatusOK, out)
	return nil
}
