package rules

import (
	"fmt"
	"net/http"
)

// Lint checks a website configuration offline with the same validator as
// PUT ?website (err is the *Error the server would answer) and, for a valid
// one, returns warnings about rules that are legal but probably not meant:
// a 301 on a 404-conditioned redirect (browsers cache it, so keys migrated
// later stay redirected; 302 is advised, SPEC §8), rules shadowed by an
// earlier unconditional rule, and fields that have no effect on the rule's
// RedirectType.
func Lint(data []byte) (warnings []string, err error) {
	cfg, err := Parse(data)
	if err != nil {
		return nil, err
	}
	return lintConfig(cfg), nil
}

func lintConfig(cfg *Config) []string {
	var w []string
	for i := range cfg.Rules {
		r := &cfg.Rules[i]
		c, d := &r.Condition, &r.Redirect
		typ := d.Type()
		if typ != TypeMirror && intOr(c.HttpErrorCodeReturnedEquals, 0) == 404 && intOr(d.HttpRedirectCode, 301) == 301 {
			w = append(w, fmt.Sprintf("rule %d: a 301 on a 404-conditioned rule is cached by browsers, so keys migrated later keep being redirected; use <HttpRedirectCode>302</HttpRedirectCode>", r.Number))
		}
		if typ != TypeMirror {
			for _, f := range []struct {
				name string
				set  bool
			}{
				{"MirrorURL", d.MirrorURL != nil}, {"MirrorURLSlave", d.MirrorURLSlave != nil},
				{"MirrorSNI", d.MirrorSNI != nil}, {"MirrorPassQueryString", d.MirrorPassQueryString != nil},
				{"MirrorFollowRedirect", d.MirrorFollowRedirect != nil}, {"MirrorCheckMd5", d.MirrorCheckMd5 != nil},
				{"MirrorHeaders", d.MirrorHeaders != nil}, {"MirrorAllowHeadObject", d.MirrorAllowHeadObject != nil},
				{"MirrorSaveOssMeta", d.MirrorSaveOssMeta != nil}, {"MirrorUserLastModified", d.MirrorUserLastModified != nil},
				{"MirrorSwitchAllErrors", d.MirrorSwitchAllErrors != nil},
				{"TransparentMirrorResponseCodes", d.TransparentMirrorResponseCodes != nil},
			} {
				if f.set {
					w = append(w, fmt.Sprintf("rule %d: %s has no effect on a RedirectType %s rule", r.Number, f.name, typ))
				}
			}
		} else {
			for _, f := range []struct {
				name string
				set  bool
			}{{"Protocol", d.Protocol != nil}, {"HostName", d.HostName != nil}, {"HttpRedirectCode", d.HttpRedirectCode != nil}} {
				if f.set {
					w = append(w, fmt.Sprintf("rule %d: %s has no effect on a Mirror rule", r.Number, f.name))
				}
			}
		}
		unconditional := strOr(c.KeyPrefixEquals, "") == "" && strOr(c.KeySuffixEquals, "") == "" &&
			c.HttpErrorCodeReturnedEquals == nil && len(c.IncludeHeaders) == 0 && typ != TypeMirror
		if unconditional && i+1 < len(cfg.Rules) {
			w = append(w, fmt.Sprintf("rule %d has no condition and matches every request; the rules after it (from rule %d) are never tried", r.Number, cfg.Rules[i+1].Number))
		}
	}
	return w
}

// ExplainRequest is a hypothetical GET (or HEAD) for Explain.
type ExplainRequest struct {
	Key string
	// Status is the outcome of looking the key up: 200 (exists), 404
	// (missing) or 500 (store failure). 0 means 404: explain describes a miss
	// unless told otherwise.
	Status int
	Header http.Header
	Head   bool
	// Target is where the request is addressed, for a redirect's Location.
	Target Target
}

// Explanation says which rule a request matches and what it would produce.
type Explanation struct {
	RuleNumber int // 0 when no rule matches
	Outcome    Outcome
	Type       string // the rule's RedirectType
	// URL is the redirect's Location, or the Mirror rule's primary origin
	// URL; SlaveURL the Mirror rule's secondary one.
	URL      string
	SlaveURL string
	// Status is the redirect status, or 404 for OutcomeMirrorHeadNotFound.
	Status int
	// Err is set when a Mirror rule refuses the key (ErrKeyNotAllowedToOrigin).
	Err error
}

// String renders the explanation on one line for `mirrorstore rules explain`.
func (e Explanation) String() string {
	switch e.Outcome {
	case OutcomeRedirect:
		return fmt.Sprintf("rule %d (%s): %d redirect to %s", e.RuleNumber, e.Type, e.Status, e.URL)
	case OutcomeMirror:
		if e.Err != nil {
			return fmt.Sprintf("rule %d (Mirror): refused: %v (424)", e.RuleNumber, e.Err)
		}
		s := fmt.Sprintf("rule %d (Mirror): fetch %s", e.RuleNumber, e.URL)
		if e.SlaveURL != "" {
			s += ", then " + e.SlaveURL + " if the primary fails"
		}
		return s
	case OutcomeMirrorHeadNotFound:
		return fmt.Sprintf("rule %d (Mirror): HEAD without MirrorAllowHeadObject: 404 NoSuchKey", e.RuleNumber)
	}
	return "no rule matches: the normal answer (the object, or 404 NoSuchKey)"
}

type fixedStatus int

func (s fixedStatus) ProbeObject() int { return int(s) }

// Explain reports what a validated configuration does with the request,
// without fetching anything.
func Explain(cfg *Config, q ExplainRequest) Explanation {
	status := q.Status
	if status == 0 {
		status = http.StatusNotFound
	}
	res := Compile(cfg).Match(&Request{Key: q.Key, Header: q.Header, Head: q.Head}, fixedStatus(status))
	e := Explanation{Outcome: res.Outcome}
	if res.Action == nil {
		return e
	}
	a := res.Action
	e.RuleNumber, e.Type = a.RuleNumber, a.Type
	switch res.Outcome {
	case OutcomeRedirect:
		e.URL, e.Status = a.Location(q.Key, q.Target), a.StatusCode
	case OutcomeMirror:
		e.URL, e.SlaveURL, e.Err = a.OriginURLs(q.Key, q.Target.RawQuery)
	case OutcomeMirrorHeadNotFound:
		e.Status = http.StatusNotFound
	}
	return e
}
