// Package server wires a mirrorstore server together: the storage engine,
// credentials, the S3 handler and the HTTP server with its timeouts, TLS and
// graceful shutdown. cmd/mirrorstore parses flags into a Config and calls
// Run; tests call Start to get a running server on 127.0.0.1:0.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"mirrorstore/internal/auth"
	"mirrorstore/internal/metrics"
	"mirrorstore/internal/mirror"
	"mirrorstore/internal/origin"
	"mirrorstore/internal/s3api"
	"mirrorstore/internal/store"
)

// Config is everything the server needs.
type Config struct {
	// Addr is the listen address (":9000").
	Addr string
	// Backend selects the storage: the embedded engine in DataDir (the
	// default) or an S3-compatible cluster.
	Backend BackendConfig
	// DataDir holds the embedded engine's files and the generated
	// credentials.
	DataDir string
	// CacheSize is the embedded engine's metadata block cache in bytes,
	// which holds small objects' bytes too (0 means
	// local.DefaultCacheBytes).
	CacheSize int64
	// AccessKey and SecretKey are the root credential; when both are
	// empty a pair is generated once and kept in DataDir.
	AccessKey, SecretKey string
	// UsersFile, when set, names a JSON or YAML file of further
	// credentials; ReloadUsers (SIGHUP under Run) reads it again.
	UsersFile string
	// Domain enables virtual-host addressing: "bucket.<Domain>".
	Domain string
	// TLSCert and TLSKey, when set, serve HTTPS. ReloadTLS (SIGHUP under
	// Run) reads them again.
	TLSCert, TLSKey string
	// MaxRequests caps the requests served at once (503 SlowDown past
	// it; the /-/ endpoints are exempt); 0 means no cap.
	MaxRequests int
	// StatusPublic serves /-/status without credentials.
	StatusPublic bool
	// ShutdownTimeout bounds how long in-flight requests may run after a
	// shutdown starts.
	ShutdownTimeout time.Duration
	// ReadHeaderTimeout bounds how long a client may take to send a
	// request's headers (10 s when zero), so a slow client cannot hold a
	// connection open without ever making a request.
	ReadHeaderTimeout time.Duration
	// BodyIdleTimeout bounds the wait for the next bytes of a request
	// body (400 RequestTimeout past it); 20 s when zero.
	BodyIdleTimeout time.Duration
	// IdleTimeout closes a kept-alive connection that sends no next
	// request for that long (DefaultIdleTimeout when zero).
	IdleTimeout time.Duration
	// UsageScanInterval is how often a backend that keeps no per-bucket
	// counts (--backend s3) is listed to count its objects and bytes:
	// the next scan starts this long after the previous one ended. Zero
	// means never (the embedded engine keeps exact counts and ignores it).
	UsageScanInterval time.Duration
	// Logger receives the request log and server events.
	Logger *slog.Logger
	// Mirror configures the fills of Mirror rules.
	Mirror MirrorConfig
	// Out receives the human-readable start-up lines (endpoint, generated
	// credentials); nil discards them.
	Out io.Writer
}

// DefaultReadHeaderTimeout is Config.ReadHeaderTimeout when unset.
const DefaultReadHeaderTimeout = 10 * time.Second

// DefaultIdleTimeout is Config.IdleTimeout when unset.
const DefaultIdleTimeout = 120 * time.Second

// Server is a running mirrorstore server.
type Server struct {
	cfg     Config
	backend store.Backend
	http    *http.Server
	ln      net.Listener
	keys    *auth.Keyring
	url     string
	served  chan error
	mirror  *mirror.Manager
	origin  *origin.Client
	metrics *metrics.Metrics
	scan    *usageScanner
	cert    *certReloader

	shutdownOnce sync.Once
	shutdownErr  error
}

// Start opens the engine, loads or creates the credentials, listens on
// cfg.Addr and serves in the background. The caller must call Shutdown.
func Start(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.ReadHeaderTimeout <= 0 {
		cfg.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	root, generated, err := loadRootCredential(cfg)
	if err != nil {
		return nil, err
	}
	var tlsConfig *tls.Config
	var cert *certReloader
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		if cfg.TLSCert == "" || cfg.TLSKey == "" {
			return nil, errors.New("--tls-cert and --tls-key go together")
		}
		if cert, err = newCertReloader(cfg.TLSCert, cfg.TLSKey); err != nil {
			return nil, err
		}
		tlsConfig = &tls.Config{GetCertificate: cert.GetCertificate, MinVersion: tls.VersionTLS12}
	}

	backend, err := openBackend(cfg)
	if err != nil {
		return nil, fmt.Errorf("open engine: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		backend.Close()
		return nil, err
	}
	scheme := "http"
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
		scheme = "https"
	}

	var users []auth.Credential
	if cfg.UsersFile != "" {
		if users, err = loadUsers(cfg.UsersFile, root.AccessKey); err != nil {
			ln.Close()
			backend.Close()
			return nil, fmt.Errorf("--users: %w", err)
		}
	}
	// Every request, the mirror's commits included, goes through counted.
	met, counted, scan := newMetrics(backend, cfg.UsageScanInterval, cfg.Logger)
	mirrorLog := slog.New(originErrors{Handler: cfg.Logger.Handler(), m: met})
	mgr, oc, err := startMirror(cfg.Mirror, cfg.DataDir, counted, mirrorLog, mirrorMetrics{met})
	if err != nil {
		scan.Close()
		ln.Close()
		backend.Close()
		return nil, err
	}
	keys := auth.NewKeyring(root, users...)
	handler := s3api.New(s3api.Config{
		Backend:  counted,
		Auth:     auth.NewVerifier(keys),
		Keys:     keys,
		Logger:   cfg.Logger,
		Domain:   cfg.Domain,
		OwnHosts: ownHosts(ln.Addr()),
		Mirror:   mgr,
		Ops:      s3api.Ops{Metrics: met, StatusPublic: cfg.StatusPublic, MaxRequests: cfg.MaxRequests},

		BodyIdleTimeout: cfg.BodyIdleTimeout,
	})
	s := &Server{
		cfg:     cfg,
		backend: backend,
		ln:      ln,
		keys:    keys,
		url:     scheme + "://" + endpointHost(ln.Addr()),
		served:  make(chan error, 1),
		mirror:  mgr,
		origin:  oc,
		metrics: met,
		scan:    scan,
		cert:    cert,
		http: &http.Server{
			Handler: handler,
			// Slow clients cannot hold a connection open before sending
			// their headers, nor idle forever between requests. Bodies and
			// answers have no overall deadline: objects may be gigabytes.
			ReadHeaderTimeout: cfg.ReadHeaderTimeout,
			IdleTimeout:       cfg.IdleTimeout,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
		},
	}

	fmt.Fprintf(cfg.Out, "mirrorstore serving S3 at %s (%s)\n", s.url, storageDescription(cfg))
	if generated {
		fmt.Fprintf(cfg.Out, "generated credentials, kept in %s:\n  access key: %s\n  secret key: %s\n",
			credentialsPath(cfg.DataDir), root.AccessKey, root.SecretKey)
	} else if cfg.AccessKey == "" {
		fmt.Fprintf(cfg.Out, "access key %s (credentials from %s)\n", root.AccessKey, credentialsPath(cfg.DataDir))
	}
	cfg.Logger.Info("server started", "endpoint", s.url, "data", cfg.DataDir)

	go func() { s.served <- s.http.Serve(ln) }()
	return s, nil
}

// endpointHost names a listener's address the way a client should dial it:
// an unspecified address (":9000") becomes 127.0.0.1.
func endpointHost(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	if tcp.IP == nil || tcp.IP.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", fmt.Sprint(tcp.Port))
	}
	return tcp.String()
}

// ownHosts lists the names and addresses the server answers to, which
// never address a bucket by the Host header.
func ownHosts(a net.Addr) []string {
	hosts := []string{"localhost"}
	if name, err := os.Hostname(); err == nil {
		hosts = append(hosts, name)
	}
	if tcp, ok := a.(*net.TCPAddr); ok && tcp.IP != nil && !tcp.IP.IsUnspecified() {
		hosts = append(hosts, tcp.IP.String())
	}
	return hosts
}

// ReloadUsers reads Config.UsersFile again and swaps the non-root
// credentials at once. On any error the current set stays in force.
func (s *Server) ReloadUsers() error {
	if s.cfg.UsersFile == "" {
		return nil
	}
	users, err := loadUsers(s.cfg.UsersFile, s.keys.Root().AccessKey)
	if err != nil {
		return err
	}
	s.keys.Replace(users)
	s.cfg.Logger.Info("users reloaded", "file", s.cfg.UsersFile, "count", len(users))
	return nil
}

// URL is the server's endpoint, e.g. "http://127.0.0.1:9000".
func (s *Server) URL() string { return s.url }

// Credential is the root credential the server accepts.
func (s *Server) Credential() auth.Credential { return s.keys.Root() }

// Shutdown stops accepting connections, waits for in-flight requests up to
// ctx's deadline, closes what is left, then closes the engine. Later calls
// return the first call's result.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() { s.shutdownErr = s.shutdown(ctx) })
	return s.shutdownErr
}

func (s *Server) shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	if err != nil {
		// The deadline passed: cut the remaining connections so their
		// handlers fail and nothing half-written is committed.
		s.http.Close()
	}
	if serr := <-s.served; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	// Fills outlive the requests that started them: let them commit
	// within what is left of ctx (abandoned after it), before the origin
	// client and the engine they write to go away.
	if merr := s.mirror.Close(ctx); merr != nil {
		err = errors.Join(err, fmt.Errorf("mirror fills: %w", merr))
	}
	s.origin.Close()
	s.scan.Close()
	return errors.Join(err, s.backend.Close())
}

// Run starts the server and serves until ctx is cancelled (a signal), then
// shuts down within cfg.ShutdownTimeout. SIGHUP re-reads cfg.UsersFile and
// the TLS certificate.
func Run(ctx context.Context, cfg Config) error {
	// Caught before the server answers, so a SIGHUP sent once it is ready
	// never meets the default action (exit).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	s, err := Start(cfg)
	if err != nil {
		return err
	}
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case <-hup:
			if err := s.ReloadUsers(); err != nil {
				s.cfg.Logger.Error("users not reloaded; the previous set stays in force", "file", cfg.UsersFile, "err", err)
			}
			if err := s.ReloadTLS(); err != nil {
				s.cfg.Logger.Error("TLS certificate not reloaded; the previous one stays in force", "cert", cfg.TLSCert, "err", err)
			}
		case err := <-s.served:
			// Serve failed on its own; put the error back for Shutdown.
			s.served <- err
			break wait
		}
	}
	s.cfg.Logger.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	return s.Shutdown(sctx)
}
