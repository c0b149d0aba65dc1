"""Frames, partitioning and definitions against abi/testdata/frames."""

import pytest

import squall
from squall import _frames as F
from squall._codec import packb, unpackb
from squall._defcheck import DefinitionError, check_definition
from squall._partition import hash_key_bytes, key_partition

from golden import FRAMES, lines, value

INIT = lines(FRAMES / "init.jsonl")
BATCH = lines(FRAMES / "batch.jsonl")
RESPONSE = lines(FRAMES / "response.jsonl")
EFFECTS = lines(FRAMES / "effects.jsonl")
QUERY = lines(FRAMES / "query.jsonl")
INVALID = lines(FRAMES / "invalid.jsonl")
PARTITION = lines(FRAMES / "partition.jsonl")
MODULE_DEF = lines(FRAMES / "module_def.jsonl")
MODULE_DEF_INVALID = lines(FRAMES / "module_def_invalid.jsonl")

ids = lambda vs: [v["name"] for v in vs]  # noqa: E731
CODES = {"OK": 0, "NOT_FOUND": 1, "POISON": 1, "RETRY": 2, "NONE": 0, "APPEND_ACK": 1, "ACK": 2,
         "SELECT": 1, "SELECT_ONE": 2, "ACK_RETURN": 0, "DEBUG": 0, "INFO": 1, "WARN": 2, "ERROR": 3}
OPS = {v: k for k, v in F.OP_NAMES.items()}


@pytest.mark.parametrize("v", INIT, ids=ids(INIT))
def test_init(v):
    f = v["fields"]
    want = F.InitFrame(f["flags"], f["host_major"], f["host_minor"], f["tasks"], int(f["time_unix_nano"]), int(f["seed"]))
    b = bytes.fromhex(v["hex"])
    assert F.decode_init(b) == want
    assert F.encode_init(want) == b


@pytest.mark.parametrize("v", BATCH, ids=ids(BATCH))
def test_batch(v):
    h = v["header"]
    b = bytes.fromhex(v["hex"])
    got = F.decode_batch(b)
    assert (got.flags, got.batch_id, got.partition, got.attempt, got.topology, got.time_unix_nano, got.seed) == (
        h["flags"], int(h["batch_id"]), h["partition"], h["attempt"], h["topology"], int(h["time_unix_nano"]), int(h["seed"]))
    assert len(got.items) == len(v["items"])
    items = []
    for it, w in zip(got.items, v["items"]):
        kind = {"RECORD": 1, "HOP": 2, "INVOKE": 3}[w["kind"]]
        exp = F.Item(kind, w["stage"], w["depot"], w["attempt"], w["source_partition"], int(w["offset"]),
                     int(w["event_time_unix_nano"]), packb(value(w["payload"])))
        assert it == exp
        items.append(exp)
    assert F.encode_batch(got._replace(items=items)) == b


@pytest.mark.parametrize("v", RESPONSE, ids=ids(RESPONSE))
def test_response(v):
    b = bytes.fromhex(v["hex"])
    got = F.decode_response(b)
    assert len(got) == len(v["results"])
    enc = []
    for r, w in zip(got, v["results"]):
        assert r.status == w["code"]
        if w["code"] == 0:
            assert packb(r.value) == packb(value(w["value"]))
            enc.append((0, packb(r.value)))
        else:
            assert r.message == w.get("message", "")
            enc.append((r.status, r.message.encode()))
    assert F.encode_response(enc) == b


def _effect(e) -> F.Effect:
    op = OPS[e["op"]]
    if op == F.OP_APPEND:
        body = packb(value(e["record"]))
    elif op == F.OP_HOP:
        body = b""
        if e["partitioner"] == "HASH":
            body = packb(value(e["key"]))
        elif e["partitioner"] == "DIRECT":
            body = e["partition"].to_bytes(4, "little")
        body += packb(value(e["payload"]))
    elif op == F.OP_TRANSFORM:
        body = squall.parse_path(value(e["path"])).encoded()
        assert str(squall.parse_path(value(e["path"]))) == e["path_text"]
    elif op == F.OP_EMIT:
        body = packb(value(e["value"]))
    elif op == F.OP_AGGREGATE:
        assert F.AGG_NAMES[e["flags"]] == e["aggregator"]
        body = packb(value(e["keys"])) + packb(value(e["value"]))
        if "n" in e:
            body += packb(e["n"])
    elif op == F.OP_LOG:
        body = e["text"].encode()
    elif op in (F.OP_OUTCOME, F.OP_ERROR):
        body = packb(e["detail"]) if "detail" in e else b""
    else:
        body = packb(value(e["definition"]))
    return F.Effect(op, e["flags"], e["target"], e["item"], body)


@pytest.mark.parametrize("v", EFFECTS, ids=ids(EFFECTS))
def test_effects(v):
    effs = [_effect(e) for e in v["effects"]]
    b = bytes.fromhex(v["hex"])
    assert F.effects_frame(effs) == b
    assert F.decode_effects(b) == effs


@pytest.mark.parametrize("v", QUERY, ids=ids(QUERY))
def test_query(v):
    qs = []
    for q in v["queries"]:
        if q["op"] == "INVOKE":
            qs.append((F.QUERY_INVOKE, q["query"], packb(value(q["args"]))))
            continue
        p = squall.parse_path(value(q["path"]))
        assert str(p) == q["path_text"]
        qs.append((CODES[q["op"]], q["pstate"], p.encoded()))
    b = bytes.fromhex(v["hex"])
    assert F.query_frame(qs) == b
    assert [(op, ps, packb(pv)) for op, ps, pv in F.decode_query(b)] == qs


DECODERS = {"init": F.decode_init, "batch": F.decode_batch, "response": F.decode_response,
            "effects": F.decode_effects, "query": F.decode_query}


@pytest.mark.parametrize("v", INVALID, ids=ids(INVALID))
def test_invalid(v):
    with pytest.raises(F.FrameError) as e:
        DECODERS[v["frame"]](bytes.fromhex(v["hex"]))
    assert (e.value.category, e.value.index, e.value.offset) == (v["error"], v["index"], v["offset"]), str(e.value)


@pytest.mark.parametrize("v", PARTITION, ids=ids(PARTITION))
def test_partition(v):
    k = value(v["key"])
    assert packb(k).hex() == v["hex"]
    assert hash_key_bytes(bytes.fromhex(v["hex"])) == int(v["hash"])
    for tasks, p in v["partitions"]:
        assert key_partition(k, tasks) == p


@pytest.mark.parametrize("v", MODULE_DEF, ids=ids(MODULE_DEF))
def test_module_def(v):
    d = value(v["definition"])
    assert packb(d).hex() == v["hex"]
    check_definition(unpackb(bytes.fromhex(v["hex"])))


@pytest.mark.parametrize("v", MODULE_DEF_INVALID, ids=ids(MODULE_DEF_INVALID))
def test_module_def_invalid(v):
    with pytest.raises(DefinitionError) as e:
        check_definition(unpackb(packb(value(v["definition"]))))
    assert [f"{w}: {m}" for w, m in e.value.problems] == v["problems"]


def test_module_def_from_api():
    """The SDK's builder produces the golden "social" and "every schema form"
    definitions byte for byte."""
    m = squall.Module("social")
    follows = m.depot("follows", squall.hash_by(squall.key("to")))
    m.depot("audit", squall.random_partition())
    m.pstate("followers", squall.map_of(squall.STRING, squall.set_of(squall.STRING, subindexed=True)))
    m.pstate("follower_count", squall.map_of(squall.STRING, squall.INT))
    core = m.stream("core")
    on_follow = core.stage("on_follow")(lambda ctx, v: None)
    core.stage("index")(lambda ctx, v: None)
    core.source(follows, on_follow)
    want = {v["name"]: v["hex"] for v in MODULE_DEF}
    assert m.build().hex() == want["social"]

    m = squall.Module()
    assert m.build().hex() == want["minimal"]
