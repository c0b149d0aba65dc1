// Package files reads a module's file tree (the "squall.files" custom
// section, ABI.md §2.5) into a read-only in-memory file system.
//
// The archive is unpacked once per compiled module rather than served from
// the zip: a deflated zip entry cannot seek, and interpreters seek (CPython
// calls lseek on every file it opens). Every instance of the module shares
// the unpacked bytes.
package files

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
)

// Limits bound what an archive may unpack to.
type Limits struct {
	// MaxBytes bounds the sum of the entries' unpacked sizes.
	MaxBytes int64
	// MaxEntries bounds the number of entries.
	MaxEntries int
}

// DefaultLimits fit a language runtime's standard library with room to
// spare (CPython's is about 40 MB unpacked, 3,000 files).
var DefaultLimits = Limits{MaxBytes: 512 << 20, MaxEntries: 100_000}

// modTime is the time every file shows: fixed, so guests stay
// deterministic.
var modTime = time.Unix(0, 0).UTC()

// FS is an unpacked archive. It implements fs.FS, fs.ReadDirFS and
// fs.StatFS; its files implement io.Seeker and io.ReaderAt.
type FS struct {
	files map[string][]byte   // by clean path
	dirs  map[string][]string // directory → sorted child names; "." is the root
	size  int64
}

// Parse unpacks a zip archive. Entry names must be relative slash paths
// without "." or ".." elements (fs.ValidPath); directories are implied by
// the files in them. Every problem is an error naming the entry.
func Parse(archive []byte, lim Limits) (*FS, error) {
	zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		return nil, fmt.Errorf("the file tree is not a zip archive: %w", err)
	}
	if len(zr.File) > lim.MaxEntries {
		return nil, fmt.Errorf("the file tree has %d entries; at most %d are allowed", len(zr.File), lim.MaxEntries)
	}
	f := &FS{files: map[string][]byte{}, dirs: map[string][]string{".": nil}}
	for _, e := range zr.File {
		name := strings.TrimSuffix(e.Name, "/")
		if !fs.ValidPath(name) || name == "." {
			return nil, fmt.Errorf("file tree entry %q: names must be relative slash-separated paths without . or .. elements", e.Name)
		}
		if strings.HasSuffix(e.Name, "/") {
			if err := f.addDir(name); err != nil {
				return nil, err
			}
			continue
		}
		if e.UncompressedSize64 > uint64(lim.MaxBytes-f.size) {
			return nil, fmt.Errorf("file tree entry %q: the tree unpacks to more than %d bytes", e.Name, lim.MaxBytes)
		}
		data, err := unpack(e)
		if err != nil {
			return nil, fmt.Errorf("file tree entry %q: %w", e.Name, err)
		}
		if _, dup := f.files[name]; dup {
			return nil, fmt.Errorf("file tree entry %q appears twice", e.Name)
		}
		if _, isDir := f.dirs[name]; isDir {
			return nil, fmt.Errorf("file tree entry %q is both a file and a directory", e.Name)
		}
		f.files[name] = data
		f.size += int64(len(data))
		if err := f.addDir(path.Dir(name)); err != nil {
			return nil, err
		}
		f.dirs[path.Dir(name)] = append(f.dirs[path.Dir(name)], path.Base(name))
	}
	for d, names := range f.dirs {
		slices.Sort(names)
		f.dirs[d] = slices.Compact(names)
	}
	return f, nil
}

// addDir records dir and its parents.
func (f *FS) addDir(dir string) error {
	if dir == "." {
		return nil
	}
	if _, isFile := f.files[dir]; isFile {
		return fmt.Errorf("file tree entry %q is both a file and a directory", dir)
	}
	if _, ok := f.dirs[dir]; ok {
		return nil
	}
	parent := path.Dir(dir)
	if err := f.addDir(parent); err != nil {
		return err
	}
	f.dirs[dir] = nil
	f.dirs[parent] = append(f.dirs[parent], path.Base(dir))
	return nil
}

// unpack reads an entry, trusting neither its declared size nor its
// compression ratio.
func unpack(e *zip.File) ([]byte, error) {
	rc, err := e.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, int64(e.UncompressedSize64)+1))
	if err != nil {
		return nil, err
	}
	if uint64(len(data)) != e.UncompressedSize64 {
		return nil, errors.New("its content does not match its declared size")
	}
	return data, nil
}

// Size is the sum of the files' sizes.
func (f *FS) Size() int64 { return f.size }

// Len is the number of files.
func (f *FS) Len() int { return len(f.files) }

// Open implements fs.FS.
func (f *FS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if data, ok := f.files[name]; ok {
		return &file{info: info{name: path.Base(name), size: int64(len(data))}, Reader: bytes.NewReader(data)}, nil
	}
	if children, ok := f.dirs[name]; ok {
		return &dir{fs: f, path: name, info: info{name: path.Base(name), dir: true}, children: children}, nil
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

// Stat implements fs.StatFS.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	file, err := f.Open(name)
	if err != nil {
		return nil, err
	}
	return file.Stat()
}

// ReadDir implements fs.ReadDirFS.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	file, err := f.Open(name)
	if err != nil {
		return nil, err
	}
	d, ok := file.(*dir)
	if !ok {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	return d.ReadDir(-1)
}

type info struct {
	name string
	size int64
	dir  bool
}

func (i info) Name() string { return i.name }
func (i info) Size() int64  { return i.size }
func (i info) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}
func (i info) ModTime() time.Time         { return modTime }
func (i info) IsDir() bool                { return i.dir }
func (i info) Sys() any                   { return nil }
func (i info) Type() fs.FileMode          { return i.Mode().Type() }
func (i info) Info() (fs.FileInfo, error) { return i, nil }

type file struct {
	info info
	*bytes.Reader
}

func (f *file) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *file) Close() error               { return nil }

type dir struct {
	fs       *FS
	path     string
	info     info
	children []string
	next     int
}

func (d *dir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dir) Close() error               { return nil }
func (d *dir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.path, Err: errors.New("is a directory")}
}

// ReadDir implements fs.ReadDirFile.
func (d *dir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.children[d.next:]
	if n > 0 && len(rest) == 0 {
		return nil, io.EOF
	}
	if n > 0 && n < len(rest) {
		rest = rest[:n]
	}
	out := make([]fs.DirEntry, len(rest))
	for i, name := range rest {
		p := path.Join(d.path, name)
		if data, ok := d.fs.files[p]; ok {
			out[i] = info{name: name, size: int64(len(data))}
		} else {
			out[i] = info{name: name, dir: true}
		}
	}
	d.next += len(rest)
	return out, nil
}
