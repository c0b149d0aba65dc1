"""The Python conformance module under squall.testing: every behaviour runs
and gives what the Go module gives (the cross-language suite in
internal/conformance compares the three SDKs on the real host)."""

import math

import pytest

import squall
from squall.testing import Harness

import main


@pytest.fixture
def h() -> Harness:
    return Harness(main.app, 4, quiet=True, max_attempts=4)


VALUES = [
    None, True, False, 0, 127, 128, -33, 2**63 - 1, -(2**63), 1.5, -0.0, math.inf, -math.inf, "", "héllo",
    "x" * 70000, b"\x00\xff", [1, [2, [3]]], squall.FrozenMap([(1, "int"), ("1", "str"), (True, "bool"), (b"1", "bytes")]),
    squall.FrozenMap([(1, "a"), (1.0, "b"), (True, "c")]), {1, "a", None, (1, 2)}, list(range(40)),
    {f"k{i}": i for i in range(40)},
]


def test_values_round_trip(h):
    for i, v in enumerate(VALUES):
        a = h.append("values", {"name": f"v{i}", "value": v})
        assert squall.packb(a.ack_return("values")) == squall.packb(v), i
        assert squall.packb(h.select_one("$$values", squall.key(f"v{i}"))) == squall.packb(v), i
    nan = h.append("values", {"name": "nan", "value": math.nan})
    assert squall.packb(nan.ack_return("values")) == bytes.fromhex("cb7ff8000000000000")


def test_paths(h):
    assert h.append("paths", {"k": "p1", "op": "setup"}).ack_return("paths") == "ok"
    q = h.append("paths", {"k": "p1", "op": "query"}).ack_return("paths")
    assert q["d.key"] == [1]
    assert q["d.keyMissing"] == [None]
    assert q["d.mustKeyMissing"] == []
    assert q["d.all.m"] == [["a", 1], ["b", 2], ["c", 3], ["d", 4]]
    assert q["d.sortedRev.m"] == ["d", "c"]
    assert q["d.filter.ge"] == [5, 4]
    assert q["d.size.int"] == "error"
    assert q["d.count.n"] == [1]
    assert q["s.sorted"] == [{"b": 2, "c": 3, "d": 4}]
    assert q["s.sortedRev"] == [{"e": 5, "f": 6}]
    assert q["l.filter"] == [10, 20]
    assert q["t.filter"] == ["p", "r"]
    m = h.append("paths", {"k": "p1", "op": "mutate"}).ack_return("paths")
    assert m == ["ok"] * 25
    doc = h.select_one("$$docs", squall.key("p1"))
    assert doc["m"] == {"a": 1000, "c": 1003, "d": 1004, "z": 26}
    assert doc["l"] == ["head", 105, 1, 4, 2, 3, 106]
    assert doc["i"] == 2.0 and type(doc["i"]) is float
    assert doc["new"] == 42
    assert h.select("$$subl", squall.key("p1").all()) == [0, 10, 21, 30, 40, 50]
    assert h.select("$$subs", squall.key("p1").all()) == ["p", "r", "s2"]
    assert h.dead_letters == []


def test_hops(h):
    a = h.append("hops", {"k": "x", "n": 3})
    assert a.ack_return("hops") == a.partition
    seen = {}
    for p in range(4):
        seen.update(dict(h.select_partition("$$ran", p, squall.key("seen").all())))
    tags = sorted(s.split("/")[0] for s in seen)
    assert tags == sorted(["hash", "hashInt", "all", "all", "all", "all", "global", "shuffle", "direct", "originRecord", "origin"])
    assert "direct/3/3" in seen and "global/3/0" in seen
    assert f"originRecord/3/{a.partition}" in seen and f"origin/3/{a.partition}" in seen
    assert f"hash/3/{h.key_partition('x')}" in seen and f"hashInt/3/{h.key_partition(22)}" in seen


def test_failures(h):
    assert h.append("fails", {"k": "ok", "mode": ""}).ack_return("fails") == ["ok", 0]
    assert not h.append("fails", {"k": "p", "mode": "poison"}).has_ack_return("fails")
    assert h.append("fails", {"k": "r", "mode": "retry"}).ack_return("fails") == ["r", 1]
    assert not h.append("fails", {"k": "a", "mode": "always"}).has_ack_return("fails")
    assert not h.append("fails", {"k": "b", "mode": "badpath"}).has_ack_return("fails")
    got = [(d.stage, d.attempts, d.error.kind, d.error.message) for d in h.dead_letters]
    assert got == [
        ("fail", 1, "poison", "poisoned p"),
        ("fail", 4, "error", "permanent failure of a (after 4 attempts)"),
        ("fail", 1, "rejected", got[2][3]),
    ]
    assert got[2][3].startswith("EPATH: ") and "append applies to lists and sets" in got[2][3]
    assert "Traceback" in h.dead_letters[1].error.stack
    assert h.select_one("$$attempts", squall.key("r")) == 1
    assert h.select_one("$$attempts", squall.key("b")) is None


def test_read_your_writes(h):
    assert h.append("rw", {"k": "a"}).ack_return("rw") == {"n": 1, "seen": [1]}
    assert h.append("rw", {"k": "a"}).ack_return("rw") == {"n": 2, "seen": [1, 2]}
