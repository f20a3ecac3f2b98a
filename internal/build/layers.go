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
	// BuildMethod is Metadata.BuildMethod: "" (content as it is), or a
	// runtime, as sam build reads it: python3.X installs requirements.txt and
	// places the content under python/, nodejsNN.x installs package.json's
	// dependencies and places the content under nodejs/.
	BuildMethod string
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
// unpacked into the cache, and a BuildMethod naming a Python or Node.js
// runtime builds it as sam build does.
func (b *Builder) BuildLayer(ctx context.Context, spec LayerSpec) (*Layer, error) {
	if spec.ContentPath == "" {
		return nil, fmt.Errorf("layer %s: no local content (ContentUri or Content)", spec.Name)
	}
	dir, err := b.codeDir(Spec{Name: spec.Name, CodePath: spec.ContentPath})
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", spec.Name, err)
	}
	if spec.BuildMethod != "" {
		want, ok := toolchain.ParseRuntime(spec.BuildMethod)
		if !ok {
			return nil, fmt.Errorf("layer %s: Metadata.BuildMethod %q is %w (supported: a nodejs or python runtime, or none)", spec.Name, spec.BuildMethod, ErrUnsupported)
		}
		if dir, err = b.buildLayerContent(ctx, spec, dir, want); err != nil {
			return nil, fmt.Errorf("layer %s: %w", spec.Name, err)
		}
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

// buildLayerContent lays a layer's sources out as sam build does for a
// layer BuildMethod: python3.X → python/ with requirements.txt installed
// into it; nodejsNN.x → nodejs/ with package.json's dependencies in
// nodejs/node_modules. The result is cached by the sources and interpreter.
func (b *Builder) buildLayerContent(ctx context.Context, spec LayerSpec, src string, want toolchain.Want) (string, error) {
	sel, err := b.cfg.Toolchains.Select(ctx, spec.BuildMethod)
	if err != nil {
		return "", err
	}
	srcSum, _, err := treeHash(src, skipTree)
	if err != nil {
		return "", err
	}
	var modules string
	if want.Language == toolchain.Node && exists(filepath.Join(src, "package.json")) {
		if modules, _, err = b.npmInstall(ctx, Spec{Name: spec.Name}, src, sel); err != nil {
			return "", err
		}
	}
	key := shortKey("aloft layer v1", spec.BuildMethod, srcSum, sel.Version, modules)
	out := filepath.Join(b.cfg.CacheDir, "layer", key)
	if exists(out) {
		return out, nil
	}
	b.progress("%s: building layer for %s …", spec.Name, spec.BuildMethod)
	err = stage(out, func(tmp string) error {
		if want.Language == toolchain.Python {
			dst := filepath.Join(tmp, "python")
			if err := copyTree(src, dst, skipTree); err != nil {
				return err
			}
			if reqs := filepath.Join(src, "requirements.txt"); hasRequirements(reqs) {
				return pipInstall(ctx, sel.Path, reqs, dst)
			}
			return nil
		}
		dst := filepath.Join(tmp, "nodejs")
		if err := copyTree(src, dst, skipTree); err != nil {
			return err
		}
		if modules != "" {
			// Linked like a function's: Node.js resolves a package from its
			// real path, so its own dependencies are found beside it in the
			// npm cache wherever the link is copied (each function's /opt).
			return os.Symlink(modules, filepath.Join(dst, "node_modules"))
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return out, nil
}
