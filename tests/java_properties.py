"""java.util.Properties.load(InputStream), in Python: how the bridge reads application.properties.

The bridge's ConfigRetriever hands the file to Properties.load, which reads ISO-8859-1, joins lines ending
in an odd number of backslashes, skips `#`/`!` comments, splits the key at the first unescaped `=`, `:` or
white space and decodes `\\uXXXX`, `\\t`, `\\n`, `\\r`, `\\f`. tests/unit/test_java_properties.py checks this
port against the JDK's own parser on a corpus of hostile text.
"""

from __future__ import annotations

import re

_WHITESPACE = " \t\f"
_NATURAL_LINES = re.compile(r"\r\n|\r|\n")


def _unescape(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char != "\\" or i + 1 == len(text):
            out.append(char)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "u":
            out.append(chr(int(text[i + 2 : i + 6], 16)))
            i += 6
            continue
        out.append({"t": "\t", "n": "\n", "r": "\r", "f": "\f"}.get(nxt, nxt))
        i += 2
    # Java strings are UTF-16: a \\uD83D\\uDE80 pair is one character
    return "".join(out).encode("utf-16-le", "surrogatepass").decode("utf-16-le")


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    pending: str | None = None
    for natural in _NATURAL_LINES.split(text):
        stripped = natural.lstrip(_WHITESPACE)
        if pending is None and (not stripped or stripped[0] in "#!"):
            continue  # blank and comment lines end at their newline, backslash or not
        current = stripped if pending is None else pending + stripped
        if (len(stripped) - len(stripped.rstrip("\\"))) % 2 == 1:
            pending = current[:-1]  # an odd run of backslashes continues the line on the next one
            continue
        pending = None
        lines.append(current)
    if pending is not None:
        lines.append(pending)
    return lines


def _split(line: str) -> tuple[str, str]:
    """Properties.load0: the key ends at an unescaped `=`, `:` or white space; one separator may follow."""
    key_end, value_start, has_separator, backslash = 0, len(line), False, False
    while key_end < len(line):
        char = line[key_end]
        if char in "=:" and not backslash:
            value_start, has_separator = key_end + 1, True
            break
        if char in _WHITESPACE and not backslash:
            value_start = key_end + 1
            break
        backslash = not backslash if char == "\\" else False
        key_end += 1
    while value_start < len(line):
        char = line[value_start]
        if char not in _WHITESPACE:
            if has_separator or char not in "=:":
                break
            has_separator = True
        value_start += 1
    return _unescape(line[:key_end]), _unescape(line[value_start:])


def load(data: bytes) -> dict[str, str]:
    """The properties in `data`, as Properties.load(InputStream) reads them (the last of a repeated key wins)."""
    out: dict[str, str] = {}
    for line in _logical_lines(data.decode("iso-8859-1")):
        key, value = _split(line)
        out[key] = value
    return out
