//! The fake host's side of a call: what flush, query and take do
//! (`abi/ABI.md` §7), applied to the harness's in-memory state.

use std::cell::RefCell;
use std::rc::Rc;

use super::aggregate::{check_value, AGG_COUNT, AGG_LIST, AGG_MAP, AGG_SET, AGG_SUM};
use super::engine::{first_key, host_path_error, path_steps, Steps, Undo};
use super::frames::{append_response, decode_effects, decode_query, rejections_value, CallCheck, Effect, Query, Rejection, ResultOut};
use super::{Log, Pending, State};
use crate::frames::ErrorDetail;
use crate::msgpack;
use crate::path::{Path, PathMode};
use crate::partition::key_partition;
use crate::rand::Rng;
use crate::runtime::Host;
use crate::value::{quote, Value};
use crate::wire::*;

use super::schema::short_value;

/// The state of one export call.
pub(crate) struct Call {
    pub init: bool,
    /// The DEFINE of an init call.
    pub define: Vec<u8>,
    pub topology: usize,
    /// A call of a query invocation: topology indexes the queries.
    pub query: bool,
    pub partition: usize,
    pub items: Vec<Pending>,
    pub state: Vec<ItemState>,
    pub check: CallCheck,
    pub violation: Option<String>,
    pub err_detail: Option<ErrorDetail>,
    pub err_item: u32,
    parked: Option<Vec<u8>>,
    /// Random appends and shuffle hops, from the batch seed.
    rnd: Rng,
    /// Undoes the call's transforms, in order: (pstate, undo).
    pub undo: Vec<(usize, Undo)>,
}

/// What one item of a batch did.
#[derive(Default)]
pub(crate) struct ItemState {
    started: bool,
    undo_mark: usize,
    pub outcome: u8,
    pub closed: bool,
    pub detail: ErrorDetail,
    /// The host's verdict: poison.
    pub rejected: Option<ErrorDetail>,
    pub appends: Vec<StagedAppend>,
    pub hops: Vec<StagedHop>,
    pub emits: Vec<Value>,
    /// What the item did to its query invocation's result, in order.
    pub result_ops: Vec<ResultOp>,
}

/// A change of a query invocation's result.
pub(crate) enum ResultOp {
    /// EMIT QUERY_RESULT.
    Set(Value),
    /// AGGREGATE into 0xFFFF: aggregator, key path, value, n.
    Agg(u8, Vec<Value>, Value, i64),
}

pub(crate) struct StagedAppend {
    pub depot: usize,
    pub partition: usize,
    pub ack: u8,
    pub record: Value,
}

pub(crate) struct StagedHop {
    pub stage: u16,
    pub partitions: Vec<usize>,
    pub payload: Value,
}

impl Call {
    pub(crate) fn new_init() -> Call {
        Call::new(true, 0, 0, vec![], 0)
    }

    pub(crate) fn new(init: bool, topology: usize, partition: usize, items: Vec<Pending>, seed: u64) -> Call {
        let n = items.len();
        Call {
            init,
            define: vec![],
            topology,
            query: false,
            partition,
            state: (0..n).map(|_| ItemState::default()).collect(),
            items,
            check: CallCheck::new(init, n as u32),
            violation: None,
            err_detail: None,
            err_item: NO_ITEM,
            parked: None,
            rnd: Rng::new(seed, 0x2545_f491_4f6c_dd1d),
            undo: vec![],
        }
    }
}

/// Undoes the transforms of an item and drops its effects.
fn undo_item(st: &mut State, c: &mut Call, item: usize) {
    let mark = c.state[item].undo_mark;
    while c.undo.len() > mark {
        let (pi, u) = c.undo.pop().unwrap();
        st.pstates[pi][c.partition].undo(u);
    }
    let s = &mut c.state[item];
    s.appends.clear();
    s.hops.clear();
    s.emits.clear();
    s.result_ops.clear();
}

/// Undoes every transform of a call.
pub(crate) fn undo_all(st: &mut State, c: &mut Call) {
    while let Some((pi, u)) = c.undo.pop() {
        st.pstates[pi][c.partition].undo(u);
    }
}

/// The fake host of a harness's instances.
pub(crate) struct FakeHost {
    pub state: Rc<RefCell<State>>,
}

impl Host for FakeHost {
    fn flush(&mut self, frame: &[u8]) -> i32 {
        let mut st = self.state.borrow_mut();
        let mut c = match st.call.take() {
            Some(c) => c,
            None => return ESTATE,
        };
        let r = flush(&mut st, &mut c, frame);
        st.call = Some(c);
        r
    }

    fn query(&mut self, req: &[u8], out: &mut [u8]) -> i32 {
        let mut c = match self.state.borrow_mut().call.take() {
            Some(c) => c,
            None => return ESTATE,
        };
        let r = query(&self.state, &mut c, req, out);
        self.state.borrow_mut().call = Some(c);
        r
    }

    fn take(&mut self, out: &mut [u8]) -> i32 {
        let mut st = self.state.borrow_mut();
        let c = match st.call.as_mut() {
            Some(c) => c,
            None => return ESTATE,
        };
        let n = match &c.parked {
            None => return ENOENT,
            Some(p) => p.len(),
        };
        if n <= out.len() {
            out[..n].copy_from_slice(c.parked.as_ref().unwrap());
            c.parked = None;
        }
        n as i32
    }
}

fn flush(st: &mut State, c: &mut Call, frame: &[u8]) -> i32 {
    c.parked = None;
    let es = match decode_effects(frame, true) {
        Ok(es) => es,
        Err(e) => {
            c.violation = Some(e.to_string());
            return e.errno();
        }
    };
    if let Err(e) = c.check.frame(&es) {
        c.violation = Some(e.to_string());
        return ESTATE;
    }
    let mut rejs = vec![];
    for (i, e) in es.iter().enumerate() {
        if let Some(r) = apply(st, c, i, e) {
            rejs.push(r);
        }
    }
    if rejs.is_empty() {
        return 0;
    }
    c.parked = msgpack::encode(&rejections_value(&rejs)).ok();
    rejs.len() as i32
}

const LEVEL_NAMES: [&str; 4] = ["DEBUG", "INFO", "WARN", "ERROR"];

/// Applies one effect of a flushed frame; returns a rejection when the
/// effect does not fit the module or the data.
fn apply(st: &mut State, c: &mut Call, index: usize, e: &Effect) -> Option<Rejection> {
    match e.op {
        OP_DEFINE => {
            c.define = e.raw.clone();
            return None;
        }
        OP_ERROR => {
            if c.err_detail.is_none() {
                c.err_detail = Some(e.detail.clone());
                c.err_item = e.item;
            }
            return None;
        }
        OP_LOG => {
            let mut l = Log { level: LEVEL_NAMES[e.flags as usize].into(), text: e.text.clone(), ..Log::default() };
            if !c.init {
                let t = st.def.topo(c.query, c.topology);
                l.topology = t.name.clone();
                l.partition = c.partition as u32;
                if e.item != NO_ITEM {
                    l.stage = t.stages[c.items[e.item as usize].stage as usize].clone();
                }
            }
            if !st.opts.quiet {
                let mut at = "init".to_string();
                if !c.init {
                    at = format!("{}/{}", l.topology, l.partition);
                    if !l.stage.is_empty() {
                        at = format!("{} {}", at, l.stage);
                    }
                }
                eprintln!("squall {} {}: {}", l.level, at, l.text);
            }
            st.logs.push(l);
            return None;
        }
        _ => {}
    }
    let item = e.item as usize;
    {
        let s = &mut c.state[item];
        if !s.started {
            s.started = true;
            s.undo_mark = c.undo.len();
        }
        if s.rejected.is_some() {
            return None; // the host ignores the effects of a rejected item
        }
    }
    let reject = |st: &mut State, c: &mut Call, code: i32, msg: String| -> Option<Rejection> {
        c.state[item].rejected =
            Some(ErrorDetail { kind: "rejected".into(), message: format!("{}: {}", errno_name(code), msg), stack: String::new() });
        undo_item(st, c, item);
        Some(Rejection { effect: index, item: e.item, code, message: msg })
    };
    match e.op {
        OP_APPEND => {
            let di = e.target as usize;
            if di >= st.def.depots.len() {
                let n = st.def.depots.len();
                return reject(st, c, EBADID, format!("no depot {}; the module has {}", e.target, n));
            }
            if c.query {
                let msg = format!("query {} is read-only: APPEND is not allowed", quote(&st.def.queries[c.topology].name));
                return reject(st, c, EINVAL, msg);
            }
            if st.def.depots[di].tick.is_some() {
                let msg = format!("depot {} is a tick depot: only the host appends to it", quote(&st.def.depots[di].name));
                return reject(st, c, EINVAL, msg);
            }
            let local = e.flags & APPEND_LOCAL != 0;
            if st.def.depots[di].kind == "disallow" && !local {
                let msg = format!("depot {} is Disallow: topologies append to it only with Local", quote(&st.def.depots[di].name));
                return reject(st, c, EINVAL, msg);
            }
            let p = if local { c.partition } else { st.route(di, &e.value, &mut c.rnd) };
            c.state[item].appends.push(StagedAppend { depot: di, partition: p, ack: e.flags & ACK_MASK, record: e.value.clone() });
        }
        OP_HOP => {
            let t = st.def.topo(c.query, c.topology);
            if e.target as usize >= t.stages.len() {
                let msg = format!("topology {} has no stage {}", quote(&t.name), e.target);
                return reject(st, c, EBADID, msg);
            }
            let tasks = st.tasks;
            let partitions = match e.flags {
                HOP_HASH => vec![key_partition(&e.key, tasks).unwrap_or(0) as usize],
                HOP_ALL => (0..tasks as usize).collect(),
                HOP_GLOBAL => vec![0],
                HOP_ORIGIN => vec![c.items[item].origin],
                HOP_SHUFFLE => vec![c.rnd.below(tasks as u64) as usize],
                _ => {
                    if e.partition >= tasks {
                        let msg = format!("partition {} does not exist; the module has {}", e.partition, tasks);
                        return reject(st, c, EWRONGPART, msg);
                    }
                    vec![e.partition as usize]
                }
            };
            c.state[item].hops.push(StagedHop { stage: e.target, partitions, payload: e.value.clone() });
        }
        OP_TRANSFORM => {
            let pi = e.target as usize;
            if pi >= st.def.pstates.len() {
                let n = st.def.pstates.len();
                return reject(st, c, EBADID, format!("no PState {}; the module has {}", e.target, n));
            }
            if let Err((code, msg)) = write_check(st, c, pi).and_then(|_| transform(st, c, pi, &e.value)) {
                return reject(st, c, code, msg);
            }
        }
        OP_EMIT => match (e.target, c.query) {
            (EMIT_ACK_RETURN, false) => c.state[item].emits.push(e.value.clone()),
            (EMIT_QUERY_RESULT, true) => c.state[item].result_ops.push(ResultOp::Set(e.value.clone())),
            (EMIT_ACK_RETURN, true) => {
                return reject(st, c, EINVAL, "EMIT on ACK_RETURN in a query: a query has no ack return; emit on QUERY_RESULT".into())
            }
            (EMIT_QUERY_RESULT, false) => {
                return reject(st, c, EINVAL, "EMIT on QUERY_RESULT is allowed only in a query topology".into())
            }
            (t, _) => return reject(st, c, EBADID, format!("no emit stream {}; ABI 1.1 has 0 (ACK_RETURN) and 1 (QUERY_RESULT)", t)),
        },
        OP_AGGREGATE => {
            let keys = e.key.items().to_vec();
            if e.target == QUERY_RESULT_TARGET {
                if !c.query {
                    let msg = "AGGREGATE into the query result (target 0xFFFF) is allowed only in a query topology".to_string();
                    return reject(st, c, EBADID, msg);
                }
                if let Err(msg) = check_value(e.flags, &e.value, e.n) {
                    return reject(st, c, EINVAL, msg);
                }
                c.state[item].result_ops.push(ResultOp::Agg(e.flags, keys, e.value.clone(), e.n));
                return None;
            }
            let pi = e.target as usize;
            if pi >= st.def.pstates.len() {
                let n = st.def.pstates.len();
                return reject(st, c, EBADID, format!("PState {} does not exist; the module has {}", e.target, n));
            }
            if let Err((code, msg)) = write_check(st, c, pi).and_then(|_| aggregate_pstate(st, c, pi, e.flags, &keys, &e.value, e.n)) {
                return reject(st, c, code, msg);
            }
        }
        OP_OUTCOME => {
            {
                let s = &mut c.state[item];
                s.closed = true;
                s.outcome = e.flags;
                s.detail = e.detail.clone();
            }
            if e.flags != OUTCOME_OK {
                undo_item(st, c, item);
            }
        }
        _ => {}
    }
    None
}

/// Reports a path that reaches outside the call's partition: a global
/// PState off partition 0, or a first key owned by another partition.
fn partition_check(st: &State, c: &Call, pi: usize, steps: &Steps) -> Result<(), (i32, String)> {
    let ps = &st.def.pstates[pi];
    if ps.global {
        if c.partition != 0 {
            return Err((
                EWRONGPART,
                format!(
                    "PState {} is global: it lives on partition 0, not {}; hop there first (HopGlobal)",
                    quote(&ps.name),
                    c.partition
                ),
            ));
        }
        return Ok(());
    }
    if let Some(k) = first_key(&steps.steps) {
        if ps.schema.typ == "map" {
            let p = key_partition(k, st.tasks).unwrap_or(0) as usize;
            if p != c.partition {
                return Err((
                    EWRONGPART,
                    format!("key {} belongs to partition {}, not {}; hop there first", short_value(k), p, c.partition),
                ));
            }
        }
    }
    Ok(())
}

/// Checks that the call's topology may write PState pi (ABI.md §15.2
/// ownership); queries write nothing.
fn write_check(st: &State, c: &Call, pi: usize) -> Result<(), (i32, String)> {
    let ps = &st.def.pstates[pi];
    if c.query {
        let q = &st.def.queries[c.topology].name;
        return Err((EINVAL, format!("query {} is read-only: it cannot write PState {}", quote(q), quote(&ps.name))));
    }
    let t = &st.def.topos[c.topology];
    match &ps.owner {
        Some(o) if *o != t.name => Err((
            EINVAL,
            format!("PState {} is owned by topology {}; topology {} may read it but not write it", quote(&ps.name), quote(o), quote(&t.name)),
        )),
        None if t.microbatch => Err((
            EINVAL,
            format!(
                "microbatch topology {} may write only the PStates it owns, and PState {} has no owner; declare the PState with owner {}",
                quote(&t.name),
                quote(&ps.name),
                quote(&t.name)
            ),
        )),
        _ => Ok(()),
    }
}

/// Applies an AGGREGATE into PState pi as the host does: COUNT and SUM of
/// an int as an increment, the others as a read, the combine and a set.
#[allow(clippy::too_many_arguments)]
fn aggregate_pstate(st: &mut State, c: &mut Call, pi: usize, agg: u8, keys: &[Value], v: &Value, n: i64) -> Result<(), (i32, String)> {
    check_value(agg, v, n).map_err(|m| (EINVAL, m))?;
    let ps_name = st.def.pstates[pi].name.clone();
    if keys.is_empty() && st.def.pstates[pi].schema.typ == "map" {
        return Err((EPATH, format!("PState {} is a map: the key path of an AGGREGATE starts with its top-level key", quote(&ps_name))));
    }
    let mut base = Path::new();
    for k in keys {
        base = base.key(k.clone());
    }
    let incr = match (agg, v) {
        (AGG_COUNT, _) => Some(1),
        (AGG_SUM, Value::Int(x)) => Some(*x),
        _ => None,
    };
    // LIST, SET and MAP apply in place when the value is a subindexed
    // collection, which cannot be read whole.
    let in_place = match agg {
        AGG_LIST | AGG_SET => Some(base.clone().append(v.clone())),
        AGG_MAP => Some(base.clone().key(v.index(0).clone()).set(v.index(1).clone())),
        _ => None,
    };
    let path = match incr {
        Some(x) => base.nil_to_val(0).incr(x),
        None => {
            let steps = path_steps(&base.value().unwrap_or(Value::Nil), PathMode::Select)
                .map_err(|(e, text)| (EPATH, format!("PState {}: {}", quote(&ps_name), host_path_error(&e, &text))))?;
            partition_check(st, c, pi, &steps)?;
            let vs = match (st.pstates[pi][c.partition].sel(&steps), in_place) {
                (Ok(vs), _) => vs,
                (Err(e), None) => return Err((EPATH, format!("PState {}: {}", quote(&ps_name), e))),
                (Err(_), Some(p)) => {
                    let pv = p.value().map_err(|e| (EPATH, e.to_string()))?;
                    return transform(st, c, pi, &pv);
                }
            };
            let cur = if vs.len() == 1 { vs[0].clone() } else { Value::Nil };
            let nv = super::aggregate::aggregate(agg, &cur, v, n).map_err(|m| (EINVAL, m))?;
            base.set(nv)
        }
    };
    let pv = path.value().map_err(|e| (EPATH, e.to_string()))?;
    transform(st, c, pi, &pv)
}

/// Applies a TRANSFORM to the call's partition.
fn transform(st: &mut State, c: &mut Call, pi: usize, path: &Value) -> Result<(), (i32, String)> {
    let name = quote(&st.def.pstates[pi].name);
    let steps = path_steps(path, PathMode::Transform)
        .map_err(|(e, text)| (EPATH, format!("PState {}: {}", name, host_path_error(&e, &text))))?;
    partition_check(st, c, pi, &steps)?;
    match st.pstates[pi][c.partition].transform(&steps) {
        Ok(u) => {
            c.undo.push((pi, u));
            Ok(())
        }
        Err(e) if e.schema => Err((ESCHEMA, format!("PState {}: {}", name, e))),
        Err(e) => Err((EPATH, format!("PState {}: {}", name, e))),
    }
}

/// Answers one query on the call's partition.
fn run_query(st: &State, c: &Call, q: &Query) -> ResultOut {
    let err = |status: i32, message: String| ResultOut { status, value: Value::Nil, message };
    let pi = q.pstate as usize;
    if pi >= st.def.pstates.len() {
        return err(EBADID, format!("no PState {}; the module has {}", q.pstate, st.def.pstates.len()));
    }
    let name = quote(&st.def.pstates[pi].name);
    let steps = match path_steps(&q.path, PathMode::Select) {
        Ok(s) => s,
        Err((e, text)) => return err(EPATH, format!("PState {}: {}", name, host_path_error(&e, &text))),
    };
    if let Err((code, msg)) = partition_check(st, c, pi, &steps) {
        return err(code, msg);
    }
    let vs = match st.pstates[pi][c.partition].sel(&steps) {
        Ok(vs) => vs,
        Err(e) => return err(EPATH, format!("PState {}: {}", name, e)),
    };
    if q.op == QUERY_SELECT {
        return ResultOut { status: RESULT_OK, value: Value::List(vs), message: String::new() };
    }
    match vs.len() {
        0 => ResultOut { status: RESULT_NOT_FOUND, value: Value::Nil, message: String::new() },
        1 => ResultOut { status: RESULT_OK, value: vs.into_iter().next().unwrap(), message: String::new() },
        n => err(EMULTI, format!("SELECT_ONE navigated to {} values", n)),
    }
}

/// Runs a query frame; INVOKEs run their query on a fresh instance, with
/// the state unborrowed.
fn query(state: &Rc<RefCell<State>>, c: &mut Call, req: &[u8], out: &mut [u8]) -> i32 {
    c.parked = None;
    if c.init {
        c.violation = Some("query during squall_init; queries are allowed only in squall_process".into());
        return ESTATE;
    }
    let qs = match decode_query(req, true) {
        Ok(qs) => qs,
        Err(e) => {
            c.violation = Some(e.to_string());
            return e.errno();
        }
    };
    let mut rs: Vec<ResultOut> = vec![];
    for q in &qs {
        if q.op != QUERY_INVOKE {
            rs.push(run_query(&state.borrow(), c, q));
            continue;
        }
        rs.push(match super::run::invoke_nested(state, &c.undo, c.partition, q.pstate as usize, q.path.clone()) {
            Ok(v) => ResultOut { status: RESULT_OK, value: v, message: String::new() },
            Err((status, message)) => ResultOut { status, value: Value::Nil, message },
        });
    }
    let mut resp = Vec::new();
    if let Err(e) = append_response(&mut resp, &rs) {
        c.violation = Some(e.to_string());
        return EINTERNAL;
    }
    if resp.len() <= out.len() {
        out[..resp.len()].copy_from_slice(&resp);
    } else {
        let n = resp.len();
        c.parked = Some(resp);
        return n as i32;
    }
    resp.len() as i32
}
