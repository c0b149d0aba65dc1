//! Module definitions: depots, PStates, stream topologies and their stages.

use std::marker::PhantomData;
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

/// A declared stage of a stream topology, whose input is a `T`. Hops
/// ([`Ctx::hop`]) name their target stage with it.
pub struct Stage<T = Value> {
    pub(crate) module: u32,
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

struct DepotDecl {
    name: String,
    partitioner: Partitioner,
}

struct PStateDecl {
    name: String,
    schema: Schema,
    global: bool,
}

struct StageDecl {
    name: String,
    f: Option<StageFn>,
}

struct TopologyDecl {
    name: String,
    stages: Vec<StageDecl>,
    sources: Vec<(String, String)>,
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
        self.depots.push(DepotDecl { name: name.to_string(), partitioner });
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
        self.pstates.push(PStateDecl { name: name.to_string(), schema, global });
        PState { module: self.id, index: index as u16 }
    }

    /// Declares a stream topology: records are processed one by one, at
    /// least once, with their effects committed atomically with the
    /// progress. Declare its stages and sources on the [`Topology`] it
    /// returns.
    pub fn stream(&mut self, name: &str) -> Topology<'_> {
        let index = self.topologies.len() as u16;
        self.topologies.push(TopologyDecl { name: name.to_string(), stages: vec![], sources: vec![] });
        Topology { m: self, index }
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
                    .map(|(d, s)| Value::map([("depot", d.as_str()), ("stage", s.as_str())]))
                    .collect();
                let stages: Vec<Value> = t.stages.iter().map(|s| Value::from(s.name.as_str())).collect();
                Value::map([
                    ("name", Value::from(t.name.as_str())),
                    ("kind", Value::from("stream")),
                    ("sources", Value::List(sources)),
                    ("stages", Value::List(stages)),
                ])
            })
            .collect();
        top.insert("depots", Value::List(depots));
        top.insert("pstates", Value::List(pstates));
        top.insert("topologies", Value::List(topologies));
        Value::Map(top)
    }
}

/// A stream topology being declared: named stages that run for each record
/// of its source depots, and for each hop sent to them. Returned by
/// [`Module::stream`].
pub struct Topology<'m> {
    m: &'m mut Module,
    index: u16,
}

impl<'m> Topology<'m> {
    fn decl(&mut self) -> &mut TopologyDecl {
        &mut self.m.topologies[self.index as usize]
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
        let module = self.m.id;
        let topology = self.index;
        let d = self.decl();
        d.stages.push(StageDecl { name: name.to_string(), f: None });
        Stage { module, topology, index: (d.stages.len() - 1) as u16, _t: PhantomData }
    }

    /// Gives the function of a stage declared with
    /// [`Topology::declare_stage`].
    pub fn implement<T, F>(&mut self, stage: &Stage<T>, mut f: F)
    where
        T: FromValue + 'static,
        F: FnMut(&mut Ctx<'_>, T) -> Result + 'static,
    {
        if stage.module != self.m.id || stage.topology != self.index {
            let w = format!("{}.stages", at("topologies", self.index as usize));
            self.m.misused(w, "implement: the stage belongs to another topology".into());
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

    /// Makes every record appended to `depot` start at `stage`.
    pub fn source<D, T>(&mut self, depot: &Depot<D>, stage: &Stage<T>) {
        let id = self.m.id;
        let w = at(&format!("{}.sources", at("topologies", self.index as usize)), self.decl().sources.len());
        let mut dn = String::new();
        let mut sn = String::new();
        if depot.module != id {
            self.m.misused(format!("{}.depot", w), "the depot was declared by another Module".into());
        } else {
            dn = self.m.depots[depot.index as usize].name.clone();
        }
        if stage.module != id || stage.topology != self.index {
            let msg = if stage.module == id {
                format!(
                    "stage {} belongs to topology {}; a source starts a stage of its own topology",
                    quote(&self.m.topologies[stage.topology as usize].stages[stage.index as usize].name),
                    quote(&self.m.topologies[stage.topology as usize].name)
                )
            } else {
                "the stage was declared by another Module".into()
            };
            self.m.misused(format!("{}.stage", w), msg);
            if stage.module == id {
                sn = self.m.topologies[stage.topology as usize].stages[stage.index as usize].name.clone();
            }
        } else {
            sn = self.decl().stages[stage.index as usize].name.clone();
        }
        self.decl().sources.push((dn, sn));
    }
}

/// The names of a built module's declarations, by id.
pub(crate) struct ModuleInfo {
    pub id: u32,
    pub depots: Vec<String>,
    pub pstates: Vec<String>,
    pub topologies: Vec<(String, Vec<String>)>,
}

/// A built module: its declarations, stage functions and canonical
/// definition.
pub(crate) struct Built {
    pub info: ModuleInfo,
    pub stages: Vec<Vec<StageFn>>,
    pub def_bytes: Vec<u8>,
}

/// A definition that could not be built.
#[derive(Clone, Debug)]
pub(crate) struct BuildError {
    pub kind: &'static str,
    pub message: String,
    pub stack: String,
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
    for (ti, t) in m.topologies.iter().enumerate() {
        for (si, s) in t.stages.iter().enumerate() {
            if s.f.is_none() {
                p.add(
                    &at(&format!("{}.stages", at("topologies", ti)), si),
                    format!("stage {} has no function (declare_stage without implement)", quote(&s.name)),
                );
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
    let info = ModuleInfo {
        id: m.id,
        depots: m.depots.iter().map(|d| d.name.clone()).collect(),
        pstates: m.pstates.iter().map(|p| p.name.clone()).collect(),
        topologies: m
            .topologies
            .iter()
            .map(|t| (t.name.clone(), t.stages.iter().map(|s| s.name.clone()).collect()))
            .collect(),
    };
    let stages = m
        .topologies
        .into_iter()
        .map(|t| t.stages.into_iter().map(|s| s.f.unwrap()).collect())
        .collect();
    Ok(Built { info, stages, def_bytes })
}

impl Module {
    /// The canonical encoding of the definition and its check, without the
    /// stage functions (for tests of definitions).
    #[cfg(test)]
    pub(crate) fn definition_bytes(self) -> std::result::Result<Vec<u8>, String> {
        build_module(self).map(|b| b.def_bytes).map_err(|e| e.message)
    }
}
