"""The codec against every golden vector of abi/testdata."""

import math
import random

import pytest

from squall._codec import DecodeError, EncodeError, FrozenMap, ValueSet, packb, unpackb

from golden import TESTDATA, lines, value

VALUES = lines(TESTDATA / "values.jsonl")
NONCANONICAL = lines(TESTDATA / "noncanonical.jsonl")
INVALID = lines(TESTDATA / "invalid.jsonl")


def same(a, b) -> bool:
    """Equal as Squall values: by canonical encoding (floats by bits, NaN
    included; int, float and bool distinct)."""
    return packb(a) == packb(b) and type(a) is type(b) or _deep(a, b)


def _deep(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_deep(x, y) for x, y in zip(a, b))
    return packb(a) == packb(b)


@pytest.mark.parametrize("v", VALUES, ids=[v["name"] for v in VALUES])
def test_values(v):
    want = bytes.fromhex(v["hex"])
    py = value(v["value"])
    assert packb(py) == want
    got = unpackb(want)
    assert packb(got) == want
    assert _deep(got, py) or packb(got) == packb(py)
    # Entry and element order never changes the encoding.
    typed = v["value"]
    if "map" in typed or "set" in typed:
        k = "map" if "map" in typed else "set"
        shuffled = dict(typed)
        items = list(typed[k])
        random.Random(1).shuffle(items)
        shuffled[k] = items
        assert packb(value(shuffled)) == want


@pytest.mark.parametrize("v", NONCANONICAL, ids=[v["name"] for v in NONCANONICAL])
def test_noncanonical(v):
    got = unpackb(bytes.fromhex(v["input"]))
    assert packb(got) == bytes.fromhex(v["hex"])
    assert packb(value(v["value"])) == bytes.fromhex(v["hex"])


@pytest.mark.parametrize("v", INVALID, ids=[v["name"] for v in INVALID])
def test_invalid(v):
    with pytest.raises(DecodeError) as e:
        unpackb(bytes.fromhex(v["hex"]))
    assert e.value.reason == v["reason"], str(e.value)


def test_python_equal_keys_stay_distinct():
    # 1, 1.0 and True are one dict key in Python but three Squall values.
    b = packb(FrozenMap([(1, "int"), (1.0, "float"), (True, "bool")]))
    m = unpackb(b)
    assert isinstance(m, FrozenMap) and len(m) == 3
    assert m[1.0] == "float" and m[True] == "bool" and m[1] == "int"
    assert packb(m) == b
    s = unpackb(packb(ValueSet([0, 0.0, -0.0, False])))
    assert isinstance(s, ValueSet) and len(s.values) == 4


def test_hashable_containers():
    v = unpackb(packb({(1, 2): {frozenset({"a"}): [1]}, FrozenMap({"k": 1}): None}))
    assert v[(1, 2)] == {frozenset({"a"}): [1]}
    assert v[FrozenMap({"k": 1})] is None


@pytest.mark.parametrize(
    "bad, msg",
    [
        (1 << 63, "out of the 64-bit signed range"),
        (-(1 << 63) - 1, "out of the 64-bit signed range"),
        ("\ud800", "lone surrogate"),
        (object(), "is not a Squall value"),
        ({"a": [object()]}, "at $['a'][0]"),
        ([1, {"k": {2: "\ud800"}}], "at $[1]['k'][2]"),
    ],
)
def test_encode_errors(bad, msg):  # noqa: D103
    with pytest.raises(EncodeError) as e:
        packb(bad)
    assert msg in str(e.value)


def test_depth_limit():
    v: list = []
    for _ in range(127):
        v = [v]
    packb(v)  # 128 deep
    with pytest.raises(EncodeError):
        packb([v])


def test_squall_protocol():
    class Point:
        def __squall__(self):
            return {"x": 1}

    assert packb(Point()) == packb({"x": 1})
