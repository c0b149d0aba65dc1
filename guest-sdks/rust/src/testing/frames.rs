//! The host's side of the ABI frames, as the fake host needs them: it
//! encodes init, batch and response frames, and decodes the effects and
//! query frames the guest flushes, as strictly as the real host
//! (`abi/ABI.md` §6.7) and more: every value the guest writes must be
//! canonical.

use crate::frames::{value_fail, ErrorDetail};
use crate::msgpack;
use crate::value::{quote, Value, ValueMap};
use crate::wire::*;

pub(crate) fn append_init(b: &mut Vec<u8>, flags: u16, tasks: u32, time_unix_nano: i64, seed: u64) {
    b.extend_from_slice(&[VERSION, KIND_INIT]);
    b.extend_from_slice(&flags.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes()); // host major
    b.extend_from_slice(&1u16.to_le_bytes()); // host minor: the harness is a 1.1 host
    b.extend_from_slice(&tasks.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&(time_unix_nano as u64).to_le_bytes());
    b.extend_from_slice(&seed.to_le_bytes());
}

#[derive(Clone, Debug, Default)]
pub(crate) struct BatchHeaderOut {
    /// BATCH_QUERY for a query invocation's batches.
    pub flags: u16,
    pub batch_id: u64,
    pub partition: u32,
    pub attempt: u32,
    pub topology: u16,
    pub time_unix_nano: i64,
    pub seed: u64,
}

#[derive(Clone, Debug)]
pub(crate) struct BatchItemOut {
    pub kind: u8,
    pub stage: u16,
    pub depot: u16,
    pub attempt: u16,
    pub source_partition: u32,
    pub offset: u64,
    pub event_time_unix_nano: i64,
    pub payload: Vec<u8>,
}

pub(crate) fn append_batch(b: &mut Vec<u8>, h: &BatchHeaderOut, items: &[BatchItemOut]) {
    append_header(b, KIND_BATCH, items.len() as u32);
    b[2..4].copy_from_slice(&h.flags.to_le_bytes());
    b.extend_from_slice(&h.batch_id.to_le_bytes());
    b.extend_from_slice(&h.partition.to_le_bytes());
    b.extend_from_slice(&h.attempt.to_le_bytes());
    b.extend_from_slice(&h.topology.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&(h.time_unix_nano as u64).to_le_bytes());
    b.extend_from_slice(&h.seed.to_le_bytes());
    for it in items {
        b.extend_from_slice(&(it.payload.len() as u32).to_le_bytes());
        b.extend_from_slice(&[it.kind, 0]);
        b.extend_from_slice(&it.stage.to_le_bytes());
        b.extend_from_slice(&it.depot.to_le_bytes());
        b.extend_from_slice(&it.attempt.to_le_bytes());
        b.extend_from_slice(&it.source_partition.to_le_bytes());
        b.extend_from_slice(&it.offset.to_le_bytes());
        b.extend_from_slice(&(it.event_time_unix_nano as u64).to_le_bytes());
        b.extend_from_slice(&it.payload);
    }
}

pub(crate) struct ResultOut {
    pub status: i32,
    pub value: Value,
    pub message: String,
}

pub(crate) fn append_response(b: &mut Vec<u8>, rs: &[ResultOut]) -> Result<(), msgpack::EncodeError> {
    append_header(b, KIND_RESPONSE, rs.len() as u32);
    for r in rs {
        let at = b.len();
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&(r.status as u32).to_le_bytes());
        if r.status == RESULT_OK {
            msgpack::encode_into(b, &r.value)?;
        } else if r.status < 0 {
            b.extend_from_slice(r.message.as_bytes());
        }
        let size = (b.len() - at - RESULT_HEADER_SIZE) as u32;
        put_u32(&mut b[at..], size);
    }
    Ok(())
}

/// One decoded effect.
#[derive(Clone, Debug, Default)]
pub(crate) struct Effect {
    pub op: u8,
    pub flags: u8,
    pub target: u16,
    pub item: u32,
    /// The key of a HASH hop, the key path of an AGGREGATE.
    pub key: Value,
    /// The n of a TOP_N AGGREGATE.
    pub n: i64,
    /// The partition of a DIRECT hop.
    pub partition: u32,
    /// The record, payload, path, emitted value or definition.
    pub value: Value,
    /// The body of a DEFINE.
    pub raw: Vec<u8>,
    /// The text of a LOG.
    pub text: String,
    pub detail: ErrorDetail,
}

/// Decodes an effects frame. canonical makes it refuse values that are not
/// in canonical form.
pub(crate) fn decode_effects(b: &[u8], canonical: bool) -> FrameResult<Vec<Effect>> {
    let r = Reader { b, kind: KIND_EFFECTS };
    r.header(EFFECTS_HEADER_SIZE, MAX_EFFECTS_FRAME)?;
    r.flags()?;
    let n = r.count(EFFECTS_HEADER_SIZE, EFFECT_HEADER_SIZE)?;
    let mut out = Vec::with_capacity(n);
    let mut p = EFFECTS_HEADER_SIZE;
    for i in 0..n as i64 {
        r.need(i, p, EFFECT_HEADER_SIZE, "effect header")?;
        let size = r.u32(p);
        let mut e = Effect { op: r.u8(p + 4), flags: r.u8(p + 5), target: r.u16(p + 6), item: r.u32(p + 8), ..Effect::default() };
        check_effect_header(&r, i, p, &e)?;
        let at = p + EFFECT_HEADER_SIZE;
        let body = r.body(i, at, EFFECT_HEADER_SIZE, size)?;
        effect_body(&r, i, at, body, &mut e, canonical)?;
        p = at + body.len();
        out.push(e);
    }
    r.trailing(p)?;
    Ok(out)
}

fn check_effect_header(r: &Reader<'_>, i: i64, p: usize, e: &Effect) -> FrameResult<()> {
    let name = if (OP_APPEND..=OP_AGGREGATE).contains(&e.op) {
        OP_NAMES[e.op as usize].to_string()
    } else {
        format!("effect_op({})", e.op)
    };
    let need_item = || -> FrameResult<()> {
        if e.item == NO_ITEM {
            return Err(r.fail(i, p + 8, FrameErrorKind::Sequence, format!("{} needs an item index, not NoItem (0xFFFFFFFF)", name)));
        }
        Ok(())
    };
    let zero_flags = || -> FrameResult<()> {
        if e.flags != 0 {
            return Err(r.fail(i, p + 5, FrameErrorKind::Reserved, format!("{} flags are reserved, got 0x{:x}", name, e.flags)));
        }
        Ok(())
    };
    let zero_target = || -> FrameResult<()> {
        if e.target != 0 {
            return Err(r.fail(i, p + 6, FrameErrorKind::Reserved, format!("{} target is reserved, got {}", name, e.target)));
        }
        Ok(())
    };
    match e.op {
        OP_APPEND => {
            if e.flags & !(ACK_MASK | APPEND_LOCAL) != 0 {
                return Err(r.fail(i, p + 5, FrameErrorKind::Reserved, format!("APPEND flags 0x{:x} set reserved bits", e.flags)));
            }
            if e.flags & ACK_MASK == 3 {
                return Err(r.fail(
                    i,
                    p + 5,
                    FrameErrorKind::UnknownCode,
                    "APPEND ack level 3 is undefined; use 0 (NONE), 1 (APPEND_ACK) or 2 (ACK)".into(),
                ));
            }
            need_item()
        }
        OP_HOP => {
            if e.flags < HOP_HASH || e.flags > HOP_DIRECT {
                return Err(r.fail(
                    i,
                    p + 5,
                    FrameErrorKind::UnknownCode,
                    format!("unknown HOP partitioner {}; use 1 (HASH) to 6 (DIRECT)", e.flags),
                ));
            }
            need_item()
        }
        OP_TRANSFORM | OP_EMIT => {
            zero_flags()?;
            need_item()
        }
        OP_LOG => {
            if e.flags > 3 {
                return Err(r.fail(
                    i,
                    p + 5,
                    FrameErrorKind::UnknownCode,
                    format!("unknown LOG level {}; use 0 (DEBUG) to 3 (ERROR)", e.flags),
                ));
            }
            zero_target()
        }
        OP_OUTCOME => {
            if e.flags > OUTCOME_RETRY {
                return Err(r.fail(
                    i,
                    p + 5,
                    FrameErrorKind::UnknownCode,
                    format!("unknown outcome {}; use 0 (OK), 1 (POISON) or 2 (RETRY)", e.flags),
                ));
            }
            zero_target()?;
            need_item()
        }
        OP_DEFINE => {
            zero_flags()?;
            zero_target()?;
            if e.item != NO_ITEM {
                return Err(r.fail(
                    i,
                    p + 8,
                    FrameErrorKind::Sequence,
                    format!("DEFINE belongs to no item: its item must be NoItem (0xFFFFFFFF), not {}", e.item),
                ));
            }
            Ok(())
        }
        OP_ERROR => {
            zero_flags()?;
            zero_target()
        }
        OP_AGGREGATE => {
            if e.flags < 1 || e.flags > AGG_TOP_N {
                return Err(r.fail(
                    i,
                    p + 5,
                    FrameErrorKind::UnknownCode,
                    format!("unknown aggregator {}; use 1 (COUNT) to 8 (TOP_N)", e.flags),
                ));
            }
            need_item()
        }
        op => Err(r.fail(
            i,
            p + 4,
            FrameErrorKind::UnknownCode,
            format!("unknown effect op {}; ABI 1.1 has 1 (APPEND) to 9 (AGGREGATE)", op),
        )),
    }
}

/// Decodes one value spanning body, which starts at off.
fn value(r: &Reader<'_>, i: i64, off: usize, body: &[u8], what: &str, canonical: bool) -> FrameResult<Value> {
    let v = msgpack::decode(body).map_err(|e| value_fail(r, i, off, what, &e))?;
    if canonical {
        let enc = msgpack::encode(&v).unwrap_or_default();
        if enc != body {
            return Err(r.fail(i, off, FrameErrorKind::BadValue, format!("{}: not in canonical form: {}", what, v)));
        }
    }
    Ok(v)
}

fn effect_body(r: &Reader<'_>, i: i64, off: usize, body: &[u8], e: &mut Effect, canonical: bool) -> FrameResult<()> {
    match e.op {
        OP_APPEND => e.value = value(r, i, off, body, "APPEND record", canonical)?,
        OP_HOP => {
            let (mut rest, mut at) = (body, off);
            if e.flags == HOP_HASH {
                let (k, n) = msgpack::decode_prefix(body).map_err(|de| value_fail(r, i, off, "HOP key", &de))?;
                if canonical && msgpack::encode(&k).unwrap_or_default() != body[..n] {
                    return Err(r.fail(i, off, FrameErrorKind::BadValue, format!("HOP key: not in canonical form: {}", k)));
                }
                e.key = k;
                rest = &body[n..];
                at = off + n;
            } else if e.flags == HOP_DIRECT {
                if body.len() < 4 {
                    return Err(r.fail(
                        i,
                        off,
                        FrameErrorKind::Truncated,
                        format!("DIRECT HOP body starts with a u32 partition; it has {} bytes", body.len()),
                    ));
                }
                e.partition = u32::from_le_bytes([body[0], body[1], body[2], body[3]]);
                rest = &body[4..];
                at = off + 4;
            }
            e.value = value(r, i, at, rest, "HOP payload", canonical)?;
        }
        OP_TRANSFORM => e.value = value(r, i, off, body, "TRANSFORM path", canonical)?,
        OP_EMIT => e.value = value(r, i, off, body, "EMIT value", canonical)?,
        OP_LOG => e.text = String::from_utf8_lossy(body).into_owned(),
        OP_OUTCOME => {
            if e.flags == OUTCOME_OK {
                if !body.is_empty() {
                    return Err(r.fail(
                        i,
                        off,
                        FrameErrorKind::Trailing,
                        format!("an OK OUTCOME has an empty body, not {} bytes", body.len()),
                    ));
                }
                return Ok(());
            }
            error_detail(r, i, off, body, e, "OUTCOME error detail", canonical)?;
        }
        OP_DEFINE => {
            e.value = value(r, i, off, body, "DEFINE definition", canonical)?;
            e.raw = body.to_vec();
        }
        OP_ERROR => error_detail(r, i, off, body, e, "ERROR detail", canonical)?,
        OP_AGGREGATE => {
            let (k, n) = value_prefix(r, i, off, body, "AGGREGATE key path", canonical)?;
            if !matches!(k, Value::List(_)) {
                return Err(r.fail(i, off, FrameErrorKind::BadValue, format!("AGGREGATE key path must be a list, not {}", k.kind())));
            }
            e.key = k;
            if e.flags != AGG_TOP_N {
                e.value = value(r, i, off + n, &body[n..], "AGGREGATE value", canonical)?;
                return Ok(());
            }
            let (v, m) = value_prefix(r, i, off + n, &body[n..], "AGGREGATE value", canonical)?;
            e.value = v;
            let at = off + n + m;
            match value(r, i, at, &body[n + m..], "AGGREGATE n", canonical)? {
                Value::Int(x) => e.n = x,
                nv => {
                    return Err(r.fail(i, at, FrameErrorKind::BadValue, format!("AGGREGATE n of TOP_N must be an int, not {}", nv.kind())))
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Decodes the value that starts body, which starts at off; returns it
/// and its length.
fn value_prefix(r: &Reader<'_>, i: i64, off: usize, body: &[u8], what: &str, canonical: bool) -> FrameResult<(Value, usize)> {
    let (v, n) = msgpack::decode_prefix(body).map_err(|de| value_fail(r, i, off, what, &de))?;
    if canonical && msgpack::encode(&v).unwrap_or_default() != body[..n] {
        return Err(r.fail(i, off, FrameErrorKind::BadValue, format!("{}: not in canonical form: {}", what, v)));
    }
    Ok((v, n))
}

fn error_detail(r: &Reader<'_>, i: i64, off: usize, body: &[u8], e: &mut Effect, what: &str, canonical: bool) -> FrameResult<()> {
    let v = value(r, i, off, body, what, canonical)?;
    let m = match &v {
        Value::Map(m) => m,
        v => {
            return Err(r.fail(i, off, FrameErrorKind::BadValue, format!("{}: an error detail is a map, not {}", what, v.kind())))
        }
    };
    let mut has_msg = false;
    for (k, val) in m.iter() {
        let ks = match k.as_str() {
            Some(s) => s,
            None => {
                return Err(r.fail(
                    i,
                    off,
                    FrameErrorKind::BadValue,
                    format!("{}: error detail keys are strings, not {}", what, k.kind()),
                ))
            }
        };
        let s = val.as_str();
        if s.is_none() && matches!(ks, "kind" | "message" | "stack") {
            return Err(r.fail(
                i,
                off,
                FrameErrorKind::BadValue,
                format!("{}: error detail field {} must be a string, not {}", what, quote(ks), val.kind()),
            ));
        }
        match ks {
            "kind" => e.detail.kind = s.unwrap().to_string(),
            "message" => {
                e.detail.message = s.unwrap().to_string();
                has_msg = true;
            }
            "stack" => e.detail.stack = s.unwrap().to_string(),
            _ => {
                return Err(r.fail(
                    i,
                    off,
                    FrameErrorKind::BadValue,
                    format!(
                        "{}: unknown error detail field {}; the fields are \"kind\", \"message\" and \"stack\"",
                        what,
                        quote(ks)
                    ),
                ))
            }
        }
    }
    if !has_msg {
        return Err(r.fail(i, off, FrameErrorKind::BadValue, format!("{}: error detail has no \"message\"", what)));
    }
    Ok(())
}

pub(crate) struct Query {
    pub op: u8,
    pub pstate: u16,
    pub path: Value,
}

pub(crate) fn decode_query(b: &[u8], canonical: bool) -> FrameResult<Vec<Query>> {
    let r = Reader { b, kind: KIND_QUERY };
    r.header(QUERY_HEADER_SIZE, MAX_QUERY_FRAME)?;
    r.flags()?;
    let n = r.count(QUERY_HEADER_SIZE, QUERY_ITEM_HEADER_SIZE)?;
    let mut out = Vec::with_capacity(n);
    let mut p = QUERY_HEADER_SIZE;
    for i in 0..n as i64 {
        r.need(i, p, QUERY_ITEM_HEADER_SIZE, "query header")?;
        let size = r.u32(p);
        let op = r.u8(p + 4);
        if !(QUERY_SELECT..=QUERY_INVOKE).contains(&op) {
            return Err(r.fail(
                i,
                p + 4,
                FrameErrorKind::UnknownCode,
                format!("unknown query op {}; use 1 (SELECT), 2 (SELECT_ONE) or 3 (INVOKE)", op),
            ));
        }
        let fl = r.u8(p + 5);
        if fl != 0 {
            return Err(r.fail(i, p + 5, FrameErrorKind::Reserved, format!("query flags 0x{:x} set reserved bits", fl)));
        }
        let pstate = r.u16(p + 6);
        let at = p + QUERY_ITEM_HEADER_SIZE;
        let body = r.body(i, at, QUERY_ITEM_HEADER_SIZE, size)?;
        let path = value(&r, i, at, body, if op == QUERY_INVOKE { "arguments" } else { "path" }, canonical)?;
        if op == QUERY_INVOKE && !matches!(path, Value::List(_)) {
            return Err(r.fail(i, at, FrameErrorKind::BadValue, format!("INVOKE arguments must be a list, not {}", path.kind())));
        }
        out.push(Query { op, pstate, path });
        p = at + body.len();
    }
    r.trailing(p)?;
    Ok(out)
}

/// An effect the fake host refused (ABI.md §7.1).
pub(crate) struct Rejection {
    pub effect: usize,
    pub item: u32,
    pub code: i32,
    pub message: String,
}

pub(crate) fn rejections_value(rs: &[Rejection]) -> Value {
    Value::List(
        rs.iter()
            .map(|r| {
                let mut m = ValueMap::new();
                m.insert("effect", r.effect as i64);
                m.insert("item", r.item as i64);
                m.insert("code", r.code as i64);
                m.insert("message", r.message.as_str());
                Value::Map(m)
            })
            .collect(),
    )
}

/// Enforces the order rules of ABI.md §6.4 across the flushes of one call.
#[derive(Default)]
pub(crate) struct CallCheck {
    pub init: bool,
    pub items: u32,
    next: u32,
    defined: bool,
    failed: bool,
}

fn seq_fail(i: i64, msg: String) -> FrameError {
    FrameError { frame: KIND_EFFECTS, index: i, offset: -1, kind: FrameErrorKind::Sequence, msg }
}

impl CallCheck {
    pub(crate) fn new(init: bool, items: u32) -> CallCheck {
        CallCheck { init, items, ..CallCheck::default() }
    }

    /// Checks one frame; on a violation nothing of it is accepted.
    pub(crate) fn frame(&mut self, es: &[Effect]) -> FrameResult<()> {
        let (mut next, mut defined, mut failed) = (self.next, self.defined, self.failed);
        for (i, e) in es.iter().enumerate() {
            let i = i as i64;
            let name = OP_NAMES[e.op as usize];
            if self.init {
                match e.op {
                    OP_DEFINE => {
                        if defined {
                            return Err(seq_fail(i, "a second DEFINE; squall_init flushes the definition once".into()));
                        }
                        defined = true;
                    }
                    OP_LOG | OP_ERROR => {
                        if e.item != NO_ITEM {
                            return Err(seq_fail(i, format!("{} during squall_init belongs to no item; its item must be NoItem", name)));
                        }
                        failed = failed || e.op == OP_ERROR;
                    }
                    _ => return Err(seq_fail(i, format!("{} is not allowed in squall_init; only DEFINE, LOG and ERROR are", name))),
                }
                continue;
            }
            match e.op {
                OP_DEFINE => return Err(seq_fail(i, "DEFINE is allowed only in squall_init".into())),
                OP_LOG | OP_ERROR => {
                    if e.item != NO_ITEM && e.item >= self.items {
                        return Err(seq_fail(i, format!("{} names item {}; the batch has {} items", name, e.item, self.items)));
                    }
                    failed = failed || e.op == OP_ERROR;
                    continue;
                }
                _ => {}
            }
            if e.item >= self.items {
                return Err(seq_fail(i, format!("{} names item {}; the batch has {} items", name, e.item, self.items)));
            } else if e.item < next {
                return Err(seq_fail(i, format!("{} for item {} after that item's OUTCOME", name, e.item)));
            } else if e.item > next {
                return Err(seq_fail(
                    i,
                    format!("{} for item {} before the OUTCOME of item {}; items are processed in order", name, e.item, next),
                ));
            }
            if e.op == OP_OUTCOME {
                next += 1;
            }
        }
        self.next = next;
        self.defined = defined;
        self.failed = failed;
        Ok(())
    }

    /// Checks the call as it returns status.
    pub(crate) fn end(&self, status: i32) -> FrameResult<()> {
        if status != STATUS_OK || self.failed {
            return Ok(());
        }
        if self.init {
            if !self.defined {
                return Err(seq_fail(-1, "squall_init returned OK without flushing a DEFINE".into()));
            }
            return Ok(());
        }
        if self.next != self.items {
            return Err(seq_fail(
                -1,
                format!(
                    "squall_process returned OK but items {} to {} have no OUTCOME",
                    self.next,
                    self.items as i64 - 1
                ),
            ));
        }
        Ok(())
    }
}
