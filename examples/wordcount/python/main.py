"""wordcount: a Squall module that counts words.

Clients append sentences ``{"user": ..., "text": ...}`` to the depot
"sentences", which is partitioned by user. The stream topology "wordcount"
splits each sentence into lowercase words on the sentence's partition (stage
"split"), hops every word to the partition that owns it (a hash hop keyed by
the word), and there increments the word's count in the PState
"$$wordCounts" (stage "count"). A client that appends with ACK gets the
sentence's number of words back as the topology's ack return, once every
word is counted.

Build it to WebAssembly with ``squall build .`` (this folder).

It imports nothing but squall: every instance start imports the module, and
in WebAssembly ``re`` and ``dataclasses`` would each add tens of
milliseconds to it (see examples/social/python for dataclass inputs).
"""

from __future__ import annotations

import squall

# Every ASCII character that is not a letter or a digit separates words.
_SEPARATORS = str.maketrans({c: " " for c in map(chr, range(128)) if not c.isalnum()})


def words(text: str) -> list[str]:
    """Split ``text`` into words: the maximal runs of letters and digits,
    lowercased. Everything else (spaces, punctuation, symbols, underscores)
    separates words, so "Don't stop, DON'T!" is "don", "t", "stop", "don",
    "t". Letters are Unicode letters and digits decimal digits, lowercased
    one character at a time (İ becomes i, Σ always σ), as every SDK does."""
    if text.isascii():
        return text.lower().translate(_SEPARATORS).split()
    out = []
    word: list[str] = []
    for c in text:
        if c.isalpha() or c.isdecimal():
            word.append("i" if c == "\u0130" else c.lower())
        elif word:
            out.append("".join(word))
            word = []
    if word:
        out.append("".join(word))
    return out


app = squall.Module("wordcount")
sentences = app.depot("sentences", squall.hash_by(squall.key("user")))
word_counts = app.pstate("$$wordCounts", squall.map_of(squall.STRING, squall.INT))

wordcount = app.stream("wordcount")


@wordcount.stage()
def split(ctx: squall.Ctx, sentence: dict) -> None:
    text = sentence.get("text", "") if isinstance(sentence, dict) else None
    if not isinstance(text, str):
        raise squall.InputError(f'a sentence is {{"user": ..., "text": "..."}}, not {sentence!r}')
    ws = words(text)
    for w in ws:
        # Count the word on the partition that owns it: the hop's key picks
        # the partition, the payload is the word itself.
        ctx.hop(count, w, w)
    # The ack return of the sentence: an appender that waits with ACK
    # receives it once every hop above is done.
    ctx.emit(len(ws))


@wordcount.stage()
def count(ctx: squall.Ctx, word: str) -> None:
    if type(word) is not str:
        raise squall.Poison(f"count: a word is a string, not {word!r}")
    # An absent word counts from 0 (incr treats None as 0).
    ctx.transform(word_counts, squall.key(word).incr(1))


wordcount.source(sentences, split)
