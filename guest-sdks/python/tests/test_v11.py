"""ABI 1.1 through the SDK's API: definitions byte for byte against the
golden vectors, misuse reported at declaration, and the runtime's query
batches, results, invocations and microbatch numbers under squall.testing."""

import datetime

import pytest

import squall
from squall import Agg, key
from squall.testing import Harness

from golden import FRAMES, lines

MODULE_DEF = {v["name"]: v["hex"] for v in lines(FRAMES / "module_def.jsonl")}


def test_golden_bank_definition_from_the_api():
    m = squall.Module("bank")
    transfers = m.depot("transfers", squall.hash_by(key("from")))
    deposits = m.depot("deposits", squall.hash_by(key("account")))
    minute = m.tick_depot("minute", datetime.timedelta(minutes=1))
    bank = m.microbatch("bank", max_records=500, interval_ms=100)
    bank.pstate("accounts", squall.map_of(squall.STRING, squall.record_of(
        balance=squall.INT, history=squall.map_of(squall.INT, squall.ANY, subindexed=True))))
    m.pstate("stats", squall.map_of(squall.STRING, squall.ANY))
    noop = lambda ctx, v: None  # noqa: E731
    debit = bank.stage("debit")(noop)
    bank.stage("credit")(noop)
    deposit = bank.stage("deposit")(noop)
    tick = bank.stage("tick")(noop)
    bank.source(transfers, debit)
    bank.source(deposits, deposit, start_from="end")
    bank.source(minute, tick, start_from=12)
    audit = m.stream("audit")
    audit.source(transfers, audit.stage("log")(noop), start_from="end")
    account = m.query("account", "id", "limit")
    account.stage("start")(noop)
    account.stage("read")(noop)
    total = m.query("total")
    total.stage("fanout")(noop)
    total.stage("sum")(noop)
    assert m.uses_abi_1_1()
    assert m.build().hex() == MODULE_DEF["1.1 bank: tick depot, microbatch, owner, query"]


def test_a_1_0_module_uses_no_1_1_feature():
    m = squall.Module("plain")
    t = m.stream("t")
    t.stage("s", source=m.depot("d"))(lambda ctx, v: None)
    assert not m.uses_abi_1_1()
    assert "queries" not in m.definition()


def test_misuse_is_reported_at_build():
    m = squall.Module("bad")
    m.tick_depot("clock", 0)
    mb = m.microbatch("mb", max_records=0, interval_ms=-1)
    s = mb.stage("s")(lambda ctx, v: None)
    mb.source(m.depot("d"), s, start_from="middle")
    q = m.query("mb", "x", "x")
    q.stage("a", source=m.depots[1])(lambda ctx, v: None)
    with pytest.raises(squall.DefinitionError) as e:
        m.build()
    got = [f"{w}: {msg}" for w, msg in e.value.problems]
    assert got == [
        "depots[0].partitioner.millis: the tick period must be from 1 to 86400000 milliseconds, not 0",
        "queries[0].args[1]: duplicate argument name \"x\" (also queries[0].args[0])",
        "queries[0].name: query name \"mb\" is also a topology name; queries and topologies need distinct names",
        "queries[0].stages[0]: a query has no sources: its first stage runs when it is invoked",
        "topologies[0].interval_ms: must be from 0 to 3600000, not -1",
        "topologies[0].max_records: must be from 1 to 1000000, not 0",
        "topologies[0].sources[0].start_from: must be \"beginning\", \"end\" or an offset (an int >= 0), not \"middle\"",
    ]


def module():
    m = squall.Module("v11")
    ev = m.depot("ev", squall.hash_by(key("k")))
    mb = m.microbatch("mb", max_records=2)
    ids = mb.pstate("$$ids", squall.map_of(squall.STRING, squall.ANY))
    free = m.pstate("$$free", squall.map_of(squall.STRING, squall.ANY))
    stream = m.stream("st")
    q = m.query("q", "k")
    misuse = m.query("misuse", "what")

    @mb.stage(source=ev)
    def note(ctx, r):
        # batch_id is the microbatch number: the same on every partition.
        ctx.aggregate(ids, Agg.add_to_set(ctx.batch_id), r["k"], "batches")
        ctx.aggregate(ids, Agg.append_to_list(r["n"]), r["k"], "ns")
        if r.get("fail") and ctx.attempt < 2:
            raise squall.Retry("not yet")

    @stream.stage(source=ev)
    def bad_write(ctx, r):
        if r.get("steal"):
            ctx.transform(ids, key(r["k"]).set(1))  # owned by mb
        if r.get("result"):
            ctx.set_result(1)
        ctx.transform(free, key(r["k"]).set(ctx.invoke(q, r["k"])))

    @q.stage()
    def start(ctx, args):
        ctx.hop(read, args[0], args[0])

    @q.stage()
    def read(ctx, k):
        ctx.set_result(ctx.select_one(ids, key(k).key("ns")))
        ctx.aggregate_result(Agg.count(), "never")  # into a list: fails

    @misuse.stage()
    def go(ctx, args):
        if args[0] == "emit":
            ctx.emit(1)
        elif args[0] == "invoke":
            ctx.invoke(misuse)
        elif args[0] == "deep":
            ctx.invoke(misuse, "deep")
        else:
            ctx.set_result({"partition": ctx.partition, "origin": ctx.source_partition, "depot": ctx.depot})

    return m


def test_runtime_1_1_under_the_harness():
    h = Harness(module(), partitions=3, quiet=True, manual=True)
    for i in range(5):
        h.append("ev", {"k": "a" if i % 2 else "b", "n": i})
    h.run()
    # "b" has 3 records on its partition, "a" 2 on another: at most 2 of a
    # partition in each microbatch.
    assert h.microbatches("mb") == 2
    a = h.select_one("$$ids", key("a"))
    assert a["ns"] == [1, 3]
    # The failing query read: aggregate_result into a non-map result fails.
    with pytest.raises(squall.InvokeError, match=r"stage read on partition \d: .*COUNT") as e:
        h.invoke("q", "a")
    assert e.value.code_name == "EFAILED"
    # The stream topology ran first, when "$$ids" was empty: its invocations
    # got the result {"never": 1} (a nil result, counted into).
    assert h.pstate("$$free", h.key_partition("a")) == {"a": {"never": 1}}
    assert h.dead_letters == []
    assert h.invoke("misuse", "x") == {"partition": 0, "origin": 0, "depot": None}
    with pytest.raises(squall.InvokeError, match="has no ack return"):
        h.invoke("misuse", "emit")
    with pytest.raises(squall.InvokeError, match="EINVAL: query misuse takes 1 arguments"):
        h.invoke("misuse", "invoke")
    with pytest.raises(squall.InvokeError, match="nest deeper than 8"):
        h.invoke("misuse", "deep")


def test_a_retry_reruns_the_whole_microbatch():
    h = Harness(module(), partitions=2, quiet=True)
    h.append("ev", {"k": "a", "n": 7, "fail": True, "steal": True})
    # Attempts 0 and 1 retried; attempt 2 committed once: nothing doubled.
    assert h.select_one("$$ids", key("a")) == {"batches": {0}, "ns": [7]}
    assert h.stats.retries >= 2
    (dl,) = h.dead_letters
    assert dl.topology == "st" and "owned by topology \"mb\"" in dl.error.message


def test_set_result_outside_a_query_poisons():
    h = Harness(module(), partitions=2, quiet=True)
    h.append("ev", {"k": "b", "n": 1, "result": True})
    msgs = [d.error.message for d in h.dead_letters if d.topology == "st"]
    assert msgs and "only a query topology's stages have a result" in msgs[0]
