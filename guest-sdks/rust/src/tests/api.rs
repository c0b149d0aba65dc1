//! Paths, schemas, conversions and errors (the Go SDK's path and
//! conversion tests).

use std::collections::{BTreeMap, HashMap};

use crate::{
    key, list, map, path, set, Bytes, ConvertError, Error, ErrorKind, FilterOp, FromValue, Path, PathMode,
    RangeOpts, ResultExt, Schema, Value, ViewFn,
};

#[test]
fn path_forms() {
    let cases: Vec<(Path, &str, &str)> = vec![
        (key("a"), r#"[[1, "a"]]"#, r#"key("a")"#),
        (Path::new().must_key(1), "[[2, 1]]", "mustKey(1)"),
        (Path::new().map_vals().map_keys(), "[[3], [12]]", "mapVals().mapKeys()"),
        (Path::new().all().first().last(), "[[4], [5], [6]]", "all().first().last()"),
        (Path::new().nth(-1), "[[7, -1]]", "nth(-1)"),
        (Path::new().sorted_range(1, ()), "[[8, 1, nil]]", "sortedRange(1, open)"),
        (
            Path::new().sorted_range_with((), "z", RangeOpts { exclude_from: true, include_to: true, limit: 3, reverse: true }),
            r#"[[8, nil, "z", {"limit": 3, "reverse": true, "includeTo": true, "excludeFrom": true}]]"#,
            r#"sortedRange(open, "z", excludeFrom, includeTo, limit=3, reverse)"#,
        ),
        (Path::new().filter(FilterOp::Ge, 3).filter_exists(), r#"[[9, "ge", 3], [9, "exists"]]"#, "filter(ge, 3).filter(exists)"),
        (Path::new().nil_to_val(Vec::<i64>::new()), "[[10, []]]", "nilToVal([])"),
        (Path::new().view(ViewFn::Size), r#"[[11, "size"]]"#, "view(size)"),
        (Path::new().set(()), "[[32, nil]]", "set(nil)"),
        (Path::new().incr(-2), "[[33, -2]]", "incr(-2)"),
        (Path::new().incr_float(0.5), "[[33, 0.5]]", "incr(0.5)"),
        (Path::new().append_all([Value::from(1), "x".into()]), r#"[[34, 1, "x"]]"#, r#"append(1, "x")"#),
        (Path::new().prepend_all(Vec::<Value>::new()), "[[35]]", "prepend()"),
        (Path::new().remove(), "[[36]]", "remove()"),
        (Path::new().merge(map! {"a" => 1}), r#"[[37, {"a": 1}]]"#, r#"merge({"a": 1})"#),
    ];
    for (p, form, text) in cases {
        let v = p.value().unwrap();
        assert_eq!((v.to_string().as_str(), p.to_string().as_str()), (form, text));
        let back = Path::parse(&v).unwrap();
        assert_eq!(back.to_string(), text);
        assert_eq!(back, p);
    }
    // The macro builds the same paths.
    assert_eq!(path![key("a"), map_vals, filter(FilterOp::Gt, 2)], key("a").map_vals().filter(FilterOp::Gt, 2));
    assert_eq!(path![], Path::new());
    // Extending a clone of a prefix leaves the prefix alone.
    let base = key("a");
    let (x, y) = (base.clone().key("x"), base.clone().key("y"));
    assert_eq!((base.to_string(), x.to_string(), y.to_string()), (r#"key("a")"#.into(), r#"key("a").key("x")"#.into(), r#"key("a").key("y")"#.into()));
}

#[test]
fn path_errors() {
    let cases: Vec<(Path, PathMode, &str)> = vec![
        (Path::new().sorted_range_with(1, 2, RangeOpts::new().limit(u32::MAX)), PathMode::Select, "limit must be at most 2147483647"),
        (Path::new().merge(1), PathMode::Transform, "merge needs a map"),
        (key(1).set(1), PathMode::Select, "step 1 (set(1)): a select path cannot end with a terminal"),
        (key(1), PathMode::Transform, "path: a transform path must end with a terminal"),
        (Path::new().set(1).remove(), PathMode::Transform, "step 0 (set(1)): a terminal must be the last step of a path; 1 step(s) follow it"),
        (Path::new().view(ViewFn::Count).set(1), PathMode::Transform, "view is read-only"),
    ];
    for (p, mode, want) in cases {
        let e = p.validate(mode).unwrap_err();
        assert!(e.to_string().contains(want), "{}: {}, want {:?}", p, e, want);
    }
    let parse_cases: Vec<(Value, &str)> = vec![
        (Value::Int(1), "path: a path is a list of steps, not int"),
        (list![list![]], "path step 0: a step is a non-empty list"),
        (list![list!["key"]], "the opcode must be an int"),
        (list![list![99]], "unknown opcode 99"),
        (list![list![1]], "key takes 1 argument(s), got 0"),
        (list![list![7, "x"]], "nth needs an int index"),
        (list![list![8, (), (), map! {"limt" => 1}]], "unknown sortedRange option \"limt\""),
        (list![list![9, "gt"]], "filter gt takes an operand"),
        (list![list![9, "exists", 1]], "filter exists takes no operand"),
        (list![list![11, "len"]], "unknown view function \"len\""),
        (list![list![33, "1"]], "incr needs an int or float amount"),
    ];
    for (v, want) in parse_cases {
        let e = Path::parse(&v).unwrap_err();
        assert!(e.to_string().contains(want), "{}: {}, want {:?}", v, e, want);
    }
}

#[test]
fn schema_forms() {
    let s = Schema::map_of(
        Schema::String,
        Schema::record_of([("n", Schema::Int), ("tags", Schema::set_of(Schema::String).subindexed())]),
    );
    assert_eq!(s.to_string(), "map(string, record{n: int, tags: set(string).subindexed})");
    assert_eq!(
        s.value().to_string(),
        r#"{"key": "string", "val": {"type": "record", "fields": [["n", "int"], ["tags", {"elem": "string", "type": "set", "subindexed": true}]]}, "type": "map"}"#
    );
    assert!(std::panic::catch_unwind(|| Schema::Int.subindexed()).is_err());
}

#[test]
fn conversions() {
    // Into values.
    assert_eq!(Value::from(vec![1, 2]).to_string(), "[1, 2]");
    assert_eq!(Value::from(Bytes(vec![0, 255])).to_string(), r#"0x"00ff""#);
    assert_eq!(Value::from(Some("x")), Value::from("x"));
    assert_eq!(Value::from(None::<i64>), Value::Nil);
    assert_eq!(Value::from(("a", 1)).to_string(), r#"["a", 1]"#);
    let mut hm = HashMap::new();
    hm.insert("b".to_string(), 2);
    hm.insert("a".to_string(), 1);
    assert_eq!(Value::from(hm).to_string(), r#"{"a": 1, "b": 2}"#);
    assert_eq!(set!["b", "a", "b"].to_string(), r#"#{"a", "b"}"#);
    assert!(Value::try_from(u64::MAX).is_err());
    assert_eq!(Value::try_from(7u64).unwrap(), Value::Int(7));
    assert_eq!(Value::from(f64::NAN).encode().unwrap(), Value::Float(-f64::NAN).encode().unwrap());
    // Out of values; nil is the zero value.
    assert_eq!(i64::from_value(Value::Nil), Ok(0));
    assert_eq!(String::from_value(Value::Nil), Ok(String::new()));
    assert_eq!(Option::<i64>::from_value(Value::Nil), Ok(None));
    assert_eq!(f64::from_value(Value::Int(2)), Ok(2.0));
    assert_eq!(u8::from_value(Value::Int(300)).unwrap_err().to_string(), "squall: 300 does not fit a uint8");
    assert_eq!(
        i64::from_value("x".into()).unwrap_err().to_string(),
        r#"squall: cannot store string "x" in a int64"#
    );
    assert_eq!(
        Vec::<i64>::from_value(list![1, "x"]).unwrap_err().to_string(),
        r#"squall: at [1]: cannot store string "x" in a int64"#
    );
    assert_eq!(
        BTreeMap::<String, i64>::from_value(map! {"a" => true}).unwrap_err().to_string(),
        r#"squall: at ["a"]: cannot store bool true in a int64"#
    );
    assert_eq!(Vec::<String>::from_value(set!["b", "a"]).unwrap(), vec!["a", "b"]);
    assert_eq!(<(String, i64)>::from_value(list!["a", 1]).unwrap(), ("a".to_string(), 1));
    let rec = map! {"user" => "ann", "age" => 3};
    assert_eq!(rec.field_as::<i64>("age"), Ok(3));
    assert_eq!(rec.field_as::<i64>("user").unwrap_err().path, r#"["user"]"#);
    assert_eq!(Value::from(1).to::<Value>(), Ok(Value::Int(1)));
    let _: Result<i64, ConvertError> = Value::Int(1).try_into();
}

#[test]
fn value_order_and_equality() {
    // Kinds order first; floats by total order; NaN equals NaN.
    let mut vs = vec![
        Value::from("a"),
        Value::Float(f64::NAN),
        Value::Float(0.0),
        Value::Float(-0.0),
        Value::Int(-1),
        Value::Bool(true),
        Value::Nil,
        list![1],
        list![],
        map! {"a" => 1},
        set![1],
        Value::Bytes(vec![1]),
    ];
    vs.sort();
    let text: Vec<String> = vs.iter().map(|v| v.to_string()).collect();
    assert_eq!(
        text.join(" "),
        r#"nil true -1 -0.0 0.0 NaN "a" 0x"01" [] [1] {"a": 1} #{1}"#
    );
    assert_eq!(Value::Float(f64::NAN), Value::Float(f64::NAN));
    assert_ne!(Value::Float(0.0), Value::Float(-0.0));
    assert_ne!(Value::Int(1), Value::Float(1.0));
    // Maps compare by their entries in value order (-1 before 1), not in
    // canonical (encoding) order.
    assert!(map! {-1 => 0} < map! {1 => 0});
    // Text forms of floats.
    for (f, t) in [(1e6, "1e+06"), (123456.0, "123456.0"), (1.5e-7, "1.5e-07"), (0.0001, "0.0001"), (f64::INFINITY, "+Inf")] {
        assert_eq!(Value::Float(f).to_string(), t);
    }
    assert_eq!(Value::from("a\u{0}\u{a0}é\"").to_string(), r#""a\x00\u00a0é\"""#);
}

#[test]
fn errors() {
    let base = || Error::new("x");
    let cases = vec![
        (base(), false, ErrorKind::Error),
        (base().into_poison(), true, ErrorKind::Poison),
        (base().into_poison().into_retryable(), false, ErrorKind::Retry),
        (base().into_retryable().into_poison(), true, ErrorKind::Poison),
        (crate::poison!("bad {}", 1), true, ErrorKind::Poison),
        (Error::retryable("later"), false, ErrorKind::Retry),
    ];
    for (e, poison, kind) in cases {
        assert_eq!((e.is_poison(), e.kind()), (poison, kind), "{:?}", e);
    }
    let r: Result<i64, std::num::ParseIntError> = "x".parse::<i64>();
    let e = r.clone().poison().unwrap_err();
    assert!(e.is_poison() && e.message().contains("invalid digit"));
    let e: Error = r.unwrap_err().into();
    assert_eq!(e.kind(), ErrorKind::Error);
}
