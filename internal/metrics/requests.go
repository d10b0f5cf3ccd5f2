package metrics

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// The request series of one operation are looked up once and kept: a
// WithLabelValues per series per request (label validation, hashing and a
// locked map lookup, four times) was a visible share of a small GET's CPU.
// Operations are a small fixed set (the dispatch table's names), so the
// cache stays small. Series are still created on first use only, so
// /-/metrics shows the same series as before.

// Status classes by index: 0 is "other", 1 to 5 are "1xx" to "5xx".
var classNames = [...]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx", AbortedClass}

const abortedIndex = len(classNames) - 1

// classIndex is the index in classNames of a status code's class.
func classIndex(code int) int {
	if code < 100 || code > 599 {
		return 0
	}
	return code / 100
}

// opSeries is one operation's series.
type opSeries struct {
	requests [len(classNames)]lazyCounter
	in, out  lazyCounter
	latency  prometheus.Observer
}

// lazyCounter is a series of a CounterVec made on its first use.
type lazyCounter struct{ c atomic.Pointer[counterRef] }

type counterRef struct{ prometheus.Counter }

func (l *lazyCounter) get(vec *prometheus.CounterVec, labels ...string) prometheus.Counter {
	if r := l.c.Load(); r != nil {
		return r.Counter
	}
	// Two first uses at once both get the vector's one series.
	c := vec.WithLabelValues(labels...)
	l.c.Store(&counterRef{c})
	return c
}

// opCache maps operation names to their series. Reads take no lock: the
// map is replaced whole (copied) when an operation is first seen.
type opCache struct {
	mu sync.Mutex
	m  atomic.Pointer[map[string]*opSeries]
}

func (m *Metrics) opSeries(op string) *opSeries {
	if cur := m.ops.m.Load(); cur != nil {
		if s, ok := (*cur)[op]; ok {
			return s
		}
	}
	m.ops.mu.Lock()
	defer m.ops.mu.Unlock()
	next := map[string]*opSeries{}
	if cur := m.ops.m.Load(); cur != nil {
		if s, ok := (*cur)[op]; ok {
			return s
		}
		for k, v := range *cur {
			next[k] = v
		}
	}
	s := &opSeries{latency: m.latency.WithLabelValues(op)}
	next[op] = s
	m.ops.m.Store(&next)
	return s
}
