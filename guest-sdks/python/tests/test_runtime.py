"""The SDK runtime (squall_init, squall_process, the ctx) under the test
harness's in-memory host."""

from __future__ import annotations

import dataclasses
import sys

import pytest

import squall
from squall.testing import Harness, HarnessError


def make(name: str = "m"):
    app = squall.Module(name)
    return app


def test_outcomes_kinds_and_messages():
    app = make()
    events = app.depot("events", squall.hash_by(squall.key("k")))
    counts = app.pstate("$$counts", squall.map_of(squall.STRING, squall.INT))
    t = app.stream("t")

    @t.stage()
    def run(ctx: squall.Ctx, r: dict) -> None:
        ctx.transform(counts, squall.key(r["k"]).incr(1))  # discarded when the item fails
        mode = r["mode"]
        if mode == "poison":
            raise squall.Poison(f"bad {r['k']}")
        if mode == "retry-once" and ctx.attempt == 0:
            raise squall.Retry("try again")
        if mode == "keyerror":
            r["missing"]
        if mode == "exit":
            sys.exit(3)
        if mode == "plain":
            raise Exception("plain failure")
        ctx.emit(ctx.attempt)

    t.source(events, run)
    h = Harness(app, 2, max_attempts=3, quiet=True)
    assert h.append("events", {"k": "a", "mode": "ok"}).ack_return("t") == 0
    assert h.append("events", {"k": "b", "mode": "retry-once"}).ack_return("t") == 1
    for k, mode in [("c", "poison"), ("d", "keyerror"), ("e", "exit"), ("f", "plain")]:
        assert not h.append("events", {"k": k, "mode": mode}).has_ack_return("t")
    got = [(d.input["k"], d.attempts, d.error.kind, d.error.message) for d in h.dead_letters]
    assert got == [
        ("c", 1, "poison", "bad c"),
        ("d", 3, "error", "KeyError: 'missing' (after 3 attempts)"),
        ("e", 3, "error", "SystemExit: 3 (after 3 attempts)"),
        ("f", 3, "error", "plain failure (after 3 attempts)"),
    ]
    # The stack is the formatted traceback, with the stage's file and line.
    stack = h.dead_letters[1].error.stack
    assert "Traceback (most recent call last)" in stack and "test_runtime.py" in stack and "in run" in stack
    # Failed items leave no effects.
    for k, want in {"a": 1, "b": 1, "c": None, "d": None, "f": None}.items():
        assert h.select_one("$$counts", squall.key(k)) == want, k
    assert h.stats.retries == 1 + 3 * 3  # every RETRY outcome, the last ones too


def test_rejected_effects_poison_the_item():
    app = make()
    d = app.depot("d", squall.hash_by(squall.key("k")))
    ints = app.pstate("$$ints", squall.map_of(squall.STRING, squall.INT))
    t = app.stream("t")
    seen = []

    @t.stage()
    def run(ctx: squall.Ctx, r: dict) -> None:
        ctx.transform(ints, squall.key(r["k"]).set("not an int"))  # ESCHEMA, found at the next flush
        try:
            ctx.select_one(ints, squall.key(r["k"]))  # flushes first
        except squall.RejectedError as e:
            seen.append(e.code_name)
            with pytest.raises(squall.RejectedError):
                ctx.emit(1)  # every later call of the item fails too
            raise

    t.source(d, run)
    h = Harness(app, 2, quiet=True)
    h.append("d", {"k": "x"})
    assert seen == ["ESCHEMA"]
    (dl,) = h.dead_letters
    assert dl.error.kind == "rejected"
    assert dl.error.message.startswith('ESCHEMA: PState "$$ints": step 1 set("not an int") at $["x"]: the schema says int, got string "not an int"')


def test_wrong_partition_and_query_errors():
    app = make()
    d = app.depot("d", squall.hash_by(squall.key("k")))
    ps = app.pstate("$$p", squall.map_of(squall.STRING, squall.ANY))
    t = app.stream("t")
    out = {}

    @t.stage()
    def run(ctx: squall.Ctx, r: dict) -> None:
        other = next(f"o{i}" for i in range(100) if squall.key_partition(f"o{i}", ctx.partitions) != ctx.partition)
        try:
            ctx.select(ps, squall.key(other))
        except squall.QueryError as e:
            out["wrongpart"] = e.code_name
        ctx.transform(ps, squall.key(r["k"]).set([1, 2]))
        assert ctx.select_one(ps, squall.key(r["k"]).nth(1)) == 2
        try:
            ctx.select_one(ps, squall.key(r["k"]).all())
        except squall.QueryError as e:
            out["multi"] = (e.code_name, e.message)
        try:
            ctx.select_one(ps, squall.key(r["k"]).all().filter("gt", 5))
        except squall.NotFound:
            out["notfound"] = True
        out["default"] = ctx.select_one(ps, squall.key(r["k"]).all().filter("gt", 5), "dflt")
        out["view"] = ctx.select_one(ps, squall.key(r["k"]).view("size"))
        try:
            ctx.select(ps, squall.key(r["k"]).view("size").key(1))
        except squall.QueryError as e:
            out["epath"] = e.code_name

    t.source(d, run)
    Harness(app, 4, quiet=True).append("d", {"k": "x"})
    assert out == {"wrongpart": "EWRONGPART", "multi": ("EMULTI", "SELECT_ONE navigated to 2 values"),
                   "notfound": True, "default": "dflt", "view": 2, "epath": "EPATH"}


def test_read_your_writes_across_a_batch():
    app = make()
    d = app.depot("d", squall.hash_by(squall.key("k")))
    ps = app.pstate("$$n", squall.map_of(squall.STRING, squall.INT))
    t = app.stream("t")

    @t.stage()
    def run(ctx: squall.Ctx, r: dict) -> None:
        ctx.transform(ps, squall.key(r["k"]).incr(1))
        if r.get("fail"):
            raise squall.Poison("no")  # undoes its own incr only
        ctx.emit(ctx.select_one(ps, squall.key(r["k"])))

    t.source(d, run)
    h = Harness(app, 1, manual=True, quiet=True)
    a = [h.append("d", {"k": "a", "fail": i == 2}) for i in range(5)]
    h.run()
    assert h.stats.batches == 1
    assert [x.ack_return("t") for x in a] == [1, 2, None, 3, 4]
    assert h.select_one("$$n", squall.key("a")) == 4


def test_hop_partitioners():
    app = make()
    d = app.depot("d", squall.hash_by(squall.key("k")))
    log = app.pstate("$$log", squall.record_of(seen=squall.map_of(squall.STRING, squall.INT, subindexed=True)))
    t = app.stream("t")

    @t.stage()
    def start(ctx: squall.Ctx, r: dict) -> None:
        ctx.hop(rec, "some key", "hash")
        ctx.hop_all(rec, "all")
        ctx.hop_global(rec, "global")
        ctx.hop_origin(rec, "origin")
        ctx.hop_shuffle(rec, "shuffle")
        ctx.hop_direct(rec, 3, "direct")
        with pytest.raises(squall.Poison, match="partition 4 does not exist; the module has 4 partitions"):
            ctx.hop_direct(rec, 4, "nowhere")

    @t.stage()
    def rec(ctx: squall.Ctx, tag: str) -> None:
        ctx.transform(log, squall.key("seen").key(f"{tag}/{ctx.partition}").set(ctx.source_partition))

    t.source(d, start)
    h = Harness(app, 4, quiet=True)
    a = h.append("d", {"k": "x"})
    got = {}
    for p in range(4):
        got.update(dict(h.select_partition("$$log", p, squall.key("seen").all())))
    hp = h.key_partition("some key")
    assert {k for k in got if not k.startswith("shuffle/")} == {
        f"hash/{hp}", "all/0", "all/1", "all/2", "all/3", "global/0", f"origin/{a.partition}", "direct/3"}
    assert len([k for k in got if k.startswith("shuffle/")]) == 1
    assert set(got.values()) == {a.partition}


def test_appends_and_ack_trees():
    app = make()
    src = app.depot("src", squall.hash_by(squall.key("k")))
    derived = app.depot("derived", squall.disallow())
    side = app.depot("side", squall.random_partition())
    seen = app.pstate("$$seen", squall.map_of(squall.STRING, squall.ANY))
    t1 = app.stream("one")
    t2 = app.stream("two")

    @t1.stage()
    def produce(ctx: squall.Ctx, r: dict) -> None:
        ctx.append(derived, {"from": r["k"]}, local=True)  # joins this record's tree (ACK)
        ctx.append(side, {"n": 1}, ack=squall.NO_ACK)
        with pytest.raises(squall.Poison):
            ctx.append(derived, 1, ack=7)
        ctx.emit("one done")

    @t2.stage()
    def consume(ctx: squall.Ctx, r: dict) -> None:
        if ctx.depot is derived:
            ctx.transform(seen, squall.key(r["from"]).set(ctx.offset))
            ctx.emit("two done")

    t1.source(src, produce)
    t2.source(derived, consume)
    t2.source(side, consume)
    h = Harness(app, 2, quiet=True)
    a = h.append("src", {"k": "x"})
    assert a.ack_returns == {"one": "one done", "two": "two done"}
    assert h.depot("derived", a.partition) == [{"from": "x"}]
    assert sum(len(h.depot("side", p)) for p in range(2)) == 1
    with pytest.raises(HarnessError, match="disallow"):
        h.append("derived", {"from": "client"})


def test_disallow_needs_local():
    app = make()
    src = app.depot("src")
    derived = app.depot("derived", squall.disallow())
    t = app.stream("t")

    @t.stage()
    def produce(ctx: squall.Ctx, r) -> None:
        ctx.append(derived, r)

    t.source(src, produce)
    h = Harness(app, 2, quiet=True)
    h.append("src", 1)
    (dl,) = h.dead_letters
    assert dl.error.kind == "rejected" and dl.error.message.startswith("EINVAL: ")


def test_large_effects_are_flushed_in_frames():
    app = make()
    d = app.depot("d")
    blobs = app.pstate("$$blobs", squall.map_of(squall.INT, squall.BYTES))
    t = app.stream("t")

    @t.stage()
    def run(ctx: squall.Ctx, n: int) -> None:
        for i in range(n):
            if squall.key_partition(i, ctx.partitions) == ctx.partition:
                ctx.transform(blobs, squall.key(i).set(bytes([i % 256]) * 30000))
        ctx.log("x" * 20000)  # logs are cut at 8 KiB
        ctx.emit(ctx.select(blobs, squall.path().map_keys()))

    t.source(d, run)
    h = Harness(app, 1, quiet=True)
    a = h.append("d", 40)
    assert a.ack_return("t") == list(range(40))
    assert h.select_one("$$blobs", squall.key(39)) == bytes([39]) * 30000
    assert len(h.logs) == 1 and len(h.logs[0].text) == 8192


@dataclasses.dataclass
class Click:
    user: str
    x: float = 0.0
    tags: list = dataclasses.field(default_factory=list)


def test_ctx_details_and_typed_input():
    app = make()
    d = app.depot("d", squall.hash_by(squall.key("user")))
    t = app.stream("t")
    got = []

    @t.stage()
    def run(ctx: squall.Ctx, c: Click) -> None:
        got.append((c, ctx.stage.name, ctx.depot.name, ctx.offset, ctx.attempt, ctx.partitions,
                    ctx.batch_time.year, ctx.event_time_ns <= ctx.batch_time_ns, ctx.random.random()))
        ctx.log(f"click by {c.user}", "warn")
        ctx.emit(dataclasses.replace(c, tags=["seen"]))

    t.source(d, run)
    h = Harness(app, 2, quiet=True)
    a = h.append("d", {"user": "ann", "x": 3})
    assert a.ack_return("t") == {"user": "ann", "x": 3.0, "tags": ["seen"]}
    (c, stage, depot, off, attempt, parts, year, ordered, rnd) = got[0]
    assert (c, stage, depot, off, attempt, parts, year, ordered) == (Click("ann", 3.0), "run", "d", 0, 0, 2, 2023, True)
    assert [(l.level, l.text, l.stage) for l in h.logs] == [("WARN", "click by ann", "run")]
    h.append("d", {"user": 5})
    h.append("d", [1])
    assert [(x.error.kind, x.error.message) for x in h.dead_letters] == [
        ("input", "squall: input: field 'user' of Click must be string, not int"),
        ("input", "squall: input: want a map for Click, got list"),
    ]


def test_ctx_after_its_stage():
    app = make()
    d = app.depot("d")
    t = app.stream("t")
    kept = []

    @t.stage()
    def run(ctx: squall.Ctx, v) -> None:
        if kept:
            kept[0].emit("late")
        kept.append(ctx)

    t.source(d, run)
    h = Harness(app, 1, quiet=True)
    h.append("d", 1)
    h.append("d", 2)
    assert "used after its stage returned" in h.dead_letters[0].error.message


def test_handles_of_another_module_or_topology():
    other = squall.Module("other")
    od = other.depot("od")
    app = make()
    d = app.depot("d")
    ps = app.pstate("$$p", squall.INT)
    t1, t2 = app.stream("t1"), app.stream("t2")

    @t2.stage(source=d)
    def elsewhere(ctx, v) -> None:
        pass

    @t1.stage()
    def run(ctx: squall.Ctx, v) -> None:
        {"hop": lambda: ctx.hop(elsewhere, 1, 1), "depot": lambda: ctx.append(od, 1),
         "path": lambda: ctx.transform(ps, squall.key("a")), "select": lambda: ctx.select(ps, squall.path().set(1))}[v]()

    t1.source(d, run)
    h = Harness(app, 1, quiet=True)
    for v in ("hop", "depot", "path", "select"):
        h.append("d", v)
    msgs = [x.error.message for x in h.dead_letters]
    assert msgs == [
        'squall: hop: stage "elsewhere" is not a stage of topology "t1"; a hop runs a stage of its own topology',
        'squall: depot "od" is not a depot of this module',
        "squall: path: a transform path must end with a terminal (set, remove, incr, append, prepend or merge)",
        "squall: path step 0 (set(1)): a select path cannot end with a terminal; terminals (set, remove, incr, append, prepend, merge) are for transforms",
    ]
    assert all(x.error.kind == "poison" for x in h.dead_letters)


def test_global_pstate():
    app = make()
    d = app.depot("d", squall.hash_by(squall.key("k")))
    total = app.pstate("$$total", squall.INT, is_global=True)
    t = app.stream("t")

    @t.stage()
    def run(ctx: squall.Ctx, r) -> None:
        ctx.hop_global(add, r["n"])

    @t.stage()
    def add(ctx: squall.Ctx, n: int) -> None:
        ctx.transform(total, squall.path().incr(n))

    t.source(d, run)
    h = Harness(app, 4, quiet=True)
    for i in range(10):
        h.append("d", {"k": f"k{i}", "n": i})
    assert h.select_one("$$total", squall.path()) == 45
    assert h.dead_letters == []


def test_definition_errors_at_once():
    app = squall.Module("bad name!")
    app.depot("d", squall.hash_by(squall.path().set(1)))
    app.depot("d")
    app.pstate("$$s", squall.set_of(squall.FLOAT))
    t = app.stream("t")
    t.source(squall.Module("x").depot("e"), None)
    with pytest.raises(HarnessError) as e:
        Harness(app, 2)
    msg = str(e.value)
    assert "squall_init failed (definition)" in msg
    for part in [
        'name: name "bad name!" has \' \' at byte 3',
        "depots[0].partitioner.key: path step 0 (set(1)): a select path cannot end with a terminal",
        'depots[1].name: duplicate depot name "d" (also depots[0])',
        "pstates[0].schema: the top level of a PState must be a map, a record or a leaf, not a set",
        'topologies[0].sources[0].depot: unknown depot "e"; declared depots: "d", "d"',
        'topologies[0].sources[0].stage: unknown stage ""; the topology declares no stages',
        "topologies[0].stages: a topology needs at least one stage",
    ]:
        assert part in msg, part
    with pytest.raises(squall.DefinitionError) as de:
        app.check()
    assert len(de.value.problems) == 7


def test_client_selects():
    app = make()
    d = app.depot("d", squall.hash_by(squall.key("k")))
    ps = app.pstate("$$p", squall.map_of(squall.STRING, squall.INT))
    t = app.stream("t")

    @t.stage()
    def run(ctx, r) -> None:
        ctx.transform(ps, squall.key(r["k"]).set(r["v"]))

    t.source(d, run)
    h = Harness(app, 4, quiet=True)
    for i in range(8):
        h.append("d", {"k": f"k{i}", "v": i})
    assert h.select_one("$$p", squall.key("k3")) == 3
    assert h.select_one("$$p", squall.key("nope")) is None
    assert h.select_one("$$p", squall.path().must_key("nope"), "d") == "d"
    with pytest.raises(HarnessError, match="names no partition"):
        h.select("$$p", squall.path().map_keys())
    keys = sorted(k for p in range(4) for k in h.select_partition("$$p", p, squall.path().map_keys()))
    assert keys == [f"k{i}" for i in range(8)]
    with pytest.raises(HarnessError, match='no PState "\\$\\$q"'):
        h.select("$$q", squall.key("a"))


def test_unresolvable_input_annotation():
    @dataclasses.dataclass
    class Local:
        a: int = 0

    app = make()
    d = app.depot("d")
    t = app.stream("t")

    @t.stage(source=d)
    def run(ctx, v: Local) -> None:  # a string under "from __future__ import annotations"
        pass

    with pytest.raises(squall.DefinitionError, match="cannot be resolved"):
        app.check()

    app2 = make()
    d2 = app2.depot("d")
    t2 = app2.stream("t")
    got = []

    @t2.stage(source=d2, input=Local)
    def run2(ctx, v) -> None:
        got.append(v)

    Harness(app2, 1, quiet=True).append("d", {"a": 4})
    assert got == [Local(4)]


def test_async_stage_is_a_definition_error():
    app = make()
    d = app.depot("d")
    t = app.stream("t")

    @t.stage(source=d)
    async def run(ctx, v) -> None:
        pass

    with pytest.raises(squall.DefinitionError, match="async function or a generator"):
        app.check()


def test_build_follows_later_declarations():
    app = make()
    app.depot("d")
    first = app.build()
    app.depot("e")
    assert app.build() != first


def test_unknown_log_level():
    app = make()
    d = app.depot("d")
    t = app.stream("t")

    @t.stage(source=d)
    def run(ctx, v) -> None:
        ctx.log("x", "loud")

    h = Harness(app, 1, quiet=True, max_attempts=1)
    h.append("d", 1)
    assert "unknown level 'loud'" in h.dead_letters[0].error.message
