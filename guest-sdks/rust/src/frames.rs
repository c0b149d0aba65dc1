//! The guest's side of the ABI frames (`abi/ABI.md` §6): it decodes the
//! init, batch and response frames the host writes, and encodes the effects
//! and query frames it hands to the host. Decoders check every length
//! before using it and never panic.

use crate::msgpack;
use crate::value::Value;
use crate::wire::*;

/// The frame of squall_init (§6.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct InitFrame {
    pub flags: u16,
    pub host_major: u16,
    pub host_minor: u16,
    pub tasks: u32,
    pub time_unix_nano: i64,
    pub seed: u64,
}

pub(crate) fn decode_init(b: &[u8]) -> FrameResult<InitFrame> {
    let r = Reader { b, kind: KIND_INIT };
    r.header(INIT_FRAME_SIZE, INIT_FRAME_SIZE)?;
    let f = InitFrame {
        flags: r.u16(2),
        host_major: r.u16(4),
        host_minor: r.u16(6),
        tasks: r.u32(8),
        time_unix_nano: r.u64(16) as i64,
        seed: r.u64(24),
    };
    if f.flags & !INIT_DESCRIBE != 0 {
        return Err(r.fail(-1, 2, FrameErrorKind::Reserved, format!("flags 0x{:x} set reserved bits", f.flags)));
    }
    let v = r.u32(12);
    if v != 0 {
        return Err(r.fail(-1, 12, FrameErrorKind::Reserved, format!("reserved u32 is {}", v)));
    }
    Ok(f)
}

/// The header of the frame of squall_process (§6.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BatchHeader {
    /// 1.1: the batch belongs to a query invocation; topology indexes the
    /// definition's queries.
    pub query: bool,
    pub batch_id: u64,
    pub partition: u32,
    pub attempt: u32,
    pub topology: u16,
    pub time_unix_nano: i64,
    pub seed: u64,
}

/// One item of a batch; the payload borrows the inbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BatchItem<'a> {
    pub kind: u8,
    pub stage: u16,
    pub depot: u16,
    pub attempt: u16,
    pub source_partition: u32,
    pub offset: u64,
    pub event_time_unix_nano: i64,
    pub payload: &'a [u8],
}

pub(crate) struct BatchFrame<'a> {
    pub header: BatchHeader,
    pub items: Vec<BatchItem<'a>>,
}

pub(crate) fn decode_batch(b: &[u8]) -> FrameResult<BatchFrame<'_>> {
    let r = Reader { b, kind: KIND_BATCH };
    r.header(BATCH_HEADER_SIZE, MAX_BATCH_FRAME)?;
    let n = r.count(BATCH_HEADER_SIZE, ITEM_HEADER_SIZE)?;
    let fl = r.u16(2);
    if fl & !BATCH_QUERY != 0 {
        return Err(r.fail(-1, 2, FrameErrorKind::Reserved, format!("flags 0x{:x} set reserved bits", fl)));
    }
    let query = fl & BATCH_QUERY != 0;
    let v = r.u16(26);
    if v != 0 {
        return Err(r.fail(-1, 26, FrameErrorKind::Reserved, format!("reserved u16 is {}", v)));
    }
    let v = r.u32(28);
    if v != 0 {
        return Err(r.fail(-1, 28, FrameErrorKind::Reserved, format!("reserved u32 is {}", v)));
    }
    let header = BatchHeader {
        query,
        batch_id: r.u64(8),
        partition: r.u32(16),
        attempt: r.u32(20),
        topology: r.u16(24),
        time_unix_nano: r.u64(32) as i64,
        seed: r.u64(40),
    };
    let mut items = Vec::with_capacity(n);
    let mut p = BATCH_HEADER_SIZE;
    for i in 0..n as i64 {
        r.need(i, p, ITEM_HEADER_SIZE, "item header")?;
        let size = r.u32(p);
        let kind = r.u8(p + 4);
        let fl = r.u8(p + 5);
        if fl != 0 {
            return Err(r.fail(i, p + 5, FrameErrorKind::Reserved, format!("item flags 0x{:x} set reserved bits", fl)));
        }
        let mut it = BatchItem {
            kind,
            stage: r.u16(p + 6),
            depot: r.u16(p + 8),
            attempt: r.u16(p + 10),
            source_partition: r.u32(p + 12),
            offset: r.u64(p + 16),
            event_time_unix_nano: r.u64(p + 24) as i64,
            payload: &[],
        };
        let reserved = |off: usize, msg: String| Err(r.fail(i, p + off, FrameErrorKind::Reserved, msg));
        match it.kind {
            ITEM_RECORD => {
                if query {
                    return reserved(4, "a QUERY batch holds INVOKE and HOP items, not RECORD".into());
                }
                if it.depot == NO_DEPOT {
                    return reserved(8, "a RECORD item needs a depot index, not 0xFFFF".into());
                }
            }
            ITEM_HOP | ITEM_INVOKE => {
                let name = if it.kind == ITEM_HOP { "HOP" } else { "INVOKE" };
                if it.kind == ITEM_INVOKE {
                    if !query {
                        return reserved(4, "an INVOKE item is allowed only in a QUERY batch".into());
                    } else if i != 0 {
                        return reserved(4, "an INVOKE item must be the first item of its batch".into());
                    } else if it.stage != 0 {
                        return reserved(6, format!("an INVOKE item runs the entry stage 0, not {}", it.stage));
                    }
                }
                if it.depot != NO_DEPOT {
                    return reserved(8, format!("a {} item has depot 0xFFFF, not {}", name, it.depot));
                }
                if it.offset != 0 {
                    return reserved(16, format!("a {} item has offset 0, not {}", name, it.offset));
                }
            }
            k => {
                return Err(r.fail(
                    i,
                    p + 4,
                    FrameErrorKind::UnknownCode,
                    format!("unknown item kind {}; ABI 1.1 has 1 (RECORD), 2 (HOP) and 3 (INVOKE)", k),
                ))
            }
        }
        if size == 0 {
            return Err(r.fail(
                i,
                p,
                FrameErrorKind::BadValue,
                "empty payload; a payload is one MessagePack value".into(),
            ));
        }
        let body = r.body(i, p + ITEM_HEADER_SIZE, ITEM_HEADER_SIZE, size)?;
        it.payload = body;
        p += ITEM_HEADER_SIZE + body.len();
        items.push(it);
    }
    r.trailing(p)?;
    Ok(BatchFrame { header, items })
}

/// One result of a response frame (§6.6).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct QueryResult {
    pub status: i32,
    pub value: Value,
    pub message: String,
}

pub(crate) fn decode_response(b: &[u8]) -> FrameResult<Vec<QueryResult>> {
    let r = Reader { b, kind: KIND_RESPONSE };
    r.header(RESPONSE_HEADER_SIZE, MAX_RESPONSE_FRAME)?;
    r.flags()?;
    let n = r.count(RESPONSE_HEADER_SIZE, RESULT_HEADER_SIZE)?;
    let mut out = Vec::with_capacity(n);
    let mut p = RESPONSE_HEADER_SIZE;
    for i in 0..n as i64 {
        r.need(i, p, RESULT_HEADER_SIZE, "result header")?;
        let size = r.u32(p);
        let status = r.u32(p + 4) as i32;
        if status > RESULT_NOT_FOUND {
            return Err(r.fail(
                i,
                p + 4,
                FrameErrorKind::UnknownCode,
                format!("unknown result status {}; use 0 (OK), 1 (NOT_FOUND) or a negative errno", status),
            ));
        }
        let at = p + RESULT_HEADER_SIZE;
        let body = r.body(i, at, RESULT_HEADER_SIZE, size)?;
        let mut res = QueryResult { status, value: Value::Nil, message: String::new() };
        match status {
            RESULT_OK => match msgpack::decode(body) {
                Ok(v) => res.value = v,
                Err(e) => return Err(value_fail(&r, i, at, "result", &e)),
            },
            RESULT_NOT_FOUND => {
                if !body.is_empty() {
                    return Err(r.fail(
                        i,
                        at,
                        FrameErrorKind::Trailing,
                        format!("a NOT_FOUND result has an empty body, not {} bytes", body.len()),
                    ));
                }
            }
            _ => res.message = String::from_utf8_lossy(body).into_owned(),
        }
        out.push(res);
        p = at + body.len();
    }
    r.trailing(p)?;
    Ok(out)
}

/// A body at off that is not one MessagePack value.
pub(crate) fn value_fail(r: &Reader<'_>, index: i64, off: usize, what: &str, e: &msgpack::DecodeError) -> FrameError {
    r.fail(index, off + e.offset, FrameErrorKind::BadValue, format!("{}: {}", what, e))
}

/// An error detail: why an item failed (the body of an ERROR effect and of
/// a failed OUTCOME, `abi/ABI.md` §6.3).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ErrorDetail {
    /// A one-word class: poison, retry, error, query, rejected, input,
    /// host, panic.
    pub kind: String,
    /// What happened.
    pub message: String,
    /// Where (for panics: the file, line and column).
    pub stack: String,
}

impl ErrorDetail {
    pub(crate) fn value(&self) -> Value {
        let mut m = crate::ValueMap::new();
        m.insert("message", self.message.as_str());
        if !self.kind.is_empty() {
            m.insert("kind", self.kind.as_str());
        }
        if !self.stack.is_empty() {
            m.insert("stack", self.stack.as_str());
        }
        Value::Map(m)
    }
}

/// Appends the 12-byte header of an effect with a size of 0, to patch once
/// the body is written.
pub(crate) fn append_effect_header(b: &mut Vec<u8>, op: u8, flags: u8, target: u16, item: u32) {
    b.extend_from_slice(&[0, 0, 0, 0, op, flags]);
    b.extend_from_slice(&target.to_le_bytes());
    b.extend_from_slice(&item.to_le_bytes());
}

/// Appends one query (§6.5) of a query frame: a SELECT or SELECT_ONE of
/// a path in PState `pstate`, or (1.1) an INVOKE of query `pstate` with
/// the argument list `path`.
pub(crate) fn append_query(b: &mut Vec<u8>, op: u8, pstate: u16, path: &Value) -> Result<(), msgpack::EncodeError> {
    let start = b.len();
    b.extend_from_slice(&[0, 0, 0, 0, op, 0]);
    b.extend_from_slice(&pstate.to_le_bytes());
    if let Err(e) = msgpack::encode_into(b, path) {
        b.truncate(start);
        return Err(e);
    }
    let size = (b.len() - start - QUERY_ITEM_HEADER_SIZE) as u32;
    put_u32(&mut b[start..], size);
    Ok(())
}
