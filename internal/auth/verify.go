package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Verifier verifies SigV4 requests against a Keyring. Its fields may be
// set before the first Authenticate and not after; Authenticate is safe
// for concurrent use.
type Verifier struct {
	Keys *Keyring
	// Now gives the server's time; time.Now when nil.
	Now func() time.Time
	// MaxSkew is how far a request's date may be from Now, either way.
	MaxSkew time.Duration

	mu   sync.RWMutex
	keys map[keyID]*signingKey
}

// keyID names one derived signing key. The secret is part of it so a
// credential replaced on SIGHUP never signs with its old secret's key.
type keyID struct{ secret, date, region string }

// maxCachedKeys bounds the signing-key cache; scopes change once a day per
// credential and region, so this is only reached by unusual traffic, and
// then the cache simply starts again.
const maxCachedKeys = 1024

// maxExpires is S3's limit on X-Amz-Expires: seven days.
const maxExpires = 7 * 24 * 60 * 60

// NewVerifier returns a Verifier for keys with S3's 15-minute skew.
func NewVerifier(keys *Keyring) *Verifier {
	return &Verifier{Keys: keys, Now: time.Now, MaxSkew: 15 * time.Minute}
}

func (v *Verifier) now() time.Time {
	if v.Now == nil {
		return time.Now()
	}
	return v.Now()
}

// signingKey derives (or finds) the key for secret on date in region.
func (v *Verifier) signingKey(secret, date, region string) []byte {
	return v.derivedKey(secret, date, region).key
}

// derivedKey derives (or finds) the key for secret on date in region, with
// the HMACs keyed by it.
func (v *Verifier) derivedKey(secret, date, region string) *signingKey {
	id := keyID{secret, date, region}
	v.mu.RLock()
	k, ok := v.keys[id]
	v.mu.RUnlock()
	if ok {
		return k
	}
	raw := hmacSHA256([]byte("AWS4"+secret), date)
	raw = hmacSHA256(raw, region)
	raw = hmacSHA256(raw, service)
	raw = hmacSHA256(raw, scopeEnd)
	k = newSigningKey(raw)
	v.mu.Lock()
	if v.keys == nil || len(v.keys) >= maxCachedKeys {
		v.keys = make(map[keyID]*signingKey)
	}
	v.keys[id] = k
	v.mu.Unlock()
	return k
}

// signingKey is a derived SigV4 key and a pool of HMACs keyed by it:
// keying an HMAC costs several allocations and two hash blocks, once per
// request otherwise; a used one is Reset to its keyed state instead.
type signingKey struct {
	key  []byte
	macs sync.Pool
}

func newSigningKey(key []byte) *signingKey {
	k := &signingKey{key: key}
	k.macs.New = func() any { return hmac.New(sha256.New, key) }
	return k
}

// verify reports, in constant time, whether sig is the HMAC of msg.
func (k *signingKey) verify(msg, sig []byte) bool {
	mac := k.macs.Get().(hash.Hash)
	mac.Reset()
	mac.Write(msg)
	var sum [sha256.Size]byte
	ok := hmac.Equal(mac.Sum(sum[:0]), sig)
	k.macs.Put(mac)
	return ok
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// Authenticate checks r's signature. A request with neither an
// Authorization header nor X-Amz-Algorithm/X-Amz-Credential query
// parameters is anonymous: Identity{Anonymous: true}, nil.
//
// On success, when the payload must be verified (a body SHA-256, aws-chunked
// framing, a checksum header or trailer, Content-MD5), r.Body is replaced
// by a *Body that verifies as it goes and whose final Read (the one that
// would return io.EOF) returns an *Error instead when anything did not
// match, so a store that commits only on a clean io.EOF never stores a bad
// body. For aws-chunked bodies r.ContentLength becomes the decoded length
// (-1 when unknown) and the "aws-chunked" token is removed from
// Content-Encoding. The caller still owns and closes r.Body.
//
// Identity.ContentLength is the decoded payload length (-1 when unknown).
// Every error is an *Error carrying the S3 code.
func (v *Verifier) Authenticate(r *http.Request) (*Identity, error) {
	query := parseQuery(r.URL.RawQuery)
	presigned := false
	for _, p := range query {
		if p.name == "X-Amz-Algorithm" || p.name == "X-Amz-Credential" {
			presigned = true
			break
		}
	}
	authz, hasAuthz := r.Header["Authorization"]
	switch {
	case hasAuthz && presigned:
		return nil, newError("InvalidArgument", "Only one auth mechanism allowed; send either the Authorization header or the X-Amz-Algorithm query parameters, not both.")
	case presigned:
		return v.authenticateQuery(r, query)
	case hasAuthz:
		if len(authz) != 1 {
			return nil, malformed("the request has more than one Authorization header")
		}
		return v.authenticateHeader(r, query, authz[0])
	}
	return &Identity{Anonymous: true, ContentLength: r.ContentLength}, nil
}

// signed is what both forms establish before the signature is checked.
type signed struct {
	cred          Credential
	scope         credential
	amzDate       string // the request time as signed, yyyymmddThhmmssZ
	signedHeaders []string
	signature     []byte
	signatureHex  string
	payloadHash   string
	skipQuery     string // X-Amz-Signature for presigned URLs
	presigned     bool
}

func (v *Verifier) authenticateHeader(r *http.Request, query []queryParam, authz string) (*Identity, error) {
	a, err := parseAuthorization(authz)
	if err != nil {
		return nil, err
	}
	cred, ok := v.Keys.Lookup(a.credential.accessKey)
	if !ok {
		return nil, unknownKey(a.credential.accessKey)
	}
	t, amzDate, err := requestDate(r)
	if err != nil {
		return nil, err
	}
	if t.Format(scopeDateFmt) != a.credential.date {
		return nil, malformed("the Credential date " + a.credential.date + " is not the date of X-Amz-Date " + amzDate + "; sign with the scope of the request's own date")
	}
	if err := v.checkSkew(t); err != nil {
		return nil, err
	}
	hash := r.Header.Get("X-Amz-Content-Sha256")
	if hash == "" {
		return nil, newError("InvalidRequest", "Missing required header for this request: x-amz-content-sha256; send the body's hex SHA-256, UNSIGNED-PAYLOAD or a STREAMING-… value.")
	}
	s := signed{
		cred: cred, scope: a.credential, amzDate: amzDate,
		signedHeaders: a.signedHeaders, signature: a.signature, signatureHex: a.signatureHex,
		payloadHash: hash,
	}
	return v.finish(r, query, &s)
}

func (v *Verifier) authenticateQuery(r *http.Request, query []queryParam) (*Identity, error) {
	names := [...]string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"}
	var vals [len(names)]string
	var seen [len(names)]bool
	for _, p := range query {
		for i, n := range names {
			if p.name == n {
				if seen[i] {
					return nil, queryError(n + " is given more than once; give it once")
				}
				seen[i], vals[i] = true, p.value
			}
		}
	}
	for i, ok := range seen {
		if !ok {
			return nil, queryError("Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters; " + names[i] + " is missing")
		}
	}
	alg, credStr, date, expiresStr, signedStr, sig := vals[0], vals[1], vals[2], vals[3], vals[4], vals[5]
	if alg != algorithmV4 {
		return nil, queryError("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\", not " + quote(alg))
	}
	scope, msg := parseCredential(credStr)
	if msg != "" {
		return nil, queryError("X-Amz-Credential: " + msg)
	}
	signedHeaders, msg := parseSignedHeaders(signedStr)
	if msg != "" {
		return nil, queryError("X-Amz-SignedHeaders: " + msg)
	}
	signature, msg := parseSignature(sig)
	if msg != "" {
		return nil, queryError("X-Amz-Signature: " + msg)
	}
	t, err := time.Parse(amzDateFmt, date)
	if err != nil {
		return nil, queryError("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\", not " + quote(date))
	}
	expires, err := strconv.ParseInt(expiresStr, 10, 64)
	switch {
	case err != nil:
		return nil, queryError("X-Amz-Expires should be a number of seconds, not " + quote(expiresStr))
	case expires < 1:
		return nil, queryError("X-Amz-Expires must be at least 1 second")
	case expires > maxExpires:
		return nil, queryError("X-Amz-Expires must be less than a week (in seconds) that is 604800; presign for at most 7 days")
	}
	if t.Format(scopeDateFmt) != scope.date {
		return nil, queryError("the X-Amz-Credential date " + scope.date + " is not the date of X-Amz-Date " + date + "; sign with the scope of the request's own date")
	}
	cred, ok := v.Keys.Lookup(scope.accessKey)
	if !ok {
		return nil, unknownKey(scope.accessKey)
	}
	now := v.now()
	if t.After(now.Add(v.MaxSkew)) {
		return nil, newError("AccessDenied", "Request is not valid yet: X-Amz-Date "+date+" is in the future; check the signing clock.")
	}
	if end := t.Add(time.Duration(expires) * time.Second); now.After(end) {
		e := newError("AccessDenied", "Request has expired; presign the URL again.")
		e.Expires = end.UTC().Format(time.RFC3339)
		e.ServerTime = now.UTC().Format(time.RFC3339)
		return nil, e
	}
	hash := unsignedPayload
	for _, p := range query {
		if p.name == "X-Amz-Content-Sha256" {
			hash = p.value
		}
	}
	if hash == unsignedPayload {
		if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" {
			hash = h
		}
	}
	if strings.HasPrefix(hash, "STREAMING-") {
		return nil, newError("InvalidRequest", "A presigned URL cannot carry an aws-chunked body ("+hash+"); send the body as is with UNSIGNED-PAYLOAD or its SHA-256.")
	}
	s := signed{
		cred: cred, scope: scope, amzDate: date,
		signedHeaders: signedHeaders, signature: signature, signatureHex: sig,
		payloadHash: hash, skipQuery: "X-Amz-Signature", presigned: true,
	}
	return v.finish(r, query, &s)
}

func queryError(msg string) *Error {
	return newError("AuthorizationQueryParametersError", msg+".")
}

func unknownKey(ak string) *Error {
	e := newError("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records; check the access key the client is configured with.")
	e.AccessKeyID = ak
	return e
}

// requestDate reads X-Amz-Date, or Date when there is none.
func requestDate(r *http.Request) (time.Time, string, error) {
	if d := r.Header.Get("X-Amz-Date"); d != "" {
		t, err := time.Parse(amzDateFmt, d)
		if err != nil {
			return t, "", newError("AccessDenied", "X-Amz-Date "+quote(d)+" is not in the ISO8601 basic format yyyyMMdd'T'HHmmss'Z'; AWS authentication requires a valid Date or x-amz-date header.")
		}
		return t, d, nil
	}
	if d := r.Header.Get("Date"); d != "" {
		t, err := http.ParseTime(d)
		if err != nil {
			return t, "", newError("AccessDenied", "Date "+quote(d)+" is not an HTTP date; AWS authentication requires a valid Date or x-amz-date header.")
		}
		t = t.UTC()
		return t, t.Format(amzDateFmt), nil
	}
	return time.Time{}, "", newError("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header; the request has neither.")
}

func (v *Verifier) checkSkew(t time.Time) error {
	now := v.now()
	d := now.Sub(t)
	if d < 0 {
		d = -d
	}
	if d <= v.MaxSkew {
		return nil
	}
	e := newError("RequestTimeTooSkewed", fmt.Sprintf("The difference between the request time (%s) and the server's time (%s) is more than %s; set the client's clock right and retry.",
		t.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), v.MaxSkew))
	e.RequestTime = t.UTC().Format(time.RFC3339)
	e.ServerTime = now.UTC().Format(time.RFC3339)
	e.MaxAllowedSkewMs = v.MaxSkew.Milliseconds()
	return e
}

// finish checks the headers the request must have signed, the signature,
// and puts the verifying body in place.
func (v *Verifier) finish(r *http.Request, query []queryParam, s *signed) (*Identity, error) {
	if err := checkSignedCoverage(r, s.signedHeaders); err != nil {
		return nil, err
	}
	mode, err := payloadModeOf(s.payloadHash)
	if err != nil {
		return nil, err
	}
	key := v.derivedKey(s.cred.SecretKey, s.scope.date, s.scope.region)
	scope := s.scope.date + "/" + s.scope.region + "/" + service + "/" + scopeEnd
	cq := canonicalQuery(query, s.skipQuery)
	path := rawPath(r)
	canon, sts, ok := verifySignature(r, path, cq, s, scope, key)
	if !ok {
		// A client that sent its path encoded other than it signed it
		// (lower-case escapes, a literal character AWS would escape) still
		// named the same key; accept its canonical form too.
		if alt := awsPath(path); alt != path {
			if _, _, ok2 := verifySignature(r, alt, cq, s, scope, key); ok2 {
				ok = true
			}
		}
	}
	if !ok {
		e := newError("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided; check the secret key and the signing method (the canonical request and string to sign are included).")
		e.AccessKeyID = s.cred.AccessKey
		e.SignatureProvided = s.signatureHex
		e.StringToSign = sts
		e.CanonicalRequest = canon
		return nil, e
	}
	id := &Identity{
		Credential:    s.cred,
		Presigned:     s.presigned,
		ContentLength: r.ContentLength,
		Region:        s.scope.region,
	}
	seed := chunkSeed{key: key.key, amzDate: s.amzDate, scope: scope, signature: s.signatureHex}
	if err := attachBody(r, id, mode, s.payloadHash, seed); err != nil {
		return nil, err
	}
	return id, nil
}

// checkSignedCoverage refuses x-amz-* headers the client did not sign: they
// change what a request does (ACLs, copy sources, checksums), so someone
// holding a signed request must not be able to add them.
func checkSignedCoverage(r *http.Request, signedHeaders []string) error {
	var unsigned []string
	for name := range r.Header {
		if len(name) < 6 || !strings.EqualFold(name[:6], "x-amz-") {
			continue
		}
		lower := strings.ToLower(name)
		found := false
		for _, s := range signedHeaders {
			if s == lower {
				found = true
				break
			}
		}
		if !found {
			unsigned = append(unsigned, lower)
		}
	}
	if len(unsigned) > 0 {
		return newError("AccessDenied", "There were headers present in the request which were not signed: "+strings.Join(unsigned, ", ")+"; sign every x-amz-* header.")
	}
	return nil
}

// canonBufs are the buffers canonical requests are built in.
var canonBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooledCanon keeps the buffer of a request with huge headers out of
// the pool.
const maxPooledCanon = 64 << 10

// verifySignature builds the canonical request for path and compares
// signatures in constant time. The canonical request and the string to
// sign are returned for the error when they do not match.
func verifySignature(r *http.Request, path, cq string, s *signed, scope string, key *signingKey) (canon, sts string, ok bool) {
	bp := canonBufs.Get().(*[]byte)
	b := append((*bp)[:0], r.Method...)
	b = append(b, '\n')
	b = append(b, path...)
	b = append(b, '\n')
	b = append(b, cq...)
	b = append(b, '\n')
	b = appendCanonicalHeaders(b, r, s.signedHeaders)
	b = append(b, '\n')
	for i, h := range s.signedHeaders {
		if i > 0 {
			b = append(b, ';')
		}
		b = append(b, h...)
	}
	b = append(b, '\n')
	b = append(b, s.payloadHash...)
	n := len(b)
	sum := sha256.Sum256(b)
	// The string to sign follows the canonical request in the same buffer.
	b = append(b, algorithmV4...)
	b = append(b, '\n')
	b = append(b, s.amzDate...)
	b = append(b, '\n')
	b = append(b, scope...)
	b = append(b, '\n')
	b = hex.AppendEncode(b, sum[:])
	ok = key.verify(b[n:], s.signature)
	if !ok {
		canon, sts = string(b[:n]), string(b[n:])
	}
	if cap(b) <= maxPooledCanon {
		*bp = b
		canonBufs.Put(bp)
	}
	return canon, sts, ok
}
