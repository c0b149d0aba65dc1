//! PState schemas.

use std::fmt;

use crate::defcheck::{quote_list, Problems, MAX_NAME_LEN};
use crate::value::{quote, Value, ValueMap};

/// The storage schema of a PState: a leaf type or a collection of schemas,
/// optionally [`subindexed`](Schema::subindexed).
///
/// The top level of a PState is a map (one stored entry per top-level key,
/// the key that partitions the PState), a record, or a leaf (one value per
/// partition). Map keys and set elements are leaves other than `Float`. nil
/// is allowed everywhere and means absent. The host checks every write
/// against the schema.
///
/// ```
/// use squall::Schema;
/// let followers = Schema::map_of(Schema::String, Schema::set_of(Schema::String).subindexed());
/// assert_eq!(followers.to_string(), "map(string, set(string).subindexed)");
/// let profile = Schema::record_of([("name", Schema::String), ("age", Schema::Int)]);
/// assert_eq!(profile.to_string(), "record{name: string, age: int}");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Schema {
    /// Any value.
    Any,
    /// Bools.
    Bool,
    /// 64-bit ints.
    Int,
    /// 64-bit floats.
    Float,
    /// UTF-8 strings.
    String,
    /// Byte strings.
    Bytes,
    /// A map from keys (a leaf other than `Float`) to values.
    Map {
        /// The schema of the keys.
        key: Box<Schema>,
        /// The schema of the values.
        val: Box<Schema>,
        /// Stored one entry per storage key.
        subindexed: bool,
    },
    /// A set of elements (a leaf other than `Float`).
    Set {
        /// The schema of the elements.
        elem: Box<Schema>,
        /// Stored one element per storage key.
        subindexed: bool,
    },
    /// A list.
    List {
        /// The schema of the items.
        elem: Box<Schema>,
        /// Stored one item per storage key.
        subindexed: bool,
    },
    /// A record: a map with these string keys, each optional, in
    /// declaration order.
    Record {
        /// The fields, in declaration order.
        fields: Vec<(std::string::String, Schema)>,
    },
}

impl Schema {
    /// The schema of a map from `key` (a leaf other than `Float`) to `val`.
    pub fn map_of(key: Schema, val: Schema) -> Schema {
        Schema::Map { key: Box::new(key), val: Box::new(val), subindexed: false }
    }

    /// The schema of a set of `elem` (a leaf other than `Float`).
    pub fn set_of(elem: Schema) -> Schema {
        Schema::Set { elem: Box::new(elem), subindexed: false }
    }

    /// The schema of a list of `elem`.
    pub fn list_of(elem: Schema) -> Schema {
        Schema::List { elem: Box::new(elem), subindexed: false }
    }

    /// The schema of a record with these fields.
    pub fn record_of<N: Into<std::string::String>, I: IntoIterator<Item = (N, Schema)>>(fields: I) -> Schema {
        Schema::Record { fields: fields.into_iter().map(|(n, s)| (n.into(), s)).collect() }
    }

    /// The schema (a map, set or list) stored subindexed: each element
    /// under its own storage key, sorted, with an O(1) size, so that it can
    /// hold millions of elements and be read in ranges. A subindexed
    /// collection sits under the top-level map, in a record field, or
    /// inside another subindexed collection.
    ///
    /// # Panics
    ///
    /// On a leaf or a record: only maps, sets and lists can be subindexed.
    pub fn subindexed(self) -> Schema {
        match self {
            Schema::Map { key, val, .. } => Schema::Map { key, val, subindexed: true },
            Schema::Set { elem, .. } => Schema::Set { elem, subindexed: true },
            Schema::List { elem, .. } => Schema::List { elem, subindexed: true },
            s => panic!("squall: only map, set and list schemas can be subindexed, not {}", s.type_name()),
        }
    }

    /// The type name: any, bool, int, float, string, bytes, map, set, list
    /// or record.
    pub fn type_name(&self) -> &'static str {
        match self {
            Schema::Any => "any",
            Schema::Bool => "bool",
            Schema::Int => "int",
            Schema::Float => "float",
            Schema::String => "string",
            Schema::Bytes => "bytes",
            Schema::Map { .. } => "map",
            Schema::Set { .. } => "set",
            Schema::List { .. } => "list",
            Schema::Record { .. } => "record",
        }
    }

    /// The ABI form of the schema: a leaf is its type name; a collection is
    /// a map with "type", "key" and "val" (map), "elem" (set, list),
    /// "fields" (record: `[name, schema]` pairs) and "subindexed": true
    /// when set.
    pub fn value(&self) -> Value {
        let mut m = ValueMap::new();
        m.insert("type", self.type_name());
        let sub = match self {
            Schema::Map { key, val, subindexed } => {
                m.insert("key", key.value());
                m.insert("val", val.value());
                *subindexed
            }
            Schema::Set { elem, subindexed } | Schema::List { elem, subindexed } => {
                m.insert("elem", elem.value());
                *subindexed
            }
            Schema::Record { fields } => {
                let fs: Vec<Value> =
                    fields.iter().map(|(n, s)| Value::List(vec![n.as_str().into(), s.value()])).collect();
                m.insert("fields", Value::List(fs));
                false
            }
            leaf => return Value::from(leaf.type_name()),
        };
        if sub {
            m.insert("subindexed", true);
        }
        Value::Map(m)
    }
}

impl fmt::Display for Schema {
    /// Renders the schema: `map(string, set(int).subindexed)`,
    /// `record{name: string, age: int}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sub = match self {
            Schema::Map { key, val, subindexed } => {
                write!(f, "map({}, {})", key, val)?;
                *subindexed
            }
            Schema::Set { elem, subindexed } => {
                write!(f, "set({})", elem)?;
                *subindexed
            }
            Schema::List { elem, subindexed } => {
                write!(f, "list({})", elem)?;
                *subindexed
            }
            Schema::Record { fields } => {
                f.write_str("record{")?;
                for (i, (n, s)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}: {}", n, s)?;
                }
                return f.write_str("}");
            }
            leaf => return f.write_str(leaf.type_name()),
        };
        if sub {
            f.write_str(".subindexed")?;
        }
        Ok(())
    }
}

/// A schema node as read from the ABI form (the definition check and the
/// test harness work on it): any type name, missing parts, subindexed
/// leaves, as the host sees them.
#[derive(Clone, Debug, Default)]
pub(crate) struct SNode {
    pub typ: std::string::String,
    pub key: Option<Box<SNode>>,
    pub val: Option<Box<SNode>>,
    pub elem: Option<Box<SNode>>,
    /// Record fields; a None schema is a field that could not be read.
    pub fields: Vec<(std::string::String, Option<SNode>)>,
    pub subindexed: bool,
    /// Stored as several storage keys: a subindexed collection, or a
    /// record holding one.
    pub exploded: bool,
}

pub(crate) const SCHEMA_TYPES: [&str; 10] =
    ["any", "bool", "int", "float", "string", "bytes", "map", "set", "list", "record"];

pub(crate) const MAX_SCHEMA_DEPTH: usize = 32;

pub(crate) fn is_leaf(t: &str) -> bool {
    matches!(t, "any" | "bool" | "int" | "float" | "string" | "bytes")
}

impl SNode {
    pub(crate) fn leaf(&self) -> bool {
        is_leaf(&self.typ)
    }

    /// Computes `exploded` for the node and its children.
    pub(crate) fn explode(&mut self) {
        for c in [&mut self.key, &mut self.val, &mut self.elem].into_iter().flatten() {
            c.explode();
        }
        let mut ex = false;
        for (_, f) in self.fields.iter_mut() {
            if let Some(f) = f {
                f.explode();
                ex = ex || f.exploded;
            }
        }
        if self.typ == "record" {
            self.exploded = ex;
        }
        if self.subindexed && matches!(self.typ.as_str(), "map" | "set" | "list") {
            self.exploded = true;
        }
    }

    /// Adds the problems of the node at location w and depth (the root
    /// is 1) to p. `separate` says whether the node is stored under its own
    /// storage keys, where a subindexed collection may appear. The messages
    /// are the host's.
    pub(crate) fn check(&self, p: &mut Problems, w: &str, depth: usize, separate: bool) {
        if depth > MAX_SCHEMA_DEPTH {
            p.add(w, format!("schema nests deeper than {}", MAX_SCHEMA_DEPTH));
            return;
        }
        let t = self.typ.as_str();
        let root = depth == 1;
        let coll = matches!(t, "map" | "set" | "list");
        if root && (t == "set" || t == "list") {
            p.add(
                w,
                format!(
                    "the top level of a PState must be a map, a record or a leaf, not a {}; put the {} under a map key or a record field",
                    t, t
                ),
            );
        } else if root && t == "map" && self.subindexed {
            p.add(
                &format!("{}.subindexed", w),
                "the top-level map is always stored one key per entry; remove \"subindexed\"".into(),
            );
        } else if self.subindexed && !coll {
            p.add(
                &format!("{}.subindexed", w),
                format!("only map, set and list schemas can be subindexed, not {}", quote(t)),
            );
        } else if self.subindexed && !separate {
            p.add(
                &format!("{}.subindexed", w),
                format!(
                    "a subindexed {} cannot sit inside a map, set or list that is not subindexed; mark that one subindexed too, or move this {} to a record field or directly under the top-level map",
                    t, t
                ),
            );
        }
        let child_separate = root && (t == "map" || t == "record") || t == "record" && separate || coll && self.subindexed;
        let key_like = |p: &mut Problems, name: &str, c: &Option<Box<SNode>>| {
            let what = if name == "elem" { "set elements" } else { "map keys" };
            if let Some(c) = c {
                if c.typ == "float" {
                    p.add(
                        &format!("{}.{}", w, name),
                        format!("{} cannot be floats (NaN and -0.0 make them ambiguous); use int or string", what),
                    );
                } else if !c.leaf() {
                    p.add(
                        &format!("{}.{}", w, name),
                        format!("{} must be of a leaf type (any, bool, int, string or bytes), not {}", what, quote(&c.typ)),
                    );
                }
            }
        };
        let child = |p: &mut Problems, name: &str, c: &Option<Box<SNode>>, sep: bool| {
            let cw = format!("{}.{}", w, name);
            match c {
                Some(c) => c.check(p, &cw, depth + 1, sep),
                None => check_missing(p, &cw, depth + 1),
            }
        };
        match t {
            "any" | "bool" | "int" | "float" | "string" | "bytes" => {}
            "map" => {
                child(p, "key", &self.key, false);
                key_like(p, "key", &self.key);
                child(p, "val", &self.val, child_separate);
            }
            "set" => {
                child(p, "elem", &self.elem, false);
                key_like(p, "elem", &self.elem);
            }
            "list" => child(p, "elem", &self.elem, child_separate),
            "record" => {
                if self.fields.is_empty() {
                    p.add(&format!("{}.fields", w), "a record needs at least one field".into());
                }
                let mut seen: Vec<&str> = Vec::new();
                for (i, (name, fs)) in self.fields.iter().enumerate() {
                    let fw = format!("{}.fields[{}]", w, quote(name));
                    if name.is_empty() {
                        p.add(&format!("{}.fields[{}]", w, i), "a record field needs a name".into());
                        continue;
                    } else if name.len() > MAX_NAME_LEN {
                        p.add(&fw, format!("field name is {} bytes; the limit is {}", name.len(), MAX_NAME_LEN));
                    } else if seen.contains(&name.as_str()) {
                        p.add(&format!("{}.fields[{}]", w, i), format!("field {} is declared twice", quote(name)));
                        continue;
                    }
                    seen.push(name);
                    match fs {
                        Some(fs) => fs.check(p, &fw, depth + 1, child_separate),
                        None => check_missing(p, &fw, depth + 1),
                    }
                }
            }
            "" => p.add(&format!("{}.type", w), format!("required field is missing; use one of {}", quote_list(&SCHEMA_TYPES))),
            _ => p.add(
                &format!("{}.type", w),
                format!("unknown schema type {}; use one of {}", quote(t), quote_list(&SCHEMA_TYPES)),
            ),
        }
    }
}

fn check_missing(p: &mut Problems, w: &str, depth: usize) {
    if depth > MAX_SCHEMA_DEPTH {
        p.add(w, format!("schema nests deeper than {}", MAX_SCHEMA_DEPTH));
        return;
    }
    p.add(w, "the schema is missing".into());
}
