//! The harness and the runtime, through the public API: the behaviours the
//! Go SDK's squalltest tests check, with the same modules.

#![allow(clippy::type_complexity)]

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use squall::testing::{Harness, Options};
use squall::{
    key, map, path, AckLevel, AppendOptions, ConvertError, Ctx, Errno, Error, ErrorKind, FromValue, LogLevel, Module,
    Partitioner, Path, Schema, Value, ViewFn,
};

struct Sentence {
    user: String,
    text: String,
}

impl From<Sentence> for Value {
    fn from(s: Sentence) -> Value {
        map! { "user" => s.user, "text" => s.text }
    }
}

impl FromValue for Sentence {
    fn from_value(v: Value) -> Result<Self, ConvertError> {
        Ok(Sentence { user: v.field_as("user")?, text: v.field_as("text")? })
    }
}

fn sentence(user: &str, text: &str) -> Sentence {
    Sentence { user: user.into(), text: text.into() }
}

fn wordcount(m: &mut Module) {
    let sentences = m.depot_of::<Sentence>("sentences", Partitioner::HashBy(key("user")));
    let counts = m.pstate("$$counts", Schema::map_of(Schema::String, Schema::Int));
    let total = m.global_pstate("$$total", Schema::Int);
    let mut t = m.stream("wordcount");
    let split = t.declare_stage::<Sentence>("split");
    let count = t.stage("count", move |ctx: &mut Ctx, word: Value| ctx.transform(&counts, key(word).incr(1)));
    let sum = t.stage("sum", move |ctx: &mut Ctx, n: i64| ctx.transform(&total, Path::new().incr(n)));
    t.implement(&split, move |ctx: &mut Ctx, s: Sentence| {
        if s.text.is_empty() {
            return Err(squall::poison!("sentence of {:?} has no text", s.user));
        }
        let words: Vec<&str> = s.text.split_whitespace().collect();
        for w in &words {
            ctx.hop(&count, *w, *w)?;
        }
        ctx.hop_global(&sum, words.len() as i64)?;
        ctx.log(LogLevel::Debug, format!("{} words", words.len()));
        ctx.emit(words.len())
    });
    t.source(&sentences, &split);
}

#[test]
fn word_count() {
    let mut h = Harness::new(wordcount, 4);
    let a = h.append("sentences", sentence("alice", "the cat and the hat"));
    h.append("sentences", sentence("bob", "the end"));
    assert_eq!(a.ack_return("wordcount"), Some(Value::Int(5)));
    for (w, want) in [("the", 3), ("cat", 1), ("end", 1), ("nope", 0)] {
        let got = h.select_one("$$counts", key(w)).as_int().unwrap_or(0);
        assert_eq!(got, want, "count of {}", w);
        // The word lives on the partition that owns it, and only there.
        let p = h.key_partition(w);
        for q in 0..h.partitions() {
            let has = h.pstate("$$counts", q).has(&Value::from(w));
            assert_eq!(has, q == p && want > 0, "word {} on partition {} (owner {})", w, q, p);
        }
    }
    assert_eq!(h.select_one("$$total", Path::new()), Value::Int(7));
    assert!(!h.depot("sentences", h.key_partition("alice")).is_empty());
    h.append("sentences", sentence("carol", ""));
    let dl = h.dead_letters();
    assert_eq!(dl.len(), 1);
    assert_eq!(dl[0].error.kind, "poison");
    assert!(dl[0].error.message.contains("\"carol\" has no text"), "{:?}", dl[0]);
    assert_eq!((dl[0].kind.as_str(), dl[0].depot.as_str(), dl[0].attempts), ("record", "sentences", 1));
    let logs = h.logs();
    assert_eq!(logs.len(), 2);
    assert_eq!((logs[0].text.as_str(), logs[0].stage.as_str()), ("5 words", "split"));
}

#[test]
fn retries_and_panics() {
    let attempts = Rc::new(RefCell::new(vec![]));
    let att = attempts.clone();
    let mut h = Harness::with_options(
        move |m: &mut Module| {
            let input = m.depot("in", Partitioner::HashRecord);
            let seen = m.pstate("$$seen", Schema::map_of(Schema::Any, Schema::Int));
            let mut t = m.stream("t");
            let att = att.clone();
            let s = t.stage("s", move |ctx: &mut Ctx, v: Value| {
                att.borrow_mut().push(ctx.attempt());
                ctx.transform(&seen, key(v.clone()).incr(1))?;
                match v.as_str().unwrap_or("") {
                    "flaky" if ctx.attempt() < 2 => return Err(Error::new("not yet")),
                    "broken" => return Err(Error::retryable("never")),
                    "panic" => {
                        let xs: Vec<i64> = vec![];
                        let _ = xs[ctx.attempt() as usize + 1];
                    }
                    "poison" => return Err(Error::new("bad input").into_poison()),
                    _ => {}
                }
                Ok(())
            });
            t.source(&input, &s);
        },
        2,
        Options::new().max_attempts(3).quiet(),
    );
    h.append("in", "flaky");
    assert_eq!(*attempts.borrow(), vec![0, 1, 2]);
    // The failed attempts' transforms were discarded.
    assert_eq!(h.select_one("$$seen", key("flaky")), Value::Int(1));
    h.append("in", "broken");
    h.append("in", "panic");
    h.append("in", "poison");
    let dl = h.dead_letters();
    assert_eq!(dl.len(), 3, "{:?}", dl);
    assert_eq!(dl[0].error.kind, "retry");
    assert_eq!(dl[0].attempts, 3);
    assert!(dl[0].error.message.contains("never (after 3 attempts)"), "{:?}", dl[0]);
    // A panic fails the call (it traps the instance in wasm): the item is
    // dead-lettered after the maximum attempts with the panic's message and
    // location.
    assert_eq!(dl[1].error.kind, "panic", "{:?}", dl[1]);
    assert!(dl[1].error.message.contains("index out of bounds"), "{:?}", dl[1]);
    assert!(dl[1].error.stack.contains("tests/harness.rs"), "{:?}", dl[1]);
    assert_eq!(dl[1].attempts, 3);
    assert_eq!(dl[2].error.kind, "poison");
    assert_eq!(dl[2].attempts, 1);
    for k in ["broken", "panic", "poison"] {
        assert_eq!(h.select_one("$$seen", key(k)), Value::Nil, "{}: failed items left effects", k);
    }
    let s = h.stats();
    assert_eq!((s.retries, s.failed_calls, s.dead_letters), (2 + 3, 3, 3), "{:?}", s);
}

/// A panicking item fails its whole call; the host retries the batch, then
/// isolates its items, so that the others succeed.
#[test]
fn panic_is_isolated() {
    let mut h = Harness::with_options(
        |m: &mut Module| {
            let input = m.depot("in", Partitioner::HashRecord);
            let seen = m.pstate("$$seen", Schema::map_of(Schema::Int, Schema::Int));
            let mut t = m.stream("t");
            let s = t.stage("s", move |ctx: &mut Ctx, n: i64| {
                ctx.log(LogLevel::Info, format!("item {} attempt {}", n, ctx.attempt()));
                if n == 3 {
                    panic!("three is bad");
                }
                ctx.transform(&seen, key(n).set(ctx.attempt()))
            });
            t.source(&input, &s);
        },
        1,
        Options::new().manual().batch_size(10).quiet(),
    );
    for i in 1..=5 {
        h.append("in", i);
    }
    h.run();
    let dl = h.dead_letters();
    assert_eq!(dl.len(), 1, "{:?}", dl);
    assert_eq!(dl[0].input, Value::Int(3));
    assert_eq!(dl[0].error.kind, "panic");
    assert_eq!(dl[0].error.message, "panic: three is bad (after 8 attempts)");
    assert_eq!(dl[0].attempts, 8);
    // Items 1, 2 were in the batch with 3 twice, then ran alone (attempt 2).
    for i in [1, 2] {
        assert_eq!(h.select_one("$$seen", key(i)), Value::Int(2), "item {}", i);
    }
    // 4 and 5 never ran before the first failure: they are retried with the
    // batch too.
    for i in [4, 5] {
        assert_eq!(h.select_one("$$seen", key(i)), Value::Int(2), "item {}", i);
    }
    assert_eq!(h.stats().failed_calls, 8);
}

#[test]
fn rejected_effects() {
    let errs: Rc<RefCell<Vec<Option<(ErrorKind, Option<Errno>, bool)>>>> = Rc::new(RefCell::new(vec![]));
    let e2 = errs.clone();
    let mut h = Harness::with_options(
        move |m: &mut Module| {
            let input = m.depot("in", Partitioner::HashBy(key("user")));
            let users = m.pstate(
                "$$users",
                Schema::map_of(Schema::String, Schema::record_of([("age", Schema::Int), ("tags", Schema::set_of(Schema::String))])),
            );
            let mut t = m.stream("t");
            let e2 = e2.clone();
            let s = t.stage("s", move |ctx: &mut Ctx, v: Value| {
                let user = v.field("user").clone();
                let r = match v.field("op").as_str().unwrap() {
                    "wrongpart" => {
                        let mut k = 0;
                        loop {
                            let name = format!("u{}", k);
                            if squall::key_partition(&name.as_str().into(), ctx.partitions()).unwrap() != ctx.partition() {
                                break ctx.transform(&users, key(name).key("age").set(1));
                            }
                            k += 1;
                        }
                    }
                    "schema" => ctx.transform(&users, key(user).key("age").set("old")),
                    "field" => ctx.transform(&users, key(user).key("height").set(1)),
                    _ => ctx.select(&users, key(user).key("age").all()).map(|_| ()),
                };
                let summary = |r: &squall::Result| r.as_ref().err().map(|e| (e.kind(), e.code(), e.is_poison()));
                e2.borrow_mut().push(summary(&r));
                r?;
                // The rejection is seen at the next flush: a read, here.
                let r = ctx.select_one(&users, Path::new().must_key("nobody")).map(|_| ());
                e2.borrow_mut().push(summary(&r));
                r
            });
            t.source(&input, &s);
        },
        4,
        Options::new().quiet(),
    );
    for op in ["wrongpart", "schema", "field", "query"] {
        h.append("in", map! { "op" => op, "user" => "u1" });
    }
    let dl = h.dead_letters();
    assert_eq!(dl.len(), 4, "{:?}", dl);
    let wants = [
        "EWRONGPART: key \"u",
        "ESCHEMA: PState \"$$users\": step 2 set(\"old\") at $[\"u1\"][\"age\"]: the schema says int, got string \"old\"",
        "ESCHEMA: PState \"$$users\": step 1 key(\"height\") at $[\"u1\"]: the record has no field \"height\"",
        "EPATH",
    ];
    for (i, want) in wants.iter().enumerate() {
        assert!(dl[i].error.message.contains(want), "{}: {:?}, want {:?}", i, dl[i].error, want);
        if i < 3 {
            assert_eq!(dl[i].error.kind, "rejected");
        }
    }
    let errs = errs.borrow();
    assert_eq!(errs[1], Some((ErrorKind::Rejected, Some(Errno::EWRONGPART), true)));
    assert_eq!(errs[errs.len() - 1], Some((ErrorKind::Query, Some(Errno::EPATH), true)));
}

#[test]
fn read_your_writes_and_batches() {
    let seen = Rc::new(RefCell::new(Vec::<String>::new()));
    let s2 = seen.clone();
    let mut h = Harness::with_options(
        move |m: &mut Module| {
            let input = m.depot("in", Partitioner::HashRecord);
            let list = m.pstate("$$list", Schema::map_of(Schema::String, Schema::list_of(Schema::Int)));
            let mut t = m.stream("t");
            let s2 = s2.clone();
            let s = t.stage("s", move |ctx: &mut Ctx, n: i64| {
                ctx.transform(&list, key("k").append(n))?;
                let vs: Vec<i64> = ctx.select_as(&list, key("k").all())?;
                s2.borrow_mut().push(format!("{:?}", vs));
                if n == 2 && ctx.attempt() == 0 {
                    return Err(Error::new("two fails once"));
                }
                let one = ctx.select_one(&list, key("k").all());
                if vs.len() > 1 && one.is_ok() {
                    return Err(Error::new("select_one of several values succeeded"));
                }
                if ctx.select_one(&list, Path::new().must_key("none"))?.is_some() {
                    return Err(Error::new("select_one of nothing found something"));
                }
                Ok(())
            });
            t.source(&input, &s);
        },
        1,
        Options::new().manual().batch_size(10),
    );
    for i in 1..=3 {
        h.append("in", i);
    }
    assert!(seen.borrow().is_empty(), "manual ran the topology");
    h.run();
    // One batch of three: item 2's append was undone when it failed, and
    // retried after item 3.
    assert_eq!(seen.borrow().join(" "), "[1] [1, 2] [1, 3] [1, 3, 2]");
    let s = h.stats();
    assert_eq!((s.batches, s.items), (2, 4));
}

#[test]
fn hop_partitioners() {
    let visits = Rc::new(RefCell::new(Vec::<(String, u32)>::new()));
    let v2 = visits.clone();
    let mut h = Harness::with_options(
        move |m: &mut Module| {
            let input = m.depot("in", Partitioner::HashRecord);
            let out = m.depot("out", Partitioner::Disallow);
            let mut t = m.stream("t");
            let mut stages = vec![];
            for name in ["all", "global", "origin", "shuffle", "direct"] {
                let v2 = v2.clone();
                stages.push(t.stage(name, move |ctx: &mut Ctx, _: Value| {
                    v2.borrow_mut().push((ctx.stage_name().to_string(), ctx.partition()));
                    Ok(())
                }));
            }
            let (all, global, origin, shuffle, direct) = (stages[0], stages[1], stages[2], stages[3], stages[4]);
            let relay = t.stage("relay", move |ctx: &mut Ctx, v: Value| {
                ctx.hop_all(&all, v.clone())?;
                ctx.hop_global(&global, v.clone())?;
                ctx.hop_origin(&origin, v.clone())?;
                ctx.hop_shuffle(&shuffle, v.clone())?;
                ctx.hop_direct(&direct, 3, v.clone())?;
                if ctx.hop_direct(&direct, 4, v).is_ok() {
                    return Err(Error::new("hop_direct to partition 4 of 4 succeeded"));
                }
                Ok(())
            });
            let start = t.stage("start", move |ctx: &mut Ctx, v: Value| {
                ctx.append_with(&out, v.clone(), AppendOptions::new().local())?;
                ctx.hop(&relay, "elsewhere", v)
            });
            t.source(&input, &start);
        },
        4,
        Options::new().quiet(),
    );
    let a = h.append("in", "x");
    let got = |name: &str| -> Vec<u32> { visits.borrow().iter().filter(|(s, _)| s == name).map(|(_, p)| *p).collect() };
    assert_eq!(got("all"), vec![0, 1, 2, 3]);
    assert_eq!(got("global"), vec![0]);
    assert_eq!(got("direct"), vec![3]);
    assert_eq!(got("origin"), vec![a.partition]);
    assert_eq!(got("shuffle").len(), 1);
    assert_eq!(h.depot("out", a.partition), vec![Value::from("x")]);
    assert!(h.dead_letters().is_empty(), "{:?}", h.dead_letters());
}

#[test]
fn appends_and_ack_trees() {
    let mut h = Harness::with_options(
        |m: &mut Module| {
            let input = m.depot("in", Partitioner::HashRecord);
            let mid = m.depot("mid", Partitioner::HashBy(key("k")));
            let closed = m.depot("closed", Partitioner::Disallow);
            let mut a = m.stream("a");
            let fan = a.stage("fan", move |ctx: &mut Ctx, v: Value| {
                if v.as_str() == Some("bad") {
                    return ctx.append(&closed, v); // not local: rejected
                }
                ctx.append(&mid, map! { "k" => v.clone(), "ack" => true })?;
                ctx.append_with(&mid, map! { "k" => v, "ack" => false }, AppendOptions::new().ack(AckLevel::NoAck))
            });
            a.source(&input, &fan);
            let mut b = m.stream("b");
            let echo = b.stage("echo", |ctx: &mut Ctx, v: Value| {
                if v.field("ack").as_bool() == Some(true) {
                    return ctx.emit(v.field("k"));
                }
                Ok(())
            });
            b.source(&mid, &echo);
        },
        2,
        Options::new().quiet(),
    );
    let r = h.append("in", "hello");
    assert_eq!(r.ack_return("b"), Some(Value::from("hello")), "{:?}", r.ack_returns());
    assert_eq!(r.ack_return("a"), None);
    assert_eq!(h.depot("mid", h.key_partition("hello")).len(), 2);
    h.append("in", "bad");
    let dl = h.dead_letters();
    assert_eq!(dl.len(), 1);
    assert!(dl[0].error.message.contains("EINVAL"), "{:?}", dl);
}

/// Makes the SDK flush in the middle of an item and fetch a parked query
/// result.
#[test]
fn large_effects_and_results() {
    let mut h = Harness::with_options(
        |m: &mut Module| {
            let input = m.depot("in", Partitioner::HashRecord);
            let blobs = m.pstate("$$blobs", Schema::map_of(Schema::Int, Schema::Bytes));
            let mut t = m.stream("t");
            let s = t.stage("s", move |ctx: &mut Ctx, n: i64| {
                for i in 0..n {
                    ctx.transform(&blobs, key(i).set(squall::Bytes(vec![0; 10_000])))?;
                    ctx.log(LogLevel::Info, format!("wrote {}", i));
                }
                let vs = ctx.select(&blobs, Path::new().map_vals())?;
                if vs.len() as i64 != n {
                    return Err(Error::new(format!("read {} blobs", vs.len())));
                }
                if n == 30 {
                    return Err(Error::new("fail after flushing"));
                }
                Ok(())
            });
            t.source(&input, &s);
        },
        1,
        Options::new().quiet(),
    );
    h.append("in", 20);
    assert_eq!(h.select_partition("$$blobs", 0, Path::new().map_keys()).len(), 20);
    h.append("in", 30);
    // Every attempt of the failing item was undone, flushed effects too.
    assert_eq!(h.select_partition("$$blobs", 0, path![view(ViewFn::Count)]), vec![Value::Int(20)]);
    assert_eq!(h.logs().len(), 20 + 30 * 8, "logs of failed items are kept");
}

fn fatal_of<F: FnOnce()>(f: F) -> String {
    // (Panic hooks are process-wide: swapping one here would race with the
    // SDK's hook in tests running in parallel.)
    let r = catch_unwind(AssertUnwindSafe(f));
    match r {
        Ok(()) => String::new(),
        Err(p) => p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default(),
    }
}

fn nop(_: &mut Ctx, _: Value) -> squall::Result {
    Ok(())
}

#[test]
fn definition_errors() {
    let cases: Vec<(&str, Box<dyn Fn(&mut Module)>, Vec<&str>)> = vec![
        (
            "problems",
            Box::new(|m: &mut Module| {
                let d = m.depot("bad name", Partitioner::Random);
                m.pstate("$$p", Schema::set_of(Schema::String));
                m.pstate("$$p", Schema::map_of(Schema::Float, Schema::Int));
                let mut t = m.stream("t");
                let s = t.declare_stage::<Value>("s");
                t.source(&d, &s);
            }),
            vec![
                "module definition has 5 problems",
                "depots[0].name: name \"bad name\" has ' ' at byte 3",
                "pstates[0].schema: the top level of a PState must be a map",
                "pstates[1].name: duplicate PState name \"$$p\"",
                "topologies[0].stages[0]: stage \"s\" has no function",
            ],
        ),
        (
            "foreign handles",
            Box::new(|m: &mut Module| {
                let mut other = Module::new();
                let d = other.depot("d", Partitioner::Random);
                let s2 = {
                    let mut t2 = m.stream("t2");
                    t2.stage("s", nop)
                };
                {
                    let mut t1 = m.stream("t1");
                    t1.source(&d, &s2);
                    t1.stage("x", nop);
                }
            }),
            vec![
                "topologies[1].sources[0].depot: the depot was declared by another Module",
                "topologies[1].sources[0].stage: stage \"s\" belongs to topology \"t2\"",
            ],
        ),
        ("panic", Box::new(|_: &mut Module| panic!("oops")), vec!["squall_init failed (panic)", "panicked: oops", "tests/harness.rs"]),
        (
            "nondeterministic",
            Box::new({
                let n = RefCell::new(0);
                move |m: &mut Module| {
                    *n.borrow_mut() += 1;
                    m.depot(&format!("d{}", n.borrow()), Partitioner::Random);
                }
            }),
            vec!["not deterministic"],
        ),
    ];
    for (name, define, wants) in cases {
        let define: Rc<dyn Fn(&mut Module)> = Rc::from(define);
        let msg = fatal_of(move || {
            Harness::new(move |m: &mut Module| define(m), 2);
        });
        for w in wants {
            assert!(msg.contains(w), "{}: message {:?}\nwants {:?}", name, msg, w);
        }
    }
}

#[test]
fn client_selects() {
    let mut h = Harness::with_options(wordcount, 4, Options::new().quiet());
    h.append("sentences", sentence("a", "x y x"));
    let e = h.try_select("$$counts", Path::new().map_keys()).unwrap_err();
    assert!(e.contains("select_partition"), "{}", e);
    let mut keys = vec![];
    for p in 0..h.partitions() {
        keys.extend(h.select_partition("$$counts", p, Path::new().map_keys()));
    }
    assert_eq!(keys.len(), 2);
    assert_eq!(h.try_select_one("$$counts", Path::new().must_key("z")), Ok(None));
    assert!(h.try_select("$$counts", key("x").incr(1)).is_err(), "a transform path selected");
    let msg = fatal_of(|| {
        let mut h2 = Harness::with_options(wordcount, 1, Options::new().quiet());
        h2.append("nope", 1);
    });
    assert!(msg.contains("no depot \"nope\"; the module declares \"sentences\""), "{}", msg);
}

#[test]
fn ctx_where_and_when() {
    let got = Rc::new(RefCell::new(vec![]));
    let g2 = got.clone();
    let mut h = Harness::with_options(
        move |m: &mut Module| {
            let input = m.depot("in", Partitioner::HashRecord);
            let mut t = m.stream("t");
            let g2 = g2.clone();
            let s = t.stage("s", move |ctx: &mut Ctx, _: Value| {
                let r = ctx.rand().next_u64();
                g2.borrow_mut().push((
                    ctx.depot_name().map(String::from),
                    ctx.offset(),
                    ctx.batch_time_nanos(),
                    ctx.event_time_nanos(),
                    ctx.topology_name().to_string(),
                    r,
                ));
                Ok(())
            });
            t.source(&input, &s);
        },
        1,
        Options::new().start_time_nanos(1_000_000_000),
    );
    h.append("in", 1);
    h.append("in", 2);
    let got = got.borrow();
    assert_eq!(got[0].0.as_deref(), Some("in"));
    assert_eq!((got[0].1, got[1].1), (0, 1));
    assert_eq!(got[0].2, 1_000_000_000 + 1_000_000); // the first batch is 1 ms after the start
    assert_eq!(got[0].3, 1_000_000_000); // appended at the start time
    assert_eq!(got[0].4, "t");
    assert_ne!(got[0].5, got[1].5);
}
