// Command invoke measures warm invocation latency through aloft's Lambda Invoke API
// at concurrency 1, beside a plain net/http handler doing the same work (decode the
// hello example's event, greet, encode the reply) measured in the same run, and
// prints both with their ratio. Run it with `go run ./bench/invoke` (or bench/run).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/aloft-dev/aloft/internal/server"
	"github.com/aloft-dev/aloft/internal/template"
)

func main() {
	n := flag.Int("n", 2000, "invocations per measurement")
	tmpl := flag.String("template", "examples/hello/template.yaml", "template whose Hello function is invoked")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the aloft measurement here")
	flag.Parse()
	if err := run(*n, *tmpl, *cpuProfile); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(n int, tmpl, cpuProfile string) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "aloft-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	stack, err := template.Load(tmpl, template.Options{StackName: "bench"})
	if err != nil {
		return err
	}
	cfg := server.DefaultConfig(filepath.Join(dir, "data"))
	cfg.Endpoint = "127.0.0.1:0"
	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	defer srv.Shutdown(context.Background())
	if _, err := srv.Deploy(ctx, stack); err != nil {
		return err
	}
	creds := srv.Credentials()
	client := lambda.New(lambda.Options{
		Region:       srv.Region(),
		BaseEndpoint: aws.String(srv.EndpointURL()),
		Credentials:  credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""),
	})
	payload := []byte(`{"name":"bench"}`)
	invoke := func() error {
		out, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("Hello"), Payload: payload})
		if err != nil {
			return err
		}
		if out.FunctionError != nil {
			return fmt.Errorf("function error: %s", out.Payload)
		}
		return nil
	}

	base, stop, err := startBaseline()
	if err != nil {
		return err
	}
	defer stop()
	httpClient := &http.Client{}
	baseline := func() error {
		resp, err := httpClient.Post(base, "application/json", bytes.NewReader(payload))
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return err
	}

	// Warm both paths (instance started, connections open) before measuring.
	for range 50 {
		if err := invoke(); err != nil {
			return err
		}
		if err := baseline(); err != nil {
			return err
		}
	}
	bl, err := measure(n, baseline)
	if err != nil {
		return err
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	al, err := measure(n, invoke)
	if err != nil {
		return err
	}
	fmt.Printf("warm invoke, concurrency 1, n=%d, %s/%s, %d CPUs, %s\n", n, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	fmt.Printf("%-34s %10s %10s\n", "", "p50", "p99")
	fmt.Printf("%-34s %10s %10s\n", "plain net/http handler (baseline)", bl.p50, bl.p99)
	fmt.Printf("%-34s %10s %10s\n", "aloft Invoke API (aws-sdk-go-v2)", al.p50, al.p99)
	fmt.Printf("%-34s %9.1fx %9.1fx\n", "ratio aloft/baseline", ratio(al.p50, bl.p50), ratio(al.p99, bl.p99))
	return nil
}

type percentiles struct{ p50, p99 time.Duration }

func measure(n int, f func() error) (percentiles, error) {
	lat := make([]time.Duration, n)
	for i := range lat {
		start := time.Now()
		if err := f(); err != nil {
			return percentiles{}, err
		}
		lat[i] = time.Since(start)
	}
	slices.Sort(lat)
	return percentiles{p50: lat[n/2].Round(time.Microsecond), p99: lat[n*99/100].Round(time.Microsecond)}, nil
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

// startBaseline serves the hello function's work from a plain net/http handler.
func startBaseline() (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e struct {
			Name string `json:"name"`
		}
		if err := json.NewDecoder(r.Body).Decode(&e); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"message": "Hello, " + e.Name + "!", "function": "Hello", "requestId": "x"})
	})
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	return "http://" + l.Addr().String(), func() { srv.Close() }, nil
}
