//! The Rust version of the conformance module: one module with a topology
//! per behaviour of docs/conformance.md. Its twin in ../go must behave
//! identically, byte for byte.

use squall::{key, list, map, set, Ctx, Error, FilterOp, Module, PState, Partitioner, Path, RangeOpts, Schema, Value, ValueMap, ViewFn};

fn string(v: &Value, name: &str) -> String {
    v.field(name).as_str().unwrap_or("").to_string()
}

/// Declares the conformance module.
pub fn define(m: &mut Module) {
    m.name("conformance");
    let by_name = m.depot("values", Partitioner::HashBy(key("name")));
    let paths = m.depot("paths", Partitioner::HashBy(key("k")));
    let hops = m.depot("hops", Partitioner::HashBy(key("k")));
    let fails = m.depot("fails", Partitioner::HashBy(key("k")));
    let rws = m.depot("rw", Partitioner::HashBy(key("k")));

    let values = m.pstate("$$values", Schema::map_of(Schema::String, Schema::Any));
    let docs = m.pstate("$$docs", Schema::map_of(Schema::String, Schema::Any));
    let sub = m.pstate("$$sub", Schema::map_of(Schema::String, Schema::map_of(Schema::String, Schema::Int).subindexed()));
    let subl = m.pstate("$$subl", Schema::map_of(Schema::String, Schema::list_of(Schema::Int).subindexed()));
    let subs = m.pstate("$$subs", Schema::map_of(Schema::String, Schema::set_of(Schema::String).subindexed()));
    let ran = m.pstate("$$ran", Schema::record_of([("seen", Schema::map_of(Schema::String, Schema::Int).subindexed())]));
    let attempts = m.pstate("$$attempts", Schema::map_of(Schema::String, Schema::Int));
    let rw = m.pstate("$$rw", Schema::map_of(Schema::String, Schema::Any));

    // (a, f, g) values: store each record's value under its name, emit it back.
    {
        let mut t = m.stream("values");
        let store = t.stage("store", move |ctx: &mut Ctx, r: Value| {
            let v = r.field("value").clone();
            ctx.transform(&values, key(string(&r, "name")).set(v.clone()))?;
            ctx.emit(v)
        });
        t.source(&by_name, &store);
    }

    // (b) paths: every navigator and terminal, inline and subindexed.
    {
        let mut t = m.stream("paths");
        let p = t.stage("paths", move |ctx: &mut Ctx, r: Value| {
            let k = string(&r, "k");
            let ps = [docs, sub, subl, subs];
            match string(&r, "op").as_str() {
                "setup" => setup(ctx, &k, &ps),
                "query" => query(ctx, &k, &ps),
                "mutate" => mutate(ctx, &k, &ps),
                op => Err(squall::poison!("unknown op {:?}", op)),
            }
        });
        t.source(&paths, &p);
    }

    // (c) hops: every partitioner; rec records which partition ran what.
    {
        let mut t = m.stream("hops");
        let start = t.declare_stage::<Value>("start");
        let mid = t.declare_stage::<Value>("mid");
        let rec = t.declare_stage::<Value>("rec");
        let (rec1, rec2) = (rec.clone(), rec.clone());
        t.implement(&start, move |ctx: &mut Ctx, r: Value| {
            let n = r.field("n").as_int().unwrap_or(0);
            let k = r.field("k").clone();
            let tag = |t: &str| list![t, n];
            ctx.hop(&rec1, k, tag("hash"))?;
            ctx.hop(&rec1, n * 7 + 1, tag("hashInt"))?;
            ctx.hop_all(&rec1, tag("all"))?;
            ctx.hop_global(&rec1, tag("global"))?;
            ctx.hop_shuffle(&rec1, tag("shuffle"))?;
            let parts = ctx.partitions() as i64;
            ctx.hop_direct(&rec1, (n % parts) as u32, tag("direct"))?;
            ctx.hop_origin(&rec1, tag("originRecord"))?;
            ctx.hop(&mid, format!("mid-{}", n), n)?;
            let p = ctx.partition();
            ctx.emit(p)
        });
        t.implement(&mid, move |ctx: &mut Ctx, n: Value| {
            let i = n.as_int().unwrap_or(0);
            ctx.hop_origin(&rec2, list!["origin", i])
        });
        t.implement(&rec, move |ctx: &mut Ctx, p: Value| {
            let tag = p.items().get(0).and_then(|v| v.as_str()).unwrap_or("").to_string();
            let n = p.items().get(1).and_then(|v| v.as_int()).unwrap_or(0);
            let seen = format!("{}/{}/{}", tag, n, ctx.partition());
            let sp = ctx.source_partition();
            ctx.transform(&ran, key("seen").key(seen).set(sp))
        });
        t.source(&hops, &start);
    }

    // (d, e) failures: poison, retryable until attempt 2, always retryable.
    {
        let mut t = m.stream("fails");
        let fail = t.stage("fail", move |ctx: &mut Ctx, r: Value| {
            let k = string(&r, "k");
            match string(&r, "mode").as_str() {
                "poison" => return Err(squall::poison!("poisoned {}", k)),
                "retry" => {
                    if ctx.attempt() < 1 {
                        // the first delivery is attempt 0
                        return Err(Error::new(format!("transient failure of {}", k)));
                    }
                }
                "always" => return Err(Error::new(format!("permanent failure of {}", k))),
                "badpath" => return ctx.transform(&attempts, key(k.as_str()).append(1)),
                _ => {}
            }
            let a = ctx.attempt();
            ctx.transform(&attempts, key(k.as_str()).set(a))?;
            ctx.emit(list![k, a])
        });
        t.source(&fails, &fail);
    }

    // (h) read your writes: a stage that writes, reads, writes what it read.
    {
        let mut t = m.stream("rw");
        let s = t.stage("rw", move |ctx: &mut Ctx, r: Value| {
            let k = string(&r, "k");
            ctx.transform(&rw, key(k.as_str()).key("n").nil_to_val(0).incr(1))?;
            let n = ctx.select_one(&rw, key(k.as_str()).key("n"))?.unwrap_or(Value::Nil);
            ctx.transform(&rw, key(k.as_str()).key("seen").append(n))?;
            let all = ctx.select_one(&rw, key(k.as_str()))?.unwrap_or(Value::Nil);
            ctx.emit(all)
        });
        t.source(&rws, &s);
    }
}

fn setup(ctx: &mut Ctx, k: &str, ps: &[PState; 4]) -> squall::Result {
    let [docs, sub, subl, subs] = ps;
    let doc = map! {
        "m" => map! { "a" => 1, "b" => 2, "c" => 3, "d" => 4 },
        "l" => list![5, 1, 4, 2, 3],
        "s" => set!["x", "y", "z"],
        "f" => 1.5,
        "n" => 10,
    };
    ctx.transform(docs, key(k).set(doc))?;
    ctx.transform(subl, key(k).append_all(vec![10, 20, 30, 40]))?;
    ctx.transform(subs, key(k).append_all(vec!["p", "q", "r"]))?;
    for (i, name) in ["a", "b", "c", "d", "e", "f"].iter().enumerate() {
        ctx.transform(sub, key(k).key(*name).set(i + 1))?;
    }
    ctx.emit("ok")
}

fn query(ctx: &mut Ctx, k: &str, ps: &[PState; 4]) -> squall::Result {
    let [docs, sub, subl, subs] = ps;
    let d = || key(k);
    let incl = || RangeOpts::new().exclude_from().include_to();
    let rev = || RangeOpts::new().reverse().limit(2);
    let qs: Vec<(&str, &PState, Path)> = vec![
        ("d.whole", docs, d()),
        ("d.key", docs, d().key("m").key("a")),
        ("d.keyMissing", docs, d().key("m").key("zz")),
        ("d.mustKey", docs, d().must_key("m").must_key("b")),
        ("d.mustKeyMissing", docs, d().key("m").must_key("zz")),
        ("d.all.m", docs, d().key("m").all()),
        ("d.all.l", docs, d().key("l").all()),
        ("d.all.s", docs, d().key("s").all()),
        ("d.mapVals", docs, d().key("m").map_vals()),
        ("d.mapKeys", docs, d().key("m").map_keys()),
        ("d.first.l", docs, d().key("l").first()),
        ("d.last.l", docs, d().key("l").last()),
        ("d.nth.l", docs, d().key("l").nth(2)),
        ("d.nthOut.l", docs, d().key("l").nth(9)),
        ("d.first.m", docs, d().key("m").first()),
        ("d.last.m", docs, d().key("m").last()),
        ("d.first.s", docs, d().key("s").first()),
        ("d.sorted.m", docs, d().key("m").sorted_range("b", "d")),
        ("d.sortedOpts.m", docs, d().key("m").sorted_range_with("a", "c", incl())),
        ("d.sortedRev.m", docs, d().key("m").sorted_range_with("a", "z", rev()).map_keys()),
        ("d.sorted.s", docs, d().key("s").sorted_range("x", "z")),
        ("d.filter.eq", docs, d().key("l").all().filter(FilterOp::Eq, 4)),
        ("d.filter.ne", docs, d().key("l").all().filter(FilterOp::Ne, 4)),
        ("d.filter.lt", docs, d().key("l").all().filter(FilterOp::Lt, 3)),
        ("d.filter.le", docs, d().key("l").all().filter(FilterOp::Le, 3)),
        ("d.filter.gt", docs, d().key("l").all().filter(FilterOp::Gt, 3)),
        ("d.filter.ge", docs, d().key("l").all().filter(FilterOp::Ge, 3.5)),
        ("d.filter.exists", docs, d().key("m").map_vals().filter_exists()),
        ("d.nilToVal", docs, d().key("zz").nil_to_val("dflt")),
        ("d.size.m", docs, d().key("m").view(ViewFn::Size)),
        ("d.size.l", docs, d().key("l").view(ViewFn::Size)),
        ("d.size.s", docs, d().key("s").view(ViewFn::Size)),
        ("d.size.int", docs, d().key("n").view(ViewFn::Size)),
        ("d.count.n", docs, d().key("n").view(ViewFn::Count)),
        ("d.count.missing", docs, d().key("zz").view(ViewFn::Count)),
        ("s.key", sub, d().key("c")),
        ("s.mustKey", sub, d().must_key("d")),
        ("s.all", sub, d().all()),
        ("s.mapVals", sub, d().map_vals()),
        ("s.mapKeys", sub, d().map_keys()),
        ("s.first", sub, d().first()),
        ("s.last", sub, d().last()),
        ("s.sorted", sub, d().sorted_range("b", "e")),
        ("s.sortedOpts", sub, d().sorted_range_with("b", "e", incl())),
        ("s.sortedRev", sub, d().sorted_range_with("a", "z", rev())),
        ("s.filter", sub, d().map_vals().filter(FilterOp::Gt, 3)),
        ("s.size", sub, d().view(ViewFn::Size)),
        ("s.count", sub, d().view(ViewFn::Count)),
        ("s.nilToVal", sub, d().key("zz").nil_to_val(-1)),
        ("l.all", subl, d().all()),
        ("l.first", subl, d().first()),
        ("l.last", subl, d().last()),
        ("l.nth", subl, d().nth(1)),
        ("l.size", subl, d().view(ViewFn::Size)),
        ("l.filter", subl, d().all().filter(FilterOp::Le, 20)),
        ("t.all", subs, d().all()),
        ("t.first", subs, d().first()),
        ("t.last", subs, d().last()),
        ("t.size", subs, d().view(ViewFn::Size)),
        ("t.sorted", subs, d().sorted_range("p", "r")),
        ("t.filter", subs, d().all().filter(FilterOp::Ne, "q")),
    ];
    let mut out = ValueMap::new();
    for (label, p, path) in qs {
        let r = match ctx.select(p, path) {
            Ok(vs) => Value::List(vs),
            Err(_) => Value::from("error"),
        };
        out.insert(label, r);
    }
    ctx.emit(Value::Map(out))
}

fn mutate(ctx: &mut Ctx, k: &str, ps: &[PState; 4]) -> squall::Result {
    let [docs, sub, subl, subs] = ps;
    let d = || key(k);
    let merge = || map! { "z" => 26, "a" => 0 };
    let ops: Vec<(&PState, Path)> = vec![
        (docs, d().key("m").key("a").set(100)),
        (docs, d().key("m").key("b").remove()),
        (docs, d().key("n").incr(5)),
        (docs, d().key("f").incr_float(0.25)),
        (docs, d().key("i").incr_float(2.0)),
        (docs, d().key("l").append_all(vec![6, 7])),
        (docs, d().key("l").prepend(0)),
        (docs, d().key("m").merge(merge())),
        (docs, d().key("s").append("w")),
        (docs, d().key("new").nil_to_val(41).incr(1)),
        (docs, d().key("l").all().filter(FilterOp::Gt, 4).incr(100)),
        (docs, d().key("m").map_vals().filter(FilterOp::Lt, 5).incr(1000)),
        (docs, d().key("l").first().set("head")),
        (docs, d().key("l").last().remove()),
        (sub, d().key("a").incr(10)),
        (sub, d().key("b").remove()),
        (sub, d().merge(merge())),
        (sub, d().map_vals().filter(FilterOp::Ge, 5).incr(1000)),
        (sub, d().sorted_range("c", "e").map_vals().incr(-1)),
        (subl, d().append_all(vec![50, 60])),
        (subl, d().prepend(0)),
        (subl, d().nth(2).set(21)),
        (subl, d().last().remove()),
        (subs, d().append("s2")),
        (subs, d().all().filter(FilterOp::Eq, "q").remove()),
    ];
    let mut res = Vec::new();
    for (p, path) in ops {
        res.push(Value::from(match ctx.transform(p, path) {
            Ok(()) => "ok",
            Err(_) => "error",
        }));
    }
    ctx.emit(Value::List(res))
}

squall::module!(define);
