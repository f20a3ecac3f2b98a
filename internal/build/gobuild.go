package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strings"
	"time"
)

// goBuild compiles the Go package in spec.CodePath into a bootstrap, as `sam build`
// does: `go build -tags lambda.norpc` with cgo off, for Linux on this machine's
// architecture (the instance runs here, whatever Architectures says).
func (b *Builder) goBuild(ctx context.Context, spec Spec) (*Artifact, error) {
	key, err := b.goInputHash(ctx, spec.CodePath)
	if err != nil {
		return nil, err
	}
	out := filepath.Join(b.cfg.CacheDir, "go", key)
	exe := filepath.Join(out, "bootstrap")
	if _, err := os.Stat(exe); err == nil {
		b.progress("%s: build cached (%s)", spec.Name, key[:12])
		return artifactFor(out, exe, true)
	}
	start := time.Now()
	b.progress("%s: building Go in %s …", spec.Name, spec.CodePath)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), key[:12]+".tmp-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, b.cfg.Go, "build", "-tags", "lambda.norpc", "-trimpath", "-o", filepath.Join(tmp, "bootstrap"), ".")
	cmd.Dir = spec.CodePath
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goruntime.GOARCH)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go build: %w\n%s", err, strings.TrimSpace(stderr.String()))
	}
	if err := os.Rename(tmp, out); err != nil && !os.IsExist(err) {
		// Another build of the same inputs may have won the race; its output is
		// identical, so only a missing result is an error.
		if _, statErr := os.Stat(exe); statErr != nil {
			return nil, fmt.Errorf("store build output: %w", err)
		}
	}
	b.progress("%s: built in %s", spec.Name, since(start))
	return artifactFor(out, exe, false)
}

// goInputHash hashes everything the build's result depends on: the Go version,
// target, flags, the module's go.mod and go.sum, and every file in the
// directories of the main module's packages that the function imports
// (dependencies outside the main module are pinned by go.sum).
func (b *Builder) goInputHash(ctx context.Context, dir string) (string, error) {
	cmd := exec.CommandContext(ctx, b.cfg.Go, "list", "-deps", "-json=Dir,EmbedFiles,Module,Standard", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goruntime.GOARCH)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go list: %w\n%s", err, strings.TrimSpace(stderr.String()))
	}
	type pkg struct {
		Dir        string
		EmbedFiles []string
		Standard   bool
		Module     *struct {
			Path, Dir, GoMod, GoVersion string
			Main                        bool
		}
	}
	h := sha256.New()
	fmt.Fprintf(h, "aloft go build v1\n%s/%s\n-tags lambda.norpc -trimpath CGO_ENABLED=0\n", goruntime.GOOS, goruntime.GOARCH)
	version, err := exec.CommandContext(ctx, b.cfg.Go, "env", "GOVERSION").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOVERSION: %w", err)
	}
	h.Write(version)
	var files []string
	seenModules := map[string]bool{}
	dec := json.NewDecoder(&stdout)
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			return "", fmt.Errorf("go list output: %w", err)
		}
		if p.Standard || p.Module == nil {
			continue
		}
		if !p.Module.Main {
			fmt.Fprintf(h, "dep %s\n", p.Module.Path) // version pinned by go.sum, hashed below
			continue
		}
		if !seenModules[p.Module.Dir] {
			seenModules[p.Module.Dir] = true
			files = append(files, p.Module.GoMod, filepath.Join(p.Module.Dir, "go.sum"))
		}
		entries, err := os.ReadDir(p.Dir)
		if err != nil {
			return "", err
		}
		for _, e := range entries {
			if e.Type().IsRegular() {
				files = append(files, filepath.Join(p.Dir, e.Name()))
			}
		}
		for _, f := range p.EmbedFiles {
			files = append(files, filepath.Join(p.Dir, f))
		}
	}
	sort.Strings(files)
	for _, f := range files {
		if err := hashFile(h, f); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashFile adds a file's name and content to h; a missing file (go.sum in a module
// without dependencies) counts as absent.
func hashFile(h io.Writer, path string) error {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		fmt.Fprintf(h, "absent %s\n", path)
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(h, "file %s\n", path)
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("hash %s: %w", path, err)
	}
	return nil
}
