// Package sandbox holds the deterministic and bounded pieces of a guest
// instance's environment (ABI.md §8 and §10): the clocks, the random
// generator, the memory limiter and the capped output writers. Each value
// belongs to one instance and is used by one goroutine at a time.
package sandbox

import (
	"encoding/binary"
	"io/fs"
	"math/rand/v2"
	"unicode/utf8"

	"github.com/tetratelabs/wazero/experimental"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
)

// ClockResolution is the resolution of every clock, in nanoseconds: each
// read advances a clock by this much.
const ClockResolution = 1000

// Clock is the pair of WASI clocks of an instance. REALTIME restarts at the
// frame time T of every call and shows T + n*1000 ns at its n-th read (n =
// 0, 1, ...); MONOTONIC (and the CPU-time clocks) is a counter per instance
// that advances by 1000 ns at each read.
type Clock struct {
	base, reads int64
	mono        int64
}

// Reset starts a call whose frame time is t (Unix nanoseconds).
func (c *Clock) Reset(t int64) { c.base, c.reads = t, 0 }

// Realtime returns the next REALTIME reading.
func (c *Clock) Realtime() int64 {
	v := c.base + c.reads*ClockResolution
	c.reads++
	return v
}

// Monotonic returns the next MONOTONIC reading. The counter starts at 0 and
// advances before it is read, so the first reading is 1000: language
// runtimes (Go's among them) treat a zero monotonic time as "unset".
func (c *Clock) Monotonic() int64 {
	c.mono += ClockResolution
	return c.mono
}

// Rand is the deterministic generator behind random_get: ChaCha8 keyed by
// the frame's seed, restarted at every call.
type Rand struct {
	c *rand.ChaCha8
}

// randDomain fills the key bytes after the seed, so that Squall's stream
// is not the ChaCha8 stream of a zero-padded key another program might use.
const randDomain = "squall random_get v1...."

// Reset restarts the generator for a call whose frame seed is seed.
func (r *Rand) Reset(seed uint64) {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:8], seed)
	copy(key[8:], randDomain)
	if r.c == nil {
		r.c = rand.NewChaCha8(key)
		return
	}
	r.c.Seed(key)
}

// Read fills p with the next bytes of the stream. It never fails.
func (r *Rand) Read(p []byte) (int, error) {
	if r.c == nil {
		r.Reset(0)
	}
	return r.c.Read(p)
}

// Limiter is an experimental.MemoryAllocator that backs a guest's linear
// memory with a Go slice and refuses to grow it past a limit. Unlike
// wazero's WithMemoryLimitPages, it sees the refused request, so the host
// can tell "the guest ran out of memory" from any other failure.
type Limiter struct {
	limit uint64
	// refused is the size in bytes of the last growth refused, 0 if none
	// since the last Clear.
	refused uint64
	size    uint64
}

// NewLimiter returns a limiter of limitBytes bytes.
func NewLimiter(limitBytes uint64) *Limiter { return &Limiter{limit: limitBytes} }

// Allocate implements experimental.MemoryAllocator.
func (l *Limiter) Allocate(capBytes, maxBytes uint64) experimental.LinearMemory {
	return &linearMemory{l: l, first: true}
}

// Refused returns the size in bytes of the last growth request refused
// since Clear, or 0.
func (l *Limiter) Refused() uint64 { return l.refused }

// Clear forgets refused requests (called at the start of each call).
func (l *Limiter) Clear() { l.refused = 0 }

// Size returns the current size of the memory in bytes.
func (l *Limiter) Size() uint64 { return l.size }

// Limit returns the limit in bytes.
func (l *Limiter) Limit() uint64 { return l.limit }

type linearMemory struct {
	l     *Limiter
	buf   []byte
	first bool
}

// Reallocate grows the memory to size bytes, or returns nil past the
// limit. The initial allocation is never refused: the host checked the
// module's minimum against the limit before instantiating it, and wazero
// cannot handle a refused initial allocation.
func (m *linearMemory) Reallocate(size uint64) []byte {
	first := m.first
	m.first = false
	if size > m.l.limit && !first {
		m.l.refused = size
		return nil
	}
	if size <= uint64(cap(m.buf)) {
		// The bytes between len and cap were never handed out, so they are
		// still zero.
		m.buf = m.buf[:size]
	} else {
		c := max(size, 2*uint64(cap(m.buf)))
		if c > m.l.limit {
			c = max(size, m.l.limit)
		}
		nb := make([]byte, size, c)
		copy(nb, m.buf)
		m.buf = nb
	}
	m.l.size = size
	return m.buf
}

// Free implements experimental.LinearMemory. It does nothing: wazero
// calls it when the module closes, which may happen from another goroutine
// while the guest still runs (a deadline, Instance.Close), and the slice is
// collected with the instance anyway.
func (m *linearMemory) Free() {}

// MaxLineBytes bounds one line of guest output or one LOG text; the rest
// is cut with a note.
const MaxLineBytes = 8 << 10

// TailBytes is how much of a call's stderr an Output keeps for error
// messages, whatever its limit.
const TailBytes = 4 << 10

// Output is a guest's stdout or stderr for one instance: it splits the
// bytes into lines for Emit, stops after Limit bytes per call and keeps
// the last TailBytes of the call for error reports.
type Output struct {
	// Limit is the number of bytes per call passed to Emit; the excess is
	// counted and dropped.
	Limit int
	// Emit receives each complete line (without its newline), cut at
	// MaxLineBytes.
	Emit func(line string, truncated bool)

	used, dropped int
	line          []byte
	lineCut       bool
	tail          []byte
	total         int // bytes written since Begin
}

// Write implements io.Writer; it never fails.
func (o *Output) Write(p []byte) (int, error) {
	o.keepTail(p)
	n := len(p)
	if room := o.Limit - o.used; room < len(p) {
		o.dropped += len(p) - max(room, 0)
		p = p[:max(room, 0)]
	}
	o.used += len(p)
	for len(p) > 0 {
		i := indexByte(p, '\n')
		if i < 0 {
			o.addLine(p)
			break
		}
		o.addLine(p[:i])
		o.emitLine()
		p = p[i+1:]
	}
	return n, nil
}

func indexByte(p []byte, c byte) int {
	for i, b := range p {
		if b == c {
			return i
		}
	}
	return -1
}

func (o *Output) addLine(p []byte) {
	if room := MaxLineBytes - len(o.line); len(p) > room {
		p = p[:max(room, 0)]
		o.lineCut = true
	}
	o.line = append(o.line, p...)
}

func (o *Output) emitLine() {
	if o.Emit != nil {
		o.Emit(ValidText(o.line), o.lineCut)
	}
	o.line, o.lineCut = o.line[:0], false
}

func (o *Output) keepTail(p []byte) {
	o.total += len(p)
	if len(p) >= TailBytes {
		o.tail = append(o.tail[:0], p[len(p)-TailBytes:]...)
		return
	}
	if len(o.tail)+len(p) > 2*TailBytes {
		o.tail = append(o.tail[:0], o.tail[len(o.tail)-(TailBytes-len(p)):]...)
	}
	o.tail = append(o.tail, p...)
}

// Tail returns the last bytes (at most TailBytes) written since Begin,
// from the start of a line.
func (o *Output) Tail() string {
	t := o.tail
	if len(t) > TailBytes {
		t = t[len(t)-TailBytes:]
	}
	if len(t) < o.total {
		if i := indexByte(t, '\n'); i >= 0 {
			t = t[i+1:]
		}
	}
	return ValidText(t)
}

// Begin starts a call: the limit and the tail start afresh.
func (o *Output) Begin() {
	o.used, o.dropped, o.total = 0, 0, 0
	o.tail = o.tail[:0]
}

// End ends a call: it emits a pending partial line and returns the number
// of bytes dropped over the limit during the call.
func (o *Output) End() (dropped int) {
	if len(o.line) > 0 || o.lineCut {
		o.emitLine()
	}
	return o.dropped
}

// ValidText returns b as a string with invalid UTF-8 replaced, so that
// guest bytes are safe to put in log records and error messages.
func ValidText(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out := make([]rune, 0, len(b))
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		out = append(out, r)
		b = b[n:]
	}
	return string(out)
}

// ReadOnlyDir returns a read-only view of the host directory dir for
// wazero's experimental sysfs mounts. wazero's own read-only mount
// (WithReadOnlyDirMount, sysfs.ReadFS) refuses write and read-write opens
// but passes O_CREAT and O_TRUNC through on a read-only open, so a guest
// can create empty files and truncate existing ones with
// open(O_RDONLY|O_CREAT) or open(O_RDONLY|O_TRUNC). ReadOnlyDir refuses
// every open that could change the directory with EROFS.
func ReadOnlyDir(dir string) experimentalsys.FS {
	return readOnlyFS{&sysfs.ReadFS{FS: sysfs.DirFS(dir)}}
}

// ReadOnlyFS is ReadOnlyDir for an fs.FS (a module's file tree): every
// open that could change it fails with EROFS, as on a read-only directory,
// rather than with whatever the fs.FS adapter would answer.
func ReadOnlyFS(fsys fs.FS) experimentalsys.FS {
	return readOnlyFS{&sysfs.ReadFS{FS: &sysfs.AdaptFS{FS: fsys}}}
}

type readOnlyFS struct{ experimentalsys.FS }

// mutating are the open flags that can change a file system.
const mutating = experimentalsys.O_WRONLY | experimentalsys.O_RDWR | experimentalsys.O_CREAT |
	experimentalsys.O_TRUNC | experimentalsys.O_APPEND | experimentalsys.O_EXCL

// OpenFile implements experimentalsys.FS.
func (f readOnlyFS) OpenFile(path string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	if flag&mutating != 0 {
		if flag&experimentalsys.O_DIRECTORY != 0 && flag&(experimentalsys.O_WRONLY|experimentalsys.O_RDWR) != 0 {
			return nil, experimentalsys.EISDIR
		}
		return nil, experimentalsys.EROFS
	}
	return f.FS.OpenFile(path, flag, perm)
}
