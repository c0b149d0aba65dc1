package host

import (
	"fmt"
	"log/slog"
	"os"
	"path"
	"strings"
	"time"

	"github.com/squall-run/squall/abi"
)

// Config configures a [Runtime]. Start from [DefaultConfig] and change the
// fields you need; [NewRuntime] validates it and reports every problem at
// once. A zero field is not replaced by its default: DefaultConfig is the
// only source of defaults.
type Config struct {
	// CacheDir is a directory for wazero's on-disk compilation cache, so
	// that a restarted server does not compile the same modules again
	// (large interpreter modules take seconds). "" keeps compiled code in
	// memory only. The contents are specific to the wazero version.
	CacheDir string

	// MemoryLimitPages bounds each instance's linear memory, in 64 KiB
	// pages (ABI.md §10; default 4096 = 256 MiB, at most 65536 = 4 GiB).
	// A module whose initial memory is larger is rejected by Compile; a
	// guest that tries to grow past it fails with [KindOutOfMemory].
	MemoryLimitPages uint32

	// BatchTimeout is the deadline of one Process call (squall_process;
	// default 10 s). A guest still running then is stopped and the call
	// fails with [KindTimeout].
	BatchTimeout time.Duration

	// InitTimeout is the deadline of starting an instance: _initialize and
	// squall_init together (default 30 s).
	InitTimeout time.Duration

	// MaxLogBytesPerCall bounds the text of the LOG effects written to
	// Logger per call (default 1 MiB); the excess is dropped with a note.
	MaxLogBytesPerCall int

	// MaxOutputBytesPerCall bounds what a guest writes to stdout, and
	// separately to stderr, per call (default 64 KiB each); the excess is
	// dropped with a note.
	MaxOutputBytesPerCall int

	// MaxEffectBytesPerCall bounds the effects frames a guest flushes in
	// one call (default 64 MiB). Past it flush returns -EQUOTA and the call
	// fails with [KindQuota]: retry the batch in smaller pieces.
	MaxEffectBytesPerCall int

	// Logger receives guest output (stdout, stderr, LOG effects), tagged
	// with the module, partition, topology, batch and item, and the host's
	// own notes about dropped output. nil discards it.
	Logger *slog.Logger

	// Mounts are read-only directories the guests see, for language
	// runtimes' assets (a Python standard library, a JavaScript bundle).
	// Nothing else of the host's file system is visible, and nothing can be
	// written.
	Mounts []Mount
}

// Mount makes a host directory visible, read-only, to every guest of a
// Runtime.
type Mount struct {
	// HostDir is the directory on the host.
	HostDir string
	// GuestPath is the absolute path where guests see it, such as
	// "/usr/local/lib/python3.11".
	GuestPath string
}

// DefaultConfig returns the configuration ABI.md §10 recommends.
func DefaultConfig() Config {
	return Config{
		MemoryLimitPages:      4096,
		BatchTimeout:          10 * time.Second,
		InitTimeout:           30 * time.Second,
		MaxLogBytesPerCall:    1 << 20,
		MaxOutputBytesPerCall: 64 << 10,
		MaxEffectBytesPerCall: 64 << 20,
	}
}

// maxMemoryPages is the most a 32-bit WebAssembly memory can have.
const maxMemoryPages = 65536

// validate reports every problem of c at once.
func (c *Config) validate() error {
	var probs []string
	add := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	if c.MemoryLimitPages == 0 || c.MemoryLimitPages > maxMemoryPages {
		add("MemoryLimitPages is %d; it must be between 1 and %d pages of 64 KiB (DefaultConfig has 4096, 256 MiB)",
			c.MemoryLimitPages, maxMemoryPages)
	}
	if c.BatchTimeout <= 0 {
		add("BatchTimeout is %v; it must be positive (DefaultConfig has 10s)", c.BatchTimeout)
	}
	if c.InitTimeout <= 0 {
		add("InitTimeout is %v; it must be positive (DefaultConfig has 30s)", c.InitTimeout)
	}
	if c.MaxLogBytesPerCall < 0 {
		add("MaxLogBytesPerCall is %d; it must be 0 (no LOG output) or more", c.MaxLogBytesPerCall)
	}
	if c.MaxOutputBytesPerCall < 0 {
		add("MaxOutputBytesPerCall is %d; it must be 0 (no stdout/stderr output) or more", c.MaxOutputBytesPerCall)
	}
	if c.MaxEffectBytesPerCall < abi.EffectsHeaderSize {
		add("MaxEffectBytesPerCall is %d; it must be at least %d (DefaultConfig has 64 MiB)", c.MaxEffectBytesPerCall, abi.EffectsHeaderSize)
	}
	seen := map[string]int{}
	for i, m := range c.Mounts {
		where := fmt.Sprintf("Mounts[%d]", i)
		switch {
		case !strings.HasPrefix(m.GuestPath, "/"):
			add("%s.GuestPath is %q; it must be an absolute path such as /usr/local/lib/python3.11", where, m.GuestPath)
		case path.Clean(m.GuestPath) != m.GuestPath:
			add("%s.GuestPath is %q; write it as %q", where, m.GuestPath, path.Clean(m.GuestPath))
		case m.GuestPath == abi.FilesMount || strings.HasPrefix(m.GuestPath, abi.FilesMount+"/"):
			add("%s.GuestPath is %q; %s is where each module sees its own file tree (ABI.md §2.5)", where, m.GuestPath, abi.FilesMount)
		default:
			if j, dup := seen[m.GuestPath]; dup {
				add("%s.GuestPath %q is also Mounts[%d].GuestPath", where, m.GuestPath, j)
			}
			seen[m.GuestPath] = i
		}
		if m.HostDir == "" {
			add("%s.HostDir is empty", where)
		} else if fi, err := os.Stat(m.HostDir); err != nil {
			add("%s.HostDir: %v", where, err)
		} else if !fi.IsDir() {
			add("%s.HostDir %q is not a directory", where, m.HostDir)
		}
	}
	if len(probs) == 0 {
		return nil
	}
	if len(probs) == 1 {
		return fmt.Errorf("host: invalid Config: %s", probs[0])
	}
	return fmt.Errorf("host: invalid Config: %d problems:\n\t%s", len(probs), strings.Join(probs, "\n\t"))
}
