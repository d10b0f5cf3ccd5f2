package reqlog

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// viaSlog is what slog's JSONHandler writes for l: the reference LogRequest
// must match byte for byte.
func viaSlog(t *testing.T, level slog.Level, tm time.Time, l *Line) string {
	t.Helper()
	var buf bytes.Buffer
	r := slog.NewRecord(tm, level, Msg, 0)
	r.AddAttrs(
		slog.String("id", l.ID), slog.String("op", l.Op), slog.String("method", l.Method),
		slog.String("bucket", l.Bucket), slog.String("key", l.Key), slog.Int("status", l.Status),
		slog.Int64("bytes_in", l.BytesIn), slog.Int64("bytes_out", l.BytesOut),
		slog.Duration("duration", l.Duration), slog.String("remote", l.Remote),
	)
	for _, f := range [...]struct{ k, v string }{
		{"access_key", l.AccessKey}, {"origin", l.Origin}, {"outcome", l.Outcome}, {"err", l.Err}, {"code", l.Code},
	} {
		if f.v != "" {
			r.AddAttrs(slog.String(f.k, f.v))
		}
	}
	if err := slog.NewJSONHandler(&buf, nil).Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestLineMatchesSlog(t *testing.T) {
	var odd []string
	for c := 0; c < 0x100; c++ {
		odd = append(odd, string([]byte{byte(c)}), "k"+string(rune(c))+"v")
	}
	odd = append(odd, "", "plain/key.txt", `a"b\c`, "<script>&amp;", "ключ ü 日本", "bad\xff\xfeutf8", "\u2028\u2029",
		"\uFFFD", "tab\tnl\ncr\r", "\x7f", strings.Repeat("long", 300))
	zones := []*time.Location{time.UTC, time.FixedZone("x", -(3*3600 + 1800)), time.Local}
	levels := []slog.Level{slog.LevelInfo, slog.LevelWarn, slog.LevelError, slog.LevelError + 2}
	for i, s := range odd {
		tm := time.Date(2026, 11, 25, 10, 1, 2, i*1000003, zones[i%len(zones)])
		l := &Line{ID: "73F7D912A350C319", Op: "GetObject", Method: "GET", Bucket: "pub", Key: s,
			Status: 200 + i, BytesIn: int64(-1 + i%3), BytesOut: int64(i) << 20, Duration: time.Duration(i) * 1234567,
			Remote: "127.0.0.1:40000"}
		switch i % 4 {
		case 1:
			l.AccessKey, l.Code = s, "NoSuchKey"
		case 2:
			l.Origin, l.Outcome, l.Err = "http://o/"+s, "aborted", s
		case 3:
			l.Outcome = "filled"
		}
		level := levels[i%len(levels)]
		var got bytes.Buffer
		NewJSON(&got, nil).LogRequest(context.Background(), level, tm, l)
		if want := viaSlog(t, level, tm, l); got.String() != want {
			t.Fatalf("line %d (%q):\n got %s\nwant %s", i, s, got.String(), want)
		}
	}
}

// Records other than request lines go to slog's handler; levels below the
// handler's are dropped on both paths; each request line is one Write.
func TestOtherRecordsAndLevels(t *testing.T) {
	var buf bytes.Buffer
	h := NewJSON(&writes{&buf}, &slog.HandlerOptions{Level: slog.LevelWarn})
	log := slog.New(h)
	log.Info("dropped")
	log.Warn("kept", "n", 1)
	log.With("a", "b").Error("with attrs")
	h.LogRequest(context.Background(), slog.LevelInfo, time.Now(), &Line{ID: "dropped"})
	h.LogRequest(context.Background(), slog.LevelWarn, time.Now(), &Line{ID: "x", Op: "GetObject"})
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	for i, want := range []map[string]any{{"msg": "kept", "n": float64(1)}, {"msg": "with attrs", "a": "b"}, {"msg": Msg, "id": "x", "op": "GetObject"}} {
		var got map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &got); err != nil {
			t.Fatalf("line %d %q: %v", i, lines[i], err)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("line %d: %s = %v, want %v", i, k, got[k], v)
			}
		}
	}
}

// writes fails the test's assumption if a line arrives in pieces: every
// Write must end with a newline.
type writes struct{ b *bytes.Buffer }

func (w *writes) Write(p []byte) (int, error) {
	if len(p) == 0 || p[len(p)-1] != '\n' {
		panic("a log line was split between writes: " + string(p))
	}
	return w.b.Write(p)
}
