//! Squall values: what records, hop keys and payloads, PState keys and
//! values, and query results are made of.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use crate::msgpack;

/// A Squall value: nil, a bool, a 64-bit int, a 64-bit float, a UTF-8
/// string, bytes, a list, a map (whose keys may be any value, lists
/// included) or a set.
///
/// Every value has one canonical MessagePack encoding ([`Value::encode`]),
/// byte-identical in every Squall SDK: partitioning hashes it, so the same
/// key lands on the same partition whatever language wrote it. Maps and
/// sets keep their entries in canonical order (by the canonical encoding of
/// the key), which is the order [`ValueMap::iter`] and [`ValueSet::iter`]
/// return them in.
///
/// Values compare structurally ([`PartialEq`]: floats by their bits, so NaN
/// equals NaN and `-0.0` does not equal `0.0`; an int never equals a
/// float) and are totally ordered ([`Ord`]: the order of keys in sorted
/// PState collections, see [`Value::cmp`]).
///
/// Build values with [`From`] conversions (`Value::from(3)`, `"x".into()`,
/// `Value::from(vec![1, 2])`), the macros [`map!`](crate::map),
/// [`list!`](crate::list) and [`set!`](crate::set), or the variants
/// themselves; read them with the `as_*` accessors, or convert them with
/// [`FromValue`](crate::FromValue).
///
/// ```
/// use squall::{Value, map};
/// let rec = map! { "user" => "ann", "age" => 42 };
/// assert_eq!(rec.field("user").as_str(), Some("ann"));
/// assert_eq!(rec.to_string(), r#"{"age": 42, "user": "ann"}"#);
/// assert_eq!(Value::from(1).encode().unwrap(), vec![0x01]);
/// ```
#[derive(Clone, Default)]
pub enum Value {
    /// Nil: absent. It is also what reads of absent keys return.
    #[default]
    Nil,
    /// A bool.
    Bool(bool),
    /// A 64-bit signed int.
    Int(i64),
    /// A 64-bit float. Every NaN is the same value (encoded as the quiet
    /// NaN `7ff8000000000000`); `-0.0` is distinct from `0.0`.
    Float(f64),
    /// A UTF-8 string.
    Str(String),
    /// A byte string (distinct from a string: `"a"` is not `0x"61"`).
    Bytes(Vec<u8>),
    /// A list.
    List(Vec<Value>),
    /// A map with unique keys, in canonical order.
    Map(ValueMap),
    /// A set of unique elements, in canonical order.
    Set(ValueSet),
}

/// The kind of a [`Value`].
///
/// The order of the kinds is the order of values of different kinds in
/// sorted PState collections: every nil sorts before every bool, every bool
/// before every int, and so on.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Kind {
    /// nil
    Nil,
    /// bool
    Bool,
    /// int
    Int,
    /// float
    Float,
    /// string
    String,
    /// bytes
    Bytes,
    /// list
    List,
    /// map
    Map,
    /// set
    Set,
}

impl Kind {
    /// The kind's name: nil, bool, int, float, string, bytes, list, map or
    /// set.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Nil => "nil",
            Kind::Bool => "bool",
            Kind::Int => "int",
            Kind::Float => "float",
            Kind::String => "string",
            Kind::Bytes => "bytes",
            Kind::List => "list",
            Kind::Map => "map",
            Kind::Set => "set",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The only NaN bit pattern that is encoded.
pub(crate) const CANONICAL_NAN: u64 = 0x7ff8_0000_0000_0000;

/// The bits a float is encoded and compared with: every NaN is the
/// canonical NaN.
pub(crate) fn float_bits(f: f64) -> u64 {
    if f.is_nan() {
        CANONICAL_NAN
    } else {
        f.to_bits()
    }
}

pub(crate) static NIL: Value = Value::Nil;

impl Value {
    /// The kind of the value.
    pub fn kind(&self) -> Kind {
        match self {
            Value::Nil => Kind::Nil,
            Value::Bool(_) => Kind::Bool,
            Value::Int(_) => Kind::Int,
            Value::Float(_) => Kind::Float,
            Value::Str(_) => Kind::String,
            Value::Bytes(_) => Kind::Bytes,
            Value::List(_) => Kind::List,
            Value::Map(_) => Kind::Map,
            Value::Set(_) => Kind::Set,
        }
    }

    /// Whether the value is nil.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// The bool, if the value is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The int, if the value is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The float, if the value is one.
    pub fn as_float(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The string, if the value is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes, if the value is bytes.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The items, if the value is a list.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The map, if the value is one.
    pub fn as_map(&self) -> Option<&ValueMap> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The set, if the value is one.
    pub fn as_set(&self) -> Option<&ValueSet> {
        match self {
            Value::Set(s) => Some(s),
            _ => None,
        }
    }

    /// The items of a list or the elements of a set (in canonical order);
    /// empty for other values.
    pub fn items(&self) -> &[Value] {
        match self {
            Value::List(l) => l,
            Value::Set(s) => s.as_slice(),
            _ => &[],
        }
    }

    /// The number of items of a list, elements of a set or entries of a
    /// map, the byte length of a string or bytes, and 0 for other values.
    pub fn len(&self) -> usize {
        match self {
            Value::List(l) => l.len(),
            Value::Set(s) => s.len(),
            Value::Map(m) => m.len(),
            Value::Str(s) => s.len(),
            Value::Bytes(b) => b.len(),
            _ => 0,
        }
    }

    /// Whether [`Value::len`] is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value under `key` in a map; `None` when the value is not a map
    /// or has no such key.
    pub fn get(&self, key: &Value) -> Option<&Value> {
        match self {
            Value::Map(m) => m.get(key),
            _ => None,
        }
    }

    /// The value under the string key `name` of a map (a record), or nil
    /// when the value is not a map or has no such key.
    ///
    /// ```
    /// let v = squall::map! { "user" => "ann" };
    /// assert_eq!(v.field("user").as_str(), Some("ann"));
    /// assert!(v.field("age").is_nil());
    /// ```
    pub fn field(&self, name: &str) -> &Value {
        match self {
            Value::Map(m) => m.get_str(name).unwrap_or(&NIL),
            _ => &NIL,
        }
    }

    /// The field `name` of a record converted to `T` ([`FromValue`]): an
    /// absent field converts from nil (0, "", false, `None`, empty).
    ///
    /// [`FromValue`]: crate::FromValue
    pub fn field_as<T: crate::FromValue>(&self, name: &str) -> Result<T, crate::ConvertError> {
        T::from_value(self.field(name).clone()).map_err(|e| e.prefix(&format!("[{}]", quote(name))))
    }

    /// Item `i` of a list or element `i` of a set, or nil.
    #[allow(clippy::should_implement_trait)]
    pub fn index(&self, i: usize) -> &Value {
        self.items().get(i).unwrap_or(&NIL)
    }

    /// Whether a set holds `elem`, or a map holds the key `elem`.
    pub fn has(&self, elem: &Value) -> bool {
        match self {
            Value::Set(s) => s.contains(elem),
            Value::Map(m) => m.contains_key(elem),
            _ => false,
        }
    }

    /// The canonical MessagePack encoding of the value. It fails only for
    /// nesting deeper than [`MAX_DEPTH`](crate::MAX_DEPTH) or lengths above
    /// 2^32-1.
    pub fn encode(&self) -> Result<Vec<u8>, msgpack::EncodeError> {
        msgpack::encode(self)
    }

    /// Decodes one MessagePack value spanning all of `b` (see
    /// [`decode`](crate::decode)).
    pub fn decode(b: &[u8]) -> Result<Value, msgpack::DecodeError> {
        msgpack::decode(b)
    }

    /// A map of entries (the last of equal keys wins).
    ///
    /// ```
    /// let v = squall::Value::map([("b", 2), ("a", 1)]);
    /// assert_eq!(v.to_string(), r#"{"a": 1, "b": 2}"#);
    /// ```
    pub fn map<K: Into<Value>, V: Into<Value>, I: IntoIterator<Item = (K, V)>>(entries: I) -> Value {
        Value::Map(entries.into_iter().collect())
    }

    /// A list of items.
    pub fn list<T: Into<Value>, I: IntoIterator<Item = T>>(items: I) -> Value {
        Value::List(items.into_iter().map(Into::into).collect())
    }

    /// A set of elements (duplicates are dropped).
    pub fn set<T: Into<Value>, I: IntoIterator<Item = T>>(elems: I) -> Value {
        Value::Set(elems.into_iter().collect())
    }
}

// ---- canonical order of keys ----

/// Finds `key` among `n` keys (`key_at(i)`) sorted by canonical encoding:
/// `Ok(index)` or `Err(insertion index)`.
fn search_by_encoding<'a, F: Fn(usize) -> &'a Value>(n: usize, key_at: F, key_enc: &[u8]) -> Result<usize, usize> {
    let mut scratch = Vec::new();
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        scratch.clear();
        msgpack::encode_canonical(&mut scratch, key_at(mid));
        match scratch.as_slice().cmp(key_enc) {
            Ordering::Less => lo = mid + 1,
            Ordering::Greater => hi = mid,
            Ordering::Equal => return Ok(mid),
        }
    }
    Err(lo)
}

fn enc(v: &Value) -> Vec<u8> {
    let mut b = Vec::new();
    msgpack::encode_canonical(&mut b, v);
    b
}

/// A map of [`Value`]s with unique keys kept in canonical order: sorted by
/// the canonical encoding of the keys, compared bytewise.
///
/// ```
/// use squall::{Value, ValueMap};
/// let mut m = ValueMap::new();
/// m.insert("b", 2);
/// m.insert("a", 1);
/// m.insert("b", 3); // replaces
/// assert_eq!(Value::Map(m).to_string(), r#"{"a": 1, "b": 3}"#);
/// ```
#[derive(Clone, Default)]
pub struct ValueMap {
    entries: Vec<(Value, Value)>,
}

impl ValueMap {
    /// An empty map.
    pub fn new() -> ValueMap {
        ValueMap { entries: Vec::new() }
    }

    /// Builds a map from entries already sorted by canonical encoding and
    /// unique (the decoder checks that).
    pub(crate) fn from_sorted(entries: Vec<(Value, Value)>) -> ValueMap {
        ValueMap { entries }
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map has no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn find(&self, key: &Value) -> Result<usize, usize> {
        search_by_encoding(self.entries.len(), |i| &self.entries[i].0, &enc(key))
    }

    /// The value under `key`.
    pub fn get(&self, key: &Value) -> Option<&Value> {
        self.find(key).ok().map(|i| &self.entries[i].1)
    }

    /// The value under the string key `key`.
    pub fn get_str(&self, key: &str) -> Option<&Value> {
        let mut k = Vec::with_capacity(key.len() + 5);
        msgpack::encode_str(&mut k, key);
        search_by_encoding(self.entries.len(), |i| &self.entries[i].0, &k)
            .ok()
            .map(|i| &self.entries[i].1)
    }

    /// Whether the map has `key`.
    pub fn contains_key(&self, key: &Value) -> bool {
        self.find(key).is_ok()
    }

    /// Sets `key` to `val` and returns the value it replaces.
    pub fn insert<K: Into<Value>, V: Into<Value>>(&mut self, key: K, val: V) -> Option<Value> {
        let (key, val) = (key.into(), val.into());
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, val)),
            Err(i) => {
                self.entries.insert(i, (key, val));
                None
            }
        }
    }

    /// Removes `key` and returns its value.
    pub fn remove(&mut self, key: &Value) -> Option<Value> {
        match self.find(key) {
            Ok(i) => Some(self.entries.remove(i).1),
            Err(_) => None,
        }
    }

    /// The entries, in canonical order.
    pub fn iter(&self) -> MapIter<'_> {
        MapIter(self.entries.iter())
    }

    /// The entries as a slice of pairs, in canonical order.
    pub fn entries(&self) -> &[(Value, Value)] {
        &self.entries
    }

    /// The keys, in canonical order.
    pub fn keys(&self) -> impl Iterator<Item = &Value> {
        self.entries.iter().map(|e| &e.0)
    }

    /// The values, in the canonical order of their keys.
    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.entries.iter().map(|e| &e.1)
    }
}

impl<K: Into<Value>, V: Into<Value>> FromIterator<(K, V)> for ValueMap {
    /// Collects entries; the last of equal keys wins.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> ValueMap {
        let mut keyed: Vec<(Vec<u8>, usize, Value, Value)> = iter
            .into_iter()
            .enumerate()
            .map(|(i, (k, v))| {
                let k = k.into();
                (enc(&k), i, k, v.into())
            })
            .collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut entries: Vec<(Value, Value)> = Vec::with_capacity(keyed.len());
        let mut last: Option<Vec<u8>> = None;
        for (e, _, k, v) in keyed {
            if last.as_deref() == Some(&e[..]) {
                *entries.last_mut().unwrap() = (k, v); // a later duplicate wins
            } else {
                entries.push((k, v));
                last = Some(e);
            }
        }
        ValueMap { entries }
    }
}

impl IntoIterator for ValueMap {
    type Item = (Value, Value);
    type IntoIter = std::vec::IntoIter<(Value, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a> IntoIterator for &'a ValueMap {
    type Item = (&'a Value, &'a Value);
    type IntoIter = MapIter<'a>;
    fn into_iter(self) -> MapIter<'a> {
        self.iter()
    }
}

/// An iterator over the entries of a [`ValueMap`], in canonical order.
#[derive(Clone, Debug)]
pub struct MapIter<'a>(std::slice::Iter<'a, (Value, Value)>);

impl<'a> Iterator for MapIter<'a> {
    type Item = (&'a Value, &'a Value);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|e| (&e.0, &e.1))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<'a> DoubleEndedIterator for MapIter<'a> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|e| (&e.0, &e.1))
    }
}

impl<'a> ExactSizeIterator for MapIter<'a> {}

/// A set of [`Value`]s kept in canonical order (sorted by canonical
/// encoding), without duplicates.
#[derive(Clone, Default)]
pub struct ValueSet {
    elems: Vec<Value>,
}

impl ValueSet {
    /// An empty set.
    pub fn new() -> ValueSet {
        ValueSet { elems: Vec::new() }
    }

    pub(crate) fn from_sorted(elems: Vec<Value>) -> ValueSet {
        ValueSet { elems }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.elems.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.elems.is_empty()
    }

    fn find(&self, elem: &Value) -> Result<usize, usize> {
        search_by_encoding(self.elems.len(), |i| &self.elems[i], &enc(elem))
    }

    /// Whether the set holds `elem`.
    pub fn contains(&self, elem: &Value) -> bool {
        self.find(elem).is_ok()
    }

    /// Adds `elem`; returns whether it was not there.
    pub fn insert<T: Into<Value>>(&mut self, elem: T) -> bool {
        let elem = elem.into();
        match self.find(&elem) {
            Ok(_) => false,
            Err(i) => {
                self.elems.insert(i, elem);
                true
            }
        }
    }

    /// Removes `elem`; returns whether it was there.
    pub fn remove(&mut self, elem: &Value) -> bool {
        match self.find(elem) {
            Ok(i) => {
                self.elems.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    /// The elements, in canonical order.
    pub fn iter(&self) -> std::slice::Iter<'_, Value> {
        self.elems.iter()
    }

    /// The elements as a slice, in canonical order.
    pub fn as_slice(&self) -> &[Value] {
        &self.elems
    }
}

impl<T: Into<Value>> FromIterator<T> for ValueSet {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> ValueSet {
        let mut keyed: Vec<(Vec<u8>, Value)> = iter
            .into_iter()
            .map(|x| {
                let v = x.into();
                (enc(&v), v)
            })
            .collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        keyed.dedup_by(|b, a| a.0 == b.0);
        ValueSet { elems: keyed.into_iter().map(|(_, v)| v).collect() }
    }
}

impl IntoIterator for ValueSet {
    type Item = Value;
    type IntoIter = std::vec::IntoIter<Value>;
    fn into_iter(self) -> Self::IntoIter {
        self.elems.into_iter()
    }
}

impl<'a> IntoIterator for &'a ValueSet {
    type Item = &'a Value;
    type IntoIter = std::slice::Iter<'a, Value>;
    fn into_iter(self) -> Self::IntoIter {
        self.elems.iter()
    }
}

// ---- equality and order ----

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => float_bits(*a) == float_bits(*b),
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Map(a), Value::Map(b)) => a == b,
            (Value::Set(a), Value::Set(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Value {}

impl PartialEq for ValueMap {
    fn eq(&self, other: &ValueMap) -> bool {
        self.entries == other.entries
    }
}

impl Eq for ValueMap {}

impl PartialEq for ValueSet {
    fn eq(&self, other: &ValueSet) -> bool {
        self.elems == other.elems
    }
}

impl Eq for ValueSet {}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.kind().hash(state);
        match self {
            Value::Nil => {}
            Value::Bool(b) => b.hash(state),
            Value::Int(i) => i.hash(state),
            Value::Float(f) => float_bits(*f).hash(state),
            Value::Str(s) => s.hash(state),
            Value::Bytes(b) => b.hash(state),
            Value::List(l) => l.hash(state),
            Value::Map(m) => {
                m.len().hash(state);
                for (k, v) in m {
                    k.hash(state);
                    v.hash(state);
                }
            }
            Value::Set(s) => s.elems.hash(state),
        }
    }
}

/// Maps float bits to a u64 whose unsigned order is the IEEE 754 total
/// order (-0.0 before +0.0, the canonical NaN last).
fn float_order(f: f64) -> u64 {
    let bits = float_bits(f);
    if bits >> 63 != 0 {
        !bits
    } else {
        bits | 1 << 63
    }
}

impl Ord for Value {
    /// The total order of values: the order of the keys of sorted PState
    /// collections (maps and sets), which `sorted_range`, `first`, `last`
    /// and `all` follow.
    ///
    /// Values of different kinds order by [`Kind`]: nil < bool < int <
    /// float < string < bytes < list < map < set. Within a kind: false <
    /// true; ints numerically; floats numerically with -0.0 < +0.0 and NaN
    /// last; strings and bytes bytewise; lists item by item (a prefix
    /// first); maps and sets as the sequence of their entries or elements
    /// taken in this order. `a.cmp(b)` is `Equal` exactly when `a == b`.
    fn cmp(&self, other: &Value) -> Ordering {
        match (self, other) {
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::Float(a), Value::Float(b)) => float_order(*a).cmp(&float_order(*b)),
            (Value::Str(a), Value::Str(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Value::Bytes(a), Value::Bytes(b)) => a.cmp(b),
            (Value::List(a), Value::List(b)) => a.cmp(b),
            (Value::Map(a), Value::Map(b)) => {
                let mut ae: Vec<&(Value, Value)> = a.entries.iter().collect();
                let mut be: Vec<&(Value, Value)> = b.entries.iter().collect();
                ae.sort_by(|x, y| x.0.cmp(&y.0));
                be.sort_by(|x, y| x.0.cmp(&y.0));
                for (x, y) in ae.iter().zip(be.iter()) {
                    let c = x.0.cmp(&y.0).then_with(|| x.1.cmp(&y.1));
                    if c != Ordering::Equal {
                        return c;
                    }
                }
                ae.len().cmp(&be.len())
            }
            (Value::Set(a), Value::Set(b)) => {
                let mut ae: Vec<&Value> = a.elems.iter().collect();
                let mut be: Vec<&Value> = b.elems.iter().collect();
                ae.sort();
                be.sort();
                ae.cmp(&be)
            }
            _ => self.kind().cmp(&other.kind()),
        }
    }
}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Value) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

// ---- text ----

impl fmt::Display for Value {
    /// Renders the value readably and unambiguously, as every Squall SDK
    /// does:
    ///
    /// ```text
    /// nil  true  42  -7  1.5  1.0  -0.0  NaN  +Inf  "héllo\n"  0x"00ff"
    /// [1, 2]  {"a": 1, 2: [nil]}  #{1, 2}
    /// ```
    ///
    /// Floats always show a decimal point, an exponent or a name, so they
    /// never look like ints. Map entries and set elements appear in
    /// canonical order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        write_text(&mut s, self);
        f.write_str(&s)
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Debug for ValueMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        write_map(&mut s, self);
        f.write_str(&s)
    }
}

impl fmt::Debug for ValueSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        write_seq(&mut s, "#{", &self.elems, '}');
        f.write_str(&s)
    }
}

fn write_seq(b: &mut String, open: &str, items: &[Value], close: char) {
    b.push_str(open);
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            b.push_str(", ");
        }
        write_text(b, it);
    }
    b.push(close);
}

fn write_map(b: &mut String, m: &ValueMap) {
    b.push('{');
    for (i, (k, v)) in m.entries.iter().enumerate() {
        if i > 0 {
            b.push_str(", ");
        }
        write_text(b, k);
        b.push_str(": ");
        write_text(b, v);
    }
    b.push('}');
}

fn write_text(b: &mut String, v: &Value) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match v {
        Value::Nil => b.push_str("nil"),
        Value::Bool(x) => b.push_str(if *x { "true" } else { "false" }),
        Value::Int(i) => b.push_str(&i.to_string()),
        Value::Float(f) => b.push_str(&format_float(*f)),
        Value::Str(s) => b.push_str(&quote(s)),
        Value::Bytes(bs) => {
            b.push_str("0x\"");
            for c in bs {
                b.push(HEX[(c >> 4) as usize] as char);
                b.push(HEX[(c & 15) as usize] as char);
            }
            b.push('"');
        }
        Value::List(l) => write_seq(b, "[", l, ']'),
        Value::Set(s) => write_seq(b, "#{", &s.elems, '}'),
        Value::Map(m) => write_map(b, m),
    }
}

/// Formats a float as Go's strconv.FormatFloat(f, 'g', -1, 64) does, with
/// ".0" added when the result would look like an int; NaN, +Inf, -Inf.
pub(crate) fn format_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    // Rust's {:e} gives the shortest digits that round-trip: d[.ddd]e[-]x.
    let e = format!("{:e}", f);
    let (mant, exp) = e.split_at(e.find('e').unwrap());
    let exp: i32 = exp[1..].parse().unwrap();
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if !(-4..6).contains(&exp) {
        // %e form: d.ddde±dd
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let a = exp.abs();
        if a < 10 {
            out.push('0');
        }
        out.push_str(&a.to_string());
        return out;
    }
    // %f form
    if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            for _ in digits.len()..int_len {
                out.push('0');
            }
            out.push_str(".0");
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
    out
}

/// Quotes a string as Go's strconv.Quote does: printable characters as
/// they are, \a \b \f \n \r \t \v \\ \" escaped, other control and
/// non-printable characters as \xNN, \uNNNN or \UNNNNNNNN.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if (c as u32) < 0x80 => out.push(c),
            c if printable(c) => out.push(c),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Whether a non-ASCII character is printable (Go's unicode.IsPrint:
/// letters, marks, numbers, punctuation and symbols). Rust's debug escaping
/// knows the same classes; a character that follows another one is not
/// escaped for being a combining mark.
fn printable(c: char) -> bool {
    let mut s = String::with_capacity(8);
    s.push('a');
    s.push(c);
    let esc: String = s.escape_debug().collect();
    esc == s
}
