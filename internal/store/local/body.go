package local

import (
	"bytes"
	"errors"
	"io"
	"os"
	"sync"
)

// fileBody yields a span of one data file. Its WriteTo copies through an
// *io.LimitedReader over the *os.File, the shape net/http's ReadFrom (and
// net.TCPConn's) recognises to send the bytes with sendfile(2), so serving a
// GET does not copy through user space when the response is a plain TCP
// connection. The file was seeked to the span's start when opened.
type fileBody struct {
	f  *os.File
	lr io.LimitedReader
}

func openSpan(path string, offset, length int64) (*fileBody, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if offset > 0 {
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
	}
	b := &fileBody{f: f}
	b.lr = io.LimitedReader{R: f, N: length}
	return b, nil
}

func (b *fileBody) Read(p []byte) (int, error) { return b.lr.Read(p) }

// WriteTo writes the rest of the span to w (see fileBody).
func (b *fileBody) WriteTo(w io.Writer) (int64, error) { return io.Copy(w, &b.lr) }

func (b *fileBody) Close() error { return b.f.Close() }

// multiBody yields a span that crosses several part files. Every file was
// opened when the object was, so a concurrent replace that unlinks them
// cannot break a read in progress.
type multiBody struct {
	spans []*fileBody
	cur   int
}

func (m *multiBody) Read(p []byte) (int, error) {
	for m.cur < len(m.spans) {
		n, err := m.spans[m.cur].Read(p)
		if err == io.EOF {
			m.cur++
			err = nil
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
	return 0, io.EOF
}

// WriteTo writes each remaining span in turn, each through fileBody.WriteTo.
func (m *multiBody) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for ; m.cur < len(m.spans); m.cur++ {
		n, err := m.spans[m.cur].WriteTo(w)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (m *multiBody) Close() error {
	var errs []error
	for _, s := range m.spans {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// inlineBody yields a span of an object stored in its record. When buf is
// set the bytes live in a pooled buffer, which Close returns to the pool:
// after Close the body reads as empty, never as another object's bytes.
type inlineBody struct {
	r   bytes.Reader
	buf *[]byte
}

// newInlineBody serves [offset, offset+length) of the pooled buffer buf,
// which the body now owns.
func newInlineBody(buf *[]byte, offset, length int64) *inlineBody {
	b := &inlineBody{buf: buf}
	b.r.Reset((*buf)[offset : offset+length])
	return b
}

func (b *inlineBody) Read(p []byte) (int, error) { return b.r.Read(p) }

// WriteTo writes the rest of the span in one Write, so a small answer
// reaches the connection's buffer whole.
func (b *inlineBody) WriteTo(w io.Writer) (int64, error) { return b.r.WriteTo(w) }

// Close is idempotent.
func (b *inlineBody) Close() error {
	if b.buf != nil {
		b.r.Reset(nil)
		putInlineBuf(b.buf)
		b.buf = nil
	}
	return nil
}

// inlineBufs recycles the buffers GetObject copies inline bodies into:
// a 4 KiB allocation per small GET was most of the server's garbage.
var inlineBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, DefaultInlineMax)
	return &b
}}

// getInlineBuf returns an empty buffer of capacity n or more.
func getInlineBuf(n int) *[]byte {
	if n > DefaultInlineMax {
		// Only an engine opened with a larger InlineMax stores these;
		// the pool holds default-sized buffers alone.
		b := make([]byte, 0, n)
		return &b
	}
	return inlineBufs.Get().(*[]byte)
}

func putInlineBuf(b *[]byte) {
	if cap(*b) == DefaultInlineMax {
		*b = (*b)[:0]
		inlineBufs.Put(b)
	}
}
