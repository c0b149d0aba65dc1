"""The guest runtime: what squall_init and squall_process do (abi/ABI.md §13).

It talks to the host only through a host object with three methods, so the
same code runs behind the wasm exports (``squall._wasm``, over the built-in
``_squall`` module) and under ``squall.testing``'s in-memory host:

- ``flush(frame: bytes) -> int``: the ``flush`` import's result;
- ``query(frame: bytes) -> bytes``: the whole response frame (the host
  object handles parking and ``take``); raises an exception whose
  ``args[0]`` is the negative errno when the import fails;
- ``take() -> bytes``: the parked rejection list after a flush returned
  n > 0; raises like ``query``.
"""

from __future__ import annotations

import struct

from . import _frames as F
from ._codec import DecodeError, EncodeError, packb, unpackb
from ._errors import (
    HostFailure, InputError, InvokeError, NotFound, Poison, QueryError, RejectedError, classify, message_of,
)
from ._agg import Agg
from ._module import Depot, Module, PState, Query, Stage
from ._path import Path, PathError, SELECT, TRANSFORM
from ._text import quote

# typing, datetime and random are imported by type checkers, or when used:
# every instance start imports this module.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import datetime
    import random as _random
    from typing import Any

FLUSH_AT = 64 << 10

_eff_hdr = struct.Struct("<IBBHI").pack
_u32 = struct.Struct("<I").pack
_frame_hdr = struct.Struct("<BBHI").pack
_query_hdr = struct.Struct("<IBBH").pack

LOG_LEVELS = {"debug": F.LOG_DEBUG, "info": F.LOG_INFO, "warn": F.LOG_WARN, "warning": F.LOG_WARN, "error": F.LOG_ERROR}

# Ack levels of ctx.append.
NO_ACK = F.ACK_NONE
APPEND_ACK = F.ACK_APPEND
ACK = F.ACK_FULL


def host_errno(e: BaseException) -> int:
    """The negative errno carried by a host function's exception."""
    code = getattr(e, "errno", None)
    if code is None and e.args and isinstance(e.args[0], int):
        code = e.args[0]
    return code if isinstance(code, int) and code < 0 else F.EINTERNAL


class _Failing(BaseException):
    """Unwinds a stage when the call is failing as a whole (a host function
    failed); BaseException so that a stage's ``except Exception`` does not
    swallow it."""


def _detail(kind: str, message: str, stack: str = "") -> bytes:
    d = {"kind": kind, "message": message}
    if stack:
        d["stack"] = stack
    try:
        return packb(d)
    except EncodeError:
        return packb({"kind": kind, "message": message.encode("utf-8", "replace").decode("utf-8", "replace")})


def _stack(exc: BaseException) -> str:
    import traceback

    try:
        return "".join(traceback.format_exception(exc))
    except Exception:  # a broken exception object
        return ""


class Ctx:
    """What a stage can do while it processes one item: append to depots,
    hop to other stages, read and write PStates, emit an ack return, log,
    and learn where and when it runs.

    Effects (appends, hops, transforms, emits) are buffered and committed
    with the batch, atomically with the item's progress, only when the stage
    returns normally: a stage that raises leaves no trace but its logs.
    Reads see the item's own transforms and those of the items before it in
    the batch. A Ctx is valid only during the call of its stage.
    """

    __slots__ = ("_inst", "_batch", "_it", "_item", "_stage", "rejected", "_rng", "_done")

    def __init__(self, inst: "Instance", batch: F.Batch, it: F.Item, item: int, stage: Stage) -> None:
        self._inst = inst
        self._batch = batch
        self._it = it
        self._item = item
        self._stage = stage
        self.rejected: RejectedError | None = None
        self._rng: _random.Random | None = None
        self._done = False

    # -- effects

    def _usable(self) -> None:
        if self._done:
            raise Poison("squall: the ctx was used after its stage returned; a ctx is valid only during its stage call")
        if self.rejected is not None:
            raise self.rejected

    def _added(self) -> None:
        inst = self._inst
        if inst.size >= FLUSH_AT:
            inst.flush()
            if self.rejected is not None:
                raise self.rejected

    def append(self, depot: Depot, record: Any, *, ack: int = ACK, local: bool = False) -> None:
        """Append ``record`` to ``depot``, with the batch. Every stream
        topology reading the depot then processes it. ``local=True`` appends
        to this partition (the only way into a :func:`~squall.disallow`
        depot); ``ack`` is :data:`~squall.ACK` (the default: the new
        record's processing joins this record's processing tree),
        :data:`~squall.APPEND_ACK` or :data:`~squall.NO_ACK`."""
        self._check_depot(depot)
        if ack not in (NO_ACK, APPEND_ACK, ACK):
            raise Poison(f"squall: append: unknown ack level {ack}")
        self._usable()
        try:
            body = packb(record)
        except EncodeError as e:
            raise Poison(f"squall: append to {depot.name}: {str(e).removeprefix('squall: ')}") from None
        self._inst.add(F.OP_APPEND, ack | (F.APPEND_LOCAL if local else 0), depot.index, self._item, body)
        self._added()

    def hop(self, stage: Stage, key: Any, payload: Any) -> None:
        """Run ``stage`` (of this topology) with ``payload`` on the partition
        that owns ``key``, after the batch commits: the continuation of this
        item's work where the key's data lives. Hops from one partition to
        another arrive in order."""
        inst = self._inst
        if stage.__class__ is not Stage or stage.topology is not inst.topology:
            self._check_stage(stage)
        if self.rejected is not None or self._done:
            self._usable()
        try:
            kb = packb(key)
        except EncodeError as e:
            raise Poison(f"squall: hop key: {str(e).removeprefix('squall: ')}") from None
        if payload is key:  # ctx.hop(count, word, word): encoded once
            pb = kb
        else:
            try:
                pb = packb(payload)
            except EncodeError as e:
                raise Poison(f"squall: hop payload: {str(e).removeprefix('squall: ')}") from None
        n = len(kb) + len(pb)
        inst.eff.append(_eff_hdr(n, 2, 1, stage.index, self._item) + kb + pb)  # HOP, HASH
        inst.size += 12 + n
        if inst.size >= FLUSH_AT:
            self._added()

    def _hop(self, stage: Stage, partitioner: int, payload: Any, prefix: bytes = b"") -> None:
        self._check_stage(stage)
        self._usable()
        try:
            body = prefix + packb(payload)
        except EncodeError as e:
            raise Poison(f"squall: hop payload: {str(e).removeprefix('squall: ')}") from None
        self._inst.add(F.OP_HOP, partitioner, stage.index, self._item, body)
        self._added()

    def hop_all(self, stage: Stage, payload: Any) -> None:
        """Run ``stage`` with ``payload`` on every partition, this one
        included."""
        self._hop(stage, F.HOP_ALL, payload)

    def hop_global(self, stage: Stage, payload: Any) -> None:
        """Run ``stage`` with ``payload`` on partition 0, where global
        PStates live."""
        self._hop(stage, F.HOP_GLOBAL, payload)

    def hop_origin(self, stage: Stage, payload: Any) -> None:
        """Run ``stage`` with ``payload`` on the partition where this item's
        processing started (its source record's partition)."""
        self._hop(stage, F.HOP_ORIGIN, payload)

    def hop_shuffle(self, stage: Stage, payload: Any) -> None:
        """Run ``stage`` with ``payload`` on a partition the host picks
        (deterministically, from the batch's seed), to spread work."""
        self._hop(stage, F.HOP_SHUFFLE, payload)

    def hop_direct(self, stage: Stage, partition: int, payload: Any) -> None:
        """Run ``stage`` with ``payload`` on ``partition`` (0 to
        ``ctx.partitions - 1``): custom partitioning computed by the
        stage."""
        self._check_stage(stage)
        tasks = self._inst.tasks
        if type(partition) is not int or not 0 <= partition < tasks:
            raise Poison(f"squall: hop direct: partition {partition} does not exist; the module has {tasks} partitions")
        self._hop(stage, F.HOP_DIRECT, payload, _u32(partition))

    def transform(self, pstate: PState, path: Path) -> None:
        """Apply a transform path (ending with set, incr, append, prepend,
        remove or merge) to this partition of ``pstate``. Later reads of
        this item, and of the items after it in the batch, see the change.
        The path's first key on a map PState must belong to this partition
        (hop there first). A path that does not fit the schema makes the
        host poison the item."""
        self._check_pstate(pstate)
        if self.rejected is not None or self._done:
            self._usable()
        try:
            if not path._transform_ok():
                path.validate(TRANSFORM)
            body = path._enc or path.encoded()
        except PathError as e:
            raise Poison(str(e)) from None
        except AttributeError:
            raise Poison(f"squall: transform takes a Path, not {type(path).__name__}") from None
        inst = self._inst
        inst.eff.append(_eff_hdr(len(body), F.OP_TRANSFORM, 0, pstate.index, self._item) + body)
        inst.size += 12 + len(body)
        if inst.size >= FLUSH_AT:
            self._added()

    def emit(self, value: Any) -> None:
        """Set this topology's ack return for the record whose processing
        this item is part of: an appender that waits with ACK receives it.
        The last value emitted wins."""
        self._usable()
        try:
            body = packb(value)
        except EncodeError as e:
            raise Poison(f"squall: emit: {str(e).removeprefix('squall: ')}") from None
        self._inst.add(F.OP_EMIT, F.EMIT_ACK_RETURN, 0, self._item, body)
        self._added()

    def log(self, message: str, level: str = "info") -> None:
        """Write a line to the operator's log ("debug", "info", "warn" or
        "error"), tagged with the module, topology, partition, batch and
        item. Logs are kept even when the item fails."""
        if self._done:
            return
        lv = LOG_LEVELS.get(level)
        if lv is None:
            raise ValueError(f"squall: log: unknown level {level!r}; use \"debug\", \"info\", \"warn\" or \"error\"")
        text = str(message).encode("utf-8", "replace")[: 8 << 10].decode("utf-8", "ignore").encode("utf-8")
        self._inst.add(F.OP_LOG, lv, 0, self._item, text)
        self._added()

    # -- ABI 1.1: aggregation, query results, invocations

    def _agg_body(self, what: str, agg: Agg, keys: tuple) -> bytes:
        if agg.__class__ is not Agg:
            raise Poison(f"squall: {what} takes an Agg such as squall.Agg.count(), not {type(agg).__name__}")
        try:
            body = packb(list(keys)) + packb(agg.value)
        except EncodeError as e:
            raise Poison(f"squall: {what}: {str(e).removeprefix('squall: ')}") from None
        if agg.code == F.AGG_TOP_N:
            body += packb(agg.n)
        return body

    def aggregate(self, pstate: PState, agg: Agg, *keys: Any) -> None:
        """Combine ``agg`` into ``pstate`` at the key path ``keys`` (a
        group-by: ``ctx.aggregate(stats, squall.Agg.count(), user,
        "visits")`` counts into ``stats[user]["visits"]``; maps are created
        where keys are absent). The first key belongs to this partition
        (hop there first). The host applies the aggregator: counts and sums
        as increments, so that many aggregations of a microbatch on one key
        combine in its write."""
        self._check_pstate(pstate)
        self._usable()
        body = self._agg_body("aggregate", agg, keys)
        self._inst.add(F.OP_AGGREGATE, agg.code, pstate.index, self._item, body)
        self._added()

    def aggregate_result(self, agg: Agg, *keys: Any) -> None:
        """Combine ``agg`` into the result of the query being run, at the
        key path ``keys`` (``()`` for the whole result). Only in a query
        topology's stages."""
        self._in_query("aggregate_result")
        self._usable()
        body = self._agg_body("aggregate_result", agg, keys)
        self._inst.add(F.OP_AGGREGATE, agg.code, F.QUERY_RESULT_TARGET, self._item, body)
        self._added()

    def set_result(self, value: Any) -> None:
        """Set the result of the query being run to ``value`` (later
        :meth:`aggregate_result` calls combine into it). Only in a query
        topology's stages."""
        self._in_query("set_result")
        self._usable()
        try:
            body = packb(value)
        except EncodeError as e:
            raise Poison(f"squall: set_result: {str(e).removeprefix('squall: ')}") from None
        self._inst.add(F.OP_EMIT, 0, F.EMIT_QUERY_RESULT, self._item, body)
        self._added()

    def _in_query(self, what: str) -> None:
        if not self._batch.flags & F.BATCH_QUERY:
            raise Poison(f"squall: {what}: only a query topology's stages have a result; "
                         f"topology {quote(self._inst.topology.name)} is not a query")

    def invoke(self, query: Query, *args: Any) -> Any:
        """Run ``query`` of this module with ``args`` and return its result.
        It reads the committed PStates (not this batch's own writes).
        Raises :class:`~squall.InvokeError` when the query fails (a wrong
        argument count poisons the item; a failed or late query retries
        it)."""
        mod = self._inst.module
        if query.__class__ is not Query or query.index >= len(mod.queries) or mod.queries[query.index] is not query:
            raise Poison(f"squall: invoke: {query!r} is not a query of this module")
        self._usable()
        try:
            body = packb(list(args))
        except EncodeError as e:
            raise Poison(f"squall: invoke {query.name}: {str(e).removeprefix('squall: ')}") from None
        r = self._inst.query(F.QUERY_INVOKE, query.index, body)
        if self.rejected is not None:
            raise self.rejected
        if r.status == F.RESULT_OK:
            return r.value
        raise InvokeError(query.name, r.status, r.message)

    @property
    def batch_id(self) -> int:
        """The batch's number; in a microbatch topology the microbatch
        number, the same on every partition and attempt and one higher for
        each microbatch: use it for idempotent writes outside Squall."""
        return self._batch.batch_id

    # -- reads

    def select(self, pstate: PState, path: Path) -> list:
        """Every value ``path`` navigates to in this partition of
        ``pstate``, in order (maps and sets in key order)."""
        v = self._query(F.QUERY_SELECT, pstate, path)
        if not isinstance(v, list):
            raise QueryError(pstate.name, str(path), F.EINTERNAL, "SELECT answered something other than a list")
        return v

    def select_one(self, pstate: PState, path: Path, *default: Any) -> Any:
        """The one value ``path`` navigates to in this partition of
        ``pstate``. When it navigates to nothing, return ``default`` if
        given, else raise :class:`~squall.NotFound`; several values raise
        :class:`~squall.QueryError` (EMULTI). A key on an absent key
        navigates to None::

            n = ctx.select_one(counts, squall.key(word)) or 0
        """
        try:
            return self._query(F.QUERY_SELECT_ONE, pstate, path)
        except NotFound:
            if default:
                return default[0]
            raise

    def _query(self, op: int, pstate: PState, path: Path) -> Any:
        self._check_pstate(pstate)
        try:
            if not path._select_ok():
                path.validate(SELECT)
            body = path._enc or path.encoded()
        except PathError as e:
            raise Poison(str(e)) from None
        except AttributeError:
            raise Poison(f"squall: select takes a Path, not {type(path).__name__}") from None
        self._usable()
        r = self._inst.query(op, pstate.index, body)
        if self.rejected is not None:
            raise self.rejected
        if r.status == F.RESULT_OK:
            return r.value
        if r.status == F.RESULT_NOT_FOUND:
            raise NotFound()
        raise QueryError(pstate.name, str(path), r.status, r.message)

    # -- checks

    def _check_depot(self, d: Any) -> None:
        mod = self._inst.module
        if isinstance(d, Depot) and d.index < len(mod.depots) and mod.depots[d.index] is d:
            return
        if not isinstance(d, Depot):
            raise Poison(f"squall: the depot is a {type(d).__name__}, not a Depot")
        if d.index >= len(mod.depots) or mod.depots[d.index].name != d.name:
            raise Poison(f"squall: depot {quote(d.name)} is not a depot of this module")

    def _check_stage(self, s: Any) -> None:
        t = self._inst.topology
        if isinstance(s, Stage) and s.topology is t and s.index < len(t.stages) and t.stages[s.index] is s:
            return
        if not isinstance(s, Stage):
            raise Poison(f"squall: hop: the stage is a {type(s).__name__}, not a Stage")
        if s.topology.name != t.name:
            raise Poison(f"squall: hop: stage {quote(s.name)} is not a stage of topology {quote(t.name)}; a hop runs a stage of its own topology")
        if s.index >= len(t.stages) or t.stages[s.index].name != s.name:
            raise Poison(f"squall: hop: stage {quote(s.name)} is not a stage of this module")

    def _check_pstate(self, p: Any) -> None:
        mod = self._inst.module
        if p.__class__ is PState and p.index < len(mod.pstates) and mod.pstates[p.index] is p:
            return
        if not isinstance(p, PState):
            raise Poison(f"squall: the PState is a {type(p).__name__}, not a PState")
        if p.index >= len(mod.pstates) or mod.pstates[p.index].name != p.name:
            raise Poison(f"squall: PState {quote(p.name)} is not a PState of this module")

    # -- where and when

    @property
    def partition(self) -> int:
        """The partition this item runs on, from 0 to ``partitions - 1``."""
        return self._batch.partition

    @property
    def partitions(self) -> int:
        """The module's number of partitions."""
        return self._inst.tasks

    @property
    def attempt(self) -> int:
        """How many times this item was delivered before and failed: 0 the
        first time."""
        return self._it.attempt

    @property
    def batch_time_ns(self) -> int:
        """The batch's time in Unix nanoseconds, the same on every attempt
        (the clocks of the time module start from it too)."""
        return self._batch.time_unix_nano

    @property
    def batch_time(self) -> datetime.datetime:
        """The batch's time as an aware UTC datetime."""
        return _utc(self._batch.time_unix_nano)

    @property
    def event_time_ns(self) -> int:
        """When the item's record was appended (for a hop: the time of the
        batch that sent it), in Unix nanoseconds."""
        return self._it.event_time_unix_nano

    @property
    def event_time(self) -> datetime.datetime:
        """:attr:`event_time_ns` as an aware UTC datetime."""
        return _utc(self._it.event_time_unix_nano)

    @property
    def random(self) -> _random.Random:
        """A random generator for this item, seeded from the batch's seed and
        the item's position: the same on every attempt of the batch."""
        if self._rng is None:
            import random as _random

            self._rng = _random.Random((self._batch.seed << 32) ^ self._item ^ 0x9E3779B97F4A7C15)
        return self._rng

    @property
    def stage(self) -> Stage:
        """The stage being run."""
        return self._stage

    @property
    def depot(self) -> Depot | None:
        """The depot of a source record, or None for a hop delivery."""
        it = self._it
        mod = self._inst.module
        if it.kind != F.ITEM_RECORD or it.depot >= len(mod.depots):
            return None
        return mod.depots[it.depot]

    @property
    def offset(self) -> int:
        """The offset of a source record in its depot partition (0 for a
        hop delivery)."""
        return self._it.offset

    @property
    def source_partition(self) -> int:
        """The depot partition of a source record, or the partition that
        sent a hop."""
        return self._it.source_partition


def _utc(ns: int) -> "datetime.datetime":
    import datetime

    return datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(microseconds=ns // 1000)


class Instance:
    """One guest instance: the module, the inbox frames it is given and the
    effects it buffers."""

    def __init__(self, module: Module | None, host: Any, load_error: tuple | None = None) -> None:
        self.module = module
        self.host = host
        self.load_error = load_error  # (kind, message, stack) of a failed import
        self.tasks = 0
        self.eff: list = []
        self.size = 8
        self.mark = 0
        self.cur: Ctx | None = None
        self.topology: Any = None
        self.fatal: int | None = None
        self.flush_failed = False

    def reset(self) -> None:
        self.eff = []
        self.size = 8
        self.mark = 0
        self.cur = None
        self.fatal = None
        self.flush_failed = False

    def add(self, op: int, flags: int, target: int, item: int, body: bytes) -> None:
        if len(body) > F.MAX_EFFECTS_FRAME - 20:
            raise Poison(f"squall: an effect of {len(body)} bytes exceeds the ABI's 16 MiB effects frame limit")
        if self.size + 12 + len(body) > F.MAX_EFFECTS_FRAME and self.eff:
            self.flush()
        self.eff.append(_eff_hdr(len(body), op, flags, target, item) + body)
        self.size += 12 + len(body)

    def drop_item(self) -> None:
        """Discard the current item's unflushed effects but its logs."""
        kept = [e for e in self.eff[self.mark:] if e[4] == F.OP_LOG]
        del self.eff[self.mark:]
        self.eff.extend(kept)
        self.size = 8 + sum(len(e) for e in self.eff)

    def flush(self) -> None:
        """Hand the buffered effects to the host. A rejection of the current
        item's effects is recorded on its ctx; a failure of the host makes
        the call fail (and unwinds the stage)."""
        if self.fatal is not None or not self.eff:
            return
        frame = _frame_hdr(1, F.KIND_EFFECTS, 0, len(self.eff)) + b"".join(self.eff)
        self.eff = []
        self.size = 8
        self.mark = 0
        try:
            r = self.host.flush(frame)
        except Exception as e:
            r = host_errno(e)
        if r < 0:
            self.fatal = r
            self.flush_failed = True
            if self.cur is not None:
                raise _Failing()
        elif r > 0:
            self.rejections()

    def rejections(self) -> None:
        try:
            v = unpackb(self.host.take())
        except Exception as e:
            self.fatal = host_errno(e) if not isinstance(e, DecodeError) else F.EINVAL
            if self.cur is not None:
                raise _Failing() from None
            return
        c = self.cur
        if c is None or c.rejected is not None or not isinstance(v, list):
            return
        for r in v:
            if isinstance(r, dict) and r.get("item") == c._item:
                c.rejected = RejectedError(r.get("code", F.EINVAL), str(r.get("message", "")))
                return

    def query(self, op: int, pstate: int, path: bytes) -> F.Result:
        self.flush()
        if self.cur is not None and self.cur.rejected is not None:
            raise self.cur.rejected
        req = _frame_hdr(1, F.KIND_QUERY, 0, 1) + _query_hdr(len(path), op, 0, pstate) + path
        if len(req) > F.MAX_QUERY_FRAME:
            raise Poison(f"squall: query path of {len(req)} bytes exceeds the ABI's 1 MiB query frame limit")
        try:
            resp = self.host.query(req)
        except Exception as e:
            self.fatal = host_errno(e)
            raise _Failing() from None
        try:
            rs = F.decode_response(resp)
        except F.FrameError:
            rs = []
        if len(rs) != 1:
            self.fatal = F.EINVAL
            raise _Failing()
        return rs[0]

    def fail_call(self, item: int, kind: str, message: str, stack: str = "") -> int:
        """Flush an ERROR effect (unless flush itself failed) and return the
        FAILED status."""
        if not self.flush_failed:
            fatal = self.fatal
            self.fatal = None
            self.cur = None
            body = _detail(kind, message, stack)
            self.eff.append(_eff_hdr(len(body), F.OP_ERROR, 0, 0, item) + body)
            self.size += 12 + len(body)
            self.flush()
            if self.fatal is None:
                self.fatal = fatal
        return F.STATUS_FAILED

    # -- exports

    def init(self, frame: bytes) -> int:
        """squall_init: build the module and flush its definition."""
        self.reset()
        try:
            f = F.decode_init(frame)
        except F.FrameError as e:
            return self.fail_call(F.NO_ITEM, "abi", str(e))
        self.tasks = f.tasks
        if self.load_error is not None:
            return self.fail_call(F.NO_ITEM, *self.load_error)
        if self.module is None:
            return self.fail_call(F.NO_ITEM, "definition", "squall: no module is defined: create a squall.Module in the entry file")
        try:
            d = self.module.build()
        except Exception as e:
            return self.fail_call(F.NO_ITEM, "definition", str(e), _stack(e) if not hasattr(e, "problems") else "")
        self.add(F.OP_DEFINE, 0, 0, F.NO_ITEM, d)
        self.flush()
        return F.STATUS_FAILED if self.fatal is not None else F.STATUS_OK

    def process(self, frame: bytes) -> int:
        """squall_process: run each item's stage, in order, and flush its
        effects and exactly one OUTCOME."""
        self.reset()
        mod = self.module
        if mod is None or self.load_error is not None:
            k, m, s = self.load_error or ("definition", "squall: no module is defined", "")
            return self.fail_call(F.NO_ITEM, k, m, s)
        try:
            b = F.decode_batch(frame)
        except F.FrameError as e:
            return self.fail_call(F.NO_ITEM, "abi", str(e))
        topos = mod.queries if b.flags & F.BATCH_QUERY else mod.topologies
        if b.topology >= len(topos):
            what = "query" if b.flags & F.BATCH_QUERY else "topology"
            return self.fail_call(F.NO_ITEM, "abi", f"squall_process: the batch names {what} {b.topology}; the module has {len(topos)}")
        topo = topos[b.topology]
        self.topology = topo
        stages = topo.stages
        eff = self.eff
        failed = F.NO_ITEM
        for i, it in enumerate(b.items):
            if it.stage >= len(stages):
                return self.fail_call(i, "abi", f"squall_process: item {i} names stage {it.stage} of {quote(topo.name)}, which has {len(stages)}")
            stage = stages[it.stage]
            ctx = Ctx(self, b, it, i, stage)
            self.cur = ctx
            self.mark = len(self.eff)
            err: BaseException | None = None
            try:
                try:
                    inp = unpackb(it.payload)
                except DecodeError as e:
                    raise InputError(f"squall: stage {quote(stage.name)}: input: {str(e).removeprefix('squall: ')}") from None
                if stage.convert is not None:
                    inp = stage.convert(inp)
                stage.fn(ctx, inp)
            except _Failing:
                err = None
            except BaseException as e:  # a stage's failure (even sys.exit) ends its item, not the call
                err = e
            ctx._done = True
            self.cur = None
            if self.fatal is not None:
                failed = i
                break
            if err is None and ctx.rejected is not None:
                err = ctx.rejected
            eff = self.eff
            if err is None:
                eff.append(_eff_hdr(0, F.OP_OUTCOME, F.OUTCOME_OK, 0, i))
                self.size += 12
            else:
                o, kind = classify(err)
                stack = "" if isinstance(err, (RejectedError,)) else _stack(err)
                body = _detail(kind, message_of(err), stack)
                self.drop_item()
                self.eff.append(_eff_hdr(len(body), F.OP_OUTCOME, o, 0, i) + body)
                self.size += 12 + len(body)
            if self.size >= FLUSH_AT:
                self.flush()
        self.flush()
        if self.fatal is not None:
            return self.fail_call(failed, "host", str(HostFailure(self.fatal)))
        return F.STATUS_OK
