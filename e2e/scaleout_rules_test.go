package e2e

import (
	"net/http"
	"testing"
	"time"
)

// configCacheTTL is how long a node trusts a bucket's configuration
// (website rules, ACL, policy) read from the backend before reading it
// again: s3api.Config.ACLCacheTTL's default, the bound docs/deploy.md
// promises for a change made through another node.
const configCacheTTL = 5 * time.Second

// propagationSlack covers the requests themselves and the poll interval.
const propagationSlack = 1500 * time.Millisecond

// waitFor polls check every 50 ms until it holds, failing the
// test if that takes longer than bound after since. It returns how long it
// took.
func waitFor(t *testing.T, what string, since time.Time, bound time.Duration, check func() (bool, string)) time.Duration {
	t.Helper()
	for {
		ok, state := check()
		took := time.Since(since)
		if ok {
			t.Logf("%s after %s", what, took.Round(time.Millisecond))
			return took
		}
		if took > bound {
			t.Fatalf("%s: still %s %s after the change, want within %s", what, state, took.Round(time.Millisecond), bound)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestScaleOutRulesPropagate: a website configuration PUT through node A
// governs GETs on node B within the configuration cache's TTL (B had read
// "no configuration" just before), and so does its DELETE; a bucket made
// public through A is readable anonymously through B within the same
// bound. Node A, which made each change, obeys it at once.
func TestScaleOutRulesPropagate(t *testing.T) {
	cluster, _ := startMinioCluster(t)
	a, b := startNode(t, cluster), startNode(t, cluster)
	for _, n := range []*testServer{a, b} {
		n.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	if r := a.signed(t, http.MethodPut, "/rules", nil); r.status != http.StatusOK {
		t.Fatalf("create bucket: %d %s", r.status, r.body)
	}
	if r := a.signed(t, http.MethodPut, "/rules/old/page", []byte("stored")); r.status != http.StatusOK {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}
	status := func(n *testServer) reply { return n.signed(t, http.MethodGet, "/rules/old/page", nil) }
	// B reads (and caches) the bucket's absent configuration.
	if r := status(b); r.status != http.StatusOK || string(r.body) != "stored" {
		t.Fatalf("GET through B before the rules: %d %q", r.status, r.body)
	}

	rule := `<RoutingRule><RuleNumber>1</RuleNumber><Condition><KeyPrefixEquals>old/</KeyPrefixEquals></Condition>
<Redirect><RedirectType>External</RedirectType><Protocol>https</Protocol><HostName>new.example.com</HostName><HttpRedirectCode>302</HttpRedirectCode></Redirect></RoutingRule>`
	a.putWebsite(t, "rules", rule)
	put := time.Now()
	const location = "https://new.example.com/old/page"
	if r := status(a); r.status != http.StatusFound || r.header.Get("Location") != location {
		t.Fatalf("GET through A right after its PUT ?website: %d %q", r.status, r.header.Get("Location"))
	}
	waitFor(t, "B redirects", put, configCacheTTL+propagationSlack, func() (bool, string) {
		r := status(b)
		return r.status == http.StatusFound && r.header.Get("Location") == location, http.StatusText(r.status)
	})

	if r := a.signed(t, http.MethodDelete, "/rules?website", nil); r.status != http.StatusNoContent {
		t.Fatalf("DELETE ?website: %d %s", r.status, r.body)
	}
	deleted := time.Now()
	if r := status(a); r.status != http.StatusOK {
		t.Fatalf("GET through A right after its DELETE ?website: %d", r.status)
	}
	waitFor(t, "B serves the object again", deleted, configCacheTTL+propagationSlack, func() (bool, string) {
		r := status(b)
		return r.status == http.StatusOK && string(r.body) == "stored", http.StatusText(r.status)
	})

	// Access facts share the cache and its bound.
	anon := func(n *testServer) int { return n.get(t, "/rules/old/page").status }
	if s := anon(b); s != http.StatusForbidden {
		t.Fatalf("anonymous GET through B of a private bucket: %d", s)
	}
	if r := a.signed(t, http.MethodPut, "/rules?acl", nil, "x-amz-acl", "public-read"); r.status != http.StatusOK {
		t.Fatalf("PUT ?acl: %d %s", r.status, r.body)
	}
	public := time.Now()
	if s := anon(a); s != http.StatusOK {
		t.Fatalf("anonymous GET through A right after its PUT ?acl: %d", s)
	}
	waitFor(t, "B serves anonymous readers", public, configCacheTTL+propagationSlack, func() (bool, string) {
		s := anon(b)
		return s == http.StatusOK, http.StatusText(s)
	})
}
