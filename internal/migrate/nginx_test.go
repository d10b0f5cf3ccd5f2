package migrate

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

const nginxBinary = "/usr/sbin/nginx"

// nginxOrigin is a Debian nginx serving a folder on a loopback port.
type nginxOrigin struct {
	URL       string
	root      string // the served folder
	accessLog string
}

// startNginx serves a new world-readable folder (nginx's workers drop
// root) with nginx on a free loopback port until the test ends. Files
// under cache/ get a Cache-Control header. fill writes the files.
func startNginx(t *testing.T, fill func(root string)) *nginxOrigin {
	t.Helper()
	if _, err := os.Stat(nginxBinary); err != nil {
		t.Fatalf("nginx not found at %s (apt-get install nginx-light): %v", nginxBinary, err)
	}
	// Not t.TempDir: its parents are 0700, which the workers cannot pass.
	dir, err := os.MkdirTemp("", "migrate-nginx-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "www")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	fill(root)
	err = filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return os.Chmod(p, 0o755)
		}
		return os.Chmod(p, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	addr := freeLoopbackAddr(t)
	o := &nginxOrigin{URL: "http://" + addr + "/", root: root, accessLog: filepath.Join(dir, "access.log")}
	conf := fmt.Sprintf(`daemon off;
master_process on;
worker_processes 2;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 1024; }
http {
	types {
		text/html html;
		text/css css;
		application/javascript js;
		image/png png;
		application/json json;
		text/plain txt;
	}
	default_type application/octet-stream;
	log_format bare "$request_method $request_uri $status $body_bytes_sent";
	access_log %[2]s bare;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	server {
		listen %[3]s;
		root %[4]s;
		location /cache/ {
			add_header Cache-Control "public, max-age=3600";
		}
	}
}
`, dir, o.accessLog, addr, root)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nginxBinary, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", confPath)
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(o.URL + "nginx-readiness-probe")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			el, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx on %s not answering: %v\n%s\n%s", addr, err, logs.String(), el)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return o
}

// requests counts the access log's GETs per path (the probe excluded).
func (o *nginxOrigin) requests(t *testing.T) map[string]int {
	t.Helper()
	b, err := os.ReadFile(o.accessLog)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[1] == "/nginx-readiness-probe" {
			continue
		}
		n[f[0]+" "+f[1]]++
	}
	return n
}

// nginxSite writes n small files under varied folders and extensions plus
// one large file under cache/, and returns key → content.
func nginxSite(n int, large int) map[string][]byte {
	exts := []string{"html", "css", "js", "png", "json", "txt", "bin"}
	files := map[string][]byte{}
	for i := range n {
		k := fmt.Sprintf("d%02d/s%d/f%05d.%s", i%37, i%5, i, exts[i%len(exts)])
		if i%10 == 0 {
			k = "cache/" + k
		}
		files[k] = pattern(10+i%700, byte(i))
	}
	files["cache/big/video.bin"] = pattern(large, 9)
	return files
}

func wantContentType(key string) string {
	switch filepath.Ext(key) {
	case ".html":
		return "text/html"
	case ".css":
		return "text/css"
	case ".js":
		return "application/javascript"
	case ".png":
		return "image/png"
	case ".json":
		return "application/json"
	case ".txt":
		return "text/plain"
	}
	return "application/octet-stream"
}

// migrateFromNginx copies n small files and a large one from nginx into an
// in-process server and checks bodies, headers and the origin's log.
func migrateFromNginx(t *testing.T, n int) {
	files := nginxSite(n, 2*partSize+4321)
	o := startNginx(t, func(root string) {
		for k, v := range files {
			p := filepath.Join(root, filepath.FromSlash(k))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, v, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})
	srv := startServer(t)
	c := newClient(srv, nil)
	mkBucket(t, c, "site")
	keys := make([]string, 0, len(files)+1)
	for k := range files {
		keys = append(keys, k)
	}
	keys = append(keys, "not/there.html")
	sum, err := Run(context.Background(), Config{Source: httpSource(t, o.URL, keys, true), Client: c, Bucket: "site",
		PartSize: partSize, Concurrency: 16})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Copied != len(files) || sum.Failed != 1 || len(sum.Failures) != 1 || sum.Failures[0].Key != "not/there.html" {
		t.Fatalf("summary: copied %d, failed %d %v; want %d copied and not/there.html failed", sum.Copied, sum.Failed, sum.Failures, len(files))
	}
	if got := keysOf(t, c, "site"); len(got) != len(files) {
		t.Fatalf("bucket holds %d keys, want %d", len(got), len(files))
	}
	for k, want := range files {
		got, out := get(t, c, "site", k)
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: %d bytes back differ from the %d nginx served", k, len(got), len(want))
		}
		if ct := aws.ToString(out.ContentType); ct != wantContentType(k) {
			t.Errorf("%s: Content-Type %q, want %q", k, ct, wantContentType(k))
		}
		wantCC := ""
		if strings.HasPrefix(k, "cache/") {
			wantCC = "public, max-age=3600"
		}
		if cc := aws.ToString(out.CacheControl); cc != wantCC {
			t.Errorf("%s: Cache-Control %q, want %q", k, cc, wantCC)
		}
		if k == "cache/big/video.bin" && !strings.HasSuffix(aws.ToString(out.ETag), `-3"`) {
			t.Errorf("large file ETag %s: want a 3-part multipart ETag", aws.ToString(out.ETag))
		}
	}
	// One GET per key, the missing one included; nothing else.
	reqs := o.requests(t)
	total := 0
	for r, n := range reqs {
		total += n
		if n != 1 {
			t.Errorf("origin saw %q %d times", r, n)
		}
	}
	if total != len(keys) {
		t.Errorf("origin saw %d requests, want %d (one per key)", total, len(keys))
	}
	if reqs["GET /cache/big/video.bin"] != 1 || reqs["GET /not/there.html"] != 1 {
		t.Errorf("origin log lacks the large or the missing key: %d, %d", reqs["GET /cache/big/video.bin"], reqs["GET /not/there.html"])
	}

	// A rerun reads nothing from the origin: every key is in the bucket.
	sum, err = Run(context.Background(), Config{Source: httpSource(t, o.URL, keys[:len(files)], true), Client: c, Bucket: "site", PartSize: partSize})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Skipped != len(files) || sum.Copied != 0 {
		t.Errorf("rerun summary %+v", sum)
	}
	after := 0
	for _, n := range o.requests(t) {
		after += n
	}
	if after != total {
		t.Errorf("the rerun made %d origin requests, want none", after-total)
	}
}

func TestNginxOrigin(t *testing.T) { migrateFromNginx(t, 3000) }
