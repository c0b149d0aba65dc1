//! The byte layout of the frames of the Squall guest ABI v1 (`abi/ABI.md`
//! §6): constants, bounds-checked readers of fixed little-endian headers
//! and the frame errors of §6.7. It knows nothing of values: the frame
//! codecs (the guest's in `frames`, the test harness's in `testing`) decode
//! bodies themselves.

use std::fmt;

pub(crate) const KIND_INIT: u8 = 1;
pub(crate) const KIND_BATCH: u8 = 2;
pub(crate) const KIND_EFFECTS: u8 = 3;
pub(crate) const KIND_QUERY: u8 = 4;
pub(crate) const KIND_RESPONSE: u8 = 5;

pub(crate) const VERSION: u8 = 1;

pub(crate) const INIT_FRAME_SIZE: usize = 32;
pub(crate) const BATCH_HEADER_SIZE: usize = 48;
pub(crate) const ITEM_HEADER_SIZE: usize = 32;
pub(crate) const EFFECTS_HEADER_SIZE: usize = 8;
pub(crate) const EFFECT_HEADER_SIZE: usize = 12;
pub(crate) const QUERY_HEADER_SIZE: usize = 8;
pub(crate) const QUERY_ITEM_HEADER_SIZE: usize = 8;
pub(crate) const RESPONSE_HEADER_SIZE: usize = 8;
pub(crate) const RESULT_HEADER_SIZE: usize = 8;

pub(crate) const MAX_BATCH_FRAME: usize = 64 << 20;
pub(crate) const MAX_EFFECTS_FRAME: usize = 16 << 20;
pub(crate) const MAX_QUERY_FRAME: usize = 1 << 20;
pub(crate) const MAX_RESPONSE_FRAME: usize = 64 << 20;

pub(crate) const NO_ITEM: u32 = 0xFFFF_FFFF;
pub(crate) const NO_DEPOT: u16 = 0xFFFF;

pub(crate) const INIT_DESCRIBE: u16 = 1;

pub(crate) const ITEM_RECORD: u8 = 1;
pub(crate) const ITEM_HOP: u8 = 2;
/// 1.1: the invocation of a query's entry stage (only in QUERY batches).
pub(crate) const ITEM_INVOKE: u8 = 3;

/// 1.1: the batch header flag of a query invocation's batches.
pub(crate) const BATCH_QUERY: u16 = 1;

pub(crate) const OP_APPEND: u8 = 1;
pub(crate) const OP_HOP: u8 = 2;
pub(crate) const OP_TRANSFORM: u8 = 3;
pub(crate) const OP_EMIT: u8 = 4;
pub(crate) const OP_LOG: u8 = 5;
pub(crate) const OP_OUTCOME: u8 = 6;
pub(crate) const OP_DEFINE: u8 = 7;
pub(crate) const OP_ERROR: u8 = 8;
/// 1.1: combines a value into a PState or a query result.
pub(crate) const OP_AGGREGATE: u8 = 9;

pub(crate) const OP_NAMES: [&str; 10] =
    ["", "APPEND", "HOP", "TRANSFORM", "EMIT", "LOG", "OUTCOME", "DEFINE", "ERROR", "AGGREGATE"];

/// The emit stream of ack returns.
pub(crate) const EMIT_ACK_RETURN: u16 = 0;
/// 1.1: the emit stream of query results.
pub(crate) const EMIT_QUERY_RESULT: u16 = 1;
/// 1.1: the AGGREGATE target that names the query invocation's result.
pub(crate) const QUERY_RESULT_TARGET: u16 = 0xFFFF;
/// 1.1: the aggregator codes (AGGREGATE flags) are 1 (COUNT) to 8 (TOP_N).
pub(crate) const AGG_TOP_N: u8 = 8;
#[allow(dead_code)]
pub(crate) const AGG_NAMES: [&str; 9] = ["", "COUNT", "SUM", "MIN", "MAX", "SET", "LIST", "MAP", "TOP_N"];
/// 1.1: the bound of a TOP_N's n.
pub(crate) const MAX_TOP_N: i64 = 10_000;

pub(crate) const ACK_MASK: u8 = 0x03;
pub(crate) const APPEND_LOCAL: u8 = 0x04;

pub(crate) const HOP_HASH: u8 = 1;
pub(crate) const HOP_ALL: u8 = 2;
pub(crate) const HOP_GLOBAL: u8 = 3;
pub(crate) const HOP_ORIGIN: u8 = 4;
pub(crate) const HOP_SHUFFLE: u8 = 5;
pub(crate) const HOP_DIRECT: u8 = 6;

pub(crate) const OUTCOME_OK: u8 = 0;
pub(crate) const OUTCOME_POISON: u8 = 1;
pub(crate) const OUTCOME_RETRY: u8 = 2;

pub(crate) const QUERY_SELECT: u8 = 1;
pub(crate) const QUERY_SELECT_ONE: u8 = 2;
/// 1.1: invokes a query topology.
pub(crate) const QUERY_INVOKE: u8 = 3;
pub(crate) const RESULT_OK: i32 = 0;
pub(crate) const RESULT_NOT_FOUND: i32 = 1;

pub(crate) const STATUS_OK: i32 = 0;
pub(crate) const STATUS_FAILED: i32 = 1;

pub(crate) const EINVAL: i32 = -1;
pub(crate) const ENOENT: i32 = -2;
pub(crate) const EBADID: i32 = -3;
pub(crate) const ETOOBIG: i32 = -4;
pub(crate) const EWRONGPART: i32 = -5;
#[allow(dead_code)]
pub(crate) const EQUOTA: i32 = -6;
pub(crate) const ESTATE: i32 = -7;
pub(crate) const EINTERNAL: i32 = -8;
pub(crate) const EPATH: i32 = -9;
pub(crate) const ESCHEMA: i32 = -10;
pub(crate) const EMULTI: i32 = -11;
pub(crate) const ETIMEDOUT: i32 = -12;
pub(crate) const EFAILED: i32 = -13;

const ERRNO_NAMES: [&str; 14] = [
    "", "EINVAL", "ENOENT", "EBADID", "ETOOBIG", "EWRONGPART", "EQUOTA", "ESTATE", "EINTERNAL", "EPATH", "ESCHEMA",
    "EMULTI", "ETIMEDOUT", "EFAILED",
];

/// The name of a negative errno, such as "EPATH".
pub(crate) fn errno_name(code: i32) -> String {
    if code < 0 && ((-code) as usize) < ERRNO_NAMES.len() {
        return ERRNO_NAMES[(-code) as usize].to_string();
    }
    format!("errno({})", code)
}

/// The category of a frame error (`abi/testdata/frames/invalid.jsonl`
/// "error").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FrameErrorKind {
    Truncated,
    FrameVersion,
    FrameKind,
    Reserved,
    UnknownCode,
    TooLarge,
    Trailing,
    BadValue,
    Sequence,
}

impl FrameErrorKind {
    #[allow(dead_code)]
    pub(crate) fn name(self) -> &'static str {
        match self {
            FrameErrorKind::Truncated => "truncated",
            FrameErrorKind::FrameVersion => "frame_version",
            FrameErrorKind::FrameKind => "frame_kind",
            FrameErrorKind::Reserved => "reserved",
            FrameErrorKind::UnknownCode => "unknown_code",
            FrameErrorKind::TooLarge => "too_large",
            FrameErrorKind::Trailing => "trailing",
            FrameErrorKind::BadValue => "bad_value",
            FrameErrorKind::Sequence => "sequence",
        }
    }
}

const KIND_NAMES: [&str; 6] = ["", "init", "batch", "effects", "query", "response"];
const UNIT_NAMES: [&str; 6] = ["", "", "item", "effect", "query", "result"];

/// The name of a frame kind.
pub(crate) fn kind_name(k: u8) -> String {
    if (KIND_INIT..=KIND_RESPONSE).contains(&k) {
        KIND_NAMES[k as usize].to_string()
    } else {
        format!("frame({})", k)
    }
}

/// A frame that does not follow the ABI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FrameError {
    pub frame: u8,
    /// The unit index, -1 for the header.
    pub index: i64,
    /// The byte offset of the field at fault, -1 when unknown.
    pub offset: i64,
    pub kind: FrameErrorKind,
    pub msg: String,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "squall: {} frame: ", kind_name(self.frame))?;
        let unit = UNIT_NAMES.get(self.frame as usize).copied().unwrap_or("");
        if self.index >= 0 && !unit.is_empty() {
            write!(f, "{} {}", unit, self.index)?;
            if self.offset >= 0 {
                write!(f, " at byte {}", self.offset)?;
            }
            f.write_str(": ")?;
        } else if self.offset >= 0 {
            write!(f, "header at byte {}: ", self.offset)?;
        }
        f.write_str(&self.msg)
    }
}

impl FrameError {
    /// The errno a host function returns for the error.
    pub(crate) fn errno(&self) -> i32 {
        match self.kind {
            FrameErrorKind::TooLarge => ETOOBIG,
            FrameErrorKind::Sequence => ESTATE,
            _ => EINVAL,
        }
    }
}

/// Reads the fields of one frame. Reads are unchecked: check room with
/// need, header, count and body first.
pub(crate) struct Reader<'a> {
    pub b: &'a [u8],
    pub kind: u8,
}

pub(crate) type FrameResult<T> = Result<T, FrameError>;

impl<'a> Reader<'a> {
    pub(crate) fn fail(&self, index: i64, off: usize, kind: FrameErrorKind, msg: String) -> FrameError {
        FrameError { frame: self.kind, index, offset: off as i64, kind, msg }
    }

    pub(crate) fn need(&self, index: i64, off: usize, n: usize, what: &str) -> FrameResult<()> {
        let have = self.b.len().saturating_sub(off);
        if off > self.b.len() || have < n {
            return Err(self.fail(
                index,
                off,
                FrameErrorKind::Truncated,
                format!("{} needs {} bytes, {} left", what, n, have),
            ));
        }
        Ok(())
    }

    pub(crate) fn u8(&self, off: usize) -> u8 {
        self.b[off]
    }
    pub(crate) fn u16(&self, off: usize) -> u16 {
        u16::from_le_bytes([self.b[off], self.b[off + 1]])
    }
    pub(crate) fn u32(&self, off: usize) -> u32 {
        u32::from_le_bytes([self.b[off], self.b[off + 1], self.b[off + 2], self.b[off + 3]])
    }
    pub(crate) fn u64(&self, off: usize) -> u64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&self.b[off..off + 8]);
        u64::from_le_bytes(a)
    }

    /// Checks the frame size limit, the version and kind bytes, and that
    /// size header bytes are present.
    pub(crate) fn header(&self, size: usize, limit: usize) -> FrameResult<()> {
        if self.b.len() > limit {
            return Err(self.fail(
                -1,
                0,
                FrameErrorKind::TooLarge,
                format!("frame is {} bytes; the limit is {}", self.b.len(), limit),
            ));
        }
        if !self.b.is_empty() && self.b[0] != VERSION {
            return Err(self.fail(
                -1,
                0,
                FrameErrorKind::FrameVersion,
                format!("version {}; ABI v1 frames have version 1", self.b[0]),
            ));
        }
        if self.b.len() >= 2 && self.b[1] != self.kind {
            return Err(self.fail(
                -1,
                1,
                FrameErrorKind::FrameKind,
                format!(
                    "kind byte {} ({}), want {} ({})",
                    self.b[1],
                    kind_name(self.b[1]),
                    self.kind,
                    kind_name(self.kind)
                ),
            ));
        }
        self.need(-1, 0, size, &format!("{} header", kind_name(self.kind)))
    }

    /// Reads the u32 unit count at offset 4 and checks that that many units
    /// of at least unit_size bytes fit after the header.
    pub(crate) fn count(&self, header_size: usize, unit_size: usize) -> FrameResult<usize> {
        let n = self.u32(4) as u64;
        let room = (self.b.len() - header_size) / unit_size;
        if n > room as u64 {
            return Err(self.fail(
                -1,
                4,
                FrameErrorKind::Truncated,
                format!(
                    "declares {} {}s but {} bytes follow the header; each needs at least {}",
                    n,
                    UNIT_NAMES[self.kind as usize],
                    self.b.len() - header_size,
                    unit_size
                ),
            ));
        }
        Ok(n as usize)
    }

    /// The n-byte body of unit index that starts at off, right after a
    /// unit header of header_size bytes.
    pub(crate) fn body(&self, index: i64, off: usize, header_size: usize, n: u32) -> FrameResult<&'a [u8]> {
        let left = self.b.len() - off;
        if n as usize > left {
            return Err(self.fail(
                index,
                off - header_size,
                FrameErrorKind::Truncated,
                format!("body length {} exceeds the {} bytes left", n, left),
            ));
        }
        Ok(&self.b[off..off + n as usize])
    }

    /// Reports reserved flag bits of the frame header.
    pub(crate) fn flags(&self) -> FrameResult<()> {
        let fl = self.u16(2);
        if fl != 0 {
            return Err(self.fail(-1, 2, FrameErrorKind::Reserved, format!("flags 0x{:x} set reserved bits", fl)));
        }
        Ok(())
    }

    /// Reports bytes after the last unit, which ends at p.
    pub(crate) fn trailing(&self, p: usize) -> FrameResult<()> {
        if p != self.b.len() {
            return Err(self.fail(
                -1,
                p,
                FrameErrorKind::Trailing,
                format!("{} bytes after the last {}", self.b.len() - p, UNIT_NAMES[self.kind as usize]),
            ));
        }
        Ok(())
    }
}

/// Appends version, kind, flags 0 and count.
pub(crate) fn append_header(b: &mut Vec<u8>, kind: u8, count: u32) {
    b.extend_from_slice(&[VERSION, kind, 0, 0]);
    b.extend_from_slice(&count.to_le_bytes());
}

pub(crate) fn put_u32(b: &mut [u8], v: u32) {
    b[..4].copy_from_slice(&v.to_le_bytes());
}
