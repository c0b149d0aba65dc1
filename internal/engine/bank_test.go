package engine

import (
	"fmt"

	"github.com/squall-run/squall/abi"
)

// The bank module, natively: the microbatch topology of the exactly-once
// tests. Deposits {"account", "amount"} credit an account; transfers
// {"id", "from", "to", "amount"} are checked for funds and debited on the
// partition of "from", then credited on the partition of "to" (a hop).
// Every transfer id ends counted once, in "applied" (under the account
// credited) or in "refused" (under the account that lacked the funds).
// Query "total" sums every balance on every partition; "balance" reads one.

func bankDef(name string, maxRecords int64) *abi.ModuleDef {
	str, i := &abi.Schema{Type: abi.SchemaString}, &abi.Schema{Type: abi.SchemaInt}
	counts := abi.Schema{Type: abi.SchemaMap, Key: str, Val: i}
	perAccount := abi.Schema{Type: abi.SchemaMap, Key: str, Val: &abi.Schema{Type: abi.SchemaMap, Key: str, Val: i, Subindexed: true}}
	return &abi.ModuleDef{
		Name: name,
		Depots: []abi.DepotDef{
			{Name: "deposits", Partitioner: abi.DepotPartitioner{Kind: abi.DepotHash, Key: abi.P().Key(abi.String("account"))}},
			{Name: "transfers", Partitioner: abi.DepotPartitioner{Kind: abi.DepotHash, Key: abi.P().Key(abi.String("from"))}},
		},
		PStates: []abi.PStateDef{
			{Name: "balances", Schema: counts, Owner: "bank"},
			{Name: "applied", Schema: perAccount, Owner: "bank"},
			{Name: "refused", Schema: perAccount, Owner: "bank"},
		},
		Topologies: []abi.TopologyDef{{
			Name: "bank", Kind: abi.TopologyMicrobatch, MaxRecords: maxRecords,
			Sources: []abi.SourceDef{{Depot: "deposits", Stage: "deposit"}, {Depot: "transfers", Stage: "debit"}},
			Stages:  []string{"deposit", "debit", "credit"},
		}},
		Queries: []abi.QueryDef{
			{Name: "total", Stages: []string{"fanout", "sum"}},
			{Name: "balance", Args: []string{"account"}, Stages: []string{"start", "read"}},
		},
	}
}

func field(v abi.Value, k string) abi.Value {
	f, _ := v.Get(abi.String(k))
	return f
}

func bankNative(def *abi.ModuleDef) *NativeModule {
	return NewNativeModule(def).
		Stage("bank", "deposit", func(c *StageCtx, rec abi.Value) error {
			n, _ := field(rec, "amount").AsInt()
			return c.Aggregate("balances", abi.AggSum, []abi.Value{field(rec, "account")}, abi.Int(n))
		}).
		Stage("bank", "debit", func(c *StageCtx, rec abi.Value) error {
			from, amount := field(rec, "from"), field(rec, "amount")
			n, _ := amount.AsInt()
			bal, _, err := c.SelectOne("balances", abi.P().Key(from))
			if err != nil {
				return err
			}
			if b, _ := bal.AsInt(); b < n {
				return c.Aggregate("refused", abi.AggCount, []abi.Value{from, field(rec, "id")}, abi.Nil())
			}
			if err := c.Transform("balances", abi.P().Key(from).NilToVal(abi.Int(0)).Incr(-n)); err != nil {
				return err
			}
			return c.HopHash("credit", field(rec, "to"), rec)
		}).
		Stage("bank", "credit", func(c *StageCtx, rec abi.Value) error {
			n, _ := field(rec, "amount").AsInt()
			if err := c.Aggregate("balances", abi.AggSum, []abi.Value{field(rec, "to")}, abi.Int(n)); err != nil {
				return err
			}
			return c.Aggregate("applied", abi.AggCount, []abi.Value{field(rec, "to"), field(rec, "id")}, abi.Nil())
		}).
		QueryStage("total", "fanout", func(c *StageCtx, _ abi.Value) error {
			return c.Hop("sum", abi.PartitionAll, abi.Nil())
		}).
		QueryStage("total", "sum", func(c *StageCtx, _ abi.Value) error {
			vs, err := c.Select("balances", abi.P().MapVals())
			if err != nil {
				return err
			}
			var sum int64
			for _, v := range vs {
				n, _ := v.AsInt()
				sum += n
			}
			return c.AggregateResult(abi.AggSum, nil, abi.Int(sum))
		}).
		QueryStage("balance", "start", func(c *StageCtx, args abi.Value) error {
			return c.HopHash("read", args.Index(0), args.Index(0))
		}).
		QueryStage("balance", "read", func(c *StageCtx, account abi.Value) error {
			v, _, err := c.SelectOne("balances", abi.P().Key(account))
			if err != nil {
				return err
			}
			return c.Return(v)
		})
}

func deposit(account string, amount int64) abi.Value {
	return abi.Map(abi.MapEntry{Key: abi.String("account"), Val: abi.String(account)},
		abi.MapEntry{Key: abi.String("amount"), Val: abi.Int(amount)})
}

func transfer(id int, from, to string, amount int64) abi.Value {
	return abi.Map(abi.MapEntry{Key: abi.String("id"), Val: abi.String(fmt.Sprintf("t%d", id))},
		abi.MapEntry{Key: abi.String("from"), Val: abi.String(from)},
		abi.MapEntry{Key: abi.String("to"), Val: abi.String(to)},
		abi.MapEntry{Key: abi.String("amount"), Val: abi.Int(amount)})
}

func account(i int) string { return fmt.Sprintf("acct%02d", i) }
