package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// progressFolder writes n files of size bytes each into a new folder.
func progressFolder(t *testing.T, n, size int) string {
	t.Helper()
	dir := t.TempDir()
	for i := range n {
		b := make([]byte, size)
		for j := range b {
			b[j] = byte(i + j)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d.bin", i)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// TestMigrateProgressTerminal runs the binary in a pseudo-terminal (under
// util-linux script) and reads the bar: objects done of the total, bytes
// of the total, a rate and the elapsed:remaining time.
func TestMigrateProgressTerminal(t *testing.T) {
	t.Parallel()
	script, err := exec.LookPath("script")
	if err != nil {
		t.Fatalf("util-linux script not found: %v", err)
	}
	bin := buildBinary(t)
	srv, _ := startDest(t)
	dir := progressFolder(t, 30, 100<<10)
	line := strings.Join([]string{shellQuote(bin), "migrate", "--endpoint", shellQuote(srv.URL()), "--bucket", "dst",
		"--access-key", helperAccessKey, "--secret-key", helperSecretKey, "--concurrency", "2", "--rate", "15", shellQuote(dir)}, " ")
	out, err := exec.Command(script, "-qfec", line, "/dev/null").CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", line, err, out)
	}
	// The bar redraws in place: frames are separated by carriage returns.
	frame := regexp.MustCompile(`^(\d+)/30 objects +(\d+)% \|[█ ]{30}\| \(([^)]*)\) \[([0-9hms.]+)(?::([0-9hms.]+))?\]$`)
	var frames, midway int
	var last []string
	for _, f := range strings.Split(string(out), "\r") {
		m := frame.FindStringSubmatch(strings.TrimSpace(f))
		if m == nil {
			continue
		}
		frames++
		last = m
		done, _ := strconv.Atoi(m[1])
		// A frame mid-run: objects and bytes of the totals, a rate, and
		// elapsed:remaining.
		if done > 0 && done < 30 && strings.Contains(m[3], "/2.9 MiB, ") && strings.HasSuffix(m[3], "/s") && m[5] != "" {
			midway++
		}
	}
	if frames < 3 || midway == 0 {
		t.Fatalf("%d bar frames, %d mid-run ones with a rate and ETA, in %q", frames, midway, out)
	}
	if last[1] != "30" || last[2] != "100" || !strings.HasPrefix(last[3], "2.9/2.9 MiB") {
		t.Errorf("the last frame %q: want 30/30 objects, 100%%, 2.9/2.9 MiB", last[0])
	}
	if strings.Contains(string(out), "migrate: ") {
		t.Errorf("plain progress lines on a terminal: %q", out)
	}
	if !strings.Contains(string(out), "copied 30 objects (2.9 MiB, 0 replaced)") {
		t.Errorf("no summary: %q", out)
	}
}

// TestMigrateProgressPipe: with stdout and stderr a pipe, progress is a
// plain line every 10 seconds (objects, bytes, rate, ETA) and one at the
// end; no bar, no carriage returns.
func TestMigrateProgressPipe(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	srv, _ := startDest(t)
	dir := progressFolder(t, 26, 100<<10)
	cmd := exec.Command(bin, "migrate", "--endpoint", srv.URL(), "--bucket", "dst", "--access-key", helperAccessKey,
		"--secret-key", helperSecretKey, "--concurrency", "1", "--rate", "2", dir)
	var stdout, stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s%s", err, stdout.String(), stderr.String())
	}
	out := stderr.String()
	if strings.ContainsAny(out, "\r█") {
		t.Errorf("a bar in a pipe: %q", out)
	}
	line := regexp.MustCompile(`^migrate: (\d+)/26 objects, ([0-9.]+ [KM]iB), ([0-9.]+ [KM]?i?B)/s(, ([0-9.]+ [KM]iB) of 2\.5 MiB, eta (\d+s))?$`)
	var lines [][]string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("not a progress line: %q", l)
			continue
		}
		lines = append(lines, m)
	}
	if len(lines) < 2 {
		t.Fatalf("%d progress lines, want a periodic one and the last: %q", len(lines), out)
	}
	mid := lines[0]
	if n, _ := strconv.Atoi(mid[1]); n == 0 || n >= 26 || mid[4] == "" || mid[5] != mid[2] {
		t.Errorf("the periodic line %q: want objects under the total, bytes of 2.5 MiB and an ETA", mid[0])
	}
	end := lines[len(lines)-1]
	if end[1] != "26" || end[2] != "2.5 MiB" || end[4] != "" {
		t.Errorf("the last line %q: want 26/26 objects, 2.5 MiB, no ETA", end[0])
	}
	if !strings.Contains(stdout.String(), "copied 26 objects (2.5 MiB, 0 replaced)") {
		t.Errorf("summary on stdout: %q", stdout.String())
	}
}
