"""PState schemas (abi/ABI.md §5.3)."""

from __future__ import annotations

# typing is imported by type checkers only: annotations are strings here
# (PEP 563), and every instance start imports this module.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from ._text import quote

__all__ = [
    "Schema", "ANY", "BOOL", "INT", "FLOAT", "STRING", "BYTES",
    "map_of", "set_of", "list_of", "record_of",
]

LEAVES = ("any", "bool", "int", "float", "string", "bytes")
TYPES = LEAVES + ("map", "set", "list", "record")
MAX_SCHEMA_DEPTH = 32
MAX_NAME_LEN = 128


class Schema:
    """The storage schema of a PState or of a part of it. Build schemas from
    the leaves (:data:`ANY`, :data:`BOOL`, :data:`INT`, :data:`FLOAT`,
    :data:`STRING`, :data:`BYTES`) and :func:`map_of`, :func:`set_of`,
    :func:`list_of`, :func:`record_of`. Schemas are immutable."""

    __slots__ = ("type", "key", "val", "elem", "fields", "is_subindexed")

    def __init__(self, type: str, key: "Schema | None" = None, val: "Schema | None" = None,
                 elem: "Schema | None" = None, fields: tuple = (), subindexed: bool = False) -> None:
        self.type = type
        self.key = key
        self.val = val
        self.elem = elem
        self.fields = fields
        self.is_subindexed = subindexed

    def subindexed(self) -> "Schema":
        """A copy stored one entry per storage key, for large maps, sets and
        lists (read them through paths, never whole)."""
        return Schema(self.type, self.key, self.val, self.elem, self.fields, True)

    def value(self) -> Any:
        """The ABI form of the schema (the canonical one: leaves as bare
        names, defaults omitted)."""
        if self.type in LEAVES and not self.is_subindexed:
            return self.type
        d: dict = {"type": self.type}
        if self.type == "map":
            if self.key is not None:
                d["key"] = self.key.value()
            if self.val is not None:
                d["val"] = self.val.value()
        elif self.type in ("set", "list"):
            if self.elem is not None:
                d["elem"] = self.elem.value()
        elif self.type == "record":
            d["fields"] = [[n, s.value()] for n, s in self.fields]
        if self.is_subindexed:
            d["subindexed"] = True
        return d

    def __str__(self) -> str:
        t = self.type
        if t == "map":
            s = f"map({self.key}, {self.val})"
        elif t in ("set", "list"):
            s = f"{t}({self.elem})"
        elif t == "record":
            s = "record{" + ", ".join(f"{n}: {f}" for n, f in self.fields) + "}"
        else:
            s = t
        return s + (".subindexed" if self.is_subindexed else "")

    def __repr__(self) -> str:
        return f"Schema({self})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schema) and self.value() == other.value()

    def __hash__(self) -> int:
        return hash(str(self))

    def check(self, p: Any, w: str, depth: int = 1, separate: bool = True) -> None:
        """Add the problems of this schema to the collector ``p`` (the
        host's rules and messages)."""
        if depth > MAX_SCHEMA_DEPTH:
            p.add(w, f"schema nests deeper than {MAX_SCHEMA_DEPTH}")
            return
        t = self.type
        root = depth == 1
        coll = t in ("map", "set", "list")
        if root and t in ("set", "list"):
            p.add(w, f"the top level of a PState must be a map, a record or a leaf, not a {t}; put the {t} under a map key or a record field")
        elif root and t == "map" and self.is_subindexed:
            p.add(w + ".subindexed", 'the top-level map is always stored one key per entry; remove "subindexed"')
        elif self.is_subindexed and not coll:
            p.add(w + ".subindexed", f"only map, set and list schemas can be subindexed, not {quote(t)}")
        elif self.is_subindexed and not separate:
            p.add(w + ".subindexed", f"a subindexed {t} cannot sit inside a map, set or list that is not subindexed; "
                  f"mark that one subindexed too, or move this {t} to a record field or directly under the top-level map")
        child_sep = (root and t in ("map", "record")) or (t == "record" and separate) or (coll and self.is_subindexed)

        def sub(c: "Schema | None", cw: str, sep: bool) -> None:
            if c is None:
                p.add(cw, "the schema is missing")
            else:
                c.check(p, cw, depth + 1, sep)

        def key_like(name: str, c: "Schema | None") -> None:
            what = "set elements" if name == "elem" else "map keys"
            if c is None:
                return
            if c.type == "float":
                p.add(f"{w}.{name}", f"{what} cannot be floats (NaN and -0.0 make them ambiguous); use int or string")
            elif c.type not in LEAVES:
                p.add(f"{w}.{name}", f"{what} must be of a leaf type (any, bool, int, string or bytes), not {quote(c.type)}")

        if t in LEAVES:
            return
        if t == "map":
            sub(self.key, w + ".key", False)
            key_like("key", self.key)
            sub(self.val, w + ".val", child_sep)
        elif t == "set":
            sub(self.elem, w + ".elem", False)
            key_like("elem", self.elem)
        elif t == "list":
            sub(self.elem, w + ".elem", child_sep)
        elif t == "record":
            if not self.fields:
                p.add(w + ".fields", "a record needs at least one field")
            seen = set()
            for i, (name, fs) in enumerate(self.fields):
                fw = f"{w}.fields[{quote(name)}]"
                if name == "":
                    p.add(f"{w}.fields[{i}]", "a record field needs a name")
                    continue
                if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_LEN:
                    p.add(fw, f"field name is {len(name.encode('utf-8', 'surrogatepass'))} bytes; the limit is {MAX_NAME_LEN}")
                elif name in seen:
                    p.add(f"{w}.fields[{i}]", f"field {quote(name)} is declared twice")
                    continue
                seen.add(name)
                sub(fs, fw, child_sep)
        elif t == "":
            p.add(w + ".type", "required field is missing; use one of " + quote_list(TYPES))
        else:
            p.add(w + ".type", f"unknown schema type {quote(t)}; use one of " + quote_list(TYPES))


def quote_list(names: Any) -> str:
    names = list(names)
    q = []
    for i, n in enumerate(names):
        if len(names) > 12 and i == 10:
            q.append(f"... ({len(names) - 10} more)")
            break
        q.append(quote(n))
    return ", ".join(q)


ANY = Schema("any")
"""Any value."""
BOOL = Schema("bool")
"""Bools."""
INT = Schema("int")
"""64-bit ints."""
FLOAT = Schema("float")
"""64-bit floats."""
STRING = Schema("string")
"""UTF-8 strings."""
BYTES = Schema("bytes")
"""Byte strings."""


def _schema(x: Any, what: str) -> Schema:
    if not isinstance(x, Schema):
        raise TypeError(f"squall: {what} must be a Schema (squall.STRING, squall.map_of(...), ...), not {type(x).__name__}")
    return x


def map_of(key: Schema, val: Schema, *, subindexed: bool = False) -> Schema:
    """A map from ``key`` (a leaf other than FLOAT) to ``val``."""
    return Schema("map", key=_schema(key, "the key schema"), val=_schema(val, "the value schema"), subindexed=subindexed)


def set_of(elem: Schema, *, subindexed: bool = False) -> Schema:
    """A set of ``elem`` (a leaf other than FLOAT)."""
    return Schema("set", elem=_schema(elem, "the element schema"), subindexed=subindexed)


def list_of(elem: Schema, *, subindexed: bool = False) -> Schema:
    """A list of ``elem``."""
    return Schema("list", elem=_schema(elem, "the element schema"), subindexed=subindexed)


def record_of(*fields: tuple[str, Schema], subindexed: bool = False, **named: Schema) -> Schema:
    """A record: a map with these string keys, each optional, in
    declaration order. Give fields as ``(name, schema)`` pairs or as keyword
    arguments: ``record_of(author=STRING, id=INT)``."""
    fs = [(n, _schema(s, f"field {n!r}")) for n, s in fields]
    fs += [(n, _schema(s, f"field {n!r}")) for n, s in named.items()]
    return Schema("record", fields=tuple(fs), subindexed=subindexed)
