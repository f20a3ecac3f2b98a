// Command fn is the server tests' function: what it does depends on its event.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type event struct {
	Action string `json:"action"` // echo (default), error, panic, exit, sleep, big, env, seen, clientcontext, fail-once
	Ms     int    `json:"ms"`
	// File is fail-once's marker: the first invocation creates it and
	// fails, later ones (in any process) succeed.
	File  string `json:"file"`
	Bytes int    `json:"bytes"`
	Name  string `json:"name"`
	// Dir is concurrency's directory of running invocations.
	Dir string `json:"dir"`
	// RequestContext is set when the event is a Lambda destination record:
	// the function prints it as one "RECORD {json}" line.
	RequestContext json.RawMessage `json:"requestContext"`
	// Records is set for SQS and SNS events: each record's body (or SNS
	// message) is itself an event; the whole event is printed as one
	// "EVENT {json}" line for the tests to decode.
	Records []record `json:"Records"`
}

type record struct {
	MessageID string `json:"messageId"`
	Body      string `json:"body"`
}

// batch handles an SQS batch: records whose body asks for "error" are
// reported as batch item failures; "fail-batch" fails the whole invocation.
func batch(raw json.RawMessage, e event) (any, error) {
	fmt.Printf("EVENT %s\n", raw)
	type failure struct {
		ItemIdentifier string `json:"itemIdentifier"`
	}
	out := struct {
		BatchItemFailures []failure `json:"batchItemFailures"`
	}{BatchItemFailures: []failure{}}
	for _, r := range e.Records {
		var inner event
		json.Unmarshal([]byte(r.Body), &inner)
		switch inner.Action {
		case "seen":
			fmt.Printf("SEEN %s\n", inner.Name)
		case "error":
			out.BatchItemFailures = append(out.BatchItemFailures, failure{r.MessageID})
		case "fail-batch":
			return nil, errors.New("the whole batch failed")
		case "concurrency":
			if err := concurrent(inner); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// concurrent counts the invocations running at once, in any process: each
// leaves a file in e.Dir while it sleeps e.Ms, and prints "CONCURRENT n",
// n being the files it sees, its own included.
func concurrent(e event) error {
	f, err := os.CreateTemp(e.Dir, "running-")
	if err != nil {
		return err
	}
	f.Close()
	defer os.Remove(f.Name())
	running, err := os.ReadDir(e.Dir)
	if err != nil {
		return err
	}
	fmt.Printf("CONCURRENT %d\n", len(running))
	time.Sleep(time.Duration(e.Ms) * time.Millisecond)
	return nil
}

func handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var e event
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, err
	}
	if e.RequestContext != nil {
		fmt.Printf("RECORD %s\n", raw)
	}
	if len(e.Records) > 0 {
		return batch(raw, e)
	}
	if e.Action == "seen" {
		// The crash test counts deliveries by these lines.
		fmt.Printf("SEEN %s\n", e.Name)
	}
	switch e.Action {
	case "error":
		return nil, errors.New("something went wrong")
	case "fail-once":
		if _, err := os.Stat(e.File); errors.Is(err, os.ErrNotExist) {
			if err := os.WriteFile(e.File, nil, 0o644); err != nil {
				return nil, err
			}
			return nil, errors.New("failing once")
		}
	case "panic":
		panic("boom")
	case "exit":
		os.Exit(3)
	case "sleep":
		time.Sleep(time.Duration(e.Ms) * time.Millisecond)
	case "big":
		return strings.Repeat("x", e.Bytes), nil
	case "clientcontext":
		lc, _ := lambdacontext.FromContext(ctx)
		return map[string]any{"clientContext": lc.ClientContext.Custom}, nil
	case "env":
		env := map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		return env, nil
	}
	lc, _ := lambdacontext.FromContext(ctx)
	return map[string]string{"hello": e.Name, "function": lambdacontext.FunctionName, "arn": lc.InvokedFunctionArn}, nil
}

func main() {
	if os.Getenv("FAIL_INIT") == "1" {
		os.Stderr.WriteString("init failed on purpose\n")
		os.Exit(1)
	}
	lambda.Start(handle)
}
