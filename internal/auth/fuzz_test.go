package auth

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{
		"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
		"AWS4-HMAC-SHA256 Credential=a/b/20130524/r/s3/aws4_request, SignedHeaders=host, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
		"AWS4-HMAC-SHA256 Credential=,SignedHeaders=,Signature=",
		"AWS4-HMAC-SHA256 Credential=x/20130524/r/s3/aws4_request,Credential=y",
		"AWS4-HMAC-SHA256",
		"AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
		"AWS4-ECDSA-P256-SHA256 Credential=x",
		"",
		"AWS4-HMAC-SHA256 ,,,=,",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		a, err := parseAuthorization(h)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Message == "" {
				t.Fatalf("error %v is not a described *Error", err)
			}
			return
		}
		// Whatever parses is complete and well-formed.
		if a.credential.accessKey == "" || len(a.credential.date) != 8 || len(a.signature) != 32 {
			t.Fatalf("parsed %+v", a)
		}
		host := false
		for _, n := range a.signedHeaders {
			host = host || n == "host"
			if n == "" || n != strings.ToLower(n) {
				t.Fatalf("signed header %q", n)
			}
		}
		if !host {
			t.Fatal("host not among the signed headers")
		}
	})
}

// FuzzChunkedReader feeds arbitrary bodies to each aws-chunked mode. The
// decoder must not panic or hang, must never yield more bytes than
// declared, and must only end cleanly when it yielded exactly as many.
func FuzzChunkedReader(f *testing.F) {
	sig := strings.Repeat("ab", 32)
	for _, s := range []string{
		"5\r\nhello\r\n0\r\n\r\n",
		"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n",
		"5;chunk-signature=" + sig + "\r\nhello\r\n0;chunk-signature=" + sig + "\r\n\r\n",
		"0;chunk-signature=" + sig + "\r\nx-amz-checksum-crc32:AAAAAA==\r\nx-amz-trailer-signature:" + sig + "\r\n\r\n",
		"ffffffffffffffff\r\n",
		"fffffffffffffff\r\nabc",
		"-1\r\n",
		"\r\n",
		"5\r\nhel",
		"3\r\nabc\r\n3\r\ndef\r\n0\r\n",
	} {
		for mode := byte(0); mode < 3; mode++ {
			f.Add([]byte(s), mode, uint16(5))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, mode byte, declared uint16) {
		m := []payloadMode{modeChunkSigned, modeChunkSignedTrailer, modeChunkUnsignedTrailer}[mode%3]
		seed := chunkSeed{key: make([]byte, 32), amzDate: "20130524T000000Z", scope: "20130524/us-east-1/s3/aws4_request", signature: sig}
		c := newChunkedReader(bytes.NewReader(body), m, seed, int64(declared), []string{"x-amz-checksum-crc32"})
		var n int64
		buf := make([]byte, 13)
		// Each Read either consumes input or ends; this bound only turns a
		// hang into a failure.
		for i := 0; ; i++ {
			if i > 4*len(body)+16 {
				t.Fatal("decoder does not end")
			}
			k, err := c.Read(buf)
			n += int64(k)
			if n > int64(declared) {
				t.Fatalf("yielded %d bytes, more than the %d declared", n, declared)
			}
			if err == io.EOF {
				if n != int64(declared) {
					t.Fatalf("clean end after %d bytes, %d declared", n, declared)
				}
				return
			}
			if err != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("error %v is not an *Error", err)
				}
				if _, err2 := c.Read(buf); err2 != err {
					t.Fatalf("error is not sticky: %v then %v", err, err2)
				}
				return
			}
		}
	})
}
