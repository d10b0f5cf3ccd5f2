// Package auth authenticates S3 requests (AWS Signature V4 in the header,
// presigned and aws-chunked forms) and decides anonymous access.
package auth

import (
	"net/http"
	"sync"
)

// Credential is one access key pair.
type Credential struct {
	AccessKey   string `json:"accessKey" yaml:"accessKey"`
	SecretKey   string `json:"secretKey" yaml:"secretKey"`
	DisplayName string `json:"displayName,omitempty" yaml:"displayName,omitempty"`
}

// Keyring holds the root credential and any others. It is safe for
// concurrent use; Replace swaps the non-root credentials at once (SIGHUP).
type Keyring struct {
	root Credential
	mu   sync.RWMutex
	keys map[string]Credential
}

// NewKeyring returns a keyring with root and the given other credentials.
func NewKeyring(root Credential, others ...Credential) *Keyring {
	k := &Keyring{root: root}
	k.Replace(others)
	return k
}

// Root returns the root credential, which may do everything.
func (k *Keyring) Root() Credential { return k.root }

// IsRoot reports whether accessKey is the root credential's.
func (k *Keyring) IsRoot(accessKey string) bool { return accessKey == k.root.AccessKey }

// Lookup finds the credential of an access key.
func (k *Keyring) Lookup(accessKey string) (Credential, bool) {
	if accessKey == k.root.AccessKey {
		return k.root, true
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	c, ok := k.keys[accessKey]
	return c, ok
}

// Replace swaps every non-root credential for others.
func (k *Keyring) Replace(others []Credential) {
	m := make(map[string]Credential, len(others))
	for _, c := range others {
		if c.AccessKey != k.root.AccessKey {
			m[c.AccessKey] = c
		}
	}
	k.mu.Lock()
	k.keys = m
	k.mu.Unlock()
}

// Identity is who sent a request, as Authenticate established it.
type Identity struct {
	// Anonymous is true when the request carried no signature at all.
	Anonymous  bool
	Credential Credential
	// Presigned is true for query-string (presigned URL) authentication.
	Presigned bool
	// ContentLength is the length of the payload the (possibly replaced)
	// request body yields: x-amz-decoded-content-length for aws-chunked
	// bodies, the request's Content-Length otherwise; -1 when unknown.
	ContentLength int64
	// Region is the region named in the credential scope. The server is
	// region-less and accepts any; it is kept for logs.
	Region string
	// Body is the verifying reader Authenticate put in place of r.Body, or
	// nil when the body needed no verification. After it returned io.EOF,
	// its Checksum method gives the checksum it verified or computed.
	Body *Body
}

// Error is an authentication failure, carrying the S3 error code and the
// HTTP status S3 answers it with.
//
// The optional fields are the extra elements S3 puts in its error XML so a
// client can find what it signed differently; empty ones are left out.
type Error struct {
	Code    string // e.g. "SignatureDoesNotMatch"
	Status  int    // e.g. http.StatusForbidden
	Message string // says what is wrong and what to fix

	AccessKeyID       string // SignatureDoesNotMatch, InvalidAccessKeyId
	SignatureProvided string // SignatureDoesNotMatch
	StringToSign      string // SignatureDoesNotMatch
	CanonicalRequest  string // SignatureDoesNotMatch of a request (not of a chunk)
	RequestTime       string // RequestTimeTooSkewed
	ServerTime        string // RequestTimeTooSkewed, expired presigned URL
	MaxAllowedSkewMs  int64  // RequestTimeTooSkewed
	Expires           string // expired presigned URL: when it expired (RFC 3339)
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// newError builds an *Error; the status follows the code as S3 has it.
func newError(code, message string) *Error {
	status := http.StatusForbidden
	switch code {
	case "AuthorizationHeaderMalformed", "AuthorizationQueryParametersError",
		"XAmzContentSHA256Mismatch", "BadDigest", "InvalidDigest", "IncompleteBody",
		"InvalidArgument", "InvalidRequest", "MalformedTrailerError":
		status = http.StatusBadRequest
	}
	return &Error{Code: code, Status: status, Message: message}
}
