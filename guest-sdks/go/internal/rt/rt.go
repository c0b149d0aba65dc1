// Package rt connects package squall's guest runtime to a host: the wasm
// imports of squall_v1 in a module, or squalltest's fake host in native
// tests. Package squall sets its variables in an init function; nothing
// else should use it.
package rt

// Host is the host side of the ABI: the three functions of the squall_v1
// import module (abi/ABI.md §7), with guest memory as slices.
type Host interface {
	// Flush submits an effects frame and returns 0, the number of effects
	// the host rejected, or a negative errno.
	Flush(frame []byte) int32
	// Query runs a query frame; the response goes into out when it fits.
	// It returns the response's size, or a negative errno.
	Query(req, out []byte) int32
	// Take copies the parked result into out when it fits and returns its
	// size, or -ENOENT.
	Take(out []byte) int32
}

// Instance is a guest instance: the exports of a module (§2.3).
type Instance interface {
	// Inbox returns the inbox, at least minCap bytes long.
	Inbox(minCap int) []byte
	// Init runs squall_init on the init frame in inbox[:n].
	Init(n int) int32
	// Process runs squall_process on the batch frame in inbox[:n].
	Process(n int) int32
}

// NewInstance returns a new guest instance of the module defined by define
// (a func(*squall.ModuleBuilder)), or of the module registered with
// squall.Define when define is nil. It is set by package squall.
var NewInstance func(define any, host Host) Instance

// CheckDefinition checks the canonical encoding of a module definition as
// the host does and returns its problems as an error. Set by package
// squall.
var CheckDefinition func(def []byte) error
