"""Imports every top-level module of the runtime's standard library subset
(internal/build/python_test.go, TestPythonStdlibImports): what the build
script keeps must import in the WASI runtime."""

import importlib
import pkgutil

import squall

SKIP = {"antigravity", "this"}  # side effects on import (a browser, a print)

failed = []
for m in sorted(pkgutil.iter_modules(["/squall/lib/python3.11"]), key=lambda m: m.name):
    if m.name in SKIP:
        continue
    try:
        importlib.import_module(m.name)
    except BaseException as e:
        failed.append(f"{m.name}: {type(e).__name__}: {e}")
if failed:
    raise ImportError("standard library modules that do not import: " + "; ".join(failed))

app = squall.Module("stdlib")
app.depot("d", squall.random_partition())
