// Package squall is the Go SDK for writing Squall modules: depots,
// PStates and stream topologies whose stages are ordinary Go functions,
// compiled to one WebAssembly file that a Squall server runs.
//
// It targets the Squall guest ABI 1.1 (abi/ABI.md in the Squall
// repository); users never see the ABI. It needs Go 1.24 or later and has
// no dependencies.
//
// # A module
//
// A module is a main package that registers its definition with [Define]
// from an init function. Built with -buildmode=c-shared it is a WASI
// reactor: the host calls its exports and main never runs, so main is
// empty.
//
//	package main
//
//	import (
//		"strings"
//
//		squall "github.com/squall-run/squall/guest-sdks/go"
//	)
//
//	func init() {
//		squall.Define(func(m *squall.ModuleBuilder) {
//			m.Name("wordcount")
//			sentences := m.Depot("sentences", squall.HashBy(squall.Key("user")))
//			counts := m.PState("$$counts", squall.MapOf(squall.StringT, squall.IntT))
//
//			t := m.Stream("wordcount")
//			count := t.Stage("count", func(ctx *squall.Ctx, word squall.Value) error {
//				return ctx.Transform(counts, squall.Key(word).Incr(1))
//			})
//			split := t.Stage("split", func(ctx *squall.Ctx, rec squall.Value) error {
//				text, _ := rec.Field("text").AsString()
//				for _, w := range strings.Fields(text) {
//					// Count each word on the partition that owns it.
//					if err := ctx.Hop(count, w, w); err != nil {
//						return err
//					}
//				}
//				return nil
//			})
//			t.Source(sentences, split)
//		})
//	}
//
//	func main() {} // not called: the module is a reactor
//
// Build it with:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o wordcount.wasm .
//
// # Declarations
//
// A [ModuleBuilder] declares [Depot]s (partitioned logs, routed by
// [HashBy], [HashRecord], [Random] or [Disallow]), [PState]s (partitioned
// indexes with a [Schema]: [MapOf], [SetOf], [ListOf], [RecordOf] of
// [StringT], [IntT] and the other leaves, large collections
// [Schema.Subindexed]) and stream [Topology]s made of named [Stage]s,
// started by [Topology.Source]. The handles it returns are what stages use:
// ctx.Append(depot, ...), ctx.Hop(stage, ...), ctx.Transform(pstate, ...).
// The SDK checks the definition as the host does and reports every problem
// at once, in tests too.
//
// # Stages
//
// A stage is a [StageFunc]: an ordinary synchronous function of a [Ctx]
// and the item's input, a [Value]. [Typed] adapts a function of a Go type.
// Through the Ctx a stage appends to depots ([Ctx.Append]), continues its
// work on other partitions ([Ctx.Hop] by key, [Ctx.HopAll],
// [Ctx.HopGlobal], [Ctx.HopOrigin], [Ctx.HopShuffle], [Ctx.HopDirect]),
// reads its partition of PStates ([Ctx.Select], [Ctx.SelectOne]), writes it
// ([Ctx.Transform]), sets the ack return ([Ctx.Emit]) and logs
// ([Ctx.Log]). It learns where and when it runs from [Ctx.Partition],
// [Ctx.Attempt], [Ctx.BatchTime] and [Ctx.Rand], which replay the same on
// every attempt.
//
// # Microbatch and query topologies
//
// [ModuleBuilder.Microbatch] declares a topology whose records are
// processed in numbered microbatches over every partition, exactly once:
// every partition's effects of a microbatch become visible together, and
// a microbatch that fails is retried from scratch (the host pauses the
// topology if it keeps failing). The PStates it writes are declared on it
// with [Topology.PState]. [Ctx.Aggregate] combines a value into a PState
// at a key path with [Count], [Sum], [Min], [Max], [AddToSet],
// [AppendToList], [PutInMap] or [TopN]; the host applies it.
// [ModuleBuilder.Query] declares a query topology, run on demand by
// clients and by [Ctx.Invoke]: its first stage gets the arguments, its
// stages hop and read (never write), and [Ctx.Return] and
// [Ctx.AggregateResult] make its result. [ModuleBuilder.TickDepot] feeds a
// topology on a timer.
//
// The effects of an item commit atomically with its progress, and only if
// the stage returns nil. A stage that returns an error is retried later
// (up to the host's limit, then dead-lettered); [Poison] dead-letters the
// item at once, [Retryable] insists on retrying. Errors that can never
// pass — a path that does not fit the schema, an input that does not
// convert — poison the item by themselves. A panic in a stage is
// recovered: the item fails with the panic's message and stack, and the
// module keeps running.
//
// # Values
//
// Records, keys, payloads and PState contents are [Value]s: nil, bool,
// int64, float64, string, bytes, list, map (with keys of any kind) or set,
// encoded as canonical MessagePack so that every SDK produces the same
// bytes and the same partitions. Every method that takes an any converts
// with [ValueOf], so stages pass ordinary Go values: strings, ints,
// slices, maps, and types that implement [Marshaler]. [As], [Unmarshal]
// and [Unpack] convert back; structs implement [Unmarshaler].
//
// # Paths
//
// Reads and writes of PStates are [Path]s, built from [P] or [Key]:
// navigators (Key, MustKey, MapVals, MapKeys, All, First, Last, Nth,
// SortedRange, Filter, NilToVal, View) and, for transforms, one terminal
// (Set, Incr, Append, Prepend, Remove, Merge). They run in the host, next
// to the data.
//
// # Testing
//
// Package squalltest runs a module natively under go test, with an
// in-memory host that has the real host's semantics:
//
//	func TestWordCount(t *testing.T) {
//		h := squalltest.New(t, 4) // the module registered by init, 4 partitions
//		h.Append("sentences", map[string]any{"user": "ann", "text": "to be or not to be"})
//		n, _ := h.SelectOne("$$counts", squall.Key("be")).AsInt() // 2
//	}
//
// # What a module may assume
//
// The host runs a module in a sandbox: no network, read-only files at
// most, deterministic clocks and random bytes per batch. Global variables
// live in one instance, not in a partition, and the host discards
// instances at any time: keep state in PStates. Goroutines run only while
// a stage runs. The definition function runs in every instance and must
// declare the same module every time.
package squall
