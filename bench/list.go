package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// listOptions configure the list suite.
type listOptions struct {
	s3Options
	// data keeps the servers' data folders across runs when not empty: a
	// bucket of a million keys takes a quarter of an hour to fill (MinIO
	// sets the pace), and the listing measured is the same on a bucket
	// filled by an earlier run of the same -list-keys.
	data string
}

// listSuite measures ListObjectsV2 pages of a bucket of opt.listKeys keys
// on mirrorstore (embedded engine), MinIO and a node over that MinIO, the
// issue #11 row of the s3 suite on its own, so that the full-size bucket
// can be filled once and listed as often as needed.
func listSuite(work string, opt listOptions, out io.Writer) error {
	ctx := context.Background()
	loadBefore := loadAverage()
	data := opt.data
	if data == "" {
		data = filepath.Join(work, "list-data")
	}
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	// The marker names the key count: a folder filled for another count
	// is refused rather than measured as if it held this one.
	marker := filepath.Join(data, fmt.Sprintf("filled-%d", opt.listKeys))
	_, statErr := os.Stat(marker)
	filled := statErr == nil
	if !filled {
		if others, _ := filepath.Glob(filepath.Join(data, "filled-*")); len(others) > 0 {
			return fmt.Errorf("%s was filled with another key count (%s): use another -list-data", data, filepath.Base(others[0]))
		}
	}

	ms, err := startMirrorstoreWith(work, "mirrorstore", filepath.Join(data, "ms-data"))
	if err != nil {
		return err
	}
	defer ms.stop()
	mn, err := startMinioOn(work, filepath.Join(data, "minio-data"))
	if err != nil {
		return err
	}
	defer mn.stop()
	mnClient := loadClient(mn.endpoint, opt.populateConns)
	if err := waitS3(ctx, mnClient); err != nil {
		return fmt.Errorf("minio: %w", err)
	}
	if err := ensureBucket(ctx, mnClient, backendBucket); err != nil {
		return fmt.Errorf("minio: %w", err)
	}
	node, err := startNode(work, mn.endpoint)
	if err != nil {
		return err
	}
	defer node.stop()

	servers := []*s3Server{
		{name: nameMS, pid: ms.pid, client: loadClient(strings.TrimSuffix(ms.base, "/"+benchBucket), opt.populateConns), listBucket: listBucket},
		{name: nameMinio, pid: mn.pid, client: mnClient, listBucket: backendBucket, listPrefix: "b/" + listBucket + "/"},
		{name: nameNode, pid: node.pid, client: loadClient(strings.TrimSuffix(node.base, "/"+benchBucket), opt.populateConns), listBucket: listBucket},
	}
	for _, s := range []*s3Server{servers[0], servers[2]} {
		if err := ensureBucket(ctx, s.client, listBucket); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	if !filled {
		var wg sync.WaitGroup
		fills := servers[:2]
		errs := make([]error, len(fills))
		for k, s := range fills {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[k] = populate(ctx, s, opt.s3Options)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		if err := os.WriteFile(marker, nil, 0o644); err != nil {
			return err
		}
	}

	fmt.Fprintf(out, "# list suite: %s\n", machine())
	fmt.Fprintf(out, "# 1-minute load average: %s at the start (the fill included when it ran), ", loadBefore)
	mList := fmt.Sprintf("ListObjectsV2, %d keys a page, %d keys", opt.listPage, opt.listKeys)
	walks := map[string]listResult{}
	for _, s := range servers {
		l, err := measureList(ctx, s, opt.s3Options, mList)
		if err != nil {
			return err
		}
		walks[s.name] = l
	}
	fmt.Fprintf(out, "%s at the end\n", loadAverage())
	fmt.Fprintf(out, "# ListObjectsV2 through aws-sdk-go-v2, %d keys a page, one client, a bucket of %d keys; data under %s\n\n", opt.listPage, opt.listKeys, data)
	fmt.Fprintln(out, "| measure | server | pages | pages/s | p50 | p99 |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|")
	for _, s := range servers {
		l := walks[s.name]
		walk := "whole bucket"
		if !l.whole {
			walk = fmt.Sprintf("first %d keys (walk capped at %s)", l.keys, opt.listWithin)
		}
		fmt.Fprintf(out, "| %s | %s | %d, %s | %.0f | %s | %s |\n", mList, s.name, len(l.pages), walk, float64(len(l.pages))/sumDur(l.pages).Seconds(), fmtDur(l.median()), fmtDur(l.p99()))
	}
	med := func(s string) float64 { return millis(walks[s].median()) }
	fmt.Fprintln(out, "\nTargets of issue #11 for listing:")
	fmt.Fprintln(out)
	printVerdicts(out, []verdict{
		{mList + ", median ms a page", nameMS, med(nameMS), "", 10, "%.2f", true, 1.0},
		{mList + ", median ms a page", nameMS, med(nameMS), nameMinio, med(nameMinio), "%.2f", true, 2},
		{mList + ", median ms a page", nameNode, med(nameNode), nameMinio, med(nameMinio), "%.2f", true, 0},
	})
	return nil
}

// ensureBucket creates bucket unless it exists already (a kept data folder).
func ensureBucket(ctx context.Context, c *s3.Client, bucket string) error {
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	return nil
}
