package auth

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strconv"
	"strings"
)

// chunkSeed is what chunk signatures chain from: the request's signing key,
// time and scope, and its seed signature.
type chunkSeed struct {
	key       []byte
	amzDate   string
	scope     string
	signature string // hex, of the request
}

const (
	// maxSignedChunk bounds the memory a signed chunk takes: its bytes are
	// held until its signature is checked. Clients send 8 KiB to 1 MiB.
	maxSignedChunk = 16 << 20
	// maxChunkLine bounds a chunk header line.
	maxChunkLine = 4096
	// maxTrailer bounds what may follow the final chunk.
	maxTrailer = 16 << 10
)

// chunkedReader decodes an aws-chunked body:
//
//	hex-size[;chunk-signature=sig]\r\n data \r\n ... 0[;chunk-signature=sig]\r\n [trailers] \r\n
//
// With signed chunks each chunk is buffered and its signature, chained
// from the previous one, checked before its bytes are handed on. It never
// yields more than declared bytes (when declared >= 0); it returns io.EOF
// only after the final chunk, the trailer and the decoded length checked.
type chunkedReader struct {
	br       *bufio.Reader
	mode     payloadMode
	seed     chunkSeed
	prev     string // previous signature, hex
	declared int64
	total    int64
	allowed  []string          // trailer names x-amz-trailer announced
	trailers map[string]string // set when done

	buf  []byte // a verified signed chunk not yet handed on
	off  int
	left int64 // bytes of the current unsigned chunk still to read
	done bool
	err  error
}

func newChunkedReader(src io.Reader, mode payloadMode, seed chunkSeed, declared int64, allowed []string) *chunkedReader {
	return &chunkedReader{
		br:       bufio.NewReaderSize(src, 32<<10),
		mode:     mode,
		seed:     seed,
		prev:     seed.signature,
		declared: declared,
		allowed:  allowed,
	}
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	for {
		if c.err != nil {
			return 0, c.err
		}
		if c.off < len(c.buf) {
			n := copy(p, c.buf[c.off:])
			c.off += n
			return n, nil
		}
		if c.left > 0 {
			return c.readUnsigned(p)
		}
		if c.done {
			return 0, io.EOF
		}
		if len(p) == 0 {
			return 0, nil
		}
		if err := c.next(); err != nil {
			c.err = err
			return 0, err
		}
	}
}

func (c *chunkedReader) readUnsigned(p []byte) (int, error) {
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.br.Read(p)
	c.left -= int64(n)
	c.total += int64(n)
	if c.left == 0 {
		err = c.crlf()
	}
	if err != nil {
		c.err = mapEOF(err)
	}
	// The bytes read are handed on even with an error; the error comes on
	// the next Read, before io.EOF ever could.
	if n > 0 {
		return n, nil
	}
	return 0, c.err
}

// next reads the next chunk header and, for a signed chunk, its data.
func (c *chunkedReader) next() error {
	line, err := c.line()
	if err != nil {
		return err
	}
	sizeStr, ext, hasExt := strings.Cut(line, ";")
	size, err := parseChunkSize(sizeStr)
	if err != nil {
		return err
	}
	var sig []byte
	if c.mode.signedChunks() {
		const prefix = "chunk-signature="
		if !hasExt || !strings.HasPrefix(ext, prefix) {
			return chunkError("chunk header " + quote(line) + " has no chunk-signature; each chunk of " + streamingSigned + " must be signed")
		}
		var msg string
		if sig, msg = parseSignature(ext[len(prefix):]); msg != "" {
			return chunkError("chunk header: " + msg)
		}
		if size > maxSignedChunk {
			return chunkError("a signed chunk of " + strconv.FormatInt(size, 10) + " bytes is larger than the 16 MiB this server accepts; send smaller chunks")
		}
	}
	if c.declared >= 0 && c.total+size > c.declared {
		return newError("InvalidRequest", "The aws-chunked body carries more than the "+strconv.FormatInt(c.declared, 10)+" bytes x-amz-decoded-content-length declares; send the decoded length.")
	}
	if !c.mode.signedChunks() {
		if size == 0 {
			return c.end()
		}
		c.left = size
		return nil
	}
	if err := c.readData(size); err != nil {
		return err
	}
	if err := c.verifyChunk(sig); err != nil {
		return err
	}
	c.total += size
	if size == 0 {
		return c.end()
	}
	return nil
}

// readData reads a signed chunk's data and its CRLF into c.buf, growing
// the buffer as bytes arrive rather than trusting the declared size.
func (c *chunkedReader) readData(size int64) error {
	c.buf, c.off = c.buf[:0], 0
	for int64(len(c.buf)) < size {
		if len(c.buf) == cap(c.buf) {
			nb := make([]byte, len(c.buf), min(size, int64(max(2*cap(c.buf), 32<<10))))
			copy(nb, c.buf)
			c.buf = nb
		}
		n, err := c.br.Read(c.buf[len(c.buf):min(int64(cap(c.buf)), size)])
		c.buf = c.buf[:len(c.buf)+n]
		if err != nil && int64(len(c.buf)) < size {
			return mapEOF(err)
		}
	}
	if size == 0 {
		return nil
	}
	return c.crlf()
}

func (c *chunkedReader) verifyChunk(sig []byte) error {
	sum := sha256.Sum256(c.buf)
	sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + c.seed.amzDate + "\n" + c.seed.scope + "\n" + c.prev + "\n" + emptySHA256 + "\n" + hex.EncodeToString(sum[:])
	return c.check(sts, sig, "chunk")
}

// check compares sig with the signature of sts and moves the chain on.
func (c *chunkedReader) check(sts string, sig []byte, what string) error {
	mac := hmac.New(sha256.New, c.seed.key)
	mac.Write([]byte(sts))
	want := mac.Sum(nil)
	if !hmac.Equal(want, sig) {
		c.buf = c.buf[:0]
		e := newError("SignatureDoesNotMatch", "The "+what+" signature we calculated does not match the one you provided; the "+what+" was changed on its way or signed with another key or seed signature.")
		e.SignatureProvided = hex.EncodeToString(sig)
		e.StringToSign = sts
		return e
	}
	c.prev = hex.EncodeToString(want)
	return nil
}

// end reads what follows the final chunk: the trailer, if any, and the
// closing CRLF, up to the end of the body.
func (c *chunkedReader) end() error {
	rest, err := io.ReadAll(io.LimitReader(c.br, maxTrailer+1))
	if err != nil {
		return mapEOF(err)
	}
	if len(rest) > maxTrailer {
		return newError("MalformedTrailerError", "The data after the final aws-chunked chunk is longer than 16 KiB; send only the trailer.")
	}
	// Lines end in CRLF; some clients end trailer lines in a bare LF and
	// add blank lines, so blank lines are skipped.
	var lines []string
	for _, l := range bytes.Split(rest, []byte("\n")) {
		if l = bytes.TrimRight(l, "\r"); len(bytes.TrimSpace(l)) > 0 {
			lines = append(lines, string(l))
		}
	}
	if !c.mode.trailer() {
		if len(lines) > 0 {
			return chunkError("data follows the final chunk; " + streamingSigned + " has no trailer")
		}
		return c.close(nil)
	}
	if c.mode == modeChunkSignedTrailer {
		if len(lines) == 0 {
			return newError("MalformedTrailerError", "The trailer has no x-amz-trailer-signature; sign the trailer.")
		}
		last := lines[len(lines)-1]
		name, value, _ := strings.Cut(last, ":")
		if strings.ToLower(strings.TrimSpace(name)) != "x-amz-trailer-signature" {
			return newError("MalformedTrailerError", "The trailer must end with x-amz-trailer-signature; found "+quote(last)+".")
		}
		sig, msg := parseSignature(strings.TrimSpace(value))
		if msg != "" {
			return newError("MalformedTrailerError", "x-amz-trailer-signature: "+msg+".")
		}
		lines = lines[:len(lines)-1]
		var canon strings.Builder
		for _, l := range lines {
			n, v, _ := strings.Cut(l, ":")
			canon.WriteString(strings.ToLower(strings.TrimSpace(n)) + ":" + strings.TrimSpace(v) + "\n")
		}
		sum := sha256.Sum256([]byte(canon.String()))
		sts := "AWS4-HMAC-SHA256-TRAILER\n" + c.seed.amzDate + "\n" + c.seed.scope + "\n" + c.prev + "\n" + hex.EncodeToString(sum[:])
		if err := c.check(sts, sig, "trailer"); err != nil {
			return err
		}
	}
	return c.close(lines)
}

// close parses the trailer lines and checks the decoded length.
func (c *chunkedReader) close(lines []string) error {
	tr := make(map[string]string, len(lines))
	for _, l := range lines {
		n, v, ok := strings.Cut(l, ":")
		n = strings.ToLower(strings.TrimSpace(n))
		if !ok || n == "" {
			return newError("MalformedTrailerError", "The trailer line "+quote(l)+" is not name:value.")
		}
		allowed := false
		for _, a := range c.allowed {
			allowed = allowed || a == n
		}
		if !allowed {
			return newError("MalformedTrailerError", "The trailer "+quote(n)+" was not announced in x-amz-trailer; announce it or leave it out.")
		}
		if _, dup := tr[n]; dup {
			return newError("MalformedTrailerError", "The trailer "+quote(n)+" is sent twice; send it once.")
		}
		tr[n] = strings.TrimSpace(v)
	}
	for _, a := range c.allowed {
		if _, ok := tr[a]; !ok {
			return newError("MalformedTrailerError", "The trailer "+quote(a)+" announced in x-amz-trailer was not sent; send it after the final chunk.")
		}
	}
	if c.declared >= 0 && c.total != c.declared {
		return newError("IncompleteBody", "The aws-chunked body decoded to "+strconv.FormatInt(c.total, 10)+" bytes but x-amz-decoded-content-length declares "+strconv.FormatInt(c.declared, 10)+"; send the whole body.")
	}
	c.trailers = tr
	c.done = true
	c.buf, c.off = nil, 0
	return nil
}

// line reads one CRLF-terminated line, without the CRLF.
func (c *chunkedReader) line() (string, error) {
	var b []byte
	for {
		s, err := c.br.ReadSlice('\n')
		b = append(b, s...)
		if len(b) > maxChunkLine {
			return "", chunkError("a chunk header is longer than 4096 bytes")
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return "", mapEOF(err)
		}
		break
	}
	if len(b) < 2 || b[len(b)-2] != '\r' {
		return "", chunkError("a chunk header does not end in CRLF")
	}
	return string(b[:len(b)-2]), nil
}

func (c *chunkedReader) crlf() error {
	var b [2]byte
	if _, err := io.ReadFull(c.br, b[:]); err != nil {
		return mapEOF(err)
	}
	if b != [2]byte{'\r', '\n'} {
		return chunkError("a chunk's data is not followed by CRLF; the chunk size does not match its data")
	}
	return nil
}

func parseChunkSize(s string) (int64, error) {
	// 15 hex digits keep any size, and a running total, far from overflow.
	if s == "" || len(s) > 15 {
		return 0, chunkError("chunk size " + quote(s) + " is not a hexadecimal number")
	}
	n, err := strconv.ParseInt(s, 16, 64)
	if err != nil || n < 0 || strings.ContainsAny(s, "+-_") {
		return 0, chunkError("chunk size " + quote(s) + " is not a hexadecimal number")
	}
	return n, nil
}

func chunkError(msg string) *Error {
	return newError("InvalidRequest", "Malformed aws-chunked body: "+msg+".")
}

// mapEOF turns the end of the body inside a chunk into IncompleteBody and
// leaves other read errors (a dropped connection) as they are.
func mapEOF(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return newError("IncompleteBody", "The request body ended before the aws-chunked encoding did; send the whole body.")
	}
	return err
}
