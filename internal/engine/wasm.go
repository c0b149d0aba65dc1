package engine

import (
	"context"
	"sync/atomic"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/host"
)

// WasmFactory returns the ProcessorFactory of a compiled wasm module (from
// host.Runtime.Compile): each partition's processor is an instance of m,
// started with the module's task count. The definition to deploy is the
// one m.Describe returns.
//
// A failed call closes the instance (host.GuestError); the engine then
// starts a fresh one through the factory, as it does after every failed
// call (ABI.md §12.4).
func WasmFactory(m *host.Module, tasks uint32) ProcessorFactory {
	var seq atomic.Uint64
	return func(ctx context.Context, partition uint32) (Processor, error) {
		in, err := m.Instantiate(ctx, host.InitParams{Tasks: tasks, Seed: seq.Add(1)<<32 | uint64(partition)})
		if err != nil {
			return nil, err
		}
		return &wasmProc{in: in}, nil
	}
}

// wasmProc runs batches on a wasm instance.
type wasmProc struct{ in *host.Instance }

// Process implements Processor. The engine's Handler satisfies
// host.Handler (same methods).
func (p *wasmProc) Process(ctx context.Context, batch *abi.BatchFrame, h Handler) error {
	_, err := p.in.Process(ctx, batch, h)
	return err
}

// Close implements Processor.
func (p *wasmProc) Close(ctx context.Context) error { return p.in.Close(ctx) }

// LogsEffects implements EffectLogger: the host writes LOG effects to its
// logger itself, within its per-call quota.
func (p *wasmProc) LogsEffects() bool { return true }
