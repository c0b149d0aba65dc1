"""The harness's aggregators against abi/testdata/frames/aggregate.jsonl
(the host's abi.AggregateAt)."""

import pytest

from squall.testing import _engine as E
from squall.testing._aggregate import AggregateError, aggregate_at

from golden import FRAMES, lines, value

AGGREGATE = lines(FRAMES / "aggregate.jsonl")


@pytest.mark.parametrize("v", AGGREGATE, ids=[v["name"] for v in AGGREGATE])
def test_aggregate(v):
    cur = E.internal(value(v["current"]))
    keys = [E.internal(k) for k in value(v["keys"])]
    x = E.internal(value(v["value"]))
    if v.get("error"):
        with pytest.raises(AggregateError):
            aggregate_at(cur, keys, v["code"], x, v.get("n", 0))
        return
    got = aggregate_at(cur, keys, v["code"], x, v.get("n", 0))
    assert E.enc(got) == E.enc(E.internal(value(v["result"])))
