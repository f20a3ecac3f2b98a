package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/testenv"
	"github.com/aloft-dev/aloft/internal/toolchain/toolchaintest"
)

// aloftBinary builds cmd/aloft once per test run.
func aloftBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "aloft")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// debianAWSCLI is the aws CLI the project promises to serve: Debian's awscli
// package (v2.9, SQS over the Query protocol, no default S3 checksums). Another
// `aws` on PATH (a pip-installed v1, say) is not it.
func debianAWSCLI(t *testing.T) string {
	t.Helper()
	const path = "/usr/bin/aws"
	if _, err := os.Stat(path); err != nil {
		testenv.Unavailable(t, "Debian's awscli is not installed (%s): apt-get install -y awscli", path)
	}
	return path
}

// exampleData returns a new data directory for `aloft up` whose toolchains
// directory is the managed-interpreter cache test runs share: on a machine
// without the hello example's Node.js version (Debian bookworm's is 18), the
// copy aloft fetches from the npm registry is fetched once, not by every test.
func exampleData(t *testing.T) string {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	shared := toolchaintest.CacheDir(t)
	for _, dir := range []string{data, shared} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(shared, filepath.Join(data, "toolchains")); err != nil {
		t.Fatal(err)
	}
	return data
}

// upProcess is a running `aloft up`.
type upProcess struct {
	cmd      *exec.Cmd
	endpoint string
	keyID    string
	secret   string
	caPath   string
	output   *testenv.Buffer
	done     chan error
}

var (
	endpointLine = regexp.MustCompile(`AWS endpoint (https?://\S+)`)
	caLine       = regexp.MustCompile(`TLS CA certificate: (\S+)`)
	credsLine    = regexp.MustCompile(`AWS_ACCESS_KEY_ID=(\S+) AWS_SECRET_ACCESS_KEY=(\S+)`)
)

// startUp runs `aloft up` and waits for "aloft: ready".
func startUp(t *testing.T, bin string, env []string, args ...string) *upProcess {
	t.Helper()
	if !slices.Contains(args, "--http") {
		// Never the default 127.0.0.1:3000: it may be taken, by a user's
		// service or another test binary.
		args = append(args, "--http", "127.0.0.1:0")
	}
	cmd := exec.Command(bin, append([]string{"up"}, args...)...)
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &upProcess{cmd: cmd, output: &testenv.Buffer{}, done: make(chan error, 1)}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			p.output.WriteString(line + "\n")
			if m := endpointLine.FindStringSubmatch(line); m != nil {
				p.endpoint = m[1]
			}
			if m := caLine.FindStringSubmatch(line); m != nil {
				p.caPath = m[1]
			}
			if m := credsLine.FindStringSubmatch(line); m != nil {
				p.keyID, p.secret = m[1], m[2]
			}
			if line == "aloft: ready" && !signalled {
				signalled = true
				close(ready)
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	})
	select {
	case <-ready:
	case err := <-p.done:
		t.Fatalf("aloft up exited before ready: %v\n%s", err, p.output)
	case <-time.After(2 * time.Minute):
		t.Fatalf("aloft up not ready after 2 minutes:\n%s", p.output)
	}
	return p
}

// stop sends SIGTERM and expects a graceful exit 0.
func (p *upProcess) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("aloft up after SIGTERM: %v\n%s", err, p.output)
		}
	case <-time.After(time.Minute):
		t.Fatalf("aloft up did not exit after SIGTERM:\n%s", p.output)
	}
}

// baseEnv is the test's environment with the user's configuration directory and
// any AWS settings of the machine kept out of the way.
func baseEnv(t *testing.T) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_ACCESS_KEY_ID=") || strings.HasPrefix(kv, "AWS_SECRET_ACCESS_KEY=") ||
			strings.HasPrefix(kv, "AWS_PROFILE=") || strings.HasPrefix(kv, "ALOFT_") || strings.HasPrefix(kv, "XDG_CONFIG_HOME=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "XDG_CONFIG_HOME="+t.TempDir())
}

// TestHelloExample is README command 1 end to end: `aloft up` on the hello
// example, answered by `aloft invoke` and by Debian's aws CLI (with
// AWS_CA_BUNDLE set and unset), then a graceful shutdown.
func TestHelloExample(t *testing.T) {
	aws := debianAWSCLI(t)
	bin := aloftBinary(t)
	env := baseEnv(t)
	up := startUp(t, bin, env, "../../examples/hello/template.yaml", "--endpoint", "127.0.0.1:0", "--http", "127.0.0.1:0", "--data", exampleData(t),
		"--parameter-overrides", "Greeting=Howdy")
	if up.endpoint == "" || up.keyID == "" {
		t.Fatalf("endpoint or credentials not printed:\n%s", up.output)
	}
	if !strings.Contains(up.output.String(), "aloft: output HelloArn = arn:aws:lambda:us-east-1:000000000000:function:Hello") {
		t.Errorf("outputs not printed:\n%s", up.output)
	}

	out, err := runCmd(env, bin, "invoke", "Hello", "--payload", `{"name":"x"}`, "--endpoint", up.endpoint)
	if err != nil || !strings.Contains(out, `"message":"Howdy, x!"`) {
		t.Fatalf("aloft invoke: %v\n%s", err, out)
	}

	awsEnv := append(env, "AWS_ACCESS_KEY_ID="+up.keyID, "AWS_SECRET_ACCESS_KEY="+up.secret, "AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent", "AWS_PAGER=")
	for _, variant := range []struct {
		name string
		env  []string
	}{
		{"AWS_CA_BUNDLE as the machine sets it", awsEnv},
		{"AWS_CA_BUNDLE unset", without(awsEnv, "AWS_CA_BUNDLE")},
	} {
		outFile := filepath.Join(t.TempDir(), "out.json")
		out, err := runCmd(variant.env, aws, "--endpoint-url", up.endpoint, "lambda", "invoke", "--function-name", "Hello",
			"--cli-binary-format", "raw-in-base64-out", "--payload", `{"name":"cli"}`, outFile)
		if err != nil {
			t.Fatalf("%s: aws lambda invoke: %v\n%s", variant.name, err, out)
		}
		var meta struct{ StatusCode int }
		if err := json.Unmarshal([]byte(out), &meta); err != nil || meta.StatusCode != 200 {
			t.Fatalf("%s: aws lambda invoke printed %s", variant.name, out)
		}
		body, _ := os.ReadFile(outFile)
		if !strings.Contains(string(body), `"message":"Howdy, cli!"`) {
			t.Fatalf("%s: response %s", variant.name, body)
		}
	}

	up.stop(t)
	logs := up.output.String()
	for _, want := range []string{"Hello | START RequestId:", "Hello | greeting x", "Hello | REPORT RequestId:", "aloft: shutting down"} {
		if !strings.Contains(logs, want) {
			t.Errorf("output lacks %q:\n%s", want, logs)
		}
	}
}

func TestTemplateErrorNamesFileAndLine(t *testing.T) {
	bin := aloftBinary(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "template.yaml")
	os.WriteFile(path, []byte("Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: provided.al2023\n      Handler: bootstrap\n      CodeUri: .\n      Environment:\n        Variables:\n          X: !Ref Missing\n"), 0o644)
	out, err := runCmd(baseEnv(t), bin, "validate", path)
	if err == nil {
		t.Fatalf("validate accepted a template with an undefined reference:\n%s", out)
	}
	if !strings.Contains(out, "template.yaml:11:") || !strings.Contains(out, "Fn") || !strings.Contains(out, "Missing") {
		t.Fatalf("error does not name file, line, resource and name:\n%s", out)
	}
}

func runCmd(env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func without(env []string, key string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
}
