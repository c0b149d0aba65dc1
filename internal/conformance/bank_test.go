package conformance

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/squall-run/squall/abi"
)

// The bank example with random deposits and transfers (some invalid),
// one microbatch each, then its queries.
func TestExampleBank(t *testing.T) {
	acrossSDKsWith(t, "abi-1.1", exampleDir("bank"), func(t *testing.T, n *node, def *abi.ModuleDef, tr *transcript) {
		ctx := context.Background()
		add := func(depot string, r abi.Value) {
			if _, err := n.e.AppendToDepot(ctx, def.Name, depot, r, 1); err != nil {
				t.Fatal(err)
			}
			n.waitIdle(def.Name)
		}
		names := []string{"ann", "bob", "cy", "dee", "éva", "fumi"}
		for _, a := range names {
			add("deposits", rec("account", a, "amount", 100))
		}
		r := rand.New(rand.NewPCG(3, 9))
		for i := range 80 {
			id := fmt.Sprintf("t%d", i)
			if i%17 == 0 {
				id = ""
			}
			add("transfers", rec("id", id, "from", names[r.IntN(len(names))], "to", names[r.IntN(len(names))], "amount", r.IntN(70)-3))
		}
		tr.lines = append(tr.lines, n.dump(def, nil)...)
		invoke := func(q string, args ...abi.Value) {
			v, err := n.e.Invoke(ctx, def.Name, q, args, 0)
			if err != nil {
				tr.add("query %s %s: error %s", q, show(abi.List(args...)), strings.TrimPrefix(err.Error(), "engine: "))
				return
			}
			tr.add("query %s %s: %s", q, show(abi.List(args...)), show(v))
		}
		for _, a := range names {
			invoke("account", abi.String(a), abi.Int(5))
		}
		invoke("total")
		invoke("stats")
		invoke("account", abi.String("ann"))
		invoke("account", abi.String("ann"), abi.Int(5000))
		tr.lines = append(tr.lines, n.deadLetters(def.Name)...)
	})
}
