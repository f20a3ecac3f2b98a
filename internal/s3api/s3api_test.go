package s3api_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/aloft-dev/aloft/internal/awsapi"
	"github.com/aloft-dev/aloft/internal/objstore/fs"
	"github.com/aloft-dev/aloft/internal/s3api"
)

var testCreds = awsapi.Credentials{AccessKeyID: "AKIATESTTESTTESTTEST", SecretAccessKey: "secretsecretsecretsecretsecretsecretsecr"}

var ctx = context.Background()

// endpoint is an S3 API behind the real router, on a real listener.
type endpoint struct {
	url    string
	http   *http.Client
	client *s3.Client
}

// transports are the two ways clients reach aloft: TLS (where SDKs send
// trailing checksums and unseekable bodies) and plain HTTP.
var transports = []struct {
	name string
	tls  bool
}{{"tls", true}, {"http", false}}

func newEndpoint(t testing.TB, useTLS bool) *endpoint {
	t.Helper()
	backend, err := fs.New(fs.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := s3api.New(s3api.Config{Backend: backend})
	if err != nil {
		t.Fatal(err)
	}
	router, err := awsapi.NewRouter(awsapi.Config{Credentials: testCreds, Routes: []awsapi.Route{{SigningName: "s3", Service: svc, Match: svc.Match}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(router)
	if useTLS {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	e := &endpoint{url: srv.URL, http: srv.Client()}
	e.client = e.newClient(testCreds)
	return e
}

// newClient returns an SDK client with the SDK's default checksum behaviour
// (what config.LoadDefaultConfig resolves when nothing overrides it: CRC32 on
// every upload, validation of downloads that carry a checksum).
func (e *endpoint) newClient(creds awsapi.Credentials, opts ...func(*s3.Options)) *s3.Client {
	return s3.New(s3.Options{
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
		Region:                     "us-east-1",
		BaseEndpoint:               aws.String(e.url),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""),
		HTTPClient:                 e.http,
		RetryMaxAttempts:           1,
	}, opts...)
}

// code is the S3 error code of err, or "" when it has none.
func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func wantCode(t *testing.T, err error, want string) {
	t.Helper()
	if code(err) != want {
		t.Fatalf("error %v (code %q), want %s", err, code(err), want)
	}
}

func (e *endpoint) mustBucket(t *testing.T, name string) {
	t.Helper()
	if _, err := e.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
}

func (e *endpoint) put(t *testing.T, bucket, key, body string) *s3.PutObjectOutput {
	t.Helper()
	out, err := e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)})
	if err != nil {
		t.Fatalf("PutObject %s: %v", key, err)
	}
	return out
}

func (e *endpoint) get(t *testing.T, bucket, key string) string {
	t.Helper()
	out, err := e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObject %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// unseekable hides a reader's Seek, as a pipe or a socket would.
type unseekable struct{ io.Reader }

func TestBucketsWithSDK(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			e := newEndpoint(t, tr.tls)
			e.mustBucket(t, "photos")
			e.mustBucket(t, "albums")
			_, err := e.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("photos")})
			wantCode(t, err, "BucketAlreadyOwnedByYou")
			_, err = e.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("Bad_Name")})
			wantCode(t, err, "InvalidBucketName")
			list, err := e.client.ListBuckets(ctx, &s3.ListBucketsInput{})
			if err != nil || len(list.Buckets) != 2 || *list.Buckets[0].Name != "albums" || list.Buckets[0].CreationDate == nil {
				t.Fatalf("ListBuckets = %+v, %v", list, err)
			}
			if _, err := e.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("photos")}); err != nil {
				t.Fatal(err)
			}
			_, err = e.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("nope")})
			var nf *types.NotFound
			if !errors.As(err, &nf) {
				t.Fatalf("HeadBucket(nope): %v, want NotFound", err)
			}
			loc, err := e.client.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("photos")})
			if err != nil || loc.LocationConstraint != "" {
				t.Fatalf("GetBucketLocation = %+v, %v", loc, err)
			}
			e.put(t, "photos", "cat.jpg", "meow")
			_, err = e.client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("photos")})
			wantCode(t, err, "BucketNotEmpty")
			if _, err := e.client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("albums")}); err != nil {
				t.Fatal(err)
			}
			_, err = e.client.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String("photos"),
				Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}})
			wantCode(t, err, "NotImplemented")
			// Configurations aloft never holds read as S3 reads them when unset.
			_, err = e.client.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String("photos")})
			wantCode(t, err, "NoSuchTagSet")
			_, err = e.client.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("photos")})
			wantCode(t, err, "NoSuchBucketPolicy")
			_, err = e.client.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String("photos")})
			wantCode(t, err, "NoSuchCORSConfiguration")
			if v, err := e.client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("photos")}); err != nil || v.Status != "" {
				t.Fatalf("GetBucketVersioning = %+v, %v", v, err)
			}
			if acl, err := e.client.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String("photos")}); err != nil || len(acl.Grants) != 1 || acl.Grants[0].Permission != types.PermissionFullControl {
				t.Fatalf("GetBucketAcl = %+v, %v", acl, err)
			}
			if tags, err := e.client.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("photos"), Key: aws.String("cat.jpg")}); err != nil || len(tags.TagSet) != 0 {
				t.Fatalf("GetObjectTagging = %+v, %v", tags, err)
			}
			vers, err := e.client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("photos")})
			if err != nil || len(vers.Versions) != 1 || *vers.Versions[0].Key != "cat.jpg" || *vers.Versions[0].VersionId != "null" || !*vers.Versions[0].IsLatest {
				t.Fatalf("ListObjectVersions = %+v, %v", vers, err)
			}
			_, err = e.client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("albums")})
			wantCode(t, err, "NoSuchBucket")
			_, err = e.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("albums")})
			wantCode(t, err, "NoSuchBucket")
		})
	}
}

func TestObjectsWithSDK(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			e := newEndpoint(t, tr.tls)
			e.mustBucket(t, "bkt")
			body := strings.Repeat("0123456789", 100_000) // 1 MB: several aws-chunked chunks
			put, err := e.client.PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String("bkt"), Key: aws.String("dir/a file+é.txt"), Body: bytes.NewReader([]byte(body)),
				ContentType: aws.String("text/plain"), CacheControl: aws.String("max-age=60"), ContentDisposition: aws.String("inline"),
				Metadata: map[string]string{"colour": "blue", "Shape": "round"},
			})
			if err != nil {
				t.Fatal(err)
			}
			if put.ChecksumCRC32 == nil {
				t.Errorf("PutObject returned no CRC32 (the SDK sends one by default)")
			}
			out, err := e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/a file+é.txt"), ChecksumMode: types.ChecksumModeEnabled})
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(out.Body) // the SDK validates the checksum as it reads
			out.Body.Close()
			if err != nil || string(got) != body {
				t.Fatalf("GetObject: %d bytes, %v", len(got), err)
			}
			if *out.ETag != *put.ETag || *out.ContentType != "text/plain" || *out.CacheControl != "max-age=60" ||
				*out.ContentDisposition != "inline" || out.Metadata["colour"] != "blue" || out.Metadata["shape"] != "round" ||
				out.ChecksumCRC32 == nil || *out.ChecksumCRC32 != *put.ChecksumCRC32 {
				t.Errorf("GetObject output %+v", out)
			}
			head, err := e.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/a file+é.txt")})
			if err != nil || *head.ContentLength != int64(len(body)) || *head.ETag != *put.ETag || head.LastModified == nil {
				t.Fatalf("HeadObject = %+v, %v", head, err)
			}

			// Ranges and conditions.
			rng, err := e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/a file+é.txt"), Range: aws.String("bytes=3-6")})
			if err != nil {
				t.Fatal(err)
			}
			rb, _ := io.ReadAll(rng.Body)
			rng.Body.Close()
			if string(rb) != "3456" || *rng.ContentRange != "bytes 3-6/1000000" {
				t.Fatalf("range: %q %s", rb, *rng.ContentRange)
			}
			_, err = e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/a file+é.txt"), Range: aws.String("bytes=2000000-")})
			wantCode(t, err, "InvalidRange")
			_, err = e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/a file+é.txt"), IfMatch: aws.String(`"nope"`)})
			wantCode(t, err, "PreconditionFailed")
			_, err = e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/a file+é.txt"), IfNoneMatch: put.ETag})
			var re interface{ HTTPStatusCode() int }
			if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusNotModified {
				t.Fatalf("If-None-Match with the ETag: %v, want 304", err)
			}
			if _, err := e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/a file+é.txt"), IfMatch: put.ETag}); err != nil {
				t.Fatalf("If-Match with the ETag: %v", err)
			}

			_, err = e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("missing")})
			var nsk *types.NoSuchKey
			if !errors.As(err, &nsk) {
				t.Fatalf("GetObject(missing): %v, want NoSuchKey", err)
			}
			_, err = e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("nope"), Key: aws.String("k"), Body: strings.NewReader("x")})
			wantCode(t, err, "NoSuchBucket")

			// Copy, with and without new metadata.
			cp, err := e.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String("copy"), CopySource: aws.String("bkt/dir/a%20file%2B%C3%A9.txt")})
			if err != nil || *cp.CopyObjectResult.ETag != *put.ETag {
				t.Fatalf("CopyObject = %+v, %v", cp, err)
			}
			if h, _ := e.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("copy")}); h == nil || h.Metadata["colour"] != "blue" {
				t.Fatalf("copy lost metadata: %+v", h)
			}
			_, err = e.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String("copy"), CopySource: aws.String("bkt/copy")})
			wantCode(t, err, "InvalidRequest")
			if _, err := e.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String("copy"), CopySource: aws.String("bkt/copy"),
				MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"new": "yes"}}); err != nil {
				t.Fatal(err)
			}
			if h, _ := e.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("copy")}); h == nil || h.Metadata["new"] != "yes" || h.Metadata["colour"] != "" {
				t.Fatalf("REPLACE metadata: %+v", h)
			}
			_, err = e.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String("c2"), CopySource: aws.String("bkt/copy"), CopySourceIfMatch: aws.String(`"x"`)})
			wantCode(t, err, "PreconditionFailed")

			// Deletes.
			if _, err := e.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("bkt"), Key: aws.String("copy")}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("bkt"), Key: aws.String("copy")}); err != nil {
				t.Fatalf("deleting a missing key: %v", err)
			}
			e.put(t, "bkt", "x1", "1")
			e.put(t, "bkt", "x2", "2")
			del, err := e.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("bkt"), Delete: &types.Delete{
				Objects: []types.ObjectIdentifier{{Key: aws.String("x1")}, {Key: aws.String("x2")}, {Key: aws.String("never")}},
			}})
			if err != nil || len(del.Deleted) != 3 || len(del.Errors) != 0 {
				t.Fatalf("DeleteObjects = %+v, %v", del, err)
			}
			if _, err := e.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("x1")}); err == nil {
				t.Fatal("x1 survived DeleteObjects")
			}
		})
	}
}

// TestUnseekableBodyOverTLS: over TLS the SDK streams a body it cannot
// rewind with aws-chunked encoding and a trailing CRC32.
func TestUnseekableBodyOverTLS(t *testing.T) {
	e := newEndpoint(t, true)
	e.mustBucket(t, "bkt")
	body := strings.Repeat("unseekable ", 50_000)
	put, err := e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("stream"),
		Body: unseekable{strings.NewReader(body)}, ContentLength: aws.Int64(int64(len(body)))})
	if err != nil {
		t.Fatal(err)
	}
	if put.ChecksumCRC32 == nil {
		t.Error("no CRC32 echoed for a trailing-checksum upload")
	}
	if got := e.get(t, "bkt", "stream"); got != body {
		t.Fatalf("read back %d bytes, want %d", len(got), len(body))
	}
	// Without a length, too.
	if _, err := e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("nolength"), Body: unseekable{strings.NewReader(body)}}); err != nil {
		t.Fatal(err)
	}
	if got := e.get(t, "bkt", "nolength"); got != body {
		t.Fatalf("read back %d bytes, want %d", len(got), len(body))
	}
}

// TestConditionalWrites: If-None-Match: * creates only, If-Match replaces
// only the version named.
func TestConditionalWrites(t *testing.T) {
	e := newEndpoint(t, false)
	e.mustBucket(t, "bkt")
	first, err := e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("lock"), Body: strings.NewReader("a"), IfNoneMatch: aws.String("*")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("lock"), Body: strings.NewReader("b"), IfNoneMatch: aws.String("*")})
	wantCode(t, err, "PreconditionFailed")
	_, err = e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("lock"), Body: strings.NewReader("c"), IfMatch: aws.String(`"0123"`)})
	wantCode(t, err, "PreconditionFailed")
	if _, err := e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("lock"), Body: strings.NewReader("d"), IfMatch: first.ETag}); err != nil {
		t.Fatal(err)
	}
	if got := e.get(t, "bkt", "lock"); got != "d" {
		t.Fatalf("object is %q", got)
	}
}

// TestChecksumMismatchRefused: a body whose declared checksum is wrong is not
// stored.
func TestChecksumMismatchRefused(t *testing.T) {
	e := newEndpoint(t, false)
	e.mustBucket(t, "bkt")
	_, err := e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), Body: strings.NewReader("hello"),
		ChecksumCRC32: aws.String("AAAAAA==")})
	wantCode(t, err, "BadDigest")
	_, err = e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), Body: strings.NewReader("hello"),
		ContentMD5: aws.String("1B2M2Y8AsgTpgAmY7PhCfg==")}) // MD5 of ""
	wantCode(t, err, "BadDigest")
	_, err = e.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
	if err == nil {
		t.Fatal("a refused body was stored")
	}
	for _, alg := range []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256, types.ChecksumAlgorithmCrc64nvme} {
		if _, err := e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), Body: strings.NewReader("hello"), ChecksumAlgorithm: alg}); err != nil {
			t.Errorf("PutObject with %s: %v", alg, err)
		}
	}
}
