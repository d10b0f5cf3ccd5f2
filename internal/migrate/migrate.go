// Package migrate copies objects from a folder, another S3-compatible store
// or an HTTP origin into a bucket through the bucket's S3 API (SPEC §9).
// New objects are written with If-None-Match: * and replacements with
// If-Match, so nothing a client wrote meanwhile is clobbered; progress is
// checkpointed so an interrupted run can resume.
package migrate

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/time/rate"
)

// Defaults for Config's zero values.
const (
	DefaultConcurrency = 16
	DefaultPartSize    = 16 << 20
	DefaultRetries     = 5
	DefaultBackoff     = 500 * time.Millisecond
	maxBackoff         = 30 * time.Second
	minPartSize        = 5 << 20 // S3's minimum for all parts but the last
)

// Config is one migration.
type Config struct {
	Source Source
	// Client talks to the destination (path-style). Its own retryer also
	// applies to each request.
	Client *s3.Client
	Bucket string
	// Overwrite replaces objects that differ (size or ETag/MD5).
	Overwrite bool
	// DryRun lists what would be copied, writing nothing.
	DryRun bool
	// Concurrency is the number of objects copied at once.
	Concurrency int
	// Rate limits objects started per second; 0 is unlimited.
	Rate float64
	// Bandwidth limits source bytes read per second; 0 is unlimited.
	Bandwidth int64
	// PartSize is the multipart part size, at least 5 MiB (S3's minimum);
	// larger objects go by multipart. Each worker holds one part in memory.
	PartSize int64
	// Retries is how many more attempts a retryable failure gets, with
	// exponential backoff from Backoff. -1 means none.
	Retries int
	Backoff time.Duration
	// StatePath, when set, is the checkpoint file.
	StatePath string
	// Out receives dry-run lines; nil discards them.
	Out io.Writer
	// Progress receives progress; nil shows none. With Terminal a bar,
	// else a line every ProgressInterval (default 10 s).
	Progress         io.Writer
	Terminal         bool
	ProgressInterval time.Duration

	// beforeWrite, when set, runs after the compare and before the write
	// (tests use it to write the key meanwhile).
	beforeWrite func(key string)
}

// Failure is an object that was not copied.
type Failure struct {
	Key string `json:"key"`
	// Kind is "conflict" (a 412) or "failed".
	Kind  string `json:"kind"`
	Error string `json:"error"`
}

// Summary is what a run did.
type Summary struct {
	Listed      int   `json:"listed"`
	Copied      int   `json:"copied"`
	CopiedBytes int64 `json:"copied_bytes"`
	Replaced    int   `json:"replaced"` // of Copied, with --overwrite
	// Skipped were in the bucket already; Differ of them differ from the
	// source (replaced only with --overwrite).
	Skipped int `json:"skipped"`
	Differ  int `json:"differ"`
	// Resumed were completed by an earlier run (the state file).
	Resumed   int       `json:"resumed"`
	Conflicts int       `json:"conflicts"`
	Failed    int       `json:"failed"`
	Failures  []Failure `json:"failures,omitempty"`
	// WouldCopy and WouldCopyBytes are a dry run's totals (-1 bytes when
	// some sizes are unknown).
	WouldCopy      int           `json:"would_copy,omitempty"`
	WouldCopyBytes int64         `json:"would_copy_bytes,omitempty"`
	Elapsed        time.Duration `json:"elapsed"`
}

// destObject is what the bucket holds under a key.
type destObject struct {
	size int64
	etag string
}

// job is one object to copy or compare.
type job struct {
	obj  Object
	dest *destObject // nil when the bucket lacks the key
}

type migration struct {
	cfg      Config
	state    *checkpoint
	objRate  *rate.Limiter
	byteRate *rate.Limiter

	mu  sync.Mutex
	sum Summary

	doneObjects atomic.Int64
	doneBytes   atomic.Int64
}

// Run migrates cfg.Source into cfg.Bucket. Per-object failures never stop
// it: they are in the Summary. The error is for what stops the whole run:
// a listing that fails, a bad state file, or ctx cancelled (the summary
// then says what was done, and the checkpoint has it).
func Run(ctx context.Context, cfg Config) (Summary, error) {
	start := time.Now()
	if cfg.Source == nil || cfg.Client == nil || cfg.Bucket == "" {
		return Summary{}, errors.New("migrate: need a source, a client and a bucket")
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.PartSize <= 0 {
		cfg.PartSize = DefaultPartSize
	}
	if cfg.PartSize < minPartSize {
		return Summary{}, fmt.Errorf("part size %d: S3 needs at least %d bytes", cfg.PartSize, minPartSize)
	}
	if cfg.Retries == 0 {
		cfg.Retries = DefaultRetries
	} else if cfg.Retries < 0 {
		cfg.Retries = 0
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.ProgressInterval <= 0 {
		cfg.ProgressInterval = 10 * time.Second
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	m := &migration{cfg: cfg}
	if cfg.Rate > 0 {
		m.objRate = rate.NewLimiter(rate.Limit(cfg.Rate), 1)
	}
	if cfg.Bandwidth > 0 {
		// A burst of 1/20 s keeps the rate smooth from the start.
		m.byteRate = rate.NewLimiter(rate.Limit(cfg.Bandwidth), int(min(max(cfg.Bandwidth/20, 16<<10), 4<<20)))
	}
	if cfg.StatePath != "" && !(cfg.DryRun && !exists(cfg.StatePath)) {
		st, err := openCheckpoint(cfg.StatePath, stateHeader{Source: cfg.Source.String(), Bucket: cfg.Bucket})
		if err != nil {
			return Summary{}, err
		}
		m.state = st
	}
	sum, err := m.run(ctx)
	if m.state != nil {
		if cerr := m.state.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("state file %s: %w", cfg.StatePath, cerr)
		}
	}
	sum.Elapsed = time.Since(start)
	return sum, err
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func (m *migration) run(ctx context.Context) (Summary, error) {
	dest, err := m.listDest(ctx)
	if err != nil {
		return m.sum, err
	}
	var jobs []job
	err = m.cfg.Source.List(ctx, func(o Object) error {
		m.sum.Listed++
		if m.state != nil && m.state.Done(o.Key) {
			m.sum.Resumed++
			return nil
		}
		d, ok := dest[o.Key]
		if !ok {
			jobs = append(jobs, job{obj: o})
			return nil
		}
		switch differs(o, d) {
		case no:
			m.skip(o.Key, false)
		case yes:
			if !m.cfg.Overwrite {
				m.skip(o.Key, true)
				return nil
			}
			jobs = append(jobs, job{obj: o, dest: &d})
		case unknown:
			// Only the source's content can tell, and reading it is
			// worth it only when a difference would be acted on.
			if !m.cfg.Overwrite {
				m.skip(o.Key, false)
				return nil
			}
			jobs = append(jobs, job{obj: o, dest: &d})
		}
		return nil
	})
	if err != nil {
		return m.sum, fmt.Errorf("list source %s: %w", m.cfg.Source, err)
	}
	if m.cfg.DryRun {
		m.dryRun(jobs)
		return m.sum, nil
	}
	var total int64
	for _, j := range jobs {
		if j.obj.Size < 0 {
			total = -1
			break
		}
		total += j.obj.Size
	}
	prog := startProgress(m, len(jobs), total)
	defer prog.stop()

	ch := make(chan job)
	var wg sync.WaitGroup
	for range min(m.cfg.Concurrency, max(len(jobs), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// One part buffer per worker, grown as objects need and kept:
			// a pool would lose it at every GC and zero it again.
			var buf []byte
			for j := range ch {
				m.copyWithRetries(ctx, j, &buf)
			}
		}()
	}
feed:
	for _, j := range jobs {
		select {
		case ch <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(ch)
	wg.Wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	sort.Slice(m.sum.Failures, func(a, b int) bool { return m.sum.Failures[a].Key < m.sum.Failures[b].Key })
	return m.sum, ctx.Err()
}

// listDest lists the bucket once (under the source's prefix for an S3
// source), which costs one request per 1000 keys instead of a HEAD per key.
func (m *migration) listDest(ctx context.Context) (map[string]destObject, error) {
	prefix := ""
	if s, ok := m.cfg.Source.(*S3Source); ok {
		prefix = s.prefix
	}
	dest := map[string]destObject{}
	p := s3.NewListObjectsV2Paginator(m.cfg.Client, &s3.ListObjectsV2Input{Bucket: aws.String(m.cfg.Bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list bucket %s: %w", m.cfg.Bucket, err)
		}
		for _, o := range page.Contents {
			dest[aws.ToString(o.Key)] = destObject{size: aws.ToInt64(o.Size), etag: trimETag(aws.ToString(o.ETag))}
		}
	}
	return dest, nil
}

type tri int

const (
	unknown tri = iota
	no
	yes
)

// differs compares a source object with the bucket's: by size, then by
// ETag when both are plain MD5s. A multipart ETag depends on the part
// size, so it is not compared.
func differs(o Object, d destObject) tri {
	if o.Size >= 0 && o.Size != d.size {
		return yes
	}
	if isMD5(o.ETag) && isMD5(d.etag) {
		if strings.EqualFold(o.ETag, d.etag) {
			return no
		}
		return yes
	}
	if o.Size >= 0 && (o.ETag != "" || !isMD5(d.etag)) {
		// Same size and nothing more to compare without reading.
		return no
	}
	return unknown
}

func (m *migration) skip(key string, differ bool) {
	m.mu.Lock()
	m.sum.Skipped++
	if differ {
		m.sum.Differ++
	}
	m.mu.Unlock()
	if m.state != nil && !m.cfg.DryRun {
		m.state.Add(key)
	}
}

func (m *migration) dryRun(jobs []job) {
	var bytes int64
	for _, j := range jobs {
		verb := "copy"
		if j.dest != nil {
			verb = "replace"
			if differs(j.obj, *j.dest) == unknown {
				verb = "compare, replace if different"
			}
		}
		size := "size unknown"
		if j.obj.Size >= 0 {
			size = fmt.Sprintf("%d bytes", j.obj.Size)
			if bytes >= 0 {
				bytes += j.obj.Size
			}
		} else {
			bytes = -1
		}
		fmt.Fprintf(m.cfg.Out, "would %s %q (%s)\n", verb, j.obj.Key, size)
	}
	m.sum.WouldCopy, m.sum.WouldCopyBytes = len(jobs), bytes
	fmt.Fprintf(m.cfg.Out, "would copy %d objects, %s; %d already in the bucket, %d done by an earlier run\n",
		len(jobs), formatBytes(bytes), m.sum.Skipped, m.sum.Resumed)
}

// copyWithRetries copies one object, retrying retryable failures with
// exponential backoff and jitter; a conflict is never retried.
func (m *migration) copyWithRetries(ctx context.Context, j job, buf *[]byte) {
	if m.objRate != nil {
		if err := m.objRate.Wait(ctx); err != nil {
			return
		}
	}
	delay := m.cfg.Backoff
	for attempt := 0; ; attempt++ {
		n, skipped, err := m.copyOne(ctx, j, buf)
		if err == nil {
			m.doneObjects.Add(1)
			m.mu.Lock()
			if skipped {
				m.sum.Skipped++
			} else {
				m.sum.Copied++
				m.sum.CopiedBytes += n
				if j.dest != nil {
					m.sum.Replaced++
				}
			}
			m.mu.Unlock()
			if m.state != nil {
				m.state.Add(j.obj.Key)
			}
			return
		}
		if ctx.Err() != nil {
			return // interrupted: not a failure, the rerun does it
		}
		var ce *conflictError
		if errors.As(err, &ce) {
			m.fail(j.obj.Key, "conflict", err)
			return
		}
		var re *RetryableError
		if !errors.As(err, &re) || attempt >= m.cfg.Retries {
			if attempt > 0 {
				err = fmt.Errorf("%w (after %d attempts)", err, attempt+1)
			}
			m.fail(j.obj.Key, "failed", err)
			return
		}
		d := delay/2 + rand.N(delay/2+1)
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return
		}
		delay = min(delay*2, maxBackoff)
	}
}

func (m *migration) fail(key, kind string, err error) {
	m.doneObjects.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	if kind == "conflict" {
		m.sum.Conflicts++
	} else {
		m.sum.Failed++
	}
	m.sum.Failures = append(m.sum.Failures, Failure{Key: key, Kind: kind, Error: err.Error()})
}

// copyOne makes one attempt at j. skipped means the compare found the
// object the same (an --overwrite compare that needed the source).
func (m *migration) copyOne(ctx context.Context, j job, buf *[]byte) (n int64, skipped bool, err error) {
	if j.dest != nil && differs(j.obj, *j.dest) == unknown {
		if f, ok := m.cfg.Source.(*FolderSource); ok {
			sum, err := f.md5(j.obj.Key)
			if err != nil {
				return 0, false, err
			}
			if strings.EqualFold(sum, j.dest.etag) {
				return 0, true, nil
			}
		}
	}
	c, err := m.cfg.Source.Open(ctx, j.obj)
	if err != nil {
		return 0, false, err
	}
	defer c.Body.Close()
	if j.dest != nil {
		seen := j.obj
		if seen.Size < 0 {
			seen.Size = c.Size
		}
		if seen.ETag == "" {
			seen.ETag = c.ETag
		}
		if differs(seen, *j.dest) == no {
			return 0, true, nil
		}
	}
	c.Body = &countingReader{r: c.Body, m: m, ctx: ctx}
	if m.cfg.beforeWrite != nil {
		m.cfg.beforeWrite(j.obj.Key)
	}
	cond := condition{}
	if j.dest != nil {
		cond.ifMatch = j.dest.etag
	}
	// A small object needs a buffer of its size and one byte more (to see
	// that the body ends there); anything else a whole part.
	need := m.cfg.PartSize
	if c.Size >= 0 && c.Size < need {
		need = c.Size + 1
	}
	if int64(cap(*buf)) < need {
		*buf = make([]byte, need)
	}
	n, etag, err := m.upload(ctx, j.obj.Key, c, cond, (*buf)[:need])
	if err != nil {
		return 0, false, err
	}
	if want := c.ETag; isMD5(want) && isMD5(etag) && !strings.EqualFold(want, etag) {
		return 0, false, retryable(fmt.Errorf("stored ETag %s differs from the source's MD5 %s", etag, want))
	}
	return n, false, nil
}

// md5 hashes a file, to compare it with a bucket ETag under --overwrite.
func (s *FolderSource) md5(key string) (string, error) {
	f, err := os.Open(filepath.Join(s.dir, filepath.FromSlash(key)))
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// countingReader counts the bytes read for progress and applies the
// bandwidth limit.
type countingReader struct {
	r   io.Reader
	m   *migration
	ctx context.Context
}

func (c *countingReader) Read(p []byte) (int, error) {
	if l := c.m.byteRate; l != nil && len(p) > l.Burst() {
		p = p[:l.Burst()]
	}
	n, err := c.r.Read(p)
	if n > 0 {
		c.m.doneBytes.Add(int64(n))
		if l := c.m.byteRate; l != nil {
			if werr := l.WaitN(c.ctx, n); werr != nil && err == nil {
				err = werr
			}
		}
	}
	return n, err
}

func (c *countingReader) Close() error { return nil }

// WriteReport writes s's failures and conflicts to w as JSON lines.
func WriteReport(w io.Writer, s Summary) error {
	enc := json.NewEncoder(w)
	for _, f := range s.Failures {
		if err := enc.Encode(f); err != nil {
			return err
		}
	}
	return nil
}

// WriteSummary prints the end-of-run summary.
func WriteSummary(w io.Writer, s Summary) {
	fmt.Fprintf(w, "copied %d objects (%s, %d replaced), skipped %d already in the bucket",
		s.Copied, formatBytes(s.CopiedBytes), s.Replaced, s.Skipped)
	if s.Differ > 0 {
		fmt.Fprintf(w, " (%d differ from the source; --overwrite replaces them)", s.Differ)
	}
	if s.Resumed > 0 {
		fmt.Fprintf(w, ", %d done by an earlier run", s.Resumed)
	}
	fmt.Fprintf(w, ", %d conflicts, %d failed, in %s\n", s.Conflicts, s.Failed, s.Elapsed.Round(time.Millisecond))
	const shown = 20
	for i, f := range s.Failures {
		if i == shown {
			fmt.Fprintf(w, "  … and %d more (--report FILE lists them all)\n", len(s.Failures)-shown)
			break
		}
		fmt.Fprintf(w, "  %s %q: %s\n", f.Kind, f.Key, f.Error)
	}
}

func formatBytes(n int64) string {
	if n < 0 {
		return "size unknown"
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for x := n / unit; x >= unit; x /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
