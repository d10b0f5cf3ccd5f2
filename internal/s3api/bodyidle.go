package s3api

import (
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// DefaultBodyIdleTimeout is Config.BodyIdleTimeout when unset: S3 gives a
// client about 20 seconds to send the next bytes of a body.
const DefaultBodyIdleTimeout = 20 * time.Second

// idleBody bounds the wait for each read of a request body. net/http bounds
// the headers (ReadHeaderTimeout) but not the body, so without it a client
// that declares a body and then stalls holds its connection and handler for
// ever (a slow-body slowloris). Bodies as a whole stay unbounded: objects
// may be gigabytes on a slow link, as long as bytes keep coming.
//
// The deadline is set before each read and cleared after it, so it never
// outlives the read: net/http's own background read, once the body is
// done, must not inherit it.
type idleBody struct {
	body io.ReadCloser
	rc   *http.ResponseController
	d    time.Duration
}

func (b *idleBody) Read(p []byte) (int, error) {
	if err := b.rc.SetReadDeadline(time.Now().Add(b.d)); err != nil {
		// Not a network connection (a test recorder): read unbounded.
		return b.body.Read(p)
	}
	n, err := b.body.Read(p)
	var ne net.Error
	if err != nil && errors.As(err, &ne) && ne.Timeout() {
		// The deadline stays in the past: net/http drains an unread body
		// before answering on a kept-alive connection, and that drain
		// must end at once too, so the answer goes out and the
		// connection closes.
		return n, errorf("RequestTimeout", "Your socket connection to the server was not read from or written to within the timeout period: no byte of the body came for %s.", b.d)
	}
	_ = b.rc.SetReadDeadline(time.Time{})
	return n, err
}

func (b *idleBody) Close() error { return b.body.Close() }
