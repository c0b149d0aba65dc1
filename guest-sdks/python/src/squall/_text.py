"""Text helpers that render names and values the way the Go host and SDK
do, so that messages are the same in every language (the conformance suite
compares dead-letter messages byte for byte)."""

from __future__ import annotations

import math
import unicodedata
from typing import Any


def quote(s: str) -> str:
    """Go's strconv.Quote: a double-quoted string with Go escapes;
    printable Unicode is kept as is."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\a":
            out.append("\\a")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\v":
            out.append("\\v")
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif o < 0x80 or _printable(ch):
            out.append(ch)
        elif 0xD800 <= o <= 0xDFFF:
            out.append("\\ufffd")
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    out.append('"')
    return "".join(out)


def _printable(ch: str) -> bool:
    # Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols
    # and the ASCII space.
    return unicodedata.category(ch)[0] in "LMNPS"


def quote_rune(ch: str) -> str:
    """Go's strconv.QuoteRune."""
    q = quote(ch)[1:-1]
    if q == "'":
        q = "\\'"
    elif q == '\\"':
        q = '"'
    return "'" + q + "'"


def format_float(f: float) -> str:
    """The Go SDK's rendering of a float: shortest round trip, always with a
    decimal point or exponent, NaN, +Inf, -Inf, -0.0."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    r = repr(f)
    if "e" in r:
        mant, exp = r.split("e")
        sign = "-" if exp.startswith("-") else "+"
        exp = exp.lstrip("+-").rjust(2, "0")
        return f"{mant}e{sign}{exp}"
    if "." not in r:
        r += ".0"
    return r


def value_text(v: Any) -> str:
    """Render a value like the Go SDK's Value.String: strings quoted, bytes
    as 0x"..", sets as #{..}, maps and sets in canonical order."""
    from ._codec import packb

    if v is None:
        return "nil"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(int(v))
    if isinstance(v, float):
        return format_float(v)
    if isinstance(v, str):
        return quote(v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return '0x"' + bytes(v).hex() + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(value_text(x) for x in v) + "]"
    if isinstance(v, (set, frozenset)):
        elems = getattr(v, "values", v)
        return "#{" + ", ".join(value_text(x) for x in sorted(elems, key=packb)) + "}"
    if hasattr(v, "items"):
        items = sorted(v.items(), key=lambda kv: packb(kv[0]))
        return "{" + ", ".join(value_text(k) + ": " + value_text(x) for k, x in items) + "}"
    return repr(v)
