package s3api

import (
	"errors"
	"io"
	"net/http"
	"strconv"

	"mirrorstore/internal/mirror"
	"mirrorstore/internal/origin"
	"mirrorstore/internal/rules"
	"mirrorstore/internal/store"
)

// serveMirror answers a GET (or a HEAD the rule lets through) of a missing
// key that a Mirror rule matched (SPEC §7): it joins or starts the key's
// fill and streams the origin's bytes as they arrive. The fill commits the
// object on its own; this request only reads it.
//
// With no mirror.Manager configured, mirroring is off: the Mirror rule is
// treated as no match and the miss is a plain 404 NoSuchKey.
//
// Once the headers are out, a fill that breaks cannot be reported as an
// error, and returning would end a chunked answer as if it were complete;
// the connection is cut with panic(http.ErrAbortHandler) instead.
func (h *Handler) serveMirror(w http.ResponseWriter, r *http.Request, req *request, res rules.Result) error {
	if h.mirror == nil || res.Action == nil || res.Action.Mirror == nil {
		return errCode("NoSuchKey")
	}
	if origin.IsMirrorRequest(r) {
		// Our own fill reached us: the MirrorURL resolves back to this
		// server, and mirroring it would wait on itself.
		return errorf("MirrorFailed", "The request comes from a mirror fill; a mirror origin must not point back at this server.")
	}
	overrides, err := responseOverrides(req)
	if err != nil {
		return err
	}
	// Range is honoured on the answer but never sent to the origin: the
	// fill always fetches the whole object. A malformed Range is ignored,
	// as on a stored object.
	var rg *store.Range
	if v := r.Header.Get("Range"); v != "" {
		parsed, ok, err := parseRange(v)
		if err != nil {
			return err
		}
		if ok {
			rg = &parsed
		}
	}

	spec, err := mirror.SpecFor(req.bucket, req.key, res.Action, r)
	if err != nil {
		if errors.Is(err, rules.ErrKeyNotAllowedToOrigin) {
			return errorf("MirrorFailed", "key not allowed to origin")
		}
		return err
	}
	if len(spec.URLs) > 0 {
		req.origin = spec.URLs[0]
	}
	ctx := r.Context()
	rd, err := h.mirror.Open(ctx, spec)
	if err != nil {
		return h.mirrorOpenError(w, r, err)
	}
	defer rd.Close()
	req.filled = true // for the bucket's hit ratio
	if rd.Info.OriginURL != "" {
		req.origin = rd.Info.OriginURL
	}

	size := rd.Info.Size
	var off, n int64 = 0, size
	if rg != nil {
		if size < 0 {
			// Content-Range needs the total, which only the end of the
			// body tells.
			if size, err = rd.Wait(ctx); err != nil {
				return mirrorReadError(err)
			}
		}
		if off, n, err = rg.Resolve(size); err != nil {
			return invalidRangeError(size)
		}
	}

	hdr := w.Header()
	info := store.ObjectInfo{
		Bucket:       req.bucket,
		Key:          req.key,
		Size:         size,
		LastModified: rd.Info.LastModified,
		Attrs:        rd.Info.Attrs,
	}
	setObjectHeaders(hdr, &info)
	// The ETag is the body's MD5, known only once the fill ends; later
	// GETs of the stored object carry it.
	delete(hdr, "ETag")
	for _, o := range overrides {
		hdr[o.header] = []string{o.value}
	}
	status := http.StatusOK
	if n >= 0 {
		hdr["Content-Length"] = []string{strconv.FormatInt(n, 10)}
	}
	if rg != nil {
		status = http.StatusPartialContent
		hdr["Content-Range"] = []string{contentRange(off, n, size)}
	}
	w.WriteHeader(status)
	// The headers go out now, not with the first buffer of body: a client
	// learns at once that the fill started, and a fill that breaks later
	// is seen as a cut answer rather than a dropped request (which clients
	// retry silently).
	fw := flushWriter{w: w, rc: http.NewResponseController(w)}
	if err := fw.rc.Flush(); err != nil {
		h.abortMirror(r, req, err)
	}
	if r.Method == http.MethodHead || n == 0 {
		return nil
	}

	if rg != nil {
		if _, err := rd.Seek(off, io.SeekStart); err != nil {
			h.abortMirror(r, req, err)
		}
		rd.Limit(n)
	}
	// The reader's WriteTo hands fw's ReadFrom each piece as it arrives,
	// as a slice of the staging file: sendfile on plain TCP.
	if _, err := io.Copy(fw, rd); err != nil {
		h.abortMirror(r, req, err)
	}
	return nil
}

// flushWriter sends every write to the client at once: a fill's bytes
// arrive at the origin's pace, and holding them in the connection's buffer
// would delay the first byte and every trickle after it. The fill reader
// writes in large pieces, so this costs no extra syscalls on a fast origin.
type flushWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil {
		err = f.rc.Flush()
	}
	return n, err
}

// ReadFrom passes src to the response writer's ReadFrom, which sends a file
// (or an io.LimitedReader of one) with sendfile when the answer has a length
// and the connection is plain TCP, then flushes whatever a chunked or TLS
// answer buffered.
func (f flushWriter) ReadFrom(src io.Reader) (int64, error) {
	n, err := io.Copy(f.w, src)
	if err == nil {
		err = f.rc.Flush()
	}
	return n, err
}

// abortMirror cuts the client's connection after the headers went out: the
// fill failed (the body is not whole and is not stored) or the client went
// away. ServeHTTP logs and counts the request as aborted, with err as the
// cause, on the panic's way out.
func (h *Handler) abortMirror(r *http.Request, req *request, err error) {
	req.abortCause = err
	panic(http.ErrAbortHandler)
}

// mirrorOpenError answers the errors of mirror.Manager.Open before any
// header went out (SPEC §7 "Origin answers"). Redirects and transparent
// answers are written here since they are the origin's answer, not ours.
func (h *Handler) mirrorOpenError(w http.ResponseWriter, r *http.Request, err error) error {
	var redir *mirror.RedirectError
	var transp *mirror.TransparentError
	switch {
	case errors.As(err, &redir):
		w.Header().Set("Location", redir.Location)
		w.WriteHeader(http.StatusFound)
		return nil
	case errors.As(err, &transp):
		hdr := w.Header()
		if ct := transp.Header.Get("Content-Type"); ct != "" {
			hdr.Set("Content-Type", ct)
		}
		hdr.Set("Content-Length", strconv.Itoa(len(transp.Body)))
		w.WriteHeader(transp.StatusCode)
		if r.Method != http.MethodHead {
			_, _ = w.Write(transp.Body)
		}
		return nil
	case errors.Is(err, mirror.ErrNotFound):
		return errCode("NoSuchKey")
	}
	return mirrorReadError(err)
}

// mirrorReadError maps the errors a fill reports before the headers to S3
// errors; anything else (the client went away, a staging file that could
// not be made) goes on to toError as it is.
func mirrorReadError(err error) error {
	var failed *mirror.FailedError
	switch {
	case errors.As(err, &failed):
		return errorf("MirrorFailed", "%s", failed.Message)
	case errors.Is(err, mirror.ErrSlowDown):
		return errorf("SlowDown", "Too many fills are in flight to this origin host; please retry.")
	case errors.Is(err, mirror.ErrClosed):
		return errorf("ServiceUnavailable", "The server is shutting down; please retry.")
	}
	return err
}
