package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines and the
// test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// listBucketsAs sends a ListBuckets signed with accessKey and secret and
// returns the status.
func listBucketsAs(t *testing.T, base, accessKey, secret string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(nil)
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	creds := aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hash, "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestRunReloadsUsersOnSIGHUP sends the process SIGHUP while Run serves:
// a new user in the file works afterwards, and a broken file is logged and
// leaves the users in force.
func TestRunReloadsUsersOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users.json")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(users, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`[{"accessKey":"ALICE","secretKey":"alice-secret"}]`)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var logs syncBuffer
	cfg := Config{
		Addr: addr, DataDir: filepath.Join(dir, "data"), AccessKey: "ROOT", SecretKey: "root-secret",
		UsersFile: users, ShutdownTimeout: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	base := "http://" + addr
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s; log:\n%s", what, logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("ALICE never got in", func() bool { return listBucketsAs(t, base, "ALICE", "alice-secret") == 200 })
	if got := listBucketsAs(t, base, "CAROL", "carol-secret"); got != http.StatusForbidden {
		t.Fatalf("CAROL before the reload: %d", got)
	}

	write(`[{"accessKey":"ALICE","secretKey":"alice-secret"},{"accessKey":"CAROL","secretKey":"carol-secret"}]`)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor("CAROL never got in after SIGHUP", func() bool { return listBucketsAs(t, base, "CAROL", "carol-secret") == 200 })

	write(`[{"accessKey":"CAROL","secretKey":"carol-secret"},{"accessKey":"CAROL","secretKey":"carol-secret"}]`)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor("the broken file was not logged", func() bool { return strings.Contains(logs.String(), "appears twice") })
	if got := listBucketsAs(t, base, "ALICE", "alice-secret"); got != 200 {
		t.Fatalf("ALICE after a broken reload: %d", got)
	}
}
