package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mirrorstore/internal/testcert"
)

// healthOver sends GET /-/healthy on an open connection and checks the
// answer.
func healthOver(t *testing.T, conn *tls.Conn, br *bufio.Reader) {
	t.Helper()
	if _, err := io.WriteString(conn, "GET /-/healthy HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("health: %s", resp.Status)
	}
}

func TestTLSReloadKeepsConnections(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := testcert.Write(t, "first", certFile, keyFile)
	s, err := Start(Config{Addr: "127.0.0.1:0", DataDir: filepath.Join(dir, "data"), AccessKey: "AK", SecretKey: "SK",
		TLSCert: certFile, TLSKey: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	addr := strings.TrimPrefix(s.URL(), "https://")
	dial := func() (*tls.Conn, *bufio.Reader) {
		t.Helper()
		// The test checks which certificate is served, not who signed it.
		conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn, bufio.NewReader(conn)
	}
	served := func(c *tls.Conn) string { return c.ConnectionState().PeerCertificates[0].Subject.CommonName }

	old, oldBR := dial()
	healthOver(t, old, oldBR)
	if served(old) != first.Subject.CommonName {
		t.Fatalf("served %q", served(old))
	}

	testcert.Write(t, "second", certFile, keyFile)
	if err := s.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	fresh, freshBR := dial()
	healthOver(t, fresh, freshBR)
	if served(fresh) != "second" {
		t.Fatalf("after reload a new connection got %q", served(fresh))
	}
	// The connection made before the reload is still up and serving.
	healthOver(t, old, oldBR)

	// A broken pair is refused and the current one stays.
	if err := os.WriteFile(keyFile, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.ReloadTLS(); err == nil {
		t.Fatal("a broken key pair was accepted")
	}
	again, againBR := dial()
	healthOver(t, again, againBR)
	if served(again) != "second" {
		t.Fatalf("after a failed reload: %q", served(again))
	}
}

func TestReloadTLSWithoutTLS(t *testing.T) {
	s := &Server{}
	if err := s.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
}
