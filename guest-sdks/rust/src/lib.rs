//! The Squall SDK for Rust: write Squall modules — depots, PStates and
//! stream topologies whose stages are ordinary Rust functions — compiled to
//! one WebAssembly file that a Squall server runs.
//!
//! It targets the Squall guest ABI 1.0, and 1.1 for microbatch and query
//! topologies, aggregation and tick depots (`abi/ABI.md` in the Squall
//! repository, §15; see [`module!`]); users never see the ABI. It needs Rust 1.63 or later and
//! has no dependencies.
//!
//! # A module
//!
//! A module is a `cdylib` crate whose definition function declares its
//! depots, PStates and topologies; [`module!`] registers it and emits the
//! exports the host calls.
//!
//! ```
//! use squall::{key, Ctx, Module, Partitioner, Schema, Value};
//!
//! pub fn define(m: &mut Module) {
//!     m.name("wordcount");
//!     let sentences = m.depot("sentences", Partitioner::HashBy(key("user")));
//!     let counts = m.pstate("$$counts", Schema::map_of(Schema::String, Schema::Int));
//!
//!     let mut t = m.stream("wordcount");
//!     let count = t.stage("count", move |ctx: &mut Ctx, word: String| {
//!         ctx.transform(&counts, key(word).nil_to_val(0).incr(1))
//!     });
//!     let split = t.stage("split", move |ctx: &mut Ctx, rec: Value| {
//!         let text: String = rec.field_as("text")?;
//!         for w in text.split_whitespace() {
//!             ctx.hop(&count, w, w)?; // count each word on the partition that owns it
//!         }
//!         Ok(())
//!     });
//!     t.source(&sentences, &split);
//! }
//!
//! squall::module!(define);
//! # fn main() {
//! #     let mut h = squall::testing::Harness::new(define, 4);
//! #     h.append("sentences", squall::map! {"user" => "ann", "text" => "to be or not to be"});
//! #     assert_eq!(h.select_one("$$counts", key("be")), Value::Int(2));
//! # }
//! ```
//!
//! Build it with `crate-type = ["cdylib", "rlib"]` for `wasm32-wasip1`
//! (`wasm32-wasi` on older toolchains): see the crate's README.
//!
//! # Declarations
//!
//! A [`Module`] declares [`Depot`]s (partitioned logs, routed by a
//! [`Partitioner`]), [`PState`]s (partitioned indexes with a [`Schema`];
//! large collections [`Schema::subindexed`]) and stream [`Topology`]s made
//! of named [`Stage`]s, started by [`Topology::source`]. The handles it
//! returns are small `Copy` values that stages capture: `ctx.append(&depot,
//! ...)`, `ctx.hop(&stage, ...)`, `ctx.transform(&pstate, ...)`. The SDK
//! checks the definition as the host does and reports every problem at
//! once, in tests too.
//!
//! # Microbatch and query topologies (ABI 1.1)
//!
//! [`Module::microbatch`] declares a topology processed exactly once, in
//! microbatches that commit atomically on every partition;
//! [`Topology::owns`] names the PStates it writes; [`Ctx::aggregate`]
//! combines values into PStates with an [`Agg`]regator. [`Module::query`]
//! declares a query topology, invoked on demand ([`Ctx::invoke`] from a
//! stage); its stages set the result ([`Ctx::set_result`],
//! [`Ctx::aggregate_result`]). [`Module::tick_depot`] declares a depot the
//! host appends to periodically. A module that uses them registers with
//! `squall::module!(define, abi = "1.1")`.
//!
//! # Stages
//!
//! A stage is an ordinary synchronous function `FnMut(&mut Ctx, T) ->
//! squall::Result` of the item's input converted to a `T` ([`FromValue`];
//! [`Value`] takes anything). Through the [`Ctx`] a stage appends to depots
//! ([`Ctx::append`]), continues its work on other partitions
//! ([`Ctx::hop`] by key, [`Ctx::hop_all`], [`Ctx::hop_global`],
//! [`Ctx::hop_origin`], [`Ctx::hop_shuffle`], [`Ctx::hop_direct`]), reads
//! its partition of PStates ([`Ctx::select`], [`Ctx::select_one`]), writes
//! it ([`Ctx::transform`]), sets the ack return ([`Ctx::emit`]) and logs
//! ([`Ctx::log`]). It learns where and when it runs from
//! [`Ctx::partition`], [`Ctx::attempt`], [`Ctx::batch_time`] and
//! [`Ctx::rand`], which replay the same on every attempt.
//!
//! The effects of an item commit atomically with its progress, and only if
//! the stage returns `Ok`. A stage that returns an [`Error`] is retried
//! later (up to the host's limit, then dead-lettered); a poison error
//! ([`Error::poison`], [`poison!`]) dead-letters the item at once. Errors
//! that can never pass — a path that does not fit the schema, an input that
//! does not convert — poison the item by themselves.
//!
//! # Panics
//!
//! A panic in a stage is contained and reported with its message, but it
//! costs more than an error. Rust for `wasm32-wasi` aborts on panic (there
//! is no unwinding in WebAssembly without the exception-handling proposal,
//! which Squall does not enable), so a panic cannot become the item's
//! outcome the way a returned error does. Instead the SDK's panic hook
//! flushes an `ERROR` effect naming the item (kind `panic`, message
//! `panic: <message>`, stack `at <file>:<line>:<col>`), the default hook
//! writes the panic to stderr (the operator log), and the instance traps.
//! The host discards the instance and the whole call's effects, retries the
//! batch once on a fresh instance, then delivers its items one at a time:
//! the other items succeed, and the panicking item is dead-lettered after
//! the maximum attempts (8 by default). Today the host's dead letter
//! carries the trap (`thread '<unnamed>' panicked at '<message>',
//! src/lib.rs:9:21`, from stderr) rather than the ERROR's detail. Logs of
//! the failing call that were not flushed yet are lost.
//!
//! [`testing::Harness`] reproduces this natively: it catches the panic
//! (native builds unwind), fails the call with the same ERROR, discards the
//! instance, retries and isolates like the host, and dead-letters the item
//! with kind `panic`. Return errors for failures you expect; keep panics
//! for bugs.
//!
//! # Values
//!
//! Records, keys, payloads and PState contents are [`Value`]s: nil, bool,
//! i64, f64, string, bytes, list, map (with keys of any kind) or set,
//! encoded as canonical MessagePack so that every SDK produces the same
//! bytes and the same partitions. Methods take `impl Into<Value>`:
//! strings, ints, vectors, maps, `Option`s and your own types that
//! implement `From<T> for Value`; [`FromValue`] converts back.
//!
//! # Paths
//!
//! Reads and writes of PStates are [`Path`]s, built from [`Path::new`] or
//! [`key`] with builder methods, or with [`path!`]: navigators (key,
//! must_key, map_vals, map_keys, all, first, last, nth, sorted_range,
//! filter, nil_to_val, view) and, for transforms, one terminal (set, incr,
//! append, prepend, remove, merge). They run in the host, next to the data.
//!
//! # Testing
//!
//! [`testing::Harness`] runs a module natively under `cargo test`, with an
//! in-memory host that has the real host's semantics.
//!
//! # What a module may assume
//!
//! The host runs a module in a sandbox: no network, read-only files at
//! most, deterministic clocks and random bytes per batch. Global and
//! thread-local state lives in one instance, not in a partition, and the
//! host discards instances at any time: keep state in PStates. The
//! definition function runs in every instance and must declare the same
//! module every time.
#![warn(missing_docs)]
// The test harness is not built for wasm32; some helpers only it uses.
#![cfg_attr(target_arch = "wasm32", allow(dead_code))]

mod aggregate;
mod convert;
mod ctx;
mod defcheck;
mod error;
mod frames;
#[doc(hidden)]
pub mod glue;
mod module;
mod msgpack;
mod partition;
mod path;
mod rand;
mod runtime;
mod schema;
mod value;
mod wire;

#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use aggregate::Agg;
pub use convert::{wrong_kind, Bytes, ConvertError, FromValue};
pub use ctx::{AckLevel, AppendOptions, Ctx, LogLevel};
pub use defcheck::{check_definition, DefError, DefProblem};
pub use error::{Errno, Error, ErrorKind, Result, ResultExt};
pub use module::{Depot, Module, PState, Partitioner, Query, QueryTopology, Stage, StartFrom, Topology};
pub use msgpack::{canonicalize, decode, decode_prefix, encode, encode_into, is_canonical, DecodeError, EncodeError, MAX_DEPTH};
pub use partition::{hash_key, key_partition};
pub use path::{key, FilterOp, Path, PathError, PathMode, RangeOpts, ViewFn};
pub use rand::Rng;
pub use schema::Schema;
pub use value::{Kind, MapIter, Value, ValueMap, ValueSet};

/// Registers a module's definition function (a `fn(&mut Module)`) and, when
/// built for WebAssembly, emits the exports of the Squall ABI that the host
/// calls: `squall_inbox`, `squall_init`, `squall_process` and the version
/// marker (the module imports `flush`, `query` and `take` from
/// `squall_v1`). Use it once, in the module's crate root.
///
/// ```
/// fn define(m: &mut squall::Module) { /* ... */ }
/// squall::module!(define);
/// # fn main() {}
/// ```
///
/// `squall::module!(define)` targets ABI 1.0 (marker `squall_abi_1_0`), so
/// that the module runs on every Squall host. A module that declares
/// microbatch topologies, query topologies, tick depots, PState owners,
/// source start positions, or aggregates, needs ABI 1.1: register it with
/// `squall::module!(define, abi = "1.1")` (marker `squall_abi_1_1`). A
/// module that uses 1.1 features with the 1.0 form fails at deploy with a
/// message that says so.
///
/// ```
/// fn define(m: &mut squall::Module) { /* m.microbatch(...) */ }
/// squall::module!(define, abi = "1.1");
/// # fn main() {}
/// ```
///
/// Native builds (tests) get nothing: run the definition function with
/// [`testing::Harness`].
#[macro_export]
macro_rules! module {
    ($define:path) => {
        $crate::__squall_exports!($define, squall_abi_1_0, 0);
    };
    ($define:path, abi = "1.0") => {
        $crate::__squall_exports!($define, squall_abi_1_0, 0);
    };
    ($define:path, abi = "1.1") => {
        $crate::__squall_exports!($define, squall_abi_1_1, 1);
    };
}

/// The exports of [`module!`]; not for direct use.
#[doc(hidden)]
#[macro_export]
macro_rules! __squall_exports {
    ($define:path, $marker:ident, $minor:expr) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            /// The ABI version marker: the highest ABI minor this module needs.
            #[no_mangle]
            pub extern "C" fn $marker() {}

            #[no_mangle]
            pub extern "C" fn squall_inbox(min_cap: i32) -> i32 {
                $crate::glue::inbox(min_cap, $define, $minor)
            }

            #[no_mangle]
            pub extern "C" fn squall_init(len: i32) -> i32 {
                $crate::glue::init(len, $define, $minor)
            }

            #[no_mangle]
            pub extern "C" fn squall_process(len: i32) -> i32 {
                $crate::glue::process(len, $define, $minor)
            }
        };
    };
}

#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) use testing::frames as testing_frames;
