package rules

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// checkGolden compares got with the file at path, or rewrites the file
// with -update.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func inputs(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.xml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test inputs in testdata/%s: %v", dir, err)
	}
	return files
}

// TestGoldenValid parses each valid configuration and compares GET
// ?website's answer (<name>.golden) and the lint warnings (<name>.lint).
// The canonical output must itself parse to the same configuration and
// marshal to the same bytes.
func TestGoldenValid(t *testing.T) {
	for _, in := range inputs(t, "valid") {
		name := strings.TrimSuffix(in, ".xml")
		t.Run(filepath.Base(name), func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := Parse(data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			out, err := cfg.Marshal()
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			checkGolden(t, name+".golden", out)
			again, err := Parse(out)
			if err != nil {
				t.Fatalf("Parse(Marshal): %v", err)
			}
			if !reflect.DeepEqual(cfg, again) {
				t.Errorf("Parse(Marshal(cfg)) differs from cfg:\n%#v\n%#v", cfg, again)
			}
			out2, _ := again.Marshal()
			if !bytes.Equal(out, out2) {
				t.Errorf("Marshal is not stable:\n%s\n%s", out, out2)
			}
			warnings, err := Lint(data)
			if err != nil {
				t.Fatalf("Lint: %v", err)
			}
			var lint bytes.Buffer
			for _, w := range warnings {
				lint.WriteString(w + "\n")
			}
			checkGolden(t, name+".lint", lint.Bytes())
		})
	}
}

// TestGoldenInvalid checks that each invalid configuration is refused with
// the code and message in <name>.err ("Code: Message").
func TestGoldenInvalid(t *testing.T) {
	for _, in := range inputs(t, "invalid") {
		name := strings.TrimSuffix(in, ".xml")
		t.Run(filepath.Base(name), func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := Parse(data)
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", cfg)
			}
			var re *Error
			if !errors.As(err, &re) {
				t.Fatalf("error %T %v is not *rules.Error", err, err)
			}
			if re.Code != CodeMalformedXML && re.Code != CodeInvalidArgument {
				t.Fatalf("code %q", re.Code)
			}
			if _, lerr := Lint(data); lerr == nil || lerr.Error() != err.Error() {
				t.Errorf("Lint error %v, want the validator's %v", lerr, err)
			}
			checkGolden(t, name+".err", []byte(re.Error()+"\n"))
		})
	}
}

func TestParseBodyTooLarge(t *testing.T) {
	const head = "<WebsiteConfiguration><IndexDocument><Suffix>index.html</Suffix></IndexDocument><!--"
	const tail = "--></WebsiteConfiguration>"
	body := func(n int) []byte {
		return []byte(head + strings.Repeat("x", n-len(head)-len(tail)) + tail)
	}
	_, err := Parse(body(MaxBodySize + 1))
	want := "InvalidArgument: the website configuration is 65537 bytes or more; at most 65536 bytes are accepted"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	if _, err := Parse(body(MaxBodySize)); err != nil {
		t.Fatalf("a body of exactly %d bytes: %v", MaxBodySize, err)
	}
}
