package server

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/aloft-dev/aloft/internal/template"
)

func (n *eventsNode) snsClient() *sns.Client {
	creds := n.srv.Credentials()
	return sns.New(sns.Options{Region: n.srv.Region(), BaseEndpoint: aws.String(n.srv.EndpointURL()), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, "")})
}

// snsEvents returns the SNS events the functions printed so far.
func snsEvents(t *testing.T, logs string) []events.SNSEvent {
	t.Helper()
	var out []events.SNSEvent
	for _, line := range strings.Split(logs, "\n") {
		_, raw, ok := strings.Cut(line, "EVENT ")
		if !ok || !strings.Contains(raw, `"aws:sns"`) {
			continue
		}
		var ev events.SNSEvent
		if err := json.Unmarshal([]byte(raw), &ev); err != nil {
			t.Fatalf("event %s: %v", raw, err)
		}
		out = append(out, ev)
	}
	return out
}

func TestSNSFanOut(t *testing.T) {
	n := startEventsNode(t, t.TempDir())
	ctx := context.Background()
	client := n.snsClient()
	topic := "arn:aws:sns:us-east-1:000000000000:orders"
	for _, p := range []struct{ body, kind string }{{`{"store":"example"}`, "big"}, {`{"store":"other"}`, "small"}} {
		if _, err := client.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String(p.body), Subject: aws.String("s"),
			MessageAttributes: map[string]snstypes.MessageAttributeValue{"kind": {DataType: aws.String("String"), StringValue: aws.String(p.kind)}}}); err != nil {
			t.Fatal(err)
		}
	}
	// Fanout has no filter: both publications, in SNS's JSON envelope.
	for _, m := range n.take(t, "Fanout", 2) {
		var env struct {
			Type, MessageId, TopicArn, Subject, Message, Timestamp, UnsubscribeURL string
			MessageAttributes                                                      map[string]struct{ Type, Value string }
		}
		if err := json.Unmarshal([]byte(*m.Body), &env); err != nil {
			t.Fatalf("envelope %s: %v", *m.Body, err)
		}
		if env.Type != "Notification" || env.TopicArn != topic || env.Subject != "s" || env.MessageId == "" ||
			!strings.HasPrefix(env.Message, `{"store":`) || env.MessageAttributes["kind"].Type != "String" {
			t.Errorf("envelope %s", *m.Body)
		}
	}
	// FanoutRaw filters kind=big and gets the raw message with attributes.
	raw := n.take(t, "FanoutRaw", 1)
	if *raw[0].Body != `{"store":"example"}` || *raw[0].MessageAttributes["kind"].StringValue != "big" {
		t.Errorf("raw delivery %s %v", *raw[0].Body, raw[0].MessageAttributes)
	}
	// Listener's body-scope policy (store prefix "ex") passes only the first.
	var evs []events.SNSEvent
	end := time.Now().Add(30 * time.Second)
	for len(evs) == 0 && time.Now().Before(end) {
		evs = snsEvents(t, n.logs.String())
		time.Sleep(20 * time.Millisecond)
	}
	if len(evs) != 1 || len(evs[0].Records) != 1 {
		t.Fatalf("Listener got %d events", len(evs))
	}
	r := evs[0].Records[0]
	if r.EventSource != "aws:sns" || r.EventVersion != "1.0" || !strings.HasPrefix(r.EventSubscriptionArn, topic+":") ||
		r.SNS.Message != `{"store":"example"}` || r.SNS.TopicArn != topic || r.SNS.Type != "Notification" || r.SNS.Subject != "s" ||
		r.SNS.Timestamp.IsZero() || r.SNS.MessageAttributes["kind"] == nil {
		t.Errorf("record %+v", r)
	}
}

func TestSNSAPI(t *testing.T) {
	n := startEventsNode(t, t.TempDir())
	ctx := context.Background()
	client := n.snsClient()
	created, err := client.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("news")})
	if err != nil {
		t.Fatal(err)
	}
	arn := *created.TopicArn
	sub, err := client.Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(arn), Protocol: aws.String("sqs"),
		Endpoint: aws.String("arn:aws:sqs:us-east-1:000000000000:Fanout"), Attributes: map[string]string{"RawMessageDelivery": "true"}})
	if err != nil {
		t.Fatal(err)
	}
	// A subscription whose queue does not exist loses its copies (logged),
	// without holding up the others.
	gone, err := client.Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(arn), Protocol: aws.String("sqs"),
		Endpoint: aws.String("arn:aws:sqs:us-east-1:000000000000:NoSuchQueue")})
	if err != nil {
		t.Fatal(err)
	}
	list, err := client.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(arn)})
	if err != nil || len(list.Subscriptions) != 2 {
		t.Fatalf("ListSubscriptionsByTopic: %+v %v", list, err)
	}
	topics, err := client.ListTopics(ctx, &sns.ListTopicsInput{})
	if err != nil || len(topics.Topics) != 2 {
		t.Errorf("ListTopics: %+v %v", topics, err)
	}
	batch, err := client.PublishBatch(ctx, &sns.PublishBatchInput{TopicArn: aws.String(arn), PublishBatchRequestEntries: []snstypes.PublishBatchRequestEntry{
		{Id: aws.String("a"), Message: aws.String("one")}, {Id: aws.String("b"), Message: aws.String("two")},
	}})
	if err != nil || len(batch.Successful) != 2 {
		t.Fatalf("PublishBatch: %+v %v", batch, err)
	}
	got := map[string]bool{}
	for _, m := range n.take(t, "Fanout", 2) {
		got[*m.Body] = true
	}
	if !got["one"] || !got["two"] {
		t.Errorf("delivered %v", got)
	}
	if !strings.Contains(n.logs.String(), "dropping the copy") {
		t.Errorf("the lost copy is not logged:\n%s", n.logs.String())
	}
	for _, s := range []*string{sub.SubscriptionArn, gone.SubscriptionArn} {
		if _, err := client.Unsubscribe(ctx, &sns.UnsubscribeInput{SubscriptionArn: s}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = client.Publish(ctx, &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:us-east-1:000000000000:missing"), Message: aws.String("x")})
	var nf *snstypes.NotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("Publish to a missing topic: %v", err)
	}
	_, err = client.Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(arn), Protocol: aws.String("sqs"),
		Endpoint: aws.String("arn:aws:sqs:us-east-1:000000000000:Fanout"), Attributes: map[string]string{"FilterPolicy": `{"a":"b"}`}})
	var ip *snstypes.InvalidParameterException
	if !errors.As(err, &ip) {
		t.Errorf("Subscribe with a bad filter policy: %v", err)
	}
}

// TestSNSWithAWSCLI is the SNS smoke test with Debian's aws CLI.
func TestSNSWithAWSCLI(t *testing.T) {
	n := startEventsNode(t, t.TempDir())
	run := n.awsCLI(t)
	arn, _ := run("sns", "create-topic", "--name", "cli")["TopicArn"].(string)
	sub, _ := run("sns", "subscribe", "--topic-arn", arn, "--protocol", "sqs",
		"--notification-endpoint", "arn:aws:sqs:us-east-1:000000000000:FanoutRaw",
		"--attributes", "RawMessageDelivery=true")["SubscriptionArn"].(string)
	if !strings.HasPrefix(sub, arn+":") {
		t.Fatalf("SubscriptionArn %q", sub)
	}
	if subs, _ := run("sns", "list-subscriptions")["Subscriptions"].([]any); len(subs) < 3 {
		t.Errorf("list-subscriptions: %v", subs)
	}
	run("sns", "publish", "--topic-arn", arn, "--message", "from the cli",
		"--message-attributes", `{"k":{"DataType":"String","StringValue":"v"}}`)
	got := run("sqs", "receive-message", "--queue-url", n.queueURL("FanoutRaw"), "--wait-time-seconds", "10")
	msgs, _ := got["Messages"].([]any)
	if len(msgs) != 1 || msgs[0].(map[string]any)["Body"] != "from the cli" {
		t.Errorf("receive-message: %v", got)
	}
	run("sns", "unsubscribe", "--subscription-arn", sub)
	if topics, _ := run("sns", "list-topics")["Topics"].([]any); len(topics) != 2 {
		t.Errorf("list-topics: %v", topics)
	}
}

func TestRedeployRemovesSubscriptionsTheTemplateDropped(t *testing.T) {
	n := startEventsNode(t, t.TempDir())
	ctx := context.Background()
	stack, err := template.Load("testdata/events/template.yaml", template.Options{StackName: "events"})
	if err != nil {
		t.Fatal(err)
	}
	delete(stack.Resources, "FanoutRawSubscription")
	if _, err := n.srv.Deploy(ctx, stack); err != nil {
		t.Fatal(err)
	}
	list, err := n.snsClient().ListSubscriptions(ctx, &sns.ListSubscriptionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list.Subscriptions {
		if strings.HasSuffix(*s.Endpoint, ":FanoutRaw") {
			t.Errorf("the dropped subscription %s survived the redeploy", *s.SubscriptionArn)
		}
	}
	if len(list.Subscriptions) != 2 {
		t.Errorf("%d subscriptions, want Fanout and Listener", len(list.Subscriptions))
	}
}
