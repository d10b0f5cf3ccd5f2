// Package origin talks to mirror origins: an HTTP client with separate header
// and idle-body timeouts, a private-address guard applied at dial time, no
// transparent decompression, Host/SNI override, manual redirect hops and a
// per-host concurrency cap; and the header policy (what is sent to an origin,
// what is kept from its answer). The mirror fills and the migrate command
// share it.
package origin

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// UserAgentPrefix starts the User-Agent of every origin request.
const UserAgentPrefix = "mirrorstore-mirror/"

// MaxRedirects is the most redirect hops a Get follows.
const MaxRedirects = 10

// Defaults for Config's zero values (SPEC §7 "Origin protection").
const (
	DefaultHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout   = 30 * time.Second
	DefaultPerHostLimit  = 64
)

// Errors returned (wrapped) by Client.Get and by reads of Response.Body.
var (
	// ErrSlowDown means the origin host already had PerHostLimit requests in
	// flight and no slot freed within the header timeout.
	ErrSlowDown = errors.New("too many concurrent requests to the origin host")
	// ErrHeaderTimeout means connecting or waiting for the answer's headers
	// took longer than the header timeout.
	ErrHeaderTimeout = errors.New("timed out waiting for the origin's headers")
	// ErrIdleTimeout means the origin sent no body bytes for the idle timeout.
	ErrIdleTimeout = errors.New("origin body idle for too long")
	// ErrTooManyRedirects means more than MaxRedirects hops.
	ErrTooManyRedirects = errors.New("too many redirects from the origin")
	// ErrBadRedirect means a Location that is not an http(s) URL.
	ErrBadRedirect = errors.New("origin redirected to an invalid location")
)

// Config configures a Client. Zero values take the defaults.
type Config struct {
	// HeaderTimeout bounds connecting (DNS, TCP, TLS) plus waiting for the
	// answer's headers, per hop; and the wait for a per-host slot.
	HeaderTimeout time.Duration
	// IdleTimeout bounds the wait for each body read.
	IdleTimeout time.Duration
	// PerHostLimit caps requests in flight per origin host.
	PerHostLimit int
	// AllowPrivate turns the address guard off (tests, private networks).
	AllowPrivate bool
	// Version goes into the User-Agent after UserAgentPrefix.
	Version string
	// TLSConfig, when non-nil, is the base TLS configuration (RootCAs for
	// tests); it is cloned, never modified.
	TLSConfig *tls.Config
}

// Client fetches objects from origins. It is safe for concurrent use; Close
// releases its idle connections.
type Client struct {
	cfg       Config
	userAgent string
	dialer    *net.Dialer

	mu         sync.Mutex
	transports map[string]*http.Transport // by TLS server name, "" for the URL's own
	hosts      map[string]*hostSlots
}

// NewClient returns a client configured by cfg.
func NewClient(cfg Config) *Client {
	if cfg.HeaderTimeout <= 0 {
		cfg.HeaderTimeout = DefaultHeaderTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.PerHostLimit <= 0 {
		cfg.PerHostLimit = DefaultPerHostLimit
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	return &Client{
		cfg:        cfg,
		userAgent:  UserAgentPrefix + cfg.Version,
		dialer:     newDialer(cfg.AllowPrivate),
		transports: map[string]*http.Transport{},
		hosts:      map[string]*hostSlots{},
	}
}

// UserAgent returns the User-Agent the client sends.
func (c *Client) UserAgent() string { return c.userAgent }

// Close closes idle connections. Bodies of responses still open stay usable
// until closed.
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.transports {
		t.CloseIdleConnections()
	}
}

// transport returns the transport for a TLS server name. Connections are
// pooled per transport, so a connection set up with one SNI is never reused
// for a request that asked for another.
func (c *Client) transport(serverName string) *http.Transport {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.transports[serverName]; t != nil {
		return t
	}
	tlsConf := &tls.Config{}
	if c.cfg.TLSConfig != nil {
		tlsConf = c.cfg.TLSConfig.Clone()
	}
	if serverName != "" {
		tlsConf.ServerName = serverName
	}
	t := &http.Transport{
		// No proxy from the environment: the guard must see the origin's
		// address, not a proxy's.
		Proxy:       nil,
		DialContext: c.dialer.DialContext,
		// The origin's bytes are stored as sent, with their
		// Content-Encoding; Go must neither ask for gzip nor undo it.
		DisableCompression:  true,
		TLSClientConfig:     tlsConf,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: c.cfg.PerHostLimit,
		IdleConnTimeout:     90 * time.Second,
	}
	c.transports[serverName] = t
	return t
}

// Request is one origin fetch.
type Request struct {
	// URL is the origin URL (http or https).
	URL string
	// Header is sent as is (see HeaderPolicy.Build), but for Host, which
	// becomes the request's Host on hops to URL's own host, and User-Agent
	// and Accept-Encoding, which are never taken from it.
	Header http.Header
	// SNI sends Header's Host as the TLS server name too (MirrorSNI).
	SNI bool
	// FollowRedirects follows 301, 302, 303, 307 and 308 answers, at most
	// MaxRedirects hops, each dialed through the address guard. Without it,
	// a redirect is returned as the Response.
	FollowRedirects bool
}

// Response is an origin's answer.
type Response struct {
	StatusCode int
	Header     http.Header
	// ContentLength is the announced length, -1 when unknown.
	ContentLength int64
	// URL is the URL that gave this answer (the last hop).
	URL string
	// Location is the answer's Location resolved against URL, for 3xx.
	Location string
	// Body yields the body; a read that waits longer than the idle timeout
	// fails with ErrIdleTimeout. The caller must Close it: that frees the
	// connection and the host slot.
	Body io.ReadCloser
}

func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// Get fetches req.URL. It returns the answer once its headers are in, with
// any status: judging it is the caller's business. Errors: ErrSlowDown (no
// host slot), ErrRefusedAddress (the guard), ErrHeaderTimeout,
// ErrTooManyRedirects, ErrBadRedirect, ctx's error, or a network error.
// Cancelling ctx also aborts reads of the returned Body.
func (c *Client) Get(ctx context.Context, req Request) (*Response, error) {
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("origin URL %q: not an http(s) URL", req.URL)
	}
	// The slot is for the configured origin (the first hop's host): that is
	// the server the cap protects, and whose overload we report.
	release, err := c.acquire(ctx, u.Host)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	resp, err := c.get(ctx, cancel, u, req)
	if err != nil {
		cancel(err)
		release()
		return nil, err
	}
	resp.Body = &body{
		rc:      resp.Body,
		idle:    c.cfg.IdleTimeout,
		ctx:     ctx,
		cancel:  cancel,
		release: release,
	}
	return resp, nil
}

// get follows the hops; the caller holds the slot.
func (c *Client) get(ctx context.Context, cancel context.CancelCauseFunc, u *url.URL, req Request) (*Response, error) {
	header := req.Header.Clone()
	if header == nil {
		header = http.Header{}
	}
	hostOverride := header.Get("Host")
	header.Del("Host")
	header.Del("User-Agent")
	header.Del("Accept-Encoding")
	header.Set("User-Agent", c.userAgent)
	firstHost := u.Host
	for hop := 0; ; hop++ {
		host, sni := "", ""
		if u.Host == firstHost {
			host = hostOverride
			if req.SNI && u.Scheme == "https" {
				sni = hostOverride
			}
		}
		resp, err := c.hop(ctx, cancel, u, header, host, sni)
		if err != nil {
			return nil, err
		}
		out := &Response{
			StatusCode:    resp.StatusCode,
			Header:        resp.Header,
			ContentLength: resp.ContentLength,
			URL:           u.String(),
			Body:          resp.Body,
		}
		loc := resp.Header.Get("Location")
		var next *url.URL
		if loc != "" {
			if next, err = u.Parse(loc); err == nil {
				out.Location = next.String()
			}
		}
		if !req.FollowRedirects || !isRedirect(resp.StatusCode) || loc == "" {
			return out, nil
		}
		discard(resp.Body)
		if next == nil || (next.Scheme != "http" && next.Scheme != "https") || next.Host == "" {
			return nil, fmt.Errorf("%s: Location %q: %w", u.Redacted(), loc, ErrBadRedirect)
		}
		if hop == MaxRedirects {
			return nil, fmt.Errorf("%s: %w", req.URL, ErrTooManyRedirects)
		}
		if next.Host != u.Host {
			// As Go's own client does: cookies meant for one site are not
			// handed to another.
			header.Del("Cookie")
		}
		u = next
	}
}

// hop sends one GET with the header timeout running until its headers are
// in. The timeout cancels ctx (the whole Get) with ErrHeaderTimeout.
func (c *Client) hop(ctx context.Context, cancel context.CancelCauseFunc, u *url.URL, header http.Header, host, sni string) (*http.Response, error) {
	timer := time.AfterFunc(c.cfg.HeaderTimeout, func() { cancel(ErrHeaderTimeout) })
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		timer.Stop()
		return nil, err
	}
	r.Header = header.Clone()
	if host != "" {
		r.Host = host
	}
	resp, err := c.transport(sni).RoundTrip(r)
	fired := !timer.Stop()
	if err == nil && fired {
		// The timer fired just as the headers arrived: the body would fail
		// at once, so report the timeout now.
		resp.Body.Close()
		err = ErrHeaderTimeout
	}
	if err != nil {
		if errors.Is(context.Cause(ctx), ErrHeaderTimeout) {
			err = ErrHeaderTimeout
		}
		return nil, fmt.Errorf("GET %s: %w", u.Redacted(), err)
	}
	return resp, nil
}

// discard reads a little of a body we do not use, so its connection can be
// reused, and closes it.
func discard(rc io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, rc, 4<<10)
	rc.Close()
}

// body enforces the idle timeout and frees the slot on Close.
type body struct {
	rc      io.ReadCloser
	idle    time.Duration
	ctx     context.Context
	cancel  context.CancelCauseFunc
	release func()
	timer   *time.Timer
	once    sync.Once
}

func (b *body) Read(p []byte) (int, error) {
	if b.timer == nil {
		b.timer = time.AfterFunc(b.idle, func() { b.cancel(ErrIdleTimeout) })
	} else {
		b.timer.Reset(b.idle)
	}
	n, err := b.rc.Read(p)
	b.timer.Stop()
	if err != nil && err != io.EOF && errors.Is(context.Cause(b.ctx), ErrIdleTimeout) {
		return n, ErrIdleTimeout
	}
	return n, err
}

// Close closes the body and frees the host slot; it may be called more than
// once.
func (b *body) Close() error {
	err := b.rc.Close()
	b.once.Do(func() {
		if b.timer != nil {
			b.timer.Stop()
		}
		b.cancel(context.Canceled)
		b.release()
	})
	return err
}
