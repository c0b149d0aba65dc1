//! The Rust version of the conformance module of ABI 1.1
//! (docs/conformance.md, behaviours (i) to (l)): a microbatch topology with
//! every aggregator, query topologies, a query invoked from a stream
//! topology, and a tick depot. It must behave as its Go twin (`../go`),
//! byte for byte.

use std::time::Duration;

use squall::{key, list, poison, Agg, Ctx, Module, Partitioner, Path, Schema, Value};

/// Declares the module.
pub fn define(m: &mut Module) {
    m.name("abi11");
    let events = m.depot("events", Partitioner::HashBy(key("k")));
    let calls = m.depot("calls", Partitioner::HashBy(key("k")));
    let clock = m.tick_depot("clock", Duration::from_millis(20));
    let aggs = m.pstate("$$aggs", Schema::map_of(Schema::String, Schema::Any));
    let called = m.pstate("$$called", Schema::map_of(Schema::String, Schema::Any));
    let ticks = m.pstate("$$ticks", Schema::Int);

    // (i, j) microbatch: every record hops to the partition of its group
    // and is aggregated there with every aggregator but LIST, whose order
    // would depend on how the records fall into microbatches (the query
    // "all" aggregates a LIST).
    let mut mb = m.microbatch("mb");
    mb.owns(&aggs).max_records(3);
    let route = mb.declare_stage::<Value>("route");
    let apply = mb.stage("apply", move |ctx: &mut Ctx, r: Value| {
        let (g, n, k) = (r.field("g").clone(), r.field("n").clone(), r.field("k").clone());
        for (agg, name) in [
            (Agg::Count, "count"),
            (Agg::Sum(n.clone()), "sum"),
            (Agg::Min(n.clone()), "min"),
            (Agg::Max(n.clone()), "max"),
            (Agg::Set(k.clone()), "set"),
            (Agg::Map(k.clone(), n.clone()), "map"),
            (Agg::top_n(2, n.clone(), k.clone()), "top"),
        ] {
            ctx.aggregate(&aggs, list![g.clone(), name], agg)?;
        }
        Ok(())
    });
    mb.implement(&route, move |ctx: &mut Ctx, r: Value| ctx.hop(&apply, r.field("g").clone(), r));
    mb.source(&events, &route);

    // (k) queries: one partition, every partition with a group-by result,
    // and one invoking another.
    let mut group_q = m.query("group", &["g"]);
    let start = group_q.declare_stage::<Value>("start");
    let read = group_q.stage("read", move |ctx: &mut Ctx, g: Value| {
        let v = ctx.select_one(&aggs, key(g))?.unwrap_or_default();
        ctx.set_result(v)
    });
    group_q.implement(&start, move |ctx: &mut Ctx, args: Value| ctx.hop(&read, args.index(0).clone(), args.index(0).clone()));
    let group = group_q.handle();

    let mut all = m.query("all", &[]);
    let fanout = all.declare_stage::<Value>("fanout");
    let each = all.stage("each", move |ctx: &mut Ctx, _: Value| {
        for g in ctx.select(&aggs, Path::new().map_keys())? {
            let c = ctx.select_one(&aggs, key(g.clone()).key("count"))?.unwrap_or_default();
            ctx.aggregate_result(list!["total"], Agg::Sum(c.clone()))?;
            ctx.aggregate_result(list!["groups"], Agg::Map(g.clone(), c))?;
            let p = ctx.partition();
            ctx.aggregate_result(list!["partitions"], Agg::set(p))?;
            // Partitions run in order, keys in order: a deterministic list.
            ctx.aggregate_result(list!["order"], Agg::List(g))?;
        }
        Ok(())
    });
    all.implement(&fanout, move |ctx: &mut Ctx, _: Value| ctx.hop_all(&each, ()));

    let mut both = m.query("both", &["a", "b"]);
    both.stage("call", move |ctx: &mut Ctx, args: Value| {
        let a = ctx.invoke(&group, (args.index(0).clone(),))?;
        let b = ctx.invoke(&group, (args.index(1).clone(),))?;
        ctx.set_result(list![a.field("sum").clone(), b.field("sum").clone()])
    });

    // (k) a stream topology invokes a query and returns its result.
    let mut caller = m.stream("caller");
    let ask = caller.stage("ask", move |ctx: &mut Ctx, r: Value| {
        let v = ctx.invoke(&group, (r.field("g").clone(),))?;
        ctx.transform(&called, key(r.field("k").clone()).set(v.field("count").clone()))?;
        ctx.emit(v.field("max").clone())
    });
    caller.source(&calls, &ask);

    // (l) a tick depot: every tick is an int on partition 0, counted on
    // every partition.
    let mut ticker = m.stream("ticker");
    ticker.owns(&ticks);
    let tick = ticker.declare_stage::<Value>("tick");
    let count = ticker.stage("count", move |ctx: &mut Ctx, _: Value| ctx.aggregate(&ticks, list![], Agg::Count));
    ticker.implement(&tick, move |ctx: &mut Ctx, t: Value| {
        if t.as_int().is_none() || ctx.partition() != 0 {
            return Err(poison!("a tick is an int on partition 0, got {} on {}", t, ctx.partition()));
        }
        ctx.hop_all(&count, ())
    });
    ticker.source(&clock, &tick);
}

squall::module!(define, abi = "1.1");

#[cfg(test)]
mod tests {
    use super::*;
    use squall::testing::Harness;

    /// The module is valid and its behaviours run in the harness; the
    /// conformance suite compares it with the Go twin on a real node.
    #[test]
    fn behaves() {
        let mut h = Harness::new(define, 4);
        for i in 0..10 {
            let g = ["a", "b", "c"][i % 3];
            h.append("events", squall::map! {"k" => format!("k{}", i), "g" => g, "n" => (i * 7 % 10) as i64});
        }
        let a = h.query("group", list!["a"]);
        assert_eq!(a.field("count"), &Value::Int(4), "{}", a);
        assert_eq!(a.field("top").to_string(), r#"[[3, "k9"], [2, "k6"]]"#);
        let all = h.query("all", list![]);
        assert_eq!(all.field("total"), &Value::Int(10), "{}", all);
        assert_eq!(all.field("groups").to_string(), r#"{"a": 4, "b": 3, "c": 3}"#);
        let both = h.query("both", list!["a", "c"]);
        assert_eq!(both.items().len(), 2);
        assert!(h.try_query("group", list![]).is_err());
        let r = h.append("calls", squall::map! {"k" => "c1", "g" => "b"});
        assert_eq!(r.ack_return("caller"), Some(h.query("group", list!["b"]).field("max").clone()));
        h.advance(Duration::from_millis(60));
        for p in 0..4 {
            assert_eq!(h.pstate("$$ticks", p), Value::Int(3), "partition {}", p);
        }
        assert!(h.dead_letters().is_empty(), "{:?}", h.dead_letters());
    }
}
