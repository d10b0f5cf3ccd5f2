package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"mirrorstore/internal/migrate"
	"mirrorstore/internal/server"
)

// TestMigrateBinary runs the built binary end to end: a folder into one
// bucket (exit 0, credentials from the environment), then an HTTP origin
// with a key list on stdin, one key missing (exit 1, report file).
func TestMigrateBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "mirrorstore")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	const ak, sk = "CLIMIGRATEACCESSKEY1", "cli-migrate-secret-key-0123456789"
	srv, err := server.Start(server.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), AccessKey: ak, SecretKey: sk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL()), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(ak, sk, "")})
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("dst")}); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	for k, v := range map[string]string{"a.txt": "A", "sub/b.html": "<b>", "sub/ü.txt": "u"} {
		p := filepath.Join(dir, k)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	state := filepath.Join(t.TempDir(), "state")
	cmd := exec.Command(bin, "migrate", "--endpoint", srv.URL(), "--bucket", "dst", "--state", state, "--concurrency", "2", dir)
	cmd.Env = append(os.Environ(), "MIRRORSTORE_ACCESS_KEY="+ak, "MIRRORSTORE_SECRET_KEY="+sk)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("folder migrate: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "copied 3 objects") {
		t.Errorf("folder migrate output:\n%s", out)
	}
	obj, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("dst"), Key: aws.String("sub/b.html")})
	if err != nil {
		t.Fatal(err)
	}
	obj.Body.Close()
	if !strings.HasPrefix(aws.ToString(obj.ContentType), "text/html") {
		t.Errorf("Content-Type %q", aws.ToString(obj.ContentType))
	}

	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/gone.txt" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "max-age=5")
		w.Write([]byte("from origin " + r.URL.Path))
	}))
	defer origin.Close()
	report := filepath.Join(t.TempDir(), "report.jsonl")
	cmd = exec.Command(bin, "migrate", "--endpoint", srv.URL(), "--bucket", "dst", "--access-key", ak, "--secret-key", sk,
		"--keys", "-", "--allow-private", "--report", report, origin.URL)
	cmd.Stdin = strings.NewReader("web/one.txt\ngone.txt\na.txt\n")
	out, err = cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("http migrate with a missing key: %v, want exit 1\n%s", err, out)
	}
	if !strings.Contains(string(out), "copied 1 objects") || !strings.Contains(string(out), "skipped 1") ||
		!strings.Contains(string(out), `failed "gone.txt"`) {
		t.Errorf("http migrate output:\n%s", out)
	}
	rf, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var lines []migrate.Failure
	sc := bufio.NewScanner(bytes.NewReader(rf))
	for sc.Scan() {
		var f migrate.Failure
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			t.Fatalf("report line %q: %v", sc.Text(), err)
		}
		lines = append(lines, f)
	}
	if len(lines) != 1 || lines[0].Key != "gone.txt" || lines[0].Kind != "failed" || !strings.Contains(lines[0].Error, "404") {
		t.Errorf("report %q", rf)
	}
	obj, err = c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("dst"), Key: aws.String("web/one.txt")})
	if err != nil {
		t.Fatal(err)
	}
	obj.Body.Close()
	if aws.ToString(obj.CacheControl) != "max-age=5" {
		t.Errorf("Cache-Control %q", aws.ToString(obj.CacheControl))
	}

	// Ctrl-C: the run stops, says how to resume, and the rerun with the
	// same --state copies only the rest.
	many := t.TempDir()
	for i := range 60 {
		if err := os.WriteFile(filepath.Join(many, fmt.Sprintf("f%02d", i)), []byte{byte(i)}, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	state2 := filepath.Join(t.TempDir(), "state")
	cmd = exec.Command(bin, "migrate", "--endpoint", srv.URL(), "--bucket", "dst", "--access-key", ak, "--secret-key", sk,
		"--state", state2, "--rate", "30", "--concurrency", "2", many)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for stateLines(state2) < 10 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	err = cmd.Wait()
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(buf.String(), "interrupted; rerun with --state "+state2) {
		t.Fatalf("interrupted run: %v\n%s", err, buf.String())
	}
	done := stateLines(state2)
	cmd = exec.Command(bin, "migrate", "--endpoint", srv.URL(), "--bucket", "dst", "--access-key", ak, "--secret-key", sk,
		"--state", state2, many)
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), fmt.Sprintf("%d done by an earlier run", done)) {
		t.Errorf("resumed run after %d keys: %v\n%s", done, err, out)
	}
	if done >= 60 {
		t.Errorf("the interrupted run finished all %d keys: the test needs a partial run", done)
	}

	// An S3 source, its credentials from the AWS_* variables.
	const sak, ssk = "CLISOURCEACCESSKEY01", "cli-source-secret-key-0123456789"
	src, err := server.Start(server.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), AccessKey: sak, SecretKey: ssk})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Shutdown(context.Background())
	srcClient := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(src.URL()), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(sak, ssk, "")})
	if _, err := srcClient.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("old")}); err != nil {
		t.Fatal(err)
	}
	if _, err := srcClient.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("old"), Key: aws.String("pre/x.css"),
		Body: strings.NewReader("x{}"), ContentType: aws.String("text/css")}); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(bin, "migrate", "--endpoint", srv.URL(), "--bucket", "dst", "--source-endpoint", src.URL(), "s3://old/pre/")
	cmd.Env = append(os.Environ(), "MIRRORSTORE_ACCESS_KEY="+ak, "MIRRORSTORE_SECRET_KEY="+sk,
		"AWS_ACCESS_KEY_ID="+sak, "AWS_SECRET_ACCESS_KEY="+ssk, "AWS_SESSION_TOKEN=")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "copied 1 objects") {
		t.Errorf("s3 source: %v\n%s", err, out)
	}
	obj, err = c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("dst"), Key: aws.String("pre/x.css")})
	if err != nil {
		t.Fatal(err)
	}
	obj.Body.Close()
	if aws.ToString(obj.ContentType) != "text/css" {
		t.Errorf("s3 source Content-Type %q", aws.ToString(obj.ContentType))
	}

	// A dry run lists the keys without fetching them.
	cmd = exec.Command(bin, "migrate", "--endpoint", srv.URL(), "--bucket", "dst", "--access-key", ak, "--secret-key", sk,
		"--keys", "-", "--dry-run", origin.URL)
	cmd.Stdin = strings.NewReader("web/two.txt\n")
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `would copy "web/two.txt" (size unknown)`) {
		t.Errorf("dry run: %v\n%s", err, out)
	}
}

// stateLines counts the keys a state file holds (its lines after the
// header).
func stateLines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return 0
	}
	return bytes.Count(b, []byte("\n")) - 1
}

func TestMigrateFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "/tmp"}, "--endpoint and --bucket"},
		{[]string{"migrate", "--endpoint", "http://x", "--bucket", "b", "/tmp"}, "credentials"},
		{[]string{"migrate", "--endpoint", "http://x", "--bucket", "b", "--access-key", "a", "--secret-key", "s", "http://origin"}, "--keys"},
		{[]string{"migrate", "--endpoint", "http://x", "--bucket", "b", "--access-key", "a", "--secret-key", "s", "--bandwidth", "lots", "/tmp"}, "--bandwidth"},
	} {
		root := newRootCmd()
		root.SetArgs(tc.args)
		root.SetOut(&bytes.Buffer{})
		t.Setenv("MIRRORSTORE_ACCESS_KEY", "")
		t.Setenv("MIRRORSTORE_SECRET_KEY", "")
		os.Unsetenv("MIRRORSTORE_ACCESS_KEY")
		os.Unsetenv("MIRRORSTORE_SECRET_KEY")
		err := root.Execute()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error about %s", tc.args, err, tc.want)
		}
	}
}
