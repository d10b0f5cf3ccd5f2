// Package reqlog is the server's JSON log handler: log/slog's JSONHandler,
// with the one line every request writes encoded by hand.
//
// Through slog, a request's line cost about as much CPU as the rest of a
// small GET's handler (the record's attributes, the handler's generic
// walk over them). Handler writes the same bytes slog would for a Line,
// field for field (a test compares both), and passes every other record
// to slog unchanged.
package reqlog

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Line is one request's log line. Empty optional fields are left out.
type Line struct {
	ID, Op, Method, Bucket, Key string
	Status                      int
	BytesIn, BytesOut           int64
	Duration                    time.Duration
	Remote                      string
	// Optional, in this order.
	AccessKey, Origin, Outcome, Err, Code string
}

// Msg is the message of every request line.
const Msg = "request"

// Handler is a slog.Handler writing JSON lines to one writer, which must
// be safe for concurrent writes (logbuf.Writer and *os.File are): request
// lines and other records are each written whole in one Write, but not
// under one lock.
type Handler struct {
	slog.Handler
	w     io.Writer
	level slog.Leveler
}

// NewJSON returns a Handler writing to w; opts are slog's (nil: Info and
// above). Source locations (AddSource) and ReplaceAttr are not supported:
// the request lines would not carry them.
func NewJSON(w io.Writer, opts *slog.HandlerOptions) *Handler {
	var level slog.Leveler = slog.LevelInfo
	if opts != nil && opts.Level != nil {
		level = opts.Level
	}
	return &Handler{Handler: slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}), w: w, level: level}
}

var bufs = sync.Pool{New: func() any {
	b := make([]byte, 0, 512)
	return &b
}}

// LogRequest writes l at level, stamped t, as slog's JSONHandler writes a
// record of message Msg with l's fields as attributes, in Line's order.
// Levels below the handler's are dropped.
func (h *Handler) LogRequest(ctx context.Context, level slog.Level, t time.Time, l *Line) {
	if level < h.level.Level() {
		return
	}
	bp := bufs.Get().(*[]byte)
	b := (*bp)[:0]
	b = append(b, `{"time":"`...)
	b = t.Round(0).AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":`...)
	b = appendString(b, level.String())
	b = append(b, `,"msg":"`+Msg+`"`...)
	b = field(b, "id", l.ID)
	b = field(b, "op", l.Op)
	b = field(b, "method", l.Method)
	b = field(b, "bucket", l.Bucket)
	b = field(b, "key", l.Key)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(l.Status), 10)
	b = append(b, `,"bytes_in":`...)
	b = strconv.AppendInt(b, l.BytesIn, 10)
	b = append(b, `,"bytes_out":`...)
	b = strconv.AppendInt(b, l.BytesOut, 10)
	b = append(b, `,"duration":`...)
	b = strconv.AppendInt(b, int64(l.Duration), 10)
	b = field(b, "remote", l.Remote)
	for _, f := range [...]struct{ k, v string }{
		{"access_key", l.AccessKey}, {"origin", l.Origin}, {"outcome", l.Outcome}, {"err", l.Err}, {"code", l.Code},
	} {
		if f.v != "" {
			b = field(b, f.k, f.v)
		}
	}
	b = append(b, "}\n"...)
	_, _ = h.w.Write(b)
	if cap(b) <= 64<<10 {
		*bp = b
		bufs.Put(bp)
	}
}

// field appends ,"key":"value" (keys are plain ASCII).
func field(b []byte, key, v string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return appendString(b, v)
}

// appendString appends s as a JSON string escaped as slog's JSONHandler
// escapes it: '"' and '\\' by a backslash, \n \r \t by name, other control
// bytes as \u00XX, invalid UTF-8 as \ufffd, U+2028 and U+2029 as \u2028
// and \u2029; everything else as it is ('<', '>', '&' included).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(append(b, s[start:i]...), `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(append(b, s[start:i]...), `\u202`...)
			b = append(b, hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hex = "0123456789abcdef"
