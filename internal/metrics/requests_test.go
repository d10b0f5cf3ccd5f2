package metrics

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// The cached series count every request from many goroutines, including
// the first requests of an operation made at once, under the right class;
// series no request used stay absent.
func TestRequestSeriesCached(t *testing.T) {
	m := New()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				m.Request(fmt.Sprintf("Op%d", i%3), 200, 1, 2, time.Millisecond)
				if g == 0 && i == 0 {
					m.Request("Odd", 99, 0, 0, 0)
					m.Request("Odd", 600, 0, 0, 0)
					m.Request("Odd", 503, 0, 0, 0)
					m.Aborted("Odd", 0, 7, 0)
				}
			}
		}()
	}
	wg.Wait()
	text := scrape(t, m)
	for _, want := range []string{
		`mirrorstore_requests_total{operation="Op0",status_class="2xx"} 272`,
		`mirrorstore_requests_total{operation="Op1",status_class="2xx"} 264`,
		`mirrorstore_requests_total{operation="Op2",status_class="2xx"} 264`,
		`mirrorstore_bytes_received_total{operation="Op0"} 272`,
		`mirrorstore_bytes_sent_total{operation="Op1"} 528`,
		`mirrorstore_request_duration_seconds_count{operation="Op2"} 264`,
		`mirrorstore_requests_total{operation="Odd",status_class="other"} 2`,
		`mirrorstore_requests_total{operation="Odd",status_class="5xx"} 1`,
		`mirrorstore_requests_total{operation="Odd",status_class="aborted"} 1`,
		`mirrorstore_bytes_sent_total{operation="Odd"} 7`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("missing %s", want)
		}
	}
	for _, absent := range []string{
		`mirrorstore_requests_total{operation="Op0",status_class="4xx"}`,
		`mirrorstore_bytes_received_total{operation="Odd"}`,
	} {
		if strings.Contains(text, absent) {
			t.Errorf("unexpected series %s", absent)
		}
	}
}
