package s3api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"

	"mirrorstore/internal/rules"
	"mirrorstore/internal/store"
)

// websiteConfig is the name of the configuration blob holding a bucket's
// website configuration, in the canonical form rules.(*Config).Marshal
// gives.
const websiteConfig = "website"

// websiteOwner refuses anyone but the bucket's owner (and the root
// credential): SPEC §3 makes website configuration owner-only, whatever a
// bucket policy grants.
func (h *Handler) websiteOwner(ctx context.Context, req *request) error {
	if req.id == nil || req.id.Anonymous {
		return errCode("AccessDenied")
	}
	if h.isRoot(req) {
		return nil
	}
	info, err := h.backend.HeadBucket(ctx, req.bucket)
	if err != nil {
		return err
	}
	if info.Owner != req.id.Credential.AccessKey {
		return errCode("AccessDenied")
	}
	return nil
}

// putBucketWebsite validates the body with the rules package, stores its
// canonical form and swaps the compiled matcher in. Any failure leaves the
// previous configuration in force, in the store and in memory.
func (h *Handler) putBucketWebsite(w http.ResponseWriter, r *http.Request, req *request) error {
	ctx := r.Context()
	if err := h.websiteOwner(ctx, req); err != nil {
		return err
	}
	// One byte past the limit is enough for Parse to refuse the body
	// without reading the rest of it.
	data, err := io.ReadAll(io.LimitReader(r.Body, rules.MaxBodySize+1))
	if err != nil {
		return err
	}
	cfg, err := rules.Parse(data)
	if err != nil {
		var re *rules.Error
		if errors.As(err, &re) {
			return errorf(re.Code, "%s", re.Message)
		}
		return err
	}
	canonical, err := cfg.Marshal()
	if err != nil {
		return fmt.Errorf("marshal website configuration of %s: %w", req.bucket, err)
	}
	m := rules.Compile(cfg)

	h.website.writeMu.Lock()
	defer h.website.writeMu.Unlock()
	if err := h.backend.PutBucketConfig(ctx, req.bucket, websiteConfig, canonical); err != nil {
		return err
	}
	h.website.set(req.bucket, m)
	w.WriteHeader(http.StatusOK)
	return nil
}

// getBucketWebsite answers the stored canonical XML.
func (h *Handler) getBucketWebsite(w http.ResponseWriter, r *http.Request, req *request) error {
	ctx := r.Context()
	if err := h.websiteOwner(ctx, req); err != nil {
		return err
	}
	data, err := h.backend.GetBucketConfig(ctx, req.bucket, websiteConfig)
	if errors.Is(err, store.ErrNoSuchConfig) {
		return errCode("NoSuchWebsiteConfiguration")
	}
	if err != nil {
		return err
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/xml")
	hdr.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
	return nil
}

// deleteBucketWebsite removes the configuration; deleting none is not an
// error, as in S3.
func (h *Handler) deleteBucketWebsite(w http.ResponseWriter, r *http.Request, req *request) error {
	ctx := r.Context()
	if err := h.websiteOwner(ctx, req); err != nil {
		return err
	}
	h.website.writeMu.Lock()
	defer h.website.writeMu.Unlock()
	if err := h.backend.PutBucketConfig(ctx, req.bucket, websiteConfig, nil); err != nil {
		return err
	}
	h.website.set(req.bucket, nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// websiteCache holds each bucket's compiled website configuration, nil
// for a bucket without one (so its GETs cost a map load and no store
// read). Its TTL is the ACL cache's, so one setting bounds how stale any
// per-bucket access or routing fact may be on a node that did not make the
// change.
type websiteCache struct {
	bucketCache[*rules.Matcher]
	// writeMu serialises PUT and DELETE ?website so that the store and
	// the cache end in the same order when two writes race.
	writeMu sync.Mutex
}

// matcher returns bucket's compiled configuration, nil when it has none.
func (c *websiteCache) matcher(ctx context.Context, b store.Backend, bucket string) (*rules.Matcher, error) {
	m, ok, stale := c.cached(bucket)
	if ok {
		return m, nil
	}
	data, err := b.GetBucketConfig(ctx, bucket, websiteConfig)
	switch {
	case err == nil:
		cfg, err := rules.Parse(data)
		if err != nil {
			// It was validated when it was put; a stored configuration
			// this version refuses must not be served as if there were
			// none (a Mirror rule would silently stop filling).
			return nil, fmt.Errorf("stored website configuration of %s: %w", bucket, err)
		}
		m = rules.Compile(cfg)
	case errors.Is(err, store.ErrNoSuchBucket):
		// Not kept: bucket names come from clients (anonymous ones
		// included, for a website root) and must not grow the map.
		return nil, nil
	case errors.Is(err, store.ErrNoSuchConfig):
	default:
		return nil, err
	}
	return c.fill(bucket, stale, m), nil
}

// routeRead decides what a GET or HEAD of an object serves, consulting the
// bucket's website configuration (SPEC §6): the routing rules first, then
// the object itself, then, for anonymous readers, the index and error
// documents. It returns the object to serve and the status to serve it with
// (0: the normal 200, 206 or 304), or a nil object when the answer was
// already written (a redirect, a mirror fill) or err is to be written.
//
// The key is looked up at most once (the rules' Prober and the normal
// answer share the lookup); a bucket without a configuration costs one map
// load on top of that lookup.
func (h *Handler) routeRead(w http.ResponseWriter, r *http.Request, req *request, opts store.GetOptions, withBody bool) (*store.Object, int, error) {
	ctx := r.Context()
	m, err := h.website.matcher(ctx, h.backend, req.bucket)
	if err != nil {
		return nil, 0, err
	}
	if m == nil {
		if req.key == "" {
			return nil, 0, errCode("NoSuchKey")
		}
		obj, err := h.lookupObject(ctx, req.bucket, req.key, opts, withBody)
		return obj, 0, err
	}

	p := &objectProbe{h: h, ctx: ctx, bucket: req.bucket, key: req.key, opts: opts, withBody: withBody}
	if m.Rules() > 0 {
		res := m.Match(&rules.Request{Key: req.key, Header: r.Header, Head: r.Method == http.MethodHead}, p)
		switch res.Outcome {
		case rules.OutcomeRedirect:
			p.close()
			loc := res.Action.Location(req.key, redirectTarget(r, req))
			h.countRedirect(req.bucket, res.Action.RuleNumber)
			writeRedirect(w, r, res.Action.StatusCode, loc)
			return nil, 0, nil
		case rules.OutcomeMirrorHeadNotFound:
			p.close()
			return nil, 0, errCode("NoSuchKey")
		case rules.OutcomeMirror:
			// A Mirror rule matches only a miss: nothing was opened.
			p.close()
			return nil, 0, h.serveMirror(w, r, req, res)
		}
	}

	obj, err := p.object()
	if err == nil || !errors.Is(err, store.ErrNoSuchKey) || !req.id.Anonymous {
		return obj, 0, err
	}
	bucket := ""
	if pathStyle(r, req) {
		bucket = req.bucket
	}
	dec, derr := m.Documents(rules.DocRequest{Key: req.key, Anonymous: true, Bucket: bucket}, p)
	if derr != nil {
		return nil, 0, derr
	}
	switch dec.Action {
	case rules.DocServe:
		obj, err := h.lookupObject(ctx, req.bucket, dec.Key, opts, withBody)
		return obj, 0, err
	case rules.DocRedirect:
		writeRedirect(w, r, dec.Status, dec.Location)
		return nil, 0, nil
	case rules.DocErrorDocument:
		// The error page is served whole with its status: a Range or
		// a condition the client meant for the missing key does not
		// apply to it.
		obj, err := h.lookupObject(ctx, req.bucket, dec.Key, store.GetOptions{}, withBody)
		return obj, dec.Status, err
	}
	return nil, 0, err
}

// objectProbe looks the request's key up once, for rules.Match
// (ProbeObject) and rules.Documents (Exists of that key), and keeps the
// result for the normal answer.
type objectProbe struct {
	h        *Handler
	ctx      context.Context
	bucket   string
	key      string
	opts     store.GetOptions
	withBody bool

	done bool
	obj  *store.Object
	err  error
}

// object returns the lookup's result, looking the key up if no rule did.
// The empty key (a website root) is never an object and is not looked up.
func (p *objectProbe) object() (*store.Object, error) {
	if !p.done {
		p.done = true
		if p.key == "" {
			p.err = fmt.Errorf("website root of %s: %w", p.bucket, store.ErrNoSuchKey)
		} else {
			p.obj, p.err = p.h.lookupObject(p.ctx, p.bucket, p.key, p.opts, p.withBody)
		}
	}
	return p.obj, p.err
}

// ProbeObject implements rules.Prober: 200 when the object exists, 404
// when it does not, 500 when the store failed.
func (p *objectProbe) ProbeObject() int {
	_, err := p.object()
	var se *Error
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, store.ErrNoSuchKey):
		return http.StatusNotFound
	case errors.Is(err, store.ErrNoSuchBucket):
		// No error-code rule may act for a bucket that is gone (its
		// matcher is at most one TTL old); the normal answer then says
		// NoSuchBucket.
		return http.StatusOK
	case errors.As(err, &se) && se.Status < 500:
		// InvalidRange and the like: the object exists, the request
		// asked for something it does not have.
		return http.StatusOK
	}
	return http.StatusInternalServerError
}

// Exists implements rules.Exister. The request's own key reuses the probe;
// the documents' keys are looked up by their metadata alone.
func (p *objectProbe) Exists(key string) (bool, error) {
	if key == p.key {
		switch p.ProbeObject() {
		case http.StatusNotFound:
			return false, nil
		case http.StatusInternalServerError:
			return false, p.err
		}
		return true, nil
	}
	_, err := p.h.backend.HeadObject(p.ctx, p.bucket, key)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrNoSuchKey):
		return false, nil
	}
	return false, err
}

// close releases the body a probe opened when another answer is sent.
func (p *objectProbe) close() {
	if p.obj != nil && p.obj.Body != nil {
		p.obj.Body.Close()
		p.obj = nil
	}
}

// redirectTarget says where the client addressed the request, for a
// redirect's Location. The scheme is https when the connection is TLS, or
// when X-Forwarded-Proto says so (a TLS-terminating proxy in front must set
// or overwrite it; a client that forges it only misdirects its own
// redirect). The bucket is kept in the path only for path-style requests.
func redirectTarget(r *http.Request, req *request) rules.Target {
	t := rules.Target{Scheme: "http", Host: r.Host, RawQuery: r.URL.RawQuery}
	if r.TLS != nil {
		t.Scheme = "https"
	} else if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		t.Scheme = p
	}
	if pathStyle(r, req) {
		t.Bucket = req.bucket
	}
	return t
}

// pathStyle reports whether the bucket was named in the path. A
// virtual-host request's path is the key alone, and the router puts the
// host's bucket in front of it to form the resource, so the two differ.
func pathStyle(r *http.Request, req *request) bool {
	return req.resource == r.URL.EscapedPath()
}

// writeRedirect answers status with Location and the short HTML note (no
// body on HEAD).
func writeRedirect(w http.ResponseWriter, r *http.Request, status int, location string) {
	body := rules.RedirectBody(status, location)
	hdr := w.Header()
	hdr.Set("Location", location)
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, body)
	}
}

// websiteRoot turns an anonymous GET or HEAD of a bucket's root ("/bucket/",
// which is ListObjects or HeadBucket when signed) into a read of the empty
// key when the bucket has a website configuration, so its visitors get the
// index document (SPEC §6.4). Access is then judged as for any object read.
func (h *Handler) websiteRoot(ctx context.Context, req *request, k routeKey, rt route) (route, error) {
	if k.sub != "" || k.copy || (k.method != http.MethodGet && k.method != http.MethodHead) {
		return rt, nil
	}
	m, err := h.website.matcher(ctx, h.backend, req.bucket)
	if err != nil || m == nil {
		return rt, err
	}
	obj, ok := h.table[routeKey{method: k.method, level: levelObject}]
	if !ok {
		return rt, nil
	}
	req.op = obj.op
	return obj, nil
}
