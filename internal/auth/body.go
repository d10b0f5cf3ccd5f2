package auth

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/minio/crc64nvme"
)

// payloadMode is what x-amz-content-sha256 says about the body.
type payloadMode int

const (
	modeUnsigned             payloadMode = iota // UNSIGNED-PAYLOAD
	modeSHA256                                  // hex SHA-256 of the body
	modeChunkSigned                             // STREAMING-AWS4-HMAC-SHA256-PAYLOAD
	modeChunkSignedTrailer                      // STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER
	modeChunkUnsignedTrailer                    // STREAMING-UNSIGNED-PAYLOAD-TRAILER
)

func (m payloadMode) chunked() bool { return m >= modeChunkSigned }
func (m payloadMode) signedChunks() bool {
	return m == modeChunkSigned || m == modeChunkSignedTrailer
}
func (m payloadMode) trailer() bool {
	return m == modeChunkSignedTrailer || m == modeChunkUnsignedTrailer
}

func payloadModeOf(h string) (payloadMode, error) {
	switch h {
	case unsignedPayload:
		return modeUnsigned, nil
	case streamingSigned:
		return modeChunkSigned, nil
	case streamingSignedTrailer:
		return modeChunkSignedTrailer, nil
	case streamingUnsigned:
		return modeChunkUnsignedTrailer, nil
	}
	if strings.HasPrefix(h, "STREAMING-AWS4-ECDSA-P256-SHA256-") {
		return 0, newError("InvalidRequest", "Signature Version 4A ("+h+") is not supported; sign with AWS4-HMAC-SHA256.")
	}
	if b, err := hex.DecodeString(h); err == nil && len(b) == sha256.Size {
		return modeSHA256, nil
	}
	return 0, newError("InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-UNSIGNED-PAYLOAD-TRAILER or the hex SHA-256 of the body, not "+quote(h)+".")
}

// checksumAlgo is one of the x-amz-checksum-* algorithms.
type checksumAlgo struct {
	name   string // as in x-amz-sdk-checksum-algorithm, upper case
	header string // lower case header or trailer name
	size   int    // digest bytes
	new    func() hash.Hash
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var checksumAlgos = []checksumAlgo{
	{"CRC32", "x-amz-checksum-crc32", 4, func() hash.Hash { return crc32.NewIEEE() }},
	{"CRC32C", "x-amz-checksum-crc32c", 4, func() hash.Hash { return crc32.New(castagnoli) }},
	{"SHA1", "x-amz-checksum-sha1", sha1.Size, sha1.New},
	{"SHA256", "x-amz-checksum-sha256", sha256.Size, sha256.New},
	{"CRC64NVME", "x-amz-checksum-crc64nvme", 8, func() hash.Hash { return crc64nvme.New() }},
}

func algoByHeader(name string) *checksumAlgo {
	for i := range checksumAlgos {
		if strings.EqualFold(checksumAlgos[i].header, name) {
			return &checksumAlgos[i]
		}
	}
	return nil
}

func algoByName(name string) *checksumAlgo {
	for i := range checksumAlgos {
		if strings.EqualFold(checksumAlgos[i].name, name) {
			return &checksumAlgos[i]
		}
	}
	return nil
}

// decodeChecksum decodes a base64 checksum value of algo's size.
func decodeChecksum(a *checksumAlgo, v string, where string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
	if err != nil || len(b) != a.size {
		return nil, newError("InvalidRequest", "Value for "+a.header+" "+where+" is invalid: it must be the base64 of the "+strconv.Itoa(a.size)+"-byte "+a.name+" of the body.")
	}
	return b, nil
}

// Body is the verifying reader Authenticate puts in place of a request
// body. It yields the payload (decoded, for aws-chunked bodies) and checks
// everything the request promised about it: the body SHA-256, each chunk
// signature, the declared length, the checksum header or trailer and
// Content-MD5. A chunk's bytes are handed on only after its signature
// verified; the other checks need the whole body, so the Read that would
// return io.EOF returns an *Error instead when one failed. Errors are
// sticky. Errors of the underlying connection are returned as they are.
// Close closes the original body.
type Body struct {
	src    io.Reader
	closer io.Closer
	chunks *chunkedReader // nil for plain bodies

	sha         hash.Hash // body SHA-256, modeSHA256 only
	shaExpected []byte

	sum         hash.Hash // the x-amz-checksum-* algorithm, if any
	sumAlgo     *checksumAlgo
	sumExpected []byte // from the header; nil when it comes in the trailer or is only computed
	sumTrailer  bool   // the expected value comes in the trailer
	sumValue    string // base64, set after a clean EOF

	md5         hash.Hash
	md5Expected []byte

	n          int64
	pendingEOF bool
	done       bool
	err        error
}

// Read implements io.Reader; see Body.
func (b *Body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.done {
		return 0, io.EOF
	}
	if b.pendingEOF {
		return 0, b.finish()
	}
	n, err := b.src.Read(p)
	if n > 0 {
		b.n += int64(n)
		if b.sha != nil {
			b.sha.Write(p[:n])
		}
		if b.sum != nil {
			b.sum.Write(p[:n])
		}
		if b.md5 != nil {
			b.md5.Write(p[:n])
		}
	}
	switch {
	case err == io.EOF && n > 0:
		// Hand these bytes on first, so the verdict comes alone on the
		// final Read.
		b.pendingEOF = true
		return n, nil
	case err == io.EOF:
		return 0, b.finish()
	case err != nil:
		var ae *Error
		if errors.As(err, &ae) {
			b.err = err
		}
		return n, err
	}
	return n, nil
}

// Close closes the original request body.
func (b *Body) Close() error {
	if b.closer == nil {
		return nil
	}
	return b.closer.Close()
}

// Checksum returns the x-amz-checksum-* header name and base64 value of the
// body once Read returned io.EOF: the one the client sent and the body
// matched, or the one computed for x-amz-sdk-checksum-algorithm. Both are ""
// before that or when the request named no checksum.
func (b *Body) Checksum() (name, value string) {
	if !b.done || b.sumAlgo == nil {
		return "", ""
	}
	return b.sumAlgo.header, b.sumValue
}

func (b *Body) finish() error {
	if err := b.verify(); err != nil {
		b.err = err
		return err
	}
	b.done = true
	return io.EOF
}

func (b *Body) verify() error {
	if b.sha != nil && !bytes.Equal(b.sha.Sum(nil), b.shaExpected) {
		return newError("XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed; send the hex SHA-256 of the body as sent, or UNSIGNED-PAYLOAD.")
	}
	if b.sum != nil {
		got := b.sum.Sum(nil)
		want := b.sumExpected
		if b.sumTrailer {
			v, ok := b.chunks.trailers[b.sumAlgo.header]
			if !ok {
				return newError("MalformedTrailerError", "The trailer declared in x-amz-trailer, "+b.sumAlgo.header+", was not sent; send it after the final chunk.")
			}
			var err error
			if want, err = decodeChecksum(b.sumAlgo, v, "trailer"); err != nil {
				return err
			}
		}
		if want != nil && !bytes.Equal(got, want) {
			return newError("BadDigest", "The "+b.sumAlgo.name+" you specified did not match the calculated checksum; the body was changed on its way or the checksum was computed over other bytes.")
		}
		b.sumValue = base64.StdEncoding.EncodeToString(got)
	}
	if b.md5 != nil && !bytes.Equal(b.md5.Sum(nil), b.md5Expected) {
		return newError("BadDigest", "The Content-MD5 you specified did not match what we received; send the base64 MD5 of the body as sent.")
	}
	return nil
}

// attachBody puts a verifying Body in place of r.Body when anything about
// the payload must be checked, and fills id.ContentLength and id.Body.
func attachBody(r *http.Request, id *Identity, mode payloadMode, payloadHash string, seed chunkSeed) error {
	b := &Body{}
	needed := false

	// A checksum sent as a header.
	for i := range checksumAlgos {
		a := &checksumAlgos[i]
		vs := headerValues(r.Header, a.header)
		if len(vs) == 0 {
			continue
		}
		if b.sumAlgo != nil || len(vs) > 1 {
			return newError("InvalidRequest", "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed; send one.")
		}
		want, err := decodeChecksum(a, vs[0], "header")
		if err != nil {
			return err
		}
		b.sumAlgo, b.sumExpected = a, want
	}

	// A checksum announced as a trailer.
	var trailerNames []string
	if tr := strings.TrimSpace(strings.Join(r.Header.Values("X-Amz-Trailer"), ",")); tr != "" {
		if !mode.trailer() {
			return newError("InvalidRequest", "x-amz-trailer is only allowed with x-amz-content-sha256 STREAMING-UNSIGNED-PAYLOAD-TRAILER or STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER; send the checksum as a header instead.")
		}
		for _, name := range strings.Split(tr, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			a := algoByHeader(name)
			if a == nil {
				return newError("InvalidRequest", "The trailer "+quote(name)+" is not supported; x-amz-trailer may name one of x-amz-checksum-crc32, -crc32c, -sha1, -sha256, -crc64nvme.")
			}
			if b.sumAlgo != nil {
				return newError("InvalidRequest", "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed; send one, as a header or as a trailer.")
			}
			b.sumAlgo, b.sumTrailer = a, true
			trailerNames = append(trailerNames, name)
		}
	}

	// A checksum the client wants computed (and the handler stored) even
	// though it sent no value.
	if name := r.Header.Get("X-Amz-Sdk-Checksum-Algorithm"); name != "" {
		a := algoByName(name)
		switch {
		case a == nil:
			return newError("InvalidRequest", "Checksum algorithm "+quote(name)+" in x-amz-sdk-checksum-algorithm is unsupported; use CRC32, CRC32C, SHA1, SHA256 or CRC64NVME.")
		case b.sumAlgo != nil && b.sumAlgo != a:
			return newError("InvalidRequest", "x-amz-sdk-checksum-algorithm "+name+" does not match the checksum sent ("+b.sumAlgo.header+"); send one algorithm.")
		}
		b.sumAlgo = a
	}
	if b.sumAlgo != nil {
		b.sum = b.sumAlgo.new()
		needed = true
	}

	if v := r.Header.Get("Content-Md5"); v != "" {
		m, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(m) != md5.Size {
			return newError("InvalidDigest", "The Content-MD5 you specified is not valid; send the base64 of the body's 16-byte MD5.")
		}
		b.md5, b.md5Expected = md5.New(), m
		needed = true
	}

	src := r.Body
	if src == nil {
		src = http.NoBody
	}
	b.src, b.closer = src, src

	switch {
	case mode == modeSHA256:
		// An empty body (GET, HEAD, DELETE) needs no reader; anything
		// else is hashed as it is read.
		if payloadHash != emptySHA256 || r.ContentLength != 0 {
			b.sha = sha256.New()
			b.shaExpected, _ = hex.DecodeString(payloadHash)
			needed = true
		}
	case mode.chunked():
		declared := int64(-1)
		if v := r.Header.Get("X-Amz-Decoded-Content-Length"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return newError("InvalidArgument", "x-amz-decoded-content-length "+quote(v)+" is not a non-negative integer; send the length of the payload before aws-chunked encoding.")
			}
			declared = n
		}
		b.chunks = newChunkedReader(src, mode, seed, declared, trailerNames)
		b.src = b.chunks
		stripAWSChunked(r.Header)
		r.ContentLength = declared
		needed = true
	}
	id.ContentLength = r.ContentLength
	if needed {
		r.Body = b
		id.Body = b
	}
	return nil
}

// stripAWSChunked removes the aws-chunked token from Content-Encoding: it
// describes the transfer, not the object.
func stripAWSChunked(h http.Header) {
	vs := h.Values("Content-Encoding")
	if len(vs) == 0 {
		return
	}
	var keep []string
	for _, v := range vs {
		for _, tok := range strings.Split(v, ",") {
			tok = strings.TrimSpace(tok)
			if tok != "" && !strings.EqualFold(tok, "aws-chunked") {
				keep = append(keep, tok)
			}
		}
	}
	if len(keep) == 0 {
		h.Del("Content-Encoding")
		return
	}
	h.Set("Content-Encoding", strings.Join(keep, ","))
}
