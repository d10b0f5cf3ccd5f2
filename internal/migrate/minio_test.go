package migrate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
	"github.com/aws/smithy-go"
)

const (
	minioTestUser     = "migrateminiotest"
	minioTestPassword = "migrateminiotest-secret"
)

// minioTestBinary finds the MinIO server `make tools` installs.
func minioTestBinary(t *testing.T) string {
	t.Helper()
	p := os.Getenv("MIRRORSTORE_TEST_MINIO")
	if p == "" {
		out, err := exec.Command("go", "env", "GOPATH").Output()
		if err != nil {
			t.Fatalf("go env GOPATH: %v", err)
		}
		p = filepath.Join(strings.TrimSpace(string(out)), "bin", "minio")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("MinIO server not found at %s: run `make tools` (or set MIRRORSTORE_TEST_MINIO): %v", p, err)
	}
	return p
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startMinio runs a MinIO server on loopback over a temp folder until the
// test ends and returns its endpoint URL.
func startMinio(t *testing.T) string {
	t.Helper()
	bin := minioTestBinary(t)
	dir := t.TempDir()
	addr, console := freeLoopbackAddr(t), freeLoopbackAddr(t)
	cmd := exec.Command(bin, "server", filepath.Join(dir, "data"), "--address", addr, "--console-address", console, "--quiet")
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+minioTestUser, "MINIO_ROOT_PASSWORD="+minioTestPassword, "MINIO_BROWSER=off")
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	// A test binary that dies past its -timeout never runs its cleanups:
	// MinIO goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return "http://" + addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("MinIO at %s not ready within a minute: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// createBucket creates a bucket on a MinIO startMinio started. A MinIO
// that just said it is ready may still answer 503
// XMinioServerNotInitialized on a loaded machine (past the SDK's own
// retries); that answer is retried for up to a minute.
func createBucket(t *testing.T, mc *s3.Client, name string) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, err := mc.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)})
		if err == nil {
			return
		}
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "XMinioServerNotInitialized" || time.Now().After(deadline) {
			t.Fatalf("create MinIO bucket %s: %v", name, err)
		}
	}
}

// TestMinioSource migrates a prefix of a real foreign S3 store (MinIO):
// every object arrives byte-identical with its content headers, the large
// one by multipart, and nothing outside the prefix is copied.
func TestMinioSource(t *testing.T) {
	ep := startMinio(t)
	ctx := context.Background()
	mc := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(ep), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(minioTestUser, minioTestPassword, "")})
	createBucket(t, mc, "legacy")
	type src struct {
		body                                              []byte
		ctype, cache, disposition, encoding, language, ex string
	}
	objs := map[string]src{
		"assets/index.html":             {body: []byte("<h1>legacy</h1>"), ctype: "text/html; charset=utf-8", cache: "no-cache"},
		"assets/css/site.css":           {body: []byte("body{color:red}"), ctype: "text/css", cache: "public, max-age=31536000, immutable"},
		"assets/js/app.js.gz":           {body: []byte("\x1f\x8b\x08 not really gzip"), ctype: "application/javascript", encoding: "gzip", cache: "max-age=600"},
		"assets/img/deep/er/logo.png":   {body: pattern(70_000, 5), ctype: "image/png", disposition: `inline; filename="logo.png"`},
		"assets/docs/été/guide.pdf":     {body: pattern(3000, 6), ctype: "application/pdf", language: "fr", ex: "Thu, 01 Dec 2033 16:00:00 GMT"},
		"assets/empty.txt":              {body: []byte{}, ctype: "text/plain"},
		"assets/video/big.bin":          {body: pattern(2*partSize+777, 7), ctype: "application/octet-stream", cache: "max-age=60"},
		"assets/data/nested/a/b/c.json": {body: []byte(`{"n":1}`), ctype: "application/json"},
	}
	for k, o := range objs {
		in := &s3.PutObjectInput{Bucket: aws.String("legacy"), Key: aws.String(k), Body: bytes.NewReader(o.body), ContentType: aws.String(o.ctype)}
		if o.cache != "" {
			in.CacheControl = aws.String(o.cache)
		}
		if o.disposition != "" {
			in.ContentDisposition = aws.String(o.disposition)
		}
		if o.encoding != "" {
			in.ContentEncoding = aws.String(o.encoding)
		}
		if o.language != "" {
			in.ContentLanguage = aws.String(o.language)
		}
		if o.ex != "" {
			ex, err := time.Parse(http.TimeFormat, o.ex)
			if err != nil {
				t.Fatal(err)
			}
			in.Expires = aws.Time(ex)
		}
		if _, err := mc.PutObject(ctx, in); err != nil {
			t.Fatalf("put %s into MinIO: %v", k, err)
		}
	}
	// Outside the prefix: never copied.
	for _, k := range []string{"other/x.txt", "assetsX/y.txt"} {
		if _, err := mc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("legacy"), Key: aws.String(k), Body: strings.NewReader("no")}); err != nil {
			t.Fatal(err)
		}
	}

	srv := startServer(t)
	dc := newClient(srv, nil)
	mkBucket(t, dc, "new")
	sum, err := Run(ctx, Config{Source: NewS3Source(mc, "legacy", "assets/"), Client: dc, Bucket: "new", PartSize: partSize, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Copied != len(objs) || sum.Failed != 0 || sum.Skipped != 0 {
		t.Fatalf("summary %+v", sum)
	}
	keys := keysOf(t, dc, "new")
	if len(keys) != len(objs) {
		t.Errorf("bucket holds %d keys, want %d: %v", len(keys), len(objs), keys)
	}
	for k, want := range objs {
		got, out := get(t, dc, "new", k)
		if !bytes.Equal(got, want.body) {
			t.Errorf("%s: %d bytes back, differ from the %d in MinIO", k, len(got), len(want.body))
		}
		check := func(name, got, want string) {
			if got != want {
				t.Errorf("%s: %s %q, want %q", k, name, got, want)
			}
		}
		check("Content-Type", aws.ToString(out.ContentType), want.ctype)
		check("Cache-Control", aws.ToString(out.CacheControl), want.cache)
		check("Content-Disposition", aws.ToString(out.ContentDisposition), want.disposition)
		check("Content-Encoding", aws.ToString(out.ContentEncoding), want.encoding)
		check("Content-Language", aws.ToString(out.ContentLanguage), want.language)
		check("Expires", aws.ToString(out.ExpiresString), want.ex)
		if k == "assets/video/big.bin" && !strings.HasSuffix(aws.ToString(out.ETag), `-3"`) {
			t.Errorf("big.bin ETag %s: want a 3-part multipart ETag", aws.ToString(out.ETag))
		}
	}

	// A rerun finds everything in place and copies nothing.
	again, err := Run(ctx, Config{Source: NewS3Source(mc, "legacy", "assets/"), Client: dc, Bucket: "new", PartSize: partSize})
	if err != nil {
		t.Fatal(err)
	}
	if again.Copied != 0 || again.Skipped != len(objs) {
		t.Errorf("rerun: %s", fmt.Sprintf("%+v", again))
	}
}
