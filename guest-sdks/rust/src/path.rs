//! Paths: how stages read and write PStates, Specter style.

use std::fmt;

use crate::value::{Kind, Value, ValueMap};

/// The comparison of a [`Path::filter`] step.
///
/// Ordered comparisons match only values comparable with the operand: two
/// numbers (ints and floats compare numerically) or two values of the same
/// kind (in [`Value`]'s order). `Eq` and `Ne` compare numbers numerically
/// and other values with `==`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FilterOp {
    /// equal
    Eq,
    /// not equal
    Ne,
    /// less than
    Lt,
    /// less than or equal
    Le,
    /// greater than
    Gt,
    /// greater than or equal
    Ge,
}

impl FilterOp {
    /// eq, ne, lt, le, gt or ge.
    pub fn name(self) -> &'static str {
        match self {
            FilterOp::Eq => "eq",
            FilterOp::Ne => "ne",
            FilterOp::Lt => "lt",
            FilterOp::Le => "le",
            FilterOp::Gt => "gt",
            FilterOp::Ge => "ge",
        }
    }

    fn from_name(s: &str) -> Option<FilterOp> {
        Some(match s {
            "eq" => FilterOp::Eq,
            "ne" => FilterOp::Ne,
            "lt" => FilterOp::Lt,
            "le" => FilterOp::Le,
            "gt" => FilterOp::Gt,
            "ge" => FilterOp::Ge,
            _ => return None,
        })
    }
}

/// The function of a [`Path::view`] step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ViewFn {
    /// The number of entries, elements or items of a map, set or list (0
    /// for nil); other values are an error. O(1) on subindexed
    /// collections.
    Size,
    /// Size that never fails: 0 for nil, the size of a collection, 1 for
    /// any other value.
    Count,
}

impl ViewFn {
    /// size or count.
    pub fn name(self) -> &'static str {
        match self {
            ViewFn::Size => "size",
            ViewFn::Count => "count",
        }
    }
}

/// The options of [`Path::sorted_range_with`]. The default: `from`
/// inclusive, `to` exclusive, no limit, ascending.
///
/// ```
/// use squall::{Path, RangeOpts};
/// let p = Path::new().key("alice").sorted_range_with((), 100, RangeOpts::new().limit(10).reverse());
/// assert_eq!(p.to_string(), r#"key("alice").sortedRange(open, 100, limit=10, reverse)"#);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RangeOpts {
    /// Leaves the `from` key out of the range.
    pub exclude_from: bool,
    /// Puts the `to` key in the range.
    pub include_to: bool,
    /// When positive, keeps the first `limit` keys of the range (the last
    /// `limit` when `reverse` is set).
    pub limit: u32,
    /// Walks the range from its high end: all, mapVals, mapKeys, first and
    /// last after it see the keys in descending order.
    pub reverse: bool,
}

impl RangeOpts {
    /// The default options.
    pub fn new() -> RangeOpts {
        RangeOpts::default()
    }
    /// Sets `exclude_from`.
    pub fn exclude_from(mut self) -> RangeOpts {
        self.exclude_from = true;
        self
    }
    /// Sets `include_to`.
    pub fn include_to(mut self) -> RangeOpts {
        self.include_to = true;
        self
    }
    /// Sets `limit`.
    pub fn limit(mut self, n: u32) -> RangeOpts {
        self.limit = n;
        self
    }
    /// Sets `reverse`.
    pub fn reverse(mut self) -> RangeOpts {
        self.reverse = true;
        self
    }
}

/// One step of a path.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Step {
    Key(Value),
    MustKey(Value),
    MapVals,
    All,
    First,
    Last,
    Nth(i64),
    SortedRange(Value, Value, RangeOpts),
    /// None: exists.
    Filter(Option<FilterOp>, Value),
    NilToVal(Value),
    View(ViewFn),
    MapKeys,
    Set(Value),
    Incr(Value),
    Append(Vec<Value>),
    Prepend(Vec<Value>),
    Remove,
    Merge(Value),
}

pub(crate) const OP_KEY: i64 = 1;
pub(crate) const OP_MUST_KEY: i64 = 2;
pub(crate) const OP_MAP_VALS: i64 = 3;
pub(crate) const OP_ALL: i64 = 4;
pub(crate) const OP_FIRST: i64 = 5;
pub(crate) const OP_LAST: i64 = 6;
pub(crate) const OP_NTH: i64 = 7;
pub(crate) const OP_SORTED_RANGE: i64 = 8;
pub(crate) const OP_FILTER: i64 = 9;
pub(crate) const OP_NIL_TO_VAL: i64 = 10;
pub(crate) const OP_VIEW: i64 = 11;
pub(crate) const OP_MAP_KEYS: i64 = 12;
pub(crate) const OP_SET: i64 = 32;
pub(crate) const OP_INCR: i64 = 33;
pub(crate) const OP_APPEND: i64 = 34;
pub(crate) const OP_PREPEND: i64 = 35;
pub(crate) const OP_REMOVE: i64 = 36;
pub(crate) const OP_MERGE: i64 = 37;

pub(crate) fn op_name(op: i64) -> Option<&'static str> {
    Some(match op {
        OP_KEY => "key",
        OP_MUST_KEY => "mustKey",
        OP_MAP_VALS => "mapVals",
        OP_ALL => "all",
        OP_FIRST => "first",
        OP_LAST => "last",
        OP_NTH => "nth",
        OP_SORTED_RANGE => "sortedRange",
        OP_FILTER => "filter",
        OP_NIL_TO_VAL => "nilToVal",
        OP_VIEW => "view",
        OP_MAP_KEYS => "mapKeys",
        OP_SET => "set",
        OP_INCR => "incr",
        OP_APPEND => "append",
        OP_PREPEND => "prepend",
        OP_REMOVE => "remove",
        OP_MERGE => "merge",
        _ => return None,
    })
}

impl Step {
    pub(crate) fn op(&self) -> i64 {
        match self {
            Step::Key(_) => OP_KEY,
            Step::MustKey(_) => OP_MUST_KEY,
            Step::MapVals => OP_MAP_VALS,
            Step::All => OP_ALL,
            Step::First => OP_FIRST,
            Step::Last => OP_LAST,
            Step::Nth(_) => OP_NTH,
            Step::SortedRange(..) => OP_SORTED_RANGE,
            Step::Filter(..) => OP_FILTER,
            Step::NilToVal(_) => OP_NIL_TO_VAL,
            Step::View(_) => OP_VIEW,
            Step::MapKeys => OP_MAP_KEYS,
            Step::Set(_) => OP_SET,
            Step::Incr(_) => OP_INCR,
            Step::Append(_) => OP_APPEND,
            Step::Prepend(_) => OP_PREPEND,
            Step::Remove => OP_REMOVE,
            Step::Merge(_) => OP_MERGE,
        }
    }

    pub(crate) fn name(&self) -> &'static str {
        op_name(self.op()).unwrap()
    }

    pub(crate) fn terminal(&self) -> bool {
        self.op() >= 32
    }

    fn value(&self) -> Value {
        let op = Value::Int(self.op());
        let mut items = vec![op];
        match self {
            Step::Key(a) | Step::MustKey(a) | Step::NilToVal(a) | Step::Set(a) | Step::Incr(a) | Step::Merge(a) => {
                items.push(a.clone())
            }
            Step::Nth(i) => items.push(Value::Int(*i)),
            Step::SortedRange(from, to, o) => {
                items.push(from.clone());
                items.push(to.clone());
                let mut m = ValueMap::new();
                if o.exclude_from {
                    m.insert("excludeFrom", true);
                }
                if o.include_to {
                    m.insert("includeTo", true);
                }
                if o.limit != 0 {
                    m.insert("limit", o.limit as i64);
                }
                if o.reverse {
                    m.insert("reverse", true);
                }
                if !m.is_empty() {
                    items.push(Value::Map(m));
                }
            }
            Step::Filter(None, _) => items.push("exists".into()),
            Step::Filter(Some(f), a) => {
                items.push(f.name().into());
                items.push(a.clone());
            }
            Step::View(f) => items.push(f.name().into()),
            Step::Append(vs) | Step::Prepend(vs) => items.extend(vs.iter().cloned()),
            Step::MapVals | Step::All | Step::First | Step::Last | Step::MapKeys | Step::Remove => {}
        }
        Value::List(items)
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.name())?;
        match self {
            Step::Key(a) | Step::MustKey(a) | Step::NilToVal(a) | Step::Set(a) | Step::Incr(a) | Step::Merge(a) => {
                write!(f, "{}", a)?
            }
            Step::Nth(i) => write!(f, "{}", i)?,
            Step::SortedRange(from, to, o) => {
                let bound = |v: &Value| if v.is_nil() { "open".to_string() } else { v.to_string() };
                write!(f, "{}, {}", bound(from), bound(to))?;
                if o.exclude_from {
                    f.write_str(", excludeFrom")?;
                }
                if o.include_to {
                    f.write_str(", includeTo")?;
                }
                if o.limit != 0 {
                    write!(f, ", limit={}", o.limit)?;
                }
                if o.reverse {
                    f.write_str(", reverse")?;
                }
            }
            Step::Filter(None, _) => f.write_str("exists")?,
            Step::Filter(Some(op), a) => write!(f, "{}, {}", op.name(), a)?,
            Step::View(v) => f.write_str(v.name())?,
            Step::Append(vs) | Step::Prepend(vs) => {
                for (i, v) in vs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", v)?;
                }
            }
            _ => {}
        }
        f.write_str(")")
    }
}

/// A malformed path: an argument out of range, a step after a terminal, or
/// (from [`Path::parse`] and [`Path::validate`]) a step that is wrong for
/// its use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathError {
    /// The index of the step, or -1 for the path as a whole.
    pub step: i64,
    /// The step, as the path's text renders it, when known.
    pub nav: String,
    /// What is wrong.
    pub msg: String,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("squall: path")?;
        if self.step >= 0 {
            write!(f, " step {}", self.step)?;
            if !self.nav.is_empty() {
                write!(f, " ({})", self.nav)?;
            }
        }
        write!(f, ": {}", self.msg)
    }
}

impl std::error::Error for PathError {}

/// What a path is used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathMode {
    /// Select paths read: they have no terminal step.
    Select,
    /// Transform paths write: they end with exactly one terminal and have
    /// no view step.
    Transform,
}

/// A path navigates into a PState (or a record), Specter style: each step
/// goes from every value the previous steps reached to zero or more values.
/// A select path reads what it reaches; a transform path ends with one
/// terminal step (`set`, `incr`, `append`, `prepend`, `remove`, `merge`)
/// that rewrites it. Paths run in the host, next to the data.
///
/// Build paths with the builder methods, from [`Path::new`] or
/// [`key`](crate::key), or with the [`path!`](macro@crate::path) macro:
///
/// ```
/// use squall::{key, path, FilterOp, Path, ViewFn};
/// let a = Path::new().key("alice").sorted_range(10, 20).view(ViewFn::Count);
/// let b = key("alice").key("visits").incr(1);
/// let c = path![key("alice"), key("visits"), incr(1)];
/// assert_eq!(b, c);
/// assert_eq!(a.to_string(), r#"key("alice").sortedRange(10, 20).view(count)"#);
/// let d = path![map_vals, filter(FilterOp::Gt, 20)];
/// assert_eq!(d.to_string(), "mapVals().filter(gt, 20)");
/// ```
///
/// Navigators: `key`, `must_key`, `map_vals`, `map_keys`, `all`, `first`,
/// `last`, `nth`, `sorted_range`, `sorted_range_with`, `filter`,
/// `filter_exists`, `nil_to_val`, `view`. Terminals: `set`, `incr`,
/// `incr_float`, `append`, `append_all`, `prepend`, `prepend_all`,
/// `remove`, `merge`.
#[derive(Clone, Default, PartialEq)]
pub struct Path {
    pub(crate) steps: Vec<Step>,
    err: Option<PathError>,
}

/// The path of one key step: `Path::new().key(k)`.
pub fn key<K: Into<Value>>(k: K) -> Path {
    Path::new().key(k)
}

impl Path {
    /// The empty path, which navigates to the root.
    pub fn new() -> Path {
        Path::default()
    }

    fn with(mut self, s: Step) -> Path {
        self.steps.push(s);
        self
    }

    fn fail(mut self, nav: &str, msg: String) -> Path {
        if self.err.is_none() {
            self.err = Some(PathError { step: self.steps.len() as i64, nav: nav.into(), msg });
        }
        self
    }

    /// The first error met while building the path (an argument out of
    /// range). Where terminals appear is checked by [`Path::validate`].
    pub fn err(&self) -> Option<&PathError> {
        self.err.as_ref()
    }

    /// The number of steps.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether the path has no step.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Navigates to the value under map key (or record field) `k`: nil when
    /// absent, created by transforms. On a set it navigates to the element
    /// `k` when present.
    pub fn key<K: Into<Value>>(self, k: K) -> Path {
        self.with(Step::Key(k.into()))
    }

    /// [`Path::key`] that navigates nowhere when `k` is absent.
    pub fn must_key<K: Into<Value>>(self, k: K) -> Path {
        self.with(Step::MustKey(k.into()))
    }

    /// Navigates to every value of a map.
    pub fn map_vals(self) -> Path {
        self.with(Step::MapVals)
    }

    /// Navigates to every key of a map.
    pub fn map_keys(self) -> Path {
        self.with(Step::MapKeys)
    }

    /// Navigates to every item of a list, element of a set, or entry of a
    /// map as a `[key, value]` list.
    pub fn all(self) -> Path {
        self.with(Step::All)
    }

    /// Navigates to the first item, element or entry.
    pub fn first(self) -> Path {
        self.with(Step::First)
    }

    /// Navigates to the last item, element or entry.
    pub fn last(self) -> Path {
        self.with(Step::Last)
    }

    /// Navigates to list item `i`; negative `i` counts from the end.
    pub fn nth(self, i: i64) -> Path {
        self.with(Step::Nth(i))
    }

    /// Navigates to the sub-map (or sub-set) of the keys from `from`
    /// (inclusive) to `to` (exclusive) in [`Value`]'s order; a nil bound
    /// (`()`) is open.
    pub fn sorted_range<F: Into<Value>, T: Into<Value>>(self, from: F, to: T) -> Path {
        self.sorted_range_with(from, to, RangeOpts::default())
    }

    /// [`Path::sorted_range`] with options.
    pub fn sorted_range_with<F: Into<Value>, T: Into<Value>>(self, from: F, to: T, opts: RangeOpts) -> Path {
        let p = if opts.limit > i32::MAX as u32 {
            self.fail("sortedRange", format!("limit must be at most 2147483647, not {}", opts.limit))
        } else {
            self
        };
        p.with(Step::SortedRange(from.into(), to.into(), opts))
    }

    /// Stays at the current value when `op` compares it true with `v`, and
    /// navigates nowhere otherwise.
    pub fn filter<V: Into<Value>>(self, op: FilterOp, v: V) -> Path {
        self.with(Step::Filter(Some(op), v.into()))
    }

    /// Stays at the current value when it is not nil.
    pub fn filter_exists(self) -> Path {
        self.with(Step::Filter(None, Value::Nil))
    }

    /// Navigates to `v` when the current value is nil, and stays otherwise:
    /// `key(k).nil_to_val(0).incr(1)` counts from 0.
    pub fn nil_to_val<V: Into<Value>>(self, v: V) -> Path {
        self.with(Step::NilToVal(v.into()))
    }

    /// Navigates to `f` of the current value (read-only: select paths
    /// only).
    pub fn view(self, f: ViewFn) -> Path {
        self.with(Step::View(f))
    }

    /// The terminal that replaces the value with `v`. Setting nil removes a
    /// map entry.
    pub fn set<V: Into<Value>>(self, v: V) -> Path {
        self.with(Step::Set(v.into()))
    }

    /// The terminal that removes the navigated entry, element or item from
    /// its collection.
    pub fn remove(self) -> Path {
        self.with(Step::Remove)
    }

    /// The terminal that adds `n` to a number (nil counts as 0).
    pub fn incr(self, n: i64) -> Path {
        self.with(Step::Incr(Value::Int(n)))
    }

    /// The terminal that adds `f` to a number; the result is a float.
    pub fn incr_float(self, f: f64) -> Path {
        self.with(Step::Incr(Value::Float(f)))
    }

    /// The terminal that adds `v` at the end of a list, or to a set.
    pub fn append<V: Into<Value>>(self, v: V) -> Path {
        self.with(Step::Append(vec![v.into()]))
    }

    /// The terminal that adds every item of `vs`, in order, at the end of a
    /// list, or to a set.
    pub fn append_all<V: Into<Value>, I: IntoIterator<Item = V>>(self, vs: I) -> Path {
        self.with(Step::Append(vs.into_iter().map(Into::into).collect()))
    }

    /// The terminal that adds `v` at the start of a list.
    pub fn prepend<V: Into<Value>>(self, v: V) -> Path {
        self.with(Step::Prepend(vec![v.into()]))
    }

    /// The terminal that adds every item of `vs`, in order, at the start of
    /// a list.
    pub fn prepend_all<V: Into<Value>, I: IntoIterator<Item = V>>(self, vs: I) -> Path {
        self.with(Step::Prepend(vs.into_iter().map(Into::into).collect()))
    }

    /// The terminal that sets every entry of the map `m` into the current
    /// map (nil values remove keys).
    pub fn merge<V: Into<Value>>(self, m: V) -> Path {
        let v = m.into();
        let p = match v.kind() {
            Kind::Map | Kind::Nil => self,
            k => self.fail("merge", format!("merge needs a map, not {}", k)),
        };
        p.with(Step::Merge(v))
    }

    /// The ABI form of the path: a list of steps, each a list of the
    /// opcode and its arguments. It fails with the path's error.
    pub fn value(&self) -> Result<Value, PathError> {
        if let Some(e) = &self.err {
            return Err(e.clone());
        }
        Ok(self.value_unchecked())
    }

    pub(crate) fn value_unchecked(&self) -> Value {
        Value::List(self.steps.iter().map(Step::value).collect())
    }

    /// Checks the path for use in `mode`: its arguments, and where
    /// terminals and views appear. It does not look at any data or schema;
    /// the host runs the same checks (a failing path is an EPATH error
    /// there).
    pub fn validate(&self, mode: PathMode) -> Result<(), PathError> {
        if let Some(e) = &self.err {
            return Err(e.clone());
        }
        let n = self.steps.len();
        for (i, s) in self.steps.iter().enumerate() {
            if s.terminal() {
                if mode == PathMode::Select {
                    return Err(PathError {
                        step: i as i64,
                        nav: s.to_string(),
                        msg: "a select path cannot end with a terminal; terminals (set, remove, incr, append, prepend, merge) are for transforms".into(),
                    });
                }
                if i != n - 1 {
                    return Err(PathError {
                        step: i as i64,
                        nav: s.to_string(),
                        msg: format!("a terminal must be the last step of a path; {} step(s) follow it", n - 1 - i),
                    });
                }
            }
            if matches!(s, Step::View(_)) && mode == PathMode::Transform {
                return Err(PathError {
                    step: i as i64,
                    nav: s.to_string(),
                    msg: "view is read-only and cannot appear in a transform; select the value, compute, then transform".into(),
                });
            }
        }
        if mode == PathMode::Transform && (n == 0 || !self.steps[n - 1].terminal()) {
            return Err(PathError {
                step: -1,
                nav: String::new(),
                msg: "a transform path must end with a terminal (set, remove, incr, append, prepend or merge)".into(),
            });
        }
        Ok(())
    }

    /// Reads the ABI form of a path (see [`Path::value`]). It checks each
    /// step's opcode and arguments, not where terminals appear: call
    /// [`Path::validate`] for that.
    pub fn parse(v: &Value) -> Result<Path, PathError> {
        let steps = match v {
            Value::List(l) => l,
            v => return Err(PathError { step: -1, nav: String::new(), msg: format!("a path is a list of steps, not {}", v.kind()) }),
        };
        let mut p = Path::new();
        for (i, sv) in steps.iter().enumerate() {
            match parse_step(sv) {
                Ok(s) => p.steps.push(s),
                Err(msg) => return Err(PathError { step: i as i64, nav: String::new(), msg }),
            }
        }
        Ok(p)
    }
}

fn parse_step(sv: &Value) -> Result<Step, String> {
    let items = match sv {
        Value::List(l) if !l.is_empty() => l,
        _ => return Err(format!("a step is a non-empty list [opcode, args...], not {}", sv)),
    };
    let code = match items[0].as_int() {
        Some(c) => c,
        None => return Err(format!("the opcode must be an int, not {}", items[0].kind())),
    };
    let name = match op_name(code) {
        Some(n) => n,
        None => return Err(format!("unknown opcode {}", code)),
    };
    let args = &items[1..];
    let want = |counts: &[usize]| -> Result<(), String> {
        if counts.contains(&args.len()) {
            return Ok(());
        }
        let w: Vec<String> = counts.iter().map(|c| c.to_string()).collect();
        Err(format!("{} takes {} argument(s), got {}", name, w.join(" or "), args.len()))
    };
    Ok(match code {
        OP_KEY | OP_MUST_KEY | OP_NIL_TO_VAL | OP_SET | OP_INCR | OP_MERGE => {
            want(&[1])?;
            let a = args[0].clone();
            match code {
                OP_KEY => Step::Key(a),
                OP_MUST_KEY => Step::MustKey(a),
                OP_NIL_TO_VAL => Step::NilToVal(a),
                OP_SET => Step::Set(a),
                OP_INCR => {
                    if !matches!(a.kind(), Kind::Int | Kind::Float) {
                        return Err(format!("incr needs an int or float amount, not {}", a.kind()));
                    }
                    Step::Incr(a)
                }
                _ => {
                    if !matches!(a.kind(), Kind::Map | Kind::Nil) {
                        return Err(format!("merge needs a map, not {}", a.kind()));
                    }
                    Step::Merge(a)
                }
            }
        }
        OP_MAP_VALS | OP_MAP_KEYS | OP_ALL | OP_FIRST | OP_LAST | OP_REMOVE => {
            want(&[0])?;
            match code {
                OP_MAP_VALS => Step::MapVals,
                OP_MAP_KEYS => Step::MapKeys,
                OP_ALL => Step::All,
                OP_FIRST => Step::First,
                OP_LAST => Step::Last,
                _ => Step::Remove,
            }
        }
        OP_NTH => {
            want(&[1])?;
            match args[0].as_int() {
                Some(i) => Step::Nth(i),
                None => return Err(format!("nth needs an int index, not {}", args[0].kind())),
            }
        }
        OP_SORTED_RANGE => {
            want(&[2, 3])?;
            let opts = if args.len() == 3 { parse_range_opts(&args[2])? } else { RangeOpts::default() };
            Step::SortedRange(args[0].clone(), args[1].clone(), opts)
        }
        OP_FILTER => {
            if args.is_empty() {
                want(&[1, 2])?;
            }
            let name = args[0].as_str().unwrap_or("");
            let exists = name == "exists";
            let op = FilterOp::from_name(name);
            if !exists && op.is_none() {
                return Err(format!(
                    "unknown filter comparison {}; use \"eq\", \"ne\", \"lt\", \"le\", \"gt\", \"ge\" or \"exists\"",
                    args[0]
                ));
            }
            if exists && args.len() != 1 {
                return Err("filter exists takes no operand".into());
            }
            if !exists && args.len() != 2 {
                return Err(format!("filter {} takes an operand: [9, \"{}\", v]", name, name));
            }
            if exists {
                Step::Filter(None, Value::Nil)
            } else {
                Step::Filter(op, args[1].clone())
            }
        }
        OP_VIEW => {
            want(&[1])?;
            match args[0].as_str() {
                Some("size") => Step::View(ViewFn::Size),
                Some("count") => Step::View(ViewFn::Count),
                _ => return Err(format!("unknown view function {}; use \"size\" or \"count\"", args[0])),
            }
        }
        OP_APPEND => Step::Append(args.to_vec()),
        _ => Step::Prepend(args.to_vec()),
    })
}

fn parse_range_opts(v: &Value) -> Result<RangeOpts, String> {
    let m = match v {
        Value::Map(m) => m,
        v => return Err(format!("sortedRange options must be a map, not {}", v.kind())),
    };
    let mut o = RangeOpts::default();
    for (k, val) in m.iter() {
        let name = k.as_str().unwrap_or("");
        match name {
            "excludeFrom" | "includeTo" | "reverse" => {
                let b = match val.as_bool() {
                    Some(b) => b,
                    None => return Err(format!("sortedRange option {} must be a bool, not {}", name, val.kind())),
                };
                match name {
                    "excludeFrom" => o.exclude_from = b,
                    "includeTo" => o.include_to = b,
                    _ => o.reverse = b,
                }
            }
            "limit" => match val.as_int() {
                Some(l) if (0..=i32::MAX as i64).contains(&l) => o.limit = l as u32,
                _ => return Err(format!("sortedRange option limit must be an int from 0 to 2147483647, not {}", val)),
            },
            _ => {
                return Err(format!(
                    "unknown sortedRange option {}; use \"excludeFrom\", \"includeTo\", \"limit\" or \"reverse\"",
                    k
                ))
            }
        }
    }
    Ok(o)
}

impl fmt::Display for Path {
    /// Renders the path, steps separated by dots, as every Squall SDK
    /// does: `key("alice").sortedRange(open, 100, limit=10).view(count)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.steps.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{}", s)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Path({})", self)
    }
}

/// Builds a [`Path`] from steps named like the builder methods:
/// `path![key(word), nil_to_val(0), incr(1)]` is
/// `Path::new().key(word).nil_to_val(0).incr(1)`. Steps without arguments
/// may leave out the parentheses: `path![key(u), map_vals, view(ViewFn::Size)]`.
#[macro_export]
macro_rules! path {
    ($($step:ident $(( $($arg:expr),* ))?),* $(,)?) => {
        $crate::Path::new() $(.$step($($($arg),*)?))*
    };
}
