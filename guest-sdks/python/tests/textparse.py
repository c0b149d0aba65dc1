"""Parsers of the text forms used by the host's datadriven tests
(storage/testdata/pstate): values as the Go SDK's Value.String renders them,
paths as Path.String renders them, and schemas."""

from __future__ import annotations

import ast
import re
import struct

import squall
from squall import FrozenMap, ValueSet

_TOKEN = re.compile(r'''\s*(0x"[0-9a-f]*"|"(?:[^"\\]|\\.)*"|\#\{|[\[\]{}(),:.=]|[+-]?Inf|NaN|[+-]?[0-9][0-9a-zA-Z.+-]*|[A-Za-z_$][A-Za-z0-9_$]*)''')


class Parser:
    def __init__(self, text: str) -> None:
        self.toks = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m:
                raise ValueError(f"cannot tokenize {text[pos:]!r} in {text!r}")
            self.toks.append(m.group(1))
            pos = m.end()
            while pos < len(text) and text[pos].isspace():
                pos += 1
        self.i = 0

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def next(self) -> str:
        t = self.peek()
        if t is None:
            raise ValueError("unexpected end")
        self.i += 1
        return t

    def expect(self, t: str) -> None:
        got = self.next()
        if got != t:
            raise ValueError(f"want {t!r}, got {got!r}")

    def value(self, hashable: bool = False):
        t = self.next()
        if t == "nil":
            return None
        if t in ("true", "false"):
            return t == "true"
        if t.startswith('0x"'):
            return bytes.fromhex(t[3:-1])
        if t.startswith('"'):
            return ast.literal_eval(t)
        if t == "NaN":
            return float("nan")
        if t.endswith("Inf"):
            return float("-inf") if t.startswith("-") else float("inf")
        if t[0] in "+-0123456789":
            if any(c in t for c in ".eE"):
                return float(t)
            return int(t)
        if t == "[":
            items = []
            while self.peek() != "]":
                items.append(self.value(hashable))
                if self.peek() == ",":
                    self.next()
            self.next()
            return tuple(items) if hashable else items
        if t == "{":
            pairs = []
            while self.peek() != "}":
                k = self.value(True)
                self.expect(":")
                pairs.append((k, self.value(hashable)))
                if self.peek() == ",":
                    self.next()
            self.next()
            d = dict(pairs)
            return FrozenMap(pairs) if hashable or len(d) != len(pairs) else d
        if t == "#{":
            elems = []
            while self.peek() != "}":
                elems.append(self.value(True))
                if self.peek() == ",":
                    self.next()
            self.next()
            s = frozenset(elems)
            if len(s) != len(elems):
                return ValueSet(elems)
            return s if hashable else set(elems)
        raise ValueError(f"unexpected token {t!r}")


def parse_value(text: str):
    p = Parser(text)
    v = p.value()
    if p.peek() is not None:
        raise ValueError(f"trailing {p.peek()!r} in {text!r}")
    return v


def parse_path_text(text: str) -> squall.Path:
    p = Parser(text)
    path = squall.path()
    while p.peek() is not None:
        name = p.next()
        p.expect("(")
        args: list = []
        opts: dict = {}
        while p.peek() != ")":
            t = p.peek()
            if name == "sortedRange" and t in ("open", "excludeFrom", "includeTo", "reverse", "limit"):
                p.next()
                if t == "open":
                    args.append(None)
                elif t == "limit":
                    p.expect("=")
                    opts["limit"] = int(p.next())
                else:
                    opts[{"excludeFrom": "exclude_from", "includeTo": "include_to", "reverse": "reverse"}[t]] = True
            elif name in ("filter", "view") and not args and t.isalpha() and t not in ("nil", "true", "false"):
                args.append(p.next())
            else:
                args.append(p.value())
            if p.peek() == ",":
                p.next()
        p.next()
        if p.peek() == ".":
            p.next()
        if name == "key":
            path = path.key(*args)
        elif name == "mustKey":
            path = path.must_key(*args)
        elif name == "mapVals":
            path = path.map_vals()
        elif name == "mapKeys":
            path = path.map_keys()
        elif name in ("all", "first", "last", "remove"):
            path = getattr(path, name)()
        elif name == "nth":
            path = path.nth(*args)
        elif name == "sortedRange":
            path = path.sorted_range(*args, **opts)
        elif name == "filter":
            path = path.filter_exists() if args == ["exists"] else path.filter(*args)
        elif name == "nilToVal":
            path = path.nil_to_val(*args)
        elif name == "view":
            path = path.view(*args)
        elif name in ("set", "incr", "merge"):
            path = getattr(path, name)(*args)
        elif name in ("append", "prepend"):
            path = getattr(path, name)(*args)
        else:
            raise ValueError(f"unknown step {name!r} in {text!r}")
    return path


def parse_schema_text(text: str) -> squall.Schema:
    p = Parser(text)
    s = _schema(p)
    if p.peek() is not None:
        raise ValueError(f"trailing {p.peek()!r} in {text!r}")
    return s


def _schema(p: Parser) -> squall.Schema:
    name = p.next()
    leaves = {"any": squall.ANY, "bool": squall.BOOL, "int": squall.INT, "float": squall.FLOAT,
              "string": squall.STRING, "bytes": squall.BYTES}
    if name in leaves:
        s = leaves[name]
    elif name == "map":
        p.expect("(")
        k = _schema(p)
        p.expect(",")
        v = _schema(p)
        p.expect(")")
        s = squall.map_of(k, v)
    elif name in ("set", "list"):
        p.expect("(")
        e = _schema(p)
        p.expect(")")
        s = squall.set_of(e) if name == "set" else squall.list_of(e)
    elif name == "record":
        p.expect("{")
        fields = []
        while p.peek() != "}":
            fname = p.next()
            if fname.startswith('"'):
                fname = ast.literal_eval(fname)
            p.expect(":")
            fields.append((fname, _schema(p)))
            if p.peek() == ",":
                p.next()
        p.next()
        s = squall.record_of(*fields)
    else:
        raise ValueError(f"unknown schema {name!r}")
    while p.peek() == ".":
        p.next()
        if p.next() != "subindexed":
            raise ValueError("only .subindexed follows a schema")
        s = s.subindexed()
    return s


_ = struct
