package s3api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/xml"
	"hash/crc32"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/aloft-dev/aloft/internal/awsapi"
	"github.com/aloft-dev/aloft/internal/awsapi/awsapitest"
)

type xmlError struct {
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

// send does r and returns the status, the S3 error (if any) and the body.
func (e *endpoint) send(t *testing.T, r *http.Request) (int, xmlError, string) {
	t.Helper()
	resp, err := e.http.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var xe xmlError
	if resp.StatusCode >= 300 {
		if err := xml.Unmarshal(b, &xe); err != nil && resp.Request.Method != http.MethodHead {
			t.Fatalf("error body is not S3 XML: %v\n%s", err, b)
		}
	}
	return resp.StatusCode, xe, string(b)
}

func presign(t *testing.T, r *http.Request, creds awsapi.Credentials, at time.Time) *http.Request {
	t.Helper()
	url, hdr, err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).PresignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey}, r, awsapi.UnsignedPayload, "s3", "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
	pr, _ := http.NewRequest(r.Method, url, nil)
	pr.Header = hdr
	return pr
}

func TestPresignedURLs(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			e := newEndpoint(t, tr.tls)
			e.mustBucket(t, "bkt")
			pc := s3.NewPresignClient(e.client)
			put, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("up/loaded file.txt")})
			if err != nil {
				t.Fatal(err)
			}
			r, _ := http.NewRequest(put.Method, put.URL, strings.NewReader("via presigned PUT"))
			r.Header = put.SignedHeader.Clone()
			if status, xe, _ := e.send(t, r); status != 200 {
				t.Fatalf("presigned PUT: %d %+v", status, xe)
			}
			get, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("up/loaded file.txt")})
			if err != nil {
				t.Fatal(err)
			}
			r, _ = http.NewRequest(get.Method, get.URL, nil)
			if status, xe, body := e.send(t, r); status != 200 || body != "via presigned PUT" {
				t.Fatalf("presigned GET: %d %+v %q", status, xe, body)
			}
			// Tampering with the signed query refuses the request.
			r, _ = http.NewRequest(get.Method, strings.Replace(get.URL, "loaded", "loadee", 1), nil)
			if status, xe, _ := e.send(t, r); status != 403 || xe.Code != "SignatureDoesNotMatch" {
				t.Fatalf("tampered presigned URL: %d %+v", status, xe)
			}
			// Expired: signed two minutes ago for one minute.
			old, _ := http.NewRequest("GET", e.url+"/bkt/up/loaded%20file.txt?X-Amz-Expires=60", nil)
			if status, xe, _ := e.send(t, presign(t, old, testCreds, time.Now().Add(-2*time.Minute))); status != 403 || xe.Code != "AccessDenied" || xe.Message != "Request has expired" {
				t.Fatalf("expired presigned URL: %d %+v", status, xe)
			}
		})
	}
}

func TestSignatureRejections(t *testing.T) {
	e := newEndpoint(t, false)
	e.mustBucket(t, "bkt")
	wrong := testCreds
	wrong.SecretAccessKey = "wrong-secret"
	_, err := e.newClient(wrong).ListBuckets(ctx, &s3.ListBucketsInput{})
	wantCode(t, err, "SignatureDoesNotMatch")
	unknown := testCreds
	unknown.AccessKeyID = "AKIAUNKNOWNUNKNOWN00"
	_, err = e.newClient(unknown).ListBuckets(ctx, &s3.ListBucketsInput{})
	wantCode(t, err, "InvalidAccessKeyId")

	r, _ := http.NewRequest("GET", e.url+"/bkt/key", nil)
	if status, xe, _ := e.send(t, r); status != 403 || xe.Code != "AccessDenied" {
		t.Fatalf("anonymous GET: %d %+v", status, xe)
	}
	r, _ = http.NewRequest("OPTIONS", e.url+"/bkt/key", nil)
	r.Header.Set("Origin", "http://example.com")
	r.Header.Set("Access-Control-Request-Method", "PUT")
	if status, xe, _ := e.send(t, r); status != 403 || xe.Code != "AccessForbidden" {
		t.Fatalf("CORS preflight: %d %+v", status, xe)
	}
	r, _ = http.NewRequest("GET", e.url+"/bkt?list-type=2", nil)
	r.Header.Set("X-Amz-Content-Sha256", awsapi.EmptySHA256)
	err = v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).SignHTTP(ctx,
		aws.Credentials{AccessKeyID: testCreds.AccessKeyID, SecretAccessKey: testCreds.SecretAccessKey}, r, awsapi.EmptySHA256, "s3", "us-east-1", time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if status, xe, _ := e.send(t, r); status != 403 || xe.Code != "RequestTimeTooSkewed" {
		t.Fatalf("skewed clock: %d %+v", status, xe)
	}
	// A body that does not hash to its signed SHA-256 is refused and not stored.
	r, _ = http.NewRequest("PUT", e.url+"/bkt/k", strings.NewReader("tampered"))
	r.Header.Set("X-Amz-Content-Sha256", awsapi.EmptySHA256)
	err = v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).SignHTTP(ctx,
		aws.Credentials{AccessKeyID: testCreds.AccessKeyID, SecretAccessKey: testCreds.SecretAccessKey}, r, awsapi.EmptySHA256, "s3", "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if status, xe, _ := e.send(t, r); status != 400 || xe.Code != "XAmzContentSHA256Mismatch" {
		t.Fatalf("payload hash mismatch: %d %+v", status, xe)
	}
	if _, err := e.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")}); err == nil {
		t.Fatal("a body with the wrong hash was stored")
	}
}

func crc32Base64(s string) string {
	return base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE([]byte(s))))
}

// TestSignedChunkUploads sends aws-chunked uploads built by hand: every
// variant stores the decoded bytes; tampering is refused with S3's codes and
// stores nothing.
func TestSignedChunkUploads(t *testing.T) {
	e := newEndpoint(t, false)
	e.mustBucket(t, "bkt")
	chunks := []string{strings.Repeat("x", 64<<10), strings.Repeat("y", 64<<10), "z"}
	whole := strings.Join(chunks, "")
	req := func(key, mode, trailer string, tamper func([]byte) []byte) *http.Request {
		return awsapitest.Chunked{URL: e.url + "/bkt/" + key, AccessKey: testCreds.AccessKeyID, Secret: testCreds.SecretAccessKey,
			Mode: mode, Chunks: chunks, Trailer: trailer, Tamper: tamper,
			Header: http.Header{"Content-Type": {"text/plain"}}}.Request(t)
	}
	good := "x-amz-checksum-crc32:" + crc32Base64(whole)
	for _, tc := range []struct{ key, mode, trailer string }{
		{"signed", awsapitest.StreamingSigned, ""},
		{"signed-trailer", awsapitest.StreamingSignedTrailer, good},
		{"unsigned-trailer", awsapitest.StreamingUnsignedTrailer, good},
	} {
		if status, xe, _ := e.send(t, req(tc.key, tc.mode, tc.trailer, nil)); status != 200 {
			t.Fatalf("%s: %d %+v", tc.mode, status, xe)
		}
		out, err := e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String(tc.key)})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if string(got) != whole || aws.ToString(out.ContentType) != "text/plain" || aws.ToString(out.ContentEncoding) != "" {
			t.Fatalf("%s: stored %d bytes, type %q, encoding %q", tc.mode, len(got), aws.ToString(out.ContentType), aws.ToString(out.ContentEncoding))
		}
	}
	for _, tc := range []struct {
		name, mode, trailer string
		tamper              func([]byte) []byte
		code                string
	}{
		{"chunk data", awsapitest.StreamingSigned, "", func(b []byte) []byte { return bytes.Replace(b, []byte("xxxx"), []byte("xxxX"), 1) }, "SignatureDoesNotMatch"},
		{"chunk signature", awsapitest.StreamingSigned, "", func(b []byte) []byte {
			i := bytes.Index(b, []byte("chunk-signature=")) + len("chunk-signature=") + 3
			b[i] = 'g'
			return b
		}, "SignatureDoesNotMatch"},
		{"final chunk dropped", awsapitest.StreamingSigned, "", func(b []byte) []byte { return b[:bytes.LastIndex(b, []byte("0;chunk"))] }, "IncompleteBody"},
		{"trailer signature", awsapitest.StreamingSignedTrailer, good, func(b []byte) []byte {
			return bytes.Replace(b, []byte("x-amz-trailer-signature:"), []byte("x-amz-trailer-signature:0"), 1)
		}, "SignatureDoesNotMatch"},
		{"wrong trailing checksum", awsapitest.StreamingUnsignedTrailer, "x-amz-checksum-crc32:AAAAAA==", nil, "BadDigest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, xe, _ := e.send(t, req("tampered", tc.mode, tc.trailer, tc.tamper))
			if status < 400 || xe.Code != tc.code {
				t.Fatalf("got %d %+v, want %s", status, xe, tc.code)
			}
			if _, err := e.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("tampered")}); err == nil {
				t.Fatal("a refused upload was stored")
			}
		})
	}
}

// TestVirtualHostedAddressing: the bucket may be named by the host.
func TestVirtualHostedAddressing(t *testing.T) {
	e := newEndpoint(t, false)
	e.mustBucket(t, "vhost")
	e.put(t, "vhost", "dir/k", "by host")
	r, _ := http.NewRequest("GET", e.url+"/dir/k", nil)
	r.Host = "vhost.localhost"
	r.Header.Set("X-Amz-Content-Sha256", awsapi.EmptySHA256)
	err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).SignHTTP(ctx,
		aws.Credentials{AccessKeyID: testCreds.AccessKeyID, SecretAccessKey: testCreds.SecretAccessKey}, r, awsapi.EmptySHA256, "s3", "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if status, xe, body := e.send(t, r); status != 200 || body != "by host" {
		t.Fatalf("virtual-hosted GET: %d %+v %q", status, xe, body)
	}
}
