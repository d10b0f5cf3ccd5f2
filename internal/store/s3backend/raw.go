package s3backend

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"mirrorstore/internal/store"
)

// Over a plain-http backend the lean path's requests go over TCP
// connections of its own instead of the http.Client's: the Transport
// reads every body through its own buffers, so a 64 MiB GET crosses the
// node in user space twice (backend socket to buffer, buffer to client
// socket). Here the answer's headers are parsed with http.ReadResponse
// and the body is handed to the client connection's ReadFrom as an
// io.LimitedReader of the backend connection, which net/http turns into
// splice(2): the bytes go from socket to socket in the kernel. A
// connection goes back to the pool only when its answer was read exactly
// to its end; anything else closes it, so a body cut short is never
// mistaken for a whole one. TLS backends keep the http.Client.

// rawConns is the pool of connections to one plain-http backend.
type rawConns struct {
	addr    string
	dialer  *net.Dialer
	timeout time.Duration

	mu   sync.Mutex
	idle []rawConn
	// dials counts new connections (tests check reuse with it).
	dials atomic.Int64
}

// rawConn is a connection and the reader its answers are parsed from
// (which may hold bytes read past an answer's headers).
type rawConn struct {
	c  *net.TCPConn
	br *bufio.Reader
}

// rawMaxIdle bounds the idle connections kept, as the Transport's
// MaxIdleConnsPerHost does.
const rawMaxIdle = 64

// rawChunk is how much of a body one spliced ReadFrom moves under one read
// deadline: a backend that stalls is noticed within the timeout plus the
// time this much takes to arrive.
const rawChunk = 4 << 20

// aLongTimeAgo is a deadline that interrupts any blocked read or write.
var aLongTimeAgo = time.Unix(1, 0)

func newRawConns(host string, timeout time.Duration) *rawConns {
	return &rawConns{
		addr:    host,
		dialer:  &net.Dialer{Timeout: min(timeout, 5*time.Second), KeepAlive: 30 * time.Second},
		timeout: timeout,
	}
}

// get returns an idle connection the backend has not closed (reused
// true), or a new one when fresh or when there is none.
func (p *rawConns) get(ctx context.Context, fresh bool) (rawConn, bool, error) {
	for !fresh {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			break
		}
		rc := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if open(rc.c) {
			return rc, true, nil
		}
		rc.c.Close()
	}
	p.dials.Add(1)
	c, err := p.dialer.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return rawConn{}, false, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		c.Close()
		return rawConn{}, false, fmt.Errorf("backend connection is a %T, not TCP", c)
	}
	return rawConn{c: tc, br: bufio.NewReaderSize(tc, 16<<10)}, false, nil
}

// open reports whether an idle connection is still open: nothing to read
// yet, without waiting. A backend that closed it (its idle timeout) has
// sent an end of stream, which would fail the next request sent on it.
func open(c *net.TCPConn) bool {
	sc, err := c.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	err = sc.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = rerr == syscall.EAGAIN
		return true
	})
	return err == nil && alive
}

// put keeps a connection whose last answer was read exactly to its end.
func (p *rawConns) put(rc rawConn) {
	if rc.br.Buffered() > 0 || rc.c.SetDeadline(time.Time{}) != nil {
		rc.c.Close()
		return
	}
	p.mu.Lock()
	if len(p.idle) < rawMaxIdle {
		p.idle = append(p.idle, rc)
		rc = rawConn{}
	}
	p.mu.Unlock()
	if rc.c != nil {
		rc.c.Close()
	}
}

// idleCount is the number of idle connections.
func (p *rawConns) idleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// closeIdle closes every idle connection.
func (p *rawConns) closeIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, rc := range idle {
		rc.c.Close()
	}
}

// do sends req (a signed GET or HEAD without a body) and reads the
// answer's headers, within the timeout. A connection from the pool that
// fails before any answer (the backend closed it while idle) is replaced
// by a new one once. A 2xx GET's Body is a *rawBody the caller must close;
// any other answer's body is read here and the connection released.
func (p *rawConns) do(ctx context.Context, req *http.Request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		rc, reused, err := p.get(ctx, attempt > 0)
		if err != nil {
			return nil, err
		}
		resp, err := p.roundTrip(ctx, rc, req)
		if err == nil {
			return resp, nil
		}
		rc.c.Close()
		if !reused || attempt > 0 || ctx.Err() != nil || isTimeout(err) {
			return nil, err
		}
	}
}

func (p *rawConns) roundTrip(ctx context.Context, rc rawConn, req *http.Request) (*http.Response, error) {
	// A cancelled request interrupts whatever is blocked on the
	// connection; stop tells whether that happened.
	stop := context.AfterFunc(ctx, func() { rc.c.SetDeadline(aLongTimeAgo) })
	rc.c.SetDeadline(time.Now().Add(p.timeout))
	var head bytes.Buffer
	if err := req.Write(&head); err != nil {
		stop()
		return nil, err
	}
	if _, err := rc.c.Write(head.Bytes()); err != nil {
		stop()
		return nil, ctxErr(ctx, err)
	}
	resp, err := http.ReadResponse(rc.br, req)
	if err != nil {
		stop()
		return nil, ctxErr(ctx, err)
	}
	reusable := !resp.Close
	if req.Method == http.MethodGet && resp.StatusCode >= 200 && resp.StatusCode < 300 && resp.ContentLength >= 0 && len(resp.TransferEncoding) == 0 {
		resp.Body = &rawBody{p: p, rc: rc, remaining: resp.ContentLength, reusable: reusable, stop: stop, ctx: ctx, cancel: func() {}}
		return resp, nil
	}
	// A HEAD, an error, or a body of unknown length: read it whole here
	// (error bodies are small; MinIO sends every object GET with a
	// Content-Length).
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err == nil {
		var one [1]byte
		if n, _ := resp.Body.Read(one[:]); n > 0 {
			err = errors.New("backend answer body over 1 MiB")
		}
	}
	resp.Body.Close()
	if !stop() || err != nil || !reusable {
		rc.c.Close()
	} else {
		p.put(rc)
	}
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	return resp, nil
}

// ctxErr is the context's error when it ended the request, err otherwise.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// rawBody is a GET's body read straight from its backend connection, with
// the idle timeout of idleBody (each read that waits on the backend must
// get bytes within it) and cancellation by the request's context.
type rawBody struct {
	p         *rawConns
	rc        rawConn
	remaining int64
	reusable  bool
	// stop detaches the context's interruption; false when it has
	// already fired.
	stop   func() bool
	ctx    context.Context
	cancel context.CancelFunc
	err    error
	closed bool
}

func (b *rawBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.remaining == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	var n int
	var err error
	if b.rc.br.Buffered() > 0 {
		n, err = b.rc.br.Read(p)
	} else {
		b.rc.c.SetReadDeadline(time.Now().Add(b.p.timeout))
		n, err = b.rc.c.Read(p)
	}
	b.remaining -= int64(n)
	if err == io.EOF && b.remaining > 0 {
		err = io.ErrUnexpectedEOF
	}
	if err != nil && err != io.EOF {
		return n, b.fail(err)
	}
	return n, nil
}

// WriteTo sends what the header read buffered, then the rest through w's
// ReadFrom as an io.LimitedReader of the connection (splice(2) when w is
// a plain TCP client's response), in rawChunk pieces each under a fresh
// read deadline. A piece that timed out after moving bytes goes on: only a
// backend that sends nothing for the whole timeout fails the body.
func (b *rawBody) WriteTo(w io.Writer) (int64, error) {
	var total int64
	if b.err != nil {
		return 0, b.err
	}
	if n := min(int64(b.rc.br.Buffered()), b.remaining); n > 0 {
		buf, _ := b.rc.br.Peek(int(n))
		m, err := w.Write(buf)
		b.rc.br.Discard(m)
		b.remaining -= int64(m)
		total += int64(m)
		if err != nil {
			return total, b.fail(err)
		}
	}
	rf, ok := w.(io.ReaderFrom)
	if !ok {
		bp := copyBufs.Get().(*[]byte)
		defer copyBufs.Put(bp)
		n, err := io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{b}, *bp)
		return total + n, err
	}
	for b.remaining > 0 {
		chunk := min(b.remaining, rawChunk)
		b.rc.c.SetReadDeadline(time.Now().Add(b.p.timeout))
		n, err := rf.ReadFrom(&io.LimitedReader{R: b.rc.c, N: chunk})
		b.remaining -= n
		total += n
		switch {
		case err != nil && isTimeout(err) && n > 0 && b.ctx.Err() == nil:
			continue
		case err != nil:
			return total, b.fail(err)
		case n < chunk:
			return total, b.fail(io.ErrUnexpectedEOF)
		}
	}
	return total, nil
}

// fail makes err the body's sticky error, in the store's terms when the
// backend stalled.
func (b *rawBody) fail(err error) error {
	switch {
	case b.ctx.Err() != nil:
		err = b.ctx.Err()
	case isTimeout(err):
		err = fmt.Errorf("%w: the backend sent no bytes for %s", store.ErrUnavailable, b.p.timeout)
	}
	b.err = err
	return err
}

// Close releases the connection: back to the pool when the body was read
// exactly to its end, closed otherwise.
func (b *rawBody) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	if b.stop() && b.remaining == 0 && b.err == nil && b.reusable {
		b.p.put(b.rc)
	} else {
		b.rc.c.Close()
	}
	b.cancel()
	return nil
}
