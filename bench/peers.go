package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// A peer is one server under measurement, reachable on loopback, serving the
// same files under the same path.
type peer struct {
	name string
	// base is the URL prefix; a file named f is at base + "/" + f.
	base string
	stop func()
}

const (
	benchAccessKey = "benchaccesskey"
	benchSecretKey = "benchsecretkey0123456789"
	benchBucket    = "bench"
)

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitHTTP polls url until it answers (any status) or the deadline passes.
func waitHTTP(url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer within %s", url, within)
}

// startMirrorstore builds and runs the server binary on a fresh data folder.
func startMirrorstore(work string) (*peer, error) {
	bin := filepath.Join(work, "mirrorstore")
	build := exec.Command("go", "build", "-o", bin, "./cmd/mirrorstore")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("build mirrorstore: %w", err)
	}
	addr := freeAddr()
	cmd := exec.Command(bin, "server", "--addr", addr, "--data", filepath.Join(work, "ms-data"), "--log-format", "json")
	cmd.Env = append(os.Environ(), "MIRRORSTORE_ACCESS_KEY="+benchAccessKey, "MIRRORSTORE_SECRET_KEY="+benchSecretKey)
	logf, err := os.Create(filepath.Join(work, "mirrorstore.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &peer{name: "mirrorstore", base: "http://" + addr + "/" + benchBucket, stop: func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		logf.Close()
	}}
	if err := waitHTTP("http://"+addr+"/-/ready", 30*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// startNginx serves dir with Debian's nginx and a minimal tuned config.
func startNginx(work, dir string) (*peer, error) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		nginx = "/usr/sbin/nginx"
	}
	addr := freeAddr()
	conf := filepath.Join(work, "nginx.conf")
	cfg := fmt.Sprintf(`daemon off;
worker_processes auto;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  client_body_temp_path %[1]s/nginx-body;
  proxy_temp_path %[1]s/nginx-proxy;
  fastcgi_temp_path %[1]s/nginx-fastcgi;
  uwsgi_temp_path %[1]s/nginx-uwsgi;
  scgi_temp_path %[1]s/nginx-scgi;
  server {
    listen %[2]s;
    location / { root %[3]s; }
  }
}
`, work, addr, dir)
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(nginx, "-c", conf, "-p", work)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start nginx: %w", err)
	}
	p := &peer{name: "nginx", base: "http://" + addr, stop: func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}}
	if err := waitHTTP("http://"+addr+"/", 10*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// startFileServer serves dir with net/http's own http.FileServer: the
// ceiling of a Go server on this machine.
func startFileServer(dir string) (*peer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir))}
	go srv.Serve(l)
	return &peer{name: "http.FileServer", base: "http://" + l.Addr().String(), stop: func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}}, nil
}
