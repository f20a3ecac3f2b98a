package build

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// clients holds aloft's runtime interface clients: the Runtime API loops that
// run Node.js and Python handlers (clients/node/index.mjs,
// clients/python/bootstrap.py). They are written into the cache, under a
// hash of their content, the first time a Builder needs them.
//
//go:embed clients
var clients embed.FS

// clientsDir writes the embedded clients into CacheDir/clients/{hash} once per
// Builder and returns that directory. Earlier versions of aloft left their own
// hash directories, which stay valid for them.
func (b *Builder) clientsDir() (string, error) {
	b.clientsMu.Lock()
	defer b.clientsMu.Unlock()
	if b.clients != "" {
		return b.clients, nil
	}
	var names []string
	err := fs.WalkDir(clients, "clients", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		data, err := clients.ReadFile(n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", n, len(data))
		h.Write(data)
	}
	dir := filepath.Join(b.cfg.CacheDir, "clients", hex.EncodeToString(h.Sum(nil))[:16])
	if _, err := os.Stat(dir); err != nil {
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return "", err
		}
		tmp, err := os.MkdirTemp(filepath.Dir(dir), ".tmp-")
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(tmp)
		for _, n := range names {
			data, _ := clients.ReadFile(n)
			rel, _ := filepath.Rel("clients", n)
			dst := filepath.Join(tmp, rel)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return "", err
			}
			if err := os.WriteFile(dst, data, 0o644); err != nil {
				return "", fmt.Errorf("write runtime client %s: %w", rel, err)
			}
		}
		if err := os.Rename(tmp, dir); err != nil {
			if _, statErr := os.Stat(dir); statErr != nil {
				return "", fmt.Errorf("store runtime clients: %w", err)
			}
		}
	}
	b.clients = dir
	return dir, nil
}
