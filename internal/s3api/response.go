package s3api

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"strconv"
)

// responseWriter records what was sent for the log line and the error
// writer. It keeps io.ReaderFrom so that an io.Copy from a file still
// reaches net/http's sendfile path.
type responseWriter struct {
	http.ResponseWriter
	status      int
	written     int64
	wroteHeader bool
}

func (w *responseWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status = code
		w.wroteHeader = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(p)
	w.written += int64(n)
	return n, err
}

// ReadFrom hands src to the underlying writer's ReadFrom, which uses
// sendfile when src is a file (or an io.LimitedReader of one) and the
// connection is plain TCP.
func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(writerOnly{w.ResponseWriter}, src)
	}
	w.written += n
	return n, err
}

// Flush sends buffered data to the client.
func (w *responseWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// flushComplete sends what net/http still buffers of an answer whose
// declared body has been written whole, so the client has it before the
// request's log line and metrics are done; net/http would send it only
// after the handler returns. A small GET's last bytes otherwise waited
// for that bookkeeping in a packet of their own. Answers of unknown length
// are left alone: flushing them before the handler returns would make
// net/http chunk them instead of counting their bytes.
func (w *responseWriter) flushComplete() {
	if !w.wroteHeader || w.written == 0 {
		return
	}
	cl := w.Header()["Content-Length"]
	if len(cl) != 1 {
		return
	}
	if n, err := strconv.ParseInt(cl[0], 10, 64); err == nil && n == w.written {
		w.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// writerOnly hides every method but Write, so io.Copy cannot loop back
// into ReadFrom.
type writerOnly struct{ io.Writer }

// errorBody is S3's error document.
type errorBody struct {
	XMLName    xml.Name `xml:"Error"`
	Code       string   `xml:"Code"`
	Message    string   `xml:"Message"`
	BucketName string   `xml:"BucketName,omitempty"`
	Key        string   `xml:"Key,omitempty"`
	Resource   string   `xml:"Resource"`
	RequestID  string   `xml:"RequestId"`
}

// writeError is the one place an error becomes a response: status, extra
// headers, and the XML body (none for HEAD, whose answer has no body). When
// the handler already started its answer nothing more can be said; the
// truncated body (shorter than its Content-Length) tells the client.
func (h *Handler) writeError(w *responseWriter, r *http.Request, req *request, err error) {
	if w.wroteHeader {
		return
	}
	e, _ := toError(err)
	hdr := w.Header()
	for k, v := range e.Header {
		hdr[k] = v
	}
	// Headers a failed handler may have set for a success answer do not
	// belong to the error.
	for _, k := range []string{"ETag", "Last-Modified", "Content-Range", "Accept-Ranges", "Content-Encoding", "Content-Disposition", "Content-Language", "Cache-Control", "Expires"} {
		if _, keep := e.Header[k]; !keep {
			delete(hdr, k)
		}
	}
	if r.Method == http.MethodHead {
		hdr.Del("Content-Type")
		hdr.Del("Content-Length")
		w.WriteHeader(e.Status)
		return
	}
	body := errorBody{Code: e.Code, Message: e.Message, Resource: req.resource, RequestID: req.reqID}
	switch e.Code {
	case "NoSuchBucket", "BucketNotEmpty", "BucketAlreadyExists", "BucketAlreadyOwnedByYou", "InvalidBucketName":
		body.BucketName = req.bucket
	case "NoSuchKey":
		body.Key = req.key
	}
	writeXML(w, e.Status, body)
}

// xmlHeader starts every XML answer.
const xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

// s3NS is the namespace S3 puts on its result documents.
const s3NS = "http://s3.amazonaws.com/doc/2006-03-01/"

// writeXML sends v as an XML document with the given status.
func writeXML(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	buf.WriteString(xmlHeader)
	if err := xml.NewEncoder(&buf).Encode(v); err != nil {
		// Our own wire types always encode; this is a programming error.
		http.Error(w, "cannot encode response", http.StatusInternalServerError)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/xml")
	hdr.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// decodeXML reads an XML request body of at most limit bytes into v.
// A body that does not parse is MalformedXML.
func decodeXML(r io.Reader, limit int64, v any) error {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return err
	}
	if int64(len(data)) > limit {
		return errorf("MalformedXML", "The XML body is larger than %d bytes.", limit)
	}
	if err := xml.Unmarshal(data, v); err != nil {
		return errorf("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema: %v.", err)
	}
	return nil
}
