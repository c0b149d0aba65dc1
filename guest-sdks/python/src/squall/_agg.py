"""Aggregators (ABI 1.1, abi/ABI.md §15.3): what ``ctx.aggregate`` and
``ctx.aggregate_result`` combine into an accumulator. The host implements
every aggregator; a guest only names one with its value."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing only for type checkers: every instance start imports this module
    from typing import Any

from . import _frames as F

__all__ = ["Agg"]


class Agg:
    """An aggregator with the value it combines. Build one with the class
    methods and pass it to :meth:`Ctx.aggregate <squall.Ctx.aggregate>`::

        ctx.aggregate(stats, squall.Agg.count(), outcome, "count")
        ctx.aggregate(stats, squall.Agg.sum(amount), outcome, "amount")
        ctx.aggregate(stats, squall.Agg.top_n(3, amount, transfer_id), outcome, "largest")

    The accumulator is the value at the key path (absent: None, which each
    aggregator treats as its empty value)."""

    __slots__ = ("code", "value", "n")

    def __init__(self, code: int, value: Any = None, n: int = 0) -> None:
        self.code = code
        self.value = value
        self.n = n

    @classmethod
    def count(cls) -> "Agg":
        """Add 1 (an absent accumulator counts as 0)."""
        return cls(F.AGG_COUNT)

    @classmethod
    def sum(cls, v: "int | float") -> "Agg":
        """Add ``v`` (an int or a float; int sums must not overflow int64)."""
        return cls(F.AGG_SUM, v)

    @classmethod
    def min(cls, v: Any) -> "Agg":
        """Keep the smaller of the accumulator and ``v`` (Squall's total
        order of values: ints sort before floats)."""
        return cls(F.AGG_MIN, v)

    @classmethod
    def max(cls, v: Any) -> "Agg":
        """Keep the larger of the accumulator and ``v``."""
        return cls(F.AGG_MAX, v)

    @classmethod
    def add_to_set(cls, v: Any) -> "Agg":
        """Add ``v`` (not a float) to the accumulator, a set."""
        return cls(F.AGG_SET, v)

    @classmethod
    def append_to_list(cls, v: Any) -> "Agg":
        """Append ``v`` to the accumulator, a list (order-dependent: in a
        microbatch, the order of the items)."""
        return cls(F.AGG_LIST, v)

    @classmethod
    def put_in_map(cls, k: Any, v: Any) -> "Agg":
        """Set key ``k`` (not a float) of the accumulator, a map, to ``v``."""
        return cls(F.AGG_MAP, [k, v])

    @classmethod
    def top_n(cls, n: int, score: Any, id: Any) -> "Agg":
        """Merge ``[score, id]`` into the accumulator, a list of the ``n``
        (1 to 10000) best ``[score, id]`` pairs: by score descending, ties
        by id ascending; an id keeps its highest score."""
        if type(n) is not int or not 1 <= n <= 10_000:
            raise ValueError(f"squall: Agg.top_n: n must be an int from 1 to 10000, not {n!r}")
        return cls(F.AGG_TOP_N, [score, id], n)

    def __repr__(self) -> str:
        name = F.AGG_NAMES.get(self.code, str(self.code)).lower()
        return f"Agg.{name}({self.value!r}{', n=' + str(self.n) if self.code == F.AGG_TOP_N else ''})"
