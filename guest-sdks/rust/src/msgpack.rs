//! Canonical MessagePack: every value has exactly one encoding, the one the
//! Squall ABI pins (`abi/doc.go` and `abi/testdata/values.jsonl` in the
//! Squall repository): shortest ints (unsigned forms for non-negative
//! values), floats always float64 with one NaN, UTF-8 strings distinct from
//! bytes, maps with unique keys sorted by their encoded bytes, sets as
//! extension type 1 holding the sorted array of their elements, nesting at
//! most [`MAX_DEPTH`]. Partitioning hashes these bytes, so every SDK
//! produces them byte for byte.

use std::fmt;

use crate::value::{float_bits, Value, ValueMap, ValueSet};

/// The deepest nesting of lists, maps and sets that [`encode`] and
/// [`decode`] accept. A scalar has depth 0 and a container one more than
/// its deepest child.
pub const MAX_DEPTH: usize = 128;

const SET_EXT_TYPE: u8 = 1;

/// A value that has no canonical encoding: nesting deeper than
/// [`MAX_DEPTH`], or a string, bytes or container longer than 2^32-1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodeError {
    /// Where in the value: `$` is the value itself, `$[3]` item 3 of a
    /// list, `$#[3]` element 3 of a set, `$[k]` the value under key k of a
    /// map and `${k}` the key itself.
    pub path: String,
    /// What is wrong.
    pub msg: String,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "squall: encode: {}: {}", self.path, self.msg)
    }
}

impl std::error::Error for EncodeError {}

/// Bytes that are not the MessagePack encoding of a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// The byte offset of the value, header or byte at fault.
    pub offset: usize,
    /// What is wrong.
    pub msg: String,
    reason: &'static str,
}

impl DecodeError {
    /// The category of the error, as `abi/testdata/invalid.jsonl` names
    /// them: `truncated`, `length_exceeds_input`, `invalid_utf8`,
    /// `int_out_of_range`, `duplicate_map_key`, `duplicate_set_element`,
    /// `reserved_byte`, `unsupported_ext`, `bad_set_payload`,
    /// `trailing_bytes` or `too_deep`.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "squall: decode: byte offset {}: {}", self.offset, self.msg)
    }
}

impl std::error::Error for DecodeError {}

/// The canonical MessagePack encoding of `v`.
///
/// ```
/// use squall::{encode, Value};
/// assert_eq!(encode(&Value::from(-33)).unwrap(), vec![0xd0, 0xdf]);
/// assert_eq!(encode(&Value::set([1])).unwrap(), vec![0xd5, 0x01, 0x91, 0x01]);
/// ```
pub fn encode(v: &Value) -> Result<Vec<u8>, EncodeError> {
    let mut b = Vec::new();
    encode_into(&mut b, v)?;
    Ok(b)
}

/// Appends the canonical encoding of `v` to `dst`. On error `dst` keeps
/// its length.
pub fn encode_into(dst: &mut Vec<u8>, v: &Value) -> Result<(), EncodeError> {
    let start = dst.len();
    if append_value(dst, v, 0, true) {
        return Ok(());
    }
    dst.truncate(start);
    Err(find_encode_error(v, 0, "$".to_string())
        .unwrap_or_else(|| EncodeError { path: "$".into(), msg: "value too large to encode".into() }))
}

/// Appends the canonical encoding of `v` without validating it: the order
/// of map keys and set elements.
pub(crate) fn encode_canonical(dst: &mut Vec<u8>, v: &Value) {
    append_value(dst, v, 0, false);
}

/// Appends the encoding of a string.
pub(crate) fn encode_str(dst: &mut Vec<u8>, s: &str) {
    append_len_header(dst, s.len(), 0xa0, 32, 0xd9);
    dst.extend_from_slice(s.as_bytes());
}

fn too_long(n: usize) -> bool {
    n as u64 > u32::MAX as u64
}

fn append_value(dst: &mut Vec<u8>, v: &Value, depth: usize, validate: bool) -> bool {
    match v {
        Value::Nil => dst.push(0xc0),
        Value::Bool(b) => dst.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Int(i) => append_int(dst, *i),
        Value::Float(f) => {
            dst.push(0xcb);
            dst.extend_from_slice(&float_bits(*f).to_be_bytes());
        }
        Value::Str(s) => {
            if validate && too_long(s.len()) {
                return false;
            }
            encode_str(dst, s);
        }
        Value::Bytes(b) => {
            if validate && too_long(b.len()) {
                return false;
            }
            append_len_header(dst, b.len(), 0, 0, 0xc4);
            dst.extend_from_slice(b);
        }
        Value::List(items) => {
            let depth = depth + 1;
            if validate && (depth > MAX_DEPTH || too_long(items.len())) {
                return false;
            }
            append_len_header(dst, items.len(), 0x90, 16, 0xdc - 1);
            for it in items {
                if !append_value(dst, it, depth, validate) {
                    return false;
                }
            }
        }
        Value::Map(m) => {
            let depth = depth + 1;
            if validate && (depth > MAX_DEPTH || too_long(m.len())) {
                return false;
            }
            append_len_header(dst, m.len(), 0x80, 16, 0xde - 1);
            for (k, v) in m.iter() {
                if !append_value(dst, k, depth, validate) || !append_value(dst, v, depth, validate) {
                    return false;
                }
            }
        }
        Value::Set(s) => {
            let depth = depth + 1;
            if validate && (depth > MAX_DEPTH || too_long(s.len())) {
                return false;
            }
            // The extension header depends on the payload length: reserve
            // the longest header, write the payload, then close the gap.
            const MAX_EXT_HEADER: usize = 6;
            let start = dst.len();
            dst.extend_from_slice(&[0; MAX_EXT_HEADER]);
            append_len_header(dst, s.len(), 0x90, 16, 0xdc - 1);
            for e in s.iter() {
                if !append_value(dst, e, depth, validate) {
                    return false;
                }
            }
            let payload = dst.len() - start - MAX_EXT_HEADER;
            if validate && too_long(payload) {
                return false;
            }
            let mut hdr = [0u8; MAX_EXT_HEADER];
            let h = ext_header(&mut hdr, payload);
            dst[start..start + h].copy_from_slice(&hdr[..h]);
            dst.copy_within(start + MAX_EXT_HEADER.., start + h);
            dst.truncate(dst.len() - (MAX_EXT_HEADER - h));
        }
    }
    true
}

/// Appends the shortest encoding of i: unsigned forms for non-negative
/// values, signed forms for negative ones.
fn append_int(dst: &mut Vec<u8>, i: i64) {
    if (0..=0x7f).contains(&i) || (-32..0).contains(&i) {
        dst.push(i as u8);
    } else if i > 0 && i <= u8::MAX as i64 {
        dst.extend_from_slice(&[0xcc, i as u8]);
    } else if i > 0 && i <= u16::MAX as i64 {
        dst.push(0xcd);
        dst.extend_from_slice(&(i as u16).to_be_bytes());
    } else if i > 0 && i <= u32::MAX as i64 {
        dst.push(0xce);
        dst.extend_from_slice(&(i as u32).to_be_bytes());
    } else if i > 0 {
        dst.push(0xcf);
        dst.extend_from_slice(&(i as u64).to_be_bytes());
    } else if i >= i8::MIN as i64 {
        dst.extend_from_slice(&[0xd0, i as u8]);
    } else if i >= i16::MIN as i64 {
        dst.push(0xd1);
        dst.extend_from_slice(&(i as i16).to_be_bytes());
    } else if i >= i32::MIN as i64 {
        dst.push(0xd2);
        dst.extend_from_slice(&(i as i32).to_be_bytes());
    } else {
        dst.push(0xd3);
        dst.extend_from_slice(&i.to_be_bytes());
    }
}

/// Appends the shortest header for a length n: the fix form fix|n when n <
/// fix_max, else the 8-bit (code8; strings and bytes only), 16-bit and
/// 32-bit forms, whose codes follow code8. Arrays and maps have no 8-bit
/// form: they pass code8 one below their 16-bit code.
fn append_len_header(dst: &mut Vec<u8>, n: usize, fix: u8, fix_max: usize, code8: u8) {
    let has_len8 = code8 == 0xd9 || code8 == 0xc4;
    if n < fix_max {
        dst.push(fix | n as u8);
    } else if has_len8 && n <= u8::MAX as usize {
        dst.extend_from_slice(&[code8, n as u8]);
    } else if n <= u16::MAX as usize {
        dst.push(code8 + 1);
        dst.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        dst.push(code8 + 2);
        dst.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// Writes the shortest extension header of a set payload of n bytes into
/// hdr and returns its length.
fn ext_header(hdr: &mut [u8; 6], n: usize) -> usize {
    match n {
        1 | 2 | 4 | 8 | 16 => {
            hdr[0] = 0xd4 + n.trailing_zeros() as u8;
            hdr[1] = SET_EXT_TYPE;
            2
        }
        _ if n <= u8::MAX as usize => {
            hdr[0] = 0xc7;
            hdr[1] = n as u8;
            hdr[2] = SET_EXT_TYPE;
            3
        }
        _ if n <= u16::MAX as usize => {
            hdr[0] = 0xc8;
            hdr[1..3].copy_from_slice(&(n as u16).to_be_bytes());
            hdr[3] = SET_EXT_TYPE;
            4
        }
        _ => {
            hdr[0] = 0xc9;
            hdr[1..5].copy_from_slice(&(n as u32).to_be_bytes());
            hdr[5] = SET_EXT_TYPE;
            6
        }
    }
}

/// Describes the first value append_value rejects.
fn find_encode_error(v: &Value, depth: usize, path: String) -> Option<EncodeError> {
    match v {
        Value::Str(s) if too_long(s.len()) => {
            Some(EncodeError { path, msg: "string longer than 4294967295 bytes".into() })
        }
        Value::Bytes(b) if too_long(b.len()) => {
            Some(EncodeError { path, msg: "bytes longer than 4294967295 bytes".into() })
        }
        Value::List(_) | Value::Map(_) | Value::Set(_) => {
            let depth = depth + 1;
            if depth > MAX_DEPTH {
                return Some(EncodeError { path, msg: format!("nesting deeper than {}", MAX_DEPTH) });
            }
            match v {
                Value::List(items) => {
                    for (i, it) in items.iter().enumerate() {
                        if let Some(e) = find_encode_error(it, depth, format!("{}[{}]", path, i)) {
                            return Some(e);
                        }
                    }
                }
                Value::Set(s) => {
                    for (i, it) in s.iter().enumerate() {
                        if let Some(e) = find_encode_error(it, depth, format!("{}#[{}]", path, i)) {
                            return Some(e);
                        }
                    }
                }
                Value::Map(m) => {
                    for (k, val) in m.iter() {
                        if let Some(e) = find_encode_error(k, depth, format!("{}{{{}}}", path, k)) {
                            return Some(e);
                        }
                        if let Some(e) = find_encode_error(val, depth, format!("{}[{}]", path, k)) {
                            return Some(e);
                        }
                    }
                }
                _ => {}
            }
            None
        }
        _ => None,
    }
}

/// Decodes one MessagePack value spanning all of `b`.
///
/// It accepts every well-formed encoding of a value, canonical or not
/// (longer int and header forms, float32, unsorted map entries and set
/// elements), and builds the canonical value. It rejects truncated input,
/// trailing bytes, invalid UTF-8, uint64 values above 2^63-1, duplicate
/// map keys or set elements, extension types other than sets, the byte
/// 0xc1 and nesting deeper than [`MAX_DEPTH`]. Declared lengths are
/// checked against the input before anything is allocated.
///
/// ```
/// use squall::{decode, Value};
/// assert_eq!(decode(&[0xcc, 0x01]).unwrap(), Value::from(1)); // not canonical, accepted
/// assert_eq!(decode(&[0xc1]).unwrap_err().reason(), "reserved_byte");
/// ```
pub fn decode(b: &[u8]) -> Result<Value, DecodeError> {
    let (v, n) = decode_prefix(b)?;
    if n != b.len() {
        return Err(DecodeError {
            offset: n,
            msg: format!("trailing bytes after value ({} bytes)", b.len() - n),
            reason: "trailing_bytes",
        });
    }
    Ok(v)
}

/// Decodes one value from the front of `b`, as [`decode`] does, and
/// returns it with the number of bytes it spans.
pub fn decode_prefix(b: &[u8]) -> Result<(Value, usize), DecodeError> {
    let mut d = Decoder { b, end: b.len(), in_set: false };
    d.value(0, 0)
}

/// Whether `b` is exactly the canonical encoding of a value.
pub fn is_canonical(b: &[u8]) -> bool {
    match decode(b) {
        Ok(v) => {
            let mut out = Vec::with_capacity(b.len());
            encode_canonical(&mut out, &v);
            out == b
        }
        Err(_) => false,
    }
}

/// Decodes `b` and returns the canonical encoding of its value.
pub fn canonicalize(b: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let v = decode(b)?;
    let mut out = Vec::with_capacity(b.len());
    encode_canonical(&mut out, &v);
    Ok(out)
}

struct Decoder<'a> {
    b: &'a [u8],
    end: usize,   // end of the input, or of the set payload being read
    in_set: bool, // end is the end of a set payload
}

type Decoded = Result<(Value, usize), DecodeError>;

fn fail(off: usize, reason: &'static str, msg: String) -> DecodeError {
    DecodeError { offset: off, msg, reason }
}

const UINT_NAMES: [&str; 4] = ["uint8", "uint16", "uint32", "uint64"];
const INT_NAMES: [&str; 4] = ["int8", "int16", "int32", "int64"];
const STR_NAMES: [&str; 3] = ["str8", "str16", "str32"];
const BIN_NAMES: [&str; 3] = ["bin8", "bin16", "bin32"];
const EXT_NAMES: [&str; 3] = ["ext8", "ext16", "ext32"];
const FIXEXT_NAMES: [&str; 5] = ["fixext1", "fixext2", "fixext4", "fixext8", "fixext16"];

/// The category of a string, bytes or extension body longer than the
/// input: the 32-bit forms are how huge lengths arrive.
fn length_reason(size: usize) -> &'static str {
    if size == 4 {
        "length_exceeds_input"
    } else {
        "truncated"
    }
}

impl<'a> Decoder<'a> {
    /// Fails unless n bytes follow p, for the value at `at`.
    fn need(&self, at: usize, p: usize, n: u64, what: &str, reason: &'static str) -> Result<(), DecodeError> {
        let have = self.end.saturating_sub(p);
        if p > self.end || (have as u64) < n {
            return Err(fail(at, reason, format!("truncated {} (need {} bytes, have {})", what, n, have)));
        }
        Ok(())
    }

    /// Reads a big-endian length field of size bytes at p.
    fn length(&self, at: usize, p: usize, size: usize, form: &str) -> Result<(u64, usize), DecodeError> {
        self.need(at, p, size as u64, &format!("{} header", form), "truncated")?;
        let b = &self.b[p..p + size];
        let n = match size {
            1 => b[0] as u64,
            2 => u16::from_be_bytes([b[0], b[1]]) as u64,
            _ => u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as u64,
        };
        Ok((n, p + size))
    }

    fn value(&mut self, p: usize, depth: usize) -> Decoded {
        if p >= self.end {
            let msg = if self.in_set { "unexpected end of set payload" } else { "unexpected end of input" };
            return Err(fail(p, "truncated", msg.into()));
        }
        let c = self.b[p];
        match c {
            0x00..=0x7f => return Ok((Value::Int(c as i64), p + 1)),
            0xe0..=0xff => return Ok((Value::Int(c as i8 as i64), p + 1)),
            0x80..=0x8f => return self.group(p, p + 1, (c & 0x0f) as u64, depth, "fixmap", 2),
            0x90..=0x9f => return self.list(p, p + 1, (c & 0x0f) as u64, depth, "fixarray"),
            0xa0..=0xbf => return self.str(p, p + 1, (c & 0x1f) as u64, "fixstr", 1),
            _ => {}
        }
        match c {
            0xc0 => Ok((Value::Nil, p + 1)),
            0xc1 => Err(fail(p, "reserved_byte", "invalid byte 0xc1 (never used)".into())),
            0xc2 => Ok((Value::Bool(false), p + 1)),
            0xc3 => Ok((Value::Bool(true), p + 1)),
            0xc4..=0xc6 => {
                let i = (c - 0xc4) as usize;
                let size = 1 << i;
                let (n, q) = self.length(p, p + 1, size, BIN_NAMES[i])?;
                self.need(p, q, n, BIN_NAMES[i], length_reason(size))?;
                let end = q + n as usize;
                Ok((Value::Bytes(self.b[q..end].to_vec()), end))
            }
            0xc7..=0xc9 => {
                let i = (c - 0xc7) as usize;
                let size = 1 << i;
                let (n, q) = self.length(p, p + 1, size, EXT_NAMES[i])?;
                self.ext(p, q, n, depth, EXT_NAMES[i], length_reason(size))
            }
            0xca => {
                self.need(p, p + 1, 4, "float32", "truncated")?;
                let b = &self.b[p + 1..p + 5];
                let f = f32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                Ok((Value::Float(f as f64), p + 5))
            }
            0xcb => {
                self.need(p, p + 1, 8, "float64", "truncated")?;
                let mut a = [0u8; 8];
                a.copy_from_slice(&self.b[p + 1..p + 9]);
                Ok((Value::Float(f64::from_bits(u64::from_be_bytes(a))), p + 9))
            }
            0xcc..=0xcf => {
                let i = (c - 0xcc) as usize;
                let size = 1usize << i;
                self.need(p, p + 1, size as u64, UINT_NAMES[i], "truncated")?;
                let mut u: u64 = 0;
                for &x in &self.b[p + 1..p + 1 + size] {
                    u = u << 8 | x as u64;
                }
                if u > i64::MAX as u64 {
                    return Err(fail(p, "int_out_of_range", format!("integer out of int64 range ({})", u)));
                }
                Ok((Value::Int(u as i64), p + 1 + size))
            }
            0xd0..=0xd3 => {
                let i = (c - 0xd0) as usize;
                let size = 1usize << i;
                self.need(p, p + 1, size as u64, INT_NAMES[i], "truncated")?;
                let b = &self.b[p + 1..p + 1 + size];
                let v = match size {
                    1 => b[0] as i8 as i64,
                    2 => i16::from_be_bytes([b[0], b[1]]) as i64,
                    4 => i32::from_be_bytes([b[0], b[1], b[2], b[3]]) as i64,
                    _ => {
                        let mut a = [0u8; 8];
                        a.copy_from_slice(b);
                        i64::from_be_bytes(a)
                    }
                };
                Ok((Value::Int(v), p + 1 + size))
            }
            0xd4..=0xd8 => {
                let i = (c - 0xd4) as usize;
                self.ext(p, p + 1, 1 << i, depth, FIXEXT_NAMES[i], "truncated")
            }
            0xd9..=0xdb => {
                let i = (c - 0xd9) as usize;
                let size = 1 << i;
                let (n, q) = self.length(p, p + 1, size, STR_NAMES[i])?;
                self.str(p, q, n, STR_NAMES[i], size)
            }
            0xdc | 0xdd => {
                let form = ["array16", "array32"][(c - 0xdc) as usize];
                let (n, q) = self.length(p, p + 1, 2 << (c - 0xdc), form)?;
                self.list(p, q, n, depth, form)
            }
            _ => {
                let form = ["map16", "map32"][(c - 0xde) as usize];
                let (n, q) = self.length(p, p + 1, 2 << (c - 0xde), form)?;
                self.group(p, q, n, depth, form, 2)
            }
        }
    }

    fn str(&self, p: usize, q: usize, n: u64, form: &str, size: usize) -> Decoded {
        self.need(p, q, n, form, length_reason(size))?;
        let end = q + n as usize;
        match std::str::from_utf8(&self.b[q..end]) {
            Ok(s) => Ok((Value::Str(s.to_string()), end)),
            Err(e) => Err(fail(p, "invalid_utf8", format!("invalid UTF-8 in {} at byte {}", form, e.valid_up_to()))),
        }
    }

    /// Checks the depth and the declared count of a container whose header
    /// is at p and whose entries (stride values of at least one byte each)
    /// start at q.
    fn enter(&self, p: usize, q: usize, n: u64, depth: usize, stride: u64, form: &str) -> Result<(), DecodeError> {
        if depth > MAX_DEPTH {
            return Err(fail(p, "too_deep", format!("nesting deeper than {}", MAX_DEPTH)));
        }
        let have = self.end.saturating_sub(q);
        if n > have as u64 / stride {
            let what = if stride == 2 { " entries" } else { " items" };
            return Err(fail(
                p,
                "length_exceeds_input",
                format!("{} of {}{} exceeds remaining input ({} bytes)", form, n, what, have),
            ));
        }
        Ok(())
    }

    fn list(&mut self, p: usize, mut q: usize, n: u64, depth: usize, form: &str) -> Decoded {
        let depth = depth + 1;
        self.enter(p, q, n, depth, 1, form)?;
        let mut items = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let (v, next) = self.value(q, depth)?;
            items.push(v);
            q = next;
        }
        Ok((Value::List(items), q))
    }

    /// Decodes an extension whose header is at p and whose type byte and
    /// payload of n bytes start at q. Only sets exist.
    fn ext(&mut self, p: usize, q: usize, n: u64, depth: usize, form: &str, reason: &'static str) -> Decoded {
        self.need(p, q, n + 1, form, reason)?;
        let t = self.b[q] as i8;
        if t != SET_EXT_TYPE as i8 {
            return Err(fail(p, "unsupported_ext", format!("unsupported ext type {}", t)));
        }
        let mut q = q + 1;
        let end = q + n as usize;
        let (outer_end, outer_in_set) = (self.end, self.in_set);
        self.end = end;
        self.in_set = true;
        if q >= end {
            return Err(fail(q, "bad_set_payload", "set payload is empty, want an array".into()));
        }
        let c = self.b[q];
        let (count, aform) = match c {
            0x90..=0x9f => {
                q += 1;
                ((c & 0x0f) as u64, "fixarray")
            }
            0xdc | 0xdd => {
                let aform = ["array16", "array32"][(c - 0xdc) as usize];
                let (count, nq) = self.length(q, q + 1, 2 << (c - 0xdc), aform)?;
                q = nq;
                (count, aform)
            }
            _ => return Err(fail(q, "bad_set_payload", "set payload is not an array".into())),
        };
        let (v, q) = self.group(p, q, count, depth, aform, 1)?;
        if q != end {
            return Err(fail(q, "bad_set_payload", format!("set payload has {} trailing bytes", end - q)));
        }
        self.end = outer_end;
        self.in_set = outer_in_set;
        Ok((v, q))
    }

    /// Decodes n map entries (stride 2) or set elements (stride 1) at q,
    /// for the container whose header is at p, in any order, into canonical
    /// order; duplicates are errors.
    fn group(&mut self, p: usize, mut q: usize, n: u64, depth: usize, form: &str, stride: u64) -> Decoded {
        let depth = depth + 1;
        self.enter(p, q, n, depth, stride, form)?;
        let (what, reason) = if stride == 1 {
            ("set element", "duplicate_set_element")
        } else {
            ("map key", "duplicate_map_key")
        };
        let n = n as usize;
        let mut keys: Vec<Value> = Vec::with_capacity(n);
        let mut vals: Vec<Value> = Vec::with_capacity(if stride == 2 { n } else { 0 });
        let mut offs: Vec<usize> = Vec::with_capacity(n);
        let (mut prev, mut cur) = (Vec::new(), Vec::new());
        let mut sorted = true;
        for i in 0..n {
            offs.push(q);
            let (k, next) = self.value(q, depth)?;
            q = next;
            if sorted {
                cur.clear();
                encode_canonical(&mut cur, &k);
                if i > 0 {
                    match prev.cmp(&cur) {
                        std::cmp::Ordering::Equal => {
                            return Err(fail(offs[i], reason, format!("duplicate {}", what)));
                        }
                        std::cmp::Ordering::Greater => sorted = false,
                        _ => {}
                    }
                }
                std::mem::swap(&mut prev, &mut cur);
            }
            keys.push(k);
            if stride == 2 {
                let (v, next) = self.value(q, depth)?;
                q = next;
                vals.push(v);
            }
        }
        let mut order: Vec<usize> = (0..n).collect();
        if !sorted {
            let encs: Vec<Vec<u8>> = keys
                .iter()
                .map(|k| {
                    let mut b = Vec::new();
                    encode_canonical(&mut b, k);
                    b
                })
                .collect();
            order.sort_by(|&a, &b| encs[a].cmp(&encs[b]));
            for j in 1..order.len() {
                if encs[order[j - 1]] == encs[order[j]] {
                    let off = offs[order[j]].max(offs[order[j - 1]]);
                    return Err(fail(off, reason, format!("duplicate {}", what)));
                }
            }
        }
        if stride == 1 {
            let mut slots: Vec<Option<Value>> = keys.into_iter().map(Some).collect();
            let elems = order.iter().map(|&i| slots[i].take().unwrap()).collect();
            return Ok((Value::Set(ValueSet::from_sorted(elems)), q));
        }
        let mut slots: Vec<Option<(Value, Value)>> = keys.into_iter().zip(vals).map(Some).collect();
        let entries = order.iter().map(|&i| slots[i].take().unwrap()).collect();
        Ok((Value::Map(ValueMap::from_sorted(entries)), q))
    }
}
