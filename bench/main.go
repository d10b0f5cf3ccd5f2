// Command bench measures mirrorstore beside its anchors on loopback, all in
// one run, and prints one table of figures and ratios (the source of
// BENCHMARKS.md).
//
// The s3 suite runs mirrorstore (embedded engine), MinIO (single node) and
// mirrorstore --backend s3 over that MinIO side by side through one
// aws-sdk-go-v2 load generator (signed PUT, GET and DELETE of 4 KiB and
// 64 MiB objects, ListObjectsV2 pages of a bucket of -list-keys keys, RSS
// at the end) and wrk's anonymous GETs beside http.FileServer and nginx,
// and prints the figures and the targets of issues #11 and #8 with their
// ratios. Filling the listed bucket takes the longest: -list-keys 20000
// makes a quick run.
//
//	go run ./bench -suite s3 -duration 10s
//
// The list suite is the s3 suite's listing row on its own, on a bucket
// that -list-data keeps across runs, so the million-key bucket is filled
// once:
//
//	go run ./bench -suite list -list-data /var/tmp/mirrorstore-list
//
// The multipart suite moves 1 GiB up and down through aws-sdk-go-v2's
// transfer manager against mirrorstore and MinIO.
//
//	go run ./bench -suite multipart
//
// The read suite serves the same 4 KiB and 64 MiB files from mirrorstore
// (anonymous GETs of a public-read bucket), nginx and Go's http.FileServer,
// and loads each with wrk.
//
//	go run ./bench -suite read -duration 10s
//
// The migrate suite copies 10,000 × 4 KiB and 20 × 64 MiB objects from a
// local nginx origin into a bucket with `mirrorstore migrate` and with
// `rclone copy`.
//
//	go run ./bench -suite migrate
//
// The mirror suite measures cold mirror fills from an nginx origin against
// direct GETs of the same files.
//
//	go run ./bench -suite mirror
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func main() {
	suite := flag.String("suite", "read", "which suite to run: s3, list, read, multipart, migrate, mirror")
	duration := flag.Duration("duration", 10*time.Second, "how long each wrk run (and s3 suite load run) lasts")
	threads := flag.Int("threads", 2, "wrk threads")
	conns := flag.Int("conns", 32, "wrk connections (s3 suite: clients) for small objects")
	bigConns := flag.Int("big-conns", 4, "wrk connections (s3 suite: clients) for 64 MiB objects")
	mpSize := flag.Int64("mp-size", 1<<30, "multipart suite: object size in bytes")
	mpPart := flag.Int64("mp-part", 16<<20, "multipart suite: part size in bytes")
	mpConc := flag.Int("mp-concurrency", 5, "multipart suite: parts in flight")
	mpRuns := flag.Int("mp-runs", 4, "multipart suite: runs per server and direction (the median counts)")
	migConc := flag.Int("mig-concurrency", 16, "migrate suite: objects in flight for both tools")
	migRuns := flag.Int("mig-runs", 3, "migrate suite: runs per tool (the median counts)")
	smallSize := flag.Int("small-size", 4<<10, "s3 suite: small object size in bytes")
	largeSize := flag.Int("large-size", 64<<20, "s3 suite: large object size in bytes")
	deleteMax := flag.Int("delete-max", 20000, "s3 suite: DELETE at most this many of the small objects PUT")
	listKeys := flag.Int("list-keys", 1000000, "s3 suite: keys in the listed bucket (filling it is the longest step)")
	listPage := flag.Int("list-page", 1000, "s3 suite: keys a ListObjectsV2 page")
	listWithin := flag.Duration("list-within", 2*time.Minute, "s3 suite: longest walk of the listed bucket per server")
	populateConns := flag.Int("populate-conns", 64, "s3 suite: clients filling the listed bucket")
	listData := flag.String("list-data", "", "list suite: folder that keeps the servers' data across runs (filled once per -list-keys); empty: a temporary one")
	flag.Parse()

	work, err := os.MkdirTemp("", "mirrorstore-bench-")
	if err != nil {
		fail(err)
	}
	// fail exits without running deferred calls: the work folder (with
	// the servers' data, gigabytes after a failed large run) goes first.
	defer os.RemoveAll(work)
	// nginx workers drop root and must be able to read the served files.
	if err := os.Chmod(work, 0o755); err != nil {
		os.RemoveAll(work)
		fail(err)
	}

	switch *suite {
	case "s3":
		err = s3Suite(work, s3Options{
			duration: *duration, conns: *conns, bigConns: *bigConns, wrkThreads: *threads,
			smallSize: *smallSize, largeSize: *largeSize, deleteMax: *deleteMax,
			listKeys: *listKeys, listPage: *listPage, listWithin: *listWithin, populateConns: *populateConns,
		}, os.Stdout)
	case "list":
		err = listSuite(work, listOptions{s3Options: s3Options{
			listKeys: *listKeys, listPage: *listPage, listWithin: *listWithin, populateConns: *populateConns,
		}, data: *listData}, os.Stdout)
	case "read":
		err = readSuite(work, wrkOptions{duration: *duration, threads: *threads, conns: *conns, bigConns: *bigConns})
	case "multipart":
		err = multipartSuite(work, mpOptions{size: *mpSize, partSize: *mpPart, concurrency: *mpConc, runs: *mpRuns})
	case "migrate":
		err = migrateSuite(work, migOptions{concurrency: *migConc, runs: *migRuns})
	case "mirror":
		err = mirrorSuite(work, mirrorOptions{coldRuns: 5, herd: 200, smallKeys: 20000, smallConns: 64})
	default:
		err = fmt.Errorf("unknown suite %q", *suite)
	}
	if err != nil {
		os.RemoveAll(work)
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

type wrkOptions struct {
	duration                 time.Duration
	threads, conns, bigConns int
}

type file struct {
	name string
	size int
}

func readSuite(work string, opt wrkOptions) error {
	files := []file{{"small-4k.bin", 4 << 10}, {"large-64m.bin", 64 << 20}}
	dir := filepath.Join(work, "files")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	contents := map[string][]byte{}
	for _, f := range files {
		b := make([]byte, f.size)
		rand.Read(b)
		contents[f.name] = b
		if err := os.WriteFile(filepath.Join(dir, f.name), b, 0o644); err != nil {
			return err
		}
	}

	ms, err := startMirrorstore(work)
	if err != nil {
		return err
	}
	defer ms.stop()
	if err := seedPublicBucket(strings.TrimSuffix(ms.base, "/"+benchBucket), contents); err != nil {
		return err
	}
	ngx, err := startNginx(work, dir, nginxOptions{})
	if err != nil {
		return err
	}
	defer ngx.stop()
	fs, err := startFileServer(dir)
	if err != nil {
		return err
	}
	defer fs.stop()

	peers := []*peer{ms, fs, ngx}
	fmt.Printf("# read suite: anonymous GET, wrk -t%d, %s per run, %s, %d cores\n\n", opt.threads, opt.duration, runtime.Version(), runtime.NumCPU())
	fmt.Println("| object | conns | server | req/s | MB/s | p50 | p99 | mirrorstore ÷ server (req/s) |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, f := range files {
		conns := opt.conns
		if f.size > 1<<20 {
			conns = opt.bigConns
		}
		results := map[string]wrkResult{}
		for _, p := range peers {
			r, err := runWrk(p.base+"/"+f.name, opt.threads, conns, opt.duration)
			if err != nil {
				return fmt.Errorf("%s %s: %w", p.name, f.name, err)
			}
			results[p.name] = r
		}
		for _, p := range peers {
			r := results[p.name]
			ratio := results["mirrorstore"].reqPerSec / r.reqPerSec
			fmt.Printf("| %s | %d | %s | %.0f | %.1f | %s | %s | %.2f× |\n", f.name, conns, p.name, r.reqPerSec, r.reqPerSec*float64(f.size)/1e6, r.p50, r.p99, ratio)
		}
	}
	return nil
}

// seedPublicBucket creates the bench bucket as public-read and uploads the
// files with aws-sdk-go-v2, as a user would.
func seedPublicBucket(endpoint string, contents map[string][]byte) error {
	ctx := context.Background()
	client := s3.New(s3.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       "us-east-1",
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(benchAccessKey, benchSecretKey, ""),
	})
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(benchBucket), ACL: types.BucketCannedACLPublicRead}); err != nil {
		return fmt.Errorf("create bucket: %w", err)
	}
	for name, b := range contents {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(benchBucket), Key: aws.String(name), Body: bytes.NewReader(b)}); err != nil {
			return fmt.Errorf("put %s: %w", name, err)
		}
	}
	return nil
}

type wrkResult struct {
	reqPerSec float64
	p50, p99  string
}

var (
	reqRe = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	p50Re = regexp.MustCompile(`\s50%\s+(\S+)`)
	p99Re = regexp.MustCompile(`\s99%\s+(\S+)`)
)

func runWrk(url string, threads, conns int, d time.Duration) (wrkResult, error) {
	out, err := exec.Command("wrk", "--latency", "-t"+strconv.Itoa(threads), "-c"+strconv.Itoa(conns), "-d"+d.String(), url).CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w: %s", err, out)
	}
	if bytes.Contains(out, []byte("Non-2xx")) {
		return wrkResult{}, fmt.Errorf("wrk saw non-2xx answers from %s:\n%s", url, out)
	}
	m := reqRe.FindSubmatch(out)
	if m == nil {
		return wrkResult{}, fmt.Errorf("no Requests/sec in wrk output:\n%s", out)
	}
	rps, _ := strconv.ParseFloat(string(m[1]), 64)
	r := wrkResult{reqPerSec: rps}
	if m := p50Re.FindSubmatch(out); m != nil {
		r.p50 = string(m[1])
	}
	if m := p99Re.FindSubmatch(out); m != nil {
		r.p99 = string(m[1])
	}
	return r, nil
}
