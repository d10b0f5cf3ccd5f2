package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// migOptions configure the migrate suite.
type migOptions struct {
	concurrency int
	runs        int
}

// migCase is one origin to copy: count objects of size bytes each.
type migCase struct {
	name        string
	count, size int
}

// migrateSuite serves a set of objects from a local nginx origin and copies
// them into a fresh bucket of one mirrorstore server with `mirrorstore
// migrate` (HTTP source with a key list) and with `rclone copy` (its http
// backend, given the same key list with --files-from), both at the same
// concurrency and part size, and prints objects/s and MB/s with the ratio.
// Each run starts a server on a fresh data folder and the two tools take
// turns at going first; the median of the runs counts.
func migrateSuite(work string, opt migOptions) error {
	rclone, err := exec.LookPath("rclone")
	if err != nil {
		return fmt.Errorf("the migrate suite compares with rclone: %w", err)
	}
	cases := []migCase{{"many small", 10000, 4 << 10}, {"few large", 20, 64 << 20}}
	root := filepath.Join(work, "origin")
	for ci, c := range cases {
		if err := writeFolder(filepath.Join(root, fmt.Sprintf("c%d", ci)), c); err != nil {
			return err
		}
	}
	ngWork := filepath.Join(work, "nginx")
	if err := os.MkdirAll(ngWork, 0o755); err != nil {
		return err
	}
	ng, err := startNginx(ngWork, root, nginxOptions{autoindex: true})
	if err != nil {
		return err
	}
	defer ng.stop()
	fmt.Printf("# migrate suite: nginx origin → bucket, %d objects in flight, 16 MiB parts, %d runs, %s, %d cores\n\n",
		opt.concurrency, opt.runs, runtime.Version(), runtime.NumCPU())
	fmt.Println("| objects | tool | objects/s | MB/s | mirrorstore ÷ tool |")
	fmt.Println("|---|---|---|---|---|")
	for ci, c := range cases {
		src := migSource{url: fmt.Sprintf("%s/c%d/", ng.base, ci), keys: filepath.Join(work, fmt.Sprintf("keys-%d.txt", ci))}
		if err := writeKeys(src.keys, c); err != nil {
			return err
		}
		secs := map[string][]float64{}
		for run := range opt.runs {
			rw := filepath.Join(work, fmt.Sprintf("run-%d-%d", ci, run))
			ms, err := startMirrorstore(rw)
			if err != nil {
				return err
			}
			endpoint := strings.TrimSuffix(ms.base, "/"+benchBucket)
			bin := filepath.Join(rw, "mirrorstore")
			tools := []string{"mirrorstore migrate", "rclone copy"}
			if run%2 == 1 {
				tools[0], tools[1] = tools[1], tools[0]
			}
			for _, tool := range tools {
				d, err := timeMigrate(tool, bin, rclone, endpoint, src, c, opt.concurrency)
				if err != nil {
					ms.stop()
					return fmt.Errorf("%s, %s: %w", c.name, tool, err)
				}
				secs[tool] = append(secs[tool], d.Seconds())
			}
			ms.stop()
			os.RemoveAll(rw)
		}
		ours := median(secs["mirrorstore migrate"])
		for _, tool := range []string{"mirrorstore migrate", "rclone copy"} {
			s := median(secs[tool])
			fmt.Printf("| %d × %s | %s | %.1f | %.1f | %.2f× |\n", c.count, sizeName(c.size), tool,
				float64(c.count)/s, float64(c.count)*float64(c.size)/s/1e6, s/ours)
		}
	}
	return nil
}

// migSource is the HTTP origin of one case: its base URL and key list.
type migSource struct {
	url, keys string
}

func sizeName(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

func migKey(i int) string {
	return fmt.Sprintf("d%02d/f%05d.bin", i%20, i)
}

func writeFolder(dir string, c migCase) error {
	b := make([]byte, c.size)
	for i := range c.count {
		p := filepath.Join(dir, filepath.FromSlash(migKey(i)))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		rand.Read(b)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func writeKeys(path string, c migCase) error {
	var b strings.Builder
	for i := range c.count {
		b.WriteString(migKey(i))
		b.WriteByte('\n')
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// timeMigrate creates a bucket for tool, copies the origin into it and
// checks the count of objects.
func timeMigrate(tool, bin, rclone, endpoint string, src migSource, c migCase, conc int) (time.Duration, error) {
	bucket := strings.Fields(tool)[0]
	client := benchClient(endpoint)
	ctx := context.Background()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return 0, err
	}
	var cmd *exec.Cmd
	if strings.HasPrefix(tool, "mirrorstore") {
		cmd = exec.Command(bin, "migrate", "--endpoint", endpoint, "--bucket", bucket,
			"--concurrency", fmt.Sprint(conc), "--part-size", "16MiB",
			"--allow-private", "--keys", src.keys, src.url)
		cmd.Env = append(os.Environ(), "MIRRORSTORE_ACCESS_KEY="+benchAccessKey, "MIRRORSTORE_SECRET_KEY="+benchSecretKey)
	} else {
		cmd = exec.Command(rclone, "copy", ":http:", ":s3:"+bucket,
			"--http-url", src.url, "--files-from", src.keys,
			"--s3-provider", "Other", "--s3-endpoint", endpoint, "--s3-region", "us-east-1", "--s3-force-path-style",
			"--s3-access-key-id", benchAccessKey, "--s3-secret-access-key", benchSecretKey,
			"--transfers", fmt.Sprint(conc), "--checkers", fmt.Sprint(conc),
			"--s3-chunk-size", "16M", "--s3-upload-cutoff", "16M")
		// AWS_CA_BUNDLE makes rclone's SDK refuse its own transport.
		cmd.Env = append(withoutEnv("AWS_CA_BUNDLE"), "RCLONE_CONFIG=/dev/null")
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("%v\n%s", err, out.String())
	}
	n := 0
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, err
		}
		n += len(page.Contents)
	}
	if n != c.count {
		return 0, fmt.Errorf("%d objects in the bucket, want %d", n, c.count)
	}
	return d, nil
}

// withoutEnv returns the environment without the variable name.
func withoutEnv(name string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, name+"=") {
			env = append(env, kv)
		}
	}
	return env
}
