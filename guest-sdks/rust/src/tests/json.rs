//! A tiny JSON reader for the golden vectors (the SDK has no dependencies),
//! and the typed-value form of `abi/testdata/README.md`.

use std::collections::BTreeMap;

use crate::{Value, ValueMap, ValueSet};

#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// A number, as written.
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(BTreeMap<String, Json>),
}

impl Json {
    pub fn parse(s: &str) -> Result<Json, String> {
        let mut p = Parser { b: s.as_bytes(), pos: 0 };
        let v = p.value()?;
        p.ws();
        if p.pos != p.b.len() {
            return Err(format!("trailing text at byte {}", p.pos));
        }
        Ok(v)
    }

    pub fn get(&self, k: &str) -> &Json {
        static NULL: Json = Json::Null;
        match self {
            Json::Obj(m) => m.get(k).unwrap_or(&NULL),
            _ => &NULL,
        }
    }

    pub fn has(&self, k: &str) -> bool {
        matches!(self, Json::Obj(m) if m.contains_key(k))
    }

    pub fn str(&self, k: &str) -> String {
        match self.get(k) {
            Json::Str(s) => s.clone(),
            other => panic!("field {} is {:?}, not a string", k, other),
        }
    }

    pub fn int(&self, k: &str) -> i64 {
        match self.get(k) {
            Json::Num(n) => n.parse().unwrap(),
            Json::Str(s) => s.parse().unwrap(),
            other => panic!("field {} is {:?}, not a number", k, other),
        }
    }

    /// A 64-bit unsigned field written as a decimal string.
    pub fn u64(&self, k: &str) -> u64 {
        match self.get(k) {
            Json::Num(n) => n.parse().unwrap(),
            Json::Str(s) => s.parse().unwrap(),
            other => panic!("field {} is {:?}, not a number", k, other),
        }
    }

    pub fn boolean(&self, k: &str) -> bool {
        match self.get(k) {
            Json::Bool(b) => *b,
            other => panic!("field {} is {:?}, not a bool", k, other),
        }
    }

    pub fn arr(&self, k: &str) -> &[Json] {
        match self.get(k) {
            Json::Arr(a) => a,
            other => panic!("field {} is {:?}, not an array", k, other),
        }
    }

    pub fn hex(&self, k: &str) -> Vec<u8> {
        unhex(&self.str(k))
    }

    /// The typed value of field k.
    pub fn val(&self, k: &str) -> Value {
        typed(self.get(k))
    }
}

pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap()).collect()
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|c| format!("{:02x}", c)).collect()
}

/// Converts the typed JSON form of a value.
pub fn typed(j: &Json) -> Value {
    let m = match j {
        Json::Obj(m) => m,
        other => panic!("a typed value is an object, not {:?}", other),
    };
    if m.contains_key("nil") {
        return Value::Nil;
    }
    if let Some(Json::Bool(b)) = m.get("bool") {
        return Value::Bool(*b);
    }
    if let Some(Json::Str(s)) = m.get("int") {
        return Value::Int(s.parse().unwrap());
    }
    if m.contains_key("float") {
        let bits = u64::from_str_radix(&j.str("bits"), 16).unwrap();
        return Value::Float(f64::from_bits(bits));
    }
    if let Some(Json::Str(s)) = m.get("str") {
        return Value::Str(s.clone());
    }
    if m.contains_key("bytes_hex") {
        return Value::Bytes(j.hex("bytes_hex"));
    }
    if let Some(Json::Arr(items)) = m.get("list") {
        return Value::List(items.iter().map(typed).collect());
    }
    if let Some(Json::Arr(items)) = m.get("set") {
        return Value::Set(items.iter().map(typed).collect::<ValueSet>());
    }
    if let Some(Json::Arr(es)) = m.get("map") {
        let mut out = ValueMap::new();
        for e in es {
            match e {
                Json::Arr(kv) if kv.len() == 2 => {
                    out.insert(typed(&kv[0]), typed(&kv[1]));
                }
                other => panic!("a map entry is [k, v], not {:?}", other),
            }
        }
        return Value::Map(out);
    }
    panic!("unknown typed value {:?}", j)
}

/// Reads a JSON Lines file: one object per line, skipping empty lines and
/// lines starting with #.
pub fn read_lines(path: &str) -> Vec<Json> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {}", path, e));
    text.split('\n')
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| Json::parse(l).unwrap_or_else(|e| panic!("{}: {}: {}", path, e, l)))
        .collect()
}

/// The ABI's golden vectors, from the crate's directory.
pub fn testdata(file: &str) -> Vec<Json> {
    read_lines(&format!("{}/../../abi/testdata/{}", env!("CARGO_MANIFEST_DIR"), file))
}

struct Parser<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn ws(&mut self) {
        while self.pos < self.b.len() && matches!(self.b[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    fn err<T>(&self, msg: &str) -> Result<T, String> {
        Err(format!("{} at byte {}", msg, self.pos))
    }

    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        match self.b.get(self.pos) {
            None => self.err("unexpected end"),
            Some(b'{') => {
                self.pos += 1;
                let mut m = BTreeMap::new();
                self.ws();
                if self.b.get(self.pos) == Some(&b'}') {
                    self.pos += 1;
                    return Ok(Json::Obj(m));
                }
                loop {
                    self.ws();
                    let k = match self.value()? {
                        Json::Str(s) => s,
                        _ => return self.err("object key"),
                    };
                    self.ws();
                    if self.b.get(self.pos) != Some(&b':') {
                        return self.err("want :");
                    }
                    self.pos += 1;
                    let v = self.value()?;
                    m.insert(k, v);
                    self.ws();
                    match self.b.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(Json::Obj(m));
                        }
                        _ => return self.err("want , or }"),
                    }
                }
            }
            Some(b'[') => {
                self.pos += 1;
                let mut a = Vec::new();
                self.ws();
                if self.b.get(self.pos) == Some(&b']') {
                    self.pos += 1;
                    return Ok(Json::Arr(a));
                }
                loop {
                    a.push(self.value()?);
                    self.ws();
                    match self.b.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Json::Arr(a));
                        }
                        _ => return self.err("want , or ]"),
                    }
                }
            }
            Some(b'"') => self.string().map(Json::Str),
            Some(b't') if self.b[self.pos..].starts_with(b"true") => {
                self.pos += 4;
                Ok(Json::Bool(true))
            }
            Some(b'f') if self.b[self.pos..].starts_with(b"false") => {
                self.pos += 5;
                Ok(Json::Bool(false))
            }
            Some(b'n') if self.b[self.pos..].starts_with(b"null") => {
                self.pos += 4;
                Ok(Json::Null)
            }
            Some(c) if *c == b'-' || c.is_ascii_digit() => {
                let start = self.pos;
                while self.pos < self.b.len() && matches!(self.b[self.pos], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                    self.pos += 1;
                }
                Ok(Json::Num(String::from_utf8(self.b[start..self.pos].to_vec()).unwrap()))
            }
            _ => self.err("unexpected character"),
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        if self.pos + 4 > self.b.len() {
            return self.err("short \\u escape");
        }
        let s = std::str::from_utf8(&self.b[self.pos..self.pos + 4]).map_err(|e| e.to_string())?;
        self.pos += 4;
        u32::from_str_radix(s, 16).map_err(|e| e.to_string())
    }

    fn string(&mut self) -> Result<String, String> {
        self.pos += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let c = match self.b.get(self.pos) {
                None => return self.err("unterminated string"),
                Some(c) => *c,
            };
            self.pos += 1;
            match c {
                b'"' => return String::from_utf8(out).map_err(|e| e.to_string()),
                b'\\' => {
                    let e = self.b[self.pos];
                    self.pos += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let mut u = self.hex4()?;
                            if (0xd800..0xdc00).contains(&u) && self.b[self.pos..].starts_with(b"\\u") {
                                self.pos += 2;
                                let lo = self.hex4()?;
                                u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
                            }
                            char::from_u32(u).unwrap_or('\u{fffd}')
                        }
                        _ => return self.err("bad escape"),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                c => out.push(c),
            }
        }
    }
}
