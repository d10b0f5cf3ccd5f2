package rules

import (
	"errors"
	"testing"
)

// fakeBucket is an Exister over a set of keys; it counts probes.
type fakeBucket struct {
	keys  map[string]bool
	fail  string // a key whose probe fails
	calls int
}

var errStore = errors.New("store down")

func (b *fakeBucket) Exists(key string) (bool, error) {
	b.calls++
	if key == b.fail {
		return false, errStore
	}
	return b.keys[key], nil
}

func bucketOf(keys ...string) *fakeBucket {
	b := &fakeBucket{keys: map[string]bool{}}
	for _, k := range keys {
		b.keys[k] = true
	}
	return b
}

func website(t *testing.T, index, errDoc string) *Matcher {
	return mustCompile(t, "<WebsiteConfiguration>"+index+errDoc+"</WebsiteConfiguration>")
}

func TestDocuments(t *testing.T) {
	const (
		sub0  = "<IndexDocument><Suffix>index.html</Suffix><SupportSubDir>true</SupportSubDir></IndexDocument>"
		sub1  = "<IndexDocument><Suffix>index.html</Suffix><SupportSubDir>true</SupportSubDir><Type>1</Type></IndexDocument>"
		sub2  = "<IndexDocument><Suffix>index.html</Suffix><SupportSubDir>true</SupportSubDir><Type>2</Type></IndexDocument>"
		root  = "<IndexDocument><Suffix>index.html</Suffix></IndexDocument>"
		err   = "<ErrorDocument><Key>error.html</Key></ErrorDocument>"
		err20 = "<ErrorDocument><Key>error.html</Key><HttpStatus>200</HttpStatus></ErrorDocument>"
	)
	all := []string{"index.html", "dir/index.html", "dir/x", "error.html"}
	tests := []struct {
		name        string
		index, errd string
		req         DocRequest
		keys        []string
		want        DocDecision
	}{
		{"signed requests are untouched", sub0, err, DocRequest{Key: "", Anonymous: false}, all, DocDecision{}},
		{"existing key is untouched", sub0, err, DocRequest{Key: "dir/x", Anonymous: true}, all, DocDecision{}},
		{"root serves the index", sub0, err, DocRequest{Key: "", Anonymous: true}, all,
			DocDecision{Action: DocServe, Key: "index.html", Status: 200}},
		{"sub-directory serves its index", sub0, err, DocRequest{Key: "dir/", Anonymous: true}, all,
			DocDecision{Action: DocServe, Key: "dir/index.html", Status: 200}},
		{"SupportSubDir false serves the root index", root, err, DocRequest{Key: "dir/", Anonymous: true}, all,
			DocDecision{Action: DocServe, Key: "index.html", Status: 200}},
		{"missing sub-directory index falls to the error document", sub0, err, DocRequest{Key: "other/", Anonymous: true}, all,
			DocDecision{Action: DocErrorDocument, Key: "error.html", Status: 404}},
		{"Type 0 redirects to the directory", sub0, err, DocRequest{Key: "dir", Anonymous: true}, all,
			DocDecision{Action: DocRedirect, Location: "/dir/", Status: 302}},
		{"Type 0 path-style keeps the bucket and encodes", sub0, err, DocRequest{Key: "a b", Anonymous: true, Bucket: "bkt"},
			[]string{"a b/index.html"}, DocDecision{Action: DocRedirect, Location: "/bkt/a%20b/", Status: 302}},
		{"Type 0 without the directory index is a 404", sub0, err, DocRequest{Key: "nodir", Anonymous: true}, all,
			DocDecision{Action: DocErrorDocument, Key: "error.html", Status: 404}},
		{"Type 1 is a 404", sub1, err, DocRequest{Key: "dir", Anonymous: true}, all,
			DocDecision{Action: DocErrorDocument, Key: "error.html", Status: 404}},
		{"Type 2 serves the directory index", sub2, err, DocRequest{Key: "dir", Anonymous: true}, all,
			DocDecision{Action: DocServe, Key: "dir/index.html", Status: 200}},
		{"SupportSubDir false: a key without slash is a 404", root, err, DocRequest{Key: "dir", Anonymous: true}, all,
			DocDecision{Action: DocErrorDocument, Key: "error.html", Status: 404}},
		{"error document with HttpStatus 200", "", err20, DocRequest{Key: "missing", Anonymous: true}, all,
			DocDecision{Action: DocErrorDocument, Key: "error.html", Status: 200}},
		{"missing error document is a plain 404", sub0, err, DocRequest{Key: "missing", Anonymous: true}, []string{"index.html"},
			DocDecision{Action: DocNotFound, Status: 404}},
		{"no error document is a plain 404", sub1, "", DocRequest{Key: "dir", Anonymous: true}, all,
			DocDecision{Action: DocNotFound, Status: 404}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bucketOf(tt.keys...)
			got, err := website(t, tt.index, tt.errd).Documents(tt.req, b)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if b.calls > 4 {
				t.Errorf("%d probes", b.calls)
			}
		})
	}
}

func TestDocumentsStoreFailure(t *testing.T) {
	m := website(t, "<IndexDocument><Suffix>index.html</Suffix></IndexDocument>", "<ErrorDocument><Key>error.html</Key></ErrorDocument>")
	for _, fail := range []string{"k", "error.html"} {
		b := bucketOf()
		b.fail = fail
		if _, err := m.Documents(DocRequest{Key: "k", Anonymous: true}, b); !errors.Is(err, errStore) {
			t.Errorf("failing probe of %q: err %v", fail, err)
		}
	}
}
