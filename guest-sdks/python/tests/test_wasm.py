"""squall._wasm, the entry points the CPython runtime's C shim calls, with a
fake built-in _squall module: init answers with the definition, or with an
ERROR carrying the traceback of a broken entry file."""

from __future__ import annotations

import json
import sys
import types

import pytest

from squall import _frames as F
from squall import _wasm
from squall._codec import packb, unpackb


class HostError(Exception):
    pass


class FakeSquall(types.ModuleType):
    def __init__(self) -> None:
        super().__init__("_squall")
        self.frames: list = []
        self.HostError = HostError
        self.fail = 0

    def flush(self, buf) -> int:
        self.frames.append(F.decode_effects(bytes(buf)))
        return self.fail

    def query(self, req) -> bytes:
        qs = F.decode_query(bytes(req))
        return F.encode_response([(F.RESULT_NOT_FOUND, b"") for _ in qs])

    def take(self) -> bytes:
        raise HostError(F.ENOENT, "nothing parked")

    def effects(self) -> list:
        return [e for f in self.frames for e in f]


@pytest.fixture
def runtime(tmp_path, monkeypatch):
    fake = FakeSquall()
    monkeypatch.setitem(sys.modules, "_squall", fake)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(_wasm, "META", str(tmp_path / "meta.json"))
    monkeypatch.setattr(_wasm, "_instance", None)

    def entry(name: str, source: str) -> None:
        (tmp_path / f"{name}.py").write_text(source, encoding="utf-8")
        (tmp_path / "meta.json").write_text(json.dumps({"entry": name}))
        sys.modules.pop(name, None)

    fake.entry = entry
    yield fake


INIT = F.encode_init(F.InitFrame(1, 1, 0, 4, 1_700_000_000 * 10**9, 42))

GOOD = '''
import squall
app = squall.Module("hello")
d = app.depot("d")
counts = app.pstate("$$c", squall.map_of(squall.STRING, squall.INT))
t = app.stream("t")

@t.stage(source=d)
def greet(ctx, name):
    ctx.log("hello " + name)
    if name == "boom":
        raise ValueError("boom!")
    ctx.emit(ctx.select_one(counts, squall.key(name), 0))
'''


def test_init_and_process(runtime):
    runtime.entry("wasm_good", GOOD)
    assert _wasm.init(memoryview(INIT)) == 0
    (define,) = runtime.effects()
    assert define.op == F.OP_DEFINE and unpackb(define.body)["name"] == "hello"
    runtime.frames.clear()
    items = [F.Item(F.ITEM_RECORD, 0, 0, 0, 1, i, 0, packb(n)) for i, n in enumerate(["ann", "boom"])]
    batch = F.encode_batch(F.Batch(0, 1, 1, 0, 0, 5, 6, items))
    assert _wasm.process(bytearray(batch)) == 0
    ops = [(e.op, e.flags, e.item) for e in runtime.effects()]
    assert ops == [(F.OP_LOG, F.LOG_INFO, 0), (F.OP_EMIT, 0, 0), (F.OP_OUTCOME, F.OUTCOME_OK, 0),
                   (F.OP_LOG, F.LOG_INFO, 1), (F.OP_OUTCOME, F.OUTCOME_RETRY, 1)]
    d = unpackb(runtime.effects()[-1].body)
    assert d["kind"] == "error" and d["message"] == "ValueError: boom!"
    assert 'wasm_good.py", line 12, in greet' in d["stack"]


@pytest.mark.parametrize(
    "source, kind, want",
    [
        ("import squall\napp = squall.Module(\n", "SyntaxError", 'wasm_bad.py", line 2'),
        ("import squall\nimport no_such_module\n", "ModuleNotFoundError", "No module named 'no_such_module'"),
        ("import squall\n1 / 0\n", "ZeroDivisionError", 'wasm_bad.py", line 2, in <module>'),
        ("import sys\nsys.exit(2)\n", "SystemExit", 'wasm_bad.py", line 2'),
        ("x = 1\n", "definition", "declares no squall.Module"),
        ("import squall\napp = squall.Module('x')\napp.depot('1bad')\n", "definition", "depots[0].name"),
    ],
)
def test_import_errors_are_reported(runtime, source, kind, want):
    runtime.entry("wasm_bad", source)
    assert _wasm.init(INIT) == 1
    (err,) = runtime.effects()
    assert err.op == F.OP_ERROR and err.item == F.NO_ITEM
    d = unpackb(err.body)
    assert d["kind"] == kind
    assert want in d["message"] + d.get("stack", "")


def test_bad_frames_fail_the_call(runtime):
    runtime.entry("wasm_good2", GOOD)
    assert _wasm.init(INIT[:-1]) == 1
    assert unpackb(runtime.effects()[0].body)["kind"] == "abi"
    assert _wasm.init(INIT) == 0
    runtime.frames.clear()
    assert _wasm.process(b"\x01\x02") == 1
    assert "batch frame" in unpackb(runtime.effects()[0].body)["message"]


def test_flush_failure_fails_the_call(runtime):
    runtime.entry("wasm_good3", GOOD)
    assert _wasm.init(INIT) == 0
    runtime.fail = F.EINTERNAL
    items = [F.Item(F.ITEM_RECORD, 0, 0, 0, 1, 0, 0, packb("ann"))]
    assert _wasm.process(F.encode_batch(F.Batch(0, 1, 1, 0, 0, 5, 6, items))) == 1


def test_c_codec_is_used_when_present(runtime, monkeypatch):
    from squall import _codec, _runtime

    calls = []
    original = _codec.packb

    def packb_c(v):
        calls.append(v)
        return original(v)

    runtime.packb = packb_c
    runtime.unpackb = _codec.unpackb
    for m in (_codec, _runtime):
        monkeypatch.setattr(m, "packb", m.packb)
        monkeypatch.setattr(m, "unpackb", m.unpackb)
    import squall._frames, squall._module, squall._path, squall._partition
    for m in (squall._frames, squall._module, squall._path, squall._partition):
        for name in ("packb", "unpackb"):
            if hasattr(m, name):
                monkeypatch.setattr(m, name, getattr(m, name))
    runtime.entry("wasm_good4", GOOD)
    assert _wasm.init(INIT) == 0
    assert calls
