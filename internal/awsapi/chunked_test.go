package awsapi

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aloft-dev/aloft/internal/awsapi/awsapitest"
)

func chunkedRequest(t *testing.T, url, mode string, chunks []string, trailer string, tamper func([]byte) []byte) *http.Request {
	t.Helper()
	return awsapitest.Chunked{URL: url, AccessKey: testCreds.AccessKeyID, Secret: testCreds.SecretAccessKey, Mode: mode,
		Chunks: chunks, Trailer: trailer, Header: http.Header{"Content-Encoding": {"aws-chunked,gzip"}}, Tamper: tamper}.Request(t)
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
