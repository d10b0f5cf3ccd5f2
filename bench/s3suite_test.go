package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRunLoadCount checks that a counted run performs each operation
// exactly once, spread over the clients, and adds up the bytes.
func TestRunLoadCount(t *testing.T) {
	const n = 1000
	var seen [n]atomic.Int32
	r, err := runLoad(context.Background(), loadSpec{clients: 8, count: n, op: func(_ context.Context, w, i int) (int64, error) {
		if w < 0 || w >= 8 {
			t.Errorf("worker %d out of range", w)
		}
		seen[i].Add(1)
		return 3, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if r.ops != n || r.bytes != 3*n || len(r.lat) != n {
		t.Fatalf("ops %d bytes %d latencies %d, want %d, %d, %d", r.ops, r.bytes, len(r.lat), n, 3*n, n)
	}
	for i := range seen {
		if c := seen[i].Load(); c != 1 {
			t.Fatalf("operation %d ran %d times", i, c)
		}
	}
	for k := 1; k < len(r.lat); k++ {
		if r.lat[k] < r.lat[k-1] {
			t.Fatal("latencies are not sorted")
		}
	}
}

// TestRunLoadStopsAtFirstError checks that a failure ends the run and is
// returned, rather than counted among the successes.
func TestRunLoadStopsAtFirstError(t *testing.T) {
	boom := errors.New("boom")
	start := time.Now()
	_, err := runLoad(context.Background(), loadSpec{clients: 4, duration: 10 * time.Minute, op: func(ctx context.Context, _, i int) (int64, error) {
		if i == 50 {
			return 0, boom
		}
		return 0, nil
	}})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	// The run was to last ten minutes; the failure ends it at once.
	if d := time.Since(start); d > time.Minute {
		t.Fatalf("the run went on for %s after the failure", d)
	}
}

// TestPercentiles checks the nearest-rank percentiles the tables print.
func TestPercentiles(t *testing.T) {
	r := loadResult{}
	for i := 1; i <= 100; i++ {
		r.lat = append(r.lat, time.Duration(i)*time.Millisecond)
	}
	if got := r.pct(50); got != 50*time.Millisecond {
		t.Errorf("p50 = %s", got)
	}
	if got := r.pct(99); got != 99*time.Millisecond {
		t.Errorf("p99 = %s", got)
	}
	if got := (loadResult{lat: []time.Duration{7}}).pct(99); got != 7 {
		t.Errorf("p99 of one = %s", got)
	}
}

// TestS3SuiteSmall runs the whole s3 suite with tiny sizes against the real
// servers (mirrorstore, MinIO, a node over MinIO, nginx, http.FileServer,
// wrk), so the harness keeps working; the figures are not looked at.
func TestS3SuiteSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MinIO, two servers, nginx and wrk")
	}
	if _, err := minioBinary(); err != nil {
		t.Fatal(err)
	}
	work, err := os.MkdirTemp("", "mirrorstore-bench-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	// nginx workers drop root and must be able to read the served files.
	if err := os.Chmod(work, 0o755); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = s3Suite(work, s3Options{
		duration: time.Second, conns: 4, bigConns: 2, wrkThreads: 1,
		smallSize: 4 << 10, largeSize: 1 << 20, deleteMax: 200,
		listKeys: 1500, listPage: 500, listWithin: time.Minute, populateConns: 16,
	}, &out)
	if err != nil {
		t.Fatal(err)
	}
	report := out.String()
	t.Log("\n" + report)
	for _, server := range []string{nameMS, nameMinio, nameNode} {
		for _, measure := range []string{"PUT 4 KiB", "GET 4 KiB signed", "DELETE 4 KiB", "PUT 1 MiB", "GET 1 MiB signed", "RSS after the run"} {
			if !strings.Contains(report, "| "+measure+" | "+server+" |") {
				t.Errorf("no row for %s on %s", measure, server)
			}
		}
		// The listing walked all 1,500 keys (the suite itself fails when
		// a whole walk finds another count) in three pages of 500, or
		// more: MinIO may end a walk with an empty page.
		m := regexp.MustCompile(`keys \| ` + regexp.QuoteMeta(server) + ` \| (\d+) pages, whole bucket \|`).FindStringSubmatch(report)
		if m == nil {
			t.Errorf("no whole listing on %s", server)
			continue
		}
		if pages, _ := strconv.Atoi(m[1]); pages < 3 || (server == nameMS && pages != 3) {
			t.Errorf("%s listed 1,500 keys in %d pages of 500", server, pages)
		}
	}
	for _, server := range []string{nameMS, nameMinio, nameFS, nameNgx} {
		if !strings.Contains(report, "| GET 4 KiB anonymous (wrk) | "+server+" |") {
			t.Errorf("no anonymous GET row for %s", server)
		}
	}
	for _, want := range []string{"Targets of issue #11", "Scale-out overhead of issue #8", "| DELETE 4 KiB, objects/s | mirrorstore |", "| GET 1 MiB signed, MB/s | node over minio |"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}
