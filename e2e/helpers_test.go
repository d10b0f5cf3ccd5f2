// Package e2e drives a real mirrorstore server with the clients users run:
// aws-sdk-go-v2, minio-go, Debian's aws CLI and plain net/http.
package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"mirrorstore/internal/server"
	"mirrorstore/internal/testcert"
)

const (
	testAccessKey = "E2EACCESSKEY0000000"
	testSecretKey = "e2e-secret-key/0000000000000000000000000"
)

// testServer is a mirrorstore started in-process on 127.0.0.1:0.
type testServer struct {
	*server.Server
	// client trusts the server's certificate when it serves TLS.
	client *http.Client
}

// startServer starts a server with a temporary data folder and waits until
// /-/ready answers 200. With useTLS it serves HTTPS with a certificate made
// for the test.
func startServer(t *testing.T, useTLS bool) *testServer {
	t.Helper()
	dir := t.TempDir()
	cfg := server.Config{
		Addr:            "127.0.0.1:0",
		DataDir:         filepath.Join(dir, "data"),
		Backend:         testBackend(t, dir),
		AccessKey:       testAccessKey,
		SecretKey:       testSecretKey,
		ShutdownTimeout: 5 * time.Second,
	}
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	if useTLS {
		certFile, keyFile, pool := makeCertificate(t, dir)
		cfg.TLSCert, cfg.TLSKey = certFile, keyFile
		client.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	return startWithClient(t, cfg, client)
}

// startConfigured starts an in-process plain-HTTP server with cfg, waits
// until it is ready, and shuts it down when the test ends.
func startConfigured(t *testing.T, cfg server.Config) *testServer {
	t.Helper()
	return startWithClient(t, cfg, &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()})
}

// startWithClient is startConfigured with the client the tests use to
// reach the server (one trusting a test certificate, say).
func startWithClient(t *testing.T, cfg server.Config, client *http.Client) *testServer {
	t.Helper()
	s, err := server.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		client.CloseIdleConnections()
	})
	waitReady(t, client, s.URL())
	return &testServer{Server: s, client: client}
}

// waitReady polls /-/ready until it answers 200 (no sleeping guesses: each
// try is a real request, spaced by a short ticker, bounded in time).
func waitReady(t *testing.T, client *http.Client, base string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := client.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server at %s not ready: %v", base, err)
		}
		<-tick.C
	}
}

// makeCertificate writes a self-signed certificate for 127.0.0.1 and
// returns its files and a pool that trusts it.
func makeCertificate(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	pool = x509.NewCertPool()
	pool.AddCert(testcert.Write(t, "mirrorstore e2e", certFile, keyFile))
	return certFile, keyFile, pool
}

// sdkClient returns an aws-sdk-go-v2 S3 client with default settings,
// path-style, for the given credentials (nil for anonymous).
func (ts *testServer) sdkClient(creds aws.CredentialsProvider) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(ts.URL()),
		UsePathStyle: true,
		Credentials:  creds,
		HTTPClient:   ts.client,
	})
}

func (ts *testServer) rootClient() *s3.Client {
	return ts.sdkClient(credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""))
}

// apiCode returns the S3 error code of an SDK error ("" when none).
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// httpStatus returns the HTTP status of an SDK error (0 when none).
func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// wantCode fails the test unless err carries the S3 error code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got success, want %s", code)
	}
	if got := apiCode(err); got != code {
		t.Fatalf("got error %v (code %q), want %s", err, got, code)
	}
}
