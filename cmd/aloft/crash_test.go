package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// crashTemplate is an app with an asynchronously invoked function, an
// SQS-triggered one and a topic feeding its queue, the functions built from
// the server tests' fixture, which prints "SEEN <name>" for each event it
// handles.
const crashTemplate = `Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    CodeUri: %s
    Runtime: provided.al2023
    Handler: bootstrap
    Timeout: 10
Resources:
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 5
  Async:
    Type: AWS::Serverless::Function
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
            BatchSize: 10
            ScalingConfig:
              MaximumConcurrency: 4
  News:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: news
  NewsToJobs:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref News
      Protocol: sqs
      Endpoint: !GetAtt Jobs.Arn
      RawMessageDelivery: true
`

// TestCrashLosesNothingAccepted sends asynchronous invocations, queue
// messages and topic publications, kills aloft with SIGKILL at a random moment, restarts it on the
// same data directory and checks that every event it had accepted (202 or
// 200) is delivered at least once. ALOFT_CRASH_EVENTS sets the number of
// events (default 300; bench/ runs 10,000).
func TestCrashLosesNothingAccepted(t *testing.T) {
	total := 300
	if v := os.Getenv("ALOFT_CRASH_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("ALOFT_CRASH_EVENTS: %v", err)
		}
		total = n
	}
	bin := aloftBinary(t)
	env := baseEnv(t)
	dir := t.TempDir()
	fn, err := filepath.Abs("../../internal/server/testdata/fn")
	if err != nil {
		t.Fatal(err)
	}
	tmpl := filepath.Join(dir, "template.yaml")
	if err := os.WriteFile(tmpl, fmt.Appendf(nil, crashTemplate, fn), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	up := startUp(t, bin, env, tmpl, "--endpoint", "127.0.0.1:0", "--data", data)
	creds := credentials.NewStaticCredentialsProvider(up.keyID, up.secret, "")
	lc := lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(up.endpoint), Credentials: creds, RetryMaxAttempts: 1})
	qc := sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(up.endpoint), Credentials: creds, RetryMaxAttempts: 1})
	tc := sns.New(sns.Options{Region: "us-east-1", BaseEndpoint: aws.String(up.endpoint), Credentials: creds, RetryMaxAttempts: 1})
	queueURL := up.endpoint + "/000000000000/Jobs"

	// Send from several goroutines until the kill makes sends fail.
	var (
		mu       sync.Mutex
		accepted = map[string]bool{}
		count    atomic.Int64
		wg       sync.WaitGroup
	)
	killAt := int64(total/5 + rand.IntN(total*3/5+1))
	killed := make(chan struct{})
	var once sync.Once
	kill := func() { once.Do(func() { close(killed) }) }
	accept := func(names ...string) {
		mu.Lock()
		for _, n := range names {
			accepted[n] = true
		}
		mu.Unlock()
		if count.Add(int64(len(names))) >= killAt {
			kill()
		}
	}
	ctx := context.Background()
	const senders = 4
	for s := range senders {
		wg.Add(3)
		go func() { // asynchronous invocations
			defer wg.Done()
			for i := s; i < total/3; i += senders {
				name := fmt.Sprintf("a%d", i)
				payload, _ := json.Marshal(map[string]string{"action": "seen", "name": name})
				_, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("Async"), Payload: payload, InvocationType: lambdatypes.InvocationTypeEvent})
				if err != nil {
					return // aloft is gone: this one was not accepted
				}
				accept(name)
			}
		}()
		go func() { // queue messages, ten at a time
			defer wg.Done()
			for i := s * 10; i < total/3; i += senders * 10 {
				var entries []sqstypes.SendMessageBatchRequestEntry
				for j := i; j < min(i+10, total/3); j++ {
					body, _ := json.Marshal(map[string]string{"action": "seen", "name": fmt.Sprintf("q%d", j)})
					entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(j)), MessageBody: aws.String(string(body))})
				}
				out, err := qc.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: entries})
				if err != nil {
					return
				}
				var names []string
				for _, ok := range out.Successful {
					j, _ := strconv.Atoi(*ok.Id)
					names = append(names, fmt.Sprintf("q%d", j))
				}
				accept(names...)
			}
		}()
		go func() { // topic publications, delivered to the queue
			defer wg.Done()
			for i := s; i < total/3; i += senders {
				name := fmt.Sprintf("s%d", i)
				msg, _ := json.Marshal(map[string]string{"action": "seen", "name": name})
				if _, err := tc.Publish(ctx, &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:us-east-1:000000000000:news"), Message: aws.String(string(msg))}); err != nil {
					return
				}
				accept(name)
			}
		}()
	}
	go func() { wg.Wait(); kill() }() // a run too small to reach the kill point
	<-killed
	if err := up.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-up.done
	wg.Wait()
	first := up.output.String()
	mu.Lock()
	n := len(accepted)
	mu.Unlock()
	t.Logf("killed aloft after %d accepted events (kill point %d of %d)", n, killAt, total)

	second := startUp(t, bin, env, tmpl, "--endpoint", "127.0.0.1:0", "--data", data)
	seenRE := regexp.MustCompile(`(?m)\| SEEN (\S+)$`)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		seen := map[string]int{}
		for _, out := range []string{first, second.output.String()} {
			for _, m := range seenRE.FindAllStringSubmatch(out, -1) {
				seen[m[1]]++
			}
		}
		var missing []string
		for name := range accepted {
			if seen[name] == 0 {
				missing = append(missing, name)
			}
		}
		if len(missing) == 0 {
			dups := 0
			for _, c := range seen {
				dups += c - 1
			}
			t.Logf("all %d accepted events delivered; %d duplicate deliveries; %d unaccepted sends delivered too", len(accepted), dups, len(seen)-len(accepted))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d accepted events never delivered, e.g. %v", len(missing), len(accepted), missing[:min(10, len(missing))])
		}
		time.Sleep(100 * time.Millisecond)
	}
	// aloft events shows the backlog drained and what this node delivered.
	// A publication's fan-out is acknowledged after its copy is queued, so
	// the function can see the copy while the topic still counts it pending:
	// poll until the topic drains.
	var out string
	drained := regexp.MustCompile(`(?m)^news\s+1\s+0\s+-\s+\d+\s+\d+\s+\d+\s+\d+\s+0$`)
	for {
		out, err = runCmd(env, bin, "events", "--endpoint", second.endpoint)
		if err != nil {
			t.Fatalf("aloft events: %v\n%s", err, out)
		}
		if drained.MatchString(out) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("aloft events lacks the drained news topic:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("aloft events after the restart:\n%s", out)
	if !regexp.MustCompile(`(?m)^Async\s+\d+\s+\d+`).MatchString(out) || !regexp.MustCompile(`(?m)^Jobs\s+\d+\s+\d+\s+\d+\s+\S+\s+0\s+Worker\s`).MatchString(out) {
		t.Errorf("aloft events lacks the Async function or the Jobs queue:\n%s", out)
	}
	second.stop(t)
}
