// Package golden reads the ABI's golden vectors (abi/testdata in the main
// repository) for the SDK's tests. It depends on no other package of the
// SDK: values are read into a neutral tree that each test converts.
package golden

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Dir is the directory of the ABI's value vectors, relative to a package
// directory one level below the SDK root (guest-sdks/go/<pkg>).
const Dir = "../../../abi/testdata"

// RootDir is Dir for the SDK's root package.
const RootDir = "../../abi/testdata"

// Line is one JSON object of a JSON Lines file, with its fields unparsed.
type Line map[string]json.RawMessage

// Str returns a string field.
func (l Line) Str(name string) string {
	var s string
	_ = json.Unmarshal(l[name], &s)
	return s
}

// Int returns a numeric field, or a decimal string field.
func (l Line) Int(name string) int64 {
	raw := l[name]
	var n int64
	if json.Unmarshal(raw, &n) == nil {
		return n
	}
	var s string
	_ = json.Unmarshal(raw, &s)
	n, _ = strconv.ParseInt(s, 10, 64)
	return n
}

// Uint returns a decimal-string (or numeric) field as a uint64.
func (l Line) Uint(name string) uint64 {
	raw := l[name]
	var n uint64
	if json.Unmarshal(raw, &n) == nil {
		return n
	}
	var s string
	_ = json.Unmarshal(raw, &s)
	n, _ = strconv.ParseUint(s, 10, 64)
	return n
}

// Bool returns a boolean field.
func (l Line) Bool(name string) bool {
	var b bool
	_ = json.Unmarshal(l[name], &b)
	return b
}

// Hex returns a hex field decoded.
func (l Line) Hex(name string) []byte {
	b, err := hex.DecodeString(l.Str(name))
	if err != nil {
		panic(fmt.Sprintf("golden: field %s is not hex: %v", name, err))
	}
	return b
}

// Has reports whether the field is present.
func (l Line) Has(name string) bool { _, ok := l[name]; return ok }

// Obj returns an object field as a Line.
func (l Line) Obj(name string) Line {
	var o Line
	_ = json.Unmarshal(l[name], &o)
	return o
}

// Objs returns a list-of-objects field.
func (l Line) Objs(name string) []Line {
	var o []Line
	_ = json.Unmarshal(l[name], &o)
	return o
}

// Val returns a typed-value field.
func (l Line) Val(name string) Val {
	v, err := ParseVal(l[name])
	if err != nil {
		panic(fmt.Sprintf("golden: field %s: %v", name, err))
	}
	return v
}

// Read reads a JSON Lines file whole (lines can be hundreds of KB), skipping
// empty lines and comments.
func Read(dir, name string) ([]Line, error) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	var out []Line
	for i, raw := range bytes.Split(data, []byte("\n")) {
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || raw[0] == '#' {
			continue
		}
		var l Line
		if err := json.Unmarshal(raw, &l); err != nil {
			return nil, fmt.Errorf("%s line %d: %v", name, i+1, err)
		}
		out = append(out, l)
	}
	return out, nil
}

// Val is a typed value of the vectors: Kind is nil, bool, int, float, str,
// bytes, list, map or set.
type Val struct {
	Kind      string
	Bool      bool
	Int       int64
	FloatBits uint64
	Str       string
	Bytes     []byte
	Items     []Val    // list and set
	Entries   [][2]Val // map, in the order listed
}

// ParseVal reads the typed JSON form of a value.
func ParseVal(raw json.RawMessage) (Val, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return Val{}, err
	}
	for _, k := range []string{"nil", "bool", "int", "float", "str", "bytes_hex", "list", "map", "set"} {
		f, ok := obj[k]
		if !ok {
			continue
		}
		v := Val{Kind: k}
		switch k {
		case "bool":
			err := json.Unmarshal(f, &v.Bool)
			return v, err
		case "int":
			var s string
			if err := json.Unmarshal(f, &s); err != nil {
				return v, err
			}
			n, err := strconv.ParseInt(s, 10, 64)
			v.Int = n
			return v, err
		case "float":
			var bits string
			if err := json.Unmarshal(obj["bits"], &bits); err != nil {
				return v, err
			}
			n, err := strconv.ParseUint(bits, 16, 64)
			v.FloatBits = n
			return v, err
		case "str":
			err := json.Unmarshal(f, &v.Str)
			return v, err
		case "bytes_hex":
			var s string
			if err := json.Unmarshal(f, &s); err != nil {
				return v, err
			}
			v.Kind = "bytes"
			b, err := hex.DecodeString(s)
			v.Bytes = b
			return v, err
		case "list", "set":
			var items []json.RawMessage
			if err := json.Unmarshal(f, &items); err != nil {
				return v, err
			}
			for _, it := range items {
				iv, err := ParseVal(it)
				if err != nil {
					return v, err
				}
				v.Items = append(v.Items, iv)
			}
			return v, nil
		case "map":
			var es [][2]json.RawMessage
			if err := json.Unmarshal(f, &es); err != nil {
				return v, err
			}
			for _, e := range es {
				kv, err := ParseVal(e[0])
				if err != nil {
					return v, err
				}
				vv, err := ParseVal(e[1])
				if err != nil {
					return v, err
				}
				v.Entries = append(v.Entries, [2]Val{kv, vv})
			}
			return v, nil
		}
		return v, nil
	}
	return Val{}, fmt.Errorf("not a typed value: %s", raw)
}
