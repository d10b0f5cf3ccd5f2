package rules

import (
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Limits of SPEC §5.
const (
	maxIncludeHeaders = 10
	maxMirrorHeaders  = 10 // each of Pass, Remove, Set
	maxHeaderBytes    = 1024
	maxKeyBytes       = 1024
)

// Validate checks c against every rule of SPEC §5 and returns the first
// failure as an *Error, or nil. Rules are checked in the order of c.Rules;
// Parse sorts them by number first. Validate does not modify c.
func (c *Config) Validate() error {
	if c.IndexDocument == nil && c.ErrorDocument == nil && len(c.Rules) == 0 {
		return malformed("the configuration has none of IndexDocument, ErrorDocument or RoutingRule; give at least one")
	}
	if len(c.Rules) > MaxRules {
		return invalid("the configuration has %d routing rules; at most %d are allowed", len(c.Rules), MaxRules)
	}
	if d := c.IndexDocument; d != nil {
		switch {
		case d.Suffix == "":
			return invalid("IndexDocument: Suffix is empty; give the index page name, e.g. index.html")
		case strings.Contains(d.Suffix, "/"):
			return invalid("IndexDocument: Suffix %q contains a slash; give a file name such as index.html", d.Suffix)
		case len(d.Suffix) > maxKeyBytes:
			return invalid("IndexDocument: Suffix is %d bytes; at most %d are allowed", len(d.Suffix), maxKeyBytes)
		}
		if d.Type != nil && (*d.Type < 0 || *d.Type > 2) {
			return invalid("IndexDocument: Type is %d; it must be 0 (302 to the sub-directory), 1 (404) or 2 (serve the sub-directory's index)", *d.Type)
		}
	}
	if d := c.ErrorDocument; d != nil {
		if d.Key == "" {
			return invalid("ErrorDocument: Key is empty; give the key of the error page, e.g. error.html")
		}
		if len(d.Key) > maxKeyBytes {
			return invalid("ErrorDocument: Key is %d bytes; at most %d are allowed", len(d.Key), maxKeyBytes)
		}
		if d.HttpStatus != nil && *d.HttpStatus != 200 && *d.HttpStatus != 404 {
			return invalid("ErrorDocument: HttpStatus is %d; it must be 200 or 404", *d.HttpStatus)
		}
	}
	seen := make(map[int]bool, len(c.Rules))
	for i := range c.Rules {
		r := &c.Rules[i]
		if r.Number <= 0 {
			return invalid("RoutingRule at position %d: RuleNumber %d is not a positive integer; number rules 1, 2, 3…", i+1, r.Number)
		}
		if seen[r.Number] {
			return invalid("rule %d: RuleNumber %d is used by more than one rule; give each rule its own number", r.Number, r.Number)
		}
		seen[r.Number] = true
		if err := r.validate(); err != nil {
			return err
		}
	}
	return nil
}

func (r *Rule) validate() *Error {
	label := "rule " + strconv.Itoa(r.Number)
	cond, red := &r.Condition, &r.Redirect
	typ := red.Type()
	switch typ {
	case TypeMirror, TypeExternal, TypeInternal, TypeAliCDN:
	default:
		return invalid("%s: RedirectType %q is not supported; use Mirror, External, Internal or AliCDN", label, typ)
	}

	// Condition.
	for _, f := range []struct {
		name string
		v    *string
	}{{"KeyPrefixEquals", cond.KeyPrefixEquals}, {"KeySuffixEquals", cond.KeySuffixEquals}} {
		if f.v != nil && len(*f.v) > maxKeyBytes {
			return invalid("%s: %s is %d bytes; at most %d are allowed", label, f.name, len(*f.v), maxKeyBytes)
		}
	}
	if code := cond.HttpErrorCodeReturnedEquals; code != nil {
		if *code < 400 || *code > 599 {
			return invalid("%s: HttpErrorCodeReturnedEquals is %d; it must be a 4xx or 5xx status, e.g. 404", label, *code)
		}
		if typ == TypeMirror && *code != 404 {
			return invalid("%s: a Mirror rule acts on a miss only, so HttpErrorCodeReturnedEquals must be 404 (or absent), not %d", label, *code)
		}
	}
	if len(cond.IncludeHeaders) > maxIncludeHeaders {
		return invalid("%s: %d IncludeHeader conditions; at most %d are allowed", label, len(cond.IncludeHeaders), maxIncludeHeaders)
	}
	for _, h := range cond.IncludeHeaders {
		if e := checkHeaderName(label, "IncludeHeader/Key", h.Key); e != nil {
			return e
		}
		n := 0
		for _, op := range []struct {
			name string
			v    *string
		}{{"Equals", h.Equals}, {"StartsWith", h.StartsWith}, {"EndsWith", h.EndsWith}} {
			if op.v == nil {
				continue
			}
			n++
			if e := checkHeaderValue(label, "IncludeHeader "+h.Key+"/"+op.name, *op.v); e != nil {
				return e
			}
		}
		if n != 1 {
			return invalid("%s: IncludeHeader %s has %d of Equals, StartsWith, EndsWith; give exactly one", label, h.Key, n)
		}
	}

	// Redirect.
	if code := red.HttpRedirectCode; code != nil {
		switch *code {
		case 301, 302, 303, 307, 308:
		default:
			return invalid("%s: HttpRedirectCode is %d; use 301, 302, 303, 307 or 308", label, *code)
		}
	}
	if p := red.Protocol; p != nil && *p != "http" && *p != "https" {
		return invalid("%s: Protocol is %q; it must be http or https", label, *p)
	}
	if h := red.HostName; h != nil {
		if !validHost(*h) {
			return invalid("%s: HostName %q is not a host name; give a name such as www.example.com (a :port may follow), without scheme or path", label, *h)
		}
		if typ == TypeInternal {
			return invalid("%s: HostName is not allowed on an Internal rule, which redirects to the request's own host; use RedirectType External to name another host", label)
		}
	}
	if red.ReplaceKeyWith != nil {
		if red.ReplaceKeyPrefixWith != nil {
			return invalid("%s: ReplaceKeyWith and ReplaceKeyPrefixWith exclude each other; keep one", label)
		}
		if boolOr(red.EnableReplacePrefix, false) {
			return invalid("%s: ReplaceKeyWith excludes EnableReplacePrefix true; remove one", label)
		}
		if e := checkPlaceholders(label, "ReplaceKeyWith", *red.ReplaceKeyWith, true); e != nil {
			return e
		}
		if e := checkOneLine(label, "ReplaceKeyWith", *red.ReplaceKeyWith); e != nil {
			return e
		}
	}
	if p := red.ReplaceKeyPrefixWith; p != nil {
		if e := checkPlaceholders(label, "ReplaceKeyPrefixWith", *p, false); e != nil {
			return e
		}
		if e := checkOneLine(label, "ReplaceKeyPrefixWith", *p); e != nil {
			return e
		}
	}
	if typ == TypeMirror {
		if red.MirrorURL == nil {
			return invalid("%s: a Mirror rule needs MirrorURL, the origin's base URL, e.g. http://origin.example.com/", label)
		}
		if e := checkMirrorURL(label, "MirrorURL", *red.MirrorURL); e != nil {
			return e
		}
		if red.MirrorURLSlave != nil {
			if e := checkMirrorURL(label, "MirrorURLSlave", *red.MirrorURLSlave); e != nil {
				return e
			}
		}
	}
	if t := red.TransparentMirrorResponseCodes; t != nil {
		if _, e := parseCodes(label, *t); e != nil {
			return e
		}
	}
	if mh := red.MirrorHeaders; mh != nil {
		for _, list := range []struct {
			name  string
			names []string
		}{{"Pass", mh.Pass}, {"Remove", mh.Remove}} {
			if len(list.names) > maxMirrorHeaders {
				return invalid("%s: MirrorHeaders has %d %s entries; at most %d are allowed", label, len(list.names), list.name, maxMirrorHeaders)
			}
			for _, n := range list.names {
				if e := checkHeaderName(label, "MirrorHeaders/"+list.name, n); e != nil {
					return e
				}
			}
		}
		if len(mh.Set) > maxMirrorHeaders {
			return invalid("%s: MirrorHeaders has %d Set entries; at most %d are allowed", label, len(mh.Set), maxMirrorHeaders)
		}
		for _, s := range mh.Set {
			if e := checkHeaderName(label, "MirrorHeaders/Set/Key", s.Key); e != nil {
				return e
			}
			if e := checkHeaderValue(label, "MirrorHeaders/Set "+s.Key+"/Value", s.Value); e != nil {
				return e
			}
		}
	}
	return nil
}

func checkHeaderName(label, field, name string) *Error {
	if name == "" {
		return invalid("%s: %s is empty; give a header name", label, field)
	}
	if len(name) > maxHeaderBytes {
		return invalid("%s: %s is %d bytes; at most %d are allowed", label, field, len(name), maxHeaderBytes)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return invalid("%s: %s %q is not a header name; use letters, digits and '-' only", label, field, truncate(name, 40))
		}
	}
	return nil
}

func checkHeaderValue(label, field, v string) *Error {
	if len(v) > maxHeaderBytes {
		return invalid("%s: %s is %d bytes; at most %d are allowed", label, field, len(v), maxHeaderBytes)
	}
	if strings.ContainsAny(v, "\r\n") {
		return invalid("%s: %s contains a line break; header values must be one line", label, field)
	}
	return nil
}

// checkOneLine refuses a line break in a key rewrite. The key it makes is
// percent-encoded into Location and origin URLs, so a CR or LF could not
// split a header; but it is never what a rule means, and a configuration
// that carries one is the mark of an injection attempt.
func checkOneLine(label, field, v string) *Error {
	if strings.ContainsAny(v, "\r\n") {
		return invalid("%s: %s contains a line break; a key rewrite must be one line", label, field)
	}
	return nil
}

// checkPlaceholders allows ${key} (where allowed) and no other ${…}.
func checkPlaceholders(label, field, v string, keyAllowed bool) *Error {
	rest := v
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			return nil
		}
		rest = rest[i:]
		if keyAllowed && strings.HasPrefix(rest, "${key}") {
			rest = rest[len("${key}"):]
			continue
		}
		if keyAllowed {
			return invalid("%s: %s uses %q; ${key} is the one placeholder", label, field, truncate(rest, 20))
		}
		return invalid("%s: %s uses %q; placeholders are allowed in ReplaceKeyWith only", label, field, truncate(rest, 20))
	}
}

func checkMirrorURL(label, field, s string) *Error {
	if !strings.HasPrefix(s, "http://") && !strings.HasPrefix(s, "https://") {
		return invalid("%s: %s %q must start with http:// or https://", label, field, truncate(s, 80))
	}
	if !strings.HasSuffix(s, "/") {
		return invalid("%s: %s %q must end with '/' (the key is appended to it)", label, field, truncate(s, 80))
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return invalid("%s: %s contains a space or control character; percent-encode it", label, field)
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || !validHost(u.Host) {
		return invalid("%s: %s %q has no valid host; give a URL such as http://origin.example.com/", label, field, truncate(s, 80))
	}
	if u.User != nil {
		return invalid("%s: %s %q carries user information, which is not supported; remove it", label, field, truncate(s, 80))
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsAny(s, "?#") {
		return invalid("%s: %s %q has a query or fragment; the key is appended to it, so it must end with a path ending in '/'", label, field, truncate(s, 80))
	}
	return nil
}

// parseCodes parses TransparentMirrorResponseCodes: comma-separated 4xx/5xx.
func parseCodes(label, s string) ([]int, *Error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		t := strings.TrimSpace(part)
		n, err := strconv.Atoi(t)
		if err != nil || len(t) != 3 || n < 400 || n > 599 {
			return nil, invalid("%s: TransparentMirrorResponseCodes %q: %q is not a 4xx or 5xx status; give a comma-separated list such as 403,500", label, truncate(s, 80), truncate(t, 20))
		}
		out = append(out, n)
	}
	return out, nil
}

// validHost accepts a DNS name, an IPv4 address or a bracketed IPv6
// address, optionally followed by :port.
func validHost(h string) bool {
	host, port := h, ""
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return false
		}
		if _, err := netip.ParseAddr(h[1:end]); err != nil {
			return false
		}
		rest := h[end+1:]
		if rest == "" {
			return true
		}
		if rest[0] != ':' {
			return false
		}
		return validPort(rest[1:])
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		host, port = h[:i], h[i+1:]
		if !validPort(port) {
			return false
		}
	}
	if host == "" || len(host) > 253 {
		return false
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && len(p) <= 5 && n > 0 && n <= 65535 && p[0] != '0'
}

// sortRules orders rules by number (stable, so duplicates keep document
// order for the error message).
func sortRules(rs []Rule) {
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Number < rs[j].Number })
}
