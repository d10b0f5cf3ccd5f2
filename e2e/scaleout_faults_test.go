package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"mirrorstore/internal/store/s3backend"
)

// minioProc is a MinIO server the test can stop and start again on the
// same address and folder, as an operator restarting the cluster would.
type minioProc struct {
	t                  *testing.T
	bin, addr, console string
	dir                string
	cmd                *exec.Cmd
	logs               bytes.Buffer
}

func newMinioProc(t *testing.T) *minioProc {
	t.Helper()
	m := &minioProc{t: t, bin: minioPath(t), addr: localAddr(t), console: localAddr(t), dir: filepath.Join(t.TempDir(), "minio")}
	t.Cleanup(m.stop)
	return m
}

// start runs MinIO and waits until its readiness URL answers 200.
func (m *minioProc) start() {
	m.t.Helper()
	cmd := exec.Command(m.bin, "server", m.dir, "--address", m.addr, "--console-address", m.console, "--quiet")
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+scaleoutMinioUser, "MINIO_ROOT_PASSWORD="+scaleoutMinioPassword, "MINIO_BROWSER=off")
	m.logs.Reset()
	cmd.Stdout, cmd.Stderr = &m.logs, &m.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	m.cmd = cmd
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + m.addr + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("MinIO not ready: %v\n%s", err, m.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills MinIO (SIGKILL: the harshest way a cluster goes away) and
// waits for it to exit.
func (m *minioProc) stop() {
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGKILL)
	_ = m.cmd.Wait()
	m.cmd = nil
}

// backend names MinIO's backend bucket at endpoint (MinIO's own address,
// or a proxy in front of it), creating the bucket on first use.
func (m *minioProc) backend(endpoint string, timeout time.Duration) s3backend.Config {
	m.t.Helper()
	cfg := s3backend.Config{Endpoint: "http://" + m.addr, Bucket: "mirrorstore-data", AccessKey: scaleoutMinioUser, SecretKey: scaleoutMinioPassword}
	admin := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(cfg.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, ""),
	})
	if _, err := admin.HeadBucket(context.Background(), &s3.HeadBucketInput{Bucket: aws.String(cfg.Bucket)}); err != nil {
		createBackendBucket(m.t, admin, cfg.Bucket)
	}
	cfg.Endpoint, cfg.Timeout = endpoint, timeout
	return cfg
}

// unavailableOps are the requests a node must refuse with 503 while its
// cluster is away: reads of an object that exists and of one that does
// not, a HEAD, a PUT, listings, and a bucket's creation.
var unavailableOps = []struct {
	name, method, path string
	body               []byte
}{
	{"GET existing", http.MethodGet, "/faults/obj", nil},
	{"GET absent", http.MethodGet, "/faults/absent", nil},
	{"HEAD existing", http.MethodHead, "/faults/obj", nil},
	{"PUT", http.MethodPut, "/faults/new", []byte("written while the cluster is away")},
	{"ListObjectsV2", http.MethodGet, "/faults?list-type=2", nil},
	{"ListBuckets", http.MethodGet, "/", nil},
	{"CreateBucket", http.MethodPut, "/faults-new", nil},
	// A miss under a Mirror rule cannot be told from a fault: no fill.
	{"GET under a Mirror rule", http.MethodGet, "/faults-mirror/k", nil},
}

// wantUnavailable sends every request of unavailableOps and checks each is
// answered 503 (ServiceUnavailable, or SlowDown) within bound.
func wantUnavailable(t *testing.T, n *testServer, bound time.Duration) {
	t.Helper()
	for _, op := range unavailableOps {
		start := time.Now()
		a, err := n.try(signedRequest(t, n.URL(), op.method, op.path, op.body))
		took := time.Since(start)
		if err != nil {
			t.Fatalf("%s while the cluster is away: %v after %s", op.name, err, took)
		}
		if a.status != http.StatusServiceUnavailable {
			t.Fatalf("%s while the cluster is away: %d %s after %s, want 503", op.name, a.status, a.body, took)
		}
		if code := s3Code(a.body); op.method != http.MethodHead && code != "ServiceUnavailable" && code != "SlowDown" {
			t.Fatalf("%s while the cluster is away: code %q, want ServiceUnavailable or SlowDown", op.name, code)
		}
		t.Logf("%s: 503 after %s", op.name, took)
		if took > bound {
			t.Fatalf("%s while the cluster is away took %s, want at most %s", op.name, took, bound)
		}
	}
	start := time.Now()
	if a := n.get(t, "/-/ready"); a.status != http.StatusServiceUnavailable || time.Since(start) > bound {
		t.Fatalf("/-/ready while the cluster is away: %d after %s, want 503 within %s", a.status, time.Since(start), bound)
	}
	if a := n.get(t, "/-/healthy"); a.status != http.StatusOK {
		t.Fatalf("/-/healthy while the cluster is away: %d, want 200 (the process is up)", a.status)
	}
}

func (ts *testServer) get(t *testing.T, path string) reply {
	t.Helper()
	r, err := http.NewRequest(http.MethodGet, ts.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ts.send(t, r)
}

// seedFaults creates bucket "faults" with object "obj" through n, and
// bucket "faults-mirror" mirroring the returned origin.
func seedFaults(t *testing.T, n *testServer, body []byte) *fakeOrigin {
	t.Helper()
	if a := n.signed(t, http.MethodPut, "/faults", nil); a.status != http.StatusOK {
		t.Fatalf("create bucket: %d %s", a.status, a.body)
	}
	if a := n.signed(t, http.MethodPut, "/faults/obj", body); a.status != http.StatusOK {
		t.Fatalf("PUT: %d %s", a.status, a.body)
	}
	o := newFakeOrigin(t)
	o.serve("/k", []byte("from the origin"))
	n.mirrorBucket(t, "faults-mirror", mirrorRule(1, "", o.URL+"/", ""))
	return o
}

// wantRecovered waits until /-/ready answers 200 again, then checks the
// object written before the fault reads back whole and writes work.
func wantRecovered(t *testing.T, n *testServer, body []byte) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for n.get(t, "/-/ready").status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("/-/ready still not 200 30 s after the cluster came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if a := n.signed(t, http.MethodGet, "/faults/obj", nil); a.status != http.StatusOK || !bytes.Equal(a.body, body) {
		t.Fatalf("GET after recovery: %d, %d bytes", a.status, len(a.body))
	}
	if a := n.signed(t, http.MethodPut, "/faults/after", []byte("after")); a.status != http.StatusOK {
		t.Fatalf("PUT after recovery: %d %s", a.status, a.body)
	}
}

// TestScaleOutBackendDown: with its cluster killed, a node answers every
// request 503 within a few seconds (never a 404 for an object that exists,
// never a hang), /-/ready says not ready while /-/healthy stays up; when
// the cluster is started again on the same address and folder the node
// serves again without a restart.
func TestScaleOutBackendDown(t *testing.T) {
	m := newMinioProc(t)
	m.start()
	const timeout = 3 * time.Second
	n := startNode(t, m.backend("http://"+m.addr, timeout))
	body := bytes.Repeat([]byte("survives the outage "), 5000)
	o := seedFaults(t, n, body)

	m.stop()
	// A refused connection is retried (three attempts, at most a second
	// apart), never waited on for the whole timeout.
	wantUnavailable(t, n, timeout+2*time.Second)
	if hits := o.count("/k"); hits != 0 {
		t.Fatalf("the origin was asked %d times while the cluster was down", hits)
	}

	m.start()
	wantRecovered(t, n, body)
	// MinIO was down: the refused PUT cannot have reached it. (A PUT that
	// timed out against a stalled cluster may still land once the cluster
	// wakes up, as with any request whose answer was lost.)
	if a := n.signed(t, http.MethodGet, "/faults/new", nil); a.status != http.StatusNotFound {
		t.Fatalf("the PUT refused during the outage was stored: GET %d", a.status)
	}
}

// stallProxy forwards TCP connections to a target and, while stalled,
// holds every byte in both directions (connections stay open, nothing
// moves): a cluster that accepts requests and never answers.
type stallProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cond   *sync.Cond
	stall  bool
	closed bool
	wg     sync.WaitGroup
	conns  []net.Conn
}

func newStallProxy(t *testing.T, target string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, target: target}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *stallProxy) addr() string { return p.ln.Addr().String() }

func (p *stallProxy) setStalled(stall bool) {
	p.mu.Lock()
	p.stall = stall
	p.mu.Unlock()
	p.cond.Broadcast()
}

func (p *stallProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(up, c)
		go p.pipe(c, up)
	}
}

// pipe copies src to dst, waiting before each write while stalled.
func (p *stallProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		p.mu.Lock()
		for p.stall && !p.closed {
			p.cond.Wait()
		}
		closed := p.closed
		p.mu.Unlock()
		if closed {
			return
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				src.Close()
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if tc, ok := dst.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
					return
				}
			}
			dst.Close()
			return
		}
	}
}

func (p *stallProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.cond.Broadcast()
	p.wg.Wait()
}

// TestScaleOutBackendSlow: a cluster that accepts connections and then
// says nothing gives clients 503 within the node's --backend-timeout, and
// one that stalls in the middle of an object's bytes cuts that client's
// download within the timeout rather than holding it; once the cluster
// answers again the node serves as before.
func TestScaleOutBackendSlow(t *testing.T) {
	m := newMinioProc(t)
	m.start()
	p := newStallProxy(t, m.addr)
	const timeout = 2 * time.Second
	n := startNode(t, m.backend("http://"+p.addr(), timeout))
	body := bytes.Repeat([]byte("stalled mid-object "), 2<<20) // 38 MiB: more than the sockets between us buffer
	o := seedFaults(t, n, body)

	// Stalled before the answer: 503 within the timeout (a timed-out
	// request is not retried).
	p.setStalled(true)
	wantUnavailable(t, n, timeout+time.Second)
	if hits := o.count("/k"); hits != 0 {
		t.Fatalf("the origin was asked %d times while the cluster stalled", hits)
	}

	// Stalled in the middle of the bytes: the download is cut.
	p.setStalled(false)
	wantRecovered(t, n, body)
	resp, err := n.client.Do(signedRequest(t, n.URL(), http.MethodGet, "/faults/obj", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadFull(resp.Body, make([]byte, 1<<10)); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("start of the download: %d %v", resp.StatusCode, err)
	}
	p.setStalled(true)
	start := time.Now()
	got, err := io.Copy(io.Discard, resp.Body)
	took := time.Since(start)
	if err == nil {
		t.Fatalf("the download ended cleanly with %d bytes while the cluster stalled", got+1<<10)
	}
	// The bytes already in the sockets drain first; the stall is then
	// noticed within the timeout.
	t.Logf("stalled download cut after %s", took)
	if took > timeout+3*time.Second {
		t.Fatalf("the stalled download was cut after %s, want within %s", took, timeout)
	}
	p.setStalled(false)
	wantRecovered(t, n, body)
}
