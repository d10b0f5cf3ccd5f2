package s3api

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"strconv"
	"sync"
)

// writeListXML writes a listing answer. It produces the bytes writeXML
// (encoding/xml) would for the same listBucketResult, element for element,
// but by hand: reflection over 1,000 entries of six fields cost more than
// the store's own scan of the page.
func writeListXML(w http.ResponseWriter, out *listBucketResult) {
	buf := listBufs.Get().(*bytes.Buffer)
	defer putListBuf(buf)
	buf.Grow(512 + 300*len(out.Contents) + 64*len(out.CommonPrefixes))
	buf.WriteString(xmlHeader)
	buf.WriteString(`<ListBucketResult xmlns="`)
	escapeXML(buf, out.Xmlns)
	buf.WriteString(`">`)
	elem(buf, "Name", out.Name)
	elem(buf, "Prefix", out.Prefix)
	if out.Marker != nil {
		elem(buf, "Marker", *out.Marker)
	}
	elemOmitEmpty(buf, "NextMarker", out.NextMarker)
	elemOmitEmpty(buf, "StartAfter", out.StartAfter)
	elemOmitEmpty(buf, "ContinuationToken", out.ContinuationToken)
	elemOmitEmpty(buf, "NextContinuationToken", out.NextContinuationToken)
	if out.KeyCount != nil {
		elemRaw(buf, "KeyCount", strconv.AppendInt(nil, int64(*out.KeyCount), 10))
	}
	elemRaw(buf, "MaxKeys", strconv.AppendInt(nil, int64(out.MaxKeys), 10))
	elemOmitEmpty(buf, "Delimiter", out.Delimiter)
	elemOmitEmpty(buf, "EncodingType", out.EncodingType)
	elemRaw(buf, "IsTruncated", strconv.AppendBool(nil, out.IsTruncated))
	var num []byte
	for i := range out.Contents {
		c := &out.Contents[i]
		buf.WriteString("<Contents>")
		elem(buf, "Key", c.Key)
		elem(buf, "LastModified", c.LastModified)
		elem(buf, "ETag", c.ETag)
		num = strconv.AppendInt(num[:0], c.Size, 10)
		elemRaw(buf, "Size", num)
		if c.Owner != nil {
			buf.WriteString("<Owner>")
			elem(buf, "ID", c.Owner.ID)
			elem(buf, "DisplayName", c.Owner.DisplayName)
			buf.WriteString("</Owner>")
		}
		elem(buf, "StorageClass", c.StorageClass)
		buf.WriteString("</Contents>")
	}
	for _, cp := range out.CommonPrefixes {
		buf.WriteString("<CommonPrefixes>")
		elem(buf, "Prefix", cp.Prefix)
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

// listBufs recycles the buffers listing answers are written in: a page of
// 1,000 keys is ~250 KiB, which a fresh buffer would allocate and zero
// for every page.
var listBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// putListBuf returns buf to the pool, unless an unusually large answer
// grew it past what a full page needs.
func putListBuf(buf *bytes.Buffer) {
	if buf.Cap() > 4<<20 {
		return
	}
	buf.Reset()
	listBufs.Put(buf)
}

// escapeXML writes s escaped as encoding/xml escapes text. Printable ASCII
// (most keys, and the quotes of every ETag) is escaped here; a control
// character or any non-ASCII byte sends the whole string through
// encoding/xml, whose rules for those (character references, U+FFFD for
// what XML cannot carry) it then keeps.
func escapeXML(buf *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 {
			_ = xml.EscapeText(buf, []byte(s)) // a bytes.Buffer never fails
			return
		}
	}
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '"':
			esc = "&#34;"
		case '\'':
			esc = "&#39;"
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		default:
			continue
		}
		buf.WriteString(s[last:i])
		buf.WriteString(esc)
		last = i + 1
	}
	buf.WriteString(s[last:])
}
