"""Lets pytest import the squall SDK from this repository when it is not
installed (pip install guest-sdks/python installs it)."""

import pathlib
import sys

try:
    import squall  # noqa: F401
except ImportError:
    for parent in pathlib.Path(__file__).resolve().parents:
        sdk = parent / "guest-sdks" / "python" / "src"
        if sdk.is_dir():
            sys.path.insert(0, str(sdk))
            break
