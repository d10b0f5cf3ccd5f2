package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// scrape returns the exposition text of m's handler.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/-/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: %d", rec.Code)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestExposition(t *testing.T) {
	usage := []BucketUsage{{Bucket: "site", Objects: 1, Bytes: 600}}
	m := NewWithUsage(func(context.Context) ([]BucketUsage, error) { return usage, nil })
	m.Request("PutObject", 200, 100, 0, 10*time.Millisecond)
	m.Request("GetObject", 404, 0, 300, time.Millisecond)
	m.Request("GetObject", 0, 0, 5, time.Millisecond)
	m.Request("", 403, 0, 0, time.Millisecond)
	m.MirrorFill("stored")
	m.MirrorFill("coalesced")
	m.FillsInFlight(1)
	m.FillsInFlight(1)
	m.FillsInFlight(-1)
	m.TimeToFirstByte(20 * time.Millisecond)
	m.BytesMirrored(4096)
	m.Redirect("site", "2")
	m.GetServed("site", true)
	m.GetServed("site", false)
	m.GetServed("site", false)

	text := scrape(t, m)
	for _, want := range []string{
		`mirrorstore_requests_total{operation="PutObject",status_class="2xx"} 1`,
		`mirrorstore_requests_total{operation="GetObject",status_class="4xx"} 1`,
		`mirrorstore_requests_total{operation="GetObject",status_class="2xx"} 1`,
		`mirrorstore_requests_total{operation="Unknown",status_class="4xx"} 1`,
		`mirrorstore_bytes_received_total{operation="PutObject"} 100`,
		`mirrorstore_bytes_sent_total{operation="GetObject"} 305`,
		`mirrorstore_request_duration_seconds_count{operation="GetObject"} 2`,
		`mirrorstore_mirror_fills_total{result="stored"} 1`,
		`mirrorstore_mirror_fills_total{result="coalesced"} 1`,
		`mirrorstore_mirror_fills_total{result="origin_404"} 0`,
		`mirrorstore_mirror_fills_total{result="refused"} 0`,
		`mirrorstore_mirror_fills_total{result="failed"} 0`,
		`mirrorstore_mirror_fills_in_flight 1`,
		`mirrorstore_mirror_origin_ttfb_seconds_count 1`,
		`mirrorstore_mirror_bytes_total 4096`,
		`mirrorstore_redirects_total{bucket="site",rule="2"} 1`,
		`mirrorstore_bucket_objects{bucket="site"} 1`,
		`mirrorstore_bucket_bytes{bucket="site"} 600`,
		`mirrorstore_gets_local_total{bucket="site"} 2`,
		`mirrorstore_gets_filled_total{bucket="site"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(text, want+"\n") && !strings.Contains(text, want+" ") {
			t.Errorf("exposition lacks %q", want)
		}
	}

	usage = nil // the bucket was deleted from the store
	m.ForgetBucket("site")
	text = scrape(t, m)
	if strings.Contains(text, `bucket="site"`) {
		t.Errorf("a forgotten bucket still has series")
	}
}

func TestRegistriesAreIndependent(t *testing.T) {
	a, b := New(), New()
	a.Request("GetObject", 200, 0, 0, 0)
	if strings.Contains(scrape(t, b), `operation="GetObject"`) {
		t.Fatal("a request observed on one Metrics shows on another")
	}
}

func TestHitWindows(t *testing.T) {
	m := New()
	now := time.Unix(1_700_000_000, 0)
	m.now = func() time.Time { return now }

	for i := 0; i < 3; i++ {
		m.GetServed("b", true)
	}
	now = now.Add(30 * time.Second)
	m.GetServed("b", false)
	st := buckets(t, m)
	if len(st) != 1 || st[0].Minute != (Window{Local: 1, Filled: 3}) || st[0].Hour != (Window{Local: 1, Filled: 3}) {
		t.Fatalf("after 30s: %+v", st)
	}
	if r, ok := st[0].Minute.Ratio(); !ok || r != 0.25 {
		t.Fatalf("ratio %v %v, want 0.25", r, ok)
	}

	// 61 s after the first GETs they have left the minute, not the hour.
	now = now.Add(31 * time.Second)
	st = buckets(t, m)
	if st[0].Minute != (Window{Local: 1}) || st[0].Hour != (Window{Local: 1, Filled: 3}) {
		t.Fatalf("after 61s: %+v", st)
	}

	// Past an hour everything has left both windows, even though the
	// slots are reused only when written.
	now = now.Add(time.Hour)
	st = buckets(t, m)
	if st[0].Minute != (Window{}) || st[0].Hour != (Window{}) {
		t.Fatalf("after an hour: %+v", st)
	}
	if _, ok := st[0].Hour.Ratio(); ok {
		t.Fatal("an empty window has a ratio")
	}
	m.GetServed("b", false)
	if st = buckets(t, m); st[0].Minute != (Window{Local: 1}) {
		t.Fatalf("slot reuse: %+v", st)
	}
}

func TestOriginErrorRing(t *testing.T) {
	m := New()
	if got := m.OriginErrors(); len(got) != 0 {
		t.Fatalf("new ring: %v", got)
	}
	for i := 0; i < errorRingSize+5; i++ {
		m.OriginError(OriginError{Key: fmt.Sprint(i), Message: "boom"})
	}
	got := m.OriginErrors()
	if len(got) != errorRingSize {
		t.Fatalf("%d errors kept, want %d", len(got), errorRingSize)
	}
	if got[0].Key != fmt.Sprint(errorRingSize+4) || got[len(got)-1].Key != "5" {
		t.Fatalf("order: newest %s, oldest %s", got[0].Key, got[len(got)-1].Key)
	}
	if got[0].Time.IsZero() {
		t.Fatal("time not stamped")
	}
}

func buckets(t *testing.T, m *Metrics) []BucketStatus {
	t.Helper()
	st, err := m.Buckets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestUsageFromStore: with NewWithUsage the object and byte counts are the
// store's at each scrape (Stored is ignored), every bucket the store
// counts is listed with the hit counts of those seen, and a store that
// cannot answer leaves those series out without failing the scrape.
func TestUsageFromStore(t *testing.T) {
	var fail error
	stored := []BucketUsage{{"a", 2, 300}, {"b", 0, 0}}
	m := NewWithUsage(func(ctx context.Context) ([]BucketUsage, error) {
		if fail != nil {
			return nil, fail
		}
		return stored, nil
	})
	m.GetServed("c", false)
	text := scrape(t, m)
	for _, want := range []string{
		`mirrorstore_bucket_objects{bucket="a"} 2`,
		`mirrorstore_bucket_bytes{bucket="a"} 300`,
		`mirrorstore_bucket_objects{bucket="b"} 0`,
		`mirrorstore_gets_local_total{bucket="c"} 1`,
		"# HELP mirrorstore_bucket_objects Objects stored per bucket, as the store counts them.",
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("exposition lacks %q", want)
		}
	}
	if strings.Contains(text, `mirrorstore_bucket_objects{bucket="c"}`) {
		t.Error("a bucket the store does not count got an object count")
	}
	st := buckets(t, m)
	if len(st) != 3 || st[0] != (BucketStatus{Bucket: "a", Objects: 2, Bytes: 300}) || st[2].Bucket != "c" || st[2].Minute.Local != 1 {
		t.Fatalf("buckets: %+v", st)
	}

	fail = errors.New("engine closed")
	text = scrape(t, m)
	if strings.Contains(text, "mirrorstore_bucket_objects{") || !strings.Contains(text, `mirrorstore_gets_local_total{bucket="c"} 1`) {
		t.Errorf("scrape with a failing store:\n%s", text)
	}
	if _, err := m.Buckets(context.Background()); !errors.Is(err, fail) {
		t.Errorf("Buckets with a failing store: %v", err)
	}
}

func TestAborted(t *testing.T) {
	m := New()
	m.Aborted("GetObject", 0, 1234, time.Second)
	m.Request("GetObject", 200, 0, 10, time.Millisecond)
	text := scrape(t, m)
	for _, want := range []string{
		`mirrorstore_requests_total{operation="GetObject",status_class="aborted"} 1`,
		`mirrorstore_requests_total{operation="GetObject",status_class="2xx"} 1`,
		`mirrorstore_bytes_sent_total{operation="GetObject"} 1244`,
		`mirrorstore_request_duration_seconds_count{operation="GetObject"} 2`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("exposition lacks %q", want)
		}
	}
}
