package metrics

import (
	"sync"
	"time"
)

// errorRingSize is how many origin errors the status page shows.
const errorRingSize = 20

// OriginError is one failure of a mirror fill at its origin.
type OriginError struct {
	Time   time.Time
	Bucket string
	Key    string
	// URL is the origin URL, when known.
	URL string
	// Message says what failed.
	Message string
}

// errorRing keeps the last errorRingSize origin errors.
type errorRing struct {
	mu   sync.Mutex
	buf  []OriginError
	next int
	n    int
}

// OriginError records a fill's origin failure; only the last few are kept.
func (m *Metrics) OriginError(e OriginError) {
	if e.Time.IsZero() {
		e.Time = m.now()
	}
	r := &m.errors
	r.mu.Lock()
	r.buf[r.next] = e
	r.next = (r.next + 1) % len(r.buf)
	if r.n < len(r.buf) {
		r.n++
	}
	r.mu.Unlock()
}

// OriginErrors returns the last origin errors, newest first.
func (m *Metrics) OriginErrors() []OriginError {
	r := &m.errors
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]OriginError, 0, r.n)
	for i := 1; i <= r.n; i++ {
		out = append(out, r.buf[(r.next-i+len(r.buf))%len(r.buf)])
	}
	return out
}
