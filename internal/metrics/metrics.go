// Package metrics holds every Prometheus collector of mirrorstore (SPEC §11),
// registered on a Registry of its own: no package globals, so several
// servers can run in one process (tests do).
//
// The mirror hit ratio per bucket is two counters,
// mirrorstore_gets_local_total and mirrorstore_gets_filled_total; over an
// hour it is
//
//	sum by (bucket) (rate(mirrorstore_gets_local_total[1h]))
//	  / (sum by (bucket) (rate(mirrorstore_gets_local_total[1h]))
//	   + sum by (bucket) (rate(mirrorstore_gets_filled_total[1h])))
//
// and when it stays at 1 the bucket's mirror rules can be switched off. The
// same ratio over the last minute and hour is kept in memory for the status
// page (HitRatios).
//
// mirrorstore_bucket_objects and mirrorstore_bucket_bytes come from one of
// three sources. With NewWithUsage they are read at scrape time from counts
// the store keeps exactly (the embedded engine: one metadata read per
// bucket), so they survive restarts. With NewFromScan they are the last
// periodic scan of the store (the scale-out backend, where no node sees
// every write), cluster-wide, and mirrorstore_usage_scan_timestamp_seconds
// says when it ended. With New they move by the deltas of the writes this
// process makes (Stored), and count the change since the process started.
package metrics

import (
	"context"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Fill results, the labels of mirrorstore_mirror_fills_total (the same
// words as mirror.Result).
var fillResults = []string{"stored", "origin_404", "failed", "refused", "coalesced"}

// Metrics is every collector of one server. It is safe for concurrent use;
// every method is cheap and never blocks on I/O.
type Metrics struct {
	reg *prometheus.Registry

	requests *prometheus.CounterVec
	bytesIn  *prometheus.CounterVec
	bytesOut *prometheus.CounterVec
	latency  *prometheus.HistogramVec

	fills         *prometheus.CounterVec
	ttfb          prometheus.Histogram
	bytesMirrored prometheus.Counter
	inFlight      prometheus.Gauge

	redirects *prometheus.CounterVec

	// ops holds each operation's request series (requests.go).
	ops opCache

	buckets bucketSet
	errors  errorRing

	// usage, when set, is where the per-bucket object and byte counts
	// come from (NewWithUsage, NewFromScan); without it there are none.
	usage                  UsageFunc
	descObjects, descBytes *prometheus.Desc
	// lastScan, when set, is when the scan that usage reports ended
	// (NewFromScan).
	lastScan func() time.Time

	now func() time.Time
}

// BucketUsage is what one bucket stores.
type BucketUsage struct {
	Bucket         string
	Objects, Bytes int64
}

// UsageFunc returns every bucket's stored objects and bytes. It is called at
// each scrape and status page, so it must be cheap.
type UsageFunc func(ctx context.Context) ([]BucketUsage, error)

// usageTimeout bounds a UsageFunc call, so a scrape never hangs on it.
const usageTimeout = 5 * time.Second

// NewWithUsage is New, with the per-bucket object and byte counts read from
// usage at scrape time: exact, and kept across restarts by the store.
func NewWithUsage(usage UsageFunc) *Metrics {
	return newMetrics(usage)
}

// NewFromScan is NewWithUsage for counts a periodic scan of the store
// makes: usage returns the last completed scan's counts (and must not do
// the scan itself), lastScan when that scan ended, the zero time before
// the first. The help texts say the counts are as of the last scan, and
// the gauge mirrorstore_usage_scan_timestamp_seconds is lastScan.
func NewFromScan(usage UsageFunc, lastScan func() time.Time) *Metrics {
	m := newMetrics(usage)
	m.lastScan = lastScan
	m.descObjects = prometheus.NewDesc("mirrorstore_bucket_objects",
		"Objects stored per bucket in the whole cluster, as of the last scan of the backend (mirrorstore_usage_scan_timestamp_seconds).", []string{"bucket"}, nil)
	m.descBytes = prometheus.NewDesc("mirrorstore_bucket_bytes",
		"Bytes stored per bucket in the whole cluster, as of the last scan of the backend (mirrorstore_usage_scan_timestamp_seconds).", []string{"bucket"}, nil)
	return m
}

// UsageScan returns when the scan the counts come from ended (zero before
// the first) and true, when they come from scans (NewFromScan).
func (m *Metrics) UsageScan() (time.Time, bool) {
	if m.lastScan == nil {
		return time.Time{}, false
	}
	return m.lastScan(), true
}

// New returns a Metrics with its collectors registered on a new Registry,
// along with the Go runtime and process collectors, and no per-bucket object
// and byte counts (the server always has a store that counts them:
// NewWithUsage, NewFromScan).
func New() *Metrics {
	return newMetrics(nil)
}

func newMetrics(usage UsageFunc) *Metrics {
	m := &Metrics{
		usage: usage,
		reg:   prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mirrorstore_requests_total",
			Help: "Requests by S3 operation and status class (2xx, 3xx, 4xx, 5xx, or aborted: cut short after the headers went out).",
		}, []string{"operation", "status_class"}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mirrorstore_bytes_received_total",
			Help: "Request body bytes received, by operation (as announced by Content-Length).",
		}, []string{"operation"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mirrorstore_bytes_sent_total",
			Help: "Response body bytes sent, by operation.",
		}, []string{"operation"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mirrorstore_request_duration_seconds",
			Help:    "Time from a request's arrival to the end of its answer, by operation.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"operation"}),
		fills: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mirrorstore_mirror_fills_total",
			Help: "Mirror fills by how they ended: stored, origin_404, failed, refused; coalesced counts requests that joined a fill in flight.",
		}, []string{"result"}),
		ttfb: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "mirrorstore_mirror_origin_ttfb_seconds",
			Help:    "Time from a fill's start to the headers of the origin answer it used.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		bytesMirrored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mirrorstore_mirror_bytes_total",
			Help: "Body bytes read from origins by mirror fills.",
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mirrorstore_mirror_fills_in_flight",
			Help: "Mirror fills reading from an origin now.",
		}),
		redirects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mirrorstore_redirects_total",
			Help: "Redirects answered by a bucket's routing rules, by bucket and rule number.",
		}, []string{"bucket", "rule"}),
		now: time.Now,
	}
	m.descObjects = prometheus.NewDesc("mirrorstore_bucket_objects",
		"Objects stored per bucket, as the store counts them.", []string{"bucket"}, nil)
	m.descBytes = prometheus.NewDesc("mirrorstore_bucket_bytes",
		"Bytes stored per bucket, as the store counts them.", []string{"bucket"}, nil)
	m.buckets.m = map[string]*bucketStats{}
	m.errors.buf = make([]OriginError, errorRingSize)
	for _, r := range fillResults {
		m.fills.WithLabelValues(r)
	}
	m.reg.MustRegister(
		m.requests, m.bytesIn, m.bytesOut, m.latency,
		m.fills, m.ttfb, m.bytesMirrored, m.inFlight,
		m.redirects,
		bucketCollector{m},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Registry is the registry every collector is on.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Request observes one finished request: its operation (empty when it was
// refused before an operation was known), status code (0 counts as 200, what
// net/http sends when a handler writes nothing), body bytes in and out, and
// duration.
func (m *Metrics) Request(op string, status int, in, out int64, d time.Duration) {
	if op == "" {
		op = "Unknown"
	}
	if status == 0 {
		status = http.StatusOK
	}
	m.observe(op, classIndex(status), in, out, d)
}

// AbortedClass is the status_class of requests whose answer was cut short
// after its headers went out.
const AbortedClass = "aborted"

// Aborted observes a request whose answer was cut short after its headers
// went out: a mirror fill that failed mid-body, or a client that went away
// during one. Whatever status its headers said, the client did not get the
// answer, so it counts under status_class "aborted" rather than that
// status's class; its bytes out are those sent before the cut.
func (m *Metrics) Aborted(op string, in, out int64, d time.Duration) {
	if op == "" {
		op = "Unknown"
	}
	m.observe(op, abortedIndex, in, out, d)
}

func (m *Metrics) observe(op string, class int, in, out int64, d time.Duration) {
	s := m.opSeries(op)
	s.requests[class].get(m.requests, op, classNames[class]).Inc()
	if in > 0 {
		s.in.get(m.bytesIn, op).Add(float64(in))
	}
	if out > 0 {
		s.out.get(m.bytesOut, op).Add(float64(out))
	}
	s.latency.Observe(d.Seconds())
}

// MirrorFill counts a fill's end by result (mirror.Result's words), or a
// request that joined a fill ("coalesced").
func (m *Metrics) MirrorFill(result string) { m.fills.WithLabelValues(result).Inc() }

// FillsInFlight moves the gauge of fills in flight by delta.
func (m *Metrics) FillsInFlight(delta int) { m.inFlight.Add(float64(delta)) }

// TimeToFirstByte observes an origin's time to its answer's headers.
func (m *Metrics) TimeToFirstByte(d time.Duration) { m.ttfb.Observe(d.Seconds()) }

// BytesMirrored counts body bytes read from origins.
func (m *Metrics) BytesMirrored(n int64) { m.bytesMirrored.Add(float64(n)) }

// Redirect counts a redirect answered by rule (its RuleNumber) of bucket.
func (m *Metrics) Redirect(bucket, rule string) { m.redirects.WithLabelValues(bucket, rule).Inc() }

// ForgetBucket drops a deleted bucket's series.
func (m *Metrics) ForgetBucket(bucket string) {
	m.buckets.mu.Lock()
	delete(m.buckets.m, bucket)
	m.buckets.mu.Unlock()
	m.redirects.DeletePartialMatch(prometheus.Labels{"bucket": bucket})
}

// GetServed counts a successful object GET of bucket: filled when a mirror
// fill answered it (the object came from the origin), otherwise it was
// served from the store.
func (m *Metrics) GetServed(bucket string, filled bool) {
	b := m.buckets.get(bucket)
	now := m.now().Unix()
	b.mu.Lock()
	if filled {
		b.filled++
	} else {
		b.local++
	}
	b.minute.add(now, filled)
	b.hour.add(now/60, filled)
	b.mu.Unlock()
}

// Window is the GETs of one bucket over a span of time.
type Window struct {
	Local, Filled int64
}

// Ratio is the share of GETs served locally, between 0 and 1; ok is false
// when there were none.
func (w Window) Ratio() (ratio float64, ok bool) {
	n := w.Local + w.Filled
	if n == 0 {
		return 0, false
	}
	return float64(w.Local) / float64(n), true
}

// BucketStatus is what the status page shows of one bucket.
type BucketStatus struct {
	Bucket string
	// Objects and Bytes are the store's counts (NewWithUsage) or this
	// node's deltas since the start (New); see the package comment.
	Objects, Bytes int64
	// Minute and Hour are the GETs of the last 60 seconds and 60 minutes.
	Minute, Hour Window
}

// Buckets returns, by name, every bucket the store counts (NewWithUsage)
// and every bucket this process has seen. An error reading the store's
// counts is returned with the buckets this process has seen.
func (m *Metrics) Buckets(ctx context.Context) ([]BucketStatus, error) {
	now := m.now().Unix()
	byName := map[string]*BucketStatus{}
	var uerr error
	if m.usage != nil {
		ctx, cancel := context.WithTimeout(ctx, usageTimeout)
		us, err := m.usage(ctx)
		cancel()
		uerr = err
		for _, u := range us {
			byName[u.Bucket] = &BucketStatus{Bucket: u.Bucket, Objects: u.Objects, Bytes: u.Bytes}
		}
	}
	m.buckets.mu.Lock()
	for name, b := range m.buckets.m {
		st := byName[name]
		if st == nil {
			st = &BucketStatus{Bucket: name}
			byName[name] = st
		}
		b.mu.Lock()
		st.Minute, st.Hour = b.minute.sum(now), b.hour.sum(now/60)
		b.mu.Unlock()
	}
	m.buckets.mu.Unlock()
	out := make([]BucketStatus, 0, len(byName))
	for _, st := range byName {
		out = append(out, *st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Bucket < out[j].Bucket })
	return out, uerr
}

type bucketSet struct {
	mu sync.Mutex
	m  map[string]*bucketStats
}

func (s *bucketSet) get(bucket string) *bucketStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.m[bucket]
	if b == nil {
		b = &bucketStats{}
		s.m[bucket] = b
	}
	return b
}

type bucketStats struct {
	mu            sync.Mutex
	local, filled int64
	minute, hour  slots
}

// slots counts GETs in 60 consecutive time units (seconds or minutes): slot
// i holds unit t when t%60 == i, and a slot whose unit has passed is reused.
type slots [60]struct {
	unit          int64
	local, filled int64
}

func (s *slots) add(unit int64, filled bool) {
	c := &s[unit%60]
	if c.unit != unit {
		c.unit, c.local, c.filled = unit, 0, 0
	}
	if filled {
		c.filled++
	} else {
		c.local++
	}
}

// sum adds the slots of the 60 units up to and including unit.
func (s *slots) sum(unit int64) Window {
	var w Window
	for i := range s {
		if c := s[i]; c.unit > unit-60 && c.unit <= unit {
			w.Local += c.local
			w.Filled += c.filled
		}
	}
	return w
}

// bucketCollector exposes the per-bucket counts kept in bucketSet, so the
// status page and Prometheus read the same numbers.
type bucketCollector struct{ m *Metrics }

var (
	descScan = prometheus.NewDesc("mirrorstore_usage_scan_timestamp_seconds",
		"When the last completed scan of the backend ended (Unix time), which mirrorstore_bucket_objects and mirrorstore_bucket_bytes are as of; absent before the first scan.", nil, nil)
	descLocal = prometheus.NewDesc("mirrorstore_gets_local_total",
		"Successful object GETs served from the store, per bucket (the hit side of the mirror hit ratio).", []string{"bucket"}, nil)
	descFilled = prometheus.NewDesc("mirrorstore_gets_filled_total",
		"Successful object GETs answered by a mirror fill from the origin, per bucket (the miss side of the mirror hit ratio).", []string{"bucket"}, nil)
)

func (c bucketCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.m.descObjects
	ch <- c.m.descBytes
	if c.m.lastScan != nil {
		ch <- descScan
	}
	ch <- descLocal
	ch <- descFilled
}

// Collect reads the store's counts when they are its source. A failure to
// read them (the engine closing, a backend away) leaves those series out of
// this scrape rather than failing it: the other metrics matter most then.
func (c bucketCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	if m.lastScan != nil {
		if t := m.lastScan(); !t.IsZero() {
			ch <- prometheus.MustNewConstMetric(descScan, prometheus.GaugeValue, float64(t.UnixNano())/1e9)
		}
	}
	if m.usage != nil {
		ctx, cancel := context.WithTimeout(context.Background(), usageTimeout)
		us, _ := m.usage(ctx)
		cancel()
		for _, u := range us {
			ch <- prometheus.MustNewConstMetric(m.descObjects, prometheus.GaugeValue, float64(u.Objects), u.Bucket)
			ch <- prometheus.MustNewConstMetric(m.descBytes, prometheus.GaugeValue, float64(u.Bytes), u.Bucket)
		}
	}
	s := &m.buckets
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, b := range s.m {
		b.mu.Lock()
		local, filled := b.local, b.filled
		b.mu.Unlock()
		ch <- prometheus.MustNewConstMetric(descLocal, prometheus.CounterValue, float64(local), name)
		ch <- prometheus.MustNewConstMetric(descFilled, prometheus.CounterValue, float64(filled), name)
	}
}
