package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// mirrorOptions configure the mirror suite.
type mirrorOptions struct {
	coldRuns   int // distinct cold 256 MiB keys (the median counts)
	herd       int // concurrent misses on one cold 64 MiB key
	smallKeys  int // distinct 1 KiB keys filled
	smallConns int // clients filling them
}

const (
	coldSize  = 256 << 20
	herdSize  = 64 << 20
	hugeSize  = 2 << 30
	smallSize = 1 << 10
)

// pacedSize and pacedRate shape the paced row: an origin that sends each
// connection at most pacedRate bytes a second (nginx limit_rate), as a
// remote one does, so the network, not the loopback's CPU, sets the pace of
// both the direct and the mirrored GET.
const (
	pacedSize = 64 << 20
	pacedRate = "50m"
	pacedRuns = 3
)

// mirrorProc is the mirrorstore binary, run with --mirror-allow-private so
// it may fill from the loopback nginx; pid is read for its memory figures.
type mirrorProc struct {
	endpoint string
	pid      int
	stop     func()
}

func startMirrorProc(work string) (*mirrorProc, error) {
	bin := filepath.Join(work, "mirrorstore")
	build := exec.Command("go", "build", "-o", bin, "./cmd/mirrorstore")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("build mirrorstore: %w", err)
	}
	addr := freeAddr()
	cmd := exec.Command(bin, "server", "--addr", addr, "--data", filepath.Join(work, "ms-data"), "--log-format", "json", "--mirror-allow-private")
	cmd.Env = append(os.Environ(), "MIRRORSTORE_ACCESS_KEY="+benchAccessKey, "MIRRORSTORE_SECRET_KEY="+benchSecretKey)
	logf, err := os.Create(filepath.Join(work, "mirrorstore.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &mirrorProc{endpoint: "http://" + addr, pid: cmd.Process.Pid, stop: func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		logf.Close()
	}}
	if err := waitHTTP(p.endpoint+"/-/ready", 30*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// profileServer records the server's CPU with perf(1) (call graphs, 999 Hz)
// into $MIRRORSTORE_BENCH_PERF/<phase>.data until the returned func is
// called, when that variable names a folder; otherwise it does nothing.
// Read a profile with `perf report -i <file> --no-children`. Figures of a
// profiled run are not comparable: perf takes CPU from the same two cores.
func profileServer(pid int, phase string) (stop func(), err error) {
	dir := os.Getenv("MIRRORSTORE_BENCH_PERF")
	if dir == "" {
		return func() {}, nil
	}
	cmd := exec.Command("perf", "record", "-F", "999", "-g", "-p", strconv.Itoa(pid), "-o", filepath.Join(dir, phase+".data"))
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("perf record: %w", err)
	}
	// perf needs a moment to attach; a phase started at once would be
	// missed in part.
	time.Sleep(500 * time.Millisecond)
	return func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}, nil
}

// signedDo sends a request signed with the bench credential.
func signedDo(method, url string, body []byte) (int, []byte, error) {
	r, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	r.Header.Set("X-Amz-Content-Sha256", hash)
	creds := aws.Credentials{AccessKeyID: benchAccessKey, SecretAccessKey: benchSecretKey}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), creds, r, hash, "s3", "us-east-1", time.Now()); err != nil {
		return 0, nil, err
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// fetchResult is one GET read to its end.
type fetchResult struct {
	ttfb, total time.Duration
	bytes       int64
}

func (f fetchResult) mbps() float64 { return float64(f.bytes) / 1e6 / f.total.Seconds() }

// fetch GETs url on client, reads the body to its end and times the first
// body byte and the whole.
func fetch(client *http.Client, url string, want int64) (fetchResult, error) {
	start := time.Now()
	resp, err := client.Get(url)
	if err != nil {
		return fetchResult{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fetchResult{}, fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	buf := make([]byte, 256<<10)
	var r fetchResult
	for {
		k, err := resp.Body.Read(buf)
		if k > 0 && r.bytes == 0 {
			r.ttfb = time.Since(start)
		}
		r.bytes += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fetchResult{}, fmt.Errorf("GET %s after %d bytes: %w", url, r.bytes, err)
		}
	}
	r.total = time.Since(start)
	if want >= 0 && r.bytes != want {
		return fetchResult{}, fmt.Errorf("GET %s: %d bytes, want %d", url, r.bytes, want)
	}
	return r, nil
}

// waitStored waits until an anonymous HEAD of url answers with an ETag: the
// fill has committed and later GETs are local.
func waitStored(url string) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Head(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && resp.Header.Get("ETag") != "" {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s not stored within 60s", url)
}

// procStatusKiB reads a "Name:  N kB" field of /proc/<pid>/status.
func procStatusKiB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// procCPU returns the user + system CPU time a process has used, from
// /proc/<pid>/stat (clock ticks of 10 ms). Unlike wall time it hardly moves
// with what else runs on the machine, so a change's cost can be compared
// between runs on a busy machine.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; the fields after its
	// closing parenthesis are fixed: utime and stime are the 12th and 13th.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	return time.Duration(u+st) * 10 * time.Millisecond, nil
}

// writeRepeated writes size bytes made of one random 1 MiB block repeated.
func writeRepeated(path string, size int64) error {
	block := make([]byte, 1<<20)
	rand.Read(block)
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 4<<20)
	for n := int64(0); n < size; n += int64(len(block)) {
		if _, err := w.Write(block[:min(int64(len(block)), size-n)]); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// concurrentGets runs n GETs of urls(i) on conns workers and returns the
// wall time.
func concurrentGets(client *http.Client, n, conns int, url func(i int) string, want int64) (time.Duration, error) {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if _, err := fetch(client, url(i), want); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start), firstErr
}

func newBenchHTTPClient(conns int, keepAlive bool) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = conns * 2
	t.MaxIdleConnsPerHost = conns * 2
	t.DisableKeepAlives = !keepAlive
	t.DisableCompression = true
	return &http.Client{Transport: t}
}

// mirrorSuite measures cold mirror fills from a loopback nginx origin
// against direct GETs from that nginx (SPEC §7).
func mirrorSuite(work string, opt mirrorOptions) error {
	dir := filepath.Join(work, "origin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// One random file per size; the cold keys are hard links to it, so each
	// name is a distinct key to mirrorstore while nginx reads the same
	// cached pages for the direct GET and the fill.
	if err := writeRepeated(filepath.Join(dir, "cold.bin"), coldSize); err != nil {
		return err
	}
	for i := 0; i < opt.coldRuns; i++ {
		if err := os.Link(filepath.Join(dir, "cold.bin"), filepath.Join(dir, fmt.Sprintf("cold-%d.bin", i))); err != nil {
			return err
		}
	}
	if err := writeRepeated(filepath.Join(dir, "herd.bin"), herdSize); err != nil {
		return err
	}
	names := []string{"herd-solo.bin", "herd-many.bin"}
	for i := 0; i < pacedRuns; i++ {
		names = append(names, fmt.Sprintf("paced-%d.bin", i))
	}
	for _, name := range names {
		if err := os.Link(filepath.Join(dir, "herd.bin"), filepath.Join(dir, name)); err != nil {
			return err
		}
	}

	// An access log counts origin requests; /small/ answers any key with
	// the same 1 KiB body from memory.
	ngx, err := startNginx(work, dir, nginxOptions{
		name:      "nginx-origin",
		accessLog: true,
		locations: fmt.Sprintf(`location /small/ { default_type application/octet-stream; return 200 "%s"; }
    location /paced/ { alias %s/; limit_rate %s; }`, strings.Repeat("m", smallSize), dir, pacedRate),
	})
	if err != nil {
		return err
	}
	defer ngx.stop()
	ms, err := startMirrorProc(work)
	if err != nil {
		return err
	}
	defer ms.stop()
	if err := seedPublicBucket(ms.endpoint, nil); err != nil {
		return err
	}
	rule := `<WebsiteConfiguration><RoutingRules><RoutingRule><RuleNumber>1</RuleNumber>
<Condition><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition>
<Redirect><RedirectType>Mirror</RedirectType><MirrorURL>` + ngx.base + `/</MirrorURL></Redirect></RoutingRule></RoutingRules></WebsiteConfiguration>`
	if code, body, err := signedDo(http.MethodPut, ms.endpoint+"/"+benchBucket+"?website", []byte(rule)); err != nil || code != http.StatusOK {
		return fmt.Errorf("PUT ?website: %d %s %v", code, body, err)
	}
	msBase := ms.endpoint + "/" + benchBucket

	fmt.Printf("# mirror suite: anonymous GETs of cold keys of a public-read bucket mirrored from a loopback nginx, %s, %d cores\n\n", runtime.Version(), runtime.NumCPU())

	// 1. Cold 256 MiB: fill vs direct, new connections for both, the two
	// taking turns at going first.
	one := newBenchHTTPClient(1, false)
	var msMBps, dMBps, msTTFB, dTTFB []float64
	stopProfile, err := profileServer(ms.pid, "cold")
	if err != nil {
		return err
	}
	// The server's CPU over the cold phase (fills, their commits, and the
	// waits for them): fills take turns with direct GETs, which it never
	// sees.
	coldCPU0, err := procCPU(ms.pid)
	if err != nil {
		return err
	}
	for i := 0; i < opt.coldRuns; i++ {
		name := fmt.Sprintf("cold-%d.bin", i)
		measure := []func() error{
			func() error {
				r, err := fetch(one, msBase+"/"+name, coldSize)
				if err == nil {
					msMBps, msTTFB = append(msMBps, r.mbps()), append(msTTFB, r.ttfb.Seconds()*1e3)
					err = waitStored(msBase + "/" + name)
				}
				return err
			},
			func() error {
				r, err := fetch(one, ngx.base+"/"+name, coldSize)
				if err == nil {
					dMBps, dTTFB = append(dMBps, r.mbps()), append(dTTFB, r.ttfb.Seconds()*1e3)
				}
				return err
			},
		}
		if i%2 == 1 {
			measure[0], measure[1] = measure[1], measure[0]
		}
		for _, m := range measure {
			if err := m(); err != nil {
				return err
			}
		}
		fmt.Fprintf(os.Stderr, "cold %s: mirror %.0f MB/s ttfb %.2f ms, direct %.0f MB/s ttfb %.2f ms\n", name, msMBps[i], msTTFB[i], dMBps[i], dTTFB[i])
	}
	stopProfile()
	coldCPU1, err := procCPU(ms.pid)
	if err != nil {
		return err
	}
	coldCPU := (coldCPU1 - coldCPU0) / time.Duration(opt.coldRuns)

	// 1b. Cold 64 MiB from the paced origin, fill vs direct, taking turns.
	var pacedMS, pacedD []float64
	for i := 0; i < pacedRuns; i++ {
		path := fmt.Sprintf("/paced/paced-%d.bin", i)
		measure := []func() error{
			func() error {
				r, err := fetch(one, msBase+path, pacedSize)
				if err == nil {
					pacedMS = append(pacedMS, r.mbps())
					err = waitStored(msBase + path)
				}
				return err
			},
			func() error {
				r, err := fetch(one, ngx.base+path, pacedSize)
				if err == nil {
					pacedD = append(pacedD, r.mbps())
				}
				return err
			},
		}
		if i%2 == 1 {
			measure[0], measure[1] = measure[1], measure[0]
		}
		for _, m := range measure {
			if err := m(); err != nil {
				return err
			}
		}
		fmt.Fprintf(os.Stderr, "paced %s: mirror %.1f MB/s, direct %.1f MB/s\n", path, pacedMS[i], pacedD[i])
	}

	// 2. Herd: one cold fetch alone, then opt.herd at once on another cold
	// key of the same file; then the same herd on the now stored key.
	solo, err := fetch(one, msBase+"/herd-solo.bin", herdSize)
	if err != nil {
		return err
	}
	if err := waitStored(msBase + "/herd-solo.bin"); err != nil {
		return err
	}
	many := newBenchHTTPClient(opt.herd, true)
	herdWall, err := concurrentGets(many, opt.herd, opt.herd, func(int) string { return msBase + "/herd-many.bin" }, herdSize)
	if err != nil {
		return err
	}
	if err := waitStored(msBase + "/herd-many.bin"); err != nil {
		return err
	}
	warmWall, err := concurrentGets(many, opt.herd, opt.herd, func(int) string { return msBase + "/herd-many.bin" }, herdSize)
	if err != nil {
		return err
	}
	many.CloseIdleConnections()
	originHits, err := ngx.requests("/herd-many.bin")
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "herd: solo %v, %d cold %v, %d stored %v, %d origin requests\n", solo.total, opt.herd, herdWall, opt.herd, warmWall, originHits)

	// 3. Memory while filling a 2 GiB object.
	hugePath := filepath.Join(dir, "huge.bin")
	if err := writeRepeated(hugePath, hugeSize); err != nil {
		return err
	}
	rssBefore, err := procStatusKiB(ms.pid, "VmRSS")
	if err != nil {
		return err
	}
	hwmBefore, err := procStatusKiB(ms.pid, "VmHWM")
	if err != nil {
		return err
	}
	huge, err := fetch(one, msBase+"/huge.bin", hugeSize)
	if err != nil {
		return err
	}
	if err := waitStored(msBase + "/huge.bin"); err != nil {
		return err
	}
	hwmAfter, err := procStatusKiB(ms.pid, "VmHWM")
	if err != nil {
		return err
	}
	os.Remove(hugePath)
	if code, body, err := signedDo(http.MethodDelete, msBase+"/huge.bin", nil); err != nil || code != http.StatusNoContent {
		return fmt.Errorf("DELETE huge.bin: %d %s %v", code, body, err)
	}
	// VmHWM cannot be reset, so an earlier peak can only inflate this
	// figure: it is an upper bound of the fill's own growth.
	growthMiB := float64(hwmAfter-rssBefore) / 1024
	fmt.Fprintf(os.Stderr, "2 GiB fill: %.0f MB/s, VmRSS before %d kB, VmHWM before %d kB, after %d kB\n", huge.mbps(), rssBefore, hwmBefore, hwmAfter)

	// 4. Small cold fills: distinct 1 KiB keys, opt.smallConns clients,
	// against the same GETs straight from nginx.
	small := newBenchHTTPClient(opt.smallConns, true)
	dWall, err := concurrentGets(small, opt.smallKeys, opt.smallConns, func(i int) string { return fmt.Sprintf("%s/small/d-%d", ngx.base, i) }, smallSize)
	if err != nil {
		return err
	}
	if stopProfile, err = profileServer(ms.pid, "small"); err != nil {
		return err
	}
	smallCPU0, err := procCPU(ms.pid)
	if err != nil {
		return err
	}
	fillWall, err := concurrentGets(small, opt.smallKeys, opt.smallConns, func(i int) string { return fmt.Sprintf("%s/small/m-%d", msBase, i) }, smallSize)
	stopProfile()
	if err != nil {
		return err
	}
	smallCPU1, err := procCPU(ms.pid)
	if err != nil {
		return err
	}
	smallCPU := (smallCPU1 - smallCPU0) / time.Duration(opt.smallKeys)
	fills := float64(opt.smallKeys) / fillWall.Seconds()
	direct := float64(opt.smallKeys) / dWall.Seconds()
	for _, i := range []int{0, opt.smallKeys / 2, opt.smallKeys - 1} {
		if err := waitStored(fmt.Sprintf("%s/small/m-%d", msBase, i)); err != nil {
			return err
		}
	}

	met := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "**no**"
	}
	mMB, dMB := median(msMBps), median(dMBps)
	mT, dT := median(msTTFB), median(dTTFB)
	herdRatio := herdWall.Seconds() / solo.total.Seconds()
	fmt.Println("| measure | mirrorstore | direct / anchor | ratio | target | met? |")
	fmt.Println("|---|---|---|---|---|---|")
	fmt.Printf("| cold 256 MiB GET, MB/s (median of %d keys) | %.0f | %.0f (nginx direct) | %.2f× | ≥ 0.9× | %s |\n", opt.coldRuns, mMB, dMB, mMB/dMB, met(mMB/dMB >= 0.9))
	pM, pD := median(pacedMS), median(pacedD)
	fmt.Printf("| cold 64 MiB GET from an origin paced at %sB/s a connection (nginx limit_rate), MB/s (median of %d keys) | %.1f | %.1f (nginx direct, same pace) | %.2f× | ≥ 0.9× | %s |\n", pacedRate, pacedRuns, pM, pD, pM/pD, met(pM/pD >= 0.9))
	fmt.Printf("| cold 256 MiB GET, time to first byte (median) | %.2f ms | %.2f ms (nginx direct) | +%.2f ms | ≤ direct + 2 ms | %s |\n", mT, dT, mT-dT, met(mT <= dT+2))
	fmt.Printf("| %d concurrent misses on one cold 64 MiB key, wall time | %.2f s | %.2f s (one cold fetch alone) | %.2f× | ≤ 1.3× | %s |\n", opt.herd, herdWall.Seconds(), solo.total.Seconds(), herdRatio, met(herdRatio <= 1.3))
	fmt.Printf("| origin requests for those %d misses | %d | — | — | exactly 1 | %s |\n", opt.herd, originHits, met(originHits == 1))
	fmt.Printf("| peak RSS growth filling a 2 GiB object (VmHWM after − VmRSS before) | %.1f MiB | %.1f MiB VmRSS before | — | ≤ 64 MiB | %s |\n", growthMiB, float64(rssBefore)/1024, met(growthMiB <= 64))
	fmt.Printf("| cold 1 KiB fills/s (%d keys, %d clients) | %.0f | %.0f req/s (nginx direct) | %.2f× | ≥ 2,000/s | %s |\n", opt.smallKeys, opt.smallConns, fills, direct, fills/direct, met(fills >= 2000))
	fmt.Printf("\nAnchors: %d concurrent GETs of the same 64 MiB key once stored took %.2f s (the cold herd took %.2f× that); the 2 GiB fill ran at %.0f MB/s; VmHWM was %.1f MiB before it and %.1f MiB after.\n",
		opt.herd, warmWall.Seconds(), herdWall.Seconds()/warmWall.Seconds(), huge.mbps(), float64(hwmBefore)/1024, float64(hwmAfter)/1024)
	fmt.Printf("Server CPU (user + system): %.0f ms per cold 256 MiB fill, %.0f µs per cold 1 KiB fill.\n",
		coldCPU.Seconds()*1e3, smallCPU.Seconds()*1e6)
	return nil
}
