package awsapi

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// The X-Amz-Content-Sha256 values of aws-chunked bodies
// (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html).
const (
	// StreamingSigned: every chunk carries a signature chained from the
	// request's.
	StreamingSigned = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	// StreamingSignedTrailer: signed chunks, then trailing headers (a
	// checksum) with their own signature.
	StreamingSignedTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	// StreamingUnsignedTrailer: unsigned chunks, then trailing headers; the
	// connection (TLS) protects them.
	StreamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
)

// maxChunkLine bounds a chunk header or trailer line.
const maxChunkLine = 4096

// chunkSigner computes the chained signatures of a signed aws-chunked body.
type chunkSigner struct {
	key     []byte // the request's SigV4 signing key
	time    string // X-Amz-Date
	scope   string
	prevSig string
}

func (s *chunkSigner) chunk(sum []byte) string {
	sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + s.time + "\n" + s.scope + "\n" + s.prevSig + "\n" + EmptySHA256 + "\n" + hex.EncodeToString(sum)
	return hex.EncodeToString(hmacSHA256(s.key, sts))
}

func (s *chunkSigner) trailer(canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	sts := "AWS4-HMAC-SHA256-TRAILER\n" + s.time + "\n" + s.scope + "\n" + s.prevSig + "\n" + hex.EncodeToString(sum[:])
	return hex.EncodeToString(hmacSHA256(s.key, sts))
}

// chunkedBody decodes an aws-chunked body, verifying chunk signatures when
// signer is set, and stores trailing headers in trailer once it reaches the
// end. A chunk's signature is checked when the chunk ends, so a consumer may
// have seen up to one chunk of bytes before the error: consumers commit only
// at EOF, and every decoding or signature error is an *Error.
type chunkedBody struct {
	src      io.ReadCloser
	r        *bufio.Reader
	signer   *chunkSigner // nil: unsigned chunks
	trailers bool         // trailing headers follow the last chunk
	trailer  http.Header  // filled at the end
	left     int64        // bytes left in the current chunk
	sig      string       // the current chunk's claimed signature
	h        hash.Hash
	inChunk  bool
	err      error // sticky
}

func newChunkedBody(src io.ReadCloser, signer *chunkSigner, trailers bool, trailer http.Header) *chunkedBody {
	return &chunkedBody{src: src, r: bufio.NewReaderSize(src, 64<<10), signer: signer, trailers: trailers, trailer: trailer, h: sha256.New()}
}

// ErrChunkSignature is the answer to a chunk whose signature does not match.
var ErrChunkSignature = &Error{Status: http.StatusForbidden, Code: CodeInvalidSignature,
	Message: "The request signature we calculated does not match the signature you provided. Check your key and signing method."}

func malformedChunk(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeIncompleteBody, Message: "malformed aws-chunked body: " + fmt.Sprintf(format, args...)}
}

func (c *chunkedBody) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	for !c.inChunk || c.left == 0 {
		if c.inChunk { // the chunk's data is done
			if err := c.endChunk(); err != nil {
				c.err = err
				return 0, err
			}
		}
		last, err := c.startChunk()
		if err != nil {
			c.err = err
			return 0, err
		}
		if last {
			if err := c.finish(); err != nil {
				c.err = err
				return 0, err
			}
			c.err = io.EOF
			return 0, io.EOF
		}
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.left -= int64(n)
	if err == io.EOF {
		c.err = malformedChunk("the body ends inside a chunk")
		return n, c.err
	}
	if err != nil {
		c.err = &Error{Status: http.StatusBadRequest, Code: CodeIncompleteBody, Message: "reading the request body: " + err.Error()}
		return n, c.err
	}
	return n, nil
}

func (c *chunkedBody) line() (string, error) {
	var b []byte
	for {
		frag, err := c.r.ReadSlice('\n')
		b = append(b, frag...)
		if len(b) > maxChunkLine {
			return "", malformedChunk("line longer than %d bytes", maxChunkLine)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return "", malformedChunk("the body ends before its last chunk")
		}
		return strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"), nil
	}
}

// startChunk reads a chunk header; last reports the zero-length final chunk,
// whose signature it has already checked.
func (c *chunkedBody) startChunk() (last bool, err error) {
	hdr, err := c.line()
	if err != nil {
		return false, err
	}
	size, ext, _ := strings.Cut(hdr, ";")
	n, perr := strconv.ParseInt(strings.TrimSpace(size), 16, 64)
	if perr != nil || n < 0 {
		return false, malformedChunk("chunk size %q", size)
	}
	c.sig = ""
	if c.signer != nil {
		sig, ok := strings.CutPrefix(strings.TrimSpace(ext), "chunk-signature=")
		if !ok {
			return false, malformedChunk("chunk without chunk-signature")
		}
		c.sig = sig
	}
	c.h.Reset()
	c.left, c.inChunk = n, true
	if n == 0 {
		c.inChunk = false
		return true, c.checkSignature()
	}
	return false, nil
}

func (c *chunkedBody) checkSignature() error {
	if c.signer == nil {
		return nil
	}
	want := c.signer.chunk(c.h.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(c.sig)) {
		return ErrChunkSignature
	}
	c.signer.prevSig = c.sig
	return nil
}

// endChunk checks the signature of a chunk whose data has been read and
// consumes its CRLF.
func (c *chunkedBody) endChunk() error {
	c.inChunk = false
	if err := c.checkSignature(); err != nil {
		return err
	}
	var crlf [2]byte
	if _, err := io.ReadFull(c.r, crlf[:]); err != nil {
		return malformedChunk("the body ends after a chunk's data")
	}
	if string(crlf[:]) != "\r\n" {
		return malformedChunk("chunk data does not end with CRLF where its size says")
	}
	return nil
}

// finish reads what follows the final chunk: an empty line, or trailing
// headers (and their signature) up to an empty line.
func (c *chunkedBody) finish() error {
	var canonical strings.Builder
	var trailerSig string
	if !c.trailers {
		l, err := c.line()
		if err != nil {
			return nil // tolerated: the body ends right after the final chunk header
		}
		if l != "" {
			return malformedChunk("data after the final chunk")
		}
		return nil
	}
	for {
		l, err := c.line()
		if err != nil {
			return err
		}
		if l == "" {
			break
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			return malformedChunk("trailer line %q", l)
		}
		name, value = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)
		if name == "x-amz-trailer-signature" {
			trailerSig = value
			continue
		}
		canonical.WriteString(name + ":" + value + "\n")
		if c.trailer != nil {
			c.trailer.Add(name, value)
		}
	}
	if c.signer != nil {
		if !hmac.Equal([]byte(c.signer.trailer(canonical.String())), []byte(trailerSig)) {
			return ErrChunkSignature
		}
	}
	return nil
}

func (c *chunkedBody) Close() error { return c.src.Close() }

// decodeStreaming replaces an aws-chunked body with its decoded bytes: the
// signed variants verify each chunk against seedSig, trailing headers go to
// r.Trailer, Content-Length becomes X-Amz-Decoded-Content-Length and
// "aws-chunked" leaves Content-Encoding.
func decodeStreaming(r *http.Request, mode string, sig *Signature, secret string) *Error {
	var signer *chunkSigner
	trailers := false
	switch mode {
	case StreamingSigned:
	case StreamingSignedTrailer:
		trailers = true
	case StreamingUnsignedTrailer:
		trailers = true
	default:
		return &Error{Status: http.StatusNotImplemented, Code: CodeNotImplemented,
			Message: fmt.Sprintf("aloft does not implement x-amz-content-sha256 %s", mode)}
	}
	if mode != StreamingUnsignedTrailer {
		signer = &chunkSigner{key: signingKey(secret, sig), time: sig.Time.UTC().Format(amzDateFormat), scope: sig.Scope(), prevSig: sig.Signature}
	}
	if dl := r.Header.Get("X-Amz-Decoded-Content-Length"); dl != "" {
		n, err := strconv.ParseInt(dl, 10, 64)
		if err != nil || n < 0 {
			return &Error{Status: http.StatusBadRequest, Code: CodeIncompleteBody, Message: "malformed X-Amz-Decoded-Content-Length " + strconv.Quote(dl)}
		}
		r.ContentLength = n
		r.Header.Set("Content-Length", dl)
	} else {
		r.ContentLength = -1
		r.Header.Del("Content-Length")
	}
	var enc []string
	for _, e := range strings.Split(r.Header.Get("Content-Encoding"), ",") {
		if e = strings.TrimSpace(e); e != "" && !strings.EqualFold(e, "aws-chunked") {
			enc = append(enc, e)
		}
	}
	if len(enc) == 0 {
		r.Header.Del("Content-Encoding")
	} else {
		r.Header.Set("Content-Encoding", strings.Join(enc, ","))
	}
	if r.Trailer == nil {
		r.Trailer = http.Header{}
	}
	r.Body = &lengthCheckingBody{r: newChunkedBody(r.Body, signer, trailers, r.Trailer), want: r.ContentLength}
	return nil
}

// lengthCheckingBody fails at EOF when a decoded body's length differs from
// the X-Amz-Decoded-Content-Length the client declared (-1: not declared).
type lengthCheckingBody struct {
	r    io.ReadCloser
	want int64
	got  int64
}

func (b *lengthCheckingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.got += int64(n)
	if err == io.EOF && b.want >= 0 && b.got != b.want {
		return n, &Error{Status: http.StatusBadRequest, Code: CodeIncompleteBody,
			Message: fmt.Sprintf("the decoded body has %d bytes, X-Amz-Decoded-Content-Length says %d", b.got, b.want)}
	}
	return n, err
}

func (b *lengthCheckingBody) Close() error { return b.r.Close() }
