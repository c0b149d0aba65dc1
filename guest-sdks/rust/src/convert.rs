//! Conversions between Rust types and [`Value`]s.
//!
//! Into a value: [`From`] for bools, ints (`u64` with [`TryFrom`], since it
//! may exceed `i64`), floats, strings, [`Bytes`], `Vec<T>`, slices, maps,
//! sets, `Option<T>` (None is nil), `()` (nil) and tuples (lists).
//!
//! Out of a value: [`FromValue`] (and [`TryFrom<Value>`] for the concrete
//! types). nil converts to the zero value of every type (nil means absent
//! in Squall: a counter never incremented reads as 0); use `Option<T>` to
//! tell nil apart.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::hash::Hash;

use crate::value::{Value, ValueMap, ValueSet};

/// Bytes, as a value: `Value::from(Bytes(vec![0, 1]))` is the bytes value
/// `0x"0001"`, where `Value::from(vec![0u8, 1])` is the list `[0, 1]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bytes(pub Vec<u8>);

impl std::ops::Deref for Bytes {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

/// A Rust value that cannot become a [`Value`], or a [`Value`] that does
/// not fit a Rust type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvertError {
    /// Where: `""` for the whole value, then `[3]` for list items and
    /// `["key"]` for map values (`{k}` for a map key).
    pub path: String,
    /// What is wrong.
    pub msg: String,
}

impl ConvertError {
    /// A conversion error at the whole value.
    pub fn new(msg: impl Into<String>) -> ConvertError {
        ConvertError { path: String::new(), msg: msg.into() }
    }

    /// The error with `outer` in front of its path.
    pub fn prefix(mut self, outer: &str) -> ConvertError {
        self.path = format!("{}{}", outer, self.path);
        self
    }
}

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "squall: {}", self.msg)
        } else {
            write!(f, "squall: at {}: {}", self.path, self.msg)
        }
    }
}

impl std::error::Error for ConvertError {}

pub(crate) fn short(v: &Value, max: usize) -> String {
    let s = v.to_string();
    if s.len() <= max {
        return s;
    }
    let mut cut = max - 3;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &s[..cut])
}

/// The error for a value of the wrong kind.
pub fn wrong_kind(v: &Value, want: &str) -> ConvertError {
    ConvertError::new(format!("cannot store {} {} in a {}", v.kind(), short(v, 60), want))
}

/// Types that can be read from a [`Value`]: the input of typed stages
/// ([`Topology::stage`](crate::Topology::stage)), query results
/// ([`Ctx::select_as`](crate::Ctx::select_as)), record fields
/// ([`Value::field_as`]).
///
/// nil converts to the zero value (0, "", false, empty collections), as in
/// every Squall SDK: nil means absent. `Option<T>` reads nil as `None`.
///
/// Implement it for your records, usually with [`Value::field_as`]:
///
/// ```
/// use squall::{ConvertError, FromValue, Value};
///
/// struct Follow { from: String, to: String }
///
/// impl FromValue for Follow {
///     fn from_value(v: Value) -> Result<Self, ConvertError> {
///         Ok(Follow { from: v.field_as("from")?, to: v.field_as("to")? })
///     }
/// }
///
/// impl From<Follow> for Value {
///     fn from(f: Follow) -> Value {
///         squall::map! { "from" => f.from, "to" => f.to }
///     }
/// }
///
/// let f = Follow::from_value(squall::map! { "from" => "ann", "to" => "bob" }).unwrap();
/// assert_eq!(f.to, "bob");
/// ```
pub trait FromValue: Sized {
    /// Converts `v`.
    fn from_value(v: Value) -> Result<Self, ConvertError>;

    /// The name of the type in conversion errors: Go's name of the
    /// equivalent type (`int64`, `string`, `[]string`), so that error
    /// messages are the same in every Squall SDK.
    #[doc(hidden)]
    fn type_label() -> String {
        "value".into()
    }
}

impl Value {
    /// Converts a copy of the value to `T` ([`FromValue`]).
    ///
    /// ```
    /// let v = squall::list![1, 2];
    /// assert_eq!(v.to::<Vec<i64>>().unwrap(), vec![1, 2]);
    /// ```
    pub fn to<T: FromValue>(&self) -> Result<T, ConvertError> {
        T::from_value(self.clone())
    }
}

impl FromValue for Value {
    fn from_value(v: Value) -> Result<Value, ConvertError> {
        Ok(v)
    }
    fn type_label() -> String {
        "squall.Value".into()
    }
}

impl FromValue for bool {
    fn from_value(v: Value) -> Result<bool, ConvertError> {
        match v {
            Value::Nil => Ok(false),
            Value::Bool(b) => Ok(b),
            v => Err(wrong_kind(&v, "bool")),
        }
    }
    fn type_label() -> String {
        "bool".into()
    }
}

macro_rules! int_from_value {
    ($($t:ty => $go:expr),*) => {$(
        impl FromValue for $t {
            fn from_value(v: Value) -> Result<$t, ConvertError> {
                match v {
                    Value::Nil => Ok(0),
                    Value::Int(i) => <$t>::try_from(i)
                        .map_err(|_| ConvertError::new(format!("{} does not fit a {}", i, $go))),
                    v => Err(wrong_kind(&v, $go)),
                }
            }
            fn type_label() -> String {
                $go.into()
            }
        }
        impl TryFrom<Value> for $t {
            type Error = ConvertError;
            fn try_from(v: Value) -> Result<$t, ConvertError> {
                <$t as FromValue>::from_value(v)
            }
        }
    )*};
}

int_from_value!(i8 => "int8", i16 => "int16", i32 => "int32", i64 => "int64", isize => "int",
    u8 => "uint8", u16 => "uint16", u32 => "uint32", u64 => "uint64", usize => "uint");

impl FromValue for f64 {
    /// A float, or an int (converted).
    fn from_value(v: Value) -> Result<f64, ConvertError> {
        match v {
            Value::Nil => Ok(0.0),
            Value::Int(i) => Ok(i as f64),
            Value::Float(f) => Ok(f),
            v => Err(wrong_kind(&v, "float64")),
        }
    }
    fn type_label() -> String {
        "float64".into()
    }
}

impl FromValue for f32 {
    fn from_value(v: Value) -> Result<f32, ConvertError> {
        match v {
            Value::Nil => Ok(0.0),
            Value::Int(i) => Ok(i as f32),
            Value::Float(f) => Ok(f as f32),
            v => Err(wrong_kind(&v, "float32")),
        }
    }
    fn type_label() -> String {
        "float32".into()
    }
}

impl FromValue for String {
    fn from_value(v: Value) -> Result<String, ConvertError> {
        match v {
            Value::Nil => Ok(String::new()),
            Value::Str(s) => Ok(s),
            v => Err(wrong_kind(&v, "string")),
        }
    }
    fn type_label() -> String {
        "string".into()
    }
}

impl FromValue for Bytes {
    /// Bytes, or a string (its UTF-8 bytes).
    fn from_value(v: Value) -> Result<Bytes, ConvertError> {
        match v {
            Value::Nil => Ok(Bytes(Vec::new())),
            Value::Bytes(b) => Ok(Bytes(b)),
            Value::Str(s) => Ok(Bytes(s.into_bytes())),
            v => Err(wrong_kind(&v, "[]byte")),
        }
    }
    fn type_label() -> String {
        "[]byte".into()
    }
}

macro_rules! try_from_value {
    ($($t:ty),*) => {$(
        impl TryFrom<Value> for $t {
            type Error = ConvertError;
            fn try_from(v: Value) -> Result<$t, ConvertError> {
                <$t as FromValue>::from_value(v)
            }
        }
    )*};
}

try_from_value!(bool, f64, f32, String, Bytes);

impl<T: FromValue> FromValue for Option<T> {
    /// nil is `None`; anything else converts to a `T`.
    fn from_value(v: Value) -> Result<Option<T>, ConvertError> {
        match v {
            Value::Nil => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
    fn type_label() -> String {
        format!("*{}", T::type_label())
    }
}

fn items_of(v: Value, want: &str) -> Result<Vec<Value>, ConvertError> {
    match v {
        Value::Nil => Ok(Vec::new()),
        Value::List(l) => Ok(l),
        Value::Set(s) => Ok(s.into_iter().collect()),
        v => Err(wrong_kind(&v, want)),
    }
}

impl<T: FromValue> FromValue for Vec<T> {
    /// A list or a set, item by item.
    fn from_value(v: Value) -> Result<Vec<T>, ConvertError> {
        items_of(v, &Self::type_label())?
            .into_iter()
            .enumerate()
            .map(|(i, it)| T::from_value(it).map_err(|e| e.prefix(&format!("[{}]", i))))
            .collect()
    }
    fn type_label() -> String {
        format!("[]{}", T::type_label())
    }
}

impl<T: FromValue> TryFrom<Value> for Vec<T> {
    type Error = ConvertError;
    fn try_from(v: Value) -> Result<Vec<T>, ConvertError> {
        Vec::<T>::from_value(v)
    }
}

impl<T: FromValue + Ord> FromValue for BTreeSet<T> {
    /// A set or a list.
    fn from_value(v: Value) -> Result<BTreeSet<T>, ConvertError> {
        Vec::<T>::from_value(v).map(|v| v.into_iter().collect())
    }
    fn type_label() -> String {
        format!("[]{}", T::type_label())
    }
}

impl<T: FromValue + Eq + Hash> FromValue for HashSet<T> {
    /// A set or a list.
    fn from_value(v: Value) -> Result<HashSet<T>, ConvertError> {
        Vec::<T>::from_value(v).map(|v| v.into_iter().collect())
    }
    fn type_label() -> String {
        format!("[]{}", T::type_label())
    }
}

fn entries_of(v: Value, want: &str) -> Result<Vec<(Value, Value)>, ConvertError> {
    match v {
        Value::Nil => Ok(Vec::new()),
        Value::Map(m) => Ok(m.into_iter().collect()),
        v => Err(wrong_kind(&v, want)),
    }
}

fn convert_entry<K: FromValue, V: FromValue>(k: Value, v: Value) -> Result<(K, V), ConvertError> {
    let at = k.to_string();
    let key = K::from_value(k).map_err(|e| e.prefix(&format!("{{{}}}", at)))?;
    let val = V::from_value(v).map_err(|e| e.prefix(&format!("[{}]", at)))?;
    Ok((key, val))
}

impl<K: FromValue + Ord, V: FromValue> FromValue for BTreeMap<K, V> {
    /// A map, key by key.
    fn from_value(v: Value) -> Result<BTreeMap<K, V>, ConvertError> {
        entries_of(v, &Self::type_label())?.into_iter().map(|(k, v)| convert_entry(k, v)).collect()
    }
    fn type_label() -> String {
        format!("map[{}]{}", K::type_label(), V::type_label())
    }
}

impl<K: FromValue + Ord, V: FromValue> TryFrom<Value> for BTreeMap<K, V> {
    type Error = ConvertError;
    fn try_from(v: Value) -> Result<BTreeMap<K, V>, ConvertError> {
        BTreeMap::<K, V>::from_value(v)
    }
}

impl<K: FromValue + Eq + Hash, V: FromValue> FromValue for HashMap<K, V> {
    /// A map, key by key.
    fn from_value(v: Value) -> Result<HashMap<K, V>, ConvertError> {
        entries_of(v, &Self::type_label())?.into_iter().map(|(k, v)| convert_entry(k, v)).collect()
    }
    fn type_label() -> String {
        format!("map[{}]{}", K::type_label(), V::type_label())
    }
}

impl<K: FromValue + Eq + Hash, V: FromValue> TryFrom<Value> for HashMap<K, V> {
    type Error = ConvertError;
    fn try_from(v: Value) -> Result<HashMap<K, V>, ConvertError> {
        HashMap::<K, V>::from_value(v)
    }
}

impl FromValue for ValueMap {
    fn from_value(v: Value) -> Result<ValueMap, ConvertError> {
        match v {
            Value::Nil => Ok(ValueMap::new()),
            Value::Map(m) => Ok(m),
            v => Err(wrong_kind(&v, "ValueMap")),
        }
    }
}

impl FromValue for ValueSet {
    fn from_value(v: Value) -> Result<ValueSet, ConvertError> {
        match v {
            Value::Nil => Ok(ValueSet::new()),
            Value::Set(s) => Ok(s),
            v => Err(wrong_kind(&v, "ValueSet")),
        }
    }
}

macro_rules! tuple_from_value {
    ($n:expr; $($t:ident),*) => {
        impl<$($t: FromValue),*> FromValue for ($($t,)*) {
            /// A list of exactly that many items (a map entry `[key, value]`
            /// from `all()`, for example).
            fn from_value(v: Value) -> Result<Self, ConvertError> {
                let items = match v {
                    Value::List(l) if l.len() == $n => l,
                    v => return Err(wrong_kind(&v, concat!("tuple of ", stringify!($n)))),
                };
                let mut it = items.into_iter().enumerate();
                Ok(($({
                    let (i, x) = it.next().unwrap();
                    $t::from_value(x).map_err(|e| e.prefix(&format!("[{}]", i)))?
                },)*))
            }
        }
    };
}

tuple_from_value!(1; A);
tuple_from_value!(2; A, B);
tuple_from_value!(3; A, B, C);
tuple_from_value!(4; A, B, C, D);

// ---- into values ----

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

macro_rules! int_into_value {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(i: $t) -> Value {
                Value::Int(i as i64)
            }
        }
    )*};
}

int_into_value!(i8, i16, i32, i64, isize, u8, u16, u32);

impl From<usize> for Value {
    /// An int. Panics above `i64::MAX` (lengths and indexes never are).
    fn from(u: usize) -> Value {
        Value::Int(i64::try_from(u).expect("squall: usize above i64::MAX does not fit a Squall int"))
    }
}

impl TryFrom<u64> for Value {
    type Error = ConvertError;
    /// An int; values above `i64::MAX` are an error.
    fn try_from(u: u64) -> Result<Value, ConvertError> {
        i64::try_from(u)
            .map(Value::Int)
            .map_err(|_| ConvertError::new(format!("{} does not fit a Squall int (at most 2^63-1)", u)))
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Float(f)
    }
}

impl From<f32> for Value {
    fn from(f: f32) -> Value {
        Value::Float(f as f64)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(s)
    }
}

impl From<&String> for Value {
    fn from(s: &String) -> Value {
        Value::Str(s.clone())
    }
}

impl From<char> for Value {
    fn from(c: char) -> Value {
        Value::Str(c.to_string())
    }
}

impl From<Bytes> for Value {
    fn from(b: Bytes) -> Value {
        Value::Bytes(b.0)
    }
}

impl From<&Value> for Value {
    fn from(v: &Value) -> Value {
        v.clone()
    }
}

impl From<()> for Value {
    /// nil.
    fn from(_: ()) -> Value {
        Value::Nil
    }
}

impl From<ValueMap> for Value {
    fn from(m: ValueMap) -> Value {
        Value::Map(m)
    }
}

impl From<ValueSet> for Value {
    fn from(s: ValueSet) -> Value {
        Value::Set(s)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    /// None is nil.
    fn from(o: Option<T>) -> Value {
        match o {
            Some(x) => x.into(),
            None => Value::Nil,
        }
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    /// A list. (`Vec<u8>` is a list of ints too: bytes are [`Bytes`].)
    fn from(v: Vec<T>) -> Value {
        Value::List(v.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<Value> + Clone> From<&[T]> for Value {
    /// A list.
    fn from(v: &[T]) -> Value {
        Value::List(v.iter().cloned().map(Into::into).collect())
    }
}

impl<T: Into<Value>, const N: usize> From<[T; N]> for Value {
    /// A list.
    fn from(v: [T; N]) -> Value {
        Value::List(IntoIterator::into_iter(v).map(Into::into).collect())
    }
}

impl<K: Into<Value>, V: Into<Value>> From<BTreeMap<K, V>> for Value {
    /// A map.
    fn from(m: BTreeMap<K, V>) -> Value {
        Value::Map(m.into_iter().collect())
    }
}

impl<K: Into<Value>, V: Into<Value>, S> From<HashMap<K, V, S>> for Value {
    /// A map.
    fn from(m: HashMap<K, V, S>) -> Value {
        Value::Map(m.into_iter().collect())
    }
}

impl<T: Into<Value>> From<BTreeSet<T>> for Value {
    /// A set.
    fn from(s: BTreeSet<T>) -> Value {
        Value::Set(s.into_iter().collect())
    }
}

impl<T: Into<Value>, S> From<HashSet<T, S>> for Value {
    /// A set.
    fn from(s: HashSet<T, S>) -> Value {
        Value::Set(s.into_iter().collect())
    }
}

impl<A: Into<Value>> From<(A,)> for Value {
    /// A list of one item (the argument list of a query of one argument).
    fn from(t: (A,)) -> Value {
        Value::List(vec![t.0.into()])
    }
}

impl<A: Into<Value>, B: Into<Value>> From<(A, B)> for Value {
    /// A list of two items.
    fn from(t: (A, B)) -> Value {
        Value::List(vec![t.0.into(), t.1.into()])
    }
}

impl<A: Into<Value>, B: Into<Value>, C: Into<Value>> From<(A, B, C)> for Value {
    /// A list of three items.
    fn from(t: (A, B, C)) -> Value {
        Value::List(vec![t.0.into(), t.1.into(), t.2.into()])
    }
}

/// Builds a map [`Value`]: `map! { "user" => "ann", "age" => 42 }`. Keys
/// and values are anything `Into<Value>`; the last of equal keys wins.
#[macro_export]
macro_rules! map {
    () => { $crate::Value::Map($crate::ValueMap::new()) };
    ($($k:expr => $v:expr),+ $(,)?) => {
        $crate::Value::Map(::std::iter::IntoIterator::into_iter([
            $(($crate::Value::from($k), $crate::Value::from($v))),+
        ]).collect::<$crate::ValueMap>())
    };
}

/// Builds a list [`Value`]: `list![1, "two", 3.0]`.
#[macro_export]
macro_rules! list {
    ($($x:expr),* $(,)?) => { $crate::Value::List(::std::vec![$($crate::Value::from($x)),*]) };
}

/// Builds a set [`Value`]: `set!["a", "b"]` (duplicates are dropped).
#[macro_export]
macro_rules! set {
    ($($x:expr),* $(,)?) => {
        $crate::Value::Set(::std::vec![$($crate::Value::from($x)),*].into_iter().collect::<$crate::ValueSet>())
    };
}
