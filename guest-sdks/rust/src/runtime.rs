//! The guest runtime: what `squall_init` and `squall_process` do
//! (`abi/ABI.md` §13). It talks to the host only through [`Host`], so that
//! the same code runs behind the wasm exports and under the test harness's
//! fake host.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::ctx::Ctx;
use crate::error::{Error, ErrorKind, Errno};
use crate::frames::{self, append_effect_header, append_query, decode_batch, decode_init, ErrorDetail, QueryResult};
use crate::module::{build_module, BuildError, Built, Module};
use crate::msgpack;
use crate::value::{quote, Value};
use crate::wire::*;

/// The size of buffered effects that triggers a flush.
pub(crate) const FLUSH_AT: usize = 64 << 10;

/// The host side of the ABI: the three functions of the `squall_v1` import
/// module (§7), with guest memory as slices.
pub(crate) trait Host {
    /// Submits an effects frame; returns 0, the number of effects the host
    /// rejected, or a negative errno.
    fn flush(&mut self, frame: &[u8]) -> i32;
    /// Runs a query frame; the response goes into out when it fits.
    /// Returns the response's size, or a negative errno.
    fn query(&mut self, req: &[u8], out: &mut [u8]) -> i32;
    /// Copies the parked result into out when it fits and returns its
    /// size, or -ENOENT.
    fn take(&mut self, out: &mut [u8]) -> i32;
}

/// The effects frame being filled: its 8-byte header and the effects after
/// it.
pub(crate) struct Effects {
    pub b: Vec<u8>,
    pub count: u32,
    /// Where the current item's unflushed effects begin.
    mark: usize,
    mark_count: u32,
}

impl Effects {
    pub(crate) fn new() -> Effects {
        let mut e = Effects { b: Vec::with_capacity(FLUSH_AT + FLUSH_AT / 4), count: 0, mark: 0, mark_count: 0 };
        e.reset();
        e
    }

    pub(crate) fn reset(&mut self) {
        self.b.clear();
        append_header(&mut self.b, KIND_EFFECTS, 0);
        self.count = 0;
        self.mark = self.b.len();
        self.mark_count = 0;
    }

    /// Starts an effect; end finishes it (body written after begin).
    pub(crate) fn begin(&mut self, op: u8, flags: u8, target: u16, item: u32) -> usize {
        let start = self.b.len();
        append_effect_header(&mut self.b, op, flags, target, item);
        start
    }

    pub(crate) fn end(&mut self, start: usize) -> Result<(), Error> {
        let size = self.b.len() - start - EFFECT_HEADER_SIZE;
        if size > MAX_EFFECTS_FRAME - EFFECTS_HEADER_SIZE - EFFECT_HEADER_SIZE {
            self.b.truncate(start);
            return Err(Error::poison(format!(
                "squall: an effect of {} bytes exceeds the ABI's {} MiB effects frame limit",
                size,
                MAX_EFFECTS_FRAME >> 20
            )));
        }
        put_u32(&mut self.b[start..], size as u32);
        self.count += 1;
        Ok(())
    }

    /// Appends an effect whose body is one value.
    pub(crate) fn value(&mut self, op: u8, flags: u8, target: u16, item: u32, v: &Value, what: &str) -> Result<(), Error> {
        let start = self.begin(op, flags, target, item);
        if let Err(e) = msgpack::encode_into(&mut self.b, v) {
            self.b.truncate(start);
            return Err(Error::poison(format!("squall: {}: {}", what, e)));
        }
        self.end(start)
    }

    /// Appends a HOP: with a key for HASH, a partition for DIRECT.
    pub(crate) fn hop(&mut self, partitioner: u8, stage: u16, item: u32, key: &Value, partition: u32, payload: &Value) -> Result<(), Error> {
        let start = self.begin(OP_HOP, partitioner, stage, item);
        let mut r = Ok(());
        if partitioner == HOP_HASH {
            r = msgpack::encode_into(&mut self.b, key).map_err(|e| format!("hop key: {}", e));
        } else if partitioner == HOP_DIRECT {
            self.b.extend_from_slice(&partition.to_le_bytes());
        }
        if r.is_ok() {
            r = msgpack::encode_into(&mut self.b, payload).map_err(|e| format!("hop payload: {}", e));
        }
        if let Err(e) = r {
            self.b.truncate(start);
            return Err(Error::poison(format!("squall: {}", e)));
        }
        self.end(start)
    }

    /// Appends an AGGREGATE (1.1): the key path, the value and, for TOP_N,
    /// n.
    pub(crate) fn aggregate(&mut self, agg: u8, target: u16, item: u32, keys: &Value, v: &Value, n: Option<i64>) -> Result<(), Error> {
        let start = self.begin(OP_AGGREGATE, agg, target, item);
        let mut r = msgpack::encode_into(&mut self.b, keys).map_err(|e| format!("aggregate key path: {}", e));
        if r.is_ok() {
            r = msgpack::encode_into(&mut self.b, v).map_err(|e| format!("aggregate value: {}", e));
        }
        if let (true, Some(n)) = (r.is_ok(), n) {
            r = msgpack::encode_into(&mut self.b, &Value::Int(n)).map_err(|e| format!("aggregate n: {}", e));
        }
        if let Err(e) = r {
            self.b.truncate(start);
            return Err(Error::poison(format!("squall: {}", e)));
        }
        self.end(start)
    }

    /// Appends a LOG of text (at most 8 KiB).
    pub(crate) fn log(&mut self, level: u8, item: u32, text: &str) {
        let mut t = text;
        if t.len() > 8 << 10 {
            let mut cut = 8 << 10;
            while !t.is_char_boundary(cut) {
                cut -= 1;
            }
            t = &t[..cut];
        }
        let start = self.begin(OP_LOG, level, 0, item);
        self.b.extend_from_slice(t.as_bytes());
        let _ = self.end(start);
    }

    /// Appends the OUTCOME of an item; the detail is ignored for OK.
    pub(crate) fn outcome(&mut self, item: u32, outcome: u8, d: &ErrorDetail) {
        if outcome == OUTCOME_OK {
            let start = self.begin(OP_OUTCOME, OUTCOME_OK, 0, item);
            let _ = self.end(start);
            return;
        }
        if self.value(OP_OUTCOME, outcome, 0, item, &d.value(), "outcome").is_err() {
            let d2 = ErrorDetail { kind: d.kind.clone(), message: "the error message could not be encoded".into(), stack: String::new() };
            let _ = self.value(OP_OUTCOME, outcome, 0, item, &d2.value(), "outcome");
        }
    }

    /// Appends the DEFINE of an encoded definition.
    pub(crate) fn define(&mut self, def: &[u8]) -> Result<(), Error> {
        let start = self.begin(OP_DEFINE, 0, 0, NO_ITEM);
        self.b.extend_from_slice(def);
        self.end(start)
    }

    /// Discards the current item's unflushed effects but its logs.
    pub(crate) fn drop_item(&mut self) {
        let mut w = self.mark;
        let mut n = self.mark_count;
        let mut r = self.mark;
        while r < self.b.len() {
            let size = u32::from_le_bytes([self.b[r], self.b[r + 1], self.b[r + 2], self.b[r + 3]]) as usize;
            let end = r + EFFECT_HEADER_SIZE + size;
            if self.b[r + 4] == OP_LOG {
                self.b.copy_within(r..end, w);
                w += end - r;
                n += 1;
            }
            r = end;
        }
        self.b.truncate(w);
        self.count = n;
    }

    /// Records that the next item's effects start here.
    pub(crate) fn mark_item(&mut self) {
        self.mark = self.b.len();
        self.mark_count = self.count;
    }

    /// The frame with its count set.
    pub(crate) fn frame(&mut self) -> &[u8] {
        let c = self.count;
        put_u32(&mut self.b[4..], c);
        &self.b
    }
}

/// A rejection of the current item's effect by the host.
pub(crate) struct Rejection {
    pub code: i32,
    pub message: String,
}

/// What stages reach through their Ctx: the host, the effects being
/// buffered, the query buffers, and the state of the call.
pub(crate) struct Io {
    pub host: Box<dyn Host>,
    pub tasks: u32,
    /// The ABI minor of the module's marker.
    pub minor: u16,
    pub eff: Effects,
    out: Vec<u8>,
    req: Vec<u8>,
    /// The errno of a host function that failed: the call is failing.
    pub fatal: Option<i32>,
    /// flush itself failed, so not even an ERROR can be flushed.
    flush_failed: bool,
    /// The item being processed.
    pub cur_item: Option<u32>,
    /// The host's rejection of the current item.
    pub rejected: Option<Rejection>,
}

impl Io {
    /// Hands the buffered effects to the host. A rejection of the current
    /// item's effects is recorded; a failure of the host makes the call
    /// fail.
    pub(crate) fn flush(&mut self) {
        if self.fatal.is_some() || self.eff.count == 0 {
            return;
        }
        let r = {
            let frame = self.eff.frame();
            self.host.flush(frame)
        };
        self.eff.reset();
        if r < 0 {
            self.fatal = Some(r);
            self.flush_failed = true;
        } else if r > 0 {
            self.rejections();
        }
    }

    /// Fetches the list of effects the host rejected in the last flush and
    /// stops the current item if it is among them.
    fn rejections(&mut self) {
        let b = match self.take() {
            Ok(b) => b,
            Err(code) => {
                self.fatal = Some(code);
                return;
            }
        };
        let v = match msgpack::decode(&b) {
            Ok(v @ Value::List(_)) => v,
            _ => {
                self.fatal = Some(EINVAL);
                return;
            }
        };
        let item = match self.cur_item {
            Some(i) if self.rejected.is_none() => i,
            _ => return,
        };
        for r in v.items() {
            if r.field("item").as_int() != Some(item as i64) {
                continue;
            }
            self.rejected = Some(Rejection {
                code: r.field("code").as_int().unwrap_or(EINVAL as i64) as i32,
                message: r.field("message").as_str().unwrap_or("").to_string(),
            });
            return;
        }
    }

    /// Copies the parked result into the out buffer, growing it as needed.
    fn take(&mut self) -> Result<Vec<u8>, i32> {
        if self.out.is_empty() {
            self.out = vec![0; 64 << 10];
        }
        let mut n = self.host.take(&mut self.out);
        if n > self.out.len() as i32 {
            self.out = vec![0; n as usize];
            n = self.host.take(&mut self.out);
        }
        if n < 0 {
            return Err(n);
        }
        if n as usize > self.out.len() {
            return Err(EINTERNAL);
        }
        Ok(self.out[..n as usize].to_vec())
    }

    /// The error every Ctx method returns once the call or the item cannot
    /// go on.
    pub(crate) fn unusable(&self) -> Option<Error> {
        if let Some(code) = self.fatal {
            return Some(Error::host(code));
        }
        self.rejected.as_ref().map(|r| {
            Error::with_code(
                ErrorKind::Rejected,
                true,
                Errno(r.code),
                format!("squall: the host rejected an effect of this item: {}: {}", errno_name(r.code), r.message),
            )
        })
    }

    /// Runs one query and returns its result.
    pub(crate) fn query(&mut self, op: u8, pstate: u16, path: &Value) -> Result<QueryResult, Error> {
        self.flush();
        if let Some(e) = self.unusable() {
            return Err(e);
        }
        let mut req = std::mem::take(&mut self.req);
        req.clear();
        append_header(&mut req, KIND_QUERY, 1);
        if let Err(e) = append_query(&mut req, op, pstate, path) {
            self.req = req;
            return Err(Error::poison(format!("squall: query path: {}", e)));
        }
        if req.len() > MAX_QUERY_FRAME {
            let n = req.len();
            self.req = req;
            return Err(Error::poison(format!(
                "squall: query path of {} bytes exceeds the ABI's 1 MiB query frame limit",
                n
            )));
        }
        if self.out.is_empty() {
            self.out = vec![0; 64 << 10];
        }
        let n = self.host.query(&req, &mut self.out);
        self.req = req;
        let resp = if n < 0 {
            self.fatal = Some(n);
            return Err(Error::host(n));
        } else if n as usize <= self.out.len() {
            self.out[..n as usize].to_vec()
        } else {
            match self.take() {
                Ok(b) => b,
                Err(code) => {
                    self.fatal = Some(code);
                    return Err(Error::host(code));
                }
            }
        };
        match frames::decode_response(&resp) {
            Ok(mut rs) if rs.len() == 1 => Ok(rs.pop().unwrap()),
            _ => {
                self.fatal = Some(EINVAL);
                Err(Error::host(EINVAL))
            }
        }
    }
}

/// A module's definition function, shared by the instances it starts.
pub(crate) type DefineFn = Rc<dyn Fn(&mut Module)>;

/// One guest instance: the module's stage functions, the inbox and the
/// effect and query buffers.
pub(crate) struct Instance {
    define: DefineFn,
    /// The ABI minor of the module's marker: a definition that needs more
    /// fails squall_init with a message that says how to fix it.
    minor: u16,
    built: Option<Result<Built, BuildError>>,
    inbox: Vec<u8>,
    io: Io,
}

// ---- panics ----

thread_local! {
    /// The item a stage runs for (NO_ITEM in squall_init) while SDK code
    /// runs user code; None otherwise.
    static RUNNING: Cell<Option<u32>> = const { Cell::new(None) };
    /// The message and location of the last panic in user code.
    static PANICKED: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
}

fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let item = RUNNING.with(|r| r.get());
            let item = match item {
                Some(i) => i,
                None => return prev(info),
            };
            let msg = if let Some(s) = info.payload().downcast_ref::<&str>() {
                s.to_string()
            } else if let Some(s) = info.payload().downcast_ref::<String>() {
                s.clone()
            } else {
                "Box<dyn Any>".to_string()
            };
            let loc = info.location().map(|l| format!("at {}:{}:{}", l.file(), l.line(), l.column())).unwrap_or_default();
            #[cfg(all(target_arch = "wasm32", not(panic = "unwind")))]
            {
                // The panic cannot be caught: the instance traps when this
                // hook returns. Report it first, with the item, so that the
                // host can isolate the item (ABI.md §12.4); then let the
                // default hook write it to stderr (the operator log).
                crate::glue::report_panic(item, &panic_detail(&msg, &loc));
                prev(info);
            }
            #[cfg(not(all(target_arch = "wasm32", not(panic = "unwind"))))]
            {
                let _ = item;
                PANICKED.with(|p| *p.borrow_mut() = Some((msg, loc)));
            }
        }));
    });
}

pub(crate) fn panic_detail(msg: &str, loc: &str) -> ErrorDetail {
    ErrorDetail { kind: "panic".into(), message: format!("panic: {}", msg), stack: loc.to_string() }
}

/// Runs user code for `item`: a panic becomes Err with its detail (where
/// panics unwind; elsewhere the hook reported it and the instance traps).
fn guarded<R, F: FnOnce() -> R>(item: u32, f: F) -> Result<R, ErrorDetail> {
    install_panic_hook();
    RUNNING.with(|r| r.set(Some(item)));
    #[cfg(panic = "unwind")]
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        let (msg, loc) = PANICKED.with(|p| p.borrow_mut().take()).unwrap_or_else(|| {
            let m = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "Box<dyn Any>".into());
            (m, String::new())
        });
        panic_detail(&msg, &loc)
    });
    #[cfg(not(panic = "unwind"))]
    let r = Ok(f());
    RUNNING.with(|r| r.set(None));
    r
}

impl Instance {
    pub(crate) fn new(define: DefineFn, host: Box<dyn Host>) -> Instance {
        Instance {
            define,
            minor: 1,
            built: None,
            inbox: Vec::new(),
            io: Io {
                host,
                tasks: 0,
                minor: 1,
                eff: Effects::new(),
                out: Vec::new(),
                req: Vec::new(),
                fatal: None,
                flush_failed: false,
                cur_item: None,
                rejected: None,
            },
        }
    }

    /// Sets the ABI minor of the module's marker (1 by default, as the
    /// test harness is a 1.1 host that accepts every module).
    pub(crate) fn with_minor(mut self, minor: u16) -> Instance {
        self.minor = minor;
        self.io.minor = minor;
        self
    }

    /// squall_inbox: a buffer of at least min_cap bytes, or None.
    pub(crate) fn inbox(&mut self, min_cap: i64) -> Option<&mut [u8]> {
        if min_cap < 0 || min_cap as usize > MAX_BATCH_FRAME {
            return None;
        }
        if self.inbox.len() < min_cap as usize {
            self.inbox = vec![0; (min_cap as usize).max(64 << 10)];
        }
        Some(&mut self.inbox)
    }

    /// Flushes an ERROR effect, unless flush itself failed, and returns
    /// the FAILED status.
    fn fail_call(&mut self, item: u32, d: ErrorDetail) -> i32 {
        fail_io(&mut self.io, item, d)
    }

    /// Fails the call after a panic: the unflushed effects are dropped (as
    /// where the instance traps) and an ERROR names the item.
    fn fail_panic(&mut self, item: u32, d: ErrorDetail) -> i32 {
        self.io.eff.reset();
        self.fail_call(item, d)
    }

    /// Builds the module on first use.
    fn build(&mut self) -> Result<(), ErrorDetail> {
        if self.built.is_none() {
            let define = self.define.clone();
            let r = guarded(NO_ITEM, move || {
                let mut m = Module::new();
                define(&mut m);
                m
            });
            self.built = Some(match r {
                Ok(m) => build_module(m),
                Err(d) => Err(BuildError {
                    kind: "panic",
                    message: format!("squall: the module definition panicked: {}", d.message.trim_start_matches("panic: ")),
                    stack: d.stack,
                }),
            });
        }
        match self.built.as_ref().unwrap() {
            Ok(_) => Ok(()),
            Err(e) => Err(ErrorDetail { kind: e.kind.into(), message: e.message.clone(), stack: e.stack.clone() }),
        }
    }

    /// squall_init: build the module and flush its definition.
    pub(crate) fn init(&mut self, n: usize) -> i32 {
        self.io.eff.reset();
        self.io.fatal = None;
        self.io.flush_failed = false;
        self.io.cur_item = None;
        self.io.rejected = None;
        if n > self.inbox.len() {
            return self.fail_call(NO_ITEM, abi_detail(format!("squall_init: frame length {} exceeds the inbox", n)));
        }
        let f = match decode_init(&self.inbox[..n]) {
            Ok(f) => f,
            Err(e) => return self.fail_call(NO_ITEM, abi_detail(e.to_string())),
        };
        self.io.tasks = f.tasks;
        if let Err(d) = self.build() {
            if d.kind == "panic" {
                return self.fail_panic(NO_ITEM, d);
            }
            return self.fail_call(NO_ITEM, d);
        }
        let (def, features) = match self.built.as_ref() {
            Some(Ok(b)) => (b.def_bytes.clone(), b.features_1_1.clone()),
            _ => unreachable!(),
        };
        if !features.is_empty() && self.minor < 1 {
            let msg = format!(
                "squall: the module uses ABI 1.1 features ({}) but registers with squall::module!(define), which targets ABI 1.0; \
                 register it with squall::module!(define, abi = \"1.1\")",
                features.join(", ")
            );
            return self.fail_call(NO_ITEM, ErrorDetail { kind: "definition".into(), message: msg, stack: String::new() });
        }
        if let Err(e) = self.io.eff.define(&def) {
            return self.fail_call(NO_ITEM, ErrorDetail { kind: "definition".into(), message: e.to_string(), stack: String::new() });
        }
        self.io.flush();
        if self.io.fatal.is_some() {
            return STATUS_FAILED;
        }
        STATUS_OK
    }

    /// squall_process: run each item's stage, in order, and flush its
    /// effects and exactly one OUTCOME.
    pub(crate) fn process(&mut self, n: usize) -> i32 {
        self.io.eff.reset();
        self.io.fatal = None;
        self.io.flush_failed = false;
        self.io.cur_item = None;
        self.io.rejected = None;
        if let Err(d) = self.build() {
            return self.fail_call(NO_ITEM, ErrorDetail { kind: "definition".into(), message: d.message, stack: d.stack });
        }
        if n > self.inbox.len() {
            return self.fail_call(NO_ITEM, abi_detail(format!("squall_process: frame length {} exceeds the inbox", n)));
        }
        let Instance { inbox, io, built, .. } = self;
        let built = match built {
            Some(Ok(b)) => b,
            _ => unreachable!(),
        };
        let batch = match decode_batch(&inbox[..n]) {
            Ok(b) => b,
            Err(e) => {
                let d = abi_detail(e.to_string());
                return fail_io(io, NO_ITEM, d);
            }
        };
        let ti = batch.header.topology as usize;
        let query = batch.header.query;
        let (fns, what) = if query { (&mut built.query_stages, "query") } else { (&mut built.stages, "topology") };
        if ti >= fns.len() {
            let d = abi_detail(format!("squall_process: the batch names {} {}; the module has {}", what, ti, fns.len()));
            return fail_io(io, NO_ITEM, d);
        }
        let (topo_name, stage_names) = built.info.topology(query, ti as u16);
        let mut failed = NO_ITEM;
        for (i, it) in batch.items.iter().enumerate() {
            let item = i as u32;
            let si = it.stage as usize;
            if si >= stage_names.len() {
                let d = abi_detail(format!(
                    "squall_process: item {} names stage {} of {} {}, which has {}",
                    i,
                    si,
                    what,
                    quote(topo_name),
                    stage_names.len()
                ));
                return fail_io(io, item, d);
            }
            io.cur_item = Some(item);
            io.rejected = None;
            io.eff.mark_item();
            let run = match msgpack::decode(it.payload) {
                Err(e) => Ok(Err(Error::input(format!(
                    "squall: stage {}: input: {}",
                    quote(&stage_names[si]),
                    e.to_string().trim_start_matches("squall: ")
                )))),
                Ok(input) => {
                    let f = &mut fns[ti][si];
                    let mut ctx = Ctx::new(io, &built.info, &batch.header, it, item, ti as u16, si as u16);
                    guarded(item, move || f(&mut ctx, input))
                }
            };
            io.cur_item = None;
            let run = match run {
                Ok(r) => r,
                Err(d) => {
                    io.eff.reset();
                    return fail_io(io, item, d);
                }
            };
            if io.fatal.is_some() {
                failed = item;
                break;
            }
            let run = match (run, io.unusable()) {
                (Ok(()), Some(rejected)) => Err(rejected),
                (r, _) => r,
            };
            match run {
                Ok(()) => io.eff.outcome(item, OUTCOME_OK, &ErrorDetail::default()),
                Err(e) => {
                    let outcome = if e.is_poison() { OUTCOME_POISON } else { OUTCOME_RETRY };
                    let d = ErrorDetail { kind: e.kind().name().into(), message: e.to_string(), stack: e.stack().into() };
                    io.eff.drop_item();
                    io.eff.outcome(item, outcome, &d);
                }
            }
            if io.eff.b.len() >= FLUSH_AT {
                io.flush();
            }
        }
        io.flush();
        if let Some(code) = io.fatal {
            let d = ErrorDetail { kind: "host".into(), message: Error::host(code).to_string(), stack: String::new() };
            return fail_io(io, failed, d);
        }
        STATUS_OK
    }
}

/// Flushes an ERROR effect naming item, unless flush itself failed, and
/// returns the FAILED status.
fn fail_io(io: &mut Io, item: u32, d: ErrorDetail) -> i32 {
    if !io.flush_failed {
        let fatal = io.fatal.take();
        let _ = io.eff.value(OP_ERROR, 0, 0, item, &d.value(), "error");
        io.flush();
        if io.fatal.is_none() {
            io.fatal = fatal;
        }
    }
    STATUS_FAILED
}

fn abi_detail(message: String) -> ErrorDetail {
    ErrorDetail { kind: "abi".into(), message, stack: String::new() }
}
