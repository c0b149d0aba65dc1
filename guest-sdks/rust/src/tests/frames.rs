//! The frame vectors of abi/testdata/frames.

use super::json::{hex, read_lines, Json};
use crate::frames::{decode_batch, decode_init, decode_response, append_query, ErrorDetail};
use crate::module::{Module, Partitioner, StartFrom};
use crate::path::key;
use crate::runtime::Effects;
use crate::schema::Schema;
use crate::testing_frames::{decode_effects, decode_query};
use crate::value::Value;
use crate::wire::*;
use crate::{check_definition, hash_key, key_partition, Ctx};

fn frames(file: &str) -> Vec<Json> {
    read_lines(&format!("{}/../../abi/testdata/frames/{}", env!("CARGO_MANIFEST_DIR"), file))
}

#[test]
fn golden_init() {
    let lines = frames("init.jsonl");
    assert!(!lines.is_empty());
    for l in &lines {
        let f = decode_init(&l.hex("hex")).unwrap_or_else(|e| panic!("{}: {}", l.str("name"), e));
        let w = l.get("fields");
        assert_eq!(f.flags as i64, w.int("flags"));
        assert_eq!(f.host_major as i64, w.int("host_major"));
        assert_eq!(f.host_minor as i64, w.int("host_minor"));
        assert_eq!(f.tasks as i64, w.int("tasks"));
        assert_eq!(f.time_unix_nano, w.int("time_unix_nano"));
        assert_eq!(f.seed, w.u64("seed"));
        let mut b = Vec::new();
        crate::testing_frames::append_init(&mut b, f.flags, f.tasks, f.time_unix_nano, f.seed);
        if f.host_minor == 1 {
            assert_eq!(hex(&b), l.str("hex"));
        }
    }
}

fn item_kind(s: &str) -> u8 {
    match s {
        "RECORD" => ITEM_RECORD,
        "HOP" => ITEM_HOP,
        "INVOKE" => ITEM_INVOKE,
        _ => panic!("{}", s),
    }
}

#[test]
fn golden_batch() {
    let lines = frames("batch.jsonl");
    assert!(!lines.is_empty());
    for l in &lines {
        let name = l.str("name");
        let b = l.hex("hex");
        let f = decode_batch(&b).unwrap_or_else(|e| panic!("{}: {}", name, e));
        let h = l.get("header");
        assert_eq!(f.header.query, h.int("flags") & BATCH_QUERY as i64 != 0, "{}", name);
        assert_eq!(f.header.batch_id, h.u64("batch_id"), "{}", name);
        assert_eq!(f.header.partition as i64, h.int("partition"));
        assert_eq!(f.header.attempt as i64, h.int("attempt"));
        assert_eq!(f.header.topology as i64, h.int("topology"));
        assert_eq!(f.header.time_unix_nano, h.int("time_unix_nano"));
        assert_eq!(f.header.seed, h.u64("seed"));
        let items = l.arr("items");
        assert_eq!(f.items.len(), items.len());
        for (it, w) in f.items.iter().zip(items) {
            assert_eq!(it.kind, item_kind(&w.str("kind")));
            assert_eq!(it.stage as i64, w.int("stage"));
            assert_eq!(it.depot as i64, w.int("depot"));
            assert_eq!(it.attempt as i64, w.int("attempt"));
            assert_eq!(it.source_partition as i64, w.int("source_partition"));
            assert_eq!(it.offset, w.u64("offset"));
            assert_eq!(it.event_time_unix_nano, w.int("event_time_unix_nano"));
            assert_eq!(crate::decode(it.payload).unwrap(), w.val("payload"), "{}", name);
        }
        // The harness's encoder writes the same bytes.
        let hdr = crate::testing_frames::BatchHeaderOut {
            flags: if f.header.query { BATCH_QUERY } else { 0 },
            batch_id: f.header.batch_id,
            partition: f.header.partition,
            attempt: f.header.attempt,
            topology: f.header.topology,
            time_unix_nano: f.header.time_unix_nano,
            seed: f.header.seed,
        };
        let its: Vec<_> = f
            .items
            .iter()
            .map(|it| crate::testing_frames::BatchItemOut {
                kind: it.kind,
                stage: it.stage,
                depot: it.depot,
                attempt: it.attempt,
                source_partition: it.source_partition,
                offset: it.offset,
                event_time_unix_nano: it.event_time_unix_nano,
                payload: it.payload.to_vec(),
            })
            .collect();
        let mut out = Vec::new();
        crate::testing_frames::append_batch(&mut out, &hdr, &its);
        assert_eq!(hex(&out), l.str("hex"), "{}", name);
    }
}

fn code(names: &[&str], s: &str) -> u8 {
    names.iter().position(|n| *n == s).unwrap_or_else(|| panic!("unknown code {}", s)) as u8
}

fn detail(j: &Json) -> ErrorDetail {
    let s = |k: &str| if j.has(k) { j.str(k) } else { String::new() };
    ErrorDetail { kind: s("kind"), message: s("message"), stack: s("stack") }
}

#[test]
fn golden_effects() {
    let lines = frames("effects.jsonl");
    assert!(lines.len() > 5);
    for l in &lines {
        let name = l.str("name");
        let mut e = Effects::new();
        for x in l.arr("effects") {
            let item = x.u64("item") as u32;
            let target = x.int("target") as u16;
            match x.str("op").as_str() {
                "APPEND" => {
                    let mut flags = code(&["NONE", "APPEND_ACK", "ACK"], &x.str("ack"));
                    if x.boolean("local") {
                        flags |= APPEND_LOCAL;
                    }
                    e.value(OP_APPEND, flags, target, item, &x.val("record"), "append").unwrap();
                }
                "HOP" => {
                    let p = code(&["", "HASH", "ALL", "GLOBAL", "ORIGIN", "SHUFFLE", "DIRECT"], &x.str("partitioner"));
                    let key = if x.has("key") { x.val("key") } else { Value::Nil };
                    let part = if x.has("partition") { x.int("partition") as u32 } else { 0 };
                    e.hop(p, target, item, &key, part, &x.val("payload")).unwrap();
                }
                "TRANSFORM" => {
                    let path = crate::Path::parse(&x.val("path")).unwrap();
                    assert_eq!(path.to_string(), x.str("path_text"), "{}", name);
                    e.value(OP_TRANSFORM, 0, target, item, &path.value().unwrap(), "transform").unwrap();
                }
                "EMIT" => {
                    let stream = code(&["ACK_RETURN", "QUERY_RESULT"], &x.str("stream")) as u16;
                    assert_eq!(stream, target, "{}", name);
                    e.value(OP_EMIT, 0, stream, item, &x.val("value"), "emit").unwrap()
                }
                "AGGREGATE" => {
                    let agg = code(&AGG_NAMES, &x.str("aggregator"));
                    assert_eq!(agg as i64, x.int("flags"), "{}", name);
                    let n = if x.has("n") { Some(x.int("n")) } else { None };
                    e.aggregate(agg, target, item, &x.val("keys"), &x.val("value"), n).unwrap();
                }
                "LOG" => e.log(code(&["DEBUG", "INFO", "WARN", "ERROR"], &x.str("level")), item, &x.str("text")),
                "OUTCOME" => {
                    let o = code(&["OK", "POISON", "RETRY"], &x.str("outcome"));
                    let d = if x.has("detail") { detail(x.get("detail")) } else { ErrorDetail::default() };
                    e.outcome(item, o, &d);
                }
                "DEFINE" => e.define(&crate::encode(&x.val("definition")).unwrap()).unwrap(),
                "ERROR" => e.value(OP_ERROR, 0, 0, item, &detail(x.get("detail")).value(), "error").unwrap(),
                op => panic!("{}", op),
            }
        }
        assert_eq!(hex(e.frame()), l.str("hex"), "{}", name);
        // The harness's host-side decoder reads it back.
        let es = decode_effects(&l.hex("hex"), true).unwrap_or_else(|err| panic!("{}: {}", name, err));
        assert_eq!(es.len(), l.arr("effects").len());
    }
}

#[test]
fn golden_query() {
    for l in &frames("query.jsonl") {
        let name = l.str("name");
        let qs = l.arr("queries");
        let mut b = Vec::new();
        append_header(&mut b, KIND_QUERY, qs.len() as u32);
        for q in qs {
            let op = code(&["", "SELECT", "SELECT_ONE", "INVOKE"], &q.str("op"));
            if op == QUERY_INVOKE {
                append_query(&mut b, op, q.int("query") as u16, &q.val("args")).unwrap();
                continue;
            }
            let p = crate::Path::parse(&q.val("path")).unwrap();
            assert_eq!(p.to_string(), q.str("path_text"), "{}", name);
            append_query(&mut b, op, q.int("pstate") as u16, &p.value().unwrap()).unwrap();
        }
        assert_eq!(hex(&b), l.str("hex"), "{}", name);
        assert_eq!(decode_query(&b, true).unwrap().len(), qs.len());
    }
}

#[test]
fn golden_response() {
    for l in &frames("response.jsonl") {
        let name = l.str("name");
        let rs = decode_response(&l.hex("hex")).unwrap_or_else(|e| panic!("{}: {}", name, e));
        let want = l.arr("results");
        assert_eq!(rs.len(), want.len());
        let mut outs = vec![];
        for (r, w) in rs.iter().zip(want) {
            assert_eq!(r.status as i64, w.int("code"), "{}", name);
            if w.has("value") {
                assert_eq!(r.value, w.val("value"), "{}", name);
            }
            if w.has("message") {
                assert_eq!(r.message, w.str("message"), "{}", name);
            }
            outs.push(crate::testing_frames::ResultOut { status: r.status, value: r.value.clone(), message: r.message.clone() });
        }
        let mut b = Vec::new();
        crate::testing_frames::append_response(&mut b, &outs).unwrap();
        assert_eq!(hex(&b), l.str("hex"), "{}", name);
    }
}

#[test]
fn golden_invalid_frames() {
    let mut n = 0;
    for l in &frames("invalid.jsonl") {
        let name = l.str("name");
        let b = l.hex("hex");
        let err = match l.str("frame").as_str() {
            "init" => decode_init(&b).err(),
            "batch" => decode_batch(&b).err(),
            "response" => decode_response(&b).err(),
            "effects" => decode_effects(&b, false).err(),
            "query" => decode_query(&b, false).err(),
            f => panic!("{}", f),
        };
        let e = err.unwrap_or_else(|| panic!("{}: accepted", name));
        assert_eq!(
            (e.kind.name(), e.index, e.offset),
            (l.str("error").as_str(), l.int("index"), l.int("offset")),
            "{}: {}",
            name,
            e
        );
        assert_eq!(crate::wire::errno_name(e.errno()), l.str("errno"), "{}", name);
        n += 1;
    }
    assert!(n > 50);
}

#[test]
fn golden_partition() {
    for l in &frames("partition.jsonl") {
        let k = l.val("key");
        assert_eq!(hex(&crate::encode(&k).unwrap()), l.str("hex"));
        assert_eq!(hash_key(&k).unwrap(), l.u64("hash"), "{}", l.str("name"));
        for pair in l.arr("partitions") {
            if let Json::Arr(a) = pair {
                let tasks: u32 = match &a[0] { Json::Num(n) => n.parse().unwrap(), _ => panic!() };
                let p: u32 = match &a[1] { Json::Num(n) => n.parse().unwrap(), _ => panic!() };
                assert_eq!(key_partition(&k, tasks).unwrap(), p, "{} of {}", l.str("name"), tasks);
            }
        }
    }
}

fn nop(_: &mut Ctx, _: Value) -> crate::Result {
    Ok(())
}

/// The golden modules, declared with the builder.
fn golden_module(name: &str) -> Module {
    let mut m = Module::new();
    match name {
        "minimal" => {}
        "social" => {
            m.name("social");
            let follows = m.depot("follows", Partitioner::HashBy(key("to")));
            m.depot("audit", Partitioner::Random);
            m.pstate("followers", Schema::map_of(Schema::String, Schema::set_of(Schema::String).subindexed()));
            m.pstate("follower_count", Schema::map_of(Schema::String, Schema::Int));
            let mut core = m.stream("core");
            let on_follow = core.stage("on_follow", nop);
            core.stage("index", nop);
            core.source(&follows, &on_follow);
        }
        "every schema form" => {
            let events = m.depot("events", Partitioner::HashRecord);
            let internal = m.depot("$internal", Partitioner::Disallow);
            m.global_pstate("counter", Schema::Int);
            m.pstate(
                "profiles",
                Schema::map_of(
                    Schema::Bytes,
                    Schema::record_of([
                        ("name", Schema::String),
                        ("score", Schema::Float),
                        ("active", Schema::Bool),
                        ("tags", Schema::set_of(Schema::String)),
                        ("history", Schema::list_of(Schema::Any).subindexed()),
                        ("by_day", Schema::map_of(Schema::Int, Schema::map_of(Schema::String, Schema::Int)).subindexed()),
                    ]),
                ),
            );
            let mut ingest = m.stream("ingest");
            let parse = ingest.stage("parse", nop);
            let replay = ingest.stage("replay", nop);
            ingest.stage("count", nop);
            ingest.source(&events, &parse);
            ingest.source(&internal, &replay);
            let mut audit = m.stream("audit");
            let a = audit.stage("audit", nop);
            audit.source(&events, &a);
        }
        "1.1 bank: tick depot, microbatch, owner, query" => {
            m.name("bank");
            let transfers = m.depot("transfers", Partitioner::HashBy(key("from")));
            let deposits = m.depot("deposits", Partitioner::HashBy(key("account")));
            let minute = m.tick_depot("minute", std::time::Duration::from_secs(60));
            let accounts = m.pstate(
                "accounts",
                Schema::map_of(
                    Schema::String,
                    Schema::record_of([
                        ("balance", Schema::Int),
                        ("history", Schema::map_of(Schema::Int, Schema::Any).subindexed()),
                    ]),
                ),
            );
            m.pstate("stats", Schema::map_of(Schema::String, Schema::Any));
            let mut bank = m.microbatch("bank");
            bank.owns(&accounts).max_records(500).interval(std::time::Duration::from_millis(100));
            let debit = bank.stage("debit", nop);
            bank.stage("credit", nop);
            let deposit = bank.stage("deposit", nop);
            let tick = bank.stage("tick", nop);
            bank.source(&transfers, &debit);
            bank.source_from(&deposits, &deposit, StartFrom::End);
            bank.source_from(&minute, &tick, StartFrom::Offset(12));
            let mut audit = m.stream("audit");
            let log = audit.stage("log", nop);
            audit.source_from(&transfers, &log, StartFrom::End);
            let mut account = m.query("account", &["id", "limit"]);
            account.stage("start", nop);
            account.stage("read", nop);
            let mut total = m.query("total", &[]);
            total.stage("fanout", nop);
            total.stage("sum", nop);
        }
        _ => panic!("no builder for module {:?}", name),
    }
    m
}

#[test]
fn golden_module_defs() {
    let lines = frames("module_def.jsonl");
    assert_eq!(lines.len(), 4);
    for l in &lines {
        let name = l.str("name");
        let b = golden_module(&name).definition_bytes().unwrap_or_else(|e| panic!("{}: {}", name, e));
        assert_eq!(hex(&b), l.str("hex"), "{}: {}", name, crate::decode(&b).unwrap());
    }
}

#[test]
fn golden_module_def_problems() {
    let lines = frames("module_def_invalid.jsonl");
    assert!(lines.len() > 15);
    for l in &lines {
        let name = l.str("name");
        let e = check_definition(&l.val("definition")).err().unwrap_or_else(|| panic!("{}: accepted", name));
        let got: Vec<String> = e.problems.iter().map(|p| format!("{}: {}", p.location, p.message)).collect();
        let want: Vec<String> = l
            .arr("problems")
            .iter()
            .map(|p| match p {
                Json::Str(s) => s.clone(),
                _ => panic!(),
            })
            .collect();
        assert_eq!(got, want, "{}", name);
    }
}

#[test]
fn rand_matches_go() {
    // Numbers from Go's math/rand/v2: rand.New(rand.NewPCG(1, 2)).
    let mut r = crate::Rng::new(1, 2);
    assert_eq!(r.next_u64(), 14192431797130687760);
    assert_eq!(r.next_u64(), 11371241257079532652);
    assert_eq!(r.next_u64(), 14470142590855381128);
    assert_eq!(r.below(10), 7);
    assert_eq!(r.below(1000003), 234276);
    assert_eq!(r.below(16), 12);
    assert_eq!(r.next_f64(), 0.8192750264193612);
    let mut r = crate::Rng::new(0x5eed, 0x517cc1b727220a95);
    assert_eq!(r.next_u64(), 17476590373802727932);
    assert_eq!(r.below(4), 1);
}

#[test]
fn golden_aggregate() {
    let lines = frames("aggregate.jsonl");
    assert!(lines.len() > 30);
    for l in &lines {
        let name = l.str("name");
        let agg = l.int("code") as u8;
        assert_eq!(AGG_NAMES[agg as usize], l.str("aggregator"), "{}", name);
        let keys = l.val("keys");
        let n = if l.has("n") { l.int("n") } else { 0 };
        let got = crate::testing::aggregate_for_tests(&l.val("current"), keys.items(), agg, &l.val("value"), n);
        if l.has("error") {
            assert!(got.is_err(), "{}: combined into {:?}", name, got);
        } else {
            let got = got.unwrap_or_else(|e| panic!("{}: {}", name, e));
            assert_eq!(got, l.val("result"), "{}", name);
        }
    }
}
