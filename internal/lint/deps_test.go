package lint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/squall-run/squall"

type goPackage struct {
	ImportPath string
	Dir        string
	Standard   bool
	Deps       []string
	Imports    []string
	GoFiles    []string
}

// listPackages returns every package of the module with its transitive
// dependencies, as `go list -deps` sees them.
func listPackages(t *testing.T) (pkgs []goPackage, std map[string]bool) {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Dir,Standard,Deps,Imports,GoFiles", module+"/...")
	cmd.Dir = repoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("go list: %v\n%s", err, stderr)
	}
	std = map[string]bool{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p goPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		if p.Standard {
			std[p.ImportPath] = true
		}
		if p.ImportPath == module || strings.HasPrefix(p.ImportPath, module+"/") {
			pkgs = append(pkgs, p)
		}
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages of the module")
	}
	return pkgs, std
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("repository root not found at %s: %v", dir, err)
	}
	return dir
}

// under reports whether import path p is top-level directory dir of the
// module or a package below it.
func under(p, dir string) bool {
	full := module + "/" + dir
	return p == full || strings.HasPrefix(p, full+"/")
}

// TestDependencyDirection enforces DESIGN.md §2 on the real module.
func TestDependencyDirection(t *testing.T) {
	pkgs, std := listPackages(t)
	for _, v := range dependencyViolations(pkgs, std) {
		t.Error(v)
	}
}

// TestDependencyRulesCatchViolations proves each rule fires, so a broken
// rule cannot pass silently.
func TestDependencyRulesCatchViolations(t *testing.T) {
	std := map[string]bool{"fmt": true}
	pkgs := []goPackage{
		{ImportPath: module + "/abi", Deps: []string{"fmt", "github.com/other/x"}},
		{ImportPath: module + "/scheduler", Deps: []string{module + "/storage"}},
		{ImportPath: module + "/storage", Deps: []string{module + "/host"}},
		{ImportPath: module + "/host/internal/x", Deps: []string{module + "/storage/internal/keyenc"}},
		{ImportPath: module + "/internal/engine", Deps: []string{module + "/cmd/squall"}},
		{ImportPath: module + "/examples/wordcount", Deps: []string{module + "/internal/engine"}},
		{ImportPath: module + "/internal/engine", Deps: []string{module + "/storage", module + "/host", "fmt"}},
	}
	got := dependencyViolations(pkgs, std)
	want := []string{
		"abi depends on github.com/other/x",
		"scheduler depends on " + module + "/storage",
		"storage depends on " + module + "/host",
		"host/internal/x depends on " + module + "/storage/internal/keyenc",
		"depends on " + module + "/cmd/squall: nothing may import cmd/",
		"examples/wordcount depends on " + module + "/internal/engine",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d violations, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("violation %d = %q, want it to contain %q", i, got[i], want[i])
		}
	}
}

// dependencyViolations applies DESIGN.md §2: abi and scheduler import only
// the standard library; storage and host never import each other; nothing
// imports cmd; examples use only public packages.
func dependencyViolations(pkgs []goPackage, std map[string]bool) []string {
	var out []string
	for _, p := range pkgs {
		for _, d := range p.Deps {
			own := d == module || strings.HasPrefix(d, module+"/")
			var rule string
			switch {
			case (under(p.ImportPath, "abi") || under(p.ImportPath, "scheduler")) && !std[d]:
				rule = "abi and scheduler may import only the standard library"
			case under(p.ImportPath, "storage") && under(d, "host"),
				under(p.ImportPath, "host") && under(d, "storage"):
				rule = "storage and host must not import each other (internal/engine wires them)"
			case own && under(d, "cmd"):
				rule = "nothing may import cmd/"
			case under(p.ImportPath, "examples") && own && (strings.Contains(d, "/internal/") || strings.HasSuffix(d, "/internal")):
				rule = "examples may use only public packages"
			default:
				continue
			}
			out = append(out, p.ImportPath+" depends on "+d+": "+rule)
		}
	}
	return out
}

// libraryDirs are the top-level directories whose non-test code is library
// code: it reports errors instead of printing, exiting or panicking.
var libraryDirs = []string{"abi", "storage", "host", "scheduler", "internal"}

// forbiddenCalls maps a call in library code to what to do instead.
var forbiddenCalls = map[string]string{
	"panic":       "return an error instead",
	"fmt.Print":   "log through the caller's logger instead",
	"fmt.Println": "log through the caller's logger instead",
	"fmt.Printf":  "log through the caller's logger instead",
	"os.Exit":     "return an error to cmd/ instead",
	"log.Fatal":   "return an error to cmd/ instead",
	"log.Fatalf":  "return an error to cmd/ instead",
	"log.Print":   "log through the caller's logger instead",
	"log.Printf":  "log through the caller's logger instead",
	"log.Println": "log through the caller's logger instead",
}

// TestLibraryCodeDoesNotPrintOrPanic keeps process-level decisions in cmd/:
// library code returns errors; it never panics, exits or prints to stdout.
func TestLibraryCodeDoesNotPrintOrPanic(t *testing.T) {
	pkgs, _ := listPackages(t)
	fset := token.NewFileSet()
	for _, p := range pkgs {
		lib := false
		for _, d := range libraryDirs {
			lib = lib || under(p.ImportPath, d)
		}
		if !lib {
			continue
		}
		for _, name := range p.GoFiles {
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range libraryCallViolations(fset, f) {
				t.Error(v)
			}
		}
	}
}

// TestLibraryCallRuleFires proves the rule catches each kind of call and
// honours the allow comment only with a reason.
func TestLibraryCallRuleFires(t *testing.T) {
	src := `package x
import ("fmt"; "os")
func f() {
	panic("boom")
	fmt.Println("hi")
	os.Exit(1)
	panic("trap") // lint:allow-panic wazero host functions trap by panicking
	panic("no reason") // lint:allow-panic
}`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "x.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	got := libraryCallViolations(fset, f)
	want := []string{"x.go:4:2: call to panic", "x.go:5:2: call to fmt.Println", "x.go:6:2: call to os.Exit", "x.go:8:2: call to panic"}
	if len(got) != len(want) {
		t.Fatalf("got %d violations, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("violation %d = %q, want prefix %q", i, got[i], want[i])
		}
	}
}

// libraryCallViolations lists the forbidden calls in f that carry no
// `lint:allow-panic <why>` comment on their line.
func libraryCallViolations(fset *token.FileSet, f *ast.File) []string {
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		var fn string
		switch e := call.Fun.(type) {
		case *ast.Ident:
			fn = e.Name
		case *ast.SelectorExpr:
			if x, ok := e.X.(*ast.Ident); ok {
				fn = x.Name + "." + e.Sel.Name
			}
		}
		if why, bad := forbiddenCalls[fn]; bad && !allowed(fset, f, call) {
			out = append(out, fmt.Sprintf("%s: call to %s in library code: %s (or mark a truly unavoidable case with a `lint:allow-panic <why>` comment on the line)",
				fset.Position(call.Pos()), fn, why))
		}
		return true
	})
	return out
}

// allowed reports whether the call's line carries a `lint:allow-panic`
// comment with a reason.
func allowed(fset *token.FileSet, f *ast.File, call *ast.CallExpr) bool {
	line := fset.Position(call.Pos()).Line
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			if fset.Position(c.Pos()).Line == line && hasReason(c.Text) {
				return true
			}
		}
	}
	return false
}

// TestEveryPackageHasADoc requires a package comment on every package.
func TestEveryPackageHasADoc(t *testing.T) {
	pkgs, _ := listPackages(t)
	fset := token.NewFileSet()
	for _, p := range pkgs {
		documented := false
		for _, name := range p.GoFiles {
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			documented = documented || f.Doc != nil
		}
		if !documented && len(p.GoFiles) > 0 {
			t.Errorf("package %s has no package doc comment; add one (a doc.go) saying what it is for", p.ImportPath)
		}
	}
}

// hasReason reports whether comment text is an allow comment with a reason.
func hasReason(text string) bool {
	_, why, ok := strings.Cut(text, "lint:allow-panic")
	return ok && strings.TrimSpace(why) != ""
}
