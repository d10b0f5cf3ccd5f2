package rules

import (
	"net/http"
	"net/textproto"
	"strings"
)

// Request is what Match needs to know about a GET or HEAD of an object.
type Request struct {
	Key string
	// Header is the request's header. Names are looked up as
	// http.Header.Get does (canonical form), which is how net/http stores
	// them; the first value of a header is the one tested.
	Header http.Header
	// Head is true for HEAD, false for GET.
	Head bool
}

// Prober looks the request's key up in the store. Match calls ProbeObject at
// most once per call, and only when a rule with an error-code condition (or
// a Mirror rule, whose condition is 404 implicitly) has its other conditions
// met. It returns 200 when the object exists, 404 when it does not, and 500
// when the store failed. An implementation passed as a pointer keeps Match
// free of allocations.
type Prober interface {
	ProbeObject() int
}

// Outcome says what a matched rule asks the handler to do.
type Outcome uint8

const (
	// OutcomeNone: no rule matched; give the normal answer (the object, the
	// website documents, or 404 NoSuchKey).
	OutcomeNone Outcome = iota
	// OutcomeRedirect: answer Action.Location with Action.StatusCode.
	OutcomeRedirect
	// OutcomeMirror: fill the object from Action.Mirror's origin.
	OutcomeMirror
	// OutcomeMirrorHeadNotFound: a HEAD matched a Mirror rule without
	// MirrorAllowHeadObject; answer a plain 404 NoSuchKey, no fill and no
	// later rule.
	OutcomeMirrorHeadNotFound
)

func (o Outcome) String() string {
	switch o {
	case OutcomeRedirect:
		return "redirect"
	case OutcomeMirror:
		return "mirror"
	case OutcomeMirrorHeadNotFound:
		return "mirror-head-not-found"
	}
	return "none"
}

// Result is the answer of Match.
type Result struct {
	Outcome Outcome
	// Action is the matched rule's action; nil for OutcomeNone.
	Action *Action
	// Status is what ProbeObject returned, or 0 when Match did not call it;
	// the handler reuses it rather than looking the key up again.
	Status int
}

// Action is the compiled action of one rule. It is immutable and shared by
// every request matching the rule: callers must not modify it.
type Action struct {
	RuleNumber int
	// Type is the rule's RedirectType with its default applied: TypeMirror,
	// TypeExternal, TypeInternal or TypeAliCDN (served as External).
	Type string
	// Protocol and HostName of a redirect; "" means the request's.
	// HostName is always "" for Internal.
	Protocol string
	HostName string
	// StatusCode is the redirect status (HttpRedirectCode, default 301).
	StatusCode int
	// PassQueryString: a redirect carries the client's query string
	// (minus S3 auth parameters).
	PassQueryString bool
	// Mirror is set for TypeMirror, nil otherwise.
	Mirror *MirrorAction

	prefix         string
	replaceKeyWith *string
	replacePrefix  *string
	stripPrefix    bool
}

// MirrorAction is the resolved configuration of a Mirror rule, defaults
// applied (SPEC §7).
type MirrorAction struct {
	URL      string // MirrorURL, ends in "/"
	SlaveURL string // MirrorURLSlave, "" when none
	// PassQueryString is MirrorPassQueryString or PassQueryString.
	PassQueryString bool
	FollowRedirect  bool // default true
	CheckMD5        bool
	AllowHead       bool
	SNI             bool
	SaveOssMeta     bool
	// UseOriginLastModified is MirrorUserLastModified.
	UseOriginLastModified bool
	SwitchAllErrors       bool
	// TransparentCodes are origin statuses passed through to the client.
	TransparentCodes []int
	// Header policy: names in canonical form (textproto).
	PassAllHeaders bool
	PassHeaders    []string
	RemoveHeaders  []string
	SetHeaders     []HeaderValue
}

// Transparent reports whether an origin status is in TransparentCodes.
func (m *MirrorAction) Transparent(code int) bool {
	for _, c := range m.TransparentCodes {
		if c == code {
			return true
		}
	}
	return false
}

type headerOp uint8

const (
	opEquals headerOp = iota
	opStartsWith
	opEndsWith
)

type headerCond struct {
	name  string // canonical
	slot  int    // index into Matcher.headerNames
	op    headerOp
	value string
}

// maxCachedHeaders is how many distinct header names Match reads from the
// request once and remembers for the rest of the call (on the stack);
// names past it are read from the header map at each test.
const maxCachedHeaders = 16

// headerCache holds the first value of each header name the rules test,
// fetched at most once per Match.
type headerCache struct {
	h      http.Header
	loaded [maxCachedHeaders]bool
	ok     [maxCachedHeaders]bool
	vals   [maxCachedHeaders]string
}

func (c *headerCache) get(name string, slot int) (string, bool) {
	if slot >= maxCachedHeaders {
		vs := c.h[name]
		if len(vs) == 0 {
			return "", false
		}
		return vs[0], true
	}
	if !c.loaded[slot] {
		c.loaded[slot] = true
		if vs := c.h[name]; len(vs) != 0 {
			c.vals[slot], c.ok[slot] = vs[0], true
		}
	}
	return c.vals[slot], c.ok[slot]
}

type compiledRule struct {
	prefix  string
	suffix  string
	errCode int // 0: no error-code condition
	headers []headerCond
	action  *Action
}

// Matcher is a compiled website configuration: immutable, safe for
// concurrent use, replaced whole when the configuration changes.
type Matcher struct {
	rules       []compiledRule
	headerNames []string // distinct canonical names tested by IncludeHeader
	index       *IndexDocument
	errd        *ErrorDocument
	cfg         *Config
}

// Compile turns a validated configuration (from Parse, or one whose Validate
// returned nil) into a Matcher. It copies what it keeps; c may be reused.
func Compile(c *Config) *Matcher {
	m := &Matcher{cfg: c}
	if c.IndexDocument != nil {
		d := *c.IndexDocument
		m.index = &d
	}
	if c.ErrorDocument != nil {
		d := *c.ErrorDocument
		m.errd = &d
	}
	m.rules = make([]compiledRule, len(c.Rules))
	slots := map[string]int{}
	for i := range c.Rules {
		m.rules[i] = compileRule(&c.Rules[i])
		for j := range m.rules[i].headers {
			hc := &m.rules[i].headers[j]
			slot, ok := slots[hc.name]
			if !ok {
				slot = len(m.headerNames)
				slots[hc.name] = slot
				m.headerNames = append(m.headerNames, hc.name)
			}
			hc.slot = slot
		}
	}
	return m
}

func compileRule(r *Rule) compiledRule {
	cond, red := &r.Condition, &r.Redirect
	cr := compiledRule{
		prefix:  strOr(cond.KeyPrefixEquals, ""),
		suffix:  strOr(cond.KeySuffixEquals, ""),
		errCode: intOr(cond.HttpErrorCodeReturnedEquals, 0),
	}
	for _, h := range cond.IncludeHeaders {
		hc := headerCond{name: textproto.CanonicalMIMEHeaderKey(h.Key)}
		switch {
		case h.Equals != nil:
			hc.op, hc.value = opEquals, *h.Equals
		case h.StartsWith != nil:
			hc.op, hc.value = opStartsWith, *h.StartsWith
		default:
			hc.op, hc.value = opEndsWith, strOr(h.EndsWith, "")
		}
		cr.headers = append(cr.headers, hc)
	}
	a := &Action{
		RuleNumber:      r.Number,
		Type:            red.Type(),
		Protocol:        strOr(red.Protocol, ""),
		HostName:        strOr(red.HostName, ""),
		StatusCode:      intOr(red.HttpRedirectCode, 301),
		PassQueryString: boolOr(red.PassQueryString, false),
		prefix:          cr.prefix,
		replaceKeyWith:  clonePtr(red.ReplaceKeyWith),
		replacePrefix:   clonePtr(red.ReplaceKeyPrefixWith),
		stripPrefix:     boolOr(red.EnableReplacePrefix, false),
	}
	if a.Type == TypeInternal {
		a.HostName = ""
	}
	if a.Type == TypeMirror {
		if cr.errCode == 0 {
			cr.errCode = 404
		}
		mh := red.MirrorHeaders
		if mh == nil {
			mh = &MirrorHeaders{}
		}
		ma := &MirrorAction{
			URL:                   strOr(red.MirrorURL, ""),
			SlaveURL:              strOr(red.MirrorURLSlave, ""),
			PassQueryString:       boolOr(red.MirrorPassQueryString, false) || boolOr(red.PassQueryString, false),
			FollowRedirect:        boolOr(red.MirrorFollowRedirect, true),
			CheckMD5:              boolOr(red.MirrorCheckMd5, false),
			AllowHead:             boolOr(red.MirrorAllowHeadObject, false),
			SNI:                   boolOr(red.MirrorSNI, false),
			SaveOssMeta:           boolOr(red.MirrorSaveOssMeta, false),
			UseOriginLastModified: boolOr(red.MirrorUserLastModified, false),
			SwitchAllErrors:       boolOr(red.MirrorSwitchAllErrors, false),
			PassAllHeaders:        boolOr(mh.PassAll, false),
		}
		if t := red.TransparentMirrorResponseCodes; t != nil {
			ma.TransparentCodes, _ = parseCodes("", *t)
		}
		for _, n := range mh.Pass {
			ma.PassHeaders = append(ma.PassHeaders, textproto.CanonicalMIMEHeaderKey(n))
		}
		for _, n := range mh.Remove {
			ma.RemoveHeaders = append(ma.RemoveHeaders, textproto.CanonicalMIMEHeaderKey(n))
		}
		for _, s := range mh.Set {
			ma.SetHeaders = append(ma.SetHeaders, HeaderValue{Key: textproto.CanonicalMIMEHeaderKey(s.Key), Value: s.Value})
		}
		a.Mirror = ma
	}
	cr.action = a
	return cr
}

func clonePtr(p *string) *string {
	if p == nil {
		return nil
	}
	s := *p
	return &s
}

// Rules reports how many routing rules the matcher holds.
func (m *Matcher) Rules() int { return len(m.rules) }

// Match tries the rules in RuleNumber order and returns the first that
// matches (SPEC §6): its key prefix and suffix, each IncludeHeader, and,
// when it names one, the error code (the lookup outcome from p, asked for
// at most once, lazily). A rule without an error-code condition matches
// whether or not the object exists; an existing object matches no
// error-code rule. No later rule is tried after a match. Match does not
// allocate. p may be nil only if no rule has an error-code condition or is
// a Mirror rule.
func (m *Matcher) Match(req *Request, p Prober) Result {
	status := 0
	hc := headerCache{h: req.Header}
	for i := range m.rules {
		r := &m.rules[i]
		if !strings.HasPrefix(req.Key, r.prefix) || !strings.HasSuffix(req.Key, r.suffix) {
			continue
		}
		if !headersMatch(r.headers, &hc) {
			continue
		}
		if r.errCode != 0 {
			if status == 0 {
				status = p.ProbeObject()
				if status == 0 {
					status = http.StatusInternalServerError
				}
			}
			if status != r.errCode {
				continue
			}
		}
		a := r.action
		switch {
		case a.Mirror == nil:
			return Result{Outcome: OutcomeRedirect, Action: a, Status: status}
		case req.Head && !a.Mirror.AllowHead:
			return Result{Outcome: OutcomeMirrorHeadNotFound, Action: a, Status: status}
		default:
			return Result{Outcome: OutcomeMirror, Action: a, Status: status}
		}
	}
	return Result{Status: status}
}

func headersMatch(conds []headerCond, hc *headerCache) bool {
	for i := range conds {
		c := &conds[i]
		v, ok := hc.get(c.name, c.slot)
		if !ok {
			return false
		}
		switch c.op {
		case opEquals:
			if v != c.value {
				return false
			}
		case opStartsWith:
			if !strings.HasPrefix(v, c.value) {
				return false
			}
		default:
			if !strings.HasSuffix(v, c.value) {
				return false
			}
		}
	}
	return true
}
