// Package toolchain finds the language interpreters that run Lambda functions:
// a Node.js or Python of the version a template's Runtime declares, found on
// the machine (real binaries, never version-manager shims) or, for Node.js, a
// managed copy taken from the npm registry's Node binary packages and cached.
// When no match can be had it picks the nearest version and says so.
package toolchain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// ErrNotFound is returned (wrapped) when no interpreter of the language exists
// at all, not even one of another version.
var ErrNotFound = errors.New("no interpreter found")

// Language is an interpreted Lambda runtime family.
type Language string

// Languages aloft runs through an interpreter.
const (
	Node   Language = "node"
	Python Language = "python"
)

// Config configures a Finder. The zero value searches /usr/local/bin,
// /usr/bin and /bin and never downloads.
type Config struct {
	// SearchPath is a PATH-style list of directories to look for `node`,
	// `nodejs`, `python3` and `python3.X` in; "" means
	// /usr/local/bin:/usr/bin:/bin. Version-manager shim directories (pyenv's,
	// rbenv-style `…/shims`) are not run: their manager's real installations
	// are searched instead.
	SearchPath string
	// PyenvRoot and NVMDir name version managers' installation roots
	// (PYENV_ROOT, NVM_DIR); "" means none, except a pyenv root inferred from
	// a `…/shims` directory in SearchPath.
	PyenvRoot, NVMDir string
	// CacheDir holds managed interpreters (DATA/toolchains); "" disables
	// managed copies.
	CacheDir string
	// NPM is the npm command used to fetch Node binary packages; "" means
	// `npm` found in SearchPath. It uses the user's npm configuration
	// (registry, proxy), as any npm install would. Without npm, the
	// registry's HTTP API is used directly.
	NPM string
	// Registry is the npm registry used when there is no npm; "" means
	// DefaultRegistry.
	Registry string
	// HTTPClient fetches from Registry; nil means http.DefaultClient.
	HTTPClient *http.Client
	// Offline disables downloads; cached managed copies are still used.
	Offline bool
	// Progress receives a line when a managed copy is being fetched; nil
	// discards it.
	Progress io.Writer
}

// Interpreter is one runnable interpreter.
type Interpreter struct {
	Language Language
	// Version is the full version ("20.20.2", "3.12.1").
	Version string
	// Path is the absolute path of the real binary (symlinks resolved).
	Path string
	// Managed is true for a copy aloft downloaded into its cache.
	Managed bool
}

// String renders "Node.js 20.20.2 (/usr/bin/node)".
func (i Interpreter) String() string {
	name := "Python"
	if i.Language == Node {
		name = "Node.js"
	}
	how := i.Path
	if i.Managed {
		how = "managed, " + i.Path
	}
	return fmt.Sprintf("%s %s (%s)", name, i.Version, how)
}

// Selection is the interpreter chosen for a declared runtime.
type Selection struct {
	Interpreter
	// Runtime is the runtime the template declared ("nodejs22.x").
	Runtime string
	// Warning is "" when the interpreter matches the declared version, else a
	// sentence naming both versions.
	Warning string
}

// Finder finds interpreters. It is safe for concurrent use; discovery runs
// once per Finder and downloads are serialized per version.
type Finder struct {
	cfg Config

	once  sync.Once
	found []Interpreter
	err   error

	dl sync.Mutex // serializes managed downloads
}

// New returns a Finder; nothing is searched until the first Select.
func New(cfg Config) *Finder {
	if cfg.SearchPath == "" {
		cfg.SearchPath = "/usr/local/bin:/usr/bin:/bin"
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	return &Finder{cfg: cfg}
}

// Want is a runtime identifier parsed into what it asks for.
type Want struct {
	Language     Language
	Major, Minor int // Minor only for Python
}

// String renders "Node.js 22" or "Python 3.12".
func (w Want) String() string {
	if w.Language == Node {
		return fmt.Sprintf("Node.js %d", w.Major)
	}
	return fmt.Sprintf("Python %d.%d", w.Major, w.Minor)
}

var (
	nodeRuntime   = regexp.MustCompile(`^nodejs(\d+)\.x$`)
	pythonRuntime = regexp.MustCompile(`^python(\d+)\.(\d+)$`)
)

// ParseRuntime reads a Lambda runtime identifier ("nodejs20.x",
// "python3.12"); ok is false for any other runtime.
func ParseRuntime(runtime string) (w Want, ok bool) {
	if m := nodeRuntime.FindStringSubmatch(runtime); m != nil {
		n, _ := strconv.Atoi(m[1])
		return Want{Language: Node, Major: n}, true
	}
	if m := pythonRuntime.FindStringSubmatch(runtime); m != nil {
		a, _ := strconv.Atoi(m[1])
		b, _ := strconv.Atoi(m[2])
		return Want{Language: Python, Major: a, Minor: b}, true
	}
	return Want{}, false
}

// Select returns the interpreter to run runtime with: a host interpreter of
// the declared version (newest patch release), else for Node.js a managed copy
// (cached, or fetched from the npm registry), else the nearest version found,
// with a Warning naming both.
func (f *Finder) Select(ctx context.Context, runtime string) (*Selection, error) {
	want, ok := ParseRuntime(runtime)
	if !ok {
		return nil, fmt.Errorf("runtime %q: not a Node.js or Python runtime", runtime)
	}
	all, err := f.Interpreters()
	if err != nil {
		return nil, err
	}
	if best := bestMatch(all, want); best != nil {
		return &Selection{Interpreter: *best, Runtime: runtime}, nil
	}
	var why string
	if want.Language == Node {
		in, err := f.managedNode(ctx, want.Major)
		if err == nil {
			return &Selection{Interpreter: *in, Runtime: runtime}, nil
		}
		why = fmt.Sprintf(" (no managed copy: %v)", err)
	}
	near := nearest(all, want)
	if near == nil {
		return nil, fmt.Errorf("runtime %s: %w for %s%s", runtime, ErrNotFound, want.Language, why)
	}
	return &Selection{
		Interpreter: *near,
		Runtime:     runtime,
		Warning:     fmt.Sprintf("runtime %s wants %s, which is not available%s; running on %s", runtime, want, why, near),
	}, nil
}

// Interpreters lists every interpreter found on the machine and in the cache,
// once per Finder.
func (f *Finder) Interpreters() ([]Interpreter, error) {
	f.once.Do(func() { f.found, f.err = f.discover() })
	return f.found, f.err
}

func bestMatch(all []Interpreter, want Want) *Interpreter {
	var best *Interpreter
	for i := range all {
		in := &all[i]
		if in.Language != want.Language {
			continue
		}
		v := parseVersion(in.Version)
		if v[0] != want.Major || (want.Language == Python && v[1] != want.Minor) {
			continue
		}
		// Host binaries before managed copies, then the newest release.
		if best == nil || (best.Managed && !in.Managed) ||
			(best.Managed == in.Managed && compareVersions(v, parseVersion(best.Version)) > 0) {
			best = in
		}
	}
	return best
}

// nearest picks the closest version of the language: smallest distance in
// (major, minor), newer on a tie.
func nearest(all []Interpreter, want Want) *Interpreter {
	var best *Interpreter
	bestDist := 0
	for i := range all {
		in := &all[i]
		if in.Language != want.Language {
			continue
		}
		v := parseVersion(in.Version)
		d := abs(v[0]-want.Major) * 1000
		if want.Language == Python {
			d += abs(v[1] - want.Minor)
		}
		if best == nil || d < bestDist || (d == bestDist && compareVersions(v, parseVersion(best.Version)) > 0) {
			best, bestDist = in, d
		}
	}
	return best
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// parseVersion reads "v20.1.2" or "3.12.1" into three numbers.
func parseVersion(s string) [3]int {
	var v [3]int
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	for i, part := range strings.SplitN(s, ".", 3) {
		n, _ := strconv.Atoi(strings.TrimFunc(part, func(r rune) bool { return r < '0' || r > '9' }))
		v[i] = n
	}
	return v
}

func compareVersions(a, b [3]int) int {
	for i := range a {
		if a[i] != b[i] {
			return a[i] - b[i]
		}
	}
	return 0
}

// discover lists the interpreters in the search path, version managers'
// roots and the managed cache, asking each binary for its version once.
func (f *Finder) discover() ([]Interpreter, error) {
	type cand struct {
		lang    Language
		path    string
		managed bool
	}
	var cands []cand
	pyenv := f.cfg.PyenvRoot
	for _, dir := range filepath.SplitList(f.cfg.SearchPath) {
		if dir == "" {
			continue
		}
		if filepath.Base(dir) == "shims" {
			// A version manager's shims re-dispatch on every run; look at its
			// installations instead.
			if pyenv == "" && isFile(filepath.Join(filepath.Dir(dir), "libexec", "pyenv")) {
				pyenv = filepath.Dir(dir)
			}
			continue
		}
		for _, name := range []string{"node", "nodejs"} {
			cands = append(cands, cand{Node, filepath.Join(dir, name), false})
		}
		matches, _ := filepath.Glob(filepath.Join(dir, "python3*"))
		for _, m := range matches {
			if isPythonName(filepath.Base(m)) {
				cands = append(cands, cand{Python, m, false})
			}
		}
	}
	if pyenv != "" {
		matches, _ := filepath.Glob(filepath.Join(pyenv, "versions", "*", "bin", "python3"))
		for _, m := range matches {
			cands = append(cands, cand{Python, m, false})
		}
	}
	if f.cfg.NVMDir != "" {
		matches, _ := filepath.Glob(filepath.Join(f.cfg.NVMDir, "versions", "node", "*", "bin", "node"))
		for _, m := range matches {
			cands = append(cands, cand{Node, m, false})
		}
	}
	if f.cfg.CacheDir != "" {
		matches, _ := filepath.Glob(filepath.Join(f.cfg.CacheDir, "node", "*", "bin", "node"))
		for _, m := range matches {
			cands = append(cands, cand{Node, m, true})
		}
	}
	seen := map[string]bool{}
	var unique []cand
	for _, c := range cands {
		real, err := filepath.EvalSymlinks(c.path)
		if err != nil || seen[real] || !isExecutable(real) || isScript(real) {
			continue
		}
		seen[real] = true
		c.path = real
		unique = append(unique, c)
	}
	// Ask every binary for its version, a few at a time: a machine with a
	// dozen pyenv versions would otherwise wait for each start in turn.
	found := make([]*Interpreter, len(unique))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, c := range unique {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			version, err := askVersion(c.lang, c.path)
			if err != nil {
				return // not runnable here (wrong architecture, broken install)
			}
			found[i] = &Interpreter{Language: c.lang, Version: version, Path: c.path, Managed: c.managed}
		}()
	}
	wg.Wait()
	var out []Interpreter
	for _, in := range found {
		if in != nil {
			out = append(out, *in)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Language != out[j].Language {
			return out[i].Language < out[j].Language
		}
		return compareVersions(parseVersion(out[i].Version), parseVersion(out[j].Version)) > 0
	})
	return out, nil
}

var pythonName = regexp.MustCompile(`^python3(\.\d+)?$`)

func isPythonName(name string) bool { return pythonName.MatchString(name) }

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}

// isScript reports whether p is a script rather than a binary: a shim or a
// wrapper that would pick its interpreter anew on every run.
func isScript(p string) bool {
	fh, err := os.Open(p)
	if err != nil {
		return false
	}
	defer fh.Close()
	var head [2]byte
	n, _ := fh.Read(head[:])
	return n == 2 && head[0] == '#' && head[1] == '!'
}

// askVersion runs the interpreter to learn its version.
func askVersion(lang Language, path string) (string, error) {
	var cmd *exec.Cmd
	if lang == Node {
		cmd = exec.Command(path, "--version")
	} else {
		cmd = exec.Command(path, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])")
	}
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	if parseVersion(v)[0] == 0 {
		return "", fmt.Errorf("%s: unexpected version %q", path, v)
	}
	return v, nil
}

// LambdaVersion is the major (Node.js) or major.minor (Python) version a
// runtime identifier names for an interpreter: "20" or "3.12".
func (i Interpreter) LambdaVersion() string {
	v := parseVersion(i.Version)
	if i.Language == Node {
		return strconv.Itoa(v[0])
	}
	return fmt.Sprintf("%d.%d", v[0], v[1])
}
