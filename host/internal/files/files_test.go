package files

import (
	"archive/zip"
	"bytes"
	"io"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

type entry struct {
	name, data string
	method     uint16
}

func archive(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: e.method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestParseIsAnFS(t *testing.T) {
	a := archive(t,
		entry{name: "meta.json", data: `{"entry":"main"}`},
		entry{name: "app/main.py", data: strings.Repeat("print('hi')\n", 100), method: zip.Deflate},
		entry{name: "lib/python3.11/encodings/__init__.py", data: "x = 1\n", method: zip.Deflate},
		entry{name: "empty/"},
	)
	f, err := Parse(a, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(f, "meta.json", "app/main.py", "lib/python3.11/encodings/__init__.py", "empty"); err != nil {
		t.Fatal(err)
	}
	if f.Len() != 3 || f.Size() != int64(len(`{"entry":"main"}`)+1200+6) {
		t.Errorf("Len, Size = %d, %d", f.Len(), f.Size())
	}
	// Interpreters seek in the files they read, deflated or not.
	file, err := f.Open("app/main.py")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := file.(io.Seeker).Seek(12, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 5)
	if _, err := io.ReadFull(file, b); err != nil || string(b) != "print" {
		t.Errorf("read after seek = %q, %v", b, err)
	}
	if _, err := fs.ReadFile(f, "nope.py"); !errorsIsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
}

func errorsIsNotExist(err error) bool {
	return err != nil && strings.Contains(err.Error(), fs.ErrNotExist.Error())
}

func TestParseRejects(t *testing.T) {
	for _, tc := range []struct {
		name    string
		archive []byte
		lim     Limits
		want    string
	}{
		{"not zip", []byte("hello"), DefaultLimits, "not a zip archive"},
		{"absolute", archive(t, entry{name: "/etc/passwd", data: "x"}), DefaultLimits, `"/etc/passwd": names must be relative`},
		{"dotdot", archive(t, entry{name: "app/../../x", data: "x"}), DefaultLimits, "without . or .. elements"},
		{"duplicate", archive(t, entry{name: "a.py", data: "1"}, entry{name: "a.py", data: "2"}), DefaultLimits, `"a.py" appears twice`},
		{"file and dir", archive(t, entry{name: "a", data: "1"}, entry{name: "a/b", data: "2"}), DefaultLimits, `"a" is both a file and a directory`},
		{"too big", archive(t, entry{name: "a", data: strings.Repeat("x", 100), method: zip.Deflate}), Limits{MaxBytes: 99, MaxEntries: 10}, "unpacks to more than 99 bytes"},
		{"too many", archive(t, entry{name: "a", data: "1"}, entry{name: "b", data: "2"}), Limits{MaxBytes: 99, MaxEntries: 1}, "2 entries; at most 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.archive, tc.lim)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
