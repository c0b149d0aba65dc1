//go:build unix

package build

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes an exclusive lock named after dir, held until the returned
// function is called, so that builds in several processes (test packages
// run in parallel) do not run npm in the same folder at once. The lock
// files live in the user cache.
func lockDir(cache, dir string) (func(), error) {
	sum := sha256.Sum256([]byte(dir))
	p := filepath.Join(cache, "locks", hex.EncodeToString(sum[:8])+".lock")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, fmt.Errorf("build: lock for %s: %w", dir, err)
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("build: lock for %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("build: lock for %s: %w", dir, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}
