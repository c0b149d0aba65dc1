package build

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/squall-run/squall/abi"
)

// File is one file of a module's file tree (ABI.md §2.5).
type File struct {
	// Name is a relative slash path such as "app/main.py".
	Name string
	Data []byte
}

// zipTime is the time every entry carries, so that the same files always
// give the same bytes (and the same module hash).
var zipTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// AppendFiles returns wasm with files appended as its file tree: a zip
// archive in the abi.FilesSection custom section, which the host mounts
// read-only at abi.FilesMount. The archive is deterministic (entries
// sorted by name, fixed times), so a build of unchanged sources gives the
// same bytes. wasm must not have a file tree already.
func AppendFiles(wasm []byte, files []File) ([]byte, error) {
	sorted := slices.Clone(files)
	slices.SortFunc(sorted, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	for i, f := range sorted {
		if !fs.ValidPath(f.Name) || f.Name == "." {
			return nil, fmt.Errorf("build: file tree name %q: use a relative slash path without . or .. elements", f.Name)
		}
		if i > 0 && sorted[i-1].Name == f.Name {
			return nil, fmt.Errorf("build: file tree name %q appears twice", f.Name)
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Deflate, Modified: zipTime})
		if err != nil {
			return nil, fmt.Errorf("build: file tree: %w", err)
		}
		if _, err := w.Write(f.Data); err != nil {
			return nil, fmt.Errorf("build: file tree: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("build: file tree: %w", err)
	}
	if hasSection(wasm, abi.FilesSection) {
		return nil, fmt.Errorf("build: the module already has a %s section", abi.FilesSection)
	}
	body := appendULEB(nil, uint64(len(abi.FilesSection)))
	body = append(body, abi.FilesSection...)
	out := make([]byte, 0, len(wasm)+len(body)+zbuf.Len()+10)
	out = append(out, wasm...)
	out = append(out, 0) // custom section
	out = appendULEB(out, uint64(len(body)+zbuf.Len()))
	out = append(out, body...)
	return append(out, zbuf.Bytes()...), nil
}

func appendULEB(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// hasSection reports whether wasm has a custom section called name; a
// binary it cannot walk is left for the host to judge.
func hasSection(wasm []byte, name string) bool {
	off := 8
	for off < len(wasm) {
		id := wasm[off]
		off++
		size, n := readULEB(wasm[off:])
		if n == 0 || size > uint64(len(wasm)-off-n) {
			return false
		}
		off += n
		body := wasm[off : off+int(size)]
		off += int(size)
		if id != 0 {
			continue
		}
		l, m := readULEB(body)
		if m > 0 && l <= uint64(len(body)-m) && string(body[m:m+int(l)]) == name {
			return true
		}
	}
	return false
}

func readULEB(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}
