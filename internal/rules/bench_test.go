package rules

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// benchConfig has 20 rules, each with a prefix, a suffix and three
// IncludeHeader conditions, all sharing prefix and suffix so that every rule
// is tested to its last header.
func benchConfig(b *testing.B) *Matcher {
	var sb strings.Builder
	sb.WriteString("<WebsiteConfiguration><RoutingRules>")
	for i := 1; i <= 20; i++ {
		fmt.Fprintf(&sb, `<RoutingRule><RuleNumber>%d</RuleNumber><Condition>
			<KeyPrefixEquals>static/</KeyPrefixEquals><KeySuffixEquals>.jpg</KeySuffixEquals>
			<IncludeHeader><Key>User-Agent</Key><StartsWith>Mozilla/</StartsWith></IncludeHeader>
			<IncludeHeader><Key>Referer</Key><EndsWith>.example.com/</EndsWith></IncludeHeader>
			<IncludeHeader><Key>X-Tenant</Key><Equals>t%d</Equals></IncludeHeader>
			<HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition>
			<Redirect><RedirectType>Mirror</RedirectType><MirrorURL>http://origin.example.com/</MirrorURL></Redirect></RoutingRule>`, i, i)
	}
	sb.WriteString("</RoutingRules></WebsiteConfiguration>")
	return mustCompile(b, sb.String())
}

func BenchmarkMatch(b *testing.B) {
	m := benchConfig(b)
	h := http.Header{}
	h.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64)")
	h.Set("Referer", "https://www.example.com/")
	h.Set("Accept", "image/*")
	h.Set("Cookie", "a=b")
	for _, bc := range []struct {
		name, tenant string
		rule         int
	}{{"last-rule-matches", "t20", 20}, {"no-rule-matches", "t99", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			h := h.Clone()
			h.Set("X-Tenant", bc.tenant)
			req := &Request{Key: "static/photos/2024/cat.jpg", Header: h}
			p := &countingProber{status: 404}
			if res := m.Match(req, p); (res.Action == nil && bc.rule != 0) || (res.Action != nil && res.Action.RuleNumber != bc.rule) {
				b.Fatalf("matched %+v, want rule %d", res, bc.rule)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				m.Match(req, p)
			}
		})
	}
}
