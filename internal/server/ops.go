package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"sync/atomic"

	"mirrorstore/internal/metrics"
	"mirrorstore/internal/mirror"
)

// mirrorMetrics adapts metrics.Metrics to mirror.Metrics (metrics imports
// nothing, so the adapter lives in the wiring).
type mirrorMetrics struct{ *metrics.Metrics }

// FillResult implements mirror.Metrics.
func (m mirrorMetrics) FillResult(r mirror.Result) { m.MirrorFill(string(r)) }

var _ mirror.Metrics = mirrorMetrics{}

// originErrors is the mirror's log handler: it passes every record on, and
// records those that report a failure (they carry an "err" attribute, or
// the "status" of an origin answer that made a fill fail over) in the
// status page's ring of origin errors.
type originErrors struct {
	slog.Handler
	m *metrics.Metrics
}

func (h originErrors) Enabled(context.Context, slog.Level) bool { return true }

func (h originErrors) Handle(ctx context.Context, r slog.Record) error {
	e := metrics.OriginError{Time: r.Time}
	var cause string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "bucket":
			e.Bucket = a.Value.String()
		case "key":
			e.Key = a.Value.String()
		case "url":
			e.URL = a.Value.String()
		case "err":
			cause = a.Value.String()
		case "status":
			if cause == "" {
				cause = "origin answered " + a.Value.String()
			}
		}
		return true
	})
	if cause != "" {
		e.Message = r.Message + ": " + cause
		h.m.OriginError(e)
	}
	if h.Handler.Enabled(ctx, r.Level) {
		return h.Handler.Handle(ctx, r)
	}
	return nil
}

func (h originErrors) WithAttrs(as []slog.Attr) slog.Handler {
	return originErrors{Handler: h.Handler.WithAttrs(as), m: h.m}
}

func (h originErrors) WithGroup(name string) slog.Handler {
	return originErrors{Handler: h.Handler.WithGroup(name), m: h.m}
}

// certReloader serves the TLS certificate of a key pair's files and loads
// them again on Reload. Handshakes read the current certificate through
// GetCertificate, so a reload never touches a connection already up.
type certReloader struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
}

func newCertReloader(certFile, keyFile string) (*certReloader, error) {
	c := &certReloader{certFile: certFile, keyFile: keyFile}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload reads the files again; on any error the current certificate stays.
func (c *certReloader) Reload() error {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate: %w", err)
	}
	c.cert.Store(&cert)
	return nil
}

func (c *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cert.Load(), nil
}

// ReloadTLS reads the certificate and key files again (SIGHUP under Run).
// New handshakes use the new pair; open connections keep theirs. On error
// the current pair stays in force. Without TLS it does nothing.
func (s *Server) ReloadTLS() error {
	if s.cert == nil {
		return nil
	}
	if err := s.cert.Reload(); err != nil {
		return err
	}
	s.cfg.Logger.Info("TLS certificate reloaded", "cert", s.cert.certFile)
	return nil
}

// Metrics is the server's collectors, served at /-/metrics.
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }
