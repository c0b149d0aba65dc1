//! How the harness runs ABI 1.1 work (`abi/ABI.md` §15): microbatches
//! (all partitions, hops inside, all or nothing, poison removes the source
//! record, pause after the maximum attempts) and query invocations (an
//! INVOKE on an origin partition, hops until none is left, the result of
//! EMIT QUERY_RESULT and AGGREGATE into it).

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use super::aggregate::aggregate_at;
use super::engine::Undo;
use super::frames::{append_batch, append_init, BatchHeaderOut, BatchItemOut};
use super::host::{undo_all, Call, FakeHost, ResultOp, StagedAppend};
use super::{end_call, Pending, State};
use crate::frames::ErrorDetail;
use crate::msgpack;
use crate::runtime::Instance;
use crate::value::{quote, Value};
use crate::wire::*;

/// How deep query invocations may nest (ABI.md §15.4).
const MAX_QUERY_DEPTH: usize = 8;

/// Calls squall_init on inst and returns the definition it flushed.
pub(crate) fn init_instance(state: &Rc<RefCell<State>>, inst: &mut Instance, flags: u16) -> Vec<u8> {
    let mut frame = Vec::new();
    {
        let mut st = state.borrow_mut();
        let seed = st.rnd.next_u64();
        append_init(&mut frame, flags, st.tasks, st.clock, seed);
        st.call = Some(Call::new_init());
    }
    match inst.inbox(64 << 10) {
        Some(inbox) if inbox.len() >= frame.len() => inbox[..frame.len()].copy_from_slice(&frame),
        _ => panic!("squall::testing: squall_inbox(65536) returned no buffer"),
    }
    let status = inst.init(frame.len());
    let c = state.borrow_mut().call.take().unwrap();
    end_call(&c, "squall_init", status);
    c.define
}

/// A started instance of the harness's module.
pub(crate) fn fresh_instance(state: &Rc<RefCell<State>>) -> Instance {
    let define = state.borrow().define.clone().expect("squall::testing: no definition function");
    let mut inst = Instance::new(define, Box::new(FakeHost { state: state.clone() }));
    init_instance(state, &mut inst, 0);
    inst
}

/// Runs one squall_process call and returns its state. A call that broke
/// the ABI, or failed for another reason than a panic, fails the test; a
/// panic is returned as the call's error (the caller replaces the
/// instance).
fn run_call(state: &Rc<RefCell<State>>, inst: &mut Instance, hdr: &BatchHeaderOut, items: Vec<Pending>, what: &str) -> (Call, Option<ErrorDetail>) {
    let bitems: Vec<BatchItemOut> = items
        .iter()
        .map(|it| BatchItemOut {
            kind: it.kind,
            stage: it.stage,
            depot: if it.kind == ITEM_RECORD { it.depot } else { NO_DEPOT },
            attempt: it.attempt,
            source_partition: it.source_partition,
            offset: it.offset,
            event_time_unix_nano: it.event_time,
            payload: it.payload.clone(),
        })
        .collect();
    let mut frame = Vec::new();
    append_batch(&mut frame, hdr, &bitems);
    let n = items.len();
    {
        let mut c = Call::new(false, hdr.topology as usize, hdr.partition as usize, items, hdr.seed);
        c.query = hdr.flags & BATCH_QUERY != 0;
        let mut st = state.borrow_mut();
        st.call = Some(c);
        st.stats.batches += 1;
        st.stats.items += n;
    }
    match inst.inbox(frame.len() as i64) {
        Some(inbox) if inbox.len() >= frame.len() => inbox[..frame.len()].copy_from_slice(&frame),
        _ => panic!("squall::testing: squall_inbox({}) returned no buffer", frame.len()),
    }
    let status = inst.process(frame.len());
    let mut c = state.borrow_mut().call.take().unwrap();
    let panicked = c.violation.is_none() && c.err_detail.as_ref().map_or(false, |d| d.kind == "panic");
    if !panicked {
        end_call(&c, what, status);
        return (c, None);
    }
    undo_all(&mut state.borrow_mut(), &mut c);
    state.borrow_mut().stats.failed_calls += 1;
    *inst = fresh_instance(state);
    let d = c.err_detail.clone();
    (c, d)
}

/// Why a microbatch attempt failed.
enum MbFail {
    /// The source record with this index poisoned it.
    Poison(usize, ErrorDetail),
    /// A call failed or an item ended RETRY.
    Fail(ErrorDetail),
}

/// A microbatch topology paused after its maximum attempts.
pub(crate) struct Paused {
    pub microbatch: u64,
    pub attempts: u32,
    pub error: ErrorDetail,
    pub records: Vec<Pending>,
}

/// Takes the next microbatch of topology ti from its queues: per
/// partition, at most max_records records of each source (depot and
/// stage), in order.
fn take_records(st: &mut State, ti: usize) -> Vec<Pending> {
    let max = st.def.topos[ti].max_records;
    let mut recs = vec![];
    for q in st.queues[ti].iter_mut() {
        let mut counts: BTreeMap<(u16, u16), usize> = BTreeMap::new();
        while let Some(front) = q.front() {
            let c = counts.entry((front.depot, front.stage)).or_insert(0);
            if *c >= max {
                break;
            }
            *c += 1;
            let mut r = q.pop_front().unwrap();
            r.src = recs.len();
            recs.push(r);
        }
    }
    recs
}

/// Runs the next microbatch of topology ti if it has records; returns
/// whether it ran.
pub(crate) fn run_microbatch(state: &Rc<RefCell<State>>, inst: &mut Instance, ti: usize) -> bool {
    let (recs, number, time, seed) = {
        let mut st = state.borrow_mut();
        if st.paused.contains_key(&ti) {
            return false;
        }
        let recs = take_records(&mut st, ti);
        if recs.is_empty() {
            return false;
        }
        st.clock += 1_000_000;
        let seed = st.rnd.next_u64();
        let number = *st.microbatch_ids.entry(ti).or_insert(0);
        (recs, number, st.clock, seed)
    };
    let mut excluded = vec![false; recs.len()];
    let mut attempt: u32 = 0;
    loop {
        let r = microbatch_attempt(state, inst, ti, number, attempt, time, seed, &recs, &excluded);
        let mut st = state.borrow_mut();
        match r {
            Ok(appends) => {
                for a in appends {
                    let root = Rc::new(RefCell::new(BTreeMap::new()));
                    st.append_record(a.depot, a.partition, &a.record, &root);
                }
                st.microbatch_ids.insert(ti, number + 1);
                st.stats.microbatches += 1;
                return true;
            }
            Err(MbFail::Poison(src, d)) => {
                let mut rec = recs[src].clone();
                rec.attempt = attempt as u16;
                let p = rec.source_partition as usize;
                st.dead_letter(ti, p, &rec, d);
                excluded[src] = true;
                attempt += 1;
            }
            Err(MbFail::Fail(d)) => {
                attempt += 1;
                st.stats.retries += 1;
                if attempt >= st.opts.max_attempts {
                    let records = recs.iter().zip(&excluded).filter(|(_, x)| !**x).map(|(r, _)| r.clone()).collect();
                    let name = st.def.topos[ti].name.clone();
                    if !st.opts.quiet {
                        eprintln!(
                            "squall WARN {}: microbatch {} failed {} times and the topology is paused: {}",
                            name, number, attempt, d.message
                        );
                    }
                    st.paused.insert(ti, Paused { microbatch: number, attempts: attempt, error: d, records });
                    return true;
                }
            }
        }
    }
}

/// One attempt of a microbatch: every record not excluded, and the hops
/// they send, until none is left. Ok holds the appends to commit; on an
/// error nothing of the attempt is left in the PStates.
#[allow(clippy::too_many_arguments)]
fn microbatch_attempt(
    state: &Rc<RefCell<State>>,
    inst: &mut Instance,
    ti: usize,
    number: u64,
    attempt: u32,
    time: i64,
    seed: u64,
    recs: &[Pending],
    excluded: &[bool],
) -> Result<Vec<StagedAppend>, MbFail> {
    let (tasks, bs, name) = {
        let st = state.borrow();
        (st.tasks as usize, st.opts.batch_size, st.def.topos[ti].name.clone())
    };
    state.borrow_mut().staged.clear();
    let mut appends = vec![];
    let mut pending: Vec<VecDeque<Pending>> = (0..tasks).map(|_| VecDeque::new()).collect();
    for (i, r) in recs.iter().enumerate() {
        if !excluded[i] {
            let mut r = r.clone();
            r.attempt = attempt.min(u16::MAX as u32) as u16;
            pending[r.source_partition as usize].push_back(r);
        }
    }
    let rollback = || {
        let mut st = state.borrow_mut();
        while let Some((pi, p, u)) = st.staged.pop() {
            st.pstates[pi][p].undo(u);
        }
    };
    let mut rounds = 0;
    while pending.iter().any(|q| !q.is_empty()) {
        rounds += 1;
        if rounds > state.borrow().opts.max_batches {
            panic!("squall::testing: microbatch {} of topology {} did not settle; does a stage hop in a loop?", number, quote(&name));
        }
        let mut next: Vec<VecDeque<Pending>> = (0..tasks).map(|_| VecDeque::new()).collect();
        for p in 0..tasks {
            while !pending[p].is_empty() {
                let k = bs.min(pending[p].len());
                let items: Vec<Pending> = pending[p].drain(..k).collect();
                let hdr = BatchHeaderOut {
                    flags: 0,
                    batch_id: number,
                    partition: p as u32,
                    attempt,
                    topology: ti as u16,
                    time_unix_nano: time,
                    seed,
                };
                let what = format!("squall_process (microbatch topology {}, partition {})", quote(&name), p);
                let (mut c, failed) = run_call(state, inst, &hdr, items, &what);
                if let Some(d) = failed {
                    rollback();
                    return Err(MbFail::Fail(d));
                }
                for (i, it) in c.items.iter().enumerate() {
                    let s = &c.state[i];
                    let (mut out, mut d) = (s.outcome, s.detail.clone());
                    if let Some(r) = &s.rejected {
                        out = OUTCOME_POISON;
                        d = r.clone();
                    }
                    if out != OUTCOME_OK {
                        let src = it.src;
                        undo_all(&mut state.borrow_mut(), &mut c);
                        rollback();
                        if out == OUTCOME_POISON {
                            return Err(MbFail::Poison(src, d));
                        }
                        return Err(MbFail::Fail(d));
                    }
                }
                let st = state.borrow();
                for (i, it) in c.items.iter().enumerate() {
                    let s = &mut c.state[i];
                    appends.append(&mut s.appends);
                    for hop in &s.hops {
                        let payload = msgpack::encode(&hop.payload).unwrap_or_default();
                        for &dest in &hop.partitions {
                            next[dest].push_back(hop_item(it, hop.stage, p, st.clock, payload.clone(), attempt));
                        }
                    }
                }
                drop(st);
                state.borrow_mut().staged.extend(c.undo.drain(..).map(|(pi, u)| (pi, p, u)));
            }
        }
        pending = next;
    }
    state.borrow_mut().staged.clear();
    Ok(appends)
}

fn hop_item(from: &Pending, stage: u16, partition: usize, clock: i64, payload: Vec<u8>, attempt: u32) -> Pending {
    let mut h = from.clone();
    h.kind = ITEM_HOP;
    h.stage = stage;
    h.depot = NO_DEPOT;
    h.attempt = attempt.min(u16::MAX as u32) as u16;
    h.source_partition = partition as u32;
    h.offset = 0;
    h.event_time = clock;
    h.payload = payload;
    h.isolate = false;
    h.last_err = None;
    h
}

/// Invokes query qi with args on inst: Ok(result) or Err((errno,
/// message)).
pub(crate) fn run_invocation(state: &Rc<RefCell<State>>, inst: &mut Instance, qi: usize, args: Value) -> Result<Value, (i32, String)> {
    let (origin, id, time, seed, tasks, bs, name, stages) = {
        let mut st = state.borrow_mut();
        if qi >= st.def.queries.len() {
            return Err((EBADID, format!("query {} does not exist; the module has {}", qi, st.def.queries.len())));
        }
        let q = &st.def.queries[qi];
        let n = match &args {
            Value::List(l) => l.len(),
            v => return Err((EINVAL, format!("the arguments of query {} must be a list, not {}", q.name, v.kind()))),
        };
        if n != q.args.len() {
            return Err((
                EINVAL,
                format!("query {} takes {} arguments ({}); got {}", q.name, q.args.len(), q.args.join(", "), n),
            ));
        }
        if st.depth >= MAX_QUERY_DEPTH {
            return Err((EINVAL, format!("query {}: invocations nest deeper than {}", q.name, MAX_QUERY_DEPTH)));
        }
        let (name, stages) = (q.name.clone(), q.stages.clone());
        st.depth += 1;
        let origin = (st.invocations % st.tasks as u64) as usize;
        st.invocations += 1;
        st.clock += 1_000_000;
        let seed = st.rnd.next_u64();
        (origin, st.invocations, st.clock, seed, st.tasks as usize, st.opts.batch_size, name, stages)
    };
    let r = invocation(state, inst, qi, args, origin, id, time, seed, tasks, bs, &name, &stages);
    state.borrow_mut().depth -= 1;
    r
}

#[allow(clippy::too_many_arguments)]
fn invocation(
    state: &Rc<RefCell<State>>,
    inst: &mut Instance,
    qi: usize,
    args: Value,
    origin: usize,
    id: u64,
    time: i64,
    seed: u64,
    tasks: usize,
    bs: usize,
    name: &str,
    stages: &[String],
) -> Result<Value, (i32, String)> {
    let mut pending: Vec<VecDeque<Pending>> = (0..tasks).map(|_| VecDeque::new()).collect();
    pending[origin].push_back(Pending {
        kind: ITEM_INVOKE,
        stage: 0,
        depot: NO_DEPOT,
        attempt: 0,
        source_partition: origin as u32,
        offset: 0,
        event_time: time,
        payload: msgpack::encode(&args).map_err(|e| (EINVAL, format!("query {}: arguments: {}", name, e)))?,
        root: Rc::new(RefCell::new(BTreeMap::new())),
        origin,
        src: 0,
        isolate: false,
        last_err: None,
    });
    let mut result = Value::Nil;
    let mut rounds = 0;
    while pending.iter().any(|q| !q.is_empty()) {
        rounds += 1;
        if rounds > state.borrow().opts.max_batches {
            return Err((ETIMEDOUT, format!("query {} ran past its deadline (its hops did not settle)", name)));
        }
        let mut next: Vec<VecDeque<Pending>> = (0..tasks).map(|_| VecDeque::new()).collect();
        for p in 0..tasks {
            while !pending[p].is_empty() {
                // An INVOKE is alone in its batch: it must be the first item.
                let k = if pending[p][0].kind == ITEM_INVOKE { 1 } else { bs.min(pending[p].len()) };
                let items: Vec<Pending> = pending[p].drain(..k).collect();
                let hdr = BatchHeaderOut {
                    flags: BATCH_QUERY,
                    batch_id: id,
                    partition: p as u32,
                    attempt: 0,
                    topology: qi as u16,
                    time_unix_nano: time,
                    seed,
                };
                let what = format!("squall_process (query {}, partition {})", quote(name), p);
                let (c, failed) = run_call(state, inst, &hdr, items, &what);
                let stage_of = |i: u32| stages.get(c.items.get(i as usize).map_or(0, |it| it.stage as usize)).cloned().unwrap_or_default();
                if let Some(d) = failed {
                    return Err((EFAILED, format!("query {}: stage {} on partition {}: {}", name, stage_of(c.err_item), p, d.message)));
                }
                for (i, it) in c.items.iter().enumerate() {
                    let s = &c.state[i];
                    let d = s.rejected.as_ref().unwrap_or(&s.detail);
                    if s.rejected.is_some() || s.outcome != OUTCOME_OK {
                        let stage = &stages[it.stage as usize];
                        return Err((EFAILED, format!("query {}: stage {} on partition {}: {}", name, stage, p, d.message)));
                    }
                    for op in &s.result_ops {
                        result = match op {
                            ResultOp::Set(v) => v.clone(),
                            ResultOp::Agg(agg, keys, v, n) => aggregate_at(&result, keys, *agg, v, *n).map_err(|m| {
                                (EFAILED, format!("query {}: stage {} on partition {}: {}", name, stages[it.stage as usize], p, m))
                            })?,
                        };
                    }
                    let clock = state.borrow().clock;
                    for hop in &s.hops {
                        let payload = msgpack::encode(&hop.payload).unwrap_or_default();
                        for &dest in &hop.partitions {
                            next[dest].push_back(hop_item(it, hop.stage, p, clock, payload.clone(), 0));
                        }
                    }
                }
            }
        }
        pending = next;
    }
    Ok(result)
}

/// An INVOKE from a stage: runs the query on a fresh instance (the calling
/// one is busy), on the committed state: without the calling call's
/// transforms (call_undo, on partition) nor what its microbatch staged.
pub(crate) fn invoke_nested(
    state: &Rc<RefCell<State>>,
    call_undo: &[(usize, Undo)],
    partition: usize,
    qi: usize,
    args: Value,
) -> Result<Value, (i32, String)> {
    let (live, staged) = {
        let mut st = state.borrow_mut();
        let mut snap = st.pstates.clone();
        for (pi, u) in call_undo.iter().rev() {
            snap[*pi][partition].undo(u.clone());
        }
        for (pi, p, u) in st.staged.iter().rev() {
            snap[*pi][*p].undo(u.clone());
        }
        let staged = std::mem::take(&mut st.staged);
        (std::mem::replace(&mut st.pstates, snap), staged)
    };
    let r = (|| {
        let mut inst = fresh_instance(state);
        run_invocation(state, &mut inst, qi, args)
    })();
    let mut st = state.borrow_mut();
    st.pstates = live;
    st.staged = staged;
    r
}
