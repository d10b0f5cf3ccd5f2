package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"mirrorstore/internal/logbuf"
	"mirrorstore/internal/mirror"
	"mirrorstore/internal/reqlog"
	"mirrorstore/internal/server"
	"mirrorstore/internal/store/local"
)

func newServerCmd() *cobra.Command {
	var (
		cfg       server.Config
		logFormat string
	)
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the S3 server",
		Long: `Run the S3 server.

Every flag can also be set by an environment variable: MIRRORSTORE_ and the
flag's name in capitals with '-' as '_' (MIRRORSTORE_DATA, MIRRORSTORE_ADDR).
The root credential comes from MIRRORSTORE_ACCESS_KEY and
MIRRORSTORE_SECRET_KEY; when they are unset, a pair is generated, printed
once and kept in the data folder, so a restart reuses it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// One log line per request goes through a batching writer: a
			// write system call per request would cost as much as a small GET.
			logOut := logbuf.New(os.Stderr, 100*time.Millisecond)
			defer logOut.Close()
			logger, err := newLogger(logFormat, logOut)
			if err != nil {
				return err
			}
			cfg.Logger = logger
			cfg.Out = cmd.OutOrStdout()
			cfg.AccessKey = os.Getenv("MIRRORSTORE_ACCESS_KEY")
			cfg.SecretKey = os.Getenv("MIRRORSTORE_SECRET_KEY")
			cfg.Mirror.Version, _ = buildVersion()
			return server.Run(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	addBackendFlags(f, &cfg.Backend)
	f.StringVar(&cfg.Addr, "addr", ":9000", "address to listen on")
	f.StringVar(&cfg.DataDir, "data", "./data", "folder of the embedded storage engine")
	f.Int64Var(&cfg.CacheSize, "cache-size", local.DefaultCacheBytes, "bytes of memory the embedded engine caches its metadata in, small objects' bytes included (--backend local)")
	f.StringVar(&logFormat, "log-format", "text", "log format: json or text")
	f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long in-flight requests may finish after SIGTERM")
	f.StringVar(&cfg.UsersFile, "users", "", "JSON or YAML (.yaml, .yml) file of further credentials: accessKey, secretKey, displayName; re-read on SIGHUP")
	f.StringVar(&cfg.Domain, "domain", "", "domain for virtual-host addressing (bucket.DOMAIN/key)")
	f.DurationVar(&cfg.Mirror.Timeout, "mirror-timeout", 10*time.Second, "mirror origin connect and header timeout")
	f.DurationVar(&cfg.Mirror.IdleTimeout, "mirror-idle-timeout", 30*time.Second, "longest wait between body reads from a mirror origin")
	f.Int64Var(&cfg.Mirror.MaxSize, "mirror-max-size", mirror.DefaultMaxSize, "largest object a mirror fill stores, in bytes")
	f.IntVar(&cfg.Mirror.Concurrency, "mirror-concurrency", 64, "mirror fills in flight per origin host; past it a fill waits up to --mirror-timeout, then SlowDown")
	f.BoolVar(&cfg.Mirror.AllowPrivate, "mirror-allow-private", false, "let mirror origins resolve to loopback, link-local and private addresses")
	f.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM certificate file; with --tls-key serves HTTPS; re-read on SIGHUP")
	f.StringVar(&cfg.TLSKey, "tls-key", "", "PEM private key file for --tls-cert")
	f.IntVar(&cfg.MaxRequests, "max-requests", 1024, "requests served at once; past it a request gets 503 SlowDown (health, metrics and status are exempt); 0 for no cap")
	f.DurationVar(&cfg.UsageScanInterval, "usage-scan-interval", server.DefaultUsageScanInterval, "with --backend s3, how often the backend is listed to count each bucket's objects and bytes for the metrics and status page (the next scan starts this long after the previous one ended); 0 for never")
	f.BoolVar(&cfg.StatusPublic, "status-public", false, "serve the /-/status page without credentials")
	return cmd
}

// newLogger returns the structured logger writing to out.
func newLogger(format string, out io.Writer) (*slog.Logger, error) {
	switch format {
	case "json":
		// slog's JSON handler, with request lines encoded by hand.
		return slog.New(reqlog.NewJSON(out, nil)), nil
	case "text":
		return slog.New(slog.NewTextHandler(out, nil)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use json or text", format)
}
