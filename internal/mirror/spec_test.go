package mirror

import (
	"errors"
	"net/http/httptest"
	"slices"
	"testing"

	"mirrorstore/internal/rules"
)

type missing struct{}

func (missing) ProbeObject() int { return 404 }

func TestSpecFor(t *testing.T) {
	cfg, err := rules.Parse([]byte(`<WebsiteConfiguration><RoutingRules><RoutingRule>
  <RuleNumber>1</RuleNumber>
  <Condition><KeyPrefixEquals>img/</KeyPrefixEquals><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition>
  <Redirect>
    <RedirectType>Mirror</RedirectType>
    <MirrorURL>http://origin.example.com/static/</MirrorURL>
    <MirrorURLSlave>http://backup.example.com/static/</MirrorURLSlave>
    <MirrorPassQueryString>true</MirrorPassQueryString>
    <MirrorFollowRedirect>false</MirrorFollowRedirect>
    <MirrorCheckMd5>true</MirrorCheckMd5>
    <MirrorSNI>true</MirrorSNI>
    <MirrorSwitchAllErrors>true</MirrorSwitchAllErrors>
    <TransparentMirrorResponseCodes>403,503</TransparentMirrorResponseCodes>
    <MirrorHeaders>
      <PassAll>false</PassAll><Pass>x-app-token</Pass><Pass>cookie</Pass><Remove>cookie</Remove>
      <Set><Key>Host</Key><Value>www.example.com</Value></Set>
    </MirrorHeaders>
  </Redirect>
</RoutingRule></RoutingRules></WebsiteConfiguration>`))
	if err != nil {
		t.Fatal(err)
	}
	m := rules.Compile(cfg)
	r := httptest.NewRequest("GET", "/b/img/a%20b.jpg?v=1&X-Amz-Signature=s", nil)
	r.Header.Set("X-App-Token", "tok")
	r.Header.Set("Cookie", "c=1")
	r.Header.Set("Authorization", "secret")
	res := m.Match(&rules.Request{Key: "img/a b.jpg", Header: r.Header}, missing{})
	if res.Outcome != rules.OutcomeMirror {
		t.Fatalf("outcome %v", res.Outcome)
	}
	s, err := SpecFor("b", "img/a b.jpg", res.Action, r)
	if err != nil {
		t.Fatal(err)
	}
	wantURLs := []string{"http://origin.example.com/static/img/a%20b.jpg?v=1", "http://backup.example.com/static/img/a%20b.jpg?v=1"}
	if !slices.Equal(s.URLs, wantURLs) {
		t.Errorf("URLs = %q, want %q", s.URLs, wantURLs)
	}
	if s.Bucket != "b" || s.Key != "img/a b.jpg" || s.FollowRedirect || !s.CheckMD5 || !s.SNI || !s.SwitchAllErrors ||
		!slices.Equal(s.TransparentCodes, []int{403, 503}) {
		t.Errorf("spec %+v", s)
	}
	if s.Header.Get("X-App-Token") != "tok" || s.Header.Get("Cookie") != "" || s.Header.Get("Authorization") != "" ||
		s.Header.Get("Host") != "www.example.com" {
		t.Errorf("origin headers %v", s.Header)
	}

	if _, err := SpecFor("b", "img/../etc", res.Action, r); !errors.Is(err, rules.ErrKeyNotAllowedToOrigin) {
		t.Errorf("dot segment: err = %v", err)
	}
}
