"""The aggregators of ABI 1.1 (abi/ABI.md §15.3) on the harness's internal
values, as the host's ``abi.Aggregate`` and ``abi.AggregateAt`` apply them
(abi/testdata/frames/aggregate.jsonl checks them)."""

from __future__ import annotations

from typing import Any

from .. import _frames as F
from . import _engine as E

MAX_TOP_N = 10_000
_INT_MIN, _INT_MAX = -(1 << 63), (1 << 63) - 1


class AggregateError(ValueError):
    """A value or an accumulator an aggregator cannot combine (the host
    rejects the effect with EINVAL)."""


def _name(code: int) -> str:
    return F.AGG_NAMES.get(code, f"aggregator({code})")


def check_value(code: int, v: Any, n: int) -> None:
    """Check the shape of the value (and n for TOP_N), whatever the
    accumulator."""
    name = _name(code)
    k = E.kind(v)
    if code == F.AGG_COUNT:
        if v is not None:
            raise AggregateError(f"{name}: the value must be nil, not {k}")
    elif code == F.AGG_SUM:
        if k not in ("int", "float"):
            raise AggregateError(f"{name}: the value must be an int or a float, not {k}")
    elif code == F.AGG_SET:
        if k == "float":
            raise AggregateError(f"{name}: set elements cannot be floats")
    elif code == F.AGG_MAP:
        if k != "list" or len(v) != 2:
            raise AggregateError(f"{name}: the value must be a [key, value] pair, not {E.text(v)}")
        if E.kind(v[0]) == "float":
            raise AggregateError(f"{name}: map keys cannot be floats")
    elif code == F.AGG_TOP_N:
        if k != "list" or len(v) != 2:
            raise AggregateError(f"{name}: the value must be a [score, id] pair, not {E.text(v)}")
        if not 1 <= n <= MAX_TOP_N:
            raise AggregateError(f"{name}: n is {n}; it must be from 1 to {MAX_TOP_N}")
    elif code not in (F.AGG_MIN, F.AGG_MAX, F.AGG_LIST):
        raise AggregateError(f"{name}: unknown aggregator; use 1 (COUNT) to 8 (TOP_N)")


def aggregate(code: int, cur: Any, v: Any, n: int = 0) -> Any:
    """Combine ``v`` into the accumulator ``cur`` (None when absent) and
    return the new accumulator."""
    check_value(code, v, n)
    name = _name(code)
    ck = E.kind(cur)

    def wrong(want: str) -> AggregateError:
        return AggregateError(f"{name}: the current value is {ck} {E.text(cur)}; {name} needs {want}")

    if code in (F.AGG_COUNT, F.AGG_SUM):
        if code == F.AGG_COUNT:
            v = 1
        if cur is None:
            cur = 0
        if type(cur) is int and type(v) is int:
            s = cur + v
            if not _INT_MIN <= s <= _INT_MAX:
                raise AggregateError(f"{name}: the sum {cur} + {v} overflows int64")
            return s
        if type(cur) not in (int, float):
            raise wrong("a number")
        return float(cur) + float(v)
    if code in (F.AGG_MIN, F.AGG_MAX):
        if cur is None:
            return v
        c = E.compare(v, cur)
        return v if (code == F.AGG_MIN and c < 0) or (code == F.AGG_MAX and c > 0) else cur
    if code == F.AGG_SET:
        if cur is None:
            return E.S([v])
        if ck != "set":
            raise wrong("a set")
        return E.S(list(cur.items()) + [v])
    if code == F.AGG_LIST:
        if cur is None:
            return [v]
        if ck != "list":
            raise wrong("a list")
        return list(cur) + [v]
    if code == F.AGG_MAP:
        if cur is None:
            return E.M([(v[0], v[1])])
        if ck != "map":
            raise wrong("a map")
        return E.M(list(cur.entries()) + [(v[0], v[1])])
    # TOP_N
    if cur is None:
        pairs: list = []
    elif ck != "list":
        raise wrong("a list of [score, id] pairs")
    else:
        pairs = list(cur)
    found = False
    for i, p in enumerate(pairs):
        if E.kind(p) != "list" or len(p) != 2:
            raise wrong("a list of [score, id] pairs")
        if E.equal(p[1], v[1]):
            found = True
            if E.compare(v[0], p[0]) > 0:
                pairs[i] = v
    if not found:
        pairs.append(v)
    import functools

    pairs.sort(key=functools.cmp_to_key(lambda a, b: E.compare(b[0], a[0]) or E.compare(a[1], b[1])))
    return pairs[:n]


def aggregate_at(acc: Any, keys: list, code: int, v: Any, n: int = 0) -> Any:
    """Combine ``v`` into ``acc`` at the key path ``keys``, creating maps
    where keys are absent."""
    if not keys:
        return aggregate(code, acc, v, n)
    child = None
    if acc is not None:
        if E.kind(acc) != "map":
            raise AggregateError(f"{_name(code)}: the key path navigates into {E.kind(acc)} {E.text(acc)}; only maps have keys")
        child, _ = acc.get(keys[0])
    nv = aggregate_at(child, keys[1:], code, v, n)
    return E.M((list(acc.entries()) if acc is not None else []) + [(keys[0], nv)])
