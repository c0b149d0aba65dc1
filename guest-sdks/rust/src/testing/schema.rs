//! The fake host's schema checks: a PState schema node as the host reads
//! it from the module definition (None checks nothing: values not covered
//! by a schema), and the host's messages.

use crate::convert::short;
use crate::defcheck::Problems;
use crate::schema::SNode;
use crate::value::{quote, Kind, Value, ValueMap, ValueSet};

pub(crate) type S<'a> = Option<&'a SNode>;

/// Reads the ABI form of a schema that the definition check accepted.
pub(crate) fn parse_schema(v: &Value) -> SNode {
    let mut p = Problems::default();
    let mut s = p.schema("schema", v, 1).unwrap_or_default();
    s.explode();
    s
}

pub(crate) fn t<'a>(s: S<'a>) -> &'a str {
    s.map_or("", |s| s.typ.as_str())
}

pub(crate) fn exploded(s: S<'_>) -> bool {
    s.map_or(false, |s| s.exploded)
}

pub(crate) fn elem_s(s: S<'_>) -> S<'_> {
    s.and_then(|s| s.elem.as_deref())
}

fn field_s<'a>(s: S<'a>, name: &str) -> Option<S<'a>> {
    let s = s?;
    s.fields.iter().find(|(n, _)| n == name).map(|(_, f)| f.as_ref())
}

/// Renders a schema as the host's storage layer does.
pub(crate) fn text(s: S<'_>) -> String {
    let mut b = String::new();
    write(&mut b, s);
    b
}

fn write(b: &mut String, s: S<'_>) {
    let s = match s {
        None => {
            b.push_str("<missing>");
            return;
        }
        Some(s) => s,
    };
    match s.typ.as_str() {
        "map" => {
            b.push_str("map(");
            write(b, s.key.as_deref());
            b.push_str(", ");
            write(b, s.val.as_deref());
            b.push(')');
        }
        "set" | "list" => {
            b.push_str(&s.typ);
            b.push('(');
            write(b, s.elem.as_deref());
            b.push(')');
        }
        "record" => {
            b.push_str("record{");
            for (i, (n, f)) in s.fields.iter().enumerate() {
                if i > 0 {
                    b.push_str(", ");
                }
                b.push_str(&field_label(n));
                b.push_str(": ");
                write(b, f.as_ref());
            }
            b.push('}');
        }
        t => b.push_str(t),
    }
    if s.subindexed {
        b.push_str(".subindexed");
    }
}

fn field_label(name: &str) -> String {
    if name.is_empty() {
        return "\"\"".into();
    }
    for (i, c) in name.chars().enumerate() {
        if !(c == '_' || c.is_ascii_alphabetic() || i > 0 && c.is_ascii_digit()) {
            return quote(name);
        }
    }
    name.to_string()
}

/// A value that does not fit a schema.
pub(crate) struct SchemaError {
    #[allow(dead_code)]
    pub loc: String,
    pub msg: String,
}

fn kind_of_type(t: &str) -> Option<Kind> {
    Some(match t {
        "bool" => Kind::Bool,
        "int" => Kind::Int,
        "float" => Kind::Float,
        "string" => Kind::String,
        "bytes" => Kind::Bytes,
        "map" | "record" => Kind::Map,
        "set" => Kind::Set,
        "list" => Kind::List,
        _ => return None,
    })
}

/// Checks v against s; loc is v's place, for messages. nil always fits.
pub(crate) fn check_value(s: S<'_>, v: &Value, loc: &str) -> Result<(), SchemaError> {
    let sn = match s {
        Some(sn) if !v.is_nil() => sn,
        _ => return Ok(()),
    };
    if sn.typ == "any" {
        return Ok(());
    }
    if let Some(k) = kind_of_type(&sn.typ) {
        if v.kind() != k {
            return Err(SchemaError {
                loc: loc.into(),
                msg: format!("the schema says {}, got {} {}", text(s), v.kind(), short_value(v)),
            });
        }
    }
    match sn.typ.as_str() {
        "map" => {
            for (k, val) in v.as_map().unwrap().iter() {
                check_key(sn.key.as_deref(), k, loc)?;
                check_value(sn.val.as_deref(), val, &format!("{}[{}]", loc, k))?;
            }
        }
        "set" => {
            for e in v.items() {
                check_key(sn.elem.as_deref(), e, loc)?;
            }
        }
        "list" => {
            for (i, e) in v.items().iter().enumerate() {
                check_value(sn.elem.as_deref(), e, &format!("{}[{}]", loc, i))?;
            }
        }
        "record" => {
            for (k, val) in v.as_map().unwrap().iter() {
                let fs = record_field(sn, k, loc)?;
                check_value(fs, val, &format!("{}[{}]", loc, k))?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Checks a map key or set element: as check_value, but floats and (under
/// a schema) nil are not keys.
pub(crate) fn check_key(s: S<'_>, k: &Value, loc: &str) -> Result<(), SchemaError> {
    if k.kind() == Kind::Float {
        return Err(SchemaError { loc: loc.into(), msg: format!("float key {} is not allowed; use int or string keys", k) });
    }
    if k.is_nil() && s.is_some() && t(s) != "any" {
        return Err(SchemaError { loc: loc.into(), msg: format!("nil is not a {} key", text(s)) });
    }
    check_value(s, k, &format!("{}{{{}}}", loc, short_value(k)))
}

pub(crate) fn record_field<'a>(s: &'a SNode, k: &Value, loc: &str) -> Result<S<'a>, SchemaError> {
    if let Some(name) = k.as_str() {
        if let Some(fs) = field_s(Some(s), name) {
            return Ok(fs);
        }
    }
    let names: Vec<String> = s.fields.iter().map(|(n, _)| quote(n)).collect();
    Err(SchemaError {
        loc: loc.into(),
        msg: format!("the record has no field {}; its fields are {}", short_value(k), names.join(", ")),
    })
}

/// The schema under key k of s.
pub(crate) fn child_schema<'a>(s: S<'a>, k: &Value, loc: &str) -> Result<S<'a>, SchemaError> {
    let sn = match s {
        None => return Ok(None),
        Some(sn) => sn,
    };
    match sn.typ.as_str() {
        "map" => {
            check_key(sn.key.as_deref(), k, loc)?;
            Ok(sn.val.as_deref())
        }
        "record" => record_field(sn, k, loc),
        "set" => {
            check_key(sn.elem.as_deref(), k, loc)?;
            Ok(sn.elem.as_deref())
        }
        "list" => Ok(sn.elem.as_deref()),
        _ => Ok(None),
    }
}

/// The schema of the values of a map or record at a key found in the data.
pub(crate) fn val_schema<'a>(s: S<'a>, k: &Value) -> S<'a> {
    match t(s) {
        "map" => s.unwrap().val.as_deref(),
        "record" => field_s(s, k.as_str().unwrap_or("")).flatten(),
        "set" | "list" => elem_s(s),
        _ => None,
    }
}

thread_local! {
    static STRING_SCHEMA: &'static SNode = Box::leak(Box::new(SNode { typ: "string".into(), ..SNode::default() }));
    static INT_SCHEMA: &'static SNode = Box::leak(Box::new(SNode { typ: "int".into(), ..SNode::default() }));
}

pub(crate) fn int_schema() -> &'static SNode {
    INT_SCHEMA.with(|s| *s)
}

/// The schema of the keys of a map or record, or of the elements of a set.
pub(crate) fn key_schema<'a>(s: S<'a>) -> S<'a> {
    match t(s) {
        "map" => s.unwrap().key.as_deref(),
        "record" => Some(STRING_SCHEMA.with(|s| *s)),
        "set" => elem_s(s),
        _ => None,
    }
}

pub(crate) fn empty_of(s: S<'_>) -> Value {
    match t(s) {
        "map" | "record" => Value::Map(ValueMap::new()),
        "set" => Value::Set(ValueSet::new()),
        "list" => Value::List(vec![]),
        _ => Value::Nil,
    }
}

pub(crate) fn short_value(v: &Value) -> String {
    short(v, 80)
}

pub(crate) fn loc_string(at: &[Value]) -> String {
    let mut b = String::from("$");
    for k in at {
        b.push('[');
        b.push_str(&short_value(k));
        b.push(']');
    }
    b
}
