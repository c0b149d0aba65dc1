"""The Python version of the conformance module: one module with a topology
per behaviour of docs/conformance.md. Its twins in ../go and ../rust must
behave identically, byte for byte: same declarations in the same order,
same paths, same messages."""

from __future__ import annotations

from typing import Any

import squall
from squall import key


def field(v: Any, name: str) -> Any:
    """A field of a record (None when absent or not a map)."""
    return v.get(name) if isinstance(v, dict) else None


def text(v: Any, name: str) -> str:
    """A string field of a record ("" when absent or not a string)."""
    s = field(v, name)
    return s if isinstance(s, str) else ""


def integer(v: Any, name: str) -> int:
    """An int field of a record (0 when absent or not an int)."""
    n = field(v, name)
    return n if type(n) is int else 0


app = squall.Module("conformance")
by_name = app.depot("values", squall.hash_by(key("name")))
paths = app.depot("paths", squall.hash_by(key("k")))
hops = app.depot("hops", squall.hash_by(key("k")))
fails = app.depot("fails", squall.hash_by(key("k")))
rws = app.depot("rw", squall.hash_by(key("k")))

values = app.pstate("$$values", squall.map_of(squall.STRING, squall.ANY))
docs = app.pstate("$$docs", squall.map_of(squall.STRING, squall.ANY))
sub = app.pstate("$$sub", squall.map_of(squall.STRING, squall.map_of(squall.STRING, squall.INT, subindexed=True)))
subl = app.pstate("$$subl", squall.map_of(squall.STRING, squall.list_of(squall.INT, subindexed=True)))
subs = app.pstate("$$subs", squall.map_of(squall.STRING, squall.set_of(squall.STRING, subindexed=True)))
ran = app.pstate("$$ran", squall.record_of(seen=squall.map_of(squall.STRING, squall.INT, subindexed=True)))
attempts = app.pstate("$$attempts", squall.map_of(squall.STRING, squall.INT))
rw = app.pstate("$$rw", squall.map_of(squall.STRING, squall.ANY))

# (a, f, g) values: store each record's value under its name, emit it back.
tv = app.stream("values")


@tv.stage()
def store(ctx: squall.Ctx, r: Any) -> None:
    v = field(r, "value")
    ctx.transform(values, key(text(r, "name")).set(v))
    ctx.emit(v)


tv.source(by_name, store)

# (b) paths: every navigator and terminal, inline and subindexed.
tp = app.stream("paths")


@tp.stage("paths")
def paths_stage(ctx: squall.Ctx, r: Any) -> None:
    k = text(r, "k")
    op = text(r, "op")
    if op == "setup":
        setup(ctx, k)
    elif op == "query":
        query(ctx, k)
    elif op == "mutate":
        mutate(ctx, k)
    else:
        raise squall.Poison(f"unknown op {squall.quote(op)}")


tp.source(paths, paths_stage)

# (c) hops: every partitioner; rec records which partition ran what.
th = app.stream("hops")


def _rem(n: int, m: int) -> int:
    """n % m rounded toward zero, as Go's and Rust's % are."""
    r = abs(n) % m
    return -r if n < 0 else r


@th.stage()
def start(ctx: squall.Ctx, r: Any) -> None:
    n = integer(r, "n")
    k = field(r, "k")
    ctx.hop(rec, k, ["hash", n])
    ctx.hop(rec, n * 7 + 1, ["hashInt", n])
    ctx.hop_all(rec, ["all", n])
    ctx.hop_global(rec, ["global", n])
    ctx.hop_shuffle(rec, ["shuffle", n])
    ctx.hop_direct(rec, _rem(n, ctx.partitions), ["direct", n])
    ctx.hop_origin(rec, ["originRecord", n])
    ctx.hop(mid, f"mid-{n}", n)
    ctx.emit(ctx.partition)


@th.stage()
def mid(ctx: squall.Ctx, n: Any) -> None:
    ctx.hop_origin(rec, ["origin", n if type(n) is int else 0])


@th.stage()
def rec(ctx: squall.Ctx, p: Any) -> None:
    t = p[0] if isinstance(p, list) and p and isinstance(p[0], str) else ""
    n = p[1] if isinstance(p, list) and len(p) > 1 and type(p[1]) is int else 0
    ctx.transform(ran, key("seen").key(f"{t}/{n}/{ctx.partition}").set(ctx.source_partition))


th.source(hops, start)

# (d, e) failures: poison, retryable until attempt 2, always retryable.
tf = app.stream("fails")


@tf.stage()
def fail(ctx: squall.Ctx, r: Any) -> None:
    k = text(r, "k")
    mode = text(r, "mode")
    if mode == "poison":
        raise squall.Poison(f"poisoned {k}")
    if mode == "retry":
        if ctx.attempt < 1:  # the first delivery is attempt 0
            raise Exception(f"transient failure of {k}")
    elif mode == "always":
        raise Exception(f"permanent failure of {k}")
    elif mode == "badpath":
        ctx.transform(attempts, key(k).append(1))  # append to an int: the host rejects it
        return
    ctx.transform(attempts, key(k).set(ctx.attempt))
    ctx.emit([k, ctx.attempt])


tf.source(fails, fail)

# (h) read your writes: a stage that writes, reads, writes what it read.
tr = app.stream("rw")


@tr.stage("rw")
def rw_stage(ctx: squall.Ctx, r: Any) -> None:
    k = text(r, "k")
    ctx.transform(rw, key(k).key("n").nil_to_val(0).incr(1))
    n = ctx.select_one(rw, key(k).key("n"))
    ctx.transform(rw, key(k).key("seen").append(n))
    ctx.emit(ctx.select_one(rw, key(k)))


tr.source(rws, rw_stage)


def setup(ctx: squall.Ctx, k: str) -> None:
    doc = {
        "m": {"a": 1, "b": 2, "c": 3, "d": 4},
        "l": [5, 1, 4, 2, 3],
        "s": {"x", "y", "z"},
        "f": 1.5,
        "n": 10,
    }
    ops = [
        (docs, key(k).set(doc)),
        (subl, key(k).append(10, 20, 30, 40)),
        (subs, key(k).append("p", "q", "r")),
    ]
    for i, name in enumerate(["a", "b", "c", "d", "e", "f"]):
        ops.append((sub, key(k).key(name).set(i + 1)))
    for ps, p in ops:
        ctx.transform(ps, p)
    ctx.emit("ok")


def query(ctx: squall.Ctx, k: str) -> None:
    d = s = l = t = key(k)
    incl = {"exclude_from": True, "include_to": True}
    rev = {"reverse": True, "limit": 2}
    qs = [
        ("d.whole", docs, d),
        ("d.key", docs, d.key("m").key("a")),
        ("d.keyMissing", docs, d.key("m").key("zz")),
        ("d.mustKey", docs, d.must_key("m").must_key("b")),
        ("d.mustKeyMissing", docs, d.key("m").must_key("zz")),
        ("d.all.m", docs, d.key("m").all()),
        ("d.all.l", docs, d.key("l").all()),
        ("d.all.s", docs, d.key("s").all()),
        ("d.mapVals", docs, d.key("m").map_vals()),
        ("d.mapKeys", docs, d.key("m").map_keys()),
        ("d.first.l", docs, d.key("l").first()),
        ("d.last.l", docs, d.key("l").last()),
        ("d.nth.l", docs, d.key("l").nth(2)),
        ("d.nthOut.l", docs, d.key("l").nth(9)),
        ("d.first.m", docs, d.key("m").first()),
        ("d.last.m", docs, d.key("m").last()),
        ("d.first.s", docs, d.key("s").first()),
        ("d.sorted.m", docs, d.key("m").sorted_range("b", "d")),
        ("d.sortedOpts.m", docs, d.key("m").sorted_range("a", "c", **incl)),
        ("d.sortedRev.m", docs, d.key("m").sorted_range("a", "z", **rev).map_keys()),
        ("d.sorted.s", docs, d.key("s").sorted_range("x", "z")),
        ("d.filter.eq", docs, d.key("l").all().filter("eq", 4)),
        ("d.filter.ne", docs, d.key("l").all().filter("ne", 4)),
        ("d.filter.lt", docs, d.key("l").all().filter("lt", 3)),
        ("d.filter.le", docs, d.key("l").all().filter("le", 3)),
        ("d.filter.gt", docs, d.key("l").all().filter("gt", 3)),
        ("d.filter.ge", docs, d.key("l").all().filter("ge", 3.5)),
        ("d.filter.exists", docs, d.key("m").map_vals().filter_exists()),
        ("d.nilToVal", docs, d.key("zz").nil_to_val("dflt")),
        ("d.size.m", docs, d.key("m").view("size")),
        ("d.size.l", docs, d.key("l").view("size")),
        ("d.size.s", docs, d.key("s").view("size")),
        ("d.size.int", docs, d.key("n").view("size")),
        ("d.count.n", docs, d.key("n").view("count")),
        ("d.count.missing", docs, d.key("zz").view("count")),
        ("s.key", sub, s.key("c")),
        ("s.mustKey", sub, s.must_key("d")),
        ("s.all", sub, s.all()),
        ("s.mapVals", sub, s.map_vals()),
        ("s.mapKeys", sub, s.map_keys()),
        ("s.first", sub, s.first()),
        ("s.last", sub, s.last()),
        ("s.sorted", sub, s.sorted_range("b", "e")),
        ("s.sortedOpts", sub, s.sorted_range("b", "e", **incl)),
        ("s.sortedRev", sub, s.sorted_range("a", "z", **rev)),
        ("s.filter", sub, s.map_vals().filter("gt", 3)),
        ("s.size", sub, s.view("size")),
        ("s.count", sub, s.view("count")),
        ("s.nilToVal", sub, s.key("zz").nil_to_val(-1)),
        ("l.all", subl, l.all()),
        ("l.first", subl, l.first()),
        ("l.last", subl, l.last()),
        ("l.nth", subl, l.nth(1)),
        ("l.size", subl, l.view("size")),
        ("l.filter", subl, l.all().filter("le", 20)),
        ("t.all", subs, t.all()),
        ("t.first", subs, t.first()),
        ("t.last", subs, t.last()),
        ("t.size", subs, t.view("size")),
        ("t.sorted", subs, t.sorted_range("p", "r")),
        ("t.filter", subs, t.all().filter("ne", "q")),
    ]
    out = {}
    for label, ps, p in qs:
        try:
            out[label] = ctx.select(ps, p)
        except squall.QueryError:
            out[label] = "error"
    ctx.emit(out)


def mutate(ctx: squall.Ctx, k: str) -> None:
    d = key(k)
    merge = {"z": 26, "a": 0}
    ops = [
        (docs, d.key("m").key("a").set(100)),
        (docs, d.key("m").key("b").remove()),
        (docs, d.key("n").incr(5)),
        (docs, d.key("f").incr(0.25)),
        (docs, d.key("i").incr(2.0)),
        (docs, d.key("l").append(6, 7)),
        (docs, d.key("l").prepend(0)),
        (docs, d.key("m").merge(merge)),
        (docs, d.key("s").append("w")),
        (docs, d.key("new").nil_to_val(41).incr(1)),
        (docs, d.key("l").all().filter("gt", 4).incr(100)),
        (docs, d.key("m").map_vals().filter("lt", 5).incr(1000)),
        (docs, d.key("l").first().set("head")),
        (docs, d.key("l").last().remove()),
        (sub, d.key("a").incr(10)),
        (sub, d.key("b").remove()),
        (sub, d.merge(merge)),
        (sub, d.map_vals().filter("ge", 5).incr(1000)),
        (sub, d.sorted_range("c", "e").map_vals().incr(-1)),
        (subl, d.append(50, 60)),
        (subl, d.prepend(0)),
        (subl, d.nth(2).set(21)),
        (subl, d.last().remove()),
        (subs, d.append("s2")),
        (subs, d.all().filter("eq", "q").remove()),
    ]
    res = []
    for ps, p in ops:
        try:
            ctx.transform(ps, p)
            res.append("ok")
        except squall.SquallError:
            res.append("error")
    ctx.emit(res)
