package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"mirrorstore/internal/server"
	"mirrorstore/internal/store/s3backend"
)

// backendEnv selects the storage of the servers the e2e helpers start
// (startServer, startMirrorServerWith, startWebsiteServer): unset or
// "local" for the embedded engine; "s3" for one MinIO shared by the test
// binary, each data folder getting a backend bucket of its own, so the same
// tests check that a scale-out node behaves as the local engine does
// (`make test` runs the mirror and website tests this way).
const backendEnv = "MIRRORSTORE_E2E_BACKEND"

// sharedMinio is the MinIO of s3 mode, started on first use and stopped
// by TestMain.
var sharedMinio struct {
	mu       sync.Mutex
	cmd      *exec.Cmd
	dir      string
	endpoint string
	admin    *s3.Client
	logs     bytes.Buffer
	// buckets names the backend bucket of each data folder, so a server
	// restarted over the same folder finds its data again.
	buckets map[string]string
}

func TestMain(m *testing.M) {
	code := m.Run()
	stopSharedMinio()
	os.Exit(code)
}

// testBackend returns the storage for a helper-started server whose data
// folder is dataDir.
func testBackend(t *testing.T, dataDir string) server.BackendConfig {
	t.Helper()
	switch mode := os.Getenv(backendEnv); mode {
	case "", "local":
		return server.BackendConfig{}
	case "s3":
	default:
		t.Fatalf("%s=%q: use local or s3", backendEnv, mode)
	}
	m := &sharedMinio
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		startSharedMinio(t)
	}
	bucket, ok := m.buckets[dataDir]
	if !ok {
		bucket = fmt.Sprintf("e2e-%d", len(m.buckets)+1)
		createBackendBucket(t, m.admin, bucket)
		m.buckets[dataDir] = bucket
	}
	return server.BackendConfig{Kind: "s3", S3: s3backend.Config{
		Endpoint: m.endpoint, Bucket: bucket, AccessKey: scaleoutMinioUser, SecretKey: scaleoutMinioPassword,
	}}
}

// startSharedMinio starts the shared MinIO; sharedMinio.mu is held.
func startSharedMinio(t *testing.T) {
	t.Helper()
	m := &sharedMinio
	dir, err := os.MkdirTemp("", "mirrorstore-e2e-minio-")
	if err != nil {
		t.Fatal(err)
	}
	addr, console := localAddr(t), localAddr(t)
	cmd := exec.Command(minioPath(t), "server", filepath.Join(dir, "data"), "--address", addr, "--console-address", console, "--quiet")
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+scaleoutMinioUser, "MINIO_ROOT_PASSWORD="+scaleoutMinioPassword, "MINIO_BROWSER=off")
	cmd.Stdout, cmd.Stderr = &m.logs, &m.logs
	// Should the test binary die without TestMain's cleanup, MinIO goes
	// with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	m.cmd, m.dir, m.endpoint, m.buckets = cmd, dir, "http://"+addr, map[string]string{}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(m.endpoint + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("shared MinIO not ready: %v\n%s", err, m.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	m.admin = s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(m.endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(scaleoutMinioUser, scaleoutMinioPassword, ""),
	})
}

func stopSharedMinio() {
	m := &sharedMinio
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Kill()
	_ = m.cmd.Wait()
	os.RemoveAll(m.dir)
	m.cmd = nil
}
