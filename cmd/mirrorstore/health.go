package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

// newHealthCmd checks a running server's /-/healthy, for container health
// checks: the distroless image has no curl or shell. Its flags share the
// server's names, so the same MIRRORSTORE_ADDR and MIRRORSTORE_TLS_CERT that
// configure the server point the check at it.
func newHealthCmd() *cobra.Command {
	var addr, tlsCert string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Check that a server on this host answers /-/healthy (exit 0) or not (exit 1)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return fmt.Errorf("--addr %q: %w", addr, err)
			}
			if host == "" || host == "0.0.0.0" || host == "::" {
				host = "127.0.0.1"
			}
			scheme := "http"
			tr := &http.Transport{}
			if tlsCert != "" {
				scheme = "https"
				// Liveness of the process on this host, not its identity:
				// the certificate names the public host, not 127.0.0.1.
				tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
			}
			url := scheme + "://" + net.JoinHostPort(host, port) + "/-/healthy"
			client := &http.Client{Transport: tr, Timeout: timeout}
			resp, err := client.Get(url)
			if err != nil {
				return fmt.Errorf("%s: %w", url, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: %s", url, resp.Status)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", url)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", ":9000", "the server's listen address")
	f.StringVar(&tlsCert, "tls-cert", "", "set when the server serves HTTPS (the check then uses https)")
	f.DurationVar(&timeout, "timeout", 5*time.Second, "longest wait for the answer")
	return cmd
}
