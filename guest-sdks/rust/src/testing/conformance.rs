//! Runs the host's datadriven PState tests (`storage/testdata/pstate` in
//! the Squall repository) through the fake host's PState engine: every
//! select, selectOne and transform must give the host's result or error
//! message. Change lists and storage dumps are the host's business and are
//! skipped. Values are read as Value's text writes them, paths as Path's
//! text, schemas as the storage layer renders them.

use super::engine::{host_path_error, path_steps, PStore};
use super::schema::parse_schema;
use crate::path::{FilterOp, Path, PathMode, RangeOpts, ViewFn};
use crate::value::Value;
use crate::ValueMap;

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn errf(&self, msg: &str) -> String {
        format!("at byte {} of {:?}: {}", self.pos, self.s, msg)
    }

    fn peek(&mut self) -> u8 {
        let b = self.s.as_bytes();
        while self.pos < b.len() && (b[self.pos] as char).is_whitespace() {
            self.pos += 1;
        }
        if self.pos >= b.len() {
            0
        } else {
            b[self.pos]
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == c {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if !self.eat(c) {
            return Err(self.errf(&format!("want {:?}", c as char)));
        }
        Ok(())
    }

    fn ident(&mut self) -> String {
        self.peek();
        let b = self.s.as_bytes();
        let start = self.pos;
        while self.pos < b.len() {
            let c = b[self.pos];
            if c == b'_' || c == b'+' && self.pos == start || c.is_ascii_alphabetic() || self.pos > start && c.is_ascii_digit() {
                self.pos += 1;
                continue;
            }
            break;
        }
        self.s[start..self.pos].to_string()
    }

    fn value(&mut self) -> Result<Value, String> {
        let c = self.peek();
        match c {
            b'"' => return self.quoted(),
            b'[' => {
                self.pos += 1;
                return Ok(Value::List(self.seq(b']')?));
            }
            b'#' => {
                self.pos += 1;
                self.expect(b'{')?;
                let items = self.seq(b'}')?;
                return Ok(Value::set(items));
            }
            b'{' => {
                self.pos += 1;
                let mut m = ValueMap::new();
                let mut n = 0;
                while !self.eat(b'}') {
                    if n > 0 {
                        self.expect(b',')?;
                    }
                    let k = self.value()?;
                    self.expect(b':')?;
                    let v = self.value()?;
                    m.insert(k, v);
                    n += 1;
                }
                return Ok(Value::Map(m));
            }
            b'0' if self.s[self.pos..].starts_with("0x\"") => {
                self.pos += 2;
                let v = self.quoted()?;
                let h = v.as_str().unwrap_or("");
                let b: Vec<u8> = (0..h.len() / 2).map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap()).collect();
                return Ok(Value::Bytes(b));
            }
            b'-' | b'+' | b'0'..=b'9' => {
                let start = self.pos;
                self.pos += 1;
                let b = self.s.as_bytes();
                while self.pos < b.len() && b"0123456789.eE+-Inf".contains(&b[self.pos]) {
                    self.pos += 1;
                }
                let t = &self.s[start..self.pos];
                if !t.contains(|c| ".eIN".contains(c)) {
                    return t.parse::<i64>().map(Value::Int).map_err(|e| e.to_string());
                }
                return match t {
                    "+Inf" => Ok(Value::Float(f64::INFINITY)),
                    "-Inf" => Ok(Value::Float(f64::NEG_INFINITY)),
                    _ => t.parse::<f64>().map(Value::Float).map_err(|e| e.to_string()),
                };
            }
            _ => {}
        }
        match self.ident().as_str() {
            "nil" => Ok(Value::Nil),
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            "NaN" => Ok(Value::Float(f64::NAN)),
            _ => Err(self.errf("not a value")),
        }
    }

    /// A Go-quoted string.
    fn quoted(&mut self) -> Result<Value, String> {
        self.peek();
        let b = self.s.as_bytes();
        self.pos += 1;
        let mut out = String::new();
        while self.pos < b.len() {
            let c = b[self.pos];
            match c {
                b'"' => {
                    self.pos += 1;
                    return Ok(Value::Str(out));
                }
                b'\\' => {
                    let e = b[self.pos + 1];
                    self.pos += 2;
                    let hexn = |p: &mut Self, n: usize| -> u32 {
                        let v = u32::from_str_radix(&p.s[p.pos..p.pos + n], 16).unwrap();
                        p.pos += n;
                        v
                    };
                    match e {
                        b'n' => out.push('\n'),
                        b't' => out.push('\t'),
                        b'r' => out.push('\r'),
                        b'a' => out.push('\u{7}'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'v' => out.push('\u{b}'),
                        b'\\' => out.push('\\'),
                        b'"' => out.push('"'),
                        b'x' => out.push(char::from_u32(hexn(self, 2)).unwrap()),
                        b'u' => out.push(char::from_u32(hexn(self, 4)).unwrap()),
                        b'U' => out.push(char::from_u32(hexn(self, 8)).unwrap()),
                        _ => return Err(self.errf("bad escape")),
                    }
                }
                _ => {
                    let ch = self.s[self.pos..].chars().next().unwrap();
                    out.push(ch);
                    self.pos += ch.len_utf8();
                }
            }
        }
        Err(self.errf("unterminated string"))
    }

    fn seq(&mut self, end: u8) -> Result<Vec<Value>, String> {
        let mut out = vec![];
        while !self.eat(end) {
            if !out.is_empty() {
                self.expect(b',')?;
            }
            out.push(self.value()?);
        }
        Ok(out)
    }

    /// A schema in the storage layer's text, read into its ABI form (which
    /// can say what the builder refuses, such as a subindexed leaf).
    fn schema(&mut self) -> Result<Value, String> {
        let name = self.ident();
        let mut m = ValueMap::new();
        match name.as_str() {
            "map" => {
                self.expect(b'(')?;
                m.insert("key", self.schema()?);
                self.expect(b',')?;
                m.insert("val", self.schema()?);
                self.expect(b')')?;
            }
            "set" | "list" => {
                self.expect(b'(')?;
                m.insert("elem", self.schema()?);
                self.expect(b')')?;
            }
            "record" => {
                self.expect(b'{')?;
                let mut fields = vec![];
                while !self.eat(b'}') {
                    if !fields.is_empty() {
                        self.expect(b',')?;
                    }
                    let fname = if self.peek() == b'"' {
                        self.quoted()?.as_str().unwrap().to_string()
                    } else {
                        self.ident()
                    };
                    self.expect(b':')?;
                    fields.push(Value::List(vec![fname.into(), self.schema()?]));
                }
                m.insert("fields", Value::List(fields));
            }
            "any" | "bool" | "int" | "float" | "string" | "bytes" => {}
            n => return Err(self.errf(&format!("unknown schema type {:?}", n))),
        }
        let sub = self.s[self.pos..].starts_with(".subindexed");
        if sub {
            self.pos += ".subindexed".len();
            m.insert("subindexed", true);
        }
        if m.is_empty() {
            return Ok(Value::from(name));
        }
        m.insert("type", name);
        Ok(Value::Map(m))
    }
}

/// Reads the form Path's text writes, with the builder.
fn parse_path_text(s: &str) -> Result<Path, String> {
    let mut p = Parser { s: s.trim(), pos: 0 };
    let mut path = Path::new();
    let mut i = 0;
    while p.peek() != 0 {
        if i > 0 {
            p.expect(b'.')?;
        }
        i += 1;
        let name = p.ident();
        p.expect(b'(')?;
        let mut args: Vec<Value> = vec![];
        let mut words: Vec<String> = vec![];
        while !p.eat(b')') {
            if args.len() + words.len() > 0 {
                p.expect(b',')?;
            }
            let c = p.peek();
            let rest = &p.s[p.pos..];
            if c.is_ascii_lowercase() && !rest.starts_with("nil") && !rest.starts_with("true") && !rest.starts_with("false") {
                let mut w = p.ident();
                if w == "open" {
                    args.push(Value::Nil);
                    continue;
                }
                if p.eat(b'=') {
                    let v = p.value()?;
                    w = format!("{}={}", w, v.as_int().unwrap_or(0));
                }
                words.push(w);
                continue;
            }
            args.push(p.value()?);
        }
        let arg = |i: usize| args.get(i).cloned().unwrap_or(Value::Nil);
        path = match name.as_str() {
            "key" => path.key(arg(0)),
            "mustKey" => path.must_key(arg(0)),
            "nilToVal" => path.nil_to_val(arg(0)),
            "set" => path.set(arg(0)),
            "merge" => path.merge(arg(0)),
            "incr" => match arg(0) {
                Value::Float(f) => path.incr_float(f),
                v => path.incr(v.as_int().unwrap_or(0)),
            },
            "mapVals" => path.map_vals(),
            "mapKeys" => path.map_keys(),
            "all" => path.all(),
            "first" => path.first(),
            "last" => path.last(),
            "remove" => path.remove(),
            "nth" => path.nth(arg(0).as_int().unwrap_or(0)),
            "append" => path.append_all(args.clone()),
            "prepend" => path.prepend_all(args.clone()),
            "sortedRange" => {
                let mut o = RangeOpts::new();
                for w in &words {
                    match w.as_str() {
                        "excludeFrom" => o.exclude_from = true,
                        "includeTo" => o.include_to = true,
                        "reverse" => o.reverse = true,
                        w if w.starts_with("limit=") => o.limit = w[6..].parse().unwrap(),
                        _ => {}
                    }
                }
                path.sorted_range_with(arg(0), arg(1), o)
            }
            "filter" => {
                let op = match words.first().map(|s| s.as_str()) {
                    Some("exists") => None,
                    Some("eq") => Some(FilterOp::Eq),
                    Some("ne") => Some(FilterOp::Ne),
                    Some("lt") => Some(FilterOp::Lt),
                    Some("le") => Some(FilterOp::Le),
                    Some("gt") => Some(FilterOp::Gt),
                    Some("ge") => Some(FilterOp::Ge),
                    w => return Err(format!("unknown filter {:?}", w)),
                };
                match op {
                    None => path.filter_exists(),
                    Some(op) => path.filter(op, arg(0)),
                }
            }
            "view" => path.view(if words.first().map(|s| s.as_str()) == Some("size") { ViewFn::Size } else { ViewFn::Count }),
            n => return Err(p.errf(&format!("unknown navigator {:?}", n))),
        };
    }
    Ok(path)
}

struct Case {
    line: usize,
    cmd: String,
    args: Vec<(String, String)>,
    input: Vec<String>,
    output: Vec<String>,
}

impl Case {
    fn arg(&self, k: &str) -> Option<&str> {
        self.args.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
    }
}

fn parse_datadriven(data: &str) -> Vec<Case> {
    let lines: Vec<&str> = data.split('\n').collect();
    let mut out = vec![];
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if l.trim().is_empty() || l.starts_with('#') {
            i += 1;
            continue;
        }
        let mut fields = l.split_whitespace();
        let cmd = fields.next().unwrap().to_string();
        let args = fields
            .map(|a| match a.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (a.to_string(), String::new()),
            })
            .collect();
        let mut c = Case { line: i + 1, cmd, args, input: vec![], output: vec![] };
        i += 1;
        while i < lines.len() && lines[i] != "----" {
            c.input.push(lines[i].to_string());
            i += 1;
        }
        i += 1;
        while i < lines.len() && !lines[i].is_empty() {
            c.output.push(lines[i].to_string());
            i += 1;
        }
        out.push(c);
    }
    out
}

/// For each input line, its first output line (the result or error);
/// outputs of several inputs start with the path echoed.
fn split_results(c: &Case) -> Vec<String> {
    if c.input.len() == 1 {
        return vec![c.output[0].clone()];
    }
    let mut out = vec![String::new(); c.input.len()];
    let mut j = 0;
    for (i, input) in c.input.iter().enumerate() {
        let p = parse_path_text(input).unwrap().to_string();
        while j < c.output.len() && c.output[j] != p {
            j += 1;
        }
        if j + 1 < c.output.len() {
            out[i] = c.output[j + 1].clone();
        }
        j += 1;
    }
    out
}

/// Runs one path on a partition and renders the outcome as the host's
/// tests do.
fn run_one(p: &mut PStore, cmd: &str, path: &Path) -> String {
    let pv = match path.value() {
        Ok(v) => v,
        Err(e) => return format!("error: {}", e),
    };
    let mode = if cmd == "transform" { PathMode::Transform } else { PathMode::Select };
    let steps = match path_steps(&pv, mode) {
        Ok(s) => s,
        Err((e, text)) => return format!("error: {}", host_path_error(&e, &text)),
    };
    match cmd {
        "transform" => match p.transform(&steps) {
            Ok(_) => "ok".into(),
            Err(e) => format!("error: {}", e),
        },
        "select" => match p.sel(&steps) {
            Ok(vs) => Value::List(vs).to_string(),
            Err(e) => format!("error: {}", e),
        },
        _ => match p.sel(&steps) {
            Err(e) => format!("error: {}", e),
            Ok(vs) if vs.len() != 1 => format!(
                "error: path: selectOne needs exactly one value, the path navigated to {}; use select for zero or more (path {})",
                vs.len(),
                steps.path
            ),
            Ok(vs) => vs[0].to_string(),
        },
    }
}

fn def_with_schema(s: Value) -> Value {
    Value::map([
        ("depots", Value::List(vec![])),
        ("topologies", Value::List(vec![])),
        ("pstates", Value::List(vec![Value::map([("name", Value::from("p")), ("schema", s)])])),
    ])
}

fn run_file(name: &str, data: &str) -> (usize, Vec<String>) {
    let mut fails = vec![];
    let mut schema = None;
    let mut ps_name = "ps".to_string();
    let mut parts: Vec<(String, PStore)> = vec![];
    let mut checked = 0;
    for c in parse_datadriven(data) {
        match c.cmd.as_str() {
            "declare" => {
                let text = c.input.join(" ");
                let mut p = Parser { s: text.trim(), pos: 0 };
                let sv = p.schema().unwrap_or_else(|e| panic!("{} line {}: {}", name, c.line, e));
                if c.output[0].starts_with("error:") {
                    // A bad schema: the SDK reports it when the module is built.
                    if crate::check_definition(&def_with_schema(sv.clone())).is_ok() {
                        fails.push(format!("{} line {}: the SDK accepts the schema {} that the host refuses", name, c.line, sv));
                    }
                    continue;
                }
                schema = Some(parse_schema(&sv));
                ps_name = c.arg("name").unwrap_or("ps").to_string();
                parts.clear();
            }
            "transform" | "select" | "select-one" => {
                if c.arg("committed").is_some() {
                    continue;
                }
                let results = split_results(&c);
                let part = c.arg("partition").unwrap_or("").to_string();
                if !parts.iter().any(|(k, _)| *k == part) {
                    parts.push((part.clone(), PStore::new(schema.clone().unwrap())));
                }
                let store = &mut parts.iter_mut().find(|(k, _)| *k == part).unwrap().1;
                for (i, text) in c.input.iter().enumerate() {
                    let path = parse_path_text(text).unwrap_or_else(|e| panic!("{} line {}: {}", name, c.line, e));
                    let mut want = results[i].clone();
                    let got = run_one(store, &c.cmd, &path);
                    if want.starts_with("error: ") {
                        want = want
                            .trim_start_matches("error: ")
                            .trim_start_matches(&format!("storage: pstate m/{}: ", ps_name))
                            .to_string();
                        if got != format!("error: {}", want) {
                            fails.push(format!("{} line {}: {} {}:\n got {}\nwant error: {}", name, c.line, c.cmd, text, got, want));
                        }
                    } else if c.cmd == "transform" {
                        if got.starts_with("error: ") {
                            fails.push(format!("{} line {}: transform {}: {}; the host succeeds", name, c.line, text, got));
                        }
                    } else if got != want {
                        fails.push(format!("{} line {}: {} {}:\n got {}\nwant {}", name, c.line, c.cmd, text, got, want));
                    }
                    checked += 1;
                }
            }
            "model" => {
                let part = c.arg("partition").unwrap_or("").to_string();
                if !parts.iter().any(|(k, _)| *k == part) {
                    parts.push((part.clone(), PStore::new(schema.clone().unwrap())));
                }
                let store = &parts.iter().find(|(k, _)| *k == part).unwrap().1;
                let got = store.value().to_string();
                if got != c.output[0] {
                    fails.push(format!("{} line {}: model {}, want {}", name, c.line, got, c.output[0]));
                }
            }
            _ => {}
        }
    }
    (checked, fails)
}

#[test]
fn host_conformance() {
    let dir = format!("{}/../../storage/testdata/pstate", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = match std::fs::read_dir(&dir) {
        Ok(d) => d.map(|e| e.unwrap().path()).collect(),
        Err(_) => {
            eprintln!("no host PState tests at {}", dir);
            return;
        }
    };
    files.sort();
    let mut total = 0;
    let mut fails = vec![];
    for f in files {
        let data = std::fs::read_to_string(&f).unwrap();
        let (n, mut fl) = run_file(&f.file_name().unwrap().to_string_lossy(), &data);
        total += n;
        fails.append(&mut fl);
    }
    assert!(fails.is_empty(), "{} failures:\n{}", fails.len(), fails.join("\n"));
    assert!(total > 100, "only {} paths checked", total);
    eprintln!("{} paths checked", total);
}
