"""Run Squall modules under pytest on ordinary CPython — no wasm, no
server — with an in-memory host that has the real host's semantics:

- the module's definition is built and checked as at deploy (every problem
  at once), by two instances, to catch a non-deterministic one;
- client appends go through the depot's partitioner, hops through their
  partitioner, with the host's key hashing (FNV-1a 64 and fmix64 of the
  canonical key), so data lands on the partitions it will land on in
  production;
- stages run in batches of one topology on one partition, through the same
  ABI frames and the same SDK runtime as in wasm, with read-your-writes
  inside a batch;
- transforms and selects run on in-memory PStates with the host's path
  semantics and messages, schema checks included (the host's own PState
  tests check this engine), and the host's partition rules (a key of
  another partition is rejected);
- an item that fails is retried (``ctx.attempt`` grows) and dead-lettered
  after the maximum attempts; a poisoned or rejected item is dead-lettered
  at once; failed items leave no effects but their logs;
- ABI 1.1: microbatch topologies run in numbered microbatches over every
  partition, all or nothing (a failure undoes the whole microbatch and runs
  it again, up to the maximum attempts, then pauses the topology; a poisoned
  item dead-letters its source record and the microbatch runs without it);
  AGGREGATE effects are combined with the host's aggregators; PState owners
  are enforced; query topologies run with :meth:`Harness.invoke` (and
  ``ctx.invoke`` from stages) on one snapshot; :meth:`Harness.tick` appends a
  tick to a tick depot.

A test appends records, which runs every topology until nothing is left to
do, then inspects PStates, depots, ack returns, dead letters and logs::

    from squall.testing import Harness
    import main  # the module's entry file

    def test_wordcount():
        h = Harness(main.app, partitions=4)
        h.append("sentences", {"user": "ann", "text": "to be or not to be"})
        assert h.select_one("$$wordCounts", squall.key("be")) == 2

Query topologies are invoked by name with their arguments::

        assert h.invoke("account", "ann", 5)["balance"] == 100

Anything the SDK does that the host would refuse — a malformed frame, an
effect out of order, a failed call — raises :class:`HarnessError`: it is a
bug of the SDK, not of the module.
"""

from __future__ import annotations

import copy
import random as _random
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable

from .. import _frames as F
from .._codec import packb, unpackb
from .._errors import InvokeError
from .._module import Module
from .._partition import key_partition
from .._path import Path, SELECT, TRANSFORM, path as _empty_path
from .._runtime import Instance
from .._text import quote
from . import _engine as E
from ._aggregate import AggregateError, aggregate, aggregate_at, check_value

__all__ = ["Harness", "HarnessError", "Appended", "DeadLetter", "Log", "Stats", "ErrorDetail", "InvokeError"]


class HarnessError(AssertionError):
    """The module or the SDK did something the host refuses, or a test asked
    for something that does not exist."""


@dataclass
class ErrorDetail:
    """The error of a failed item: kind, message and stack."""

    kind: str = ""
    message: str = ""
    stack: str = ""


@dataclass
class DeadLetter:
    """An item that will never be processed: poisoned, rejected, or failed
    the maximum number of times."""

    topology: str
    stage: str
    partition: int
    kind: str  # "record" or "hop"
    depot: str  # the depot of a record, "" for a hop
    offset: int
    input: Any
    attempts: int
    error: ErrorDetail


@dataclass
class Log:
    """A line a stage logged (or the SDK, for a line of no item)."""

    level: str  # DEBUG, INFO, WARN or ERROR
    text: str
    topology: str = ""
    partition: int = 0
    stage: str = ""


@dataclass
class Stats:
    batches: int = 0  # squall_process calls
    items: int = 0  # items delivered (records and hops, retries included)
    retries: int = 0  # items that ended RETRY, and microbatch attempts that failed
    dead_letters: int = 0  # items dead-lettered
    microbatches: int = 0  # microbatches committed
    invocations: int = 0  # query invocations, from tests and from stages


class _Root:
    __slots__ = ("ack_returns",)

    def __init__(self) -> None:
        self.ack_returns: dict = {}


@dataclass
class Appended:
    """A record a test appended: where it went, and the ack return each
    topology emitted for it once its processing completed."""

    depot: str
    partition: int
    offset: int
    record: Any
    _root: _Root = field(repr=False, default_factory=_Root)

    def ack_return(self, topology: str, default: Any = None) -> Any:
        """The last value the topology emitted for this record's processing
        tree, or ``default``."""
        v = self._root.ack_returns.get(topology)
        return E.export(v[0]) if v is not None else default

    def has_ack_return(self, topology: str) -> bool:
        return topology in self._root.ack_returns

    @property
    def ack_returns(self) -> dict:
        """Every topology's ack return, by topology name."""
        return {k: E.export(v[0]) for k, v in self._root.ack_returns.items()}


class _Pending:
    __slots__ = ("kind", "stage", "depot", "attempt", "source_partition", "offset", "event_time", "payload", "root", "origin",
                 "record")

    def __init__(self, kind: int, stage: int, depot: int, source_partition: int, offset: int,
                 event_time: int, payload: bytes, root: _Root, origin: int, attempt: int = 0) -> None:
        self.kind = kind
        self.stage = stage
        self.depot = depot
        self.attempt = attempt
        self.source_partition = source_partition
        self.offset = offset
        self.event_time = event_time
        self.payload = payload
        self.root = root
        self.origin = origin
        self.record: _Pending | None = None  # in a microbatch: the source record it descends from


class _ItemState:
    __slots__ = ("started", "undo_mark", "outcome", "closed", "detail", "rejected", "appends", "hops", "emits")

    def __init__(self) -> None:
        self.started = False
        self.undo_mark = 0
        self.outcome = 0
        self.closed = False
        self.detail = ErrorDetail()
        self.rejected: ErrorDetail | None = None
        self.appends: list = []
        self.hops: list = []
        self.emits: list = []


class _Call:
    def __init__(self, init: bool, items: list | None = None, topology: int = 0, partition: int = 0,
                 rnd: _random.Random | None = None, inv: "_Invocation | None" = None) -> None:
        self.init = init
        self.inv = inv  # the query invocation of a QUERY batch, or None
        self.define: bytes | None = None
        self.topology = topology
        self.partition = partition
        self.items = items or []
        self.state = [_ItemState() for _ in self.items]
        self.violation: str | None = None
        self.err_detail: ErrorDetail | None = None
        self.parked: bytes | None = None
        self.rnd = rnd or _random.Random(0)
        self.undo: list = []
        # order checks (abi/ABI.md §6.4)
        self.next = 0
        self.defined = False
        self.failed = False

    def undo_item(self, st: _ItemState) -> None:
        while len(self.undo) > st.undo_mark:
            self.undo.pop()()
        st.appends, st.hops, st.emits = [], [], []

    def undo_all(self) -> None:
        while self.undo:
            self.undo.pop()()

    def check_frame(self, es: list) -> str:
        nxt, defined, failed = self.next, self.defined, self.failed
        n = len(self.items)
        for i, e in enumerate(es):
            name = F.OP_NAMES[e.op]
            if self.init:
                if e.op == F.OP_DEFINE:
                    if defined:
                        return f"effect {i}: a second DEFINE; squall_init flushes the definition once"
                    defined = True
                elif e.op in (F.OP_LOG, F.OP_ERROR):
                    if e.item != F.NO_ITEM:
                        return f"effect {i}: {name} during squall_init belongs to no item; its item must be NoItem"
                    failed = failed or e.op == F.OP_ERROR
                else:
                    return f"effect {i}: {name} is not allowed in squall_init; only DEFINE, LOG and ERROR are"
                continue
            if e.op == F.OP_DEFINE:
                return f"effect {i}: DEFINE is allowed only in squall_init"
            if e.op in (F.OP_LOG, F.OP_ERROR):
                if e.item != F.NO_ITEM and e.item >= n:
                    return f"effect {i}: {name} names item {e.item}; the batch has {n} items"
                failed = failed or e.op == F.OP_ERROR
                continue
            if e.item >= n:
                return f"effect {i}: {name} names item {e.item}; the batch has {n} items"
            if e.item < nxt:
                return f"effect {i}: {name} for item {e.item} after that item's OUTCOME"
            if e.item > nxt:
                return f"effect {i}: {name} for item {e.item} before the OUTCOME of item {nxt}; items are processed in order"
            if e.op == F.OP_OUTCOME:
                nxt += 1
        self.next, self.defined, self.failed = nxt, defined, failed
        return ""

    def check_end(self, status: int) -> str:
        if status != F.STATUS_OK or self.failed:
            return ""
        if self.init:
            return "" if self.defined else "squall_init returned OK without flushing a DEFINE"
        if self.next != len(self.items):
            return f"squall_process returned OK but items {self.next} to {len(self.items) - 1} have no OUTCOME"
        return ""


class _Invocation:
    """A query being run: its result so far and its nesting depth."""

    __slots__ = ("result", "depth")

    def __init__(self, depth: int) -> None:
        self.result: Any = None
        self.depth = depth


class _MB:
    """The state of a microbatch topology: the next microbatch's number and
    why it paused ("" when it did not)."""

    __slots__ = ("next", "paused")

    def __init__(self) -> None:
        self.next = 0
        self.paused = ""


class _HostError(Exception):
    """A host function's negative errno (what _squall.HostError is in
    wasm)."""

    def __init__(self, errno: int, message: str = "") -> None:
        super().__init__(errno, message)
        self.errno = errno


class _FakeHost:
    """The host functions the SDK runtime calls, backed by the harness."""

    def __init__(self, h: "Harness") -> None:
        self.h = h

    def flush(self, frame: bytes) -> int:
        c = self.h._call
        if c is None:
            return F.ESTATE
        c.parked = None
        try:
            es = F.decode_effects(bytes(frame))
        except F.FrameError as e:
            c.violation = str(e)
            return F.EINVAL
        msg = c.check_frame(es)
        if msg:
            c.violation = msg
            return F.ESTATE
        rejs = []
        for i, e in enumerate(es):
            r = self.h._apply(c, i, e)
            if r is not None:
                rejs.append(r)
        if not rejs:
            return 0
        c.parked = packb(rejs)
        return len(rejs)

    def query(self, req: bytes) -> bytes:
        c = self.h._call
        if c is None:
            raise _HostError(F.ESTATE)
        c.parked = None
        if c.init:
            c.violation = "query during squall_init; queries are allowed only in squall_process"
            raise _HostError(F.ESTATE)
        try:
            qs = F.decode_query(bytes(req))
        except F.FrameError as e:
            c.violation = str(e)
            raise _HostError(F.EINVAL) from None
        return F.encode_response([self.h._run_query(c, op, ps, path) for op, ps, path in qs])

    def take(self) -> bytes:
        c = self.h._call
        if c is None:
            raise _HostError(F.ESTATE)
        if c.parked is None:
            raise _HostError(F.ENOENT)
        b, c.parked = c.parked, None
        return b


_LEVELS = ("DEBUG", "INFO", "WARN", "ERROR")


class Harness:
    """An in-memory Squall host for one module (see the package doc).

    ``module`` is a :class:`squall.Module` or the Python module that
    declares one (its entry file, imported). ``partitions`` is the number of
    tasks. ``batch_size`` caps the items of a batch (default 16),
    ``max_attempts`` the deliveries before a failing item is dead-lettered
    (default 8, as the host). With ``manual=True``, :meth:`append` only
    queues records; :meth:`run` processes them. Logs are echoed to stdout
    (pytest shows them for failing tests) unless ``quiet=True``.
    """

    def __init__(self, module: Module | ModuleType, partitions: int = 4, *, batch_size: int = 16,
                 max_attempts: int = 8, seed: int = 0x5EED, start_time_ns: int = 1_700_000_000 * 10**9,
                 manual: bool = False, quiet: bool = False, max_batches: int = 200_000) -> None:
        if isinstance(module, ModuleType):
            found = [v for v in vars(module).values() if isinstance(v, Module)]
            if not found:
                raise HarnessError(f"the Python module {module.__name__} declares no squall.Module")
            module = found[0]
        if not isinstance(module, Module):
            raise HarnessError(f"Harness needs a squall.Module or the Python module declaring one, not {type(module).__name__}")
        if partitions < 1:
            raise HarnessError(f"{partitions} partitions; a module has at least 1")
        self.module = module
        self.tasks = partitions
        self.batch_size = max(batch_size, 1)
        self.max_attempts = max(max_attempts, 1)
        self.manual = manual
        self.quiet = quiet
        self.max_batches = max_batches
        self.clock = start_time_ns
        self._rnd = _random.Random(seed)
        self._call: _Call | None = None
        self._batch_ids: dict = {}
        self.dead_letters: list = []
        self.logs: list = []
        self.stats = Stats()
        host = _FakeHost(self)
        describe = Instance(module, host)
        d = self._run_init(describe, F.INIT_DESCRIBE)
        self.definition = unpackb(d)
        self._def_bytes = d
        self._inst = Instance(module, host)
        again = self._run_init(self._inst, 0)
        if again != d:
            raise HarnessError(f"the module's definition is not deterministic: a second instance defined\n{unpackb(again)}\nafter\n{self.definition}")
        self._parse_definition(self.definition)
        self._depots = [[[] for _ in range(partitions)] for _ in self._def_depots]
        self._pstates = [[E.PStore(s) for _ in range(partitions)] for _, s, _ in self._def_pstates]
        self._queues = [[[] for _ in range(partitions)] for _ in self._def_topos]
        self._mbs: dict = {}
        self._invocations = 0

    # -- definition

    def _parse_definition(self, v: dict) -> None:
        self._def_depots = []
        for dv in v["depots"]:
            part = dv["partitioner"]
            key = None
            if "key" in part:
                key = E.path_steps(part["key"], SELECT)
            self._def_depots.append((dv["name"], part["kind"], key))
        self._def_pstates = [(p["name"], E.parse_schema(p["schema"]), bool(p.get("global", False))) for p in v["pstates"]]
        self._owners = [p.get("owner", "") for p in v["pstates"]]
        self._def_topos = []
        self._kinds = []
        self._max_records = []
        names = [d[0] for d in self._def_depots]
        for t in v["topologies"]:
            stages = list(t["stages"])
            sources = [(names.index(s["depot"]), stages.index(s["stage"])) for s in t["sources"]]
            self._def_topos.append((t["name"], stages, sources))
            self._kinds.append(t.get("kind", "stream"))
            self._max_records.append(t.get("max_records", 1000))
        self._def_queries = [(q["name"], list(q["stages"]), list(q.get("args", []))) for q in v.get("queries", [])]

    def _topo(self, c: _Call) -> tuple:
        """The (name, stages) of the call's topology or query."""
        t = self._def_queries[c.topology] if c.inv is not None else self._def_topos[c.topology]
        return t[0], t[1]

    def _depot_index(self, name: str) -> int:
        for i, d in enumerate(self._def_depots):
            if d[0] == name:
                return i
        raise HarnessError(f"no depot {quote(name)}; the module declares {self._names(self._def_depots)}")

    def _pstate_index(self, name: str) -> int:
        for i, p in enumerate(self._def_pstates):
            if p[0] == name:
                return i
        raise HarnessError(f"no PState {quote(name)}; the module declares {self._names(self._def_pstates)}")

    @staticmethod
    def _names(xs: list) -> str:
        return ", ".join(sorted(quote(x[0]) for x in xs)) or "none"

    def _check_partition(self, p: int) -> None:
        if not 0 <= p < self.tasks:
            raise HarnessError(f"partition {p} does not exist; the harness has {self.tasks}")

    # -- calls

    def _run_init(self, inst: Instance, flags: int) -> bytes:
        c = _Call(True)
        self._call = c
        frame = F.encode_init(F.InitFrame(flags, 1, 1, self.tasks, self.clock, self._rnd.getrandbits(64)))
        status = inst.init(frame)
        self._call = None
        self._end_call(c, "squall_init", status)
        assert c.define is not None
        return c.define

    def _end_call(self, c: _Call, what: str, status: int) -> None:
        if c.violation is not None:
            raise HarnessError(f"{what} broke the ABI (an SDK bug): {c.violation}")
        if c.err_detail is not None:
            msg = c.err_detail.message
            if c.err_detail.stack:
                msg += "\n" + c.err_detail.stack
            raise HarnessError(f"{what} failed ({c.err_detail.kind}): {msg}")
        if status != F.STATUS_OK:
            raise HarnessError(f"{what} returned status {status} without an ERROR (an SDK bug)")
        msg = c.check_end(status)
        if msg:
            raise HarnessError(f"{what} broke the ABI (an SDK bug): {msg}")

    # -- appends

    def append(self, depot: str, record: Any) -> Appended:
        """Append a record to a depot as a client does, with ACK, and (unless
        ``manual``) run every topology until nothing is left to do."""
        di = self._depot_index(depot)
        try:
            payload = packb(record)
        except Exception as e:
            raise HarnessError(f"append to {depot}: {e}") from None
        v = E.internal(unpackb(payload))
        if self._def_depots[di][1] == "disallow":
            raise HarnessError(f"depot {quote(depot)} is disallow: only its topologies append to it (with local=True)")
        if self._def_depots[di][1] == "tick":
            raise HarnessError(f"depot {quote(depot)} is a tick depot: only the host appends to it; use Harness.tick")
        p = self._route(di, v, self._rnd)
        r = _Root()
        off = self._append_record(di, p, v, r)
        if not self.manual:
            self.run()
        return Appended(depot, p, off, unpackb(payload), r)

    def _route(self, di: int, v: Any, rnd: _random.Random) -> int:
        _, kind, key = self._def_depots[di]
        if kind == "random":
            return rnd.randrange(self.tasks)
        k = v
        if key is not None and key[0]:
            try:
                vs = E.select_value(v, None, key[0], key[1], False)
            except E.EnginePathError:
                vs = []
            k = vs[0] if vs else None
        return key_partition(E.export(k), self.tasks)

    def _append_record(self, di: int, p: int, v: Any, root: _Root) -> int:
        recs = self._depots[di][p]
        off = len(recs)
        recs.append(v)
        payload = E.enc(v)
        for ti, (_, _, sources) in enumerate(self._def_topos):
            for sdi, stage in sources:
                if sdi == di:
                    self._queues[ti][p].append(_Pending(F.ITEM_RECORD, stage, di, p, off, self.clock, payload, root, p))
        return off

    def run(self) -> None:
        """Process everything queued (records and hops) until nothing is
        left."""
        n = 0
        while True:
            progressed = False
            for p in range(self.tasks):
                for ti in range(len(self._queues)):
                    q = self._queues[ti][p]
                    if not q or self._kinds[ti] == "microbatch":
                        continue
                    k = min(len(q), self.batch_size)
                    batch, self._queues[ti][p] = q[:k], q[k:]
                    self._process(ti, p, batch)
                    progressed = True
                    n += 1
                    if n > self.max_batches:
                        raise HarnessError(f"the topologies did not settle after {self.max_batches} batches; does a stage hop in a loop?")
            for ti, kind in enumerate(self._kinds):
                if kind == "microbatch" and self._run_microbatch(ti):
                    progressed = True
                    n += 1
            if not progressed:
                return

    def _process(self, ti: int, p: int, items: list) -> None:
        key = (ti, p)
        self._batch_ids[key] = self._batch_ids.get(key, 0) + 1
        c = self._call_batch(ti, p, items, self._batch_ids[key])
        self._commit(c)

    def _call_batch(self, ti: int, p: int, items: list, batch_id: int, attempt: int = 0,
                    inv: _Invocation | None = None) -> _Call:
        """Run one squall_process call: a batch of topology (or, with inv,
        query) ti on partition p."""
        self.clock += 1_000_000
        seed = self._rnd.getrandbits(64)
        bitems = [F.Item(it.kind, it.stage, it.depot if it.kind == F.ITEM_RECORD else F.NO_DEPOT, it.attempt,
                         it.source_partition, it.offset, it.event_time, it.payload) for it in items]
        flags = F.BATCH_QUERY if inv is not None else 0
        frame = F.encode_batch(F.Batch(flags, batch_id, p, attempt, ti, self.clock, seed, bitems))
        c = _Call(False, items, ti, p, _random.Random(seed), inv)
        saved = self._call
        self._call = c
        try:
            status = self._inst.process(frame)
        finally:
            self._call = saved
        if c.violation is not None or c.err_detail is not None or status != F.STATUS_OK:
            c.undo_all()
        what = "query" if inv is not None else "topology"
        self._end_call(c, f"squall_process ({what} {quote(self._topo(c)[0])}, partition {p})", status)
        self.stats.batches += 1
        self.stats.items += len(items)
        return c

    # -- microbatches (ABI.md §15.2)

    def _run_microbatch(self, ti: int) -> bool:
        """Run the next microbatch of topology ti, as the host does: up to
        max_records records of each depot on every partition, then the hops
        they send, all or nothing. A failure (or a retry) undoes the whole
        microbatch, which runs again up to max_attempts times, then the
        topology pauses. A poisoned item dead-letters the record it descends
        from, and the microbatch runs again without it. Reports whether it
        ran (or paused) one."""
        st = self._mbs.setdefault(ti, _MB())
        if st.paused:
            return False
        records: list = []
        for p in range(self.tasks):
            taken: dict = {}
            keep = []
            for r in self._queues[ti][p]:
                if taken.get(r.depot, 0) < self._max_records[ti]:
                    taken[r.depot] = taken.get(r.depot, 0) + 1
                    r.record = r
                    records.append(r)
                else:
                    keep.append(r)
            self._queues[ti][p] = keep
        if not records:
            return False
        dead: dict = {}
        failures = 0
        while True:
            undo, appends, poisoned, failed = self._mb_attempt(ti, records, dead, st.next, failures)
            if poisoned is None and failed is None:
                for depot, partition, _, record in appends:
                    self._append_record(depot, partition, record, _Root())
                for r in records:
                    if r in dead:
                        self._dead_letter(_Call(False, [], ti, r.source_partition), r, dead[r])
                st.next += 1
                self.stats.microbatches += 1
                return True
            for u in reversed(undo):
                u()
            if poisoned is not None:
                dead[poisoned] = failed
                continue
            failures += 1
            self.stats.retries += 1
            if failures >= self.max_attempts:
                st.paused = (f"microbatch {st.next} failed {failures} times and the topology is paused; "
                             f"nothing of it was applied: {failed.message}")
                for p in range(self.tasks):
                    self._queues[ti][p] = [r for r in records if r.source_partition == p and r not in dead] + self._queues[ti][p]
                if not self.quiet:
                    print(f"squall: topology {quote(self._def_topos[ti][0])} paused: {st.paused}")
                return True
            for r in records:
                r.attempt += 1

    def _mb_attempt(self, ti: int, records: list, dead: dict, number: int, attempt: int) -> tuple:
        """One attempt of a microbatch: (undo functions, staged appends,
        the poisoned source record or None, the failure's detail or None)."""
        name, stages, _ = self._def_topos[ti]
        queues: list = [[] for _ in range(self.tasks)]
        for r in records:
            if r not in dead:
                queues[r.source_partition].append(r)
        undo: list = []
        appends: list = []
        n = 0
        while True:
            progressed = False
            for p in range(self.tasks):
                while queues[p]:
                    k = min(len(queues[p]), self.batch_size)
                    items, queues[p] = queues[p][:k], queues[p][k:]
                    progressed = True
                    n += 1
                    if n > self.max_batches:
                        raise HarnessError(f"a microbatch of {quote(name)} did not settle after {self.max_batches} batches; does a stage hop in a loop?")
                    c = self._call_batch(ti, p, items, number, attempt)
                    undo.extend(c.undo)
                    for it, s in zip(items, c.state):
                        out, d = s.outcome, s.detail
                        if s.rejected is not None:
                            out, d = F.OUTCOME_POISON, s.rejected
                        if out == F.OUTCOME_POISON:
                            return undo, [], it.record, d
                        if out != F.OUTCOME_OK:
                            return undo, [], None, ErrorDetail(
                                d.kind, f"stage {quote(stages[it.stage])} on partition {p} asked for a retry: {d.message}", d.stack)
                        appends.extend(s.appends)
                        for stage, parts, payload in s.hops:
                            pb = E.enc(payload)
                            for dest in parts:
                                h = _Pending(F.ITEM_HOP, stage, F.NO_DEPOT, p, 0, self.clock, pb, it.root, it.origin, it.attempt)
                                h.record = it.record
                                queues[dest].append(h)
            if not progressed:
                return undo, appends, None, None

    def paused(self, topology: str) -> str | None:
        """Why a microbatch topology paused (a microbatch failed the maximum
        number of times; its records stay queued), or None."""
        ti = self._topology_index(topology)
        st = self._mbs.get(ti)
        return st.paused if st is not None and st.paused else None

    def microbatches(self, topology: str) -> int:
        """How many microbatches of a topology committed."""
        st = self._mbs.get(self._topology_index(topology))
        return st.next if st is not None else 0

    def _topology_index(self, name: str) -> int:
        for i, t in enumerate(self._def_topos):
            if t[0] == name:
                return i
        raise HarnessError(f"no topology {quote(name)}; the module declares {self._names(self._def_topos)}")

    # -- tick depots and queries (ABI.md §15.1, §15.4)

    def tick(self, depot: str, unix_millis: int) -> None:
        """Append a tick (the time in Unix milliseconds) to partition 0 of a
        tick depot, as the host does every period, and (unless ``manual``)
        run the topologies."""
        di = self._depot_index(depot)
        if self._def_depots[di][1] != "tick":
            raise HarnessError(f"tick: depot {quote(depot)} is not a tick depot")
        self._append_record(di, 0, int(unix_millis), _Root())
        if not self.manual:
            self.run()

    def invoke(self, query: str, *args: Any) -> Any:
        """Invoke a query topology with ``args`` as a client does: its entry
        stage runs on partition 0 with the argument list, then its hops,
        until none is left; return its result. A failed invocation raises
        :class:`squall.InvokeError` (``code`` EINVAL for wrong arguments,
        EFAILED when a stage failed)."""
        qi = next((i for i, q in enumerate(self._def_queries) if q[0] == query), -1)
        if qi < 0:
            raise HarnessError(f"no query {quote(query)}; the module declares {self._names(self._def_queries)}")
        try:
            av = [E.internal(unpackb(packb(a))) for a in args]
        except Exception as e:
            raise HarnessError(f"invoke {query}: {e}") from None
        return E.export(self._invoke(qi, av, 0))

    def _invoke(self, qi: int, args: list, depth: int) -> Any:
        name, stages, qargs = self._def_queries[qi]
        self.stats.invocations += 1
        if len(args) != len(qargs):
            raise InvokeError(name, F.EINVAL, f"query {name} takes {len(qargs)} arguments ({', '.join(qargs)}); got {len(args)}")
        if depth > 8:
            raise InvokeError(name, F.EINVAL, "queries invoked from queries nest deeper than 8")
        self._invocations += 1
        inv = _Invocation(depth)
        queues: list = [[] for _ in range(self.tasks)]
        queues[0] = [_Pending(F.ITEM_INVOKE, 0, F.NO_DEPOT, 0, 0, self.clock, E.enc(args), _Root(), 0)]
        n = 0
        while True:
            progressed = False
            for p in range(self.tasks):
                while queues[p]:
                    k = 1 if queues[p][0].kind == F.ITEM_INVOKE else min(len(queues[p]), self.batch_size)
                    items, queues[p] = queues[p][:k], queues[p][k:]
                    progressed = True
                    n += 1
                    if n > self.max_batches:
                        raise InvokeError(name, F.EFAILED, f"the query did not settle after {self.max_batches} batches; does a stage hop in a loop?")
                    c = self._call_batch(qi, p, items, self._invocations, 0, inv)
                    for it, s in zip(items, c.state):
                        out, d = s.outcome, s.detail
                        if s.rejected is not None:
                            out, d = F.OUTCOME_POISON, s.rejected
                        if out != F.OUTCOME_OK:
                            raise InvokeError(name, F.EFAILED, f"stage {stages[it.stage]} on partition {p}: {d.message}")
                        for stage, parts, payload in s.hops:
                            pb = E.enc(payload)
                            for dest in parts:
                                queues[dest].append(_Pending(F.ITEM_HOP, stage, F.NO_DEPOT, p, 0, self.clock, pb, it.root, 0))
            if not progressed:
                return inv.result

    def _invoke_from_stage(self, c: _Call, qi: int, args: Any) -> tuple[int, bytes]:
        """Answer a stage's INVOKE. The stage's call is suspended meanwhile,
        so the query runs on a second instance of the module."""
        if qi >= len(self._def_queries):
            return F.EBADID, f"no query {qi}; the module has {len(self._def_queries)}".encode()
        depth = c.inv.depth + 1 if c.inv is not None else 0
        inner = copy.copy(self)
        inner._call = None
        inner.stats = Stats()
        inner._rnd = _random.Random(self._rnd.getrandbits(64))
        inner._inst = Instance(self.module, _FakeHost(inner))
        inner._run_init(inner._inst, 0)
        try:
            v = inner._invoke(qi, list(args), depth)
        except InvokeError as e:
            return e.code, e.message.encode()
        finally:
            self.stats.batches += inner.stats.batches
            self.stats.items += inner.stats.items
            self.stats.invocations += inner.stats.invocations
            self._invocations = max(self._invocations, inner._invocations)
            self.clock = max(self.clock, inner.clock)
        return F.RESULT_OK, E.enc(v)

    def _commit(self, c: _Call) -> None:
        tname = self._def_topos[c.topology][0]
        for it, st in zip(c.items, c.state):
            out, d = st.outcome, st.detail
            if st.rejected is not None:
                out, d = F.OUTCOME_POISON, st.rejected
            if out == F.OUTCOME_OK:
                for depot, partition, ack, record in st.appends:
                    r = it.root if ack == F.ACK_FULL else _Root()
                    self._append_record(depot, partition, record, r)
                for stage, parts, payload in st.hops:
                    pb = E.enc(payload)
                    for dest in parts:
                        self._queues[c.topology][dest].append(
                            _Pending(F.ITEM_HOP, stage, F.NO_DEPOT, c.partition, 0, self.clock, pb, it.root, it.origin))
                for v in st.emits:
                    it.root.ack_returns[tname] = (v,)
            elif out == F.OUTCOME_POISON:
                self._dead_letter(c, it, d)
            else:
                self.stats.retries += 1
                if it.attempt + 1 >= self.max_attempts:
                    d = ErrorDetail(d.kind, f"{d.message} (after {it.attempt + 1} attempts)", d.stack)
                    self._dead_letter(c, it, d)
                    continue
                nxt = _Pending(it.kind, it.stage, it.depot, it.source_partition, it.offset, it.event_time,
                               it.payload, it.root, it.origin, it.attempt + 1)
                self._queues[c.topology][c.partition].append(nxt)

    def _dead_letter(self, c: _Call, it: _Pending, d: ErrorDetail) -> None:
        tname, stages, _ = self._def_topos[c.topology]
        dl = DeadLetter(tname, stages[it.stage], c.partition, "hop", "", 0, unpackb(it.payload), it.attempt + 1, d)
        if it.kind == F.ITEM_RECORD:
            dl.kind, dl.depot, dl.offset = "record", self._def_depots[it.depot][0], it.offset
        self.dead_letters.append(dl)
        self.stats.dead_letters += 1

    # -- effects

    def _apply(self, c: _Call, index: int, e: F.Effect) -> dict | None:
        op = e.op
        if op == F.OP_DEFINE:
            c.define = bytes(e.body)
            return None
        if op == F.OP_ERROR:
            if c.err_detail is None:
                d = unpackb(e.body)
                c.err_detail = ErrorDetail(d.get("kind", ""), d["message"], d.get("stack", ""))
            return None
        if op == F.OP_LOG:
            line = Log(_LEVELS[e.flags], e.body.decode("utf-8"))
            if not c.init:
                tname, stages = self._topo(c)
                line.topology, line.partition = tname, c.partition
                if e.item != F.NO_ITEM:
                    line.stage = stages[c.items[e.item].stage]
            self.logs.append(line)
            if not self.quiet:
                where = "init" if c.init else f"{line.topology}/{line.partition}" + (f" {line.stage}" if line.stage else "")
                print(f"squall {line.level} {where}: {line.text}")
            return None
        st = c.state[e.item]
        if not st.started:
            st.started, st.undo_mark = True, len(c.undo)
        if st.rejected is not None:
            return None  # the host ignores the effects of a rejected item

        def reject(code: int, msg: str) -> dict:
            st.rejected = ErrorDetail("rejected", f"{F.errno_name(code)}: {msg}")
            c.undo_item(st)
            return {"effect": index, "item": e.item, "code": code, "message": msg}

        if op == F.OP_APPEND:
            if c.inv is not None:
                return reject(F.EINVAL, "query topologies are read-only: APPEND is not allowed")
            if e.target >= len(self._def_depots):
                return reject(F.EBADID, f"no depot {e.target}; the module has {len(self._def_depots)}")
            name, kind, _ = self._def_depots[e.target]
            if kind == "tick":
                return reject(F.EINVAL, f"depot {quote(name)} is a tick depot: only the host appends to it")
            local = bool(e.flags & F.APPEND_LOCAL)
            if kind == "disallow" and not local:
                return reject(F.EINVAL, f"depot {quote(name)} is Disallow: topologies append to it only with Local")
            v = E.internal(unpackb(e.body))
            p = c.partition if local else self._route(e.target, v, c.rnd)
            st.appends.append((e.target, p, e.flags & 3, v))
        elif op == F.OP_HOP:
            tname, stages = self._topo(c)
            if e.target >= len(stages):
                return reject(F.EBADID, f"topology {quote(tname)} has no stage {e.target}")
            body = e.body
            if e.flags == F.HOP_HASH:
                from .._codec import unpack_prefix

                k, pos = unpack_prefix(body, 0)
                parts = [key_partition(k, self.tasks)]
                payload = unpackb(body[pos:])
            elif e.flags == F.HOP_DIRECT:
                part = int.from_bytes(body[:4], "little")
                if part >= self.tasks:
                    return reject(F.EWRONGPART, f"partition {part} does not exist; the module has {self.tasks}")
                parts = [part]
                payload = unpackb(body[4:])
            else:
                payload = unpackb(body)
                if e.flags == F.HOP_ALL:
                    parts = list(range(self.tasks))
                elif e.flags == F.HOP_GLOBAL:
                    parts = [0]
                elif e.flags == F.HOP_ORIGIN:
                    parts = [c.items[e.item].origin]
                else:
                    parts = [c.rnd.randrange(self.tasks)]
            st.hops.append((e.target, parts, E.internal(payload)))
        elif op == F.OP_TRANSFORM:
            if c.inv is not None:
                return reject(F.EINVAL, "query topologies are read-only: TRANSFORM is not allowed")
            if e.target >= len(self._def_pstates):
                return reject(F.EBADID, f"no PState {e.target}; the module has {len(self._def_pstates)}")
            code, msg = self._owner_check(c, e.target)
            if code:
                return reject(code, msg)
            code, msg = self._transform(c, e.target, unpackb(e.body))
            if code:
                return reject(code, msg)
        elif op == F.OP_AGGREGATE:
            code, msg = self._aggregate(c, e)
            if code:
                return reject(code, msg)
        elif op == F.OP_EMIT:
            if e.target == F.EMIT_QUERY_RESULT and c.inv is not None:
                c.inv.result = E.internal(unpackb(e.body))
            elif e.target == F.EMIT_QUERY_RESULT:
                return reject(F.EBADID, "EMIT on QUERY_RESULT is allowed only in a query topology")
            elif e.target != F.EMIT_ACK_RETURN:
                return reject(F.EBADID, f"no emit stream {e.target}; ABI 1.1 has 0 (ACK_RETURN) and 1 (QUERY_RESULT)")
            elif c.inv is not None:
                return reject(F.EINVAL, "a query topology has no ack return; set its result (QUERY_RESULT)")
            else:
                st.emits.append(E.internal(unpackb(e.body)))
        elif op == F.OP_OUTCOME:
            st.closed, st.outcome = True, e.flags
            if e.flags != F.OUTCOME_OK:
                d = unpackb(e.body)
                st.detail = ErrorDetail(d.get("kind", ""), d["message"], d.get("stack", ""))
                c.undo_item(st)
        return None

    def _owner_check(self, c: _Call, pi: int) -> tuple[int, str]:
        """The PState ownership rule of ABI.md §15.2."""
        name, owner, tname = self._def_pstates[pi][0], self._owners[pi], self._def_topos[c.topology][0]
        if owner and owner != tname:
            return F.EINVAL, f"PState {quote(name)} is owned by topology {quote(owner)}; topology {quote(tname)} may read it but not write it"
        if not owner and self._kinds[c.topology] == "microbatch":
            return F.EINVAL, (f"microbatch topology {quote(tname)} may write only the PStates it owns, and PState {quote(name)} "
                              "has no owner; declare it with Topology.pstate")
        return 0, ""

    def _aggregate(self, c: _Call, e: F.Effect) -> tuple[int, str]:
        """Apply an AGGREGATE: into the query result, or read, combine and
        set in a PState."""
        from .._codec import unpack_prefix

        keys, pos = unpack_prefix(e.body, 0)
        v, pos = unpack_prefix(e.body, pos)
        n = unpackb(e.body[pos:]) if e.flags == F.AGG_TOP_N else 0
        keys, v = [E.internal(k) for k in keys], E.internal(v)
        if e.target == F.QUERY_RESULT_TARGET:
            if c.inv is None:
                return F.EBADID, "AGGREGATE into the query result (target 0xFFFF) is allowed only in a query topology"
            try:
                c.inv.result = aggregate_at(c.inv.result, keys, e.flags, v, n)
            except AggregateError as err:
                return F.EINVAL, str(err)
            return 0, ""
        if c.inv is not None:
            return F.EINVAL, "query topologies are read-only: AGGREGATE into a PState is not allowed; aggregate into the result"
        pi = e.target
        if pi >= len(self._def_pstates):
            return F.EBADID, f"no PState {pi}; the module has {len(self._def_pstates)}"
        code, msg = self._owner_check(c, pi)
        if code:
            return code, msg
        name, schema, _ = self._def_pstates[pi]
        if not keys and schema.typ == "map":
            return F.EPATH, f"PState {quote(name)} is a map: the key path of an AGGREGATE starts with its top-level key"
        p = _empty_path()
        for k in keys:
            p = p.key(E.export(k))
        try:
            steps, text = E.path_steps(p.value(), SELECT)
        except E.EnginePathError as err:
            return F.EPATH, f"PState {quote(name)}: {err}"
        code, msg = self._partition_check(c, pi, steps)
        if code:
            return code, msg
        try:
            vs = self._pstates[pi][c.partition].select(steps, text)
        except E.EnginePathError as err:
            if e.flags not in (F.AGG_LIST, F.AGG_SET, F.AGG_MAP):
                return F.EPATH, f"PState {quote(name)}: {err}"
            # A subindexed collection is not read whole: the host appends
            # to it (or sets the key) in place, and so does the harness.
            try:
                check_value(e.flags, v, n)
            except AggregateError as err2:
                return F.EINVAL, str(err2)
            xp = p.key(E.export(v[0])).set(E.export(v[1])) if e.flags == F.AGG_MAP else p.append(E.export(v))
            return self._transform(c, pi, xp.value())
        try:
            nv = aggregate(e.flags, vs[0] if len(vs) == 1 else None, v, n)
        except AggregateError as err:
            return F.EINVAL, str(err)
        return self._transform(c, pi, p.set(E.export(nv)).value())

    def _partition_check(self, c: _Call, pi: int, steps: list) -> tuple[int, str]:
        name, schema, is_global = self._def_pstates[pi]
        if is_global:
            if c.partition != 0:
                return F.EWRONGPART, f"PState {quote(name)} is global: it lives on partition 0, not {c.partition}; hop there first (HopGlobal)"
            return 0, ""
        k, ok = E.first_key(steps)
        if ok and schema.typ == "map":
            p = key_partition(E.export(k), self.tasks)
            if p != c.partition:
                return F.EWRONGPART, f"key {E.short(k)} belongs to partition {p}, not {c.partition}; hop there first"
        return 0, ""

    def _transform(self, c: _Call, pi: int, path: Any) -> tuple[int, str]:
        name = self._def_pstates[pi][0]
        try:
            steps, text = E.path_steps(path, TRANSFORM)
        except E.EnginePathError as e:
            return F.EPATH, f"PState {quote(name)}: {e}"
        code, msg = self._partition_check(c, pi, steps)
        if code:
            return code, msg
        try:
            undo = self._pstates[pi][c.partition].transform(steps, text)
        except E.EnginePathError as e:
            return (F.ESCHEMA if e.schema else F.EPATH), f"PState {quote(name)}: {e}"
        c.undo.append(undo)
        return 0, ""

    def _run_query(self, c: _Call, op: int, pi: int, path: Any) -> tuple[int, bytes]:
        if op == F.QUERY_INVOKE:
            return self._invoke_from_stage(c, pi, path)
        if pi >= len(self._def_pstates):
            return F.EBADID, f"no PState {pi}; the module has {len(self._def_pstates)}".encode()
        name = self._def_pstates[pi][0]
        try:
            steps, text = E.path_steps(path, SELECT)
        except E.EnginePathError as e:
            return F.EPATH, f"PState {quote(name)}: {e}".encode()
        code, msg = self._partition_check(c, pi, steps)
        if code:
            return code, msg.encode()
        try:
            vs = self._pstates[pi][c.partition].select(steps, text)
        except E.EnginePathError as e:
            return F.EPATH, f"PState {quote(name)}: {e}".encode()
        if op == F.QUERY_SELECT:
            return F.RESULT_OK, E.enc(vs)
        if not vs:
            return F.RESULT_NOT_FOUND, b""
        if len(vs) == 1:
            return F.RESULT_OK, E.enc(vs[0])
        return F.EMULTI, f"SELECT_ONE navigated to {len(vs)} values".encode()

    # -- inspection

    @property
    def partitions(self) -> int:
        return self.tasks

    def depot(self, name: str, partition: int) -> list:
        """The records of one partition of a depot, in order."""
        di = self._depot_index(name)
        self._check_partition(partition)
        return [E.export(v) for v in self._depots[di][partition]]

    def pstate(self, name: str, partition: int) -> Any:
        """The whole content of one partition of a PState (for a top-level
        map, the map of its keys; None when empty)."""
        pi = self._pstate_index(name)
        self._check_partition(partition)
        return E.export(self._pstates[pi][partition].value())

    def select(self, pstate: str, path: Path) -> list:
        """Select on the partition that owns the path's first key (as a
        client's select does)."""
        pi = self._pstate_index(pstate)
        return self.select_partition(pstate, self._client_partition(pi, path), path)

    def select_one(self, pstate: str, path: Path, *default: Any) -> Any:
        """The one value the path navigates to; ``default`` (if given) when
        it navigates to nothing."""
        vs = self.select(pstate, path)
        if not vs:
            if default:
                return default[0]
            raise HarnessError(f"select_one {pstate} {path}: the path navigated to no value")
        if len(vs) > 1:
            raise HarnessError(f"select_one {pstate} {path} navigated to {len(vs)} values")
        return vs[0]

    def select_partition(self, pstate: str, partition: int, path: Path) -> list:
        """Select on one partition of a PState."""
        pi = self._pstate_index(pstate)
        self._check_partition(partition)
        try:
            steps, text = E.path_steps(path.value(), SELECT)
            vs = self._pstates[pi][partition].select(steps, text)
        except E.EnginePathError as e:
            raise HarnessError(f"select {pstate}: {e}") from None
        return [E.export(v) for v in vs]

    def _client_partition(self, pi: int, path: Path) -> int:
        name, schema, is_global = self._def_pstates[pi]
        if is_global:
            return 0
        try:
            steps, _ = E.path_steps(path.value(), SELECT)
        except E.EnginePathError as e:
            raise HarnessError(f"select {name}: {e}") from None
        k, ok = E.first_key(steps)
        if ok and schema.typ == "map":
            return key_partition(E.export(k), self.tasks)
        if self.tasks == 1:
            return 0
        raise HarnessError(f"select {name} {path}: the path does not start with a key of the top-level map, "
                           "so it names no partition; use select_partition")

    def key_partition(self, key: Any) -> int:
        """The partition that owns ``key``."""
        return key_partition(key, self.tasks)


_ = Callable
