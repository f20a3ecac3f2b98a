// Command coldstart measures cold starts per runtime: for each of the hello
// example's functions (Go, Node.js, TypeScript bundled for Node.js, Python) a
// fresh instance is started and invoked once, n times, through a runtime pool
// (process spawn, runtime client start-up, handler load, one invocation). Beside
// each it measures, in the same run and interleaved with it, the bare process
// start of the same executable (`node -e 0`, `python3 -c pass`, the Go
// bootstrap exiting at once outside Lambda), and prints p50/p99 of both and
// their ratio. Run it with `go run ./bench/coldstart` (or bench/run).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/aloft-dev/aloft/internal/build"
	"github.com/aloft-dev/aloft/internal/runtime"
	"github.com/aloft-dev/aloft/internal/template"
	"github.com/aloft-dev/aloft/internal/toolchain"
)

func main() {
	n := flag.Int("n", 100, "cold starts per runtime")
	tmpl := flag.String("template", "examples/hello/template.yaml", "template whose functions are started")
	flag.Parse()
	if err := run(*n, *tmpl); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(n int, tmpl string) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "aloft-coldstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	stack, err := template.Load(tmpl, template.Options{StackName: "bench"})
	if err != nil {
		return err
	}
	fns, err := stack.Functions()
	if err != nil {
		return err
	}
	b, err := build.New(build.Config{
		CacheDir: filepath.Join(dir, "build"),
		Toolchains: toolchain.New(toolchain.Config{
			SearchPath: os.Getenv("PATH"), PyenvRoot: os.Getenv("PYENV_ROOT"), Offline: true,
		}),
	})
	if err != nil {
		return err
	}
	fmt.Printf("cold start: new instance + first invoke, n=%d per runtime; baseline: bare start of the same executable, interleaved\n", n)
	fmt.Printf("%-12s %-34s %10s %10s   %10s %10s   %7s %7s\n", "function", "runtime", "cold p50", "cold p99", "bare p50", "bare p99", "×p50", "×p99")
	for _, fn := range fns {
		art, err := b.Build(ctx, build.Spec{
			Name: fn.Name, Runtime: fn.Runtime, Handler: fn.Handler, CodePath: fn.CodePath,
			BuildMethod: fn.BuildMethod, BuildProperties: fn.BuildProperties,
		})
		if err != nil {
			return err
		}
		bare := bareCommand(art)
		cold, base := make([]time.Duration, 0, n), make([]time.Duration, 0, n)
		for i := 0; i < n; i++ {
			d, err := coldStart(ctx, fn, art)
			if err != nil {
				return fmt.Errorf("%s: %w", fn.Name, err)
			}
			cold = append(cold, d)
			start := time.Now()
			cmd := exec.Command(bare[0], bare[1:]...)
			cmd.Env = []string{"PATH=/usr/bin:/bin"}
			_ = cmd.Run() // the Go bootstrap exits non-zero outside Lambda; only its start matters
			base = append(base, time.Since(start))
		}
		rt := art.Runtime
		if rt == "" {
			rt = fn.Runtime + " (native)"
		}
		if len(rt) > 34 {
			rt = rt[:31] + "..."
		}
		c50, c99, b50, b99 := pct(cold, 50), pct(cold, 99), pct(base, 50), pct(base, 99)
		fmt.Printf("%-12s %-34s %10s %10s   %10s %10s   %7.2f %7.2f\n", fn.Name, rt,
			ms(c50), ms(c99), ms(b50), ms(b99), float64(c50)/float64(b50), float64(c99)/float64(b99))
	}
	return nil
}

// coldStart starts a pool, times its first invocation (a cold start: spawn,
// init, invoke) and shuts it down.
func coldStart(ctx context.Context, fn template.Function, art *build.Artifact) (time.Duration, error) {
	env := map[string]string{"GREETING": "Hello"}
	for k, v := range art.Env {
		env[k] = v
	}
	pool, err := runtime.NewPool(runtime.PoolConfig{Function: runtime.FunctionSpec{
		Name: fn.Name, Runtime: fn.Runtime, Handler: fn.Handler,
		Command: art.Command, TaskRoot: art.TaskRoot, Env: env, Timeout: 30 * time.Second,
	}})
	if err != nil {
		return 0, err
	}
	start := time.Now()
	resp, err := pool.Invoke(ctx, &runtime.Request{Payload: []byte(`{"name":"bench"}`)})
	d := time.Since(start)
	if shutdownErr := pool.Shutdown(ctx); err == nil {
		err = shutdownErr
	}
	if err == nil && resp.FunctionError != "" {
		err = fmt.Errorf("function error: %s", resp.Payload)
	}
	return d, err
}

// bareCommand is the same executable doing nothing: the interpreter with an
// empty program, or the native bootstrap itself.
func bareCommand(art *build.Artifact) []string {
	exe := art.Command[0]
	switch {
	case len(art.Command) > 1 && filepath.Ext(art.Command[len(art.Command)-1]) == ".mjs":
		return []string{exe, "-e", "0"}
	case len(art.Command) > 1 && filepath.Ext(art.Command[len(art.Command)-1]) == ".py":
		return []string{exe, "-c", "pass"}
	}
	return []string{exe}
}

func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	if i < 1 {
		i = 1
	}
	return s[i-1]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
