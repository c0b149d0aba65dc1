// Package conformance holds the cross-language conformance suite of the
// guest SDKs (docs/conformance.md): its tests build the same behaviours,
// written once per SDK under modules/<behaviour>/<language>, and the
// examples (examples/<name>/<language>) with each language's real
// toolchain, run every build through the host and the engine on Pebble
// with the same inputs, and require identical PState contents, ack
// returns, dead letters and emitted values across languages.
//
// The package has no non-test code.
package conformance
