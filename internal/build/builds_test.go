package build

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aloft-dev/aloft/internal/toolchain"
	"github.com/aloft-dev/aloft/internal/toolchain/toolchaintest"
)

// TestTypeScriptWithEsbuild bundles a TypeScript handler in both formats and
// checks each BuildProperty's effect on the bundle: Minify renames and strips
// whitespace, Target lowers syntax newer than it, External leaves the module
// for the runtime to load. Builds without those properties show the same
// bundle would otherwise differ.
func TestTypeScriptWithEsbuild(t *testing.T) {
	b := newBuilder(t)
	node := nodeRuntime(t, b)
	code := writeFiles(t, map[string]string{
		"src/app.ts": `import { greet } from "./greet";
import type { Context } from "./types";
export const handler = async (event: { name?: string; sdk?: boolean }, context: Context): Promise<{ message: string; id: string }> => {
  let name = event.name;
  name ??= "world"; // ES2021 logical assignment: Target es2020 lowers it
  if (event.sdk) {
    await import("@aws-sdk/client-s3"); // External: left for the runtime to load
  }
  return { message: greet(name), id: context.awsRequestId };
};
`,
		"src/greet.ts": "export function greet(personName: string): string {\n  const salutationWord = \"Hello\";\n  return `${salutationWord}, ${personName}!`;\n}\n",
		"src/types.ts": "export interface Context { awsRequestId: string }\n",
	})
	props := func(format string, extra map[string]any) map[string]any {
		p := map[string]any{"EntryPoints": []any{"src/app.ts"}, "Format": format}
		for k, v := range extra {
			p[k] = v
		}
		return p
	}
	// What Minify must remove: the sources' own local names, and indentation.
	original := []string{"personName", "salutationWord", "\n  "}
	externalLoad := regexp.MustCompile(`(import|require)\(\s*"@aws-sdk/client-s3"\s*\)`)
	for _, format := range []string{"esm", "cjs"} {
		t.Run(format, func(t *testing.T) {
			spec := Spec{
				Name: "ts-" + format, Runtime: node.Runtime, Handler: "app.handler", CodePath: code, BuildMethod: "esbuild",
				BuildProperties: props(format, map[string]any{
					"Target": "es2020", "Minify": true, "Sourcemap": true, "External": []any{"@aws-sdk/*"}, "Loader": []any{".png=file"},
				}),
			}
			f := startFunction(t, b, spec)
			resp := f.invoke(`{"name":"ts"}`)
			m := decode(t, resp)
			if m["message"] != "Hello, ts!" || m["id"] != resp.RequestID {
				t.Fatalf("payload %s\n%s", resp.Payload, f.logs.String())
			}
			if m := decode(t, f.invoke(`{}`)); m["message"] != "Hello, world!" {
				t.Fatalf("lowered ??= : payload %v", m)
			}
			bundle := readBundle(t, f.art.TaskRoot)
			for _, s := range original {
				if strings.Contains(bundle, s) {
					t.Errorf("Minify: the bundle still holds %q:\n%s", s, bundle)
				}
			}
			if strings.Contains(bundle, "??=") {
				t.Errorf("Target es2020: the bundle keeps ES2021's ??=:\n%s", bundle)
			}
			if !externalLoad.MatchString(bundle) {
				t.Errorf("External: the bundle does not load @aws-sdk/client-s3 at run time:\n%s", bundle)
			}
			if !exists(filepath.Join(f.art.TaskRoot, "app.js.map")) || f.art.Env["NODE_OPTIONS"] != "--enable-source-maps" {
				t.Errorf("sourcemap: task root %s, env %v", f.art.TaskRoot, f.art.Env)
			}
			if len(f.art.Warnings) != 1 || !strings.Contains(f.art.Warnings[0], "BuildProperties.Loader") {
				t.Errorf("warnings %q", f.art.Warnings)
			}
			again, err := b.Build(context.Background(), spec)
			if err != nil || !again.Cached || again.TaskRoot != f.art.TaskRoot {
				t.Errorf("second build: %v, cached %v", err, again != nil && again.Cached)
			}
		})
	}
	t.Run("Unminified", func(t *testing.T) {
		// Neither Minify nor a Target older than the syntax: names,
		// indentation and ??= stay.
		art, err := b.Build(context.Background(), Spec{Name: "ts-plain", Runtime: node.Runtime, Handler: "app.handler", CodePath: code, BuildMethod: "esbuild",
			BuildProperties: props("esm", map[string]any{"Target": "es2022", "External": []any{"@aws-sdk/*"}})})
		if err != nil {
			t.Fatal(err)
		}
		bundle := readBundle(t, art.TaskRoot)
		for _, s := range append(original, "??=") {
			if !strings.Contains(bundle, s) {
				t.Errorf("the unminified es2022 bundle lacks %q:\n%s", s, bundle)
			}
		}
	})
	t.Run("NotExternal", func(t *testing.T) {
		// Without External, esbuild must resolve the module itself, and
		// cannot: there is none in the code directory.
		_, err := b.Build(context.Background(), Spec{Name: "ts-inside", Runtime: node.Runtime, Handler: "app.handler", CodePath: code, BuildMethod: "esbuild",
			BuildProperties: props("esm", nil)})
		if err == nil || !strings.Contains(err.Error(), "@aws-sdk/client-s3") {
			t.Errorf("bundling a module that is not there: %v", err)
		}
	})
	_, err := b.Build(context.Background(), Spec{Name: "bad", Runtime: node.Runtime, Handler: "app.handler", CodePath: writeFiles(t, map[string]string{"app.ts": "export const = ;"}), BuildMethod: "esbuild",
		BuildProperties: map[string]any{"EntryPoints": []any{"app.ts"}}})
	if err == nil || !strings.Contains(err.Error(), "esbuild") || !strings.Contains(err.Error(), "app.ts:1") {
		t.Errorf("syntax error: %v", err)
	}
}

// readBundle returns the app.js esbuild wrote into a task root.
func readBundle(t *testing.T, taskRoot string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(taskRoot, "app.js"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestNpmDependencies installs dependencies with npm and checks that an
// unchanged manifest is not installed again: without a lockfile by `npm
// install` from a local path, with one by `npm ci` from the URL the lockfile
// pins (a registry served here, so no network is needed), and from a lockfile
// naming a dependency by a path relative to the function ("file:../shout"),
// whose changed files make a new build.
func TestNpmDependencies(t *testing.T) {
	var progress bytes.Buffer
	b, err := New(Config{CacheDir: t.TempDir(), Progress: &progress, Toolchains: toolchain.New(toolchaintest.Config(t))})
	if err != nil {
		t.Fatal(err)
	}
	node := nodeRuntime(t, b)
	toolchaintest.NPM(t)
	// npm's own cache would answer for a tarball it has seen before.
	t.Setenv("npm_config_cache", t.TempDir())

	t.Run("Install", func(t *testing.T) {
		dep := writeFiles(t, map[string]string{
			"package.json": `{"name": "shout", "version": "1.0.0", "main": "index.js"}`,
			"index.js":     "module.exports = (s) => s.toUpperCase() + '!';\n",
		})
		code := writeFiles(t, map[string]string{
			"package.json": `{"name": "fn", "version": "1.0.0", "type": "module", "dependencies": {"shout": "file:` + dep + `"}}`,
			"index.js":     "import shout from 'shout';\nexport const handler = async (e) => shout(e.word);\n",
		})
		progress.Reset()
		spec := Spec{Name: "npm", Runtime: node.Runtime, Handler: "index.handler", CodePath: code}
		f := startFunction(t, b, spec)
		if got := string(f.invoke(`{"word":"hey"}`).Payload); got != `"HEY!"` {
			t.Fatalf("payload %s\n%s", got, f.logs.String())
		}
		if !strings.Contains(progress.String(), "npm: npm install in ") {
			t.Errorf("progress:\n%s", progress.String())
		}
		if exists(filepath.Join(code, "node_modules")) {
			t.Error("the build wrote node_modules into the source directory")
		}
		again, err := b.Build(context.Background(), spec)
		if err != nil || !again.Cached {
			t.Fatalf("second build: %v cached=%v", err, again != nil && again.Cached)
		}
	})

	t.Run("CleanInstallFromLockfile", func(t *testing.T) {
		reg := newTarballServer(t, "whisper", "1.0.0", "module.exports = (s) => s.toLowerCase() + '...';\n")
		lock := func(version string) string {
			return `{"name": "fn", "version": "1.0.0", "lockfileVersion": 3, "requires": true, "packages": {
  "": {"name": "fn", "version": "1.0.0", "dependencies": {"whisper": "^1.0.0"}},
  "node_modules/whisper": {"version": "` + version + `", "resolved": "` + reg.url + `", "integrity": "` + reg.integrity + `"}
}}`
		}
		code := writeFiles(t, map[string]string{
			"package.json":      `{"name": "fn", "version": "1.0.0", "dependencies": {"whisper": "^1.0.0"}}`,
			"package-lock.json": lock("1.0.0"),
			"index.js":          "const whisper = require('whisper');\nexports.handler = async (e) => whisper(e.word);\n",
		})
		progress.Reset()
		spec := Spec{Name: "npm-ci", Runtime: node.Runtime, Handler: "index.handler", CodePath: code}
		f := startFunction(t, b, spec)
		if got := string(f.invoke(`{"word":"HEY"}`).Payload); got != `"hey..."` {
			t.Fatalf("payload %s\n%s", got, f.logs.String())
		}
		if !strings.Contains(progress.String(), "npm-ci: npm ci in ") || reg.fetches.Load() != 1 {
			t.Errorf("tarball fetched %d times; progress:\n%s", reg.fetches.Load(), progress.String())
		}
		again, err := b.Build(context.Background(), spec)
		if err != nil || !again.Cached || reg.fetches.Load() != 1 {
			t.Fatalf("second build: %v cached=%v, tarball fetched %d times", err, again != nil && again.Cached, reg.fetches.Load())
		}
		// npm ci installs exactly the lockfile or nothing: one that does not
		// match package.json is an error, where npm install would rewrite it.
		stale := writeFiles(t, map[string]string{
			"package.json":      `{"name": "fn", "version": "1.0.0", "dependencies": {"whisper": "^2.0.0"}}`,
			"package-lock.json": lock("1.0.0"),
			"index.js":          "exports.handler = async () => 'never';\n",
		})
		_, err = b.Build(context.Background(), Spec{Name: "npm-stale", Runtime: node.Runtime, Handler: "index.handler", CodePath: stale})
		if err == nil || !strings.Contains(err.Error(), "npm ci") {
			t.Fatalf("stale lockfile: %v", err)
		}
	})

	t.Run("RelativeFileDependency", func(t *testing.T) {
		// "file:../shout" is relative to the function's directory, and npm
		// records it in the lockfile as a link to "../shout": the install
		// has to run where that path still leads to the dependency, and
		// the dependency's files are part of what the build depends on.
		root := t.TempDir()
		for name, body := range map[string]string{
			"shout/package.json": `{"name": "shout", "version": "1.0.0", "main": "index.js"}`,
			"shout/index.js":     "module.exports = (s) => s.toUpperCase() + '!';\n",
			"fn/package.json":    `{"name": "fn", "version": "1.0.0", "dependencies": {"shout": "file:../shout"}}`,
			"fn/index.js":        "const shout = require('shout');\nexports.handler = async (e) => shout(e.word);\n",
		} {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		code := filepath.Join(root, "fn")
		install := exec.Command(toolchaintest.NPM(t), "install", "--offline", "--no-audit", "--no-fund")
		install.Dir = code
		if out, err := install.CombinedOutput(); err != nil {
			t.Fatalf("npm install: %v\n%s", err, out)
		}
		lock, err := os.ReadFile(filepath.Join(code, "package-lock.json"))
		if err != nil || !strings.Contains(string(lock), `"resolved": "../shout"`) {
			t.Fatalf("lockfile (%v):\n%s", err, lock)
		}
		// The build installs from the manifests, not from this.
		if err := os.RemoveAll(filepath.Join(code, "node_modules")); err != nil {
			t.Fatal(err)
		}

		progress.Reset()
		spec := Spec{Name: "npm-file", Runtime: node.Runtime, Handler: "index.handler", CodePath: code}
		f := startFunction(t, b, spec)
		if got := string(f.invoke(`{"word":"hey"}`).Payload); got != `"HEY!"` {
			t.Fatalf("payload %s\n%s\n%s", got, f.logs.String(), progress.String())
		}
		if !strings.Contains(progress.String(), "npm-file: npm ci in ") {
			t.Errorf("progress:\n%s", progress.String())
		}
		art, err := b.Build(context.Background(), spec)
		if err != nil || !art.Cached {
			t.Fatalf("second build: %v cached=%v", err, art != nil && art.Cached)
		}
		// The dependency is a copy in the cache, not a link into the
		// directory npm ran in, which is gone.
		if st, err := os.Lstat(filepath.Join(art.TaskRoot, "node_modules", "shout")); err != nil || !st.IsDir() {
			t.Fatalf("node_modules/shout: %v %v", st, err)
		}

		if err := os.WriteFile(filepath.Join(root, "shout", "index.js"), []byte("module.exports = (s) => s.toUpperCase() + '!!!';\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		changed, err := b.Build(context.Background(), spec)
		if err != nil || changed.Cached || changed.TaskRoot == art.TaskRoot {
			t.Fatalf("build after the dependency changed: %v cached=%v same=%v", err, changed != nil && changed.Cached, changed != nil && changed.TaskRoot == art.TaskRoot)
		}
		f = startFunction(t, b, spec)
		if got := string(f.invoke(`{"word":"hey"}`).Payload); got != `"HEY!!!"` {
			t.Fatalf("payload after the dependency changed %s\n%s", got, f.logs.String())
		}
	})
}

// tarballServer serves one npm package tarball, as a registry serves it.
type tarballServer struct {
	url, integrity string
	fetches        atomic.Int32
}

// newTarballServer serves package name@version, whose index.js is main, at
// url; integrity is its sha512, as a lockfile records it.
func newTarballServer(t *testing.T, name, version, main string) *tarballServer {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, f := range []struct{ name, body string }{
		{"package/package.json", `{"name": "` + name + `", "version": "` + version + `", "main": "index.js"}`},
		{"package/index.js", main},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	tgz := buf.Bytes()
	sum := sha512.Sum512(tgz)
	s := &tarballServer{integrity: "sha512-" + base64.StdEncoding.EncodeToString(sum[:])}
	path := "/" + name + "/-/" + name + "-" + version + ".tgz"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		s.fetches.Add(1)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(tgz)
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL + path
	return s
}

func TestPythonRequirements(t *testing.T) {
	b := newBuilder(t)
	py := pythonRuntime(t, b)
	t.Run("EmptyNeedsNoPip", func(t *testing.T) {
		code := writeFiles(t, map[string]string{
			"requirements.txt": "# nothing needed\n\n",
			"app.py":           "def handler(e, c):\n    return 'ok'\n",
		})
		f := startFunction(t, b, Spec{Name: "empty-reqs", Runtime: py.Runtime, Handler: "app.handler", CodePath: code})
		if got := string(f.invoke(`{}`).Payload); got != `"ok"` {
			t.Fatalf("payload %s", got)
		}
	})
	t.Run("LocalWheel", func(t *testing.T) {
		// A requirement satisfied by a wheel beside the code installs offline.
		code := writeFiles(t, map[string]string{
			"requirements.txt": "--no-index\n--find-links ./wheels\ntiny==1.0\n",
			"app.py":           "import tiny\n\ndef handler(e, c):\n    return tiny.word()\n",
		})
		writeWheel(t, filepath.Join(code, "wheels", "tiny-1.0-py3-none-any.whl"), map[string]string{
			"tiny.py":                     "def word():\n    return 'tiny'\n",
			"tiny-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: tiny\nVersion: 1.0\n",
			"tiny-1.0.dist-info/WHEEL":    "Wheel-Version: 1.0\nGenerator: aloft-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
			"tiny-1.0.dist-info/RECORD":   "",
		})
		spec := Spec{Name: "local-reqs", Runtime: py.Runtime, Handler: "app.handler", CodePath: code}
		art, err := b.Build(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		if !exists(filepath.Join(art.TaskRoot, "tiny.py")) {
			t.Fatalf("tiny not installed into %s", art.TaskRoot)
		}
		f := startFunction(t, b, spec)
		if got := string(f.invoke(`{}`).Payload); got != `"tiny"` {
			t.Fatalf("payload %s", got)
		}
	})
	t.Run("UnavailableIsAClearError", func(t *testing.T) {
		code := writeFiles(t, map[string]string{
			"requirements.txt": "--no-index\naloft-no-such-package==1.0\n",
			"app.py":           "def handler(e, c):\n    return 'ok'\n",
		})
		_, err := b.Build(context.Background(), Spec{Name: "bad-reqs", Runtime: py.Runtime, Handler: "app.handler", CodePath: code})
		if err == nil || !strings.Contains(err.Error(), "build bad-reqs: pip install -r") || !strings.Contains(err.Error(), "aloft-no-such-package") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("NoPip", func(t *testing.T) {
		err := pipInstall(context.Background(), "/bin/false", "requirements.txt", t.TempDir())
		if !errors.Is(err, ErrNoPip) || !strings.Contains(err.Error(), "needs pip") {
			t.Fatalf("got %v", err)
		}
	})
}

// TestLayerSharedByNodeAndPython builds one layer holding a Node.js module
// and a Python module, and gives it to a function of each language.
func TestLayerSharedByNodeAndPython(t *testing.T) {
	b := newBuilder(t)
	nodeRT, pyRT := nodeRuntime(t, b), pythonRuntime(t, b)
	// Lambda also looks in the version-named directories of its runtime:
	// nodejs/nodeNN/node_modules and python/lib/python3.X/site-packages.
	nodeDir := "node" + nodeRT.LambdaVersion()
	content := writeFiles(t, map[string]string{
		"nodejs/node_modules/shared/index.js":                    "exports.answer = () => 'node layer';\n",
		"nodejs/" + nodeDir + "/node_modules/versioned/index.js": "module.exports = '" + nodeDir + " dir';\n",
		"python/shared.py": "def answer():\n    return 'python layer'\n",
		"python/lib/python" + pyRT.LambdaVersion() + "/site-packages/sitepkg.py": "VALUE = 'site-packages'\n",
	})
	layer, err := b.BuildLayer(context.Background(), LayerSpec{Name: "Shared", ContentPath: content})
	if err != nil {
		t.Fatal(err)
	}
	code := writeFiles(t, map[string]string{
		"index.js": "exports.handler = async () => [require('shared').answer(), require('versioned')];\n",
		"esm.mjs":  "import shared from 'shared';\nimport versioned from 'versioned';\nexport const handler = async () => [shared.answer(), versioned];\n",
		"app.py":   "import shared, sitepkg\n\ndef handler(e, c):\n    return [shared.answer(), sitepkg.VALUE]\n",
	})
	node := startFunction(t, b, Spec{Name: "node-layer", Runtime: nodeRT.Runtime, Handler: "index.handler", CodePath: code, Layers: []*Layer{layer}})
	if got := string(node.invoke(`{}`).Payload); got != `["node layer","`+nodeDir+` dir"]` {
		t.Fatalf("node: %s\n%s", got, node.logs.String())
	}
	esm := startFunction(t, b, Spec{Name: "esm-layer", Runtime: nodeRT.Runtime, Handler: "esm.handler", CodePath: code, Layers: []*Layer{layer}})
	if got := string(esm.invoke(`{}`).Payload); got != `["node layer","`+nodeDir+` dir"]` {
		t.Fatalf("node ES module: %s\n%s", got, esm.logs.String())
	}
	py := startFunction(t, b, Spec{Name: "py-layer", Runtime: pyRT.Runtime, Handler: "app.handler", CodePath: code, Layers: []*Layer{layer}})
	if got := string(py.invoke(`{}`).Payload); got != `["python layer", "site-packages"]` {
		t.Fatalf("python: %s\n%s", got, py.logs.String())
	}
	if _, err := b.BuildLayer(context.Background(), LayerSpec{Name: "Made", ContentPath: content, BuildMethod: "makefile"}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("layer BuildMethod makefile: %v", err)
	}
}

// TestLayerBuildMethods builds layers the way sam build does for a runtime
// BuildMethod: Python sources go under python/, Node.js packages under
// nodejs/ with their dependencies installed.
func TestLayerBuildMethods(t *testing.T) {
	b := newBuilder(t)
	nodeRT, pyRT := nodeRuntime(t, b), pythonRuntime(t, b)
	toolchaintest.NPM(t)
	pySrc := writeFiles(t, map[string]string{
		"requirements.txt": "# nothing\n",
		"helpers.py":       "def shout(s):\n    return s.upper()\n",
	})
	dep := writeFiles(t, map[string]string{
		"package.json": `{"name": "exclaim", "version": "1.0.0", "main": "index.js"}`,
		"index.js":     "module.exports = (s) => s + '!';\n",
	})
	nodeSrc := writeFiles(t, map[string]string{
		"package.json": `{"name": "layer", "version": "1.0.0", "dependencies": {"exclaim": "file:` + dep + `"}}`,
	})
	pyLayer, err := b.BuildLayer(context.Background(), LayerSpec{Name: "PyLayer", ContentPath: pySrc, BuildMethod: pyRT.Runtime})
	if err != nil {
		t.Fatal(err)
	}
	nodeLayer, err := b.BuildLayer(context.Background(), LayerSpec{Name: "NodeLayer", ContentPath: nodeSrc, BuildMethod: nodeRT.Runtime})
	if err != nil {
		t.Fatal(err)
	}
	code := writeFiles(t, map[string]string{
		"index.js": "exports.handler = async (e) => require('exclaim')(e.s);\n",
		"app.py":   "import helpers\n\ndef handler(e, c):\n    return helpers.shout(e['s'])\n",
	})
	layers := []*Layer{pyLayer, nodeLayer}
	node := startFunction(t, b, Spec{Name: "node-built-layer", Runtime: nodeRT.Runtime, Handler: "index.handler", CodePath: code, Layers: layers})
	if got := string(node.invoke(`{"s":"hi"}`).Payload); got != `"hi!"` {
		t.Fatalf("node: %s\n%s", got, node.logs.String())
	}
	py := startFunction(t, b, Spec{Name: "py-built-layer", Runtime: pyRT.Runtime, Handler: "app.handler", CodePath: code, Layers: layers})
	if got := string(py.invoke(`{"s":"hi"}`).Payload); got != `"HI"` {
		t.Fatalf("python: %s\n%s", got, py.logs.String())
	}
}

// TestVersionMismatch runs a function declaring a Node.js version the search
// path lacks (nodejs18.x, or nodejs20.x where the host Node.js is 18) with
// downloads off: it runs on the host's Node.js, with a warning naming both.
func TestVersionMismatch(t *testing.T) {
	node := nodeRuntime(t, newBuilder(t))
	bin := t.TempDir()
	if err := os.Symlink(node.Path, filepath.Join(bin, "node")); err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{CacheDir: t.TempDir(), Toolchains: toolchain.New(toolchain.Config{SearchPath: bin})})
	if err != nil {
		t.Fatal(err)
	}
	host, _ := b.cfg.Toolchains.Interpreters()
	if len(host) != 1 || host[0].Version != node.Version {
		t.Fatalf("search path %s holds %v, want only %v", bin, host, node.Interpreter)
	}
	wanted := "18"
	if node.LambdaVersion() == wanted {
		wanted = "20"
	}
	code := writeFiles(t, map[string]string{"index.js": "exports.handler = async () => process.version;\n"})
	f := startFunction(t, b, Spec{Name: "Old", Runtime: "nodejs" + wanted + ".x", Handler: "index.handler", CodePath: code})
	if len(f.art.Warnings) != 1 {
		t.Fatalf("warnings %q", f.art.Warnings)
	}
	w := f.art.Warnings[0]
	if !strings.Contains(w, "function Old: runtime nodejs"+wanted+".x wants Node.js "+wanted) || !strings.Contains(w, "running on Node.js "+host[0].Version) {
		t.Errorf("warning %q", w)
	}
	if got := string(f.invoke(`{}`).Payload); got != `"v`+host[0].Version+`"` {
		t.Errorf("ran on %s", got)
	}
}

// writeWheel writes a minimal pure-Python wheel.
func writeWheel(t *testing.T, path string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(out)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestInlineCode(t *testing.T) {
	b := newBuilder(t)
	nodeRT, pyRT := nodeRuntime(t, b), pythonRuntime(t, b)
	node := startFunction(t, b, Spec{Name: "inline-node", Runtime: nodeRT.Runtime, Handler: "index.handler",
		InlineCode: "exports.handler = async (e) => 'inline ' + e.x;\n"})
	if got := string(node.invoke(`{"x":"node"}`).Payload); got != `"inline node"` {
		t.Errorf("node: %s", got)
	}
	py := startFunction(t, b, Spec{Name: "inline-py", Runtime: pyRT.Runtime, Handler: "index.handler",
		InlineCode: "def handler(e, c):\n    return 'inline ' + e['x']\n"})
	if got := string(py.invoke(`{"x":"python"}`).Payload); got != `"inline python"` {
		t.Errorf("python: %s", got)
	}
}

func TestLocalPath(t *testing.T) {
	for _, tc := range []struct {
		spec, path string
		local      bool
	}{
		{"file:../shout", "../shout", true},
		{"file:///opt/shout", "/opt/shout", true},
		{"link:./lib/shout", "./lib/shout", true},
		{"../shout", "../shout", true},
		{"./shout-1.0.0.tgz", "./shout-1.0.0.tgz", true},
		{"/opt/shout", "/opt/shout", true},
		{"^1.0.0", "", false},
		{"git+file:///repo/shout", "", false},
		{"github:aloft-dev/shout", "", false},
		{"https://example.com/shout.tgz", "", false},
	} {
		path, local := localPath(tc.spec)
		if path != tc.path || local != tc.local {
			t.Errorf("localPath(%q) = %q, %v; want %q, %v", tc.spec, path, local, tc.path, tc.local)
		}
	}
}
