// Package awsapitest builds requests that AWS SDKs send but offer no API for,
// so tests can hand-craft them: aws-chunked uploads with chunk signatures.
// Its signing is written independently of internal/awsapi, from AWS's
// documentation, so tests do not check the code with itself.
package awsapitest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The X-Amz-Content-Sha256 values of aws-chunked bodies.
const (
	StreamingSigned          = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	StreamingSignedTrailer   = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	StreamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
)

// Chunked describes an aws-chunked PUT to build.
type Chunked struct {
	URL               string
	AccessKey, Secret string
	Region            string // "" means us-east-1
	Mode              string // one of the Streaming* constants
	Chunks            []string
	// Trailer is one "name:value" trailing header, or "".
	Trailer string
	// Header is added to the request before signing.
	Header http.Header
	// Tamper, when set, may change the encoded body before it is sent.
	Tamper func([]byte) []byte
}

func hmacSHA256(key []byte, s string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(s))
	return h.Sum(nil)
}

// Request builds c's request: headers signed with the SDK's signer, each chunk
// (and the trailer) signed with the chained signature.
func (c Chunked) Request(t testing.TB) *http.Request {
	t.Helper()
	region := c.Region
	if region == "" {
		region = "us-east-1"
	}
	at := time.Now().UTC()
	total := 0
	for _, ch := range c.Chunks {
		total += len(ch)
	}
	r, err := http.NewRequest(http.MethodPut, c.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range c.Header {
		r.Header[k] = v
	}
	r.Header.Set("X-Amz-Content-Sha256", c.Mode)
	if r.Header.Get("Content-Encoding") == "" {
		r.Header.Set("Content-Encoding", "aws-chunked")
	}
	r.Header.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(total))
	if c.Trailer != "" {
		r.Header.Set("X-Amz-Trailer", strings.SplitN(c.Trailer, ":", 2)[0])
	}
	err = v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).SignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: c.AccessKey, SecretAccessKey: c.Secret}, r, c.Mode, "s3", region, at)
	if err != nil {
		t.Fatal(err)
	}
	auth := r.Header.Get("Authorization")
	prev := auth[strings.LastIndex(auth, "Signature=")+len("Signature="):]
	date := at.Format("20060102")
	stamp := at.Format("20060102T150405Z")
	scope := date + "/" + region + "/s3/aws4_request"
	key := hmacSHA256([]byte("AWS4"+c.Secret), date)
	key = hmacSHA256(key, region)
	key = hmacSHA256(key, "s3")
	key = hmacSHA256(key, "aws4_request")
	const emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	var body bytes.Buffer
	for _, ch := range append(append([]string(nil), c.Chunks...), "") {
		if c.Mode == StreamingUnsignedTrailer {
			fmt.Fprintf(&body, "%x\r\n", len(ch))
		} else {
			sum := sha256.Sum256([]byte(ch))
			sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + stamp + "\n" + scope + "\n" + prev + "\n" + emptyHash + "\n" + hex.EncodeToString(sum[:])
			prev = hex.EncodeToString(hmacSHA256(key, sts))
			fmt.Fprintf(&body, "%x;chunk-signature=%s\r\n", len(ch), prev)
		}
		if ch != "" {
			body.WriteString(ch + "\r\n")
		}
	}
	if c.Trailer != "" {
		body.WriteString(c.Trailer + "\r\n")
		if c.Mode == StreamingSignedTrailer {
			sum := sha256.Sum256([]byte(c.Trailer + "\n"))
			sts := "AWS4-HMAC-SHA256-TRAILER\n" + stamp + "\n" + scope + "\n" + prev + "\n" + hex.EncodeToString(sum[:])
			body.WriteString("x-amz-trailer-signature:" + hex.EncodeToString(hmacSHA256(key, sts)) + "\r\n")
		}
	}
	body.WriteString("\r\n")
	b := body.Bytes()
	if c.Tamper != nil {
		b = c.Tamper(b)
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	return r
}
