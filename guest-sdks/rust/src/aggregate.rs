//! Aggregators (ABI 1.1, `abi/ABI.md` §15.3): how [`Ctx::aggregate`]
//! combines a value into a PState or a query result. The host implements
//! them next to the data; the SDK only names them.
//!
//! [`Ctx::aggregate`]: crate::Ctx::aggregate

use crate::value::Value;

/// An aggregator and the value it combines into an accumulator: the
/// argument of [`Ctx::aggregate`](crate::Ctx::aggregate) and
/// [`Ctx::aggregate_result`](crate::Ctx::aggregate_result). An absent
/// accumulator starts as nil.
///
/// ```
/// use squall::Agg;
/// let a = Agg::sum(25);               // add 25 (nil counts as 0)
/// let b = Agg::top_n(10, 99, "alice"); // keep the 10 highest scores, one per id
/// let c = Agg::map("k", 1);           // set key "k" to 1 in a map
/// # let _ = (a, b, c);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Agg {
    /// Adds 1 (nil counts as 0).
    Count,
    /// Adds an int or a float (nil counts as 0). An int sum must not
    /// overflow i64; with a float the sum is a float.
    Sum(Value),
    /// Keeps the smaller of the accumulator and the value, in the total
    /// order of values (ints sort before floats).
    Min(Value),
    /// Keeps the larger of the accumulator and the value.
    Max(Value),
    /// Adds the value (not a float) to a set.
    Set(Value),
    /// Appends the value to a list.
    List(Value),
    /// Sets a key (not a float) to a value in a map.
    Map(Value, Value),
    /// Merges `[score, id]` into a list of at most `n` (1 to 10 000) such
    /// pairs, one per id, sorted by score descending, then id ascending.
    /// Monotonic: a lower score never replaces a higher one of the same id.
    TopN {
        /// How many pairs the list keeps.
        n: u32,
        /// The score.
        score: Value,
        /// The id.
        id: Value,
    },
}

impl Agg {
    /// [`Agg::Sum`] of `v`.
    pub fn sum<V: Into<Value>>(v: V) -> Agg {
        Agg::Sum(v.into())
    }
    /// [`Agg::Min`] of `v`.
    pub fn min<V: Into<Value>>(v: V) -> Agg {
        Agg::Min(v.into())
    }
    /// [`Agg::Max`] of `v`.
    pub fn max<V: Into<Value>>(v: V) -> Agg {
        Agg::Max(v.into())
    }
    /// [`Agg::Set`] of `v`.
    pub fn set<V: Into<Value>>(v: V) -> Agg {
        Agg::Set(v.into())
    }
    /// [`Agg::List`] of `v`.
    pub fn list<V: Into<Value>>(v: V) -> Agg {
        Agg::List(v.into())
    }
    /// [`Agg::Map`] of `key` and `v`.
    pub fn map<K: Into<Value>, V: Into<Value>>(key: K, v: V) -> Agg {
        Agg::Map(key.into(), v.into())
    }
    /// [`Agg::TopN`] of `[score, id]`, keeping `n` pairs.
    pub fn top_n<S: Into<Value>, I: Into<Value>>(n: u32, score: S, id: I) -> Agg {
        Agg::TopN { n, score: score.into(), id: id.into() }
    }

    /// The ABI code (the flags of AGGREGATE), the value combined and, for
    /// TOP_N, n.
    pub(crate) fn wire(self) -> (u8, Value, Option<i64>) {
        match self {
            Agg::Count => (1, Value::Nil, None),
            Agg::Sum(v) => (2, v, None),
            Agg::Min(v) => (3, v, None),
            Agg::Max(v) => (4, v, None),
            Agg::Set(v) => (5, v, None),
            Agg::List(v) => (6, v, None),
            Agg::Map(k, v) => (7, Value::List(vec![k, v]), None),
            Agg::TopN { n, score, id } => (8, Value::List(vec![score, id]), Some(n as i64)),
        }
    }

    /// The aggregator's name: COUNT, SUM, MIN, MAX, SET, LIST, MAP or
    /// TOP_N.
    pub fn name(&self) -> &'static str {
        match self {
            Agg::Count => "COUNT",
            Agg::Sum(_) => "SUM",
            Agg::Min(_) => "MIN",
            Agg::Max(_) => "MAX",
            Agg::Set(_) => "SET",
            Agg::List(_) => "LIST",
            Agg::Map(..) => "MAP",
            Agg::TopN { .. } => "TOP_N",
        }
    }
}

/// The key path of an aggregation (its group-by keys), from what
/// [`Ctx::aggregate`](crate::Ctx::aggregate) was given: a list is the key
/// path itself, anything else one key.
pub(crate) fn key_path(keys: Value) -> Value {
    match keys {
        l @ Value::List(_) => l,
        k => Value::List(vec![k]),
    }
}
