package build

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aloft-dev/aloft/internal/toolchain"
)

// interpreted builds a Node.js or Python function: its dependencies are
// installed (or its sources bundled), the interpreter is chosen for the
// declared runtime, and the command starts aloft's runtime interface client.
func (b *Builder) interpreted(ctx context.Context, spec Spec, want toolchain.Want) (*Artifact, error) {
	esbuild := false
	switch m := spec.BuildMethod; {
	case m == "" || m == spec.Runtime:
	case m == "esbuild" && want.Language == toolchain.Node:
		esbuild = true
	default:
		if other, ok := toolchain.ParseRuntime(m); !ok || other.Language != want.Language {
			return nil, fmt.Errorf("Metadata.BuildMethod %q for runtime %s is %w", m, spec.Runtime, ErrUnsupported)
		}
	}
	sel, err := b.cfg.Toolchains.Select(ctx, spec.Runtime)
	if err != nil {
		if errors.Is(err, toolchain.ErrNotFound) {
			return nil, fmt.Errorf("%w: %w", ErrUnsupported, err)
		}
		return nil, err
	}
	codeDir, err := b.codeDir(spec)
	if err != nil {
		return nil, err
	}
	clients, err := b.clientsDir()
	if err != nil {
		return nil, err
	}
	var art *Artifact
	switch {
	case esbuild:
		art, err = b.esbuild(ctx, spec, codeDir, sel)
	case want.Language == toolchain.Node:
		art, err = b.nodeBuild(ctx, spec, codeDir, sel)
	default:
		art, err = b.pythonBuild(ctx, spec, codeDir, sel)
	}
	if err != nil {
		return nil, err
	}
	if want.Language == toolchain.Node {
		art.Command = []string{sel.Path, filepath.Join(clients, "node", "index.mjs")}
	} else {
		// -u: unbuffered output, so a line printed during an invocation is
		// logged with it, as on Lambda.
		art.Command = []string{sel.Path, "-u", filepath.Join(clients, "python", "bootstrap.py")}
	}
	art.Runtime = sel.Interpreter.String()
	if sel.Warning != "" {
		art.Warnings = append(art.Warnings, fmt.Sprintf("function %s: %s", spec.Name, sel.Warning))
	}
	if art.Env == nil {
		art.Env = map[string]string{}
	}
	opt, err := b.optDir(spec)
	if err != nil {
		return nil, err
	}
	for k, v := range layerEnv(sel.Interpreter, opt, art.TaskRoot) {
		if _, set := art.Env[k]; !set {
			art.Env[k] = v
		}
	}
	return art, nil
}

// codeDir returns the directory holding the function's code: CodePath, or a
// .zip unpacked into the cache.
func (b *Builder) codeDir(spec Spec) (string, error) {
	info, err := os.Stat(spec.CodePath)
	if err != nil {
		return "", fmt.Errorf("code: %w", err)
	}
	if info.IsDir() {
		return spec.CodePath, nil
	}
	if !strings.HasSuffix(spec.CodePath, ".zip") {
		return "", fmt.Errorf("code %s is neither a directory nor a .zip", spec.CodePath)
	}
	sum, err := fileSHA256(spec.CodePath)
	if err != nil {
		return "", err
	}
	out := filepath.Join(b.cfg.CacheDir, "zip", sum)
	if _, err := os.Stat(out); err != nil {
		if err := extract(spec.CodePath, out); err != nil {
			return "", err
		}
		b.progress("%s: unpacked %s", spec.Name, filepath.Base(spec.CodePath))
	}
	return out, nil
}

// skipTree names what is never part of a function's sources: installed
// dependencies (rebuilt from the manifest), VCS data, caches, aloft's data.
func skipTree(rel string, d fs.DirEntry) bool {
	switch d.Name() {
	case "node_modules", ".git", "__pycache__", ".aloft", ".aws-sam":
		return d.IsDir()
	}
	return false
}

// treeHash hashes every regular file under dir (names, modes and contents)
// except what skip excludes, and returns the hex digest and the total size.
func treeHash(dir string, skip func(rel string, d fs.DirEntry) bool) (string, int64, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel != "." && skip != nil && skip(rel, d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		return "", 0, fmt.Errorf("read %s: %w", dir, err)
	}
	sort.Strings(files)
	h := sha256.New()
	var size int64
	for _, rel := range files {
		st, err := os.Stat(filepath.Join(dir, rel))
		if err != nil {
			return "", 0, err
		}
		fmt.Fprintf(h, "%s %o %d\n", rel, st.Mode().Perm()&0o111, st.Size())
		if err := hashContent(h, filepath.Join(dir, rel)); err != nil {
			return "", 0, err
		}
		size += st.Size()
	}
	return hex.EncodeToString(h.Sum(nil)), size, nil
}

func hashContent(h io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("hash %s: %w", path, err)
	}
	return nil
}

// copyTree copies the regular files and directories under src into dst,
// except what skip excludes. Symlinks are copied as links.
func copyTree(src, dst string, skip func(rel string, d fs.DirEntry) bool) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel != "." && skip != nil && skip(rel, d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			os.Remove(target)
			return os.Symlink(link, target)
		case d.Type().IsRegular():
			return copyFile(p, target)
		}
		return nil
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}

// stage runs fill on a fresh temporary directory and renames it to dir; when
// another build of the same inputs won the race, its identical output is
// kept.
func stage(dir string, fill func(tmp string) error) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := fill(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(dir); statErr != nil {
			return fmt.Errorf("store build output: %w", err)
		}
	}
	return nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// codeSha turns a hex tree digest into Lambda's base64 CodeSha256 form.
func codeSha(hexSum string) string {
	raw, err := hex.DecodeString(hexSum)
	if err != nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(raw)
}

func shortKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// inlineCode writes a function's InlineCode into the cache as the file its
// handler names (index.handler → index.js or index.py, as Lambda names the
// file of Code.ZipFile) and returns the directory.
func (b *Builder) inlineCode(spec Spec, want toolchain.Want) (string, error) {
	module, _, ok := strings.Cut(filepath.Base(spec.Handler), ".")
	if !ok || module == "" {
		return "", fmt.Errorf("handler %q: want file.function for InlineCode", spec.Handler)
	}
	name := module + ".py"
	if want.Language == toolchain.Node {
		name = module + ".js"
	}
	key := shortKey("aloft inline v1", name, spec.InlineCode)
	out := filepath.Join(b.cfg.CacheDir, "inline", key)
	if exists(out) {
		return out, nil
	}
	err := stage(out, func(tmp string) error {
		return os.WriteFile(filepath.Join(tmp, name), []byte(spec.InlineCode), 0o644)
	})
	if err != nil {
		return "", fmt.Errorf("inline code: %w", err)
	}
	return out, nil
}
