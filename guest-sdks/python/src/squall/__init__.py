"""Squall for Python: write Squall modules — depots, PStates and stream
topologies whose stages are ordinary Python functions — that a Squall server
runs in WebAssembly (CPython on WASI).

A module is a Python file that declares a :class:`Module` at import time::

    import re
    import squall

    app = squall.Module("wordcount")
    sentences = app.depot("sentences", squall.hash_by(squall.key("user")))
    word_counts = app.pstate("$$wordCounts", squall.map_of(squall.STRING, squall.INT))
    wordcount = app.stream("wordcount")

    @wordcount.stage()
    def split(ctx: squall.Ctx, sentence: dict) -> None:
        words = re.findall(r"[^\\W_]+", sentence.get("text", "").lower())
        for w in words:
            ctx.hop(count, w, w)      # count each word where it lives
        ctx.emit(len(words))          # the ack return

    @wordcount.stage()
    def count(ctx: squall.Ctx, word: str) -> None:
        ctx.transform(word_counts, squall.key(word).incr(1))

    wordcount.source(sentences, split)

Stages get a :class:`Ctx` and the item's input, a plain Python value (None,
bool, int, float, str, bytes, list, dict, set; see ``squall._codec`` for the
exact mapping). Through the ctx a stage appends to depots, hops to other
stages (by key, to all partitions, global, origin, shuffle, direct), reads
(:meth:`Ctx.select`, :meth:`Ctx.select_one`) and writes
(:meth:`Ctx.transform`) its partition of PStates with :class:`Path` s, emits
an ack return and logs. An exception fails the item and discards its
effects: :class:`Poison` dead-letters it at once, anything else retries it
(up to the host's limit). The effects of an item commit atomically with its
progress.

ABI 1.1 adds microbatch topologies (:meth:`Module.microbatch`: numbered
microbatches over every partition, all or nothing, exactly once), PStates a
topology owns (:meth:`Topology.pstate`), aggregation (:meth:`Ctx.aggregate`
with :class:`Agg`), query topologies (:meth:`Module.query`, run by clients
or :meth:`Ctx.invoke`; their stages :meth:`Ctx.set_result` or
:meth:`Ctx.aggregate_result`) and tick depots (:meth:`Module.tick_depot`).

``squall.testing`` runs a module under pytest on ordinary CPython, with an
in-memory host that has the real host's semantics.

Global variables live in one instance, not in a partition, and the host
discards instances at any time: keep state in PStates.
"""

from ._agg import Agg
from ._codec import DecodeError, EncodeError, FrozenMap, ValueSet, packb, unpackb
from ._defcheck import DefinitionError, check_definition
from ._errors import (
    HostFailure, InputError, InvokeError, NotFound, Poison, QueryError, RejectedError, Retry, SquallError,
)
from ._module import (
    Depot, Module, Partitioner, PState, Query, Stage, Topology, disallow, hash_by, hash_record,
    random_partition,
)
from ._partition import hash_key, key_partition
from ._path import SELECT, TRANSFORM, Path, PathError, key, parse_path, path
from ._runtime import ACK, APPEND_ACK, NO_ACK, Ctx
from ._text import quote
from ._schema import ANY, BOOL, BYTES, FLOAT, INT, STRING, Schema, list_of, map_of, record_of, set_of

__version__ = "0.1.0"
ABI_VERSION = (1, 1)

__all__ = [
    "ABI_VERSION", "ACK", "Agg", "ANY", "APPEND_ACK", "BOOL", "BYTES", "Ctx", "DecodeError",
    "DefinitionError", "Depot", "EncodeError", "FLOAT", "FrozenMap", "HostFailure", "INT",
    "InputError", "InvokeError", "Module", "NO_ACK", "NotFound", "PState", "Partitioner", "Path", "PathError",
    "Poison", "Query", "QueryError", "RejectedError", "Retry", "SELECT", "STRING", "Schema",
    "SquallError", "Stage", "TRANSFORM", "Topology", "ValueSet", "check_definition", "disallow",
    "hash_by", "hash_key", "hash_record", "key", "key_partition", "list_of", "map_of", "packb",
    "parse_path", "path", "quote", "random_partition", "record_of", "set_of", "unpackb",
]
