// Command bank is a Squall module that moves money between accounts
// exactly once.
//
// Clients append deposits {"account", "amount"} to the depot "deposits"
// and transfers {"id", "from", "to", "amount"} to the depot "transfers"
// (partitioned by "from"). The microbatch topology "bank" processes them
// in microbatches across every partition: "deposit" credits an account;
// "debit" checks the funds of "from" on its partition and debits it, or
// records the refusal; then it hops to the partition of "to", where
// "credit" credits it. Each account keeps its balance and its transfer
// history (a subindexed map: entry number → transfer). Because the
// topology is a microbatch topology, a debit and its credit, on two
// partitions, become visible together, and a transfer is applied exactly
// once whatever crashes and retries happen. Stage "tally" aggregates
// statistics per outcome (a group-by: count, total amount and the three
// largest transfers).
//
// Query topologies: "account(id, limit)" returns an account's balance and
// its last limit transfers, newest first; "total()" sums every balance on
// every partition; "stats()" gathers the per-outcome statistics.
//
// Build it to WebAssembly with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o bank.wasm .
package main

import (
	"errors"

	squall "github.com/squall-run/squall/guest-sdks/go"
)

// Transfer is a record of the depot "transfers".
type Transfer struct {
	ID       string
	From, To string
	Amount   int64
}

// MarshalSquall stores a transfer as {"id", "from", "to", "amount"}.
func (t Transfer) MarshalSquall() (squall.Value, error) {
	return squall.ValueOf(map[string]any{"id": t.ID, "from": t.From, "to": t.To, "amount": t.Amount})
}

// UnmarshalSquall reads a transfer.
func (t *Transfer) UnmarshalSquall(v squall.Value) error {
	return squall.Unpack(v, map[string]any{"id": &t.ID, "from": &t.From, "to": &t.To, "amount": &t.Amount})
}

// Deposit is a record of the depot "deposits".
type Deposit struct {
	Account string
	Amount  int64
}

// MarshalSquall stores a deposit as {"account", "amount"}.
func (d Deposit) MarshalSquall() (squall.Value, error) {
	return squall.ValueOf(map[string]any{"account": d.Account, "amount": d.Amount})
}

// UnmarshalSquall reads a deposit.
func (d *Deposit) UnmarshalSquall(v squall.Value) error {
	return squall.Unpack(v, map[string]any{"account": &d.Account, "amount": &d.Amount})
}

// Outcomes of a transfer, the "kind" of history entries and the keys of
// the PState "stats".
const (
	Debited  = "debit"
	Credited = "credit"
	Refused  = "refused"
)

// entry is one line of an account's history.
func entry(kind string, t Transfer, peer string) map[string]any {
	return map[string]any{"kind": kind, "id": t.ID, "peer": peer, "amount": t.Amount}
}

// Define declares the module.
func Define(m *squall.ModuleBuilder) {
	m.Name("bank")
	deposits := m.Depot("deposits", squall.HashBy(squall.Key("account")))
	transfers := m.Depot("transfers", squall.HashBy(squall.Key("from")))

	bank := m.Microbatch("bank", squall.MaxRecords(1000))
	accounts := bank.PState("accounts", squall.MapOf(squall.StringT, squall.RecordOf(
		squall.Field("balance", squall.IntT),
		squall.Field("count", squall.IntT), // entries in history
		squall.Field("history", squall.MapOf(squall.IntT, squall.AnyT).Subindexed()),
	)))
	stats := bank.PState("stats", squall.MapOf(squall.StringT, squall.AnyT))

	// record appends an entry to an account's history, numbered from 1.
	record := func(ctx *squall.Ctx, account string, e map[string]any) error {
		n, err := squall.SelectOneAs[int64](ctx, accounts, squall.Key(account).Key("count"))
		if err != nil {
			return err
		}
		if err := ctx.Transform(accounts, squall.Key(account).Key("history").Key(n+1).Set(e)); err != nil {
			return err
		}
		return ctx.Aggregate(accounts, squall.Count(), account, "count")
	}

	var credit, tally *squall.Stage
	deposit := bank.Stage("deposit", squall.Typed(func(ctx *squall.Ctx, d Deposit) error {
		if d.Amount <= 0 {
			return squall.Poison(errors.New("a deposit must be positive"))
		}
		return ctx.Aggregate(accounts, squall.Sum(d.Amount), d.Account, "balance")
	}))
	debit := bank.Stage("debit", squall.Typed(func(ctx *squall.Ctx, t Transfer) error {
		if t.Amount <= 0 || t.From == t.To || t.ID == "" {
			return squall.Poison(errors.New("a transfer needs an id, two different accounts and a positive amount"))
		}
		balance, err := squall.SelectOneAs[int64](ctx, accounts, squall.Key(t.From).Key("balance"))
		if err != nil {
			return err
		}
		if balance < t.Amount {
			if err := record(ctx, t.From, entry(Refused, t, t.To)); err != nil {
				return err
			}
			return ctx.Hop(tally, Refused, []any{Refused, t})
		}
		if err := ctx.Aggregate(accounts, squall.Sum(-t.Amount), t.From, "balance"); err != nil {
			return err
		}
		if err := record(ctx, t.From, entry(Debited, t, t.To)); err != nil {
			return err
		}
		return ctx.Hop(credit, t.To, t)
	}))
	credit = bank.Stage("credit", squall.Typed(func(ctx *squall.Ctx, t Transfer) error {
		if err := ctx.Aggregate(accounts, squall.Sum(t.Amount), t.To, "balance"); err != nil {
			return err
		}
		if err := record(ctx, t.To, entry(Credited, t, t.From)); err != nil {
			return err
		}
		return ctx.Hop(tally, Credited, []any{Credited, t})
	}))
	// tally runs on the partition that owns the outcome (the hop's key):
	// a group-by outcome.
	tally = bank.Stage("tally", func(ctx *squall.Ctx, in squall.Value) error {
		outcome, _ := in.Index(0).AsString()
		var t Transfer
		if err := squall.Unmarshal(in.Index(1), &t); err != nil {
			return squall.Poison(err)
		}
		for _, a := range []struct {
			agg  squall.Agg
			keys []any
		}{
			{squall.Count(), []any{outcome, "count"}},
			{squall.Sum(t.Amount), []any{outcome, "amount"}},
			{squall.TopN(3, t.Amount, t.ID), []any{outcome, "largest"}},
		} {
			if err := ctx.Aggregate(stats, a.agg, a.keys...); err != nil {
				return err
			}
		}
		return nil
	})
	bank.Source(deposits, deposit)
	bank.Source(transfers, debit)

	account := m.Query("account", "id", "limit")
	var read *squall.Stage
	account.Stage("start", func(ctx *squall.Ctx, args squall.Value) error {
		return ctx.Hop(read, args.Index(0), args)
	})
	read = account.Stage("read", func(ctx *squall.Ctx, args squall.Value) error {
		id := args.Index(0)
		limit, _ := args.Index(1).AsInt()
		if limit < 0 || limit > 1000 {
			return squall.Poison(errors.New("limit must be from 0 to 1000"))
		}
		balance, err := ctx.SelectOne(accounts, squall.P().Key(id).Key("balance"))
		if err != nil {
			return err
		}
		var last []squall.Value
		if limit > 0 {
			if last, err = ctx.Select(accounts, squall.P().Key(id).Key("history").
				SortedRangeWith(nil, nil, squall.RangeOpts{Reverse: true, Limit: int(limit)}).MapVals()); err != nil {
				return err
			}
		}
		return ctx.Return(map[string]any{"balance": balance, "transfers": squall.List(last...)})
	})

	total := m.Query("total")
	var sum *squall.Stage
	total.Stage("fanout", func(ctx *squall.Ctx, _ squall.Value) error { return ctx.HopAll(sum, nil) })
	sum = total.Stage("sum", func(ctx *squall.Ctx, _ squall.Value) error {
		bs, err := squall.SelectAs[int64](ctx, accounts, squall.P().MapVals().Key("balance"))
		if err != nil {
			return err
		}
		var s int64
		for _, b := range bs {
			s += b
		}
		return ctx.AggregateResult(squall.Sum(s))
	})

	statsQ := m.Query("stats")
	var gather *squall.Stage
	statsQ.Stage("fanout", func(ctx *squall.Ctx, _ squall.Value) error { return ctx.HopAll(gather, nil) })
	gather = statsQ.Stage("gather", func(ctx *squall.Ctx, _ squall.Value) error {
		// The outcomes this partition owns.
		outcomes, err := ctx.Select(stats, squall.P().MapKeys())
		if err != nil {
			return err
		}
		for _, o := range outcomes {
			v, err := ctx.SelectOne(stats, squall.P().Key(o))
			if err != nil {
				return err
			}
			if err := ctx.AggregateResult(squall.PutInMap(o, v)); err != nil {
				return err
			}
		}
		return nil
	})
}

func init() { squall.Define(Define) }

// main is not run: built with -buildmode=c-shared the module is a WASI
// reactor, and the host calls its exports.
func main() {}
