package e2e

import (
	"bufio"
	"context"
	"fmt"
	"html"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"mirrorstore/internal/server"
)

// chromiumPath is the browser the status page test drives (Debian package
// chromium, see scripts/install-debian-deps.sh).
const chromiumPath = "/usr/bin/chromium"

// dumpDOM loads url in headless Chromium and returns the DOM it rendered.
func dumpDOM(t *testing.T, url string) string {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("%s is needed for this test (install it with scripts/install-debian-deps.sh): %v", chromiumPath, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromiumPath, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--no-first-run", "--user-data-dir="+t.TempDir(), "--dump-dom", url)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom %s: %v\n%s", url, err, stderr.String())
	}
	return string(out)
}

// scrapeMetrics returns the samples of /-/metrics by their full name with
// labels, as written ("mirrorstore_bucket_objects{bucket=\"web\"}").
func scrapeMetrics(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/-/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/-/metrics: %d", resp.StatusCode)
	}
	samples := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return samples
}

func metric(t *testing.T, samples map[string]float64, name string) float64 {
	t.Helper()
	v, ok := samples[name]
	if !ok {
		t.Fatalf("metric %s not exposed", name)
	}
	return v
}

// kib formats a byte count as the status page does for counts from 1 KiB
// to 1 MiB.
func kib(n float64) string { return fmt.Sprintf("%.1f KiB", n/1024) }

// TestStatusPageInBrowser renders /-/status in headless Chromium after a
// known series of requests and one mirror fill, and checks that the numbers
// it shows are those of /-/metrics.
func TestStatusPageInBrowser(t *testing.T) {
	ts := startConfigured(t, server.Config{
		Addr:            "127.0.0.1:0",
		DataDir:         filepath.Join(t.TempDir(), "data"),
		AccessKey:       testAccessKey,
		SecretKey:       testSecretKey,
		ShutdownTimeout: 5 * time.Second,
		StatusPublic:    true,
		Mirror:          server.MirrorConfig{Timeout: 5 * time.Second, IdleTimeout: 5 * time.Second, AllowPrivate: true, Version: "e2e"},
	})
	s := ts.Server

	o := newFakeOrigin(t)
	filled := []byte(strings.Repeat("m", 1234))
	o.serve("/m", filled)
	o.handle("/bad", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	ts.mirrorBucket(t, "web", mirrorRule(1, "", o.URL+"/", ""))

	// Three objects (100 + 2000 + 1234 bytes), four GETs served locally,
	// one filled, one failed fill.
	for key, size := range map[string]int{"a": 100, "b": 2000} {
		if a := ts.signed(t, http.MethodPut, "/web/"+key, []byte(strings.Repeat("x", size))); a.status != 200 {
			t.Fatalf("PUT %s: %d %s", key, a.status, a.body)
		}
	}
	for range 3 {
		if a := ts.signed(t, http.MethodGet, "/web/a", nil); a.status != 200 {
			t.Fatalf("GET a: %d", a.status)
		}
	}
	if a := ts.signed(t, http.MethodGet, "/web/m", nil); a.status != 200 || string(a.body) != string(filled) {
		t.Fatalf("mirror GET: %d, %d bytes", a.status, len(a.body))
	}
	ts.waitStored(t, "/web/m")
	if a := ts.signed(t, http.MethodGet, "/web/m", nil); a.status != 200 || a.header.Get("ETag") == "" {
		t.Fatalf("local GET of the filled object: %d %v", a.status, a.header)
	}
	if a := ts.signed(t, http.MethodGet, "/web/bad", nil); a.status != http.StatusFailedDependency {
		t.Fatalf("GET of a failing origin: %d %s", a.status, a.body)
	}

	dom := dumpDOM(t, s.URL()+"/-/status")
	m := scrapeMetrics(t, s.URL())

	// What the sequence must have produced, so the comparison below
	// cannot pass on two equally wrong sides.
	objects := metric(t, m, `mirrorstore_bucket_objects{bucket="web"}`)
	bytes := metric(t, m, `mirrorstore_bucket_bytes{bucket="web"}`)
	local := metric(t, m, `mirrorstore_gets_local_total{bucket="web"}`)
	fills := metric(t, m, `mirrorstore_gets_filled_total{bucket="web"}`)
	if objects != 3 || bytes != 3334 || local != 4 || fills != 1 ||
		metric(t, m, `mirrorstore_mirror_fills_total{result="stored"}`) != 1 ||
		metric(t, m, `mirrorstore_mirror_fills_total{result="failed"}`) != 1 ||
		metric(t, m, `mirrorstore_mirror_fills_in_flight`) != 0 {
		t.Fatalf("metrics after the sequence: objects %v bytes %v local %v filled %v; all: %v", objects, bytes, local, fills, m)
	}

	row := regexp.MustCompile(`<tr><td>web</td><td class="n">([^<]*)</td><td class="n">([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td><td><div>([^<]*)</div></td></tr>`).FindStringSubmatch(dom)
	if row == nil {
		t.Fatalf("no row for bucket web in the rendered page:\n%s", dom)
	}
	ratio := fmt.Sprintf("%.1f%% (%d local, %d filled)", 100*local/(local+fills), int(local), int(fills))
	for i, want := range []string{fmt.Sprint(int(objects)), kib(bytes), ratio, ratio} {
		if got := html.UnescapeString(row[i+1]); got != want {
			t.Errorf("bucket row column %d shows %q, metrics say %q", i+2, got, want)
		}
	}
	if got, want := row[3], "80.0% (4 local, 1 filled)"; got != want {
		t.Errorf("hit ratio shows %q, want %q", got, want)
	}
	if got, want := html.UnescapeString(row[5]), "#1 * on 404 → Mirror "+o.URL+"/"; got != want {
		t.Errorf("rules column shows %q, want %q", got, want)
	}

	// No fill in flight, as mirrorstore_mirror_fills_in_flight says; the
	// failed fill is the one origin error listed.
	if !regexp.MustCompile(`<h2>Fills in flight</h2>\s*<p>None.</p>`).MatchString(dom) {
		t.Errorf("fills in flight section does not say None:\n%s", dom)
	}
	errRows := regexp.MustCompile(`<tr><td>[^<]*ago</td><td>web</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>`).FindAllStringSubmatch(dom, -1)
	if len(errRows) != int(metric(t, m, `mirrorstore_mirror_fills_total{result="failed"}`)) {
		t.Fatalf("%d origin error rows, want one per failed fill:\n%s", len(errRows), dom)
	}
	if errRows[0][1] != "bad" || errRows[0][2] != o.URL+"/bad" || !strings.Contains(errRows[0][3], "502") {
		t.Errorf("origin error row: %q", errRows[0][1:])
	}
}
