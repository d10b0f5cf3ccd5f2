package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
)

// The load generator drives any S3 endpoint with aws-sdk-go-v2, as a Go
// program would: signed requests (SigV4 headers with the payload's SHA-256),
// N clients sharing one SDK client and its keep-alive connections, for a
// fixed duration or a fixed count of operations.

// loadOp performs operation i (unique across the clients of one run) for
// client worker and returns the object bytes it moved.
type loadOp func(ctx context.Context, worker, i int) (int64, error)

// loadSpec is one run of the generator.
type loadSpec struct {
	clients int
	// duration: each client starts operations until it has passed; the
	// operation in flight at that moment completes and counts.
	duration time.Duration
	// count, when > 0, replaces duration: exactly count operations.
	count int
	op    loadOp
}

// loadResult is what one run did.
type loadResult struct {
	ops     int
	bytes   int64
	elapsed time.Duration   // from the first start to the last completion
	lat     []time.Duration // per operation, sorted
}

func (r loadResult) opsPerSec() float64 { return float64(r.ops) / r.elapsed.Seconds() }
func (r loadResult) mbPerSec() float64  { return float64(r.bytes) / 1e6 / r.elapsed.Seconds() }

// pct is the p-th percentile (0 < p ≤ 100) of the latencies, nearest rank.
func (r loadResult) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(p/100*float64(len(r.lat))+0.5) - 1
	return r.lat[max(0, min(i, len(r.lat)-1))]
}

// runLoad runs spec; the first failed operation stops every client and is
// the error (a benchmark that hides failures measures the wrong thing).
func runLoad(ctx context.Context, spec loadSpec) (loadResult, error) {
	if spec.clients < 1 || (spec.count <= 0 && spec.duration <= 0) {
		return loadResult{}, fmt.Errorf("load: need clients ≥ 1 and a duration or a count")
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		next    atomic.Int64
		moved   atomic.Int64
		wg      sync.WaitGroup
		lats    = make([][]time.Duration, spec.clients)
		start   = time.Now()
		stopAt  = start.Add(spec.duration)
		errOnce sync.Once
		first   error
	)
	for w := range spec.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if spec.count > 0 && i >= spec.count {
					return
				}
				if spec.count <= 0 && time.Now().After(stopAt) {
					return
				}
				t0 := time.Now()
				n, err := spec.op(ctx, w, i)
				if err != nil {
					errOnce.Do(func() { first = fmt.Errorf("operation %d: %w", i, err) })
					cancel(err)
					return
				}
				lats[w] = append(lats[w], time.Since(t0))
				moved.Add(n)
			}
		}()
	}
	wg.Wait()
	r := loadResult{bytes: moved.Load(), elapsed: time.Since(start)}
	if first != nil {
		return r, first
	}
	for _, l := range lats {
		r.lat = append(r.lat, l...)
	}
	slices.Sort(r.lat)
	r.ops = len(r.lat)
	return r, nil
}

// loadClient is an SDK client for endpoint with connections for clients
// workers. The optional CRC checksums are left to the calls that require
// them, so the client does the same work against every server (the SDK
// validates a GET's checksum only when the server returns one); retries
// are off, so a refused request is an error, not a hidden extra request.
func loadClient(endpoint string, clients int) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint:               aws.String(endpoint),
		Region:                     "us-east-1",
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(benchAccessKey, benchSecretKey, ""),
		HTTPClient:                 &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients + 8, DisableCompression: true}},
		Retryer:                    aws.NopRetryer{},
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// withPayloadHash gives the signer a body's SHA-256 computed once: every
// PUT of a run sends the same bytes, and hashing 64 MiB per request would
// spend the shared cores on the client rather than on the server. The
// request is signed as usual and the server still verifies the body.
func withPayloadHash(body []byte) func(*s3.Options) {
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	// Set at the first step, it reaches the later ones (the SDK clears
	// these values only when an operation starts), and whichever of them
	// would hash the body finds it done.
	mw := middleware.InitializeMiddlewareFunc("bench.PayloadHash", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		return next.HandleInitialize(v4.SetPayloadHash(ctx, hash), in)
	})
	return func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Initialize.Add(mw, middleware.After)
		})
	}
}

// putOp PUTs body under key(i) in bucket.
func putOp(c *s3.Client, bucket string, key func(int) string, body []byte) loadOp {
	opt := withPayloadHash(body)
	return func(ctx context.Context, _, i int) (int64, error) {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{
			Bucket:        aws.String(bucket),
			Key:           aws.String(key(i)),
			Body:          bytes.NewReader(body),
			ContentLength: aws.Int64(int64(len(body))),
		}, opt)
		if err != nil {
			return 0, fmt.Errorf("PUT %s: %w", key(i), err)
		}
		return int64(len(body)), nil
	}
}

// getOp GETs key(i) from bucket into the worker's own buffer and checks the
// bytes against want: all of them up to 64 KiB, the first and last 4 KiB of
// larger objects (comparing 64 MiB per request would load the client).
func getOp(c *s3.Client, bucket string, key func(int) string, want []byte, clients int) loadOp {
	bufs := make([][]byte, clients)
	return func(ctx context.Context, w, i int) (int64, error) {
		if bufs[w] == nil {
			bufs[w] = make([]byte, len(want)+1)
		}
		buf := bufs[w]
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key(i))})
		if err != nil {
			return 0, fmt.Errorf("GET %s: %w", key(i), err)
		}
		defer out.Body.Close()
		n, err := io.ReadFull(out.Body, buf)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, fmt.Errorf("GET %s after %d bytes: %w", key(i), n, err)
		}
		if n != len(want) {
			return 0, fmt.Errorf("GET %s: %d bytes or more, want %d", key(i), n, len(want))
		}
		got := buf[:n]
		if len(want) <= 64<<10 {
			if !bytes.Equal(got, want) {
				return 0, fmt.Errorf("GET %s: the body differs from the one stored", key(i))
			}
		} else if !bytes.Equal(got[:4096], want[:4096]) || !bytes.Equal(got[n-4096:], want[len(want)-4096:]) {
			return 0, fmt.Errorf("GET %s: the body differs from the one stored", key(i))
		}
		return int64(n), nil
	}
}

// deleteOp DELETEs key(i) from bucket.
func deleteOp(c *s3.Client, bucket string, key func(int) string) loadOp {
	return func(ctx context.Context, _, i int) (int64, error) {
		if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key(i))}); err != nil {
			return 0, fmt.Errorf("DELETE %s: %w", key(i), err)
		}
		return 0, nil
	}
}

// listResult is one walk of a bucket by ListObjectsV2 pages.
type listResult struct {
	keys  int
	pages []time.Duration // sorted
	whole bool            // the walk reached the last page
}

func (l listResult) median() time.Duration { return loadResult{lat: l.pages}.pct(50) }
func (l listResult) p99() time.Duration    { return loadResult{lat: l.pages}.pct(99) }

// listWalk lists bucket (under prefix) page by page, pageSize keys a page,
// until the last page or until within has passed, and checks that the
// keys come in order and the pages are no longer than asked.
func listWalk(ctx context.Context, c *s3.Client, bucket, prefix string, pageSize int, within time.Duration) (listResult, error) {
	var (
		r     listResult
		token *string
		last  string
		stop  = time.Now().Add(within)
	)
	for time.Now().Before(stop) {
		in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket), MaxKeys: aws.Int32(int32(pageSize)), ContinuationToken: token}
		if prefix != "" {
			in.Prefix = aws.String(prefix)
		}
		t0 := time.Now()
		out, err := c.ListObjectsV2(ctx, in)
		if err != nil {
			return r, fmt.Errorf("list %s page %d: %w", bucket, len(r.pages)+1, err)
		}
		r.pages = append(r.pages, time.Since(t0))
		if len(out.Contents) > pageSize {
			return r, fmt.Errorf("list %s: a page of %d keys, asked for %d", bucket, len(out.Contents), pageSize)
		}
		for _, o := range out.Contents {
			k := aws.ToString(o.Key)
			if k <= last {
				return r, fmt.Errorf("list %s: key %q after %q", bucket, k, last)
			}
			last = k
		}
		r.keys += len(out.Contents)
		if !aws.ToBool(out.IsTruncated) {
			r.whole = true
			break
		}
		token = out.NextContinuationToken
	}
	slices.Sort(r.pages)
	return r, nil
}
