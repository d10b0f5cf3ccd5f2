package s3backend

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"mirrorstore/internal/store"
	"mirrorstore/internal/store/storetest"
)

const (
	minioUser     = "s3backendtest"
	minioPassword = "s3backendtest-secret"
)

// minioEndpoint is the MinIO server TestMain started for this binary.
var minioEndpoint string

// childEnv marks the child process TestConformance runs the suite in; it
// carries the parent's MinIO endpoint.
const childEnv = "S3BACKEND_CONFORMANCE_MINIO"

func TestMain(m *testing.M) {
	if ep := os.Getenv(childEnv); ep != "" {
		minioEndpoint = ep
		os.Exit(m.Run())
	}
	stop, err := startMinio()
	if err != nil {
		fmt.Fprintln(os.Stderr, "s3backend tests:", err)
		os.Exit(1)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

// minioBinary finds the MinIO server `make tools` installs.
func minioBinary() (string, error) {
	p := os.Getenv("MIRRORSTORE_TEST_MINIO")
	if p == "" {
		out, err := exec.Command("go", "env", "GOPATH").Output()
		if err != nil {
			return "", fmt.Errorf("go env GOPATH: %w", err)
		}
		p = filepath.Join(strings.TrimSpace(string(out)), "bin", "minio")
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("MinIO server not found at %s: run `make tools` (or set MIRRORSTORE_TEST_MINIO): %w", p, err)
	}
	return p, nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startMinio runs one MinIO on a temporary folder and waits until its
// readiness URL answers 200.
func startMinio() (stop func(), err error) {
	bin, err := minioBinary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "s3backend-minio-*")
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	console, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "server", filepath.Join(dir, "data"), "--address", addr, "--console-address", console, "--quiet")
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+minioUser, "MINIO_ROOT_PASSWORD="+minioPassword, "MINIO_BROWSER=off")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	// A test binary that dies past its -timeout never reaches stop:
	// MinIO goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	stop = func() {
		cmd.Process.Kill()
		cmd.Wait()
		os.RemoveAll(dir)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("MinIO at %s not ready within a minute: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	minioEndpoint = "http://" + addr
	return stop, nil
}

var backendSeq atomic.Int64

// newBackend returns a backend over a fresh, empty backend bucket (named
// by process too: the conformance child shares the MinIO).
func newBackend(t *testing.T) *Backend {
	t.Helper()
	b, err := Open(Config{Endpoint: minioEndpoint, Bucket: fmt.Sprintf("s3backend-%d-%d", os.Getpid(), backendSeq.Add(1)), AccessKey: minioUser, SecretKey: minioPassword})
	if err != nil {
		t.Fatal(err)
	}
	// A MinIO that just said it is ready may still answer 503
	// XMinioServerNotInitialized on a loaded machine.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, err := b.client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(b.bucket)})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("create backend bucket: %v", err)
		}
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// minioFailures are the conformance cases MinIO cannot pass, with the text
// their failure must show. Both come from MinIO keeping each object as a
// directory on its drives, not from this backend; AWS S3 takes both.
var minioFailures = map[string]string{
	// MinIO refuses keys with an empty, "." or ".." path segment or a
	// leading slash (a//b, a/./b, ../x, /x, //), and path segments over
	// 255 bytes (the 1024-byte key): XMinioInvalidObjectName.
	// (With the b/<bucket>/ prefix, a 1024-byte key would also pass the
	// backend's own 1024-byte limit, on any S3.)
	"Object/Keys": "XMinioInvalidObjectName",
	// With both "a" and "a/b" stored, MinIO lists "a" and hides "a/b".
	"List/ByteOrder": `order = ["A" "a" "a-" "a/" "a0"`,
}

// TestConformance runs the storetest suite against MinIO in a child
// process, then checks each case's outcome: every case passes but those in
// minioFailures, which must still fail for their known reason (so a MinIO
// that lifts a limit, or a backend regression, turns this test red).
func TestConformance(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		storetest.Run(t, func(t *testing.T) store.Backend { return newBackend(t) })
		return
	}
	args := []string{"-test.run=^TestConformance$", "-test.v", "-test.count=1"}
	if d, ok := t.Deadline(); ok {
		args = append(args, "-test.timeout="+time.Until(d).Round(time.Second).String())
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), childEnv+"="+minioEndpoint)
	out, _ := cmd.CombinedOutput()
	results := parseResults(string(out))
	if len(results) < 30 {
		t.Fatalf("the conformance run reported %d cases:\n%s", len(results), out)
	}
	for name, r := range results {
		t.Run(name, func(t *testing.T) {
			want, known := minioFailures[name]
			switch {
			case !known && !r.passed:
				t.Errorf("failed:\n%s", r.output)
			case known && r.passed:
				t.Errorf("passes on this MinIO: remove it from minioFailures")
			case known && !strings.Contains(r.output, want):
				t.Errorf("fails for another reason than %q:\n%s", want, r.output)
			}
		})
	}
	for name := range minioFailures {
		if _, ok := results[name]; !ok {
			t.Errorf("known MinIO failure %s did not run", name)
		}
	}
}

type caseResult struct {
	passed bool
	output string
}

// parseResults reads `go test -v` output: each TestConformance/<case>'s
// verdict line and the lines logged while it ran (under its === RUN, NAME
// or CONT header).
func parseResults(out string) map[string]*caseResult {
	results := map[string]*caseResult{}
	get := func(name string) *caseResult {
		name, _, _ = strings.Cut(name, " (")
		if results[name] == nil {
			results[name] = &caseResult{}
		}
		return results[name]
	}
	var cur *caseResult
	for _, line := range strings.Split(out, "\n") {
		trimmed := strings.TrimSpace(line)
		header := false
		for _, h := range []string{"=== RUN   ", "=== NAME  ", "=== CONT  ", "--- PASS: ", "--- FAIL: "} {
			rest, ok := strings.CutPrefix(trimmed, h)
			if !ok {
				continue
			}
			header, cur = true, nil
			if name, ok := strings.CutPrefix(rest, "TestConformance/"); ok {
				cur = get(name)
				if h == "--- PASS: " {
					cur.passed = true
				}
			}
		}
		if !header && cur != nil && trimmed != "" {
			cur.output += trimmed + "\n"
		}
	}
	return results
}
