package auth

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// TestHeaderValues checks the precomputed canonical names against
// net/http's own lookup, for every name in the table and one outside it.
func TestHeaderValues(t *testing.T) {
	h := http.Header{}
	names := []string{"x-custom-thing", "x-amz-meta-color"}
	for n := range headerKeys {
		names = append(names, n)
	}
	for i, n := range names {
		h.Add(n, "v"+n)
		if i%2 == 0 {
			h.Add(n, "second")
		}
	}
	for _, n := range append(names, "x-amz-not-sent") {
		if got, want := headerValues(h, n), h.Values(n); !slices.Equal(got, want) {
			t.Errorf("%s: %q, want %q", n, got, want)
		}
	}
}

// TestVerifyReusesKeyedHMACs authenticates good and tampered requests for
// two credentials from many goroutines at once: an HMAC returned to its
// key's pool after a mismatch must verify the next good request, and one
// key's HMAC must never check another key's signature.
func TestVerifyReusesKeyedHMACs(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	v := newTestVerifier(now)
	const perKind = 40
	type job struct {
		r    *http.Request
		good bool
	}
	var jobs []job
	for i := range perKind {
		for _, ak := range []string{testAK, "root"} {
			req := newSDKRequest(t, "GET", "k"+strings.Repeat("x", i), "", "")
			sdkSignAs(t, req, ak, emptySHA256, now)
			jobs = append(jobs, job{wire(t, req), true})
			bad := wire(t, req)
			bad.Method = "HEAD"
			jobs = append(jobs, job{bad, false})
		}
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := w; k < len(jobs); k += 4 {
				j := jobs[k]
				_, err := v.Authenticate(j.r)
				if j.good && err != nil {
					t.Errorf("job %d: a good request failed: %v", k, err)
				}
				var e *Error
				if !j.good && (!errors.As(err, &e) || e.Code != "SignatureDoesNotMatch" || !strings.HasPrefix(e.CanonicalRequest, "HEAD\n")) {
					t.Errorf("job %d: a tampered request gave %v", k, err)
				}
			}
		}()
	}
	wg.Wait()
}

// TestAuthenticateAllocations keeps the header-signed verification from
// growing its allocations back (35 before the canonical request was built
// in a pooled buffer, header names were looked up canonical and keyed
// HMACs were reused; 16 after).
func TestAuthenticateAllocations(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	v := newTestVerifier(now)
	req := newSDKRequest(t, "GET", "photos/2026/cat picture.jpg", "versionId=7", "")
	req.Header.Set("Range", "bytes=0-1023")
	sdkSign(t, req, emptySHA256, now)
	r := wire(t, req)
	if _, err := v.Authenticate(r); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := v.Authenticate(r); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 20 {
		t.Fatalf("%.0f allocations per verification, want at most 20", allocs)
	}
}

// sdkSignAs is sdkSign with one of the test verifier's two credentials.
func sdkSignAs(t testing.TB, req *http.Request, ak, payloadHash string, at time.Time) {
	t.Helper()
	secret := map[string]string{testAK: testSecret, "root": "rootsecret"}[ak]
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	err := v4.NewSigner().SignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: ak, SecretAccessKey: secret},
		req, payloadHash, "s3", "eu-west-3", at,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err != nil {
		t.Fatal(err)
	}
}
