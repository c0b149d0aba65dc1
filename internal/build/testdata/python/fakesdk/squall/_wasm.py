import json

import _squall

with open("/squall/meta.json") as f:
    ENTRY = json.load(f)["entry"]

if ENTRY == "import_fails":
    raise ImportError("the SDK cannot start")


def _deeper():
    raise ValueError("raised out of init")


def init(frame):
    if ENTRY == "raises":
        _deeper()
    if ENTRY == "host_error":
        _squall.take()  # nothing is parked: HostError(-2)
    if ENTRY == "not_int":
        return "zero"
    if ENTRY == "exits":
        raise SystemExit(3)
    if ENTRY == "frame_len":
        raise ValueError(f"frame of {len(frame)} bytes starting {bytes(frame[:2]).hex()}")
    return 1


def process(frame):
    return 1
