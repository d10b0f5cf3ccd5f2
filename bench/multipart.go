//lint:file-ignore SA1019 feature/s3/manager is deprecated in favour of feature/s3/transfermanager, but it is the transfer manager deployed Go programs use today, so it is the one measured.

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// mpOptions configure the multipart suite.
type mpOptions struct {
	size        int64
	partSize    int64
	concurrency int
	runs        int
}

// s3Peer is an S3 server under measurement.
type s3Peer struct {
	name     string
	endpoint string
	pid      int
	stop     func()
}

// multipartSuite uploads and downloads one object through aws-sdk-go-v2's
// transfer manager against mirrorstore and MinIO, each on a fresh data
// folder on the same disk, and prints MB/s both ways with the ratio. The
// client reads from and writes to memory, so the client's own disk does
// not blur the servers' figures. Each direction runs opt.runs times per
// server, the servers taking turns at going first, and the median counts:
// the first upload onto a disk with no dirty pages is much faster than the
// steady state, and one stall of the shared machine should not decide the
// figure either.
func multipartSuite(work string, opt mpOptions) error {
	src := make([]byte, opt.size)
	rand.Read(src)
	sum := sha256.Sum256(src)
	dst := make([]byte, opt.size)

	ms, err := startMirrorstore(work)
	if err != nil {
		return err
	}
	defer ms.stop()
	mn, err := startMinio(work)
	if err != nil {
		return err
	}
	defer mn.stop()
	peers := []s3Peer{
		{name: "mirrorstore", endpoint: ms.base[:len(ms.base)-len("/"+benchBucket)]},
		mn,
	}

	type result struct{ up, down []float64 }
	results := map[string]*result{}
	for _, p := range peers {
		results[p.name] = &result{}
		c := benchClient(p.endpoint)
		if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(benchBucket)}); err != nil {
			return fmt.Errorf("%s: create bucket: %w", p.name, err)
		}
	}
	mb := float64(opt.size) / 1e6
	for run := 0; run < opt.runs; run++ {
		// The server that goes first writes onto a disk with no dirty pages
		// waiting; take turns at that advantage.
		order := peers
		if run%2 == 1 {
			order = []s3Peer{peers[1], peers[0]}
		}
		for _, p := range order {
			c := benchClient(p.endpoint)
			key := fmt.Sprintf("mp-%d.bin", run)
			up, err := timeUpload(c, src, key, opt)
			if err != nil {
				return fmt.Errorf("%s upload: %w", p.name, err)
			}
			clear(dst)
			down, err := timeDownload(c, dst, key, opt)
			if err != nil {
				return fmt.Errorf("%s download: %w", p.name, err)
			}
			if sha256.Sum256(dst) != sum {
				return fmt.Errorf("%s: the downloaded object differs from the uploaded one", p.name)
			}
			r := results[p.name]
			r.up = append(r.up, mb/up.Seconds())
			r.down = append(r.down, mb/down.Seconds())
			fmt.Fprintf(os.Stderr, "run %d %s: up %.1f MB/s, down %.1f MB/s\n", run+1, p.name, mb/up.Seconds(), mb/down.Seconds())
		}
	}

	fmt.Printf("# multipart suite: aws-sdk-go-v2 transfer manager, %d MiB object, %d MiB parts, concurrency %d, median (min–max) of %d runs, %s, %d cores\n\n",
		opt.size>>20, opt.partSize>>20, opt.concurrency, opt.runs, runtime.Version(), runtime.NumCPU())
	fmt.Println("| server | upload MB/s | download MB/s | mirrorstore ÷ server (up) | mirrorstore ÷ server (down) |")
	fmt.Println("|---|---|---|---|---|")
	m := results["mirrorstore"]
	for _, p := range peers {
		r := results[p.name]
		fmt.Printf("| %s | %.1f (%.0f–%.0f) | %.1f (%.0f–%.0f) | %.2f× | %.2f× |\n", p.name,
			median(r.up), slices.Min(r.up), slices.Max(r.up), median(r.down), slices.Min(r.down), slices.Max(r.down),
			median(m.up)/median(r.up), median(m.down)/median(r.down))
	}
	return nil
}

// median of a non-empty sample.
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func benchClient(endpoint string) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       "us-east-1",
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(benchAccessKey, benchSecretKey, ""),
		// One connection per concurrent part, all kept between parts.
		HTTPClient: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}},
	})
}

func timeUpload(c *s3.Client, src []byte, key string, opt mpOptions) (time.Duration, error) {
	up := manager.NewUploader(c, func(u *manager.Uploader) {
		u.PartSize = opt.partSize
		u.Concurrency = opt.concurrency
	})
	start := time.Now()
	_, err := up.Upload(context.Background(), &s3.PutObjectInput{Bucket: aws.String(benchBucket), Key: aws.String(key), Body: bytes.NewReader(src)})
	return time.Since(start), err
}

func timeDownload(c *s3.Client, dst []byte, key string, opt mpOptions) (time.Duration, error) {
	down := manager.NewDownloader(c, func(d *manager.Downloader) {
		d.PartSize = opt.partSize
		d.Concurrency = opt.concurrency
	})
	start := time.Now()
	_, err := down.Download(context.Background(), manager.NewWriteAtBuffer(dst), &s3.GetObjectInput{Bucket: aws.String(benchBucket), Key: aws.String(key)})
	return time.Since(start), err
}

// minioBinary finds the MinIO server the Makefile installs.
func minioBinary() (string, error) {
	if p := os.Getenv("MIRRORSTORE_TEST_MINIO"); p != "" {
		return p, nil
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOPATH: %w", err)
	}
	p := filepath.Join(string(bytes.TrimSpace(out)), "bin", "minio")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("MinIO server not found at %s (make tools installs it; or set MIRRORSTORE_TEST_MINIO): %w", p, err)
	}
	return p, nil
}

// waitReady200 polls url until it answers 200: MinIO answers its health
// URL with 503 while it is still starting.
func waitReady200(url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer 200 within %s", url, within)
}

// startMinio runs MinIO on a fresh data folder with the bench credentials.
func startMinio(work string) (s3Peer, error) {
	return startMinioOn(work, filepath.Join(work, "minio-data"))
}

// startMinioOn runs MinIO on the data folder data (kept by the caller
// across runs when it lies outside work); its log goes to work.
func startMinioOn(work, data string) (s3Peer, error) {
	bin, err := minioBinary()
	if err != nil {
		return s3Peer{}, err
	}
	addr, console := freeAddr(), freeAddr()
	cmd := exec.Command(bin, "server", data, "--address", addr, "--console-address", console, "--quiet")
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+benchAccessKey, "MINIO_ROOT_PASSWORD="+benchSecretKey, "MINIO_BROWSER=off")
	logf, err := os.Create(filepath.Join(work, "minio.log"))
	if err != nil {
		return s3Peer{}, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return s3Peer{}, fmt.Errorf("start minio: %w", err)
	}
	p := s3Peer{name: "minio", endpoint: "http://" + addr, pid: cmd.Process.Pid, stop: func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		logf.Close()
	}}
	if err := waitReady200("http://"+addr+"/minio/health/ready", 30*time.Second); err != nil {
		p.stop()
		return s3Peer{}, err
	}
	return p, nil
}
