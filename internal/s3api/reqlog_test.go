package s3api

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"mirrorstore/internal/reqlog"
	"mirrorstore/internal/store/local"
)

// The server's JSON handler writes request lines by hand; they must carry
// what the same requests log through a plain slog handler, field for field
// (time and duration aside).
func TestRequestLineFastPathMatchesSlog(t *testing.T) {
	lines := func(newHandler func(*bytes.Buffer) slog.Handler) []map[string]any {
		eng, err := local.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer eng.Close()
		var buf bytes.Buffer
		h := New(Config{Backend: eng, Auth: rootAuth{}, Logger: slog.New(newHandler(&buf))})
		h.idPrefix = 0 // the same request ids in both runs
		for _, rq := range []struct{ method, target, body string }{
			{"PUT", "/bkt", ""}, {"PUT", "/bkt/a%22b<c>", "data"}, {"GET", "/bkt/a%22b<c>", ""},
			{"GET", "/bkt/missing", ""}, {"GET", "/nobucket/k", ""}, {"DELETE", "/bkt", ""},
		} {
			r := httptest.NewRequest(rq.method, "http://localhost"+rq.target, strings.NewReader(rq.body))
			h.ServeHTTP(httptest.NewRecorder(), r)
		}
		var out []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("%q: %v", l, err)
			}
			delete(m, "time")
			delete(m, "duration")
			out = append(out, m)
		}
		return out
	}
	fast := lines(func(b *bytes.Buffer) slog.Handler { return reqlog.NewJSON(b, nil) })
	plain := lines(func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) })
	if len(fast) != 6 || len(plain) != 6 {
		t.Fatalf("%d and %d lines, want 6", len(fast), len(plain))
	}
	for i := range fast {
		a, _ := json.Marshal(fast[i])
		b, _ := json.Marshal(plain[i])
		if !bytes.Equal(a, b) {
			t.Errorf("line %d:\nfast  %s\nslog  %s", i, a, b)
		}
	}
	if fast[3]["code"] != "NoSuchKey" || fast[2]["key"] != `a"b<c>` || fast[2]["status"] != float64(200) {
		t.Errorf("unexpected lines %v", fast)
	}
}
