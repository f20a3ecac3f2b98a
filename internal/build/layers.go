package build

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aloft-dev/aloft/internal/toolchain"
)

// LayerSpec is what the template says about a layer (AWS::Lambda::LayerVersion
// or AWS::Serverless::LayerVersion) with local content.
type LayerSpec struct {
	Name        string // logical ID, for progress lines and errors
	ContentPath string // absolute: a directory or a .zip
	BuildMethod string // Metadata.BuildMethod; only "" is supported
}

// Layer is a built layer: a directory laid out as it would be under /opt
// (nodejs/node_modules, python/, lib/, bin/, …).
type Layer struct {
	Name string
	Dir  string
	// Sum is a hash of the layer's content; functions' /opt directories are
	// keyed by it.
	Sum string
}

// BuildLayer prepares a layer: a directory is used as it is, a .zip is
// unpacked into the cache. A layer BuildMethod is not supported yet.
func (b *Builder) BuildLayer(ctx context.Context, spec LayerSpec) (*Layer, error) {
	if spec.BuildMethod != "" {
		return nil, fmt.Errorf("layer %s: Metadata.BuildMethod %q is %w (lay the content out as it goes under /opt)", spec.Name, spec.BuildMethod, ErrUnsupported)
	}
	if spec.ContentPath == "" {
		return nil, fmt.Errorf("layer %s: no local content (ContentUri or Content)", spec.Name)
	}
	dir, err := b.codeDir(Spec{Name: spec.Name, CodePath: spec.ContentPath})
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", spec.Name, err)
	}
	sum, _, err := treeHash(dir, func(rel string, d os.DirEntry) bool {
		return d.IsDir() && (d.Name() == ".git" || d.Name() == "__pycache__")
	})
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", spec.Name, err)
	}
	return &Layer{Name: spec.Name, Dir: dir, Sum: sum}, nil
}

// optDir merges the function's layers, in order, into one directory that
// stands for /opt (Lambda extracts each layer there, later ones over earlier
// ones). It is keyed by the layers' contents, so functions with the same
// layers share it and a changed layer gets a new one. "" without layers.
func (b *Builder) optDir(spec Spec) (string, error) {
	if len(spec.Layers) == 0 {
		return "", nil
	}
	parts := []string{"aloft opt v1"}
	for _, l := range spec.Layers {
		parts = append(parts, l.Name, l.Sum)
	}
	key := shortKey(parts...)
	out := filepath.Join(b.cfg.CacheDir, "opt", key)
	if exists(out) {
		return out, nil
	}
	err := stage(out, func(tmp string) error {
		for _, l := range spec.Layers {
			if err := copyTree(l.Dir, tmp, nil); err != nil {
				return fmt.Errorf("layer %s: %w", l.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("layers: %w", err)
	}
	return out, nil
}

// layerEnv is what Lambda's managed runtimes set so that code finds what
// layers put in /opt, with /opt replaced by the function's opt directory and
// /var/task by its task root.
func layerEnv(in toolchain.Interpreter, opt, taskRoot string) map[string]string {
	var paths []string
	switch in.Language {
	case toolchain.Node:
		if opt != "" {
			paths = append(paths,
				filepath.Join(opt, "nodejs", "node"+in.LambdaVersion(), "node_modules"),
				filepath.Join(opt, "nodejs", "node_modules"))
		}
		paths = append(paths, taskRoot)
		return map[string]string{"NODE_PATH": strings.Join(paths, ":")}
	case toolchain.Python:
		if opt == "" {
			return nil
		}
		paths = append(paths,
			filepath.Join(opt, "python", "lib", "python"+in.LambdaVersion(), "site-packages"),
			filepath.Join(opt, "python"))
		return map[string]string{"PYTHONPATH": strings.Join(paths, ":")}
	}
	return nil
}
