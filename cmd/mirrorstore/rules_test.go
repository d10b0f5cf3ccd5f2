package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"mirrorstore/internal/server"
)

// runCLI runs the root command with args and returns its output and error
// (an error is what main turns into exit status 1).
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	root := newRootCmd()
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// TestRulesLintGolden lints every configuration of the rules package's
// golden cases: the valid ones print their .lint warnings and succeed, the
// invalid ones fail with their .err text, the very error PUT ?website
// answers.
func TestRulesLintGolden(t *testing.T) {
	dir := filepath.Join("..", "..", "internal", "rules", "testdata")
	for _, sub := range []string{"valid", "invalid"} {
		files, err := filepath.Glob(filepath.Join(dir, sub, "*.xml"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no inputs in %s/%s: %v", dir, sub, err)
		}
		for _, in := range files {
			name := strings.TrimSuffix(in, ".xml")
			t.Run(sub+"/"+filepath.Base(name), func(t *testing.T) {
				out, err := runCLI(t, "rules", "lint", in)
				if sub == "invalid" {
					want, rerr := os.ReadFile(name + ".err")
					if rerr != nil {
						t.Fatal(rerr)
					}
					if err == nil || err.Error() != in+": "+strings.TrimSpace(string(want)) {
						t.Fatalf("got %v\nwant %s: %s", err, in, want)
					}
					return
				}
				if err != nil {
					t.Fatalf("lint failed: %v", err)
				}
				lint, rerr := os.ReadFile(name + ".lint")
				if rerr != nil {
					t.Fatal(rerr)
				}
				var want strings.Builder
				n := 0
				for _, w := range strings.Split(strings.TrimSpace(string(lint)), "\n") {
					if w != "" {
						want.WriteString(in + ": warning: " + w + "\n")
						n++
					}
				}
				want.WriteString(in + ": valid, " + strconv.Itoa(n) + " warning(s)\n")
				if out != want.String() {
					t.Fatalf("output:\n%s\nwant:\n%s", out, want.String())
				}
			})
		}
	}
}

// TestRulesLintExitStatus runs the built binary: 0 for a valid file (even
// with warnings), 1 for one the server would refuse or cannot read.
func TestRulesLintExitStatus(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("the go command is needed to build the binary: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "mirrorstore")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := filepath.Join("..", "..", "internal", "rules", "testdata")
	for _, tt := range []struct {
		file   string
		status int
		stdout string
		stderr string
	}{
		{filepath.Join(dir, "valid", "lint_301_on_404.xml"), 0, "warning: rule 1: a 301 on a 404-conditioned rule", ""},
		{filepath.Join(dir, "invalid", "http_redirect_code_300.xml"), 1, "", "InvalidArgument: rule 1: HttpRedirectCode is 300"},
		{filepath.Join(dir, "no-such-file.xml"), 1, "", "no such file"},
	} {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(bin, "rules", "lint", tt.file)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			status := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				status = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if status != tt.status || !strings.Contains(stdout.String(), tt.stdout) || !strings.Contains(stderr.String(), tt.stderr) {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", status, tt.status, &stdout, &stderr)
			}
		})
	}
}

const (
	explainAccessKey = "EXPLAINACCESSKEY000"
	explainSecretKey = "explain-secret-key/00000000000000000000"
)

// explainConfig has OSS fields the SDK's S3 types would drop: a Mirror
// rule with a User-Agent condition and a secondary origin, and a 404
// External redirect.
const explainConfig = `<WebsiteConfiguration><RoutingRules>
<RoutingRule><RuleNumber>1</RuleNumber>
  <Condition><KeyPrefixEquals>img/</KeyPrefixEquals>
    <IncludeHeader><Key>User-Agent</Key><Equals>app</Equals></IncludeHeader></Condition>
  <Redirect><RedirectType>Mirror</RedirectType>
    <MirrorURL>http://origin.example.com/static/</MirrorURL>
    <MirrorURLSlave>http://backup.example.com/static/</MirrorURLSlave>
    <MirrorHeaders><Pass>x-app-token</Pass></MirrorHeaders></Redirect></RoutingRule>
<RoutingRule><RuleNumber>2</RuleNumber>
  <Condition><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition>
  <Redirect><Protocol>https</Protocol><HostName>old.example.com</HostName>
    <ReplaceKeyWith>archive/${key}</ReplaceKeyWith><HttpRedirectCode>302</HttpRedirectCode></Redirect></RoutingRule>
<RoutingRule><RuleNumber>3</RuleNumber>
  <Condition><KeyPrefixEquals>go/</KeyPrefixEquals></Condition>
  <Redirect><RedirectType>Internal</RedirectType><ReplaceKeyPrefixWith>docs/</ReplaceKeyPrefixWith></Redirect></RoutingRule>
</RoutingRules></WebsiteConfiguration>`

// signedDo sends a request signed by the explain test's root credential.
func signedDo(t *testing.T, method, url, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	hash := "UNSIGNED-PAYLOAD"
	req.Header.Set("X-Amz-Content-Sha256", hash)
	creds := aws.Credentials{AccessKeyID: explainAccessKey, SecretAccessKey: explainSecretKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hash, "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestRulesExplain reads the configuration from a real server and explains
// requests without touching any origin (the origins named do not exist).
func TestRulesExplain(t *testing.T) {
	s, err := server.Start(server.Config{
		Addr:            "127.0.0.1:0",
		DataDir:         t.TempDir(),
		AccessKey:       explainAccessKey,
		SecretKey:       explainSecretKey,
		ShutdownTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	base := s.URL()
	for _, step := range []struct{ method, path, body string }{
		{"PUT", "/site", ""},
		{"PUT", "/site?website", explainConfig},
		{"PUT", "/bare", ""},
	} {
		if resp := signedDo(t, step.method, base+step.path, step.body); resp.StatusCode != 200 {
			t.Fatalf("%s %s: %s", step.method, step.path, resp.Status)
		}
	}
	host := strings.TrimPrefix(base, "http://")
	creds := []string{"--endpoint", base, "--access-key", explainAccessKey, "--secret-key", explainSecretKey}

	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"mirror on a header", []string{"--bucket", "site", "--header", "User-Agent: app", "img/a b.jpg"},
			"rule 1 (Mirror): fetch http://origin.example.com/static/img/a%20b.jpg, then http://backup.example.com/static/img/a%20b.jpg if the primary fails"},
		{"head on a mirror rule", []string{"--bucket", "site", "--header", "User-Agent:app", "--head", "img/a.jpg"},
			"rule 1 (Mirror): HEAD without MirrorAllowHeadObject: 404 NoSuchKey"},
		{"header missing: the 404 redirect", []string{"--bucket", "site", "img/a.jpg"},
			"rule 2 (External): 302 redirect to https://old.example.com/archive/img/a.jpg"},
		{"the object exists", []string{"--bucket", "site", "--status", "200", "img/a.jpg"},
			"no rule matches: the normal answer (the object, or 404 NoSuchKey)"},
		{"internal redirect keeps the endpoint and the bucket", []string{"--bucket", "site", "--status", "200", "go/x"},
			"rule 3 (Internal): 301 redirect to http://" + host + "/site/docs/x"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runCLI(t, append(append([]string{"rules", "explain"}, creds...), tt.args...)...)
			if err != nil {
				t.Fatalf("explain: %v\n%s", err, out)
			}
			if strings.TrimSpace(out) != tt.want {
				t.Fatalf("got  %s\nwant %s", strings.TrimSpace(out), tt.want)
			}
		})
	}

	// Credentials from the environment, as for every flag.
	t.Setenv("MIRRORSTORE_ACCESS_KEY", explainAccessKey)
	t.Setenv("MIRRORSTORE_SECRET_KEY", explainSecretKey)
	if out, err := runCLI(t, "rules", "explain", "--endpoint", base, "--bucket", "site", "img/a.jpg"); err != nil || !strings.Contains(out, "rule 2 (External)") {
		t.Fatalf("with credentials from the environment: %v %s", err, out)
	}

	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no configuration", []string{"--bucket", "bare", "k"}, "404 NoSuchWebsiteConfiguration"},
		{"no bucket", []string{"--bucket", "nothere", "k"}, "404 NoSuchBucket"},
		{"wrong secret", []string{"--bucket", "site", "--secret-key", "wrong", "k"}, "403 SignatureDoesNotMatch"},
		{"bad status", []string{"--bucket", "site", "--status", "418", "k"}, "use 200, 404 or 500"},
		{"bad header", []string{"--bucket", "site", "--header", "nocolon", "k"}, "want Name:Value"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runCLI(t, append([]string{"rules", "explain", "--endpoint", base}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// TestRulesLintStdin reads "-" from standard input, capped as the server
// caps a body.
func TestRulesLintStdin(t *testing.T) {
	for _, tt := range []struct {
		in, out, err string
	}{
		{"<WebsiteConfiguration><IndexDocument><Suffix>index.html</Suffix></IndexDocument></WebsiteConfiguration>", "-: valid, 0 warning(s)\n", ""},
		{"<WebsiteConfiguration>" + strings.Repeat(" ", 100<<10) + "</WebsiteConfiguration>", "", "-: InvalidArgument: the website configuration is 65537 bytes or more"},
	} {
		var out bytes.Buffer
		root := newRootCmd()
		root.SetOut(&out)
		root.SetIn(strings.NewReader(tt.in))
		root.SetArgs([]string{"rules", "lint", "-"})
		err := root.Execute()
		if tt.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
				t.Fatalf("got %v, want %s…", err, tt.err)
			}
			continue
		}
		if err != nil || out.String() != tt.out {
			t.Fatalf("got %v %q, want %q", err, out.String(), tt.out)
		}
	}
}
