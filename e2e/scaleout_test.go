package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
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
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"mirrorstore/internal/server"
	"mirrorstore/internal/store/s3backend"
)

const (
	scaleoutMinioUser     = "scaleoutminio"
	scaleoutMinioPassword = "scaleoutminio-secret"
)

// minioPath finds the MinIO server `make tools` installs; a missing one
// fails the test (it is a required peer, not an optional one).
func minioPath(t *testing.T) string {
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

func localAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startMinioCluster runs MinIO for the test with one bucket in it and
// returns the backend settings that name it and a client of MinIO itself.
func startMinioCluster(t *testing.T) (s3backend.Config, *s3.Client) {
	t.Helper()
	bin := minioPath(t)
	addr, console := localAddr(t), localAddr(t)
	cmd := exec.Command(bin, "server", filepath.Join(t.TempDir(), "minio"), "--address", addr, "--console-address", console, "--quiet")
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+scaleoutMinioUser, "MINIO_ROOT_PASSWORD="+scaleoutMinioPassword, "MINIO_BROWSER=off")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	// A test binary killed past its -timeout runs no cleanup: MinIO goes
	// with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(60 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get("http://" + addr + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("MinIO not ready: %v\n%s", err, logs.String())
		}
		<-tick.C
	}
	cfg := s3backend.Config{Endpoint: "http://" + addr, Bucket: "mirrorstore-data", AccessKey: scaleoutMinioUser, SecretKey: scaleoutMinioPassword}
	admin := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(cfg.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, ""),
	})
	createBackendBucket(t, admin, cfg.Bucket)
	return cfg, admin
}

// createBackendBucket creates bucket in MinIO, retrying for a minute: a
// MinIO that just said it is ready may still answer 503
// XMinioServerNotInitialized on a loaded machine.
func createBackendBucket(t *testing.T, admin *s3.Client, bucket string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err := admin.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)})
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("create backend bucket %s: %v", bucket, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startNode starts a mirrorstore node over the cluster whose mirror may
// reach loopback origins (the test origins).
func startNode(t *testing.T, backend s3backend.Config) *testServer {
	t.Helper()
	return startConfigured(t, server.Config{
		Addr:            "127.0.0.1:0",
		DataDir:         t.TempDir(),
		AccessKey:       testAccessKey,
		SecretKey:       testSecretKey,
		ShutdownTimeout: 5 * time.Second,
		Backend:         server.BackendConfig{Kind: "s3", S3: backend},
		Mirror:          server.MirrorConfig{Timeout: 5 * time.Second, IdleTimeout: 5 * time.Second, AllowPrivate: true, Version: "e2e"},
	})
}

// TestScaleOut: two nodes over one MinIO serve the same buckets, objects
// and configuration; what one writes the other reads at once.
func TestScaleOut(t *testing.T) {
	cluster, _ := startMinioCluster(t)
	a, b := startNode(t, cluster), startNode(t, cluster)
	ca, cb := a.rootClient(), b.rootClient()
	ctx := context.Background()

	if _, err := ca.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("shared")}); err != nil {
		t.Fatal(err)
	}
	list, err := cb.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil || len(list.Buckets) != 1 || aws.ToString(list.Buckets[0].Name) != "shared" {
		t.Fatalf("node B lists %+v, %v", list, err)
	}
	_, err = cb.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("shared")})
	wantCode(t, err, "BucketAlreadyOwnedByYou")

	body := bytes.Repeat([]byte("scale-out "), 100_000)
	put, err := ca.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String("shared"), Key: aws.String("dir/obj.txt"), Body: bytes.NewReader(body),
		ContentType: aws.String("text/plain"), Metadata: map[string]string{"written-by": "a"},
		Tagging: aws.String("node=a"),
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := cb.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("shared"), Key: aws.String("dir/obj.txt")})
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(got.Body)
	got.Body.Close()
	if err != nil || !bytes.Equal(data, body) {
		t.Fatalf("node B read %d bytes, %v", len(data), err)
	}
	if aws.ToString(got.ETag) != aws.ToString(put.ETag) || aws.ToString(got.ContentType) != "text/plain" ||
		got.Metadata["written-by"] != "a" || aws.ToInt32(got.TagCount) != 1 {
		t.Fatalf("node B sees ETag %s (put %s), type %q, meta %v, %d tags",
			aws.ToString(got.ETag), aws.ToString(put.ETag), aws.ToString(got.ContentType), got.Metadata, aws.ToInt32(got.TagCount))
	}
	objs, err := cb.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("shared"), Delimiter: aws.String("/")})
	if err != nil || len(objs.CommonPrefixes) != 1 || aws.ToString(objs.CommonPrefixes[0].Prefix) != "dir/" {
		t.Fatalf("node B lists %+v, %v", objs, err)
	}

	// Create-only writes through both nodes: one wins.
	var won int
	for _, c := range []*s3.Client{ca, cb} {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("shared"), Key: aws.String("once"), Body: strings.NewReader("x"), IfNoneMatch: aws.String("*")})
		if err == nil {
			won++
		} else if httpStatus(err) != http.StatusPreconditionFailed {
			t.Fatalf("second create-only write: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d create-only writes won", won)
	}

	// Configuration is shared as well.
	if _, err := ca.PutBucketWebsite(ctx, &s3.PutBucketWebsiteInput{Bucket: aws.String("shared"), WebsiteConfiguration: &types.WebsiteConfiguration{
		IndexDocument: &types.IndexDocument{Suffix: aws.String("index.html")},
	}}); err != nil {
		t.Fatal(err)
	}
	web, err := cb.GetBucketWebsite(ctx, &s3.GetBucketWebsiteInput{Bucket: aws.String("shared")})
	if err != nil || web.IndexDocument == nil || aws.ToString(web.IndexDocument.Suffix) != "index.html" {
		t.Fatalf("node B website: %+v, %v", web, err)
	}

	// A delete through B is seen by A.
	for _, k := range []string{"dir/obj.txt", "once"} {
		if _, err := cb.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("shared"), Key: aws.String(k)}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = ca.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("shared"), Key: aws.String("dir/obj.txt")})
	if httpStatus(err) != http.StatusNotFound {
		t.Fatalf("node A after B's delete: %v", err)
	}
}

// TestScaleOutNeedsCredential: an s3-backed node never generates its root
// credential (another node would not know it).
func TestScaleOutNeedsCredential(t *testing.T) {
	_, err := server.Start(server.Config{
		Addr:    "127.0.0.1:0",
		DataDir: t.TempDir(),
		Backend: server.BackendConfig{Kind: "s3", S3: s3backend.Config{Endpoint: "http://127.0.0.1:1", Bucket: "x", AccessKey: "k", SecretKey: "s"}},
	})
	if err == nil || !strings.Contains(err.Error(), "MIRRORSTORE_ACCESS_KEY") {
		t.Fatalf("Start without a root credential = %v, want an error naming MIRRORSTORE_ACCESS_KEY", err)
	}
}

// TestScaleOutMirrorFillsOnce: a miss on two nodes at once starts a fill on
// each (fills are per node), and the backend's conditional write stores
// the object once: the backend bucket, versioned for the test, holds one
// version of the key.
func TestScaleOutMirrorFillsOnce(t *testing.T) {
	cluster, admin := startMinioCluster(t)
	ctx := context.Background()
	if _, err := admin.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  aws.String(cluster.Bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
	}); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("fill once "), 100_000)
	release := make(chan struct{})
	o := newFakeOrigin(t)
	o.handle("/site/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		<-release // until both nodes are filling
		_, _ = w.Write(body[len(body)/2:])
	})
	a, b := startNode(t, cluster), startNode(t, cluster)
	a.mirrorBucket(t, "site", mirrorRule(1, "", o.URL+"/site/", ""))

	replies := make(chan reply, 2)
	for _, n := range []*testServer{a, b} {
		r := signedRequest(t, n.URL(), http.MethodGet, "/site/page", nil)
		go func() {
			resp, err := n.client.Do(r)
			if err != nil {
				replies <- reply{readErr: err}
				return
			}
			defer resp.Body.Close()
			data, rerr := io.ReadAll(resp.Body)
			replies <- reply{status: resp.StatusCode, header: resp.Header, body: data, readErr: rerr}
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for o.count("/site/page") < 2 {
		if time.Now().After(deadline) {
			close(release)
			t.Fatalf("origin hit %d times; want a fill from each node", o.count("/site/page"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	for range 2 {
		r := <-replies
		if r.status != http.StatusOK || r.readErr != nil || !bytes.Equal(r.body, body) {
			t.Fatalf("GET during the fills: %d, %d bytes, %v", r.status, len(r.body), r.readErr)
		}
	}
	a.waitStored(t, "/site/page")
	b.waitStored(t, "/site/page")
	versions, err := admin.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(cluster.Bucket), Prefix: aws.String("b/site/page")})
	if err != nil {
		t.Fatal(err)
	}
	if len(versions.Versions) != 1 {
		t.Fatalf("the backend holds %d versions of the filled key, want 1", len(versions.Versions))
	}
	if tag := b.signed(t, http.MethodHead, "/site/page", nil).header.Get("X-Oss-Tag"); tag != "MIRROR "+o.URL+"/site/page" {
		t.Fatalf("stored object's tag %q", tag)
	}
}
