package server

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// s3Record decodes an S3 event of one record as aws-lambda-go does.
func s3Record(t *testing.T, body string) events.S3EventRecord {
	t.Helper()
	var ev events.S3Event
	if err := json.Unmarshal([]byte(body), &ev); err != nil || len(ev.Records) != 1 {
		t.Fatalf("not an S3 event of one record (%v): %s", err, body)
	}
	return ev.Records[0]
}

// TestBucketNotificationTargets: a template's Lambda, Queue and Topic
// configurations deliver S3's records to a function (qualified ARN), a queue
// (prefix filter) and a topic; a configuration naming a topic that does not
// exist is left out with a warning.
func TestBucketNotificationTargets(t *testing.T) {
	ctx := context.Background()
	n := startEventsNodeTemplate(t, t.TempDir(), "testdata/notify/template.yaml", "notify")
	if w := strings.Join(n.dep.Warnings, "\n"); !strings.Contains(w, "bucket Files (files): notification s3:ObjectCreated:* → arn:aws:sns:us-east-1:000000000000:nowhere not applied: the topic does not exist") {
		t.Errorf("no warning for the missing topic:\n%s", w)
	}
	if e := strings.Join(n.dep.Events, "\n"); !strings.Contains(e, "S3 files s3:ObjectCreated:Put (in/*) → sqs direct") {
		t.Errorf("deployment events lack the queue notification:\n%s", e)
	}
	store := s3Client(t, n.srv)

	// The filter leaves out/ alone; in/ reaches the queue.
	for _, key := range []string{"out/skip.txt", "in/a.txt"} {
		if _, err := store.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("files"), Key: aws.String(key), Body: strings.NewReader("hello")}); err != nil {
			t.Fatal(err)
		}
	}
	head, err := store.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("files"), Key: aws.String("in/a.txt")})
	if err != nil {
		t.Fatal(err)
	}
	// Both notifications, had out/ matched, were queued before PutObject
	// answered, so one receive of up to ten sees them both.
	msgs := n.take(t, "direct", 1)
	if len(msgs) != 1 {
		t.Fatalf("direct queue: %d messages, want only in/a.txt's", len(msgs))
	}
	rec := s3Record(t, *msgs[0].Body)
	if rec.EventName != "ObjectCreated:Put" || rec.S3.Object.Key != "in/a.txt" || rec.S3.Object.Size != 5 ||
		rec.S3.Object.ETag != strings.Trim(*head.ETag, `"`) || rec.S3.Object.Sequencer == "" || rec.S3.Bucket.Name != "files" {
		t.Errorf("queue record: %+v", rec)
	}

	// A copy reaches the topic, and through it the subscribed queue in SNS's
	// envelope; the key is URL-encoded.
	if _, err := store.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("files"), Key: aws.String("copies/a b.txt"), CopySource: aws.String("files/in/a.txt")}); err != nil {
		t.Fatal(err)
	}
	var env struct{ Type, Subject, Message, TopicArn string }
	msgs = n.take(t, "viatopic", 1)
	if err := json.Unmarshal([]byte(*msgs[0].Body), &env); err != nil {
		t.Fatal(err)
	}
	if env.Type != "Notification" || env.Subject != "Amazon S3 Notification" || !strings.HasSuffix(env.TopicArn, ":news") {
		t.Errorf("SNS envelope: %+v", env)
	}
	if rec := s3Record(t, env.Message); rec.EventName != "ObjectCreated:Copy" || rec.S3.Object.Key != "copies/a+b.txt" {
		t.Errorf("topic record: %+v", rec)
	}

	// A delete invokes the function asynchronously.
	if _, err := store.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("files"), Key: aws.String("in/a.txt")}); err != nil {
		t.Fatal(err)
	}
	eventLine := regexp.MustCompile(`(?m)EVENT (\{.*"ObjectRemoved:Delete".*\})$`)
	deadline := time.Now().Add(30 * time.Second)
	for !eventLine.MatchString(n.logs.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("the delete never invoked Sink:\n%s", n.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	rec = s3Record(t, eventLine.FindStringSubmatch(n.logs.String())[1])
	if rec.S3.Object.Key != "in/a.txt" || rec.S3.Object.Size != 0 || rec.S3.Object.ETag != "" {
		t.Errorf("delete record: %+v", rec)
	}
}

// TestBucketNotificationAPI: PutBucketNotificationConfiguration sets a
// bucket's rules (kept on the backbone across a restart and its redeploy),
// GetBucketNotificationConfiguration reads them back, as it reads a
// template's; destinations that do not exist are refused.
func TestBucketNotificationAPI(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	n := startEventsNodeTemplate(t, dir, "testdata/notify/template.yaml", "notify")
	store := s3Client(t, n.srv)
	if _, err := store.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("logs")}); err != nil {
		t.Fatal(err)
	}
	got, err := store.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: aws.String("logs")})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.QueueConfigurations)+len(got.TopicConfigurations)+len(got.LambdaFunctionConfigurations) != 0 {
		t.Fatalf("a new bucket has notifications: %+v", got)
	}
	queueARN := "arn:aws:sqs:us-east-1:000000000000:direct"
	_, err = store.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
		Bucket: aws.String("logs"),
		NotificationConfiguration: &s3types.NotificationConfiguration{QueueConfigurations: []s3types.QueueConfiguration{{
			Id: aws.String("logs"), QueueArn: aws.String(queueARN),
			Events: []s3types.Event{"s3:ObjectCreated:Put", "s3:ObjectCreated:Copy"},
			Filter: &s3types.NotificationConfigurationFilter{Key: &s3types.S3KeyFilter{FilterRules: []s3types.FilterRule{{Name: "suffix", Value: aws.String(".log")}}}},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"skip.txt", "app.log"} {
		if _, err := store.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("logs"), Key: aws.String(key), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	msgs := n.take(t, "direct", 1)
	if rec := s3Record(t, *msgs[0].Body); len(msgs) != 1 || rec.S3.Object.Key != "app.log" || rec.S3.ConfigurationID != "logs" {
		t.Fatalf("%d messages, first %+v", len(msgs), rec)
	}

	_, err = store.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
		Bucket: aws.String("logs"),
		NotificationConfiguration: &s3types.NotificationConfiguration{TopicConfigurations: []s3types.TopicConfiguration{{
			TopicArn: aws.String("arn:aws:sns:us-east-1:000000000000:nowhere"), Events: []s3types.Event{"s3:ObjectCreated:*"},
		}}},
	})
	if code := apiErrorCode(err); code != "InvalidArgument" {
		t.Errorf("a missing topic: %v, want InvalidArgument", err)
	}

	// After a restart (and the redeploy of a stack that does not configure
	// the bucket), the API's configuration holds; the template's bucket reads
	// as the template configures it.
	if err := n.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	n = startEventsNodeTemplate(t, dir, "testdata/notify/template.yaml", "notify")
	store = s3Client(t, n.srv)
	got, err = store.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: aws.String("logs")})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.QueueConfigurations) != 1 || *got.QueueConfigurations[0].Id != "logs" || len(got.QueueConfigurations[0].Events) != 2 ||
		*got.QueueConfigurations[0].QueueArn != queueARN || *got.QueueConfigurations[0].Filter.Key.FilterRules[0].Value != ".log" {
		t.Errorf("logs after a restart: %+v", got.QueueConfigurations)
	}
	run := n.awsCLI(t)
	out := run("s3api", "get-bucket-notification-configuration", "--bucket", "files")
	if fmt.Sprint(out["QueueConfigurations"]) == "" || len(out["LambdaFunctionConfigurations"].([]any)) != 1 || len(out["TopicConfigurations"].([]any)) != 1 {
		t.Errorf("aws s3api get-bucket-notification-configuration of the template's bucket: %v", out)
	}
	run("s3api", "put-bucket-notification-configuration", "--bucket", "logs", "--notification-configuration", "{}")
	if out := run("s3api", "get-bucket-notification-configuration", "--bucket", "logs"); len(out) != 0 {
		t.Errorf("after an empty configuration: %v", out)
	}
}
