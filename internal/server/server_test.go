package server

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestGeneratedCredentialsAreKept(t *testing.T) {
	dir := t.TempDir()
	c1, generated, err := loadCredential(dir, "", "")
	if err != nil || !generated || len(c1.AccessKey) != 20 || len(c1.SecretKey) != 40 {
		t.Fatalf("first start: %+v %v %v", c1, generated, err)
	}
	fi, err := os.Stat(credentialsPath(dir))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v %v", fi.Mode(), err)
	}
	c2, generated, err := loadCredential(dir, "", "")
	if err != nil || generated || c2 != c1 {
		t.Fatalf("restart: %+v %v %v", c2, generated, err)
	}
	c3, _, err := loadCredential(dir, "AK", "SK")
	if err != nil || c3.AccessKey != "AK" || c3.SecretKey != "SK" {
		t.Fatalf("given: %+v %v", c3, err)
	}
	if _, _, err := loadCredential(dir, "AK", ""); err == nil {
		t.Fatal("half a credential accepted")
	}
}

func TestRunServesUntilCancelled(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cfg := Config{Addr: "127.0.0.1:0", DataDir: filepath.Join(dir, "data"), ShutdownTimeout: 5 * time.Second, Out: &out}
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(s.URL() + "/-/ready")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("ready: %v %v", resp, err)
	}
	resp.Body.Close()
	if !strings.Contains(out.String(), s.URL()) || !strings.Contains(out.String(), s.Credential().SecretKey) {
		t.Fatalf("start-up lines lack endpoint or generated secret: %q", out.String())
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Run: the same data folder, the kept credential, stopped by ctx.
	out.Reset()
	go func() { done <- Run(ctx, cfg) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "secret") {
		t.Fatalf("a restart printed the secret again: %q", out.String())
	}
}

func TestShutdownTwiceReturns(t *testing.T) {
	s, err := Start(Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), AccessKey: "shutdownkey", SecretKey: "shutdownsecret"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first := s.Shutdown(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(ctx) }()
	select {
	case second := <-done:
		if second != first {
			t.Fatalf("second Shutdown returned %v, the first %v", second, first)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a second Shutdown blocked")
	}
}
