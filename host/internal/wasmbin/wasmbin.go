// Package wasmbin reads the import and export sections of a WebAssembly
// binary: the names, kinds and order that wazero's CompiledModule does not
// fully expose (it lists imported functions and memories, not tables or
// globals, and returns exports as a map). It is not a validator: the host
// runs it after wazero compiled the module, and reports what it cannot read
// as an error.
package wasmbin

import (
	"errors"
	"fmt"
)

// Magic is the first four bytes of every WebAssembly binary.
const Magic = "\x00asm"

// Extern kinds, numbered as in the binary format.
const (
	KindFunc   byte = 0
	KindTable  byte = 1
	KindMemory byte = 2
	KindGlobal byte = 3
	KindTag    byte = 4
)

// Import is one entry of the import section.
type Import struct {
	Module, Name string
	Kind         byte
	// Index is the import's position among the imports of its kind.
	Index int
}

// Export is one entry of the export section.
type Export struct {
	Name  string
	Kind  byte
	Index uint32
}

// Sections holds the imports and exports of a module, in binary order.
type Sections struct {
	Imports []Import
	Exports []Export
}

// Check reports whether b starts like a core WebAssembly module, with a
// sentence saying what it looks like otherwise.
func Check(b []byte) error {
	if len(b) >= 4 && string(b[:4]) == Magic && len(b) < 8 {
		return fmt.Errorf("truncated WebAssembly module: %d bytes, shorter than its 8-byte preamble", len(b))
	}
	if len(b) < 8 || string(b[:4]) != Magic {
		n := min(len(b), 4)
		return fmt.Errorf("not a WebAssembly module: starts with %s; expected %q (00 61 73 6d)", describePrefix(b[:n]), Magic)
	}
	switch v := b[4:8]; {
	case v[0] == 1 && v[1] == 0 && v[2] == 0 && v[3] == 0:
		return nil
	case v[2] == 1 && v[3] == 0:
		return errors.New("a WebAssembly component, not a core module; Squall runs core WebAssembly modules (build for wasm32-wasip1, not wasip2 or the component model)")
	default:
		return fmt.Errorf("unsupported WebAssembly binary version % x; expected 01 00 00 00", v)
	}
}

func describePrefix(p []byte) string {
	if len(p) == 0 {
		return "nothing (the input is empty)"
	}
	return fmt.Sprintf("% x (%q)", p, p)
}

// Read scans b for its import and export sections.
func Read(b []byte) (*Sections, error) {
	if err := Check(b); err != nil {
		return nil, err
	}
	r := &reader{b: b, off: 8}
	s := &Sections{}
	for r.off < len(r.b) {
		id, err := r.byte()
		if err != nil {
			return nil, err
		}
		size, err := r.u32()
		if err != nil {
			return nil, err
		}
		if uint64(size) > uint64(len(r.b)-r.off) {
			return nil, r.errorf("section %d of %d bytes overruns the binary", id, size)
		}
		sec := &reader{b: r.b[:r.off+int(size)], off: r.off}
		r.off += int(size)
		switch id {
		case 2:
			if s.Imports, err = sec.imports(); err != nil {
				return nil, err
			}
		case 7:
			if s.Exports, err = sec.exports(); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

type reader struct {
	b   []byte
	off int
}

func (r *reader) errorf(format string, args ...any) error {
	return fmt.Errorf("wasm binary at byte %d: %s", r.off, fmt.Sprintf(format, args...))
}

func (r *reader) byte() (byte, error) {
	if r.off >= len(r.b) {
		return 0, r.errorf("unexpected end")
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

// u32 reads an unsigned LEB128 of at most 32 bits.
func (r *reader) u32() (uint32, error) {
	var v uint64
	for shift := 0; shift < 35; shift += 7 {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			if v > 1<<32-1 {
				return 0, r.errorf("LEB128 overflows 32 bits")
			}
			return uint32(v), nil
		}
	}
	return 0, r.errorf("LEB128 longer than 5 bytes")
}

// u64 reads an unsigned LEB128 of at most 64 bits (memory64 limits).
func (r *reader) u64() error {
	for i := 0; i < 10; i++ {
		c, err := r.byte()
		if err != nil {
			return err
		}
		if c&0x80 == 0 {
			return nil
		}
	}
	return r.errorf("LEB128 longer than 10 bytes")
}

func (r *reader) name() (string, error) {
	n, err := r.u32()
	if err != nil {
		return "", err
	}
	if uint64(n) > uint64(len(r.b)-r.off) {
		return "", r.errorf("name of %d bytes overruns its section", n)
	}
	s := string(r.b[r.off : r.off+int(n)])
	r.off += int(n)
	return s, nil
}

// limits skips table or memory limits.
func (r *reader) limits() error {
	flags, err := r.byte()
	if err != nil {
		return err
	}
	if flags > 7 {
		return r.errorf("unknown limits flags 0x%02x", flags)
	}
	read := func() error {
		if flags&4 != 0 {
			return r.u64()
		}
		_, err := r.u32()
		return err
	}
	if err := read(); err != nil {
		return err
	}
	if flags&1 != 0 {
		return read()
	}
	return nil
}

func (r *reader) imports() ([]Import, error) {
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	if uint64(n) > uint64(len(r.b)-r.off)/4 {
		return nil, r.errorf("import count %d overruns its section", n)
	}
	var counts [5]int
	out := make([]Import, 0, n)
	for i := uint32(0); i < n; i++ {
		var im Import
		if im.Module, err = r.name(); err != nil {
			return nil, err
		}
		if im.Name, err = r.name(); err != nil {
			return nil, err
		}
		if im.Kind, err = r.byte(); err != nil {
			return nil, err
		}
		switch im.Kind {
		case KindFunc:
			_, err = r.u32()
		case KindTable:
			if _, err = r.byte(); err == nil {
				err = r.limits()
			}
		case KindMemory:
			err = r.limits()
		case KindGlobal:
			if _, err = r.byte(); err == nil {
				_, err = r.byte()
			}
		case KindTag:
			if _, err = r.byte(); err == nil {
				_, err = r.u32()
			}
		default:
			return nil, r.errorf("import %q.%q has unknown kind 0x%02x", im.Module, im.Name, im.Kind)
		}
		if err != nil {
			return nil, err
		}
		im.Index = counts[im.Kind]
		counts[im.Kind]++
		out = append(out, im)
	}
	return out, nil
}

func (r *reader) exports() ([]Export, error) {
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	if uint64(n) > uint64(len(r.b)-r.off)/3 {
		return nil, r.errorf("export count %d overruns its section", n)
	}
	out := make([]Export, 0, n)
	for i := uint32(0); i < n; i++ {
		var ex Export
		if ex.Name, err = r.name(); err != nil {
			return nil, err
		}
		if ex.Kind, err = r.byte(); err != nil {
			return nil, err
		}
		if ex.Kind > KindTag {
			return nil, r.errorf("export %q has unknown kind 0x%02x", ex.Name, ex.Kind)
		}
		if ex.Index, err = r.u32(); err != nil {
			return nil, err
		}
		out = append(out, ex)
	}
	return out, nil
}

// SplitCustom removes the custom section called name from b and returns
// the rest of the binary and the section's content (nil when b has no
// such section). A binary with two sections of that name is an error:
// which one counts would be a guess. b is not modified.
func SplitCustom(b []byte, name string) (rest, content []byte, err error) {
	if err := Check(b); err != nil {
		return nil, nil, err
	}
	r := &reader{b: b, off: 8}
	start, end := -1, -1
	for r.off < len(r.b) {
		secStart := r.off
		id, err := r.byte()
		if err != nil {
			return nil, nil, err
		}
		size, err := r.u32()
		if err != nil {
			return nil, nil, err
		}
		if uint64(size) > uint64(len(r.b)-r.off) {
			return nil, nil, r.errorf("section %d of %d bytes overruns the binary", id, size)
		}
		body := &reader{b: r.b[:r.off+int(size)], off: r.off}
		r.off += int(size)
		if id != 0 {
			continue
		}
		n, err := body.u32()
		if err != nil {
			return nil, nil, err
		}
		if uint64(n) > uint64(len(body.b)-body.off) {
			return nil, nil, body.errorf("custom section name of %d bytes overruns its section", n)
		}
		if string(body.b[body.off:body.off+int(n)]) != name {
			continue
		}
		if start >= 0 {
			return nil, nil, body.errorf("a second %q custom section; a module may have only one", name)
		}
		start, end = secStart, r.off
		content = body.b[body.off+int(n):]
	}
	if start < 0 {
		return b, nil, nil
	}
	rest = make([]byte, 0, len(b)-(end-start))
	rest = append(append(rest, b[:start]...), b[end:]...)
	return rest, content, nil
}
