"""Text helpers that render names and values the way the Go host and SDK
do, so that messages are the same in every language (the conformance suite
compares dead-letter messages byte for byte)."""

from __future__ import annotations

import math
# typing is imported by type checkers only: annotations are strings here
# (PEP 563), and every instance start imports this module.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def quote(s: str) -> str:
    """Quote ``s`` as every Squall SDK quotes names and values in messages
    (Go's strconv.Quote): double quotes, backslash escapes for quotes,
    backslashes and non-printable characters; printable Unicode as is.
    Dead-letter messages built with it read the same in every language."""
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
    import unicodedata

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
    """The Go SDK's rendering of a float (strconv.FormatFloat(f, 'g', -1,
    64), then ".0" when it reads like an int): shortest round-trip digits,
    an exponent below 1e-4 and from 1e6, as Go's %g does; NaN, +Inf,
    -Inf, -0.0."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    neg = math.copysign(1.0, f) < 0
    if f == 0:
        return "-0.0" if neg else "0.0"
    r = repr(abs(f))
    exp10 = 0
    if "e" in r:
        r, e = r.split("e")
        exp10 = int(e)
    ip, _, fp = r.partition(".")
    digits = ip + fp
    stripped = digits.lstrip("0")
    dp = len(ip) + exp10 - (len(digits) - len(stripped))
    ds = stripped.rstrip("0") or "0"
    nd = len(ds)
    exp = dp - 1
    if exp < -4 or exp >= _EPREC:
        m = ds[0] + ("." + ds[1:] if nd > 1 else "")
        s = f"{m}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    elif dp <= 0:
        s = "0." + "0" * (-dp) + ds
    elif dp >= nd:
        s = ds + "0" * (dp - nd)
    else:
        s = ds[:dp] + "." + ds[dp:]
    if not any(c in s for c in ".eIN"):
        s += ".0"
    return ("-" if neg else "") + s


# Go's %g with the shortest precision uses an exponent from 1e6 (and
# below 1e-4).
_EPREC = 6


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
