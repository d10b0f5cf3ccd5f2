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

// Close writes out what is buffered: with a flush interval no test
// outlives, only Close can have written the lines, each whole.
func TestCloseFlushes(t *testing.T) {
	dst := &lockedBuffer{}
	w := New(dst, time.Hour)
	for i := range 100 {
		fmt.Fprintf(w, "line %03d\n", i)
	}
	if got := dst.String(); got != "" {
		t.Fatalf("written before Close: %q", got)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(dst.String(), "\n"), "\n")
	if len(lines) != 100 || lines[0] != "line 000" || lines[99] != "line 099" {
		t.Fatalf("after Close: %d lines, %q … %q", len(lines), lines[0], lines[len(lines)-1])
	}
}

// A line larger than what is left of the buffer flushes what is there
// first and still arrives whole, in order.
func TestLongLinesStayWhole(t *testing.T) {
	dst := &lockedBuffer{}
	w := New(dst, time.Hour)
	short, long := "short\n", strings.Repeat("y", 100<<10)+"\n"
	for _, l := range []string{short, long, short} {
		if _, err := w.Write([]byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if dst.String() != short+long+short {
		t.Fatalf("got %d bytes, want %d in order", len(dst.String()), len(short+long+short))
	}
}
