package migrate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"
)

// Checkpoint batching: completed keys are fsynced every syncEvery keys or
// syncInterval, whichever comes first, so a crash loses at most that much
// of the log (and those objects are then skipped as present in the bucket).
const (
	syncEvery    = 256
	syncInterval = time.Second
)

// stateHeader is the first line of a state file: the migration it belongs
// to, so a rerun with another source or bucket cannot trust it.
type stateHeader struct {
	Source string `json:"source"`
	Bucket string `json:"bucket"`
}

// checkpoint is the append-only log of completed keys, one JSON string a
// line. It is safe for concurrent use; Close must be called.
type checkpoint struct {
	done map[string]bool // read-only after open

	mu      sync.Mutex
	f       *os.File
	w       *bufio.Writer
	pending int
	err     error

	stop chan struct{}
	wg   sync.WaitGroup
}

// openCheckpoint loads the keys completed by earlier runs from path and
// opens it for appending. A torn last line (a crash mid-write) is ignored.
func openCheckpoint(path string, h stateHeader) (*checkpoint, error) {
	c := &checkpoint{done: map[string]bool{}, stop: make(chan struct{})}
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	lines := bytes.Split(data, []byte("\n"))
	if len(data) > 0 {
		var got stateHeader
		if err := json.Unmarshal(lines[0], &got); err != nil {
			return nil, fmt.Errorf("state file %s: not a migrate state file: %v", path, err)
		}
		if got != h {
			return nil, fmt.Errorf("state file %s belongs to a migration of %s into bucket %s, not of %s into %s; use another --state file",
				path, got.Source, got.Bucket, h.Source, h.Bucket)
		}
		for _, l := range lines[1:] {
			var k string
			if json.Unmarshal(l, &k) == nil {
				c.done[k] = true
			}
		}
	}
	c.f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	c.w = bufio.NewWriter(c.f)
	switch {
	case len(data) == 0:
		hb, _ := json.Marshal(h)
		c.w.Write(append(hb, '\n'))
		c.pending++
	case data[len(data)-1] != '\n':
		c.w.WriteByte('\n') // end the torn line so the next key starts clean
	}
	c.wg.Add(1)
	go c.syncLoop()
	return c, nil
}

// Done reports whether an earlier run completed key.
func (c *checkpoint) Done(key string) bool { return c.done[key] }

// Add appends key to the log; it is durable after the next batch sync.
func (c *checkpoint) Add(key string) {
	b, _ := json.Marshal(key)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.w.Write(append(b, '\n'))
	c.pending++
	if c.pending >= syncEvery {
		c.syncLocked()
	}
}

func (c *checkpoint) syncLocked() {
	if c.pending == 0 {
		return
	}
	c.pending = 0
	if err := c.w.Flush(); err != nil && c.err == nil {
		c.err = err
	}
	if err := c.f.Sync(); err != nil && c.err == nil {
		c.err = err
	}
}

func (c *checkpoint) syncLoop() {
	defer c.wg.Done()
	t := time.NewTicker(syncInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.mu.Lock()
			c.syncLocked()
			c.mu.Unlock()
		}
	}
}

// Close syncs what is left and closes the file, returning the first
// write or sync error of the log's life.
func (c *checkpoint) Close() error {
	close(c.stop)
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending++ // force a final flush and sync
	c.syncLocked()
	if err := c.f.Close(); err != nil && c.err == nil {
		c.err = err
	}
	return c.err
}
