package rules

import (
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
)

func TestExplain(t *testing.T) {
	data, err := os.ReadFile("testdata/valid/spec_example.xml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	app := http.Header{"User-Agent": {"app"}}
	tests := []struct {
		name string
		q    ExplainRequest
		want string
	}{
		{"mirror on a miss", ExplainRequest{Key: "img/a b.jpg", Header: app},
			"rule 1 (Mirror): fetch http://origin.example.com/static/img/a%20b.jpg, then http://backup.example.com/static/img/a%20b.jpg if the primary fails"},
		{"HEAD on a mirror rule", ExplainRequest{Key: "img/a.jpg", Header: app, Head: true},
			"rule 1 (Mirror): HEAD without MirrorAllowHeadObject: 404 NoSuchKey"},
		{"header missing: the redirect", ExplainRequest{Key: "img/a.jpg", Target: Target{Host: "h", RawQuery: "x=1&X-Amz-Date=2"}},
			"rule 2 (External): 302 redirect to https://old.example.com/archive/img/a.jpg?x=1"},
		{"existing object", ExplainRequest{Key: "img/a.jpg", Status: 200}, "no rule matches: the normal answer (the object, or 404 NoSuchKey)"},
		{"refused key", ExplainRequest{Key: "img/../a.jpg", Header: app}, "rule 1 (Mirror): refused: key not allowed to origin (424)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Explain(cfg, tt.q).String(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	if e := Explain(cfg, ExplainRequest{Key: "img/../a.jpg", Header: app}); !errors.Is(e.Err, ErrKeyNotAllowedToOrigin) {
		t.Errorf("Err = %v", e.Err)
	}
}

func TestLintWarnsOnDefault301(t *testing.T) {
	w, err := Lint([]byte(`<WebsiteConfiguration><RoutingRules><RoutingRule><Condition><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition>
		<Redirect><HostName>old.example.com</HostName></Redirect></RoutingRule></RoutingRules></WebsiteConfiguration>`))
	if err != nil {
		t.Fatal(err)
	}
	if len(w) != 1 || !strings.Contains(w[0], "302") || !strings.HasPrefix(w[0], "rule 1:") {
		t.Fatalf("warnings %q", w)
	}
	w, err = Lint([]byte(`<WebsiteConfiguration><RoutingRules><RoutingRule><Condition><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition>
		<Redirect><HostName>old.example.com</HostName><HttpRedirectCode>302</HttpRedirectCode></Redirect></RoutingRule></RoutingRules></WebsiteConfiguration>`))
	if err != nil || len(w) != 0 {
		t.Fatalf("warnings %q, err %v", w, err)
	}
}
