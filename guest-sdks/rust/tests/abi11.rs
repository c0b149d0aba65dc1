//! ABI 1.1 in the harness through the public API: microbatches that fail
//! are all or nothing and pause, poison removes one source record, queries
//! fail with the host's codes.

use squall::testing::{Harness, Options};
use squall::{key, list, Agg, Ctx, Errno, Error, Module, Partitioner, Schema, Value};

fn define(m: &mut Module) {
    let events = m.depot("events", Partitioner::HashBy(key("k")));
    let sums = m.pstate("$$sums", Schema::map_of(Schema::String, Schema::Any));
    let free = m.pstate("$$free", Schema::map_of(Schema::String, Schema::Int));
    let mut t = m.microbatch("mb");
    t.owns(&sums);
    let add = t.declare_stage::<Value>("add");
    let apply = t.stage("apply", move |ctx: &mut Ctx, r: Value| {
        let n = r.field("n").as_int().unwrap_or(0);
        if n == 13 {
            return Err(Error::new("unlucky")); // retried, then the topology pauses
        }
        if n < 0 {
            return Err(squall::poison!("negative"));
        }
        if n == 99 {
            // Not owned: the host rejects it, which poisons the record.
            return ctx.transform(&free, key("x").set(1));
        }
        ctx.aggregate(&sums, list![r.field("g").clone(), "sum"], Agg::sum(n))?;
        ctx.aggregate(&sums, list![r.field("g").clone(), "ks"], Agg::List(r.field("k").clone()))
    });
    t.implement(&add, move |ctx: &mut Ctx, r: Value| ctx.hop(&apply, r.field("g").clone(), r));
    t.source(&events, &add);
    let mut q = m.query("sum", &["g"]);
    let start = q.declare_stage::<(String,)>("start");
    let read = q.stage("read", move |ctx: &mut Ctx, g: String| {
        let v = ctx.select_one(&sums, key(g).key("sum"))?.unwrap_or_default();
        ctx.aggregate_result(list![], Agg::sum(v.as_int().unwrap_or(0)))
    });
    q.implement(&start, move |ctx: &mut Ctx, (g,): (String,)| ctx.hop(&read, g.clone(), g));
}

fn ev(k: &str, g: &str, n: i64) -> Value {
    squall::map! {"k" => k, "g" => g, "n" => n}
}

#[test]
fn microbatch_poison_and_pause() {
    let mut h = Harness::with_options(define, 4, Options::new().manual().quiet().max_attempts(3));
    h.append("events", ev("a", "x", 1));
    h.append("events", ev("b", "y", -1)); // poison: dead-lettered alone
    h.append("events", ev("c", "x", 2));
    h.append("events", ev("d", "y", 99)); // rejected write: dead-lettered alone
    h.run();
    assert_eq!(h.stats().microbatches, 1);
    let dls = h.dead_letters();
    assert_eq!(dls.len(), 2, "{:?}", dls);
    assert!(dls.iter().any(|d| d.error.message.contains("negative")));
    assert!(dls.iter().any(|d| d.error.kind == "rejected" && d.error.message.contains("may write only the PStates it owns")), "{:?}", dls);
    assert_eq!(h.query("sum", list!["x"]), Value::Int(3));
    assert_eq!(h.select_one("$$sums", key("y")), Value::Nil);

    // A microbatch that keeps failing applies nothing and pauses.
    h.append("events", ev("e", "x", 5));
    h.append("events", ev("f", "z", 13));
    h.run();
    assert!(h.paused("mb").unwrap().contains("failed 3 times and the topology is paused; nothing of it was applied: unlucky"), "{:?}", h.paused("mb"));
    assert_eq!(h.microbatches("mb"), 1);
    assert_eq!(h.query("sum", list!["x"]), Value::Int(3));
    h.append("events", ev("g", "x", 7));
    h.run();
    assert_eq!(h.query("sum", list!["x"]), Value::Int(3), "a paused topology runs nothing");
    assert!(h.paused("mb").is_some());
    // Resuming runs the failed microbatch again (it fails again here).
    let before = h.stats().batches;
    h.resume("mb");
    h.run(); // the harness is manual
    assert!(h.stats().batches > before);
    assert!(h.paused("mb").is_some());
    assert_eq!(h.microbatches("mb"), 1);
}

#[test]
fn query_errors() {
    let mut h = Harness::with_options(define, 2, Options::new().quiet());
    let e = h.try_query("sum", list![]).unwrap_err();
    assert_eq!((e.code, e.message.as_str()), (Errno::EINVAL, "query sum takes 1 arguments (g); got 0"));
    let e = h.try_query("sum", list![1]).unwrap_err();
    assert_eq!(e.code, Errno::EFAILED, "{}", e);
    assert!(e.message.starts_with("query sum: stage start on partition"), "{}", e);
    assert_eq!(h.try_query("nope", list![]).unwrap_err().code, Errno::EBADID);
    assert_eq!(h.query("sum", list!["x"]), Value::Int(0));
}

#[test]
fn ticks() {
    fn define(m: &mut Module) {
        let minute = m.tick_depot("minute", std::time::Duration::from_secs(60));
        let seen = m.pstate("$$seen", Schema::record_of([("ticks", Schema::list_of(Schema::Int))]));
        let mut t = m.stream("t");
        t.owns(&seen);
        let s = t.stage("s", move |ctx: &mut Ctx, ms: i64| ctx.aggregate(&seen, list!["ticks"], Agg::List(Value::Int(ms))));
        t.source(&minute, &s);
    }
    let start = 1_700_000_000_000i64;
    let mut h = Harness::with_options(define, 2, Options::new().start_time_nanos(start * 1_000_000));
    h.advance(std::time::Duration::from_secs(150));
    h.tick("minute", 5);
    let want = Value::List(vec![Value::Int(start + 60_000), Value::Int(start + 120_000), Value::Int(5)]);
    assert_eq!(h.pstate("$$seen", 0).field("ticks"), &want);
    assert_eq!(h.depot("minute", 1), vec![]);
}

/// A query invoked from a stage reads the committed state: not the
/// calling item's own writes, nor what its microbatch staged so far.
#[test]
fn invoked_queries_read_committed_state() {
    fn define(m: &mut Module) {
        let events = m.depot("events", Partitioner::HashBy(key("k")));
        let counts = m.pstate("$$counts", Schema::map_of(Schema::String, Schema::Int));
        let seen = m.pstate("$$seen", Schema::map_of(Schema::String, Schema::Any));
        let mut q = m.query("count", &["k"]);
        let start = q.declare_stage::<(String,)>("start");
        let read = q.stage("read", move |ctx: &mut Ctx, k: String| {
            let v = ctx.select_one(&counts, key(k))?.unwrap_or_default();
            ctx.set_result(v)
        });
        q.implement(&start, move |ctx: &mut Ctx, (k,): (String,)| ctx.hop(&read, k.clone(), k));
        let count = q.handle();
        let mut t = m.microbatch("mb");
        t.owns(&counts).owns(&seen);
        let s = t.stage("s", move |ctx: &mut Ctx, r: Value| {
            let k: String = r.field_as("k")?;
            ctx.aggregate(&counts, k.as_str(), Agg::Count)?;
            let v = ctx.invoke(&count, (k.as_str(),))?;
            ctx.aggregate(&seen, list![k.as_str()], Agg::List(v))
        });
        t.source(&events, &s);
    }
    let mut h = Harness::with_options(define, 2, Options::new().manual());
    h.append("events", squall::map! {"k" => "a"});
    h.append("events", squall::map! {"k" => "a"});
    h.run();
    h.append("events", squall::map! {"k" => "a"});
    h.run();
    assert_eq!(h.select_one("$$counts", key("a")), Value::Int(3));
    // The first microbatch saw nothing committed (twice), the second saw 2.
    assert_eq!(h.select_one("$$seen", key("a")).to_string(), "[nil, nil, 2]");
}

/// Queries are read-only and have no ack return: the SDK says so before
/// the host would reject the effect.
#[test]
fn query_misuse() {
    fn define(m: &mut Module) {
        let ps = m.pstate("$$p", Schema::map_of(Schema::String, Schema::Int));
        let mut q = m.query("q", &["what"]);
        q.stage("only", move |ctx: &mut Ctx, (what,): (String,)| match what.as_str() {
            "emit" => ctx.emit(1),
            "transform" => ctx.transform(&ps, key("k").set(1)),
            _ => ctx.aggregate(&ps, "k", Agg::Count),
        });
    }
    let mut h = Harness::with_options(define, 2, Options::new().quiet());
    for (what, want) in [
        ("emit", "a query stage sets its result with set_result, not emit"),
        ("transform", "transform: query \"q\" is read-only"),
        ("aggregate", "aggregate: query \"q\" is read-only"),
    ] {
        let e = h.try_query("q", (what,)).unwrap_err();
        assert_eq!(e.code, Errno::EFAILED);
        assert!(e.message.contains(want), "{}: {}", what, e);
    }
}

/// LIST, SET and MAP aggregate into subindexed collections in place, as on
/// the host (which cannot read them whole).
#[test]
fn aggregate_into_subindexed() {
    fn define(m: &mut Module) {
        let events = m.depot("events", Partitioner::HashBy(key("k")));
        let mut t = m.stream("t");
        let ps = t.pstate(
            "$$p",
            Schema::map_of(
                Schema::String,
                Schema::record_of([
                    ("l", Schema::list_of(Schema::Int).subindexed()),
                    ("s", Schema::set_of(Schema::Int).subindexed()),
                    ("m", Schema::map_of(Schema::Int, Schema::String).subindexed()),
                ]),
            ),
        );
        let s = t.stage("s", move |ctx: &mut Ctx, r: Value| {
            let (k, n) = (r.field("k").clone(), r.field("n").clone());
            ctx.aggregate(&ps, list![k.clone(), "l"], Agg::List(n.clone()))?;
            ctx.aggregate(&ps, list![k.clone(), "s"], Agg::Set(n.clone()))?;
            ctx.aggregate(&ps, list![k, "m"], Agg::map(n, "x"))
        });
        t.source(&events, &s);
    }
    let mut h = Harness::new(define, 2);
    for n in [3, 1, 3] {
        h.append("events", squall::map! {"k" => "a", "n" => n});
    }
    assert_eq!(h.select("$$p", key("a").key("l").all()).len(), 3);
    assert_eq!(h.select("$$p", key("a").key("s").all()).len(), 2);
    assert_eq!(h.select("$$p", key("a").key("m").map_keys()), vec![Value::Int(1), Value::Int(3)]);
    assert!(h.dead_letters().is_empty(), "{:?}", h.dead_letters());
}
