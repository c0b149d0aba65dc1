"""Frames of the Squall guest ABI v1 (abi/ABI.md §6): constants, the decoders
of the frames a guest reads (init, batch, response) and the encoders of the
frames it writes (effects, query). The test harness also uses the encoders
of init/batch/response and the decoders of effects/query here, so both sides
of the boundary are checked against ``abi/testdata/frames``.

Control data is little-endian with no padding; every reserved field must be
zero (§4.1). Decoders check every length before using it and never raise
anything but :class:`FrameError`.
"""

from __future__ import annotations

import struct
from collections import namedtuple

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing only for type checkers: every instance start imports this module
    from typing import Any

from ._codec import DecodeError, packb, unpack_prefix, unpackb

FRAME_VERSION = 1
KIND_INIT, KIND_BATCH, KIND_EFFECTS, KIND_QUERY, KIND_RESPONSE = 1, 2, 3, 4, 5
KIND_NAMES = {1: "init", 2: "batch", 3: "effects", 4: "query", 5: "response"}
UNIT_NAMES = {2: "item", 3: "effect", 4: "query", 5: "result"}

INIT_SIZE = 32
BATCH_HEADER = 48
ITEM_HEADER = 32
FRAME_HEADER = 8
EFFECT_HEADER = 12
QUERY_HEADER = 8
RESULT_HEADER = 8

INIT_DESCRIBE = 1
ITEM_RECORD, ITEM_HOP, ITEM_INVOKE = 1, 2, 3
ITEM_NAMES = {1: "RECORD", 2: "HOP", 3: "INVOKE"}
BATCH_QUERY = 1  # batch flag (1.1): the batch belongs to a query invocation
QUERY_RESULT_TARGET = 0xFFFF  # AGGREGATE target (1.1): the query result
NO_DEPOT = 0xFFFF
NO_ITEM = 0xFFFFFFFF

OP_APPEND, OP_HOP, OP_TRANSFORM, OP_EMIT, OP_LOG, OP_OUTCOME, OP_DEFINE, OP_ERROR, OP_AGGREGATE = range(1, 10)
OP_NAMES = {1: "APPEND", 2: "HOP", 3: "TRANSFORM", 4: "EMIT", 5: "LOG", 6: "OUTCOME", 7: "DEFINE", 8: "ERROR", 9: "AGGREGATE"}
ACK_NONE, ACK_APPEND, ACK_FULL = 0, 1, 2
APPEND_LOCAL = 4
HOP_HASH, HOP_ALL, HOP_GLOBAL, HOP_ORIGIN, HOP_SHUFFLE, HOP_DIRECT = range(1, 7)
HOP_NAMES = {1: "HASH", 2: "ALL", 3: "GLOBAL", 4: "ORIGIN", 5: "SHUFFLE", 6: "DIRECT"}
EMIT_ACK_RETURN, EMIT_QUERY_RESULT = 0, 1
AGG_COUNT, AGG_SUM, AGG_MIN, AGG_MAX, AGG_SET, AGG_LIST, AGG_MAP, AGG_TOP_N = range(1, 9)
AGG_NAMES = {1: "COUNT", 2: "SUM", 3: "MIN", 4: "MAX", 5: "SET", 6: "LIST", 7: "MAP", 8: "TOP_N"}
LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR = 0, 1, 2, 3
OUTCOME_OK, OUTCOME_POISON, OUTCOME_RETRY = 0, 1, 2
QUERY_SELECT, QUERY_SELECT_ONE, QUERY_INVOKE = 1, 2, 3
RESULT_OK, RESULT_NOT_FOUND = 0, 1

STATUS_OK, STATUS_FAILED = 0, 1

EINVAL, ENOENT, EBADID, ETOOBIG, EWRONGPART = -1, -2, -3, -4, -5
EQUOTA, ESTATE, EINTERNAL, EPATH, ESCHEMA, EMULTI, ETIMEDOUT, EFAILED = -6, -7, -8, -9, -10, -11, -12, -13
ERRNO_NAMES = {
    -1: "EINVAL", -2: "ENOENT", -3: "EBADID", -4: "ETOOBIG", -5: "EWRONGPART", -6: "EQUOTA",
    -7: "ESTATE", -8: "EINTERNAL", -9: "EPATH", -10: "ESCHEMA", -11: "EMULTI", -12: "ETIMEDOUT", -13: "EFAILED",
}

MAX_BATCH_FRAME = 64 << 20
MAX_EFFECTS_FRAME = 16 << 20
MAX_QUERY_FRAME = 1 << 20
MAX_RESPONSE_FRAME = 64 << 20

_init = struct.Struct("<BBHHHIIqQ")
_batch = struct.Struct("<BBHIQIIHHIqQ")
_item = struct.Struct("<IBBHHHIQq")
_header = struct.Struct("<BBHI")
_effect = struct.Struct("<IBBHI")
_query = struct.Struct("<IBBH")
_result = struct.Struct("<Ii")
_u32 = struct.Struct("<I")


def errno_name(code: int) -> str:
    """Return the ABI name of an errno (``EPATH``), or ``errno(<n>)``."""
    return ERRNO_NAMES.get(code, f"errno({code})")


class FrameError(ValueError):
    """A malformed frame. ``category`` is one of those of
    ``abi/testdata/frames/invalid.jsonl``, ``index`` the unit (-1: the frame
    header) and ``offset`` the byte offset of the field at fault."""

    def __init__(self, kind: int, category: str, index: int, offset: int, message: str) -> None:
        where = "header" if index < 0 else f"{UNIT_NAMES.get(kind, 'unit')} {index}"
        super().__init__(f"squall: {KIND_NAMES.get(kind, '?')} frame: {where} at byte {offset}: {message}")
        self.kind = kind
        self.category = category
        self.index = index
        self.offset = offset


InitFrame = namedtuple("InitFrame", "flags host_major host_minor tasks time_unix_nano seed")
InitFrame.__doc__ = "The fields of an init frame (ABI.md §6.1)."


Item = namedtuple("Item", "kind stage depot attempt source_partition offset event_time_unix_nano payload")
Item.__doc__ = "One item of a batch frame (ABI.md §6.2); the payload stays encoded."


Batch = namedtuple("Batch", "flags batch_id partition attempt topology time_unix_nano seed items")
Batch.__doc__ = "A batch frame (ABI.md §6.2): its header fields and its Items."


Result = namedtuple("Result", "status value message")
Result.__doc__ = "One result of a response frame: the status, the value for OK, the message of an errno."


def _check_header(b: bytes, kind: int, size: int, what: str) -> None:
    if len(b) < 1:
        raise FrameError(kind, "truncated", -1, 0, f"{what} header needs {size} bytes, 0 left")
    if b[0] != FRAME_VERSION:
        raise FrameError(kind, "frame_version", -1, 0, f"version {b[0]}; ABI v1 frames have version 1")
    if len(b) < size:
        raise FrameError(kind, "truncated", -1, 0, f"{what} header needs {size} bytes, {len(b)} left")
    if b[1] != kind:
        raise FrameError(kind, "frame_kind", -1, 1, f"kind byte {b[1]} ({KIND_NAMES.get(b[1], '?')}), want {kind} ({KIND_NAMES[kind]})")


def decode_init(b: bytes) -> InitFrame:
    """Decode an init frame (§6.1)."""
    if len(b) > INIT_SIZE:
        raise FrameError(KIND_INIT, "too_large", -1, 0, f"frame is {len(b)} bytes; the limit is {INIT_SIZE}")
    _check_header(b, KIND_INIT, INIT_SIZE, "init")
    _, _, flags, major, minor, tasks, reserved, t, seed = _init.unpack_from(b)
    if flags & ~INIT_DESCRIBE:
        raise FrameError(KIND_INIT, "reserved", -1, 2, f"flags {flags:#x} set reserved bits")
    if reserved:
        raise FrameError(KIND_INIT, "reserved", -1, 12, f"reserved u32 is {reserved}")
    return InitFrame(flags, major, minor, tasks, t, seed)


def encode_init(f: InitFrame) -> bytes:
    return _init.pack(FRAME_VERSION, KIND_INIT, f.flags, f.host_major, f.host_minor, f.tasks, 0, f.time_unix_nano, f.seed)


def decode_batch(b: bytes) -> Batch:
    """Decode a batch frame (§6.2); payloads stay encoded (bytes)."""
    if len(b) > MAX_BATCH_FRAME:
        raise FrameError(KIND_BATCH, "too_large", -1, 0, f"frame is {len(b)} bytes; the limit is {MAX_BATCH_FRAME}")
    _check_header(b, KIND_BATCH, BATCH_HEADER, "batch")
    _, _, flags, count, batch_id, partition, attempt, topology, r16, r32, t, seed = _batch.unpack_from(b)
    if flags & ~BATCH_QUERY:
        raise FrameError(KIND_BATCH, "reserved", -1, 2, f"flags {flags:#x} set reserved bits")
    query = flags & BATCH_QUERY
    if r16:
        raise FrameError(KIND_BATCH, "reserved", -1, 26, f"reserved u16 is {r16}")
    if r32:
        raise FrameError(KIND_BATCH, "reserved", -1, 28, f"reserved u32 is {r32}")
    n = len(b)
    if count > (n - BATCH_HEADER) // ITEM_HEADER:
        raise FrameError(KIND_BATCH, "truncated", -1, 4,
                         f"declares {count} items but {n - BATCH_HEADER} bytes follow the header; each needs at least {ITEM_HEADER}")
    items = []
    pos = BATCH_HEADER
    unpack = _item.unpack_from
    for i in range(count):
        if n - pos < ITEM_HEADER:
            raise FrameError(KIND_BATCH, "truncated", i, pos, f"item header needs {ITEM_HEADER} bytes, {n - pos} left")
        size, kind, iflags, stage, depot, iattempt, src, offset, et = unpack(b, pos)
        if kind not in ITEM_NAMES:
            raise FrameError(KIND_BATCH, "unknown_code", i, pos + 4, f"unknown item kind {kind}; ABI 1.1 has 1 (RECORD), 2 (HOP) and 3 (INVOKE)")
        if iflags:
            raise FrameError(KIND_BATCH, "reserved", i, pos + 5, f"item flags {iflags:#x} set reserved bits")
        if kind == ITEM_RECORD:
            if query:
                raise FrameError(KIND_BATCH, "reserved", i, pos + 4, "a QUERY batch holds INVOKE and HOP items, not RECORD")
            if depot == NO_DEPOT:
                raise FrameError(KIND_BATCH, "reserved", i, pos + 8, "a RECORD item needs a depot index, not 0xFFFF")
        else:
            if kind == ITEM_INVOKE:
                if not query:
                    raise FrameError(KIND_BATCH, "reserved", i, pos + 4, "an INVOKE item is allowed only in a QUERY batch")
                if i != 0:
                    raise FrameError(KIND_BATCH, "reserved", i, pos + 4, "an INVOKE item must be the first item of its batch")
                if stage != 0:
                    raise FrameError(KIND_BATCH, "reserved", i, pos + 6, f"an INVOKE item runs the entry stage 0, not {stage}")
            if depot != NO_DEPOT:
                raise FrameError(KIND_BATCH, "reserved", i, pos + 8, f"a {ITEM_NAMES[kind]} item has depot 0xFFFF, not {depot}")
            if offset:
                raise FrameError(KIND_BATCH, "reserved", i, pos + 16, f"a {ITEM_NAMES[kind]} item has offset 0, not {offset}")
        body = pos + ITEM_HEADER
        if size > n - body:
            raise FrameError(KIND_BATCH, "truncated", i, pos, f"body length {size} exceeds the {n - body} bytes left")
        if size == 0:
            raise FrameError(KIND_BATCH, "bad_value", i, pos, "empty payload; a payload is one MessagePack value")
        items.append(Item(kind, stage, depot, iattempt, src, offset, et, b[body : body + size]))
        pos = body + size
    if pos != n:
        raise FrameError(KIND_BATCH, "trailing", -1, pos, f"{n - pos} bytes after the last item")
    return Batch(flags, batch_id, partition, attempt, topology, t, seed, items)


def encode_batch(batch: Batch) -> bytes:
    out = [_batch.pack(FRAME_VERSION, KIND_BATCH, batch.flags, len(batch.items), batch.batch_id, batch.partition,
                       batch.attempt, batch.topology, 0, 0, batch.time_unix_nano, batch.seed)]
    for it in batch.items:
        out.append(_item.pack(len(it.payload), it.kind, 0, it.stage, it.depot, it.attempt,
                              it.source_partition, it.offset, it.event_time_unix_nano))
        out.append(bytes(it.payload))
    return b"".join(out)


def decode_response(b: bytes) -> list:
    """Decode a response frame (§6.6) into :class:`Result` s."""
    if len(b) > MAX_RESPONSE_FRAME:
        raise FrameError(KIND_RESPONSE, "too_large", -1, 0, f"frame is {len(b)} bytes; the limit is {MAX_RESPONSE_FRAME}")
    _check_header(b, KIND_RESPONSE, FRAME_HEADER, "response")
    _, _, flags, count = _header.unpack_from(b)
    if flags:
        raise FrameError(KIND_RESPONSE, "reserved", -1, 2, f"flags {flags:#x} set reserved bits")
    n = len(b)
    if count > (n - FRAME_HEADER) // RESULT_HEADER:
        raise FrameError(KIND_RESPONSE, "truncated", -1, 4,
                         f"declares {count} results but {n - FRAME_HEADER} bytes follow the header; each needs at least {RESULT_HEADER}")
    out = []
    pos = FRAME_HEADER
    for i in range(count):
        if n - pos < RESULT_HEADER:
            raise FrameError(KIND_RESPONSE, "truncated", i, pos, f"result header needs {RESULT_HEADER} bytes, {n - pos} left")
        size, status = _result.unpack_from(b, pos)
        body = pos + RESULT_HEADER
        if size > n - body:
            raise FrameError(KIND_RESPONSE, "truncated", i, pos, f"body length {size} exceeds the {n - body} bytes left")
        data = b[body : body + size]
        if status == RESULT_OK:
            try:
                v = unpackb(data)
            except DecodeError as e:
                raise FrameError(KIND_RESPONSE, "bad_value", i, body, f"result: {e}") from None
            out.append(Result(RESULT_OK, v, ""))
        elif status == RESULT_NOT_FOUND:
            if size:
                raise FrameError(KIND_RESPONSE, "trailing", i, body, f"a NOT_FOUND result has an empty body, not {size} bytes")
            out.append(Result(RESULT_NOT_FOUND, None, ""))
        elif status < 0:
            out.append(Result(status, None, data.decode("utf-8", "replace")))
        else:
            raise FrameError(KIND_RESPONSE, "unknown_code", i, pos + 4,
                             f"unknown result status {status}; use 0 (OK), 1 (NOT_FOUND) or a negative errno")
        pos = body + size
    if pos != n:
        raise FrameError(KIND_RESPONSE, "trailing", -1, pos, f"{n - pos} bytes after the last result")
    return out


def encode_response(results: list) -> bytes:
    """Encode results given as (status, body bytes) pairs."""
    out = [_header.pack(FRAME_VERSION, KIND_RESPONSE, 0, len(results))]
    for status, body in results:
        out.append(_result.pack(len(body), status))
        out.append(body)
    return b"".join(out)


def frame_header(kind: int, count: int) -> bytes:
    return _header.pack(FRAME_VERSION, kind, 0, count)


def effect_header(size: int, op: int, flags: int, target: int, item: int) -> bytes:
    return _effect.pack(size, op, flags, target, item)


def query_frame(queries: list) -> bytes:
    """Encode a query frame from (op, pstate index, encoded path) triples."""
    out = [_header.pack(FRAME_VERSION, KIND_QUERY, 0, len(queries))]
    for op, ps, body in queries:
        out.append(_query.pack(len(body), op, 0, ps))
        out.append(body)
    return b"".join(out)


Effect = namedtuple("Effect", "op flags target item body")
Effect.__doc__ = "One effect of an effects frame, its body encoded."


def effects_frame(effects: list) -> bytes:
    """Encode an effects frame from :class:`Effect` s (bodies encoded)."""
    out = [_header.pack(FRAME_VERSION, KIND_EFFECTS, 0, len(effects))]
    for e in effects:
        out.append(_effect.pack(len(e.body), e.op, e.flags, e.target, e.item))
        out.append(e.body)
    return b"".join(out)


def decode_effects(b: bytes) -> list:
    """Decode an effects frame into :class:`Effect` s, checking each header
    and that every body holds what its op needs (§6.3, §6.7). The test
    harness uses it to hold the SDK to what the host accepts."""
    K = KIND_EFFECTS
    if len(b) > MAX_EFFECTS_FRAME:
        raise FrameError(K, "too_large", -1, 0, f"frame is {len(b)} bytes; the limit is {MAX_EFFECTS_FRAME}")
    _check_header(b, K, FRAME_HEADER, "effects")
    _, _, flags, count = _header.unpack_from(b)
    if flags:
        raise FrameError(K, "reserved", -1, 2, f"flags {flags:#x} set reserved bits")
    n = len(b)
    if count > (n - FRAME_HEADER) // EFFECT_HEADER:
        raise FrameError(K, "truncated", -1, 4,
                         f"declares {count} effects but {n - FRAME_HEADER} bytes follow the header; each needs at least {EFFECT_HEADER}")
    out = []
    pos = FRAME_HEADER
    for i in range(count):
        if n - pos < EFFECT_HEADER:
            raise FrameError(K, "truncated", i, pos, f"effect header needs {EFFECT_HEADER} bytes, {n - pos} left")
        size, op, fl, target, item = _effect.unpack_from(b, pos)
        body = pos + EFFECT_HEADER
        if size > n - body:
            raise FrameError(K, "truncated", i, pos, f"body length {size} exceeds the {n - body} bytes left")
        data = b[body : body + size]
        name = OP_NAMES.get(op)
        if name is None:
            raise FrameError(K, "unknown_code", i, pos + 4, f"unknown effect op {op}; ABI 1.1 has 1 (APPEND) to 9 (AGGREGATE)")

        def bad(cat: str, off: int, msg: str) -> FrameError:
            return FrameError(K, cat, i, off, msg)

        def one(what: str, d: bytes, off: int) -> Any:
            try:
                return unpackb(d)
            except DecodeError as e:
                raise bad("bad_value", off + e.offset, f"{what}: {e}") from None

        if op == OP_AGGREGATE and not AGG_COUNT <= fl <= AGG_TOP_N:
            raise bad("unknown_code", pos + 5, f"unknown aggregator {fl}; use 1 (COUNT) to 8 (TOP_N)")
        needs_item = op in (OP_APPEND, OP_HOP, OP_TRANSFORM, OP_EMIT, OP_OUTCOME, OP_AGGREGATE)
        if needs_item and item == NO_ITEM:
            raise bad("sequence", pos + 8, f"{name} needs an item index, not NoItem (0xFFFFFFFF)")
        if op == OP_DEFINE and item != NO_ITEM:
            raise bad("sequence", pos + 8, f"DEFINE belongs to no item: its item must be NoItem (0xFFFFFFFF), not {item}")
        if op == OP_APPEND:
            if fl & ~7:
                raise bad("reserved", pos + 5, f"APPEND flags {fl:#x} set reserved bits")
            if fl & 3 == 3:
                raise bad("unknown_code", pos + 5, "APPEND ack level 3 is undefined; use 0 (NONE), 1 (APPEND_ACK) or 2 (ACK)")
            one("APPEND record", data, body)
        elif op == OP_HOP:
            if fl not in HOP_NAMES:
                raise bad("unknown_code", pos + 5, f"unknown HOP partitioner {fl}; use 1 (HASH) to 6 (DIRECT)")
            p = 0
            if fl == HOP_HASH:
                try:
                    _, p = unpack_prefix(data, 0)
                except DecodeError as e:
                    raise bad("bad_value", body + e.offset, f"HOP key: {e}") from None
            elif fl == HOP_DIRECT:
                if size < 4:
                    raise bad("truncated", body, f"DIRECT HOP body starts with a u32 partition; it has {size} bytes")
                p = 4
            one("HOP payload", data[p:], body + p)
        elif op == OP_AGGREGATE:
            try:
                keys, p = unpack_prefix(data, 0)
            except DecodeError as e:
                raise bad("bad_value", body + e.offset, f"AGGREGATE key path: {e}") from None
            if not isinstance(keys, (list, tuple)):
                raise bad("bad_value", body, f"AGGREGATE key path must be a list, not {type_name(keys)}")
            if fl != AGG_TOP_N:
                one("AGGREGATE value", data[p:], body + p)
            else:
                try:
                    _, q = unpack_prefix(data, p)
                except DecodeError as e:
                    raise bad("bad_value", body + p + e.offset, f"AGGREGATE value: {e}") from None
                nv = one("AGGREGATE n", data[q:], body + q)
                if type(nv) is not int:
                    raise bad("bad_value", body + q, f"AGGREGATE n of TOP_N must be an int, not {type_name(nv)}")
        elif op in (OP_TRANSFORM, OP_EMIT, OP_DEFINE, OP_OUTCOME, OP_ERROR, OP_LOG):
            if op == OP_LOG:
                if fl > LOG_ERROR:
                    raise bad("unknown_code", pos + 5, f"unknown LOG level {fl}; use 0 (DEBUG) to 3 (ERROR)")
            elif op == OP_OUTCOME:
                if fl > OUTCOME_RETRY:
                    raise bad("unknown_code", pos + 5, f"unknown outcome {fl}; use 0 (OK), 1 (POISON) or 2 (RETRY)")
            elif fl:
                raise bad("reserved", pos + 5, f"{name} flags are reserved, got {fl:#x}")
            if target and op not in (OP_TRANSFORM, OP_EMIT):
                raise bad("reserved", pos + 6, f"{name} target is reserved, got {target}")
            if op == OP_OUTCOME and fl == OUTCOME_OK:
                if size:
                    raise bad("trailing", body, f"an OK OUTCOME has an empty body, not {size} bytes")
            elif op in (OP_OUTCOME, OP_ERROR):
                what = "OUTCOME error detail" if op == OP_OUTCOME else "ERROR detail"
                d = one(what, data, body)
                msg = detail_problem(d)
                if msg:
                    raise bad("bad_value", body, f"{what}: {msg}")
            elif op == OP_LOG:
                try:
                    data.decode("utf-8")
                except UnicodeDecodeError:
                    raise bad("bad_value", body, "LOG text is not valid UTF-8") from None
            else:
                one(f"{name} body", data, body)
        out.append(Effect(op, fl, target, item, data))
        pos = body + size
    if pos != n:
        raise FrameError(K, "trailing", -1, pos, f"{n - pos} bytes after the last effect")
    return out


def detail_problem(d: Any) -> str:
    """Say what is wrong with an error detail map, or return ""."""
    if not isinstance(d, dict):
        return f"an error detail is a map, not {type_name(d)}"
    for k, v in d.items():
        if k not in ("kind", "message", "stack"):
            return f'unknown error detail field {k!r}; the fields are "kind", "message" and "stack"'
        if not isinstance(v, str):
            return f'error detail field "{k}" must be a string, not {type_name(v)}'
    if "message" not in d:
        return 'error detail has no "message"'
    return ""


def decode_query(b: bytes) -> list:
    """Decode a query frame into (op, pstate index, path value) triples."""
    K = KIND_QUERY
    if len(b) > MAX_QUERY_FRAME:
        raise FrameError(K, "too_large", -1, 0, f"frame is {len(b)} bytes; the limit is {MAX_QUERY_FRAME}")
    _check_header(b, K, FRAME_HEADER, "query")
    _, _, flags, count = _header.unpack_from(b)
    if flags:
        raise FrameError(K, "reserved", -1, 2, f"flags {flags:#x} set reserved bits")
    n = len(b)
    if count > (n - FRAME_HEADER) // QUERY_HEADER:
        raise FrameError(K, "truncated", -1, 4,
                         f"declares {count} queries but {n - FRAME_HEADER} bytes follow the header; each needs at least {QUERY_HEADER}")
    out = []
    pos = FRAME_HEADER
    for i in range(count):
        if n - pos < QUERY_HEADER:
            raise FrameError(K, "truncated", i, pos, f"query header needs {QUERY_HEADER} bytes, {n - pos} left")
        size, op, fl, ps = _query.unpack_from(b, pos)
        body = pos + QUERY_HEADER
        if size > n - body:
            raise FrameError(K, "truncated", i, pos, f"body length {size} exceeds the {n - body} bytes left")
        if op not in (QUERY_SELECT, QUERY_SELECT_ONE, QUERY_INVOKE):
            raise FrameError(K, "unknown_code", i, pos + 4, f"unknown query op {op}; use 1 (SELECT), 2 (SELECT_ONE) or 3 (INVOKE)")
        if fl:
            raise FrameError(K, "reserved", i, pos + 5, f"query flags {fl:#x} set reserved bits")
        try:
            path = unpackb(b[body : body + size])
        except DecodeError as e:
            raise FrameError(K, "bad_value", i, body, f"path: {e}") from None
        if op == QUERY_INVOKE and not isinstance(path, (list, tuple)):
            raise FrameError(K, "bad_value", i, body, f"INVOKE arguments must be a list, not {type_name(path)}")
        out.append((op, ps, path))
        pos = body + size
    if pos != n:
        raise FrameError(K, "trailing", -1, pos, f"{n - pos} bytes after the last query")
    return out


def type_name(v: Any) -> str:
    """The Squall kind of a Python value, as messages name it."""
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "bytes"
    if isinstance(v, (list, tuple)):
        return "list"
    if isinstance(v, (set, frozenset)):
        return "set"
    if hasattr(v, "items"):
        return "map"
    return type(v).__name__


_ = packb  # re-exported for harness helpers
