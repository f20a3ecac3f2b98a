package build

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aloft-dev/aloft/internal/toolchain"
)

// nodeBuild prepares a Node.js function. Without a package.json the code
// directory is the task root as it is. With one, the dependencies are
// installed into the cache (keyed by the manifest, the lockfile, the files of
// any local "file:" dependencies and the Node major version, so unchanged
// dependencies install once), and the task root is a copy of the sources with
// node_modules linked to them, as `sam build` makes one without touching the
// source directory.
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
//
// Local dependencies ("file:../shout") are named by paths relative to dir, so
// npm does not run on bare manifests in the cache, where those paths lead
// nowhere: it runs on a copy of the manifests and of every local dependency,
// laid out as they lie on disk, with --install-links so node_modules holds
// copies rather than links into that throwaway tree. Their contents are part
// of the key, as the manifests are.
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
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return "", false, err
	}
	locals, err := localDeps(absDir)
	if err != nil {
		return "", false, err
	}
	for _, p := range locals {
		sum, _, err := treeHash(p, skipTree)
		if err != nil {
			return "", false, fmt.Errorf("local dependency: %w", err)
		}
		rel, err := filepath.Rel(absDir, p)
		if err != nil {
			return "", false, err
		}
		fmt.Fprintf(&h, "local %s %s\n", rel, sum)
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
	if len(locals) > 0 {
		args = append(args, "--install-links")
	}
	b.progress("%s: npm %s in %s …", spec.Name, args[0], dir)
	err = stage(out, func(tmp string) error {
		work := tmp
		if len(locals) > 0 {
			tree, err := os.MkdirTemp(filepath.Dir(out), ".npm-tree-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tree)
			if work, err = layOut(tree, absDir, locals); err != nil {
				return err
			}
		}
		for _, m := range manifests {
			if exists(filepath.Join(dir, m)) {
				if err := copyFile(filepath.Join(dir, m), filepath.Join(work, m)); err != nil {
					return err
				}
			}
		}
		cmd := exec.CommandContext(ctx, b.cfg.NPM, args...)
		cmd.Dir = work
		// npm runs on the function's Node.js, so native modules are built for
		// the version that will load them.
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(sel.Path)+string(os.PathListSeparator)+os.Getenv("PATH"))
		var output bytes.Buffer
		cmd.Stdout, cmd.Stderr = &output, &output
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("npm %s: %w\n%s", args[0], err, strings.TrimSpace(output.String()))
		}
		if work != tmp && exists(filepath.Join(work, "node_modules")) {
			if err := os.Rename(filepath.Join(work, "node_modules"), filepath.Join(tmp, "node_modules")); err != nil {
				return err
			}
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

// localDeps returns the absolute paths of the local dependencies (file:,
// link: or a bare path) that dir's package.json names, and in turn those of
// each local directory's package.json, in a stable order. A package.json npm
// could not read either yields none, and npm reports it.
func localDeps(dir string) ([]string, error) {
	var found []string
	seen := map[string]bool{}
	var walk func(dir string) error
	walk = func(dir string) error {
		data, err := os.ReadFile(filepath.Join(dir, "package.json"))
		if os.IsNotExist(err) {
			return nil
		}
		if err != nil {
			return err
		}
		var pkg struct {
			Dependencies, DevDependencies, OptionalDependencies map[string]string
		}
		if json.Unmarshal(data, &pkg) != nil {
			return nil
		}
		var specs []string
		for _, deps := range []map[string]string{pkg.Dependencies, pkg.DevDependencies, pkg.OptionalDependencies} {
			for _, spec := range deps {
				specs = append(specs, spec)
			}
		}
		sort.Strings(specs)
		for _, spec := range specs {
			p, ok := localPath(spec)
			if !ok {
				continue
			}
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			p = filepath.Clean(p)
			if seen[p] {
				continue
			}
			seen[p] = true
			if _, err := os.Stat(p); err != nil {
				return fmt.Errorf("local dependency %q: %w", spec, err)
			}
			found = append(found, p)
			if err := walk(p); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(dir); err != nil {
		return nil, err
	}
	return found, nil
}

// localPath returns the path a package.json dependency spec names when it
// is a local directory or tarball rather than a registry, git or URL spec.
func localPath(spec string) (string, bool) {
	for _, prefix := range []string{"file:", "link:"} {
		if rest, ok := strings.CutPrefix(spec, prefix); ok {
			return filepath.FromSlash(strings.TrimPrefix(rest, "//")), true
		}
	}
	for _, prefix := range []string{"./", "../", "/"} {
		if strings.HasPrefix(spec, prefix) {
			return filepath.FromSlash(spec), true
		}
	}
	return "", false
}

// layOut copies each local dependency into tree at its position relative to
// the deepest directory holding dir and all of them, and returns where dir
// falls in tree, so that relative paths in the manifests resolve there as
// they do on disk.
func layOut(tree, dir string, locals []string) (string, error) {
	top := dir
	for _, p := range locals {
		for !within(top, p) {
			top = filepath.Dir(top)
		}
	}
	for _, p := range locals {
		rel, err := filepath.Rel(top, p)
		if err != nil {
			return "", err
		}
		if err := copyTree(p, filepath.Join(tree, rel), skipTree); err != nil {
			return "", fmt.Errorf("copy local dependency %s: %w", p, err)
		}
	}
	rel, err := filepath.Rel(top, dir)
	if err != nil {
		return "", err
	}
	work := filepath.Join(tree, rel)
	return work, os.MkdirAll(work, 0o755)
}

// within reports whether p is dir or lies under it.
func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
