"""The ABI 1.1 conformance module run natively with squall.testing: the
same expectations as internal/conformance/abi11_test.go."""

import pytest

import squall
from squall.testing import Harness

import main


@pytest.fixture
def h() -> Harness:
    h = Harness(main, partitions=4, quiet=True)
    groups = ["a", "b", "c"]
    for i in range(10):
        h.append("events", {"k": f"k{i}", "g": groups[i % 3], "n": i * 7 % 10})
    return h


def test_microbatch_aggregates(h):
    a = h.invoke("group", "a")
    # Group a: k0 (n 0), k3 (1), k6 (2), k9 (3).
    assert a["count"] == 4 and a["sum"] == 6 and a["min"] == 0 and a["max"] == 3
    assert a["set"] == {"k0", "k3", "k6", "k9"}
    assert a["map"] == {"k0": 0, "k3": 1, "k6": 2, "k9": 3}
    assert a["top"] == [[3, "k9"], [2, "k6"]]
    assert h.invoke("group", "nobody") is None
    assert h.microbatches("mb") == 10


def test_queries_over_every_partition_and_nested(h):
    every = h.invoke("all")
    assert every["total"] == 10
    assert every["groups"] == {"a": 4, "b": 3, "c": 3}
    assert every["partitions"] == {h.key_partition(g) for g in "abc"}
    assert sorted(every["order"]) == ["a", "b", "c"]
    assert h.invoke("both", "a", "c") == [6, h.invoke("group", "c")["sum"]]
    with pytest.raises(squall.InvokeError, match=r"query group takes 1 arguments \(g\); got 0") as e:
        h.invoke("group")
    assert e.value.code_name == "EINVAL"


def test_a_stream_topology_invokes_a_query(h):
    r = h.append("calls", {"k": "c1", "g": "b"})
    b = h.invoke("group", "b")
    assert r.ack_return("caller") == b["max"]
    assert h.select_one("$$called", squall.key("c1")) == b["count"]


def test_ticks_count_on_every_partition(h):
    for t in range(3):
        h.tick("clock", 1_700_000_000_000 + t * 20)
    assert [h.select_partition("$$ticks", p, squall.path()) for p in range(4)] == [[3]] * 4
    assert h.dead_letters == []


def test_a_microbatch_topology_writes_only_its_pstates():
    app = squall.Module("owners")
    d = app.depot("d")
    free = app.pstate("$$free", squall.map_of(squall.STRING, squall.INT))
    mb = app.microbatch("mb")

    @mb.stage(source=d)
    def write(ctx, r):
        ctx.aggregate(free, squall.Agg.count(), r)

    h = Harness(app, partitions=1, quiet=True)
    h.append("d", "x")
    (dl,) = h.dead_letters
    assert "may write only the PStates it owns" in dl.error.message
    assert h.select_partition("$$free", 0, squall.path()) == [None]


def test_a_query_is_read_only():
    app = squall.Module("ro")
    ps = app.pstate("$$p", squall.map_of(squall.STRING, squall.INT))
    app.stream("s").stage("noop", source=app.depot("d"))(lambda ctx, r: None)
    q = app.query("q")

    @q.stage()
    def write(ctx, args):
        ctx.transform(ps, squall.key("x").set(1))

    h = Harness(app, partitions=2, quiet=True)
    with pytest.raises(squall.InvokeError, match="read-only") as e:
        h.invoke("q")
    assert e.value.code_name == "EFAILED"
