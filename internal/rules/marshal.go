package rules

import (
	"bytes"
	"encoding/xml"
	"strconv"
)

// Wire types for Marshal, in the element order OSS's GetBucketWebsite uses.
// Optional values are pointers so absent elements stay absent.
type wireConfig struct {
	XMLName       xml.Name           `xml:"WebsiteConfiguration"`
	IndexDocument *wireIndexDocument `xml:"IndexDocument,omitempty"`
	ErrorDocument *wireErrorDocument `xml:"ErrorDocument,omitempty"`
	RoutingRules  *wireRoutingRules  `xml:"RoutingRules,omitempty"`
}

type wireIndexDocument struct {
	Suffix        string  `xml:"Suffix"`
	SupportSubDir *string `xml:"SupportSubDir,omitempty"`
	Type          *string `xml:"Type,omitempty"`
}

type wireErrorDocument struct {
	Key        string  `xml:"Key"`
	HttpStatus *string `xml:"HttpStatus,omitempty"`
}

type wireRoutingRules struct {
	Rules []wireRule `xml:"RoutingRule"`
}

type wireRule struct {
	RuleNumber int            `xml:"RuleNumber"`
	Condition  *wireCondition `xml:"Condition,omitempty"`
	Redirect   wireRedirect   `xml:"Redirect"`
}

type wireCondition struct {
	KeyPrefixEquals             *string             `xml:"KeyPrefixEquals,omitempty"`
	KeySuffixEquals             *string             `xml:"KeySuffixEquals,omitempty"`
	HttpErrorCodeReturnedEquals *string             `xml:"HttpErrorCodeReturnedEquals,omitempty"`
	IncludeHeaders              []wireIncludeHeader `xml:"IncludeHeader"`
}

type wireIncludeHeader struct {
	Key        string  `xml:"Key"`
	Equals     *string `xml:"Equals,omitempty"`
	StartsWith *string `xml:"StartsWith,omitempty"`
	EndsWith   *string `xml:"EndsWith,omitempty"`
}

type wireRedirect struct {
	RedirectType                   *string            `xml:"RedirectType,omitempty"`
	PassQueryString                *string            `xml:"PassQueryString,omitempty"`
	MirrorURL                      *string            `xml:"MirrorURL,omitempty"`
	MirrorURLSlave                 *string            `xml:"MirrorURLSlave,omitempty"`
	MirrorSNI                      *string            `xml:"MirrorSNI,omitempty"`
	MirrorPassQueryString          *string            `xml:"MirrorPassQueryString,omitempty"`
	MirrorFollowRedirect           *string            `xml:"MirrorFollowRedirect,omitempty"`
	MirrorCheckMd5                 *string            `xml:"MirrorCheckMd5,omitempty"`
	MirrorHeaders                  *wireMirrorHeaders `xml:"MirrorHeaders,omitempty"`
	MirrorAllowHeadObject          *string            `xml:"MirrorAllowHeadObject,omitempty"`
	MirrorSaveOssMeta              *string            `xml:"MirrorSaveOssMeta,omitempty"`
	MirrorUserLastModified         *string            `xml:"MirrorUserLastModified,omitempty"`
	MirrorSwitchAllErrors          *string            `xml:"MirrorSwitchAllErrors,omitempty"`
	TransparentMirrorResponseCodes *string            `xml:"TransparentMirrorResponseCodes,omitempty"`
	Protocol                       *string            `xml:"Protocol,omitempty"`
	HostName                       *string            `xml:"HostName,omitempty"`
	ReplaceKeyPrefixWith           *string            `xml:"ReplaceKeyPrefixWith,omitempty"`
	EnableReplacePrefix            *string            `xml:"EnableReplacePrefix,omitempty"`
	ReplaceKeyWith                 *string            `xml:"ReplaceKeyWith,omitempty"`
	HttpRedirectCode               *string            `xml:"HttpRedirectCode,omitempty"`
}

type wireMirrorHeaders struct {
	PassAll *string         `xml:"PassAll,omitempty"`
	Pass    []string        `xml:"Pass"`
	Remove  []string        `xml:"Remove"`
	Set     []wireHeaderSet `xml:"Set"`
}

type wireHeaderSet struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

func bs(p *bool) *string {
	if p == nil {
		return nil
	}
	s := strconv.FormatBool(*p)
	return &s
}

func is(p *int) *string {
	if p == nil {
		return nil
	}
	s := strconv.Itoa(*p)
	return &s
}

// Marshal returns the canonical XML of c, what GET ?website answers: an XML
// declaration, then the elements that were given (no defaults are filled
// in), rules in the order of c.Rules (sorted by Parse) with their
// RuleNumber always written, booleans as true/false and numbers in decimal.
// Parse(Marshal(c)) gives back a Config equal to c.
func (c *Config) Marshal() ([]byte, error) {
	w := wireConfig{}
	if d := c.IndexDocument; d != nil {
		w.IndexDocument = &wireIndexDocument{Suffix: d.Suffix, SupportSubDir: bs(d.SupportSubDir), Type: is(d.Type)}
	}
	if d := c.ErrorDocument; d != nil {
		w.ErrorDocument = &wireErrorDocument{Key: d.Key, HttpStatus: is(d.HttpStatus)}
	}
	if len(c.Rules) > 0 {
		w.RoutingRules = &wireRoutingRules{}
		for _, r := range c.Rules {
			w.RoutingRules.Rules = append(w.RoutingRules.Rules, wireRuleOf(&r))
		}
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(w); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

func wireRuleOf(r *Rule) wireRule {
	wr := wireRule{RuleNumber: r.Number}
	c := &r.Condition
	if c.KeyPrefixEquals != nil || c.KeySuffixEquals != nil || c.HttpErrorCodeReturnedEquals != nil || len(c.IncludeHeaders) > 0 {
		wc := &wireCondition{
			KeyPrefixEquals:             c.KeyPrefixEquals,
			KeySuffixEquals:             c.KeySuffixEquals,
			HttpErrorCodeReturnedEquals: is(c.HttpErrorCodeReturnedEquals),
		}
		for _, h := range c.IncludeHeaders {
			wc.IncludeHeaders = append(wc.IncludeHeaders, wireIncludeHeader(h))
		}
		wr.Condition = wc
	}
	d := &r.Redirect
	wr.Redirect = wireRedirect{
		RedirectType:                   d.RedirectType,
		PassQueryString:                bs(d.PassQueryString),
		MirrorURL:                      d.MirrorURL,
		MirrorURLSlave:                 d.MirrorURLSlave,
		MirrorSNI:                      bs(d.MirrorSNI),
		MirrorPassQueryString:          bs(d.MirrorPassQueryString),
		MirrorFollowRedirect:           bs(d.MirrorFollowRedirect),
		MirrorCheckMd5:                 bs(d.MirrorCheckMd5),
		MirrorAllowHeadObject:          bs(d.MirrorAllowHeadObject),
		MirrorSaveOssMeta:              bs(d.MirrorSaveOssMeta),
		MirrorUserLastModified:         bs(d.MirrorUserLastModified),
		MirrorSwitchAllErrors:          bs(d.MirrorSwitchAllErrors),
		TransparentMirrorResponseCodes: d.TransparentMirrorResponseCodes,
		Protocol:                       d.Protocol,
		HostName:                       d.HostName,
		ReplaceKeyPrefixWith:           d.ReplaceKeyPrefixWith,
		EnableReplacePrefix:            bs(d.EnableReplacePrefix),
		ReplaceKeyWith:                 d.ReplaceKeyWith,
		HttpRedirectCode:               is(d.HttpRedirectCode),
	}
	if mh := d.MirrorHeaders; mh != nil {
		wm := &wireMirrorHeaders{PassAll: bs(mh.PassAll), Pass: mh.Pass, Remove: mh.Remove}
		for _, s := range mh.Set {
			wm.Set = append(wm.Set, wireHeaderSet(s))
		}
		wr.Redirect.MirrorHeaders = wm
	}
	return wr
}
