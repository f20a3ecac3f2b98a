package build

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// unzip extracts a .zip CodeUri (as `sam package` or a CI pipeline makes them)
// into the cache, keyed by the archive's hash, and runs its bootstrap.
func (b *Builder) unzip(spec Spec) (*Artifact, error) {
	sum, err := fileSHA256(spec.CodePath)
	if err != nil {
		return nil, err
	}
	out := filepath.Join(b.cfg.CacheDir, "zip", sum)
	cached := true
	if _, err := os.Stat(out); err != nil {
		cached = false
		if err := extract(spec.CodePath, out); err != nil {
			return nil, err
		}
		b.progress("%s: unpacked %s", spec.Name, filepath.Base(spec.CodePath))
	}
	s := spec
	s.CodePath = out
	exe := prebuilt(s)
	if exe == "" {
		return nil, fmt.Errorf("%s holds no executable bootstrap", spec.CodePath)
	}
	return artifactFor(out, exe, cached)
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// extract unpacks archive into dir through a temporary directory renamed into
// place, refusing entries that would land outside dir.
func extract(archive, dir string) error {
	zr, err := zip.OpenReader(archive)
	if err != nil {
		return fmt.Errorf("open %s: %w", archive, err)
	}
	defer zr.Close()
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), filepath.Base(dir)+".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, f := range zr.File {
		name := filepath.Clean(f.Name)
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("%s: entry %q escapes the archive", archive, f.Name)
		}
		target := filepath.Join(tmp, name)
		if f.FileInfo().IsDir() {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := extractFile(f, target); err != nil {
			return fmt.Errorf("%s: %s: %w", archive, f.Name, err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(dir); statErr != nil {
			return err
		}
	}
	return nil
}

func extractFile(f *zip.File, target string) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	mode := f.Mode().Perm()
	if mode == 0 {
		mode = 0o644 // archives made on Windows carry no Unix modes
	}
	if f.Name == "bootstrap" || strings.HasSuffix(f.Name, "/bootstrap") {
		mode |= 0o111
	}
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	w, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, rc); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}
