package rules

import (
	"errors"
	"strings"
	"testing"
)

func ruleAction(t *testing.T, cond, redirect string) *Action {
	t.Helper()
	xml := "<WebsiteConfiguration><RoutingRules><RoutingRule><RuleNumber>1</RuleNumber>"
	if cond != "" {
		xml += "<Condition>" + cond + "</Condition>"
	}
	xml += "<Redirect>" + redirect + "</Redirect></RoutingRule></RoutingRules></WebsiteConfiguration>"
	m := mustCompile(t, xml)
	return m.rules[0].action
}

func TestLocation(t *testing.T) {
	vhost := Target{Scheme: "http", Host: "site.example.com"}
	path := Target{Scheme: "https", Host: "s3.local:9000", Bucket: "bkt"}
	tests := []struct {
		name, cond, redirect, key string
		target                    Target
		want                      string
	}{
		{"key as is", "", "<HostName>new.example.com</HostName>", "a/b.html", vhost,
			"http://new.example.com/a/b.html"},
		{"special characters", "", "<HostName>new.example.com</HostName>", "a b+c%d?e#f&g=h;i", vhost,
			"http://new.example.com/a%20b%2Bc%25d%3Fe%23f%26g%3Dh%3Bi"},
		{"unicode", "", "<HostName>new.example.com</HostName>", "日本/ü.txt", vhost,
			"http://new.example.com/%E6%97%A5%E6%9C%AC/%C3%BC.txt"},
		{"double slash kept", "", "<HostName>new.example.com</HostName>", "a//b/", vhost,
			"http://new.example.com/a//b/"},
		{"protocol given", "", "<Protocol>https</Protocol><HostName>new.example.com</HostName>", "k", vhost,
			"https://new.example.com/k"},
		{"request's protocol and host", "", "<ReplaceKeyWith>moved.html</ReplaceKeyWith>", "k", vhost,
			"http://site.example.com/moved.html"},
		{"path-style keeps the bucket without HostName", "", "<ReplaceKeyWith>moved.html</ReplaceKeyWith>", "k", path,
			"https://s3.local:9000/bkt/moved.html"},
		{"path-style with HostName drops the bucket", "", "<HostName>new.example.com</HostName>", "k", path,
			"https://new.example.com/k"},
		{"Internal uses the request's host and keeps the bucket", "<KeyPrefixEquals>old/</KeyPrefixEquals>",
			"<RedirectType>Internal</RedirectType><ReplaceKeyPrefixWith>new/</ReplaceKeyPrefixWith>", "old/x y", path,
			"https://s3.local:9000/bkt/new/x%20y"},
		{"ReplaceKeyWith with ${key}", "", "<HostName>h.example.com</HostName><ReplaceKeyWith>archive/${key}?v=${key}</ReplaceKeyWith>", "a b", vhost,
			"http://h.example.com/archive/a%20b%3Fv%3Da%20b"},
		{"S3 prefix change docs/ to documents/", "<KeyPrefixEquals>docs/</KeyPrefixEquals>",
			"<ReplaceKeyPrefixWith>documents/</ReplaceKeyPrefixWith>", "docs/a/b.html", vhost,
			"http://site.example.com/documents/a/b.html"},
		{"ReplaceKeyPrefixWith applies with EnableReplacePrefix false", "<KeyPrefixEquals>docs/</KeyPrefixEquals>",
			"<ReplaceKeyPrefixWith>d/</ReplaceKeyPrefixWith><EnableReplacePrefix>false</EnableReplacePrefix>", "docs/x", vhost,
			"http://site.example.com/d/x"},
		{"EnableReplacePrefix without a replacement strips the prefix", "<KeyPrefixEquals>docs/</KeyPrefixEquals>",
			"<EnableReplacePrefix>true</EnableReplacePrefix>", "docs/x", vhost,
			"http://site.example.com/x"},
		{"empty ReplaceKeyPrefixWith strips the prefix", "<KeyPrefixEquals>docs/</KeyPrefixEquals>",
			"<ReplaceKeyPrefixWith></ReplaceKeyPrefixWith>", "docs/x", vhost,
			"http://site.example.com/x"},
		{"prefix replacement without KeyPrefixEquals prepends", "",
			"<ReplaceKeyPrefixWith>report-404/</ReplaceKeyPrefixWith><HostName>ec2.example.com</HostName>", "a.html", vhost,
			"http://ec2.example.com/report-404/a.html"},
		{"query passed minus S3 auth", "", "<HostName>h.example.com</HostName><PassQueryString>true</PassQueryString>", "k",
			Target{Host: "x", RawQuery: "a=1&X-Amz-Signature=abc&b=%20two&x-amz-date=20240101T000000Z&X-Amz-Credential=c&response-content-type=text%2Fplain"},
			"http://h.example.com/k?a=1&b=%20two&response-content-type=text%2Fplain"},
		{"V2 presigned parameters dropped", "", "<HostName>h.example.com</HostName><PassQueryString>true</PassQueryString>", "k",
			Target{Host: "x", RawQuery: "AWSAccessKeyId=AK&Expires=1700000000&Signature=s%3D&c=3"},
			"http://h.example.com/k?c=3"},
		{"Expires kept without a signature", "", "<HostName>h.example.com</HostName><PassQueryString>true</PassQueryString>", "k",
			Target{Host: "x", RawQuery: "Expires=5&c=3"},
			"http://h.example.com/k?Expires=5&c=3"},
		{"only auth parameters: no question mark", "", "<HostName>h.example.com</HostName><PassQueryString>true</PassQueryString>", "k",
			Target{Host: "x", RawQuery: "X-Amz-Algorithm=AWS4-HMAC-SHA256"},
			"http://h.example.com/k"},
		{"query not passed by default", "", "<HostName>h.example.com</HostName>", "k",
			Target{Host: "x", RawQuery: "a=1"}, "http://h.example.com/k"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := ruleAction(t, tt.cond, tt.redirect)
			if got := a.Location(tt.key, tt.target); got != tt.want {
				t.Errorf("Location = %s\nwant       %s", got, tt.want)
			}
		})
	}
}

func TestRedirectStatusAndBody(t *testing.T) {
	if a := ruleAction(t, "", "<HostName>h.example.com</HostName>"); a.StatusCode != 301 {
		t.Errorf("default status %d, want 301", a.StatusCode)
	}
	if a := ruleAction(t, "", "<HostName>h.example.com</HostName><HttpRedirectCode>307</HttpRedirectCode>"); a.StatusCode != 307 {
		t.Errorf("status %d, want 307", a.StatusCode)
	}
	body := RedirectBody(302, `http://h.example.com/a"<b>?x=1&y=2`)
	for _, want := range []string{"302 Found", `href="http://h.example.com/a&#34;&lt;b&gt;?x=1&amp;y=2"`} {
		if !strings.Contains(body, want) {
			t.Errorf("body %q lacks %q", body, want)
		}
	}
}

func TestOriginURLs(t *testing.T) {
	const mirror = "<RedirectType>Mirror</RedirectType><MirrorURL>http://origin.example.com/static/</MirrorURL>"
	tests := []struct {
		name, cond, redirect, key, query string
		primary, slave                   string
		err                              error
	}{
		{"key appended", "", mirror, "img/a b+c.jpg", "", "http://origin.example.com/static/img/a%20b%2Bc.jpg", "", nil},
		{"special and unicode", "", mirror, "x%y?z#w/日本//", "", "http://origin.example.com/static/x%25y%3Fz%23w/%E6%97%A5%E6%9C%AC//", "", nil},
		{"slave too", "", mirror + "<MirrorURLSlave>https://backup.example.com/</MirrorURLSlave>", "k", "",
			"http://origin.example.com/static/k", "https://backup.example.com/k", nil},
		{"prefix replaced", "<KeyPrefixEquals>img/</KeyPrefixEquals>", mirror + "<ReplaceKeyPrefixWith>images/</ReplaceKeyPrefixWith>", "img/a.png", "",
			"http://origin.example.com/static/images/a.png", "", nil},
		{"prefix stripped", "<KeyPrefixEquals>img/</KeyPrefixEquals>", mirror + "<EnableReplacePrefix>true</EnableReplacePrefix>", "img/a.png", "",
			"http://origin.example.com/static/a.png", "", nil},
		{"query not passed by default", "", mirror, "k", "a=1", "http://origin.example.com/static/k", "", nil},
		{"MirrorPassQueryString strips auth and response-*", "", mirror + "<MirrorPassQueryString>true</MirrorPassQueryString>", "k",
			"v=2&X-Amz-Signature=s&response-content-disposition=attachment&Response-Expires=1&w=%2F",
			"http://origin.example.com/static/k?v=2&w=%2F", "", nil},
		{"PassQueryString also passes it", "", mirror + "<PassQueryString>true</PassQueryString>", "k", "v=2",
			"http://origin.example.com/static/k?v=2", "", nil},
		{"dot-dot segment refused", "", mirror, "a/../b", "", "", "", ErrKeyNotAllowedToOrigin},
		{"leading dot segment refused", "", mirror, "./x", "", "", "", ErrKeyNotAllowedToOrigin},
		{"trailing dot-dot refused", "", mirror, "a/..", "", "", "", ErrKeyNotAllowedToOrigin},
		{"lone dot refused", "", mirror, ".", "", "", "", ErrKeyNotAllowedToOrigin},
		{"dot segment made by the replacement refused", "<KeyPrefixEquals>x</KeyPrefixEquals>", mirror + "<ReplaceKeyPrefixWith>..</ReplaceKeyPrefixWith>", "x/y", "",
			"", "", ErrKeyNotAllowedToOrigin},
		{"dots inside names are fine", "", mirror, "a/..b/c../.../.x", "", "http://origin.example.com/static/a/..b/c../.../.x", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := ruleAction(t, tt.cond, tt.redirect)
			p, s, err := a.OriginURLs(tt.key, tt.query)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if p != tt.primary || s != tt.slave {
				t.Errorf("got %q, %q\nwant %q, %q", p, s, tt.primary, tt.slave)
			}
		})
	}
}

func TestMirrorTag(t *testing.T) {
	tests := []struct{ url, want string }{
		{"http://o.example.com/a%20b%2Bc%25d", "MIRROR http://o.example.com/a b+c%d"},
		{"http://o.example.com/%E6%97%A5%0A%7F%7E", "MIRROR http://o.example.com/%E6%97%A5%0A%7F~"},
		{"http://o.example.com/bad%zz%4", "MIRROR http://o.example.com/bad%zz%4"},
		{"http://o.example.com/x?q=%3F", "MIRROR http://o.example.com/x?q=?"},
	}
	for _, tt := range tests {
		if got := MirrorTag(tt.url); got != tt.want {
			t.Errorf("MirrorTag(%q) = %q, want %q", tt.url, got, tt.want)
		}
	}
}

func TestEscapePath(t *testing.T) {
	in := "A-z0_9.~/ !\"#$%&'()*+,:;=?@[]\xff"
	want := "A-z0_9.~/%20%21%22%23%24%25%26%27%28%29%2A%2B%2C%3A%3B%3D%3F%40%5B%5D%FF"
	if got := EscapePath(in); got != want {
		t.Errorf("EscapePath = %s, want %s", got, want)
	}
}
