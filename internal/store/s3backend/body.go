package s3backend

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"mirrorstore/internal/store"
)

// idleBody is a backend object's body that gives up when one read waits
// longer than timeout: a cluster that stalls mid-object then ends the read
// with an error (the client's connection is cut, as for any broken body)
// instead of holding the client forever. A slow reader costs nothing: the
// clock runs only while a Read waits on the cluster. The timer cancels the
// request's context, which is what interrupts a read in progress; Close
// cancels it too, as the context must live exactly as long as the body.
type idleBody struct {
	rc      io.ReadCloser
	timeout time.Duration
	timer   *time.Timer
	cancel  context.CancelFunc
	fired   atomic.Bool
}

func newIdleBody(rc io.ReadCloser, timeout time.Duration, cancel context.CancelFunc) *idleBody {
	b := &idleBody{rc: rc, timeout: timeout, cancel: cancel}
	b.timer = time.AfterFunc(timeout, func() {
		b.fired.Store(true)
		cancel()
	})
	b.timer.Stop()
	return b
}

func (b *idleBody) Read(p []byte) (int, error) {
	b.timer.Reset(b.timeout)
	n, err := b.rc.Read(p)
	b.timer.Stop()
	if err != nil && err != io.EOF && b.fired.Load() {
		err = fmt.Errorf("%w: the backend sent no bytes for %s", store.ErrUnavailable, b.timeout)
	}
	return n, err
}

// WriteTo copies the body out in copyBufSize pieces: io.Copy's 32 KiB
// would cost a read and a write system call per 32 KiB on each side of
// the node, 2,048 of each for a 64 MiB object.
func (b *idleBody) WriteTo(w io.Writer) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	// Both wrapped, so that CopyBuffer uses the buffer instead of calling
	// back into WriteTo or the writer's ReadFrom.
	return io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{b}, *bp)
}

// copyBufSize is the buffer of a body copied through the node.
const copyBufSize = 256 << 10

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

func (b *idleBody) Close() error {
	b.timer.Stop()
	err := b.rc.Close()
	b.cancel()
	return err
}

// verifier passes a body through to the backend while counting and (unless
// noHash) hashing it. With holdBack it keeps the body's last byte until the source has
// ended cleanly at the declared size and with the expected MD5: the backend
// then never receives a whole body that should have been refused, so a
// failed check (or a vetoing reader) cuts the request short and the backend
// stores nothing.
type verifier struct {
	src      io.Reader
	size     int64 // declared length, -1 when unknown
	want     []byte
	holdBack bool

	h       hash.Hash // nil when not hashing
	n       int64
	held    byte
	hasHeld bool
	done    bool
	// err is the first failure: the source's own error or a store
	// sentinel. The caller reports it rather than whatever the HTTP
	// client made of the cut request.
	err error
}

func newVerifier(src io.Reader, size int64, contentMD5 []byte, holdBack bool) *verifier {
	return &verifier{src: src, size: size, want: contentMD5, holdBack: holdBack, h: md5.New()}
}

func (v *verifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if v.done {
		if v.hasHeld && len(p) > 0 {
			p[0], v.hasHeld = v.held, false
			return 1, nil
		}
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var err error
	switch {
	case !v.holdBack:
		n, err = v.src.Read(p)
		v.account(p[:n])
	case !v.hasHeld:
		n, err = v.src.Read(p)
		v.account(p[:n])
		if n > 0 {
			n--
			v.held, v.hasHeld = p[n], true
		}
	case len(p) == 1:
		var one [1]byte
		var m int
		m, err = v.src.Read(one[:])
		v.account(one[:m])
		if m == 1 {
			p[0], v.held, n = v.held, one[0], 1
		}
	default:
		// Read in after the held byte's place: it goes out first and
		// the last byte read is held instead, so nothing is moved.
		var m int
		m, err = v.src.Read(p[1:])
		v.account(p[1 : 1+m])
		if m > 0 {
			p[0], v.held, n = v.held, p[m], m
		}
	}
	if v.size >= 0 && v.n > v.size {
		// None of this read's bytes pass: with the held byte they would
		// make up the whole declared length, and a backend that has the
		// declared length has a complete request to store, however the
		// connection is cut after it.
		v.err = fmt.Errorf("body longer than its declared %d bytes: %w", v.size, store.ErrIncompleteBody)
		return 0, v.err
	}
	switch err {
	case nil:
		return n, nil
	case io.EOF:
		if ferr := v.finish(); ferr != nil {
			v.err = ferr
			return n, ferr
		}
		v.done = true
		if n == 0 {
			return v.Read(p)
		}
		return n, nil
	default:
		v.err = err
		return n, err
	}
}

// noHash stops the verifier hashing a body it need not check: a PUT with
// no Content-MD5 takes the backend's ETag, which is the MD5 of what the
// backend received, and hashing 64 MiB again here costs as much CPU as the
// backend's own MD5.
func (v *verifier) noHash() { v.h = nil }

func (v *verifier) account(p []byte) {
	if v.h != nil {
		v.h.Write(p)
	}
	v.n += int64(len(p))
}

// finish checks the whole body once the source has ended.
func (v *verifier) finish() error {
	if v.size >= 0 && v.n != v.size {
		return fmt.Errorf("body of %d bytes, declared %d: %w", v.n, v.size, store.ErrIncompleteBody)
	}
	if v.want != nil && !bytes.Equal(v.h.Sum(nil), v.want) {
		return fmt.Errorf("body MD5 %x, Content-MD5 %x: %w", v.h.Sum(nil), v.want, store.ErrBadDigest)
	}
	return nil
}

// sum is the hex MD5 of the bytes read so far.
func (v *verifier) sum() string { return hex.EncodeToString(v.h.Sum(nil)) }
