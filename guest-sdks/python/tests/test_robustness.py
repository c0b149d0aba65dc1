"""Untrusted input never crashes a decoder: the Go fuzz corpus of the value
decoder, and deterministic mutations of every golden frame, give a value or
the decoder's own error, never another exception."""

from __future__ import annotations

import random

import pytest

from squall import _frames as F
from squall._codec import DecodeError, packb, unpackb

from golden import FRAMES, TESTDATA, lines

CORPUS = sorted((TESTDATA / "fuzz" / "FuzzDecode").glob("*"))


def go_bytes(literal: str) -> bytes:
    """The bytes of a Go fuzz corpus line []byte("...")."""
    s = literal.strip()
    assert s.startswith('[]byte("') and s.endswith('")'), s
    s = s[len('[]byte("'):-2]
    out = bytearray()
    i = 0
    simple = {"n": 10, "t": 9, "r": 13, "a": 7, "b": 8, "f": 12, "v": 11, "\\": 92, '"': 34, "'": 39}
    while i < len(s):
        c = s[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        e = s[i + 1]
        if e == "x":
            out.append(int(s[i + 2:i + 4], 16))
            i += 4
        elif e in "uU":
            n = 4 if e == "u" else 8
            out += chr(int(s[i + 2:i + 2 + n], 16)).encode("utf-8")
            i += 2 + n
        elif e in "01234567":
            out.append(int(s[i + 1:i + 4], 8))
            i += 4
        else:
            out.append(simple[e])
            i += 2
    return bytes(out)


@pytest.mark.skipif(not CORPUS, reason="no fuzz corpus")
def test_value_decoder_corpus():
    decoded = 0
    for f in CORPUS:
        data = go_bytes(f.read_text().split("\n")[1])
        try:
            v = unpackb(data)
        except DecodeError:
            continue
        canon = packb(v)
        assert packb(unpackb(canon)) == canon, f.name
        decoded += 1
    assert decoded > 0


def _mutations(b: bytes, rnd: random.Random, n: int):
    for _ in range(n):
        m = bytearray(b)
        for _ in range(rnd.randrange(1, 4)):
            k = rnd.randrange(4)
            if k == 0 and m:
                m[rnd.randrange(len(m))] = rnd.randrange(256)
            elif k == 1 and m:
                del m[rnd.randrange(len(m)):]
            elif k == 2:
                m.insert(rnd.randrange(len(m) + 1), rnd.randrange(256))
            elif m:
                i = rnd.randrange(len(m))
                m[i] ^= 1 << rnd.randrange(8)
        yield bytes(m)


DECODERS = {"init": F.decode_init, "batch": F.decode_batch, "response": F.decode_response,
            "effects": F.decode_effects, "query": F.decode_query}


@pytest.mark.parametrize("kind", sorted(DECODERS))
def test_frame_decoders_never_crash(kind):
    rnd = random.Random(kind)
    decode = DECODERS[kind]
    seeds = [bytes.fromhex(v["hex"]) for v in lines(FRAMES / f"{kind}.jsonl")]
    seeds += [bytes.fromhex(v["hex"]) for v in lines(FRAMES / "invalid.jsonl") if v["frame"] == kind]
    tried = 0
    for seed in seeds:
        for m in _mutations(seed, rnd, 300):
            try:
                decode(m)
            except F.FrameError:
                pass
            tried += 1
    assert tried >= 300


def test_value_decoder_mutations():
    rnd = random.Random(5)
    for v in lines(TESTDATA / "values.jsonl"):
        b = bytes.fromhex(v["hex"])
        if len(b) > 4096:
            continue
        for m in _mutations(b, rnd, 40):
            try:
                x = unpackb(m)
            except DecodeError:
                continue
            canon = packb(x)
            assert packb(unpackb(canon)) == canon
