package awsapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// chunkedRequest builds an aws-chunked PUT of chunks by hand, signing the
// headers with the SDK's signer and each chunk with the chained signature;
// trailer, when set, is appended (signed for the signed modes). tamper may
// change the encoded body before it is sent.
func chunkedRequest(t *testing.T, url, mode string, chunks []string, trailer string, tamper func([]byte) []byte) *http.Request {
	t.Helper()
	at := time.Now()
	total := 0
	for _, c := range chunks {
		total += len(c)
	}
	r, _ := http.NewRequest("PUT", url, nil)
	r.Header.Set("X-Amz-Content-Sha256", mode)
	r.Header.Set("Content-Encoding", "aws-chunked,gzip")
	r.Header.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(total))
	if trailer != "" {
		r.Header.Set("X-Amz-Trailer", strings.SplitN(trailer, ":", 2)[0])
	}
	err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).SignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: testCreds.AccessKeyID, SecretAccessKey: testCreds.SecretAccessKey}, r, mode, "s3", "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := parseSignature(r)
	if err != nil {
		t.Fatal(err)
	}
	signer := &chunkSigner{key: signingKey(testCreds.SecretAccessKey, sig), time: sig.Time.UTC().Format(amzDateFormat), scope: sig.Scope(), prevSig: sig.Signature}
	var body bytes.Buffer
	for _, c := range append(chunks, "") {
		if mode == StreamingUnsignedTrailer {
			fmt.Fprintf(&body, "%x\r\n", len(c))
		} else {
			sum := sha256.Sum256([]byte(c))
			s := signer.chunk(sum[:])
			signer.prevSig = s
			fmt.Fprintf(&body, "%x;chunk-signature=%s\r\n", len(c), s)
		}
		if c != "" {
			body.WriteString(c + "\r\n")
		}
	}
	if trailer != "" {
		body.WriteString(trailer + "\r\n")
		if mode == StreamingSignedTrailer {
			body.WriteString("x-amz-trailer-signature:" + signer.trailer(trailer+"\n") + "\r\n")
		}
	}
	body.WriteString("\r\n")
	b := body.Bytes()
	if tamper != nil {
		b = tamper(b)
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	return r
}

func TestRouterDecodesChunkedBodies(t *testing.T) {
	srv := newTestServer(t, 0)
	chunks := []string{strings.Repeat("a", 65536), strings.Repeat("b", 1000), "c"}
	want := strings.Join(chunks, "")
	for _, tc := range []struct{ mode, trailer string }{
		{StreamingSigned, ""},
		{StreamingSignedTrailer, "x-amz-checksum-crc32:AAAAAA=="},
		{StreamingUnsignedTrailer, "x-amz-checksum-crc32:AAAAAA=="},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			resp, err := http.DefaultClient.Do(chunkedRequest(t, srv.URL+"/bucket/key", tc.mode, chunks, tc.trailer, nil))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(got) != want {
				t.Fatalf("status %d, %d bytes (%q…), want 200 and %d bytes", resp.StatusCode, len(got), string(got[:min(len(got), 200)]), len(want))
			}
			if tc.trailer != "" && resp.Header.Get("X-Trailer-X-Amz-Checksum-Crc32") != "AAAAAA==" {
				t.Errorf("trailer not exposed: %v", resp.Header)
			}
			if ce := resp.Header.Get("X-Content-Encoding"); ce != "gzip" {
				t.Errorf("Content-Encoding after decoding = %q, want gzip", ce)
			}
		})
	}
}

func TestRouterRefusesTamperedChunks(t *testing.T) {
	srv := newTestServer(t, 0)
	chunks := []string{"hello ", "world"}
	for _, tc := range []struct {
		name, mode, trailer string
		tamper              func([]byte) []byte
		code                string
	}{
		{"data changed", StreamingSigned, "", func(b []byte) []byte { return bytes.Replace(b, []byte("world"), []byte("w0rld"), 1) }, CodeInvalidSignature},
		{"signature changed", StreamingSigned, "", func(b []byte) []byte {
			i := bytes.Index(b, []byte("chunk-signature=")) + len("chunk-signature=")
			b[i] ^= 1
			return b
		}, CodeInvalidSignature},
		{"chunks swapped", StreamingSigned, "", func(b []byte) []byte {
			parts := bytes.SplitAfter(b, []byte("\r\n"))
			parts[0], parts[1], parts[2], parts[3] = parts[2], parts[3], parts[0], parts[1]
			return bytes.Join(parts, nil)
		}, CodeInvalidSignature},
		{"trailer changed", StreamingSignedTrailer, "x-amz-checksum-crc32:AAAAAA==", func(b []byte) []byte {
			return bytes.Replace(b, []byte("AAAAAA=="), []byte("BBBBBB=="), 1)
		}, CodeInvalidSignature},
		{"truncated", StreamingSigned, "", func(b []byte) []byte { return b[:len(b)/2] }, CodeIncompleteBody},
		{"decoded length lies", StreamingUnsignedTrailer, "", func(b []byte) []byte { return bytes.Replace(b, []byte("world"), []byte("worl"), 1) }, CodeIncompleteBody},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, code, body := do(t, chunkedRequest(t, srv.URL+"/bucket/key", tc.mode, chunks, tc.trailer, tc.tamper))
			if status == 200 || code != tc.code {
				t.Fatalf("got %d %s (%s), want %s", status, code, body, tc.code)
			}
		})
	}
}
