"""The java.util.Properties text format, as Apache ZooKeeper reads zoo.cfg with it, and Java's
integer syntax, which ZooKeeper applies to numeric values.

Theory of operation
-------------------
``Properties.load`` works on *logical* lines: a physical line ending in an odd number of
backslashes continues on the next one (whose leading blanks are dropped); a line whose first
non-blank character is ``#`` or ``!`` is a comment, and comments never continue. The key ends at
the first unescaped ``=``, ``:`` or blank; blanks and at most one ``=``/``:`` after it are
skipped; the rest of the line is the value. ``\\uXXXX``, ``\\t``, ``\\n``, ``\\r``, ``\\f`` are
escapes, and a backslash before any other character stands for that character. ZooKeeper then
trims both key and value with ``String.trim`` (every character up to U+0020), as done here.

Unlike Properties, which keeps one value per key, ``read_properties`` returns every entry in file
order with its line number, so that callers can name the line of a bad value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Property:
    key: str
    value: str
    line: int
    """1-based number of the physical line the logical line starts on."""


class PropertiesSyntaxError(ValueError):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_BLANK = " \t\f"
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|u|.)", re.DOTALL)
_ESCAPED_CONTROL = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
JAVA_TRIMMED = "".join(chr(code) for code in range(33))
"""The characters Java's String.trim removes."""


def read_properties(text: str) -> list[Property]:
    """Split Properties text into trimmed entries, in file order (repeated keys included)."""
    physical = _LINE_BREAK.split(text)
    entries: list[Property] = []
    index = 0
    while index < len(physical):
        first_line = index + 1
        logical = physical[index].lstrip(_BLANK)
        index += 1
        if not logical or logical[0] in "#!":
            continue
        while _ends_in_odd_backslashes(logical):
            logical = logical[:-1]
            if index == len(physical):
                break
            logical += physical[index].lstrip(_BLANK)
            index += 1
        key, value = _split_entry(logical)
        entries.append(
            Property(
                _unescape(key, first_line).strip(JAVA_TRIMMED),
                _unescape(value, first_line).strip(JAVA_TRIMMED),
                first_line,
            )
        )
    return entries


def decode_properties(data: bytes) -> str:
    """UTF-8, or ISO-8859-1 (what Properties.load(InputStream) always uses) if that fails."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("iso-8859-1")


_JAVA_INTEGER = re.compile(r"[+-]?[0-9]+")


def parse_java_int(text: str, bits: int = 32) -> int:
    """``Integer.parseInt`` (bits=32) or ``Long.parseLong`` (bits=64): ASCII digits, one sign."""
    if not _JAVA_INTEGER.fullmatch(text):
        raise ValueError(f"{text!r} is not an integer")
    number = int(text)
    if not -(2 ** (bits - 1)) <= number < 2 ** (bits - 1):
        raise ValueError(f"{text!r} is out of range for a {bits}-bit integer")
    return number


def _ends_in_odd_backslashes(text: str) -> bool:
    return (len(text) - len(text.rstrip("\\"))) % 2 == 1


def _split_entry(logical: str) -> tuple[str, str]:
    key_end = value_start = len(logical)
    has_separator = escaped = False
    for index, char in enumerate(logical):
        if not escaped and char in "=:":
            key_end, value_start, has_separator = index, index + 1, True
            break
        if not escaped and char in _BLANK:
            key_end, value_start = index, index + 1
            break
        escaped = char == "\\" and not escaped
    while value_start < len(logical):
        char = logical[value_start]
        if char not in _BLANK:
            if has_separator or char not in "=:":
                break
            has_separator = True
        value_start += 1
    return logical[:key_end], logical[value_start:]


def _unescape(raw: str, line: int) -> str:
    if "\\" not in raw:
        return raw

    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        if code == "u":
            raise PropertiesSyntaxError(line, "Malformed \\uxxxx encoding.")
        if len(code) == 5:
            return chr(int(code[1:], 16))
        return _ESCAPED_CONTROL.get(code, code)

    return _ESCAPE.sub(replace, raw)
