package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"
)

// The Debian clients, by full path: the first one on PATH may be another.
const (
	rcloneBin  = "/usr/bin/rclone"
	s3cmdBin   = "/usr/bin/s3cmd"
	python3Bin = "/usr/bin/python3"
)

// Sizes that force multipart in every client while keeping the -race run
// short: each is above the client's threshold as the tests configure it
// (aws CLI 8 MiB by default, the others 5 MiB).
const (
	mpSize      = 17 << 20 // aws CLI: 8 + 8 + 1 MiB
	mpSmallSize = 12 << 20 // 5 MiB parts: 5 + 5 + 2 MiB
)

// requireTool fails (never skips) when a client the suite drives is missing.
func requireTool(t *testing.T, path, pkg string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s is required (Debian package %s; scripts/install-debian-deps.sh installs it): %v", path, pkg, err)
	}
}

// clientEnv is the environment of a client subprocess, built from scratch:
// nothing ambient (AWS_CA_BUNDLE, profiles, proxies) reaches the client.
func clientEnv(home string, extra ...string) []string {
	return append([]string{
		"PATH=/usr/bin:/bin",
		"HOME=" + home,
		"AWS_ACCESS_KEY_ID=" + testAccessKey,
		"AWS_SECRET_ACCESS_KEY=" + testSecretKey,
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_REGION=us-east-1",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	}, extra...)
}

// runClient runs a client and returns its stdout; a non-zero exit fails
// the test with everything the client said.
func runClient(t *testing.T, env []string, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(bin), strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// writeFile writes content at dir/rel with a modification time an hour
// ago: Last-Modified has second precision, so a file written in the same
// second as its upload would look newer to sync tools than its copy.
func writeFile(t *testing.T, dir, rel string, content []byte) string {
	t.Helper()
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	return p
}

func randomData(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// sameFile fails unless the file at path holds want.
func sameFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes differ from the %d uploaded", path, len(got), len(want))
	}
}

// multipartETagOf is S3's ETag of body uploaded in parts of partSize.
func multipartETagOf(body []byte, partSize int) string {
	var sums []byte
	n := 0
	for off := 0; off < len(body); off += partSize {
		s := md5.Sum(body[off:min(off+partSize, len(body))])
		sums = append(sums, s[:]...)
		n++
	}
	s := md5.Sum(sums)
	return fmt.Sprintf("%s-%d", hex.EncodeToString(s[:]), n)
}

// headETag returns an object's unquoted ETag as the SDK sees it.
func headETag(t *testing.T, c *s3.Client, bucket, key string) string {
	t.Helper()
	out, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("head %s/%s: %v", bucket, key, err)
	}
	return strings.Trim(aws.ToString(out.ETag), `"`)
}

// TestAWSCLIMultipart drives Debian's aws CLI through multipart uploads and
// downloads (cp and sync of files above its 8 MiB threshold) and presigned
// URLs.
func TestAWSCLIMultipart(t *testing.T) {
	requireTool(t, awsCLI, "awscli")
	ts := startServer(t, false)
	home, work := t.TempDir(), t.TempDir()
	sdk := ts.rootClient()

	runAWS(t, ts, home, "s3", "mb", "s3://climp")
	big := randomData(mpSize)
	up := writeFile(t, work, "big.bin", big)
	runAWS(t, ts, home, "s3", "cp", up, "s3://climp/big.bin")
	if got, want := headETag(t, sdk, "climp", "big.bin"), multipartETagOf(big, 8<<20); got != want {
		t.Fatalf("ETag %s, want the multipart ETag %s", got, want)
	}
	down := filepath.Join(work, "down.bin")
	runAWS(t, ts, home, "s3", "cp", "s3://climp/big.bin", down)
	sameFile(t, down, big)

	src := filepath.Join(work, "tree")
	files := map[string][]byte{
		"a.txt":         []byte("a"),
		"sub/b.bin":     randomData(mpSmallSize),
		"sub/deep/c.md": []byte("# c"),
	}
	for rel, b := range files {
		writeFile(t, src, rel, b)
	}
	runAWS(t, ts, home, "s3", "sync", src, "s3://climp/tree")
	if out := runAWS(t, ts, home, "s3", "sync", src, "s3://climp/tree"); strings.Contains(out, "upload:") {
		t.Fatalf("second sync uploaded again: %q", out)
	}
	back := filepath.Join(work, "back")
	runAWS(t, ts, home, "s3", "sync", "s3://climp/tree", back)
	for rel, b := range files {
		sameFile(t, filepath.Join(back, rel), b)
	}

	signed := strings.TrimSpace(runAWS(t, ts, home, "s3", "presign", "s3://climp/big.bin", "--expires-in", "300"))
	resp, err := http.Get(signed)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(got, big) {
		t.Fatalf("GET of the presigned URL: %d, %d bytes, %v", resp.StatusCode, len(got), err)
	}
	// The signature covers the path: the same query on another key fails.
	other := strings.Replace(signed, "/big.bin?", "/tree/a.txt?", 1)
	resp, err = http.Get(other)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("presigned query reused on another key: %d", resp.StatusCode)
	}
}

// rcloneEnv configures the remote "ms" through the environment, with
// 5 MiB chunks so files above 5 MiB go up in parts.
func rcloneEnv(ts *testServer, home string) []string {
	return clientEnv(home,
		"RCLONE_CONFIG="+filepath.Join(home, "rclone.conf"),
		"RCLONE_CONFIG_MS_TYPE=s3",
		"RCLONE_CONFIG_MS_PROVIDER=Other",
		"RCLONE_CONFIG_MS_ENDPOINT="+ts.URL(),
		"RCLONE_CONFIG_MS_ACCESS_KEY_ID="+testAccessKey,
		"RCLONE_CONFIG_MS_SECRET_ACCESS_KEY="+testSecretKey,
		"RCLONE_CONFIG_MS_REGION=us-east-1",
		"RCLONE_CONFIG_MS_FORCE_PATH_STYLE=true",
		"RCLONE_CONFIG_MS_UPLOAD_CUTOFF=5M",
		"RCLONE_CONFIG_MS_CHUNK_SIZE=5M",
	)
}

func TestRclone(t *testing.T) {
	requireTool(t, rcloneBin, "rclone")
	ts := startServer(t, false)
	home, work := t.TempDir(), t.TempDir()
	env := rcloneEnv(ts, home)
	rc := func(args ...string) string { t.Helper(); return runClient(t, env, rcloneBin, args...) }

	src := filepath.Join(work, "src")
	files := map[string][]byte{
		"big.bin":         randomData(mpSmallSize),
		"small.txt":       []byte("small"),
		"dir/nested.json": []byte(`{"n":1}`),
		"dir/with space":  []byte("space"),
	}
	for rel, b := range files {
		writeFile(t, src, rel, b)
	}
	rc("mkdir", "ms:rclone")
	rc("copy", src, "ms:rclone/copy")
	rc("sync", src, "ms:rclone/sync")
	rc("check", src, "ms:rclone/sync")
	rc("check", src, "ms:rclone/copy")
	if got, want := headETag(t, ts.rootClient(), "rclone", "sync/big.bin"), multipartETagOf(files["big.bin"], 5<<20); got != want {
		t.Fatalf("big.bin ETag %s, want the multipart ETag %s", got, want)
	}
	out := rc("lsf", "-R", "ms:rclone/sync")
	for _, want := range []string{"big.bin", "small.txt", "dir/", "dir/nested.json", "dir/with space"} {
		if !strings.Contains(out, want+"\n") {
			t.Fatalf("lsf misses %q:\n%s", want, out)
		}
	}

	// A file removed locally is removed by the next sync, and check agrees.
	if err := os.Remove(filepath.Join(src, "small.txt")); err != nil {
		t.Fatal(err)
	}
	rc("sync", src, "ms:rclone/sync")
	rc("check", src, "ms:rclone/sync")
	if out := rc("lsf", "ms:rclone/sync"); strings.Contains(out, "small.txt") {
		t.Fatalf("sync left small.txt:\n%s", out)
	}

	back := filepath.Join(work, "back")
	rc("sync", "ms:rclone/sync", back)
	rc("check", back, "ms:rclone/sync")
	sameFile(t, filepath.Join(back, "big.bin"), files["big.bin"])
	sameFile(t, filepath.Join(back, "dir", "with space"), files["dir/with space"])
	if _, err := os.Stat(filepath.Join(back, "small.txt")); !os.IsNotExist(err) {
		t.Fatalf("small.txt came back: %v", err)
	}
}

func TestS3cmd(t *testing.T) {
	requireTool(t, s3cmdBin, "s3cmd")
	ts := startServer(t, false)
	home, work := t.TempDir(), t.TempDir()
	u, err := url.Parse(ts.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(home, "s3cfg")
	conf := fmt.Sprintf(`[default]
access_key = %s
secret_key = %s
host_base = %s
host_bucket = %s
use_https = False
signature_v2 = False
bucket_location = us-east-1
check_ssl_certificate = False
`, testAccessKey, testSecretKey, u.Host, u.Host)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	env := clientEnv(home)
	s3cmd := func(args ...string) string {
		t.Helper()
		return runClient(t, env, s3cmdBin, append([]string{"-c", cfg}, args...)...)
	}

	s3cmd("mb", "s3://s3cmd")
	small := writeFile(t, work, "small.txt", []byte("hello from s3cmd\n"))
	big := randomData(16 << 20)
	bigFile := writeFile(t, work, "big.bin", big)
	s3cmd("put", small, "s3://s3cmd/small.txt")
	s3cmd("put", "--multipart-chunk-size-mb=5", bigFile, "s3://s3cmd/dir/big.bin")
	if got, want := headETag(t, ts.rootClient(), "s3cmd", "dir/big.bin"), multipartETagOf(big, 5<<20); got != want {
		t.Fatalf("big.bin ETag %s, want the multipart ETag %s", got, want)
	}

	out := s3cmd("ls", "s3://s3cmd")
	if !strings.Contains(out, "s3://s3cmd/small.txt") || !strings.Contains(out, "DIR") || !strings.Contains(out, "s3://s3cmd/dir/") {
		t.Fatalf("ls:\n%s", out)
	}
	if out := s3cmd("ls", "--recursive", "s3://s3cmd"); !strings.Contains(out, fmt.Sprint(16<<20)) || !strings.Contains(out, "s3://s3cmd/dir/big.bin") {
		t.Fatalf("ls --recursive:\n%s", out)
	}
	if out := s3cmd("ls"); !strings.Contains(out, "s3://s3cmd") {
		t.Fatalf("ls of buckets:\n%s", out)
	}

	got := filepath.Join(work, "got.bin")
	s3cmd("get", "s3://s3cmd/dir/big.bin", got)
	sameFile(t, got, big)
	gotSmall := filepath.Join(work, "got.txt")
	s3cmd("get", "s3://s3cmd/small.txt", gotSmall)
	sameFile(t, gotSmall, []byte("hello from s3cmd\n"))

	s3cmd("del", "s3://s3cmd/dir/big.bin")
	s3cmd("del", "s3://s3cmd/small.txt")
	if out := s3cmd("ls", "--recursive", "s3://s3cmd"); strings.TrimSpace(out) != "" {
		t.Fatalf("objects left after del:\n%s", out)
	}
	s3cmd("rb", "s3://s3cmd")
}

func TestBoto3Multipart(t *testing.T) {
	requireTool(t, python3Bin, "python3-boto3")
	ts := startServer(t, false)
	home, work := t.TempDir(), t.TempDir()
	mustCreateBucket(t, ts.rootClient(), "boto3")
	body := randomData(mpSmallSize)
	up := writeFile(t, work, "up.bin", body)
	down := filepath.Join(work, "down.bin")
	script, err := filepath.Abs(filepath.Join("testdata", "boto3_multipart.py"))
	if err != nil {
		t.Fatal(err)
	}
	out := runClient(t, clientEnv(home), python3Bin, script, ts.URL(), "boto3", "dir/up.bin", up, down)
	want := multipartETagOf(body, 5<<20)
	if !strings.Contains(out, want) {
		t.Fatalf("boto3 saw another ETag than %s:\n%s", want, out)
	}
	if got := headETag(t, ts.rootClient(), "boto3", "dir/up.bin"); got != want {
		t.Fatalf("ETag %s, want %s", got, want)
	}
	sameFile(t, down, body)
}

// TestMinioGoUnknownSize streams an object of unknown length with minio-go,
// which uploads it in parts as it reads.
func TestMinioGoUnknownSize(t *testing.T) {
	ts := startServer(t, false)
	u, err := url.Parse(ts.URL())
	if err != nil {
		t.Fatal(err)
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds:  miniocreds.NewStaticV4(testAccessKey, testSecretKey, ""),
		Region: "us-east-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.MakeBucket(ctx, "miniomp", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	body := randomData(mpSmallSize)
	pr, pw := io.Pipe()
	go func() {
		// Written in odd-sized pieces, as a producer would.
		for off := 0; off < len(body); off += 777_777 {
			if _, err := pw.Write(body[off:min(off+777_777, len(body))]); err != nil {
				return
			}
		}
		pw.Close()
	}()
	info, err := c.PutObject(ctx, "miniomp", "stream.bin", pr, -1, minio.PutObjectOptions{
		PartSize:     5 << 20,
		ContentType:  "application/x-stream",
		UserTags:     map[string]string{"kind": "stream"},
		UserMetadata: map[string]string{"origin": "minio-go"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := multipartETagOf(body, 5<<20); info.ETag != want || info.Size != int64(len(body)) {
		t.Fatalf("put: ETag %s size %d, want %s %d", info.ETag, info.Size, want, len(body))
	}
	st, err := c.StatObject(ctx, "miniomp", "stream.bin", minio.StatObjectOptions{})
	if err != nil || st.ContentType != "application/x-stream" || st.UserTagCount != 1 || st.UserMetadata["Origin"] != "minio-go" {
		t.Fatalf("stat: %+v %v", st, err)
	}
	tags, err := c.GetObjectTagging(ctx, "miniomp", "stream.bin", minio.GetObjectTaggingOptions{})
	if err != nil || tags.ToMap()["kind"] != "stream" {
		t.Fatalf("tags: %v %v", tags, err)
	}
	obj, err := c.GetObject(ctx, "miniomp", "stream.bin", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	obj.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("get: %d bytes, %v", len(got), err)
	}
}
