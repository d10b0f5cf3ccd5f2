package migrate

import (
	"fmt"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress reports a run's advance: a bar (objects, bytes, rate, ETA) on a
// terminal, a plain line every interval otherwise. Its goroutine reads the
// migration's counters; stop ends it and prints the last state.
type progress struct {
	m        *migration
	objects  int
	total    int64 // bytes, -1 unknown
	start    time.Time
	bar      *progressbar.ProgressBar
	done     chan struct{}
	wg       sync.WaitGroup
	stopOnce sync.Once
}

func startProgress(m *migration, objects int, total int64) *progress {
	p := &progress{m: m, objects: objects, total: total, start: time.Now(), done: make(chan struct{})}
	if m.cfg.Progress == nil {
		return p
	}
	tick := m.cfg.ProgressInterval
	if m.cfg.Terminal {
		max := total
		if max <= 0 {
			max = -1 // a spinner when the total is unknown
		}
		p.bar = progressbar.NewOptions64(max,
			progressbar.OptionSetWriter(m.cfg.Progress),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionShowCount(),
			progressbar.OptionUseIECUnits(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetWidth(30),
			progressbar.OptionSetDescription(p.objectsText()),
		)
		tick = 200 * time.Millisecond
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				p.report(true)
				return
			case <-t.C:
				p.report(false)
			}
		}
	}()
	return p
}

func (p *progress) objectsText() string {
	return fmt.Sprintf("%d/%d objects", p.m.doneObjects.Load(), p.objects)
}

func (p *progress) report(final bool) {
	bytes := p.m.doneBytes.Load()
	if p.bar != nil {
		p.bar.Describe(p.objectsText())
		p.bar.Set64(bytes)
		if final {
			p.bar.Exit()
			fmt.Fprintln(p.m.cfg.Progress)
		}
		return
	}
	el := time.Since(p.start)
	speed := float64(bytes) / max(el.Seconds(), 0.001)
	line := fmt.Sprintf("migrate: %s, %s, %s/s", p.objectsText(), formatBytes(bytes), formatBytes(int64(speed)))
	if p.total > 0 && bytes > 0 && bytes < p.total && speed > 0 {
		eta := time.Duration(float64(p.total-bytes) / speed * float64(time.Second))
		line += fmt.Sprintf(", %s of %s, eta %s", formatBytes(bytes), formatBytes(p.total), eta.Round(time.Second))
	}
	fmt.Fprintln(p.m.cfg.Progress, line)
}

func (p *progress) stop() {
	p.stopOnce.Do(func() { close(p.done) })
	p.wg.Wait()
}
