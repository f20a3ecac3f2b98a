package server

import (
	"context"
	"fmt"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// report is the node's EventReport, as GET /_aloft/events serves it.
func (n *eventsNode) report(t *testing.T) *EventReport {
	t.Helper()
	rep, err := n.srv.eventReport(httptest.NewRequest("GET", EventsPath, nil))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// waitReport polls the report until ok accepts it, failing after 30 s with
// the last report and the logs.
func (n *eventsNode) waitReport(t *testing.T, what string, ok func(*EventReport) bool) *EventReport {
	t.Helper()
	end := time.Now().Add(30 * time.Second)
	for {
		rep := n.report(t)
		if ok(rep) {
			return rep
		}
		if time.Now().After(end) {
			t.Fatalf("%s: report %+v\nlogs:\n%s", what, rep, n.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func topicRow(rep *EventReport, name string) TopicEvents {
	for _, t := range rep.Topics {
		if t.Topic == name {
			return t
		}
	}
	return TopicEvents{}
}

func queueRows(rep *EventReport, name string) []QueueEvents {
	var out []QueueEvents
	for _, q := range rep.Queues {
		if q.Queue == name {
			out = append(out, q)
		}
	}
	return out
}

func functionRow(rep *EventReport, name string) FunctionEvents {
	for _, f := range rep.Functions {
		if f.Function == name {
			return f
		}
	}
	return FunctionEvents{}
}

// TestEventCountersMove drives every kind of outcome once and checks that
// `aloft events` counts it, and that each drop is a log line with its
// reason.
func TestEventCountersMove(t *testing.T) {
	n := startEventsNode(t, t.TempDir())
	ctx := context.Background()
	client := n.snsClient()
	topic := "arn:aws:sns:us-east-1:000000000000:orders"

	// SNS: a subscription whose queue does not exist loses its copies.
	if _, err := client.Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("sqs"),
		Endpoint: aws.String("arn:aws:sqs:us-east-1:000000000000:NoSuchQueue")}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ body, kind string }{{`{"store":"example"}`, "big"}, {`{"store":"other"}`, "small"}} {
		if _, err := client.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String(p.body),
			MessageAttributes: map[string]snstypes.MessageAttributeValue{"kind": {DataType: aws.String("String"), StringValue: aws.String(p.kind)}}}); err != nil {
			t.Fatal(err)
		}
	}
	rep := n.waitReport(t, "both publications fanned out", func(r *EventReport) bool { return topicRow(r, "orders").Published == 2 })
	// Fanout takes both, FanoutRaw (kind=big) and Listener (store prefix
	// "ex") one each; the other two copies are filtered out, and both
	// copies for NoSuchQueue are dropped.
	if row := topicRow(rep, "orders"); row.Failed != 0 || row.Delivered != 4 || row.Filtered != 2 || row.Dropped != 2 || row.Subscriptions != 4 || row.Pending != 0 {
		t.Errorf("topic row %+v", row)
	}
	if c := strings.Count(n.logs.String(), "dropping the copy of"); c != 2 || !strings.Contains(n.logs.String(), "NoSuchQueue: sns: the subscription's endpoint does not exist") {
		t.Errorf("%d drop lines, or without the reason:\n%s", c, n.logs.String())
	}

	// SQS: a message the function keeps failing is redriven after
	// maxReceiveCount (2) receives.
	if _, err := n.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(n.queueURL("Work")), MessageBody: aws.String(`{"action":"error","name":"poison"}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(n.queueURL("Work")), MessageBody: aws.String(`{"name":"fine"}`)}); err != nil {
		t.Fatal(err)
	}
	rep = n.waitReport(t, "the poison message redriven", func(r *EventReport) bool {
		rows := queueRows(r, "Work")
		return len(rows) == 1 && rows[0].Redriven == 1 && rows[0].Visible == 0 && rows[0].InFlight == 0
	})
	if row := queueRows(rep, "Work")[0]; row.Function != "Consumer" || row.Batches < 2 || row.Delivered != 1 || row.Failed != 2 {
		t.Errorf("Work row %+v", row)
	}
	if !regexp.MustCompile(`sqs: Work: message \S+ moved to dead-letter queue WorkDLQ after 2 receives \(maxReceiveCount exceeded\)`).MatchString(n.logs.String()) {
		t.Errorf("the redrive is not logged:\n%s", n.logs.String())
	}
	n.take(t, "WorkDLQ", 1)

	// Async: Target has no destination or DLQ, so a failing event is
	// retried twice and then dropped; NoRetry's goes to its DLQ.
	id := n.invokeAsync(t, "Target", map[string]string{"action": "error"})
	n.invokeAsync(t, "NoRetry", map[string]string{"action": "error"})
	rep = n.waitReport(t, "Target's event dropped and NoRetry's dead-lettered", func(r *EventReport) bool {
		return functionRow(r, "Target").Dropped == 1 && functionRow(r, "NoRetry").DeadLettered == 1
	})
	if row := functionRow(rep, "Target"); row.Accepted != 1 || row.Retried != 2 || row.Failed != 1 || row.Delivered != 0 {
		t.Errorf("Target row %+v", row)
	}
	if row := functionRow(rep, "NoRetry"); row.Accepted != 1 || row.Retried != 0 || row.Failed != 1 || row.Dropped != 0 {
		t.Errorf("NoRetry row %+v", row)
	}
	want := fmt.Sprintf("dropping request %s after 3 attempts (RetriesExhausted): no OnFailure destination or dead-letter queue", id)
	if !strings.Contains(n.logs.String(), want) {
		t.Errorf("no log line %q:\n%s", want, n.logs.String())
	}
	n.take(t, "DeadLetters", 1)
}
