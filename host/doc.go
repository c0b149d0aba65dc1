// Package host runs Squall guest modules: WebAssembly reactors built
// against the guest ABI v1 (abi/ABI.md), on wazero's compiler engine. It
// compiles and checks modules, describes them, starts instances with the
// sandbox of ABI.md §8 (deterministic clocks and random bytes per call,
// capped stdout and stderr, no network, read-only mounts only) and
// implements the host functions of import module "squall_v1" (flush,
// query, take). What the effects mean, and the storage queries run
// against, belong to the engine: it plugs in through [Handler].
//
// # Usage
//
//	rt, err := host.NewRuntime(ctx, host.DefaultConfig())
//	if err != nil { ... }
//	defer rt.Close(ctx)
//
//	// Deploy: compile and check the interface, then describe.
//	mod, err := rt.Compile(ctx, "wordcount", wasmBytes) // errors.Is(err, host.ErrInvalidModule)
//	def, err := mod.Describe(ctx, host.InitParams{Tasks: 8})
//
//	// Per partition task: an instance, then batch after batch.
//	in, err := mod.Instantiate(ctx, host.InitParams{Tasks: 8})
//	res, err := in.Process(ctx, batch, handler) // handler implements host.Handler
//	if host.MustDiscard(err) {
//		// The instance is closed: discard what handler staged, back off,
//		// start a fresh instance and retry the batch (same batch id, time
//		// and seed, attempt+1). errors.As(err, &guestErr) says why.
//	}
//
// # Deadlines and interruption
//
// A guest can never hold its goroutine past its call's deadline. Compile
// rewrites every module (host/internal/interrupt) so that each loop
// iteration and function call decrements a budget kept in a global of
// the module, and calls a host function once the budget of 16384 checks
// is spent. That function stops the call when its deadline has passed,
// its context ended or its Instance or Runtime was closed, and returns to
// the guest otherwise; being Go code, it is also where the Go scheduler
// and garbage collector can stop the goroutine, which they cannot do
// while it runs compiled wasm. This costs guests a few percent, where
// wazero's WithCloseOnContextDone, which leaves native code at every loop
// back-edge, made Go guests 3-4x slower. The rewrite also rejects, before
// wazero reads them, counts that exceed the bytes of the binary (a few
// bytes could otherwise make the compiler allocate gigabytes).
//
// # Your responsibilities
//
//   - An [Instance] is used by one goroutine at a time: one batch after the
//     other. [Runtime] and [Module] are safe for concurrent use; start one
//     instance per goroutine that processes batches.
//   - The [Handler] is called only during Process, from the goroutine that
//     called it, one call at a time. It must not call back into the
//     instance. What it applies during a call that fails must be discarded.
//     Its time counts toward the batch deadline. The host already writes
//     LOG effects and guest output to Config.Logger, with quotas; a Handler
//     need not log them again.
//   - Retrying is yours: after any [*GuestError] the instance is closed.
//     Retry the same batch frame (same id, time and seed, so the guest sees
//     the same clocks and random bytes) on a fresh instance after a backoff;
//     [ErrorKind] says which failures call for smaller batches.
//   - Describe a module before instantiating it for processing, and persist
//     the definition with the deployment: instances must reproduce it.
//   - Close what you open: instances, modules, the runtime.
package host
