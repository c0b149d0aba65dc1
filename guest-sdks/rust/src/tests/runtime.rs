//! The runtime against a scripted host: failures of the host, ABI errors,
//! definition errors, misuse of handles, effect sizes (the Go SDK's
//! runtime tests).

use std::cell::RefCell;
use std::rc::Rc;

use crate::runtime::{Host, Instance};
use crate::wire::*;
use crate::{key, Bytes, Ctx, Error, ErrorKind, LogLevel, Module, Partitioner, Path, Schema, Value};

#[derive(Default)]
struct Script {
    frames: Vec<Vec<u8>>,
    flush_rc: Vec<i32>,
    query_rc: i32,
}

struct ScriptHost(Rc<RefCell<Script>>);

impl Host for ScriptHost {
    fn flush(&mut self, frame: &[u8]) -> i32 {
        let mut s = self.0.borrow_mut();
        s.frames.push(frame.to_vec());
        if s.flush_rc.is_empty() {
            0
        } else {
            s.flush_rc.remove(0)
        }
    }
    fn query(&mut self, _req: &[u8], out: &mut [u8]) -> i32 {
        let s = self.0.borrow();
        if s.query_rc != 0 {
            return s.query_rc;
        }
        let mut resp = Vec::new();
        append_header(&mut resp, KIND_RESPONSE, 1);
        resp.extend_from_slice(&1u32.to_le_bytes());
        resp.extend_from_slice(&0u32.to_le_bytes());
        resp.push(0x07);
        out[..resp.len()].copy_from_slice(&resp);
        resp.len() as i32
    }
    fn take(&mut self, _out: &mut [u8]) -> i32 {
        ENOENT
    }
}

/// "OP item flags" of every effect flushed.
fn effects(s: &Rc<RefCell<Script>>) -> String {
    let mut out = vec![];
    for f in &s.borrow().frames {
        let mut p = 8;
        while p < f.len() {
            let size = u32::from_le_bytes([f[p], f[p + 1], f[p + 2], f[p + 3]]) as usize;
            let item = u32::from_le_bytes([f[p + 8], f[p + 9], f[p + 10], f[p + 11]]) as i32;
            out.push(format!("{} {} {}", OP_NAMES[f[p + 4] as usize], item, f[p + 5]));
            p += 12 + size;
        }
    }
    out.join(", ")
}

fn start<F: Fn(&mut Module) + 'static>(define: F) -> (Instance, Rc<RefCell<Script>>) {
    let s = Rc::new(RefCell::new(Script::default()));
    let mut inst = Instance::new(Rc::new(define), Box::new(ScriptHost(s.clone())));
    let init = [1u8, 1, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    inst.inbox(64 << 10).unwrap()[..32].copy_from_slice(&init);
    assert_eq!(inst.init(32), STATUS_OK, "{}", effects(&s));
    s.borrow_mut().frames.clear();
    (inst, s)
}

/// Writes a batch of records (one per payload) for topology topo and stage
/// index stage.
fn batch(inst: &mut Instance, topo: u16, stage: u16, payloads: &[&[u8]]) -> usize {
    let mut b = Vec::new();
    append_header(&mut b, KIND_BATCH, payloads.len() as u32);
    b.extend_from_slice(&1u64.to_le_bytes());
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&topo.to_le_bytes());
    b.extend_from_slice(&[0; 22]);
    for p in payloads {
        b.extend_from_slice(&(p.len() as u32).to_le_bytes());
        b.extend_from_slice(&[ITEM_RECORD, 0]);
        b.extend_from_slice(&stage.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&[0; 22]);
        b.extend_from_slice(p);
    }
    inst.inbox(b.len() as i64).unwrap()[..b.len()].copy_from_slice(&b);
    b.len()
}

fn test_module(f: impl Fn(&mut Ctx, Value, &crate::PState) -> crate::Result + 'static) -> impl Fn(&mut Module) {
    let f = Rc::new(f);
    move |m: &mut Module| {
        let d = m.depot("d", Partitioner::Random);
        let p = m.pstate("$$p", Schema::map_of(Schema::Int, Schema::Int));
        let mut t = m.stream("t");
        let f = f.clone();
        let s = t.stage("s", move |ctx: &mut Ctx, v: Value| f(ctx, v, &p));
        t.source(&d, &s);
        t.stage("other", |_: &mut Ctx, _: Value| Ok(()));
    }
}

type Errs = Rc<RefCell<Vec<Option<ErrorKind>>>>;

fn kinds(r: &[crate::Result]) -> Vec<Option<ErrorKind>> {
    r.iter().map(|r| r.as_ref().err().map(|e| e.kind())).collect()
}

#[test]
fn host_failure() {
    let errs: Errs = Rc::default();
    let e2 = errs.clone();
    let (mut inst, s) = start(test_module(move |ctx, _, p| {
        let a = ctx.transform(p, key(1).set(1));
        let b = ctx.select_one(p, key(1)).map(|_| ());
        let c = ctx.emit(1);
        e2.borrow_mut().extend(kinds(&[a, b, c]));
        Err(Error::new("failing"))
    }));
    s.borrow_mut().flush_rc = vec![EINTERNAL];
    let n = batch(&mut inst, 0, 0, &[&[1], &[2]]);
    assert_eq!(inst.process(n), STATUS_FAILED);
    assert_eq!(*errs.borrow(), vec![None, Some(ErrorKind::Host), Some(ErrorKind::Host)]);
    // The batch did not go on after the host failed, and nothing was
    // flushed after the failed flush.
    assert_eq!(s.borrow().frames.len(), 1);
}

#[test]
fn query_failure() {
    let (mut inst, s) = start(test_module(|ctx, _, p| {
        ctx.log(LogLevel::Info, "reading");
        ctx.select(p, key(1)).map(|_| ())
    }));
    s.borrow_mut().query_rc = EINTERNAL;
    let n = batch(&mut inst, 0, 0, &[&[1], &[2]]);
    assert_eq!(inst.process(n), STATUS_FAILED);
    // The ERROR names the item whose query failed.
    assert_eq!(effects(&s), "LOG 0 1, ERROR 0 0");
}

#[test]
fn abi_errors() {
    let (mut inst, s) = start(test_module(|_, _, _| Ok(())));
    type Frame = fn(&mut Instance) -> usize;
    let cases: [(&str, Frame, &str); 5] = [
        ("unknown topology", |i| batch(i, 5, 0, &[&[1]]), "ERROR -1 0"),
        ("unknown stage", |i| batch(i, 0, 9, &[&[1]]), "ERROR 0 0"),
        (
            "bad frame",
            |i| {
                i.inbox(4).unwrap()[..4].copy_from_slice(&[1, 2, 0, 0]);
                4
            },
            "ERROR -1 0",
        ),
        ("too long", |_| 1 << 30, "ERROR -1 0"),
        ("ok", |i| batch(i, 0, 1, &[&[1], &[0xc1]]), "OUTCOME 0 0, OUTCOME 1 1"),
    ];
    for (name, frame, want) in cases {
        let n = frame(&mut inst);
        s.borrow_mut().frames.clear();
        let st = inst.process(n);
        assert_eq!(effects(&s), want, "{}", name);
        assert_eq!(st == STATUS_OK, name == "ok", "{}: status {}", name, st);
    }
}

#[test]
fn definition_errors() {
    type Define = Box<dyn Fn(&mut Module)>;
    let cases: Vec<(Define, &str)> = vec![
        (Box::new(|m: &mut Module| {
            m.depot("", Partitioner::Random);
        }), "a name cannot be empty"),
        (Box::new(|_: &mut Module| panic!("no")), "panicked: no"),
    ];
    for (define, want) in cases {
        let s = Rc::new(RefCell::new(Script::default()));
        let define: Rc<dyn Fn(&mut Module)> = Rc::from(define);
        let mut inst = Instance::new(define, Box::new(ScriptHost(s.clone())));
        inst.inbox(32).unwrap()[..32].copy_from_slice(&[0; 32]);
        assert_eq!(inst.init(32), STATUS_FAILED, "bad init frame");
        s.borrow_mut().frames.clear();
        let init = [1u8, 1, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        inst.inbox(32).unwrap()[..32].copy_from_slice(&init);
        assert_eq!(inst.init(32), STATUS_FAILED);
        let f = String::from_utf8_lossy(&s.borrow().frames[0]).into_owned();
        assert!(f.contains(want), "frames {:?}, want {:?}", f, want);
    }
}

#[test]
fn ctx_misuse() {
    let errs: Rc<RefCell<Vec<(usize, crate::Result)>>> = Rc::default();
    let e2 = errs.clone();
    let (mut inst, _s) = start(move |m: &mut Module| {
        let mut other = Module::new();
        let foreign_stage = other.stream("x").stage("y", |_: &mut Ctx, _: Value| Ok(()));
        let foreign_depot = other.depot("nope", Partitioner::Random);
        let foreign_ps = other.pstate("$$nope", Schema::Int);
        let d = m.depot("d", Partitioner::Random);
        let p = m.pstate("$$p", Schema::Int);
        let s2 = {
            let mut t2 = m.stream("t2");
            let s2 = t2.stage("s2", |_: &mut Ctx, _: Value| Ok(()));
            t2.source(&d, &s2);
            s2
        };
        let mut t1 = m.stream("t1");
        let e2 = e2.clone();
        let direct = t1.declare_stage::<Value>("direct");
        t1.implement(&direct, |_: &mut Ctx, _: Value| Ok(()));
        let s = t1.stage("s", move |ctx: &mut Ctx, _: Value| {
            let deep = (0..200).fold(Value::Nil, |v, _| Value::List(vec![v]));
            let rs = vec![
                ctx.hop(&s2, 1, 1),              // another topology
                ctx.hop(&foreign_stage, 1, 1),   // another module
                ctx.append(&foreign_depot, 1),   // another module
                ctx.transform(&foreign_ps, Path::new().set(1)),
                ctx.transform(&p, Path::new()),  // no terminal
                ctx.hop_direct(&direct, 4, 1),   // partition 4 of 4
                ctx.append(&d, deep.clone()),    // too deep to encode
                ctx.transform(&p, Path::new().set(deep)),
                ctx.select(&p, Path::new().set(1)).map(|_| ()), // a terminal in a select
                ctx.transform(&p, Path::new().sorted_range_with((), (), crate::RangeOpts::new().limit(u32::MAX)).set(1)),
            ];
            e2.borrow_mut().extend(rs.into_iter().enumerate());
            Ok(())
        });
        t1.source(&d, &s);
    });
    let n = batch(&mut inst, 1, 1, &[&[1]]);
    assert_eq!(inst.process(n), STATUS_OK);
    let errs = errs.borrow();
    assert_eq!(errs.len(), 10);
    for (i, r) in errs.iter() {
        match r {
            Err(e) if e.is_poison() => {}
            r => panic!("{}: {:?}", i, r),
        }
    }
}

#[test]
fn large_effect() {
    let got: Rc<RefCell<Option<crate::Result>>> = Rc::default();
    let g2 = got.clone();
    let (mut inst, s) = start(move |m: &mut Module| {
        let d = m.depot("d", Partitioner::Random);
        let mut t = m.stream("t");
        let g2 = g2.clone();
        let st = t.stage("s", move |ctx: &mut Ctx, _: Value| {
            for _ in 0..3 {
                ctx.append(&d, Bytes(vec![0; 40 << 10]))?;
            }
            *g2.borrow_mut() = Some(ctx.append(&d, Bytes(vec![0; 16 << 20])));
            Ok(())
        });
        t.source(&d, &st);
    });
    let n = batch(&mut inst, 0, 0, &[&[1]]);
    assert_eq!(inst.process(n), STATUS_OK);
    match got.borrow().as_ref().unwrap() {
        Err(e) => assert!(e.is_poison() && e.message().contains("exceeds the ABI's 16 MiB"), "{:?}", e),
        Ok(()) => panic!("a 16 MiB record was accepted"),
    }
    let s = s.borrow();
    assert_eq!(s.frames.len(), 2, "a flush at 64 KiB was expected");
    for f in &s.frames {
        assert!(f.len() <= (64 << 10) + (41 << 10), "frame of {} bytes", f.len());
    }
}

#[test]
fn inbox() {
    let s = Rc::new(RefCell::new(Script::default()));
    let mut inst = Instance::new(Rc::new(|_: &mut Module| {}), Box::new(ScriptHost(s)));
    let a = inst.inbox(10).unwrap().as_ptr();
    assert_eq!(inst.inbox(5).unwrap().as_ptr(), a, "the inbox moved");
    assert!(inst.inbox(1 << 20).unwrap().len() >= 1 << 20);
    assert!(inst.inbox(-1).is_none());
    assert!(inst.inbox((MAX_BATCH_FRAME + 1) as i64).is_none());
}

/// A module that uses ABI 1.1 features but registers for 1.0 fails
/// squall_init with a message that says how to fix it; one that uses none
/// starts with either marker.
#[test]
fn marker_minor() {
    let uses_1_1 = |m: &mut Module| {
        m.tick_depot("minute", std::time::Duration::from_secs(60));
    };
    let plain = |m: &mut Module| {
        m.depot("events", Partitioner::Random);
    };
    let init = [1u8, 1, 0, 0, 1, 0, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let run = |define: Rc<dyn Fn(&mut Module)>, minor: u16| -> (i32, String) {
        let s = Rc::new(RefCell::new(Script::default()));
        let mut inst = Instance::new(define, Box::new(ScriptHost(s.clone()))).with_minor(minor);
        inst.inbox(32).unwrap()[..32].copy_from_slice(&init);
        let status = inst.init(32);
        let f = s.borrow().frames.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect::<Vec<_>>().join(" ");
        (status, f)
    };
    let (status, f) = run(Rc::new(uses_1_1), 0);
    assert_eq!(status, STATUS_FAILED);
    assert!(f.contains("tick depot \"minute\"") && f.contains("squall::module!(define, abi = \"1.1\")"), "{}", f);
    assert_eq!(run(Rc::new(uses_1_1), 1).0, STATUS_OK);
    assert_eq!(run(Rc::new(plain), 0).0, STATUS_OK);
}

/// ABI 1.1 calls of a module registered for 1.0, and result calls outside
/// a query, fail the item with a message that says what to do.
#[test]
fn ctx_1_1_misuse() {
    let got: Rc<RefCell<Vec<String>>> = Rc::default();
    let g2 = got.clone();
    let define = move |m: &mut Module| {
        let d = m.depot("d", Partitioner::Random);
        let p = m.pstate("$$p", Schema::map_of(Schema::String, Schema::Int));
        let mut t = m.stream("t");
        let g2 = g2.clone();
        let s = t.stage("s", move |ctx: &mut Ctx, _: Value| {
            for r in [
                ctx.aggregate(&p, "k", crate::Agg::Count),
                ctx.set_result(1),
                ctx.aggregate_result(crate::list![], crate::Agg::Count),
            ] {
                g2.borrow_mut().push(r.err().map(|e| format!("{} {}", e.is_poison(), e)).unwrap_or_default());
            }
            Ok(())
        });
        t.source(&d, &s);
    };
    let s = Rc::new(RefCell::new(Script::default()));
    let mut inst = Instance::new(Rc::new(define), Box::new(ScriptHost(s.clone()))).with_minor(0);
    let init = [1u8, 1, 0, 0, 1, 0, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    inst.inbox(32).unwrap()[..32].copy_from_slice(&init);
    assert_eq!(inst.init(32), STATUS_OK);
    let n = batch(&mut inst, 0, 0, &[&[0xc0]]);
    assert_eq!(inst.process(n), STATUS_OK);
    let got = got.borrow();
    assert!(got[0].starts_with("true ") && got[0].contains("aggregate needs ABI 1.1: register the module with squall::module!(define, abi = \"1.1\")"), "{:?}", got);
    assert!(got[1].contains("set_result: only the stages of a query topology have a result"), "{:?}", got);
    assert!(got[2].contains("aggregate_result: only the stages of a query topology have a result"), "{:?}", got);
}
