"""The Python version of the conformance module of ABI 1.1
(docs/conformance.md, behaviours (i) to (l)): a microbatch topology with
every aggregator, query topologies, a query invoked from a stream topology,
and a tick depot. Its twins in ../go and ../rust must behave identically,
byte for byte: same declarations in the same order, same paths."""

from __future__ import annotations

import squall
from squall import Agg, key, path

app = squall.Module("abi11")
events = app.depot("events", squall.hash_by(key("k")))
calls = app.depot("calls", squall.hash_by(key("k")))
clock = app.tick_depot("clock", 20)

# (i, j) microbatch: every record hops to the partition of its group and is
# aggregated there with every aggregator but LIST, whose order would depend
# on how the records fall into microbatches (the query "all" aggregates a
# LIST).
mb = app.microbatch("mb", max_records=3)
aggs = mb.pstate("$$aggs", squall.map_of(squall.STRING, squall.ANY))


@mb.stage()
def route(ctx: squall.Ctx, r: dict) -> None:
    ctx.hop(apply, r.get("g"), r)


@mb.stage()
def apply(ctx: squall.Ctx, r: dict) -> None:
    g, n, k = r.get("g"), r.get("n"), r.get("k")
    for agg, name in (
        (Agg.count(), "count"),
        (Agg.sum(n), "sum"),
        (Agg.min(n), "min"),
        (Agg.max(n), "max"),
        (Agg.add_to_set(k), "set"),
        (Agg.put_in_map(k, n), "map"),
        (Agg.top_n(2, n, k), "top"),
    ):
        ctx.aggregate(aggs, agg, g, name)


mb.source(events, route)

# (k) queries: one partition, every partition with a group-by result, and
# one invoking another.
group = app.query("group", "g")


@group.stage()
def start(ctx: squall.Ctx, args: list) -> None:
    ctx.hop(read, args[0], args[0])


@group.stage()
def read(ctx: squall.Ctx, g: str) -> None:
    ctx.set_result(ctx.select_one(aggs, key(g)))


every = app.query("all")


@every.stage()
def fanout(ctx: squall.Ctx, _: list) -> None:
    ctx.hop_all(each, None)


@every.stage()
def each(ctx: squall.Ctx, _: None) -> None:
    for g in ctx.select(aggs, path().map_keys()):
        c = ctx.select_one(aggs, key(g).key("count"))
        ctx.aggregate_result(Agg.sum(c), "total")
        ctx.aggregate_result(Agg.put_in_map(g, c), "groups")
        ctx.aggregate_result(Agg.add_to_set(ctx.partition), "partitions")
        # Partitions run in order, keys in order: a deterministic list.
        ctx.aggregate_result(Agg.append_to_list(g), "order")


both = app.query("both", "a", "b")


@both.stage()
def call(ctx: squall.Ctx, args: list) -> None:
    a = ctx.invoke(group, args[0])
    b = ctx.invoke(group, args[1])
    ctx.set_result([a.get("sum"), b.get("sum")])


# (k) a stream topology invokes a query and returns its result.
caller = app.stream("caller")
called = app.pstate("$$called", squall.map_of(squall.STRING, squall.ANY))


@caller.stage()
def ask(ctx: squall.Ctx, r: dict) -> None:
    v = ctx.invoke(group, r.get("g"))
    ctx.transform(called, key(r.get("k")).set(v.get("count")))
    ctx.emit(v.get("max"))


caller.source(calls, ask)

# (l) a tick depot: every tick is an int on partition 0, counted on every
# partition.
ticker = app.stream("ticker")
ticks = ticker.pstate("$$ticks", squall.INT)


@ticker.stage()
def tick(ctx: squall.Ctx, t: int) -> None:
    if type(t) is not int or ctx.partition != 0:
        raise squall.Poison(f"a tick is an int on partition 0, got {t!r} on {ctx.partition}")
    ctx.hop_all(count, None)


@ticker.stage()
def count(ctx: squall.Ctx, _: None) -> None:
    ctx.aggregate(ticks, Agg.count())


ticker.source(clock, tick)
