// Package build turns a function's code, as a template names it, into something
// runnable: it compiles Go sources into a `bootstrap` the way `sam build` does,
// unpacks .zip archives, takes prebuilt bootstraps as they are, installs
// Node.js (npm) and Python (pip) dependencies, bundles with esbuild, and
// prepares layers. Node.js and Python functions run under aloft's own runtime
// interface clients (clients/) on the interpreter the toolchain package picks
// for the declared runtime. Outputs are cached under the data directory by a
// hash of their inputs, so a second start with unchanged code builds nothing.
package build

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aloft-dev/aloft/internal/toolchain"
)

// ErrUnsupported is returned (wrapped) for code aloft cannot build or run yet:
// another runtime, a container image, an unknown BuildMethod.
var ErrUnsupported = errors.New("not supported by aloft yet")

// Config configures a Builder.
type Config struct {
	// CacheDir holds build outputs, one directory per input hash. Required.
	CacheDir string
	// Progress receives one line per build step ("Hello: building …"); nil
	// discards them.
	Progress io.Writer
	// Go is the go command to build with; "" means "go" from PATH.
	Go string
	// Toolchains picks the Node.js and Python interpreters; nil means a
	// toolchain.Finder with its zero Config (/usr/local/bin, /usr/bin, /bin;
	// no managed downloads).
	Toolchains *toolchain.Finder
	// NPM is the npm command for dependency installs; "" means "npm" from
	// PATH.
	NPM string
}

// Builder builds functions. It is safe for concurrent use: outputs are written
// to a temporary directory and renamed into place.
type Builder struct {
	cfg Config

	clientsMu sync.Mutex
	clients   string // where the runtime clients were written, once written
}

// New returns a Builder.
func New(cfg Config) (*Builder, error) {
	if cfg.CacheDir == "" {
		return nil, errors.New("build: CacheDir is required")
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	if cfg.Go == "" {
		cfg.Go = "go"
	}
	if cfg.NPM == "" {
		cfg.NPM = "npm"
	}
	if cfg.Toolchains == nil {
		cfg.Toolchains = toolchain.New(toolchain.Config{})
	}
	return &Builder{cfg: cfg}, nil
}

// Spec is what the template says about a function's code.
type Spec struct {
	Name        string // for progress lines and errors
	Runtime     string
	Handler     string
	CodePath    string // absolute: a directory, a .zip, or a file
	BuildMethod string // Metadata.BuildMethod
	// BuildProperties is Metadata.BuildProperties (esbuild's options).
	BuildProperties map[string]any
	// Layers are the function's local layers, built by BuildLayer, in the
	// order the template lists them (later layers win, as in /opt).
	Layers []*Layer
	// InlineCode is the source of a Node.js or Python function given in the
	// template (SAM InlineCode, Code.ZipFile); CodePath is then "".
	InlineCode string
}

// Artifact is a runnable function: the directory that becomes LAMBDA_TASK_ROOT
// and the command that starts the runtime in it.
type Artifact struct {
	TaskRoot   string
	Command    []string
	CodeSha256 string // base64 SHA-256 of the runnable, as Lambda reports CodeSha256
	CodeSize   int64
	Cached     bool // true when nothing had to be built
	// Env holds variables the runtime needs (NODE_PATH, PYTHONPATH); the
	// template's own variables take precedence over them.
	Env map[string]string
	// Runtime says what runs the function, e.g. "Node.js 20.20.2
	// (/usr/bin/node)"; "" for native bootstraps.
	Runtime string
	// Warnings are problems that do not stop the function: a runtime version
	// that is not the declared one, ignored build properties.
	Warnings []string
}

// Build makes spec runnable.
func (b *Builder) Build(ctx context.Context, spec Spec) (*Artifact, error) {
	a, err := b.build(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", spec.Name, err)
	}
	if a.Runtime == "" && len(spec.Layers) > 0 {
		a.Warnings = append(a.Warnings, fmt.Sprintf("function %s: layers are made available to Node.js and Python functions only; ignored", spec.Name))
	}
	return a, nil
}

func (b *Builder) build(ctx context.Context, spec Spec) (*Artifact, error) {
	if want, ok := toolchain.ParseRuntime(spec.Runtime); ok {
		if spec.CodePath == "" && spec.InlineCode != "" {
			dir, err := b.inlineCode(spec, want)
			if err != nil {
				return nil, err
			}
			spec.CodePath = dir
		}
		if spec.CodePath == "" {
			return nil, errors.New("the function has no local code (CodeUri, Code or InlineCode)")
		}
		return b.interpreted(ctx, spec, want)
	}
	if spec.CodePath == "" {
		return nil, errors.New("the function has no local code (CodeUri or Code)")
	}
	switch spec.BuildMethod {
	case "", "go1.x":
	default:
		return nil, fmt.Errorf("Metadata.BuildMethod %q is %w", spec.BuildMethod, ErrUnsupported)
	}
	if !isGoRuntime(spec.Runtime) && spec.BuildMethod != "go1.x" {
		return nil, fmt.Errorf("runtime %q is %w (supported: provided, provided.al2, provided.al2023, go1.x, nodejs18.x-22.x, python3.9-3.13)", spec.Runtime, ErrUnsupported)
	}
	info, err := os.Stat(spec.CodePath)
	if err != nil {
		return nil, fmt.Errorf("code: %w", err)
	}
	if !info.IsDir() {
		if strings.HasSuffix(spec.CodePath, ".zip") {
			return b.unzip(spec)
		}
		return nil, fmt.Errorf("code %s is neither a directory nor a .zip", spec.CodePath)
	}
	if spec.BuildMethod == "" {
		if exe := prebuilt(spec); exe != "" {
			return artifactFor(spec.CodePath, exe, true)
		}
	}
	if !hasGoSource(spec.CodePath) {
		return nil, fmt.Errorf("%s has no Go source and no executable bootstrap", spec.CodePath)
	}
	return b.goBuild(ctx, spec)
}

func isGoRuntime(rt string) bool {
	return rt == "go1.x" || rt == "provided" || strings.HasPrefix(rt, "provided.")
}

// prebuilt returns the executable a code directory already holds: `bootstrap`,
// or for go1.x the binary named by Handler.
func prebuilt(spec Spec) string {
	candidates := []string{"bootstrap"}
	if spec.Runtime == "go1.x" && spec.Handler != "" {
		candidates = append(candidates, spec.Handler)
	}
	for _, name := range candidates {
		p := filepath.Join(spec.CodePath, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

func hasGoSource(dir string) bool {
	matches, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	return len(matches) > 0
}

// artifactFor describes a task root whose runtime is the executable exe.
func artifactFor(taskRoot, exe string, cached bool) (*Artifact, error) {
	f, err := os.Open(exe)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return nil, fmt.Errorf("hash %s: %w", exe, err)
	}
	return &Artifact{
		TaskRoot:   taskRoot,
		Command:    []string{exe},
		CodeSha256: base64.StdEncoding.EncodeToString(h.Sum(nil)),
		CodeSize:   n,
		Cached:     cached,
	}, nil
}

func (b *Builder) progress(format string, args ...any) {
	fmt.Fprintf(b.cfg.Progress, format+"\n", args...)
}

func since(t time.Time) string {
	return time.Since(t).Round(time.Millisecond).String()
}
