"""Module definitions: depots, PStates, stream topologies and their stages."""

from __future__ import annotations

import types

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing only for type checkers: every instance start imports this module
    from typing import Any, Callable

from ._codec import packb
from ._defcheck import DefinitionError, definition_problems
from ._path import Path, PathError, SELECT
from ._schema import Schema
from ._text import quote

__all__ = [
    "Module", "Depot", "PState", "Topology", "Query", "Stage", "Partitioner",
    "hash_by", "hash_record", "random_partition", "disallow", "modules",
]


# Every Module created, in order: the wasm runtime and the test harness find
# the module of an entry file here when it has no obvious name.
_modules: list = []


def modules() -> list:
    """The :class:`Module` s created so far in this interpreter, in order."""
    return list(_modules)


class Partitioner:
    """How a depot routes records appended from outside a topology (and
    ``ctx.append`` without ``local``) to a partition. Use
    :func:`hash_by`, :func:`hash_record`, :func:`random_partition` or
    :func:`disallow`."""

    __slots__ = ("kind", "key", "millis")

    def __init__(self, kind: str, key: Path | None = None, millis: int = 0) -> None:
        self.kind = kind
        self.key = key
        self.millis = millis  # the period of a tick depot (ABI 1.1)

    def __repr__(self) -> str:
        return f"Partitioner({self.kind!r}{', ' + str(self.key) if self.key is not None else ''})"


def hash_by(key: Path) -> Partitioner:
    """Route a record to the partition that owns a key selected from it by a
    select path: ``hash_by(squall.key("user"))`` routes ``{"user": "bob",
    ...}`` by ``"bob"``. The first value the path reaches is the key (None
    when none)."""
    if not isinstance(key, Path):
        raise TypeError(f"squall: hash_by takes a Path such as squall.key(\"user\"), not {type(key).__name__}")
    return Partitioner("hash", key)


def hash_record() -> Partitioner:
    """Route a record by the hash of the whole record."""
    return Partitioner("hash")


def random_partition() -> Partitioner:
    """Route each record to a random partition."""
    return Partitioner("random")


def disallow() -> Partitioner:
    """Refuse appends from clients: only topologies append, with
    ``local=True``."""
    return Partitioner("disallow")


class Depot:
    """A declared depot: a durable, partitioned, append-only log of records
    of type ``T``. Topologies read it through :meth:`Topology.source`;
    stages append to it with ``ctx.append``."""

    __slots__ = ("name", "index", "partitioner", "module")
    # Depot[Record] in annotations, like a generic class.
    __class_getitem__ = classmethod(types.GenericAlias)

    def __init__(self, name: str, index: int, partitioner: Partitioner, module: "Module") -> None:
        self.name = name
        self.index = index
        self.partitioner = partitioner
        self.module = module

    def __repr__(self) -> str:
        return f"Depot({self.name!r})"


class PState:
    """A declared PState: a durable, partitioned index with a schema, read
    with ``ctx.select`` / ``ctx.select_one`` and written with
    ``ctx.transform``."""

    __slots__ = ("name", "index", "schema", "is_global", "module", "owner")
    __class_getitem__ = classmethod(types.GenericAlias)

    def __init__(self, name: str, index: int, schema: Schema, is_global: bool, module: "Module",
                 owner: "Topology | None" = None) -> None:
        self.name = name
        self.index = index
        self.schema = schema
        self.is_global = is_global
        self.module = module
        self.owner = owner  # the one topology that may write it (ABI 1.1), or None

    def __repr__(self) -> str:
        return f"PState({self.name!r}, {self.schema})"


StageFn = "Callable[..., Any]"  # a stage: fn(ctx, input)

# Code flags of functions that do not run when called (inspect's values).
_CO_GENERATOR, _CO_COROUTINE, _CO_ASYNC_GENERATOR = 0x20, 0x80, 0x200


class Stage:
    """A named step of a topology: a function ``fn(ctx, input)`` run for
    each depot record of its sources and each hop sent to it. Calling the
    Stage calls the function (handy in unit tests)."""

    __slots__ = ("name", "index", "topology", "fn", "convert", "__wrapped__")
    __class_getitem__ = classmethod(types.GenericAlias)

    def __init__(self, name: str, index: int, topology: "Topology", fn: StageFn, input: Any = None) -> None:
        self.name = name
        self.index = index
        self.topology = topology
        self.fn = fn
        self.convert, problem = _input_converter(fn, input) if callable(fn) else (None, "")
        flags = getattr(getattr(fn, "__code__", None), "co_flags", 0)
        if flags & (_CO_COROUTINE | _CO_ASYNC_GENERATOR | _CO_GENERATOR):
            problem = (f"stage {quote(name)} is an async function or a generator; a stage is an ordinary "
                       "function that returns when its item is done")
        if problem:
            topology.module._misused(f"{topology._section}[{topology.index}].stages[{index}]", problem)
        self.__wrapped__ = fn

    def __call__(self, ctx: Any, input: Any) -> Any:
        return self.fn(ctx, input)

    def __repr__(self) -> str:
        return f"Stage({self.topology.name}.{self.name})"


class _Stages:
    """What topologies and queries share: named stages."""

    __slots__ = ("name", "index", "module", "stages")
    _section = "topologies"

    def __init__(self, name: str, index: int, module: "Module") -> None:
        self.name = name
        self.index = index
        self.module = module
        self.stages: list = []

    def stage(self, name: "str | StageFn | None" = None, *, source: "Depot | None" = None, input: Any = None) -> Any:
        """Declare a stage; use it as a decorator::

            @topology.stage()            # named after the function
            def split(ctx, sentence): ...

            @topology.stage("count", source=words)
            def count_word(ctx, word): ...

        The order of declarations gives the stage ids, so it must depend on
        nothing but the code. A stage may hop to a stage declared after it:
        names are looked up when the stage runs. ``source`` also makes the
        depot's records start at this stage (:meth:`source`).

        If the function's input parameter is annotated with a dataclass (or
        ``input`` names one), the input map is converted to it (missing
        fields take their defaults; an input that does not fit poisons the
        item).
        """
        if callable(name) and not isinstance(name, str):
            return self.stage()(name)

        def deco(fn: StageFn) -> Stage:
            if not callable(fn):
                self.module._misused(f"{self._section}[{self.index}].stages[{len(self.stages)}]",
                                     f"stage {quote(str(name))} has no function")
            n = name if isinstance(name, str) else getattr(fn, "__name__", "")
            s = Stage(n, len(self.stages), self, fn, input)
            self.stages.append(s)
            self.module._changed()
            if source is not None:
                if not isinstance(self, Topology):
                    self.module._misused(f"{self._section}[{self.index}].stages[{s.index}]",
                                         "a query has no sources: its first stage runs when it is invoked")
                else:
                    self.source(source, s)
            return s

        return deco


# Where a source starts when its topology has no progress yet (ABI 1.1).
START_BEGINNING, START_END = "beginning", "end"


class Topology(_Stages):
    """A declared stream or microbatch topology: named stages that run for
    each record of its source depots, and for each hop sent to them.
    Declare stages with the :meth:`stage` decorator and start them with
    :meth:`source`.

    A stream topology processes records one by one, at least once. A
    microbatch topology (:meth:`Module.microbatch`) processes them in
    numbered microbatches across every partition, all or nothing: every
    record's effects are applied exactly once, and a microbatch becomes
    visible at once on every partition."""

    __slots__ = ("sources", "kind", "max_records", "interval_ms")

    def __init__(self, name: str, index: int, module: "Module", kind: str = "stream",
                 max_records: int | None = None, interval_ms: int = 0) -> None:
        super().__init__(name, index, module)
        self.sources: list = []
        self.kind = kind
        self.max_records = max_records
        self.interval_ms = interval_ms

    def pstate(self, name: str, schema: Schema, *, is_global: bool = False) -> PState:
        """Declare a PState that only this topology writes (its ``owner``,
        ABI 1.1). A microbatch topology writes only the PStates it owns;
        every topology and query reads every PState."""
        return self.module._pstate(name, schema, is_global, self)

    def source(self, depot: Depot, stage: Stage, *, start_from: "str | int" = START_BEGINNING) -> None:
        """Make every record appended to ``depot`` start at ``stage``.

        ``start_from`` says where the topology starts reading the depot on
        its first deploy (it is ignored once it has progress):
        ``"beginning"`` (the default: every record still stored), ``"end"``
        (only records appended after the deploy) or an offset (an int >= 0).
        """
        w = f"topologies[{self.index}].sources[{len(self.sources)}]"
        if start_from not in (START_BEGINNING, START_END) and not (type(start_from) is int and start_from >= 0):
            self.module._misused(w + ".start_from", f"use \"beginning\", \"end\" or an offset (an int >= 0), not {start_from!r}")
        if not isinstance(depot, Depot):
            self.module._misused(w + ".depot", f"the depot is {type(depot).__name__}, not a Depot")
        elif depot.module is not self.module:
            self.module._misused(w + ".depot", f"depot {quote(depot.name)} was declared by another Module")
        if not isinstance(stage, Stage):
            self.module._misused(w + ".stage", f"the stage is {type(stage).__name__}, not a Stage")
        elif stage.topology is not self:
            self.module._misused(w + ".stage", f"stage {quote(stage.name)} belongs to topology {quote(stage.topology.name)}; "
                                 "a source starts a stage of its own topology")
        self.sources.append((depot, stage, start_from))
        self.module._changed()

    def __repr__(self) -> str:
        return f"Topology({self.name!r})"


class Query(_Stages):
    """A declared query topology (ABI 1.1): an on-demand, read-only
    computation over the PStates of every partition. It takes the declared
    arguments (clients call it with ``squall query``; stages with
    :meth:`Ctx.invoke <squall.Ctx.invoke>`), reads one consistent snapshot,
    and returns a result. Its first stage is the entry: it runs with the
    argument list on some partition and hops where the data lives; stages
    set the result with :meth:`Ctx.set_result <squall.Ctx.set_result>` or
    aggregate into it with :meth:`Ctx.aggregate_result
    <squall.Ctx.aggregate_result>`."""

    __slots__ = ("args",)
    _section = "queries"

    def __init__(self, name: str, index: int, module: "Module", args: tuple) -> None:
        super().__init__(name, index, module)
        self.args = args

    def __repr__(self) -> str:
        return f"Query({self.name!r})"


class Module:
    """A Squall module: depots, PStates and stream topologies. Create one
    at the top level of the module's entry file; the declarations run when
    the file is imported, in every instance, and must declare the same
    module every time::

        app = squall.Module("wordcount")
        sentences = app.depot("sentences", squall.hash_by(squall.key("user")))
        counts = app.pstate("$$counts", squall.map_of(squall.STRING, squall.INT))
        wordcount = app.stream("wordcount")

        @wordcount.stage()
        def split(ctx, sentence): ...

    Global variables live in one instance, not in a partition, and the host
    discards instances at any time: keep state in PStates.
    """

    def __init__(self, name: str = "") -> None:
        self.name = name
        self.depots: list = []
        self.pstates: list = []
        self.topologies: list = []
        self.queries: list = []
        self._misuse: list = []
        self._built: bytes | None = None
        _modules.append(self)

    def _misused(self, where: str, msg: str) -> None:
        self._misuse.append((where, msg))

    def _changed(self) -> None:
        self._built = None

    def depot(self, name: str, partitioner: Partitioner | None = None) -> Depot:
        """Declare a depot; ``partitioner`` defaults to :func:`hash_record`."""
        p = partitioner if partitioner is not None else hash_record()
        d: Depot = Depot(name, len(self.depots), p, self)
        if not isinstance(p, Partitioner):
            self._misused(f"depots[{d.index}].partitioner", f"use squall.hash_by(...), hash_record(), random_partition() or disallow(), not {type(p).__name__}")
            d.partitioner = hash_record()
        elif p.key is not None and p.key.error is not None:
            self._misused(f"depots[{d.index}].partitioner.key", str(p.key.error).removeprefix("squall: "))
        self.depots.append(d)
        self._changed()
        return d

    def tick_depot(self, name: str, millis: "int | Any") -> Depot:
        """Declare a tick depot (ABI 1.1): while the module runs, the host
        appends the current time (int Unix milliseconds) to its partition 0
        every ``millis`` milliseconds (an int, or a
        :class:`datetime.timedelta`). Topologies read it like any depot;
        nobody else may append to it."""
        if hasattr(millis, "total_seconds"):
            millis = round(millis.total_seconds() * 1000)
        d = self.depot(name, Partitioner("tick", millis=millis))
        if type(millis) is not int or not 1 <= millis <= 86_400_000:
            self._misused(f"depots[{d.index}].partitioner.millis",
                          f"the tick period must be from 1 to 86400000 milliseconds, not {millis!r}")
            d.partitioner.millis = 1
        return d

    def pstate(self, name: str, schema: Schema, *, is_global: bool = False) -> PState:
        """Declare a PState. Names conventionally start with ``$$``.
        ``is_global=True`` keeps it on partition 0 only (stages reach it
        after ``ctx.hop_global``). Any stream topology may write it; a
        PState of a microbatch topology is declared with
        :meth:`Topology.pstate`."""
        return self._pstate(name, schema, is_global, None)

    def _pstate(self, name: str, schema: Schema, is_global: bool, owner: "Topology | None") -> PState:
        p: PState = PState(name, len(self.pstates), schema, is_global, self, owner)
        if not isinstance(schema, Schema):
            self._misused(f"pstates[{p.index}].schema", f"use a Schema (squall.map_of(...), squall.INT, ...), not {type(schema).__name__}")
        self.pstates.append(p)
        self._changed()
        return p

    def stream(self, name: str) -> Topology:
        """Declare a stream topology: records are processed one by one, at
        least once, their effects committed atomically with the progress."""
        t = Topology(name, len(self.topologies), self)
        self.topologies.append(t)
        self._changed()
        return t

    def microbatch(self, name: str, *, max_records: int | None = None, interval_ms: int = 0) -> Topology:
        """Declare a microbatch topology (ABI 1.1): records are processed in
        numbered microbatches over every partition, all or nothing, so every
        record's effects are applied exactly once and become visible
        together on every partition. ``max_records`` bounds the records of
        each source and partition in one microbatch (default 1000);
        ``interval_ms`` is the least time between the starts of two
        microbatches (default 0: as soon as there are records). It writes
        only the PStates it declares with :meth:`Topology.pstate`."""
        t = Topology(name, len(self.topologies), self, "microbatch", max_records, interval_ms)
        w = f"topologies[{t.index}]"
        if max_records is not None and (type(max_records) is not int or not 1 <= max_records <= 1_000_000):
            self._misused(w + ".max_records", f"must be from 1 to 1000000, not {max_records!r}")
            t.max_records = None
        if type(interval_ms) is not int or not 0 <= interval_ms <= 3_600_000:
            self._misused(w + ".interval_ms", f"must be from 0 to 3600000, not {interval_ms!r}")
            t.interval_ms = 0
        self.topologies.append(t)
        self._changed()
        return t

    def query(self, name: str, *args: str) -> Query:
        """Declare a query topology (ABI 1.1) taking the named arguments::

            account = app.query("account", "id", "limit")

            @account.stage()
            def start(ctx, args):          # the entry stage: args is the list
                ctx.hop(read, args[0], args)
        """
        q = Query(name, len(self.queries), self, tuple(args))
        self.queries.append(q)
        self._changed()
        return q

    def uses_abi_1_1(self) -> bool:
        """Whether the definition uses anything of ABI 1.1 (a tick depot, a
        microbatch topology, an owned PState, a source start, a query)."""
        return bool(self.queries) or any(d.partitioner.kind == "tick" for d in self.depots) or any(
            p.owner is not None for p in self.pstates) or any(
            t.kind != "stream" or any(s[2] != START_BEGINNING for s in t.sources) for t in self.topologies)

    def definition(self) -> dict:
        """The ABI form of the definition (abi/ABI.md §5), defaults
        omitted."""
        d: dict = {}
        if self.name:
            d["name"] = self.name
        depots = []
        for dp in self.depots:
            part: dict = {"kind": dp.partitioner.kind}
            k = dp.partitioner.key
            if k is not None and len(k) > 0 and k.error is None:
                part["key"] = k.value()
            if dp.partitioner.kind == "tick":
                part["millis"] = dp.partitioner.millis
            depots.append({"name": dp.name, "partitioner": part})
        pstates = []
        for ps in self.pstates:
            e: dict = {"name": ps.name, "schema": ps.schema.value() if isinstance(ps.schema, Schema) else None}
            if ps.is_global:
                e["global"] = True
            if ps.owner is not None:
                e["owner"] = ps.owner.name
            pstates.append(e)
        topos = []
        for t in self.topologies:
            srcs = []
            for dp, st, start in t.sources:
                src = {"depot": getattr(dp, "name", ""), "stage": getattr(st, "name", "")}
                if start != START_BEGINNING:
                    src["start_from"] = start
                srcs.append(src)
            te = {"name": t.name, "kind": t.kind, "sources": srcs, "stages": [s.name for s in t.stages]}
            if t.max_records is not None and t.max_records != 1000:
                te["max_records"] = t.max_records
            if t.interval_ms:
                te["interval_ms"] = t.interval_ms
            topos.append(te)
        d["depots"] = depots
        d["pstates"] = pstates
        d["topologies"] = topos
        if self.queries:
            qs = []
            for q in self.queries:
                qe: dict = {"name": q.name, "stages": [s.name for s in q.stages]}
                if q.args:
                    qe["args"] = list(q.args)
                qs.append(qe)
            d["queries"] = qs
        return d

    def check(self) -> None:
        """Check the definition as the host does at deploy; raise
        :class:`DefinitionError` listing every problem."""
        self.build()

    def build(self) -> bytes:
        """Check the definition and return its canonical encoding."""
        if self._built is None:
            v = self.definition()
            p = definition_problems(v, self._misuse)
            err = p.error()
            if err is not None:
                raise err
            self._built = packb(v)
        return self._built

    def __repr__(self) -> str:
        return f"Module({self.name!r})"


# ---------------------------------------------------------------- inputs


def _input_converter(fn: Any, explicit: Any = None) -> tuple[Callable[[Any], Any] | None, str]:
    """A converter from the decoded input to the dataclass the stage's input
    parameter is annotated with (or ``explicit``), or None; and a problem,
    or "", when the annotation names something that cannot be found."""
    ann = explicit
    if ann is None:
        # The second positional parameter's annotation, read from the code
        # object (inspect is a heavy import for every instance start).
        code = getattr(fn, "__code__", None)
        if code is None or code.co_argcount < 2:
            return None, ""
        ann = getattr(fn, "__annotations__", {}).get(code.co_varnames[1])
        if ann is None:
            return None, ""
        if isinstance(ann, str):
            # With "from __future__ import annotations" annotations are
            # strings: resolve this one in the function's globals.
            try:
                ann = eval(ann, getattr(fn, "__globals__", {}))  # noqa: S307 - the user's own annotation
            except Exception:
                return None, (f"the input annotation {ann!r} of {getattr(fn, '__qualname__', fn)!r} cannot be resolved "
                              "(a class defined inside a function?); declare it at module level or pass "
                              "input=<dataclass> to stage()")
    if isinstance(ann, type) and hasattr(ann, "__dataclass_fields__"):
        return _converter(ann), ""
    if explicit is not None:
        return None, f"input={explicit!r} is not a dataclass"
    return None, ""


_SIMPLE = {str: "string", int: "int", float: "float", bool: "bool", bytes: "bytes"}


def from_value(cls: type, v: Any) -> Any:
    """Build the dataclass ``cls`` from a map: each field from the entry of
    its name (missing or None: its default). Fields annotated str, int,
    float, bool or bytes must hold that kind (an int is accepted for a
    float); an input that does not fit raises :class:`~squall.InputError`."""
    return _converter(cls)(v)


_converters: dict = {}


def _converter(cls: type) -> Callable[[Any], Any]:
    conv = _converters.get(cls)
    if conv is not None:
        return conv
    import dataclasses
    import sys

    from ._errors import InputError
    from ._frames import type_name

    scope = dict(vars(sys.modules[cls.__module__])) if cls.__module__ in sys.modules else {}

    def field_type(t: Any) -> Any:
        if isinstance(t, str):  # "from __future__ import annotations"
            try:
                return eval(t, scope)  # noqa: S307 - the user's own annotation
            except Exception:
                return None
        return t

    fields = [(f.name, field_type(f.type)) for f in dataclasses.fields(cls) if f.init]
    name = cls.__name__

    def convert(v: Any) -> Any:
        if not hasattr(v, "items"):
            raise InputError(f"squall: input: want a map for {name}, got {type_name(v)}")
        kw = {}
        for fname, t in fields:
            x = v.get(fname)
            if x is None:
                continue
            if t in _SIMPLE and type(x) is not t:
                if t is float and type(x) is int:
                    x = float(x)
                else:
                    raise InputError(f"squall: input: field {fname!r} of {name} must be {_SIMPLE[t]}, not {type_name(x)}")
            kw[fname] = x
        try:
            return cls(**kw)
        except TypeError as e:
            raise InputError(f"squall: input: cannot build {name}: {e}") from None

    _converters[cls] = convert
    return convert


_ = (PathError, SELECT, DefinitionError)
