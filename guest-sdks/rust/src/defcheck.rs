//! Checks a module definition in its ABI form (`abi/ABI.md` §5) the way the
//! host does at deploy, with the host's messages, so that a module the
//! host would refuse fails in `squall_init` and in the test harness with
//! the same list of problems.

use std::fmt;

use crate::path::{Path, PathMode};
use crate::schema::{SNode, MAX_SCHEMA_DEPTH, SCHEMA_TYPES};
use crate::value::{quote, Value};

pub(crate) const MAX_DEF_ENTRIES: usize = 1024;
pub(crate) const MAX_NAME_LEN: usize = 128;

/// One problem of a module definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefProblem {
    /// Where: `depots[1].name`, `pstates[0].schema.val`,
    /// `topologies[0].sources[1].depot`, `definition` for the whole.
    pub location: String,
    /// What is wrong and what would be right.
    pub message: String,
}

/// Every problem of a module definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefError {
    /// The problems, sorted by location.
    pub problems: Vec<DefProblem>,
}

impl fmt::Display for DefError {
    /// The problems as "location: message", one per line when there are
    /// several.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.problems.len() == 1 {
            let p = &self.problems[0];
            return write!(f, "squall: module definition: {}: {}", p.location, p.message);
        }
        write!(f, "squall: module definition has {} problems:", self.problems.len())?;
        for p in &self.problems {
            write!(f, "\n\t{}: {}", p.location, p.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for DefError {}

/// Collects problems; a location under one that already has a problem gets
/// no more, so that one mistake is reported once.
#[derive(Default)]
pub(crate) struct Problems {
    pub list: Vec<DefProblem>,
}

impl Problems {
    pub(crate) fn add(&mut self, location: &str, message: String) {
        for q in &self.list {
            let w = &q.location;
            if location == w
                || location.starts_with(&format!("{}.", w))
                || location.starts_with(&format!("{}[", w))
            {
                return;
            }
        }
        self.list.push(DefProblem { location: location.to_string(), message });
    }

    /// The problems sorted by location (list indexes numerically), or
    /// None.
    pub(crate) fn err(&self) -> Option<DefError> {
        if self.list.is_empty() {
            return None;
        }
        let mut list = self.list.clone();
        list.sort_by_cached_key(|p| sort_key(&p.location)); // stable
        Some(DefError { problems: list })
    }
}

/// Pads list indexes to ten digits so that [10] sorts after [9].
fn sort_key(w: &str) -> String {
    let b = w.as_bytes();
    let mut out = String::with_capacity(w.len() + 16);
    let mut i = 0;
    while i < b.len() {
        out.push(b[i] as char);
        if b[i] == b'[' {
            let mut j = i + 1;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            if j > i + 1 && j < b.len() && b[j] == b']' {
                for _ in 0..10usize.saturating_sub(j - i - 1) {
                    out.push('0');
                }
                out.push_str(&w[i + 1..j]);
                i = j;
                continue;
            }
        }
        i += 1;
    }
    // Non-ASCII bytes of names were pushed as Latin-1 chars above; they only
    // have to sort consistently.
    out
}

fn join(w: &str, field: &str) -> String {
    if w == "definition" {
        field.to_string()
    } else {
        format!("{}.{}", w, field)
    }
}

pub(crate) fn at(w: &str, i: usize) -> String {
    format!("{}[{}]", w, i)
}

pub(crate) fn quote_list(names: &[&str]) -> String {
    let mut q: Vec<String> = Vec::new();
    for (i, n) in names.iter().enumerate() {
        if names.len() > 12 && i == 10 {
            q.push(format!("... ({} more)", names.len() - 10));
            break;
        }
        q.push(quote(n));
    }
    q.join(", ")
}

/// What is wrong with a name, or None: 1 to 128 bytes of ASCII letters,
/// digits and `_-.$`, starting with a letter, `_` or `$`.
pub(crate) fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("a name cannot be empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Some(format!("name is {} bytes; the limit is {}", name.len(), MAX_NAME_LEN));
    }
    for (i, &c) in name.as_bytes().iter().enumerate() {
        let ok = c == b'_'
            || c == b'$'
            || c.is_ascii_alphabetic()
            || i > 0 && (c.is_ascii_digit() || c == b'-' || c == b'.');
        if !ok {
            return Some(format!(
                "name {} has {} at byte {}; use letters, digits, '_', '-', '.' and '$', starting with a letter, '_' or '$'",
                quote(name),
                quote_rune(c),
                i
            ));
        }
    }
    None
}

/// Go's strconv.QuoteRune of a byte taken as a rune.
fn quote_rune(c: u8) -> String {
    let ch = c as char;
    let s = quote(&ch.to_string());
    let inner = &s[1..s.len() - 1];
    let inner = if inner == "\\\"" { "\"" } else if inner == "'" { "\\'" } else { inner };
    format!("'{}'", inner)
}

struct Defn {
    name: String,
    depots: Vec<DefDepot>,
    pstates: Vec<DefPState>,
    topologies: Vec<DefTopology>,
    queries: Vec<DefQuery>,
}

struct DefDepot {
    name: String,
    kind: String,
    key: Option<Path>,
    millis: i64,
}

struct DefPState {
    name: String,
    schema: Option<SNode>,
    owner: String,
}

struct DefTopology {
    name: String,
    kind: String,
    sources: Vec<(String, String)>,
    stages: Vec<String>,
    max_records: i64,
    interval_ms: i64,
}

struct DefQuery {
    name: String,
    args: Vec<String>,
    stages: Vec<String>,
}

const MAX_MAX_RECORDS: i64 = 1_000_000;
const MAX_INTERVAL_MILLIS: i64 = 3_600_000;
const MAX_TICK_MILLIS: i64 = 86_400_000;
const MAX_QUERY_ARGS: usize = 64;

/// Checks a module definition in its ABI form as the host does at deploy,
/// and returns every problem.
pub fn check_definition(v: &Value) -> Result<(), DefError> {
    let mut p = Problems::default();
    let d = p.def(v);
    d.validate(&mut p);
    match p.err() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

type Fields<'a> = Option<Vec<(&'a str, &'a Value)>>;

fn field<'a>(f: &Fields<'a>, name: &str) -> Option<&'a Value> {
    f.as_ref().and_then(|f| f.iter().find(|(k, _)| *k == name).map(|(_, v)| *v))
}

impl Problems {
    /// Checks that v is a map with string keys among known and returns its
    /// fields.
    fn fields<'a>(&mut self, w: &str, v: &'a Value, what: &str, known: &[&str]) -> Fields<'a> {
        let m = match v {
            Value::Map(m) => m,
            v => {
                self.add(w, format!("{} must be a map, not {}", what, v.kind()));
                return None;
            }
        };
        let mut out = Vec::new();
        for (k, val) in m.iter() {
            let ks = match k.as_str() {
                Some(s) => s,
                None => {
                    self.add(w, format!("field names are strings; found the {} key {}", k.kind(), k));
                    continue;
                }
            };
            if !known.contains(&ks) {
                self.add(&join(w, ks), format!("unknown field; {} fields are {}", what, quote_list(known)));
                continue;
            }
            out.push((ks, val));
        }
        Some(out)
    }

    fn str_field(&mut self, w: &str, f: &Fields<'_>, name: &str, required: bool) -> String {
        match field(f, name) {
            None => {
                if required && f.is_some() {
                    self.add(&join(w, name), "required field is missing".into());
                }
                String::new()
            }
            Some(v) => match v.as_str() {
                Some(s) => s.to_string(),
                None => {
                    self.add(&join(w, name), format!("must be a string, not {}", v.kind()));
                    String::new()
                }
            },
        }
    }

    fn bool_field(&mut self, w: &str, f: &Fields<'_>, name: &str) -> bool {
        match field(f, name) {
            None => false,
            Some(v) => match v.as_bool() {
                Some(b) => b,
                None => {
                    self.add(&join(w, name), format!("must be a bool, not {}", v.kind()));
                    false
                }
            },
        }
    }

    /// An optional int field: (value, present and an int).
    fn int_field(&mut self, w: &str, f: &Fields<'_>, name: &str) -> Option<i64> {
        let v = field(f, name)?;
        match v.as_int() {
            Some(n) => Some(n),
            None => {
                self.add(&join(w, name), format!("must be an int, not {}", v.kind()));
                None
            }
        }
    }

    fn string_list(&mut self, w: &str, f: &Fields<'_>, name: &str, required: bool) -> Vec<String> {
        let mut out = vec![];
        for (i, sv) in self.list_field(w, f, name, required).iter().enumerate() {
            match sv.as_str() {
                Some(s) => out.push(s.to_string()),
                None => {
                    self.add(&at(&join(w, name), i), format!("must be a string, not {}", sv.kind()));
                    out.push(String::new());
                }
            }
        }
        out
    }

    fn query(&mut self, w: &str, v: &Value) -> DefQuery {
        let f = self.fields(w, v, "a query", &["args", "name", "stages"]);
        let name = self.str_field(w, &f, "name", true);
        let args = self.string_list(w, &f, "args", false);
        let stages = self.string_list(w, &f, "stages", true);
        DefQuery { name, args, stages }
    }

    fn list_field<'a>(&mut self, w: &str, f: &Fields<'a>, name: &str, required: bool) -> &'a [Value] {
        match field(f, name) {
            None => {
                if required && f.is_some() {
                    self.add(&join(w, name), "required field is missing".into());
                }
                &[]
            }
            Some(Value::List(l)) => {
                if l.len() > MAX_DEF_ENTRIES {
                    self.add(&join(w, name), format!("has {} entries; the limit is {}", l.len(), MAX_DEF_ENTRIES));
                    return &[];
                }
                l
            }
            Some(v) => {
                self.add(&join(w, name), format!("must be a list, not {}", v.kind()));
                &[]
            }
        }
    }

    fn def(&mut self, v: &Value) -> Defn {
        let w = "definition";
        let f = self.fields(w, v, "a module definition", &["depots", "name", "pstates", "queries", "topologies"]);
        let mut d = Defn {
            name: self.str_field(w, &f, "name", false),
            depots: vec![],
            pstates: vec![],
            topologies: vec![],
            queries: vec![],
        };
        for (i, dv) in self.list_field(w, &f, "depots", true).iter().enumerate() {
            let dd = self.depot(&at("depots", i), dv);
            d.depots.push(dd);
        }
        for (i, pv) in self.list_field(w, &f, "pstates", true).iter().enumerate() {
            let ps = self.pstate(&at("pstates", i), pv);
            d.pstates.push(ps);
        }
        for (i, tv) in self.list_field(w, &f, "topologies", true).iter().enumerate() {
            let t = self.topology(&at("topologies", i), tv);
            d.topologies.push(t);
        }
        for (i, qv) in self.list_field(w, &f, "queries", false).iter().enumerate() {
            let q = self.query(&at("queries", i), qv);
            d.queries.push(q);
        }
        d
    }

    fn depot(&mut self, w: &str, v: &Value) -> DefDepot {
        let f = self.fields(w, v, "a depot", &["name", "partitioner"]);
        let mut d = DefDepot { name: self.str_field(w, &f, "name", true), kind: String::new(), key: None, millis: 0 };
        let pv = match field(&f, "partitioner") {
            Some(pv) => pv,
            None => {
                if f.is_some() {
                    self.add(
                        &join(w, "partitioner"),
                        "required field is missing; use {\"kind\": \"hash\"}, {\"kind\": \"random\"} or {\"kind\": \"disallow\"}".into(),
                    );
                }
                return d;
            }
        };
        let pw = join(w, "partitioner");
        let pf = self.fields(&pw, pv, "a partitioner", &["key", "kind", "millis"]);
        d.kind = self.str_field(&pw, &pf, "kind", true);
        if let Some(n) = self.int_field(&pw, &pf, "millis") {
            d.millis = n;
            if d.kind != "tick" {
                self.add(&join(&pw, "millis"), "only a tick partitioner takes millis".into());
            }
        } else if field(&pf, "millis").is_none() && d.kind == "tick" {
            self.add(&join(&pw, "millis"), "required field is missing: the tick period in milliseconds".into());
        }
        if let Some(kv) = field(&pf, "key") {
            match Path::parse(kv) {
                Ok(p) => d.key = Some(p),
                Err(e) => self.add(&join(&pw, "key"), format!("not a path: {}", trim_squall(&e.to_string()))),
            }
        }
        d
    }

    fn pstate(&mut self, w: &str, v: &Value) -> DefPState {
        let f = self.fields(w, v, "a PState", &["global", "name", "owner", "schema"]);
        let name = self.str_field(w, &f, "name", true);
        self.bool_field(w, &f, "global");
        let owner = self.str_field(w, &f, "owner", false);
        let schema = match field(&f, "schema") {
            Some(sv) => self.schema(&join(w, "schema"), sv, 1),
            None => {
                if f.is_some() {
                    self.add(&join(w, "schema"), "required field is missing".into());
                }
                None
            }
        };
        DefPState { name, schema, owner }
    }

    /// Reads the ABI form of a schema.
    pub(crate) fn schema(&mut self, w: &str, v: &Value, depth: usize) -> Option<SNode> {
        if depth > MAX_SCHEMA_DEPTH {
            self.add(w, format!("schema nests deeper than {}", MAX_SCHEMA_DEPTH));
            return None;
        }
        if let Some(name) = v.as_str() {
            let s = SNode { typ: name.to_string(), ..SNode::default() };
            if !s.leaf() {
                self.add(w, format!("unknown leaf type {}; use \"any\", \"bool\", \"int\", \"float\", \"string\" or \"bytes\", or a map {{\"type\": ...}} for a collection", quote(name)));
                return None;
            }
            return Some(s);
        }
        let m = match v {
            Value::Map(m) => m,
            v => {
                self.add(w, format!("a schema is a leaf type name or a map with a \"type\", not {}", v.kind()));
                return None;
            }
        };
        let ts = match m.get_str("type") {
            Some(Value::Str(s)) => s.clone(),
            None => {
                self.add(&join(w, "type"), format!("required field is missing; use one of {}", quote_list(&SCHEMA_TYPES)));
                return None;
            }
            Some(tv) => {
                self.add(&join(w, "type"), format!("must be a string, not {}", tv.kind()));
                return None;
            }
        };
        let mut n = SNode { typ: ts.clone(), ..SNode::default() };
        let known: &[&str] = if n.leaf() {
            &["subindexed", "type"]
        } else if ts == "map" {
            &["key", "subindexed", "type", "val"]
        } else if ts == "set" || ts == "list" {
            &["elem", "subindexed", "type"]
        } else if ts == "record" {
            &["fields", "subindexed", "type"]
        } else {
            self.add(&join(w, "type"), format!("unknown schema type {}; use one of {}", quote(&ts), quote_list(&SCHEMA_TYPES)));
            return Some(n);
        };
        let f = self.fields(w, v, &format!("a {} schema", ts), known);
        n.subindexed = self.bool_field(w, &f, "subindexed");
        let child = |p: &mut Problems, name: &str| -> Option<Box<SNode>> {
            match field(&f, name) {
                None => {
                    p.add(&join(w, name), "required field is missing".into());
                    None
                }
                Some(cv) => p.schema(&join(w, name), cv, depth + 1).map(Box::new),
            }
        };
        match ts.as_str() {
            "map" => {
                n.key = child(self, "key");
                n.val = child(self, "val");
            }
            "set" | "list" => n.elem = child(self, "elem"),
            "record" => match field(&f, "fields") {
                None => self.add(&join(w, "fields"), "required field is missing".into()),
                Some(Value::List(fs)) => {
                    for (i, e) in fs.iter().enumerate() {
                        let name = e.index(0).as_str();
                        match (e, name) {
                            (Value::List(l), Some(name)) if l.len() == 2 => {
                                let fw = format!("{}[{}]", join(w, "fields"), quote(name));
                                let s = self.schema(&fw, &l[1], depth + 1);
                                n.fields.push((name.to_string(), s));
                            }
                            _ => {
                                self.add(
                                    &at(&join(w, "fields"), i),
                                    format!("a record field is a [name, schema] pair with a string name, not {}", e),
                                );
                                n.fields.push((String::new(), None));
                            }
                        }
                    }
                }
                Some(fv) => self.add(
                    &join(w, "fields"),
                    format!("must be a list of [name, schema] pairs, not {}", fv.kind()),
                ),
            },
            _ => {}
        }
        Some(n)
    }

    fn topology(&mut self, w: &str, v: &Value) -> DefTopology {
        let f = self.fields(w, v, "a topology", &["interval_ms", "kind", "max_records", "name", "sources", "stages"]);
        let mut t = DefTopology {
            name: self.str_field(w, &f, "name", true),
            kind: self.str_field(w, &f, "kind", true),
            sources: vec![],
            stages: vec![],
            max_records: 0,
            interval_ms: 0,
        };
        if let Some(n) = self.int_field(w, &f, "max_records") {
            if !(1..=MAX_MAX_RECORDS).contains(&n) {
                self.add(&join(w, "max_records"), format!("is {}; it must be from 1 to {}", n, MAX_MAX_RECORDS));
            }
            t.max_records = n;
        }
        if let Some(n) = self.int_field(w, &f, "interval_ms") {
            if !(0..=MAX_INTERVAL_MILLIS).contains(&n) {
                self.add(&join(w, "interval_ms"), format!("is {}; it must be from 0 to {}", n, MAX_INTERVAL_MILLIS));
            }
            t.interval_ms = n;
        }
        for (i, sv) in self.list_field(w, &f, "sources", true).iter().enumerate() {
            let sw = at(&join(w, "sources"), i);
            let sf = self.fields(&sw, sv, "a source", &["depot", "stage", "start_from"]);
            let depot = self.str_field(&sw, &sf, "depot", true);
            let stage = self.str_field(&sw, &sf, "stage", true);
            if let Some(fv) = field(&sf, "start_from") {
                let ok = matches!(fv.as_str(), Some("beginning") | Some("end")) || fv.as_int().map_or(false, |n| n >= 0);
                if !ok {
                    self.add(
                        &join(&sw, "start_from"),
                        format!("must be \"beginning\", \"end\" or an offset (an int >= 0), not {}", fv),
                    );
                }
            }
            t.sources.push((depot, stage));
        }
        for (i, sv) in self.list_field(w, &f, "stages", true).iter().enumerate() {
            match sv.as_str() {
                Some(s) => t.stages.push(s.to_string()),
                None => {
                    self.add(&at(&join(w, "stages"), i), format!("a stage is named by a string, not {}", sv.kind()));
                    t.stages.push(String::new());
                }
            }
        }
        t
    }

    /// Checks the names of one section for validity and uniqueness.
    fn names(&mut self, section: &str, what: &str, names: &[&str], field: &str) {
        let mut seen: Vec<(&str, usize)> = Vec::new();
        for (i, n) in names.iter().enumerate() {
            let mut w = at(section, i);
            if !field.is_empty() {
                w = join(&w, field);
            }
            if let Some(msg) = name_problem(n) {
                self.add(&w, msg);
                continue;
            }
            if let Some((_, j)) = seen.iter().find(|(s, _)| s == n) {
                self.add(&w, format!("duplicate {} name {} (also {})", what, quote(n), at(section, *j)));
                continue;
            }
            seen.push((n, i));
        }
    }
}

impl Defn {
    fn validate(&self, p: &mut Problems) {
        if !self.name.is_empty() {
            if let Some(msg) = name_problem(&self.name) {
                p.add("name", msg);
            }
        }
        let depot_names: Vec<&str> = self.depots.iter().map(|d| d.name.as_str()).collect();
        p.names("depots", "depot", &depot_names, "name");
        for (i, d) in self.depots.iter().enumerate() {
            let w = join(&at("depots", i), "partitioner");
            match d.kind.as_str() {
                "hash" => {
                    if let Some(k) = &d.key {
                        if let Err(e) = k.validate(PathMode::Select) {
                            p.add(&join(&w, "key"), trim_squall(&e.to_string()));
                        }
                    }
                }
                "random" | "disallow" | "tick" => {
                    if d.key.as_ref().map_or(false, |k| !k.is_empty()) {
                        p.add(&join(&w, "key"), "only a hash partitioner takes a key path".into());
                    }
                    if d.kind == "tick" && !(1..=MAX_TICK_MILLIS).contains(&d.millis) {
                        p.add(
                            &join(&w, "millis"),
                            format!("is {}; the tick period must be from 1 to {} milliseconds", d.millis, MAX_TICK_MILLIS),
                        );
                    }
                }
                k => p.add(
                    &join(&w, "kind"),
                    format!("unknown depot partitioner {}; use \"hash\", \"random\", \"disallow\" or \"tick\"", quote(k)),
                ),
            }
        }
        let ps_names: Vec<&str> = self.pstates.iter().map(|s| s.name.as_str()).collect();
        p.names("pstates", "PState", &ps_names, "name");
        for (i, ps) in self.pstates.iter().enumerate() {
            if let Some(s) = &ps.schema {
                s.check(p, &join(&at("pstates", i), "schema"), 1, true);
            }
        }
        let topo_names: Vec<&str> = self.topologies.iter().map(|t| t.name.as_str()).collect();
        p.names("topologies", "topology", &topo_names, "name");
        for (i, t) in self.topologies.iter().enumerate() {
            let w = at("topologies", i);
            match t.kind.as_str() {
                "stream" => {
                    if t.max_records != 0 {
                        p.add(&join(&w, "max_records"), "only microbatch topologies take max_records".into());
                    }
                    if t.interval_ms != 0 {
                        p.add(&join(&w, "interval_ms"), "only microbatch topologies take interval_ms".into());
                    }
                }
                "microbatch" => {}
                k => p.add(&join(&w, "kind"), format!("unknown topology kind {}; use \"stream\" or \"microbatch\"", quote(k))),
            }
            if t.stages.is_empty() {
                p.add(&join(&w, "stages"), "a topology needs at least one stage".into());
            }
            let stage_names: Vec<&str> = t.stages.iter().map(|s| s.as_str()).collect();
            p.names(&join(&w, "stages"), "stage", &stage_names, "");
            if t.sources.is_empty() {
                p.add(
                    &join(&w, "sources"),
                    "a topology needs at least one source {\"depot\": ..., \"stage\": ...}".into(),
                );
            }
            let mut seen: Vec<(&(String, String), usize)> = Vec::new();
            for (j, s) in t.sources.iter().enumerate() {
                let sw = at(&join(&w, "sources"), j);
                if !depot_names.contains(&s.0.as_str()) {
                    let mut msg = format!("unknown depot {}; ", quote(&s.0));
                    if self.depots.is_empty() {
                        msg.push_str("the module declares no depots");
                    } else {
                        msg.push_str(&format!("declared depots: {}", quote_list(&depot_names)));
                    }
                    p.add(&join(&sw, "depot"), msg);
                }
                if !stage_names.contains(&s.1.as_str()) {
                    let mut msg = format!("unknown stage {}; ", quote(&s.1));
                    if t.stages.is_empty() {
                        msg.push_str("the topology declares no stages");
                    } else {
                        msg.push_str(&format!("stages of topology {}: {}", quote(&t.name), quote_list(&stage_names)));
                    }
                    p.add(&join(&sw, "stage"), msg);
                }
                if let Some((_, k)) = seen.iter().find(|(x, _)| *x == s) {
                    p.add(&sw, format!("duplicate source (also {})", at(&join(&w, "sources"), *k)));
                } else {
                    seen.push((s, j));
                }
            }
        }
        for (i, ps) in self.pstates.iter().enumerate() {
            if ps.owner.is_empty() || topo_names.contains(&ps.owner.as_str()) {
                continue;
            }
            let mut msg = format!("unknown topology {}; ", quote(&ps.owner));
            if self.topologies.is_empty() {
                msg.push_str("the module declares no topologies");
            } else {
                msg.push_str(&format!("declared topologies: {}", quote_list(&topo_names)));
            }
            p.add(&join(&at("pstates", i), "owner"), msg);
        }
        let q_names: Vec<&str> = self.queries.iter().map(|q| q.name.as_str()).collect();
        p.names("queries", "query", &q_names, "name");
        for (i, q) in self.queries.iter().enumerate() {
            let w = at("queries", i);
            if topo_names.contains(&q.name.as_str()) {
                p.add(
                    &join(&w, "name"),
                    format!("query name {} is also a topology name; queries and topologies need distinct names", quote(&q.name)),
                );
            }
            if q.args.len() > MAX_QUERY_ARGS {
                p.add(&join(&w, "args"), format!("has {} arguments; the limit is {}", q.args.len(), MAX_QUERY_ARGS));
            }
            let args: Vec<&str> = q.args.iter().map(|s| s.as_str()).collect();
            p.names(&join(&w, "args"), "argument", &args, "");
            if q.stages.is_empty() {
                p.add(&join(&w, "stages"), "a query needs at least one stage (the first is its entry)".into());
            }
            let stages: Vec<&str> = q.stages.iter().map(|s| s.as_str()).collect();
            p.names(&join(&w, "stages"), "stage", &stages, "");
        }
    }
}

pub(crate) fn trim_squall(s: &str) -> String {
    s.strip_prefix("squall: ").unwrap_or(s).to_string()
}
