package s3api

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"mirrorstore/internal/metrics"
	"mirrorstore/internal/mirror"
	"mirrorstore/internal/rules"
	"mirrorstore/internal/store"
)

// Ops configures the operator endpoints and the request cap.
type Ops struct {
	// Metrics receives every request's measurements and serves
	// /-/metrics; nil turns both off (/-/metrics and /-/status are 404).
	Metrics *metrics.Metrics
	// StatusPublic serves /-/status without credentials.
	StatusPublic bool
	// MaxRequests caps the requests served at once; past it a request gets
	// 503 SlowDown at once. The /-/ endpoints are exempt. 0 means no cap.
	MaxRequests int
}

// ops is the Handler's share of Ops.
type ops struct {
	metrics      *metrics.Metrics
	statusPublic bool
	// slots holds one token per request in flight; nil when uncapped.
	slots chan struct{}
	// release gives a slot back; made once, so admitting a request
	// allocates no closure.
	release func()
}

func (h *Handler) initOps(o Ops) {
	h.ops = ops{metrics: o.Metrics, statusPublic: o.StatusPublic}
	if o.MaxRequests > 0 {
		h.ops.slots = make(chan struct{}, o.MaxRequests)
		h.ops.release = func() { <-h.ops.slots }
	}
}

// admit takes a request slot. It returns false when every slot is taken;
// otherwise the caller must call the returned release when the request
// ends. The /-/ endpoints always get in: a saturated server must still
// answer its health checks and scrapes.
func (h *Handler) admit(r *http.Request) (release func(), ok bool) {
	if h.ops.slots == nil || strings.HasPrefix(r.URL.Path, "/-/") {
		return func() {}, true
	}
	select {
	case h.ops.slots <- struct{}{}:
		return h.ops.release, true
	default:
		return nil, false
	}
}

// observe feeds one finished request to the metrics: the request counters,
// and for a successful object GET the bucket's hit ratio. An aborted
// request counts under its own status class and is no successful GET.
func (h *Handler) observe(r *http.Request, req *request, w *responseWriter, start time.Time, aborted bool) {
	m := h.ops.metrics
	if m == nil {
		return
	}
	if aborted {
		m.Aborted(req.op, max(r.ContentLength, 0), w.written, time.Since(start))
		return
	}
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	m.Request(req.op, status, max(r.ContentLength, 0), w.written, time.Since(start))
	if req.op == "GetObject" && (status < 300 || status == http.StatusNotModified) {
		m.GetServed(req.bucket, req.filled)
	}
}

// countRedirect counts a redirect answered by a bucket's routing rule.
func (h *Handler) countRedirect(bucket string, rule int) {
	if m := h.ops.metrics; m != nil {
		m.Redirect(bucket, strconv.Itoa(rule))
	}
}

// serveOps answers /-/metrics and /-/status.
func (h *Handler) serveOps(w *responseWriter, r *http.Request, req *request, path string) error {
	m := h.ops.metrics
	if m == nil {
		return errorf("NoSuchKey", "No such endpoint: %s.", path)
	}
	if path == "/-/metrics" {
		req.op = "Metrics"
		m.Handler().ServeHTTP(w, r)
		return nil
	}
	req.op = "Status"
	if !h.ops.statusPublic {
		ok, err := h.statusAuthorized(r, req)
		if err != nil {
			return err
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="mirrorstore status", charset="UTF-8"`)
			http.Error(w, "401 Unauthorized: sign in with an access key and its secret key.", http.StatusUnauthorized)
			return nil
		}
	}
	var buf bytes.Buffer
	if err := statusPage.Execute(&buf, h.statusData(r.Context(), time.Now())); err != nil {
		return fmt.Errorf("status page: %w", err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(buf.Bytes())
	}
	return nil
}

// statusAuthorized accepts HTTP Basic auth with any access key of the
// keyring as user and its secret key as password (a browser cannot sign),
// or a presigned URL. A presigned URL with a bad signature is an error,
// not a 401 prompt.
func (h *Handler) statusAuthorized(r *http.Request, req *request) (bool, error) {
	if user, pass, ok := r.BasicAuth(); ok {
		if h.keys == nil {
			return false, nil
		}
		cred, found := h.keys.Lookup(user)
		if !found {
			// Compare anyway, so timing does not tell known keys apart.
			subtle.ConstantTimeCompare([]byte(pass), []byte(pass+"x"))
			return false, nil
		}
		return subtle.ConstantTimeCompare([]byte(pass), []byte(cred.SecretKey)) == 1, nil
	}
	if r.URL.Query().Get("X-Amz-Signature") == "" {
		return false, nil
	}
	id, err := h.auth.Authenticate(r)
	if err != nil {
		return false, err
	}
	req.id = id
	return !id.Anonymous, nil
}

type statusBucket struct {
	metrics.BucketStatus
	Bytes string
	// Rules are the bucket's routing rules, one line each.
	Rules []string
}

type statusFill struct {
	mirror.FillStatus
	Bytes, Size, Age string
}

type statusError struct {
	metrics.OriginError
	Ago string
}

type statusView struct {
	Now     string
	Buckets []statusBucket
	// Scanned is true when objects and bytes are the last periodic scan
	// of the store; ScannedAt says when it ended ("" before the first).
	Scanned   bool
	ScannedAt string
	// UsageError says why the store's counts could not be read.
	UsageError string
	Fills      []statusFill
	Errors     []statusError
	// Mirror is false when mirroring is off.
	Mirror bool
}

func (h *Handler) statusData(ctx context.Context, now time.Time) statusView {
	m := h.ops.metrics
	v := statusView{Now: now.UTC().Format(time.RFC1123), Mirror: h.mirror != nil}
	if at, ok := m.UsageScan(); ok {
		v.Scanned = true
		if !at.IsZero() {
			v.ScannedAt = at.UTC().Format(time.RFC1123)
		}
	}
	bs, err := m.Buckets(ctx)
	if err != nil {
		v.UsageError = err.Error()
	}
	for _, b := range bs {
		v.Buckets = append(v.Buckets, statusBucket{BucketStatus: b, Bytes: humanBytes(b.Bytes), Rules: h.ruleLines(ctx, b.Bucket)})
	}
	if h.mirror != nil {
		for _, f := range h.mirror.Snapshot() {
			size := "unknown"
			if f.Size >= 0 {
				size = humanBytes(f.Size)
			}
			v.Fills = append(v.Fills, statusFill{FillStatus: f, Bytes: humanBytes(f.Bytes), Size: size,
				Age: now.Sub(f.Started).Round(100 * time.Millisecond).String()})
		}
	}
	for _, e := range m.OriginErrors() {
		v.Errors = append(v.Errors, statusError{OriginError: e, Ago: now.Sub(e.Time).Round(time.Second).String() + " ago"})
	}
	return v
}

// ruleLines describes a bucket's routing rules, one line each, read from
// the stored configuration; a bucket without one has none.
func (h *Handler) ruleLines(ctx context.Context, bucket string) []string {
	if h.backend == nil {
		return nil
	}
	data, err := h.backend.GetBucketConfig(ctx, bucket, websiteConfig)
	if errors.Is(err, store.ErrNoSuchConfig) || errors.Is(err, store.ErrNoSuchBucket) {
		return nil
	}
	if err != nil {
		return []string{"(cannot read the rules: " + err.Error() + ")"}
	}
	cfg, err := rules.Parse(data)
	if err != nil {
		return []string{"(stored rules refused: " + err.Error() + ")"}
	}
	out := make([]string, 0, len(cfg.Rules))
	for _, r := range cfg.Rules {
		out = append(out, ruleLine(r))
	}
	return out
}

// ruleLine is one rule as an operator reads it: "#1 img/…*.jpg on 404 →
// Mirror http://origin/static/ (then http://backup/static/)".
func ruleLine(r rules.Rule) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d ", r.Number)
	c := r.Condition
	match := ""
	if c.KeyPrefixEquals != nil {
		match = *c.KeyPrefixEquals
	}
	match += "*"
	if c.KeySuffixEquals != nil {
		match += *c.KeySuffixEquals
	}
	b.WriteString(match)
	if c.HttpErrorCodeReturnedEquals != nil {
		fmt.Fprintf(&b, " on %d", *c.HttpErrorCodeReturnedEquals)
	}
	for _, ih := range c.IncludeHeaders {
		fmt.Fprintf(&b, " with %s", ih.Key)
	}
	rd := r.Redirect
	typ := rules.TypeExternal
	if rd.RedirectType != nil {
		typ = *rd.RedirectType
	}
	b.WriteString(" → " + typ)
	if typ == rules.TypeMirror {
		if rd.MirrorURL != nil {
			b.WriteString(" " + *rd.MirrorURL)
		}
		if rd.MirrorURLSlave != nil {
			b.WriteString(" (then " + *rd.MirrorURLSlave + ")")
		}
		return b.String()
	}
	code := 301
	if rd.HttpRedirectCode != nil {
		code = *rd.HttpRedirectCode
	}
	fmt.Fprintf(&b, " %d", code)
	if rd.HostName != nil {
		proto := ""
		if rd.Protocol != nil {
			proto = *rd.Protocol + "://"
		}
		b.WriteString(" " + proto + *rd.HostName)
	}
	switch {
	case rd.ReplaceKeyWith != nil:
		b.WriteString(" key " + *rd.ReplaceKeyWith)
	case rd.ReplaceKeyPrefixWith != nil:
		b.WriteString(" prefix " + *rd.ReplaceKeyPrefixWith)
	}
	return b.String()
}

// humanBytes writes n in binary units ("1.5 MiB"); negative deltas keep
// their sign.
func humanBytes(n int64) string {
	sign := ""
	if n < 0 {
		sign, n = "-", -n
	}
	if n < 1024 {
		return fmt.Sprintf("%s%d B", sign, n)
	}
	f := float64(n)
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		f /= 1024
		if f < 1024 || u == "TiB" {
			return fmt.Sprintf("%s%.1f %s", sign, f, u)
		}
	}
	return ""
}

// ratio formats a window's hit ratio as a percentage with its counts.
func ratio(w metrics.Window) string {
	r, ok := w.Ratio()
	if !ok {
		return "no GETs"
	}
	return fmt.Sprintf("%.1f%% (%d local, %d filled)", r*100, w.Local, w.Filled)
}

var statusPage = template.Must(template.New("status").Funcs(template.FuncMap{"ratio": ratio}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="5">
<title>mirrorstore status</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: .3em .7em; text-align: left; }
th { background: #f0f0f0; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: #666; font-size: .9em; }
</style>
</head>
<body>
<h1>mirrorstore status</h1>
<p class="note">{{.Now}} · refreshes every 5 seconds</p>

<h2>Buckets</h2>
{{if .Buckets}}<table>
<tr><th>bucket</th><th>objects</th><th>bytes</th><th>hit ratio, last minute</th><th>hit ratio, last hour</th><th>rules</th></tr>
{{range .Buckets}}<tr><td>{{.Bucket}}</td><td class="n">{{.Objects}}</td><td class="n">{{.Bytes}}</td><td>{{ratio .Minute}}</td><td>{{ratio .Hour}}</td><td>{{range .Rules}}<div>{{.}}</div>{{else}}none{{end}}</td></tr>
{{end}}</table>
<p class="note">{{if .Scanned}}Objects and bytes are the whole cluster's as of the last scan of the backend{{with .ScannedAt}}, which ended {{.}}{{else}}; no scan has completed yet{{end}}.{{else}}Objects and bytes are the store's own counts.{{end}} The hit ratio is the share of GETs served from the store rather than filled from the origin: at 100% the bucket's mirror rules can be switched off.</p>
{{else}}<p>No buckets{{if .Scanned}} as of the last scan{{with .ScannedAt}} ({{.}}){{end}}{{end}}.</p>{{end}}
{{with .UsageError}}<p class="note">Stored counts unavailable: {{.}}</p>{{end}}

<h2>Fills in flight</h2>
{{if not .Mirror}}<p>Mirroring is off.</p>
{{else if .Fills}}<table>
<tr><th>bucket</th><th>key</th><th>origin</th><th>received</th><th>size</th><th>running for</th></tr>
{{range .Fills}}<tr><td>{{.Bucket}}</td><td>{{.Key}}</td><td>{{.URL}}</td><td class="n">{{.Bytes}}</td><td class="n">{{.Size}}</td><td class="n">{{.Age}}</td></tr>
{{end}}</table>
{{else}}<p>None.</p>{{end}}

<h2>Last origin errors</h2>
{{if .Errors}}<table>
<tr><th>when</th><th>bucket</th><th>key</th><th>origin</th><th>error</th></tr>
{{range .Errors}}<tr><td>{{.Ago}}</td><td>{{.Bucket}}</td><td>{{.Key}}</td><td>{{.URL}}</td><td>{{.Message}}</td></tr>
{{end}}</table>
{{else}}<p>None.</p>{{end}}
</body>
</html>
`))
