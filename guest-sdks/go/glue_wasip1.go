//go:build wasip1

// Staticcheck does not see //go:wasmexport functions as used.
//lint:file-ignore U1000 the host calls the exports, which call the rest

package squall

import (
	"runtime"
	"unsafe"

	"github.com/squall-run/squall/guest-sdks/go/internal/wire"
)

// The wasm glue of ABI v1 (abi/ABI.md §2): the exports the host calls and
// the squall_v1 imports it provides. Built only for GOOS=wasip1; the rest
// of the package compiles natively, which is how squalltest runs modules.

// The host functions of squall_v1 (§7). Pointers are offsets into this
// module's memory; the host copies what it reads before returning.

//go:wasmimport squall_v1 flush
func hostFlush(ptr unsafe.Pointer, n uint32) int32

//go:wasmimport squall_v1 query
func hostQuery(reqPtr unsafe.Pointer, reqLen uint32, outPtr unsafe.Pointer, outCap uint32) int32

//go:wasmimport squall_v1 take
func hostTake(outPtr unsafe.Pointer, outCap uint32) int32

// wasmHost implements rt.Host with the imports.
type wasmHost struct{}

func (wasmHost) Flush(frame []byte) int32 {
	r := hostFlush(unsafe.Pointer(unsafe.SliceData(frame)), uint32(len(frame)))
	runtime.KeepAlive(frame)
	return r
}

func (wasmHost) Query(req, out []byte) int32 {
	r := hostQuery(unsafe.Pointer(unsafe.SliceData(req)), uint32(len(req)), unsafe.Pointer(unsafe.SliceData(out)), uint32(len(out)))
	runtime.KeepAlive(req)
	runtime.KeepAlive(out)
	return r
}

func (wasmHost) Take(out []byte) int32 {
	r := hostTake(unsafe.Pointer(unsafe.SliceData(out)), uint32(len(out)))
	runtime.KeepAlive(out)
	return r
}

// guest is the module's one instance. Go's garbage collector does not move
// objects, and guest keeps the inbox reachable, so the inbox never moves
// while the host may write to it (§3).
var guest *instance

func theGuest() *instance {
	if guest == nil {
		guest = &instance{host: wasmHost{}, define: registered.fn, defineCount: registered.count}
	}
	return guest
}

// squallABI11 is the version marker: this module needs Squall ABI 1.1
// (§2.4, §15: microbatch and query topologies, aggregation, tick depots).
// It is never called.
//
//go:wasmexport squall_abi_1_1
func squallABI11() {}

//go:wasmexport squall_inbox
func squallInbox(minCap int32) int32 {
	b := theGuest().Inbox(int(minCap))
	if len(b) == 0 || len(b) < int(minCap) {
		return 0
	}
	return int32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}

//go:wasmexport squall_init
func squallInit(n int32) int32 { return theGuest().Init(int(n)) }

//go:wasmexport squall_process
func squallProcess(n int32) int32 {
	if n < 0 || n > wire.MaxBatchFrame {
		return wire.StatusFailed
	}
	return theGuest().Process(int(n))
}
