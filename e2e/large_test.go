//go:build large

package e2e

import (
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// largeSize is past every client's multipart threshold many times over:
// the aws CLI moves it in thirteen 8 MiB parts.
const largeSize = 100 << 20

// fileSHA256 hashes a file without holding it in memory.
func fileSHA256(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return h.Sum(nil)
}

// TestLargeAWSCLICopy moves 100 MiB up and down with `aws s3 cp`, which
// uploads in parts and downloads in concurrent ranged GETs.
func TestLargeAWSCLICopy(t *testing.T) {
	requireTool(t, awsCLI, "awscli")
	ts := startServer(t, false)
	home, work := t.TempDir(), t.TempDir()
	body := randomData(largeSize)
	up := writeFile(t, work, "large.bin", body)
	runAWS(t, ts, home, "s3", "mb", "s3://large")
	runAWS(t, ts, home, "s3", "cp", up, "s3://large/large.bin")
	if got, want := headETag(t, ts.rootClient(), "large", "large.bin"), multipartETagOf(body, 8<<20); got != want {
		t.Fatalf("ETag %s, want the multipart ETag %s", got, want)
	}
	down := filepath.Join(work, "down.bin")
	runAWS(t, ts, home, "s3", "cp", "s3://large/large.bin", down)
	if !bytes.Equal(fileSHA256(t, down), fileSHA256(t, up)) {
		t.Fatal("the downloaded file differs from the uploaded one")
	}
}
