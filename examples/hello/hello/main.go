// Command hello is the example function of examples/hello: it greets the name in
// its event. It is ordinary aws-lambda-go code, as it would run on AWS Lambda.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Event is what Hello is invoked with.
type Event struct {
	Name string `json:"name"`
}

// Reply is what Hello answers.
type Reply struct {
	Message   string `json:"message"`
	Function  string `json:"function"`
	RequestID string `json:"requestId"`
}

func handle(ctx context.Context, e Event) (Reply, error) {
	if e.Name == "" {
		e.Name = "world"
	}
	lc, _ := lambdacontext.FromContext(ctx)
	fmt.Printf("greeting %s\n", e.Name)
	return Reply{
		Message:   os.Getenv("GREETING") + ", " + e.Name + "!",
		Function:  lambdacontext.FunctionName,
		RequestID: lc.AwsRequestID,
	}, nil
}

func main() {
	lambda.Start(handle)
}
