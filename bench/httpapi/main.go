// Command httpapi measures requests/s and p50/p99 latency through an HTTP
// API route (aloft's HTTP listener → route → pool → Go function → response)
// at concurrency 1 and 64, with wrk in a separate process, beside a plain
// net/http handler doing the same work (decode the path, greet, encode JSON)
// served from this process in the same run, and prints ratios. Run it with
// `go run ./bench/httpapi` (or bench/run); wrk must be on PATH.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/aloft-dev/aloft/internal/server"
	"github.com/aloft-dev/aloft/internal/template"
)

func main() {
	dur := flag.Duration("d", 10*time.Second, "duration of each wrk measurement")
	tmpl := flag.String("template", "bench/httpapi/template.yaml", "template with the Hello function behind GET /hello/{name}")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the aloft measurements here")
	flag.Parse()
	if err := run(*dur, *tmpl, *cpuProfile); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(dur time.Duration, tmpl, cpuProfile string) error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk is not installed (apt-get install wrk)")
	}
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
	cfg.HTTP = "127.0.0.1:0"
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
	aloftURL := srv.HTTPURL() + "/hello/bench"
	base, stop, err := startBaseline()
	if err != nil {
		return err
	}
	defer stop()
	baseURL := base + "/hello/bench"

	fmt.Printf("HTTP API GET /hello/{name}, wrk -d %s, %s/%s, %d CPUs, %s\n", dur, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	fmt.Printf("%-4s %-30s %12s %10s %10s %8s\n", "conc", "", "requests/s", "p50", "p99", "non-2xx")
	var prof *os.File
	for _, conc := range []int{1, 64} {
		threads := min(conc, 2)
		// Warm both: the pool starts its instances, connections open.
		if _, err := runWrk(baseURL, threads, conc, time.Second); err != nil {
			return err
		}
		if _, err := runWrk(aloftURL, threads, conc, 2*time.Second); err != nil {
			return err
		}
		bl, err := runWrk(baseURL, threads, conc, dur)
		if err != nil {
			return err
		}
		if cpuProfile != "" && prof == nil {
			if prof, err = os.Create(cpuProfile); err != nil {
				return err
			}
			if err := pprof.StartCPUProfile(prof); err != nil {
				return err
			}
		}
		al, err := runWrk(aloftURL, threads, conc, dur)
		if err != nil {
			return err
		}
		fmt.Printf("%-4d %-30s %12.0f %10s %10s %8d\n", conc, "plain net/http (baseline)", bl.rps, bl.p50, bl.p99, bl.non2xx)
		fmt.Printf("%-4d %-30s %12.0f %10s %10s %8d\n", conc, "aloft HTTP API → Go function", al.rps, al.p50, al.p99, al.non2xx)
		fmt.Printf("%-4d %-30s %11.2fx %9.1fx %9.1fx\n", conc, "ratio aloft/baseline", al.rps/bl.rps, ratio(al.p50, bl.p50), ratio(al.p99, bl.p99))
	}
	if prof != nil {
		pprof.StopCPUProfile()
		if err := prof.Close(); err != nil {
			return err
		}
	}
	return nil
}

type result struct {
	rps      float64
	p50, p99 time.Duration
	non2xx   int
}

var (
	rpsLine    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	pctLine    = regexp.MustCompile(`^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
	non2xxLine = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
)

// runWrk runs wrk in its own process and reads its summary.
func runWrk(url string, threads, conns int, dur time.Duration) (result, error) {
	cmd := exec.Command("wrk", "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-d", fmt.Sprintf("%ds", max(1, int(dur.Seconds()))), "--latency", url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk %s: %w\n%s", url, err, out)
	}
	var r result
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := sc.Text()
		if m := rpsLine.FindStringSubmatch(line); m != nil {
			r.rps, _ = strconv.ParseFloat(m[1], 64)
		}
		if m := non2xxLine.FindStringSubmatch(line); m != nil {
			r.non2xx, _ = strconv.Atoi(m[1])
		}
		if m := pctLine.FindStringSubmatch(line); m != nil {
			v, _ := strconv.ParseFloat(m[2], 64)
			unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[m[3]]
			d := time.Duration(v * float64(unit)).Round(time.Microsecond)
			if m[1] == "50" {
				r.p50 = d
			} else {
				r.p99 = d
			}
		}
	}
	if r.rps == 0 {
		return r, fmt.Errorf("wrk %s: no Requests/sec in its output:\n%s", url, out)
	}
	return r, nil
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

// startBaseline serves the function's work from a plain net/http handler.
func startBaseline() (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello/{name}", func(w http.ResponseWriter, r *http.Request) {
		body, err := json.Marshal(map[string]string{"message": "Hello, " + r.PathValue("name") + "!"})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(l)
	return "http://" + l.Addr().String(), func() { srv.Close() }, nil
}
