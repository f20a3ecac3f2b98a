// Command fn is the server tests' function: what it does depends on its event.
package main

import (
	"context"
	"errors"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type event struct {
	Action string `json:"action"` // echo (default), error, panic, exit, sleep, big, env
	Ms     int    `json:"ms"`
	Bytes  int    `json:"bytes"`
	Name   string `json:"name"`
}

func handle(ctx context.Context, e event) (any, error) {
	switch e.Action {
	case "error":
		return nil, errors.New("something went wrong")
	case "panic":
		panic("boom")
	case "exit":
		os.Exit(3)
	case "sleep":
		time.Sleep(time.Duration(e.Ms) * time.Millisecond)
	case "big":
		return strings.Repeat("x", e.Bytes), nil
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
