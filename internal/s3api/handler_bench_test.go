package s3api

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"mirrorstore/internal/store/local"
)

// BenchmarkHandlerGet4KiB is one GET of a 4 KiB object through the
// handler (authentication stubbed, as rootAuth does for handler tests)
// over the embedded engine. cpu-ns/op is the process's CPU time per GET,
// which a loaded machine's wait for a core does not inflate.
func BenchmarkHandlerGet4KiB(b *testing.B) {
	eng, err := local.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	h := New(Config{Backend: eng, Auth: rootAuth{}})
	do := func(method, target string, body []byte) int {
		r := httptest.NewRequest(method, "http://localhost"+target, bytes.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	if c := do("PUT", "/bkt", nil); c != 200 {
		b.Fatal(c)
	}
	data := bytes.Repeat([]byte("x"), 4096)
	for i := range 1000 {
		if c := do("PUT", fmt.Sprintf("/bkt/k%04d", i), data); c != 200 {
			b.Fatal(c)
		}
	}
	b.ReportAllocs()
	start := cpuTime()
	i := 0
	for b.Loop() {
		if c := do("GET", fmt.Sprintf("/bkt/k%04d", i%1000), nil); c != 200 {
			b.Fatal(c)
		}
		i++
	}
	b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
