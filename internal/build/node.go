package build

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/aloft-dev/aloft/internal/toolchain"
)

// nodeBuild prepares a Node.js function. Without a package.json the code
// directory is the task root as it is. With one, the dependencies are
// installed into the cache (keyed by the manifest, the lockfile and the Node
// major version, so unchanged dependencies install once), and the task root is
// a copy of the sources with node_modules linked to them, as `sam build` makes
// one without touching the source directory.
func (b *Builder) nodeBuild(ctx context.Context, spec Spec, codeDir string, sel *toolchain.Selection) (*Artifact, error) {
	srcSum, size, err := treeHash(codeDir, skipTree)
	if err != nil {
		return nil, err
	}
	if !exists(filepath.Join(codeDir, "package.json")) {
		return &Artifact{TaskRoot: codeDir, CodeSha256: codeSha(srcSum), CodeSize: size, Cached: true}, nil
	}
	modules, depsCached, err := b.npmInstall(ctx, spec, codeDir, sel)
	if err != nil {
		return nil, err
	}
	key := shortKey("aloft node v1", srcSum, modules)
	out := filepath.Join(b.cfg.CacheDir, "node", key)
	cached := exists(out)
	if !cached {
		err := stage(out, func(tmp string) error {
			if err := copyTree(codeDir, tmp, skipTree); err != nil {
				return err
			}
			return os.Symlink(modules, filepath.Join(tmp, "node_modules"))
		})
		if err != nil {
			return nil, err
		}
	}
	return &Artifact{TaskRoot: out, CodeSha256: codeSha(srcSum), CodeSize: size, Cached: cached && depsCached}, nil
}

// npmInstall installs the production dependencies that dir's package.json and
// lockfile name into CacheDir/npm/{key}/node_modules and returns that
// directory. `npm ci` is used with a lockfile, `npm install` without one.
func (b *Builder) npmInstall(ctx context.Context, spec Spec, dir string, sel *toolchain.Selection) (modules string, cached bool, err error) {
	manifests := []string{"package.json", "package-lock.json", "npm-shrinkwrap.json"}
	h := strings.Builder{}
	fmt.Fprintf(&h, "aloft npm v1 node%s\n", sel.LambdaVersion())
	for _, m := range manifests {
		data, err := os.ReadFile(filepath.Join(dir, m))
		if err != nil && !os.IsNotExist(err) {
			return "", false, err
		}
		fmt.Fprintf(&h, "%s %d\n%s\n", m, len(data), data)
	}
	key := shortKey(h.String())
	out := filepath.Join(b.cfg.CacheDir, "npm", key)
	modules = filepath.Join(out, "node_modules")
	if exists(modules) {
		b.progress("%s: npm dependencies cached (%s)", spec.Name, key[:12])
		return modules, true, nil
	}
	start := time.Now()
	args := []string{"install", "--omit=dev", "--no-audit", "--no-fund"}
	if exists(filepath.Join(dir, "package-lock.json")) || exists(filepath.Join(dir, "npm-shrinkwrap.json")) {
		args = []string{"ci", "--omit=dev", "--no-audit", "--no-fund"}
	}
	b.progress("%s: npm %s in %s …", spec.Name, args[0], dir)
	err = stage(out, func(tmp string) error {
		for _, m := range manifests {
			if exists(filepath.Join(dir, m)) {
				if err := copyFile(filepath.Join(dir, m), filepath.Join(tmp, m)); err != nil {
					return err
				}
			}
		}
		cmd := exec.CommandContext(ctx, b.cfg.NPM, args...)
		cmd.Dir = tmp
		// npm runs on the function's Node.js, so native modules are built for
		// the version that will load them.
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(sel.Path)+string(os.PathListSeparator)+os.Getenv("PATH"))
		var output bytes.Buffer
		cmd.Stdout, cmd.Stderr = &output, &output
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("npm %s: %w\n%s", args[0], err, strings.TrimSpace(output.String()))
		}
		// A package without dependencies gets no node_modules from npm.
		return os.MkdirAll(filepath.Join(tmp, "node_modules"), 0o755)
	})
	if err != nil {
		return "", false, err
	}
	b.progress("%s: npm dependencies installed in %s", spec.Name, since(start))
	return modules, false, nil
}
