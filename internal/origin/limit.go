package origin

import (
	"context"
	"fmt"
	"time"
)

// hostSlots is the per-host semaphore; users counts holders and waiters, so
// the entry is dropped when nobody needs it and the map stays as small as the
// set of hosts being fetched from.
type hostSlots struct {
	slots chan struct{}
	users int
}

// acquire takes a slot for host, waiting up to the header timeout. It returns
// the function that gives the slot back (call it once), or ErrSlowDown.
func (c *Client) acquire(ctx context.Context, host string) (release func(), err error) {
	c.mu.Lock()
	h := c.hosts[host]
	if h == nil {
		h = &hostSlots{slots: make(chan struct{}, c.cfg.PerHostLimit)}
		c.hosts[host] = h
	}
	h.users++
	c.mu.Unlock()

	leave := func() {
		c.mu.Lock()
		h.users--
		if h.users == 0 {
			delete(c.hosts, host)
		}
		c.mu.Unlock()
	}
	select {
	case h.slots <- struct{}{}:
		return func() { <-h.slots; leave() }, nil
	default:
	}
	timer := time.NewTimer(c.cfg.HeaderTimeout)
	defer timer.Stop()
	select {
	case h.slots <- struct{}{}:
		return func() { <-h.slots; leave() }, nil
	case <-timer.C:
		leave()
		return nil, fmt.Errorf("%s: %d requests in flight: %w", host, c.cfg.PerHostLimit, ErrSlowDown)
	case <-ctx.Done():
		leave()
		return nil, ctx.Err()
	}
}
