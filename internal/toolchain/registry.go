package toolchain

import (
	"context"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// DefaultRegistry is the npm registry used when npm itself is not installed.
const DefaultRegistry = "https://registry.npmjs.org"

// registryFetch downloads the newest release of a major version of pkg from
// the npm registry's HTTP API, as npm would (abbreviated metadata, then the
// tarball, checked against the registry's integrity hash). It is used when
// the machine has no npm: a machine without Node.js has none.
func (f *Finder) registryFetch(ctx context.Context, pkg string, major int, dir string) (tgz, version string, err error) {
	registry := strings.TrimSuffix(f.cfg.Registry, "/")
	if registry == "" {
		registry = DefaultRegistry
	}
	client := f.cfg.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, registry+"/"+pkg, nil)
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Accept", "application/vnd.npm.install-v1+json")
	resp, err := client.Do(req)
	if err != nil {
		return "", "", fmt.Errorf("npm registry: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", "", fmt.Errorf("npm registry: %s: %s", req.URL, resp.Status)
	}
	var doc struct {
		Versions map[string]struct {
			Dist struct{ Tarball, Integrity, Shasum string }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return "", "", fmt.Errorf("npm registry: %s: %w", pkg, err)
	}
	for v := range doc.Versions {
		if strings.Contains(v, "-") || parseVersion(v)[0] != major {
			continue // pre-releases, other majors
		}
		if version == "" || compareVersions(parseVersion(v), parseVersion(version)) > 0 {
			version = v
		}
	}
	if version == "" {
		return "", "", fmt.Errorf("npm registry: %s has no release %d", pkg, major)
	}
	dist := doc.Versions[version].Dist
	tgz = filepath.Join(dir, fmt.Sprintf("%s-%s.tgz", pkg, version))
	if err := download(ctx, client, dist.Tarball, tgz, dist.Integrity, dist.Shasum); err != nil {
		return "", "", fmt.Errorf("%s@%s: %w", pkg, version, err)
	}
	return tgz, version, nil
}

// download writes url to path and checks it against an npm integrity string
// ("sha512-…") or, failing that, a hex SHA-1.
func download(ctx context.Context, client *http.Client, url, path, integrity, shasum string) error {
	var h hash.Hash
	var want string
	switch {
	case strings.HasPrefix(integrity, "sha512-"):
		h, want = sha512.New(), integrity
	case shasum != "":
		h, want = sha1.New(), shasum
	default:
		return fmt.Errorf("the registry gives no checksum for %s", url)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download %s: %s", url, resp.Status)
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(io.MultiWriter(out, h), resp.Body); err != nil {
		out.Close()
		return fmt.Errorf("download %s: %w", url, err)
	}
	if err := out.Close(); err != nil {
		return err
	}
	got := hex.EncodeToString(h.Sum(nil))
	if strings.HasPrefix(want, "sha512-") {
		got = "sha512-" + base64.StdEncoding.EncodeToString(h.Sum(nil))
	}
	if got != want {
		return fmt.Errorf("download %s: checksum %s, the registry says %s", url, got, want)
	}
	return nil
}
