package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// awsCLI is Debian's aws CLI v2, by full path: the first aws on PATH may
// be another. CI installs it (scripts/install-debian-deps.sh).
const awsCLI = "/usr/bin/aws"

// runAWS runs the aws CLI against ts with an environment built from
// scratch, so no ambient profile, region or CA bundle leaks in.
func runAWS(t *testing.T, ts *testServer, home string, args ...string) string {
	t.Helper()
	cmd := exec.Command(awsCLI, append([]string{"--endpoint-url", ts.URL(), "--no-cli-pager"}, args...)...)
	cmd.Env = []string{
		"PATH=/usr/bin:/bin",
		"HOME=" + home,
		"AWS_ACCESS_KEY_ID=" + testAccessKey,
		"AWS_SECRET_ACCESS_KEY=" + testSecretKey,
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("aws %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func TestAWSCLI(t *testing.T) {
	if _, err := os.Stat(awsCLI); err != nil {
		t.Fatalf("the aws CLI is required at %s (Debian package awscli; scripts/install-debian-deps.sh installs it): %v", awsCLI, err)
	}
	ts := startServer(t, false)
	home := t.TempDir()
	work := t.TempDir()
	write := func(rel, content string) string {
		p := filepath.Join(work, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		// Last-Modified has second precision, so a file written in the
		// same second as its upload would look newer to sync than its copy.
		old := time.Now().Add(-time.Hour)
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
		return p
	}

	runAWS(t, ts, home, "s3", "mb", "s3://cli")
	up := write("up/hello.txt", "hello from the aws cli\n")
	runAWS(t, ts, home, "s3", "cp", up, "s3://cli/dir/hello.txt")
	down := filepath.Join(work, "down.txt")
	runAWS(t, ts, home, "s3", "cp", "s3://cli/dir/hello.txt", down)
	if b, err := os.ReadFile(down); err != nil || string(b) != "hello from the aws cli\n" {
		t.Fatalf("downloaded %q, %v", b, err)
	}
	if out := runAWS(t, ts, home, "s3", "ls", "s3://cli", "--recursive"); !strings.Contains(out, "dir/hello.txt") {
		t.Fatalf("ls: %q", out)
	}

	write("site/index.html", "<h1>home</h1>")
	write("site/img/a b.png", "png")
	write("site/css/site.css", "body{}")
	runAWS(t, ts, home, "s3", "sync", filepath.Join(work, "site"), "s3://cli/site")
	out := runAWS(t, ts, home, "s3", "ls", "s3://cli/site/", "--recursive")
	for _, k := range []string{"site/index.html", "site/img/a b.png", "site/css/site.css"} {
		if !strings.Contains(out, k) {
			t.Fatalf("sync left out %s: %q", k, out)
		}
	}
	// A second sync has nothing to copy.
	if out := runAWS(t, ts, home, "s3", "sync", filepath.Join(work, "site"), "s3://cli/site"); strings.Contains(out, "upload:") {
		t.Fatalf("second sync uploaded again: %q", out)
	}
	back := filepath.Join(work, "back")
	runAWS(t, ts, home, "s3", "sync", "s3://cli/site", back)
	if b, err := os.ReadFile(filepath.Join(back, "img", "a b.png")); err != nil || string(b) != "png" {
		t.Fatalf("sync down: %q %v", b, err)
	}

	body := write("api.bin", "s3api body")
	out = runAWS(t, ts, home, "s3api", "put-object", "--bucket", "cli", "--key", "api/o.bin", "--body", body,
		"--content-type", "text/x-test", "--metadata", "who=cli")
	if !strings.Contains(out, md5hex([]byte("s3api body"))) {
		t.Fatalf("put-object: %q", out)
	}
	out = runAWS(t, ts, home, "s3api", "head-object", "--bucket", "cli", "--key", "api/o.bin")
	if !strings.Contains(out, `"ContentType": "text/x-test"`) || !strings.Contains(out, `"who": "cli"`) {
		t.Fatalf("head-object: %q", out)
	}
	got := filepath.Join(work, "got.bin")
	runAWS(t, ts, home, "s3api", "get-object", "--bucket", "cli", "--key", "api/o.bin", got)
	if b, err := os.ReadFile(got); err != nil || string(b) != "s3api body" {
		t.Fatalf("get-object: %q %v", b, err)
	}
	out = runAWS(t, ts, home, "s3api", "list-objects-v2", "--bucket", "cli", "--prefix", "api/")
	if !strings.Contains(out, `"Key": "api/o.bin"`) {
		t.Fatalf("list-objects-v2: %q", out)
	}

	runAWS(t, ts, home, "s3", "rm", "s3://cli/dir/hello.txt")
	runAWS(t, ts, home, "s3", "rm", "s3://cli", "--recursive")
	if out := runAWS(t, ts, home, "s3", "ls", "s3://cli", "--recursive"); strings.TrimSpace(out) != "" {
		t.Fatalf("bucket not empty after rm --recursive: %q", out)
	}
	runAWS(t, ts, home, "s3", "rb", "s3://cli")
}
