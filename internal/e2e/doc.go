// Package e2e holds Squall's end-to-end tests and benchmarks: the example
// modules of examples/ (and adversarial fixtures under testdata/) are
// built from their Go sources to WebAssembly with the real Go toolchain
// (GOOS=wasip1 GOARCH=wasm -buildmode=c-shared), compiled and described by
// package host, deployed into package engine over a real Pebble store, and
// driven through depot appends with every ack level. The tests assert
// exact PState contents against expectations computed in Go; they restart
// the engine on the same directory and check that state survives and
// processing continues.
//
// Builds are cached in $TMPDIR/squall-e2e, keyed by a hash of the Go
// version and of the sources of the module and of the Go SDK, so reruns
// do not build again; wazero's compilation cache sits next to them. A
// build that fails fails the test with the compiler's output. The
// per-language benchmarks also build the examples' Rust, Python and
// TypeScript twins (guestLangs), with internal/build, once per process.
//
// The benchmarks measure the word count example compiled to wasm against
// the same stage logic written as native Go stages (engine.NativeModule),
// run by the same engine in the same process (BenchmarkWordcount/wasm and
// /native), the social example's fanout (BenchmarkSocialFanout) and the
// latency of an ACK append at a steady rate (BenchmarkAckLatency). Their
// results feed docs/benchmarks.md:
//
//	go test ./internal/e2e/ -run '^$' -bench . -benchtime 2s
//
// The package has no non-test code.
package e2e
