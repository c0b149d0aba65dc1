"""Key partitioning (abi/ABI.md §4.3): FNV-1a 64 of the key's canonical
encoding, finished with MurmurHash3's fmix64."""

from __future__ import annotations

# typing is imported by type checkers only: annotations are strings here
# (PEP 563), and every instance start imports this module.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from ._codec import packb

_M = (1 << 64) - 1


def hash_key_bytes(k: bytes) -> int:
    """The 64-bit hash of an encoded key."""
    h = 0xCBF29CE484222325
    for c in k:
        h = ((h ^ c) * 0x100000001B3) & _M
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & _M
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & _M
    h ^= h >> 33
    return h


def hash_key(key: Any) -> int:
    """The 64-bit hash of a key value."""
    return hash_key_bytes(packb(key))


def key_partition(key: Any, tasks: int) -> int:
    """The partition, out of ``tasks``, that owns ``key``."""
    return hash_key(key) % tasks
