//! What a stage can do while it processes one item.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::aggregate::{key_path, Agg};
use crate::convert::FromValue;
use crate::error::{Errno, Error, ErrorKind, Result};
use crate::frames::{BatchHeader, BatchItem};
use crate::module::{Depot, ModuleInfo, PState, Query, Stage};
use crate::path::{Path, PathMode};
use crate::rand::Rng;
use crate::runtime::{Io, FLUSH_AT};
use crate::value::{quote, Value};
use crate::wire::*;

/// How long the appender of a record waits; inside a topology it decides
/// whether the new record's processing joins the current record's
/// processing tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AckLevel {
    /// Committed with the batch; processed on its own.
    NoAck = 0,
    /// `NoAck` inside a topology (the batch commit makes the record
    /// durable).
    AppendAck = 1,
    /// The new record's processing, by every stream topology that reads
    /// the depot, becomes part of the current record's processing tree, so
    /// that the current record's appender (when it waits with `Ack`) waits
    /// for it too. The default.
    Ack = 2,
}

/// The options of [`Ctx::append_with`]: an [`AckLevel`] (default `Ack`)
/// and `local`.
///
/// ```
/// use squall::{AckLevel, AppendOptions};
/// let o = AppendOptions::new().local().ack(AckLevel::NoAck);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AppendOptions {
    /// The ack level.
    pub ack: AckLevel,
    /// Append to the current partition of the depot instead of routing the
    /// record with the depot's partitioner (the only way to append to a
    /// `Disallow` depot).
    pub local: bool,
}

impl Default for AppendOptions {
    fn default() -> Self {
        AppendOptions { ack: AckLevel::Ack, local: false }
    }
}

impl AppendOptions {
    /// The default options: `Ack`, routed by the depot's partitioner.
    pub fn new() -> AppendOptions {
        AppendOptions::default()
    }
    /// Sets the ack level.
    pub fn ack(mut self, ack: AckLevel) -> AppendOptions {
        self.ack = ack;
        self
    }
    /// Sets `local`.
    pub fn local(mut self) -> AppendOptions {
        self.local = true;
        self
    }
}

/// The level of a log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// DEBUG
    Debug = 0,
    /// INFO
    Info = 1,
    /// WARN
    Warn = 2,
    /// ERROR
    Error = 3,
}

/// What a stage can do while it processes one item: append to depots, hop
/// to other stages, read and write PStates, emit an ack return, log, and
/// learn where and when it runs.
///
/// Effects (appends, hops, transforms, emits) are buffered and committed
/// with the batch, atomically with the item's progress, only when the stage
/// returns `Ok`: a stage that fails leaves no trace but its logs. Reads see
/// the item's own transforms and those of the items before it in the
/// batch.
///
/// In a microbatch topology, the effects of every item of a microbatch,
/// on every partition, commit together when the whole microbatch
/// succeeded; reads see what the microbatch wrote so far. In a query
/// topology, a stage reads one snapshot of the committed state and writes
/// nothing but the query's result ([`Ctx::set_result`],
/// [`Ctx::aggregate_result`]).
///
/// Every method that can fail returns the error to propagate with `?`:
/// once the host has rejected an effect of the item (a key of another
/// partition, a value that breaks the schema), every later call returns
/// that rejection.
pub struct Ctx<'a> {
    io: &'a mut Io,
    info: &'a ModuleInfo,
    batch: &'a BatchHeader,
    it: &'a BatchItem<'a>,
    item: u32,
    /// The batch belongs to a query invocation; topology is its query.
    query: bool,
    topology: u16,
    stage: u16,
    rng: Option<Rng>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(
        io: &'a mut Io,
        info: &'a ModuleInfo,
        batch: &'a BatchHeader,
        it: &'a BatchItem<'a>,
        item: u32,
        topology: u16,
        stage: u16,
    ) -> Ctx<'a> {
        Ctx { io, info, batch, it, item, query: batch.query, topology, stage, rng: None }
    }

    fn usable(&self) -> Result {
        match self.io.unusable() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Finishes an effect that starts at start: keeps frames under the
    /// ABI's size limit and flushes when enough is buffered.
    fn added(&mut self, start: usize) -> Result {
        let e = &mut self.io.eff;
        if e.b.len() > MAX_EFFECTS_FRAME && e.count > 1 {
            let last = e.b[start..].to_vec();
            e.b.truncate(start);
            e.count -= 1;
            self.io.flush();
            self.io.eff.b.extend_from_slice(&last);
            self.io.eff.count += 1;
        }
        if self.io.eff.b.len() >= FLUSH_AT {
            self.io.flush();
        }
        self.usable()
    }

    fn value_effect(&mut self, op: u8, flags: u8, target: u16, v: &Value, what: &str) -> Result {
        self.usable()?;
        let start = self.io.eff.b.len();
        self.io.eff.value(op, flags, target, self.item, v, what)?;
        self.added(start)
    }

    fn check_depot<T>(&self, d: &Depot<T>) -> Result {
        if d.module != self.info.id || d.index as usize >= self.info.depots.len() {
            return Err(Error::poison("squall: the depot handle belongs to another module definition"));
        }
        Ok(())
    }

    fn check_pstate(&self, p: &PState) -> Result {
        if p.module != self.info.id || p.index as usize >= self.info.pstates.len() {
            return Err(Error::poison("squall: the PState handle belongs to another module definition"));
        }
        Ok(())
    }

    fn check_stage<T>(&self, s: &Stage<T>) -> Result {
        let n = if s.query { self.info.queries.len() } else { self.info.topologies.len() };
        if s.module != self.info.id || s.topology as usize >= n {
            return Err(Error::poison("squall: hop: the stage handle belongs to another module definition"));
        }
        if s.topology != self.topology || s.query != self.query {
            let what = |q: bool| if q { "query" } else { "topology" };
            let (tn, stages) = self.info.topology(s.query, s.topology);
            return Err(Error::poison(format!(
                "squall: hop: stage {} is a stage of {} {}, not of {} {}; a hop runs a stage of its own {}",
                quote(&stages[s.index as usize]),
                what(s.query),
                quote(tn),
                what(self.query),
                quote(&self.info.topology(self.query, self.topology).0),
                what(self.query)
            )));
        }
        Ok(())
    }

    /// Refuses a write in a query stage: queries are read-only.
    fn writable(&self, what: &str) -> Result {
        if self.query {
            return Err(Error::poison(format!(
                "squall: {}: query {} is read-only; a query sets its result with set_result or aggregate_result",
                what,
                quote(self.topology_name())
            )));
        }
        Ok(())
    }

    fn result_stage(&self, what: &str) -> Result {
        if !self.query {
            return Err(Error::poison(format!(
                "squall: {}: only the stages of a query topology have a result; topology {} is not one",
                what,
                quote(self.topology_name())
            )));
        }
        Ok(())
    }

    /// Appends `record` to `depot`, with the batch, at ack level `Ack`
    /// and routed by the depot's partitioner. Every stream topology reading
    /// the depot then processes it.
    pub fn append<T: Into<Value>, R: Into<T>>(&mut self, depot: &Depot<T>, record: R) -> Result {
        self.append_with(depot, record, AppendOptions::default())
    }

    /// [`Ctx::append`] with options: an ack level, or `local` (append to
    /// this partition of the depot).
    pub fn append_with<T: Into<Value>, R: Into<T>>(&mut self, depot: &Depot<T>, record: R, opts: AppendOptions) -> Result {
        self.check_depot(depot)?;
        self.writable("append")?;
        if self.info.ticks[depot.index as usize] {
            return Err(Error::poison(format!(
                "squall: append: {} is a tick depot; only the host appends to it",
                quote(&self.info.depots[depot.index as usize])
            )));
        }
        let mut flags = opts.ack as u8;
        if opts.local {
            flags |= APPEND_LOCAL;
        }
        let v: Value = record.into().into();
        let what = format!("append to {}", self.info.depots[depot.index as usize]);
        self.value_effect(OP_APPEND, flags, depot.index, &v, &what)
    }

    /// Runs `stage` (of this topology) with `payload` on the partition that
    /// owns `key`, after the batch commits: the continuation of this item's
    /// work where the key's data lives. Hops from one partition to another
    /// arrive in order.
    pub fn hop<T: Into<Value>, K: Into<Value>, P: Into<T>>(&mut self, stage: &Stage<T>, key: K, payload: P) -> Result {
        self.check_stage(stage)?;
        self.usable()?;
        let (k, p): (Value, Value) = (key.into(), payload.into().into());
        let start = self.io.eff.b.len();
        self.io.eff.hop(HOP_HASH, stage.index, self.item, &k, 0, &p)?;
        self.added(start)
    }

    fn hop_to<T: Into<Value>, P: Into<T>>(&mut self, stage: &Stage<T>, partitioner: u8, payload: P) -> Result {
        self.check_stage(stage)?;
        let p: Value = payload.into().into();
        self.value_effect(OP_HOP, partitioner, stage.index, &p, "hop payload")
    }

    /// Runs `stage` with `payload` on every partition, this one included.
    pub fn hop_all<T: Into<Value>, P: Into<T>>(&mut self, stage: &Stage<T>, payload: P) -> Result {
        self.hop_to(stage, HOP_ALL, payload)
    }

    /// Runs `stage` with `payload` on partition 0, where global PStates
    /// live.
    pub fn hop_global<T: Into<Value>, P: Into<T>>(&mut self, stage: &Stage<T>, payload: P) -> Result {
        self.hop_to(stage, HOP_GLOBAL, payload)
    }

    /// Runs `stage` with `payload` on the partition where this item's
    /// processing started (its source record's partition).
    pub fn hop_origin<T: Into<Value>, P: Into<T>>(&mut self, stage: &Stage<T>, payload: P) -> Result {
        self.hop_to(stage, HOP_ORIGIN, payload)
    }

    /// Runs `stage` with `payload` on a partition the host picks
    /// (deterministically, from the batch's seed), to spread work.
    pub fn hop_shuffle<T: Into<Value>, P: Into<T>>(&mut self, stage: &Stage<T>, payload: P) -> Result {
        self.hop_to(stage, HOP_SHUFFLE, payload)
    }

    /// Runs `stage` with `payload` on `partition` (from 0 to
    /// [`Ctx::partitions`]` - 1`): custom partitioning computed by the
    /// stage.
    pub fn hop_direct<T: Into<Value>, P: Into<T>>(&mut self, stage: &Stage<T>, partition: u32, payload: P) -> Result {
        self.check_stage(stage)?;
        if partition >= self.io.tasks {
            return Err(Error::poison(format!(
                "squall: hop direct: partition {} does not exist; the module has {} partitions",
                partition, self.io.tasks
            )));
        }
        self.usable()?;
        let p: Value = payload.into().into();
        let start = self.io.eff.b.len();
        self.io.eff.hop(HOP_DIRECT, stage.index, self.item, &Value::Nil, partition, &p)?;
        self.added(start)
    }

    /// Applies a transform path (ending with set, incr, append, prepend,
    /// remove or merge) to this partition of `pstate`. Later reads of this
    /// item, and of the items after it in the batch, see the change. The
    /// path's first `key` on a map PState names a key, which must belong
    /// to this partition (hop there first).
    ///
    /// The host checks the path against the schema when the effect is
    /// flushed; if it does not fit, the item is poisoned and later calls
    /// return an [`ErrorKind::Rejected`] error.
    pub fn transform(&mut self, pstate: &PState, path: Path) -> Result {
        self.check_pstate(pstate)?;
        self.writable("transform")?;
        path.validate(PathMode::Transform).map_err(|e| Error::poison(e.to_string()))?;
        let v = path.value_unchecked();
        self.value_effect(OP_TRANSFORM, 0, pstate.index, &v, "transform")
    }

    fn query(&mut self, op: u8, pstate: &PState, path: &Path) -> Result<Option<Value>> {
        self.check_pstate(pstate)?;
        path.validate(PathMode::Select).map_err(|e| Error::poison(e.to_string()))?;
        self.usable()?;
        let r = self.io.query(op, pstate.index, &path.value_unchecked())?;
        let name = &self.info.pstates[pstate.index as usize];
        match r.status {
            RESULT_OK => {
                if op == QUERY_SELECT && !matches!(r.value, Value::List(_)) {
                    return Err(Error::with_code(
                        ErrorKind::Query,
                        false,
                        Errno::EINTERNAL,
                        format!("squall: query {} {}: SELECT answered {}, not a list", name, path, r.value.kind()),
                    ));
                }
                Ok(Some(r.value))
            }
            RESULT_NOT_FOUND => Ok(None),
            code => Err(Error::with_code(
                ErrorKind::Query,
                code != EINTERNAL,
                Errno(code),
                format!("squall: query {} {}: {}: {}", name, path, errno_name(code), r.message),
            )),
        }
    }

    /// Every value `path` navigates to in this partition of `pstate`, in
    /// order (maps and sets in key order).
    pub fn select(&mut self, pstate: &PState, path: Path) -> Result<Vec<Value>> {
        match self.query(QUERY_SELECT, pstate, &path)? {
            Some(Value::List(l)) => Ok(l),
            _ => Ok(Vec::new()),
        }
    }

    /// The one value `path` navigates to in this partition of `pstate`:
    /// `None` when it navigates to nothing (a `must_key` on an absent key,
    /// a filter that does not match), an error (code EMULTI) when it
    /// navigates to several values. A `key` on an absent key navigates to
    /// nil, which is a value:
    ///
    /// ```ignore
    /// let n = ctx.select_one(&counts, key(word))?.unwrap_or_default(); // nil when absent
    /// ```
    pub fn select_one(&mut self, pstate: &PState, path: Path) -> Result<Option<Value>> {
        self.query(QUERY_SELECT_ONE, pstate, &path)
    }

    /// [`Ctx::select`] with every value converted to a `T` (a value that
    /// does not convert makes the item poison).
    pub fn select_as<T: FromValue>(&mut self, pstate: &PState, path: Path) -> Result<Vec<T>> {
        self.select(pstate, path)?
            .into_iter()
            .map(|v| T::from_value(v).map_err(|e| Error::poison(e.to_string())))
            .collect()
    }

    /// [`Ctx::select_one`] with the value converted to a `T`: nil (an
    /// absent key) gives `T`'s zero value.
    ///
    /// ```ignore
    /// let n: i64 = ctx.select_one_as(&counts, key(word))?.unwrap_or(0);
    /// ```
    pub fn select_one_as<T: FromValue>(&mut self, pstate: &PState, path: Path) -> Result<Option<T>> {
        match self.select_one(pstate, path)? {
            None => Ok(None),
            Some(v) => T::from_value(v).map(Some).map_err(|e| Error::poison(e.to_string())),
        }
    }

    /// Sets this topology's ack return for the record whose processing
    /// this item is part of: an appender that waits with `Ack` receives
    /// it. The last value emitted wins.
    pub fn emit<V: Into<Value>>(&mut self, v: V) -> Result {
        if self.query {
            return Err(Error::poison("squall: emit: a query stage sets its result with set_result, not emit"));
        }
        self.value_effect(OP_EMIT, 0, EMIT_ACK_RETURN, &v.into(), "emit")
    }

    /// Combines a value into `pstate` with an aggregator, at the key path
    /// `keys`: a list is the key path (`list![account, "count"]` aggregates
    /// `pstate[account]["count"]`; `list![]` the whole partition of a
    /// PState whose top level is a value), anything else one key. Maps are
    /// created where keys are absent. The first key of a map PState must
    /// belong to this partition (hop there first: grouping a batch by a
    /// key is a hop by the key, then an aggregate with the key first).
    ///
    /// The host combines next to the data, without reading collections
    /// whole (COUNT and SUM as an increment, LIST as an append, SET and MAP
    /// as one key). In a microbatch, every aggregate of the microbatch on a
    /// key lands atomically with it. A topology aggregates only into the
    /// PStates it may write ([`Topology::owns`](crate::Topology::owns)).
    /// Needs `squall::module!(define, abi = "1.1")`.
    ///
    /// ```ignore
    /// ctx.aggregate(&stats, list![account, "transfers"], Agg::Count)?;
    /// ctx.aggregate(&stats, list![account, "total"], Agg::sum(amount))?;
    /// ctx.aggregate(&leaders, list![], Agg::top_n(10, amount, account))?;
    /// ```
    pub fn aggregate<K: Into<Value>>(&mut self, pstate: &PState, keys: K, agg: Agg) -> Result {
        self.check_pstate(pstate)?;
        self.writable("aggregate")?;
        self.aggregate_into(pstate.index, keys.into(), agg)
    }

    /// Combines a value into the result of the query invocation this stage
    /// runs for, at the key path `keys` (as in [`Ctx::aggregate`]), after
    /// any [`Ctx::set_result`]: for example a sum over the partitions a
    /// query hopped to. Only in query stages.
    pub fn aggregate_result<K: Into<Value>>(&mut self, keys: K, agg: Agg) -> Result {
        self.result_stage("aggregate_result")?;
        self.aggregate_into(QUERY_RESULT_TARGET, keys.into(), agg)
    }

    /// Refuses an ABI 1.1 feature in a module registered for 1.0.
    fn needs_1_1(&self, what: &str) -> Result {
        if self.io.minor < 1 {
            return Err(Error::poison(format!(
                "squall: {} needs ABI 1.1: register the module with squall::module!(define, abi = \"1.1\")",
                what
            )));
        }
        Ok(())
    }

    fn aggregate_into(&mut self, target: u16, keys: Value, agg: Agg) -> Result {
        self.needs_1_1("aggregate")?;
        let name = agg.name();
        let agg_kind = if let Agg::Sum(_) = agg { Agg::Sum(Value::Nil) } else { Agg::Count };
        let (code, v, n) = agg.wire();
        if let Some(n) = n {
            if !(1..=MAX_TOP_N).contains(&n) {
                return Err(Error::poison(format!("squall: aggregate TOP_N: n is {}; it must be from 1 to {}", n, MAX_TOP_N)));
            }
        }
        if let (Agg::Sum(_), false) = (&agg_kind, matches!(v, Value::Int(_) | Value::Float(_))) {
            return Err(Error::poison(format!("squall: aggregate SUM: the value must be an int or a float, not {}", v.kind())));
        }
        self.usable()?;
        let keys = key_path(keys);
        let start = self.io.eff.b.len();
        self.io.eff.aggregate(code, target, self.item, &keys, &v, n).map_err(|e| {
            Error::poison(format!("squall: aggregate {}: {}", name, e.to_string().trim_start_matches("squall: ")))
        })?;
        self.added(start)
    }

    /// Sets the result of the query invocation this stage runs for (it
    /// replaces what earlier stages set; aggregates combine into it). The
    /// invoker receives the result once no hop of the invocation is left.
    /// Only in query stages.
    pub fn set_result<V: Into<Value>>(&mut self, v: V) -> Result {
        self.result_stage("set_result")?;
        self.value_effect(OP_EMIT, 0, EMIT_QUERY_RESULT, &v.into(), "set_result")
    }

    /// Invokes a query topology of this module with its arguments and
    /// returns its result: a list (`list![..]`, a `Vec` or a tuple) of as
    /// many values as the query has arguments. The query reads the
    /// committed state of its own snapshot, not this batch's pending
    /// changes. A query that fails or runs past its deadline returns an
    /// error with code [`Errno::EFAILED`] or [`Errno::ETIMEDOUT`] (retried,
    /// as any error); wrong arguments are poison. Needs
    /// `squall::module!(define, abi = "1.1")`.
    ///
    /// ```ignore
    /// let v = ctx.invoke(&account, list![id, 10])?;
    /// ```
    pub fn invoke<A: Into<Value>>(&mut self, query: &Query, args: A) -> Result<Value> {
        if query.module != self.info.id || query.index as usize >= self.info.queries.len() {
            return Err(Error::poison("squall: invoke: the query handle belongs to another module definition"));
        }
        self.needs_1_1("invoke")?;
        let name = &self.info.queries[query.index as usize].0;
        let args = match args.into() {
            l @ Value::List(_) => l,
            v => {
                return Err(Error::poison(format!(
                    "squall: invoke {}: the arguments are a list (list![..], a Vec or a tuple), not {}",
                    quote(name),
                    v.kind()
                )))
            }
        };
        let want = &self.info.query_args[query.index as usize];
        if args.items().len() != want.len() {
            return Err(Error::poison(format!(
                "squall: invoke: query {} takes {} arguments ({}); got {}",
                name,
                want.len(),
                want.join(", "),
                args.items().len()
            )));
        }
        self.usable()?;
        let r = self.io.query(QUERY_INVOKE, query.index, &args)?;
        let name = &self.info.queries[query.index as usize].0;
        match r.status {
            RESULT_OK => Ok(r.value),
            RESULT_NOT_FOUND => Ok(Value::Nil),
            code => Err(Error::with_code(
                ErrorKind::Query,
                !matches!(code, ETIMEDOUT | EFAILED | EINTERNAL),
                Errno(code),
                format!("squall: invoke {}: {}: {}", quote(name), errno_name(code), r.message),
            )),
        }
    }

    /// [`Ctx::invoke`] with the result converted to a `T` (a result that
    /// does not convert makes the item poison).
    pub fn invoke_as<T: FromValue, A: Into<Value>>(&mut self, query: &Query, args: A) -> Result<T> {
        let v = self.invoke(query, args)?;
        T::from_value(v).map_err(|e| Error::poison(e.to_string()))
    }

    /// Whether this stage runs for a query invocation.
    pub fn is_query(&self) -> bool {
        self.query
    }

    /// Writes a line to the operator's log, tagged with the module,
    /// topology, partition, batch and item. Logs are kept even when the
    /// item fails.
    pub fn log<S: AsRef<str>>(&mut self, level: LogLevel, msg: S) {
        if self.io.fatal.is_some() {
            return;
        }
        let start = self.io.eff.b.len();
        self.io.eff.log(level as u8, self.item, msg.as_ref());
        let _ = self.added(start);
    }

    /// The partition this item runs on, from 0 to
    /// [`Ctx::partitions`]` - 1`.
    pub fn partition(&self) -> u32 {
        self.batch.partition
    }

    /// The module's number of partitions.
    pub fn partitions(&self) -> u32 {
        self.io.tasks
    }

    /// How many times this item was delivered before and failed: 0 the
    /// first time.
    pub fn attempt(&self) -> u32 {
        self.it.attempt as u32
    }

    /// The id of the batch (the same on every attempt of the batch). In a
    /// microbatch topology it is the microbatch number: the same on every
    /// partition, call and attempt of the microbatch, one more for each
    /// microbatch, so that it can make writes to outside systems
    /// idempotent. In a query it numbers the invocation.
    pub fn batch_id(&self) -> u64 {
        self.batch.batch_id
    }

    /// The time of the batch this item is processed in, in nanoseconds
    /// since the Unix epoch. It is the same on every attempt of the batch,
    /// so code that uses it replays deterministically; the clocks
    /// (`SystemTime::now`) start from it too.
    pub fn batch_time_nanos(&self) -> i64 {
        self.batch.time_unix_nano
    }

    /// [`Ctx::batch_time_nanos`] as a `SystemTime`.
    pub fn batch_time(&self) -> SystemTime {
        nanos_time(self.batch.time_unix_nano)
    }

    /// When the item's record was appended, or, for a hop delivery, the
    /// time of the batch that sent it, in nanoseconds since the Unix epoch.
    pub fn event_time_nanos(&self) -> i64 {
        self.it.event_time_unix_nano
    }

    /// [`Ctx::event_time_nanos`] as a `SystemTime`.
    pub fn event_time(&self) -> SystemTime {
        nanos_time(self.it.event_time_unix_nano)
    }

    /// A random source for this item, seeded from the batch's seed and the
    /// item's position: the same on every attempt of the batch, and the
    /// same numbers as the Go SDK's `Ctx.Rand()`.
    pub fn rand(&mut self) -> &mut Rng {
        let (seed, item) = (self.batch.seed, self.item);
        self.rng.get_or_insert_with(|| Rng::new(seed, item as u64 ^ 0x9e37_79b9_7f4a_7c15))
    }

    /// The name of the stage being run.
    pub fn stage_name(&self) -> &str {
        &self.info.topology(self.query, self.topology).1[self.stage as usize]
    }

    /// The name of the topology (or query topology) being run.
    pub fn topology_name(&self) -> &str {
        &self.info.topology(self.query, self.topology).0
    }

    /// The name of the depot of a source record, or `None` for a hop
    /// delivery.
    pub fn depot_name(&self) -> Option<&str> {
        if self.it.kind != ITEM_RECORD {
            return None;
        }
        self.info.depots.get(self.it.depot as usize).map(|s| s.as_str())
    }

    /// The offset of a source record in its depot partition (0 for a hop
    /// delivery).
    pub fn offset(&self) -> u64 {
        self.it.offset
    }

    /// The depot partition of a source record, or the partition that sent
    /// a hop.
    pub fn source_partition(&self) -> u32 {
        self.it.source_partition
    }
}

fn nanos_time(n: i64) -> SystemTime {
    if n >= 0 {
        UNIX_EPOCH + Duration::from_nanos(n as u64)
    } else {
        UNIX_EPOCH - Duration::from_nanos(n.unsigned_abs())
    }
}
