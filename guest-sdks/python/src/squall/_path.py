"""Paths: how stages read and write PStates (abi/ABI.md §4.4, docs/paths.md)."""

from __future__ import annotations

# typing is imported by type checkers only: annotations are strings here
# (PEP 563), and every instance start imports this module.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable

from ._codec import EncodeError, packb
from ._frames import type_name
from ._text import value_text

__all__ = ["Path", "PathError", "path", "key", "parse_path", "SELECT", "TRANSFORM"]

KEY, MUST_KEY, MAP_VALS, ALL, FIRST, LAST, NTH, SORTED_RANGE = 1, 2, 3, 4, 5, 6, 7, 8
FILTER, NIL_TO_VAL, VIEW, MAP_KEYS = 9, 10, 11, 12
SET, INCR, APPEND, PREPEND, REMOVE, MERGE = 32, 33, 34, 35, 36, 37

OP_NAMES = {
    KEY: "key", MUST_KEY: "mustKey", MAP_VALS: "mapVals", ALL: "all", FIRST: "first", LAST: "last",
    NTH: "nth", SORTED_RANGE: "sortedRange", FILTER: "filter", NIL_TO_VAL: "nilToVal", VIEW: "view",
    MAP_KEYS: "mapKeys", SET: "set", INCR: "incr", APPEND: "append", PREPEND: "prepend",
    REMOVE: "remove", MERGE: "merge",
}
FILTER_OPS = ("eq", "ne", "lt", "le", "gt", "ge")
VIEW_FNS = ("size", "count")

SELECT = "select"
TRANSFORM = "transform"


class PathError(ValueError):
    """A malformed path: an argument that is not a value, an unknown filter
    or view, a terminal in a select path or not at the end of a transform
    path. ``step`` is the index of the step at fault, -1 for the whole."""

    def __init__(self, step: int, msg: str, nav: str = "") -> None:
        s = "squall: path"
        if step >= 0:
            s += f" step {step}"
            if nav:
                s += f" ({nav})"
        super().__init__(f"{s}: {msg}")
        self.step = step
        self.msg = msg
        self.nav = nav


def _step_text(s: list) -> str:
    op = s[0]
    name = OP_NAMES.get(op, f"op({op})")
    a = s[1:]
    if op == SORTED_RANGE:
        parts = ["open" if x is None else value_text(x) for x in a[:2]]
        if len(a) > 2 and isinstance(a[2], dict):
            o = a[2]
            if o.get("excludeFrom"):
                parts.append("excludeFrom")
            if o.get("includeTo"):
                parts.append("includeTo")
            if o.get("limit"):
                parts.append(f"limit={o['limit']}")
            if o.get("reverse"):
                parts.append("reverse")
        inner = ", ".join(parts)
    elif op in (FILTER, VIEW):
        inner = ", ".join([str(a[0])] + [value_text(x) for x in a[1:]]) if a else ""
    else:
        inner = ", ".join(value_text(x) for x in a)
    return f"{name}({inner})"


class Path:
    """An immutable path: navigators, then (for a transform) one terminal.

    Build paths with :func:`path` or :func:`key` and chain the methods; each
    returns a new Path, so a prefix can be extended several ways::

        squall.path().key("alice").sorted_range(10, 20).view("count")
        squall.key("alice").key("visits").incr(1)

    Arguments are Squall values (None, bool, int, float, str, bytes, lists,
    dicts, sets). Paths run in the host, next to the data.
    """

    __slots__ = ("_steps", "_err", "_enc", "_encs", "_state")

    def __init__(self, steps: tuple = (), err: PathError | None = None) -> None:
        self._steps = steps
        self._err = err
        self._enc: bytes | None = None
        # The encoding of each step, computed as the path is built (None
        # when a step's arguments do not encode), and what the steps allow
        # (_NEXT): what Ctx.transform and Ctx.select check on every call
        # without walking the steps.
        self._encs: tuple = tuple(_step_enc(s) for s in steps)
        state = _SELECTABLE
        for s in steps:
            state = _NEXT[state][_step_class(s[0])]
        self._state = state

    def _with(self, step: list, err: PathError | None = None) -> "Path":
        p = _new_path(Path)
        p._steps = self._steps + (step,)
        p._err = self._err or err
        p._enc = None
        p._encs = self._encs + (_step_enc(step),)
        op = step[0]
        p._state = _NEXT[self._state][2 if op >= 32 else 1 if op == VIEW else 0]
        return p

    def _transform_ok(self) -> bool:
        """Valid for a transform: one terminal, last, no view, no error."""
        return self._state == _TRANSFORMABLE and self._err is None

    def _select_ok(self) -> bool:
        return self._state <= _SELECTABLE_VIEW and self._err is None

    def _arg(self, x: Any, what: str) -> tuple[Any, PathError | None]:
        t = type(x)
        if t is str or t is int or x is None:
            return x, None  # checked when the path is encoded
        try:
            packb(x)
        except (EncodeError, TypeError) as e:
            return None, PathError(len(self._steps), str(e).removeprefix("squall: "), what)
        return x, None

    # -- navigators

    def key(self, k: Any) -> "Path":
        """Navigate to the value under map key (or record field) ``k``: None
        when absent, created by transforms. On a set, the element ``k`` when
        present."""
        v, e = self._arg(k, "key")
        return self._with([KEY, v], e)

    def must_key(self, k: Any) -> "Path":
        """Like :meth:`key`, but navigate nowhere when ``k`` is absent."""
        v, e = self._arg(k, "mustKey")
        return self._with([MUST_KEY, v], e)

    def map_vals(self) -> "Path":
        """Navigate to every value of a map."""
        return self._with([MAP_VALS])

    def map_keys(self) -> "Path":
        """Navigate to every key of a map."""
        return self._with([MAP_KEYS])

    def all(self) -> "Path":
        """Navigate to every item of a list, element of a set, or entry of a
        map as a ``[key, value]`` list."""
        return self._with([ALL])

    def first(self) -> "Path":
        """Navigate to the first item, element or entry."""
        return self._with([FIRST])

    def last(self) -> "Path":
        """Navigate to the last item, element or entry."""
        return self._with([LAST])

    def nth(self, i: int) -> "Path":
        """Navigate to list item ``i``; negative ``i`` counts from the end."""
        if type(i) is not int:
            return self._with([NTH, 0], PathError(len(self._steps), f"nth needs an int index, not {type(i).__name__}", "nth"))
        return self._with([NTH, i])

    def sorted_range(self, start: Any = None, end: Any = None, *, exclude_from: bool = False,
                     include_to: bool = False, limit: int = 0, reverse: bool = False) -> "Path":
        """Navigate to the sub-map (or sub-set) of the keys from ``start``
        (inclusive) to ``end`` (exclusive) in Squall's value order; None is
        an open bound. ``limit`` keeps the first ``limit`` keys (the last
        ones with ``reverse``, which also walks the range backwards)."""
        f, e1 = self._arg(start, "sortedRange from")
        t, e2 = self._arg(end, "sortedRange to")
        err = e1 or e2
        if type(limit) is not int or limit < 0:
            err = err or PathError(len(self._steps), f"limit must be 0 (no limit) or positive, not {limit!r}", "sortedRange")
            limit = 0
        opts: dict = {}
        if exclude_from:
            opts["excludeFrom"] = True
        if include_to:
            opts["includeTo"] = True
        if limit:
            opts["limit"] = limit
        if reverse:
            opts["reverse"] = True
        return self._with([SORTED_RANGE, f, t, opts] if opts else [SORTED_RANGE, f, t], err)

    def filter(self, op: str, value: Any) -> "Path":
        """Stay at the current value when comparing it with ``value`` by
        ``op`` ("eq", "ne", "lt", "le", "gt", "ge") is true; navigate nowhere
        otherwise. Ordered comparisons match numbers with numbers and values
        of the same kind."""
        err = None
        if op not in FILTER_OPS:
            err = PathError(len(self._steps), f"unknown filter comparison {op!r}; use \"eq\", \"ne\", \"lt\", \"le\", \"gt\" or \"ge\"", "filter")
        v, e = self._arg(value, "filter")
        return self._with([FILTER, op, v], err or e)

    def filter_exists(self) -> "Path":
        """Stay at the current value when it is not None."""
        return self._with([FILTER, "exists"])

    def nil_to_val(self, value: Any) -> "Path":
        """Navigate to ``value`` when the current value is None, and stay
        otherwise: ``key(k).nil_to_val(0).incr(1)`` counts from 0."""
        v, e = self._arg(value, "nilToVal")
        return self._with([NIL_TO_VAL, v], e)

    def view(self, fn: str) -> "Path":
        """Navigate to ``fn`` of the current value (select paths only):
        "size" (entries of a map, set or list; 0 for None) or "count" (like
        size, and 1 for any other value)."""
        err = None
        if fn not in VIEW_FNS:
            err = PathError(len(self._steps), f"unknown view function {fn!r}; use \"size\" or \"count\"", "view")
        return self._with([VIEW, fn], err)

    # -- terminals

    def set(self, value: Any) -> "Path":
        """Terminal: replace the value. Setting None removes a map entry."""
        v, e = self._arg(value, "set")
        return self._with([SET, v], e)

    def incr(self, n: int | float = 1) -> "Path":
        """Terminal: add ``n`` to a number (None counts as 0); a float
        ``n`` makes the result a float."""
        if type(n) not in (int, float):
            return self._with([INCR, 0], PathError(len(self._steps), f"incr needs an int or float amount, not {type_name(n)}", "incr"))
        v, e = self._arg(n, "incr")
        return self._with([INCR, v], e)

    def append(self, *values: Any) -> "Path":
        """Terminal: add ``values`` at the end of a list, or to a set."""
        err = None
        for x in values:
            _, e = self._arg(x, "append")
            err = err or e
        return self._with([APPEND, *values], err)

    def prepend(self, *values: Any) -> "Path":
        """Terminal: add ``values``, in order, at the start of a list."""
        err = None
        for x in values:
            _, e = self._arg(x, "prepend")
            err = err or e
        return self._with([PREPEND, *values], err)

    def remove(self) -> "Path":
        """Terminal: remove the navigated entry, element or item."""
        return self._with([REMOVE])

    def merge(self, m: Any) -> "Path":
        """Terminal: set every entry of the map ``m`` into the current map
        (None values remove keys)."""
        v, e = self._arg(m, "merge")
        if e is None and m is not None and not hasattr(m, "items"):
            e = PathError(len(self._steps), f"merge needs a map, not {type_name(m)}", "merge")
        return self._with([MERGE, v], e)

    # -- use

    @property
    def error(self) -> PathError | None:
        """The first error met while building the path, or None."""
        return self._err

    def __len__(self) -> int:
        return len(self._steps)

    def value(self) -> list:
        """The ABI form of the path: a list of ``[opcode, args...]`` steps.
        Raises the path's :class:`PathError` if it has one."""
        if self._err is not None:
            raise self._err
        return [list(s) for s in self._steps]

    def encoded(self) -> bytes:
        """The canonical MessagePack of :meth:`value` (cached)."""
        if self._enc is None:
            if self._err is not None:
                raise self._err
            encs = self._encs
            if None in encs:
                try:
                    packb(self._steps)
                except EncodeError as e:
                    raise PathError(-1, str(e).removeprefix("squall: ")) from None
            n = len(encs)
            head = bytes([0x90 | n]) if n <= 15 else b"\xdc" + n.to_bytes(2, "big")
            self._enc = head + b"".join(encs)
        return self._enc

    def validate(self, mode: str) -> None:
        """Check the path for use in ``mode`` (:data:`SELECT` or
        :data:`TRANSFORM`) as the host does; raise :class:`PathError`."""
        if self._err is not None:
            raise self._err
        n = len(self._steps)
        for i, s in enumerate(self._steps):
            op = s[0]
            if op >= 32:
                if mode == SELECT:
                    raise PathError(i, "a select path cannot end with a terminal; terminals (set, remove, incr, append, prepend, merge) are for transforms", _step_text(s))
                if i != n - 1:
                    raise PathError(i, f"a terminal must be the last step of a path; {n - 1 - i} step(s) follow it", _step_text(s))
            if op == VIEW and mode == TRANSFORM:
                raise PathError(i, "view is read-only and cannot appear in a transform; select the value, compute, then transform", _step_text(s))
        if mode == TRANSFORM and (n == 0 or self._steps[-1][0] < 32):
            raise PathError(-1, "a transform path must end with a terminal (set, remove, incr, append, prepend or merge)")

    def __str__(self) -> str:
        return ".".join(_step_text(s) for s in self._steps)

    def __repr__(self) -> str:
        return f"Path({self})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Path):
            return NotImplemented
        try:
            return packb(self._steps) == packb(other._steps)
        except EncodeError:
            return self is other

    def __hash__(self) -> int:
        return hash(packb(self._steps))


# What a path's steps allow, updated step by step: navigators only (a
# select path), navigators with a view (select only), navigators then one
# terminal (a transform path), or neither.
_SELECTABLE, _SELECTABLE_VIEW, _TRANSFORMABLE, _NEITHER = 0, 1, 2, 3
# _NEXT[state][class]: class 0 a navigator, 1 a view, 2 a terminal.
_NEXT = (
    (_SELECTABLE, _SELECTABLE_VIEW, _TRANSFORMABLE),
    (_SELECTABLE_VIEW, _SELECTABLE_VIEW, _NEITHER),
    (_NEITHER, _NEITHER, _NEITHER),
    (_NEITHER, _NEITHER, _NEITHER),
)
_new_path = object.__new__


def _step_class(op: int) -> int:
    return 2 if op >= 32 else 1 if op == VIEW else 0


def _step_enc(step: list) -> bytes | None:
    """The canonical encoding of one step, or None when an argument has
    none (the error surfaces when the path is used)."""
    n = len(step)
    if n == 2:
        try:
            return _STEP2[step[0]] + packb(step[1])
        except (EncodeError, TypeError, KeyError):
            return None
    try:
        return packb(step)
    except (EncodeError, TypeError):
        return None


# [op, arg] headers: fixarray of 2, then the opcode (a positive fixint).
_STEP2 = {op: bytes([0x92, op]) for op in OP_NAMES}

_EMPTY = Path()


def path() -> Path:
    """The empty path, which navigates to the root. Extend it with the
    methods of :class:`Path`."""
    return _EMPTY


def key(k: Any) -> Path:
    """A path of one key step: ``path().key(k)``."""
    return _EMPTY.key(k)


def parse_path(v: Any) -> Path:
    """Read the ABI form of a path (a list of steps), checking each step's
    opcode and arguments (not where terminals appear: see
    :meth:`Path.validate`)."""
    if not isinstance(v, (list, tuple)):
        raise PathError(-1, f"a path is a list of steps, not {type_name(v)}")
    steps = []
    for i, s in enumerate(v):
        if not isinstance(s, (list, tuple)) or not s:
            raise PathError(i, f"a step is a non-empty list [opcode, args...], not {value_text(s)}")
        op = s[0]
        if type(op) is not int:
            raise PathError(i, f"the opcode must be an int, not {type_name(op)}")
        if op not in OP_NAMES:
            raise PathError(i, f"unknown opcode {op}")
        args = list(s[1:])
        name = OP_NAMES[op]

        def want(*counts: int) -> None:
            if len(args) not in counts:
                raise PathError(i, f"{name} takes {' or '.join(map(str, counts))} argument(s), got {len(args)}")

        if op in (KEY, MUST_KEY, NIL_TO_VAL, SET, INCR, MERGE):
            want(1)
            a = args[0]
            if op == INCR and type(a) not in (int, float):
                raise PathError(i, f"incr needs an int or float amount, not {type_name(a)}")
            if op == MERGE and a is not None and not hasattr(a, "items"):
                raise PathError(i, f"merge needs a map, not {type_name(a)}")
        elif op in (MAP_VALS, MAP_KEYS, ALL, FIRST, LAST, REMOVE):
            want(0)
        elif op == NTH:
            want(1)
            if type(args[0]) is not int:
                raise PathError(i, f"nth needs an int index, not {type_name(args[0])}")
        elif op == SORTED_RANGE:
            want(2, 3)
            if len(args) == 3:
                o = args[2]
                if not hasattr(o, "items"):
                    raise PathError(i, f"sortedRange options must be a map, not {type_name(o)}")
                for k, x in o.items():
                    if k in ("excludeFrom", "includeTo", "reverse"):
                        if type(x) is not bool:
                            raise PathError(i, f"sortedRange option {k} must be a bool, not {type_name(x)}")
                    elif k == "limit":
                        if type(x) is not int or x < 0 or x > 2147483647:
                            raise PathError(i, f"sortedRange option limit must be an int from 0 to 2147483647, not {value_text(x)}")
                    else:
                        raise PathError(i, f"unknown sortedRange option {value_text(k)}; use \"excludeFrom\", \"includeTo\", \"limit\" or \"reverse\"")
                args[2] = dict(o)
        elif op == FILTER:
            if not args:
                want(1, 2)
            f = args[0]
            if f not in FILTER_OPS and f != "exists":
                raise PathError(i, f"unknown filter comparison {value_text(f)}; use \"eq\", \"ne\", \"lt\", \"le\", \"gt\", \"ge\" or \"exists\"")
            if f == "exists" and len(args) != 1:
                raise PathError(i, "filter exists takes no operand")
            if f != "exists" and len(args) != 2:
                raise PathError(i, f"filter {f} takes an operand: [9, \"{f}\", v]")
        elif op == VIEW:
            want(1)
            if args[0] not in VIEW_FNS:
                raise PathError(i, f"unknown view function {value_text(args[0])}; use \"size\" or \"count\"")
        steps.append([op, *args])
    return Path(tuple(steps))


def steps_of(p: Path) -> tuple:
    """The steps of a path (for the test harness's engine)."""
    return p._steps


def step_text(s: Iterable) -> str:
    return _step_text(list(s))
