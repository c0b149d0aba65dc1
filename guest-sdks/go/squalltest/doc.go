// Package squalltest runs Squall modules written with the Go SDK under
// go test, natively (no wasm, no server), with an in-memory host that has
// the real host's semantics:
//
//   - the module's definition runs and is checked as at deploy (every
//     problem reported at once), twice, to catch a non-deterministic one;
//   - client appends go through the depot's partitioner, hops through
//     their partitioner, with the host's key hashing (FNV-1a 64 and
//     fmix64 of the canonical key), so data lands on the partitions it
//     will land on in production;
//   - stages run in batches of one topology on one partition, through the
//     same ABI frames and the same SDK runtime as in wasm, with
//     read-your-writes inside a batch;
//   - transforms and selects run on in-memory PStates with the host's
//     path engine semantics and messages, schema checks included, and the
//     host's partition rules (a key of another partition is rejected);
//   - an item that fails is retried (Ctx.Attempt grows) and dead-lettered
//     after the maximum attempts; a poisoned or rejected item is
//     dead-lettered at once; failed items leave no effects but their logs.
//
// A test appends records, which runs every topology until nothing is left
// to do, then inspects PStates, depots, ack returns, dead letters and
// logs:
//
//	func TestWordCount(t *testing.T) {
//		h := squalltest.New(t, 4)
//		h.Append("sentences", map[string]any{"user": "ann", "text": "to be or not to be"})
//		if n, _ := h.SelectOne("$$counts", squall.Key("be")).AsInt(); n != 2 {
//			t.Fatalf("be: %d", n)
//		}
//	}
//
// New uses the module the test's package registers with squall.Define
// (a module's own tests live in its main package); [Module] names another
// definition function.
//
// Anything the SDK does that the host would refuse — a malformed frame, an
// effect out of order, a failed call — fails the test: it is a bug of the
// SDK, not of the module.
package squalltest
