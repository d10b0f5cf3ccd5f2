package auth

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// presignedNames are the query parameters that make a request presigned.
var presignedNames = []string{"X-Amz-Algorithm", "X-Amz-Credential"}

// FuzzPresignedQuery feeds arbitrary raw query strings to Authenticate. It
// must never panic; it may only succeed for a request that carries no
// presigned parameter (an anonymous one) or for one carrying the seed's
// signature, the only one the fuzzer is given; and every refusal is an
// *Error with a code and a 400 or 403.
func FuzzPresignedQuery(f *testing.F) {
	signedAt := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	valid := wire(f, sdkPresign(f, newSDKRequest(f, "GET", "k", "", ""), time.Hour, signedAt)).URL.RawQuery
	validSig := sigOf(valid)
	for _, s := range []string{
		valid,
		strings.Replace(valid, "X-Amz-Expires=3600", "X-Amz-Expires=3600&X-Amz-Expires=60", 1),
		strings.Replace(valid, "X-Amz-Expires=3600", "X-Amz-Expires=-1", 1),
		strings.Replace(valid, "X-Amz-Expires=3600", "X-Amz-Expires=99999999999999999999", 1),
		strings.Replace(valid, "X-Amz-Date=", "X-Amz-Date=9", 1),
		"X-Amz-Algorithm=AWS4-HMAC-SHA256",
		"X-Amz-Credential=a%2F20260301%2Fr%2Fs3%2Faws4_request",
		"X-Amz-Algorithm=%zz&X-Amz-Credential=%",
		"x-amz-algorithm=AWS4-HMAC-SHA256&x-amz-credential=a",
		"X-Amz-Signature=00",
		"acl&&&=&X-Amz-Credential",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r, err := http.NewRequest("GET", "http://127.0.0.1:9000/bucket/k", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.URL.RawQuery = raw
		r.RequestURI = "/bucket/k?" + raw
		id, err := newTestVerifier(signedAt.Add(time.Minute)).Authenticate(r)
		if err == nil {
			if !id.Anonymous {
				// The only signature known is the seed's; success with any
				// other would be a forgery.
				if sig := sigOf(raw); sig != validSig {
					t.Fatalf("query %q authenticated as %+v with signature %q", raw, id.Credential, sig)
				}
				return
			}
			for _, p := range parseQuery(raw) {
				for _, n := range presignedNames {
					if p.name == n {
						t.Fatalf("query %q names %s but was taken as anonymous", raw, n)
					}
				}
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) || e.Code == "" || e.Message == "" || (e.Status != http.StatusBadRequest && e.Status != http.StatusForbidden) {
			t.Fatalf("error %#v is not a described *Error with 400 or 403", err)
		}
	})
}

// sigOf returns the X-Amz-Signature value of a raw query.
func sigOf(raw string) string {
	for _, p := range parseQuery(raw) {
		if p.name == "X-Amz-Signature" {
			return p.value
		}
	}
	return ""
}

// FuzzPresignedTamper presigns a request with the AWS SDK's signer (the
// reference) for a fuzzed key, extra parameter, lifetime and clock, then
// checks that the verifier accepts it exactly when S3 would (lifetime 1 s
// to 7 days, within its lifetime, not from more than 15 minutes in the
// future), and that changing any one query parameter's value refuses it.
func FuzzPresignedTamper(f *testing.F) {
	f.Add("k", "", "", uint32(3600), int32(60), uint8(0), "x")
	f.Add("photos/été/../a b+c", "prefix", "a&b=c", uint32(604800), int32(604800), uint8(3), "0")
	f.Add("k", "versionId", "null", uint32(604801), int32(0), uint8(7), "%")
	f.Add("k", "acl", "", uint32(0), int32(0), uint8(1), " ")
	f.Add("k", "", "", uint32(60), int32(61), uint8(2), "=")
	f.Add("k", "", "", uint32(60), int32(-901), uint8(4), "&a")
	f.Add("//evil/%2e%2e", "response-content-type", "text/html\r\nX: y", uint32(1), int32(-900), uint8(5), "\x00")
	signedAt := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, key, extraName, extraValue string, expires uint32, age int32, which uint8, tamper string) {
		if len(key) > 1024 || len(extraName)+len(extraValue) > 1024 || tamper == "" {
			return
		}
		req := newSDKRequest(t, "GET", key, "", "")
		if extraName != "" && !strings.HasPrefix(strings.ToLower(extraName), "x-amz-") {
			req.URL.RawQuery = strings.ReplaceAll(url.Values{extraName: {extraValue}}.Encode(), "+", "%20")
		}
		r := wire(t, sdkPresign(t, req, time.Duration(expires)*time.Second, signedAt))
		now := signedAt.Add(time.Duration(age) * time.Second)
		want := ""
		switch {
		case expires < 1 || expires > maxExpires:
			want = "AuthorizationQueryParametersError"
		case age < -15*60 || int64(age) > int64(expires):
			want = "AccessDenied"
		}
		id, err := newTestVerifier(now).Authenticate(r)
		if codeOf(err) != want {
			t.Fatalf("expires %d, age %d s: err = %v, want %q", expires, age, err, want)
		}
		if err == nil && (!id.Presigned || id.Credential.AccessKey != testAK) {
			t.Fatalf("identity %+v", id)
		}

		// Change one parameter's value; whatever it was, the URL must no
		// longer authenticate.
		pairs := strings.Split(r.URL.RawQuery, "&")
		i := int(which) % len(pairs)
		name, value, _ := strings.Cut(pairs[i], "=")
		dv, err := url.QueryUnescape(value)
		if err != nil {
			t.Fatalf("presigned query %q has an undecodable value", r.URL.RawQuery)
		}
		pairs[i] = name + "=" + uriEncode(dv+tamper, true)
		r.URL.RawQuery = strings.Join(pairs, "&")
		r.RequestURI = r.URL.RequestURI()
		if id, err := newTestVerifier(now).Authenticate(r); err == nil {
			t.Fatalf("tampered %s (value %q + %q) still authenticates as %+v; query %q", name, dv, tamper, id.Credential, r.URL.RawQuery)
		}
	})
}
