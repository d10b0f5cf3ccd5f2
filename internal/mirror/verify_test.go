package mirror

import (
	"bytes"
	"context"
	"io"
	"testing"

	"mirrorstore/internal/origin"
	"mirrorstore/internal/store"
)

// TestVerifyHoldsLastByte: with MirrorCheckMd5 and an origin Content-MD5, no
// reader gets the last byte of its window (the whole body, or its range)
// before the sum matched, so a client never holds a complete answer of a
// body that then fails the check (SPEC §7 "Whole or nothing"); once it
// matched, every reader gets every byte.
func TestVerifyHoldsLastByte(t *testing.T) {
	body := pattern(1 << 20)
	windows := []struct {
		name      string
		off, n    int64 // n < 0: no range
		wantBytes int64 // on a bad MD5, the most a reader gets before its error
	}{
		{"whole body", 0, -1, int64(len(body)) - 1},
		{"range to the end", 1000, int64(len(body)) - 1000, int64(len(body)) - 1000 - 1},
		{"range in the middle", 1000, 5000, 4999},
	}
	for _, good := range []bool{false, true} {
		for _, w := range windows {
			name := map[bool]string{false: "bad MD5/", true: "good MD5/"}[good] + w.name
			t.Run(name, func(t *testing.T) {
				o := newOrigin(t)
				sum := md5b64([]byte("other"))
				if good {
					sum = md5b64(body)
				}
				f := newFixture(t, origin.Config{}, false, 0)
				s := spec(o.handle("/obj", serve(body, "Content-MD5", sum)))
				s.CheckMD5 = true
				r, err := f.m.Open(context.Background(), s)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				want := body
				if w.n >= 0 {
					if _, err := r.Seek(w.off, io.SeekStart); err != nil {
						t.Fatal(err)
					}
					r.Limit(w.n)
					want = body[w.off : w.off+w.n]
				}
				var got bytes.Buffer
				_, err = io.Copy(&got, r)
				if good {
					if err != nil || !bytes.Equal(got.Bytes(), want) {
						t.Fatalf("%d bytes, %v; want all %d", got.Len(), err, len(want))
					}
					return
				}
				wantFailed(t, err, MsgMD5Mismatch)
				// The error may come before the reader caught up with
				// the copy; it never comes after the window's last byte.
				if int64(got.Len()) > w.wantBytes {
					t.Fatalf("got %d bytes before the error, want at most %d (all but the window's last)", got.Len(), w.wantBytes)
				}
			})
		}
	}
}

// gatedAdopter holds every AdoptFile until gate is closed.
type gatedAdopter struct {
	adoptingStore
	gate chan struct{}
}

func (s gatedAdopter) AdoptFile(ctx context.Context, bucket, key, path string, size int64, md5 []byte, opts store.PutOptions) (store.ObjectInfo, error) {
	<-s.gate
	return s.adoptingStore.AdoptFile(ctx, bucket, key, path, size, md5, opts)
}

// TestReaderEndsBeforeCommit: without an MD5 to check, a body that ended at
// its announced length is whole, and readers end there: their io.EOF does
// not wait for the MD5 the store needs, nor for the commit.
func TestReaderEndsBeforeCommit(t *testing.T) {
	body := pattern(4 << 20)
	o := newOrigin(t)
	ts := newTestStore(t)
	st := gatedAdopter{adoptingStore{ts}, make(chan struct{})}
	rec := newRecorder()
	m := newManager(t, origin.Config{AllowPrivate: true}, Config{Store: st, StagingDir: st.AdoptDir(), Metrics: rec})
	opened := false
	defer func() {
		if !opened {
			close(st.gate)
		}
	}()

	r, err := m.Open(context.Background(), spec(o.handle("/obj", serve(body))))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
	if _, _, ok := ts.get("b", "k"); ok {
		t.Fatal("stored before the commit was let through")
	}
	opened = true
	close(st.gate)
	if res := rec.waitEnd(t); res != ResultStored {
		t.Fatalf("result = %s", res)
	}
	if data, _, _ := ts.get("b", "k"); !bytes.Equal(data, body) {
		t.Fatal("stored body differs")
	}
}
