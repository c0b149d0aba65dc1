//! Key partitioning (`abi/ABI.md` §4.3): the host, every SDK's test
//! harness and the clients compute the partition that owns a key the same
//! way.

use crate::msgpack::{self, EncodeError};
use crate::value::Value;

/// The partitioning hash of a key: 64-bit FNV-1a over its canonical
/// encoding, then the MurmurHash3 fmix64 finalizer.
///
/// ```
/// assert_eq!(squall::hash_key(&"alice".into()).unwrap(), 8450060486317020747);
/// ```
pub fn hash_key(key: &Value) -> Result<u64, EncodeError> {
    Ok(hash_bytes(&msgpack::encode(key)?))
}

pub(crate) fn hash_bytes(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &c in b {
        h ^= c as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

/// The partition, among `partitions`, that owns `key`: `hash_key(key) %
/// partitions` (0 when `partitions` is 0).
///
/// ```
/// assert_eq!(squall::key_partition(&"alice".into(), 64).unwrap(), 11);
/// ```
pub fn key_partition(key: &Value, partitions: u32) -> Result<u32, EncodeError> {
    let h = hash_key(key)?;
    if partitions == 0 {
        return Ok(0);
    }
    Ok((h % partitions as u64) as u32)
}
