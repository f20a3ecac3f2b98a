package main

import (
	"os"
	"path/filepath"

	"github.com/aloft-dev/aloft/internal/toolchain"
)

// toolchainConfig says where aloft looks for Node.js and Python interpreters:
// the user's PATH (version-manager shims are resolved to the real binaries),
// pyenv's and nvm's installations, and the managed copies under the data
// directory.
func toolchainConfig(dataDir string) toolchain.Config {
	home, _ := os.UserHomeDir()
	dirOr := func(env, fallback string) string {
		if v := os.Getenv(env); v != "" {
			return v
		}
		if home != "" {
			if st, err := os.Stat(filepath.Join(home, fallback)); err == nil && st.IsDir() {
				return filepath.Join(home, fallback)
			}
		}
		return ""
	}
	return toolchain.Config{
		SearchPath: os.Getenv("PATH"),
		PyenvRoot:  dirOr("PYENV_ROOT", ".pyenv"),
		NVMDir:     dirOr("NVM_DIR", ".nvm"),
		CacheDir:   filepath.Join(dataDir, "toolchains"),
		Offline:    os.Getenv("ALOFT_OFFLINE") != "",
	}
}
