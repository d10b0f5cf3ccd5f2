package rules

// MaxBodySize is the largest website configuration body accepted, in bytes.
const MaxBodySize = 64 << 10

// MaxRules is the largest number of routing rules a configuration may hold
// (OSS's current limit; the seed's five predates it).
const MaxRules = 20

// Redirect types of the OSS dialect.
const (
	TypeMirror   = "Mirror"
	TypeExternal = "External"
	TypeInternal = "Internal"
	TypeAliCDN   = "AliCDN"
)

// Config is a parsed and validated website configuration. Optional elements
// are pointers (or nil slices) so that Marshal gives back exactly what was
// stored, without inventing defaults. A *Config returned by Parse is never
// modified by this package; Compile copies what it needs.
type Config struct {
	IndexDocument *IndexDocument
	ErrorDocument *ErrorDocument
	// Rules are sorted by Number, numbers unique and positive; S3-dialect
	// input (no RuleNumber) is numbered 1, 2, … in document order.
	Rules []Rule
}

// IndexDocument is the default page served for a "directory" key (§6.4).
type IndexDocument struct {
	Suffix        string
	SupportSubDir *bool // default false
	Type          *int  // 0, 1 or 2; default 0
}

// ErrorDocument is the page served in place of a 404 body (§6.4).
type ErrorDocument struct {
	Key        string
	HttpStatus *int // 200 or 404; default 404
}

// Rule is one RoutingRule.
type Rule struct {
	Number    int
	Condition Condition
	Redirect  Redirect
}

// Condition is what a request must satisfy for its rule to act; every part
// that is present must hold.
type Condition struct {
	KeyPrefixEquals             *string
	KeySuffixEquals             *string
	HttpErrorCodeReturnedEquals *int
	IncludeHeaders              []IncludeHeader
}

// IncludeHeader requires a request header: Key names it, and exactly one of
// Equals, StartsWith and EndsWith is set.
type IncludeHeader struct {
	Key        string
	Equals     *string
	StartsWith *string
	EndsWith   *string
}

// Redirect is the action of a rule: a Mirror (back-to-origin fill) or a
// redirect (External, Internal, AliCDN).
type Redirect struct {
	RedirectType                   *string // default External
	PassQueryString                *bool
	MirrorURL                      *string
	MirrorURLSlave                 *string
	MirrorSNI                      *bool
	MirrorPassQueryString          *bool
	MirrorFollowRedirect           *bool // default true
	MirrorCheckMd5                 *bool
	MirrorHeaders                  *MirrorHeaders
	MirrorAllowHeadObject          *bool
	MirrorSaveOssMeta              *bool
	MirrorUserLastModified         *bool
	MirrorSwitchAllErrors          *bool
	TransparentMirrorResponseCodes *string
	Protocol                       *string
	HostName                       *string
	ReplaceKeyPrefixWith           *string
	EnableReplacePrefix            *bool
	ReplaceKeyWith                 *string
	HttpRedirectCode               *int // default 301
}

// MirrorHeaders says which request headers a Mirror rule sends to the origin.
type MirrorHeaders struct {
	PassAll *bool
	Pass    []string
	Remove  []string
	Set     []HeaderValue
}

// HeaderValue is a header name and the fixed value to send.
type HeaderValue struct {
	Key   string
	Value string
}

// Type returns the rule's redirect type with the default applied
// (External when absent).
func (r *Redirect) Type() string {
	if r.RedirectType == nil {
		return TypeExternal
	}
	return *r.RedirectType
}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

func strOr(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}
