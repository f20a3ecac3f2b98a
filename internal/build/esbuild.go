package build

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/evanw/esbuild/pkg/api"

	"github.com/aloft-dev/aloft/internal/toolchain"
)

// esbuildProps is Metadata.BuildProperties for BuildMethod esbuild, as SAM
// reads them.
type esbuildProps struct {
	EntryPoints  []string
	Format       string
	Target       string
	Minify       bool
	Sourcemap    bool
	External     []string
	OutExtension []string
}

// esbuildVersion is part of the cache key: a new esbuild may bundle
// differently. It is the module version linked into this binary.
func esbuildVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/evanw/esbuild" {
				return dep.Path + "@" + dep.Version + " " + dep.Sum
			}
		}
	}
	return "github.com/evanw/esbuild (unknown version)"
}

// esbuild bundles the function with esbuild's Go API, in process, as `sam
// build` does with BuildMethod esbuild: each entry point becomes a bundled .js
// file at the root of the task directory. Dependencies named by a
// package.json are installed first and resolved from there.
func (b *Builder) esbuild(ctx context.Context, spec Spec, codeDir string, sel *toolchain.Selection) (*Artifact, error) {
	props, warnings, err := parseEsbuildProps(spec.BuildProperties)
	if err != nil {
		return nil, err
	}
	for i := range warnings {
		warnings[i] = fmt.Sprintf("function %s: %s", spec.Name, warnings[i])
	}
	srcSum, _, err := treeHash(codeDir, skipTree)
	if err != nil {
		return nil, err
	}
	var modules string
	if exists(filepath.Join(codeDir, "package.json")) {
		if modules, _, err = b.npmInstall(ctx, spec, codeDir, sel); err != nil {
			return nil, err
		}
	}
	propsJSON, _ := json.Marshal(props)
	key := shortKey("aloft esbuild v1", esbuildVersion(), srcSum, modules, string(propsJSON), sel.LambdaVersion())
	out := filepath.Join(b.cfg.CacheDir, "esbuild", key)
	cached := exists(out)
	if !cached {
		start := time.Now()
		b.progress("%s: bundling %s with esbuild …", spec.Name, strings.Join(props.EntryPoints, ", "))
		err := stage(out, func(tmp string) error { return runEsbuild(codeDir, tmp, modules, props, sel) })
		if err != nil {
			return nil, err
		}
		b.progress("%s: bundled in %s", spec.Name, since(start))
	} else {
		b.progress("%s: bundle cached (%s)", spec.Name, key[:12])
	}
	sum, size, err := treeHash(out, nil)
	if err != nil {
		return nil, err
	}
	art := &Artifact{TaskRoot: out, CodeSha256: codeSha(sum), CodeSize: size, Cached: cached, Warnings: warnings}
	if props.Sourcemap {
		// Lambda users set this themselves for source-mapped stack traces;
		// aloft sets it with the map it wrote (the template may override).
		art.Env = map[string]string{"NODE_OPTIONS": "--enable-source-maps"}
	}
	return art, nil
}

func runEsbuild(codeDir, outDir, modules string, props esbuildProps, sel *toolchain.Selection) error {
	opts := api.BuildOptions{
		EntryPoints:   props.EntryPoints,
		Bundle:        true,
		Write:         true,
		Outdir:        outDir,
		AbsWorkingDir: codeDir,
		Platform:      api.PlatformNode,
		Format:        api.FormatCommonJS,
		External:      props.External,
		LogLevel:      api.LogLevelSilent,
	}
	if props.Format == "esm" {
		opts.Format = api.FormatESModule
	}
	if props.Minify {
		opts.MinifyWhitespace, opts.MinifyIdentifiers, opts.MinifySyntax = true, true, true
	}
	if props.Sourcemap {
		opts.Sourcemap = api.SourceMapLinked
	}
	if modules != "" {
		opts.NodePaths = []string{modules}
	}
	target, engines, err := parseTarget(props.Target, sel)
	if err != nil {
		return err
	}
	opts.Target, opts.Engines = target, engines
	if len(props.OutExtension) > 0 {
		opts.OutExtension = map[string]string{}
		for _, e := range props.OutExtension {
			from, to, ok := strings.Cut(e, "=")
			if !ok {
				return fmt.Errorf("BuildProperties.OutExtension %q: want .js=.mjs", e)
			}
			opts.OutExtension[from] = to
		}
	}
	res := api.Build(opts)
	if len(res.Errors) > 0 {
		msgs := api.FormatMessages(res.Errors, api.FormatMessagesOptions{Kind: api.ErrorMessage})
		return fmt.Errorf("esbuild:\n%s", strings.TrimSpace(strings.Join(msgs, "")))
	}
	// An ES module bundle written as .js needs "type": "module" beside it to
	// load as one (SAM users add OutExtension .js=.mjs for the same reason).
	if opts.Format == api.FormatESModule && opts.OutExtension[".js"] == "" {
		if err := os.WriteFile(filepath.Join(outDir, "package.json"), []byte(`{"type":"module"}`+"\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// parseTarget reads SAM's Target ("es2020", "node20", "es2020,node18").
// Without one, the bundle targets the Node.js version that will run it.
func parseTarget(s string, sel *toolchain.Selection) (api.Target, []api.Engine, error) {
	targets := map[string]api.Target{
		"esnext": api.ESNext, "es5": api.ES5, "es6": api.ES2015, "es2015": api.ES2015, "es2016": api.ES2016,
		"es2017": api.ES2017, "es2018": api.ES2018, "es2019": api.ES2019, "es2020": api.ES2020,
		"es2021": api.ES2021, "es2022": api.ES2022, "es2023": api.ES2023, "es2024": api.ES2024, "es2025": api.ES2025,
	}
	if strings.TrimSpace(s) == "" {
		return api.DefaultTarget, []api.Engine{{Name: api.EngineNode, Version: sel.LambdaVersion()}}, nil
	}
	target := api.DefaultTarget
	var engines []api.Engine
	for _, part := range strings.Split(s, ",") {
		part = strings.ToLower(strings.TrimSpace(part))
		if t, ok := targets[part]; ok {
			target = t
			continue
		}
		if v, ok := strings.CutPrefix(part, "node"); ok && v != "" {
			engines = append(engines, api.Engine{Name: api.EngineNode, Version: v})
			continue
		}
		return 0, nil, fmt.Errorf("BuildProperties.Target %q: unknown target %q", s, part)
	}
	return target, engines, nil
}

// parseEsbuildProps reads BuildProperties; properties aloft does not apply
// are returned as warnings.
func parseEsbuildProps(m map[string]any) (esbuildProps, []string, error) {
	var p esbuildProps
	var warnings []string
	for _, k := range sortedKeys(m) {
		v := m[k]
		var err error
		switch k {
		case "EntryPoints":
			p.EntryPoints, err = stringList(k, v)
		case "External":
			p.External, err = stringList(k, v)
		case "OutExtension":
			p.OutExtension, err = stringList(k, v)
		case "Format":
			p.Format, err = stringValue(k, v)
			if err == nil && p.Format != "esm" && p.Format != "cjs" {
				err = fmt.Errorf("BuildProperties.Format %q: want esm or cjs", p.Format)
			}
		case "Target":
			p.Target, err = stringValue(k, v)
		case "Minify":
			p.Minify, err = boolValue(k, v)
		case "Sourcemap":
			p.Sourcemap, err = boolValue(k, v)
		default:
			warnings = append(warnings, fmt.Sprintf("BuildProperties.%s is not supported by aloft's esbuild build; ignored", k))
		}
		if err != nil {
			return p, nil, err
		}
	}
	if len(p.EntryPoints) == 0 {
		return p, nil, fmt.Errorf("BuildMethod esbuild needs BuildProperties.EntryPoints")
	}
	return p, warnings, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func stringValue(k string, v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case nil:
		return "", nil
	}
	return "", fmt.Errorf("BuildProperties.%s must be a string, found %T", k, v)
}

func stringList(k string, v any) ([]string, error) {
	switch x := v.(type) {
	case string:
		return []string{x}, nil
	case []any:
		out := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("BuildProperties.%s must be a list of strings, found %T", k, e)
			}
			out[i] = s
		}
		return out, nil
	case []string:
		return x, nil
	}
	return nil, fmt.Errorf("BuildProperties.%s must be a list of strings, found %T", k, v)
}

func boolValue(k string, v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		switch strings.ToLower(x) {
		case "true":
			return true, nil
		case "false", "":
			return false, nil
		}
	case nil:
		return false, nil
	}
	return false, fmt.Errorf("BuildProperties.%s must be true or false, found %v", k, v)
}
