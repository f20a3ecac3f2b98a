package sqs

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// TestFIFODeduplicationScope sends the same MessageDeduplicationId in two
// groups, and again in the first: a queue-scoped queue keeps one message, a
// group-scoped one keeps one per group; a duplicate send answers with the
// first send's message id, as SQS does.
func TestFIFODeduplicationScope(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	for _, tc := range []struct {
		scope string
		want  []string
	}{
		{"queue", []string{"g1:first"}},
		{"messageGroup", []string{"g1:first", "g2:second"}},
	} {
		t.Run(tc.scope, func(t *testing.T) {
			name := "dedupe-" + strings.ToLower(tc.scope) + ".fifo"
			url := h.create(t, name, map[string]string{"FifoQueue": "true", "DeduplicationScope": tc.scope})
			send := func(group, body string) string {
				t.Helper()
				out, err := h.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body),
					MessageGroupId: aws.String(group), MessageDeduplicationId: aws.String("same-id")})
				if err != nil {
					t.Fatal(err)
				}
				return *out.MessageId
			}
			first := send("g1", "first")
			send("g2", "second")
			if again := send("g1", "third"); again != first {
				t.Errorf("a duplicate send answered message id %s, not the first send's %s", again, first)
			}
			waitCount(t, h, name, func(c Counts) bool { return c.Visible == int64(len(tc.want)) })
			var got []string
			for _, m := range h.receive(t, url, len(tc.want), 10*time.Second) {
				got = append(got, m.Attributes["MessageGroupId"]+":"+*m.Body)
				if m.Attributes["MessageDeduplicationId"] != "same-id" {
					t.Errorf("MessageDeduplicationId %q", m.Attributes["MessageDeduplicationId"])
				}
			}
			sort.Strings(got)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("received %v, want %v", got, tc.want)
			}
		})
	}
	_, err := h.client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("bad.fifo"),
		Attributes: map[string]string{"FifoQueue": "true", "DeduplicationScope": "everything"}})
	var invalid *types.InvalidAttributeValue
	if !errors.As(err, &invalid) {
		t.Errorf("DeduplicationScope everything: %v (%s)", err, code(err))
	}
}

// TestInertAttributesAreLogged: attributes aloft accepts without effect
// say so in the log rather than pretending.
func TestInertAttributesAreLogged(t *testing.T) {
	h := start(t)
	h.create(t, "encrypted", map[string]string{"KmsMasterKeyId": "alias/aws/sqs", "SqsManagedSseEnabled": "true"})
	logs := h.logs.String()
	for _, want := range []string{
		"sqs: encrypted: KmsMasterKeyId is stored but has no effect: aloft does not encrypt queues",
		"sqs: encrypted: SqsManagedSseEnabled is stored but has no effect: aloft does not encrypt queues",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("no log line %q in:\n%s", want, logs)
		}
	}
}
