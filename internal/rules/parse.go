package rules

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"
)

// schemaNode describes one element the decoder knows. encoding/xml skips
// elements its target struct does not name; this package walks the tokens
// against this schema instead, so an unknown element is refused, not lost.
type schemaNode struct {
	leaf     bool // holds text, no elements
	repeat   bool // may appear more than once in its parent
	refused  bool // an OSS field this server does not act on
	children map[string]*schemaNode
}

func leaf() *schemaNode         { return &schemaNode{leaf: true} }
func repeatedLeaf() *schemaNode { return &schemaNode{leaf: true, repeat: true} }
func refusedField() *schemaNode { return &schemaNode{refused: true} }
func container(c map[string]*schemaNode) *schemaNode {
	return &schemaNode{children: c}
}

// refusedRedirectFields are the OSS Redirect elements this server does not
// act on (SPEC §5); they are refused by name rather than ignored.
var refusedRedirectFields = []string{
	"MirrorAuth", "MirrorURLProbe", "MirrorMultiAlternates", "MirrorTaggings",
	"MirrorPassOriginalSlashes", "MirrorAsyncStatus", "MirrorReturnHeaders",
	"MirrorProxyPass", "MirrorUsingRole", "MirrorRole", "MirrorIsExpressTunnel",
	"MirrorDstRegion", "MirrorDstVpcId", "MirrorDstSlaveVpcId", "MirrorTunnelId",
	"MirrorAllowGetImageInfo", "MirrorAllowVideoSnapshot",
}

var rootSchema = buildSchema()

func buildSchema() *schemaNode {
	redirect := map[string]*schemaNode{
		"RedirectType":                   leaf(),
		"PassQueryString":                leaf(),
		"MirrorURL":                      leaf(),
		"MirrorURLSlave":                 leaf(),
		"MirrorSNI":                      leaf(),
		"MirrorPassQueryString":          leaf(),
		"MirrorFollowRedirect":           leaf(),
		"MirrorCheckMd5":                 leaf(),
		"MirrorAllowHeadObject":          leaf(),
		"MirrorSaveOssMeta":              leaf(),
		"MirrorUserLastModified":         leaf(),
		"MirrorSwitchAllErrors":          leaf(),
		"TransparentMirrorResponseCodes": leaf(),
		"Protocol":                       leaf(),
		"HostName":                       leaf(),
		"ReplaceKeyPrefixWith":           leaf(),
		"EnableReplacePrefix":            leaf(),
		"ReplaceKeyWith":                 leaf(),
		"HttpRedirectCode":               leaf(),
		"MirrorHeaders": container(map[string]*schemaNode{
			"PassAll": leaf(),
			"Pass":    repeatedLeaf(),
			"Remove":  repeatedLeaf(),
			"Set": {repeat: true, children: map[string]*schemaNode{
				"Key": leaf(), "Value": leaf(),
			}},
		}),
	}
	for _, name := range refusedRedirectFields {
		redirect[name] = refusedField()
	}
	rule := &schemaNode{repeat: true, children: map[string]*schemaNode{
		"RuleNumber": leaf(),
		"Condition": container(map[string]*schemaNode{
			"KeyPrefixEquals":             leaf(),
			"KeySuffixEquals":             leaf(),
			"HttpErrorCodeReturnedEquals": leaf(),
			"IncludeHeader": {repeat: true, children: map[string]*schemaNode{
				"Key": leaf(), "Equals": leaf(), "StartsWith": leaf(), "EndsWith": leaf(),
			}},
		}),
		"Redirect":  container(redirect),
		"LuaConfig": refusedField(),
	}}
	site := container(map[string]*schemaNode{
		"IndexDocument": container(map[string]*schemaNode{
			"Suffix": leaf(), "SupportSubDir": leaf(), "Type": leaf(),
		}),
		"ErrorDocument": container(map[string]*schemaNode{
			"Key": leaf(), "HttpStatus": leaf(),
		}),
		"RoutingRules":          container(map[string]*schemaNode{"RoutingRule": rule}),
		"RedirectAllRequestsTo": refusedField(),
	})
	return container(map[string]*schemaNode{"WebsiteConfiguration": site})
}

// xnode is one element of the decoded document.
type xnode struct {
	name     string
	text     string
	refused  bool
	children []*xnode
}

func (n *xnode) child(name string) *xnode {
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

func (n *xnode) all(name string) []*xnode {
	var out []*xnode
	for _, c := range n.children {
		if c.name == name {
			out = append(out, c)
		}
	}
	return out
}

// decodeTree walks data's tokens against rootSchema and returns the root
// WebsiteConfiguration element. Every structural problem is MalformedXML.
func decodeTree(data []byte) (*xnode, *Error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	type frame struct {
		node   *xnode
		schema *schemaNode
		text   strings.Builder
	}
	var stack []*frame
	var root *xnode
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, malformed("the body is not well-formed XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := t.Name.Local
			if len(stack) == 0 {
				if root != nil {
					return nil, malformed("the document has a second root element <%s>; send one <WebsiteConfiguration>", name)
				}
				if name != "WebsiteConfiguration" {
					return nil, malformed("the root element is <%s>; it must be <WebsiteConfiguration>", name)
				}
				root = &xnode{name: name}
				stack = append(stack, &frame{node: root, schema: rootSchema.children[name]})
				continue
			}
			parent := stack[len(stack)-1]
			if parent.schema.leaf {
				return nil, malformed("<%s> holds text only; element <%s> is not allowed inside it", parent.node.name, name)
			}
			s, ok := parent.schema.children[name]
			if !ok {
				return nil, malformed("unknown element <%s> in <%s>", name, parent.node.name)
			}
			if !s.repeat && parent.node.child(name) != nil {
				return nil, malformed("<%s> appears more than once in <%s>; give it once", name, parent.node.name)
			}
			n := &xnode{name: name}
			parent.node.children = append(parent.node.children, n)
			if s.refused {
				n.refused = true
				if err := d.Skip(); err != nil {
					return nil, malformed("the body is not well-formed XML: %v", err)
				}
				continue
			}
			stack = append(stack, &frame{node: n, schema: s})
		case xml.EndElement:
			top := stack[len(stack)-1]
			if top.schema.leaf {
				top.node.text = top.text.String()
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 || !stack[len(stack)-1].schema.leaf {
				if len(bytes.TrimSpace(t)) != 0 {
					where := "outside <WebsiteConfiguration>"
					if len(stack) != 0 {
						where = "in <" + stack[len(stack)-1].node.name + ">, which holds elements only"
					}
					return nil, malformed("unexpected text %q %s", truncate(string(t), 40), where)
				}
				continue
			}
			stack[len(stack)-1].text.Write(t)
		case xml.Directive:
			return nil, malformed("XML directives (<!%s>) are not allowed", truncate(string(t), 20))
		case xml.Comment, xml.ProcInst:
		}
	}
	if root == nil {
		return nil, malformed("the body holds no <WebsiteConfiguration> element")
	}
	return root, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Parse decodes and validates a website configuration body (either dialect)
// and returns it with rules sorted by RuleNumber. Any failure is an *Error:
// MalformedXML for a body that is not XML or does not fit the schema (an
// element no dialect knows included), InvalidArgument naming the rule and
// the field otherwise (an OSS field this server does not act on included).
// A body over MaxBodySize is refused without being read further; the caller
// should read at most MaxBodySize+1 bytes.
func Parse(data []byte) (*Config, error) {
	if len(data) > MaxBodySize {
		return nil, invalid("the website configuration is %d bytes or more; at most %d bytes are accepted", len(data), MaxBodySize)
	}
	root, e := decodeTree(data)
	if e != nil {
		return nil, e
	}
	cfg, e := fromTree(root)
	if e != nil {
		return nil, e
	}
	sortRules(cfg.Rules)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// fromTree converts the decoded tree into a Config, checking value syntax
// (integers, booleans) and refusing unsupported fields.
func fromTree(root *xnode) (*Config, *Error) {
	cfg := &Config{}
	if n := root.child("RedirectAllRequestsTo"); n != nil {
		return nil, invalid("RedirectAllRequestsTo is not supported by this server; use a RoutingRule without a Condition whose Redirect names the HostName")
	}
	if n := root.child("IndexDocument"); n != nil {
		idx := &IndexDocument{}
		if s := n.child("Suffix"); s != nil {
			idx.Suffix = s.text
		} else {
			return nil, invalid("IndexDocument: Suffix is missing; give the index page name, e.g. index.html")
		}
		var e *Error
		if idx.SupportSubDir, e = boolField(n, "SupportSubDir", "IndexDocument"); e != nil {
			return nil, e
		}
		if idx.Type, e = intField(n, "Type", "IndexDocument"); e != nil {
			return nil, e
		}
		cfg.IndexDocument = idx
	}
	if n := root.child("ErrorDocument"); n != nil {
		ed := &ErrorDocument{}
		if k := n.child("Key"); k != nil {
			ed.Key = k.text
		} else {
			return nil, invalid("ErrorDocument: Key is missing; give the key of the error page, e.g. error.html")
		}
		var e *Error
		if ed.HttpStatus, e = intField(n, "HttpStatus", "ErrorDocument"); e != nil {
			return nil, e
		}
		cfg.ErrorDocument = ed
	}
	rr := root.child("RoutingRules")
	var ruleNodes []*xnode
	if rr != nil {
		ruleNodes = rr.all("RoutingRule")
	}
	if cfg.IndexDocument == nil && cfg.ErrorDocument == nil && len(ruleNodes) == 0 {
		return nil, malformed("the configuration has none of IndexDocument, ErrorDocument or RoutingRule; give at least one")
	}
	if len(ruleNodes) > MaxRules {
		return nil, invalid("the configuration has %d routing rules; at most %d are allowed", len(ruleNodes), MaxRules)
	}
	numbered := 0
	for _, rn := range ruleNodes {
		if rn.child("RuleNumber") != nil {
			numbered++
		}
	}
	if numbered != 0 && numbered != len(ruleNodes) {
		for i, rn := range ruleNodes {
			if rn.child("RuleNumber") == nil {
				return nil, invalid("RoutingRule at position %d: RuleNumber is missing; give every rule a RuleNumber, or none (they are then numbered in document order)", i+1)
			}
		}
	}
	for i, rn := range ruleNodes {
		r, e := ruleFromTree(rn, i+1, numbered != 0)
		if e != nil {
			return nil, e
		}
		cfg.Rules = append(cfg.Rules, r)
	}
	return cfg, nil
}

func ruleFromTree(rn *xnode, pos int, numbered bool) (Rule, *Error) {
	r := Rule{Number: pos}
	label := "rule " + strconv.Itoa(pos)
	if numbered {
		t := strings.TrimSpace(rn.child("RuleNumber").text)
		n, err := strconv.Atoi(t)
		if err != nil || n <= 0 || len(t) > 9 {
			return r, invalid("RoutingRule at position %d: RuleNumber %q is not a positive integer; number rules 1, 2, 3…", pos, rn.child("RuleNumber").text)
		}
		r.Number = n
		label = "rule " + t
	}
	if rn.child("LuaConfig") != nil {
		return r, invalid("%s: LuaConfig is not supported by this server; remove it", label)
	}
	if c := rn.child("Condition"); c != nil {
		cond := &r.Condition
		cond.KeyPrefixEquals = strField(c, "KeyPrefixEquals")
		cond.KeySuffixEquals = strField(c, "KeySuffixEquals")
		var e *Error
		if cond.HttpErrorCodeReturnedEquals, e = intField(c, "HttpErrorCodeReturnedEquals", label); e != nil {
			return r, e
		}
		for _, h := range c.all("IncludeHeader") {
			ih := IncludeHeader{}
			if k := h.child("Key"); k != nil {
				ih.Key = k.text
			} else {
				return r, invalid("%s: IncludeHeader has no Key; name the request header to test", label)
			}
			ih.Equals = strField(h, "Equals")
			ih.StartsWith = strField(h, "StartsWith")
			ih.EndsWith = strField(h, "EndsWith")
			cond.IncludeHeaders = append(cond.IncludeHeaders, ih)
		}
	}
	rd := rn.child("Redirect")
	if rd == nil {
		return r, invalid("%s: Redirect is missing; every rule needs a Redirect saying what to do", label)
	}
	for _, c := range rd.children {
		if c.refused {
			return r, invalid("%s: %s is not supported by this server; remove it", label, c.name)
		}
	}
	red := &r.Redirect
	var e *Error
	red.RedirectType = strField(rd, "RedirectType")
	red.MirrorURL = strField(rd, "MirrorURL")
	red.MirrorURLSlave = strField(rd, "MirrorURLSlave")
	red.TransparentMirrorResponseCodes = strField(rd, "TransparentMirrorResponseCodes")
	red.Protocol = strField(rd, "Protocol")
	red.HostName = strField(rd, "HostName")
	red.ReplaceKeyPrefixWith = strField(rd, "ReplaceKeyPrefixWith")
	red.ReplaceKeyWith = strField(rd, "ReplaceKeyWith")
	bools := []struct {
		name string
		dst  **bool
	}{
		{"PassQueryString", &red.PassQueryString},
		{"MirrorSNI", &red.MirrorSNI},
		{"MirrorPassQueryString", &red.MirrorPassQueryString},
		{"MirrorFollowRedirect", &red.MirrorFollowRedirect},
		{"MirrorCheckMd5", &red.MirrorCheckMd5},
		{"MirrorAllowHeadObject", &red.MirrorAllowHeadObject},
		{"MirrorSaveOssMeta", &red.MirrorSaveOssMeta},
		{"MirrorUserLastModified", &red.MirrorUserLastModified},
		{"MirrorSwitchAllErrors", &red.MirrorSwitchAllErrors},
		{"EnableReplacePrefix", &red.EnableReplacePrefix},
	}
	for _, b := range bools {
		if *b.dst, e = boolField(rd, b.name, label); e != nil {
			return r, e
		}
	}
	if red.HttpRedirectCode, e = intField(rd, "HttpRedirectCode", label); e != nil {
		return r, e
	}
	if mh := rd.child("MirrorHeaders"); mh != nil {
		h := &MirrorHeaders{}
		if h.PassAll, e = boolField(mh, "PassAll", label+": MirrorHeaders"); e != nil {
			return r, e
		}
		for _, p := range mh.all("Pass") {
			h.Pass = append(h.Pass, p.text)
		}
		for _, p := range mh.all("Remove") {
			h.Remove = append(h.Remove, p.text)
		}
		for _, s := range mh.all("Set") {
			k, v := s.child("Key"), s.child("Value")
			if k == nil || v == nil {
				return r, invalid("%s: MirrorHeaders/Set needs both Key and Value", label)
			}
			h.Set = append(h.Set, HeaderValue{Key: k.text, Value: v.text})
		}
		red.MirrorHeaders = h
	}
	return r, nil
}

func strField(n *xnode, name string) *string {
	c := n.child(name)
	if c == nil {
		return nil
	}
	s := c.text
	return &s
}

func boolField(n *xnode, name, label string) (*bool, *Error) {
	c := n.child(name)
	if c == nil {
		return nil, nil
	}
	var b bool
	switch strings.ToLower(strings.TrimSpace(c.text)) {
	case "true":
		b = true
	case "false":
	default:
		return nil, invalid("%s: %s is %q; it must be true or false", label, name, truncate(c.text, 40))
	}
	return &b, nil
}

func intField(n *xnode, name, label string) (*int, *Error) {
	c := n.child(name)
	if c == nil {
		return nil, nil
	}
	t := strings.TrimSpace(c.text)
	v, err := strconv.Atoi(t)
	if err != nil || len(t) > 9 {
		return nil, invalid("%s: %s is %q; it must be a number", label, name, truncate(c.text, 40))
	}
	return &v, nil
}
