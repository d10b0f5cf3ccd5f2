package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// A peer is one server under measurement, reachable on loopback, serving the
// same files under the same path.
type peer struct {
	name string
	// base is the URL prefix; a file named f is at base + "/" + f.
	base string
	// accessLog is the nginx access log, when one was asked for.
	accessLog string
	// pid is the server's process id (0 for one inside this process).
	pid  int
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
	return startMirrorstoreWith(work, "mirrorstore", filepath.Join(work, "ms-data"))
}

// buildMirrorstore builds the server binary into work once; later calls
// reuse it; $MIRRORSTORE_BENCH_SERVER, when set, is used instead. The
// package is named by its import path so the build works from any folder
// of the module (go test runs in bench/).
func buildMirrorstore(work string) (string, error) {
	// A binary built elsewhere (from a given commit, say) can be named
	// instead: the tree being edited need not build.
	if bin := os.Getenv("MIRRORSTORE_BENCH_SERVER"); bin != "" {
		return bin, nil
	}
	bin := filepath.Join(work, "mirrorstore")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	build := exec.Command("go", "build", "-o", bin, "mirrorstore/cmd/mirrorstore")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("build mirrorstore: %w", err)
	}
	return bin, nil
}

// startMirrorstoreWith runs the server binary as peer name on data, with
// further server flags (such as --backend s3); its log goes to name.log in
// work.
func startMirrorstoreWith(work, name, data string, args ...string) (*peer, error) {
	bin, err := buildMirrorstore(work)
	if err != nil {
		return nil, err
	}
	addr := freeAddr()
	cmd := exec.Command(bin, append([]string{"server", "--addr", addr, "--data", data, "--log-format", "json"}, args...)...)
	cmd.Env = append(os.Environ(), "MIRRORSTORE_ACCESS_KEY="+benchAccessKey, "MIRRORSTORE_SECRET_KEY="+benchSecretKey)
	logf, err := os.Create(filepath.Join(work, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	p := &peer{name: name, base: "http://" + addr + "/" + benchBucket, pid: cmd.Process.Pid, stop: func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		logf.Close()
	}}
	if err := waitHTTP("http://"+addr+"/-/ready", 30*time.Second); err != nil {
		p.stop()
		return nil, fmt.Errorf("%s: %w (log in %s)", name, err, logf.Name())
	}
	return p, nil
}

// startNode runs mirrorstore --backend s3 over the MinIO at endpoint,
// keeping everything in its bucket backendBucket.
func startNode(work, endpoint string) (*peer, error) {
	return startMirrorstoreWith(work, "node", filepath.Join(work, "node-data"), "--backend", "s3",
		"--backend-endpoint", endpoint, "--backend-bucket", backendBucket,
		"--backend-access-key", benchAccessKey, "--backend-secret-key", benchSecretKey)
}

// nginxOptions vary the one nginx configuration the suites share.
type nginxOptions struct {
	// name prefixes the files nginx keeps under work, so several can run
	// at once; empty means "nginx".
	name string
	// accessLog logs "$uri $status" per request, to count origin requests.
	accessLog bool
	// autoindex turns directory listings on (rclone's http backend lists
	// an origin even with --files-from).
	autoindex bool
	// locations are further location blocks of the server.
	locations string
}

// startNginx serves dir with Debian's nginx and a minimal tuned config.
func startNginx(work, dir string, o nginxOptions) (*peer, error) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		nginx = "/usr/sbin/nginx"
	}
	if o.name == "" {
		o.name = "nginx"
	}
	addr := freeAddr()
	conf := filepath.Join(work, o.name+".conf")
	accessLog, logPath := "access_log off;", ""
	if o.accessLog {
		logPath = filepath.Join(work, o.name+"-access.log")
		accessLog = "log_format paths '$uri $status';\n  access_log " + logPath + " paths;"
	}
	autoindex := ""
	if o.autoindex {
		autoindex = " autoindex on;"
	}
	cfg := fmt.Sprintf(`daemon off;
worker_processes auto;
pid %[1]s/%[4]s.pid;
error_log %[1]s/%[4]s-error.log;
events { worker_connections 1024; }
http {
  %[5]s
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
    location / { root %[3]s;%[6]s }
    %[7]s
  }
}
`, work, addr, dir, o.name, accessLog, autoindex, o.locations)
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(nginx, "-c", conf, "-p", work)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start nginx: %w", err)
	}
	p := &peer{name: "nginx", base: "http://" + addr, accessLog: logPath, stop: func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}}
	if err := waitHTTP("http://"+addr+"/", 10*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// requests counts the access-log lines for path (nginx writes each line
// when its request ends); the peer must have been started with accessLog.
func (p *peer) requests(path string) (int, error) {
	f, err := os.Open(p.accessLog)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	count := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if q, _, _ := strings.Cut(sc.Text(), " "); q == path {
			count++
		}
	}
	return count, sc.Err()
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
