package squalltest_test

import (
	"errors"
	"fmt"

	squall "github.com/squall-run/squall/guest-sdks/go"
	"github.com/squall-run/squall/guest-sdks/go/squalltest"
)

// Dead letters show items that were poisoned, or failed too often.
func ExampleHarness_DeadLetters() {
	define := func(m *squall.ModuleBuilder) {
		orders := m.Depot("orders", squall.HashBy(squall.Key("id")))
		totals := m.PState("$$totals", squall.MapOf(squall.StringT, squall.IntT))
		t := m.Stream("orders")
		t.Source(orders, t.Stage("total", func(ctx *squall.Ctx, o squall.Value) error {
			amount, ok := o.Field("amount").AsInt()
			if !ok {
				return squall.Poison(errors.New("no amount"))
			}
			if ctx.Attempt() == 0 {
				return errors.New("the first attempt fails") // retried
			}
			return ctx.Transform(totals, squall.Key(o.Field("id")).Incr(amount))
		}))
	}
	h := squalltest.New(nil, 2, squalltest.Module(define))
	h.Append("orders", map[string]any{"id": "o1", "amount": 5})
	h.Append("orders", map[string]any{"id": "o2"})
	fmt.Println(h.SelectOne("$$totals", squall.Key("o1")))
	for _, d := range h.DeadLetters() {
		fmt.Println(d.Stage, d.Input, d.Attempts, d.Error.Kind, d.Error.Message)
	}
	fmt.Printf("%+v\n", h.Stats())
	// Output: 5
	// total {"id": "o2"} 1 poison no amount
	// {Batches:3 Items:3 Retries:1 DeadLetters:1}
}
