package squalltest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	squall "github.com/squall-run/squall/guest-sdks/go"
)

// TestHostConformance runs the host's datadriven PState tests
// (storage/testdata/pstate in the Squall repository) through the fake
// host's PState engine: every select, selectOne and transform must give
// the host's result or error message. Change lists and storage dumps are
// the host's business and are skipped.
func TestHostConformance(t *testing.T) {
	dir := "../../../storage/testdata/pstate"
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) == 0 {
		t.Skip("no host PState tests at " + dir)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			runConformance(t, string(data))
		})
	}
}

type ddCase struct {
	line          int
	cmd           string
	args          map[string]string
	input, output []string
}

func parseDatadriven(data string) []ddCase {
	lines := strings.Split(data, "\n")
	var out []ddCase
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			continue
		}
		fields := strings.Fields(l)
		c := ddCase{line: i + 1, cmd: fields[0], args: map[string]string{}}
		for _, a := range fields[1:] {
			k, v, _ := strings.Cut(a, "=")
			c.args[k] = v
		}
		for i++; i < len(lines) && lines[i] != "----"; i++ {
			c.input = append(c.input, lines[i])
		}
		for i++; i < len(lines) && lines[i] != ""; i++ {
			c.output = append(c.output, lines[i])
		}
		out = append(out, c)
	}
	return out
}

func runConformance(t *testing.T, data string) {
	var s *schema
	name := "ps"
	parts := map[string]*pstore{}
	store := func(c ddCase) *pstore {
		p := c.args["partition"]
		if parts[p] == nil {
			parts[p] = newPStore(s)
		}
		return parts[p]
	}
	checked := 0
	for _, c := range parseDatadriven(data) {
		switch c.cmd {
		case "declare":
			sc, err := parseSchemaText(strings.Join(c.input, " "))
			if err != nil {
				t.Fatalf("line %d: %v", c.line, err)
			}
			if strings.HasPrefix(c.output[0], "error:") {
				// A bad schema: the SDK reports it when the module is built.
				if squall.CheckDefinition(defWithSchema(sc)) == nil {
					t.Errorf("line %d: the SDK accepts the schema %s that the host refuses", c.line, sc)
				}
				continue
			}
			s = parseSchema(sc.Value())
			name = "ps"
			if n, ok := c.args["name"]; ok {
				name = n
			}
			parts = map[string]*pstore{}
		case "transform", "select", "select-one":
			if _, committed := c.args["committed"]; committed {
				continue
			}
			results := splitResults(c)
			for i, text := range c.input {
				path, err := parsePathText(text)
				if err != nil {
					t.Fatalf("line %d: %v", c.line, err)
				}
				want := results[i]
				got := runOne(store(c), c.cmd, path)
				if strings.HasPrefix(want, "error: ") {
					want = strings.TrimPrefix(want, "error: storage: pstate m/"+name+": ")
					if got != "error: "+want {
						t.Errorf("line %d: %s %s:\n got %s\nwant error: %s", c.line, c.cmd, text, got, want)
					}
				} else if c.cmd == "transform" {
					if strings.HasPrefix(got, "error: ") {
						t.Errorf("line %d: transform %s: %s; the host succeeds", c.line, text, got)
					}
				} else if got != want {
					t.Errorf("line %d: %s %s:\n got %s\nwant %s", c.line, c.cmd, text, got, want)
				}
				checked++
			}
		case "model":
			if got := store(c).value().String(); got != c.output[0] {
				t.Errorf("line %d: model %s, want %s", c.line, got, c.output[0])
			}
		}
	}
	if checked == 0 {
		t.Fatal("no case checked")
	}
	t.Logf("%d paths checked", checked)
}

// splitResults returns, for each input line, its first output line (the
// result or error); outputs of several inputs start with the path echoed.
func splitResults(c ddCase) []string {
	if len(c.input) == 1 {
		return []string{c.output[0]}
	}
	out := make([]string, len(c.input))
	j := 0
	for i, in := range c.input {
		p, _ := parsePathText(in)
		for j < len(c.output) && c.output[j] != p.String() {
			j++
		}
		if j+1 < len(c.output) {
			out[i] = c.output[j+1]
		}
		j++
	}
	return out
}

// runOne runs one path on a partition and renders the outcome as the host's
// tests do.
func runOne(p *pstore, cmd string, path squall.Path) string {
	pv, err := path.Value()
	if err != nil {
		return "error: " + err.Error()
	}
	mode := squall.SelectMode
	if cmd == "transform" {
		mode = squall.TransformMode
	}
	steps, text, err := pathSteps(pv, mode)
	if err != nil {
		return "error: " + hostPathError(err, text).Error()
	}
	switch cmd {
	case "transform":
		if _, err := p.transform(steps, text); err != nil {
			return "error: " + err.Error()
		}
		return "ok"
	case "select":
		vs, err := p.sel(steps, text)
		if err != nil {
			return "error: " + err.Error()
		}
		return squall.List(vs...).String()
	}
	vs, err := p.sel(steps, text)
	if err != nil {
		return "error: " + err.Error()
	}
	if len(vs) != 1 {
		return "error: path: selectOne needs exactly one value, the path navigated to " + itoa(len(vs)) +
			"; use select for zero or more (path " + text + ")"
	}
	return vs[0].String()
}

func defWithSchema(s squall.Schema) squall.Value {
	e := func(k string, v squall.Value) squall.MapEntry { return squall.MapEntry{Key: squall.String(k), Val: v} }
	return squall.Map(e("depots", squall.List()), e("topologies", squall.List()),
		e("pstates", squall.List(squall.Map(e("name", squall.String("p")), e("schema", s.Value())))))
}
