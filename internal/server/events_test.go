package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/aloft-dev/aloft/internal/template"
	"github.com/aloft-dev/aloft/internal/testenv"
)

type eventsNode struct {
	*testNode
	sqs *sqs.Client
	// stop shuts the server down, once (also at the test's end).
	stop func()
}

// startEventsNode starts a server with testdata/events deployed and retries
// 50 ms apart instead of minutes.
func startEventsNode(t *testing.T, dataDir string) *eventsNode {
	return startEventsNodeWith(t, dataDir, nil)
}

// startEventsNodeWith is startEventsNode with configure applied to the
// configuration before the server starts.
func startEventsNodeWith(t *testing.T, dataDir string, configure func(*Config)) *eventsNode {
	t.Helper()
	return startEventsNodeFrom(t, dataDir, "testdata/events/template.yaml", "events", configure)
}

// startEventsNodeTemplate is startEventsNode with another template.
func startEventsNodeTemplate(t *testing.T, dataDir, path, stackName string) *eventsNode {
	t.Helper()
	return startEventsNodeFrom(t, dataDir, path, stackName, nil)
}

func startEventsNodeFrom(t *testing.T, dataDir, path, stackName string, configure func(*Config)) *eventsNode {
	t.Helper()
	ctx := context.Background()
	logs := &testenv.Buffer{}
	cfg := DefaultConfig(dataDir)
	cfg.Endpoint = "127.0.0.1:0"
	cfg.BuildCacheDir = buildCache
	cfg.Logs = logs
	cfg.RetryBackoff = 50 * time.Millisecond
	if configure != nil {
		configure(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	stop := sync.OnceFunc(func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	t.Cleanup(stop)
	stack, err := template.Load(path, template.Options{StackName: stackName})
	if err != nil {
		t.Fatal(err)
	}
	dep, err := srv.Deploy(ctx, stack)
	if err != nil {
		t.Fatal(err)
	}
	creds := srv.Credentials()
	return &eventsNode{
		testNode: &testNode{srv: srv, client: newClient(srv, creds), logs: logs, dep: dep},
		sqs: sqs.New(sqs.Options{Region: srv.Region(), BaseEndpoint: aws.String(srv.EndpointURL()), RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, "")}),
		stop: stop,
	}
}

func (n *eventsNode) queueURL(name string) string {
	return n.srv.EndpointURL() + "/000000000000/" + name
}

// invokeAsync sends an Event invocation and returns its request id.
func (n *eventsNode) invokeAsync(t *testing.T, fn string, payload any) string {
	t.Helper()
	b, _ := json.Marshal(payload)
	out, err := n.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: b,
		InvocationType: lambdatypes.InvocationTypeEvent})
	if err != nil {
		t.Fatalf("async invoke %s: %v", fn, err)
	}
	if out.StatusCode != 202 {
		t.Fatalf("async invoke %s: status %d", fn, out.StatusCode)
	}
	id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	if id == "" {
		t.Fatalf("async invoke %s: no request id", fn)
	}
	return id
}

// take receives (and deletes) n messages from a queue, failing after 30 s.
func (n *eventsNode) take(t *testing.T, queue string, count int) []sqstypes.Message {
	t.Helper()
	var got []sqstypes.Message
	end := time.Now().Add(30 * time.Second)
	for len(got) < count && time.Now().Before(end) {
		out, err := n.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(n.queueURL(queue)),
			MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatalf("receive from %s: %v", queue, err)
		}
		for _, m := range out.Messages {
			got = append(got, m)
			if _, err := n.sqs.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(n.queueURL(queue)), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(got) < count {
		t.Fatalf("queue %s: got %d messages, want %d\nlogs:\n%s", queue, len(got), count, n.logs.String())
	}
	return got
}

// destinationRecord is Lambda's destination record.
type destinationRecord struct {
	Version        string `json:"version"`
	Timestamp      string `json:"timestamp"`
	RequestContext struct {
		RequestID              string `json:"requestId"`
		FunctionArn            string `json:"functionArn"`
		Condition              string `json:"condition"`
		ApproximateInvokeCount int    `json:"approximateInvokeCount"`
	} `json:"requestContext"`
	RequestPayload  json.RawMessage `json:"requestPayload"`
	ResponseContext struct {
		StatusCode      int    `json:"statusCode"`
		ExecutedVersion string `json:"executedVersion"`
		FunctionError   string `json:"functionError"`
	} `json:"responseContext"`
	ResponsePayload json.RawMessage `json:"responsePayload"`
}

func decodeRecord(t *testing.T, m sqstypes.Message) destinationRecord {
	t.Helper()
	var r destinationRecord
	if err := json.Unmarshal([]byte(*m.Body), &r); err != nil {
		t.Fatalf("destination record %s: %v", *m.Body, err)
	}
	return r
}

func TestAsyncInvocation(t *testing.T) {
	n := startEventsNode(t, t.TempDir())

	t.Run("success goes to OnSuccess", func(t *testing.T) {
		id := n.invokeAsync(t, "Async", map[string]string{"name": "later"})
		r := decodeRecord(t, n.take(t, "Results", 1)[0])
		if r.RequestContext.RequestID != id || r.Version != "1.0" || r.RequestContext.Condition != "Success" || r.RequestContext.ApproximateInvokeCount != 1 ||
			r.RequestContext.FunctionArn != "arn:aws:lambda:us-east-1:000000000000:function:Async:$LATEST" ||
			r.ResponseContext.StatusCode != 200 || r.ResponseContext.ExecutedVersion != "$LATEST" ||
			!strings.Contains(string(r.ResponsePayload), `"hello":"later"`) || string(r.RequestPayload) != `{"name":"later"}` {
			t.Errorf("record %+v", r)
		}
	})

	t.Run("the caller's client context reaches the function", func(t *testing.T) {
		cc := base64.StdEncoding.EncodeToString([]byte(`{"custom":{"tenant":"blue"}}`))
		out, err := n.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("Async"),
			Payload: []byte(`{"action":"clientcontext"}`), InvocationType: lambdatypes.InvocationTypeEvent, ClientContext: aws.String(cc)})
		if err != nil || out.StatusCode != 202 {
			t.Fatalf("async invoke: %v %v", out, err)
		}
		r := decodeRecord(t, n.take(t, "Results", 1)[0])
		if string(r.ResponsePayload) != `{"clientContext":{"tenant":"blue"}}` {
			t.Errorf("the function saw %s", r.ResponsePayload)
		}
	})

	t.Run("failures are retried twice with backoff, then go to OnFailure", func(t *testing.T) {
		n.invokeAsync(t, "Async", map[string]string{"action": "error", "name": "retried"})
		r := decodeRecord(t, n.take(t, "Failures", 1)[0])
		if r.RequestContext.Condition != "RetriesExhausted" || r.RequestContext.ApproximateInvokeCount != 3 ||
			r.ResponseContext.FunctionError != "Unhandled" || !strings.Contains(string(r.ResponsePayload), "something went wrong") {
			t.Errorf("record %+v", r)
		}
		starts := regexp.MustCompile(`START RequestId: `+r.RequestContext.RequestID).FindAllString(n.logs.String(), -1)
		if len(starts) != 3 {
			t.Errorf("%d invocations of %s, want 3 (the first and two retries)", len(starts), r.RequestContext.RequestID)
		}
	})

	t.Run("without retries, a failure goes to the dead-letter queue", func(t *testing.T) {
		n.invokeAsync(t, "NoRetry", map[string]string{"action": "error", "name": "dead"})
		m := n.take(t, "DeadLetters", 1)[0]
		if *m.Body != `{"action":"error","name":"dead"}` || *m.MessageAttributes["ErrorMessage"].StringValue != "something went wrong" ||
			m.MessageAttributes["RequestID"].StringValue == nil || *m.MessageAttributes["ErrorCode"].StringValue != "200" {
			t.Errorf("dead letter %s %+v", *m.Body, m.MessageAttributes)
		}
	})

	t.Run("events beyond the concurrency cap wait, none is dropped", func(t *testing.T) {
		const count = 6
		var wg sync.WaitGroup
		for i := range count {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n.invokeAsync(t, "Capped", map[string]any{"action": "sleep", "ms": 100, "name": fmt.Sprint(i)})
			}()
		}
		// Synchronous invocations compete for the single instance, so some
		// asynchronous deliveries meet ErrTooManyRequests and are retried
		// later without spending an attempt.
		for range 4 {
			n.invoke(t, "Capped", map[string]any{"action": "sleep", "ms": 100})
		}
		wg.Wait()
		got := n.take(t, "CappedResults", count)
		if len(got) != count {
			t.Errorf("%d results", len(got))
		}
	})

	t.Run("a Lambda destination is invoked asynchronously with the record", func(t *testing.T) {
		id := n.invokeAsync(t, "Chained", map[string]string{"name": "chain"})
		var raw string
		end := time.Now().Add(30 * time.Second)
		for raw == "" {
			for _, line := range strings.Split(n.logs.String(), "\n") {
				if rest, ok := strings.CutPrefix(line, "Target | RECORD "); ok {
					raw = rest
				}
			}
			if raw == "" && time.Now().After(end) {
				t.Fatalf("Target never got the record of %s\n%s", id, n.logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		r := decodeRecord(t, sqstypes.Message{Body: &raw})
		if r.Version != "1.0" || r.RequestContext.RequestID != id || r.RequestContext.Condition != "Success" ||
			r.RequestContext.ApproximateInvokeCount != 1 ||
			r.RequestContext.FunctionArn != "arn:aws:lambda:us-east-1:000000000000:function:Chained:$LATEST" ||
			string(r.RequestPayload) != `{"name":"chain"}` || r.ResponseContext.StatusCode != 200 ||
			r.ResponseContext.ExecutedVersion != "$LATEST" || r.ResponseContext.FunctionError != "" ||
			!strings.Contains(string(r.ResponsePayload), `"hello":"chain"`) {
			t.Errorf("Target got %s", raw)
		}
		if _, err := time.Parse("2006-01-02T15:04:05.000Z", r.Timestamp); err != nil {
			t.Errorf("timestamp %q: %v", r.Timestamp, err)
		}
	})

	t.Run("an SNS dead-letter queue gets the payload and the error attributes", func(t *testing.T) {
		id := n.invokeAsync(t, "ToTopicDLQ", map[string]string{"action": "error", "name": "to-sns-dlq"})
		m := n.take(t, "Fanout", 1)[0] // the topic's unfiltered SQS subscription
		var env struct {
			Message           string
			MessageAttributes map[string]struct{ Type, Value string }
		}
		if err := json.Unmarshal([]byte(*m.Body), &env); err != nil {
			t.Fatal(err)
		}
		a := env.MessageAttributes
		if env.Message != `{"action":"error","name":"to-sns-dlq"}` || a["RequestID"].Value != id || a["RequestID"].Type != "String" ||
			a["ErrorCode"].Value != "200" || a["ErrorCode"].Type != "Number" || a["ErrorMessage"].Value != "something went wrong" {
			t.Errorf("dead letter on the topic: %s", *m.Body)
		}
	})

	t.Run("an SNS destination publishes the record to the topic", func(t *testing.T) {
		id := n.invokeAsync(t, "ToTopic", map[string]string{"action": "error"})
		m := n.take(t, "Fanout", 1)[0] // the topic's unfiltered SQS subscription
		var env struct{ Message string }
		if err := json.Unmarshal([]byte(*m.Body), &env); err != nil {
			t.Fatal(err)
		}
		r := decodeRecord(t, sqstypes.Message{Body: &env.Message})
		if r.RequestContext.RequestID != id || r.RequestContext.Condition != "RetriesExhausted" || r.RequestContext.ApproximateInvokeCount != 1 {
			t.Errorf("record %+v", r)
		}
	})

	t.Run("unknown functions and bad payloads are refused before enqueueing", func(t *testing.T) {
		_, err := n.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("Nope"), InvocationType: lambdatypes.InvocationTypeEvent})
		if apiErrorCode(err) != "ResourceNotFoundException" {
			t.Errorf("unknown function: %v", err)
		}
		_, err = n.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("Async"), InvocationType: lambdatypes.InvocationTypeEvent, Payload: []byte("{")})
		if apiErrorCode(err) != "InvalidRequestContentException" {
			t.Errorf("bad payload: %v", err)
		}
	})
}

func TestSQSEventSource(t *testing.T) {
	n := startEventsNode(t, t.TempDir())
	ctx := context.Background()
	work := n.queueURL("Work")
	for _, body := range []string{`{"name":"one"}`, `{"action":"error","name":"poison"}`, `{"name":"two"}`} {
		if _, err := n.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(work), MessageBody: aws.String(body),
			MessageAttributes: map[string]sqstypes.MessageAttributeValue{"kind": {DataType: aws.String("String"), StringValue: aws.String("test")}}}); err != nil {
			t.Fatal(err)
		}
	}
	// The poison message is reported as a batch item failure, received
	// maxReceiveCount (2) times, then redriven to WorkDLQ.
	dead := n.take(t, "WorkDLQ", 1)
	if *dead[0].Body != `{"action":"error","name":"poison"}` {
		t.Errorf("dead letter %s", *dead[0].Body)
	}
	// The others were deleted after their batch: the queue drains.
	end := time.Now().Add(30 * time.Second)
	for {
		attrs, err := n.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(work), AttributeNames: []sqstypes.QueueAttributeName{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		if attrs.Attributes["ApproximateNumberOfMessages"] == "0" && attrs.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0" {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("queue does not drain: %v", attrs.Attributes)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Every batch the function saw decodes as an events.SQSEvent, exactly.
	seen := map[string]int{}
	for _, line := range strings.Split(n.logs.String(), "\n") {
		_, raw, ok := strings.Cut(line, "EVENT ")
		if !ok {
			continue
		}
		var ev events.SQSEvent
		if err := json.Unmarshal([]byte(raw), &ev); err != nil {
			t.Fatalf("event %s: %v", raw, err)
		}
		for _, r := range ev.Records {
			seen[r.Body]++
			if r.EventSource != "aws:sqs" || r.EventSourceARN != "arn:aws:sqs:us-east-1:000000000000:Work" || r.AWSRegion != "us-east-1" ||
				r.MessageId == "" || r.ReceiptHandle == "" || r.Md5OfBody == "" || r.Attributes["ApproximateReceiveCount"] == "" ||
				r.Attributes["SentTimestamp"] == "" || *r.MessageAttributes["kind"].StringValue != "test" || r.MessageAttributes["kind"].DataType != "String" {
				t.Errorf("record %+v", r)
			}
		}
	}
	if seen[`{"name":"one"}`] != 1 || seen[`{"name":"two"}`] != 1 || seen[`{"action":"error","name":"poison"}`] != 2 {
		t.Errorf("deliveries per body: %v", seen)
	}
}

// awsCLI returns a runner of Debian's aws CLI against the node, which
// decodes its JSON output; where the CLI is missing the test ends through
// testenv.Unavailable.
func (n *eventsNode) awsCLI(t *testing.T) func(args ...string) map[string]any {
	t.Helper()
	const cli = "/usr/bin/aws"
	if _, err := os.Stat(cli); err != nil {
		testenv.Unavailable(t, "Debian's awscli is not installed (%s): apt-get install -y awscli", cli)
	}
	creds := n.srv.Credentials()
	home := t.TempDir()
	return func(args ...string) map[string]any {
		t.Helper()
		cmd := exec.Command(cli, append([]string{"--endpoint-url", n.srv.EndpointURL(), "--output", "json"}, args...)...)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + home, "AWS_ACCESS_KEY_ID=" + creds.AccessKeyID,
			"AWS_SECRET_ACCESS_KEY=" + creds.SecretAccessKey, "AWS_DEFAULT_REGION=us-east-1",
			"AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent", "AWS_PAGER="}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		var v map[string]any
		if len(strings.TrimSpace(string(out))) > 0 {
			if err := json.Unmarshal(out, &v); err != nil {
				t.Fatalf("aws %s printed %s", strings.Join(args, " "), out)
			}
		}
		return v
	}
}

// TestAsyncInvokeWithAWSCLI is the asynchronous invocation smoke test with
// Debian's aws CLI: 202, then the OnSuccess record.
func TestAsyncInvokeWithAWSCLI(t *testing.T) {
	n := startEventsNode(t, t.TempDir())
	run := n.awsCLI(t)
	out := run("lambda", "invoke", "--function-name", "Async", "--invocation-type", "Event",
		"--cli-binary-format", "raw-in-base64-out", "--payload", `{"name":"cli"}`, filepath.Join(t.TempDir(), "out.json"))
	if out["StatusCode"] != float64(202) {
		t.Fatalf("aws lambda invoke --invocation-type Event printed %v", out)
	}
	r := decodeRecord(t, n.take(t, "Results", 1)[0])
	if r.RequestContext.Condition != "Success" || !strings.Contains(string(r.ResponsePayload), `"hello":"cli"`) {
		t.Errorf("record %+v", r)
	}
}
