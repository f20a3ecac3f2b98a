// Command items is the httpapi example's REST API function (payload 1.0):
// it lists, gets and "creates" items, as ordinary aws-lambda-go code.
package main

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

var items = map[string]string{"1": "apple", "2": "pear"}

func handle(_ context.Context, e events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	var v any
	status := http.StatusOK
	switch {
	case e.HTTPMethod == http.MethodPost:
		status, v = http.StatusCreated, map[string]string{"created": e.Body, "stage": e.RequestContext.Stage}
	case e.PathParameters["id"] != "":
		name, ok := items[e.PathParameters["id"]]
		if !ok {
			status, v = http.StatusNotFound, map[string]string{"error": "no such item"}
		} else {
			v = map[string]string{"id": e.PathParameters["id"], "name": name}
		}
	default:
		v = items
	}
	body, err := json.Marshal(v)
	return events.APIGatewayProxyResponse{StatusCode: status, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(body)}, err
}

func main() { lambda.Start(handle) }
