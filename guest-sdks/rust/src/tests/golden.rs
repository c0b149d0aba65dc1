//! The canonical MessagePack vectors of abi/testdata.

use super::json::{hex, testdata, typed, Json};
use crate::{canonicalize, decode, encode, is_canonical, Value};

/// The same value with map entries and set elements rebuilt in reverse
/// order: the encoding must not depend on insertion order.
fn reversed(v: &Value) -> Value {
    match v {
        Value::List(l) => Value::List(l.iter().map(reversed).collect()),
        Value::Map(m) => Value::Map(m.iter().rev().map(|(k, v)| (reversed(k), reversed(v))).collect()),
        Value::Set(s) => Value::Set(s.iter().rev().map(reversed).collect()),
        v => v.clone(),
    }
}

#[test]
fn golden_values() {
    let lines = testdata("values.jsonl");
    assert!(lines.len() > 90, "{} vectors", lines.len());
    for l in &lines {
        let name = l.str("name");
        let v = l.val("value");
        let want = l.hex("hex");
        let got = encode(&v).unwrap_or_else(|e| panic!("{}: {}", name, e));
        assert_eq!(hex(&got), hex(&want), "{}: encode", name);
        assert_eq!(encode(&reversed(&v)).unwrap(), want, "{}: encode of reordered entries", name);
        let back = decode(&want).unwrap_or_else(|e| panic!("{}: {}", name, e));
        assert!(back == v, "{}: decode gave {}, want {}", name, back, v);
        assert!(is_canonical(&want), "{}", name);
        if l.has("text") {
            assert_eq!(v.to_string(), l.str("text"), "{}: text", name);
        }
        // Ord agrees with Eq.
        assert_eq!(back.cmp(&v), std::cmp::Ordering::Equal, "{}", name);
    }
}

#[test]
fn golden_invalid() {
    let lines = testdata("invalid.jsonl");
    assert!(lines.len() > 50);
    for l in &lines {
        let name = l.str("name");
        match decode(&l.hex("hex")) {
            Ok(v) => panic!("{}: decoded {}", name, v),
            Err(e) => assert_eq!(e.reason(), l.str("reason"), "{}: {}", name, e),
        }
    }
}

#[test]
fn golden_noncanonical() {
    let lines = testdata("noncanonical.jsonl");
    assert!(lines.len() > 30);
    for l in &lines {
        let name = l.str("name");
        let input = l.hex("input");
        let v = decode(&input).unwrap_or_else(|e| panic!("{}: {}", name, e));
        let want: Value = typed(l.get("value"));
        assert!(v == want, "{}: decoded {}, want {}", name, v, want);
        assert_eq!(hex(&encode(&v).unwrap()), l.str("hex"), "{}", name);
        assert_eq!(hex(&canonicalize(&input).unwrap()), l.str("hex"), "{}", name);
        assert!(!is_canonical(&input), "{}", name);
    }
    let _ = Json::Null;
}
