package auth

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7/pkg/signer"
)

// awsChunkedExample is the body of AWS's published aws-chunked example:
// 66560 bytes of 'a' in chunks of 64 KiB and 1 KiB, each with its known
// signature, then the final chunk.
func awsChunkedExample(sigs [3]string, trailer string) []byte {
	var b bytes.Buffer
	b.WriteString("10000;chunk-signature=" + sigs[0] + "\r\n")
	b.Write(bytes.Repeat([]byte("a"), 65536))
	b.WriteString("\r\n400;chunk-signature=" + sigs[1] + "\r\n")
	b.Write(bytes.Repeat([]byte("a"), 1024))
	b.WriteString("\r\n0;chunk-signature=" + sigs[2] + "\r\n")
	b.WriteString(trailer)
	b.WriteString("\r\n")
	return b.Bytes()
}

func TestAWSChunkedExample(t *testing.T) {
	head := `
PUT /examplebucket/chunkObject.txt HTTP/1.1
Host: s3.amazonaws.com
x-amz-date: 20130524T000000Z
x-amz-storage-class: REDUCED_REDUNDANCY
Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9
x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD
Content-Encoding: aws-chunked
x-amz-decoded-content-length: 66560
Content-Length: 66824
`
	sigs := [3]string{
		"ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
		"0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
		"b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
	}
	want := bytes.Repeat([]byte("a"), 66560)
	v := newTestVerifier(exampleTime)

	t.Run("as published", func(t *testing.T) {
		body := awsChunkedExample(sigs, "")
		if len(body) != 66824 {
			t.Fatalf("example body is %d bytes", len(body))
		}
		r := rawRequest(t, head, body)
		id, err := v.Authenticate(r)
		if err != nil {
			t.Fatal(err)
		}
		if id.ContentLength != 66560 || r.ContentLength != 66560 || r.Header.Get("Content-Encoding") != "" {
			t.Fatalf("ContentLength %d/%d, Content-Encoding %q", id.ContentLength, r.ContentLength, r.Header.Get("Content-Encoding"))
		}
		got, err := readAll(r.Body)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("read %d bytes, %v", len(got), err)
		}
	})

	bad := []struct {
		name string
		edit func(b []byte) []byte
		code string
		// max is how many payload bytes may be handed on before the error:
		// only chunks whose signature verified.
		max int
	}{
		{"byte of first chunk", func(b []byte) []byte { b[100] = 'b'; return b }, "SignatureDoesNotMatch", 0},
		{"byte of second chunk", func(b []byte) []byte { b[65626+100] = 'b'; return b }, "SignatureDoesNotMatch", 65536},
		{"final chunk signature", func(b []byte) []byte {
			return bytes.Replace(b, []byte(sigs[2]), []byte(sigs[1]), 1)
		}, "SignatureDoesNotMatch", 66560},
		{"chunks swapped signatures", func(b []byte) []byte {
			b = bytes.Replace(b, []byte(sigs[0]), []byte(strings.Repeat("x", 64)), 1)
			b = bytes.Replace(b, []byte(sigs[1]), []byte(sigs[0]), 1)
			return bytes.Replace(b, []byte(strings.Repeat("x", 64)), []byte(sigs[1]), 1)
		}, "SignatureDoesNotMatch", 0},
		{"truncated", func(b []byte) []byte { return b[:66000] }, "IncompleteBody", 65536},
		{"final chunk missing", func(b []byte) []byte { return b[:len(b)-86] }, "IncompleteBody", 66560},
		{"data after final chunk", func(b []byte) []byte { return append(b, "junk\r\n"...) }, "InvalidRequest", 66560},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.edit(awsChunkedExample(sigs, ""))
			// Content-Length is signed, so the edited body replaces the
			// parsed one rather than changing the header.
			r := rawRequest(t, head, awsChunkedExample(sigs, ""))
			r.Body = io.NopCloser(bytes.NewReader(body))
			if _, err := v.Authenticate(r); err != nil {
				t.Fatal(err)
			}
			got, err := readAll(r.Body)
			if codeOf(err) != tt.code {
				t.Fatalf("final read error = %v, want %s", err, tt.code)
			}
			if len(got) > tt.max {
				t.Fatalf("%d bytes were handed on before the error, want at most %d", len(got), tt.max)
			}
			// The error sticks: no later Read returns io.EOF.
			if _, err2 := r.Body.Read(make([]byte, 10)); err2 != err {
				t.Fatalf("next Read = %v, want the same error", err2)
			}
		})
	}

	t.Run("seed signature", func(t *testing.T) {
		r := rawRequest(t, strings.Replace(head, "REDUCED_REDUNDANCY", "STANDARD", 1), awsChunkedExample(sigs, ""))
		if _, err := v.Authenticate(r); codeOf(err) != "SignatureDoesNotMatch" {
			t.Fatalf("err = %v", err)
		}
	})
}

// The same example with a signed trailer (x-amz-checksum-crc32c).
func TestAWSChunkedTrailerExample(t *testing.T) {
	head := `
PUT /examplebucket/chunkObject.txt HTTP/1.1
Host: s3.amazonaws.com
x-amz-date: 20130524T000000Z
x-amz-storage-class: REDUCED_REDUNDANCY
Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer,Signature=106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e
x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER
Content-Encoding: aws-chunked
x-amz-decoded-content-length: 66560
x-amz-trailer: x-amz-checksum-crc32c
Content-Length: LEN
`
	sigs := [3]string{
		"b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
		"1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
		"2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
	}
	trailer := "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n"
	v := newTestVerifier(exampleTime)
	for _, tt := range []struct {
		name, trailer, code string
	}{
		{"as published", trailer, ""},
		{"checksum changed", strings.Replace(trailer, "sOO8/Q==", "AAAAAA==", 1), "SignatureDoesNotMatch"},
		{"trailer signature missing", "x-amz-checksum-crc32c:sOO8/Q==\r\n", "MalformedTrailerError"},
		{"trailer missing", "", "MalformedTrailerError"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := awsChunkedExample(sigs, tt.trailer)
			r := rawRequest(t, strings.Replace(head, "LEN", strconv.Itoa(len(body)), 1), body)
			id, err := v.Authenticate(r)
			if err != nil {
				t.Fatal(err)
			}
			got, err := readAll(r.Body)
			if codeOf(err) != tt.code {
				t.Fatalf("final read error = %v, want %q", err, tt.code)
			}
			if err == nil {
				if len(got) != 66560 {
					t.Fatalf("read %d bytes", len(got))
				}
				if n, v := id.Body.Checksum(); n != "x-amz-checksum-crc32c" || v != "sOO8/Q==" {
					t.Fatalf("Checksum() = %q %q", n, v)
				}
			}
		})
	}
}

// sha256Hasher adapts sha256 to the hasher minio-go's streaming signer takes.
type sha256Hasher struct{ hash.Hash }

func (sha256Hasher) Close() {}

func minioPayload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// minioStreaming builds a request signed by minio-go's streaming signer.
func minioStreaming(t *testing.T, payload []byte, trailer http.Header, at time.Time) *http.Request {
	t.Helper()
	req, err := http.NewRequest("PUT", "http://127.0.0.1:9000/bucket/dir/obj%20one.bin", io.NopCloser(bytes.NewReader(payload)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("X-Amz-Meta-Owner", "test")
	req.Trailer = trailer
	req = signer.StreamingSignV4(req, testAK, testSecret, "", "us-east-1", int64(len(payload)), at, sha256Hasher{sha256.New()})
	return wire(t, req)
}

func TestMinioStreaming(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	v := newTestVerifier(now)
	for _, size := range []int{0, 1, 64 << 10, 64<<10 + 1, 200 << 10} {
		for _, withTrailer := range []bool{false, true} {
			name := strconv.Itoa(size)
			if withTrailer {
				name += "/trailer"
			}
			t.Run(name, func(t *testing.T) {
				payload := minioPayload(size)
				var tr http.Header
				if withTrailer {
					tr = http.Header{"x-amz-checksum-crc32": {checksumOf("x-amz-checksum-crc32", payload)}}
				}
				r := minioStreaming(t, payload, tr, now)
				id, err := v.Authenticate(r)
				if err != nil {
					t.Fatal(err)
				}
				if id.ContentLength != int64(size) {
					t.Fatalf("ContentLength = %d", id.ContentLength)
				}
				got, err := readAll(r.Body)
				if err != nil || !bytes.Equal(got, payload) {
					t.Fatalf("read %d bytes, %v", len(got), err)
				}
			})
		}
	}

	t.Run("corrupt chunk byte", func(t *testing.T) {
		payload := minioPayload(150 << 10)
		for _, withTrailer := range []bool{false, true} {
			var tr http.Header
			if withTrailer {
				tr = http.Header{"x-amz-checksum-sha256": {checksumOf("x-amz-checksum-sha256", payload)}}
			}
			r := minioStreaming(t, payload, tr, now)
			raw, _ := io.ReadAll(r.Body)
			// A byte in the second chunk's data.
			raw[len(raw)/2] ^= 1
			r.Body = io.NopCloser(bytes.NewReader(raw))
			if _, err := v.Authenticate(r); err != nil {
				t.Fatal(err)
			}
			got, err := readAll(r.Body)
			if codeOf(err) != "SignatureDoesNotMatch" {
				t.Fatalf("trailer %v: final read error = %v", withTrailer, err)
			}
			if !bytes.Equal(got, payload[:len(got)]) || len(got) > 64<<10 {
				t.Fatalf("trailer %v: %d bytes handed on before the error", withTrailer, len(got))
			}
		}
	})

	t.Run("wrong trailer checksum", func(t *testing.T) {
		payload := minioPayload(10 << 10)
		tr := http.Header{"x-amz-checksum-crc32c": {checksumOf("x-amz-checksum-crc32c", []byte("other"))}}
		r := minioStreaming(t, payload, tr, now)
		if _, err := v.Authenticate(r); err != nil {
			t.Fatal(err)
		}
		if _, err := readAll(r.Body); codeOf(err) != "BadDigest" {
			t.Fatalf("final read error = %v", err)
		}
	})
}

// checksumOf is the base64 checksum of b by the algorithm of header name.
func checksumOf(name string, b []byte) string {
	h := algoByHeader(name).new()
	h.Write(b)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// minio-go's SignV4Trailer: a header-signed request whose body is
// aws-chunked without chunk signatures and ends in an unsigned trailer,
// as aws-sdk-go-v2 sends over TLS.
func TestUnsignedTrailer(t *testing.T) {
	v := newTestVerifier(time.Now())
	payload := minioPayload(100 << 10)
	for _, a := range checksumAlgos {
		for _, good := range []bool{true, false} {
			name := a.name + map[bool]string{true: "/good", false: "/bad"}[good]
			t.Run(name, func(t *testing.T) {
				sum := checksumOf(a.header, payload)
				if !good {
					sum = checksumOf(a.header, payload[1:])
				}
				req, err := http.NewRequest("PUT", "http://127.0.0.1:9000/bucket/a//b", bytes.NewReader(payload))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("X-Amz-Content-Sha256", streamingUnsigned)
				req.Header.Set("Content-Encoding", "gzip")
				req = signer.SignV4Trailer(*req, testAK, testSecret, "", "us-east-1", http.Header{a.header: {sum}})
				r := wire(t, req)
				id, err := v.Authenticate(r)
				if err != nil {
					t.Fatal(err)
				}
				if ce := r.Header.Get("Content-Encoding"); ce != "gzip" {
					t.Fatalf("Content-Encoding = %q, want gzip alone", ce)
				}
				got, err := readAll(r.Body)
				if good {
					if err != nil || !bytes.Equal(got, payload) {
						t.Fatalf("read %d bytes, %v", len(got), err)
					}
					if n, v := id.Body.Checksum(); n != a.header || v != sum {
						t.Fatalf("Checksum() = %q %q", n, v)
					}
				} else if codeOf(err) != "BadDigest" {
					t.Fatalf("final read error = %v, want BadDigest", err)
				}
			})
		}
	}
}

// Checksums sent as headers (aws-sdk-go-v2 over plain http), with a
// SHA-256 or UNSIGNED-PAYLOAD body.
func TestChecksumHeaders(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	v := newTestVerifier(now)
	payload := minioPayload(5000)
	for _, a := range checksumAlgos {
		for _, tc := range []struct {
			name, value, code, endCode string
		}{
			{"good", checksumOf(a.header, payload), "", ""},
			{"mismatch", checksumOf(a.header, payload[:10]), "", "BadDigest"},
			{"not base64", "%%%", "InvalidRequest", ""},
			{"wrong length", base64.StdEncoding.EncodeToString(make([]byte, a.size+1)), "InvalidRequest", ""},
		} {
			t.Run(a.name+"/"+tc.name, func(t *testing.T) {
				req := newSDKRequest(t, "PUT", "k", "", string(payload))
				req.Header.Set(a.header, tc.value)
				sdkSign(t, req, unsignedPayload, now)
				r := wire(t, req)
				id, err := v.Authenticate(r)
				if codeOf(err) != tc.code {
					t.Fatalf("Authenticate error = %v, want %q", err, tc.code)
				}
				if err != nil {
					return
				}
				got, err := readAll(r.Body)
				if codeOf(err) != tc.endCode {
					t.Fatalf("final read error = %v, want %q", err, tc.endCode)
				}
				if err == nil {
					if !bytes.Equal(got, payload) {
						t.Fatal("body changed")
					}
					if n, v := id.Body.Checksum(); n != a.header || v != tc.value {
						t.Fatalf("Checksum() = %q %q", n, v)
					}
				}
			})
		}
	}

	t.Run("two checksums", func(t *testing.T) {
		req := newSDKRequest(t, "PUT", "k", "", string(payload))
		req.Header.Set("X-Amz-Checksum-Crc32", checksumOf("x-amz-checksum-crc32", payload))
		req.Header.Set("X-Amz-Checksum-Sha1", checksumOf("x-amz-checksum-sha1", payload))
		sdkSign(t, req, unsignedPayload, now)
		if _, err := v.Authenticate(wire(t, req)); codeOf(err) != "InvalidRequest" {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("algorithm only is computed", func(t *testing.T) {
		req := newSDKRequest(t, "PUT", "k", "", string(payload))
		req.Header.Set("X-Amz-Sdk-Checksum-Algorithm", "CRC64NVME")
		sdkSign(t, req, sha256Hex(payload), now)
		r := wire(t, req)
		id, err := v.Authenticate(r)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := readAll(r.Body); err != nil {
			t.Fatal(err)
		}
		if n, v := id.Body.Checksum(); n != "x-amz-checksum-crc64nvme" || v != checksumOf(n, payload) {
			t.Fatalf("Checksum() = %q %q", n, v)
		}
	})
}

// Hand-built aws-chunked bodies in the unsigned-trailer form, for the
// framing errors a client library would never produce.
func TestUnsignedTrailerFraming(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	v := newTestVerifier(now)
	crc := checksumOf("x-amz-checksum-crc32", []byte("hello world"))
	good := "5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:" + crc + "\r\n\r\n"
	tests := []struct {
		name, body, trailerHdr, decoded, code string
	}{
		{"good", good, "x-amz-checksum-crc32", "11", ""},
		{"bare LF trailer lines", strings.ReplaceAll(good, crc+"\r\n", crc+"\n\r\n"), "x-amz-checksum-crc32", "11", ""},
		{"no trailer announced or sent", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "", "11", ""},
		{"unannounced trailer", good, "", "11", "MalformedTrailerError"},
		{"other trailer", strings.Replace(good, "crc32:", "crc32c:", 1), "x-amz-checksum-crc32", "11", "MalformedTrailerError"},
		{"malformed checksum", strings.Replace(good, crc, "!!", 1), "x-amz-checksum-crc32", "11", "InvalidRequest"},
		{"decoded length short", good, "x-amz-checksum-crc32", "12", "IncompleteBody"},
		{"decoded length long", good, "x-amz-checksum-crc32", "10", "InvalidRequest"},
		{"bad size", "zz\r\nhello\r\n0\r\n\r\n", "", "5", "InvalidRequest"},
		{"size larger than data", "9\r\nhello", "", "9", "IncompleteBody"},
		{"size larger than chunk", "9\r\nhello\r\n0\r\n\r\n", "", "9", "InvalidRequest"},
		{"body ends after final chunk header", "5\r\nhello\r\n6\r\n world\r\n0\r\n", "", "11", ""},
		{"body ends in chunk header", "5\r\nhello\r\n0", "", "5", "IncompleteBody"},
		{"missing CRLF after data", "5\r\nhelloX\r\n0\r\n\r\n", "", "5", "InvalidRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newSDKRequest(t, "PUT", "k", "", tt.body)
			req.Header.Set("Content-Encoding", "aws-chunked")
			req.Header.Set("X-Amz-Decoded-Content-Length", tt.decoded)
			if tt.trailerHdr != "" {
				req.Header.Set("X-Amz-Trailer", tt.trailerHdr)
			}
			sdkSign(t, req, streamingUnsigned, now)
			r := wire(t, req)
			if _, err := v.Authenticate(r); err != nil {
				t.Fatal(err)
			}
			if r.Header.Get("Content-Encoding") != "" {
				t.Fatalf("Content-Encoding still %q", r.Header.Get("Content-Encoding"))
			}
			got, err := readAll(r.Body)
			if codeOf(err) != tt.code {
				t.Fatalf("final read error = %v, want %q", err, tt.code)
			}
			if d, _ := strconv.Atoi(tt.decoded); len(got) > d {
				t.Fatalf("%d bytes handed on, more than the %d declared", len(got), d)
			}
			if err == nil && string(got) != "hello world" {
				t.Fatalf("body = %q", got)
			}
		})
	}

	t.Run("trailer without trailer mode", func(t *testing.T) {
		req := newSDKRequest(t, "PUT", "k", "", "x")
		req.Header.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
		sdkSign(t, req, unsignedPayload, now)
		if _, err := v.Authenticate(wire(t, req)); codeOf(err) != "InvalidRequest" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("bad decoded length", func(t *testing.T) {
		req := newSDKRequest(t, "PUT", "k", "", good)
		req.Header.Set("X-Amz-Decoded-Content-Length", "-1")
		sdkSign(t, req, streamingUnsigned, now)
		if _, err := v.Authenticate(wire(t, req)); codeOf(err) != "InvalidArgument" {
			t.Fatalf("err = %v", err)
		}
	})
}
