"""Squall's canonical MessagePack codec, in pure Python.

Every value that crosses the module boundary (records, keys, payloads, paths,
PState contents, the module definition) is encoded as canonical MessagePack
(normative rules: ``abi/doc.go`` in the Squall repository), byte for byte the
same in every SDK, because partitions are computed from these bytes.

Value mapping (the C codec of the wasm runtime, ``_squall.packb`` /
``_squall.unpackb``, must match it object for object; README.md "Value
mapping" says the same):

=========== ================================= ==================================
MessagePack encoded from                      decoded as
=========== ================================= ==================================
nil         ``None``                          ``None``
bool        ``bool`` (tested before ``int``)  ``bool``
int         ``int`` in [-2**63, 2**63-1],     ``int``
            shortest form, non-negative never
            signed (others: :class:`EncodeError`)
float       ``float``, always float64; every  ``float`` (float32 widened)
            NaN as 7ff8000000000000; -0.0 kept
str         ``str`` (no lone surrogates)      ``str``
bin         ``bytes``, ``bytearray``,         ``bytes``
            ``memoryview``
array       ``list``, ``tuple``               ``list``; ``tuple`` where a hashable
                                              value is needed (inside map keys
                                              and set elements)
map         ``dict``, any                     ``dict``; :class:`FrozenMap` where a
            ``collections.abc.Mapping``       hashable value is needed, and when
                                              two keys are equal in Python but
                                              distinct values (``1``, ``1.0``,
                                              ``True``; ``0.0`` and ``-0.0``)
set (ext 1) ``set``, ``frozenset``,           ``set``; ``frozenset`` where a
            :class:`ValueSet`                 hashable value is needed;
                                              :class:`ValueSet` when two elements
                                              are equal in Python but distinct
—           a dataclass instance (the map of  —
            its fields), an object with
            ``__squall__()`` (what it returns)
=========== ================================= ==================================

Maps are written with their entries sorted by the encoding of their keys and
sets with their elements sorted the same way, whatever the Python order. Two
keys (or elements) with the same encoding are an error. Decoding accepts any
well-formed MessagePack for these values (longer headers, float32, unsorted
entries) and rejects what ``abi/testdata/invalid.jsonl`` lists, with a
:class:`DecodeError` giving the byte offset.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
# typing is imported by type checkers only: annotations are strings here
# (PEP 563), and every instance start imports this module.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable, Iterator

__all__ = [
    "DecodeError",
    "EncodeError",
    "FrozenMap",
    "ValueSet",
    "MAX_DEPTH",
    "packb",
    "unpackb",
    "canonical",
]

MAX_DEPTH = 128
_NAN = b"\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00"
_INT_MIN = -(1 << 63)
_INT_MAX = (1 << 63) - 1

_pack_d = struct.Struct(">d").pack
_pack_B = struct.Struct(">B").pack
_pack_H = struct.Struct(">H").pack
_pack_I = struct.Struct(">I").pack
_pack_Q = struct.Struct(">Q").pack
_pack_b = struct.Struct(">b").pack
_pack_h = struct.Struct(">h").pack
_pack_i = struct.Struct(">i").pack
_pack_q = struct.Struct(">q").pack
_unpack_d = struct.Struct(">d").unpack_from
_unpack_f = struct.Struct(">f").unpack_from
_unpack_H = struct.Struct(">H").unpack_from
_unpack_I = struct.Struct(">I").unpack_from
_unpack_Q = struct.Struct(">Q").unpack_from
_unpack_b = struct.Struct(">b").unpack_from
_unpack_h = struct.Struct(">h").unpack_from
_unpack_i = struct.Struct(">i").unpack_from
_unpack_q = struct.Struct(">q").unpack_from


class EncodeError(ValueError):
    """A Python value that has no canonical encoding (an unsupported type,
    an int out of the 64-bit range, a string with lone surrogates, nesting
    deeper than 128, two map keys with the same encoding).

    ``where`` locates it inside the value, like ``$["users"][3]``.
    """

    def __init__(self, message: str, where: str = "$") -> None:
        super().__init__(f"squall: encode: at {where}: {message}")
        self.where = where
        self.reason = message


class DecodeError(ValueError):
    """Bytes that are not exactly one well-formed Squall value.

    ``offset`` is the byte offset of the problem; ``reason`` is one of the
    categories of ``abi/testdata/README.md`` (``truncated``,
    ``length_exceeds_input``, ``invalid_utf8``, ``int_out_of_range``,
    ``duplicate_map_key``, ``duplicate_set_element``, ``reserved_byte``,
    ``unsupported_ext``, ``bad_set_payload``, ``trailing_bytes``,
    ``too_deep``).
    """

    def __init__(self, offset: int, reason: str, message: str) -> None:
        super().__init__(f"squall: decode: byte offset {offset}: {message}")
        self.offset = offset
        self.reason = reason


class FrozenMap(Mapping):
    """An immutable, hashable map of Squall values.

    Decoding produces it for maps used as map keys or set elements (a
    ``dict`` is not hashable) and for maps whose keys Python considers equal
    though they are distinct values (``1``, ``1.0`` and ``True``; ``0.0`` and
    ``-0.0``). Lookups compare keys as Squall does: by value and kind.
    Build one from a dict or from (key, value) pairs.
    """

    __slots__ = ("_items", "_index", "_hash")

    def __init__(self, items: Mapping | Iterable[tuple[Any, Any]] = ()) -> None:
        pairs = list(items.items()) if isinstance(items, Mapping) else [tuple(p) for p in items]
        index: dict[bytes, int] = {}
        for i, (k, _) in enumerate(pairs):
            index[packb(k)] = i
        if len(index) != len(pairs):
            raise EncodeError("two keys of a FrozenMap have the same encoding")
        self._items = tuple(pairs)
        self._index = index
        self._hash: int | None = None

    def __getitem__(self, key: Any) -> Any:
        try:
            return self._items[self._index[packb(key)]][1]
        except (EncodeError, TypeError):
            raise KeyError(key) from None

    def __iter__(self) -> Iterator[Any]:
        return (k for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(packb(self))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            try:
                return packb(self) == packb(other)
            except (EncodeError, TypeError):
                return False
        return NotImplemented

    def __repr__(self) -> str:
        return "FrozenMap({" + ", ".join(f"{k!r}: {v!r}" for k, v in self._items) + "})"


class ValueSet(frozenset):
    """A set of Squall values that Python considers equal though they are
    distinct (``{1, 1.0, True}``): decoding produces it for such sets, and it
    encodes back to the same set. Its elements are in ``values``; as a
    frozenset it holds each Python-equal group once."""

    values: tuple

    def __new__(cls, values: Iterable[Any] = ()):
        vals = tuple(values)
        self = super().__new__(cls, vals)
        self.values = vals
        return self

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (set, frozenset)):
            try:
                return packb(self) == packb(other)
            except (EncodeError, TypeError):
                return False
        return NotImplemented

    def __hash__(self) -> int:
        return hash(packb(self))

    def __repr__(self) -> str:
        return "ValueSet([" + ", ".join(repr(v) for v in self.values) + "])"


# ---------------------------------------------------------------- encoding


def _int(n: int, out: list) -> None:
    if n >= 0:
        if n <= 0x7F:
            out.append(_pack_B(n))
        elif n <= 0xFF:
            out.append(b"\xcc" + _pack_B(n))
        elif n <= 0xFFFF:
            out.append(b"\xcd" + _pack_H(n))
        elif n <= 0xFFFFFFFF:
            out.append(b"\xce" + _pack_I(n))
        elif n <= _INT_MAX:
            out.append(b"\xcf" + _pack_Q(n))
        else:
            raise EncodeError(f"int {n} is out of the 64-bit signed range")
    elif n >= -32:
        out.append(_pack_b(n))
    elif n >= -128:
        out.append(b"\xd0" + _pack_b(n))
    elif n >= -32768:
        out.append(b"\xd1" + _pack_h(n))
    elif n >= -(1 << 31):
        out.append(b"\xd2" + _pack_i(n))
    elif n >= _INT_MIN:
        out.append(b"\xd3" + _pack_q(n))
    else:
        raise EncodeError(f"int {n} is out of the 64-bit signed range")


def _len_header(n: int, fix: int, fixmax: int, b16: bytes, b32: bytes) -> bytes:
    if n <= fixmax:
        return _pack_B(fix | n)
    if n <= 0xFFFF:
        return b16 + _pack_H(n)
    return b32 + _pack_I(n)


def _sorted_unique(encoded: list, what: str, where: str) -> list:
    encoded.sort(key=lambda e: e[0])
    for i in range(1, len(encoded)):
        if encoded[i][0] == encoded[i - 1][0]:
            raise EncodeError(f"two {what} have the same encoding {encoded[i][0].hex()}", where)
    return encoded


def _enc(v: Any, out: list, depth: int, where: str) -> None:
    t = type(v)
    if t is str:
        try:
            b = v.encode("utf-8")
        except UnicodeEncodeError:
            raise EncodeError("the string is not valid Unicode (it has a lone surrogate)", where) from None
        n = len(b)
        if n <= 31:
            out.append(_pack_B(0xA0 | n))
        elif n <= 0xFF:
            out.append(b"\xd9" + _pack_B(n))
        elif n <= 0xFFFF:
            out.append(b"\xda" + _pack_H(n))
        else:
            out.append(b"\xdb" + _pack_I(n))
        out.append(b)
    elif t is int:
        try:
            _int(v, out)
        except EncodeError as e:
            raise EncodeError(e.reason, where) from None
    elif v is None:
        out.append(b"\xc0")
    elif t is bool:
        out.append(b"\xc3" if v else b"\xc2")
    elif t is float:
        out.append(_NAN if v != v else b"\xcb" + _pack_d(v))
    elif t is list or t is tuple:
        if depth >= MAX_DEPTH:
            raise EncodeError(f"nesting deeper than {MAX_DEPTH}", where)
        out.append(_len_header(len(v), 0x90, 15, b"\xdc", b"\xdd"))
        i = 0
        try:
            for x in v:
                _enc(x, out, depth + 1, where)
                i += 1
        except EncodeError as e:
            raise _inside(e, where, f"[{i}]") from None
    elif t is dict or isinstance(v, Mapping):
        if depth >= MAX_DEPTH:
            raise EncodeError(f"nesting deeper than {MAX_DEPTH}", where)
        items = []
        for k, x in v.items():
            kb: list = []
            _enc(k, kb, depth + 1, where)
            items.append((b"".join(kb), x, k))
        _sorted_unique(items, "map keys", where)
        out.append(_len_header(len(items), 0x80, 15, b"\xde", b"\xdf"))
        for kb, x, k in items:
            out.append(kb)
            try:
                _enc(x, out, depth + 1, where)
            except EncodeError as e:
                raise _inside(e, where, f"[{k!r}]") from None
    elif t is bytes or t is bytearray or t is memoryview:
        b = bytes(v)
        n = len(b)
        if n <= 0xFF:
            out.append(b"\xc4" + _pack_B(n))
        elif n <= 0xFFFF:
            out.append(b"\xc5" + _pack_H(n))
        else:
            out.append(b"\xc6" + _pack_I(n))
        out.append(b)
    elif isinstance(v, (set, frozenset)):
        if depth >= MAX_DEPTH:
            raise EncodeError(f"nesting deeper than {MAX_DEPTH}", where)
        elems = v.values if isinstance(v, ValueSet) else v
        enc = []
        for x in elems:
            eb: list = []
            _enc(x, eb, depth + 1, where)
            enc.append((b"".join(eb),))
        _sorted_unique(enc, "set elements", where)
        payload = _len_header(len(enc), 0x90, 15, b"\xdc", b"\xdd") + b"".join(e[0] for e in enc)
        n = len(payload)
        if n == 1:
            out.append(b"\xd4\x01")
        elif n == 2:
            out.append(b"\xd5\x01")
        elif n == 4:
            out.append(b"\xd6\x01")
        elif n == 8:
            out.append(b"\xd7\x01")
        elif n == 16:
            out.append(b"\xd8\x01")
        elif n <= 0xFF:
            out.append(b"\xc7" + _pack_B(n) + b"\x01")
        elif n <= 0xFFFF:
            out.append(b"\xc8" + _pack_H(n) + b"\x01")
        else:
            out.append(b"\xc9" + _pack_I(n) + b"\x01")
        out.append(payload)
    elif isinstance(v, bool):
        out.append(b"\xc3" if v else b"\xc2")
    elif isinstance(v, int):
        _enc(int(v), out, depth, where)
    elif isinstance(v, float):
        _enc(float(v), out, depth, where)
    elif isinstance(v, str):
        _enc(str(v), out, depth, where)
    elif isinstance(v, (list, tuple)):
        _enc(list(v), out, depth, where)
    else:
        conv = getattr(v, "__squall__", None)
        if conv is not None:
            _enc(conv(), out, depth, where)
            return
        if hasattr(t, "__dataclass_fields__"):
            _enc({f: getattr(v, f) for f in t.__dataclass_fields__}, out, depth, where)
            return
        raise EncodeError(
            f"a {t.__name__} is not a Squall value; use None, bool, int, float, str, bytes, "
            "list, tuple, dict, set, a dataclass or an object with a __squall__() method",
            where,
        )


_FIXSTR = [bytes([0xA0 | n]) for n in range(32)]
_FIXINT = [bytes([n]) for n in range(128)]


def _inside(e: EncodeError, where: str, step: str) -> EncodeError:
    """e, located one step further inside the value (locations are built
    only when encoding fails, off the hot path)."""
    return EncodeError(e.reason, where + step + e.where[len(where):])


def packb(value: Any) -> bytes:
    """Return the canonical MessagePack encoding of ``value``.

    Raises :class:`EncodeError` for values with no canonical encoding."""
    t = type(value)
    if t is str:  # the common cases first: short strings and small ints
        try:
            b = value.encode("utf-8")
        except UnicodeEncodeError:
            raise EncodeError("the string is not valid Unicode (it has a lone surrogate)") from None
        if len(b) <= 31:
            return _FIXSTR[len(b)] + b
    elif t is int and 0 <= value <= 127:
        return _FIXINT[value]
    out: list = []
    _enc(value, out, 0, "$")
    return b"".join(out)


def canonical(value: Any) -> Any:
    """Return ``value`` decoded from its canonical encoding (tuples become
    lists, sets are normalised), which is what a stage receives."""
    return unpackb(packb(value))


# ---------------------------------------------------------------- decoding


class _Decoder:
    __slots__ = ("b", "n")

    def __init__(self, b: bytes) -> None:
        self.b = b
        self.n = len(b)

    def need(self, pos: int, k: int, what: str) -> None:
        if pos + k > self.n:
            raise DecodeError(pos, "truncated", f"unexpected end of input in {what}")

    def length(self, pos: int, n: int, start: int, what: str, per: int = 1, huge: bool = True) -> None:
        # Go's categories: counts of arrays and maps, and 32-bit lengths,
        # "exceed the input"; shorter str/bin/ext lengths are "truncated".
        if n * per > self.n - pos:
            raise DecodeError(
                start,
                "length_exceeds_input" if huge else "truncated",
                f"{what} length {n} exceeds the {self.n - pos} remaining bytes",
            )

    def value(self, pos: int, depth: int, hashable: bool) -> tuple[Any, int]:
        b = self.b
        if pos >= self.n:
            raise DecodeError(pos, "truncated", "unexpected end of input")
        c = b[pos]
        if c <= 0x7F:
            return c, pos + 1
        if c >= 0xE0:
            return c - 0x100, pos + 1
        if 0xA0 <= c <= 0xBF:
            return self.string(pos, pos + 1, c & 0x1F, False)
        if 0x90 <= c <= 0x9F:
            return self.array(pos, pos + 1, c & 0x0F, depth, hashable)
        if 0x80 <= c <= 0x8F:
            return self.map(pos, pos + 1, c & 0x0F, depth, hashable)
        if c == 0xC0:
            return None, pos + 1
        if c == 0xC2:
            return False, pos + 1
        if c == 0xC3:
            return True, pos + 1
        if c == 0xC1:
            raise DecodeError(pos, "reserved_byte", "the byte 0xc1 is never used")
        if c == 0xCB:
            self.need(pos + 1, 8, "float64")
            v = _unpack_d(b, pos + 1)[0]
            return (float("nan") if v != v else v), pos + 9
        if c == 0xCA:
            self.need(pos + 1, 4, "float32")
            v = _unpack_f(b, pos + 1)[0]
            return (float("nan") if v != v else v), pos + 5
        if 0xCC <= c <= 0xCF:
            k = 1 << (c - 0xCC)
            self.need(pos + 1, k, "uint")
            v = int.from_bytes(b[pos + 1 : pos + 1 + k], "big")
            if v > _INT_MAX:
                raise DecodeError(pos, "int_out_of_range", f"integer out of int64 range ({v})")
            return v, pos + 1 + k
        if 0xD0 <= c <= 0xD3:
            k = 1 << (c - 0xD0)
            self.need(pos + 1, k, "int")
            return int.from_bytes(b[pos + 1 : pos + 1 + k], "big", signed=True), pos + 1 + k
        if c in (0xD9, 0xDA, 0xDB):
            k = 1 << (c - 0xD9)
            self.need(pos + 1, k, "str length")
            n = int.from_bytes(b[pos + 1 : pos + 1 + k], "big")
            return self.string(pos, pos + 1 + k, n, k == 4)
        if c in (0xC4, 0xC5, 0xC6):
            k = 1 << (c - 0xC4)
            self.need(pos + 1, k, "bin length")
            n = int.from_bytes(b[pos + 1 : pos + 1 + k], "big")
            start = pos + 1 + k
            self.length(start, n, pos, "bin", 1, k == 4)
            return bytes(b[start : start + n]), start + n
        if c in (0xDC, 0xDD):
            k = 2 if c == 0xDC else 4
            self.need(pos + 1, k, "array length")
            n = int.from_bytes(b[pos + 1 : pos + 1 + k], "big")
            return self.array(pos, pos + 1 + k, n, depth, hashable)
        if c in (0xDE, 0xDF):
            k = 2 if c == 0xDE else 4
            self.need(pos + 1, k, "map length")
            n = int.from_bytes(b[pos + 1 : pos + 1 + k], "big")
            return self.map(pos, pos + 1 + k, n, depth, hashable)
        # Extensions: fixext 1/2/4/8/16, ext 8/16/32.
        if 0xD4 <= c <= 0xD8:
            n = 1 << (c - 0xD4)
            start = pos + 1
        elif c in (0xC7, 0xC8, 0xC9):
            k = 1 << (c - 0xC7)
            self.need(pos + 1, k, "ext length")
            n = int.from_bytes(b[pos + 1 : pos + 1 + k], "big")
            start = pos + 1 + k
        else:  # pragma: no cover - every byte is handled above
            raise DecodeError(pos, "reserved_byte", f"unknown byte 0x{c:02x}")
        self.need(start, 1, "ext type")
        typ = b[start]
        if typ != 1:
            t = typ - 256 if typ >= 128 else typ
            raise DecodeError(pos, "unsupported_ext", f"unsupported extension type {t}; only 1 (set) is used")
        start += 1
        self.length(start, n, pos, "ext", 1, c == 0xC9)
        end = start + n
        if start >= end or not (0x90 <= b[start] <= 0x9F or b[start] in (0xDC, 0xDD)):
            raise DecodeError(start, "bad_set_payload", "a set's payload must be one array")
        sub = _Decoder(b[:end])
        v, p = sub.set_payload(start, depth, hashable)
        if p != end:
            raise DecodeError(p, "bad_set_payload", "a set's payload must be exactly one array")
        return v, end

    def string(self, hpos: int, start: int, n: int, huge: bool) -> tuple[str, int]:
        if n > self.n - start:
            self.length(start, n, hpos, "str", 1, huge)
        try:
            s = self.b[start : start + n].decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError(hpos, "invalid_utf8", "string is not valid UTF-8") from None
        return s, start + n

    def array(self, hpos: int, pos: int, n: int, depth: int, hashable: bool) -> tuple[Any, int]:
        if depth >= MAX_DEPTH:
            raise DecodeError(hpos, "too_deep", f"nesting deeper than {MAX_DEPTH}")
        self.length(pos, n, hpos, "array")
        out = []
        val = self.value
        for _ in range(n):
            v, pos = val(pos, depth + 1, hashable)
            out.append(v)
        return (tuple(out) if hashable else out), pos

    def map(self, hpos: int, pos: int, n: int, depth: int, hashable: bool) -> tuple[Any, int]:
        if depth >= MAX_DEPTH:
            raise DecodeError(hpos, "too_deep", f"nesting deeper than {MAX_DEPTH}")
        self.length(pos, n, hpos, "map", 2)
        val = self.value
        pairs = []
        kposs = []
        all_str = True
        for _ in range(n):
            kposs.append(pos)
            k, pos = val(pos, depth + 1, True)
            if type(k) is not str:
                all_str = False
            v, pos = val(pos, depth + 1, hashable)
            pairs.append((k, v))
        if all_str and not hashable:
            # Strings are equal in Python exactly when their encodings are:
            # the dict has fewer entries only for a duplicate key.
            d = dict(pairs)
            if len(d) == n:
                return d, pos
        seen: dict = {}
        for i, (k, _) in enumerate(pairs):
            kb = packb(k)  # canonical bytes decide uniqueness (01 and cc01 are one key)
            if kb in seen:
                raise DecodeError(kposs[i], "duplicate_map_key", f"duplicate map key {k!r}")
            seen[kb] = i
        if hashable:
            return FrozenMap(sorted(pairs, key=lambda kv: packb(kv[0]))), pos
        d = dict(pairs)
        if len(d) != len(pairs):
            return FrozenMap(sorted(pairs, key=lambda kv: packb(kv[0]))), pos
        return d, pos

    def set_payload(self, pos: int, depth: int, hashable: bool) -> tuple[Any, int]:
        b = self.b
        c = b[pos]
        hpos = pos
        if c <= 0x9F:
            n = c & 0x0F
            pos += 1
        else:
            k = 2 if c == 0xDC else 4
            self.need(pos + 1, k, "array length")
            n = int.from_bytes(b[pos + 1 : pos + 1 + k], "big")
            pos += 1 + k
        if depth >= MAX_DEPTH:
            raise DecodeError(hpos, "too_deep", f"nesting deeper than {MAX_DEPTH}")
        self.length(pos, n, hpos, "set")
        elems = []
        seen: set = set()
        for _ in range(n):
            epos = pos
            v, pos = self.value(pos, depth + 1, True)
            eb = packb(v)
            if eb in seen:
                raise DecodeError(epos, "duplicate_set_element", f"duplicate set element {v!r}")
            seen.add(eb)
            elems.append(v)
        s = frozenset(elems) if hashable else set(elems)
        if len(s) != len(elems):
            return ValueSet(elems), pos
        return s, pos


def unpackb(data: bytes | bytearray | memoryview) -> Any:
    """Decode exactly one Squall value from ``data``.

    Raises :class:`DecodeError` for input that is not one well-formed
    value."""
    b = data if type(data) is bytes else bytes(data)
    if b:
        c = b[0]
        if 0xA0 <= c <= 0xBF and len(b) == 1 + (c & 0x1F):  # a short string alone: the common payload
            try:
                return b[1:].decode("utf-8")
            except UnicodeDecodeError:
                raise DecodeError(0, "invalid_utf8", "string is not valid UTF-8") from None
        if c <= 0x7F and len(b) == 1:
            return c
    d = _Decoder(b)
    v, pos = d.value(0, 0, False)
    if pos != len(b):
        raise DecodeError(pos, "trailing_bytes", f"{len(b) - pos} bytes after the value")
    return v


def unpack_prefix(data: bytes, pos: int = 0) -> tuple[Any, int]:
    """Decode one value at ``pos`` and return it with the offset after it."""
    return _Decoder(data).value(pos, 0, False)
