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
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
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

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// content returns the deterministic body of a key: its size and bytes derive
// from the key alone, so a check needs no record of what was sent. Sizes stay
// above any inlining threshold so that every object owns one data file. Keys
// under "mp/" are multipart objects: see partSizes.
func content(key string) []byte {
	if isMultipart(key) {
		var out []byte
		for i := range partSizes(key) {
			out = append(out, partContent(key, i)...)
		}
		return out
	}
	sum := sha256.Sum256([]byte(key))
	size := 64<<10 + int(sum[0])<<10 // 64..319 KiB
	out := make([]byte, 0, size)
	for len(out) < size {
		sum = sha256.Sum256(sum[:])
		out = append(out, sum[:]...)
	}
	return out[:size]
}

// size is len(content(key)) without building it.
func size(key string) int64 {
	if !isMultipart(key) {
		sum := sha256.Sum256([]byte(key))
		return int64(64<<10 + int(sum[0])<<10)
	}
	var n int64
	for _, p := range partSizes(key) {
		n += int64(p)
	}
	return n
}

func isMultipart(key string) bool { return strings.HasPrefix(key, "mp/") }

// partSizes are the parts of a multipart key: two of the 5 MiB minimum and
// a small last one, so every completed object spans three data files.
func partSizes(key string) []int {
	sum := sha256.Sum256([]byte(key))
	return []int{5 << 20, 5 << 20, 1<<10 + int(sum[1])<<8}
}

// partContent is part i (from 0) of a multipart key, drawn from a
// generator seeded by the key and the part number.
func partContent(key string, i int) []byte {
	seed := sha256.Sum256([]byte(fmt.Sprintf("%s#%d", key, i)))
	out := make([]byte, partSizes(key)[i])
	_, _ = rand.NewChaCha8(seed).Read(out)
	return out
}

// dataFilesOf is how many data files a completed object owns.
func dataFilesOf(key string) int {
	if isMultipart(key) {
		return len(partSizes(key))
	}
	return 1
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

// TestKillDuringWrites mixes PUTs with multipart uploads (two 5 MiB parts
// and a small last one, then Complete) while the server is killed: every
// acknowledged PUT and Complete must be there whole, parts of uploads left
// in progress stay listed, and no data file is left without an owner. One
// server binary and one series of kills serve both kinds of write, which
// keeps the 20 default rounds near a minute under -race.
func TestKillDuringWrites(t *testing.T) {
	killDuring(t, 4, 2, 20, 300)
}

// killDuring runs rounds of putters PUT workers and uploaders multipart
// workers, kills the server after a random pause of minMs to minMs+spanMs
// milliseconds, restarts it and verifies.
func killDuring(t *testing.T, putters, uploaders, minMs, spanMs int) {
	rounds := rounds
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
		// firstComplete closes when this round's first multipart upload
		// is acknowledged: the kill waits for it, so every round checks
		// a completed upload while others are cut short.
		firstComplete := make(chan struct{})
		var once sync.Once
		worker := func(name string, write func(key string) error) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("%sr%03d/%05d", name, round, i)
				mu.Lock()
				attempted[key] = true
				mu.Unlock()
				if err := write(key); err != nil {
					return // the server is gone
				}
				mu.Lock()
				acked[key] = true
				mu.Unlock()
				if isMultipart(key) {
					once.Do(func() { close(firstComplete) })
				}
			}
		}
		for w := 0; w < putters; w++ {
			wg.Add(1)
			go worker(fmt.Sprintf("w%d/", w), func(key string) error {
				_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(content(key))})
				return err
			})
		}
		for w := 0; w < uploaders; w++ {
			wg.Add(1)
			go worker(fmt.Sprintf("mp/w%d/", w), func(key string) error {
				return uploadMultipart(ctx, client, key)
			})
		}
		time.Sleep(time.Duration(minMs+rand.IntN(spanMs)) * time.Millisecond)
		if uploaders > 0 {
			select {
			case <-firstComplete:
			case <-time.After(20 * time.Second):
				t.Errorf("round %d: no multipart upload completed in 20 s", round)
			}
		}
		s.kill()
		close(stop)
		wg.Wait()
		s.start(t)
		verify(t, s, acked, attempted, fmt.Sprintf("r%03d", round))
		if t.Failed() {
			t.Fatalf("round %d failed; server log:\n%s", round, s.log)
		}
	}
	completed := 0
	for key := range acked {
		if isMultipart(key) {
			completed++
		}
	}
	t.Logf("%d rounds, %d acknowledged writes (%d multipart), %d attempted", rounds, len(acked), completed, len(attempted))
	s.kill()
}

// uploadMultipart uploads key's parts and completes the upload.
func uploadMultipart(ctx context.Context, client *s3.Client, key string) error {
	up, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return err
	}
	var parts []types.CompletedPart
	for i := range partSizes(key) {
		n := int32(i + 1)
		out, err := client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId,
			PartNumber: aws.Int32(n), Body: bytes.NewReader(partContent(key, i)),
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

// verify checks every acknowledged key, every listed key, the uploads left
// in progress, and the data folder for orphans. Objects are read back in
// full from the newest round, whose keys contain "/"+newest+"/"; older
// ones are checked by their listed size and a sample read.
func verify(t *testing.T, s *server, acked, attempted map[string]bool, newest string) {
	t.Helper()
	ctx := context.Background()
	client := newClient(s.addr)
	listed := map[string]bool{}
	wantFiles := 0
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			listed[key] = true
			wantFiles += dataFilesOf(key)
			if !attempted[key] {
				t.Errorf("listed key %q was never written", key)
			}
			if want := size(key); aws.ToInt64(o.Size) != want {
				t.Errorf("listed %q with size %d, want %d (partial object)", key, aws.ToInt64(o.Size), want)
			}
		}
	}
	for key := range acked {
		if !listed[key] {
			t.Errorf("acknowledged key %q is missing after the crash", key)
		}
	}
	// Read back every object of the newest round and a sample of the
	// rest (each acknowledged key had its full read in its own round).
	for key := range listed {
		if !strings.Contains(key, "/"+newest+"/") && rand.IntN(8) != 0 {
			continue
		}
		out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Errorf("get %q: %v", key, err)
			continue
		}
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		if want := content(key); err != nil || !bytes.Equal(got, want) {
			t.Errorf("get %q: %d bytes (err %v), want its exact %d bytes", key, len(got), err, len(want))
		}
	}
	// Uploads cut short keep their acknowledged parts, each one file.
	up := s3.NewListMultipartUploadsPaginator(client, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	for up.HasMorePages() {
		page, err := up.NextPage(ctx)
		if err != nil {
			t.Fatalf("list uploads: %v", err)
		}
		for _, u := range page.Uploads {
			parts, err := client.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(bucket), Key: u.Key, UploadId: u.UploadId})
			if err != nil {
				t.Fatalf("list parts of %q: %v", aws.ToString(u.Key), err)
			}
			for _, part := range parts.Parts {
				n := int(aws.ToInt32(part.PartNumber))
				if n < 1 || n > len(partSizes(aws.ToString(u.Key))) || aws.ToInt64(part.Size) != int64(partSizes(aws.ToString(u.Key))[n-1]) {
					t.Errorf("upload of %q lists part %d of %d bytes: partial part", aws.ToString(u.Key), n, aws.ToInt64(part.Size))
				}
			}
			wantFiles += len(parts.Parts)
		}
	}
	files, staged := dataFiles(t, s.data)
	if staged != 0 {
		t.Errorf("%d files left in tmp/ after start", staged)
	}
	if files != wantFiles {
		t.Errorf("%d data files under objects/ for %d objects and parts: orphans after start", files, wantFiles)
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
