// Command fn is the test function of package runtime: a real aws-lambda-go
// function that does what its JSON event asks.
//
//	{"action":"echo", ...}                  returns the event
//	{"action":"error","message":"m"}        returns errors.New(m)
//	{"action":"panic","message":"m"}        panics (aws-lambda-go reports it, then exits)
//	{"action":"sleep","ms":n,"child":true}  sleeps; with child, first starts `sleep 600` in its process group and prints "child-pid: N"
//	{"action":"exit","code":n}              exits at once
//	{"action":"big","n":n}                  returns a JSON string of n 'x' characters
//	{"action":"env","path":p}              returns {"pid":..,"env":{..}}, after file p exists if given
//	{"action":"pid"}                        returns its pid
//	{"action":"print","lines":[..],"stderr":[..]} prints lines, returns "printed"
//	{"action":"wait","path":p}              returns once file p exists
//
// Init: FAIL_INIT=exit exits with status 1 before lambda.Start; FAIL_INIT=post
// posts to init/error with a raw HTTP client first; SLOW_INIT=ms sleeps first.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	Action  string   `json:"action"`
	Message string   `json:"message"`
	Ms      int      `json:"ms"`
	Child   bool     `json:"child"`
	Code    int      `json:"code"`
	N       int      `json:"n"`
	Lines   []string `json:"lines"`
	Stderr  []string `json:"stderr"`
	Path    string   `json:"path"`
}

func handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var ev event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	switch ev.Action {
	case "echo":
		return raw, nil
	case "error":
		return nil, errors.New(ev.Message)
	case "panic":
		panic(ev.Message)
	case "sleep":
		if ev.Child {
			cmd := exec.Command("sleep", "600")
			if err := cmd.Start(); err != nil {
				return nil, err
			}
			fmt.Printf("child-pid: %d\n", cmd.Process.Pid)
		}
		time.Sleep(time.Duration(ev.Ms) * time.Millisecond)
		return "slept", nil
	case "exit":
		os.Exit(ev.Code)
	case "big":
		return strings.Repeat("x", ev.N), nil
	case "env":
		if ev.Path != "" {
			if err := waitFor(ctx, ev.Path); err != nil {
				return nil, err
			}
		}
		env := map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		return map[string]any{"pid": os.Getpid(), "env": env}, nil
	case "pid":
		return os.Getpid(), nil
	case "print":
		for _, l := range ev.Lines {
			fmt.Println(l)
		}
		for _, l := range ev.Stderr {
			fmt.Fprintln(os.Stderr, l)
		}
		return "printed", nil
	case "wait":
		if err := waitFor(ctx, ev.Path); err != nil {
			return nil, err
		}
		return "waited", nil
	}
	return nil, fmt.Errorf("unknown action %q", ev.Action)
}

// waitFor returns once the file at path exists.
func waitFor(ctx context.Context, path string) error {
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func main() {
	if ms, err := strconv.Atoi(os.Getenv("SLOW_INIT")); err == nil {
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}
	switch os.Getenv("FAIL_INIT") {
	case "exit":
		fmt.Fprintln(os.Stderr, "init: failing on purpose")
		os.Exit(1)
	case "post":
		url := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/init/error"
		body := []byte(`{"errorMessage":"bad config","errorType":"InitFailure","stackTrace":[]}`)
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			os.Exit(3)
		}
		req.Header.Set("Lambda-Runtime-Function-Error-Type", "InitFailure")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			os.Exit(4)
		}
		resp.Body.Close()
		fmt.Printf("init/error answered %d\n", resp.StatusCode)
		os.Exit(1)
	}
	lambda.Start(handle)
}
