// Package mirror fills missing objects from their origin (SPEC §7): one fill
// per (bucket, key) at a time, written once to a staging file that every
// reader (each waiting client, and the commit into the store) tails as it
// grows, and committed into the store only when the body is whole and
// verified.
//
// The HTTP layer checks the store first, and calls Open on a miss that a
// Mirror rule matched; Open's errors map to HTTP answers as listed at
// ErrNotFound.
package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"mirrorstore/internal/origin"
	"mirrorstore/internal/store"
)

// DefaultMaxSize is the default largest object a fill stores (5 GiB).
const DefaultMaxSize = 5 << 30

// stagingPattern names staging files; New removes leftovers matching it.
const stagingPattern = "fill-*"

// Spec describes one fill. The HTTP layer builds it from the matched rule.
type Spec struct {
	// Bucket and Key name the object to store: the key the client asked
	// for.
	Bucket, Key string
	// URLs are the origin URLs, already composed (MirrorURL + key', query
	// string appended when passed): the primary, then the optional
	// secondary (MirrorURLSlave).
	URLs []string
	// Header is the origin request's headers, built by
	// origin.HeaderPolicy.Build from the client's headers; a Host in it
	// asks the origin for that site.
	Header http.Header
	// SNI sends Header's Host as the TLS server name too (MirrorSNI).
	SNI bool
	// FollowRedirect follows origin redirects (MirrorFollowRedirect);
	// without it an origin 3xx is a *RedirectError.
	FollowRedirect bool
	// CheckMD5 verifies the body against the origin's Content-MD5, when
	// the origin sent one (MirrorCheckMd5).
	CheckMD5 bool
	// SaveMeta keeps the origin's x-oss-meta-*/x-amz-meta-* (MirrorSaveOssMeta).
	SaveMeta bool
	// UseOriginLastModified stores the origin's Last-Modified instead of
	// the fill's start (MirrorUserLastModified).
	UseOriginLastModified bool
	// SwitchAllErrors fails over to the secondary on any answer but 200,
	// 206, 301, 302, 303, 307 and 404 (MirrorSwitchAllErrors); otherwise
	// only on a connection failure, a timeout or a 5xx.
	SwitchAllErrors bool
	// TransparentCodes are passed to the client as the origin answered
	// them (TransparentMirrorResponseCodes).
	TransparentCodes []int
}

// Config configures a Manager.
type Config struct {
	// Store receives the committed objects. Required.
	Store store.Backend
	// Origin fetches from origins. Required; the Manager does not close it.
	Origin *origin.Client
	// StagingDir holds the staging files; it must exist. Files named
	// fill-* in it are the Manager's: New removes leftovers of a crash.
	// When Store is a store.FileAdopter, its AdoptDir is used instead and
	// a finished staging file is committed by adoption, not copied.
	StagingDir string
	// MaxSize is the largest object a fill stores (DefaultMaxSize when 0).
	MaxSize int64
	// Metrics, when nil, is NopMetrics.
	Metrics Metrics
	// Logger, when nil, is slog.Default().
	Logger *slog.Logger
}

type fillKey struct{ bucket, key string }

// Manager runs fills. It is safe for concurrent use. Close stops it.
type Manager struct {
	cfg     Config
	metrics Metrics
	log     *slog.Logger
	// adopter is Store as a store.FileAdopter, or nil: fills then commit
	// by streaming the staging file into PutObject.
	adopter store.FileAdopter

	// ctx is every fill's context; Close cancels it when its deadline
	// passes, which aborts the fills still running.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // one per fill goroutine

	mu     sync.Mutex
	fills  map[fillKey]*fill
	closed bool
	// recent holds the keys of the last fills that stored their object, a
	// ring (next is the slot to reuse) counted in recentSet: a new fill of
	// one of them checks the store before the origin.
	recent    [recentFills]fillKey
	next      int
	recentSet map[fillKey]int
}

// recentFills is how many stored fills the Manager remembers. The race it
// closes lasts from a request's store lookup to its Open, microseconds
// apart; a few hundred fills is far longer than that at any fill rate.
const recentFills = 512

// remember records a fill that stored its key; m.mu must be held.
func (m *Manager) remember(k fillKey) {
	if old := m.recent[m.next]; m.recentSet[old] > 0 {
		if m.recentSet[old]--; m.recentSet[old] == 0 {
			delete(m.recentSet, old)
		}
	}
	m.recent[m.next] = k
	m.recentSet[k]++
	m.next = (m.next + 1) % recentFills
}

// New returns a Manager. It removes staging files a previous process left.
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil || cfg.Origin == nil {
		return nil, errors.New("mirror: Config needs Store and Origin")
	}
	adopter, _ := cfg.Store.(store.FileAdopter)
	if adopter != nil {
		cfg.StagingDir = adopter.AdoptDir()
	}
	if fi, err := os.Stat(cfg.StagingDir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("mirror: staging directory %q: not a directory (%v)", cfg.StagingDir, err)
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = DefaultMaxSize
	}
	m := &Manager{cfg: cfg, metrics: cfg.Metrics, log: cfg.Logger, adopter: adopter,
		fills: map[fillKey]*fill{}, recentSet: map[fillKey]int{}}
	if m.metrics == nil {
		m.metrics = NopMetrics{}
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	leftovers, _ := filepath.Glob(filepath.Join(cfg.StagingDir, stagingPattern))
	for _, p := range leftovers {
		_ = os.Remove(p)
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	return m, nil
}

// Open returns a reader of the object spec names, joining the fill of
// (spec.Bucket, spec.Key) in flight or starting one (a joiner's other Spec
// fields are not used: the fill in flight is the answer). It returns once the
// origin's headers are known, or with one of the errors listed at
// ErrNotFound.
//
// A key whose fill stored it lately is looked up in the store first: a
// request whose own lookup missed just before that commit is answered from
// the store, not with a second origin request.
//
// ctx bounds the wait and every Read of the returned reader; cancelling it,
// like closing the reader, never stops the fill: it goes on, for the other
// readers and the commit. The caller must Close the reader.
func (m *Manager) Open(ctx context.Context, spec Spec) (*Reader, error) {
	if len(spec.URLs) == 0 {
		return nil, errors.New("mirror: Spec has no origin URL")
	}
	k := fillKey{spec.Bucket, spec.Key}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, ErrClosed
	}
	f := m.fills[k]
	if f != nil && f.failed() {
		// An aborted fill stays in the map until its goroutine has wound
		// down; a request in that window starts afresh (SPEC §7: the next
		// GET mirrors again) instead of joining a body that is gone.
		f = nil
	}
	if f != nil {
		f.retain()
		m.mu.Unlock()
		m.metrics.FillResult(ResultCoalesced)
	} else {
		f = newFill(m, k, spec, m.recentSet[k] > 0) // holds the fill's own reference and ours
		m.fills[k] = f
		m.wg.Add(1)
		m.mu.Unlock()
		m.metrics.FillsInFlight(1)
		go f.run(m.ctx)
	}
	select {
	case <-f.headers:
	case <-ctx.Done():
		f.release()
		return nil, ctx.Err()
	}
	if f.headErr != nil {
		f.release()
		return nil, f.headErr
	}
	return &Reader{Info: f.info, f: f, ctx: ctx}, nil
}

// InFlight reports how many fills are running.
func (m *Manager) InFlight() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.fills)
}

// Close refuses new Opens (ErrClosed) and waits for the fills in flight to
// finish and commit. When ctx ends first, the remaining fills are aborted
// without committing (their readers' Reads fail), Close waits for them to
// wind down and returns ctx's error.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	done := make(chan struct{})
	go func() {
		m.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		m.cancel()
		<-done
	}
	m.cancel()
	return err
}
