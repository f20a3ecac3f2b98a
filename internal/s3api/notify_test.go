package s3api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/aloft-dev/aloft/internal/awsapi"
	"github.com/aloft-dev/aloft/internal/backbone"
	"github.com/aloft-dev/aloft/internal/objstore/fs"
	"github.com/aloft-dev/aloft/internal/s3api"
	"github.com/aloft-dev/aloft/internal/s3notify"
)

// inbox is a Sender keeping the records it is handed.
type inbox struct {
	mu      sync.Mutex
	records []events.S3EventRecord
}

func (b *inbox) Send(_ context.Context, _ s3notify.Target, payload []byte, _ string) error {
	var ev events.S3Event
	if err := json.Unmarshal(payload, &ev); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.records = append(b.records, ev.Records...)
	return nil
}

func (b *inbox) take() []events.S3EventRecord {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.records
	b.records = nil
	return r
}

// TestNotificationsFromTheAPI: every kind of committed write and delete made
// through the S3 API yields its notification; a refused write yields none.
func TestNotificationsFromTheAPI(t *testing.T) {
	dir := t.TempDir()
	bb, err := backbone.Start(ctx, backbone.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bb.Shutdown(context.Background()) })
	kv, err := bb.KV(ctx, "aloft_s3_intents")
	if err != nil {
		t.Fatal(err)
	}
	box := &inbox{}
	notifier, err := s3notify.New(s3notify.Config{Intents: kv, Sender: box})
	if err != nil {
		t.Fatal(err)
	}
	notifier.SetRules(map[string][]s3notify.Rule{"uploads": {
		{Event: "s3:ObjectCreated:*", Target: s3notify.Target{Kind: "lambda", ARN: "arn:aws:lambda:us-east-1:000000000000:function:F"}},
		{Event: "s3:ObjectRemoved:*", Target: s3notify.Target{Kind: "lambda", ARN: "arn:aws:lambda:us-east-1:000000000000:function:F"}},
	}})
	backend, err := fs.New(fs.Config{Dir: dir + "/s3"})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := s3api.New(s3api.Config{Backend: backend, Notifier: notifier})
	if err != nil {
		t.Fatal(err)
	}
	router, err := awsapi.NewRouter(awsapi.Config{Credentials: testCreds, Routes: []awsapi.Route{{SigningName: "s3", Service: svc, Match: svc.Match}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(router)
	t.Cleanup(srv.Close)
	e := &endpoint{url: srv.URL, http: srv.Client()}
	e.client = e.newClient(testCreds)
	e.mustBucket(t, "uploads")
	e.mustBucket(t, "other")

	expect := func(what string, want ...string) []events.S3EventRecord {
		t.Helper()
		got := box.take()
		var names []string
		for _, r := range got {
			names = append(names, r.EventName+" "+r.S3.Object.URLDecodedKey)
		}
		if strings.Join(names, "|") != strings.Join(want, "|") {
			t.Fatalf("%s: notified %q, want %q", what, names, want)
		}
		return got
	}

	put := e.put(t, "uploads", "in/my cat.jpg", "meow")
	recs := expect("PutObject", "ObjectCreated:Put in/my cat.jpg")
	if r := recs[0]; r.S3.Object.Key != "in/my+cat.jpg" || r.S3.Object.Size != 4 || `"`+r.S3.Object.ETag+`"` != *put.ETag ||
		r.S3.Object.Sequencer == "" || r.PrincipalID.PrincipalID != "AWS:"+testCreds.AccessKeyID || r.S3.Bucket.Name != "uploads" {
		t.Fatalf("record %+v", r)
	}
	e.put(t, "other", "x.jpg", "no rules for this bucket")
	expect("PutObject elsewhere")

	if _, err := e.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("uploads"), Key: aws.String("copy.jpg"), CopySource: aws.String("other/x.jpg")}); err != nil {
		t.Fatal(err)
	}
	expect("CopyObject", "ObjectCreated:Copy copy.jpg")

	up, err := e.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("uploads"), Key: aws.String("mp.bin")})
	if err != nil {
		t.Fatal(err)
	}
	part, err := e.client.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("uploads"), Key: aws.String("mp.bin"), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), Body: bytes.NewReader([]byte("only part"))})
	if err != nil {
		t.Fatal(err)
	}
	expect("UploadPart")
	done, err := e.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("uploads"), Key: aws.String("mp.bin"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: part.ETag}}}})
	if err != nil {
		t.Fatal(err)
	}
	if r := expect("CompleteMultipartUpload", "ObjectCreated:CompleteMultipartUpload mp.bin")[0]; `"`+r.S3.Object.ETag+`"` != *done.ETag {
		t.Fatalf("multipart record ETag %s, object %s", r.S3.Object.ETag, *done.ETag)
	}

	_, err = e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("uploads"), Key: aws.String("bad.jpg"), Body: strings.NewReader("x"), ChecksumCRC32: aws.String("AAAAAA==")})
	wantCode(t, err, "BadDigest")
	expect("a refused PutObject")

	if _, err := e.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("uploads"), Key: aws.String("copy.jpg")}); err != nil {
		t.Fatal(err)
	}
	expect("DeleteObject", "ObjectRemoved:Delete copy.jpg")
	if _, err := e.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("uploads"), Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String("in/my cat.jpg")}, {Key: aws.String("mp.bin")}}}}); err != nil {
		t.Fatal(err)
	}
	expect("DeleteObjects", "ObjectRemoved:Delete in/my cat.jpg", "ObjectRemoved:Delete mp.bin")

	// Nothing is left for a restart to send.
	if err := notifier.Reconcile(ctx, backend); err != nil {
		t.Fatal(err)
	}
	expect("Reconcile")
}
