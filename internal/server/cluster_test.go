package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/aloft-dev/aloft/internal/backbone"
	"github.com/aloft-dev/aloft/internal/template"
	"github.com/aloft-dev/aloft/internal/testenv"
)

// TestTwoNodesShareOneBackbone runs two aloft nodes on one external NATS
// (as `--nats` does): a message sent through one node is received through
// the other and deleted through the first with the second's receipt handle,
// and an event accepted by one node is delivered by the cluster.
func TestTwoNodesShareOneBackbone(t *testing.T) {
	ctx := context.Background()
	nats, err := backbone.Start(ctx, backbone.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nats.Shutdown(context.Background()) })
	stack, err := template.Load("testdata/events/template.yaml", template.Options{StackName: "events"})
	if err != nil {
		t.Fatal(err)
	}
	var nodes []*eventsNode
	for range 2 {
		cfg := DefaultConfig(t.TempDir())
		cfg.Endpoint = "127.0.0.1:0"
		cfg.BuildCacheDir = buildCache
		cfg.NATSURL = nats.ClientURL()
		logs := &testenv.Buffer{}
		cfg.Logs = logs
		srv, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := srv.Shutdown(context.Background()); err != nil {
				t.Errorf("shutdown: %v", err)
			}
		})
		if _, err := srv.Deploy(ctx, stack); err != nil {
			t.Fatal(err)
		}
		creds := srv.Credentials()
		nodes = append(nodes, &eventsNode{
			testNode: &testNode{srv: srv, client: newClient(srv, creds), logs: logs},
			sqs: sqs.New(sqs.Options{Region: srv.Region(), BaseEndpoint: aws.String(srv.EndpointURL()), RetryMaxAttempts: 1,
				Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, "")}),
		})
	}
	a, b := nodes[0], nodes[1]
	if a.srv.Credentials() != b.srv.Credentials() {
		t.Fatal("the nodes do not share the credentials stored in the backbone")
	}

	queue := a.queueURL("CappedResults") // no function polls it
	if _, err := a.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queue), MessageBody: aws.String("across")}); err != nil {
		t.Fatal(err)
	}
	var handle *string
	end := time.Now().Add(20 * time.Second)
	for handle == nil && time.Now().Before(end) {
		out, err := b.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(b.queueURL("CappedResults")), WaitTimeSeconds: 1, VisibilityTimeout: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 1 && *out.Messages[0].Body == "across" {
			handle = out.Messages[0].ReceiptHandle
		}
	}
	if handle == nil {
		t.Fatal("node b never received what node a accepted")
	}
	if _, err := a.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queue), ReceiptHandle: handle}); err != nil {
		t.Fatalf("node a deleting with node b's receipt handle: %v", err)
	}
	// Deleted for good: the 1 s visibility passes and nothing comes back.
	out, err := a.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queue), WaitTimeSeconds: 2})
	if err != nil || len(out.Messages) != 0 {
		t.Fatalf("after the delete: %+v %v", out, err)
	}

	// An event accepted by b is delivered once by whichever node's worker
	// takes it, and its OnSuccess record can be read through a.
	id := b.invokeAsync(t, "Async", map[string]string{"name": "cluster"})
	r := decodeRecord(t, a.take(t, "Results", 1)[0])
	if r.RequestContext.RequestID != id {
		t.Errorf("record %+v", r)
	}

	// A bucket notification configured through a reaches b's uploads once
	// b has followed the change on the backbone (each node keeps its own
	// objects, so the bucket is created on both).
	sa, sb := s3Client(t, a.srv), s3Client(t, b.srv)
	for _, c := range []*s3.Client{sa, sb} {
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("shared")}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = sa.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
		Bucket: aws.String("shared"),
		NotificationConfiguration: &s3types.NotificationConfiguration{QueueConfigurations: []s3types.QueueConfiguration{{
			QueueArn: aws.String("arn:aws:sqs:us-east-1:000000000000:CappedResults"), Events: []s3types.Event{"s3:ObjectCreated:*"},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	end = time.Now().Add(20 * time.Second)
	for i := 0; ; i++ {
		if _, err := sb.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("shared"), Key: aws.String(fmt.Sprint("k", i)), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
		out, err := a.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queue), WaitTimeSeconds: 0})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) > 0 {
			if rec := s3Record(t, *out.Messages[0].Body); rec.S3.Bucket.Name != "shared" {
				t.Errorf("record %+v", rec)
			}
			break
		}
		if time.Now().After(end) {
			t.Fatal("node b never applied the notification configured through node a")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
