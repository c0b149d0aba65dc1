//! Module definitions: depots, PStates, stream and microbatch topologies,
//! query topologies and their stages.

use std::marker::PhantomData;
use std::time::Duration;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::convert::FromValue;
use crate::ctx::Ctx;
use crate::defcheck::{at, check_definition, trim_squall, DefError, DefProblem, Problems};
use crate::error::{Error, Result};
use crate::msgpack;
use crate::path::Path;
use crate::schema::Schema;
use crate::value::{quote, Value, ValueMap};

static NEXT_MODULE_ID: AtomicU32 = AtomicU32::new(1);

pub(crate) type StageFn = Box<dyn FnMut(&mut Ctx<'_>, Value) -> Result>;

/// How a depot routes records appended from outside a topology (and
/// [`Ctx::append`] without `local`) to a partition.
#[derive(Clone, Debug, PartialEq)]
pub enum Partitioner {
    /// Routes a record to the partition that owns a key selected from it by
    /// a select path: `HashBy(key("user"))` routes `{"user": "bob", ...}`
    /// by `"bob"`. The first value the path navigates to is the key (nil
    /// when none); an empty path hashes the whole record.
    HashBy(Path),
    /// Routes a record by the hash of the whole record.
    HashRecord,
    /// Routes each record to a random partition.
    Random,
    /// Refuses appends from clients: only topologies append, with `local`.
    Disallow,
}

/// A declared depot: a durable, partitioned, append-only log of records.
/// Topologies read it through [`Topology::source`]; stages append to it
/// with [`Ctx::append`]. `T` is the type of its records
/// ([`Module::depot_of`]); a plain [`Module::depot`] takes any value.
///
/// Handles are small and `Copy`: capture them in stage closures.
pub struct Depot<T = Value> {
    pub(crate) module: u32,
    pub(crate) index: u16,
    _t: PhantomData<fn(T)>,
}

impl<T> Clone for Depot<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Depot<T> {}

impl<T> std::fmt::Debug for Depot<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Depot(#{})", self.index)
    }
}

/// A declared PState: a durable, partitioned index with a schema, read with
/// [`Ctx::select`] and [`Ctx::select_one`] and written with
/// [`Ctx::transform`].
#[derive(Clone, Copy, Debug)]
pub struct PState {
    pub(crate) module: u32,
    pub(crate) index: u16,
}

/// A declared stage of a topology or of a query topology, whose input is a
/// `T`. Hops ([`Ctx::hop`]) name their target stage with it.
pub struct Stage<T = Value> {
    pub(crate) module: u32,
    /// The stage belongs to a query topology; topology is its query index.
    pub(crate) query: bool,
    pub(crate) topology: u16,
    pub(crate) index: u16,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for Stage<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Stage<T> {}

impl<T> std::fmt::Debug for Stage<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Stage(#{}/{})", self.topology, self.index)
    }
}

/// A declared query topology: invoke it with [`Ctx::invoke`] from a stage,
/// or from a client (`squall query`, `QueryService.Invoke`). Returned by
/// [`QueryTopology::handle`].
#[derive(Clone, Copy, Debug)]
pub struct Query {
    pub(crate) module: u32,
    pub(crate) index: u16,
}

/// Where a source of a topology starts reading its depot on each partition
/// when the topology is deployed for the first time (it has no progress
/// yet). Once the topology has progress, it goes on from there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StartFrom {
    /// The first record still stored (the default).
    Beginning,
    /// The end of the depot as it is at the first deploy: only records
    /// appended later are processed.
    End,
    /// The given offset on every partition (clamped to the records
    /// stored).
    Offset(u64),
}

impl Default for StartFrom {
    fn default() -> Self {
        StartFrom::Beginning
    }
}

struct DepotDecl {
    name: String,
    partitioner: Partitioner,
    /// The period of a tick depot.
    tick: Option<u64>,
}

struct PStateDecl {
    name: String,
    schema: Schema,
    global: bool,
    owner: Option<String>,
}

struct StageDecl {
    name: String,
    f: Option<StageFn>,
}

struct TopologyDecl {
    name: String,
    kind: &'static str,
    stages: Vec<StageDecl>,
    sources: Vec<(String, String, StartFrom)>,
    max_records: Option<u32>,
    interval_ms: Option<u64>,
    /// The argument names of a query topology.
    args: Vec<String>,
}

impl TopologyDecl {
    fn new(name: &str, kind: &'static str) -> TopologyDecl {
        TopologyDecl {
            name: name.to_string(),
            kind,
            stages: vec![],
            sources: vec![],
            max_records: None,
            interval_ms: None,
            args: vec![],
        }
    }
}

/// A module definition being declared: depots, PStates and stream
/// topologies with their stages. The order of declarations gives the ids
/// the host uses, so it must not depend on anything but the code.
///
/// ```
/// use squall::{key, Ctx, Module, Partitioner, Schema, Value};
///
/// fn define(m: &mut Module) {
///     m.name("wordcount");
///     let sentences = m.depot("sentences", Partitioner::HashBy(key("user")));
///     let counts = m.pstate("$$counts", Schema::map_of(Schema::String, Schema::Int));
///     let mut t = m.stream("wordcount");
///     let count = t.stage("count", move |ctx: &mut Ctx, word: String| {
///         ctx.transform(&counts, key(word).nil_to_val(0).incr(1))
///     });
///     let split = t.stage("split", move |ctx: &mut Ctx, rec: Value| {
///         let text: String = rec.field_as("text")?;
///         for w in text.split_whitespace() {
///             ctx.hop(&count, w, w)?; // to the partition that owns w
///         }
///         Ok(())
///     });
///     t.source(&sentences, &split);
/// }
/// # squall::testing::Harness::new(define, 2);
/// ```
pub struct Module {
    id: u32,
    name: String,
    depots: Vec<DepotDecl>,
    pstates: Vec<PStateDecl>,
    topologies: Vec<TopologyDecl>,
    queries: Vec<TopologyDecl>,
    misuse: Vec<DefProblem>,
}

impl Default for Module {
    fn default() -> Self {
        Module::new()
    }
}

impl Module {
    /// An empty module definition. The SDK makes one and passes it to the
    /// module's definition function; tests rarely need to.
    pub fn new() -> Module {
        Module {
            id: NEXT_MODULE_ID.fetch_add(1, Ordering::Relaxed),
            name: String::new(),
            depots: vec![],
            pstates: vec![],
            topologies: vec![],
            queries: vec![],
            misuse: vec![],
        }
    }

    fn misused(&mut self, location: String, message: String) {
        self.misuse.push(DefProblem { location, message });
    }

    /// Sets the name the module asks to be deployed as (optional: the
    /// deploy request may give one).
    pub fn name(&mut self, name: &str) {
        self.name = name.to_string();
    }

    /// Declares a depot whose records are any value.
    pub fn depot(&mut self, name: &str, partitioner: Partitioner) -> Depot {
        self.depot_of(name, partitioner)
    }

    /// Declares a depot whose records are `T`s: [`Ctx::append`] to it takes
    /// a `T` (anything `Into<T>`), and `T` converts into a value.
    ///
    /// ```
    /// # use squall::{Module, Partitioner, key};
    /// # struct Follow;
    /// # impl From<Follow> for squall::Value { fn from(_: Follow) -> squall::Value { squall::Value::Nil } }
    /// # let mut m = Module::new();
    /// let follows = m.depot_of::<Follow>("follows", Partitioner::HashBy(key("to")));
    /// ```
    pub fn depot_of<T>(&mut self, name: &str, partitioner: Partitioner) -> Depot<T> {
        let index = self.depots.len();
        if let Partitioner::HashBy(p) = &partitioner {
            if let Some(e) = p.err() {
                self.misused(format!("{}.partitioner.key", at("depots", index)), trim_squall(&e.to_string()));
            }
        }
        self.depots.push(DepotDecl { name: name.to_string(), partitioner, tick: None });
        Depot { module: self.id, index: index as u16, _t: PhantomData }
    }

    /// Declares a tick depot: while the module is deployed, the host
    /// appends a record to it every `period` (at least 1 ms, at most a
    /// day): the time the tick was due, in Unix milliseconds, on
    /// partition 0. Topologies read it as any depot, for expiries and time
    /// windows; a stage that needs the tick on every partition hops with
    /// [`Ctx::hop_all`]. Nobody else may append to it. Ticks the host
    /// could not append while the module was not running are not made up.
    /// Needs `squall::module!(define, abi = "1.1")`.
    ///
    /// ```
    /// # use squall::Module;
    /// # use std::time::Duration;
    /// # let mut m = Module::new();
    /// let minute = m.tick_depot("minute", Duration::from_secs(60));
    /// ```
    pub fn tick_depot(&mut self, name: &str, period: Duration) -> Depot<i64> {
        let index = self.depots.len();
        let millis = u64::try_from(period.as_millis()).unwrap_or(u64::MAX);
        self.depots.push(DepotDecl { name: name.to_string(), partitioner: Partitioner::Disallow, tick: Some(millis) });
        Depot { module: self.id, index: index as u16, _t: PhantomData }
    }

    /// Declares a PState. Names of PStates conventionally start with `$$`.
    pub fn pstate(&mut self, name: &str, schema: Schema) -> PState {
        self.add_pstate(name, schema, false)
    }

    /// Declares a global PState: it lives on partition 0 only, and stages
    /// read and write it after a [`Ctx::hop_global`].
    pub fn global_pstate(&mut self, name: &str, schema: Schema) -> PState {
        self.add_pstate(name, schema, true)
    }

    fn add_pstate(&mut self, name: &str, schema: Schema, global: bool) -> PState {
        let index = self.pstates.len();
        self.pstates.push(PStateDecl { name: name.to_string(), schema, global, owner: None });
        PState { module: self.id, index: index as u16 }
    }

    /// Declares a stream topology: records are processed one by one, at
    /// least once, with their effects committed atomically with the
    /// progress. Declare its stages and sources on the [`Topology`] it
    /// returns.
    pub fn stream(&mut self, name: &str) -> Topology<'_> {
        let index = self.topologies.len() as u16;
        self.topologies.push(TopologyDecl::new(name, "stream"));
        Topology { m: self, index, query: false }
    }

    /// Declares a microbatch topology: its sources are processed in
    /// numbered microbatches over all partitions, exactly once. A
    /// microbatch's hops run inside it, and all of its changes, on every
    /// partition, commit atomically: a reader sees all of a microbatch or
    /// none of it. A stage that fails makes the host run the whole
    /// microbatch again ([`Ctx::attempt`] grows, [`Ctx::batch_id`] is the
    /// microbatch number); a poison error dead-letters the source record
    /// it descends from and the microbatch runs again without it.
    ///
    /// It writes only the PStates it owns ([`Topology::owns`]). Options:
    /// [`Topology::max_records`], [`Topology::interval`]. Needs
    /// `squall::module!(define, abi = "1.1")`.
    ///
    /// ```
    /// # use squall::{key, Ctx, Module, Partitioner, Schema};
    /// # let mut m = Module::new();
    /// let deposits = m.depot("deposits", Partitioner::HashBy(key("account")));
    /// let balances = m.pstate("$$balances", Schema::map_of(Schema::String, Schema::Int));
    /// let mut t = m.microbatch("bank");
    /// t.owns(&balances);
    /// let deposit = t.stage("deposit", move |ctx: &mut Ctx, d: squall::Value| {
    ///     ctx.transform(&balances, key(d.field_as::<String>("account")?).incr(d.field_as::<i64>("amount")?))
    /// });
    /// t.source(&deposits, &deposit);
    /// ```
    pub fn microbatch(&mut self, name: &str) -> Topology<'_> {
        let index = self.topologies.len() as u16;
        self.topologies.push(TopologyDecl::new(name, "microbatch"));
        Topology { m: self, index, query: false }
    }

    /// Declares a query topology with the named arguments: a predefined
    /// distributed query, run on demand. Its first stage is the entry
    /// stage: it receives the argument list (a list of as many values as
    /// `args` names; read it as a tuple, a `Vec` or a `Value`) on a
    /// partition the host picks; it hops where the data is, reads PStates
    /// and sets the result with [`Ctx::set_result`] or aggregates into it
    /// with [`Ctx::aggregate_result`]. Every read of one invocation sees
    /// the same committed snapshot. Queries are read-only. Invoke one from
    /// a stage with [`Ctx::invoke`] and its [`QueryTopology::handle`].
    /// Needs `squall::module!(define, abi = "1.1")`.
    ///
    /// ```
    /// # use squall::{key, Ctx, Module, Schema};
    /// # let mut m = Module::new();
    /// let balances = m.pstate("$$balances", Schema::map_of(Schema::String, Schema::Int));
    /// let mut q = m.query("balance", &["account"]);
    /// let start = q.declare_stage::<(String,)>("start"); // the entry: the argument list
    /// let read = q.stage("read", move |ctx: &mut Ctx, account: String| {
    ///     let b = ctx.select_one(&balances, key(account))?;
    ///     ctx.set_result(b.unwrap_or_default())
    /// });
    /// q.implement(&start, move |ctx: &mut Ctx, (account,): (String,)| ctx.hop(&read, account.clone(), account));
    /// let balance = q.handle();
    /// # let _ = balance;
    /// ```
    pub fn query(&mut self, name: &str, args: &[&str]) -> QueryTopology<'_> {
        let index = self.queries.len() as u16;
        let mut d = TopologyDecl::new(name, "query");
        d.args = args.iter().map(|a| a.to_string()).collect();
        self.queries.push(d);
        QueryTopology { t: Topology { m: self, index, query: true } }
    }

    /// The ABI form of the definition, with default fields omitted (its
    /// canonical form).
    pub(crate) fn value(&self) -> Value {
        let mut top = ValueMap::new();
        if !self.name.is_empty() {
            top.insert("name", self.name.as_str());
        }
        let depots: Vec<Value> = self
            .depots
            .iter()
            .map(|d| {
                let mut part = ValueMap::new();
                if let Some(ms) = d.tick {
                    part.insert("kind", "tick");
                    part.insert("millis", Value::Int(i64::try_from(ms).unwrap_or(i64::MAX)));
                    return Value::map([("name", Value::from(d.name.as_str())), ("partitioner", Value::Map(part))]);
                }
                let kind = match &d.partitioner {
                    Partitioner::HashBy(p) => {
                        if !p.is_empty() && p.err().is_none() {
                            part.insert("key", p.value_unchecked());
                        }
                        "hash"
                    }
                    Partitioner::HashRecord => "hash",
                    Partitioner::Random => "random",
                    Partitioner::Disallow => "disallow",
                };
                part.insert("kind", kind);
                Value::map([("name", Value::from(d.name.as_str())), ("partitioner", Value::Map(part))])
            })
            .collect();
        let pstates: Vec<Value> = self
            .pstates
            .iter()
            .map(|p| {
                let mut m = ValueMap::new();
                m.insert("name", p.name.as_str());
                m.insert("schema", p.schema.value());
                if p.global {
                    m.insert("global", true);
                }
                if let Some(o) = &p.owner {
                    m.insert("owner", o.as_str());
                }
                Value::Map(m)
            })
            .collect();
        let topologies: Vec<Value> = self
            .topologies
            .iter()
            .map(|t| {
                let sources: Vec<Value> = t
                    .sources
                    .iter()
                    .map(|(d, s, from)| {
                        let mut m = ValueMap::new();
                        m.insert("depot", d.as_str());
                        m.insert("stage", s.as_str());
                        match from {
                            StartFrom::Beginning => {}
                            StartFrom::End => {
                                m.insert("start_from", "end");
                            }
                            StartFrom::Offset(o) => {
                                m.insert("start_from", Value::Int(i64::try_from(*o).unwrap_or(i64::MAX)));
                            }
                        }
                        Value::Map(m)
                    })
                    .collect();
                let mut m = ValueMap::new();
                m.insert("name", t.name.as_str());
                m.insert("kind", t.kind);
                m.insert("sources", Value::List(sources));
                m.insert("stages", stage_names(&t.stages));
                if let Some(n) = t.max_records {
                    if n != DEFAULT_MAX_RECORDS {
                        m.insert("max_records", Value::Int(n as i64));
                    }
                }
                if let Some(ms) = t.interval_ms {
                    if ms != 0 {
                        m.insert("interval_ms", Value::Int(i64::try_from(ms).unwrap_or(i64::MAX)));
                    }
                }
                Value::Map(m)
            })
            .collect();
        top.insert("depots", Value::List(depots));
        top.insert("pstates", Value::List(pstates));
        top.insert("topologies", Value::List(topologies));
        if !self.queries.is_empty() {
            let qs: Vec<Value> = self
                .queries
                .iter()
                .map(|q| {
                    let mut m = ValueMap::new();
                    m.insert("name", q.name.as_str());
                    m.insert("stages", stage_names(&q.stages));
                    if !q.args.is_empty() {
                        m.insert("args", Value::List(q.args.iter().map(|a| Value::from(a.as_str())).collect()));
                    }
                    Value::Map(m)
                })
                .collect();
            top.insert("queries", Value::List(qs));
        }
        Value::Map(top)
    }
}

/// A topology being declared (stream, [`Module::stream`], or microbatch,
/// [`Module::microbatch`]): named stages that run for each record of its
/// source depots, and for each hop sent to them.
pub struct Topology<'m> {
    m: &'m mut Module,
    index: u16,
    query: bool,
}

impl<'m> Topology<'m> {
    fn decl(&mut self) -> &mut TopologyDecl {
        if self.query {
            &mut self.m.queries[self.index as usize]
        } else {
            &mut self.m.topologies[self.index as usize]
        }
    }

    fn location(&self) -> String {
        at(if self.query { "queries" } else { "topologies" }, self.index as usize)
    }

    /// Declares a stage: `f` runs with each item's input converted to a `T`
    /// ([`FromValue`]; `Value` takes anything). An input that does not
    /// convert makes the item poison. Stages run where the work is sent: on
    /// a source record's partition, or where a hop delivers.
    ///
    /// `f` returns `Ok(())` when the item is done; an error makes the item
    /// fail (see [`Error`]) and discards the effects it asked for.
    pub fn stage<T, F>(&mut self, name: &str, f: F) -> Stage<T>
    where
        T: FromValue + 'static,
        F: FnMut(&mut Ctx<'_>, T) -> Result + 'static,
    {
        let s = self.declare_stage::<T>(name);
        self.implement(&s, f);
        s
    }

    /// Declares a stage whose function is given later with
    /// [`Topology::implement`]: for a stage that hops to a stage declared
    /// after it, whose handle it needs.
    ///
    /// ```
    /// # use squall::{Ctx, Module, Partitioner, Value};
    /// # let mut m = Module::new();
    /// # let events = m.depot("events", Partitioner::Random);
    /// let mut t = m.stream("core");
    /// let split = t.declare_stage::<Value>("split");
    /// let count = t.stage("count", |_ctx: &mut Ctx, _w: Value| Ok(()));
    /// t.implement(&split, move |ctx: &mut Ctx, v: Value| ctx.hop(&count, v.clone(), v));
    /// t.source(&events, &split);
    /// ```
    pub fn declare_stage<T>(&mut self, name: &str) -> Stage<T> {
        let (module, topology, query) = (self.m.id, self.index, self.query);
        let d = self.decl();
        d.stages.push(StageDecl { name: name.to_string(), f: None });
        Stage { module, query, topology, index: (d.stages.len() - 1) as u16, _t: PhantomData }
    }

    /// Gives the function of a stage declared with
    /// [`Topology::declare_stage`].
    pub fn implement<T, F>(&mut self, stage: &Stage<T>, mut f: F)
    where
        T: FromValue + 'static,
        F: FnMut(&mut Ctx<'_>, T) -> Result + 'static,
    {
        if stage.module != self.m.id || stage.topology != self.index || stage.query != self.query {
            let w = format!("{}.stages", self.location());
            let what = if self.query { "query" } else { "topology" };
            self.m.misused(w, format!("implement: the stage belongs to another {}", what));
            return;
        }
        let d = self.decl();
        let sd = &mut d.stages[stage.index as usize];
        let name = sd.name.clone();
        sd.f = Some(Box::new(move |ctx: &mut Ctx<'_>, input: Value| {
            let t = T::from_value(input)
                .map_err(|e| Error::input(format!("squall: stage {}: input: {}", quote(&name), trim_squall(&e.to_string()))))?;
            f(ctx, t)
        }));
    }

    /// Makes every record appended to `depot` start at `stage`, from the
    /// beginning of the depot when the topology is first deployed.
    pub fn source<D, T>(&mut self, depot: &Depot<D>, stage: &Stage<T>) {
        self.source_from(depot, stage, StartFrom::Beginning)
    }

    /// [`Topology::source`] that starts, on the topology's first deploy,
    /// where `from` says: [`StartFrom::End`] skips the records already
    /// stored. Needs `squall::module!(define, abi = "1.1")` unless `from`
    /// is `Beginning`.
    pub fn source_from<D, T>(&mut self, depot: &Depot<D>, stage: &Stage<T>, from: StartFrom) {
        let id = self.m.id;
        let w = at(&format!("{}.sources", self.location()), self.decl().sources.len());
        let mut dn = String::new();
        let mut sn = String::new();
        if depot.module != id {
            self.m.misused(format!("{}.depot", w), "the depot was declared by another Module".into());
        } else {
            dn = self.m.depots[depot.index as usize].name.clone();
        }
        if stage.module != id || stage.topology != self.index || stage.query {
            let msg = if stage.module == id && !stage.query {
                let t = &self.m.topologies[stage.topology as usize];
                sn = t.stages[stage.index as usize].name.clone();
                format!(
                    "stage {} belongs to topology {}; a source starts a stage of its own topology",
                    quote(&sn),
                    quote(&t.name)
                )
            } else if stage.module == id {
                let q = &self.m.queries[stage.topology as usize];
                format!(
                    "stage {} belongs to query {}; a source starts a stage of its own topology",
                    quote(&q.stages[stage.index as usize].name),
                    quote(&q.name)
                )
            } else {
                "the stage was declared by another Module".into()
            };
            self.m.misused(format!("{}.stage", w), msg);
        } else {
            sn = self.decl().stages[stage.index as usize].name.clone();
        }
        self.decl().sources.push((dn, sn, from));
    }

    /// Microbatch topologies: at most `n` records of each source on each
    /// partition per microbatch (1 to 1 000 000; default 1000). Bigger
    /// microbatches commit less often and so go faster, smaller ones make
    /// changes visible sooner.
    pub fn max_records(&mut self, n: u32) -> &mut Self {
        self.decl().max_records = Some(n);
        self
    }

    /// Microbatch topologies: the least time from the start of one
    /// microbatch to the start of the next (at most an hour; default 0: as
    /// soon as the last one committed and there are records).
    pub fn interval(&mut self, d: Duration) -> &mut Self {
        self.decl().interval_ms = Some(u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        self
    }

    /// Declares a PState that only this topology writes: [`Module::pstate`]
    /// and [`Topology::owns`] in one step.
    ///
    /// ```
    /// # use squall::{Module, Schema};
    /// # let mut m = Module::new();
    /// let mut bank = m.microbatch("bank");
    /// let balances = bank.pstate("$$balances", Schema::map_of(Schema::String, Schema::Int));
    /// # let _ = balances;
    /// ```
    pub fn pstate(&mut self, name: &str, schema: Schema) -> PState {
        let ps = self.m.pstate(name, schema);
        self.owns(&ps);
        ps
    }

    /// Makes this topology the one writer of `pstate`: only its stages may
    /// transform or aggregate into it. A microbatch topology writes only
    /// the PStates it owns; a PState without an owner may be written by
    /// every stream topology. Every topology and query may read every
    /// PState. Needs `squall::module!(define, abi = "1.1")`.
    pub fn owns(&mut self, pstate: &PState) -> &mut Self {
        let name = self.decl().name.clone();
        if pstate.module != self.m.id {
            let w = format!("{}.owns", self.location());
            self.m.misused(w, "the PState was declared by another Module".into());
            return self;
        }
        let w = format!("{}.owner", at("pstates", pstate.index as usize));
        let ps = &mut self.m.pstates[pstate.index as usize];
        match &ps.owner {
            Some(o) if *o != name => {
                let msg = format!("PState {} is owned by topology {} and {}; a PState has one owner", quote(&ps.name), quote(o), quote(&name));
                self.m.misused(w, msg);
            }
            _ => ps.owner = Some(name),
        }
        self
    }
}

/// A query topology being declared, returned by [`Module::query`]: named
/// stages, of which the first is the entry stage that receives the
/// argument list.
pub struct QueryTopology<'m> {
    t: Topology<'m>,
}

impl<'m> QueryTopology<'m> {
    /// Declares a stage (see [`Topology::stage`]). The first stage declared
    /// is the entry stage: its input is the argument list, a list of as
    /// many values as the query has arguments (read it as a tuple such as
    /// `(String, i64)`, a `Vec<T>` or a `Value`).
    pub fn stage<T, F>(&mut self, name: &str, f: F) -> Stage<T>
    where
        T: FromValue + 'static,
        F: FnMut(&mut Ctx<'_>, T) -> Result + 'static,
    {
        self.t.stage(name, f)
    }

    /// Declares a stage whose function is given later with
    /// [`QueryTopology::implement`] (see [`Topology::declare_stage`]).
    pub fn declare_stage<T>(&mut self, name: &str) -> Stage<T> {
        self.t.declare_stage(name)
    }

    /// Gives the function of a stage declared with
    /// [`QueryTopology::declare_stage`].
    pub fn implement<T, F>(&mut self, stage: &Stage<T>, f: F)
    where
        T: FromValue + 'static,
        F: FnMut(&mut Ctx<'_>, T) -> Result + 'static,
    {
        self.t.implement(stage, f)
    }

    /// The handle that invokes the query ([`Ctx::invoke`]).
    pub fn handle(&self) -> Query {
        Query { module: self.t.m.id, index: self.t.index }
    }
}

fn stage_names(stages: &[StageDecl]) -> Value {
    Value::List(stages.iter().map(|s| Value::from(s.name.as_str())).collect())
}

/// The default of max_records (ABI.md §15.2), left out of the canonical
/// definition.
const DEFAULT_MAX_RECORDS: u32 = 1000;

/// The names of a built module's declarations, by id.
pub(crate) struct ModuleInfo {
    pub id: u32,
    pub depots: Vec<String>,
    /// Which depots are tick depots.
    pub ticks: Vec<bool>,
    pub pstates: Vec<String>,
    pub topologies: Vec<(String, Vec<String>)>,
    pub queries: Vec<(String, Vec<String>)>,
    pub query_args: Vec<Vec<String>>,
}

impl ModuleInfo {
    /// The name and stage names of a topology, or of a query.
    pub(crate) fn topology(&self, query: bool, index: u16) -> &(String, Vec<String>) {
        if query {
            &self.queries[index as usize]
        } else {
            &self.topologies[index as usize]
        }
    }
}

/// A built module: its declarations, stage functions and canonical
/// definition.
pub(crate) struct Built {
    pub info: ModuleInfo,
    pub stages: Vec<Vec<StageFn>>,
    pub query_stages: Vec<Vec<StageFn>>,
    pub def_bytes: Vec<u8>,
    /// The ABI 1.1 features the definition uses (empty: it needs 1.0).
    pub features_1_1: Vec<String>,
}

/// A definition that could not be built.
#[derive(Clone, Debug)]
pub(crate) struct BuildError {
    pub kind: &'static str,
    pub message: String,
    pub stack: String,
}

impl Module {
    /// What the definition uses of ABI 1.1 (`abi.ModuleDef.MinMinor`), in
    /// words.
    fn features_1_1(&self) -> Vec<String> {
        let mut f = vec![];
        for d in &self.depots {
            if d.tick.is_some() {
                f.push(format!("tick depot {}", quote(&d.name)));
            }
        }
        for p in &self.pstates {
            if p.owner.is_some() {
                f.push(format!("owner of PState {}", quote(&p.name)));
            }
        }
        for t in &self.topologies {
            if t.kind == "microbatch" {
                f.push(format!("microbatch topology {}", quote(&t.name)));
            } else if t.max_records.is_some() || t.interval_ms.unwrap_or(0) != 0 {
                f.push(format!("microbatch options of topology {}", quote(&t.name)));
            }
            if t.sources.iter().any(|s| s.2 != StartFrom::Beginning) {
                f.push(format!("a source start position in topology {}", quote(&t.name)));
            }
        }
        for q in &self.queries {
            f.push(format!("query topology {}", quote(&q.name)));
        }
        f
    }
}

/// Checks what a definition function declared and builds the module.
pub(crate) fn build_module(m: Module) -> std::result::Result<Built, BuildError> {
    let v = m.value();
    // Misused handles first: they say more than the problems they cause
    // in the definition (an unknown depot "", for example).
    let mut p = Problems::default();
    for q in &m.misuse {
        p.add(&q.location, q.message.clone());
    }
    if let Err(DefError { problems }) = check_definition(&v) {
        for q in problems {
            p.add(&q.location, q.message);
        }
    }
    for (section, list) in [("topologies", &m.topologies), ("queries", &m.queries)] {
        for (ti, t) in list.iter().enumerate() {
            for (si, s) in t.stages.iter().enumerate() {
                if s.f.is_none() {
                    p.add(
                        &at(&format!("{}.stages", at(section, ti)), si),
                        format!("stage {} has no function (declare_stage without implement)", quote(&s.name)),
                    );
                }
            }
        }
    }
    if let Some(e) = p.err() {
        return Err(BuildError { kind: "definition", message: e.to_string(), stack: String::new() });
    }
    let def_bytes = msgpack::encode(&v).map_err(|e| BuildError {
        kind: "definition",
        message: format!("squall: the module definition cannot be encoded: {}", e),
        stack: String::new(),
    })?;
    let names = |ts: &[TopologyDecl]| -> Vec<(String, Vec<String>)> {
        ts.iter().map(|t| (t.name.clone(), t.stages.iter().map(|s| s.name.clone()).collect())).collect()
    };
    let info = ModuleInfo {
        id: m.id,
        depots: m.depots.iter().map(|d| d.name.clone()).collect(),
        ticks: m.depots.iter().map(|d| d.tick.is_some()).collect(),
        pstates: m.pstates.iter().map(|p| p.name.clone()).collect(),
        topologies: names(&m.topologies),
        queries: names(&m.queries),
        query_args: m.queries.iter().map(|q| q.args.clone()).collect(),
    };
    let features_1_1 = m.features_1_1();
    let fns = |ts: Vec<TopologyDecl>| -> Vec<Vec<StageFn>> {
        ts.into_iter().map(|t| t.stages.into_iter().filter_map(|s| s.f).collect()).collect()
    };
    let stages = fns(m.topologies);
    let query_stages = fns(m.queries);
    Ok(Built { info, stages, query_stages, def_bytes, features_1_1 })
}

impl Module {
    /// The canonical encoding of the definition and its check, without the
    /// stage functions (for tests of definitions).
    #[cfg(test)]
    pub(crate) fn definition_bytes(self) -> std::result::Result<Vec<u8>, String> {
        build_module(self).map(|b| b.def_bytes).map_err(|e| e.message)
    }
}
