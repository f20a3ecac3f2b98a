package sqs

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// TestMessageRetentionPeriodIsTheStreamsMaxAge: JetStream deletes messages
// older than the queue's retention, as SQS does, because the stream's MaxAge
// is the retention period, at creation and after SetQueueAttributes.
func TestMessageRetentionPeriodIsTheStreamsMaxAge(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	url := h.create(t, "short", map[string]string{"MessageRetentionPeriod": "60"})
	maxAge := func() time.Duration {
		t.Helper()
		st, err := h.store.cfg.JetStream.Stream(ctx, streamName("short"))
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.Config.MaxAge
	}
	if got := maxAge(); got != time.Minute {
		t.Errorf("MaxAge %s, want 1m", got)
	}
	if _, err := h.client.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url),
		Attributes: map[string]string{"MessageRetentionPeriod": "120"}}); err != nil {
		t.Fatal(err)
	}
	if got := maxAge(); got != 2*time.Minute {
		t.Errorf("MaxAge after SetQueueAttributes %s, want 2m", got)
	}
	h.create(t, "default", nil)
	st, err := h.store.cfg.JetStream.Stream(ctx, streamName("default"))
	if err != nil {
		t.Fatal(err)
	}
	if info, err := st.Info(ctx); err != nil || info.Config.MaxAge != 4*24*time.Hour {
		t.Errorf("default retention: %v %v, want 4 days", info.Config.MaxAge, err)
	}
}

// TestQueueWaitTimeLongPolls: with ReceiveMessageWaitTimeSeconds on the
// queue, a ReceiveMessage without WaitTimeSeconds waits for a message. The
// message is sent only once the receive's pull request is waiting on the
// server, so a short poll would have returned empty.
func TestQueueWaitTimeLongPolls(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	url := h.create(t, "patient", map[string]string{"ReceiveMessageWaitTimeSeconds": "20"})
	type result struct {
		out *sqs.ReceiveMessageOutput
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := h.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)})
		done <- result{out, err}
	}()
	st, err := h.store.cfg.JetStream.Stream(ctx, streamName("patient"))
	if err != nil {
		t.Fatal(err)
	}
	cons, err := st.Consumer(ctx, consumerName)
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		select {
		case r := <-done:
			t.Fatalf("ReceiveMessage returned before a message was sent: %+v %v", r.out, r.err)
		default:
		}
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.NumWaiting > 0 {
			break
		}
		if time.Now().After(end) {
			t.Fatal("no pull request waiting")
		}
	}
	h.send(t, url, "worth the wait")
	r := <-done
	if r.err != nil || len(r.out.Messages) != 1 || *r.out.Messages[0].Body != "worth the wait" {
		t.Fatalf("ReceiveMessage: %+v %v", r.out, r.err)
	}
}
