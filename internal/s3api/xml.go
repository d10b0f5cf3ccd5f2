package s3api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"time"
)

// S3 wire types: the XML documents this server reads and writes, shaped as
// Amazon S3's API reference shows them.

// owner is a bucket or object owner.
type owner struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

// ownerOf returns the wire owner for an access key. The ID is a stable
// 64-hex digest of the key, standing in for S3's canonical user id without
// revealing the key to others.
func ownerOf(accessKey, displayName string) owner {
	sum := sha256.Sum256([]byte(accessKey))
	if displayName == "" {
		displayName = accessKey
	}
	return owner{ID: hex.EncodeToString(sum[:]), DisplayName: displayName}
}

type listAllMyBucketsResult struct {
	XMLName xml.Name     `xml:"ListAllMyBucketsResult"`
	Xmlns   string       `xml:"xmlns,attr"`
	Owner   owner        `xml:"Owner"`
	Buckets []bucketWire `xml:"Buckets>Bucket"`
}

type bucketWire struct {
	Name         string `xml:"Name"`
	CreationDate string `xml:"CreationDate"`
}

type createBucketConfiguration struct {
	XMLName            xml.Name `xml:"CreateBucketConfiguration"`
	LocationConstraint string   `xml:"LocationConstraint"`
}

type locationConstraint struct {
	XMLName xml.Name `xml:"LocationConstraint"`
	Xmlns   string   `xml:"xmlns,attr"`
	Value   string   `xml:",chardata"`
}

type versioningConfiguration struct {
	XMLName xml.Name `xml:"VersioningConfiguration"`
	Xmlns   string   `xml:"xmlns,attr,omitempty"`
	Status  string   `xml:"Status,omitempty"`
	// MfaDelete is read so a request enabling it is refused, not ignored.
	MfaDelete string `xml:"MfaDelete,omitempty"`
}

// accessControlPolicy is GetBucketAcl's answer and PutBucketAcl's body.
type accessControlPolicy struct {
	XMLName xml.Name `xml:"AccessControlPolicy"`
	Xmlns   string   `xml:"xmlns,attr,omitempty"`
	Owner   owner    `xml:"Owner"`
	Grants  []grant  `xml:"AccessControlList>Grant"`
}

type grant struct {
	Grantee    grantee `xml:"Grantee"`
	Permission string  `xml:"Permission"`
}

type grantee struct {
	XMLNSXSI    string `xml:"xmlns:xsi,attr"`
	Type        string `xml:"xsi:type,attr"`
	ID          string `xml:"ID,omitempty"`
	DisplayName string `xml:"DisplayName,omitempty"`
	URI         string `xml:"URI,omitempty"`
}

// allUsersURI is the group every anonymous caller belongs to.
const allUsersURI = "http://acs.amazonaws.com/groups/global/AllUsers"

const xsiNS = "http://www.w3.org/2001/XMLSchema-instance"

type deleteRequest struct {
	XMLName xml.Name `xml:"Delete"`
	Quiet   bool     `xml:"Quiet"`
	Objects []struct {
		Key       string `xml:"Key"`
		VersionID string `xml:"VersionId"`
	} `xml:"Object"`
}

type deleteResult struct {
	XMLName xml.Name        `xml:"DeleteResult"`
	Xmlns   string          `xml:"xmlns,attr"`
	Deleted []deletedObject `xml:"Deleted"`
	Errors  []deleteError   `xml:"Error"`
}

type deletedObject struct {
	Key string `xml:"Key"`
}

type deleteError struct {
	Key     string `xml:"Key"`
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

type copyObjectResult struct {
	XMLName      xml.Name `xml:"CopyObjectResult"`
	Xmlns        string   `xml:"xmlns,attr"`
	LastModified string   `xml:"LastModified"`
	ETag         string   `xml:"ETag"`
}

// listBucketResult serves both ListObjects versions; the fields of the
// other version stay empty and are omitted.
type listBucketResult struct {
	XMLName xml.Name `xml:"ListBucketResult"`
	Xmlns   string   `xml:"xmlns,attr"`
	Name    string   `xml:"Name"`
	Prefix  string   `xml:"Prefix"`
	// v1
	Marker     *string `xml:"Marker"`
	NextMarker string  `xml:"NextMarker,omitempty"`
	// v2
	StartAfter            string `xml:"StartAfter,omitempty"`
	ContinuationToken     string `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string `xml:"NextContinuationToken,omitempty"`
	KeyCount              *int   `xml:"KeyCount"`

	MaxKeys        int            `xml:"MaxKeys"`
	Delimiter      string         `xml:"Delimiter,omitempty"`
	EncodingType   string         `xml:"EncodingType,omitempty"`
	IsTruncated    bool           `xml:"IsTruncated"`
	Contents       []objectWire   `xml:"Contents"`
	CommonPrefixes []commonPrefix `xml:"CommonPrefixes"`
}

type objectWire struct {
	Key          string `xml:"Key"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
	Owner        *owner `xml:"Owner"`
	StorageClass string `xml:"StorageClass"`
}

type commonPrefix struct {
	Prefix string `xml:"Prefix"`
}

// isoTime formats a time as S3's XML documents carry it (UTC, with
// milliseconds), truncated to the second so it agrees with the Last-Modified
// header of the same object.
func isoTime(t time.Time) string {
	return string(appendISOTime(nil, t))
}

// isoTimeLen is the length of isoTime for the years 0 to 9999.
const isoTimeLen = len("2006-01-02T15:04:05.000Z")

// isoTimeSize is len(isoTime(t)).
func isoTimeSize(t time.Time) int {
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return len(isoTime(t))
	}
	return isoTimeLen
}

// appendISOTime appends isoTime(t) to b: digits by hand for the years
// 0 to 9999 (isoTimeLen bytes), time.Format's layout otherwise.
func appendISOTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.Truncate(time.Second).AppendFormat(b, "2006-01-02T15:04:05.000Z")
	}
	hour, minute, sec := t.Clock()
	d2 := func(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }
	b = d2(b, year/100)
	b = d2(b, year%100)
	b = append(b, '-')
	b = d2(b, int(month))
	b = append(b, '-')
	b = d2(b, day)
	b = append(b, 'T')
	b = d2(b, hour)
	b = append(b, ':')
	b = d2(b, minute)
	b = append(b, ':')
	b = d2(b, sec)
	return append(b, ".000Z"...)
}

// quoteETag returns the ETag as it goes on the wire: in double quotes.
func quoteETag(etag string) string { return `"` + etag + `"` }
