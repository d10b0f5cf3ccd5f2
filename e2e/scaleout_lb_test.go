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
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// deployNginxConfig is the nginx example of docs/deploy.md, with its two
// node addresses and its listen port replaced by the test's.
func deployNginxConfig(t *testing.T, listen, node1, node2 string) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "docs", "deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```nginx\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/deploy.md has no nginx example")
	}
	conf := string(m[1])
	for old, repl := range map[string]string{"10.0.0.11:9000": node1, "10.0.0.12:9000": node2, "listen 80;": "listen " + listen + ";"} {
		if !strings.Contains(conf, old) {
			t.Fatalf("the nginx example no longer holds %q", old)
		}
		conf = strings.ReplaceAll(conf, old, repl)
	}
	return conf
}

// startBalancer runs Debian's nginx with the deploy example in front of
// two nodes; it logs each request's upstream to the returned access log.
func startBalancer(t *testing.T, node1, node2 string) (base, accessLog string) {
	t.Helper()
	work := t.TempDir()
	addr := localAddr(t)
	accessLog = filepath.Join(work, "access.log")
	cfg := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 256; }
http {
  log_format upstream '$request_method $status $upstream_addr';
  access_log %[2]s upstream;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
%[3]s
}
`, work, accessLog, deployNginxConfig(t, addr, node1, node2))
	conf := filepath.Join(work, "nginx.conf")
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/sbin/nginx", "-c", conf, "-p", work)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return "http://" + addr, accessLog
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not listen: %v\n%s", err, logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func hostOf(t *testing.T, u string) string {
	t.Helper()
	return strings.TrimPrefix(u, "http://")
}

// TestScaleOutBehindNginx: docs/deploy.md's nginx example in front of two
// nodes over one MinIO serves aws-sdk-go-v2 (signed Host passed through,
// an 8 MiB body streamed both ways), spreads requests over both nodes, and
// keeps serving when one node goes away.
func TestScaleOutBehindNginx(t *testing.T) {
	cluster, _ := startMinioCluster(t)
	a, b := startNode(t, cluster), startNode(t, cluster)
	base, accessLog := startBalancer(t, hostOf(t, a.URL()), hostOf(t, b.URL()))
	c := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(base), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""),
	})
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("balanced")}); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 8<<20)
	for i := range body {
		body[i] = byte(i * 31)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("balanced"), Key: aws.String("big.bin"), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	get := func() error {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("balanced"), Key: aws.String("big.bin")})
		if err != nil {
			return err
		}
		defer out.Body.Close()
		got, err := io.ReadAll(out.Body)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, body) {
			return fmt.Errorf("read back %d bytes that differ", len(got))
		}
		return nil
	}
	for range 4 {
		if err := get(); err != nil {
			t.Fatal(err)
		}
	}
	log, err := os.ReadFile(accessLog)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []*testServer{a, b} {
		if !strings.Contains(string(log), hostOf(t, n.URL())) {
			t.Fatalf("node %s served nothing through nginx:\n%s", n.URL(), log)
		}
	}

	// One node goes away: nginx skips it and every request still succeeds.
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := a.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if err := get(); err != nil {
			t.Fatalf("GET %d with one node down: %v", i, err)
		}
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("balanced"), Key: aws.String("small"), Body: strings.NewReader("one node left")}); err != nil {
		t.Fatalf("PUT with one node down: %v", err)
	}
	if r, err := http.Get(base + "/-/ready"); err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("/-/ready through nginx with one node down: %v %v", r, err)
	} else {
		r.Body.Close()
	}
}
