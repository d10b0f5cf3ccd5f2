// Package s3api serves the S3 API over a store.Backend: one root
// http.Handler parses bucket and key from the raw path (no ServeMux, no path
// cleaning), authenticates the request, looks its operation up in an exact
// dispatch table, and runs a handler that returns an error. One writer turns
// errors into S3 XML and logs one line per request.
package s3api

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"mirrorstore/internal/auth"
	"mirrorstore/internal/mirror"
	"mirrorstore/internal/reqlog"
	"mirrorstore/internal/store"
)

// Authenticator establishes who sent a request. *auth.Verifier implements
// it. Authenticate returns Identity{Anonymous: true} for a request with no
// signature, and an *auth.Error when a signature is present but wrong. It
// may replace r.Body with a reader that verifies the payload as it is read
// and fails its last Read with an *auth.Error on mismatch.
type Authenticator interface {
	Authenticate(r *http.Request) (*auth.Identity, error)
}

// Config is what a Handler needs.
type Config struct {
	Backend store.Backend
	Auth    Authenticator
	// Keys tells the root credential apart from the others: root may do
	// everything, others reach only the buckets they own. When nil, every
	// signed caller is treated as root.
	Keys *auth.Keyring
	// Logger receives one line per request; nil logs nothing.
	Logger *slog.Logger
	// Domain, when set, enables virtual-host addressing:
	// "bucket.<Domain>/key". The domain itself never names a bucket.
	Domain string
	// OwnHosts are the server's own host names and addresses (no port):
	// like Domain, they never act as bucket names.
	OwnHosts []string
	// ACLCacheTTL bounds how long a bucket's canned ACL, policy and
	// website configuration are trusted from memory before they are read
	// again from the backend (changes made through this handler take
	// effect at once; the TTL only matters when several nodes share one
	// backend). Zero means 5 seconds.
	ACLCacheTTL time.Duration
	// Mirror runs the fills of Mirror rules; nil turns mirroring off (a
	// Mirror rule's miss is then a plain 404 NoSuchKey).
	Mirror *mirror.Manager
	// Ops configures /-/metrics, /-/status and the request cap.
	Ops Ops
	// BodyIdleTimeout bounds the wait for the next bytes of a request
	// body; past it the request is answered 400 RequestTimeout and the
	// connection closed. Zero means DefaultBodyIdleTimeout.
	BodyIdleTimeout time.Duration
}

// Handler is the root http.Handler of the S3 API.
type Handler struct {
	backend store.Backend
	auth    Authenticator
	keys    *auth.Keyring
	log     *slog.Logger
	table   map[routeKey]route
	acl     aclCache
	website websiteCache
	mirror  *mirror.Manager
	// domain and ownHosts are lowercased; see Config.
	domain   string
	ownHosts map[string]bool

	idPrefix uint64
	idSeq    atomic.Uint64

	bodyIdle time.Duration

	ops ops
}

// handlerFunc is the shape of every operation: it writes a success answer
// itself (through the helpers in response.go) and returns any failure for
// the central writer.
type handlerFunc func(w http.ResponseWriter, r *http.Request, req *request) error

// request is what the router learned about a request before its handler
// runs.
type request struct {
	op     string
	bucket string
	key    string
	// query is the parsed query string; nil when the request had none.
	query    url.Values
	id       *auth.Identity
	reqID    string
	resource string
	// filled is set when a mirror fill answered the request.
	filled bool
	// origin is the origin URL a Mirror rule sent the request to, for
	// its log line.
	origin string
	// abortCause is why the answer was cut short after its headers
	// (set just before panic(http.ErrAbortHandler)).
	abortCause error
	// idHeader backs the X-Amz-Request-Id header's value.
	idHeader [1]string
	// line is the request's log line, kept here so logging it allocates
	// nothing more.
	line reqlog.Line
}

// exchange is the per-request state ServeHTTP allocates, in one piece.
type exchange struct {
	w   responseWriter
	req request
}

// errAborted is the outcome of a request whose handler did not return: it
// cut its answer short after the headers with panic(http.ErrAbortHandler)
// (a mirror fill that failed mid-body, or its client gone).
var errAborted = errors.New("answer cut short after the headers went out")

// New returns a Handler serving cfg.Backend.
func New(cfg Config) *Handler {
	h := &Handler{
		backend: cfg.Backend,
		auth:    cfg.Auth,
		keys:    cfg.Keys,
		log:     cfg.Logger,
		mirror:  cfg.Mirror,
	}
	h.domain = strings.ToLower(strings.TrimSuffix(cfg.Domain, "."))
	h.ownHosts = map[string]bool{}
	for _, o := range cfg.OwnHosts {
		h.ownHosts[strings.ToLower(o)] = true
	}
	h.acl.ttl = cfg.ACLCacheTTL
	if h.acl.ttl == 0 {
		h.acl.ttl = 5 * time.Second
	}
	h.website.ttl = h.acl.ttl
	h.bodyIdle = cfg.BodyIdleTimeout
	if h.bodyIdle <= 0 {
		h.bodyIdle = DefaultBodyIdleTimeout
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	h.idPrefix = binary.BigEndian.Uint64(b[:])
	h.table = buildTable(h.routes())
	h.initOps(cfg.Ops)
	return h
}

// newRequestID returns a 16-hex-digit id, unique within this process and
// unlikely to repeat across restarts.
func (h *Handler) newRequestID() string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], h.idPrefix+h.idSeq.Add(1))
	var out [16]byte
	hex.Encode(out[:], b[:])
	for i, c := range out {
		if c >= 'a' {
			out[i] = c - 'a' + 'A'
		}
	}
	return string(out[:])
}

// ServeHTTP answers one request.
func (h *Handler) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	x := &exchange{w: responseWriter{ResponseWriter: rw}, req: request{reqID: h.newRequestID()}}
	w, req := &x.w, &x.req
	req.idHeader[0] = req.reqID
	w.Header()["X-Amz-Request-Id"] = req.idHeader[:]
	// A handler that cuts its answer short panics, and the panic goes on
	// to net/http, which closes the connection; the request still gets
	// its log line and its count, here, on the way out.
	finished := false
	defer func() {
		if !finished {
			h.logRequest(r, req, w, start, errAborted)
		}
	}()

	if r.Body != nil && r.Body != http.NoBody {
		rc := http.NewResponseController(rw)
		r.Body = &idleBody{body: r.Body, rc: rc, d: h.bodyIdle}
		// What a handler leaves of a body, net/http drains before it
		// answers, with no deadline of its own: a client that stalls
		// there would hold the connection as surely. Bound it too.
		defer func() { _ = rc.SetReadDeadline(time.Now().Add(h.bodyIdle)) }()
	}
	var err error
	if release, ok := h.admit(r); ok {
		defer release()
		err = h.serve(w, r, req)
	} else {
		err = errCode("SlowDown")
	}
	if err != nil {
		h.writeError(w, r, req, err)
	}
	if r.ContentLength == 0 {
		// Only a request without a body: net/http drains what a handler
		// left of one when the answer's headers go out, and that drain
		// must come after the deadline set on the way out.
		w.flushComplete()
	}
	h.logRequest(r, req, w, start, err)
	finished = true
}

// serve does everything but the error writing and the log line.
func (h *Handler) serve(w *responseWriter, r *http.Request, req *request) error {
	escaped := r.URL.EscapedPath()
	hostBucket, err := h.bucketOfHost(r.Context(), r.Host)
	if err != nil {
		return err
	}
	if hostBucket != "" {
		// Virtual-host style: the whole path is the key ("-/x" included,
		// a legal key). The bucket name was validated, so it needs no
		// escaping.
		escaped = "/" + hostBucket + escaped
	} else if len(escaped) > 2 && escaped[1] == '-' && escaped[2] == '/' {
		return h.serveHealth(w, r, req, escaped)
	}
	bucket, key, err := parsePath(escaped)
	req.bucket, req.key = bucket, key
	req.resource = escaped
	if err != nil {
		return err
	}
	if r.URL.RawQuery != "" {
		req.query = r.URL.Query()
	}

	id, err := h.auth.Authenticate(r)
	if err != nil {
		return err
	}
	req.id = id

	lvl := levelService
	if bucket != "" {
		lvl = levelBucket
		if key != "" {
			lvl = levelObject
		}
		if !validBucketName(bucket) {
			return errorf("InvalidBucketName", "The specified bucket is not valid: bucket names have 3 to 63 characters, lowercase letters, digits, '-' and '.', start and end with a letter or digit, and are not IP addresses.")
		}
	}
	k, err := routeKeyOf(r, req.query, lvl)
	if err != nil {
		return err
	}
	rt, err := h.dispatch(k)
	if err != nil {
		if id.Anonymous {
			// Anonymous callers learn nothing about what is implemented.
			return errCode("AccessDenied")
		}
		return err
	}
	req.op = rt.op
	if id.Anonymous && lvl == levelBucket {
		if rt, err = h.websiteRoot(r.Context(), req, k, rt); err != nil {
			return err
		}
	}
	if err := h.authorize(r.Context(), req); err != nil {
		return err
	}
	return rt.handler(w, r, req)
}

// bucketOfHost returns the bucket a Host header addresses, or "" for path
// style: a Host that is itself the name of an existing bucket (S3's
// website convention), or "bucket.<domain>" when a domain is set. The port is
// ignored; the domain and the server's own names never address a bucket.
func (h *Handler) bucketOfHost(ctx context.Context, hostport string) (string, error) {
	host := hostport
	if hh, _, err := net.SplitHostPort(hostport); err == nil {
		host = hh
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "" || host == h.domain || h.ownHosts[host] {
		return "", nil
	}
	// A bucket named exactly like the Host wins over the domain suffix, so
	// bucket "www.example.com" is reached at www.example.com even under
	// --domain example.com. Dotless names are left alone: no site's own
	// domain is one, and "localhost" must not cost a lookup per request.
	if strings.Contains(host, ".") && validBucketName(host) {
		a, err := h.acl.lookup(ctx, h.backend, host)
		if err != nil {
			return "", err
		}
		if a.exists {
			return host, nil
		}
	}
	if h.domain != "" && strings.HasSuffix(host, "."+h.domain) {
		return host[:len(host)-len(h.domain)-1], nil
	}
	return "", nil
}

// serveHealth answers the /-/ endpoints, which need no authentication and
// cannot collide with a bucket (bucket names never start with '-').
func (h *Handler) serveHealth(w *responseWriter, r *http.Request, req *request, path string) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return errCode("MethodNotAllowed")
	}
	switch path {
	case "/-/healthy":
		req.op = "Healthy"
	case "/-/metrics", "/-/status":
		return h.serveOps(w, r, req, path)
	case "/-/ready":
		req.op = "Ready"
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := h.backend.Ready(ctx); err != nil {
			if h.log != nil {
				h.log.Warn("not ready", "err", err)
			}
			return errorf("ServiceUnavailable", "The storage backend is not ready.")
		}
	default:
		return errorf("NoSuchKey", "No such endpoint: %s.", path)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write([]byte("ok\n"))
	}
	return nil
}

// logRequest writes the one log line of a request. Secrets never reach it:
// the query string (which carries presigned signatures) is not logged.
func (h *Handler) logRequest(r *http.Request, req *request, w *responseWriter, start time.Time, err error) {
	aborted := errors.Is(err, errAborted)
	h.observe(r, req, w, start, aborted)
	if h.log == nil {
		return
	}
	ctx := r.Context()
	level := slog.LevelInfo
	switch {
	case aborted:
		level = slog.LevelWarn
	case w.status >= 500 && w.status != http.StatusNotImplemented:
		level = slog.LevelError
	}
	lh := h.log.Handler()
	if !lh.Enabled(ctx, level) {
		return
	}
	l := &req.line
	*l = reqlog.Line{
		ID: req.reqID, Op: req.op, Method: r.Method, Bucket: req.bucket, Key: req.key,
		Status: w.status, BytesIn: r.ContentLength, BytesOut: w.written, Duration: time.Since(start),
		Remote: r.RemoteAddr,
	}
	if req.id != nil && !req.id.Anonymous {
		l.AccessKey = req.id.Credential.AccessKey
	}
	l.Origin = req.origin
	switch {
	case aborted:
		cause := req.abortCause
		if cause == nil {
			// Not a cut chosen by a handler: a panic, whose stack
			// net/http logs.
			cause = errors.New("the handler panicked")
		}
		l.Outcome, l.Err = "aborted", cause.Error()
	case req.filled && err == nil:
		l.Outcome = "filled"
	case err != nil:
		if e, internal := toError(err); internal || e.Status >= 500 {
			l.Err = err.Error()
		} else {
			l.Code = e.Code
		}
	}
	if rl, ok := lh.(requestLogger); ok {
		rl.LogRequest(ctx, level, time.Now(), l)
		return
	}
	// The record goes straight to the handler: Logger.LogAttrs would also
	// walk the stack for a source location that the server's handlers
	// never print.
	rec := slog.NewRecord(time.Now(), level, reqlog.Msg, 0)
	rec.AddAttrs(
		slog.String("id", l.ID),
		slog.String("op", l.Op),
		slog.String("method", l.Method),
		slog.String("bucket", l.Bucket),
		slog.String("key", l.Key),
		slog.Int("status", l.Status),
		slog.Int64("bytes_in", l.BytesIn),
		slog.Int64("bytes_out", l.BytesOut),
		slog.Duration("duration", l.Duration),
		slog.String("remote", l.Remote),
	)
	for _, f := range [...]struct{ k, v string }{
		{"access_key", l.AccessKey}, {"origin", l.Origin}, {"outcome", l.Outcome}, {"err", l.Err}, {"code", l.Code},
	} {
		if f.v != "" {
			rec.AddAttrs(slog.String(f.k, f.v))
		}
	}
	_ = lh.Handle(ctx, rec)
}

// requestLogger is a log handler that writes request lines itself
// (*reqlog.Handler, the server's JSON log), faster than through a record.
type requestLogger interface {
	LogRequest(ctx context.Context, level slog.Level, t time.Time, l *reqlog.Line)
}
