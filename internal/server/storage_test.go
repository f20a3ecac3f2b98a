package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/aloft-dev/aloft/internal/template"
)

// startStorageNode starts a node on dataDir (TLS or not) and deploys the
// storage template.
func startStorageNode(t *testing.T, dataDir string, useTLS bool) (*Server, *Deployment) {
	t.Helper()
	ctx := context.Background()
	cfg := DefaultConfig(dataDir)
	cfg.Endpoint = "127.0.0.1:0"
	cfg.BuildCacheDir = buildCache
	cfg.TLS = useTLS
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	stack, err := template.Load("testdata/storage/template.yaml", template.Options{StackName: "storage"})
	if err != nil {
		t.Fatal(err)
	}
	dep, err := srv.Deploy(ctx, stack)
	if err != nil {
		t.Fatal(err)
	}
	return srv, dep
}

// s3Client trusts only the node's own CA when it serves TLS, whatever
// AWS_CA_BUNDLE says.
func s3Client(t *testing.T, srv *Server) *s3.Client {
	t.Helper()
	hc := &http.Client{}
	if ca := srv.CAPath(); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			t.Fatalf("%s holds no certificate", ca)
		}
		hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	creds := srv.Credentials()
	return s3.New(s3.Options{
		Region: srv.Region(), BaseEndpoint: aws.String(srv.EndpointURL()), UsePathStyle: true, HTTPClient: hc,
		Credentials:                credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
		RetryMaxAttempts:           1,
	})
}

func TestBucketsDeployedAndKeptOverTLS(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv, dep := startStorageNode(t, dir, true)
	if !strings.HasPrefix(srv.EndpointURL(), "https://127.0.0.1:") {
		t.Fatalf("EndpointURL %s, want https with an IP literal", srv.EndpointURL())
	}
	if w := strings.Join(dep.Warnings, "\n"); !strings.Contains(w, "bucket Thumbnails (storage-thumbnails): VersioningConfiguration not applied yet") {
		t.Errorf("warnings do not name the ignored bucket property:\n%s", w)
	}
	client := s3Client(t, srv)
	list, err := client.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range list.Buckets {
		names = append(names, *b.Name)
	}
	if strings.Join(names, ",") != "storage-thumbnails,uploads" {
		t.Fatalf("buckets %v, want storage-thumbnails and uploads", names)
	}
	// An unseekable upload: over TLS the SDK streams it with a trailing CRC32.
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("uploads"), Key: aws.String("cat.jpg"),
		Body: struct{ io.Reader }{strings.NewReader("meow")}}); err != nil {
		t.Fatal(err)
	}
	caBefore, err := os.ReadFile(srv.CAPath())
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	// Restarted and redeployed on the same data: same CA, objects kept.
	srv, _ = startStorageNode(t, dir, true)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	caAfter, _ := os.ReadFile(srv.CAPath())
	if string(caAfter) != string(caBefore) {
		t.Error("the CA changed across restarts; clients would have to trust it again")
	}
	out, err := s3Client(t, srv).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("uploads"), Key: aws.String("cat.jpg")})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	if b, _ := io.ReadAll(out.Body); string(b) != "meow" {
		t.Fatalf("after restart the object reads %q", b)
	}
}

func TestS3OverPlainHTTP(t *testing.T) {
	srv, _ := startStorageNode(t, t.TempDir(), false)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	if srv.CAPath() != "" || !strings.HasPrefix(srv.EndpointURL(), "http://") {
		t.Fatalf("plain node: CA %q, endpoint %s", srv.CAPath(), srv.EndpointURL())
	}
	client := s3Client(t, srv)
	if _, err := client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("uploads"), Key: aws.String("k"), Body: strings.NewReader("v")}); err != nil {
		t.Fatal(err)
	}
	// Lambda's unsigned requests still get Lambda's error shape.
	resp, err := http.Post(srv.EndpointURL()+"/2015-03-31/functions/X/invocations", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Amzn-Errortype") == "" {
		t.Errorf("unsigned Lambda request answered without X-Amzn-ErrorType: %v", resp.Header)
	}
}
