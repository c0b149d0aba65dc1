"""The README's examples run as written."""

import re
import sys
import types

import squall
from squall.testing import Harness

from golden import ROOT

README = (ROOT / "guest-sdks" / "python" / "README.md").read_text(encoding="utf-8")


def test_readme_module_and_test():
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert len(blocks) >= 2
    mod = types.ModuleType("readme_main")
    sys.modules["readme_main"] = mod
    try:
        exec(compile(blocks[0], "README.md", "exec"), mod.__dict__)
        h = Harness(mod.app, 4, quiet=True)
        a = h.append("sentences", {"user": "ann", "text": "To be, or not to be"})
        assert a.ack_return("wordcount") == 6
        assert h.select_one("$$wordCounts", squall.key("be")) == 2
        # The testing example, run against the wordcount example itself.
        sys.path.insert(0, str(ROOT / "examples" / "wordcount" / "python"))
        ns: dict = {}
        exec(compile(blocks[1], "README.md", "exec"), ns)
        ns["test_counts"]()
    finally:
        sys.modules.pop("readme_main", None)


def test_readme_microbatch_and_query():
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert len(blocks) >= 3
    ns: dict = {"__name__": "readme_visits"}
    exec(compile(blocks[2], "README.md", "exec"), ns)
    ns["test_top_pages"]()
