//! Runs Squall modules under `cargo test`, natively (no wasm, no server),
//! with an in-memory host that has the real host's semantics:
//!
//! - the module's definition runs and is checked as at deploy (every
//!   problem reported at once), twice, to catch a non-deterministic one;
//! - client appends go through the depot's partitioner, hops through their
//!   partitioner, with the host's key hashing (FNV-1a 64 and fmix64 of the
//!   canonical key), so that data lands on the partitions it will land on
//!   in production;
//! - stages run in batches of one topology on one partition, through the
//!   same ABI frames and the same SDK runtime as in wasm, with
//!   read-your-writes inside a batch;
//! - transforms and selects run on in-memory PStates with the host's path
//!   engine semantics and messages, schema checks included, and the host's
//!   partition rules (a key of another partition is rejected);
//! - an item that fails is retried ([`Ctx::attempt`](crate::Ctx::attempt)
//!   grows) and dead-lettered after the maximum attempts; a poisoned or
//!   rejected item is dead-lettered at once; failed items leave no effects
//!   but their logs;
//! - a panic in a stage fails the whole call, as it traps the instance in
//!   wasm: the harness discards the instance, retries the batch once, then
//!   runs its items one by one, and dead-letters the panicking item after
//!   the maximum attempts (the host's isolation, `abi/ABI.md` §12.4).
//!
//! - ABI 1.1: microbatch topologies run in microbatches over every
//!   partition, with their hops, all or nothing: a failed item reruns the
//!   whole microbatch, a poisoned one dead-letters its source record and
//!   the microbatch runs again without it, and after the maximum attempts
//!   the topology pauses ([`Harness::paused`], [`Harness::resume`]);
//!   aggregations are combined as the host does; query topologies run with
//!   [`Harness::query`] and from stages ([`Ctx::invoke`](crate::Ctx::invoke),
//!   on the committed state); tick depots tick with [`Harness::advance`]
//!   and [`Harness::tick`].
//!
//! The harness mirrors the Go SDK's `squalltest` package: with the same
//! module and the same seed, the same data lands on the same partitions,
//! random depots and shuffle hops pick the same partitions, and
//! [`Ctx::rand`](crate::Ctx::rand) draws the same numbers.
//!
//! A test appends records, which runs every topology until nothing is left
//! to do, then inspects PStates, depots, ack returns, dead letters and
//! logs:
//!
//! ```
//! use squall::testing::Harness;
//! use squall::{key, map, Ctx, Module, Partitioner, Schema, Value};
//!
//! fn define(m: &mut Module) {
//!     let words = m.depot("words", Partitioner::HashRecord);
//!     let counts = m.pstate("$$counts", Schema::map_of(Schema::String, Schema::Int));
//!     let mut t = m.stream("count");
//!     let s = t.stage("count", move |ctx: &mut Ctx, w: String| ctx.transform(&counts, key(w).incr(1)));
//!     t.source(&words, &s);
//! }
//!
//! let mut h = Harness::new(define, 4);
//! h.append("words", "hello");
//! h.append("words", "hello");
//! assert_eq!(h.select_one("$$counts", key("hello")), Value::Int(2));
//! ```
//!
//! Anything the SDK does that the host would refuse — a malformed frame,
//! an effect out of order, a call that fails for another reason than a
//! panic — fails the test: it is a bug of the SDK, not of the module.
//! Methods that fail a test panic with the reason.

mod aggregate;
mod engine;
pub(crate) mod frames;
mod host;
mod run;
mod schema;

#[cfg(test)]
mod conformance;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::Rc;

use crate::defcheck::check_definition;
use crate::module::Module;
use crate::msgpack;
use crate::partition::key_partition;
use crate::path::{Path, PathMode};
use crate::rand::Rng;
use crate::runtime::{DefineFn, Instance};
use crate::schema::SNode;
use crate::value::{quote, Value};
use crate::wire::*;

pub use crate::frames::ErrorDetail;

use engine::{first_key, host_path_error, path_steps, select_value, PStore, Steps};
use frames::{append_batch, BatchHeaderOut, BatchItemOut};
use host::{undo_all, Call, FakeHost};
use run::{init_instance, run_invocation, run_microbatch, Paused};

/// The options of a [`Harness`].
///
/// ```
/// use squall::testing::Options;
/// let o = Options::new().batch_size(10).max_attempts(3).manual().quiet();
/// ```
#[derive(Clone, Debug)]
pub struct Options {
    batch_size: usize,
    max_attempts: u32,
    seed: u64,
    start_unix_nano: i64,
    quiet: bool,
    manual: bool,
    max_batches: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            batch_size: 16,
            max_attempts: 8,
            seed: 0x5eed,
            start_unix_nano: 1_700_000_000_000_000_000,
            quiet: false,
            manual: false,
            max_batches: 200_000,
        }
    }
}

impl Options {
    /// The defaults: batches of 16 items, 8 attempts, a fixed seed, logs
    /// echoed to stderr, appends run at once.
    pub fn new() -> Options {
        Options::default()
    }

    /// How many items a batch holds at most (default 16). A batch runs
    /// items of one topology on one partition, in order; later items see
    /// the transforms of earlier ones.
    pub fn batch_size(mut self, n: usize) -> Options {
        self.batch_size = n.max(1);
        self
    }

    /// How many failed deliveries dead-letter an item (default 8, as the
    /// host).
    pub fn max_attempts(mut self, n: u32) -> Options {
        self.max_attempts = n.max(1);
        self
    }

    /// The seed of the batches (random depots, shuffle hops,
    /// `Ctx::rand`). The default is fixed, so runs are reproducible.
    pub fn seed(mut self, seed: u64) -> Options {
        self.seed = seed;
        self
    }

    /// The time of the first batch, in nanoseconds since the Unix epoch;
    /// each batch is 1 ms later.
    pub fn start_time_nanos(mut self, t: i64) -> Options {
        self.start_unix_nano = t;
        self
    }

    /// Stops echoing the module's logs to stderr.
    pub fn quiet(mut self) -> Options {
        self.quiet = true;
        self
    }

    /// Makes [`Harness::append`] only queue records: nothing runs until
    /// [`Harness::run`], so that several records can be processed
    /// together.
    pub fn manual(mut self) -> Options {
        self.manual = true;
        self
    }
}

/// What a harness processed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// squall_process calls.
    pub batches: usize,
    /// Items delivered (records and hops, retries included).
    pub items: usize,
    /// Items that ended RETRY.
    pub retries: usize,
    /// Calls that failed (panics).
    pub failed_calls: usize,
    /// Items dead-lettered.
    pub dead_letters: usize,
    /// Microbatches committed.
    pub microbatches: usize,
}

/// An item that was poisoned, or failed too many times.
#[derive(Clone, Debug, PartialEq)]
pub struct DeadLetter {
    /// The topology.
    pub topology: String,
    /// The stage that failed.
    pub stage: String,
    /// The partition it ran on.
    pub partition: u32,
    /// "record" for a depot record, "hop" for a hop delivery.
    pub kind: String,
    /// The depot of a record.
    pub depot: String,
    /// The offset of a record.
    pub offset: u64,
    /// The record or hop payload.
    pub input: Value,
    /// How many times it was delivered.
    pub attempts: u32,
    /// Why: `kind` is "poison", "panic", "rejected", "query", "input",
    /// "error" or "retry"; `stack` says where a panic happened.
    pub error: ErrorDetail,
}

/// A line the module logged with [`Ctx::log`](crate::Ctx::log).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Log {
    /// DEBUG, INFO, WARN or ERROR.
    pub level: String,
    /// The text.
    pub text: String,
    /// The topology ("" during init).
    pub topology: String,
    /// The partition.
    pub partition: u32,
    /// The stage of the item, or "" for a line of no item.
    pub stage: String,
}

type Root = Rc<RefCell<BTreeMap<String, Value>>>;

/// A record appended with [`Harness::append`].
#[derive(Clone, Debug)]
pub struct Appended {
    /// The depot.
    pub depot: String,
    /// The partition it was routed to.
    pub partition: u32,
    /// Its offset in the depot partition.
    pub offset: u64,
    /// The record.
    pub record: Value,
    root: Root,
}

impl Appended {
    /// The value the named topology emitted for the record (with
    /// [`Ctx::emit`](crate::Ctx::emit), during the record's processing and
    /// its hops), if it emitted one.
    pub fn ack_return(&self, topology: &str) -> Option<Value> {
        self.root.borrow().get(topology).cloned()
    }

    /// Every topology's ack return for the record.
    pub fn ack_returns(&self) -> BTreeMap<String, Value> {
        self.root.borrow().clone()
    }
}

/// An item waiting for a batch.
#[derive(Clone)]
pub(crate) struct Pending {
    kind: u8,
    pub stage: u16,
    depot: u16,
    attempt: u16,
    source_partition: u32,
    offset: u64,
    event_time: i64,
    payload: Vec<u8>,
    root: Root,
    pub origin: usize,
    /// In a microbatch: the index of the source record the item descends
    /// from.
    pub src: usize,
    /// Delivered alone: it was in a call that failed twice.
    isolate: bool,
    /// The error of its last failed call.
    last_err: Option<ErrorDetail>,
}

pub(crate) struct DepotDef {
    pub name: String,
    pub kind: String,
    key: Option<Steps>,
    /// The period of a tick depot, in milliseconds.
    pub tick: Option<i64>,
}

pub(crate) struct PStateDef {
    pub name: String,
    pub schema: SNode,
    pub global: bool,
    pub owner: Option<String>,
}

pub(crate) struct TopoDef {
    pub name: String,
    pub stages: Vec<String>,
    sources: Vec<(usize, usize)>,
    pub microbatch: bool,
    pub max_records: usize,
    /// The argument names of a query.
    pub args: Vec<String>,
}

/// The module definition, as the host reads it.
#[derive(Default)]
pub(crate) struct Definition {
    pub depots: Vec<DepotDef>,
    pub pstates: Vec<PStateDef>,
    pub topos: Vec<TopoDef>,
    pub queries: Vec<TopoDef>,
}

impl Definition {
    /// A topology, or with query a query topology.
    pub(crate) fn topo(&self, query: bool, i: usize) -> &TopoDef {
        if query {
            &self.queries[i]
        } else {
            &self.topos[i]
        }
    }
}

fn s(v: &Value, k: &str) -> String {
    v.field(k).as_str().unwrap_or("").to_string()
}

fn parse_definition(v: &Value) -> Definition {
    let mut d = Definition::default();
    for dv in v.field("depots").items() {
        let part = dv.field("partitioner");
        let key = match part.field("key") {
            Value::Nil => None,
            kv => path_steps(kv, PathMode::Select).ok(),
        };
        d.depots.push(DepotDef { name: s(dv, "name"), kind: s(part, "kind"), key, tick: part.field("millis").as_int() });
    }
    for pv in v.field("pstates").items() {
        d.pstates.push(PStateDef {
            name: s(pv, "name"),
            schema: schema::parse_schema(pv.field("schema")),
            global: pv.field("global").as_bool().unwrap_or(false),
            owner: pv.field("owner").as_str().map(|o| o.to_string()),
        });
    }
    for tv in v.field("topologies").items() {
        let stages: Vec<String> = tv.field("stages").items().iter().map(|x| x.as_str().unwrap_or("").to_string()).collect();
        let sources = tv
            .field("sources")
            .items()
            .iter()
            .map(|src| {
                let depot = d.depots.iter().position(|x| x.name == s(src, "depot")).unwrap_or(usize::MAX);
                let stage = stages.iter().position(|x| *x == s(src, "stage")).unwrap_or(usize::MAX);
                (depot, stage)
            })
            .collect();
        d.topos.push(TopoDef {
            name: s(tv, "name"),
            stages,
            sources,
            microbatch: s(tv, "kind") == "microbatch",
            max_records: tv.field("max_records").as_int().unwrap_or(1000).max(1) as usize,
            args: vec![],
        });
    }
    for qv in v.field("queries").items() {
        let strs = |k: &str| -> Vec<String> { qv.field(k).items().iter().map(|x| x.as_str().unwrap_or("").to_string()).collect() };
        d.queries.push(TopoDef {
            name: s(qv, "name"),
            stages: strs("stages"),
            sources: vec![],
            microbatch: false,
            max_records: 0,
            args: strs("args"),
        });
    }
    d
}

fn names<'a, I: Iterator<Item = &'a str>>(it: I) -> String {
    let mut q: Vec<String> = it.map(quote).collect();
    if q.is_empty() {
        return "none".into();
    }
    q.sort();
    q.join(", ")
}

/// The harness's state, shared with its instances' fake host.
pub(crate) struct State {
    pub opts: Options,
    pub tasks: u32,
    pub def: Definition,
    depots: Vec<Vec<Vec<Value>>>,
    pub pstates: Vec<Vec<PStore>>,
    queues: Vec<Vec<VecDeque<Pending>>>,
    batch_ids: HashMap<(usize, usize), u64>,
    clock: i64,
    rnd: Rng,
    pub call: Option<Call>,
    dead: Vec<DeadLetter>,
    pub logs: Vec<Log>,
    stats: Stats,
    /// The definition function, for the instances of nested queries.
    pub define: Option<DefineFn>,
    /// How deep query invocations nest now.
    pub depth: usize,
    /// Query invocations so far (their batch ids; origins go round-robin).
    pub invocations: u64,
    /// The next microbatch number of each microbatch topology.
    microbatch_ids: HashMap<usize, u64>,
    /// Paused microbatch topologies.
    paused: HashMap<usize, Paused>,
    /// The next due time of each tick depot, in Unix milliseconds.
    next_tick: HashMap<usize, i64>,
    /// Undoes what the running microbatch staged so far, in order:
    /// (pstate, partition, undo). A query invoked meanwhile reads the
    /// committed state, without it.
    pub staged: Vec<(usize, usize, engine::Undo)>,
}

impl State {
    /// The depot partition of a record appended without local.
    pub(crate) fn route(&self, di: usize, v: &Value, rnd: &mut Rng) -> usize {
        let d = &self.def.depots[di];
        if d.kind == "random" {
            return rnd.below(self.tasks as u64) as usize;
        }
        let mut key = v.clone();
        if let Some(k) = &d.key {
            key = Value::Nil;
            if let Ok(vs) = select_value(v, None, k, false) {
                if let Some(first) = vs.into_iter().next() {
                    key = first;
                }
            }
        }
        key_partition(&key, self.tasks).unwrap_or(0) as usize
    }

    /// Appends to a depot partition and queues the record for the
    /// topologies that read the depot.
    fn append_record(&mut self, depot: usize, partition: usize, v: &Value, root: &Root) -> u64 {
        let recs = &mut self.depots[depot][partition];
        let off = recs.len() as u64;
        recs.push(v.clone());
        let payload = msgpack::encode(v).unwrap_or_default();
        for (ti, t) in self.def.topos.iter().enumerate() {
            for &(sd, ss) in &t.sources {
                if sd != depot {
                    continue;
                }
                self.queues[ti][partition].push_back(Pending {
                    kind: ITEM_RECORD,
                    stage: ss as u16,
                    depot: depot as u16,
                    attempt: 0,
                    source_partition: partition as u32,
                    offset: off,
                    event_time: self.clock,
                    payload: payload.clone(),
                    root: root.clone(),
                    origin: partition,
                    src: 0,
                    isolate: false,
                    last_err: None,
                });
            }
        }
        off
    }

    fn dead_letter(&mut self, ti: usize, partition: usize, it: &Pending, error: ErrorDetail) {
        let t = &self.def.topos[ti];
        let mut dl = DeadLetter {
            topology: t.name.clone(),
            stage: t.stages[it.stage as usize].clone(),
            partition: partition as u32,
            kind: "hop".into(),
            depot: String::new(),
            offset: 0,
            input: msgpack::decode(&it.payload).unwrap_or(Value::Nil),
            attempts: it.attempt as u32 + 1,
            error,
        };
        if it.kind == ITEM_RECORD {
            dl.kind = "record".into();
            dl.depot = self.def.depots[it.depot as usize].name.clone();
            dl.offset = it.offset;
        }
        self.dead.push(dl);
        self.stats.dead_letters += 1;
    }
}

/// An in-memory Squall host for one module, for native unit tests: no
/// wasm, no server. See the [module documentation](self).
pub struct Harness {
    state: Rc<RefCell<State>>,
    define: DefineFn,
    inst: Instance,
    def_bytes: Vec<u8>,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Harness({} partitions)", self.partitions())
    }
}

impl Harness {
    /// Starts a harness with the given number of partitions (a power of two
    /// on a real deployment) for the module defined by `define`. It panics
    /// when the definition is invalid, with every problem the host would
    /// report.
    pub fn new<F: Fn(&mut Module) + 'static>(define: F, partitions: u32) -> Harness {
        Harness::with_options(define, partitions, Options::default())
    }

    /// [`Harness::new`] with options.
    pub fn with_options<F: Fn(&mut Module) + 'static>(define: F, partitions: u32, opts: Options) -> Harness {
        if partitions < 1 {
            panic!("squall::testing: Harness::new: 0 partitions; a module has at least 1");
        }
        let state = Rc::new(RefCell::new(State {
            rnd: Rng::new(opts.seed, 0x517c_c1b7_2722_0a95),
            clock: opts.start_unix_nano,
            opts,
            tasks: partitions,
            def: Definition::default(),
            depots: vec![],
            pstates: vec![],
            queues: vec![],
            batch_ids: HashMap::new(),
            call: None,
            dead: vec![],
            logs: vec![],
            stats: Stats::default(),
            define: None,
            depth: 0,
            invocations: 0,
            microbatch_ids: HashMap::new(),
            paused: HashMap::new(),
            next_tick: HashMap::new(),
            staged: vec![],
        }));
        let define: DefineFn = Rc::new(define);
        state.borrow_mut().define = Some(define.clone());
        let describe = Instance::new(define.clone(), Box::new(FakeHost { state: state.clone() }));
        let mut h = Harness {
            inst: Instance::new(define.clone(), Box::new(FakeHost { state: state.clone() })),
            state,
            define,
            def_bytes: vec![],
        };
        let mut describe = describe;
        let def = h.run_init(&mut describe, INIT_DESCRIBE);
        let v = msgpack::decode(&def).unwrap_or(Value::Nil);
        if let Err(e) = check_definition(&v) {
            panic!("squall::testing: the module definition is invalid: {}", e);
        }
        h.def_bytes = def;
        {
            let mut st = h.state.borrow_mut();
            st.def = parse_definition(&v);
            let tasks = st.tasks as usize;
            st.depots = (0..st.def.depots.len()).map(|_| vec![vec![]; tasks]).collect();
            st.pstates = st.def.pstates.iter().map(|p| (0..tasks).map(|_| PStore::new(p.schema.clone())).collect()).collect();
            st.queues = (0..st.def.topos.len()).map(|_| (0..tasks).map(|_| VecDeque::new()).collect()).collect();
            let now_ms = st.clock / 1_000_000;
            let ticks: Vec<(usize, i64)> =
                st.def.depots.iter().enumerate().filter_map(|(i, d)| d.tick.map(|ms| (i, now_ms + ms))).collect();
            st.next_tick = ticks.into_iter().collect();
        }
        let mut inst = std::mem::replace(&mut h.inst, Instance::new(h.define.clone(), Box::new(FakeHost { state: h.state.clone() })));
        h.start_instance(&mut inst);
        h.inst = inst;
        h
    }

    /// Runs squall_init on a processing instance; its definition must be
    /// the deployed one.
    fn start_instance(&mut self, inst: &mut Instance) {
        let again = self.run_init(inst, 0);
        if again != self.def_bytes {
            let a = msgpack::decode(&again).unwrap_or(Value::Nil);
            let b = msgpack::decode(&self.def_bytes).unwrap_or(Value::Nil);
            panic!("squall::testing: the module's definition is not deterministic: a second instance defined\n{}\nafter\n{}", a, b);
        }
    }

    /// Calls squall_init and returns the definition flushed.
    fn run_init(&mut self, inst: &mut Instance, flags: u16) -> Vec<u8> {
        init_instance(&self.state, inst, flags)
    }

    /// The number of partitions.
    pub fn partitions(&self) -> u32 {
        self.state.borrow().tasks
    }

    /// The module definition the module flushed, in its ABI form.
    pub fn definition(&self) -> Value {
        msgpack::decode(&self.def_bytes).unwrap_or(Value::Nil)
    }

    /// What the harness processed so far.
    pub fn stats(&self) -> Stats {
        self.state.borrow().stats
    }

    /// Appends `record` to the named depot as a client would, routed by the
    /// depot's partitioner, and runs every topology until nothing is left
    /// to do (unless the harness is [`Options::manual`]).
    pub fn append<V: Into<Value>>(&mut self, depot: &str, record: V) -> Appended {
        let v: Value = record.into();
        let (p, off, root) = {
            let mut st = self.state.borrow_mut();
            let di = match st.def.depots.iter().position(|d| d.name == depot) {
                Some(di) => di,
                None => panic!(
                    "squall::testing: append: no depot {}; the module declares {}",
                    quote(depot),
                    names(st.def.depots.iter().map(|d| d.name.as_str()))
                ),
            };
            if let Err(e) = msgpack::encode(&v) {
                panic!("squall::testing: append to {}: {}", depot, e);
            }
            if st.def.depots[di].tick.is_some() {
                panic!(
                    "squall::testing: append: depot {} is a tick depot: only the host appends to it; use Harness::advance",
                    quote(depot)
                );
            }
            if st.def.depots[di].kind == "disallow" {
                panic!(
                    "squall::testing: append: depot {} is Disallow: only its topologies append to it (with local)",
                    quote(depot)
                );
            }
            let mut rnd = std::mem::replace(&mut st.rnd, Rng::new(0, 0));
            let p = st.route(di, &v, &mut rnd);
            st.rnd = rnd;
            let root: Root = Rc::new(RefCell::new(BTreeMap::new()));
            let off = st.append_record(di, p, &v, &root);
            (p, off, root)
        };
        if !self.state.borrow().opts.manual {
            self.run();
        }
        Appended { depot: depot.to_string(), partition: p as u32, offset: off, record: v, root }
    }

    /// Processes queued records and hops, in batches, until none is left.
    /// Batches go round-robin over partitions and topologies.
    pub fn run(&mut self) {
        let mut n = 0;
        loop {
            let mut progressed = false;
            let (tasks, topos) = {
                let st = self.state.borrow();
                (st.tasks as usize, st.queues.len())
            };
            for p in 0..tasks {
                for ti in 0..topos {
                    if self.state.borrow().def.topos[ti].microbatch {
                        continue;
                    }
                    let items = {
                        let mut st = self.state.borrow_mut();
                        let bs = st.opts.batch_size;
                        let q = &mut st.queues[ti][p];
                        if q.is_empty() {
                            continue;
                        }
                        let mut items = vec![];
                        if q[0].isolate {
                            items.push(q.pop_front().unwrap());
                        } else {
                            while items.len() < bs && !q.is_empty() && !q[0].isolate {
                                items.push(q.pop_front().unwrap());
                            }
                        }
                        items
                    };
                    self.process(ti, p, items);
                    progressed = true;
                    n += 1;
                    let max = self.state.borrow().opts.max_batches;
                    if n > max {
                        panic!("squall::testing: the topologies did not settle after {} batches; does a stage hop in a loop?", max);
                    }
                }
            }
            for ti in 0..topos {
                let micro = self.state.borrow().def.topos[ti].microbatch;
                if micro && run_microbatch(&self.state, &mut self.inst, ti) {
                    progressed = true;
                    n += 1;
                }
            }
            if !progressed {
                return;
            }
        }
    }

    /// Runs one batch, and its retries when the call fails.
    fn process(&mut self, ti: usize, p: usize, items: Vec<Pending>) {
        let mut hdr = {
            let mut st = self.state.borrow_mut();
            let id = st.batch_ids.entry((ti, p)).or_insert(0);
            *id += 1;
            let batch_id = *id;
            st.clock += 1_000_000;
            let seed = st.rnd.next_u64();
            BatchHeaderOut { flags: 0, batch_id, partition: p as u32, attempt: 0, topology: ti as u16, time_unix_nano: st.clock, seed }
        };
        let mut live = items;
        let mut failures = 0;
        while !live.is_empty() {
            let bitems: Vec<BatchItemOut> = live
                .iter()
                .map(|it| BatchItemOut {
                    kind: it.kind,
                    stage: it.stage,
                    depot: if it.kind == ITEM_HOP { NO_DEPOT } else { it.depot },
                    attempt: it.attempt,
                    source_partition: it.source_partition,
                    offset: it.offset,
                    event_time_unix_nano: it.event_time,
                    payload: it.payload.clone(),
                })
                .collect();
            let mut frame = Vec::new();
            append_batch(&mut frame, &hdr, &bitems);
            self.state.borrow_mut().call = Some(Call::new(false, ti, p, live.clone(), hdr.seed));
            match self.inst.inbox(frame.len() as i64) {
                Some(inbox) if inbox.len() >= frame.len() => inbox[..frame.len()].copy_from_slice(&frame),
                _ => panic!("squall::testing: squall_inbox({}) returned no buffer", frame.len()),
            }
            let status = self.inst.process(frame.len());
            let mut c = self.state.borrow_mut().call.take().unwrap();
            let failed = c.violation.is_some() || c.err_detail.is_some() || status != STATUS_OK;
            if failed {
                undo_all(&mut self.state.borrow_mut(), &mut c);
            }
            {
                let mut st = self.state.borrow_mut();
                st.stats.batches += 1;
                st.stats.items += live.len();
            }
            let panicked = c.violation.is_none() && c.err_detail.as_ref().map_or(false, |d| d.kind == "panic");
            if !panicked {
                let name = self.state.borrow().def.topos[ti].name.clone();
                end_call(&c, &format!("squall_process (topology {}, partition {})", quote(&name), p), status);
                self.commit(&c);
                return;
            }
            // The call failed: as the host, discard the instance and retry
            // on a fresh one; from the second failure, isolate the items.
            let detail = c.err_detail.clone().unwrap();
            self.state.borrow_mut().stats.failed_calls += 1;
            let mut fresh = Instance::new(self.define.clone(), Box::new(FakeHost { state: self.state.clone() }));
            self.start_instance(&mut fresh);
            self.inst = fresh;
            failures += 1;
            hdr.attempt += 1;
            let max = self.state.borrow().opts.max_attempts;
            let mut keep = vec![];
            for mut it in live {
                it.attempt += 1;
                it.last_err = Some(detail.clone());
                if it.attempt as u32 >= max {
                    let mut d = detail.clone();
                    d.message = format!("{} (after {} attempts)", d.message, it.attempt);
                    it.attempt -= 1; // dead_letter counts this delivery
                    self.state.borrow_mut().dead_letter(ti, p, &it, d);
                } else {
                    keep.push(it);
                }
            }
            live = keep;
            if failures == 1 && live.len() > 1 {
                continue; // the same batch again, on a fresh instance
            }
            let mut st = self.state.borrow_mut();
            for mut it in live.drain(..) {
                it.isolate = true;
                st.queues[ti][p].push_back(it);
            }
        }
    }

    /// Applies the outcome of every item of a successful call.
    fn commit(&mut self, c: &Call) {
        let mut st = self.state.borrow_mut();
        let tname = st.def.topos[c.topology].name.clone();
        for (i, it) in c.items.iter().enumerate() {
            let s = &c.state[i];
            let (mut out, mut d) = (s.outcome, s.detail.clone());
            if let Some(r) = &s.rejected {
                out = OUTCOME_POISON;
                d = r.clone();
            }
            match out {
                OUTCOME_OK => {
                    for a in &s.appends {
                        let root = if a.ack == crate::ctx::AckLevel::Ack as u8 {
                            it.root.clone()
                        } else {
                            Rc::new(RefCell::new(BTreeMap::new()))
                        };
                        st.append_record(a.depot, a.partition, &a.record, &root);
                    }
                    for hop in &s.hops {
                        let payload = msgpack::encode(&hop.payload).unwrap_or_default();
                        for &dest in &hop.partitions {
                            let clock = st.clock;
                            st.queues[c.topology][dest].push_back(Pending {
                                kind: ITEM_HOP,
                                stage: hop.stage,
                                depot: NO_DEPOT,
                                attempt: 0,
                                source_partition: c.partition as u32,
                                offset: 0,
                                event_time: clock,
                                payload: payload.clone(),
                                root: it.root.clone(),
                                origin: it.origin,
                                src: 0,
                                isolate: false,
                                last_err: None,
                            });
                        }
                    }
                    for v in &s.emits {
                        it.root.borrow_mut().insert(tname.clone(), v.clone());
                    }
                }
                OUTCOME_POISON => st.dead_letter(c.topology, c.partition, it, d),
                _ => {
                    st.stats.retries += 1;
                    if it.attempt as u32 + 1 >= st.opts.max_attempts {
                        d.message = format!("{} (after {} attempts)", d.message, it.attempt as u32 + 1);
                        st.dead_letter(c.topology, c.partition, it, d);
                        continue;
                    }
                    let mut next = it.clone();
                    next.attempt += 1;
                    next.isolate = false;
                    st.queues[c.topology][c.partition].push_back(next);
                }
            }
        }
    }

    /// Invokes a query topology as a client does (`squall query`), with
    /// its argument list (`list![..]`, a `Vec` or a tuple), and returns its
    /// result. Queued work does not run first: with
    /// [`Options::manual`], a query sees only what [`Harness::run`]
    /// committed. Errors carry the host's code and message: EBADID (no
    /// such query), EINVAL (wrong arguments), EFAILED (a stage failed),
    /// ETIMEDOUT (its hops never settled).
    pub fn try_query<A: Into<Value>>(&mut self, query: &str, args: A) -> Result<Value, QueryError> {
        let qi = {
            let st = self.state.borrow();
            match st.def.queries.iter().position(|q| q.name == query) {
                Some(i) => i,
                None => {
                    return Err(QueryError {
                        code: crate::Errno(EBADID),
                        message: format!(
                            "no query {}; the module declares {}",
                            quote(query),
                            names(st.def.queries.iter().map(|q| q.name.as_str()))
                        ),
                    })
                }
            }
        };
        run_invocation(&self.state, &mut self.inst, qi, args.into()).map_err(|(code, message)| QueryError { code: crate::Errno(code), message })
    }

    /// [`Harness::try_query`] that panics on error.
    ///
    /// ```ignore
    /// assert_eq!(h.query("balance", ("alice",)), Value::Int(100));
    /// ```
    pub fn query<A: Into<Value>>(&mut self, query: &str, args: A) -> Value {
        match self.try_query(query, args) {
            Ok(v) => v,
            Err(e) => panic!("squall::testing: query {}: {}", query, e),
        }
    }

    /// Moves the harness's clock forward by `d`: every tick depot gets one
    /// record per period that came due (the due time, in Unix
    /// milliseconds, on partition 0), then the topologies run (unless
    /// [`Options::manual`]). Ticks only happen through `advance`; the
    /// clock otherwise moves 1 ms per batch.
    pub fn advance(&mut self, d: std::time::Duration) {
        {
            let mut st = self.state.borrow_mut();
            st.clock += i64::try_from(d.as_nanos()).unwrap_or(i64::MAX / 2);
            let now_ms = st.clock / 1_000_000;
            let mut due: Vec<(i64, usize)> = vec![];
            let ticks: Vec<(usize, i64)> = st.next_tick.iter().map(|(k, v)| (*k, *v)).collect();
            for (di, mut next) in ticks {
                let period = st.def.depots[di].tick.unwrap_or(1).max(1);
                while next <= now_ms {
                    due.push((next, di));
                    next += period;
                }
                st.next_tick.insert(di, next);
            }
            due.sort();
            for (t, di) in due {
                let root: Root = Rc::new(RefCell::new(BTreeMap::new()));
                st.append_record(di, 0, &Value::Int(t), &root);
            }
        }
        if !self.state.borrow().opts.manual {
            self.run();
        }
    }

    /// Appends one tick record (`unix_millis`, the due time) to partition 0
    /// of a tick depot, as the host does every period, and runs the
    /// topologies (unless [`Options::manual`]). [`Harness::advance`]
    /// appends the ticks of a period of time instead.
    pub fn tick(&mut self, depot: &str, unix_millis: i64) {
        {
            let mut st = self.state.borrow_mut();
            let di = match st.def.depots.iter().position(|d| d.name == depot && d.tick.is_some()) {
                Some(di) => di,
                None => panic!("squall::testing: tick: {} is not a tick depot of the module", quote(depot)),
            };
            let root: Root = Rc::new(RefCell::new(BTreeMap::new()));
            st.append_record(di, 0, &Value::Int(unix_millis), &root);
        }
        if !self.state.borrow().opts.manual {
            self.run();
        }
    }

    /// Why a microbatch topology is paused (its microbatch failed the
    /// maximum number of attempts; nothing of it was applied), or `None`.
    pub fn paused(&self, topology: &str) -> Option<String> {
        let ti = self.topology_index("paused", topology);
        let st = self.state.borrow();
        st.paused.get(&ti).map(|p| {
            format!(
                "microbatch {} failed {} times and the topology is paused; nothing of it was applied: {}",
                p.microbatch, p.attempts, p.error.message
            )
        })
    }

    /// How many microbatches of a microbatch topology committed.
    pub fn microbatches(&self, topology: &str) -> u64 {
        let ti = self.topology_index("microbatches", topology);
        self.state.borrow().microbatch_ids.get(&ti).copied().unwrap_or(0)
    }

    fn topology_index(&self, what: &str, topology: &str) -> usize {
        let st = self.state.borrow();
        match st.def.topos.iter().position(|t| t.name == topology) {
            Some(ti) => ti,
            None => panic!(
                "squall::testing: {}: no topology {}; the module declares {}",
                what,
                quote(topology),
                names(st.def.topos.iter().map(|t| t.name.as_str()))
            ),
        }
    }

    /// Resumes a paused microbatch topology at the microbatch that failed
    /// (as a host restart or a module update does), and runs.
    pub fn resume(&mut self, topology: &str) {
        let ti = self.topology_index("resume", topology);
        {
            let mut st = self.state.borrow_mut();
            if let Some(p) = st.paused.remove(&ti) {
                let mut recs = p.records;
                for r in recs.iter_mut().rev() {
                    r.attempt = 0;
                    let part = r.source_partition as usize;
                    st.queues[ti][part].push_front(r.clone());
                }
            }
        }
        if !self.state.borrow().opts.manual {
            self.run();
        }
    }

    /// The items dead-lettered so far, in order.
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.state.borrow().dead.clone()
    }

    /// The lines the module logged so far.
    pub fn logs(&self) -> Vec<Log> {
        self.state.borrow().logs.clone()
    }

    fn check_partition(&self, p: u32) {
        let tasks = self.partitions();
        if p >= tasks {
            panic!("squall::testing: partition {} does not exist; the harness has {}", p, tasks);
        }
    }

    /// The records of one partition of a depot, in order.
    pub fn depot(&self, depot: &str, partition: u32) -> Vec<Value> {
        self.check_partition(partition);
        let st = self.state.borrow();
        match st.def.depots.iter().position(|d| d.name == depot) {
            Some(di) => st.depots[di][partition as usize].clone(),
            None => panic!(
                "squall::testing: depot: no depot {}; the module declares {}",
                quote(depot),
                names(st.def.depots.iter().map(|d| d.name.as_str()))
            ),
        }
    }

    fn pstate_index(&self, name: &str) -> usize {
        let st = self.state.borrow();
        match st.def.pstates.iter().position(|p| p.name == name) {
            Some(i) => i,
            None => panic!(
                "squall::testing: no PState {}; the module declares {}",
                quote(name),
                names(st.def.pstates.iter().map(|p| p.name.as_str()))
            ),
        }
    }

    /// The whole content of one partition of a PState: for a top-level
    /// map, the map of the partition's keys (nil when empty).
    pub fn pstate(&self, pstate: &str, partition: u32) -> Value {
        let pi = self.pstate_index(pstate);
        self.check_partition(partition);
        self.state.borrow().pstates[pi][partition as usize].value()
    }

    /// Reads a PState as a client does: a path that starts with a key of a
    /// top-level map runs on the partition that owns the key; a global
    /// PState is read on partition 0. Other paths must name their
    /// partition ([`Harness::select_partition`]). Errors carry the host's
    /// messages.
    pub fn try_select(&self, pstate: &str, path: Path) -> Result<Vec<Value>, String> {
        let pi = self.pstate_index(pstate);
        let p = self.client_partition(pi, &path)?;
        self.select_on(pi, p, &path)
    }

    fn client_partition(&self, pi: usize, path: &Path) -> Result<usize, String> {
        let st = self.state.borrow();
        let ps = &st.def.pstates[pi];
        if ps.global {
            return Ok(0);
        }
        let pv = path.value().map_err(|e| e.to_string())?;
        let steps = path_steps(&pv, PathMode::Select).map_err(|(e, _)| e.to_string())?;
        if let Some(k) = first_key(&steps.steps) {
            if ps.schema.typ == "map" {
                return Ok(key_partition(k, st.tasks).map_err(|e| e.to_string())? as usize);
            }
        }
        if st.tasks == 1 {
            return Ok(0);
        }
        Err(format!(
            "squall::testing: select {} {}: the path does not start with a key of the top-level map, so it names no partition; use select_partition",
            ps.name, path
        ))
    }

    fn select_on(&self, pi: usize, p: usize, path: &Path) -> Result<Vec<Value>, String> {
        let st = self.state.borrow();
        let name = &st.def.pstates[pi].name;
        let pv = path.value().map_err(|e| e.to_string())?;
        let steps = path_steps(&pv, PathMode::Select)
            .map_err(|(e, text)| format!("squall::testing: select {}: {}", name, host_path_error(&e, &text)))?;
        st.pstates[pi][p].sel(&steps).map_err(|e| format!("squall::testing: select {}: {}", name, e))
    }

    /// [`Harness::try_select`] for a path that navigates to at most one
    /// value: `Ok(None)` when it navigates to none.
    pub fn try_select_one(&self, pstate: &str, path: Path) -> Result<Option<Value>, String> {
        let text = path.to_string();
        let vs = self.try_select(pstate, path)?;
        match vs.len() {
            0 => Ok(None),
            1 => Ok(vs.into_iter().next()),
            n => Err(format!("squall::testing: select_one {} navigated to {} values", text, n)),
        }
    }

    /// [`Harness::try_select`] that panics on error.
    pub fn select(&self, pstate: &str, path: Path) -> Vec<Value> {
        self.try_select(pstate, path).unwrap_or_else(|e| panic!("{}", e))
    }

    /// The one value a path navigates to (a `key` of an absent key is
    /// nil); panics when it navigates to none or several, or fails.
    ///
    /// ```ignore
    /// assert_eq!(h.select_one("$$counts", key("the")), Value::Int(2));
    /// ```
    pub fn select_one(&self, pstate: &str, path: Path) -> Value {
        let text = path.to_string();
        match self.try_select_one(pstate, path) {
            Ok(Some(v)) => v,
            Ok(None) => panic!("squall::testing: select_one {} {}: the path navigated to no value", pstate, text),
            Err(e) => panic!("{}", e),
        }
    }

    /// Runs a select path on one partition of a PState.
    pub fn select_partition(&self, pstate: &str, partition: u32, path: Path) -> Vec<Value> {
        let pi = self.pstate_index(pstate);
        self.check_partition(partition);
        self.select_on(pi, partition as usize, &path).unwrap_or_else(|e| panic!("{}", e))
    }

    /// The partition that owns `key` in this harness.
    pub fn key_partition<K: Into<Value>>(&self, key: K) -> u32 {
        key_partition(&key.into(), self.partitions()).unwrap_or_else(|e| panic!("squall::testing: key_partition: {}", e))
    }
}

/// The harness's aggregators, for the golden vectors.
#[cfg(test)]
pub(crate) fn aggregate_for_tests(acc: &Value, keys: &[Value], agg: u8, v: &Value, n: i64) -> Result<Value, String> {
    aggregate::aggregate_at(acc, keys, agg, v, n)
}

/// A query invocation that failed ([`Harness::try_query`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryError {
    /// EBADID, EINVAL, EFAILED or ETIMEDOUT.
    pub code: crate::Errno,
    /// What happened, as the host says it.
    pub message: String,
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for QueryError {}

/// Panics when a call failed or broke the protocol.
pub(crate) fn end_call(c: &Call, what: &str, status: i32) {
    if let Some(v) = &c.violation {
        panic!("squall::testing: {} broke the ABI (an SDK bug): {}", what, v);
    }
    if let Some(d) = &c.err_detail {
        let mut msg = d.message.clone();
        if !d.stack.is_empty() {
            msg = format!("{}\n{}", msg, d.stack);
        }
        panic!("squall::testing: {} failed ({}): {}", what, d.kind, msg);
    }
    if status != STATUS_OK {
        panic!("squall::testing: {} returned status {} without an ERROR (an SDK bug)", what, status);
    }
    if let Err(e) = c.check.end(status) {
        panic!("squall::testing: {} broke the ABI (an SDK bug): {}", what, e);
    }
}
