//! The aggregators of ABI 1.1 (`abi/ABI.md` §15.3), as the host applies
//! them: the harness combines AGGREGATE effects with these, and
//! `abi/testdata/frames/aggregate.jsonl` pins them.

use crate::value::{Value, ValueMap, ValueSet};
use crate::wire::{AGG_NAMES, AGG_TOP_N, MAX_TOP_N};

pub(crate) const AGG_COUNT: u8 = 1;
pub(crate) const AGG_SUM: u8 = 2;
const AGG_MIN: u8 = 3;
const AGG_MAX: u8 = 4;
pub(crate) const AGG_SET: u8 = 5;
pub(crate) const AGG_LIST: u8 = 6;
pub(crate) const AGG_MAP: u8 = 7;

fn name(agg: u8) -> &'static str {
    AGG_NAMES.get(agg as usize).copied().unwrap_or("aggregator")
}

/// Checks the shape of the value an AGGREGATE combines (and n for TOP_N),
/// independently of the accumulator (`abi.CheckAggregateValue`).
pub(crate) fn check_value(agg: u8, v: &Value, n: i64) -> Result<(), String> {
    let fail = |msg: String| Err(format!("{}: {}", name(agg), msg));
    match agg {
        AGG_COUNT if !matches!(v, Value::Nil) => fail(format!("the value must be nil, not {}", v.kind())),
        AGG_SUM if !matches!(v, Value::Int(_) | Value::Float(_)) => {
            fail(format!("the value must be an int or a float, not {}", v.kind()))
        }
        AGG_SET if matches!(v, Value::Float(_)) => fail("set elements cannot be floats".into()),
        AGG_MAP => match v {
            Value::List(l) if l.len() == 2 => {
                if matches!(l[0], Value::Float(_)) {
                    return fail("map keys cannot be floats".into());
                }
                Ok(())
            }
            _ => fail(format!("the value must be a [key, value] pair, not {}", v)),
        },
        AGG_TOP_N => match v {
            Value::List(l) if l.len() == 2 => {
                if !(1..=MAX_TOP_N).contains(&n) {
                    return fail(format!("n is {}; it must be from 1 to {}", n, MAX_TOP_N));
                }
                Ok(())
            }
            _ => fail(format!("the value must be a [score, id] pair, not {}", v)),
        },
        1..=8 => Ok(()),
        _ => fail("unknown aggregator; use 1 (COUNT) to 8 (TOP_N)".into()),
    }
}

/// a + b for COUNT and SUM: nil counts as 0, int + int is an int that must
/// not overflow, anything with a float is a float.
pub(crate) fn add_numbers(a: &Value, b: &Value, agg: u8) -> Result<Value, String> {
    let a = if matches!(a, Value::Nil) { &Value::Int(0) } else { a };
    if let (Value::Int(x), Value::Int(y)) = (a, b) {
        return match x.checked_add(*y) {
            Some(s) => Ok(Value::Int(s)),
            None => Err(format!("{}: the sum {} + {} overflows int64", name(agg), x, y)),
        };
    }
    let num = |v: &Value| match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    };
    match (num(a), num(b)) {
        (Some(x), Some(y)) => {
            let s = x + y;
            if s.is_nan() && !x.is_nan() && !y.is_nan() {
                return Err(format!("{}: the sum is NaN", name(agg)));
            }
            Ok(Value::Float(s))
        }
        _ => Err(format!("{}: the current value is {} {}; it needs a number", name(agg), a.kind(), a)),
    }
}

/// Combines v into the accumulator cur (nil when absent) with agg.
pub(crate) fn aggregate(agg: u8, cur: &Value, v: &Value, n: i64) -> Result<Value, String> {
    check_value(agg, v, n)?;
    let wrong = |want: &str| Err(format!("{}: the current value is {} {}; {} needs {}", name(agg), cur.kind(), cur, name(agg), want));
    match agg {
        AGG_COUNT => add_numbers(cur, &Value::Int(1), agg),
        AGG_SUM => add_numbers(cur, v, agg),
        AGG_MIN | AGG_MAX => {
            if matches!(cur, Value::Nil) {
                return Ok(v.clone());
            }
            let c = v.cmp(cur);
            if agg == AGG_MIN && c.is_lt() || agg == AGG_MAX && c.is_gt() {
                Ok(v.clone())
            } else {
                Ok(cur.clone())
            }
        }
        AGG_SET => match cur {
            Value::Nil => Ok(Value::Set(ValueSet::from_iter([v.clone()]))),
            Value::Set(s) => {
                let mut s = s.clone();
                s.insert(v.clone());
                Ok(Value::Set(s))
            }
            _ => wrong("a set"),
        },
        AGG_LIST => match cur {
            Value::Nil => Ok(Value::List(vec![v.clone()])),
            Value::List(l) => {
                let mut l = l.clone();
                l.push(v.clone());
                Ok(Value::List(l))
            }
            _ => wrong("a list"),
        },
        AGG_MAP => {
            let (k, x) = (v.index(0).clone(), v.index(1).clone());
            match cur {
                Value::Nil => {
                    let mut m = ValueMap::new();
                    m.insert(k, x);
                    Ok(Value::Map(m))
                }
                Value::Map(m) => {
                    let mut m = m.clone();
                    m.insert(k, x);
                    Ok(Value::Map(m))
                }
                _ => wrong("a map"),
            }
        }
        _ => {
            let mut pairs: Vec<Value> = match cur {
                Value::Nil => vec![],
                Value::List(l) => l.clone(),
                _ => return wrong("a list of [score, id] pairs"),
            };
            let (score, id) = (v.index(0), v.index(1));
            let mut found = false;
            for p in pairs.iter_mut() {
                if !matches!(p, Value::List(l) if l.len() == 2) {
                    return wrong("a list of [score, id] pairs");
                }
                if p.index(1) == id {
                    found = true;
                    if score.cmp(p.index(0)).is_gt() {
                        *p = Value::List(vec![score.clone(), id.clone()]);
                    }
                }
            }
            if !found {
                pairs.push(Value::List(vec![score.clone(), id.clone()]));
            }
            pairs.sort_by(|a, b| b.index(0).cmp(a.index(0)).then_with(|| a.index(1).cmp(b.index(1))));
            pairs.truncate(n as usize);
            Ok(Value::List(pairs))
        }
    }
}

/// Combines v into acc at the key path keys, creating maps where values
/// are absent (`abi.AggregateAt`, the group-by of §15.3).
pub(crate) fn aggregate_at(acc: &Value, keys: &[Value], agg: u8, v: &Value, n: i64) -> Result<Value, String> {
    let k = match keys.first() {
        None => return aggregate(agg, acc, v, n),
        Some(k) => k,
    };
    if matches!(k, Value::Float(_)) {
        return Err(format!("{}: a key of the key path is a float; keys cannot be floats", name(agg)));
    }
    let child = match acc {
        Value::Nil => Value::Nil,
        Value::Map(m) => m.get(k).cloned().unwrap_or(Value::Nil),
        _ => {
            return Err(format!("{}: the key path navigates into {} {}; only maps have keys", name(agg), acc.kind(), acc))
        }
    };
    let nv = aggregate_at(&child, &keys[1..], agg, v, n)?;
    let mut m = match acc {
        Value::Map(m) => m.clone(),
        _ => ValueMap::new(),
    };
    m.insert(k.clone(), nv);
    Ok(Value::Map(m))
}
