package squall

import (
	"encoding/json"
	"testing"

	"github.com/squall-run/squall/guest-sdks/go/internal/golden"
)

// fromGolden converts a typed value of the golden vectors.
func fromGolden(g golden.Val) Value {
	switch g.Kind {
	case "bool":
		return Bool(g.Bool)
	case "int":
		return Int(g.Int)
	case "float":
		return Value{kind: KindFloat, n: g.FloatBits}
	case "str":
		return String(g.Str)
	case "bytes":
		return Bytes(g.Bytes)
	case "list":
		items := make([]Value, len(g.Items))
		for i, it := range g.Items {
			items[i] = fromGolden(it)
		}
		return List(items...)
	case "set":
		items := make([]Value, len(g.Items))
		for i, it := range g.Items {
			items[i] = fromGolden(it)
		}
		return Set(items...)
	case "map":
		es := make([]MapEntry, len(g.Entries))
		for i, e := range g.Entries {
			es[i] = MapEntry{fromGolden(e[0]), fromGolden(e[1])}
		}
		return Map(es...)
	}
	return Nil()
}

func readGolden(t *testing.T, name string) []golden.Line {
	t.Helper()
	lines, err := golden.Read(golden.RootDir, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) == 0 {
		t.Fatalf("%s: no vectors", name)
	}
	return lines
}

func readFrames(t *testing.T, name string) []golden.Line {
	t.Helper()
	lines, err := golden.Read(golden.RootDir+"/frames", name)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) == 0 {
		t.Fatalf("%s: no vectors", name)
	}
	return lines
}

func jsonStrings(raw []byte, out *[]string) error { return json.Unmarshal(raw, out) }
