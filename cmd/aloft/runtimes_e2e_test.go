package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// TestHelloExampleEveryRuntime runs README command 1 and invokes each of the
// hello example's functions (Go, Node.js ES module, TypeScript bundled with
// esbuild, Python) with Debian's aws CLI and with aws-sdk-go-v2.
func TestHelloExampleEveryRuntime(t *testing.T) {
	awsCLI := debianAWSCLI(t)
	bin := aloftBinary(t)
	env := baseEnv(t)
	up := startUp(t, bin, env, "../../examples/hello/template.yaml", "--endpoint", "127.0.0.1:0", "--data", exampleData(t))
	out := up.output.String()
	for _, want := range []string{
		"aloft: function HelloNode (nodejs20.x): ready on Node.js ",
		"aloft: function HelloTs (nodejs20.x): ready on Node.js ",
		"aloft: function HelloPython (python3.12): ready on Python ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("aloft up output lacks %q:\n%s", want, out)
		}
	}
	client := lambda.New(lambda.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(up.endpoint),
		Credentials:      credentials.NewStaticCredentialsProvider(up.keyID, up.secret, ""),
		RetryMaxAttempts: 1,
	})
	awsEnv := append(env, "AWS_ACCESS_KEY_ID="+up.keyID, "AWS_SECRET_ACCESS_KEY="+up.secret, "AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent", "AWS_PAGER=")
	for _, fn := range []string{"Hello", "HelloNode", "HelloTs", "HelloPython"} {
		t.Run(fn, func(t *testing.T) {
			outFile := filepath.Join(t.TempDir(), "out.json")
			out, err := runCmd(awsEnv, awsCLI, "--endpoint-url", up.endpoint, "lambda", "invoke", "--function-name", fn,
				"--cli-binary-format", "raw-in-base64-out", "--payload", `{"name":"cli"}`, outFile)
			if err != nil {
				t.Fatalf("aws lambda invoke: %v\n%s", err, out)
			}
			var meta struct {
				StatusCode    int
				FunctionError string
			}
			if err := json.Unmarshal([]byte(out), &meta); err != nil || meta.StatusCode != 200 || meta.FunctionError != "" {
				t.Fatalf("aws lambda invoke printed %s", out)
			}
			body, _ := os.ReadFile(outFile)
			checkGreeting(t, body, fn, "cli")

			resp, err := client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(`{"name":"sdk"}`)})
			if err != nil {
				t.Fatalf("sdk invoke: %v", err)
			}
			if resp.FunctionError != nil {
				t.Fatalf("sdk invoke: function error %s: %s", *resp.FunctionError, resp.Payload)
			}
			checkGreeting(t, resp.Payload, fn, "sdk")
		})
	}
	up.stop(t)
}

func checkGreeting(t *testing.T, body []byte, fn, name string) {
	t.Helper()
	var reply struct{ Message, Function, RequestID string }
	if err := json.Unmarshal(body, &reply); err != nil {
		t.Fatalf("%s answered %s: %v", fn, body, err)
	}
	if reply.Message != "Hello, "+name+"!" || reply.Function != fn || reply.RequestID == "" {
		t.Fatalf("%s answered %s", fn, body)
	}
}
