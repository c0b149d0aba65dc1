"""Readers of the ABI golden vectors (abi/testdata, abi/testdata/frames)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

from squall._codec import FrozenMap, ValueSet

ROOT = Path(__file__).resolve().parents[3]
TESTDATA = ROOT / "abi" / "testdata"
FRAMES = TESTDATA / "frames"


def lines(path: Path) -> list[dict]:
    """The JSON objects of a JSON Lines golden file (comments skipped)."""
    out = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.strip() and not line.startswith("#"):
            out.append(json.loads(line))
    return out


def value(t: dict, hashable: bool = False):
    """The Python value of a typed JSON value (abi/testdata/README.md)."""
    (kind,) = [k for k in t if k != "bits"]
    x = t[kind]
    if kind == "nil":
        return None
    if kind == "bool":
        return x
    if kind == "int":
        return int(x)
    if kind == "float":
        return struct.unpack(">d", bytes.fromhex(t["bits"]))[0]
    if kind == "str":
        return x
    if kind == "bytes_hex":
        return bytes.fromhex(x)
    if kind == "list":
        items = [value(i, hashable) for i in x]
        return tuple(items) if hashable else items
    if kind == "map":
        pairs = [(value(k, True), value(v, hashable)) for k, v in x]
        d = dict(pairs)
        if hashable or len(d) != len(pairs):
            return FrozenMap(pairs)
        return d
    if kind == "set":
        elems = [value(e, True) for e in x]
        s = frozenset(elems)
        if len(s) != len(elems):
            return ValueSet(elems)
        return s if hashable else set(elems)
    raise ValueError(f"unknown typed value kind {kind}")
