package mirror

import (
	"context"
	"io"
	"testing"

	"mirrorstore/internal/origin"
)

func TestSnapshot(t *testing.T) {
	o := newOrigin(t)
	f := newFixture(t, origin.Config{}, false, 0)
	body := pattern(100 << 10)
	gate := make(chan struct{})
	url := o.handle("/big", o.gated(body, 1000, gate))

	if got := f.m.Snapshot(); len(got) != 0 {
		t.Fatalf("idle manager: %+v", got)
	}
	rd, err := f.m.Open(context.Background(), spec(url))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	if _, err := io.ReadFull(rd, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	snap := f.m.Snapshot()
	if len(snap) != 1 {
		t.Fatalf("snapshot: %+v", snap)
	}
	s := snap[0]
	if s.Bucket != "b" || s.Key != "k" || s.URL != url || s.Size != int64(len(body)) || s.Bytes < 1000 || s.Started.IsZero() {
		t.Fatalf("fill status: %+v", s)
	}

	close(gate)
	if _, err := io.Copy(io.Discard, rd); err != nil {
		t.Fatal(err)
	}
	if res := f.rec.waitEnd(t); res != ResultStored {
		t.Fatalf("result %s", res)
	}
	if got := f.m.Snapshot(); len(got) != 0 {
		t.Fatalf("after the fill: %+v", got)
	}
}
