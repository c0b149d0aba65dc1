"""The in-memory host's path engine: selects and transforms on in-memory
values with the semantics of the host's PState engine (storage/inmem.go in
the Squall repository), its schema checks, its messages, and the
restrictions of its storage layout (whole subindexed collections are not
returned). It ports the Go SDK's squalltest engine; the host's own
datadriven tests (storage/testdata/pstate) check it (tests/test_host_paths.py).

Values are held in an internal form in which distinct Squall values stay
distinct even where Python's equality merges them (1, 1.0 and True):
maps are :class:`M` and sets :class:`S`, keyed by canonical encoding.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from typing import Any, Callable

from .._codec import FrozenMap, ValueSet, packb, unpackb
from .._path import PathError, parse_path, step_text
from .._text import format_float, quote

KEY, MUST_KEY, MAP_VALS, ALL, FIRST, LAST, NTH, SORTED_RANGE = 1, 2, 3, 4, 5, 6, 7, 8
FILTER, NIL_TO_VAL, VIEW, MAP_KEYS = 9, 10, 11, 12
SET, INCR, APPEND, PREPEND, REMOVE, MERGE = 32, 33, 34, 35, 36, 37
OP_NAMES = {
    KEY: "key", MUST_KEY: "mustKey", MAP_VALS: "mapVals", ALL: "all", FIRST: "first", LAST: "last",
    NTH: "nth", SORTED_RANGE: "sortedRange", FILTER: "filter", NIL_TO_VAL: "nilToVal", VIEW: "view",
    MAP_KEYS: "mapKeys", SET: "set", INCR: "incr", APPEND: "append", PREPEND: "prepend",
    REMOVE: "remove", MERGE: "merge",
}

# ---------------------------------------------------------------- values


class M:
    """A map value: canonical key encoding -> (key, value)."""

    __slots__ = ("d",)

    def __init__(self, pairs: Any = ()) -> None:
        self.d: dict = {}
        for k, v in pairs:
            self.d[enc(k)] = (k, v)

    def get(self, k: Any) -> tuple[Any, bool]:
        e = self.d.get(enc(k))
        return (e[1], True) if e is not None else (None, False)

    def entries(self) -> list:
        return [self.d[b] for b in sorted(self.d)]

    def __len__(self) -> int:
        return len(self.d)


class S:
    """A set value: canonical element encoding -> element."""

    __slots__ = ("d",)

    def __init__(self, elems: Any = ()) -> None:
        self.d: dict = {}
        for e in elems:
            self.d[enc(e)] = e

    def has(self, e: Any) -> bool:
        return enc(e) in self.d

    def items(self) -> list:
        return [self.d[b] for b in sorted(self.d)]

    def __len__(self) -> int:
        return len(self.d)


def internal(v: Any) -> Any:
    """The internal form of a decoded Python value."""
    t = type(v)
    if v is None or t in (bool, int, float, str, bytes):
        return v
    if t in (list, tuple):
        return [internal(x) for x in v]
    if isinstance(v, ValueSet):
        return S(internal(x) for x in v.values)
    if isinstance(v, (set, frozenset)):
        return S(internal(x) for x in v)
    if isinstance(v, Mapping):
        return M((internal(k), internal(x)) for k, x in v.items())
    if isinstance(v, (bytearray, memoryview)):
        return bytes(v)
    return internal(unpackb(packb(v)))


def _py(v: Any, hashable: bool = False) -> Any:
    if isinstance(v, list):
        items = [_py(x, hashable) for x in v]
        return tuple(items) if hashable else items
    if isinstance(v, M):
        return FrozenMap([(_py(k, True), _py(x, hashable)) for k, x in v.d.values()])
    if isinstance(v, S):
        return ValueSet([_py(e, True) for e in v.d.values()])
    return v


def enc(v: Any) -> bytes:
    """The canonical encoding of an internal value."""
    t = type(v)
    if t is str or t is int or v is None or t is bool or t is bytes or t is float:
        return packb(v)
    return packb(_py(v))


def export(v: Any) -> Any:
    """The ordinary Python value of an internal value (as a stage would
    decode it)."""
    return unpackb(enc(v))


def kind(v: Any) -> str:
    if v is None:
        return "nil"
    t = type(v)
    if t is bool:
        return "bool"
    if t is int:
        return "int"
    if t is float:
        return "float"
    if t is str:
        return "string"
    if t is bytes:
        return "bytes"
    if t is list:
        return "list"
    if t is M:
        return "map"
    return "set"


_KIND_ORDER = {"nil": 0, "bool": 1, "int": 2, "float": 3, "string": 4, "bytes": 5, "list": 6, "map": 7, "set": 8}
_bits = struct.Struct(">Q")
_dbl = struct.Struct(">d")


def _float_order(f: float) -> int:
    if f != f:
        f = float("nan")
        b = 0x7FF8000000000000
    else:
        b = _bits.unpack(_dbl.pack(f))[0]
    if b >> 63:
        return ~b & 0xFFFFFFFFFFFFFFFF
    return b | (1 << 63)


def _cmp(a: Any, b: Any) -> int:
    return (a > b) - (a < b)


def compare(a: Any, b: Any) -> int:
    """Squall's total order of values (the Go SDK's squall.Compare)."""
    ka, kb = kind(a), kind(b)
    if ka != kb:
        return _cmp(_KIND_ORDER[ka], _KIND_ORDER[kb])
    if ka == "nil":
        return 0
    if ka in ("bool", "int"):
        return _cmp(int(a), int(b))
    if ka == "float":
        return _cmp(_float_order(a), _float_order(b))
    if ka == "string":
        return _cmp(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))
    if ka == "bytes":
        return _cmp(a, b)
    if ka == "list":
        for x, y in zip(a, b):
            c = compare(x, y)
            if c:
                return c
        return _cmp(len(a), len(b))
    if ka == "map":
        ea, eb = ordered_entries(a), ordered_entries(b)
        for (k1, v1), (k2, v2) in zip(ea, eb):
            c = compare(k1, k2) or compare(v1, v2)
            if c:
                return c
        return _cmp(len(ea), len(eb))
    ea, eb = ordered_elems(a), ordered_elems(b)
    for x, y in zip(ea, eb):
        c = compare(x, y)
        if c:
            return c
    return _cmp(len(ea), len(eb))


def equal(a: Any, b: Any) -> bool:
    return kind(a) == kind(b) and enc(a) == enc(b)


class _Key:
    __slots__ = ("v",)

    def __init__(self, v: Any) -> None:
        self.v = v

    def __lt__(self, other: "_Key") -> bool:
        return compare(self.v, other.v) < 0


def ordered_entries(v: M) -> list:
    return sorted(v.d.values(), key=lambda e: _Key(e[0]))


def ordered_elems(v: S) -> list:
    return sorted(v.d.values(), key=_Key)


def text(v: Any) -> str:
    """The Go SDK's Value.String rendering of an internal value."""
    if v is None:
        return "nil"
    t = type(v)
    if t is bool:
        return "true" if v else "false"
    if t is int:
        return str(v)
    if t is float:
        return format_float(v)
    if t is str:
        return quote(v)
    if t is bytes:
        return '0x"' + v.hex() + '"'
    if t is list:
        return "[" + ", ".join(text(x) for x in v) + "]"
    if t is M:
        return "{" + ", ".join(text(k) + ": " + text(x) for k, x in v.entries()) + "}"
    return "#{" + ", ".join(text(x) for x in v.items()) + "}"


def short(v: Any) -> str:
    s = text(v)
    b = s.encode("utf-8")
    if len(b) > 80:
        s = b[:77].decode("utf-8", "ignore") + "..."
    return s


def loc_string(stack: list) -> str:
    return "$" + "".join("[" + short(k) + "]" for k in stack)


def size(v: Any) -> int:
    if isinstance(v, (M, S, list)):
        return len(v)
    return 0


# ---------------------------------------------------------------- schemas


class Sch:
    """A schema as the engine reads it (from the definition's ABI form)."""

    __slots__ = ("typ", "key", "val", "elem", "fields", "subindexed", "exploded")

    def __init__(self, typ: str) -> None:
        self.typ = typ
        self.key: Sch | None = None
        self.val: Sch | None = None
        self.elem: Sch | None = None
        self.fields: list = []
        self.subindexed = False
        self.exploded = False

    def field(self, name: str) -> "Sch | None":
        for n, s in self.fields:
            if n == name:
                return s
        return None

    def __str__(self) -> str:
        t = self.typ
        if t == "map":
            s = f"map({_sstr(self.key)}, {_sstr(self.val)})"
        elif t in ("set", "list"):
            s = f"{t}({_sstr(self.elem)})"
        elif t == "record":
            s = "record{" + ", ".join(f"{_field_label(n)}: {_sstr(f)}" for n, f in self.fields) + "}"
        else:
            s = t
        return s + (".subindexed" if self.subindexed else "")


def _sstr(s: "Sch | None") -> str:
    return "<missing>" if s is None else str(s)


def _field_label(name: str) -> str:
    for i, c in enumerate(name):
        if not (c == "_" or "a" <= c <= "z" or "A" <= c <= "Z" or (i > 0 and "0" <= c <= "9")):
            return quote(name)
    return name if name else '""'


def parse_schema(v: Any) -> Sch:
    if isinstance(v, str):
        return Sch(v)
    s = Sch(v.get("type", ""))
    s.subindexed = bool(v.get("subindexed", False))
    if s.typ == "map":
        s.key, s.val = parse_schema(v["key"]), parse_schema(v["val"])
    elif s.typ in ("set", "list"):
        s.elem = parse_schema(v["elem"])
    elif s.typ == "record":
        for name, fv in v["fields"]:
            fs = parse_schema(fv)
            s.fields.append((name, fs))
            s.exploded = s.exploded or fs.exploded
    if s.subindexed and s.typ in ("map", "set", "list"):
        s.exploded = True
    return s


def t_of(s: "Sch | None") -> str:
    return "" if s is None else s.typ


def exploded(s: "Sch | None") -> bool:
    return s is not None and s.exploded


def elem_of(s: "Sch | None") -> "Sch | None":
    return None if s is None else s.elem


_INT = Sch("int")
_STRING = Sch("string")


class SchemaError(Exception):
    def __init__(self, loc: str, msg: str) -> None:
        super().__init__(msg)
        self.loc = loc
        self.msg = msg


_WANT = {"bool": "bool", "int": "int", "float": "float", "string": "string", "bytes": "bytes",
         "map": "map", "set": "set", "list": "list", "record": "map"}


def check_value(s: "Sch | None", v: Any, loc: str) -> SchemaError | None:
    if v is None or s is None or s.typ == "any":
        return None
    k = kind(v)
    if s.typ in _WANT and k != _WANT[s.typ]:
        return SchemaError(loc, f"the schema says {s}, got {k} {short(v)}")
    if s.typ == "map":
        for ek, ev in v.entries():
            e = check_key(s.key, ek, loc) or check_value(s.val, ev, loc + "[" + text(ek) + "]")
            if e:
                return e
    elif s.typ == "set":
        for e in v.items():
            err = check_key(s.elem, e, loc)
            if err:
                return err
    elif s.typ == "list":
        for i, e in enumerate(v):
            err = check_value(s.elem, e, f"{loc}[{i}]")
            if err:
                return err
    elif s.typ == "record":
        for ek, ev in v.entries():
            fs, err = record_field(s, ek, loc)
            if err:
                return err
            err = check_value(fs, ev, loc + "[" + text(ek) + "]")
            if err:
                return err
    return None


def check_key(s: "Sch | None", k: Any, loc: str) -> SchemaError | None:
    if type(k) is float:
        return SchemaError(loc, f"float key {text(k)} is not allowed; use int or string keys")
    if k is None and s is not None and s.typ != "any":
        return SchemaError(loc, f"nil is not a {s} key")
    return check_value(s, k, loc + "{" + short(k) + "}")


def record_field(s: Sch, k: Any, loc: str) -> tuple:
    if type(k) is str:
        fs = s.field(k)
        if fs is not None:
            return fs, None
    names = ", ".join(quote(n) for n, _ in s.fields)
    return None, SchemaError(loc, f"the record has no field {short(k)}; its fields are {names}")


def child_schema(s: "Sch | None", k: Any, loc: str) -> tuple:
    t = t_of(s)
    if t == "map":
        e = check_key(s.key, k, loc)
        return (None, e) if e else (s.val, None)
    if t == "record":
        return record_field(s, k, loc)
    if t == "set":
        e = check_key(s.elem, k, loc)
        return (None, e) if e else (s.elem, None)
    if t == "list":
        return s.elem, None
    return None, None


def val_schema(s: "Sch | None", k: Any) -> "Sch | None":
    t = t_of(s)
    if t == "map":
        return s.val
    if t == "record":
        return s.field(k) if type(k) is str else None
    if t in ("set", "list"):
        return s.elem
    return None


def key_schema(s: "Sch | None") -> "Sch | None":
    t = t_of(s)
    if t == "map":
        return s.key
    if t == "record":
        return _STRING
    if t == "set":
        return s.elem
    return None


def empty_of(s: "Sch | None") -> Any:
    t = t_of(s)
    if t in ("map", "record"):
        return M()
    if t == "set":
        return S()
    if t == "list":
        return []
    return None


# ---------------------------------------------------------------- paths


class Step:
    __slots__ = ("op", "arg", "items", "index", "frm", "to", "exclude_from", "include_to", "limit",
                 "reverse", "filter", "view", "text")

    def __init__(self, op: int) -> None:
        self.op = op
        self.arg: Any = None
        self.items: list = []
        self.index = 0
        self.frm: Any = None
        self.to: Any = None
        self.exclude_from = False
        self.include_to = False
        self.limit = 0
        self.reverse = False
        self.filter = ""
        self.view = ""
        self.text = ""


class EnginePathError(Exception):
    """A path that could not run; its message is the host's."""

    def __init__(self, step: int, nav: str, at: str, msg: str, path: str, schema: bool = False) -> None:
        s = "path" if step < 0 else f"step {step} {nav}"
        if at:
            s += " at " + at
        s += ": " + msg
        if path and step >= 0:
            s += f" (in path {path})"
        super().__init__(s)
        self.schema = schema


def path_steps(pv: Any, mode: str) -> tuple[list, str]:
    """Decode the ABI form of a path, which must be valid for ``mode``;
    raise :class:`EnginePathError` with the host's message."""
    try:
        p = parse_path(pv)
    except PathError as e:
        raise EnginePathError(e.step, e.nav, "", e.msg, "") from None
    try:
        p.validate(mode)
    except PathError as e:
        raise EnginePathError(e.step, e.nav, "", e.msg, str(p)) from None
    steps = []
    for sv in p.value():
        s = Step(sv[0])
        args = sv[1:]
        op = s.op
        if op in (KEY, MUST_KEY, NIL_TO_VAL, SET, INCR, MERGE):
            s.arg = internal(args[0])
        elif op == NTH:
            s.index = args[0]
        elif op == SORTED_RANGE:
            s.frm, s.to = internal(args[0]), internal(args[1])
            if len(args) == 3:
                o = args[2]
                s.exclude_from = bool(o.get("excludeFrom", False))
                s.include_to = bool(o.get("includeTo", False))
                s.reverse = bool(o.get("reverse", False))
                s.limit = int(o.get("limit", 0))
        elif op == FILTER:
            s.filter = args[0]
            if len(args) == 2:
                s.arg = internal(args[1])
        elif op == VIEW:
            s.view = args[0]
        elif op in (APPEND, PREPEND):
            s.items = [internal(x) for x in args]
        s.text = step_text(sv)
        steps.append(s)
    return steps, str(p)


def _applies_schema(s: "Sch | None", n: Step) -> str:
    t = t_of(s)
    if t in ("", "any"):
        return ""
    op = n.op
    if op in (KEY, MUST_KEY):
        ok, want = t in ("map", "record", "set"), "maps, records and sets"
    elif op in (MAP_VALS, MAP_KEYS):
        ok, want = t in ("map", "record"), "maps and records"
    elif op in (ALL, FIRST, LAST):
        ok, want = t in ("map", "record", "set", "list"), "maps, records, sets and lists"
    elif op == NTH:
        ok, want = t == "list", "lists"
    elif op == SORTED_RANGE:
        ok, want = t in ("map", "set"), "maps and sets (sorted by key)"
    elif op == APPEND:
        ok, want = t in ("list", "set"), "lists and sets"
    elif op == PREPEND:
        ok, want = t == "list", "lists"
    elif op == MERGE:
        ok, want = t in ("map", "record"), "maps and records"
    elif op == INCR:
        ok, want = t in ("int", "float"), "ints and floats"
    else:
        return ""
    return "" if ok else f"the schema says {s} here; {OP_NAMES[op]} applies to {want}"


def _applies_kind(v: Any, n: Step) -> str:
    k = kind(v)
    if k == "nil":
        return ""
    op = n.op
    coll = k in ("map", "set", "list")
    if op in (KEY, MUST_KEY):
        ok, want = k in ("map", "set"), "maps, records and sets"
    elif op in (MAP_VALS, MAP_KEYS):
        ok, want = k == "map", "maps and records"
    elif op in (ALL, FIRST, LAST):
        ok, want = coll, "maps, records, sets and lists"
    elif op == NTH:
        ok, want = k == "list", "lists"
    elif op == SORTED_RANGE:
        ok, want = k in ("map", "set"), "maps and sets"
    elif op == APPEND:
        ok, want = k in ("list", "set"), "lists and sets"
    elif op == PREPEND:
        ok, want = k == "list", "lists"
    elif op == MERGE:
        ok, want = k == "map", "maps and records"
    elif op == INCR:
        ok, want = k in ("int", "float"), "ints and floats"
    elif op == VIEW:
        ok = n.view != "size" or coll
        want = "maps, records, sets and lists (view(count) counts any value)"
    else:
        return ""
    return "" if ok else f"found {k} {short(v)}; {OP_NAMES[op]} applies to {want}"


def filter_match(op: str, v: Any, arg: Any) -> bool:
    if op == "exists":
        return v is not None
    c, ok = _compare_filter(v, arg)
    if op == "eq":
        return ok and c == 0
    if op == "ne":
        return not ok or c != 0
    if op == "lt":
        return ok and c < 0
    if op == "le":
        return ok and c <= 0
    if op == "gt":
        return ok and c > 0
    if op == "ge":
        return ok and c >= 0
    return False


def _compare_filter(a: Any, b: Any) -> tuple[int, bool]:
    ta, tb = type(a), type(b)
    if ta is int and tb is float:
        return _cmp_int_float(a, b)
    if ta is float and tb is int:
        c, ok = _cmp_int_float(b, a)
        return -c, ok
    if ta is float and tb is float:
        if math.isnan(a) or math.isnan(b):
            return 0, math.isnan(a) and math.isnan(b)
        return _cmp(a, b), True
    if kind(a) != kind(b):
        return 0, False
    return compare(a, b), True


def _cmp_int_float(i: int, f: float) -> tuple[int, bool]:
    if math.isnan(f):
        return 0, False
    if f >= 2.0**63:
        return -1, True
    if f < -(2.0**63):
        return 1, True
    t = math.trunc(f)
    ti = int(t)
    if i < ti:
        return -1, True
    if i > ti:
        return 1, True
    if f > t:
        return -1, True
    if f < t:
        return 1, True
    return 0, True


def view_of(v: Any) -> int:
    if v is None:
        return 0
    if isinstance(v, (M, S, list)):
        return len(v)
    return 1


def list_index(i: int, n: int) -> tuple[int, bool]:
    if i < 0:
        i += n
    if i < 0 or i >= n:
        return 0, False
    return i, True


def in_range(k: Any, n: Step) -> bool:
    if n.frm is not None:
        c = compare(k, n.frm)
        if c < 0 or (c == 0 and n.exclude_from):
            return False
    if n.to is not None:
        c = compare(k, n.to)
        if c > 0 or (c == 0 and not n.include_to):
            return False
    return True


class _XRes:
    __slots__ = ("v", "removed", "changed")

    def __init__(self, v: Any = None, removed: bool = False, changed: bool = False) -> None:
        self.v = v
        self.removed = removed
        self.changed = changed


class Engine:
    """Runs one path."""

    def __init__(self, steps: list, path: str, nodes: bool) -> None:
        self.steps = steps
        self.path = path
        self.stack: list = []
        self.nodes = nodes

    def loc(self) -> str:
        return loc_string(self.stack)

    def err(self, i: int, msg: str) -> EnginePathError:
        return EnginePathError(i, self.steps[i].text, self.loc(), msg, self.path)

    def schema_err(self, i: int, se: SchemaError) -> EnginePathError:
        return EnginePathError(i, self.steps[i].text, self.loc(), se.msg, self.path, True)

    def applies(self, v: Any, s: "Sch | None", i: int) -> None:
        msg = _applies_schema(s, self.steps[i]) or _applies_kind(v, self.steps[i])
        if msg:
            raise self.err(i, msg)

    # -- select

    def sel(self, v: Any, s: "Sch | None", i: int, rng: list, node: bool, emit: Callable[[Any], None]) -> None:
        if i == len(self.steps):
            if node and i > 0:
                self.whole_node(s, i - 1, rng)
            emit(v)
            return
        n = self.steps[i]
        self.applies(v, s, i)
        op = n.op
        if op in (KEY, MUST_KEY):
            cs, se = child_schema(s, n.arg, self.loc())
            if se:
                raise self.schema_err(i, se)
            if not self.key_in_range(rng, i):
                return
            child_node = node and exploded(cs)
            if isinstance(v, S) or (v is None and t_of(s) == "set"):
                if v is None or not v.has(n.arg):
                    return
                self.sel(n.arg, cs, i + 1, [], False, emit)
                return
            if isinstance(v, M):
                c, ok = v.get(n.arg)
                if not ok and op == MUST_KEY:
                    return
                self.stack.append(n.arg)
                try:
                    self.sel(c, cs, i + 1, [], child_node, emit)
                finally:
                    self.stack.pop()
                return
            if op == MUST_KEY:
                return
            self.stack.append(n.arg)
            try:
                self.sel(None, cs, i + 1, [], child_node, emit)
            finally:
                self.stack.pop()
            return
        if op in (MAP_VALS, MAP_KEYS, ALL, FIRST, LAST):
            for k, c, cs in self.each(v, s, op, rng):
                if op == MAP_KEYS:
                    self.sel(k, key_schema(s), i + 1, [], False, emit)
                elif isinstance(v, M) and op == MAP_VALS:
                    self.stack.append(k)
                    try:
                        self.sel(c, cs, i + 1, [], node and exploded(cs), emit)
                    finally:
                        self.stack.pop()
                elif isinstance(v, M):
                    if node and exploded(cs):
                        raise self.err(i, f"{OP_NAMES[op]} navigates [key, value] entries, and the values here are subindexed (not returned whole); use mapKeys() or mapVals()")
                    self.sel([k, c], None, i + 1, [], False, emit)
                elif isinstance(v, list):
                    self.stack.append(k)
                    try:
                        self.sel(c, cs, i + 1, [], node and exploded(cs), emit)
                    finally:
                        self.stack.pop()
                else:
                    self.sel(c, cs, i + 1, [], False, emit)
            return
        if op == NTH:
            if v is None:
                return
            idx, ok = list_index(n.index, len(v))
            if not ok:
                return
            self.stack.append(idx)
            try:
                es = elem_of(s)
                self.sel(v[idx], es, i + 1, [], node and exploded(es), emit)
            finally:
                self.stack.pop()
            return
        if op == SORTED_RANGE:
            if node:
                for r in rng:
                    if r.limit > 0 and exploded(s):
                        raise self.err(i, "a sortedRange inside a sortedRange with a limit is not supported on a subindexed collection; combine the two into one range")
            sub = self.sub_range(v, s, i)
            self.sel(sub, s, i + 1, rng + [n], node, emit)
            return
        if op == FILTER:
            if node and n.filter != "exists":
                raise self.err(i, f"filter({n.filter}) cannot compare a whole subindexed {t_of(s)}; navigate into it first (all, mapVals, view(size))")
            if not filter_match(n.filter, v, n.arg):
                return
            self.sel(v, s, i + 1, rng, node, emit)
            return
        if op == NIL_TO_VAL:
            if v is None:
                self.sel(n.arg, s, i + 1, rng, False, emit)
            else:
                self.sel(v, s, i + 1, rng, node, emit)
            return
        if op == VIEW:
            self.sel(view_of(v), _INT, i + 1, [], False, emit)
            return
        raise self.err(i, f"{OP_NAMES[op]} is not a navigator")

    def whole_node(self, s: "Sch | None", i: int, rng: list) -> None:
        if rng:
            if t_of(s) == "map" and exploded(s.val):
                raise self.err(i, "the range holds subindexed values, which are not returned whole; navigate into them (mapVals, mapKeys)")
            return
        what = "a subindexed " + t_of(s)
        if not self.stack and t_of(s) == "map":
            what = "the whole top-level map of the partition"
        elif t_of(s) == "record":
            what = "a record with subindexed fields"
        raise self.err(i, f"the path ends at {what}, which is not returned whole; navigate into it (key, mustKey, all, mapVals, mapKeys, sortedRange, view(size))")

    def each(self, v: Any, s: "Sch | None", op: int, rng: list) -> list:
        desc = bool(rng) and rng[-1].reverse
        if v is None:
            return []
        if isinstance(v, M):
            elems = [(k, c) for k, c in ordered_entries(v)]
        elif isinstance(v, S):
            elems = [(e, e) for e in ordered_elems(v)]
        else:
            elems = list(enumerate(v))
            desc = False
        if desc:
            elems.reverse()
        if op == FIRST:
            elems = elems[:1]
        elif op == LAST:
            elems = elems[-1:]
        return [(k, c, val_schema(s, k)) for k, c in elems]

    def key_in_range(self, rng: list, i: int) -> bool:
        for r in rng:
            if r.limit > 0:
                raise self.err(i, f"{OP_NAMES[self.steps[i].op]} right after a sortedRange with a limit is not supported; apply the key to the collection itself")
        return all(in_range(self.steps[i].arg, r) for r in rng)

    def sub_range(self, v: Any, s: "Sch | None", i: int) -> Any:
        n = self.steps[i]
        if v is None:
            return empty_of(s)
        if isinstance(v, M):
            out = [e for e in ordered_entries(v) if in_range(e[0], n)]
        elif isinstance(v, S):
            out = [e for e in ordered_elems(v) if in_range(e, n)]
        else:
            raise self.err(i, f"found {kind(v)}; sortedRange applies to maps and sets")
        if n.limit > 0 and len(out) > n.limit:
            out = out[len(out) - n.limit:] if n.reverse else out[: n.limit]
        return M(out) if isinstance(v, M) else S(out)

    # -- transform

    def xf(self, v: Any, s: "Sch | None", i: int, rng: list) -> _XRes:
        n = self.steps[i]
        self.applies(v, s, i)
        op = n.op
        if op == SET:
            se = check_value(s, n.arg, self.loc())
            if se:
                raise self.schema_err(i, se)
            return _XRes(n.arg, changed=not equal(v, n.arg))
        if op == REMOVE:
            return _XRes(removed=True, changed=True)
        if op == INCR:
            nv = self.incr(v, s, i)
            return _XRes(nv, changed=not equal(v, nv))
        if op in (APPEND, PREPEND):
            return self.add_items(v, s, i)
        if op == MERGE:
            return self.merge(v, s, i)
        if op in (KEY, MUST_KEY):
            return self.xf_key(v, s, i, rng)
        if op in (MAP_VALS, MAP_KEYS, ALL, FIRST, LAST):
            return self.xf_each(v, s, i, rng)
        if op == NTH:
            if v is None:
                raise self.err(i, f"nth({n.index}) is out of range: there is no list here; use append or prepend to add items")
            idx, ok = list_index(n.index, len(v))
            if not ok:
                raise self.err(i, f"nth({n.index}) is out of range: the list has {len(v)} items; use append or prepend to add items")
            return self.xf_list(v, s, i, [idx])
        if op == SORTED_RANGE:
            return self.xf_range(v, s, i, rng)
        if op == FILTER:
            if self.nodes and n.filter != "exists" and exploded(s):
                raise self.err(i, f"filter({n.filter}) cannot compare a whole subindexed {t_of(s)}; navigate into it first (all, mapVals)")
            if not filter_match(n.filter, v, n.arg):
                return _XRes(v)
            return self.xf(v, s, i + 1, rng)
        if op == NIL_TO_VAL:
            if v is not None:
                return self.xf(v, s, i + 1, rng)
            r = self.xf(n.arg, s, i + 1, rng)
            if not r.removed:
                se = check_value(s, r.v, self.loc())
                if se:
                    raise self.schema_err(i, se)
            return _XRes(r.v, r.removed, (not r.removed) or r.changed)
        raise self.err(i, f"{OP_NAMES[op]} cannot appear in a transform")

    def incr(self, v: Any, s: "Sch | None", i: int) -> Any:
        amt = self.steps[i].arg
        a_int = type(amt) is int
        af = float(amt)
        float_result = (not a_int) or t_of(s) == "float" or type(v) is float
        if float_result and t_of(s) == "int":
            raise self.err(i, f"the schema says int here; incr by a float ({text(amt)}) would store a float; incr by an int")
        if v is None:
            return af if float_result else amt
        if type(v) is int:
            if float_result:
                return float(v) + af
            total = v + amt
            if not -(1 << 63) <= total < (1 << 63):
                raise self.err(i, f"{v} + {amt} overflows a 64-bit int")
            return total
        if type(v) is float:
            return v + af
        raise self.err(i, f"found {kind(v)} {short(v)}; incr applies to ints and floats (and nil, counted as 0)")

    def add_items(self, v: Any, s: "Sch | None", i: int) -> _XRes:
        n = self.steps[i]
        es = elem_of(s)
        is_set = isinstance(v, S) or (v is None and t_of(s) == "set")
        for j, it in enumerate(n.items):
            if is_set:
                se = check_key(es, it, self.loc())
            else:
                se = check_value(es, it, self.loc() + f"[{size(v) + j}]")
            if se:
                raise self.schema_err(i, se)
        if self.nodes and exploded(s) and t_of(s) == "list" and exploded(es):
            for it in n.items:
                if it is None:
                    raise self.err(i, f"the items of this list are subindexed {t_of(es)}s, which cannot be nil; add an empty {t_of(es)}")
        if is_set:
            if n.op == PREPEND:
                raise self.err(i, "prepend applies to lists; use append to add to a set")
            if not n.items:
                return _XRes(v)
            new = S(v.d.values()) if v is not None else S()
            for it in n.items:
                new.d.setdefault(enc(it), it)
            if v is not None and len(new) == len(v):
                return _XRes(v)
            return _XRes(new, changed=True)
        if not n.items:
            return _XRes(v)
        old = v if v is not None else []
        items = old + n.items if n.op == APPEND else n.items + old
        return _XRes(items, changed=True)

    def merge(self, v: Any, s: "Sch | None", i: int) -> _XRes:
        w = _WorkMap(v)
        changed = False
        arg = self.steps[i].arg
        for k, x in (ordered_entries(arg) if arg is not None else []):
            cs, se = child_schema(s, k, self.loc())
            if se is None:
                se = check_value(cs, x, loc_string(self.stack + [k]))
            if se:
                raise self.schema_err(i, se)
            if w.set_entry(k, x):
                changed = True
        if not changed:
            return _XRes(v)
        return _XRes(w.value(), changed=True)

    def xf_key(self, v: Any, s: "Sch | None", i: int, rng: list) -> _XRes:
        n = self.steps[i]
        k = n.arg
        cs, se = child_schema(s, k, self.loc())
        if se:
            raise self.schema_err(i, se)
        if not self.key_in_range(rng, i):
            return _XRes(v)
        if isinstance(v, S) or (v is None and t_of(s) == "set"):
            if v is None or not v.has(k):
                return _XRes(v)
            return self.xf_set_elems(v, s, i, [k])
        old, present = v.get(k) if isinstance(v, M) else (None, False)
        if not present and n.op == MUST_KEY:
            return _XRes(v)
        self.stack.append(k)
        try:
            r = self.xf(old, cs, i + 1, [])
        finally:
            self.stack.pop()
        if not r.changed:
            return _XRes(v)
        gone = r.removed or r.v is None
        w = _WorkMap(v)
        if not present and gone:
            return _XRes(v)
        if gone:
            w.delete(k)
        else:
            w.set(k, r.v)
        return _XRes(w.value(), changed=True)

    def xf_each(self, v: Any, s: "Sch | None", i: int, rng: list) -> _XRes:
        op = self.steps[i].op
        if v is None:
            return _XRes(v)
        if isinstance(v, list):
            idx = list(range(len(v)))
            if op == FIRST:
                idx = idx[:1]
            elif op == LAST:
                idx = idx[-1:]
            return self.xf_list(v, s, i, idx)
        if isinstance(v, S):
            return self.xf_set_elems(v, s, i, [k for k, _, _ in self.each(v, s, op, rng)])
        return self.xf_map_entries(v, s, i, [k for k, _, _ in self.each(v, s, op, rng)])

    def xf_list(self, v: list, s: "Sch | None", i: int, idx: list) -> _XRes:
        out: list = []
        changed = False
        nxt = 0
        es = elem_of(s)
        for j in idx:
            out.extend(v[nxt:j])
            nxt = j + 1
            self.stack.append(len(out))
            try:
                r = self.xf(v[j], es, i + 1, [])
            finally:
                self.stack.pop()
            if r.removed:
                changed = True
                continue
            if r.changed and r.v is None and self.nodes and exploded(s) and exploded(es):
                raise self.err(i, f"the items of this list are subindexed {t_of(es)}s, which cannot be nil; set an empty {t_of(es)} or remove the item")
            changed = changed or r.changed
            out.append(r.v)
        if not changed:
            return _XRes(v)
        out.extend(v[nxt:])
        return _XRes(out, changed=True)

    def xf_set_elems(self, v: S, s: "Sch | None", i: int, elems: list) -> _XRes:
        es = elem_of(s) if t_of(s) == "set" else None
        removed: list = []
        added: list = []
        for e in elems:
            r = self.xf(e, es, i + 1, [])
            if not r.changed:
                continue
            if r.removed or r.v is None:
                removed.append(e)
                continue
            se = check_key(es, r.v, self.loc())
            if se:
                raise self.schema_err(i, se)
            removed.append(e)
            added.append(r.v)
        if not removed and not added:
            return _XRes(v)
        gone = {enc(e) for e in removed}
        out = S(e for b, e in v.d.items() if b not in gone)
        for a in added:
            out.d.setdefault(enc(a), a)
        return _XRes(out, changed=True)

    def xf_map_entries(self, v: M, s: "Sch | None", i: int, keys: list) -> _XRes:
        op = self.steps[i].op
        w = _WorkMap(v)
        changed = False
        for k in keys:
            old, present = w.get(k)
            if not present:
                continue
            if op == MAP_VALS:
                self.stack.append(k)
                try:
                    r = self.xf(old, val_schema(s, k), i + 1, [])
                finally:
                    self.stack.pop()
            elif op == MAP_KEYS:
                r = self.xf(k, key_schema(s), i + 1, [])
            else:
                if self.nodes and exploded(val_schema(s, k)):
                    raise self.err(i, f"{OP_NAMES[op]} navigates [key, value] entries, and the values here are subindexed (not returned whole); use mapKeys() or mapVals()")
                r = self.xf([k, old], None, i + 1, [])
            if not r.changed:
                continue
            changed = True
            if op == MAP_VALS:
                if r.removed or r.v is None:
                    w.delete(k)
                else:
                    w.set(k, r.v)
                continue
            if r.removed or r.v is None:
                w.delete(k)
                continue
            nk, nv = r.v, old
            if op != MAP_KEYS:
                if not isinstance(r.v, list) or len(r.v) != 2:
                    raise self.err(i, f"{OP_NAMES[op]} on a map navigates [key, value] entries; the transform made {short(r.v)}; set a [key, value] list or remove the entry")
                nk, nv = r.v[0], r.v[1]
            cs, se = child_schema(s, nk, self.loc())
            if se is None:
                se = check_value(cs, nv, loc_string(self.stack + [nk]))
            if se:
                raise self.schema_err(i, se)
            if self.nodes and t_of(s) == "record" and op == MAP_KEYS and not equal(nk, k):
                fs = val_schema(s, k)
                if exploded(fs) and str(fs) != _sstr(cs):
                    raise self.err(i, "mapKeys() cannot rename a subindexed field of a record to a field of another schema")
            if equal(nk, k):
                w.set_entry(k, nv)
                continue
            w.delete(k)
            w.set_entry(nk, nv)
        if not changed:
            return _XRes(v)
        return _XRes(w.value(), changed=True)

    def xf_range(self, v: Any, s: "Sch | None", i: int, rng: list) -> _XRes:
        sub = self.sub_range(v, s, i)
        r = self.xf(sub, s, i + 1, rng + [self.steps[i]])
        if not r.changed:
            return _XRes(v)
        nsub = None if r.removed else r.v
        se = check_value(s, nsub, self.loc())
        if se:
            raise self.schema_err(i, se)
        if nsub is not None and kind(nsub) != kind(sub) and sub is not None:
            raise self.err(i, f"the transform replaced a sorted range of a {kind(sub)} with {kind(nsub)} {short(nsub)}; set a {kind(sub)} or remove the range")
        if equal(sub, nsub) or (size(sub) == 0 and nsub is None):
            return _XRes(v)
        if isinstance(sub, S) or isinstance(nsub, S):
            out = S(e for e in (v.items() if v is not None else []) if not sub.has(e))
            for e in (nsub.items() if nsub is not None else []):
                out.d.setdefault(enc(e), e)
            return _XRes(out, changed=True)
        w = _WorkMap(v)
        for k, _ in sub.entries():
            w.delete(k)
        for k, x in (nsub.entries() if nsub is not None else []):
            w.set(k, x)
        return _XRes(w.value(), changed=True)


class _WorkMap:
    """A map being edited."""

    __slots__ = ("d",)

    def __init__(self, v: Any) -> None:
        self.d: dict = dict(v.d) if isinstance(v, M) else {}

    def get(self, k: Any) -> tuple[Any, bool]:
        e = self.d.get(enc(k))
        return (e[1], True) if e is not None else (None, False)

    def set(self, k: Any, v: Any) -> None:
        self.d[enc(k)] = (k, v)

    def delete(self, k: Any) -> None:
        self.d.pop(enc(k), None)

    def set_entry(self, k: Any, nv: Any) -> bool:
        old, present = self.get(k)
        if nv is None and not present:
            return False
        if nv is None:
            self.delete(k)
        elif present and equal(old, nv):
            return False
        else:
            self.set(k, nv)
        return True

    def value(self) -> M:
        m = M()
        m.d = self.d
        return m


def select_value(root: Any, s: "Sch | None", steps: list, path: str, node: bool) -> list:
    """Run a select path on ``root`` (internal form)."""
    m = Engine(steps, path, node)
    out: list = []
    m.sel(root, s, 0, [], node and (t_of(s) == "map" or exploded(s)), out.append)
    return out


def transform_value(root: Any, s: "Sch | None", steps: list, path: str, node: bool) -> Any:
    """Run a transform path on ``root`` and return the new value (None
    when removed)."""
    m = Engine(steps, path, node)
    r = m.xf(root, s, 0, [])
    return None if r.removed else r.v


def first_key(steps: list) -> tuple[Any, bool]:
    if steps and steps[0].op in (KEY, MUST_KEY):
        return steps[0].arg, True
    return None, False


class PStore:
    """One partition of a PState. A top-level map keeps each top-level key
    apart (as the host stores it), so that paths starting with a key touch
    one entry; other PStates are one value."""

    def __init__(self, s: Sch) -> None:
        self.s = s
        self.root_map = s.typ == "map"
        self.entries: dict = {}
        self.val: Any = None

    def value(self) -> Any:
        if not self.root_map:
            return self.val
        if not self.entries:
            return None
        m = M()
        m.d = dict(self.entries)
        return m

    def root(self, steps: list) -> Any:
        if not self.root_map:
            return self.val
        k, ok = first_key(steps)
        if ok:
            e = self.entries.get(enc(k))
            m = M()
            if e is not None:
                m.d[enc(k)] = e
            return m
        return self.value()

    def select(self, steps: list, path: str) -> list:
        return select_value(self.root(steps), self.s, steps, path, True)

    def transform(self, steps: list, path: str) -> Callable[[], None]:
        """Apply a transform path; return a function that undoes it."""
        nv = transform_value(self.root(steps), self.s, steps, path, True)
        if not self.root_map:
            old = self.val
            self.val = nv

            def undo() -> None:
                self.val = old

            return undo
        k, ok = first_key(steps)
        if ok:
            wk = enc(k)
            old_e = self.entries.get(wk)
            got, found = nv.get(k) if isinstance(nv, M) else (None, False)
            if found:
                self.entries[wk] = (k, got)
            else:
                self.entries.pop(wk, None)

            def undo_key() -> None:
                if old_e is not None:
                    self.entries[wk] = old_e
                else:
                    self.entries.pop(wk, None)

            return undo_key
        if nv is not None and not isinstance(nv, M):
            raise EnginePathError(-1, "", "", f"the transform replaced the top-level map with {kind(nv)}", path)
        old_entries = self.entries
        self.entries = dict(nv.d) if nv is not None else {}

        def undo_all() -> None:
            self.entries = old_entries

        return undo_all
