// Package crash kills the real server binary with SIGKILL while it takes a
// mixed workload (PUT, overwrite, DELETE, CopyObject, multipart Complete and
// mirror fills from a local origin), restarts it, and checks the durability
// promises of SPEC §4 and §7 against a log of acknowledged operations:
// every acknowledged write is there with its exact bytes, every
// acknowledged delete is gone, no object is ever partial, every listing
// entry reads back whole, and no orphan data file survives a start.
package crash

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

const (
	accessKey = "crashaccesskey"
	secretKey = "crashsecretkey0123456789"
	bucket    = "crash"
)

var rounds = envInt("MIRRORSTORE_CRASH_ROUNDS", 20)

// budget, from MIRRORSTORE_CRASH_FOR (a duration), stops the long form
// after the cycle that passes it, so a run that must end by a given time
// still prints its counts; 0 means no limit.
var budget, _ = time.ParseDuration(os.Getenv("MIRRORSTORE_CRASH_FOR"))

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// A blob is one body the workload can store, named by how it was made, so
// its bytes can be rebuilt for any check without keeping them: a PUT of
// (key, gen), a multipart upload of (key, gen), or the origin's body for
// key. A copy stores its source's blob under another key.
type blob struct {
	kind byte // 'p' PUT, 'm' multipart, 'f' mirror fill
	key  string
	gen  int
}

// seed is the name every generator of the blob derives from.
func (b blob) seed() string { return fmt.Sprintf("%c:%s#%d", b.kind, b.key, b.gen) }

// smallSize is the size of a PUT or origin body: 64..319 KiB, above any
// inlining threshold, so every such object owns one data file.
func smallSize(seed string) int {
	sum := sha256.Sum256([]byte(seed))
	return 64<<10 + int(sum[0])<<10
}

func (b blob) content() []byte {
	if b.kind == 'm' {
		var out []byte
		for i := range partSizes(b.key) {
			out = append(out, partContent(b, i)...)
		}
		return out
	}
	seed := b.seed()
	size := smallSize(seed)
	sum := sha256.Sum256([]byte(seed))
	out := make([]byte, 0, size+len(sum))
	for len(out) < size {
		sum = sha256.Sum256(sum[:])
		out = append(out, sum[:]...)
	}
	return out[:size]
}

var digests sync.Map // blob → [32]byte

// digest is the SHA-256 of the blob's content, computed once: a check
// compares digests rather than rebuilding bodies of 10 MiB every round.
func (b blob) digest() [32]byte {
	if d, ok := digests.Load(b); ok {
		return d.([32]byte)
	}
	d := sha256.Sum256(b.content())
	digests.Store(b, d)
	return d
}

func (b blob) size() int64 {
	if b.kind != 'm' {
		return int64(smallSize(b.seed()))
	}
	var n int64
	for _, p := range partSizes(b.key) {
		n += int64(p)
	}
	return n
}

// partSizes are the parts of a multipart key: two of the 5 MiB minimum and
// a small last one, so every completed upload spans three data files.
func partSizes(key string) []int {
	sum := sha256.Sum256([]byte(key))
	return []int{5 << 20, 5 << 20, 1<<10 + int(sum[1])<<8}
}

// partContent is part i (from 0) of a multipart blob, drawn from a
// generator seeded by the blob and the part number.
func partContent(b blob, i int) []byte {
	seed := sha256.Sum256([]byte(fmt.Sprintf("%s/part%d", b.seed(), i)))
	out := make([]byte, partSizes(b.key)[i])
	_, _ = rand.NewChaCha8(seed).Read(out)
	return out
}

// A state is what a key holds: nothing, or a blob in some data files (a
// completed upload owns one per part; a PUT, copy or fill owns one).
type state struct {
	present bool
	blob    blob
	files   int
}

var absent = state{}

func (s state) String() string {
	if !s.present {
		return "absent"
	}
	return fmt.Sprintf("%s (%d bytes)", s.blob.seed(), s.blob.size())
}

// model is the log of acknowledged operations, reduced to what each key may
// hold. A key has one allowed state after an acknowledged operation, and
// two (the old and the new) while an operation is unacknowledged: one that
// was in flight at the kill may or may not have happened. Each key belongs
// to one worker, so at most one operation on it is in flight.
type model struct {
	mu      sync.Mutex
	allowed map[string][]state
	touched map[string]bool // keys operated on since the last check
	gens    map[string]int
	acks    map[string]int // acknowledged operations by kind
	checks  map[string]int // checks passed by kind
}

func newModel() *model {
	return &model{allowed: map[string][]state{}, touched: map[string]bool{}, gens: map[string]int{}, acks: map[string]int{}, checks: map[string]int{}}
}

// current is the key's single known state (absent for a new key).
func (m *model) current(key string) state {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a := m.allowed[key]; len(a) > 0 {
		return a[len(a)-1]
	}
	return absent
}

func (m *model) nextGen(key string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gens[key]++
	return m.gens[key]
}

// begin records an operation about to be sent that would leave key in s.
func (m *model) begin(key string, s state) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.allowed[key]
	if !ok {
		old = []state{absent}
	}
	m.allowed[key] = append(slices.Clone(old[len(old)-1:]), s)
	m.touched[key] = true
}

// ack records that the operation begun on key was acknowledged.
func (m *model) ack(key, kind string, s state) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.allowed[key] = []state{s}
	m.acks[kind]++
}

type server struct {
	bin, data, addr string
	cmd             *exec.Cmd
	log             *syncBuffer
}

// syncBuffer is the server's log: written by the copying goroutines of
// exec, read by a failing test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (s *server) start(t *testing.T) {
	t.Helper()
	s.log = &syncBuffer{}
	// The origin is on loopback: the private-address guard would refuse it.
	s.cmd = exec.Command(s.bin, "server", "--addr", s.addr, "--data", s.data, "--mirror-allow-private")
	s.cmd.Env = append(os.Environ(), "MIRRORSTORE_ACCESS_KEY="+accessKey, "MIRRORSTORE_SECRET_KEY="+secretKey)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	// A test binary killed by its timeout takes the server with it.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + s.addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	t.Fatalf("server did not become ready; its log:\n%s", s.log)
}

func (s *server) kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	s.cmd.Wait()
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func buildServer(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "mirrorstore")
	out, err := exec.Command("go", "build", "-o", bin, "mirrorstore/cmd/mirrorstore").CombinedOutput()
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

func newClient(addr string) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String("http://" + addr),
		Region:       "us-east-1",
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   &http.Client{Timeout: 60 * time.Second},
	})
}

// startOrigin serves, for every path, the body of the fill blob of the key
// it names, with its length.
func startOrigin(t *testing.T) *httptest.Server {
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := blob{kind: 'f', key: strings.TrimPrefix(r.URL.Path, "/")}.content()
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(body)
	}))
	t.Cleanup(o.Close)
	return o
}

// putMirrorRule gives the bucket a Mirror rule for keys under m/ with a
// raw signed PUT ?website (the SDK's types have no Mirror fields).
func putMirrorRule(t *testing.T, addr, originURL string) {
	doc := []byte(`<WebsiteConfiguration><RoutingRules><RoutingRule><RuleNumber>1</RuleNumber>` +
		`<Condition><KeyPrefixEquals>m/</KeyPrefixEquals><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition>` +
		`<Redirect><RedirectType>Mirror</RedirectType><MirrorURL>` + originURL + `/</MirrorURL></Redirect>` +
		`</RoutingRule></RoutingRules></WebsiteConfiguration>`)
	r, err := http.NewRequest(http.MethodPut, "http://"+addr+"/"+bucket+"?website", bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(doc)
	hash := hex.EncodeToString(sum[:])
	r.Header.Set("X-Amz-Content-Sha256", hash)
	creds := aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hash, "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT ?website: %d %s", resp.StatusCode, b)
	}
}

// TestKillDuringWrites runs the mixed workload and kills the server at a
// random moment of every round. Each round waits for one multipart upload
// and one fill to be acknowledged before the kill, so every round checks
// both, while others are cut short. The 20 default rounds take about a
// minute under -race; MIRRORSTORE_CRASH_ROUNDS=1000 (make crash-long) is
// the long form, MIRRORSTORE_CRASH_FOR a time limit on it.
func TestKillDuringWrites(t *testing.T) {
	killDuring(t, 4, 2, 1, 20, 300)
}

type worker struct {
	name string
	own  []string // keys this worker made; only it operates on them
	n    int
}

// newKey names a fresh key of the worker in this round.
func (w *worker) newKey(round int) string {
	w.n++
	key := fmt.Sprintf("%sr%04d/%05d", w.name, round, w.n)
	w.own = append(w.own, key)
	return key
}

func (w *worker) pick() string { return w.own[rand.IntN(len(w.own))] }

// killDuring runs rounds of putters mixed workers (PUT, overwrite, DELETE,
// CopyObject), uploaders multipart workers and fillers mirror-fill
// workers, kills the server after a random pause of minMs to minMs+spanMs
// milliseconds, restarts it and verifies.
func killDuring(t *testing.T, putters, uploaders, fillers, minMs, spanMs int) {
	rounds := rounds
	if testing.Short() {
		t.Log("short mode: 3 rounds")
		rounds = 3
	}
	origin := startOrigin(t)
	s := &server{bin: buildServer(t), data: t.TempDir(), addr: freeAddr(t)}
	s.start(t)
	ctx := context.Background()
	if _, err := newClient(s.addr).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	putMirrorRule(t, s.addr, origin.URL)

	m := newModel()
	var workers []*worker
	for i := 0; i < putters; i++ {
		workers = append(workers, &worker{name: fmt.Sprintf("w%d/", i)})
	}
	for i := 0; i < uploaders; i++ {
		workers = append(workers, &worker{name: fmt.Sprintf("mp/w%d/", i)})
	}
	for i := 0; i < fillers; i++ {
		// The rule mirrors keys under m/.
		workers = append(workers, &worker{name: fmt.Sprintf("m/w%d/", i)})
	}
	start := time.Now()
	cycles := 0
	for round := 0; round < rounds; round++ {
		if budget > 0 && time.Since(start) > budget {
			t.Logf("MIRRORSTORE_CRASH_FOR=%v reached after %d of %d cycles", budget, round, rounds)
			break
		}
		roundStart := time.Now()
		client := newClient(s.addr)
		var wg sync.WaitGroup
		var killed atomic.Bool
		stop := make(chan struct{})
		// Each closes when this round's first upload (fill) is
		// acknowledged: the kill waits for both.
		firstComplete, firstFill := make(chan struct{}), make(chan struct{})
		var onceComplete, onceFill sync.Once
		for _, w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					kind, err := step(ctx, client, m, w, round)
					if err != nil {
						// An error before the kill is a failure of the
						// server, not of the crash.
						if !killed.Load() {
							t.Errorf("round %d: %s by %s failed before the kill: %v", round, kind, w.name, err)
						}
						return
					}
					switch kind {
					case "complete":
						onceComplete.Do(func() { close(firstComplete) })
					case "fill":
						onceFill.Do(func() { close(firstFill) })
					}
				}
			}()
		}
		time.Sleep(time.Duration(minMs+rand.IntN(spanMs)) * time.Millisecond)
		for _, c := range []struct {
			n    int
			done chan struct{}
			what string
		}{{uploaders, firstComplete, "multipart upload completed"}, {fillers, firstFill, "fill stored"}} {
			if c.n == 0 {
				continue
			}
			select {
			case <-c.done:
			case <-time.After(60 * time.Second):
				t.Errorf("round %d: no %s in 60 s", round, c.what)
			}
		}
		t0 := time.Now()
		killed.Store(true)
		s.kill()
		close(stop)
		wg.Wait()
		t1 := time.Now()
		s.start(t)
		t2 := time.Now()
		verify(t, s, m)
		cycles++
		if (round+1)%100 == 0 {
			// Progress of the long form; the last round's phases show
			// where its time goes.
			t.Logf("%d cycles in %v; round %d: load %v, kill %v, start %v, check %v", round+1, time.Since(start).Round(time.Second),
				round, t0.Sub(roundStart).Round(time.Millisecond), t1.Sub(t0).Round(time.Millisecond), t2.Sub(t1).Round(time.Millisecond), time.Since(t2).Round(time.Millisecond))
			logCounts(t, m)
		}
		if t.Failed() {
			t.Fatalf("round %d failed; server log:\n%s", round, s.log)
		}
	}
	s.kill()
	keys := 0
	for _, w := range workers {
		keys += len(w.own)
	}
	t.Logf("crash loop: %d cycles (SIGKILL, restart, check) in %v; %d keys", cycles, time.Since(start).Round(time.Second), keys)
	logCounts(t, m)
}

// logCounts prints the operations acknowledged and the checks passed.
func logCounts(t *testing.T, m *model) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t.Logf("acknowledged: put %d, overwrite %d, delete %d, copy %d, multipart complete %d, mirror fill %d",
		m.acks["put"], m.acks["overwrite"], m.acks["delete"], m.acks["copy"], m.acks["complete"], m.acks["fill"])
	t.Logf("checks passed: listed entries read back %d, listed sizes %d, present after ack %d, gone after delete %d, in-flight resolved %d, upload parts %d, uploads aborted %d, orphan scans %d",
		m.checks["read"], m.checks["size"], m.checks["present"], m.checks["gone"], m.checks["in-flight"], m.checks["part"], m.checks["abort"], m.checks["orphans"])
}

// step runs one operation of worker w and logs it in m. It returns the
// operation's kind and the error that stopped it, if any.
func step(ctx context.Context, client *s3.Client, m *model, w *worker, round int) (string, error) {
	switch {
	case strings.HasPrefix(w.name, "mp/"):
		// Deleting every other upload bounds the data the long form
		// keeps (10 MiB an upload) while it checks deletes of multipart
		// objects too.
		if len(w.own) > 0 && rand.IntN(2) == 0 {
			return "delete", deleteKey(ctx, client, m, w.pick())
		}
		key := w.newKey(round)
		s := state{present: true, blob: blob{kind: 'm', key: key, gen: m.nextGen(key)}, files: len(partSizes(key))}
		m.begin(key, s)
		if err := uploadMultipart(ctx, client, key, s.blob); err != nil {
			return "complete", err
		}
		m.ack(key, "complete", s)
		return "complete", nil
	case strings.HasPrefix(w.name, "m/"):
		if len(w.own) > 0 && rand.IntN(5) == 0 {
			return "delete", deleteKey(ctx, client, m, w.pick())
		}
		return "fill", fill(ctx, client, m, w.newKey(round))
	}
	r := rand.IntN(100)
	switch {
	case r < 45 || len(w.own) == 0:
		key := w.newKey(round)
		return "put", put(ctx, client, m, key, "put")
	case r < 60:
		return "overwrite", put(ctx, client, m, w.pick(), "overwrite")
	case r < 75:
		return "delete", deleteKey(ctx, client, m, w.pick())
	default:
		src := w.pick()
		from := m.current(src)
		if !from.present {
			return "put", put(ctx, client, m, w.newKey(round), "put")
		}
		dst := w.pick()
		if dst == src || rand.IntN(2) == 0 {
			dst = w.newKey(round)
		}
		// A copy is one new data file, whatever its source was made of.
		s := state{present: true, blob: from.blob, files: 1}
		m.begin(dst, s)
		_, err := client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String(dst), CopySource: aws.String(bucket + "/" + src)})
		if err != nil {
			return "copy", err
		}
		m.ack(dst, "copy", s)
		return "copy", nil
	}
}

func put(ctx context.Context, client *s3.Client, m *model, key, kind string) error {
	s := state{present: true, blob: blob{kind: 'p', key: key, gen: m.nextGen(key)}, files: 1}
	m.begin(key, s)
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(s.blob.content())}); err != nil {
		return err
	}
	m.ack(key, kind, s)
	return nil
}

func deleteKey(ctx context.Context, client *s3.Client, m *model, key string) error {
	m.begin(key, absent)
	if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
		return err
	}
	m.ack(key, "delete", absent)
	return nil
}

// fill GETs a key the bucket lacks, so the Mirror rule fetches it from the
// origin, checks the bytes streamed, and waits until a HEAD (which never
// starts a fill) finds it stored, with its ETag: only then is the fill
// acknowledged, since the client has the last byte before the fill commits.
func fill(ctx context.Context, client *s3.Client, m *model, key string) error {
	s := state{present: true, blob: blob{kind: 'f', key: key}, files: 1}
	m.begin(key, s)
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return err
	}
	got, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil {
		return err
	}
	if !bytes.Equal(got, s.blob.content()) {
		return fmt.Errorf("fill of %q streamed %d bytes, not the origin's %d", key, len(got), s.blob.size())
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		// A HEAD while the fill commits joins it and answers from the
		// origin's headers, without an ETag; the stored object has one.
		out, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err == nil && out.ETag != nil {
			break
		}
		var nf *types.NotFound
		if err != nil && !errors.As(err, &nf) || time.Now().After(deadline) {
			return fmt.Errorf("fill of %q not stored after its GET: %v", key, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// A record is visible once it is in the metadata log's queue, a
	// moment before the log's fsync: a kill in between loses a fill the
	// HEAD saw (no client was told it was stored; the next GET fills it
	// again). A later synced write of this worker is behind it in the
	// log, so once that PUT is acknowledged, the fill is durable.
	if err := put(ctx, client, m, key+".synced", "put"); err != nil {
		return err
	}
	m.ack(key, "fill", s)
	return nil
}

// uploadMultipart uploads the parts of b and completes the upload.
func uploadMultipart(ctx context.Context, client *s3.Client, key string, b blob) error {
	up, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return err
	}
	var parts []types.CompletedPart
	for i := range partSizes(key) {
		n := int32(i + 1)
		out, err := client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId,
			PartNumber: aws.Int32(n), Body: bytes.NewReader(partContent(b, i)),
		})
		if err != nil {
			return err
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)})
	}
	_, err = client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	return err
}

// verify checks the store against the model after a restart: every listing
// entry is a key the workload wrote, with the size of a state it may hold;
// every key whose every allowed state is present is listed, and every key
// that may only be absent is not (HEAD, which never fills, says 404). Keys
// operated on since the last check are read back in full and their
// observed state becomes their one allowed state; others are read back on
// a sample (each was read in full at the check after it changed). Uploads
// left in progress list only whole parts and are then aborted, and the
// data folder holds exactly the files of the listed objects.
func verify(t *testing.T, s *server, m *model) {
	t.Helper()
	ctx := context.Background()
	client := newClient(s.addr)
	m.mu.Lock()
	defer m.mu.Unlock()
	// Untouched keys are sampled, about eight a check, so a check costs
	// the same in round 1000 as in round 1.
	sample := max(1, len(m.allowed)/8)
	listed := map[string]int64{}
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		for _, o := range page.Contents {
			key, size := aws.ToString(o.Key), aws.ToInt64(o.Size)
			listed[key] = size
			allowed, ok := m.allowed[key]
			if !ok {
				t.Errorf("listed key %q was never written", key)
				continue
			}
			if !slices.ContainsFunc(allowed, func(s state) bool { return s.present && s.blob.size() == size }) {
				t.Errorf("listed %q with size %d, want one of %v (partial object)", key, size, allowed)
			}
			m.checks["size"]++
		}
	}
	wantFiles := 0
	for key, allowed := range m.allowed {
		size, isListed := listed[key]
		mayBeAbsent := slices.Contains(allowed, absent)
		switch {
		case !isListed && !mayBeAbsent:
			t.Errorf("acknowledged key %q (%v) is missing after the crash", key, allowed)
			continue
		case !isListed:
			if !m.touched[key] && rand.IntN(sample) != 0 {
				continue
			}
			if _, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err == nil {
				t.Errorf("key %q is not listed but HEAD finds it", key)
			}
			if len(allowed) == 1 {
				m.checks["gone"]++
			} else {
				m.checks["in-flight"]++
			}
			m.allowed[key] = []state{absent}
			continue
		}
		if !m.touched[key] && rand.IntN(sample) != 0 {
			// Unchanged since its last full read: one allowed state.
			wantFiles += allowed[0].files
			continue
		}
		out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Errorf("get listed %q: %v", key, err)
			continue
		}
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil || int64(len(got)) != size {
			t.Errorf("get listed %q: %d bytes (err %v), listed with %d", key, len(got), err, size)
			continue
		}
		sum := sha256.Sum256(got)
		i := slices.IndexFunc(allowed, func(s state) bool { return s.present && s.blob.digest() == sum })
		if i < 0 {
			t.Errorf("get %q: %d bytes that are none of %v (partial or mixed object)", key, len(got), allowed)
			continue
		}
		m.checks["read"]++
		switch {
		case len(allowed) > 1:
			m.checks["in-flight"]++
		case m.touched[key]:
			m.checks["present"]++
		}
		m.allowed[key] = []state{allowed[i]}
		wantFiles += allowed[i].files
	}
	clear(m.touched)
	// Uploads cut short keep their acknowledged parts, each one file.
	up := s3.NewListMultipartUploadsPaginator(client, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	for up.HasMorePages() {
		page, err := up.NextPage(ctx)
		if err != nil {
			t.Fatalf("list uploads: %v", err)
		}
		for _, u := range page.Uploads {
			key := aws.ToString(u.Key)
			parts, err := client.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(bucket), Key: u.Key, UploadId: u.UploadId})
			if err != nil {
				t.Fatalf("list parts of %q: %v", key, err)
			}
			for _, part := range parts.Parts {
				n := int(aws.ToInt32(part.PartNumber))
				if n < 1 || n > len(partSizes(key)) || aws.ToInt64(part.Size) != int64(partSizes(key)[n-1]) {
					t.Errorf("upload of %q lists part %d of %d bytes: partial part", key, n, aws.ToInt64(part.Size))
				}
				m.checks["part"]++
			}
			// Aborting it removes its parts, which bounds the data the
			// long form keeps and checks that an abort frees them.
			if _, err := client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: u.Key, UploadId: u.UploadId}); err != nil {
				t.Errorf("abort the upload of %q: %v", key, err)
				wantFiles += len(parts.Parts)
			}
			m.checks["abort"]++
		}
	}
	files, staged := dataFiles(t, s.data)
	if staged != 0 {
		t.Errorf("%d files left in tmp/ or mirror staging after start", staged)
	}
	if files != wantFiles {
		t.Errorf("%d data files under objects/ for %d objects and parts: orphans after start", files, wantFiles)
	}
	m.checks["orphans"]++
}

// dataFiles counts the regular files under the engine's objects/ folder
// and its tmp/ and mirror staging folders, wherever the server placed them
// inside its data folder.
func dataFiles(t *testing.T, root string) (objects, staged int) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		for dir := filepath.Dir(rel); dir != "." && dir != "/"; dir = filepath.Dir(dir) {
			switch filepath.Base(dir) {
			case "objects":
				objects++
				return nil
			case "tmp", "mirror-staging":
				staged++
				return nil
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return objects, staged
}
