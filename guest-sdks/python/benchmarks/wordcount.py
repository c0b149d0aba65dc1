"""Per-event cost of the SDK runtime on the wordcount example, on the
CPython running this script (no wasm, a host that accepts everything): the
guest side of what the wasm benchmark measures.

    python3 guest-sdks/python/benchmarks/wordcount.py [--c-codec]
"""

from __future__ import annotations

import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "guest-sdks" / "python" / "src"))
sys.path.insert(0, str(ROOT / "examples" / "wordcount" / "python"))

import main  # noqa: E402  the wordcount example

from squall import _frames as F  # noqa: E402
from squall._codec import packb  # noqa: E402
from squall._runtime import Instance  # noqa: E402


class NullHost:
    def __init__(self) -> None:
        self.bytes = 0

    def flush(self, frame: bytes) -> int:
        self.bytes += len(frame)
        return 0

    def query(self, req: bytes) -> bytes:
        raise AssertionError("wordcount does not query")

    def take(self) -> bytes:
        raise AssertionError("nothing is rejected")


def batch(stage: int, payloads: list) -> bytes:
    items = [F.Item(F.ITEM_RECORD if stage == 0 else F.ITEM_HOP, stage, 0 if stage == 0 else F.NO_DEPOT, 0, 0,
                    i if stage == 0 else 0, 0, packb(p)) for i, p in enumerate(payloads)]
    return F.encode_batch(F.Batch(0, 1, 0, 0, 0, 0, 0, items))


def measure(inst: Instance, frame: bytes, n: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.process_time_ns()
        status = inst.process(frame)
        dt = time.process_time_ns() - t0
        assert status == 0
        best = min(best, dt / n)
    return best


def main_() -> None:
    host = NullHost()
    inst = Instance(main.app, host)
    assert inst.init(F.encode_init(F.InitFrame(0, 1, 0, 4, 0, 0))) == 0
    text = "the quick brown fox jumps over the lazy dog again and again"
    sentences = [{"user": f"u{i % 10}", "text": text} for i in range(1000)]
    words = [w for s in sentences[:100] for w in main.words(s["text"])]
    split = measure(inst, batch(0, sentences), len(sentences), 15)
    count = measure(inst, batch(1, words), len(words), 15)
    print(f"split (sentence of 12 words -> 12 hops + emit): {split / 1000:.1f} us/event")
    print(f"count (word -> transform incr):                 {count / 1000:.1f} us/event")
    print(f"whole sentence (split + 12 counts):             {(split + 12 * count) / 1000:.1f} us/sentence")


if __name__ == "__main__":
    main_()
