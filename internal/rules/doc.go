// Package rules holds a bucket's website configuration: the XML of
// PUT/GET ?website in the Alibaba OSS dialect (a superset of Amazon S3's),
// its validation, and the compiled, immutable form the GET and HEAD handlers
// consult on every request.
//
// The package is pure: it does no I/O. Where a decision needs to know whether
// an object exists, the caller passes a small interface (Prober, Exister) and
// this package calls it at most as often as documented.
//
// The life of a configuration:
//
//	cfg, err := rules.Parse(body)   // strict decode + validation (*Error on failure)
//	out, _ := cfg.Marshal()         // what GET ?website returns
//	m := rules.Compile(cfg)         // immutable; safe for concurrent use
//	res := m.Match(&req, prober)    // first matching rule, zero allocations
//
// A *Matcher is never modified after Compile; a PUT ?website compiles a new one
// and swaps it in whole.
package rules
