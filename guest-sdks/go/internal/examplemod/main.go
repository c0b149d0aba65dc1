// Command examplemod is a complete Squall module, the word count of the
// SDK's documentation: sentences appended to a depot are split into words
// on their partition, each word hops to the partition that owns it, and a
// PState counts the words. Build it to WebAssembly with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o examplemod.wasm ./internal/examplemod
//
// Its path in the SDK is stable: the host's end-to-end tests build it.
package main

import (
	"strings"

	squall "github.com/squall-run/squall/guest-sdks/go"
)

// Sentence is a record of the sentences depot.
type Sentence struct {
	User string
	Text string
}

// MarshalSquall stores a sentence as {"user": ..., "text": ...}.
func (s Sentence) MarshalSquall() (squall.Value, error) {
	return squall.ValueOf(map[string]any{"user": s.User, "text": s.Text})
}

// UnmarshalSquall reads a sentence.
func (s *Sentence) UnmarshalSquall(v squall.Value) error {
	return squall.Unpack(v, map[string]any{"user": &s.User, "text": &s.Text})
}

// Define declares the module; main's init registers it.
func Define(m *squall.ModuleBuilder) {
	m.Name("wordcount")
	sentences := m.Depot("sentences", squall.HashBy(squall.Key("user")))
	counts := m.PState("$$counts", squall.MapOf(squall.StringT, squall.IntT))
	total := m.PState("$$total", squall.IntT, squall.Global())
	users := m.PState("$$sentences", squall.MapOf(squall.StringT, squall.IntT))

	t := m.Stream("wordcount")
	var count, sum *squall.Stage
	split := t.Stage("split", squall.Typed(func(ctx *squall.Ctx, s Sentence) error {
		if s.Text == "" {
			return squall.Poisonf("sentence of %q has no text", s.User)
		}
		words := strings.Fields(strings.ToLower(s.Text))
		for _, w := range words {
			if err := ctx.Hop(count, w, w); err != nil {
				return err
			}
		}
		if err := ctx.HopGlobal(sum, len(words)); err != nil {
			return err
		}
		// The depot is partitioned by user: the user's key is local here.
		if err := ctx.Transform(users, squall.Key(s.User).Incr(1)); err != nil {
			return err
		}
		n, err := squall.SelectOneAs[int64](ctx, users, squall.Key(s.User)) // sees the Incr
		if err != nil {
			return err
		}
		return ctx.Emit(map[string]any{"words": len(words), "sentences": n})
	}))
	count = t.Stage("count", func(ctx *squall.Ctx, word squall.Value) error {
		return ctx.Transform(counts, squall.Key(word).NilToVal(0).Incr(1))
	})
	sum = t.Stage("sum", squall.Typed(func(ctx *squall.Ctx, n int64) error {
		return ctx.Transform(total, squall.P().Incr(n))
	}))
	t.Source(sentences, split)
}

func init() { squall.Define(Define) }

// main is not run: a module built with -buildmode=c-shared is a WASI
// reactor, and the host calls its exports.
func main() {}
