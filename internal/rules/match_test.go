package rules

import (
	"net/http"
	"strings"
	"testing"
)

func mustCompile(t testing.TB, xml string) *Matcher {
	t.Helper()
	cfg, err := Parse([]byte(xml))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return Compile(cfg)
}

// countingProber answers a fixed lookup outcome and counts the calls.
type countingProber struct {
	status int
	calls  int
}

func (p *countingProber) ProbeObject() int { p.calls++; return p.status }

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

const matchConfig = `<WebsiteConfiguration><RoutingRules>
<RoutingRule><RuleNumber>60</RuleNumber><Condition><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition>
  <Redirect><HostName>fallback.example.com</HostName><HttpRedirectCode>302</HttpRedirectCode></Redirect></RoutingRule>
<RoutingRule><RuleNumber>10</RuleNumber><Condition><KeyPrefixEquals>a/</KeyPrefixEquals></Condition>
  <Redirect><HostName>a.example.com</HostName></Redirect></RoutingRule>
<RoutingRule><RuleNumber>20</RuleNumber><Condition><KeyPrefixEquals>b/</KeyPrefixEquals><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition>
  <Redirect><RedirectType>Mirror</RedirectType><MirrorURL>http://origin.example.com/</MirrorURL></Redirect></RoutingRule>
<RoutingRule><RuleNumber>30</RuleNumber><Condition><KeyPrefixEquals>h/</KeyPrefixEquals></Condition>
  <Redirect><RedirectType>Mirror</RedirectType><MirrorURL>http://origin.example.com/</MirrorURL><MirrorAllowHeadObject>true</MirrorAllowHeadObject></Redirect></RoutingRule>
<RoutingRule><RuleNumber>40</RuleNumber><Condition><KeySuffixEquals>.jpg</KeySuffixEquals>
  <IncludeHeader><Key>user-agent</Key><StartsWith>Mozilla/</StartsWith></IncludeHeader>
  <IncludeHeader><Key>X-ENV</Key><Equals>prod</Equals></IncludeHeader>
  <IncludeHeader><Key>Referer</Key><EndsWith>.example.com/</EndsWith></IncludeHeader></Condition>
  <Redirect><HostName>img.example.com</HostName><HttpRedirectCode>307</HttpRedirectCode></Redirect></RoutingRule>
<RoutingRule><RuleNumber>50</RuleNumber><Condition><HttpErrorCodeReturnedEquals>500</HttpErrorCodeReturnedEquals></Condition>
  <Redirect><HostName>status.example.com</HostName><ReplaceKeyWith>down.html</ReplaceKeyWith><HttpRedirectCode>302</HttpRedirectCode></Redirect></RoutingRule>
</RoutingRules></WebsiteConfiguration>`

func TestMatch(t *testing.T) {
	m := mustCompile(t, matchConfig)
	browser := header("User-Agent", "Mozilla/5.0", "x-env", "prod", "referer", "https://www.example.com/")
	tests := []struct {
		name    string
		key     string
		head    bool
		hdr     http.Header
		status  int // what the store answers
		outcome Outcome
		rule    int
		calls   int // lookups made
	}{
		{"prefix redirect on a miss, no lookup", "a/x", false, nil, 404, OutcomeRedirect, 10, 0},
		{"prefix redirect when the object exists", "a/x", false, nil, 200, OutcomeRedirect, 10, 0},
		{"first match wins although later rules match", "a/x.jpg", false, browser, 404, OutcomeRedirect, 10, 0},
		{"mirror on a miss", "b/x", false, nil, 404, OutcomeMirror, 20, 1},
		{"mirror rule on HEAD without MirrorAllowHeadObject", "b/x", true, nil, 404, OutcomeMirrorHeadNotFound, 20, 1},
		{"mirror rule on HEAD with MirrorAllowHeadObject", "h/x", true, nil, 404, OutcomeMirror, 30, 1},
		{"implicit 404 of a mirror rule: existing object", "h/x", false, nil, 200, OutcomeNone, 0, 1},
		{"existing object matches no error-code rule, looked up once", "b/x", false, nil, 200, OutcomeNone, 0, 1},
		{"header conditions hold, no lookup before", "c/pic.jpg", false, browser, 200, OutcomeRedirect, 40, 0},
		{"header value differs: falls through to the 404 rule", "c/pic.jpg", false,
			header("User-Agent", "Mozilla/5.0", "X-Env", "dev", "Referer", "https://www.example.com/"), 404, OutcomeRedirect, 60, 1},
		{"header missing: falls through", "c/pic.jpg", false, header("User-Agent", "Mozilla/5.0"), 404, OutcomeRedirect, 60, 1},
		{"StartsWith fails", "c/pic.jpg", false,
			header("User-Agent", "curl/8", "X-Env", "prod", "Referer", "https://www.example.com/"), 200, OutcomeNone, 0, 1},
		{"EndsWith fails", "c/pic.jpg", false,
			header("User-Agent", "Mozilla/5.0", "X-Env", "prod", "Referer", "https://evil.test/"), 200, OutcomeNone, 0, 1},
		{"store failure matches the 500 rule", "c/x", false, nil, 500, OutcomeRedirect, 50, 1},
		{"store failure on a mirror prefix skips the mirror", "b/x", false, nil, 500, OutcomeRedirect, 50, 1},
		{"miss falls to the last rule", "zzz", false, nil, 404, OutcomeRedirect, 60, 1},
		{"redirect rules act on HEAD too", "zzz", true, nil, 404, OutcomeRedirect, 60, 1},
		{"no rule: normal answer", "c/x", false, nil, 200, OutcomeNone, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &countingProber{status: tt.status}
			res := m.Match(&Request{Key: tt.key, Header: tt.hdr, Head: tt.head}, p)
			if res.Outcome != tt.outcome {
				t.Errorf("outcome %v, want %v", res.Outcome, tt.outcome)
			}
			got := 0
			if res.Action != nil {
				got = res.Action.RuleNumber
			}
			if got != tt.rule {
				t.Errorf("rule %d, want %d", got, tt.rule)
			}
			if p.calls != tt.calls {
				t.Errorf("%d lookups, want %d", p.calls, tt.calls)
			}
			if wantStatus := map[bool]int{true: tt.status, false: 0}[tt.calls > 0]; res.Status != wantStatus {
				t.Errorf("Result.Status %d, want %d", res.Status, wantStatus)
			}
		})
	}
}

func TestMatchWithoutErrorCodeRulesNeedsNoProber(t *testing.T) {
	m := mustCompile(t, `<WebsiteConfiguration><RoutingRules><RoutingRule><Condition><KeyPrefixEquals>docs/</KeyPrefixEquals></Condition>
		<Redirect><ReplaceKeyPrefixWith>documents/</ReplaceKeyPrefixWith></Redirect></RoutingRule></RoutingRules></WebsiteConfiguration>`)
	if res := m.Match(&Request{Key: "docs/a"}, nil); res.Outcome != OutcomeRedirect || res.Action.RuleNumber != 1 {
		t.Fatalf("got %+v", res)
	}
	if res := m.Match(&Request{Key: "img/a"}, nil); res.Outcome != OutcomeNone {
		t.Fatalf("got %+v", res)
	}
}

func TestMatchZeroProbeIsStoreFailure(t *testing.T) {
	m := mustCompile(t, matchConfig)
	res := m.Match(&Request{Key: "c/x"}, &countingProber{status: 0})
	if res.Action == nil || res.Action.RuleNumber != 50 || res.Status != 500 {
		t.Fatalf("got %+v, want rule 50 with status 500", res)
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	m := mustCompile(t, matchConfig)
	req := &Request{Key: "c/pic.jpg", Header: header("User-Agent", "Mozilla/5.0", "X-Env", "dev")}
	p := &countingProber{status: 404}
	if n := testing.AllocsPerRun(100, func() { m.Match(req, p) }); n != 0 {
		t.Fatalf("Match allocates %v times per call", n)
	}
}

func TestCompileCopiesConfig(t *testing.T) {
	cfg, err := Parse([]byte(matchConfig))
	if err != nil {
		t.Fatal(err)
	}
	m := Compile(cfg)
	*cfg.Rules[0].Condition.KeyPrefixEquals = "zz/"
	*cfg.Rules[0].Redirect.HostName = "changed.example.com"
	res := m.Match(&Request{Key: "a/x"}, nil)
	if res.Action == nil || res.Action.HostName != "a.example.com" {
		t.Fatalf("the matcher changed with its configuration: %+v", res.Action)
	}
}

func TestMirrorActionDefaults(t *testing.T) {
	m := mustCompile(t, `<WebsiteConfiguration><RoutingRules><RoutingRule><RuleNumber>1</RuleNumber>
		<Redirect><RedirectType>Mirror</RedirectType><MirrorURL>http://o.example.com/</MirrorURL><PassQueryString>true</PassQueryString>
		<TransparentMirrorResponseCodes>403,502</TransparentMirrorResponseCodes>
		<MirrorHeaders><Pass>x-app-token</Pass><Remove>COOKIE</Remove><Set><Key>host</Key><Value>www.example.com</Value></Set></MirrorHeaders>
		</Redirect></RoutingRule></RoutingRules></WebsiteConfiguration>`)
	res := m.Match(&Request{Key: "k"}, &countingProber{status: 404})
	ma := res.Action.Mirror
	if ma == nil || !ma.FollowRedirect || ma.CheckMD5 || ma.AllowHead || !ma.PassQueryString || ma.PassAllHeaders {
		t.Fatalf("defaults not applied: %+v", ma)
	}
	if !ma.Transparent(502) || ma.Transparent(404) {
		t.Errorf("Transparent: %v", ma.TransparentCodes)
	}
	if strings.Join(ma.PassHeaders, ",") != "X-App-Token" || strings.Join(ma.RemoveHeaders, ",") != "Cookie" ||
		len(ma.SetHeaders) != 1 || ma.SetHeaders[0] != (HeaderValue{"Host", "www.example.com"}) {
		t.Errorf("header policy not canonical: %+v", ma)
	}
}
