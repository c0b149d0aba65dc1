package squall

import (
	"errors"
	"strings"
	"testing"
)

// TestGoldenModuleDefInvalid checks that the SDK finds exactly the problems
// the host reports for each invalid definition.
func TestGoldenModuleDefInvalid(t *testing.T) {
	for _, l := range readFrames(t, "module_def_invalid.jsonl") {
		t.Run(l.Str("name"), func(t *testing.T) {
			err := CheckDefinition(fromGolden(l.Val("definition")))
			var de *DefError
			if !errors.As(err, &de) {
				t.Fatalf("got %v, want a *DefError", err)
			}
			var got []string
			for _, p := range de.Problems {
				got = append(got, p.Where+": "+p.Msg)
			}
			var want []string
			if err := jsonStrings(l["problems"], &want); err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestGoldenModuleDefValid(t *testing.T) {
	for _, l := range readFrames(t, "module_def.jsonl") {
		t.Run(l.Str("name"), func(t *testing.T) {
			v := fromGolden(l.Val("definition"))
			if err := CheckDefinition(v); err != nil {
				t.Fatal(err)
			}
		})
	}
}
