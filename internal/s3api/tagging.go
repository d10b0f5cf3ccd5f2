package s3api

import (
	"bytes"
	"crypto/md5"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"unicode/utf8"
)

// Limits S3 sets on object tags. Lengths count Unicode characters, not
// bytes.
const (
	maxObjectTags  = 10
	maxTagKeyLen   = 128
	maxTagValueLen = 256
	// maxTaggingBody bounds a PutObjectTagging document: ten tags at their
	// longest, escaped, stay far below it.
	maxTaggingBody = 64 << 10
)

// tagging is the document of Get/PutObjectTagging.
type tagging struct {
	XMLName xml.Name `xml:"Tagging"`
	Xmlns   string   `xml:"xmlns,attr,omitempty"`
	TagSet  tagSet   `xml:"TagSet"`
}

type tagSet struct {
	Tags []tagWire `xml:"Tag"`
}

type tagWire struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

// tagList is one tag as a client sent it, before duplicates are refused.
type tagList []tagWire

// validate applies S3's limits and words the failures as S3 does: too many
// tags is BadRequest, a bad key or value is InvalidTag.
func (tl tagList) validate() (map[string]string, error) {
	if len(tl) > maxObjectTags {
		return nil, errorf("BadRequest", "Object tags cannot be greater than %d", maxObjectTags)
	}
	tags := make(map[string]string, len(tl))
	for _, t := range tl {
		switch {
		case t.Key == "" || !utf8.ValidString(t.Key):
			return nil, errorf("InvalidTag", "The TagKey you have provided is invalid")
		case utf8.RuneCountInString(t.Key) > maxTagKeyLen:
			return nil, errorf("InvalidTag", "The TagKey you have provided is too long, max %d", maxTagKeyLen)
		case !utf8.ValidString(t.Value):
			return nil, errorf("InvalidTag", "The TagValue you have provided is invalid")
		case utf8.RuneCountInString(t.Value) > maxTagValueLen:
			return nil, errorf("InvalidTag", "The TagValue you have provided is too long, max %d", maxTagValueLen)
		case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
			return nil, errorf("InvalidTag", "Your TagKey cannot be prefixed with aws:")
		}
		if _, dup := tags[t.Key]; dup {
			return nil, errorf("InvalidTag", "Cannot provide multiple Tags with the same key")
		}
		tags[t.Key] = t.Value
	}
	return tags, nil
}

// parseTagging parses the x-amz-tagging header of PutObject,
// CreateMultipartUpload and CopyObject (a URL query string) with S3's
// limits.
func parseTagging(v string) (map[string]string, error) {
	var tl tagList
	for v != "" {
		var pair string
		pair, v, _ = strings.Cut(v, "&")
		if pair == "" {
			continue
		}
		rawK, rawV, _ := strings.Cut(pair, "=")
		k, err1 := url.QueryUnescape(rawK)
		val, err2 := url.QueryUnescape(rawV)
		if err1 != nil || err2 != nil {
			return nil, errorf("InvalidArgument", "The x-amz-tagging header must be URL query encoded (key1=value1&key2=value2).")
		}
		tl = append(tl, tagWire{Key: k, Value: val})
	}
	return tl.validate()
}

// sortedTags returns tags in key order, so answers are stable.
func sortedTags(tags map[string]string) []tagWire {
	out := make([]tagWire, 0, len(tags))
	for k, v := range tags {
		out = append(out, tagWire{Key: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// getObjectTagging serves GET ?tagging on an object.
func (h *Handler) getObjectTagging(w http.ResponseWriter, r *http.Request, req *request) error {
	if err := checkVersionID(req.query); err != nil {
		return err
	}
	info, err := h.backend.HeadObject(r.Context(), req.bucket, req.key)
	if err != nil {
		return err
	}
	writeXML(w, http.StatusOK, tagging{Xmlns: s3NS, TagSet: tagSet{Tags: sortedTags(info.Attrs.Tags)}})
	return nil
}

// putObjectTagging serves PUT ?tagging on an object: the tag set is
// replaced whole; the object's bytes, ETag and Last-Modified stay.
func (h *Handler) putObjectTagging(w http.ResponseWriter, r *http.Request, req *request) error {
	if err := checkVersionID(req.query); err != nil {
		return err
	}
	md5sum, err := contentMD5(r.Header)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxTaggingBody+1))
	if err != nil {
		return err
	}
	if len(data) > maxTaggingBody {
		return errorf("MalformedXML", "The Tagging document is larger than %d bytes.", maxTaggingBody)
	}
	if md5sum != nil {
		if sum := md5.Sum(data); !bytes.Equal(sum[:], md5sum) {
			return errCode("BadDigest")
		}
	}
	var doc tagging
	if err := xml.Unmarshal(data, &doc); err != nil {
		return errorf("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema: %v.", err)
	}
	tags, err := tagList(doc.TagSet.Tags).validate()
	if err != nil {
		return err
	}
	if err := h.backend.SetObjectTags(r.Context(), req.bucket, req.key, tags); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// deleteObjectTagging serves DELETE ?tagging on an object.
func (h *Handler) deleteObjectTagging(w http.ResponseWriter, r *http.Request, req *request) error {
	if err := checkVersionID(req.query); err != nil {
		return err
	}
	if err := h.backend.SetObjectTags(r.Context(), req.bucket, req.key, nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
