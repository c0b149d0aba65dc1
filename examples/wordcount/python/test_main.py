"""Tests of the wordcount module, run natively with squall.testing."""

import random

import pytest

import squall
from squall.testing import Harness

import main


@pytest.mark.parametrize(
    "text, want",
    [
        ("", []),
        ("  \t\n", []),
        ("...!?", []),
        ("Hello, hello WORLD!", ["hello", "hello", "world"]),
        ("Don't stop", ["don", "t", "stop"]),
        ("route66 is 3,000 km", ["route66", "is", "3", "000", "km"]),
        ("ÇA VA? Ça va.", ["ça", "va", "ça", "va"]),
        ("tab\tand—dash", ["tab", "and", "dash"]),
        ("snake_case", ["snake", "case"]),
        ("İSTANBUL ΣΟΦΟΣ Straße ǅemal", ["istanbul", "σοφοσ", "straße", "ǆemal"]),
        ("½ cup, Ⅻ o'clock", ["cup", "o", "clock"]),
        ("naïve café ΣΊΣΥΦΟΣ 日本 x２", ["naïve", "café", "σίσυφοσ", "日本", "x２"]),
    ],
)
def test_words(text, want):
    assert main.words(text) == want


def count(h: Harness, word: str) -> int:
    """A word's count as a client reads it (0 when absent)."""
    return h.select_one("$$wordCounts", squall.key(word)) or 0


def test_counts_and_ack_return():
    h = Harness(main.app, partitions=4)
    a = h.append("sentences", {"user": "ann", "text": "Hello, hello WORLD!"})
    assert a.ack_return("wordcount") == 3
    h.append("sentences", {"user": "bob", "text": "world peace"})
    for w, want in {"hello": 2, "world": 2, "peace": 1, "war": 0}.items():
        assert count(h, w) == want, w
    # The sentence went to its user's partition.
    assert a.partition == h.key_partition("ann")
    assert h.dead_letters == []


def test_words_live_on_their_partitions():
    h = Harness(main.app, partitions=4)
    ws = "alpha beta gamma delta epsilon zeta eta theta iota kappa".split()
    h.append("sentences", {"user": "ann", "text": " ".join(ws)})
    owners = set()
    for w in ws:
        owner = h.key_partition(w)
        owners.add(owner)
        for p in range(h.partitions):
            got = h.select_partition("$$wordCounts", p, squall.path().must_key(w))
            assert (got == [1]) == (p == owner), (w, p, owner, got)
    assert len(owners) >= 2, "ten words all hash to one partition: the test proves nothing"


def test_random_sentences_match_a_model():
    rnd = random.Random(7)
    vocab = ["the", "cat", "sat", "on", "mat", "Über", "ÉTÉ", "été", "x1", "42"]
    h = Harness(main.app, partitions=8, batch_size=5)
    model: dict = {}
    for i in range(60):
        text = " ".join(rnd.choice(vocab) + rnd.choice(["", ",", "!", " -"]) for _ in range(rnd.randrange(0, 9)))
        a = h.append("sentences", {"user": f"u{i % 7}", "text": text})
        ws = main.words(text)
        assert a.ack_return("wordcount") == len(ws)
        for w in ws:
            model[w] = model.get(w, 0) + 1
    for w, n in model.items():
        assert count(h, w) == n, w
    got = {}
    for p in range(h.partitions):
        got.update(h.pstate("$$wordCounts", p) or {})
    assert got == model


def test_bad_records_are_dead_lettered():
    h = Harness(main.app, partitions=2)
    h.append("sentences", {"user": "ann", "text": 5})
    h.append("sentences", "not a map")
    assert [(d.stage, d.error.kind) for d in h.dead_letters] == [("split", "input"), ("split", "input")]
    assert h.dead_letters[0].error.message == 'a sentence is {"user": ..., "text": "..."}, not {\'text\': 5, \'user\': \'ann\'}'
