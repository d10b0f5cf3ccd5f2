package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"

	"mirrorstore/internal/metrics"
	"mirrorstore/internal/mirror"
	"mirrorstore/internal/store"
)

// mirrorMetrics adapts metrics.Metrics to mirror.Metrics (metrics imports
// nothing, so the adapter lives in the wiring).
type mirrorMetrics struct{ *metrics.Metrics }

// FillResult implements mirror.Metrics.
func (m mirrorMetrics) FillResult(r mirror.Result) { m.MirrorFill(string(r)) }

var _ mirror.Metrics = mirrorMetrics{}

// countingBackend keeps the per-bucket object and byte counts of the
// metrics up to date from the writes that pass through it (client writes
// and mirror fills alike), without ever scanning the store. Each write
// first reads the size it replaces, one metadata lookup; concurrent writes
// of one key can make the counts drift by that key's size.
type countingBackend struct {
	store.Backend
	m *metrics.Metrics
}

// before returns the size an object has, and whether it exists. An
// unavailable store is an error: the write would only fail the same way
// after a second wait, doubling a client's wait on a stalled cluster.
func (b countingBackend) before(ctx context.Context, bucket, key string) (int64, bool, error) {
	info, err := b.Backend.HeadObject(ctx, bucket, key)
	if errors.Is(err, store.ErrUnavailable) {
		return 0, false, err
	}
	if err != nil {
		return 0, false, nil
	}
	return info.Size, true, nil
}

func (b countingBackend) wrote(bucket string, oldSize int64, existed bool, newSize int64) {
	if existed {
		b.m.Stored(bucket, 0, newSize-oldSize)
	} else {
		b.m.Stored(bucket, 1, newSize)
	}
}

func (b countingBackend) PutObject(ctx context.Context, bucket, key string, body io.Reader, opts store.PutOptions) (store.ObjectInfo, error) {
	old, existed, err := b.before(ctx, bucket, key)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	info, err := b.Backend.PutObject(ctx, bucket, key, body, opts)
	if err == nil {
		b.wrote(bucket, old, existed, info.Size)
	}
	return info, err
}

func (b countingBackend) CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []store.CompletePart, cond store.Conditions) (store.ObjectInfo, error) {
	old, existed, err := b.before(ctx, bucket, key)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	info, err := b.Backend.CompleteMultipartUpload(ctx, bucket, key, uploadID, parts, cond)
	if err == nil {
		b.wrote(bucket, old, existed, info.Size)
	}
	return info, err
}

func (b countingBackend) DeleteObject(ctx context.Context, bucket, key string) error {
	old, existed, err := b.before(ctx, bucket, key)
	if err != nil {
		return err
	}
	err = b.Backend.DeleteObject(ctx, bucket, key)
	if err == nil && existed {
		b.m.Stored(bucket, -1, -old)
	}
	return err
}

func (b countingBackend) DeleteBucket(ctx context.Context, bucket string) error {
	err := b.Backend.DeleteBucket(ctx, bucket)
	if err == nil {
		b.m.ForgetBucket(bucket)
	}
	return err
}

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
