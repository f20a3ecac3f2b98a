package server

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// TestPendingDelaysSurviveARestart leaves an asynchronous retry scheduled,
// an SQS message delayed (DelaySeconds) and another invisible
// (ChangeMessageVisibility), stops the server, starts a new one on the same
// data directory, and sees each delivered by the new one: every delay is
// stored in JetStream, none only in a timer of the old process.
func TestPendingDelaysSurviveARestart(t *testing.T) {
	const delay = 6 // seconds: each delay outlasts the checks and the restart
	dir := t.TempDir()
	backoff := func(c *Config) { c.RetryBackoff = delay * time.Second }
	n := startEventsNodeWith(t, dir, backoff)
	ctx := context.Background()

	// The first attempt fails (and leaves the marker), the retry succeeds.
	marker := filepath.Join(t.TempDir(), "failed-once")
	id := n.invokeAsync(t, "Async", map[string]string{"action": "fail-once", "file": marker, "name": "retried"})
	for _, q := range []string{"Later", "Hidden"} {
		if _, err := n.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(q)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := n.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(n.queueURL("Later")), MessageBody: aws.String("delayed"),
		DelaySeconds: delay}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(n.queueURL("Hidden")), MessageBody: aws.String("hidden")}); err != nil {
		t.Fatal(err)
	}
	got, err := n.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(n.queueURL("Hidden")), WaitTimeSeconds: 5})
	if err != nil || len(got.Messages) != 1 {
		t.Fatalf("receive from Hidden: %+v %v", got, err)
	}
	if _, err := n.sqs.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(n.queueURL("Hidden")),
		ReceiptHandle: got.Messages[0].ReceiptHandle, VisibilityTimeout: delay}); err != nil {
		t.Fatal(err)
	}
	n.waitReport(t, "a retry scheduled, a message delayed, one in flight", func(r *EventReport) bool {
		f, later, hidden := functionRow(r, "Async"), queueRows(r, "Later"), queueRows(r, "Hidden")
		return f.Scheduled == 1 && f.Waiting == 0 && f.InFlight == 0 && f.Retried == 1 &&
			len(later) == 1 && later[0].Delayed == 1 && later[0].Visible == 0 &&
			len(hidden) == 1 && hidden[0].InFlight == 1 && hidden[0].Visible == 0
	})
	n.stop()

	n = startEventsNodeWith(t, dir, backoff)
	r := decodeRecord(t, n.take(t, "Results", 1)[0])
	if r.RequestContext.RequestID != id || r.RequestContext.Condition != "Success" || r.RequestContext.ApproximateInvokeCount != 2 {
		t.Errorf("after the restart, record %+v", r)
	}
	if m := n.take(t, "Later", 1); *m[0].Body != "delayed" {
		t.Errorf("Later: %s", *m[0].Body)
	}
	var back []sqstypes.Message
	for end := time.Now().Add(30 * time.Second); len(back) == 0 && time.Now().Before(end); {
		out, err := n.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(n.queueURL("Hidden")), WaitTimeSeconds: 1,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		back = out.Messages
	}
	// The second receive: the consumer's record of the first survived.
	if len(back) != 1 || *back[0].Body != "hidden" || back[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Errorf("Hidden after the restart: %+v", back)
	}
}
