// Command hello is the httpapi example's HTTP API and function URL function
// (payload 2.0): it greets the {name} path parameter, or the URL's path.
package main

import (
	"context"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func handle(_ context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	name := e.PathParameters["name"]
	if name == "" {
		name = strings.Trim(e.RawPath, "/")
	}
	if name == "" {
		name = "world"
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "text/plain"}, Body: "Hello, " + name + "!\n"}, nil
}

func main() { lambda.Start(handle) }
