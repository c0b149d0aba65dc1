//! Squall guest SDK for Rust (work in progress).
#![warn(missing_docs)]

mod convert;
mod msgpack;
mod value;

pub use convert::{Bytes, ConvertError, FromValue};
pub use msgpack::{canonicalize, decode, decode_prefix, encode, encode_into, is_canonical, DecodeError, EncodeError, MAX_DEPTH};
pub use value::{Kind, Value, ValueMap, ValueSet};

#[cfg(test)]
mod tests;
