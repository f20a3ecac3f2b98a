package sqs

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/aloft-dev/aloft/internal/awsapi"
	"github.com/aloft-dev/aloft/internal/backbone"
	"github.com/aloft-dev/aloft/internal/testenv"
)

type harness struct {
	store  *Store
	client *sqs.Client
	url    string
	creds  awsapi.Credentials
	logs   *testenv.Buffer
}

func start(t *testing.T) *harness {
	t.Helper()
	ctx := context.Background()
	bb, err := backbone.Start(ctx, backbone.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bb.Shutdown(context.Background()) })
	creds, err := awsapi.GenerateCredentials()
	if err != nil {
		t.Fatal(err)
	}
	// The queue URLs name the test server, whose address is known before it
	// serves.
	srv := httptest.NewUnstartedServer(nil)
	url := "http://" + srv.Listener.Addr().String()
	logs := &testenv.Buffer{}
	store, err := NewStore(ctx, Config{JetStream: bb.JetStream(), Conn: bb.Conn(), Endpoint: func() string { return url }, Logs: logs})
	if err != nil {
		t.Fatal(err)
	}
	router, err := awsapi.NewRouter(awsapi.Config{Credentials: creds, Routes: []awsapi.Route{
		{SigningName: "sqs", Service: NewService(store), Match: IsSQSRequest},
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = router
	srv.Start()
	t.Cleanup(srv.Close)
	client := sqs.New(sqs.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""),
	})
	return &harness{store: store, client: client, url: srv.URL, creds: creds, logs: logs}
}

func (h *harness) create(t *testing.T, name string, attrs map[string]string) string {
	t.Helper()
	out, err := h.client.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		t.Fatalf("CreateQueue %s: %v", name, err)
	}
	return *out.QueueUrl
}

func (h *harness) send(t *testing.T, url, body string) {
	t.Helper()
	if _, err := h.client.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)}); err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
}

// receive long-polls until it gets n messages or the deadline passes.
func (h *harness) receive(t *testing.T, url string, n int, deadline time.Duration) []types.Message {
	t.Helper()
	var got []types.Message
	end := time.Now().Add(deadline)
	for len(got) < n && time.Now().Before(end) {
		out, err := h.client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: int32(min(n-len(got), 10)), WaitTimeSeconds: 1,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{"All"}, MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			t.Fatalf("ReceiveMessage: %v", err)
		}
		got = append(got, out.Messages...)
	}
	return got
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestQueueLifecycle(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	url := h.create(t, "orders", map[string]string{"VisibilityTimeout": "5"})
	if url != h.url+"/000000000000/orders" {
		t.Errorf("queue URL %s", url)
	}
	if again := h.create(t, "orders", map[string]string{"VisibilityTimeout": "5"}); again != url {
		t.Errorf("idempotent CreateQueue gave %s", again)
	}
	_, err := h.client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("orders"), Attributes: map[string]string{"VisibilityTimeout": "6"}})
	var exists *types.QueueNameExists
	if !errors.As(err, &exists) {
		t.Errorf("CreateQueue with other attributes: %v", err)
	}
	got, err := h.client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("orders")})
	if err != nil || *got.QueueUrl != url {
		t.Errorf("GetQueueUrl: %v %v", got, err)
	}
	_, err = h.client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("nope")})
	var dne *types.QueueDoesNotExist
	if !errors.As(err, &dne) {
		t.Errorf("GetQueueUrl of a missing queue: %v (%s)", err, code(err))
	}
	h.create(t, "other", nil)
	list, err := h.client.ListQueues(ctx, &sqs.ListQueuesInput{QueueNamePrefix: aws.String("ord")})
	if err != nil || len(list.QueueUrls) != 1 || list.QueueUrls[0] != url {
		t.Errorf("ListQueues: %v %v", list, err)
	}
	attrs, err := h.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{"All"}})
	if err != nil || attrs.Attributes["VisibilityTimeout"] != "5" || attrs.Attributes["QueueArn"] != "arn:aws:sqs:us-east-1:000000000000:orders" {
		t.Errorf("GetQueueAttributes: %v %v", attrs, err)
	}
	if _, err := h.client.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: map[string]string{"DelaySeconds": "2"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(url)}); err != nil {
		t.Fatal(err)
	}
	_, err = h.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x")})
	if !errors.As(err, &dne) {
		t.Errorf("SendMessage to a deleted queue: %v", err)
	}
}

func TestSendReceiveDelete(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	url := h.create(t, "work", map[string]string{"VisibilityTimeout": "1"})
	_, err := h.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("hello"),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"color": {DataType: aws.String("String"), StringValue: aws.String("red")},
			"blob":  {DataType: aws.String("Binary"), BinaryValue: []byte{1, 2, 3}},
			"n":     {DataType: aws.String("Number"), StringValue: aws.String("42")},
		}})
	if err != nil {
		t.Fatal(err) // the SDK checks MD5OfMessageBody and MD5OfMessageAttributes
	}
	msgs := h.receive(t, url, 1, 10*time.Second)
	if len(msgs) != 1 || *msgs[0].Body != "hello" || *msgs[0].MessageAttributes["color"].StringValue != "red" ||
		string(msgs[0].MessageAttributes["blob"].BinaryValue) != "\x01\x02\x03" || msgs[0].Attributes["ApproximateReceiveCount"] != "1" {
		t.Fatalf("received %+v", msgs)
	}
	// Not deleted: it comes back after the visibility timeout, counted.
	again := h.receive(t, url, 1, 10*time.Second)
	if len(again) != 1 || again[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("after the visibility timeout: %+v", again)
	}
	if _, err := h.client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: again[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	// A deleted message's visibility cannot change: SQS says it is not in flight.
	_, err = h.client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url),
		ReceiptHandle: again[0].ReceiptHandle, VisibilityTimeout: 5})
	var notInflight *types.MessageNotInflight
	if !errors.As(err, &notInflight) {
		t.Errorf("ChangeMessageVisibility of a deleted message: %v", err)
	}
	_, err = h.client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String("bogus")})
	var invalid *types.ReceiptHandleIsInvalid
	if !errors.As(err, &invalid) {
		t.Errorf("DeleteMessage with a bogus handle: %v", err)
	}
	waitCount(t, h, "work", func(c Counts) bool { return c.Visible == 0 && c.InFlight == 0 })
}

func waitCount(t *testing.T, h *harness, queue string, ok func(Counts) bool) {
	t.Helper()
	end := time.Now().Add(10 * time.Second)
	var c Counts
	for time.Now().Before(end) {
		var err error
		if c, err = h.store.Count(context.Background(), queue); err != nil {
			t.Fatal(err)
		}
		if ok(c) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("queue %s counts %+v", queue, c)
}

func TestBatchesVisibilityAndPurge(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	url := h.create(t, "batch", nil)
	var entries []types.SendMessageBatchRequestEntry
	for i := range 10 {
		entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint("m", i)), MessageBody: aws.String(strconv.Itoa(i))})
	}
	out, err := h.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
	if err != nil || len(out.Successful) != 10 || len(out.Failed) != 0 {
		t.Fatalf("SendMessageBatch: %+v %v", out, err)
	}
	_, err = h.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: append(entries, entries[0])})
	var tooMany *types.TooManyEntriesInBatchRequest
	if !errors.As(err, &tooMany) {
		t.Errorf("11 entries: %v", err)
	}
	msgs := h.receive(t, url, 10, 10*time.Second)
	if len(msgs) != 10 {
		t.Fatalf("received %d", len(msgs))
	}
	// Make 3 visible again at once; delete the other 7 in a batch.
	var vis []types.ChangeMessageVisibilityBatchRequestEntry
	var del []types.DeleteMessageBatchRequestEntry
	for i, m := range msgs {
		if i < 3 {
			vis = append(vis, types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(fmt.Sprint("v", i)), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
		} else {
			del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint("d", i)), ReceiptHandle: m.ReceiptHandle})
		}
	}
	if o, err := h.client.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(url), Entries: vis}); err != nil || len(o.Successful) != 3 {
		t.Fatalf("ChangeMessageVisibilityBatch: %+v %v", o, err)
	}
	if o, err := h.client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: del}); err != nil || len(o.Successful) != 7 {
		t.Fatalf("DeleteMessageBatch: %+v %v", o, err)
	}
	if back := h.receive(t, url, 3, 10*time.Second); len(back) != 3 {
		t.Fatalf("visible again: %d", len(back))
	}
	if _, err := h.client.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: aws.String(url)}); err != nil {
		t.Fatal(err)
	}
	waitCount(t, h, "batch", func(c Counts) bool { return c.Visible == 0 && c.InFlight == 0 })
}

func TestDelayAndLongPolling(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	url := h.create(t, "later", nil)
	if _, err := h.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("soon"), DelaySeconds: 1}); err != nil {
		t.Fatal(err)
	}
	waitCount(t, h, "later", func(c Counts) bool { return c.Delayed == 1 || c.Visible == 1 })
	// One long poll returns the delayed message once the server fires it.
	out, err := h.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 10})
	if err != nil || len(out.Messages) != 1 || *out.Messages[0].Body != "soon" {
		t.Fatalf("long poll: %+v %v", out, err)
	}
}

func TestFIFO(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	_, err := h.client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("f.fifo")})
	if err == nil {
		t.Error("a .fifo name without FifoQueue must fail")
	}
	url := h.create(t, "f.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true"})
	for i := range 5 {
		for range 2 { // the second send is a duplicate
			if _, err := h.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(strconv.Itoa(i)), MessageGroupId: aws.String("g")}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var order []string
	for len(order) < 5 {
		msgs := h.receive(t, url, 1, 10*time.Second)
		if len(msgs) == 0 {
			t.Fatalf("got %v then nothing", order)
		}
		for _, m := range msgs {
			order = append(order, *m.Body)
			if _, err := h.client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if fmt.Sprint(order) != "[0 1 2 3 4]" {
		t.Errorf("order %v", order)
	}
	waitCount(t, h, "f.fifo", func(c Counts) bool { return c.Visible == 0 && c.InFlight == 0 })
	_, err = h.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x")})
	if code(err) == "" {
		t.Errorf("FIFO send without a group: %v", err)
	}
}

// TestRedrive returns the message by hand (ChangeMessageVisibility 0), so
// the receive count is exact: two receives, then the third receive moves it
// to the dead-letter queue instead of returning it.
func TestRedrive(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	h.create(t, "dead", nil)
	url := h.create(t, "live", map[string]string{"VisibilityTimeout": "600",
		"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dead","maxReceiveCount":2}`})
	h.send(t, url, "poison")
	for i := 1; i <= 2; i++ {
		got := h.receive(t, url, 1, 10*time.Second)
		if len(got) != 1 || got[0].Attributes["ApproximateReceiveCount"] != strconv.Itoa(i) {
			t.Fatalf("receive %d: %+v", i, got)
		}
		if _, err := h.client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url),
			ReceiptHandle: got[0].ReceiptHandle, VisibilityTimeout: 0}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := h.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 1})
	if err != nil || len(out.Messages) != 0 {
		t.Fatalf("third receive: %+v %v", out, err)
	}
	dead := h.receive(t, h.url+"/000000000000/dead", 1, 10*time.Second)
	if len(dead) != 1 || *dead[0].Body != "poison" {
		t.Fatalf("dead-letter queue: %+v", dead)
	}
	waitCount(t, h, "live", func(c Counts) bool { return c.Visible == 0 && c.InFlight == 0 && c.Delayed == 0 })
	if st := h.store.Stats(); len(st) != 1 || st[0].Queue != "live" || st[0].Redriven != 1 {
		t.Errorf("stats %+v", st)
	}
	if !strings.Contains(h.logs.String(), "moved to dead-letter queue dead after 2 receives") {
		t.Errorf("the redrive is not logged:\n%s", h.logs.String())
	}
}

func TestAuthenticationErrorsUseQueryCodes(t *testing.T) {
	h := start(t)
	bad := sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(h.url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIANOTKNOWN0000000", "secret", "")})
	_, err := bad.ListQueues(context.Background(), &sqs.ListQueuesInput{})
	if code(err) != "InvalidClientTokenId" {
		t.Errorf("unknown key: %v (%s)", err, code(err))
	}
	wrong := sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(h.url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(h.creds.AccessKeyID, "not-the-secret", "")})
	_, err = wrong.ListQueues(context.Background(), &sqs.ListQueuesInput{})
	if code(err) != "SignatureDoesNotMatch" {
		t.Errorf("wrong secret: %v (%s)", err, code(err))
	}
}

func TestFIFOAndStandardNamesDoNotCollide(t *testing.T) {
	h := start(t)
	fifo := h.create(t, "a.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true"})
	std := h.create(t, "a_fifo", nil)
	if _, err := h.client.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(fifo), MessageBody: aws.String("f"), MessageGroupId: aws.String("g")}); err != nil {
		t.Fatal(err)
	}
	h.send(t, std, "s")
	for url, want := range map[string]string{fifo: "f", std: "s"} {
		got := h.receive(t, url, 1, 10*time.Second)
		if len(got) != 1 || *got[0].Body != want {
			t.Errorf("%s received %d messages", url, len(got))
		}
	}
}

func TestFIFOGroupsAreIndependent(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	url := h.create(t, "groups.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true", "VisibilityTimeout": "60"})
	for _, m := range []struct{ group, body string }{{"g1", "a"}, {"g1", "b"}, {"g2", "c"}} {
		if _, err := h.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(m.body), MessageGroupId: aws.String(m.group)}); err != nil {
			t.Fatal(err)
		}
	}
	// Each group's head: a and c, never b while a is in flight.
	first := h.receive(t, url, 2, 10*time.Second)
	got := map[string]string{}
	for _, m := range first {
		got[*m.Body] = *m.ReceiptHandle
	}
	if len(got) != 2 || got["a"] == "" || got["c"] == "" {
		t.Fatalf("first receive: %v", got)
	}
	out, err := h.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10})
	if err != nil || len(out.Messages) != 0 {
		t.Fatalf("a group with a message in flight gave another: %+v %v", out.Messages, err)
	}
	waitCount(t, h, "groups.fifo", func(c Counts) bool { return c.InFlight == 2 && c.Visible == 1 })
	// Deleting a releases b; g2 is not held up by g1 at any point.
	if _, err := h.client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String(got["a"])}); err != nil {
		t.Fatal(err)
	}
	next := h.receive(t, url, 1, 10*time.Second)
	if len(next) != 1 || *next[0].Body != "b" || next[0].Attributes["MessageGroupId"] != "g1" {
		t.Fatalf("after deleting a: %+v", next)
	}
}
