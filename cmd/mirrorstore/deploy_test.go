package main

import (
	"debug/elf"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"mirrorstore/internal/server"
)

// dockerfile is the image recipe, read by the tests below: no Docker engine
// runs where the tests do, so the image itself is not built here.
func dockerfile(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDockerfileBuild runs the Dockerfile's own go build command (with its
// environment, flags and build arguments) outside Docker and checks that
// the binary is static, as the distroless static image needs: an ELF with
// no interpreter and no shared libraries, carrying the version it was
// given. It also checks the recipe's shape: two stages, a non-root user, a
// /data volume and a health check.
func TestDockerfileBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	df := dockerfile(t)
	// The RUN line and its continuations, up to the first "&&".
	m := regexp.MustCompile(`(?s)RUN (CGO_ENABLED=0 [^&]*?go build .*?)\s*&&`).FindStringSubmatch(df)
	if m == nil {
		t.Fatalf("no CGO_ENABLED=0 go build in the Dockerfile:\n%s", df)
	}
	line := strings.Join(strings.Fields(strings.ReplaceAll(m[1], "\\\n", " ")), " ")
	line = strings.TrimSpace(strings.TrimSuffix(line, "\\"))
	out := filepath.Join(t.TempDir(), "mirrorstore")
	line = strings.Replace(line, "/out/mirrorstore", out, 1)
	line = strings.Replace(line, "./cmd/mirrorstore", ".", 1)
	cmd := exec.Command("sh", "-c", line)
	cmd.Env = append(os.Environ(), "VERSION=v9.9.9-test", "COMMIT=abc1234")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", line, err, b)
	}

	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatalf("%s has an ELF interpreter: not static", line)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) != 0 {
		t.Fatalf("shared libraries %v (%v)", libs, err)
	}
	v, err := exec.Command(out, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(v), "mirrorstore v9.9.9-test\ncommit abc1234\n") {
		t.Fatalf("version of the built binary: %v\n%s", err, v)
	}

	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^FROM golang:\S+ AS build$`),
		regexp.MustCompile(`(?m)^FROM gcr\.io/distroless/static\S*:nonroot$`),
		regexp.MustCompile(`(?m)^USER 65532:65532$`),
		regexp.MustCompile(`(?m)^VOLUME \["/data"\]$`),
		regexp.MustCompile(`(?m)^HEALTHCHECK .*CMD \["mirrorstore","health"\]$`),
		regexp.MustCompile(`(?m)^ENTRYPOINT \["mirrorstore","server","--data","/data"\]$`),
	} {
		if !want.MatchString(df) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
}

// TestHealthCommand is the image's health check against a real server:
// exit 0 while it answers, an error once it is gone.
func TestHealthCommand(t *testing.T) {
	s, err := server.Start(server.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), AccessKey: helperAccessKey, SecretKey: helperSecretKey})
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(s.URL(), "http://")
	if out, err := runCLI(t, "health", "--addr", addr); err != nil || !strings.Contains(out, "/-/healthy: ok") {
		t.Fatalf("healthy server: %v %s", err, out)
	}
	// The same variable that sets the server's address points the check.
	t.Setenv("MIRRORSTORE_ADDR", addr)
	if out, err := runCLI(t, "health"); err != nil {
		t.Fatalf("address from MIRRORSTORE_ADDR: %v %s", err, out)
	}
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(t, "health", "--addr", addr); err == nil {
		t.Fatal("a stopped server passed the health check")
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		t.Fatal(err)
	}
}
