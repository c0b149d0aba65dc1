"""Checks a module definition in its ABI form (abi/ABI.md §5) the way the host
does at deploy, with the host's messages, so that a module the host would
refuse fails at import, in squall_init and in tests with the same list of
problems."""

from __future__ import annotations

# typing is imported by type checkers only: annotations are strings here
# (PEP 563), and every instance start imports this module.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from ._frames import type_name
from ._path import PathError, SELECT, parse_path
from ._schema import LEAVES, MAX_NAME_LEN, MAX_SCHEMA_DEPTH, TYPES, Schema, quote_list
from ._text import quote, quote_rune, value_text

MAX_DEF_ENTRIES = 1024
MAX_QUERY_ARGS = 64
MAX_MAX_RECORDS = 1_000_000
MAX_INTERVAL_MS = 3_600_000
MAX_TICK_MILLIS = 86_400_000


class DefinitionError(Exception):
    """A module definition that the host would refuse. ``problems`` lists
    every problem as ``(where, message)`` pairs, ``where`` like
    ``depots[1].name`` or ``topologies[0].sources[1].depot``."""

    def __init__(self, problems: list) -> None:
        self.problems = list(problems)
        if len(self.problems) == 1:
            w, m = self.problems[0]
            msg = f"squall: module definition: {w}: {m}"
        else:
            msg = f"squall: module definition has {len(self.problems)} problems:" + "".join(
                f"\n\t{w}: {m}" for w, m in self.problems)
        super().__init__(msg)


def _sort_key(where: str) -> str:
    """Pad list indexes to ten digits so that [10] sorts after [9]."""
    out = []
    i = 0
    while i < len(where):
        c = where[i]
        out.append(c)
        i += 1
        if c == "[":
            j = i
            while j < len(where) and where[j].isdigit() and where[j].isascii():
                j += 1
            if j > i and j < len(where) and where[j] == "]":
                out.append(where[i:j].rjust(10, "0"))
                i = j
    return "".join(out)


class Problems:
    """Collects problems; a location under one that already has a problem
    gets no more, so one mistake is reported once."""

    def __init__(self) -> None:
        self.list: list = []

    def add(self, where: str, msg: str) -> None:
        for w, _ in self.list:
            if where == w or where.startswith(w + ".") or where.startswith(w + "["):
                return
        self.list.append((where, msg))

    def error(self) -> DefinitionError | None:
        if not self.list:
            return None
        return DefinitionError(sorted(self.list, key=lambda p: _sort_key(p[0])))


def _join(where: str, field: str) -> str:
    return field if where == "definition" else f"{where}.{field}"


def _at(where: str, i: int) -> str:
    return f"{where}[{i}]"


def name_problem(name: str) -> str:
    """Say what is wrong with a name, or return ""."""
    if name == "":
        return "a name cannot be empty"
    b = name.encode("utf-8", "surrogatepass")
    if len(b) > MAX_NAME_LEN:
        return f"name is {len(b)} bytes; the limit is {MAX_NAME_LEN}"
    for i, c in enumerate(b):
        ch = chr(c)
        ok = ch in "_$" or "a" <= ch <= "z" or "A" <= ch <= "Z" or (i > 0 and ("0" <= ch <= "9" or ch in "-."))
        if not ok:
            r = ch if c < 0x80 else "\ufffd"
            return (f"name {quote(name)} has {quote_rune(r)} at byte {i}; use letters, digits, '_', '-', '.' and '$', "
                    "starting with a letter, '_' or '$'")
    return ""


def _is_map(v: Any) -> bool:
    return hasattr(v, "items") and not isinstance(v, (str, bytes))


class _Checker:
    def __init__(self) -> None:
        self.p = Problems()

    def fields(self, where: str, v: Any, what: str, known: list) -> dict | None:
        p = self.p
        if not _is_map(v):
            p.add(where, f"{what} must be a map, not {type_name(v)}")
            return None
        out = {}
        for k, x in v.items():
            if type(k) is not str:
                p.add(where, f"field names are strings; found the {type_name(k)} key {value_text(k)}")
                continue
            if k not in known:
                p.add(_join(where, k), f"unknown field; {what} fields are {quote_list(known)}")
                continue
            out[k] = x
        return out

    def str(self, where: str, f: dict | None, name: str, required: bool) -> str:
        if f is None or name not in f:
            if required and f is not None:
                self.p.add(_join(where, name), "required field is missing")
            return ""
        v = f[name]
        if type(v) is not str:
            self.p.add(_join(where, name), f"must be a string, not {type_name(v)}")
            return ""
        return v

    def integer(self, where: str, f: dict | None, name: str) -> int | None:
        if f is None or name not in f:
            return None
        v = f[name]
        if type(v) is not int:
            self.p.add(_join(where, name), f"must be an int, not {type_name(v)}")
            return None
        return v

    def str_list(self, where: str, f: dict | None, name: str, required: bool) -> list:
        out = []
        for i, v in enumerate(self.list_field(where, f, name, required)):
            if type(v) is not str:
                self.p.add(_at(_join(where, name), i), f"must be a string, not {type_name(v)}")
                v = ""
            out.append(v)
        return out

    def boolean(self, where: str, f: dict | None, name: str) -> bool:
        if f is None or name not in f:
            return False
        v = f[name]
        if type(v) is not bool:
            self.p.add(_join(where, name), f"must be a bool, not {type_name(v)}")
            return False
        return v

    def list_field(self, where: str, f: dict | None, name: str, required: bool) -> list:
        if f is None or name not in f:
            if required and f is not None:
                self.p.add(_join(where, name), "required field is missing")
            return []
        v = f[name]
        if not isinstance(v, (list, tuple)):
            self.p.add(_join(where, name), f"must be a list, not {type_name(v)}")
            return []
        if len(v) > MAX_DEF_ENTRIES:
            self.p.add(_join(where, name), f"has {len(v)} entries; the limit is {MAX_DEF_ENTRIES}")
            return []
        return list(v)

    def schema(self, w: str, v: Any, depth: int) -> Schema | None:
        p = self.p
        if depth > MAX_SCHEMA_DEPTH:
            p.add(w, f"schema nests deeper than {MAX_SCHEMA_DEPTH}")
            return None
        if type(v) is str:
            if v not in LEAVES:
                p.add(w, f"unknown leaf type {quote(v)}; use \"any\", \"bool\", \"int\", \"float\", \"string\" or \"bytes\", "
                      "or a map {\"type\": ...} for a collection")
                return None
            return Schema(v)
        if not _is_map(v):
            p.add(w, f"a schema is a leaf type name or a map with a \"type\", not {type_name(v)}")
            return None
        has_type = "type" in v
        ts = v.get("type") if has_type else None
        if type(ts) is not str:
            if not has_type:
                p.add(_join(w, "type"), "required field is missing; use one of " + quote_list(TYPES))
            else:
                p.add(_join(w, "type"), f"must be a string, not {type_name(ts)}")
            return None
        if ts in LEAVES:
            known = ["subindexed", "type"]
        elif ts == "map":
            known = ["key", "subindexed", "type", "val"]
        elif ts in ("set", "list"):
            known = ["elem", "subindexed", "type"]
        elif ts == "record":
            known = ["fields", "subindexed", "type"]
        else:
            p.add(_join(w, "type"), f"unknown schema type {quote(ts)}; use one of " + quote_list(TYPES))
            return Schema(ts)
        f = self.fields(w, v, f"a {ts} schema", known)
        sub = self.boolean(w, f, "subindexed")
        s = Schema(ts, subindexed=sub)
        f = f or {}

        def child(name: str) -> Schema | None:
            if name not in f:
                p.add(_join(w, name), "required field is missing")
                return None
            return self.schema(_join(w, name), f[name], depth + 1)

        if ts == "map":
            s.key = child("key")
            s.val = child("val")
        elif ts in ("set", "list"):
            s.elem = child("elem")
        elif ts == "record":
            if "fields" not in f:
                p.add(_join(w, "fields"), "required field is missing")
            elif not isinstance(f["fields"], (list, tuple)):
                p.add(_join(w, "fields"), f"must be a list of [name, schema] pairs, not {type_name(f['fields'])}")
            else:
                fs = []
                for i, e in enumerate(f["fields"]):
                    if not isinstance(e, (list, tuple)) or len(e) != 2 or type(e[0]) is not str:
                        p.add(_at(_join(w, "fields"), i), f"a record field is a [name, schema] pair with a string name, not {value_text(e)}")
                        fs.append(("", None))
                        continue
                    fw = _join(w, "fields") + "[" + quote(e[0]) + "]"
                    fs.append((e[0], self.schema(fw, e[1], depth + 1)))
                s.fields = tuple(fs)
        return s

    def names(self, section: str, what: str, names: list, field: str) -> None:
        seen: dict = {}
        for i, n in enumerate(names):
            w = _at(section, i)
            if field:
                w = _join(w, field)
            msg = name_problem(n)
            if msg:
                self.p.add(w, msg)
                continue
            if n in seen:
                self.p.add(w, f"duplicate {what} name {quote(n)} (also {_at(section, seen[n])})")
                continue
            seen[n] = i

    def check(self, v: Any) -> None:
        p = self.p
        w = "definition"
        f = self.fields(w, v, "a module definition", ["depots", "name", "pstates", "queries", "topologies"])
        name = self.str(w, f, "name", False)
        depots = []
        for i, dv in enumerate(self.list_field(w, f, "depots", True)):
            dw = _at("depots", i)
            df = self.fields(dw, dv, "a depot", ["name", "partitioner"])
            d = {"name": self.str(dw, df, "name", True), "kind": "", "key": None, "millis": 0}
            if df is not None and "partitioner" not in df:
                p.add(_join(dw, "partitioner"), "required field is missing; use {\"kind\": \"hash\"}, {\"kind\": \"random\"} or {\"kind\": \"disallow\"}")
            elif df is not None:
                pw = _join(dw, "partitioner")
                pf = self.fields(pw, df["partitioner"], "a partitioner", ["key", "kind", "millis"])
                d["kind"] = self.str(pw, pf, "kind", True)
                ms = self.integer(pw, pf, "millis")
                if ms is not None:
                    d["millis"] = ms
                    if d["kind"] != "tick":
                        p.add(_join(pw, "millis"), "only a tick partitioner takes millis")
                elif pf is not None and "millis" not in pf and d["kind"] == "tick":
                    p.add(_join(pw, "millis"), "required field is missing: the tick period in milliseconds")
                if pf is not None and "key" in pf:
                    try:
                        d["key"] = parse_path(pf["key"])
                    except PathError as e:
                        p.add(_join(pw, "key"), "not a path: " + str(e).removeprefix("squall: "))
            depots.append(d)
        pstates = []
        for i, pv in enumerate(self.list_field(w, f, "pstates", True)):
            pw = _at("pstates", i)
            pf = self.fields(pw, pv, "a PState", ["global", "name", "owner", "schema"])
            ps = {"name": self.str(pw, pf, "name", True), "global": self.boolean(pw, pf, "global"), "schema": None,
                  "owner": self.str(pw, pf, "owner", False)}
            if pf is not None and "schema" in pf:
                ps["schema"] = self.schema(_join(pw, "schema"), pf["schema"], 1)
            elif pf is not None:
                p.add(_join(pw, "schema"), "required field is missing")
            pstates.append(ps)
        topos = []
        for i, tv in enumerate(self.list_field(w, f, "topologies", True)):
            tw = _at("topologies", i)
            tf = self.fields(tw, tv, "a topology", ["interval_ms", "kind", "max_records", "name", "sources", "stages"])
            t = {"name": self.str(tw, tf, "name", True), "kind": self.str(tw, tf, "kind", True), "sources": [], "stages": []}
            n = self.integer(tw, tf, "max_records")
            t["max_records"] = n or 0
            if n is not None and not 1 <= n <= MAX_MAX_RECORDS:
                p.add(_join(tw, "max_records"), f"is {n}; it must be from 1 to {MAX_MAX_RECORDS}")
            n = self.integer(tw, tf, "interval_ms")
            t["interval_ms"] = n or 0
            if n is not None and not 0 <= n <= MAX_INTERVAL_MS:
                p.add(_join(tw, "interval_ms"), f"is {n}; it must be from 0 to {MAX_INTERVAL_MS}")
            for j, sv in enumerate(self.list_field(tw, tf, "sources", True)):
                sw = _at(_join(tw, "sources"), j)
                sf = self.fields(sw, sv, "a source", ["depot", "stage", "start_from"])
                if sf is not None and "start_from" in sf:
                    sv = sf["start_from"]
                    if not (sv in ("beginning", "end") if type(sv) is str else type(sv) is int and sv >= 0):
                        p.add(_join(sw, "start_from"), f"must be \"beginning\", \"end\" or an offset (an int >= 0), not {value_text(sv)}")
                t["sources"].append((self.str(sw, sf, "depot", True), self.str(sw, sf, "stage", True)))
            for j, sv in enumerate(self.list_field(tw, tf, "stages", True)):
                if type(sv) is not str:
                    p.add(_at(_join(tw, "stages"), j), f"a stage is named by a string, not {type_name(sv)}")
                    sv = ""
                t["stages"].append(sv)
            topos.append(t)
        queries = []
        for i, qv in enumerate(self.list_field(w, f, "queries", False)):
            qw = _at("queries", i)
            qf = self.fields(qw, qv, "a query", ["args", "name", "stages"])
            queries.append({"name": self.str(qw, qf, "name", True), "args": self.str_list(qw, qf, "args", False),
                            "stages": self.str_list(qw, qf, "stages", True)})

        # Validation of what was read.
        if name:
            msg = name_problem(name)
            if msg:
                p.add("name", msg)
        depot_names = [d["name"] for d in depots]
        self.names("depots", "depot", depot_names, "name")
        for i, d in enumerate(depots):
            dw = _join(_at("depots", i), "partitioner")
            if d["kind"] == "hash":
                if d["key"] is not None:
                    try:
                        d["key"].validate(SELECT)
                    except PathError as e:
                        p.add(_join(dw, "key"), str(e).removeprefix("squall: "))
            elif d["kind"] in ("random", "disallow", "tick"):
                if d["key"] is not None and len(d["key"]) > 0:
                    p.add(_join(dw, "key"), "only a hash partitioner takes a key path")
                if d["kind"] == "tick" and not 1 <= d["millis"] <= MAX_TICK_MILLIS:
                    p.add(_join(dw, "millis"), f"is {d['millis']}; the tick period must be from 1 to {MAX_TICK_MILLIS} milliseconds")
            else:
                p.add(_join(dw, "kind"), f"unknown depot partitioner {quote(d['kind'])}; use \"hash\", \"random\", \"disallow\" or \"tick\"")
        self.names("pstates", "PState", [x["name"] for x in pstates], "name")
        for i, ps in enumerate(pstates):
            if ps["schema"] is not None:
                ps["schema"].check(p, _join(_at("pstates", i), "schema"), 1, True)
        self.names("topologies", "topology", [t["name"] for t in topos], "name")
        for i, t in enumerate(topos):
            tw = _at("topologies", i)
            if t["kind"] == "stream":
                if t["max_records"]:
                    p.add(_join(tw, "max_records"), "only microbatch topologies take max_records")
                if t["interval_ms"]:
                    p.add(_join(tw, "interval_ms"), "only microbatch topologies take interval_ms")
            elif t["kind"] != "microbatch":
                p.add(_join(tw, "kind"), f"unknown topology kind {quote(t['kind'])}; use \"stream\" or \"microbatch\"")
            if not t["stages"]:
                p.add(_join(tw, "stages"), "a topology needs at least one stage")
            self.names(_join(tw, "stages"), "stage", t["stages"], "")
            if not t["sources"]:
                p.add(_join(tw, "sources"), "a topology needs at least one source {\"depot\": ..., \"stage\": ...}")
            seen: dict = {}
            for j, (dn, sn) in enumerate(t["sources"]):
                sw = _at(_join(tw, "sources"), j)
                if dn not in depot_names:
                    msg = f"unknown depot {quote(dn)}; "
                    msg += "the module declares no depots" if not depots else "declared depots: " + quote_list(depot_names)
                    p.add(_join(sw, "depot"), msg)
                if sn not in t["stages"]:
                    msg = f"unknown stage {quote(sn)}; "
                    msg += ("the topology declares no stages" if not t["stages"]
                            else f"stages of topology {quote(t['name'])}: " + quote_list(t["stages"]))
                    p.add(_join(sw, "stage"), msg)
                if (dn, sn) in seen:
                    p.add(sw, f"duplicate source (also {_at(_join(tw, 'sources'), seen[(dn, sn)])})")
                else:
                    seen[(dn, sn)] = j
        topo_names = [t["name"] for t in topos]
        for i, ps in enumerate(pstates):
            if ps["owner"] and ps["owner"] not in topo_names:
                msg = f"unknown topology {quote(ps['owner'])}; "
                msg += "the module declares no topologies" if not topos else "declared topologies: " + quote_list(topo_names)
                p.add(_join(_at("pstates", i), "owner"), msg)
        self.names("queries", "query", [q["name"] for q in queries], "name")
        for i, q in enumerate(queries):
            qw = _at("queries", i)
            if q["name"] in topo_names:
                p.add(_join(qw, "name"), f"query name {quote(q['name'])} is also a topology name; queries and topologies need distinct names")
            if len(q["args"]) > MAX_QUERY_ARGS:
                p.add(_join(qw, "args"), f"has {len(q['args'])} arguments; the limit is {MAX_QUERY_ARGS}")
            self.names(_join(qw, "args"), "argument", q["args"], "")
            if not q["stages"]:
                p.add(_join(qw, "stages"), "a query needs at least one stage (the first is its entry)")
            self.names(_join(qw, "stages"), "stage", q["stages"], "")


def check_definition(v: Any) -> None:
    """Check a module definition in its ABI form as the host does at deploy;
    raise :class:`DefinitionError` listing every problem."""
    c = _Checker()
    c.check(v)
    err = c.p.error()
    if err is not None:
        raise err


def definition_problems(v: Any, extra: list = ()) -> Problems:
    c = _Checker()
    c.check(v)
    for w, m in extra:
        c.p.add(w, m)
    return c.p
