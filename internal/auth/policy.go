package auth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// MaxPolicySize is the largest bucket policy accepted, in bytes (S3's limit).
const MaxPolicySize = 20 << 10

// Policy actions this server understands.
const (
	ActionGetObject  = "s3:GetObject"
	ActionListBucket = "s3:ListBucket"
)

// PolicyError is a bucket policy that cannot be used; Message names what is
// wrong or unsupported. s3api answers it as 400 MalformedPolicy.
type PolicyError struct{ Message string }

func (e *PolicyError) Error() string { return "malformed policy: " + e.Message }

func policyErrorf(format string, args ...any) *PolicyError {
	return &PolicyError{Message: fmt.Sprintf(format, args...)}
}

// Policy is a compiled bucket policy: immutable, safe for concurrent use.
// Only the subset this server enforces compiles: Allow and Deny statements
// granting s3:GetObject on keys (all, a prefix or one key) and s3:ListBucket
// on the bucket, to everyone or to named access keys. Anything else is
// rejected by ParsePolicy rather than stored and silently ignored.
type Policy struct {
	statements []statement
}

type statement struct {
	deny bool
	// anyone is true for Principal "*"; otherwise principals holds access
	// keys.
	anyone     bool
	principals map[string]bool
	getObject  bool
	listBucket bool
	// keys are the object patterns of GetObject: a prefix when prefix is
	// true (from "bucket/prefix*"), else one exact key.
	keys   []keyPattern
	bucket bool // the bucket itself is a resource (ListBucket)
}

type keyPattern struct {
	value  string
	prefix bool
}

func (p keyPattern) match(key string) bool {
	if p.prefix {
		return strings.HasPrefix(key, p.value)
	}
	return key == p.value
}

// Allows reports whether the policy grants action (ActionGetObject on key,
// or ActionListBucket) to principal, the caller's access key ("" for an
// anonymous caller). A matching Deny wins over every Allow. A nil Policy
// allows nothing.
func (p *Policy) Allows(principal, action, key string) bool {
	return p.Decide(principal, action, key) > 0
}

// Decide is Allows with a third answer: it returns 1 when an Allow matches
// and no Deny does, -1 when a Deny matches, and 0 when no statement applies,
// so that a caller combining the policy with an ACL lets an explicit Deny
// override the ACL's grant.
func (p *Policy) Decide(principal, action, key string) int {
	if p == nil {
		return 0
	}
	verdict := 0
	for i := range p.statements {
		s := &p.statements[i]
		if !s.applies(principal, action, key) {
			continue
		}
		if s.deny {
			return -1
		}
		verdict = 1
	}
	return verdict
}

func (s *statement) applies(principal, action, key string) bool {
	if !s.anyone && (principal == "" || !s.principals[principal]) {
		return false
	}
	switch action {
	case ActionGetObject:
		if !s.getObject {
			return false
		}
		for _, k := range s.keys {
			if k.match(key) {
				return true
			}
		}
		return false
	case ActionListBucket:
		return s.listBucket && s.bucket
	}
	return false
}

// ParsePolicy validates a bucket policy document for bucket and compiles
// it. Every error is a *PolicyError naming the first thing that is wrong or
// not supported.
func ParsePolicy(bucket string, data []byte) (*Policy, error) {
	if len(data) > MaxPolicySize {
		return nil, policyErrorf("the policy has %d bytes; at most %d are allowed", len(data), MaxPolicySize)
	}
	var doc map[string]json.RawMessage
	if err := strictJSON(data, &doc); err != nil {
		return nil, policyErrorf("the policy is not a JSON object: %v", err)
	}
	for _, name := range sortedKeys(doc) {
		switch name {
		case "Version", "Id", "Statement":
		default:
			return nil, policyErrorf("unsupported policy element %q (supported: Version, Id, Statement)", name)
		}
	}
	if raw, ok := doc["Version"]; ok {
		var v string
		if err := json.Unmarshal(raw, &v); err != nil || (v != "2012-10-17" && v != "2008-10-17") {
			return nil, policyErrorf("Version must be \"2012-10-17\" or \"2008-10-17\", not %s", raw)
		}
	}
	raw, ok := doc["Statement"]
	if !ok {
		return nil, policyErrorf("the policy has no Statement")
	}
	var stmts []map[string]json.RawMessage
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
		var one map[string]json.RawMessage
		if err := json.Unmarshal(raw, &one); err != nil {
			return nil, policyErrorf("Statement: %v", err)
		}
		stmts = append(stmts, one)
	} else if err := json.Unmarshal(raw, &stmts); err != nil {
		return nil, policyErrorf("Statement must be an object or a list of objects: %v", err)
	}
	if len(stmts) == 0 {
		return nil, policyErrorf("the policy has no Statement")
	}
	p := &Policy{}
	for i, m := range stmts {
		s, err := parseStatement(bucket, m)
		if err != nil {
			err.Message = fmt.Sprintf("Statement %d: %s", i+1, err.Message)
			return nil, err
		}
		p.statements = append(p.statements, s)
	}
	return p, nil
}

func parseStatement(bucket string, m map[string]json.RawMessage) (statement, *PolicyError) {
	var s statement
	if m == nil {
		return s, policyErrorf("a statement must be a JSON object")
	}
	for _, name := range sortedKeys(m) {
		switch name {
		case "Sid", "Effect", "Principal", "Action", "Resource":
		default:
			return s, policyErrorf("unsupported element %q (supported: Sid, Effect, Principal, Action, Resource)", name)
		}
	}
	var effect string
	if err := json.Unmarshal(m["Effect"], &effect); err != nil {
		return s, policyErrorf("Effect must be \"Allow\" or \"Deny\"")
	}
	switch effect {
	case "Allow":
	case "Deny":
		s.deny = true
	default:
		return s, policyErrorf("Effect must be \"Allow\" or \"Deny\", not %q", effect)
	}
	if err := s.parsePrincipal(m["Principal"]); err != nil {
		return s, err
	}
	actions, err := stringOrList(m["Action"], "Action")
	if err != nil {
		return s, err
	}
	for _, a := range actions {
		switch a {
		case ActionGetObject:
			s.getObject = true
		case ActionListBucket:
			s.listBucket = true
		default:
			return s, policyErrorf("unsupported Action %q (supported: %s and %s)", a, ActionGetObject, ActionListBucket)
		}
	}
	resources, err := stringOrList(m["Resource"], "Resource")
	if err != nil {
		return s, err
	}
	bucketARN := "arn:aws:s3:::" + bucket
	for _, r := range resources {
		switch {
		case r == bucketARN:
			if !s.listBucket {
				return s, policyErrorf("Resource %q (the bucket) is only used by %s, which the statement does not grant", r, ActionListBucket)
			}
			s.bucket = true
		case strings.HasPrefix(r, bucketARN+"/"):
			if !s.getObject {
				return s, policyErrorf("Resource %q (objects) is only used by %s, which the statement does not grant", r, ActionGetObject)
			}
			pat := r[len(bucketARN)+1:]
			k := keyPattern{value: pat}
			if strings.HasSuffix(pat, "*") {
				k = keyPattern{value: pat[:len(pat)-1], prefix: true}
			}
			if strings.ContainsAny(k.value, "*?") {
				return s, policyErrorf("Resource %q: wildcards are supported only at the end (\"%s/prefix*\")", r, bucketARN)
			}
			s.keys = append(s.keys, k)
		case strings.HasPrefix(r, "arn:aws:s3:::"):
			return s, policyErrorf("Resource %q is not in this bucket; use %s or %s/…", r, bucketARN, bucketARN)
		default:
			return s, policyErrorf("unsupported Resource %q (supported: %s and %s/prefix*)", r, bucketARN, bucketARN)
		}
	}
	if s.getObject && len(s.keys) == 0 {
		return s, policyErrorf("%s needs an object Resource such as %s/*", ActionGetObject, bucketARN)
	}
	if s.listBucket && !s.bucket {
		return s, policyErrorf("%s needs the bucket Resource %s", ActionListBucket, bucketARN)
	}
	return s, nil
}

// parsePrincipal accepts "*", {"AWS": "*"} and {"AWS": [keys or
// arn:aws:iam::ACCOUNT:user/KEY]}.
func (s *statement) parsePrincipal(raw json.RawMessage) *PolicyError {
	if raw == nil {
		return policyErrorf("Principal is missing")
	}
	var star string
	if json.Unmarshal(raw, &star) == nil {
		if star != "*" {
			return policyErrorf("Principal must be \"*\" or {\"AWS\": …}, not %q", star)
		}
		s.anyone = true
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return policyErrorf("Principal must be \"*\" or {\"AWS\": …}")
	}
	for _, name := range sortedKeys(m) {
		if name != "AWS" {
			return policyErrorf("unsupported Principal type %q (supported: AWS)", name)
		}
	}
	ids, err := stringOrList(m["AWS"], "Principal AWS")
	if err != nil {
		return err
	}
	s.principals = map[string]bool{}
	for _, id := range ids {
		switch {
		case id == "*":
			s.anyone = true
		case strings.HasPrefix(id, "arn:"):
			const pfx = "arn:aws:iam::"
			_, user, ok := strings.Cut(strings.TrimPrefix(id, pfx), ":user/")
			if !strings.HasPrefix(id, pfx) || !ok || user == "" || strings.ContainsAny(user, "/*") {
				return policyErrorf("unsupported Principal %q (use an access key, arn:aws:iam::ACCOUNT:user/ACCESSKEY or \"*\")", id)
			}
			s.principals[user] = true
		case strings.ContainsAny(id, "*?:/ "):
			return policyErrorf("unsupported Principal %q (use an access key, arn:aws:iam::ACCOUNT:user/ACCESSKEY or \"*\")", id)
		default:
			s.principals[id] = true
		}
	}
	return nil
}

// stringOrList decodes a policy value that is a string or a non-empty
// list of strings.
func stringOrList(raw json.RawMessage, what string) ([]string, *PolicyError) {
	if raw == nil {
		return nil, policyErrorf("%s is missing", what)
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one == "" {
			return nil, policyErrorf("%s is empty", what)
		}
		return []string{one}, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, policyErrorf("%s must be a string or a list of strings", what)
	}
	if len(list) == 0 {
		return nil, policyErrorf("%s is empty", what)
	}
	for _, v := range list {
		if v == "" {
			return nil, policyErrorf("%s has an empty entry", what)
		}
	}
	return list, nil
}

// strictJSON decodes exactly one JSON value, nothing after it.
func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("data after the policy object")
	}
	return nil
}

func sortedKeys(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
