package metrics

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestUsageFromScan: with NewFromScan the counts are the scan's, the help
// says they are as of the last scan, and the scan's end is a gauge that is
// absent until a scan has completed.
func TestUsageFromScan(t *testing.T) {
	var ended time.Time
	var scanned []BucketUsage
	m := NewFromScan(func(context.Context) ([]BucketUsage, error) { return scanned, nil }, func() time.Time { return ended })
	if at, ok := m.UsageScan(); !ok || !at.IsZero() {
		t.Fatalf("UsageScan before a scan = %v, %v", at, ok)
	}
	if _, ok := NewWithUsage(nil).UsageScan(); ok {
		t.Fatal("store counts claim to be scanned")
	}
	text := scrape(t, m)
	if strings.Contains(text, "mirrorstore_usage_scan_timestamp_seconds ") || strings.Contains(text, "mirrorstore_bucket_objects{") {
		t.Fatalf("counts before the first scan:\n%s", text)
	}

	ended = time.Unix(1_700_000_000, 500_000_000)
	scanned = []BucketUsage{{"a", 3, 1234}}
	text = scrape(t, m)
	for _, want := range []string{
		`mirrorstore_bucket_objects{bucket="a"} 3`,
		`mirrorstore_bucket_bytes{bucket="a"} 1234`,
		"mirrorstore_usage_scan_timestamp_seconds 1.7000000005e+09",
		"# HELP mirrorstore_bucket_objects Objects stored per bucket in the whole cluster, as of the last scan of the backend (mirrorstore_usage_scan_timestamp_seconds).",
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("exposition lacks %q:\n%s", want, text)
		}
	}
	if at, ok := m.UsageScan(); !ok || !at.Equal(ended) {
		t.Fatalf("UsageScan = %v, %v", at, ok)
	}
}
