// Command panicmod is an adversarial fixture of the end-to-end tests: a
// module whose stages panic on specific inputs. Records of the depot
// "events" are {"id": ..., "text": ...}; stage "check" counts each id in
// "$$seen" and hops the text to stage "echo" on the partition that owns
// it, which counts it in "$$echoed". Stage "check" panics on the text
// "boom" and stage "echo" on the text "hop-boom"; everything else must be
// processed.
package main

import squall "github.com/squall-run/squall/guest-sdks/go"

// Event is a record of the depot "events".
type Event struct {
	ID   string
	Text string
}

// UnmarshalSquall reads an event.
func (e *Event) UnmarshalSquall(v squall.Value) error {
	return squall.Unpack(v, map[string]any{"id": &e.ID, "text": &e.Text})
}

func define(m *squall.ModuleBuilder) {
	m.Name("panicky")
	events := m.Depot("events", squall.HashBy(squall.Key("id")))
	seen := m.PState("$$seen", squall.MapOf(squall.StringT, squall.IntT))
	echoed := m.PState("$$echoed", squall.MapOf(squall.StringT, squall.IntT))
	t := m.Stream("panicky")
	var echo *squall.Stage
	check := t.Stage("check", squall.Typed(func(ctx *squall.Ctx, e Event) error {
		if err := ctx.Transform(seen, squall.Key(e.ID).Incr(1)); err != nil {
			return err
		}
		if e.Text == "boom" {
			panic("panicmod: refusing event " + e.ID)
		}
		return ctx.Hop(echo, e.Text, e.Text)
	}))
	echo = t.Stage("echo", squall.Typed(func(ctx *squall.Ctx, text string) error {
		if text == "hop-boom" {
			var m map[string]int
			m[text]++ // a runtime error: assignment to entry in nil map
		}
		return ctx.Transform(echoed, squall.Key(text).Incr(1))
	}))
	t.Source(events, check)
}

func init() { squall.Define(define) }

func main() {}
