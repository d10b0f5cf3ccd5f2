package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"mirrorstore/internal/testcert"
)

// trustingClient is an S3 client for endpoint that trusts only cert, with a
// transport of its own (so its connections are its own).
func trustingClient(endpoint string, cert *x509.Certificate) (*s3.Client, *http.Transport) {
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 1}
	c := s3.New(s3.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       "us-east-1",
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(helperAccessKey, helperSecretKey, ""),
		HTTPClient:   &http.Client{Transport: tr},
		// A refused handshake must fail at once, not be retried.
		RetryMaxAttempts: 1,
	})
	return c, tr
}

// TestServerReloadsCertificateOnSIGHUP runs the real binary with a
// generated certificate, replaces the certificate files and sends the
// process SIGHUP: new connections get the new certificate (a client that
// trusts only the old one can no longer connect), while a connection made
// before the signal keeps serving requests.
func TestServerReloadsCertificateOnSIGHUP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := testcert.Write(t, "first", certFile, keyFile)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	cmd := exec.Command(bin, "server", "--addr", addr, "--data", filepath.Join(dir, "data"),
		"--tls-cert", certFile, "--tls-key", keyFile, "--log-format", "json")
	cmd.Env = append(os.Environ(), "MIRRORSTORE_ACCESS_KEY="+helperAccessKey, "MIRRORSTORE_SECRET_KEY="+helperSecretKey)
	var logs lockedBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	endpoint := "https://" + addr
	ctx := context.Background()

	// The old client: its transport trusts the first certificate only, so
	// after the reload it can work only over the connection it already has.
	old, oldTr := trustingClient(endpoint, first)
	defer oldTr.CloseIdleConnections()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := old.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("tls")})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server never answered over TLS: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := old.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("tls"), Key: aws.String("k"), Body: strings.NewReader("before")}); err != nil {
		t.Fatal(err)
	}

	second := testcert.Write(t, "second", certFile, keyFile)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	served := func() (string, error) {
		conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) // checks which certificate, not who signed it
		if err != nil {
			return "", err
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName, nil
	}
	for {
		cn, err := served()
		if err == nil && cn == "second" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("new connections still get %q (%v) after SIGHUP:\n%s", cn, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Log lines reach stderr in batches, every 100 ms.
	for !strings.Contains(logs.String(), "TLS certificate reloaded") {
		if time.Now().After(deadline) {
			t.Fatalf("the reload was not logged:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The connection made before the signal still serves.
	out, err := old.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("tls"), Key: aws.String("k")})
	if err != nil {
		t.Fatalf("the connection made before SIGHUP: %v", err)
	}
	body, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(body) != "before" {
		t.Fatalf("read %q", body)
	}

	// A new connection trusting only the old certificate is refused; one
	// trusting the new certificate works.
	stale, staleTr := trustingClient(endpoint, first)
	defer staleTr.CloseIdleConnections()
	_, err = stale.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("tls")})
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("a new connection trusting only the old certificate: %v", err)
	}
	fresh, freshTr := trustingClient(endpoint, second)
	defer freshTr.CloseIdleConnections()
	if _, err := fresh.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("tls"), Key: aws.String("k2"), Body: strings.NewReader("after")}); err != nil {
		t.Fatalf("a client trusting the new certificate: %v", err)
	}

	// The process is still the one that started, and stops cleanly.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}
