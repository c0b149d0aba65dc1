//! The fake host's path engine: selects and transforms on in-memory values
//! with the semantics of the host's PState engine (the Squall repository's
//! `storage/inmem.go`), including its schema checks, and the restrictions
//! of its storage layout (whole subindexed collections are not returned).
//! `storage/testdata/pstate` checks it against the host (see the tests).

use std::cmp::Ordering;
use std::fmt;

use super::schema::*;
use crate::path::{FilterOp, Path, PathError, PathMode, Step, ViewFn};
use crate::schema::SNode;
use crate::value::{Kind, Value, ValueMap, ValueSet};

/// A parsed path with the texts the host's messages quote.
pub(crate) struct Steps {
    pub steps: Vec<Step>,
    pub texts: Vec<String>,
    pub path: String,
}

/// Decodes the ABI form of a path, which must be valid for mode. On error,
/// the error and the path's text.
pub(crate) fn path_steps(v: &Value, mode: PathMode) -> Result<Steps, (PathError, String)> {
    let p = match Path::parse(v) {
        Ok(p) => p,
        Err(e) => return Err((e, String::new())),
    };
    if let Err(e) = p.validate(mode) {
        return Err((e, p.to_string()));
    }
    let texts = p.steps.iter().map(|s| s.to_string()).collect();
    let path = p.to_string();
    Ok(Steps { steps: p.steps, texts, path })
}

/// A path that could not run; its message is the host's.
#[derive(Debug)]
pub(crate) struct PathErr {
    pub step: i64,
    pub nav: String,
    pub at: String,
    pub msg: String,
    pub path: String,
    /// A value did not fit the schema (ESCHEMA).
    pub schema: bool,
}

impl fmt::Display for PathErr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.step >= 0 {
            write!(f, "step {} {}", self.step, self.nav)?;
        } else {
            f.write_str("path")?;
        }
        if !self.at.is_empty() {
            write!(f, " at {}", self.at)?;
        }
        write!(f, ": {}", self.msg)?;
        if !self.path.is_empty() && self.step >= 0 {
            write!(f, " (in path {})", self.path)?;
        }
        Ok(())
    }
}

/// A path that failed Path::parse or validate, rendered as the host does.
pub(crate) fn host_path_error(e: &PathError, path: &str) -> PathErr {
    PathErr { step: e.step, nav: e.nav.clone(), at: String::new(), msg: e.msg.clone(), path: path.to_string(), schema: false }
}

type R<T> = Result<T, PathErr>;

struct Engine<'a> {
    steps: &'a [Step],
    texts: &'a [String],
    path: &'a str,
    stack: Vec<Value>,
    /// For PStates: whether places are stored as separate storage keys, to
    /// refuse what the host refuses; off for plain values.
    nodes: bool,
}

fn op_name(s: &Step) -> &'static str {
    s.name()
}

impl<'a> Engine<'a> {
    fn loc(&self) -> String {
        loc_string(&self.stack)
    }

    fn errf(&self, i: usize, msg: String) -> PathErr {
        PathErr {
            step: i as i64,
            nav: self.texts[i].clone(),
            at: self.loc(),
            msg,
            path: self.path.to_string(),
            schema: false,
        }
    }

    fn schema_err(&self, i: usize, se: SchemaError) -> PathErr {
        PathErr { step: i as i64, nav: self.texts[i].clone(), at: self.loc(), msg: se.msg, path: self.path.to_string(), schema: true }
    }

    fn applies(&self, v: &Value, s: S<'_>, i: usize) -> R<()> {
        if let Some(msg) = nav_applies(s, &self.steps[i]) {
            return Err(self.errf(i, msg));
        }
        if let Some(msg) = nav_applies_to_kind(v, &self.steps[i]) {
            return Err(self.errf(i, msg));
        }
        Ok(())
    }
}

fn nav_applies(s: S<'_>, n: &Step) -> Option<String> {
    let t = t(s);
    if t.is_empty() || t == "any" {
        return None;
    }
    let (ok, want) = match n {
        Step::Key(_) | Step::MustKey(_) => (t == "map" || t == "record" || t == "set", "maps, records and sets"),
        Step::MapVals | Step::MapKeys => (t == "map" || t == "record", "maps and records"),
        Step::All | Step::First | Step::Last => {
            (t == "map" || t == "record" || t == "set" || t == "list", "maps, records, sets and lists")
        }
        Step::Nth(_) => (t == "list", "lists"),
        Step::SortedRange(..) => (t == "map" || t == "set", "maps and sets (sorted by key)"),
        Step::Append(_) => (t == "list" || t == "set", "lists and sets"),
        Step::Prepend(_) => (t == "list", "lists"),
        Step::Merge(_) => (t == "map" || t == "record", "maps and records"),
        Step::Incr(_) => (t == "int" || t == "float", "ints and floats"),
        _ => return None,
    };
    if ok {
        return None;
    }
    Some(format!("the schema says {} here; {} applies to {}", text(s), op_name(n), want))
}

fn nav_applies_to_kind(v: &Value, n: &Step) -> Option<String> {
    let k = v.kind();
    if k == Kind::Nil {
        return None;
    }
    let is_coll = matches!(k, Kind::Map | Kind::Set | Kind::List);
    let (ok, want) = match n {
        Step::Key(_) | Step::MustKey(_) => (k == Kind::Map || k == Kind::Set, "maps, records and sets"),
        Step::MapVals | Step::MapKeys => (k == Kind::Map, "maps and records"),
        Step::All | Step::First | Step::Last => (is_coll, "maps, records, sets and lists"),
        Step::Nth(_) => (k == Kind::List, "lists"),
        Step::SortedRange(..) => (k == Kind::Map || k == Kind::Set, "maps and sets"),
        Step::Append(_) => (k == Kind::List || k == Kind::Set, "lists and sets"),
        Step::Prepend(_) => (k == Kind::List, "lists"),
        Step::Merge(_) => (k == Kind::Map, "maps and records"),
        Step::Incr(_) => (k == Kind::Int || k == Kind::Float, "ints and floats"),
        Step::View(f) => (
            *f != ViewFn::Size || is_coll,
            "maps, records, sets and lists (view(count) counts any value)",
        ),
        _ => return None,
    };
    if ok {
        return None;
    }
    Some(format!("found {} {}; {} applies to {}", k, short_value(v), op_name(n), want))
}

// ---- filters ----

fn filter_match(op: Option<FilterOp>, v: &Value, arg: &Value) -> bool {
    let op = match op {
        None => return !v.is_nil(),
        Some(op) => op,
    };
    let c = compare_for_filter(v, arg);
    match op {
        FilterOp::Eq => c == Some(Ordering::Equal),
        FilterOp::Ne => c != Some(Ordering::Equal),
        FilterOp::Lt => c == Some(Ordering::Less),
        FilterOp::Le => matches!(c, Some(Ordering::Less | Ordering::Equal)),
        FilterOp::Gt => c == Some(Ordering::Greater),
        FilterOp::Ge => matches!(c, Some(Ordering::Greater | Ordering::Equal)),
    }
}

fn compare_for_filter(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(i), Value::Float(f)) => compare_int_float(*i, *f),
        (Value::Float(f), Value::Int(i)) => compare_int_float(*i, *f).map(Ordering::reverse),
        (Value::Float(x), Value::Float(y)) => {
            if x.is_nan() || y.is_nan() {
                return if x.is_nan() && y.is_nan() { Some(Ordering::Equal) } else { None };
            }
            Some(if x < y {
                Ordering::Less
            } else if x > y {
                Ordering::Greater
            } else {
                Ordering::Equal
            })
        }
        _ if a.kind() != b.kind() => None,
        _ => Some(a.cmp(b)),
    }
}

fn compare_int_float(i: i64, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    if f >= 9223372036854775808.0 {
        return Some(Ordering::Less);
    }
    if f < -9223372036854775808.0 {
        return Some(Ordering::Greater);
    }
    let t = f.trunc();
    let ti = t as i64;
    Some(if i < ti {
        Ordering::Less
    } else if i > ti {
        Ordering::Greater
    } else if f > t {
        Ordering::Less
    } else if f < t {
        Ordering::Greater
    } else {
        Ordering::Equal
    })
}

// ---- select ----

/// Runs the select path on root with schema s; node says whether root is a
/// stored node (a PState's top level).
pub(crate) fn select_value(root: &Value, s: S<'_>, p: &Steps, node: bool) -> R<Vec<Value>> {
    let mut m = Engine { steps: &p.steps, texts: &p.texts, path: &p.path, stack: vec![], nodes: node };
    let mut out = Vec::new();
    let n = node && (t(s) == "map" || exploded(s));
    m.sel(root, s, 0, &[], n, &mut out)?;
    Ok(out)
}

fn view_of(v: &Value) -> Value {
    match v.kind() {
        Kind::Nil => Value::Int(0),
        Kind::Map | Kind::Set | Kind::List => Value::Int(v.len() as i64),
        _ => Value::Int(1),
    }
}

fn list_index(i: i64, n: usize) -> Option<usize> {
    let i = if i < 0 { i + n as i64 } else { i };
    if i < 0 || i >= n as i64 {
        None
    } else {
        Some(i as usize)
    }
}

fn ordered_entries(m: &ValueMap) -> Vec<(Value, Value)> {
    let mut es: Vec<(Value, Value)> = m.entries().to_vec();
    es.sort_by(|a, b| a.0.cmp(&b.0));
    es
}

fn ordered_elems(s: &ValueSet) -> Vec<Value> {
    let mut es = s.as_slice().to_vec();
    es.sort();
    es
}

fn in_range(k: &Value, n: &Step) -> bool {
    if let Step::SortedRange(from, to, o) = n {
        if !from.is_nil() {
            let c = k.cmp(from);
            if c == Ordering::Less || c == Ordering::Equal && o.exclude_from {
                return false;
            }
        }
        if !to.is_nil() {
            let c = k.cmp(to);
            if c == Ordering::Greater || c == Ordering::Equal && !o.include_to {
                return false;
            }
        }
    }
    true
}

fn range_limit(n: &Step) -> u32 {
    match n {
        Step::SortedRange(_, _, o) => o.limit,
        _ => 0,
    }
}

fn range_reverse(n: &Step) -> bool {
    match n {
        Step::SortedRange(_, _, o) => o.reverse,
        _ => false,
    }
}

impl<'a> Engine<'a> {
    /// Runs steps from i on v. rng holds the sorted ranges that made v;
    /// node says whether v is a separately stored place of a PState.
    fn sel(&mut self, v: &Value, s: S<'_>, i: usize, rng: &[&'a Step], node: bool, out: &mut Vec<Value>) -> R<()> {
        if i == self.steps.len() {
            if node && i > 0 {
                self.whole_node(s, i - 1, rng)?;
            }
            out.push(v.clone());
            return Ok(());
        }
        let steps = self.steps;
        let n = &steps[i];
        self.applies(v, s, i)?;
        match n {
            Step::Key(k) | Step::MustKey(k) => {
                let must = matches!(n, Step::MustKey(_));
                let cs = child_schema(s, k, &self.loc()).map_err(|se| self.schema_err(i, se))?;
                if !self.key_in_range(rng, i)? {
                    return Ok(());
                }
                let child_node = node && exploded(cs);
                if v.kind() == Kind::Set || v.is_nil() && t(s) == "set" {
                    if !v.has(k) {
                        return Ok(());
                    }
                    return self.sel(k, cs, i + 1, &[], false, out);
                }
                if let Value::Map(m) = v {
                    let c = m.get(k);
                    if c.is_none() && must {
                        return Ok(());
                    }
                    let c = c.cloned().unwrap_or(Value::Nil);
                    self.stack.push(k.clone());
                    let r = self.sel(&c, cs, i + 1, &[], child_node, out);
                    self.stack.pop();
                    return r;
                }
                if must {
                    return Ok(());
                }
                self.stack.push(k.clone());
                let r = self.sel(&Value::Nil, cs, i + 1, &[], child_node, out);
                self.stack.pop();
                r
            }
            Step::MapVals | Step::MapKeys | Step::All | Step::First | Step::Last => {
                for (k, c, cs) in self.each(v, s, n, rng) {
                    match (n, v) {
                        (Step::MapKeys, _) => self.sel(&k, key_schema(s), i + 1, &[], false, out)?,
                        (Step::MapVals, Value::Map(_)) | (_, Value::List(_)) => {
                            self.stack.push(k.clone());
                            let r = self.sel(&c, cs, i + 1, &[], node && exploded(cs), out);
                            self.stack.pop();
                            r?
                        }
                        (_, Value::Map(_)) => {
                            if node && exploded(cs) {
                                return Err(self.errf(i, format!("{} navigates [key, value] entries, and the values here are subindexed (not returned whole); use mapKeys() or mapVals()", op_name(n))));
                            }
                            self.sel(&Value::List(vec![k, c]), None, i + 1, &[], false, out)?
                        }
                        _ => self.sel(&c, cs, i + 1, &[], false, out)?,
                    }
                }
                Ok(())
            }
            Step::Nth(idx) => {
                if v.is_nil() {
                    return Ok(());
                }
                let j = match list_index(*idx, v.len()) {
                    Some(j) => j,
                    None => return Ok(()),
                };
                self.stack.push(Value::Int(j as i64));
                let es = elem_s(s);
                let r = self.sel(v.index(j), es, i + 1, &[], node && exploded(es), out);
                self.stack.pop();
                r
            }
            Step::SortedRange(..) => {
                if node && rng.iter().any(|r| range_limit(r) > 0) && exploded(s) {
                    return Err(self.errf(i, "a sortedRange inside a sortedRange with a limit is not supported on a subindexed collection; combine the two into one range".into()));
                }
                let sub = self.sub_range(v, s, i)?;
                let mut r2: Vec<&'a Step> = rng.to_vec();
                r2.push(&steps[i]);
                self.sel(&sub, s, i + 1, &r2, node, out)
            }
            Step::Filter(op, arg) => {
                if node && op.is_some() {
                    return Err(self.errf(
                        i,
                        format!(
                            "filter({}) cannot compare a whole subindexed {}; navigate into it first (all, mapVals, view(size))",
                            op.unwrap().name(),
                            t(s)
                        ),
                    ));
                }
                if !filter_match(*op, v, arg) {
                    return Ok(());
                }
                self.sel(v, s, i + 1, rng, node, out)
            }
            Step::NilToVal(a) => {
                if v.is_nil() {
                    return self.sel(a, s, i + 1, rng, false, out);
                }
                self.sel(v, s, i + 1, rng, node, out)
            }
            Step::View(_) => self.sel(&view_of(v), Some(int_schema()), i + 1, &[], false, out),
            _ => Err(self.errf(i, format!("{} is not a navigator", op_name(n)))),
        }
    }

    /// Refuses a select that ends at a stored node, which the host does not
    /// return whole (a sorted range of one is materialized, unless its
    /// values are stored nodes too).
    fn whole_node(&self, s: S<'_>, i: usize, rng: &[&Step]) -> R<()> {
        if !rng.is_empty() {
            if t(s) == "map" && exploded(s.and_then(|s| s.val.as_deref())) {
                return Err(self.errf(i, "the range holds subindexed values, which are not returned whole; navigate into them (mapVals, mapKeys)".into()));
            }
            return Ok(());
        }
        let what = if self.stack.is_empty() && t(s) == "map" {
            "the whole top-level map of the partition".to_string()
        } else if t(s) == "record" {
            "a record with subindexed fields".to_string()
        } else {
            format!("a subindexed {}", t(s))
        };
        Err(self.errf(i, format!("the path ends at {}, which is not returned whole; navigate into it (key, mustKey, all, mapVals, mapKeys, sortedRange, view(size))", what)))
    }

    /// The elements op navigates to: maps and sets in value order
    /// (descending after a reversed range), lists in order; each as (key,
    /// child, child schema).
    fn each<'s>(&self, v: &Value, s: S<'s>, op: &Step, rng: &[&Step]) -> Vec<(Value, Value, S<'s>)> {
        let mut desc = rng.last().map_or(false, |r| range_reverse(r));
        let mut elems: Vec<(Value, Value)> = match v {
            Value::Map(m) => ordered_entries(m),
            Value::Set(st) => ordered_elems(st).into_iter().map(|e| (e.clone(), e)).collect(),
            Value::List(l) => {
                desc = false;
                l.iter().enumerate().map(|(j, it)| (Value::Int(j as i64), it.clone())).collect()
            }
            _ => return vec![],
        };
        if desc {
            elems.reverse();
        }
        match op {
            Step::First => elems.truncate(1),
            Step::Last => {
                let n = elems.len();
                if n > 1 {
                    elems.drain(..n - 1);
                }
            }
            _ => {}
        }
        elems
            .into_iter()
            .map(|(k, c)| {
                let cs = val_schema(s, &k);
                (k, c, cs)
            })
            .collect()
    }

    fn key_in_range(&self, rng: &[&Step], i: usize) -> R<bool> {
        if rng.iter().any(|r| range_limit(r) > 0) {
            return Err(self.errf(
                i,
                format!(
                    "{} right after a sortedRange with a limit is not supported; apply the key to the collection itself",
                    op_name(&self.steps[i])
                ),
            ));
        }
        let k = match &self.steps[i] {
            Step::Key(k) | Step::MustKey(k) => k,
            _ => return Ok(true),
        };
        Ok(rng.iter().all(|r| in_range(k, r)))
    }

    fn sub_range(&self, v: &Value, s: S<'_>, i: usize) -> R<Value> {
        let n = &self.steps[i];
        let (limit, reverse) = (range_limit(n) as usize, range_reverse(n));
        let cut = |len: usize| -> (usize, usize) {
            if limit > 0 && len > limit {
                if reverse {
                    (len - limit, len)
                } else {
                    (0, limit)
                }
            } else {
                (0, len)
            }
        };
        match v {
            Value::Nil => Ok(empty_of(s)),
            Value::Map(m) => {
                let out: Vec<(Value, Value)> = ordered_entries(m).into_iter().filter(|e| in_range(&e.0, n)).collect();
                let (a, b) = cut(out.len());
                Ok(Value::Map(out[a..b].iter().cloned().collect()))
            }
            Value::Set(st) => {
                let out: Vec<Value> = ordered_elems(st).into_iter().filter(|e| in_range(e, n)).collect();
                let (a, b) = cut(out.len());
                Ok(Value::Set(out[a..b].iter().cloned().collect()))
            }
            v => Err(self.errf(i, format!("found {}; sortedRange applies to maps and sets", v.kind()))),
        }
    }
}

// ---- transform ----

/// The result of transforming one place.
struct X {
    v: Value,
    removed: bool,
    changed: bool,
}

fn same(v: &Value) -> X {
    X { v: v.clone(), removed: false, changed: false }
}

/// Runs the transform path on root with schema s and returns the new value
/// (nil when removed).
pub(crate) fn transform_value(root: &Value, s: S<'_>, p: &Steps, node: bool) -> R<Value> {
    let mut m = Engine { steps: &p.steps, texts: &p.texts, path: &p.path, stack: vec![], nodes: node };
    let r = m.xf(root, s, 0, &[])?;
    if r.removed {
        return Ok(Value::Nil);
    }
    Ok(r.v)
}

impl<'a> Engine<'a> {
    fn xf(&mut self, v: &Value, s: S<'_>, i: usize, rng: &[&'a Step]) -> R<X> {
        let steps = self.steps;
        let n = &steps[i];
        self.applies(v, s, i)?;
        match n {
            Step::Set(a) => {
                check_value(s, a, &self.loc()).map_err(|se| self.schema_err(i, se))?;
                Ok(X { v: a.clone(), removed: false, changed: v != a })
            }
            Step::Remove => Ok(X { v: Value::Nil, removed: true, changed: true }),
            Step::Incr(_) => {
                let nv = self.incr(v, s, i)?;
                let changed = *v != nv;
                Ok(X { v: nv, removed: false, changed })
            }
            Step::Append(_) | Step::Prepend(_) => self.add_items(v, s, i),
            Step::Merge(_) => self.merge(v, s, i),
            Step::Key(_) | Step::MustKey(_) => self.xf_key(v, s, i, rng),
            Step::MapVals | Step::MapKeys | Step::All | Step::First | Step::Last => self.xf_each(v, s, i, rng),
            Step::Nth(idx) => {
                if v.is_nil() {
                    return Err(self.errf(i, format!("nth({}) is out of range: there is no list here; use append or prepend to add items", idx)));
                }
                match list_index(*idx, v.len()) {
                    Some(j) => self.xf_list(v, s, i, &[j]),
                    None => Err(self.errf(
                        i,
                        format!("nth({}) is out of range: the list has {} items; use append or prepend to add items", idx, v.len()),
                    )),
                }
            }
            Step::SortedRange(..) => self.xf_range(v, s, i, rng),
            Step::Filter(op, arg) => {
                if self.nodes && op.is_some() && exploded(s) {
                    return Err(self.errf(
                        i,
                        format!(
                            "filter({}) cannot compare a whole subindexed {}; navigate into it first (all, mapVals)",
                            op.unwrap().name(),
                            t(s)
                        ),
                    ));
                }
                if !filter_match(*op, v, arg) {
                    return Ok(same(v));
                }
                self.xf(v, s, i + 1, rng)
            }
            Step::NilToVal(a) => {
                if !v.is_nil() {
                    return self.xf(v, s, i + 1, rng);
                }
                let r = self.xf(a, s, i + 1, rng)?;
                if !r.removed {
                    check_value(s, &r.v, &self.loc()).map_err(|se| self.schema_err(i, se))?;
                }
                let changed = !r.removed || r.changed;
                Ok(X { v: r.v, removed: r.removed, changed })
            }
            _ => Err(self.errf(i, format!("{} cannot appear in a transform", op_name(n)))),
        }
    }

    fn incr(&self, v: &Value, s: S<'_>, i: usize) -> R<Value> {
        let amt = match &self.steps[i] {
            Step::Incr(a) => a,
            _ => unreachable!(),
        };
        let (ai, a_is_int) = match amt {
            Value::Int(x) => (*x, true),
            _ => (0, false),
        };
        let af = match amt {
            Value::Int(x) => *x as f64,
            Value::Float(f) => *f,
            _ => 0.0,
        };
        let float_result = !a_is_int || t(s) == "float" || v.kind() == Kind::Float;
        if float_result && t(s) == "int" {
            return Err(self.errf(i, format!("the schema says int here; incr by a float ({}) would store a float; incr by an int", amt)));
        }
        match v {
            Value::Nil => Ok(if float_result { Value::Float(af) } else { Value::Int(ai) }),
            Value::Int(x) => {
                if float_result {
                    return Ok(Value::Float(*x as f64 + af));
                }
                match x.checked_add(ai) {
                    Some(sum) => Ok(Value::Int(sum)),
                    None => Err(self.errf(i, format!("{} + {} overflows a 64-bit int", x, ai))),
                }
            }
            Value::Float(x) => Ok(Value::Float(x + af)),
            v => Err(self.errf(
                i,
                format!("found {} {}; incr applies to ints and floats (and nil, counted as 0)", v.kind(), short_value(v)),
            )),
        }
    }

    fn add_items(&self, v: &Value, s: S<'_>, i: usize) -> R<X> {
        let (items, prepend) = match &self.steps[i] {
            Step::Append(x) => (x, false),
            Step::Prepend(x) => (x, true),
            _ => unreachable!(),
        };
        let es = elem_s(s);
        let is_set = v.kind() == Kind::Set || v.is_nil() && t(s) == "set";
        for (j, it) in items.iter().enumerate() {
            let r = if is_set {
                check_key(es, it, &self.loc())
            } else {
                check_value(es, it, &format!("{}[{}]", self.loc(), v.len() + j))
            };
            r.map_err(|se| self.schema_err(i, se))?;
        }
        if self.nodes && exploded(s) && t(s) == "list" && exploded(es) && items.iter().any(|it| it.is_nil()) {
            return Err(self.errf(
                i,
                format!(
                    "the items of this list are subindexed {}s, which cannot be nil; add an empty {}",
                    t(es),
                    t(es)
                ),
            ));
        }
        if is_set {
            if prepend {
                return Err(self.errf(i, "prepend applies to lists; use append to add to a set".into()));
            }
            if items.is_empty() {
                return Ok(same(v));
            }
            let mut set = v.as_set().cloned().unwrap_or_default();
            let mut added = false;
            for it in items {
                added |= set.insert(it.clone());
            }
            if !added && !v.is_nil() {
                return Ok(same(v));
            }
            return Ok(X { v: Value::Set(set), removed: false, changed: true });
        }
        if items.is_empty() {
            return Ok(same(v));
        }
        let old = v.items();
        let mut out = Vec::with_capacity(old.len() + items.len());
        if prepend {
            out.extend(items.iter().cloned());
            out.extend(old.iter().cloned());
        } else {
            out.extend(old.iter().cloned());
            out.extend(items.iter().cloned());
        }
        Ok(X { v: Value::List(out), removed: false, changed: true })
    }

    fn merge(&self, v: &Value, s: S<'_>, i: usize) -> R<X> {
        let arg = match &self.steps[i] {
            Step::Merge(a) => a,
            _ => unreachable!(),
        };
        let mut w = WorkMap::new(v);
        let mut changed = false;
        if let Value::Map(am) = arg {
            for (k, val) in ordered_entries(am) {
                let cs = child_schema(s, &k, &self.loc()).map_err(|se| self.schema_err(i, se))?;
                let mut st = self.stack.clone();
                st.push(k.clone());
                check_value(cs, &val, &loc_string(&st)).map_err(|se| self.schema_err(i, se))?;
                if w.set_entry(&k, &val) {
                    changed = true;
                }
            }
        }
        if !changed {
            return Ok(same(v));
        }
        Ok(X { v: w.value(), removed: false, changed: true })
    }

    fn xf_key(&mut self, v: &Value, s: S<'_>, i: usize, rng: &[&'a Step]) -> R<X> {
        let (k, must) = match &self.steps[i] {
            Step::Key(k) => (k, false),
            Step::MustKey(k) => (k, true),
            _ => unreachable!(),
        };
        let cs = child_schema(s, k, &self.loc()).map_err(|se| self.schema_err(i, se))?;
        if !self.key_in_range(rng, i)? {
            return Ok(same(v));
        }
        if v.kind() == Kind::Set || v.is_nil() && t(s) == "set" {
            if !v.has(k) {
                return Ok(same(v));
            }
            return self.xf_set_elems(v, s, i, std::slice::from_ref(k));
        }
        let old = v.get(k).cloned();
        let present = old.is_some();
        if !present && must {
            return Ok(same(v));
        }
        self.stack.push(k.clone());
        let r = self.xf(&old.unwrap_or(Value::Nil), cs, i + 1, &[]);
        self.stack.pop();
        let r = r?;
        if !r.changed {
            return Ok(same(v));
        }
        let gone = r.removed || r.v.is_nil();
        let mut w = WorkMap::new(v);
        if !present && gone {
            return Ok(same(v));
        } else if gone {
            w.del(k);
        } else {
            w.set(k, r.v);
        }
        Ok(X { v: w.value(), removed: false, changed: true })
    }

    fn xf_each(&mut self, v: &Value, s: S<'_>, i: usize, rng: &[&'a Step]) -> R<X> {
        let op = &self.steps[i];
        match v {
            Value::Nil => Ok(same(v)),
            Value::List(l) => {
                let mut idx: Vec<usize> = (0..l.len()).collect();
                match op {
                    Step::First => idx.truncate(1),
                    Step::Last => {
                        let n = idx.len();
                        if n > 1 {
                            idx.drain(..n - 1);
                        }
                    }
                    _ => {}
                }
                self.xf_list(v, s, i, &idx)
            }
            Value::Set(_) => {
                let elems: Vec<Value> = self.each(v, s, op, rng).into_iter().map(|(k, _, _)| k).collect();
                self.xf_set_elems(v, s, i, &elems)
            }
            _ => {
                let keys: Vec<Value> = self.each(v, s, op, rng).into_iter().map(|(k, _, _)| k).collect();
                self.xf_map_entries(v, s, i, &keys)
            }
        }
    }

    fn xf_list(&mut self, v: &Value, s: S<'_>, i: usize, idx: &[usize]) -> R<X> {
        let items = v.items();
        let mut out: Vec<Value> = Vec::with_capacity(items.len());
        let mut changed = false;
        let mut next = 0;
        let es = elem_s(s);
        for &j in idx {
            out.extend(items[next..j].iter().cloned());
            next = j + 1;
            self.stack.push(Value::Int(out.len() as i64));
            let r = self.xf(&items[j], es, i + 1, &[]);
            self.stack.pop();
            let r = r?;
            if r.removed {
                changed = true;
                continue;
            }
            if r.changed && r.v.is_nil() && self.nodes && exploded(s) && exploded(es) {
                return Err(self.errf(
                    i,
                    format!(
                        "the items of this list are subindexed {}s, which cannot be nil; set an empty {} or remove the item",
                        t(es),
                        t(es)
                    ),
                ));
            }
            changed = changed || r.changed;
            out.push(r.v);
        }
        if !changed {
            return Ok(same(v));
        }
        out.extend(items[next..].iter().cloned());
        Ok(X { v: Value::List(out), removed: false, changed: true })
    }

    fn xf_set_elems(&mut self, v: &Value, s: S<'_>, i: usize, elems: &[Value]) -> R<X> {
        let es = if t(s) == "set" { elem_s(s) } else { None };
        let mut removed: Vec<Value> = vec![];
        let mut added: Vec<Value> = vec![];
        for e in elems {
            let r = self.xf(e, es, i + 1, &[])?;
            if !r.changed {
                continue;
            }
            if r.removed || r.v.is_nil() {
                removed.push(e.clone());
                continue;
            }
            check_key(es, &r.v, &self.loc()).map_err(|se| self.schema_err(i, se))?;
            removed.push(e.clone());
            added.push(r.v);
        }
        if removed.is_empty() && added.is_empty() {
            return Ok(same(v));
        }
        let mut out: Vec<Value> = v.items().iter().filter(|e| !removed.contains(e)).cloned().collect();
        out.extend(added);
        Ok(X { v: Value::Set(out.into_iter().collect()), removed: false, changed: true })
    }

    fn xf_map_entries(&mut self, v: &Value, s: S<'_>, i: usize, keys: &[Value]) -> R<X> {
        let steps = self.steps;
        let op = &steps[i];
        let mut w = WorkMap::new(v);
        let mut changed = false;
        for k in keys {
            let old = match w.get(k) {
                Some(o) => o,
                None => continue,
            };
            let r = match op {
                Step::MapVals => {
                    self.stack.push(k.clone());
                    let r = self.xf(&old, val_schema(s, k), i + 1, &[]);
                    self.stack.pop();
                    r
                }
                Step::MapKeys => self.xf(k, key_schema(s), i + 1, &[]),
                _ => {
                    if self.nodes && exploded(val_schema(s, k)) {
                        return Err(self.errf(i, format!("{} navigates [key, value] entries, and the values here are subindexed (not returned whole); use mapKeys() or mapVals()", op_name(op))));
                    }
                    self.xf(&Value::List(vec![k.clone(), old.clone()]), None, i + 1, &[])
                }
            }?;
            if !r.changed {
                continue;
            }
            changed = true;
            if let Step::MapVals = op {
                if r.removed || r.v.is_nil() {
                    w.del(k);
                } else {
                    w.set(k, r.v);
                }
                continue;
            }
            if r.removed || r.v.is_nil() {
                w.del(k);
                continue;
            }
            let (nk, nv) = if let Step::MapKeys = op {
                (r.v, old.clone())
            } else {
                match &r.v {
                    Value::List(l) if l.len() == 2 => (l[0].clone(), l[1].clone()),
                    _ => {
                        return Err(self.errf(
                            i,
                            format!(
                                "{} on a map navigates [key, value] entries; the transform made {}; set a [key, value] list or remove the entry",
                                op_name(op),
                                short_value(&r.v)
                            ),
                        ))
                    }
                }
            };
            let cs = child_schema(s, &nk, &self.loc()).map_err(|se| self.schema_err(i, se))?;
            let mut st = self.stack.clone();
            st.push(nk.clone());
            check_value(cs, &nv, &loc_string(&st)).map_err(|se| self.schema_err(i, se))?;
            if self.nodes && t(s) == "record" && matches!(op, Step::MapKeys) && nk != *k {
                let fs = val_schema(s, k);
                if exploded(fs) && text(fs) != text(cs) {
                    return Err(self.errf(i, "mapKeys() cannot rename a subindexed field of a record to a field of another schema".into()));
                }
            }
            if nk == *k {
                w.set_entry(k, &nv);
                continue;
            }
            w.del(k);
            w.set_entry(&nk, &nv);
        }
        if !changed {
            return Ok(same(v));
        }
        Ok(X { v: w.value(), removed: false, changed: true })
    }

    fn xf_range(&mut self, v: &Value, s: S<'_>, i: usize, rng: &[&'a Step]) -> R<X> {
        let sub = self.sub_range(v, s, i)?;
        let mut r2: Vec<&'a Step> = rng.to_vec();
        r2.push(&self.steps[i]);
        let r = self.xf(&sub, s, i + 1, &r2)?;
        if !r.changed {
            return Ok(same(v));
        }
        let nsub = if r.removed { Value::Nil } else { r.v };
        check_value(s, &nsub, &self.loc()).map_err(|se| self.schema_err(i, se))?;
        if !nsub.is_nil() && nsub.kind() != sub.kind() && !sub.is_nil() {
            return Err(self.errf(
                i,
                format!(
                    "the transform replaced a sorted range of a {} with {} {}; set a {} or remove the range",
                    sub.kind(),
                    nsub.kind(),
                    short_value(&nsub),
                    sub.kind()
                ),
            ));
        }
        if sub == nsub || sub.is_empty() && nsub.is_nil() {
            return Ok(same(v));
        }
        if sub.kind() == Kind::Set || nsub.kind() == Kind::Set {
            let mut out: Vec<Value> = v.items().iter().filter(|e| !sub.has(e)).cloned().collect();
            out.extend(nsub.items().iter().cloned());
            return Ok(X { v: Value::Set(out.into_iter().collect()), removed: false, changed: true });
        }
        let mut w = WorkMap::new(v);
        if let Value::Map(m) = &sub {
            for (k, _) in m.iter() {
                w.del(k);
            }
        }
        if let Value::Map(m) = &nsub {
            for (k, val) in m.iter() {
                w.set(k, val.clone());
            }
        }
        Ok(X { v: w.value(), removed: false, changed: true })
    }
}

/// A map being edited.
struct WorkMap {
    m: ValueMap,
}

impl WorkMap {
    fn new(v: &Value) -> WorkMap {
        WorkMap { m: v.as_map().cloned().unwrap_or_default() }
    }
    fn get(&self, k: &Value) -> Option<Value> {
        self.m.get(k).cloned()
    }
    fn set(&mut self, k: &Value, v: Value) {
        self.m.insert(k.clone(), v);
    }
    fn del(&mut self, k: &Value) {
        self.m.remove(k);
    }
    /// Sets k to nv (nil removes it) and reports whether it changed.
    fn set_entry(&mut self, k: &Value, nv: &Value) -> bool {
        let old = self.m.get(k);
        match (old, nv.is_nil()) {
            (None, true) => false,
            (Some(_), true) => {
                self.m.remove(k);
                true
            }
            (Some(o), false) if o == nv => false,
            _ => {
                self.m.insert(k.clone(), nv.clone());
                true
            }
        }
    }
    fn value(self) -> Value {
        Value::Map(self.m)
    }
}

/// A stored partition of a PState's schema root node, as the host keeps
/// it: a top-level map keeps each top-level key apart, so that paths
/// starting with a key touch one entry; other PStates are one value.
#[derive(Clone)]
pub(crate) struct PStore {
    pub s: SNode,
    root_map: bool,
    entries: std::collections::BTreeMap<Vec<u8>, (Value, Value)>,
    val: Value,
}

/// The key of a path that starts with key or mustKey.
pub(crate) fn first_key(steps: &[Step]) -> Option<&Value> {
    match steps.first() {
        Some(Step::Key(k)) | Some(Step::MustKey(k)) => Some(k),
        _ => None,
    }
}

fn work_key(k: &Value) -> Vec<u8> {
    match k.encode() {
        Ok(b) => b,
        Err(_) => {
            let mut b = vec![0xff];
            b.extend_from_slice(k.to_string().as_bytes());
            b
        }
    }
}

/// An undo record of a transform.
#[derive(Clone)]
pub(crate) enum Undo {
    Val(Value),
    Entry(Vec<u8>, Option<(Value, Value)>),
    Entries(std::collections::BTreeMap<Vec<u8>, (Value, Value)>),
}

impl PStore {
    pub(crate) fn new(s: SNode) -> PStore {
        let root_map = s.typ == "map";
        PStore { s, root_map, entries: Default::default(), val: Value::Nil }
    }

    /// The whole partition: for a top-level map, the map of its keys (nil
    /// when it has none).
    pub(crate) fn value(&self) -> Value {
        if !self.root_map {
            return self.val.clone();
        }
        if self.entries.is_empty() {
            return Value::Nil;
        }
        Value::Map(self.entries.values().cloned().collect())
    }

    /// The value a path runs on: for a path that starts with a key of a
    /// top-level map, a map of that key alone.
    fn root(&self, steps: &[Step]) -> Value {
        if !self.root_map {
            return self.val.clone();
        }
        if let Some(k) = first_key(steps) {
            let mut m = ValueMap::new();
            if let Some((ek, ev)) = self.entries.get(&work_key(k)) {
                m.insert(ek.clone(), ev.clone());
            }
            return Value::Map(m);
        }
        self.value()
    }

    pub(crate) fn sel(&self, p: &Steps) -> R<Vec<Value>> {
        select_value(&self.root(&p.steps), Some(&self.s), p, true)
    }

    /// Applies a transform path and returns how to undo it.
    pub(crate) fn transform(&mut self, p: &Steps) -> Result<Undo, PathErr> {
        let nv = transform_value(&self.root(&p.steps), Some(&self.s), p, true)?;
        if !self.root_map {
            let old = std::mem::replace(&mut self.val, nv);
            return Ok(Undo::Val(old));
        }
        if let Some(k) = first_key(&p.steps) {
            let wk = work_key(k);
            let old = self.entries.get(&wk).cloned();
            match nv.get(k) {
                Some(v) => {
                    self.entries.insert(wk.clone(), (k.clone(), v.clone()));
                }
                None => {
                    self.entries.remove(&wk);
                }
            }
            return Ok(Undo::Entry(wk, old));
        }
        let m = match nv {
            Value::Map(m) => m,
            Value::Nil => ValueMap::new(),
            v => {
                return Err(PathErr {
                    step: -1,
                    nav: String::new(),
                    at: String::new(),
                    msg: format!("the transform replaced the top-level map with {}", v.kind()),
                    path: String::new(),
                    schema: false,
                })
            }
        };
        let new: std::collections::BTreeMap<Vec<u8>, (Value, Value)> =
            m.into_iter().map(|(k, v)| (work_key(&k), (k, v))).collect();
        let old = std::mem::replace(&mut self.entries, new);
        Ok(Undo::Entries(old))
    }

    pub(crate) fn undo(&mut self, u: Undo) {
        match u {
            Undo::Val(v) => self.val = v,
            Undo::Entry(wk, Some(e)) => {
                self.entries.insert(wk, e);
            }
            Undo::Entry(wk, None) => {
                self.entries.remove(&wk);
            }
            Undo::Entries(es) => self.entries = es,
        }
    }
}
