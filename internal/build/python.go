package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/aloft-dev/aloft/internal/toolchain"
)

// ErrNoPip is returned (wrapped) when a function has a requirements.txt but
// its interpreter has no pip to install it with.
var ErrNoPip = errors.New("pip is not available")

// pythonBuild prepares a Python function. Without a requirements.txt the code
// directory is the task root as it is. With one, the task root is a copy of
// the sources with the requirements installed beside them by the function's
// own interpreter (`python -m pip install -r requirements.txt -t DIR`), as
// `sam build` does, keyed by the sources and the interpreter's version.
func (b *Builder) pythonBuild(ctx context.Context, spec Spec, codeDir string, sel *toolchain.Selection) (*Artifact, error) {
	srcSum, size, err := treeHash(codeDir, skipTree)
	if err != nil {
		return nil, err
	}
	reqs := filepath.Join(codeDir, "requirements.txt")
	if !hasRequirements(reqs) {
		return &Artifact{TaskRoot: codeDir, CodeSha256: codeSha(srcSum), CodeSize: size, Cached: true}, nil
	}
	key := shortKey("aloft python v1", srcSum, sel.Version, sel.Path)
	out := filepath.Join(b.cfg.CacheDir, "python", key)
	if exists(out) {
		b.progress("%s: build cached (%s)", spec.Name, key[:12])
		return &Artifact{TaskRoot: out, CodeSha256: codeSha(srcSum), CodeSize: size, Cached: true}, nil
	}
	start := time.Now()
	b.progress("%s: pip install -r requirements.txt with Python %s …", spec.Name, sel.Version)
	err = stage(out, func(tmp string) error {
		if err := copyTree(codeDir, tmp, skipTree); err != nil {
			return err
		}
		return pipInstall(ctx, sel.Path, reqs, tmp)
	})
	if err != nil {
		return nil, err
	}
	b.progress("%s: built in %s", spec.Name, since(start))
	return &Artifact{TaskRoot: out, CodeSha256: codeSha(srcSum), CodeSize: size}, nil
}

// hasRequirements reports whether a requirements file exists and names
// anything: one with only comments and blank lines needs no pip.
func hasRequirements(path string) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		line, _, _ = strings.Cut(line, "#")
		if strings.TrimSpace(line) != "" {
			return true
		}
	}
	return false
}

// pipInstall installs a requirements file into dir with python's own pip.
func pipInstall(ctx context.Context, python, reqs, dir string) error {
	check := exec.CommandContext(ctx, python, "-m", "pip", "--version")
	if out, err := check.CombinedOutput(); err != nil {
		return fmt.Errorf("%s needs pip to install its requirements, and %s has none (%s): %w",
			reqs, python, strings.TrimSpace(string(out)), ErrNoPip)
	}
	cmd := exec.CommandContext(ctx, python, "-m", "pip", "install",
		"--disable-pip-version-check", "--no-input", "--no-warn-script-location", "--quiet",
		"-r", reqs, "-t", dir)
	cmd.Dir = filepath.Dir(reqs) // relative paths in requirements.txt are the user's
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pip install -r %s: %w\n%s", reqs, err, strings.TrimSpace(output.String()))
	}
	return nil
}
