package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestParsePolicyMalformed(t *testing.T) {
	const b = "site"
	stmt := func(s string) string { return `{"Version":"2012-10-17","Statement":[` + s + `]}` }
	for _, tt := range []struct {
		name, doc, want string
	}{
		{"not JSON", `Version: 1`, "not a JSON object"},
		{"a list", `[]`, "not a JSON object"},
		{"trailing data", `{"Statement":[]} {}`, "data after"},
		{"too large", `{"Id":"` + strings.Repeat("x", MaxPolicySize) + `"}`, "at most 20480"},
		{"unknown element", `{"Version":"2012-10-17","Foo":1,"Statement":[]}`, `unsupported policy element "Foo"`},
		{"old version", `{"Version":"2010-01-01","Statement":[]}`, "Version must be"},
		{"no statement", `{"Version":"2012-10-17"}`, "no Statement"},
		{"empty statements", `{"Version":"2012-10-17","Statement":[]}`, "no Statement"},
		{"statement not object", stmt(`"x"`), "Statement must be"},
		{"null statement", stmt(`null`), "must be a JSON object"},
		{"condition", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*","Condition":{}}`), `unsupported element "Condition"`},
		{"not action", stmt(`{"Effect":"Allow","Principal":"*","NotAction":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}`), `unsupported element "NotAction"`},
		{"no effect", stmt(`{"Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}`), "Effect must be"},
		{"bad effect", stmt(`{"Effect":"Permit","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}`), `not "Permit"`},
		{"no principal", stmt(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}`), "Principal is missing"},
		{"principal string", stmt(`{"Effect":"Allow","Principal":"bob","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}`), `Principal must be "*"`},
		{"principal service", stmt(`{"Effect":"Allow","Principal":{"Service":"logs.amazonaws.com"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}`), `Principal type "Service"`},
		{"principal role", stmt(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:role/x"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}`), "unsupported Principal"},
		{"principal wildcard", stmt(`{"Effect":"Allow","Principal":{"AWS":["AK*"]},"Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}`), "unsupported Principal"},
		{"principal empty list", stmt(`{"Effect":"Allow","Principal":{"AWS":[]},"Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}`), "Principal AWS is empty"},
		{"no action", stmt(`{"Effect":"Allow","Principal":"*","Resource":"arn:aws:s3:::site/*"}`), "Action is missing"},
		{"action number", stmt(`{"Effect":"Allow","Principal":"*","Action":3,"Resource":"arn:aws:s3:::site/*"}`), "Action must be a string"},
		{"put object", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::site/*"}`), `unsupported Action "s3:PutObject"`},
		{"all actions", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::site/*"}`), `unsupported Action "s3:*"`},
		{"no resource", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}`), "Resource is missing"},
		{"empty resource", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":""}`), "Resource is empty"},
		{"other bucket", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}`), "not in this bucket"},
		{"bucket prefix lookalike", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site2/*"}`), "not in this bucket"},
		{"not s3", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}`), `unsupported Resource "*"`},
		{"inner wildcard", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*.html"}`), "only at the end"},
		{"question mark", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/a?"}`), "only at the end"},
		{"get on bucket", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site"}`), "only used by s3:ListBucket"},
		{"list on objects", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::site/*"}`), "only used by s3:GetObject"},
		{"get without object resource", stmt(`{"Effect":"Allow","Principal":"*","Action":["s3:GetObject","s3:ListBucket"],"Resource":"arn:aws:s3:::site"}`), "needs an object Resource"},
		{"list without bucket resource", stmt(`{"Effect":"Allow","Principal":"*","Action":["s3:GetObject","s3:ListBucket"],"Resource":"arn:aws:s3:::site/*"}`), "needs the bucket Resource"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePolicy(b, []byte(tt.doc))
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, %v; want a PolicyError", p, err)
			}
			if !strings.Contains(pe.Message, tt.want) {
				t.Fatalf("message %q does not say %q", pe.Message, tt.want)
			}
		})
	}
}

func TestPolicyGrants(t *testing.T) {
	doc := `{
	  "Version": "2012-10-17",
	  "Id": "site",
	  "Statement": [
	    {"Sid": "public pages", "Effect": "Allow", "Principal": {"AWS": "*"},
	     "Action": "s3:GetObject", "Resource": ["arn:aws:s3:::site/pub/*", "arn:aws:s3:::site/index.html"]},
	    {"Effect": "Deny", "Principal": "*", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::site/pub/secret*"},
	    {"Effect": "Allow", "Principal": {"AWS": ["BOBKEY", "arn:aws:iam::123456789012:user/CAROLKEY"]},
	     "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": ["arn:aws:s3:::site", "arn:aws:s3:::site/*"]}
	  ]
	}`
	p, err := ParsePolicy("site", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		principal, action, key string
		want                   int
	}{
		{"", ActionGetObject, "pub/a.html", 1},
		{"", ActionGetObject, "pub/", 1},
		{"", ActionGetObject, "pub", 0},
		{"", ActionGetObject, "index.html", 1},
		{"", ActionGetObject, "index.html.bak", 0},
		{"", ActionGetObject, "private/a", 0},
		{"", ActionGetObject, "pub/secret.txt", -1},
		{"", ActionListBucket, "", 0},
		{"ALICEKEY", ActionGetObject, "pub/a.html", 1},
		{"ALICEKEY", ActionGetObject, "private/a", 0},
		{"ALICEKEY", ActionListBucket, "", 0},
		{"BOBKEY", ActionGetObject, "private/a", 1},
		{"BOBKEY", ActionListBucket, "", 1},
		{"BOBKEY", ActionGetObject, "pub/secret.txt", -1},
		{"CAROLKEY", ActionListBucket, "", 1},
		{"123456789012", ActionListBucket, "", 0},
		{"BOBKEY", "s3:PutObject", "x", 0},
	} {
		if got := p.Decide(tt.principal, tt.action, tt.key); got != tt.want {
			t.Errorf("Decide(%q, %s, %q) = %d, want %d", tt.principal, tt.action, tt.key, got, tt.want)
		}
		if got := p.Allows(tt.principal, tt.action, tt.key); got != (tt.want > 0) {
			t.Errorf("Allows(%q, %s, %q) = %v", tt.principal, tt.action, tt.key, got)
		}
	}
	var none *Policy
	if none.Allows("", ActionGetObject, "x") {
		t.Error("a nil policy grants")
	}
}

func TestParsePolicyForms(t *testing.T) {
	for _, doc := range []string{
		// One statement as an object, old version, list and bucket.
		`{"Version":"2008-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::site"}}`,
		// No version at all, as S3 accepts.
		`{"Statement":[{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":"s3:ListBucket","Resource":["arn:aws:s3:::site"]}]}`,
	} {
		p, err := ParsePolicy("site", []byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		if !p.Allows("", ActionListBucket, "") || p.Allows("", ActionGetObject, "k") {
			t.Errorf("%s: wrong grants", doc)
		}
	}
}

// FuzzParsePolicy checks that no document panics the parser and that a
// policy that compiles never grants an action it does not know.
func FuzzParsePolicy(f *testing.F) {
	f.Add(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/pub/*"}]}`)
	f.Add(`{"Statement":{"Effect":"Deny","Principal":{"AWS":["K"]},"Action":["s3:ListBucket"],"Resource":"arn:aws:s3:::site"}}`)
	f.Add(`{"Statement":[null]}`)
	f.Fuzz(func(t *testing.T, doc string) {
		p, err := ParsePolicy("site", []byte(doc))
		if err != nil {
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a PolicyError", err)
			}
			return
		}
		if p.Allows("", "s3:PutObject", "k") || p.Allows("K", "s3:DeleteObject", "k") {
			t.Fatal("an unknown action was granted")
		}
	})
}
