package rules

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParse: the decoder and validator never panic and refuse only with
// *Error; a configuration that parses re-marshals to XML that parses to an
// equal configuration, and compiles into a matcher that answers any key.
// The seed corpus is every testdata input.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "*.xml"))
	if len(files) == 0 {
		f.Fatal("no seed inputs")
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data)
		if err != nil {
			var re *Error
			if !errors.As(err, &re) || (re.Code != CodeMalformedXML && re.Code != CodeInvalidArgument) {
				t.Fatalf("error %T %v is not a *rules.Error with a known code", err, err)
			}
			return
		}
		out, err := cfg.Marshal()
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(Marshal(cfg)): %v\n%s", err, out)
		}
		if !reflect.DeepEqual(cfg, again) {
			t.Fatalf("round trip differs:\n%#v\n%#v", cfg, again)
		}
		m := Compile(cfg)
		for _, key := range []string{"", "a", "img/x.jpg", "a/../b"} {
			res := m.Match(&Request{Key: key, Header: http.Header{"User-Agent": {"app"}}}, &countingProber{status: 404})
			switch res.Outcome {
			case OutcomeRedirect:
				_ = res.Action.Location(key, Target{Host: "h", Bucket: "b", RawQuery: "a=1"})
			case OutcomeMirror:
				_, _, _ = res.Action.OriginURLs(key, "a=1")
			}
		}
		_, _ = m.Documents(DocRequest{Key: "a", Anonymous: true}, bucketOf("a/index.html"))
	})
}
