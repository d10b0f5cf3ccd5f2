package rules

import "strings"

// Exister tells whether an object exists in the bucket. An error is a store
// failure; Documents returns it unchanged and the handler answers 500.
type Exister interface {
	Exists(key string) (bool, error)
}

// DocAction is what the website documents ask the handler to do.
type DocAction uint8

const (
	// DocNone: website documents do not apply (a signed request, or no
	// IndexDocument nor ErrorDocument, or the key exists): normal answer.
	DocNone DocAction = iota
	// DocServe: serve object Key with 200 (an index page).
	DocServe
	// DocRedirect: answer 302 with Location (IndexDocument Type 0).
	DocRedirect
	// DocErrorDocument: serve object Key with Status (200 or 404) in place
	// of the 404 body.
	DocErrorDocument
	// DocNotFound: answer 404 NoSuchKey.
	DocNotFound
)

// DocRequest is an anonymous-or-not GET or HEAD that no routing rule took.
type DocRequest struct {
	Key       string
	Anonymous bool
	// Bucket is set for a path-style request; the Type 0 redirect path
	// then starts with "/bucket/".
	Bucket string
}

// DocDecision is the answer of Documents.
type DocDecision struct {
	Action   DocAction
	Key      string // DocServe, DocErrorDocument: the object to serve
	Location string // DocRedirect: an absolute path, percent-encoded
	Status   int    // the status to answer with
}

// Documents applies IndexDocument and ErrorDocument (SPEC §6.4) to a
// request no routing rule matched. They apply to anonymous reads only. The
// key itself is probed first (a key that exists is DocNone, except the empty
// key, which is never an object); then, with IndexDocument, a key that is
// empty or ends in "/" serves key+Suffix (SupportSubDir true) or the root's
// Suffix (false); with SupportSubDir true a key without a trailing slash
// follows Type: 0 redirects (302) to key+"/" when key+"/"+Suffix exists, 1
// is a 404, 2 serves key+"/"+Suffix when it exists. Every 404 then serves
// ErrorDocument's Key with its HttpStatus (default 404) when that object
// exists. ex is called at most four times.
func (m *Matcher) Documents(req DocRequest, ex Exister) (DocDecision, error) {
	if !req.Anonymous || (m.index == nil && m.errd == nil) {
		return DocDecision{}, nil
	}
	key := req.Key
	if key != "" {
		ok, err := ex.Exists(key)
		if err != nil {
			return DocDecision{}, err
		}
		if ok {
			return DocDecision{}, nil
		}
	}
	if d := m.index; d != nil {
		subDir := boolOr(d.SupportSubDir, false)
		switch {
		case key == "" || strings.HasSuffix(key, "/"):
			idx := d.Suffix
			if subDir {
				idx = key + d.Suffix
			}
			ok, err := ex.Exists(idx)
			if err != nil {
				return DocDecision{}, err
			}
			if ok {
				return DocDecision{Action: DocServe, Key: idx, Status: 200}, nil
			}
		case subDir:
			idx := key + "/" + d.Suffix
			switch intOr(d.Type, 0) {
			case 0, 2:
				ok, err := ex.Exists(idx)
				if err != nil {
					return DocDecision{}, err
				}
				if ok && intOr(d.Type, 0) == 0 {
					loc := "/" + EscapePath(key) + "/"
					if req.Bucket != "" {
						loc = "/" + EscapePath(req.Bucket) + loc
					}
					return DocDecision{Action: DocRedirect, Location: loc, Status: 302}, nil
				}
				if ok {
					return DocDecision{Action: DocServe, Key: idx, Status: 200}, nil
				}
			}
		}
	}
	if d := m.errd; d != nil {
		ok, err := ex.Exists(d.Key)
		if err != nil {
			return DocDecision{}, err
		}
		if ok {
			return DocDecision{Action: DocErrorDocument, Key: d.Key, Status: intOr(d.HttpStatus, 404)}, nil
		}
	}
	return DocDecision{Action: DocNotFound, Status: 404}, nil
}
