// Package crash kills the real server binary with SIGKILL while it takes
// writes, restarts it, and checks the durability promises of SPEC §4: every
// write acknowledged with 200 is there with its exact bytes, no object is
// ever partial, and no orphan data file survives a start.
package crash

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

const (
	accessKey = "crashaccesskey"
	secretKey = "crashsecretkey0123456789"
	bucket    = "crash"
)

var rounds = envInt("MIRRORSTORE_CRASH_ROUNDS", 20)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// content returns the deterministic body of a key: its size and bytes derive
// from the key alone, so a check needs no record of what was sent. Sizes stay
// above any inlining threshold so that every object owns one data file.
func content(key string) []byte {
	sum := sha256.Sum256([]byte(key))
	size := 64<<10 + int(sum[0])<<10 // 64..319 KiB
	out := make([]byte, 0, size)
	for len(out) < size {
		sum = sha256.Sum256(sum[:])
		out = append(out, sum[:]...)
	}
	return out[:size]
}

type server struct {
	bin, data, addr string
	cmd             *exec.Cmd
	log             *bytes.Buffer
}

func (s *server) start(t *testing.T) {
	t.Helper()
	s.log = &bytes.Buffer{}
	s.cmd = exec.Command(s.bin, "server", "--addr", s.addr, "--data", s.data)
	s.cmd.Env = append(os.Environ(), "MIRRORSTORE_ACCESS_KEY="+accessKey, "MIRRORSTORE_SECRET_KEY="+secretKey)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
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
		HTTPClient:   &http.Client{Timeout: 20 * time.Second},
	})
}

func TestKillDuringPuts(t *testing.T) {
	if testing.Short() {
		t.Log("short mode: 3 rounds")
		rounds = 3
	}
	s := &server{bin: buildServer(t), data: t.TempDir(), addr: freeAddr(t)}
	s.start(t)
	ctx := context.Background()
	if _, err := newClient(s.addr).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}

	acked := map[string]bool{}
	attempted := map[string]bool{}
	for round := 0; round < rounds; round++ {
		client := newClient(s.addr)
		var mu sync.Mutex
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					key := fmt.Sprintf("r%03d/w%d/%05d", round, w, i)
					mu.Lock()
					attempted[key] = true
					mu.Unlock()
					_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(content(key))})
					if err != nil {
						return // the server is gone
					}
					mu.Lock()
					acked[key] = true
					mu.Unlock()
				}
			}()
		}
		time.Sleep(time.Duration(20+rand.IntN(300)) * time.Millisecond)
		s.kill()
		close(stop)
		wg.Wait()
		s.start(t)
		verify(t, s, acked, attempted)
		if t.Failed() {
			t.Fatalf("round %d failed; server log:\n%s", round, s.log)
		}
	}
	t.Logf("%d rounds, %d acknowledged PUTs, %d attempted", rounds, len(acked), len(attempted))
	s.kill()
}

// verify checks every acknowledged key, every listed key, and the data
// folder for orphans.
func verify(t *testing.T, s *server, acked, attempted map[string]bool) {
	t.Helper()
	ctx := context.Background()
	client := newClient(s.addr)
	listed := map[string]bool{}
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			listed[key] = true
			if !attempted[key] {
				t.Errorf("listed key %q was never written", key)
			}
			if want := int64(len(content(key))); aws.ToInt64(o.Size) != want {
				t.Errorf("listed %q with size %d, want %d (partial object)", key, aws.ToInt64(o.Size), want)
			}
		}
	}
	for key := range acked {
		if !listed[key] {
			t.Errorf("acknowledged key %q is missing after the crash", key)
		}
	}
	// Read back every object of the newest round and a sample of the rest.
	for key := range listed {
		if !acked[key] && rand.IntN(4) != 0 {
			continue
		}
		out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Errorf("get %q: %v", key, err)
			continue
		}
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil || !bytes.Equal(got, content(key)) {
			t.Errorf("get %q: %d bytes (err %v), want its exact %d bytes", key, len(got), err, len(content(key)))
		}
	}
	files, staged := dataFiles(t, s.data)
	if staged != 0 {
		t.Errorf("%d files left in tmp/ after start", staged)
	}
	if files != len(listed) {
		t.Errorf("%d data files under objects/ for %d objects: orphans after start", files, len(listed))
	}
}

// dataFiles counts the regular files under the engine's objects/ and tmp/
// folders, wherever the server placed them inside its data folder.
func dataFiles(t *testing.T, root string) (objects, tmp int) {
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
			case "tmp":
				tmp++
				return nil
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return objects, tmp
}
