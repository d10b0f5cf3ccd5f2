package mirror

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"mirrorstore/internal/origin"
	"mirrorstore/internal/store"
)

// copyBuf is the size of each read from the origin and write to staging.
const copyBuf = 256 << 10

// hashLag is how far the MD5 may fall behind the copy before it stops until
// the copy has ended. On a slow origin it keeps pace and the sum is ready
// when the body ends; on a fast one it would take the CPU the copy and the
// readers' sendfile need, so it waits and then reads the staging file back
// from the page cache, off the clients' path.
const hashLag = 16 << 20

// smallFill is the largest announced body a fill keeps in memory instead of
// a staging file: the engine stores objects this small inside their record
// (store/local's DefaultInlineMax), so a file would be created, written and
// removed for nothing.
const smallFill = 4 << 10

// Info describes the object a fill is streaming: what the client's 200 says.
type Info struct {
	// Attrs are the kept origin headers; Attrs.MirrorOrigin is OriginURL.
	Attrs store.ObjectAttrs
	// Size is the origin's Content-Length, -1 when it sent none (the
	// answer is then chunked).
	Size int64
	// LastModified is the fill's start, or the origin's Last-Modified with
	// Spec.UseOriginLastModified (the fill's start when the origin sent
	// none or an unparsable one).
	LastModified time.Time
	// OriginURL is the Spec URL that answered (primary or secondary), for
	// x-oss-tag.
	OriginURL string
}

// fill is one origin fetch and everything that reads it.
type fill struct {
	m       *Manager
	key     fillKey
	spec    Spec
	started time.Time
	// recheck: a fill of this key committed lately, so the store is
	// checked before the origin is asked (see fromStore).
	recheck bool
	// fromStored: the body comes from the store, not an origin.
	fromStored bool
	// verify: the body counts as whole only once its MD5 matched the
	// origin's Content-MD5 (Spec.CheckMD5), so until done readers are
	// kept from the last byte of the body (and of their range): a client
	// that has every announced byte has its body, whatever follows. Set
	// before the headers are published; read-only afterwards.
	verify bool

	// headers is closed once info or headErr is set; both are read-only
	// afterwards.
	headers chan struct{}
	info    Info
	headErr error

	mu   sync.Mutex
	file *os.File // nil until the headers are in; closed when refs drop to 0
	path string   // file's name; "" once the store adopted it
	// mem replaces file for a small body of announced length: the bytes
	// below size never change once published, so readers copy them
	// without the lock. Its capacity is one byte past the length, to
	// notice a longer body.
	mem      []byte
	size     int64         // bytes written
	copied   bool          // the origin's body ended at its length; the MD5 may be pending
	done     bool          // the body is whole, and verified when verify: readers may end
	err      error         // the fill aborted: every Read fails with it
	progress chan struct{} // closed and replaced whenever size, done or err change
	refs     int           // the fill goroutine, readers, and Opens waiting
}

func newFill(m *Manager, k fillKey, spec Spec, recheck bool) *fill {
	return &fill{
		m:        m,
		key:      k,
		spec:     spec,
		recheck:  recheck,
		started:  time.Now(),
		headers:  make(chan struct{}),
		progress: make(chan struct{}),
		refs:     2,
	}
}

func (f *fill) retain() {
	f.mu.Lock()
	f.refs++
	f.mu.Unlock()
}

// release drops a reference; the last one closes the staging file (already
// unlinked by then, so the bytes go with it).
func (f *fill) release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refs--
	if f.refs == 0 && f.file != nil {
		f.file.Close()
		f.file = nil
	}
}

// failed reports whether the fill has aborted.
func (f *fill) failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err != nil
}

// signal wakes every waiting reader; f.mu must be held.
func (f *fill) signal() {
	close(f.progress)
	f.progress = make(chan struct{})
}

// run is the fill's goroutine: fetch, stream to staging, commit, clean up.
func (f *fill) run(ctx context.Context) {
	defer f.m.wg.Done()
	result := f.work(ctx)

	f.m.mu.Lock()
	if f.m.fills[f.key] == f {
		// Not when an Open already replaced this failed fill with a new
		// one.
		delete(f.m.fills, f.key)
	}
	if result == ResultStored {
		f.m.remember(f.key)
	}
	f.m.mu.Unlock()

	f.mu.Lock()
	if !f.done && f.err == nil {
		// Only a fill that failed before its headers gets here, and it has
		// no readers; the verdict still guarantees no Read can wait forever.
		f.err = failed(MsgReadFailed, errors.New("fill ended before its body"))
		f.signal()
	}
	if f.path != "" {
		// Readers still hold the open file; the name goes now.
		_ = os.Remove(f.path)
	}
	f.mu.Unlock()
	f.release()
	f.m.metrics.FillsInFlight(-1)
	f.m.metrics.FillResult(result)
}

// work does the fill and returns its result for the metrics.
func (f *fill) work(ctx context.Context) Result {
	if f.recheck {
		if res, ok := f.fromStore(ctx); ok {
			return res
		}
	}
	resp, url, err := f.fetch(ctx)
	if err == nil {
		var info Info
		if info, err = f.prepare(resp, url); err == nil {
			return f.stream(ctx, resp, info)
		}
		resp.Body.Close()
	}
	f.publish(Info{}, err)
	if url == "" && len(f.spec.URLs) > 0 {
		// Every failure but SlowDown comes from the last origin asked.
		url = f.spec.URLs[len(f.spec.URLs)-1]
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return ResultOrigin404
	case errors.Is(err, origin.ErrRefusedAddress):
		f.m.log.Warn("mirror origin refused: internal address", "bucket", f.key.bucket, "key", f.key.key, "url", url, "err", err)
		return ResultRefused
	}
	var fe *FailedError
	if errors.As(err, &fe) {
		f.m.log.Info("mirror fill failed", "bucket", f.key.bucket, "key", f.key.key, "url", url, "err", err)
	}
	return ResultFailed
}

func (f *fill) publish(info Info, err error) {
	f.info, f.headErr = info, err
	close(f.headers)
}

// fetch asks the origins in turn and returns the 200 answer and the Spec URL
// that gave it, or the error Open returns.
func (f *fill) fetch(ctx context.Context) (*origin.Response, string, error) {
	var resp *origin.Response
	var url string
	for i, u := range f.spec.URLs {
		last := i == len(f.spec.URLs)-1
		r, err := f.m.cfg.Origin.Get(ctx, origin.Request{
			URL:             u,
			Header:          f.spec.Header,
			SNI:             f.spec.SNI,
			FollowRedirects: f.spec.FollowRedirect,
		})
		if err != nil {
			if errors.Is(err, origin.ErrSlowDown) {
				// Our own limit, not the origin's failure: no failover.
				return nil, "", err
			}
			if ctx.Err() != nil {
				return nil, "", failed(MsgConnectFailed, err)
			}
			if last {
				return nil, "", fetchFailed(err)
			}
			f.m.log.Info("mirror origin failed, trying the secondary", "url", u, "err", err)
			continue
		}
		if !last && f.failover(r.StatusCode) {
			f.m.log.Info("mirror origin failed, trying the secondary", "url", u, "status", r.StatusCode)
			discard(r.Body)
			continue
		}
		resp, url = r, u
		break
	}
	f.m.metrics.TimeToFirstByte(time.Since(f.started))
	return f.judge(resp, url)
}

// failover reports whether an answer sends the fill to the next origin.
func (f *fill) failover(code int) bool {
	if code >= 500 {
		return true
	}
	if !f.spec.SwitchAllErrors {
		return false
	}
	switch code {
	case 200, 206, 301, 302, 303, 307, 404:
		return false
	}
	return true
}

// judge turns the last origin's answer into the fill's start or Open's error.
func (f *fill) judge(r *origin.Response, url string) (*origin.Response, string, error) {
	code := r.StatusCode
	switch {
	case slices.Contains(f.spec.TransparentCodes, code):
		// Listed codes win, 404 included: the rule asked for the origin's
		// own answer.
		body, _ := io.ReadAll(io.LimitReader(r.Body, MaxTransparentBody))
		r.Body.Close()
		h := http.Header{}
		if ct := r.Header.Get("Content-Type"); ct != "" {
			h.Set("Content-Type", ct)
		}
		return nil, "", &TransparentError{StatusCode: code, Header: h, Body: body}
	case code == http.StatusOK:
		return r, url, nil
	case code == http.StatusNotFound:
		discard(r.Body)
		return nil, "", ErrNotFound
	case code/100 == 3 && code != http.StatusNotModified && r.Location != "" && !f.spec.FollowRedirect:
		discard(r.Body)
		return nil, "", &RedirectError{StatusCode: code, Location: r.Location}
	}
	discard(r.Body)
	return nil, "", statusFailed(code)
}

// prepare checks a 200 answer's headers, builds the Info and creates the
// staging file.
func (f *fill) prepare(r *origin.Response, url string) (Info, error) {
	if r.ContentLength > f.m.cfg.MaxSize {
		return Info{}, failed(MsgTooLarge, nil)
	}
	kept, err := origin.Keep(r.Header, f.spec.SaveMeta)
	if err != nil {
		return Info{}, failed(MsgMetaTooLarge, err)
	}
	info := Info{
		Attrs: store.ObjectAttrs{
			ContentType:              kept.Header["Content-Type"],
			ContentEncoding:          kept.Header["Content-Encoding"],
			ContentDisposition:       kept.Header["Content-Disposition"],
			ContentLanguage:          kept.Header["Content-Language"],
			CacheControl:             kept.Header["Cache-Control"],
			Expires:                  kept.Header["Expires"],
			AccessControlAllowOrigin: kept.Header["Access-Control-Allow-Origin"],
			UserMeta:                 kept.Meta,
			MirrorOrigin:             url,
		},
		Size:         r.ContentLength,
		LastModified: f.started.UTC().Truncate(time.Second),
		OriginURL:    url,
	}
	if f.spec.UseOriginLastModified {
		if t, err := http.ParseTime(r.Header.Get("Last-Modified")); err == nil {
			info.LastModified = t.UTC()
		}
	}
	if err := f.stage(r.ContentLength); err != nil {
		return Info{}, err
	}
	return info, nil
}

// stage makes room for a body of the given length (-1 unknown): memory for
// a small one, else a new staging file.
func (f *fill) stage(size int64) error {
	if size >= 0 && size <= smallFill {
		f.mem = make([]byte, size+1)
		return nil
	}
	file, err := os.CreateTemp(f.m.cfg.StagingDir, stagingPattern)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.file, f.path = file, file.Name()
	f.mu.Unlock()
	return nil
}

// fromStore answers a fill from the store when the key is there: a fill of
// it committed between the HTTP layer's lookup (a miss) and Open, which
// would otherwise ask the origin a second time for a key just stored. The
// readers stream the stored object as they would the origin's body; nothing
// is committed. ok is false when the key is absent (or the store fails):
// the origin is asked as usual.
func (f *fill) fromStore(ctx context.Context) (Result, bool) {
	obj, err := f.m.cfg.Store.GetObject(ctx, f.key.bucket, f.key.key, store.GetOptions{})
	if err != nil {
		return "", false
	}
	defer obj.Body.Close()
	if err := f.stage(obj.Info.Size); err != nil {
		return "", false
	}
	f.fromStored = true
	f.publish(Info{
		Attrs:        obj.Info.Attrs,
		Size:         obj.Info.Size,
		LastModified: obj.Info.LastModified,
		OriginURL:    obj.Info.Attrs.MirrorOrigin,
	}, nil)
	err = f.copy(&origin.Response{StatusCode: http.StatusOK, ContentLength: obj.Info.Size, Body: obj.Body})
	f.mu.Lock()
	if err != nil {
		f.err = err
	} else {
		f.copied, f.done = true, true
	}
	f.signal()
	f.mu.Unlock()
	if err != nil {
		f.m.log.Error("mirror: reading a stored object for a fill failed", "bucket", f.key.bucket, "key", f.key.key, "err", err)
		return ResultFailed, true
	}
	// Served without an origin request, as if joining the fill that
	// stored it.
	return ResultCoalesced, true
}

// stream publishes the headers, copies the body to staging (or memory),
// commits it, and returns the fill's result.
//
// The commit takes one of three ways: a small body is put from memory once
// whole; a backend that adopts files takes the fsynced staging file by
// rename, with the MD5 the copy computed (no byte is written or hashed
// twice); any other backend reads the staging file as it grows, like a
// client.
func (f *fill) stream(ctx context.Context, r *origin.Response, info Info) Result {
	var wantMD5 string
	if f.spec.CheckMD5 {
		wantMD5 = r.Header.Get("Content-MD5")
	}
	f.verify = wantMD5 != ""
	f.publish(info, nil)
	opts := store.PutOptions{
		Attrs:        info.Attrs,
		Size:         info.Size,
		LastModified: info.LastModified,
		Conditions:   store.Conditions{IfNoneMatchStar: true},
	}
	var committed chan error
	if f.mem == nil && f.m.adopter == nil {
		commit := &Reader{Info: info, f: f, ctx: ctx}
		f.retain()
		committed = make(chan error, 1)
		go func() {
			defer commit.Close()
			_, err := f.m.cfg.Store.PutObject(ctx, f.key.bucket, f.key.key, commit, opts)
			committed <- err
		}()
	}

	// The MD5 is computed once, beside the copy: it costs more than the
	// copy itself, and in the copy's loop it would slow every reader to
	// its pace (see hashLag).
	var hashed chan hashResult
	ended := make(chan struct{}) // closed once the copy has ended, well or not
	if f.mem == nil && (f.m.adopter != nil || wantMD5 != "") {
		hashed = make(chan hashResult, 1)
		go func() {
			sum, err := f.hashStaging(ended)
			hashed <- hashResult{sum, err}
		}()
	}

	err := f.copy(r)
	r.Body.Close()
	f.mu.Lock()
	if err != nil {
		f.err = err
	} else {
		// Without a Content-MD5 to check, a body that ended at its length
		// is whole: readers end now, and only the commit waits for the
		// sum.
		f.copied, f.done = true, !f.verify
	}
	f.signal()
	f.mu.Unlock()
	close(ended)

	var sum []byte
	if hashed != nil {
		res := <-hashed // ends now that the copy did
		if err == nil {
			sum, err = res.sum, res.err
		}
	} else if err == nil && f.mem != nil && wantMD5 != "" {
		s := md5.Sum(f.mem[:f.size])
		sum = s[:]
	}
	if err == nil && wantMD5 != "" {
		if want, derr := base64.StdEncoding.DecodeString(wantMD5); derr != nil || !bytes.Equal(want, sum) {
			err = failed(MsgMD5Mismatch, derr)
		}
	}
	f.mu.Lock()
	if !f.done {
		if err != nil {
			f.err = err
		} else {
			f.done = true
		}
		f.signal()
	}
	// else the readers already had a whole body; a sum that failed (the
	// staging file could not be read back) only stops the commit below.
	f.mu.Unlock()

	// Only this goroutine writes f.size and f.mem; they are final now.
	var cerr error
	switch {
	case committed != nil:
		cerr = <-committed
	case err != nil:
	case f.mem != nil:
		_, cerr = f.m.cfg.Store.PutObject(ctx, f.key.bucket, f.key.key, bytes.NewReader(f.mem[:f.size]), opts)
	default:
		cerr = f.adopt(ctx, sum, opts)
	}
	switch {
	case err != nil:
		f.m.log.Info("mirror fill aborted", "bucket", f.key.bucket, "key", f.key.key, "url", info.OriginURL, "err", err)
		return ResultFailed
	case errors.Is(cerr, store.ErrPreconditionFailed):
		// A client wrote the key during the fill: theirs wins, and our
		// readers already had a whole, verified body.
		f.m.log.Info("mirror fill yielded to a write of the same key", "bucket", f.key.bucket, "key", f.key.key)
		return ResultStored
	case cerr != nil:
		f.m.log.Error("mirror commit failed", "bucket", f.key.bucket, "key", f.key.key, "err", cerr)
		return ResultFailed
	}
	return ResultStored
}

// adopt hands the whole staging file to the store. It is fsynced first, as
// every stored body is before its record commits; readers still tailing it
// keep their descriptors through the rename.
func (f *fill) adopt(ctx context.Context, sum []byte, opts store.PutOptions) error {
	if err := f.file.Sync(); err != nil {
		return err
	}
	_, err := f.m.adopter.AdoptFile(ctx, f.key.bucket, f.key.key, f.path, f.size, sum, opts)
	if err == nil {
		f.mu.Lock()
		f.path = "" // the store's file now: run must not remove it
		f.mu.Unlock()
	}
	return err
}

// copy writes the origin's body to staging (or memory), publishing
// progress, and checks its length and the size limit. Its error is what
// every reader gets.
func (f *fill) copy(r *origin.Response) error {
	var buf []byte
	if f.mem == nil {
		buf = make([]byte, copyBuf)
	}
	var n int64
	for {
		p := buf
		if f.mem != nil {
			// Never empty: the body fails below once it passes its
			// length, one byte before the end of mem.
			p = f.mem[n:]
		}
		k, rerr := r.Body.Read(p)
		if k > 0 {
			if n+int64(k) > f.m.cfg.MaxSize {
				return failed(MsgTooLarge, nil)
			}
			if f.mem != nil {
				if n+int64(k) > r.ContentLength {
					return failed(MsgShortBody, nil)
				}
			} else if _, err := f.file.Write(p[:k]); err != nil {
				// f.file is not replaced while the fill runs, and the
				// fill holds a reference, so it is safe to use without
				// the lock.
				return failed(MsgStagingFailed, err)
			}
			n += int64(k)
			if !f.fromStored {
				f.m.metrics.BytesMirrored(int64(k))
			}
			f.mu.Lock()
			f.size = n
			f.signal()
			f.mu.Unlock()
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if r.ContentLength >= 0 && errors.Is(rerr, io.ErrUnexpectedEOF) {
				return failed(MsgShortBody, rerr)
			}
			return failed(MsgReadFailed, rerr)
		}
	}
	if r.ContentLength >= 0 && n != r.ContentLength {
		return failed(MsgShortBody, nil)
	}
	return nil
}

type hashResult struct {
	sum []byte
	err error
}

// hashStaging returns the MD5 of the staging file, reading it as it grows
// like a reader would, once the copy has ended; or the fill's error. It runs
// on its own goroutine: on a slow origin it keeps pace, and the sum is ready
// when the body ends; on a fast one, once it is hashLag behind, it waits for
// the copy to end and catches up from the page cache, so the copy and the
// clients (whose bytes go out by sendfile meanwhile) have the CPU.
//
// ended is closed when the copy has ended: a paused hasher waits on it
// alone, not woken by every piece the copy publishes.
func (f *fill) hashStaging(ended <-chan struct{}) ([]byte, error) {
	h := md5.New()
	buf := make([]byte, copyBuf)
	var pos int64
	for {
		f.mu.Lock()
		for f.err == nil && !f.copied && f.size == pos {
			wait := f.progress
			f.mu.Unlock()
			<-wait
			f.mu.Lock()
		}
		err, size, copied := f.err, f.size, f.copied
		f.mu.Unlock()
		if err != nil {
			return nil, err
		}
		if pos == size && copied {
			return h.Sum(nil), nil
		}
		if !copied && size-pos > hashLag {
			<-ended
			continue
		}
		for pos < size {
			n, err := f.file.ReadAt(buf[:min(int64(len(buf)), size-pos)], pos)
			h.Write(buf[:n])
			pos += int64(n)
			if err != nil {
				return nil, failed(MsgStagingFailed, err)
			}
		}
	}
}

// discard reads a little of a body we do not use, so its connection may be
// reused, and closes it.
func discard(rc io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, rc, 4<<10)
	rc.Close()
}

// Reader reads a fill's body as it arrives. It is not safe for concurrent
// use; Close must not race a Read.
type Reader struct {
	// Info describes the object; read-only.
	Info Info

	f       *fill
	ctx     context.Context
	pos     int64
	end     int64 // with limited, the position Read ends at
	limited bool
	closed  bool
	// own is this reader's descriptor of the staging file, for sendfile,
	// which reads from a descriptor's own offset; nil until WriteTo needs
	// it, and for a body in memory.
	own   *os.File
	noOwn bool // reopening the staging file failed: WriteTo copies
}

// Limit makes the reader end (io.EOF) after n more bytes from the current
// position: a range of the object.
func (r *Reader) Limit(n int64) {
	r.end, r.limited = r.pos+n, true
}

// next waits until bytes past r.pos have arrived and returns how many may be
// read (within the limit), or io.EOF at the end of a whole body, or the
// fill's *FailedError, or ctx's error.
func (r *Reader) next() (int64, error) {
	if r.closed {
		return 0, errors.New("mirror: read of a closed reader")
	}
	f := r.f
	if r.limited && r.pos >= r.end && !f.verify {
		return 0, io.EOF
	}
	for {
		f.mu.Lock()
		if err := f.err; err != nil {
			f.mu.Unlock()
			return 0, err
		}
		if r.limited && r.pos >= r.end && f.done {
			f.mu.Unlock()
			return 0, io.EOF
		}
		if avail := r.readable() - r.pos; avail > 0 {
			f.mu.Unlock()
			return avail, nil
		}
		if f.done {
			f.mu.Unlock()
			return 0, io.EOF
		}
		wait := f.progress
		f.mu.Unlock()
		select {
		case <-wait:
		case <-r.ctx.Done():
			return 0, r.ctx.Err()
		}
	}
}

// readable returns the position the reader may read up to now; f.mu must
// be held. While a body awaits its MD5 check, the last byte of the reader's
// window (its range, or the body of announced length) is held back: with
// it the client would have a complete answer before the body is known to be
// whole. A chunked answer needs no such byte: its end is the terminating
// chunk, which only io.EOF lets out.
func (r *Reader) readable() int64 {
	f := r.f
	end := f.size
	if r.limited {
		end = min(end, r.end)
	}
	if f.verify && !f.done {
		if f.info.Size >= 0 {
			end = min(end, f.info.Size-1)
		}
		if r.limited {
			end = min(end, r.end-1)
		}
	}
	return end
}

// Read reads the next bytes, waiting for the origin when it has sent no more
// yet. io.EOF comes only once the whole body arrived and was verified (length,
// MD5). When the fill aborts, Read returns its *FailedError, even if bytes
// were still unread: the body is not whole and will not be stored. A client
// that already has the headers must then be cut off — in a handler, by
// panic(http.ErrAbortHandler) — since ending the response normally would
// present a truncated body as complete. Read also fails with ctx's error when
// the Open context ends.
func (r *Reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	avail, err := r.next()
	if err != nil {
		return 0, err
	}
	if int64(len(p)) > avail {
		p = p[:avail]
	}
	// f.mem and f.file were set before the headers were published, and
	// this reader's reference keeps the file open.
	if mem := r.f.mem; mem != nil {
		n := copy(p, mem[r.pos:])
		r.pos += int64(n)
		return n, nil
	}
	n, err := r.f.file.ReadAt(p, r.pos)
	r.pos += int64(n)
	if err == io.EOF && n == len(p) {
		err = nil
	}
	return n, err
}

// WriteTo copies the rest of the body to w (io.Copy uses it), with Read's
// errors and contract. When w is an io.ReaderFrom (net/http's response
// writer is), each piece that has arrived goes as an io.LimitedReader of
// the staging file, which net/http sends with sendfile(2) on plain TCP: the
// bytes never pass through this process again.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	if rf, ok := w.(io.ReaderFrom); ok && r.f.mem == nil {
		if own := r.reopen(); own != nil {
			return r.sendTo(rf, own)
		}
	}
	size := copyBuf
	if r.f.mem != nil {
		size = len(r.f.mem)
	}
	buf := make([]byte, size)
	var total int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			k, werr := w.Write(buf[:n])
			total += int64(k)
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// sendTo is WriteTo through rf from the reader's own descriptor.
func (r *Reader) sendTo(rf io.ReaderFrom, own *os.File) (int64, error) {
	if _, err := own.Seek(r.pos, io.SeekStart); err != nil {
		return 0, err
	}
	var total int64
	for {
		avail, err := r.next()
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
		n, werr := rf.ReadFrom(io.LimitReader(own, avail))
		r.pos += n
		total += n
		if werr != nil {
			return total, werr
		}
		if n < avail {
			return total, fmt.Errorf("mirror: staging file ended %d bytes early", avail-n)
		}
	}
}

// reopen returns the reader's own descriptor of the staging file, opening
// it through /proc/self/fd (which works after the file was unlinked or
// adopted), or nil where that is not possible.
func (r *Reader) reopen() *os.File {
	if r.own != nil || r.noOwn {
		return r.own
	}
	r.noOwn = true
	sc, err := r.f.file.SyscallConn()
	if err != nil {
		return nil
	}
	var own *os.File
	cerr := sc.Control(func(fd uintptr) {
		own, err = os.Open("/proc/self/fd/" + strconv.FormatUint(uint64(fd), 10))
	})
	if cerr != nil || err != nil {
		return nil
	}
	r.own, r.noOwn = own, false
	return own
}

// Seek moves the read position, for a range of the object: a position past
// what has arrived makes the next Read wait for it. io.SeekEnd needs a known
// Info.Size.
func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.pos
	case io.SeekEnd:
		if r.Info.Size < 0 {
			return r.pos, errors.New("mirror: seek from the end of a body of unknown length")
		}
		offset += r.Info.Size
	default:
		return r.pos, errors.New("mirror: bad whence")
	}
	if offset < 0 {
		return r.pos, errors.New("mirror: negative position")
	}
	r.pos = offset
	return offset, nil
}

// Wait blocks until the body has ended and returns its size, for a range
// request on a body of unknown length (Content-Range needs the total). It
// fails with the fill's *FailedError or ctx's error.
func (r *Reader) Wait(ctx context.Context) (int64, error) {
	f := r.f
	for {
		f.mu.Lock()
		if err := f.err; err != nil {
			f.mu.Unlock()
			return 0, err
		}
		if f.done {
			size := f.size
			f.mu.Unlock()
			return size, nil
		}
		wait := f.progress
		f.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// Close releases the reader. The fill goes on without it. It returns nil.
func (r *Reader) Close() error {
	if !r.closed {
		r.closed = true
		if r.own != nil {
			r.own.Close()
		}
		r.f.release()
	}
	return nil
}
