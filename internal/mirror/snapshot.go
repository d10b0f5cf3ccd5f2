package mirror

import (
	"sort"
	"time"
)

// FillStatus describes one fill in flight, for an operator's status page.
type FillStatus struct {
	Bucket, Key string
	// URL is the origin URL that answered, or the primary one while the
	// fill still waits for headers.
	URL string
	// Started is when the fill began.
	Started time.Time
	// Bytes is how much of the body has arrived so far.
	Bytes int64
	// Size is the origin's Content-Length, -1 when unknown or not yet known.
	Size int64
}

// Snapshot lists the fills in flight, oldest first. It only reads: the
// fills go on untouched.
func (m *Manager) Snapshot() []FillStatus {
	m.mu.Lock()
	fills := make([]*fill, 0, len(m.fills))
	for _, f := range m.fills {
		fills = append(fills, f)
	}
	m.mu.Unlock()

	out := make([]FillStatus, 0, len(fills))
	for _, f := range fills {
		st := FillStatus{Bucket: f.key.bucket, Key: f.key.key, Started: f.started, Size: -1}
		if len(f.spec.URLs) > 0 {
			st.URL = f.spec.URLs[0]
		}
		select {
		case <-f.headers:
			// info is read-only once headers is closed.
			if f.headErr == nil {
				st.URL, st.Size = f.info.OriginURL, f.info.Size
			}
		default:
		}
		f.mu.Lock()
		st.Bytes = f.size
		f.mu.Unlock()
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out
}
