// Package logbuf batches log lines before they reach a file descriptor.
//
// The server writes one structured line per request; written straight to
// stderr that is one write system call per request, which on a small-object
// GET costs as much as the rest of the request. A Writer gathers lines in
// memory and writes them at most every interval (or when the buffer fills),
// so the cost becomes one system call per batch. The price is that a crash
// (kill -9) may lose the lines of the last interval; Close flushes on every
// orderly exit.
package logbuf

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// Writer is an io.Writer safe for concurrent use that flushes to its
// destination every interval and when its buffer fills.
type Writer struct {
	mu   sync.Mutex
	buf  *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

// New starts a Writer over dst that flushes at least every interval.
// The caller must Close it to flush the last lines and stop its goroutine.
func New(dst io.Writer, interval time.Duration) *Writer {
	w := &Writer{
		buf:  bufio.NewWriterSize(dst, 64<<10),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go w.flushEvery(interval)
	return w
}

// Write buffers p whole: a log line is never split between two writes.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Available() < len(p) {
		if err := w.buf.Flush(); err != nil {
			return 0, err
		}
	}
	return w.buf.Write(p)
}

// Flush writes out everything buffered.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Flush()
}

// Close stops the background flushing and flushes what is left.
func (w *Writer) Close() error {
	close(w.stop)
	<-w.done
	return w.Flush()
}

func (w *Writer) flushEvery(interval time.Duration) {
	defer close(w.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			w.Flush()
		}
	}
}
