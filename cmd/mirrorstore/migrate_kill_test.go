package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// completedInState reads the keys a state file records (the header and a
// torn last line left out).
func completedInState(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	done := map[string]bool{}
	lines := bytes.Split(b, []byte("\n"))
	for i, l := range lines {
		if i == 0 || len(l) == 0 {
			continue
		}
		var k string
		if json.Unmarshal(l, &k) == nil {
			done[k] = true
		}
	}
	return done
}

// TestMigrateSIGKILLResume kills the migrate binary mid-run with SIGKILL
// and reruns it with the same --state: nginx's access log shows that no
// object completed before the kill is fetched again, that at most
// --concurrency objects are fetched twice, and the bucket ends complete.
func TestMigrateSIGKILLResume(t *testing.T) {
	const n, concurrency = 3000, 8
	files := map[string][]byte{}
	keys := make([]string, 0, n)
	for i := range n {
		k := fmt.Sprintf("p%02d/obj-%05d.txt", i%23, i)
		files[k] = []byte(strings.Repeat(strconv.Itoa(i)+" ", 1+i%97))
		keys = append(keys, k)
	}
	sort.Strings(keys)
	origin := serveWithNginx(t, files)
	bin := buildBinary(t)
	srv, c := startDest(t)
	keyList := filepath.Join(t.TempDir(), "keys.txt")
	if err := os.WriteFile(keyList, []byte(strings.Join(keys, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(t.TempDir(), "state")
	args := []string{"migrate", "--endpoint", srv.URL(), "--bucket", "dst", "--access-key", helperAccessKey, "--secret-key", helperSecretKey,
		"--keys", keyList, "--allow-private", "--state", state, "--concurrency", strconv.Itoa(concurrency)}

	// First run, slowed by --rate so the kill lands mid-run.
	cmd := exec.Command(bin, append(args, "--rate", "400", origin.URL)...)
	var out1 lockedBuffer
	cmd.Stdout, cmd.Stderr = &out1, &out1
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for len(origin.gets(t)) < 800 && len(completedInState(t, state)) < 300 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			t.Fatalf("the first run fetched only %d keys in 30 s\n%s", len(origin.gets(t)), out1.String())
		}
		select {
		case err := <-exited:
			t.Fatalf("the first run ended before the kill: %v\n%s", err, out1.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited
	// Let the server finish any write whose body had fully arrived.
	time.Sleep(300 * time.Millisecond)

	first := origin.gets(t)
	completed := completedInState(t, state)
	for k := range bucketKeys(t, c, "dst") {
		completed[k] = true
	}
	if len(first) >= n || len(completed) >= n {
		t.Fatalf("the kill came too late: %d of %d fetched, %d completed", len(first), n, len(completed))
	}
	if len(completed) == 0 {
		t.Fatal("nothing completed before the kill")
	}
	for k, v := range first {
		if v != 1 {
			t.Errorf("first run fetched %s %d times", k, v)
		}
	}

	// The rerun, same --state, no rate limit.
	out, err := exec.Command(bin, append(args, origin.URL)...).CombinedOutput()
	if err != nil {
		t.Fatalf("rerun: %v\n%s", err, out)
	}
	all := origin.gets(t)
	twice := 0
	for k, v := range all {
		again := v - first[k]
		if again > 0 && completed[k] {
			t.Errorf("%s was complete before the kill, yet the rerun fetched it again", k)
		}
		if first[k] > 0 && again > 0 {
			twice++
		}
		if again > 1 {
			t.Errorf("the rerun fetched %s %d times", k, again)
		}
	}
	if twice > concurrency {
		t.Errorf("%d objects fetched by both runs, want at most --concurrency %d", twice, concurrency)
	}
	if len(all) != n {
		t.Errorf("the origin served %d distinct keys, want %d", len(all), n)
	}
	t.Logf("killed after %d fetched, %d complete; the rerun fetched %d, %d of them a second time", len(first), len(completed), len(all)-len(first)+twice, twice)

	// The bucket is complete and byte-identical.
	if got := bucketKeys(t, c, "dst"); len(got) != n {
		t.Fatalf("bucket holds %d keys, want %d", len(got), n)
	}
	for _, k := range keys {
		o, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("dst"), Key: aws.String(k)})
		if err != nil {
			t.Fatalf("get %s: %v", k, err)
		}
		b, err := io.ReadAll(o.Body)
		o.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, files[k]) {
			t.Fatalf("%s: %q, want %q", k, b, files[k])
		}
		if aws.ToString(o.ContentType) != "text/plain" {
			t.Fatalf("%s: Content-Type %q", k, aws.ToString(o.ContentType))
		}
	}
}
