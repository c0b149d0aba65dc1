"""A differential test of the runtime's C codec (_squall.packb/unpackb)
against the SDK's pure-Python codec, run inside the wasm runtime by
internal/build/python_test.go (TestPythonCodec).

Stage "check" takes either bytes (an encoding from abi/testdata: both
codecs must decode it alike, or fail alike, and encode the result alike)
or an int seed (random values, their encodings and corruptions of them).
It emits the number of comparisons and fails the item on a difference."""

import dataclasses
import math
import random

import _squall
import squall
from squall import _codec

app = squall.Module("codec")
inputs = app.depot("inputs", squall.random_partition())
codec = app.stream("codec")


def pure_packb(v):
    out = []
    _codec._enc(v, out, 0, "$")
    return b"".join(out)


def pure_unpackb(b):
    b = bytes(b)
    v, pos = _codec._Decoder(b).value(0, 0, False)
    if pos != len(b):
        raise _codec.DecodeError(pos, "trailing_bytes", f"{len(b) - pos} bytes after the value")
    return v


def same(a, b):
    """Equal as the SDK's users see them: the same types, all the way down."""
    if type(a) is not type(b):
        return False
    if type(a) is float:
        return (a != a and b != b) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if type(a) in (list, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if type(a) is dict:
        return len(a) == len(b) and all(same(k1, k2) and same(v1, v2) for (k1, v1), (k2, v2) in zip(a.items(), b.items()))
    if isinstance(a, (set, frozenset, _codec.FrozenMap)):
        return pure_packb(a) == pure_packb(b)
    return a == b


def outcome(fn, arg):
    try:
        return ("ok", fn(arg))
    except Exception as e:  # the error's type, text and location must match
        return ("error", type(e).__name__, str(e), getattr(e, "offset", None), getattr(e, "reason", None))


def agree(what, c, p):
    if c[0] != p[0] or (c[0] == "ok" and not same(c[1], p[1])) or (c[0] == "error" and c != p):
        raise AssertionError(f"{what}: C codec {c!r}, pure codec {p!r}")


def check_bytes(b):
    c, p = outcome(_squall.unpackb, b), outcome(pure_unpackb, b)
    agree(f"unpackb({b.hex()})", c, p)
    n = 1
    if c[0] == "ok":
        agree(f"packb(unpackb({b.hex()}))", outcome(_squall.packb, c[1]), outcome(pure_packb, c[1]))
        n += 1
    return n


@dataclasses.dataclass
class Point:
    x: int
    y: float


class Opaque:
    pass


def scalar(r):
    k = r.randrange(14)
    if k == 0:
        return None
    if k == 1:
        return r.random() < 0.5
    if k == 2:
        return r.choice([0, 1, -1, 31, -32, -33, 127, 128, -128, -129, 255, 256, 65535, 65536, -32768, -32769,
                         2**31 - 1, -2**31, 2**31, 2**32 - 1, 2**32, 2**63 - 1, -2**63, 2**63, -2**63 - 1, 2**70])
    if k == 3:
        return r.randrange(-2**40, 2**40)
    if k == 4:
        return r.choice([0.0, -0.0, 1.0, -1.5, math.inf, -math.inf, math.nan, 1e300, 5e-324, 1.0 / 3])
    if k == 5:
        return r.uniform(-1e6, 1e6)
    if k == 6:
        return "".join(chr(r.choice([r.randrange(32, 127), r.randrange(0x80, 0x800), r.randrange(0x800, 0xd800),
                                     r.randrange(0x10000, 0x110000)])) for _ in range(r.choice([0, 1, 5, 31, 32, 40, 300])))
    if k == 7:
        return "lone \ud800 surrogate" if r.random() < 0.3 else "x" * r.choice([255, 256, 65535, 65536])
    if k == 8:
        return r.randbytes(r.choice([0, 1, 16, 255, 256, 70000]))
    if k == 9:
        return bytearray(r.randbytes(r.randrange(5)))
    if k == 10:
        return memoryview(r.randbytes(3))
    if k == 11:
        return Point(r.randrange(9), 0.5)
    if k == 12:
        return Opaque() if r.random() < 0.2 else True
    return r.choice(["a", "b", "", "ab", 1, 2, True, False, 1.0, 0.0, -0.0])


def value(r, depth=0):
    if depth > 4 or r.random() < 0.4:
        return scalar(r)
    k = r.randrange(6)
    n = r.choice([0, 1, 2, 3, 15, 16, 17])
    if k == 0:
        return [value(r, depth + 1) for _ in range(n)]
    if k == 1:
        return tuple(value(r, depth + 1) for _ in range(min(n, 4)))
    if k == 2:
        out = {}
        for _ in range(n):
            key = scalar(r)
            try:
                out[key] = value(r, depth + 1)
            except TypeError:  # unhashable: a bytearray or memoryview key
                out[str(key)] = 1
        return out
    if k == 3:
        out = set()
        for _ in range(n):
            x = scalar(r)
            try:
                out.add(x)
            except TypeError:
                pass
        return out if r.random() < 0.5 else frozenset(out)
    if k == 4:
        return {(1, "a"): [1], frozenset({1, 2}): None, "k": value(r, depth + 1)}
    v = 0
    for _ in range(r.choice([100, 127, 128, 129])):
        v = [v]
    return v


def check_seed(seed):
    r = random.Random(seed)
    n = 0
    for _ in range(60):
        v = value(r)
        c, p = outcome(_squall.packb, v), outcome(pure_packb, v)
        agree(f"packb({v!r:.200})", c, p)
        n += 1
        if c[0] != "ok":
            continue
        b = c[1]
        n += check_bytes(b)
        # Corruptions: truncated, one byte changed, trailing bytes.
        if b:
            n += check_bytes(b[: r.randrange(len(b))])
            i = r.randrange(len(b))
            n += check_bytes(b[:i] + bytes([r.randrange(256)]) + b[i + 1:])
        n += check_bytes(b + b"\x00")
    return n


@codec.stage()
def check(ctx: squall.Ctx, item) -> None:
    if _codec.packb is not _squall.packb or _codec.unpackb is not _squall.unpackb:
        raise AssertionError("the SDK does not use the runtime's C codec")
    if isinstance(item, bytes):
        ctx.emit(check_bytes(item))
    else:
        ctx.emit(check_seed(item))


codec.source(inputs, check)
