package mirror

import (
	"errors"
	"fmt"
	"net/http"

	"mirrorstore/internal/origin"
)

// Errors of Open. The HTTP layer maps them (SPEC §7 "Origin answers"):
//
//	ErrNotFound          → 404 NoSuchKey
//	*RedirectError       → 302 with Location
//	*TransparentError    → the origin's status and body
//	*FailedError         → 424 MirrorFailed, with Message
//	ErrSlowDown          → 503 SlowDown
//	ErrClosed            → 503 (the server is shutting down)
//	ctx's error          → the client went away; nothing to answer
//	anything else        → 500 InternalError (the staging file could not be made)
var (
	// ErrNotFound means the origin answered 404.
	ErrNotFound = errors.New("origin has no such object")
	// ErrSlowDown means the origin host already has the maximum number of
	// fills in flight. It is origin.ErrSlowDown, so errors.Is works with either.
	ErrSlowDown = origin.ErrSlowDown
	// ErrClosed means the Manager is closing or closed.
	ErrClosed = errors.New("mirror manager closed")
)

// RedirectError is an origin's redirect, returned when the rule does not
// follow redirects. The client gets 302 with Location.
type RedirectError struct {
	StatusCode int
	// Location is the origin's Location resolved against the origin URL (a
	// relative Location would otherwise point at this server).
	Location string
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("origin redirected (%d) to %s", e.StatusCode, e.Location)
}

// TransparentError is an origin answer whose status is in the rule's
// TransparentMirrorResponseCodes: the client gets StatusCode, Header and Body
// as they are.
type TransparentError struct {
	StatusCode int
	// Header holds the origin's Content-Type, if any.
	Header http.Header
	// Body is the start of the origin's body, at most MaxTransparentBody
	// bytes.
	Body []byte
}

// MaxTransparentBody bounds the body kept for a TransparentError.
const MaxTransparentBody = 64 << 10

func (e *TransparentError) Error() string {
	return fmt.Sprintf("origin answered %d (passed through)", e.StatusCode)
}

// FailedError is a fill that failed: the client gets 424 MirrorFailed with
// Message, worded as OSS words it. Before the headers it comes from Open;
// after them, from Reader.Read (the body was cut short and is not stored).
type FailedError struct {
	// Message is the client-facing message.
	Message string
	// Err is the cause, for logs; may be nil.
	Err error
}

func (e *FailedError) Error() string {
	if e.Err == nil {
		return "mirror failed: " + e.Message
	}
	return fmt.Sprintf("mirror failed: %s: %v", e.Message, e.Err)
}

func (e *FailedError) Unwrap() error { return e.Err }

// The messages of FailedError. The first four are OSS's own words.
const (
	MsgShortBody      = "Bytes read is not equal to expected"
	MsgReadFailed     = "Read body from mirror host failed"
	MsgMD5Mismatch    = "MD5 in header is not equal to MD5 calculated"
	MsgMetaTooLarge   = "Meta is too large"
	MsgConnectFailed  = "Connect to mirror host failed"
	MsgTimeout        = "Mirror host did not answer in time"
	MsgRefused        = "Mirror host address is not allowed"
	MsgRedirects      = "Too many redirects from mirror host"
	MsgTooLarge       = "Object is larger than the mirror size limit"
	MsgStagingFailed  = "Write to the mirror staging file failed"
	msgStatusTemplate = "Mirror host returned HTTP status %d"
)

func failed(msg string, err error) *FailedError { return &FailedError{Message: msg, Err: err} }

// statusFailed is the error of a refused origin answer: its status.
func statusFailed(code int) *FailedError {
	return &FailedError{Message: fmt.Sprintf(msgStatusTemplate, code)}
}

// fetchFailed words an origin.Client error.
func fetchFailed(err error) *FailedError {
	switch {
	case errors.Is(err, origin.ErrRefusedAddress):
		return failed(MsgRefused, err)
	case errors.Is(err, origin.ErrHeaderTimeout):
		return failed(MsgTimeout, err)
	case errors.Is(err, origin.ErrTooManyRedirects):
		return failed(MsgRedirects, err)
	}
	return failed(MsgConnectFailed, err)
}
