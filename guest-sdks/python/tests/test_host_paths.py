"""The host's datadriven PState tests (storage/testdata/pstate) run through
the test harness's path engine: every select, select-one and transform must
give the host's result or error message. Change lists and storage dumps are
the host's business and are skipped."""

from pathlib import Path

import pytest

import squall
from squall.testing import _engine as E

from golden import ROOT
from textparse import parse_path_text, parse_schema_text

DIR = ROOT / "storage" / "testdata" / "pstate"
FILES = sorted(DIR.glob("*")) if DIR.is_dir() else []


def parse_datadriven(data: str) -> list:
    lines = data.split("\n")
    out = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip() or line.startswith("#"):
            i += 1
            continue
        fields = line.split()
        args = {}
        for a in fields[1:]:
            k, _, v = a.partition("=")
            args[k] = v
        case = {"line": i + 1, "cmd": fields[0], "args": args, "input": [], "output": []}
        i += 1
        while i < len(lines) and lines[i] != "----":
            case["input"].append(lines[i])
            i += 1
        i += 1
        while i < len(lines) and lines[i] != "":
            case["output"].append(lines[i])
            i += 1
        out.append(case)
    return out


def split_results(c: dict) -> list:
    if len(c["input"]) == 1:
        return [c["output"][0]]
    out = []
    j = 0
    outs = c["output"]
    for text in c["input"]:
        want = str(parse_path_text(text))
        while j < len(outs) and outs[j] != want:
            j += 1
        out.append(outs[j + 1] if j + 1 < len(outs) else "")
        j += 1
    return out


def run_one(store: E.PStore, cmd: str, path: squall.Path) -> str:
    try:
        steps, text = E.path_steps(path.value(), squall.TRANSFORM if cmd == "transform" else squall.SELECT)
        if cmd == "transform":
            store.transform(steps, text)
            return "ok"
        vs = store.select(steps, text)
    except E.EnginePathError as e:
        return f"error: {e}"
    if cmd == "select":
        return E.text(vs)
    if len(vs) != 1:
        return (f"error: path: selectOne needs exactly one value, the path navigated to {len(vs)}; "
                f"use select for zero or more (path {text})")
    return E.text(vs[0])


@pytest.mark.skipif(not FILES, reason=f"no host PState tests at {DIR}")
@pytest.mark.parametrize("f", FILES, ids=[f.name for f in FILES])
def test_host_conformance(f: Path):
    schema = None
    name = "ps"
    parts: dict = {}
    checked = 0
    for c in parse_datadriven(f.read_text(encoding="utf-8")):
        cmd, line = c["cmd"], c["line"]
        if cmd == "declare":
            sc = parse_schema_text(" ".join(c["input"]))
            if c["output"][0].startswith("error:"):
                d = {"depots": [], "topologies": [], "pstates": [{"name": "p", "schema": sc.value()}]}
                with pytest.raises(squall.DefinitionError):
                    squall.check_definition(d)
                continue
            schema = E.parse_schema(sc.value())
            name = c["args"].get("name", "ps")
            parts = {}
        elif cmd in ("transform", "select", "select-one"):
            if "committed" in c["args"]:
                continue
            p = c["args"].get("partition", "")
            store = parts.setdefault(p, E.PStore(schema))
            for text, want in zip(c["input"], split_results(c)):
                got = run_one(store, cmd, parse_path_text(text))
                if want.startswith("error: "):
                    want = "error: " + want.removeprefix(f"error: storage: pstate m/{name}: ")
                    assert got == want, f"line {line}: {cmd} {text}"
                elif cmd == "transform":
                    assert not got.startswith("error: "), f"line {line}: transform {text}: {got}; the host succeeds"
                else:
                    assert got == want, f"line {line}: {cmd} {text}"
                checked += 1
        elif cmd == "model":
            p = c["args"].get("partition", "")
            store = parts.setdefault(p, E.PStore(schema))
            assert E.text(store.value()) == c["output"][0], f"line {line}: model"
    assert checked > 0
    print(f"{f.name}: {checked} paths checked")
