package s3api

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"strconv"
)

// writeListXML writes a listing answer. It produces the bytes writeXML
// (encoding/xml) would for the same listBucketResult, element for element,
// but by hand: reflection over 1,000 entries of six fields cost more than
// the store's own scan of the page.
func writeListXML(w http.ResponseWriter, out *listBucketResult) {
	var buf bytes.Buffer
	buf.Grow(512 + 300*len(out.Contents) + 64*len(out.CommonPrefixes))
	buf.WriteString(xmlHeader)
	buf.WriteString(`<ListBucketResult xmlns="`)
	escapeXML(&buf, out.Xmlns)
	buf.WriteString(`">`)
	elem(&buf, "Name", out.Name)
	elem(&buf, "Prefix", out.Prefix)
	if out.Marker != nil {
		elem(&buf, "Marker", *out.Marker)
	}
	elemOmitEmpty(&buf, "NextMarker", out.NextMarker)
	elemOmitEmpty(&buf, "StartAfter", out.StartAfter)
	elemOmitEmpty(&buf, "ContinuationToken", out.ContinuationToken)
	elemOmitEmpty(&buf, "NextContinuationToken", out.NextContinuationToken)
	if out.KeyCount != nil {
		elemRaw(&buf, "KeyCount", strconv.AppendInt(nil, int64(*out.KeyCount), 10))
	}
	elemRaw(&buf, "MaxKeys", strconv.AppendInt(nil, int64(out.MaxKeys), 10))
	elemOmitEmpty(&buf, "Delimiter", out.Delimiter)
	elemOmitEmpty(&buf, "EncodingType", out.EncodingType)
	elemRaw(&buf, "IsTruncated", strconv.AppendBool(nil, out.IsTruncated))
	var num []byte
	for i := range out.Contents {
		c := &out.Contents[i]
		buf.WriteString("<Contents>")
		elem(&buf, "Key", c.Key)
		elem(&buf, "LastModified", c.LastModified)
		elem(&buf, "ETag", c.ETag)
		num = strconv.AppendInt(num[:0], c.Size, 10)
		elemRaw(&buf, "Size", num)
		if c.Owner != nil {
			buf.WriteString("<Owner>")
			elem(&buf, "ID", c.Owner.ID)
			elem(&buf, "DisplayName", c.Owner.DisplayName)
			buf.WriteString("</Owner>")
		}
		elem(&buf, "StorageClass", c.StorageClass)
		buf.WriteString("</Contents>")
	}
	for _, cp := range out.CommonPrefixes {
		buf.WriteString("<CommonPrefixes>")
		elem(&buf, "Prefix", cp.Prefix)
		buf.WriteString("</CommonPrefixes>")
	}
	buf.WriteString("</ListBucketResult>")
	hdr := w.Header()
	hdr.Set("Content-Type", "application/xml")
	hdr.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

func elem(buf *bytes.Buffer, name, text string) {
	buf.WriteByte('<')
	buf.WriteString(name)
	buf.WriteByte('>')
	escapeXML(buf, text)
	buf.WriteString("</")
	buf.WriteString(name)
	buf.WriteByte('>')
}

func elemOmitEmpty(buf *bytes.Buffer, name, text string) {
	if text != "" {
		elem(buf, name, text)
	}
}

func elemRaw(buf *bytes.Buffer, name string, text []byte) {
	buf.WriteByte('<')
	buf.WriteString(name)
	buf.WriteByte('>')
	buf.Write(text)
	buf.WriteString("</")
	buf.WriteString(name)
	buf.WriteByte('>')
}

// escapeXML writes s escaped as encoding/xml escapes text: most keys need
// no escaping and are copied as they are.
func escapeXML(buf *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x80 || c == '"' || c == '\'' || c == '&' || c == '<' || c == '>' {
			_ = xml.EscapeText(buf, []byte(s)) // a bytes.Buffer never fails
			return
		}
	}
	buf.WriteString(s)
}
