// Command fn is bench/httpapi's function: it greets the {name} path
// parameter of an HTTP API (payload 2.0) request, as ordinary aws-lambda-go
// code would on AWS.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func handle(_ context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	body, err := json.Marshal(map[string]string{"message": "Hello, " + e.PathParameters["name"] + "!"})
	return events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(body)}, err
}

func main() { lambda.Start(handle) }
