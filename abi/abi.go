package abi

import (
	"strconv"
	"strings"
)

// This file holds the names and numbers of the guest ABI v1 that ABI.md
// defines: the import module and its functions, the guest's exports and
// version marker, status and error codes, frame kinds, opcodes, flags and
// limits. Every number here is part of the contract between the host and
// compiled guest modules: never renumber, only add.

// Versions of the ABI this package implements.
const (
	// Major is the ABI major version. It is part of the import module name
	// ([ImportModule]) and of the version marker export ([MarkerName]).
	Major = 1
	// Minor is the highest ABI minor version this package (and a host built
	// on it) supports. A guest declares the minor it needs with its marker
	// export; a host accepts guests whose minor is at most its own.
	Minor = 1
)

// Module names a guest may import from.
const (
	// ImportModule is the import module of the host functions of ABI v1.
	ImportModule = "squall_v1"
	// WASIModule is the WASI preview1 import module.
	WASIModule = "wasi_snapshot_preview1"
)

// Host functions, imported by the guest from [ImportModule]. Their wasm
// signatures are in [HostFuncs].
const (
	// ImportFlush submits an effects frame: flush(ptr, len i32) -> i32.
	ImportFlush = "flush"
	// ImportQuery runs a query frame: query(req_ptr, req_len, out_ptr,
	// out_cap i32) -> i32.
	ImportQuery = "query"
	// ImportTake copies the parked result: take(out_ptr, out_cap i32) -> i32.
	ImportTake = "take"
)

// Guest exports. Their wasm signatures are in [GuestFuncs].
const (
	// ExportMemory is the guest's linear memory (required).
	ExportMemory = "memory"
	// ExportInitialize is the WASI reactor initializer; when exported the
	// host calls it once, before anything else: _initialize() -> ().
	ExportInitialize = "_initialize"
	// ExportStart is the WASI command entry point; a Squall module must not
	// export it (it must be a reactor).
	ExportStart = "_start"

	// FilesSection is the custom section that carries a module's file tree
	// (§2.5): a zip archive the host mounts read-only at FilesMount.
	// Interpreter runtimes keep their standard library and the user's code
	// there, so that one runtime binary serves every module.
	FilesSection = "squall.files"
	// FilesMount is where guests see the file tree of FilesSection.
	FilesMount = "/squall"
	// ExportInbox returns the guest-owned inbox: squall_inbox(min_cap i32)
	// -> i32 (a pointer, 0 when the guest cannot allocate it).
	ExportInbox = "squall_inbox"
	// ExportInit runs the init frame in the inbox and makes the guest
	// define itself: squall_init(len i32) -> i32 (a [CallStatus]).
	ExportInit = "squall_init"
	// ExportProcess runs the batch frame in the inbox:
	// squall_process(len i32) -> i32 (a [CallStatus]).
	ExportProcess = "squall_process"
	// MarkerPrefix starts the name of the version marker export,
	// "squall_abi_<major>_<minor>" (see [MarkerName]).
	MarkerPrefix = "squall_abi_"
)

// ValType is a WebAssembly value type, numbered as in the binary format
// (the numbering of wazero's api.ValueType).
type ValType byte

// WebAssembly value types.
const (
	ValI32 ValType = 0x7f
	ValI64 ValType = 0x7e
	ValF32 ValType = 0x7d
	ValF64 ValType = 0x7c
)

// String returns the text-format name of t: i32, i64, f32 or f64.
func (t ValType) String() string {
	switch t {
	case ValI32:
		return "i32"
	case ValI64:
		return "i64"
	case ValF32:
		return "f32"
	case ValF64:
		return "f64"
	}
	return "valtype(0x" + strconv.FormatUint(uint64(t), 16) + ")"
}

// FuncType is the signature of a WebAssembly function.
type FuncType struct {
	Params, Results []ValType
}

// String renders t as "(i32, i32) -> i32"; no results is "()".
func (t FuncType) String() string {
	list := func(ts []ValType) string {
		s := make([]string, len(ts))
		for i, v := range ts {
			s[i] = v.String()
		}
		return "(" + strings.Join(s, ", ") + ")"
	}
	res := list(t.Results)
	if len(t.Results) == 1 {
		res = t.Results[0].String()
	}
	return list(t.Params) + " -> " + res
}

func (t FuncType) equal(u FuncType) bool {
	return string(valTypeBytes(t.Params)) == string(valTypeBytes(u.Params)) &&
		string(valTypeBytes(t.Results)) == string(valTypeBytes(u.Results))
}

func valTypeBytes(ts []ValType) []byte {
	b := make([]byte, len(ts))
	for i, t := range ts {
		b[i] = byte(t)
	}
	return b
}

func sig(params []ValType, results ...ValType) FuncType {
	return FuncType{Params: params, Results: results}
}

func i32s(n int) []ValType {
	ts := make([]ValType, n)
	for i := range ts {
		ts[i] = ValI32
	}
	return ts
}

// HostFuncs returns the functions of [ImportModule] in ABI 1.[Minor] with
// their signatures. A guest may import any subset of them.
func HostFuncs() map[string]FuncType {
	return map[string]FuncType{
		ImportFlush: sig(i32s(2), ValI32),
		ImportQuery: sig(i32s(4), ValI32),
		ImportTake:  sig(i32s(2), ValI32),
	}
}

// GuestFuncs returns the function exports a guest must (or, for
// [ExportInitialize], may) have, with their signatures. The version marker
// ([MarkerName]) is not listed; its type is () -> ().
func GuestFuncs() map[string]FuncType {
	return map[string]FuncType{
		ExportInitialize: sig(nil),
		ExportInbox:      sig(i32s(1), ValI32),
		ExportInit:       sig(i32s(1), ValI32),
		ExportProcess:    sig(i32s(1), ValI32),
	}
}

// MarkerName returns the name of the version marker export for an ABI
// version: "squall_abi_1_0" for 1.0.
func MarkerName(major, minor int) string {
	return MarkerPrefix + strconv.Itoa(major) + "_" + strconv.Itoa(minor)
}

// ParseMarker parses a version marker export name. It reports false unless
// name is "squall_abi_<major>_<minor>" with both numbers in decimal without
// leading zeros (0 itself is "0") and below 65536.
func ParseMarker(name string) (major, minor int, ok bool) {
	rest, found := strings.CutPrefix(name, MarkerPrefix)
	if !found {
		return 0, 0, false
	}
	a, b, found := strings.Cut(rest, "_")
	if !found {
		return 0, 0, false
	}
	major, ok1 := parseVersionNumber(a)
	minor, ok2 := parseVersionNumber(b)
	return major, minor, ok1 && ok2
}

func parseVersionNumber(s string) (int, bool) {
	if s == "" || len(s) > 5 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, n < 1<<16
}

// CallStatus is what squall_init and squall_process return.
type CallStatus int32

// Call statuses. Any value other than StatusOK means the call failed; the
// host treats every non-zero value as StatusFailed.
const (
	// StatusOK: the call completed; for squall_process every item has an
	// outcome, for squall_init the module definition was flushed.
	StatusOK CallStatus = 0
	// StatusFailed: the call failed as a whole; the guest flushed an ERROR
	// effect saying why. The host discards the call's effects and the
	// instance.
	StatusFailed CallStatus = 1
)

// Errno is a negative error code: host functions return it, and query
// results and effect rejections carry it. Errno implements error.
type Errno int32

// Error codes, as ABI.md §9 defines them. The values are negative.
const (
	// EINVAL: a malformed frame or argument, an ABI violation by the guest.
	EINVAL Errno = -1
	// ENOENT: nothing is parked (take).
	ENOENT Errno = -2
	// EBADID: an index names no depot, PState, topology or stage of the
	// module definition, or an emit stream that does not exist.
	EBADID Errno = -3
	// ETOOBIG: a frame, body or result exceeds a size limit.
	ETOOBIG Errno = -4
	// EWRONGPART: the key belongs to another partition, or the partition
	// does not exist.
	EWRONGPART Errno = -5
	// EQUOTA: a per-call quota is used up.
	EQUOTA Errno = -6
	// ESTATE: not allowed now: wrong phase (query during init, DEFINE
	// during process) or effects out of item order.
	ESTATE Errno = -7
	// EINTERNAL: the host failed; the batch will be retried. The guest
	// should return promptly.
	EINTERNAL Errno = -8
	// EPATH: a malformed path, or one that does not fit the data it
	// navigates (for example incr on a string).
	EPATH Errno = -9
	// ESCHEMA: a value does not fit the PState schema.
	ESCHEMA Errno = -10
	// EMULTI: SELECT_ONE navigated to more than one value.
	EMULTI Errno = -11
	// ETIMEDOUT (1.1): a query invocation ran past its deadline.
	ETIMEDOUT Errno = -12
	// EFAILED (1.1): a query invocation failed; the message says why.
	EFAILED Errno = -13
)

var errnoNames = [...]string{"", "EINVAL", "ENOENT", "EBADID", "ETOOBIG", "EWRONGPART", "EQUOTA",
	"ESTATE", "EINTERNAL", "EPATH", "ESCHEMA", "EMULTI", "ETIMEDOUT", "EFAILED"}

var errnoText = [...]string{"",
	"malformed frame or argument",
	"nothing parked",
	"no such depot, PState, topology, stage or stream",
	"size limit exceeded",
	"key belongs to another partition",
	"quota exceeded",
	"not allowed in this state",
	"host failure",
	"bad path",
	"value does not fit the schema",
	"more than one value",
	"query deadline exceeded",
	"query failed",
}

// String returns the code's name, such as "EINVAL", or "errno(-42)".
func (e Errno) String() string {
	if e < 0 && int(-e) < len(errnoNames) {
		return errnoNames[-e]
	}
	return "errno(" + strconv.Itoa(int(e)) + ")"
}

// Error returns the name and a short description: "EINVAL: malformed frame
// or argument".
func (e Errno) Error() string {
	if e < 0 && int(-e) < len(errnoText) {
		return errnoNames[-e] + ": " + errnoText[-e]
	}
	return e.String()
}

// FrameKind is the second byte of every frame.
type FrameKind uint8

// Frame kinds.
const (
	FrameInit     FrameKind = 1 // host → guest inbox, before squall_init
	FrameBatch    FrameKind = 2 // host → guest inbox, before squall_process
	FrameEffects  FrameKind = 3 // guest → host, flush
	FrameQuery    FrameKind = 4 // guest → host, query
	FrameResponse FrameKind = 5 // host → guest out buffer, query and take
)

var frameKindNames = [...]string{"", "init", "batch", "effects", "query", "response"}

// String returns the frame kind's name: init, batch, effects, query or
// response.
func (k FrameKind) String() string {
	if k >= FrameInit && k <= FrameResponse {
		return frameKindNames[k]
	}
	return "frame(" + strconv.Itoa(int(k)) + ")"
}

// FrameVersion is the first byte of every frame of ABI v1.
const FrameVersion = 1

// Fixed sizes of frame headers, in bytes.
const (
	InitFrameSize       = 32 // the whole init frame
	BatchHeaderSize     = 48 // batch frame header
	ItemHeaderSize      = 32 // header of each batch item
	EffectsHeaderSize   = 8  // effects frame header
	EffectHeaderSize    = 12 // header of each effect
	QueryHeaderSize     = 8  // query frame header
	QueryItemHeaderSize = 8  // header of each query
	ResponseHeaderSize  = 8  // response frame header
	ResultHeaderSize    = 8  // header of each result
)

// Frame size limits, in bytes (ABI.md §10). A host never sends a larger
// frame, and rejects larger guest frames with [ETOOBIG].
const (
	MaxBatchFrame    = 64 << 20
	MaxEffectsFrame  = 16 << 20
	MaxQueryFrame    = 1 << 20
	MaxResponseFrame = 64 << 20
)

// NoItem is the item index of an effect that belongs to no batch item.
const NoItem = 0xFFFF_FFFF

// NoDepot is the depot index of a batch item that is not a depot record.
const NoDepot = 0xFFFF

// InitFlags are the flags of an init frame.
type InitFlags uint16

// InitDescribe marks the deploy-time instance: the host only reads the
// definition and then discards the instance.
const InitDescribe InitFlags = 1

// ItemKind says what a batch item is.
type ItemKind uint8

// Batch item kinds.
const (
	// ItemRecord is a depot record delivered to a source stage.
	ItemRecord ItemKind = 1
	// ItemHop is a hop delivery: a stage continuation sent by HOP.
	ItemHop ItemKind = 2
	// ItemInvoke (1.1) is the invocation of a query's entry stage; its
	// payload is the argument list. Only in [BatchQuery] batches.
	ItemInvoke ItemKind = 3
)

// BatchQuery (1.1) is the batch header flag of a query invocation's
// batches: the header's Topology is an index in the definition's queries.
const BatchQuery uint16 = 1

// String returns the spec name: RECORD, HOP or INVOKE.
func (k ItemKind) String() string {
	switch k {
	case ItemRecord:
		return "RECORD"
	case ItemHop:
		return "HOP"
	case ItemInvoke:
		return "INVOKE"
	}
	return "item_kind(" + strconv.Itoa(int(k)) + ")"
}

// EffectOp is the opcode of an effect.
type EffectOp uint8

// Effect opcodes.
const (
	// EffectAppend appends a record to a depot. Target: depot index; flags:
	// [AckLevel] in bits 0-1, [AppendLocal]; body: the record.
	EffectAppend EffectOp = 1
	// EffectHop runs a stage of the current topology elsewhere. Target:
	// stage index; flags: [Partitioner]; body: key then payload (HASH), u32
	// partition then payload (DIRECT), or payload.
	EffectHop EffectOp = 2
	// EffectTransform applies a transform path to the local partition of a
	// PState. Target: PState index; body: the path.
	EffectTransform EffectOp = 3
	// EffectEmit emits a value on a stream. Target: [EmitAckReturn]; body:
	// the value.
	EffectEmit EffectOp = 4
	// EffectLog writes a line to the operator log. Flags: [LogLevel]; body:
	// UTF-8 text.
	EffectLog EffectOp = 5
	// EffectOutcome closes an item. Flags: [Outcome]; body: empty for OK,
	// else an error detail map.
	EffectOutcome EffectOp = 6
	// EffectDefine carries the module definition (squall_init only). Body:
	// the definition map.
	EffectDefine EffectOp = 7
	// EffectError reports that the whole call failed. Body: an error detail
	// map.
	EffectError EffectOp = 8
	// EffectAggregate (1.1) combines a value into a PState, or into the
	// result of a query invocation, with an [Aggregator] (ABI.md §15.6).
	// Body: the key path (a list), the value, and for AggTopN the int n.
	EffectAggregate EffectOp = 9
)

var effectOpNames = [...]string{"", "APPEND", "HOP", "TRANSFORM", "EMIT", "LOG", "OUTCOME", "DEFINE", "ERROR", "AGGREGATE"}

// String returns the spec name of the op, such as "APPEND".
func (op EffectOp) String() string {
	if op >= EffectAppend && op <= EffectAggregate {
		return effectOpNames[op]
	}
	return "effect_op(" + strconv.Itoa(int(op)) + ")"
}

// AckLevel is how long the appender of a depot record waits (bits 0-1 of
// the flags of APPEND).
type AckLevel uint8

// Ack levels.
const (
	// AckNone: no waiting. Inside a topology the append is still committed
	// with the batch.
	AckNone AckLevel = 0
	// AckAppendAck: durable in the depot. Inside a topology the same as
	// AckNone: the batch commit makes it durable.
	AckAppendAck AckLevel = 1
	// AckAck: durable and processed by every stream topology of the module
	// that reads the depot. Inside a topology the processing of the new
	// record joins the processing tree of the current item's root record.
	AckAck AckLevel = 2
)

var ackNames = [...]string{"NONE", "APPEND_ACK", "ACK"}

// String returns the spec name: NONE, APPEND_ACK or ACK.
func (a AckLevel) String() string {
	if a <= AckAck {
		return ackNames[a]
	}
	return "ack(" + strconv.Itoa(int(a)) + ")"
}

// APPEND flag bits.
const (
	// AppendAckMask selects the [AckLevel] bits of the APPEND flags.
	AppendAckMask = 0x03
	// AppendLocal appends to the current partition of the depot instead of
	// routing by the depot's partitioner.
	AppendLocal = 0x04
)

// Partitioner says where a HOP runs its stage (the flags of HOP).
type Partitioner uint8

// Hop partitioners.
const (
	// PartitionHash: the partition that owns the key ([KeyPartition]).
	PartitionHash Partitioner = 1
	// PartitionAll: every partition of the module.
	PartitionAll Partitioner = 2
	// PartitionGlobal: partition 0.
	PartitionGlobal Partitioner = 3
	// PartitionOrigin: the partition where the processing tree of the
	// current item started.
	PartitionOrigin Partitioner = 4
	// PartitionShuffle: a partition the host chooses (deterministically
	// from the batch seed).
	PartitionShuffle Partitioner = 5
	// PartitionDirect: the partition given in the body.
	PartitionDirect Partitioner = 6
)

var partitionerNames = [...]string{"", "HASH", "ALL", "GLOBAL", "ORIGIN", "SHUFFLE", "DIRECT"}

// String returns the spec name, such as "HASH".
func (p Partitioner) String() string {
	if p >= PartitionHash && p <= PartitionDirect {
		return partitionerNames[p]
	}
	return "partitioner(" + strconv.Itoa(int(p)) + ")"
}

// EmitAckReturn is the emit stream of ack returns: the value becomes this
// topology's ack return for the root record of the current item.
const EmitAckReturn = 0

// EmitQueryResult (1.1) is the emit stream of query results: the value
// replaces the result of the query invocation (only in [BatchQuery]
// batches).
const EmitQueryResult = 1

// QueryResultTarget (1.1) is the AGGREGATE target that names the result of
// the current query invocation instead of a PState.
const QueryResultTarget = 0xFFFF

// LogLevel is the level of a LOG effect (its flags).
type LogLevel uint8

// Log levels.
const (
	LogDebug LogLevel = 0
	LogInfo  LogLevel = 1
	LogWarn  LogLevel = 2
	LogError LogLevel = 3
)

var logLevelNames = [...]string{"DEBUG", "INFO", "WARN", "ERROR"}

// String returns the spec name: DEBUG, INFO, WARN or ERROR.
func (l LogLevel) String() string {
	if l <= LogError {
		return logLevelNames[l]
	}
	return "log_level(" + strconv.Itoa(int(l)) + ")"
}

// Outcome is how processing an item ended (the flags of OUTCOME).
type Outcome uint8

// Item outcomes.
const (
	// OutcomeOK: the item's effects are kept.
	OutcomeOK Outcome = 0
	// OutcomePoison: the item can never succeed; its effects are discarded
	// and it goes to the dead-letter log.
	OutcomePoison Outcome = 1
	// OutcomeRetry: the item failed for a reason that may pass; its effects
	// are discarded and it is delivered again later.
	OutcomeRetry Outcome = 2
)

var outcomeNames = [...]string{"OK", "POISON", "RETRY"}

// String returns the spec name: OK, POISON or RETRY.
func (o Outcome) String() string {
	if o <= OutcomeRetry {
		return outcomeNames[o]
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// QueryOp is the opcode of a query.
type QueryOp uint8

// Query opcodes.
const (
	// QuerySelect returns the list of every value the path navigates to.
	QuerySelect QueryOp = 1
	// QuerySelectOne returns the one value the path navigates to; none is
	// [ResultNotFound], several is [EMULTI].
	QuerySelectOne QueryOp = 2
	// QueryInvoke (1.1) invokes a query topology: the target is its index
	// in the definition's queries and the body the argument list; the
	// result is the invocation's result.
	QueryInvoke QueryOp = 3
)

// String returns the spec name: SELECT, SELECT_ONE or INVOKE.
func (op QueryOp) String() string {
	switch op {
	case QuerySelect:
		return "SELECT"
	case QuerySelectOne:
		return "SELECT_ONE"
	case QueryInvoke:
		return "INVOKE"
	}
	return "query_op(" + strconv.Itoa(int(op)) + ")"
}

// Query result statuses that are not errors. Negative statuses are
// [Errno]s.
const (
	// ResultOK: the body is the result value.
	ResultOK int32 = 0
	// ResultNotFound: SELECT_ONE navigated to nothing; the body is empty.
	ResultNotFound int32 = 1
)

// ResultStatusString returns the spec name of a query result status:
// OK, NOT_FOUND or an [Errno] name.
func ResultStatusString(s int32) string {
	switch s {
	case ResultOK:
		return "OK"
	case ResultNotFound:
		return "NOT_FOUND"
	}
	return Errno(s).String()
}

// HashKey returns the partitioning hash of the canonical encoding of a key:
// 64-bit FNV-1a over the bytes, then the MurmurHash3 fmix64 finalizer (so
// that the low bits depend on every input bit). Every host and SDK test
// harness computes it the same way; testdata/frames/partition.jsonl has
// vectors.
func HashKey(canonical []byte) uint64 {
	h := uint64(0xcbf29ce484222325)
	for _, c := range canonical {
		h ^= uint64(c)
		h *= 0x100000001b3
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// KeyPartition returns the partition, among tasks partitions, that owns the
// key whose canonical encoding is given: HashKey(canonical) mod tasks. It
// returns 0 when tasks is 0.
func KeyPartition(canonical []byte, tasks uint32) uint32 {
	if tasks == 0 {
		return 0
	}
	return uint32(HashKey(canonical) % uint64(tasks))
}

// WASIFunctions lists the functions of WASI preview1 ([WASIModule]) a guest
// may import. ABI.md §8 says how each behaves in the sandbox.
var WASIFunctions = []string{
	"args_get", "args_sizes_get", "environ_get", "environ_sizes_get",
	"clock_res_get", "clock_time_get",
	"fd_advise", "fd_allocate", "fd_close", "fd_datasync", "fd_fdstat_get",
	"fd_fdstat_set_flags", "fd_fdstat_set_rights", "fd_filestat_get",
	"fd_filestat_set_size", "fd_filestat_set_times", "fd_pread", "fd_prestat_get",
	"fd_prestat_dir_name", "fd_pwrite", "fd_read", "fd_readdir", "fd_renumber",
	"fd_seek", "fd_sync", "fd_tell", "fd_write",
	"path_create_directory", "path_filestat_get", "path_filestat_set_times",
	"path_link", "path_open", "path_readlink", "path_remove_directory",
	"path_rename", "path_symlink", "path_unlink_file",
	"poll_oneoff", "proc_exit", "proc_raise", "sched_yield", "random_get",
	"sock_accept", "sock_recv", "sock_send", "sock_shutdown",
}

// ExternKind is the kind of an import or export, numbered as in the binary
// format.
type ExternKind byte

// Import and export kinds.
const (
	ExternFunc   ExternKind = 0
	ExternTable  ExternKind = 1
	ExternMemory ExternKind = 2
	ExternGlobal ExternKind = 3
)

var externNames = [...]string{"function", "table", "memory", "global"}

// String returns function, table, memory or global.
func (k ExternKind) String() string {
	if k <= ExternGlobal {
		return externNames[k]
	}
	return "extern(" + strconv.Itoa(int(k)) + ")"
}

// Import is one import of a compiled module.
type Import struct {
	Module, Name string
	Kind         ExternKind
	Type         FuncType // for functions
}

// Export is one export of a compiled module.
type Export struct {
	Name string
	Kind ExternKind
	Type FuncType // for functions
}

// ModuleInterface is what the host learns from a compiled module before
// instantiating it (wazero: CompiledModule.ImportedFunctions,
// ExportedFunctions, ExportedMemories).
type ModuleInterface struct {
	Imports []Import
	Exports []Export
	// MemoryMinPages is the minimum size of the exported memory, in 64 KiB
	// pages.
	MemoryMinPages uint32
}

// InterfaceError lists every reason a module cannot run on this host, each
// a sentence ABI.md §11 quotes.
type InterfaceError struct {
	// HostMinor is the ABI minor of the host that checked the module.
	HostMinor int
	// Problems are the sentences, in the order of the module's imports,
	// then its exports.
	Problems []string
}

// Error lists the problems, one per line when there are several.
func (e *InterfaceError) Error() string {
	var b strings.Builder
	b.WriteString("abi: the module cannot run on this host (Squall ABI ")
	b.WriteString(strconv.Itoa(Major) + "." + strconv.Itoa(e.HostMinor) + "): ")
	if len(e.Problems) == 1 {
		b.WriteString(e.Problems[0])
		return b.String()
	}
	b.WriteString(strconv.Itoa(len(e.Problems)) + " problems:")
	for _, p := range e.Problems {
		b.WriteString("\n\t")
		b.WriteString(p)
	}
	return b.String()
}

// CheckInterface checks a compiled module against ABI v1 as a host
// supporting minors up to hostMinor with a memory limit of memLimitPages
// pages (0: no limit). It returns the ABI minor the module needs (from its
// marker) or an [*InterfaceError] listing every problem.
func CheckInterface(m ModuleInterface, hostMinor int, memLimitPages uint32) (int, error) {
	var probs []string
	add := func(s string) { probs = append(probs, s) }
	host := HostFuncs()
	wasi := make(map[string]bool, len(WASIFunctions))
	for _, n := range WASIFunctions {
		wasi[n] = true
	}
	otherMajors := map[string]bool{}
	for _, im := range m.Imports {
		where := "import " + strconv.Quote(im.Module) + "." + strconv.Quote(im.Name)
		switch {
		case im.Module == ImportModule || im.Module == WASIModule:
			if im.Kind != ExternFunc {
				add(where + ": is a " + im.Kind.String() + "; a Squall module may import only functions (it must define and export its own memory)")
				continue
			}
			if im.Module == WASIModule {
				if !wasi[im.Name] {
					add(where + ": not a WASI preview1 function")
				}
				continue
			}
			want, ok := host[im.Name]
			if !ok {
				add(where + ": this host (Squall ABI " + strconv.Itoa(Major) + "." + strconv.Itoa(hostMinor) +
					") has no such function; the module may need a newer host")
				continue
			}
			if !im.Type.equal(want) {
				add(where + ": has type " + im.Type.String() + "; ABI v1 defines " + want.String())
			}
		case strings.HasPrefix(im.Module, "squall_v"):
			if otherMajors[im.Module] {
				continue
			}
			otherMajors[im.Module] = true
			add(where + ": the module was built for Squall ABI " + strings.TrimPrefix(im.Module, "squall_") +
				" and this host speaks v" + strconv.Itoa(Major) + " (import module " + strconv.Quote(ImportModule) +
				"); deploy it to a host that supports that version, or rebuild it with a v" + strconv.Itoa(Major) + " SDK")
		default:
			add(where + ": a Squall module may import only from " + strconv.Quote(ImportModule) +
				" and " + strconv.Quote(WASIModule))
		}
	}

	exports := make(map[string]Export, len(m.Exports))
	var markers []string
	for _, ex := range m.Exports {
		exports[ex.Name] = ex
		if strings.HasPrefix(ex.Name, MarkerPrefix) {
			markers = append(markers, ex.Name)
		}
	}
	if ex, ok := exports[ExportMemory]; !ok {
		add("export \"memory\": missing; a Squall module must export its linear memory as \"memory\"")
	} else if ex.Kind != ExternMemory {
		add("export \"memory\": is a " + ex.Kind.String() + ", not a memory")
	} else if memLimitPages > 0 && m.MemoryMinPages > memLimitPages {
		add("export \"memory\": the module needs at least " + pagesText(m.MemoryMinPages) +
			" of memory and the limit is " + pagesText(memLimitPages) + "; raise the memory limit or reduce the module's initial memory")
	}
	if _, ok := exports[ExportStart]; ok {
		add("export \"_start\": the module is a WASI command; build it as a reactor " +
			"(Go: -buildmode=c-shared; Rust: crate-type cdylib; C: -mexec-model=reactor)")
	}
	guest := GuestFuncs()
	for _, name := range []string{ExportInitialize, ExportInbox, ExportInit, ExportProcess} {
		want := guest[name]
		ex, ok := exports[name]
		switch {
		case !ok && name == ExportInitialize:
		case !ok:
			add("export " + strconv.Quote(name) + ": missing; it must be a function of type " + want.String() +
				" (Squall SDKs define it)")
		case ex.Kind != ExternFunc:
			add("export " + strconv.Quote(name) + ": is a " + ex.Kind.String() + ", not a function of type " + want.String())
		case !ex.Type.equal(want):
			add("export " + strconv.Quote(name) + ": has type " + ex.Type.String() + "; want " + want.String())
		}
	}

	minor := -1
	switch len(markers) {
	case 0:
		add("no ABI version marker: the module must export a function named " +
			strconv.Quote(MarkerPrefix+strconv.Itoa(Major)+"_<minor>") + "; was it built with a Squall SDK?")
	case 1:
		name := markers[0]
		ex := exports[name]
		mj, mn, ok := ParseMarker(name)
		switch {
		case !ok:
			add("export " + strconv.Quote(name) + ": not a valid ABI version marker; the form is " +
				strconv.Quote(MarkerPrefix+"<major>_<minor>") + " in decimal")
		case ex.Kind != ExternFunc || !ex.Type.equal(FuncType{}):
			add("export " + strconv.Quote(name) + ": the ABI version marker must be a function of type () -> ()")
		case mj != Major:
			add("export " + strconv.Quote(name) + ": the module needs Squall ABI " + strconv.Itoa(mj) + "." +
				strconv.Itoa(mn) + " and this host speaks " + strconv.Itoa(Major) + "." + strconv.Itoa(hostMinor))
		case mn > hostMinor:
			add("export " + strconv.Quote(name) + ": the module needs Squall ABI " + strconv.Itoa(mj) + "." +
				strconv.Itoa(mn) + " and this host supports up to " + strconv.Itoa(Major) + "." +
				strconv.Itoa(hostMinor) + "; upgrade the host")
		default:
			minor = mn
		}
	default:
		q := make([]string, len(markers))
		for i, n := range markers {
			q[i] = strconv.Quote(n)
		}
		add("several ABI version markers (" + strings.Join(q, ", ") + "); export exactly one")
	}
	if len(probs) > 0 {
		return -1, &InterfaceError{HostMinor: hostMinor, Problems: probs}
	}
	return minor, nil
}

// pagesText renders a page count with its size: "600 pages (37.5 MiB)".
func pagesText(pages uint32) string {
	mib := float64(pages) * 64 / 1024
	return strconv.FormatUint(uint64(pages), 10) + " pages (" + strconv.FormatFloat(mib, 'f', -1, 64) + " MiB)"
}
