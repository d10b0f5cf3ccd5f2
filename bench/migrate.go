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

// migCase is one folder to copy: count files of size bytes each.
type migCase struct {
	name        string
	count, size int
}

// migrateSuite copies the same folder into a fresh bucket of one
// mirrorstore server with `mirrorstore migrate` and with `rclone copy`,
// both at the same concurrency and part size, and prints objects/s and
// MB/s with the ratio. Each run starts a server on a fresh data folder and
// the two tools take turns at going first; the median of the runs counts.
func migrateSuite(work string, opt migOptions) error {
	rclone, err := exec.LookPath("rclone")
	if err != nil {
		return fmt.Errorf("the migrate suite compares with rclone: %w", err)
	}
	cases := []migCase{{"many small", 2000, 16 << 10}, {"few large", 12, 48 << 20}}
	fmt.Printf("# migrate suite: folder → bucket, %d objects in flight, 16 MiB parts, %d runs, %s, %d cores\n\n",
		opt.concurrency, opt.runs, runtime.Version(), runtime.NumCPU())
	fmt.Println("| folder | tool | objects/s | MB/s | mirrorstore ÷ tool |")
	fmt.Println("|---|---|---|---|---|")
	for ci, c := range cases {
		dir := filepath.Join(work, fmt.Sprintf("src-%d", ci))
		if err := writeFolder(dir, c); err != nil {
			return err
		}
		secs := map[string][]float64{}
		for run := range opt.runs {
			ms, err := startMirrorstore(filepath.Join(work, fmt.Sprintf("run-%d-%d", ci, run)))
			if err != nil {
				return err
			}
			endpoint := strings.TrimSuffix(ms.base, "/"+benchBucket)
			bin := filepath.Join(work, fmt.Sprintf("run-%d-%d", ci, run), "mirrorstore")
			tools := []string{"mirrorstore migrate", "rclone copy"}
			if run%2 == 1 {
				tools[0], tools[1] = tools[1], tools[0]
			}
			for _, tool := range tools {
				d, err := timeMigrate(tool, bin, rclone, endpoint, dir, c, opt.concurrency)
				if err != nil {
					ms.stop()
					return fmt.Errorf("%s, %s: %w", c.name, tool, err)
				}
				secs[tool] = append(secs[tool], d.Seconds())
			}
			ms.stop()
			os.RemoveAll(filepath.Join(work, fmt.Sprintf("run-%d-%d", ci, run)))
		}
		ours := median(secs["mirrorstore migrate"])
		for _, tool := range []string{"mirrorstore migrate", "rclone copy"} {
			s := median(secs[tool])
			fmt.Printf("| %d × %d KiB | %s | %.1f | %.1f | %.2f× |\n", c.count, c.size>>10, tool,
				float64(c.count)/s, float64(c.count)*float64(c.size)/s/1e6, s/ours)
		}
	}
	return nil
}

func writeFolder(dir string, c migCase) error {
	b := make([]byte, c.size)
	for i := range c.count {
		p := filepath.Join(dir, fmt.Sprintf("d%02d", i%20), fmt.Sprintf("f%05d.bin", i))
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

// timeMigrate creates a bucket for tool, copies dir into it and checks the
// count of objects.
func timeMigrate(tool, bin, rclone, endpoint, dir string, c migCase, conc int) (time.Duration, error) {
	bucket := strings.Fields(tool)[0]
	client := benchClient(endpoint)
	ctx := context.Background()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return 0, err
	}
	var cmd *exec.Cmd
	if strings.HasPrefix(tool, "mirrorstore") {
		cmd = exec.Command(bin, "migrate", "--endpoint", endpoint, "--bucket", bucket,
			"--concurrency", fmt.Sprint(conc), "--part-size", "16MiB", dir)
		cmd.Env = append(os.Environ(), "MIRRORSTORE_ACCESS_KEY="+benchAccessKey, "MIRRORSTORE_SECRET_KEY="+benchSecretKey)
	} else {
		cmd = exec.Command(rclone, "copy", dir, ":s3:"+bucket,
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
