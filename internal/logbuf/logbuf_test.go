package logbuf

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for the flusher and the test to share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestLinesArriveWholeAndInOrderPerWriter(t *testing.T) {
	dst := &lockedBuffer{}
	w := New(dst, time.Millisecond)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				fmt.Fprintf(w, "g%d line %05d %s\n", g, i, strings.Repeat("x", 40))
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(dst.String(), "\n"), "\n")
	if len(lines) != 8*2000 {
		t.Fatalf("%d lines arrived, want %d", len(lines), 8*2000)
	}
	next := map[string]int{}
	for _, l := range lines {
		var g string
		var i int
		if _, err := fmt.Sscanf(l, "%s line %d", &g, &i); err != nil || len(l) != len("g0 line 00000 ")+40 {
			t.Fatalf("torn line %q", l)
		}
		if i != next[g] {
			t.Fatalf("%s: line %d arrived when %d was due", g, i, next[g])
		}
		next[g]++
	}
}

func TestFlushesWithoutClose(t *testing.T) {
	dst := &lockedBuffer{}
	w := New(dst, 5*time.Millisecond)
	defer w.Close()
	w.Write([]byte("hello\n"))
	deadline := time.Now().Add(5 * time.Second)
	for dst.String() != "hello\n" {
		if time.Now().After(deadline) {
			t.Fatal("a buffered line was not flushed by the timer")
		}
		time.Sleep(time.Millisecond)
	}
}
