package s3backend

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"mirrorstore/internal/store"
)

// Our own fields, kept as x-amz-meta-mirrorstore-* on the backend object.
// A user metadata name starting with "mirrorstore-" is therefore reserved:
// it is not returned as user metadata.
const (
	ownMetaPrefix = "mirrorstore-"
	metaOrigin    = ownMetaPrefix + "origin"
	metaACAO      = ownMetaPrefix + "acao"
	metaMtime     = ownMetaPrefix + "mtime"
	metaExpires   = ownMetaPrefix + "expires"
)

// headerAttrs are the attrs in the form the backend stores them.
type headerAttrs struct {
	contentType, contentEncoding, contentDisposition, contentLanguage, cacheControl *string
	expires                                                                         *time.Time
	meta                                                                            map[string]string
	tagging                                                                         *string
}

// toHeaders encodes attrs (and a modification time to remember, when not
// zero) for a PutObject or CreateMultipartUpload.
func toHeaders(a store.ObjectAttrs, mtime time.Time) headerAttrs {
	h := headerAttrs{
		contentType:        headerValue(a.ContentType),
		contentEncoding:    headerValue(a.ContentEncoding),
		contentDisposition: headerValue(a.ContentDisposition),
		contentLanguage:    headerValue(a.ContentLanguage),
		cacheControl:       headerValue(a.CacheControl),
		meta:               map[string]string{},
	}
	for k, v := range a.UserMeta {
		h.meta[k] = encodeValue(v)
	}
	if a.MirrorOrigin != "" {
		h.meta[metaOrigin] = encodeValue(a.MirrorOrigin)
	}
	if a.AccessControlAllowOrigin != "" {
		h.meta[metaACAO] = encodeValue(a.AccessControlAllowOrigin)
	}
	if !mtime.IsZero() {
		h.meta[metaMtime] = mtime.UTC().Format(time.RFC3339Nano)
	}
	if a.Expires != "" {
		// Natively only when the SDK will send back exactly the string we
		// were given; anything else (an RFC 850 date, "0") goes verbatim
		// into our own field.
		if t, err := http.ParseTime(a.Expires); err == nil && t.UTC().Format(http.TimeFormat) == a.Expires {
			h.expires = &t
		} else {
			h.meta[metaExpires] = encodeValue(a.Expires)
		}
	}
	if len(a.Tags) > 0 {
		h.tagging = aws.String(encodeTags(a.Tags))
	}
	return h
}

// storedHeaders are what a GET or HEAD of a backend object returns.
type storedHeaders struct {
	contentType, contentEncoding, contentDisposition, contentLanguage, cacheControl, expires *string
	meta                                                                                     map[string]string
	etag                                                                                     *string
	lastModified                                                                             *time.Time
	tagCount                                                                                 *int32
}

// info decodes a backend object's headers; tags are filled in separately.
func (s storedHeaders) info(bucket, key string, size int64) store.ObjectInfo {
	a := store.ObjectAttrs{
		ContentType:        decodeValue(aws.ToString(s.contentType)),
		ContentEncoding:    decodeValue(aws.ToString(s.contentEncoding)),
		ContentDisposition: decodeValue(aws.ToString(s.contentDisposition)),
		ContentLanguage:    decodeValue(aws.ToString(s.contentLanguage)),
		CacheControl:       decodeValue(aws.ToString(s.cacheControl)),
		Expires:            aws.ToString(s.expires),
	}
	mtime := aws.ToTime(s.lastModified)
	for k, v := range s.meta {
		k = strings.ToLower(k)
		switch k {
		case metaOrigin:
			a.MirrorOrigin = decodeValue(v)
		case metaACAO:
			a.AccessControlAllowOrigin = decodeValue(v)
		case metaExpires:
			a.Expires = decodeValue(v)
		case metaMtime:
			if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
				mtime = t
			}
		default:
			if strings.HasPrefix(k, ownMetaPrefix) {
				continue
			}
			if a.UserMeta == nil {
				a.UserMeta = map[string]string{}
			}
			a.UserMeta[k] = decodeValue(v)
		}
	}
	etag := unquote(s.etag)
	return store.ObjectInfo{
		Bucket: bucket, Key: key, Size: size, ETag: etag,
		LastModified: mtime, PartsCount: partsCount(etag), Attrs: a,
	}
}

// partsCount reads N from a multipart ETag "<md5>-N" (0 for a single PUT).
func partsCount(etag string) int {
	i := strings.LastIndexByte(etag, '-')
	if i < 0 {
		return 0
	}
	n := 0
	for _, c := range etag[i+1:] {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func headerValue(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(encodeValue(s))
}

const encodedWordPrefix, encodedWordSuffix = "=?UTF-8?B?", "?="

// encodeValue makes a header value safe to send: a value with bytes HTTP
// headers cannot carry verbatim (non-ASCII, controls, edge spaces) is sent
// as an RFC 2047 encoded word, as S3 itself returns such metadata. A value
// that already looks like an encoded word is encoded too, so decodeValue
// returns every value exactly.
func encodeValue(s string) string {
	plain := !strings.HasPrefix(s, "=?") && strings.TrimSpace(s) == s
	for i := 0; plain && i < len(s); i++ {
		plain = s[i] >= 0x20 && s[i] < 0x7f
	}
	if plain {
		return s
	}
	return encodedWordPrefix + base64.StdEncoding.EncodeToString([]byte(s)) + encodedWordSuffix
}

func decodeValue(s string) string {
	if !strings.HasPrefix(s, encodedWordPrefix) || !strings.HasSuffix(s, encodedWordSuffix) || len(s) < len(encodedWordPrefix)+len(encodedWordSuffix) {
		return s
	}
	b, err := base64.StdEncoding.DecodeString(s[len(encodedWordPrefix) : len(s)-len(encodedWordSuffix)])
	if err != nil {
		return s
	}
	return string(b)
}

// encodeTags is the x-amz-tagging form of tags (a URL query).
func encodeTags(tags map[string]string) string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for i, k := range keys {
		if i > 0 {
			sb.WriteByte('&')
		}
		sb.WriteString(url.QueryEscape(k))
		sb.WriteByte('=')
		sb.WriteString(url.QueryEscape(tags[k]))
	}
	return sb.String()
}

func tagSet(tags map[string]string) []types.Tag {
	out := make([]types.Tag, 0, len(tags))
	for k, v := range tags {
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return out
}
