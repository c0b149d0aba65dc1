"""The wasm entry points, called by the C shim of the CPython runtime.

The shim starts CPython, imports this module and calls :func:`init` for
``squall_init`` and :func:`process` for ``squall_process`` with a memoryview
of the inbox bytes of that call (copied here before anything else). Both
return the call status of abi/ABI.md §9.1 and never raise.

They reach the host through the built-in module ``_squall``:

- ``_squall.flush(buf) -> int``: the ``flush`` import's result;
- ``_squall.query(req) -> bytes``: the whole response frame (the shim
  fetches a parked result with ``take``); raises ``_squall.HostError(errno,
  message)`` on a negative errno;
- ``_squall.take() -> bytes``: the parked result (the rejection list after
  a flush returned n > 0); raises ``_squall.HostError`` like ``query``;
- optionally ``_squall.packb`` / ``_squall.unpackb``, a C codec with the
  value mapping of ``squall._codec``, used instead of the pure-Python one.

:func:`init` reads ``/squall/meta.json`` (``{"entry": "<module>"}``; default
``main``) and imports that module, which declares its ``squall.Module`` at
import time. An error while importing it (SyntaxError, ImportError, any
exception) is answered as the ERROR detail of the init call with the
formatted traceback, not a trap.
"""

from __future__ import annotations

import importlib
import sys
# typing is imported by type checkers only: annotations are strings here
# (PEP 563), and every instance start imports this module.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from . import _module
from ._runtime import Instance

META = "/squall/meta.json"

_instance: Instance | None = None


class _Host:
    __slots__ = ("flush", "query", "take")

    def __init__(self, mod: Any) -> None:
        self.flush = mod.flush
        self.query = mod.query
        take = getattr(mod, "take", None)
        self.take = take if take is not None else _no_take

    
def _no_take() -> bytes:
    raise RuntimeError(-8, "the runtime's _squall module has no take()")


def _entry() -> str:
    try:
        with open(META, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return "main"
    import json  # only here: json imports re, which a module may not need

    entry = json.loads(text).get("entry") or "main"
    return entry[:-3] if entry.endswith(".py") else entry


def find_module(mod: Any) -> "_module.Module | None":
    """The squall.Module an entry module declares: a module-level name
    bound to a Module (the first one if several names are), else the only
    Module created while importing it."""
    found = [v for v in vars(mod).values() if isinstance(v, _module.Module)]
    if found:
        return found[0]
    created = _module.modules()
    return created[-1] if created else None


def load(entry: str) -> Instance:
    """Import the entry module and make the instance that serves it."""
    import _squall  # the runtime's built-in module

    _use_c_codec(_squall)
    host = _Host(_squall)
    return load_with(entry, host)


def load_with(entry: str, host: Any) -> Instance:
    before = len(_module.modules())
    try:
        mod = importlib.import_module(entry)
    except BaseException as e:  # SyntaxError, ImportError, SystemExit: reported, never a trap
        import traceback

        tb = "".join(traceback.format_exception(e))
        kind = type(e).__name__
        msg = f"squall: importing the module {entry!r} failed: {traceback.format_exception_only(e)[-1].strip()}"
        return Instance(None, host, (kind, msg, tb))
    m = find_module(mod)
    if m is None or len(_module.modules()) == before and m not in vars(mod).values():
        return Instance(None, host, ("definition", f"squall: the module {entry!r} declares no squall.Module; "
                                     "create one at the top level: app = squall.Module(\"name\")", ""))
    return Instance(m, host)


def _use_c_codec(c: Any) -> None:
    packb = getattr(c, "packb", None)
    unpackb = getattr(c, "unpackb", None)
    if packb is None or unpackb is None:
        return
    from . import _codec, _frames, _module, _partition, _path, _runtime

    for m in (_codec, _frames, _module, _path, _runtime, _partition):
        if hasattr(m, "packb"):
            m.packb = packb
        if hasattr(m, "unpackb"):
            m.unpackb = unpackb


def init(frame: Any) -> int:
    """squall_init: the init frame is ``frame`` (the inbox bytes)."""
    global _instance
    try:
        data = bytes(frame)
        if _instance is None:
            _instance = load(_entry())
        return _instance.init(data)
    except BaseException:  # never let an exception reach the shim
        import traceback

        traceback.print_exc(file=sys.stderr)
        return 1


def process(frame: Any) -> int:
    """squall_process: the batch frame is ``frame`` (the inbox bytes)."""
    try:
        data = bytes(frame)
        if _instance is None:
            print("squall: squall_process called before squall_init", file=sys.stderr)
            return 1
        return _instance.process(data)
    except BaseException:
        import traceback

        traceback.print_exc(file=sys.stderr)
        return 1
