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

fn random_value(r: &mut crate::Rng, depth: u32) -> Value {
    let k = if depth > 3 { r.below(6) } else { r.below(9) };
    match k {
        0 => Value::Nil,
        1 => Value::Bool(r.below(2) == 1),
        2 => Value::Int(match r.below(4) {
            0 => r.below(300) as i64 - 150,
            1 => r.next_u64() as i64,
            2 => -(r.below(1 << 40) as i64),
            _ => r.below(1 << 33) as i64,
        }),
        3 => Value::Float(f64::from_bits(r.next_u64())),
        4 => Value::Str((0..r.below(40)).map(|_| char::from_u32(r.below(0x800) as u32).unwrap_or('x')).collect()),
        5 => Value::Bytes((0..r.below(300)).map(|_| r.below(256) as u8).collect()),
        6 => Value::List((0..r.below(20)).map(|_| random_value(r, depth + 1)).collect()),
        7 => Value::map((0..r.below(20)).map(|_| (random_value(r, depth + 1), random_value(r, depth + 1)))),
        _ => Value::set((0..r.below(20)).map(|_| random_value(r, depth + 1))),
    }
}

/// Random values round-trip; their encodings are canonical.
#[test]
fn round_trip_random() {
    let mut r = crate::Rng::new(1, 2);
    for _ in 0..2000 {
        let v = random_value(&mut r, 0);
        let b = encode(&v).unwrap();
        let back = decode(&b).unwrap_or_else(|e| panic!("{}: {}", v, e));
        assert!(back == v, "{} became {}", v, back);
        assert!(is_canonical(&b));
    }
}

/// Decoders never panic, whatever the input: mutations of every golden
/// value, and of every golden frame, are rejected or accepted cleanly.
#[test]
fn decoders_never_panic() {
    let mut r = crate::Rng::new(3, 4);
    let mut inputs: Vec<Vec<u8>> = testdata("values.jsonl").iter().map(|l| l.hex("hex")).collect();
    inputs.extend(testdata("invalid.jsonl").iter().map(|l| l.hex("hex")));
    let frames = format!("{}/../../abi/testdata/frames/", env!("CARGO_MANIFEST_DIR"));
    for f in ["batch.jsonl", "init.jsonl", "response.jsonl", "effects.jsonl", "query.jsonl", "invalid.jsonl"] {
        inputs.extend(super::json::read_lines(&(frames.clone() + f)).iter().map(|l| l.hex("hex")));
    }
    for input in &inputs {
        for _ in 0..60 {
            let mut b = input.clone();
            match r.below(3) {
                0 if !b.is_empty() => {
                    let i = r.below(b.len() as u64) as usize;
                    b[i] = r.below(256) as u8;
                }
                1 if !b.is_empty() => b.truncate(r.below(b.len() as u64) as usize),
                _ => b.insert(r.below(b.len() as u64 + 1) as usize, r.below(256) as u8),
            }
            let _ = decode(&b);
            let _ = crate::frames::decode_init(&b);
            let _ = crate::frames::decode_batch(&b);
            let _ = crate::frames::decode_response(&b);
            let _ = crate::testing_frames::decode_effects(&b, true);
            let _ = crate::testing_frames::decode_query(&b, true);
        }
    }
}
