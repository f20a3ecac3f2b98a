package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/aloft-dev/aloft/internal/awsapi"
	"github.com/aloft-dev/aloft/internal/template"
	"github.com/aloft-dev/aloft/internal/testenv"
)

// buildCache is shared by every server in this package's tests, so the fixture
// function is compiled once per run.
var buildCache string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "aloft-server-test-")
	if err != nil {
		panic(err)
	}
	buildCache = filepath.Join(dir, "build")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type testNode struct {
	srv    *Server
	client *lambda.Client
	logs   *testenv.Buffer
	dep    *Deployment
}

// startNode starts a server on port 0 with the test app deployed.
func startNode(t *testing.T) *testNode {
	t.Helper()
	ctx := context.Background()
	logs := &testenv.Buffer{}
	cfg := DefaultConfig(t.TempDir())
	cfg.Endpoint = "127.0.0.1:0"
	cfg.BuildCacheDir = buildCache
	cfg.Logs = logs
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	stack, err := template.Load("testdata/app/template.yaml", template.Options{StackName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	dep, err := srv.Deploy(ctx, stack)
	if err != nil {
		t.Fatal(err)
	}
	return &testNode{srv: srv, client: newClient(srv, srv.Credentials()), logs: logs, dep: dep}
}

func newClient(srv *Server, creds awsapi.Credentials) *lambda.Client {
	return lambda.New(lambda.Options{
		Region:           srv.Region(),
		BaseEndpoint:     aws.String(srv.EndpointURL()),
		Credentials:      credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""),
		RetryMaxAttempts: 1,
	})
}

func (n *testNode) invoke(t *testing.T, name string, payload any) (*lambda.InvokeOutput, error) {
	t.Helper()
	b, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	return n.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(name), Payload: b})
}

// functionError decodes a function error payload.
func functionError(t *testing.T, out *lambda.InvokeOutput) (errType, msg string) {
	t.Helper()
	if out.FunctionError == nil || *out.FunctionError != "Unhandled" {
		t.Fatalf("want X-Amz-Function-Error Unhandled, got %v (payload %s)", out.FunctionError, out.Payload)
	}
	var e struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	if err := json.Unmarshal(out.Payload, &e); err != nil {
		t.Fatalf("error payload %s: %v", out.Payload, err)
	}
	return e.ErrorType, e.ErrorMessage
}

func apiErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestInvoke(t *testing.T) {
	n := startNode(t)

	t.Run("success by name, ARN and qualified ARN", func(t *testing.T) {
		for _, name := range []string{
			"Echo",
			"arn:aws:lambda:us-east-1:000000000000:function:Echo",
			"arn:aws:lambda:us-east-1:000000000000:function:Echo:$LATEST",
			"Echo:$LATEST",
		} {
			out, err := n.invoke(t, name, map[string]string{"name": "x"})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			var got map[string]string
			if err := json.Unmarshal(out.Payload, &got); err != nil {
				t.Fatal(err)
			}
			if out.FunctionError != nil || got["hello"] != "x" || got["function"] != "Echo" || out.StatusCode != 200 || aws.ToString(out.ExecutedVersion) != "$LATEST" {
				t.Fatalf("%s: got %d %v %s", name, out.StatusCode, out.FunctionError, out.Payload)
			}
		}
	})

	t.Run("FunctionName and logical ID both reach a named function", func(t *testing.T) {
		for _, name := range []string{"custom-name", "Named"} {
			out, err := n.invoke(t, name, map[string]string{})
			if err != nil || out.FunctionError != nil {
				t.Fatalf("%s: %v %v", name, err, out)
			}
		}
	})

	t.Run("handled error", func(t *testing.T) {
		out, err := n.invoke(t, "Echo", map[string]string{"action": "error"})
		if err != nil {
			t.Fatal(err)
		}
		if typ, msg := functionError(t, out); typ != "errorString" || msg != "something went wrong" {
			t.Fatalf("got %s %q", typ, msg)
		}
	})

	t.Run("panic, then the function is replaced", func(t *testing.T) {
		out, err := n.invoke(t, "Echo", map[string]string{"action": "panic"})
		if err != nil {
			t.Fatal(err)
		}
		if _, msg := functionError(t, out); msg != "boom" {
			t.Fatalf("panic message %q", msg)
		}
		if out, err := n.invoke(t, "Echo", map[string]string{"name": "after"}); err != nil || out.FunctionError != nil {
			t.Fatalf("after panic: %v %s", err, out.Payload)
		}
	})

	t.Run("crash fails only its request", func(t *testing.T) {
		out, err := n.invoke(t, "Echo", map[string]string{"action": "exit"})
		if err != nil {
			t.Fatal(err)
		}
		if typ, msg := functionError(t, out); typ != "Runtime.ExitError" || !strings.Contains(msg, "exit status 3") {
			t.Fatalf("got %s %q", typ, msg)
		}
		if out, err := n.invoke(t, "Echo", map[string]string{"name": "after"}); err != nil || out.FunctionError != nil {
			t.Fatalf("after crash: %v %s", err, out.Payload)
		}
	})

	t.Run("init error", func(t *testing.T) {
		out, err := n.invoke(t, "BadInit", map[string]string{})
		if err != nil {
			t.Fatal(err)
		}
		if typ, _ := functionError(t, out); typ != "Runtime.ExitError" {
			t.Fatalf("init error type %s", typ)
		}
	})

	t.Run("timeout", func(t *testing.T) {
		out, err := n.invoke(t, "Slow", map[string]any{"action": "sleep", "ms": 5000})
		if err != nil {
			t.Fatal(err)
		}
		if typ, msg := functionError(t, out); typ != "Sandbox.Timedout" || !strings.HasSuffix(msg, "Task timed out after 1.00 seconds") {
			t.Fatalf("got %s %q", typ, msg)
		}
		if out, err := n.invoke(t, "Slow", map[string]string{}); err != nil || out.FunctionError != nil {
			t.Fatalf("after timeout: %v %s", err, out.Payload)
		}
	})

	t.Run("environment", func(t *testing.T) {
		out, err := n.invoke(t, "Echo", map[string]string{"action": "env"})
		if err != nil {
			t.Fatal(err)
		}
		var env map[string]string
		json.Unmarshal(out.Payload, &env)
		creds := n.srv.Credentials()
		want := map[string]string{
			"STAGE":                    "test",
			"AWS_ENDPOINT_URL":         n.srv.EndpointURL(),
			"AWS_ACCESS_KEY_ID":        creds.AccessKeyID,
			"AWS_SECRET_ACCESS_KEY":    creds.SecretAccessKey,
			"AWS_REGION":               "us-east-1",
			"AWS_LAMBDA_FUNCTION_NAME": "Echo",
		}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("%s = %q, want %q", k, env[k], v)
			}
		}
		if _, leaked := env["AWS_CA_BUNDLE"]; leaked {
			t.Errorf("the host's AWS_CA_BUNDLE reached the function")
		}
		if !strings.HasPrefix(env["AWS_ENDPOINT_URL"], "http://127.0.0.1:") {
			t.Errorf("AWS_ENDPOINT_URL %q is not an IP literal", env["AWS_ENDPOINT_URL"])
		}
	})

	t.Run("logs", func(t *testing.T) {
		out, err := n.client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("Echo"), Payload: []byte(`{}`), LogType: types.LogTypeTail})
		if err != nil {
			t.Fatal(err)
		}
		if out.LogResult == nil || *out.LogResult == "" {
			t.Fatal("no log tail")
		}
		logs := n.logs.String()
		for _, want := range []string{"Echo | START RequestId: ", "Echo | END RequestId: ", "Echo | REPORT RequestId: "} {
			if !strings.Contains(logs, want) {
				t.Errorf("log lacks %q:\n%s", want, logs)
			}
		}
	})
}

func TestInvokeLimitsAndErrors(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()

	t.Run("oversized request", func(t *testing.T) {
		big := append(append([]byte(`"`), bytes.Repeat([]byte("x"), 6<<20)...), '"')
		_, err := n.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("Echo"), Payload: big})
		var tooLarge *types.RequestTooLargeException
		if !errors.As(err, &tooLarge) {
			t.Fatalf("got %v, want RequestTooLargeException", err)
		}
	})

	t.Run("oversized response", func(t *testing.T) {
		out, err := n.invoke(t, "Echo", map[string]any{"action": "big", "bytes": 7 << 20})
		if err != nil {
			t.Fatal(err)
		}
		if typ, _ := functionError(t, out); typ != "Function.ResponseSizeTooLarge" {
			t.Fatalf("got %s", typ)
		}
	})

	t.Run("unknown function", func(t *testing.T) {
		_, err := n.invoke(t, "Nope", map[string]string{})
		var nf *types.ResourceNotFoundException
		if !errors.As(err, &nf) || !strings.Contains(err.Error(), "function:Nope") {
			t.Fatalf("got %v", err)
		}
		_, err = n.invoke(t, "Echo:7", map[string]string{})
		if !errors.As(err, &nf) {
			t.Fatalf("unpublished version: got %v", err)
		}
	})

	t.Run("bad signature", func(t *testing.T) {
		creds := n.srv.Credentials()
		wrong := creds
		wrong.SecretAccessKey = "wrong"
		_, err := newClient(n.srv, wrong).Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("Echo")})
		if code := apiErrorCode(err); code != "InvalidSignatureException" {
			t.Fatalf("wrong secret: got %v", err)
		}
		unknown := creds
		unknown.AccessKeyID = "AKIANOTKNOWNNOTKNOWN"
		_, err = newClient(n.srv, unknown).Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("Echo")})
		if code := apiErrorCode(err); code != "UnrecognizedClientException" {
			t.Fatalf("unknown key: got %v", err)
		}
	})

	t.Run("dry run", func(t *testing.T) {
		out, err := n.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("Echo"), InvocationType: types.InvocationTypeDryRun})
		if err != nil || out.StatusCode != 204 {
			t.Fatalf("got %v %v", err, out)
		}
	})

	t.Run("async invocation is accepted with 202 (delivery: events_test.go)", func(t *testing.T) {
		out, err := n.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("Echo"), InvocationType: types.InvocationTypeEvent})
		if err != nil || out.StatusCode != 202 {
			t.Fatalf("got %v %v", out, err)
		}
	})

	t.Run("unsupported runtime answers NotImplemented", func(t *testing.T) {
		_, err := n.invoke(t, "Java", map[string]string{})
		if code := apiErrorCode(err); code != "NotImplemented" || !strings.Contains(err.Error(), "java21") {
			t.Fatalf("got %v", err)
		}
		if len(n.dep.Warnings) != 1 || !strings.Contains(n.dep.Warnings[0], "java21") {
			t.Fatalf("deploy warnings %q", n.dep.Warnings)
		}
	})

	t.Run("reserved concurrency 0 throttles", func(t *testing.T) {
		_, err := n.invoke(t, "Disabled", map[string]string{})
		var tmr *types.TooManyRequestsException
		if !errors.As(err, &tmr) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestConcurrencyCap(t *testing.T) {
	n := startNode(t)
	done := make(chan error, 1)
	go func() {
		// The long invocation retries until it holds Capped's only instance.
		for {
			out, err := n.invoke(t, "Capped", map[string]any{"action": "sleep", "ms": 3000})
			var tmr *types.TooManyRequestsException
			if errors.As(err, &tmr) {
				continue
			}
			if err == nil && out.FunctionError != nil {
				err = errors.New(string(out.Payload))
			}
			done <- err
			return
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := n.invoke(t, "Capped", map[string]string{})
		var tmr *types.TooManyRequestsException
		if errors.As(err, &tmr) {
			if tmr.Reason != types.ThrottleReasonReservedFunctionConcurrentInvocationLimitExceeded {
				t.Errorf("throttle reason %v", tmr.Reason)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("never throttled while the only instance was busy")
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("the long invocation: %v", err)
	}
	if out, err := n.invoke(t, "Capped", map[string]string{}); err != nil || out.FunctionError != nil {
		t.Fatalf("after the cap was released: %v", err)
	}
}

func TestFunctionManagement(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	got, err := n.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("Capped")})
	if err != nil {
		t.Fatal(err)
	}
	c := got.Configuration
	if aws.ToString(c.FunctionName) != "Capped" || aws.ToString(c.FunctionArn) != "arn:aws:lambda:us-east-1:000000000000:function:Capped" ||
		c.Runtime != types.RuntimeProvidedal2023 || aws.ToInt32(c.Timeout) != 10 || aws.ToInt32(c.MemorySize) != 128 ||
		c.State != types.StateActive || aws.ToString(c.Role) != "arn:aws:iam::000000000000:role/test-CappedRole" || c.Environment.Variables["STAGE"] != "test" || aws.ToString(c.CodeSha256) == "" {
		t.Fatalf("configuration %+v", c)
	}
	if got.Concurrency == nil || aws.ToInt32(got.Concurrency.ReservedConcurrentExecutions) != 1 {
		t.Fatalf("concurrency %+v", got.Concurrency)
	}

	var names []string
	pager := lambda.NewListFunctionsPaginator(n.client, &lambda.ListFunctionsInput{MaxItems: aws.Int32(3)})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range page.Functions {
			names = append(names, aws.ToString(f.FunctionName))
		}
	}
	want := "BadInit Capped Disabled Echo Java Slow custom-name"
	if strings.Join(names, " ") != want {
		t.Fatalf("ListFunctions: %v, want %s", names, want)
	}
}

func TestCredentialsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	start := func() awsapi.Credentials {
		cfg := DefaultConfig(dir)
		cfg.Endpoint = "127.0.0.1:0"
		srv, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer srv.Shutdown(context.Background())
		return srv.Credentials()
	}
	first, second := start(), start()
	if first.AccessKeyID == "" || first != second {
		t.Fatalf("credentials changed across a restart: %v then %v", first, second)
	}
}

func TestFunctionConfigurationAndUnimplementedOperations(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	c, err := n.client.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("custom-name")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(c.FunctionName) != "custom-name" || aws.ToString(c.Handler) != "bootstrap" || c.PackageType != types.PackageTypeZip {
		t.Fatalf("configuration %+v", c)
	}
	if _, err := n.client.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("Nope")}); !errors.As(err, new(*types.ResourceNotFoundException)) {
		t.Fatalf("unknown function: %v", err)
	}
	// An operation aloft does not build says so, naming it, rather than succeeding.
	_, err = n.client.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String("Echo")})
	if apiErrorCode(err) != "NotImplemented" || !strings.Contains(err.Error(), "policy") {
		t.Fatalf("GetPolicy: %v", err)
	}
	_, err = n.client.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("x"), Role: aws.String("r"), Code: &types.FunctionCode{ZipFile: []byte("x")}})
	if apiErrorCode(err) != "NotImplemented" || !strings.Contains(err.Error(), "CreateFunction") {
		t.Fatalf("CreateFunction: %v", err)
	}
}

// The deployed stack's model lives on the backbone, where a restarted or a second
// node finds it.
func TestStackIsStoredOnTheBackbone(t *testing.T) {
	n := startNode(t)
	entry, err := n.srv.state.Get(context.Background(), "stacks.test")
	if err != nil {
		t.Fatal(err)
	}
	var stored template.Stack
	if err := json.Unmarshal(entry.Value(), &stored); err != nil {
		t.Fatal(err)
	}
	if stored.Name != "test" || stored.Resources["Echo"] == nil || stored.Resources["Echo"].Type != "AWS::Lambda::Function" {
		t.Fatalf("stored stack: %+v", stored)
	}
}

// Configured credentials (ALOFT_ACCESS_KEY/ALOFT_SECRET_KEY in `aloft up`) replace
// the generated pair: requests signed with them pass, the stored pair is refused.
func TestConfiguredCredentialsReplaceGenerated(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	startWith := func(creds *awsapi.Credentials) *Server {
		cfg := DefaultConfig(dir)
		cfg.Endpoint = "127.0.0.1:0"
		cfg.Credentials = creds
		srv, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(ctx); err != nil {
			t.Fatal(err)
		}
		return srv
	}
	first := startWith(nil)
	generated := first.Credentials()
	if err := first.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	mine := awsapi.Credentials{AccessKeyID: "AKIAMINEMINEMINEMINE", SecretAccessKey: "my-own-secret"}
	srv := startWith(&mine)
	defer srv.Shutdown(ctx)
	if _, err := newClient(srv, mine).ListFunctions(ctx, &lambda.ListFunctionsInput{}); err != nil {
		t.Fatalf("configured credentials refused: %v", err)
	}
	if _, err := newClient(srv, generated).ListFunctions(ctx, &lambda.ListFunctionsInput{}); apiErrorCode(err) != "UnrecognizedClientException" {
		t.Fatalf("generated credentials while configured ones are set: %v", err)
	}
}
