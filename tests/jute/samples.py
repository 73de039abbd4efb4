"""Deterministic field values for the golden-bytes tests, derived from each record's FIELDS.

`golden_variants(cls)` gives GOLDEN_VARIANT_COUNT instances of a record. Variant k gives field j
the value number k + j of that field type's list of edge cases, so across the variants every
field takes every edge value: null and empty strings, buffers and vectors, extreme and negative
numbers, multi-byte UTF-8 of every length Java writes. Nested records and vector items get
shifted variants of their own, so nested values differ from their parents'.

`random_value(kind, rng)` draws seeded random values for a wider differential sweep against
Java. Strings stay in the Basic Multilingual Plane without surrogates: characters above U+FFFF
have their own tests because Java's BinaryOutputArchive writes them differently (see
test_golden_java.py).
"""

from __future__ import annotations

import random
from typing import Any

from tests.jute.schema import is_record
from zkpy.jute.codec import BOOL, BUFFER, INT, LONG, USTRING, Vector

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1

EDGE_VALUES: dict[str, list[Any]] = {
    INT: [0, -1, 1, INT_MAX, INT_MIN, 42, -112, 0x7F],
    LONG: [0, -1, LONG_MAX, LONG_MIN, 0x0123456789ABCDEF, -0x100000000, 1_700_000_000_123, 1],
    BOOL: [True, False],
    BUFFER: [None, b"", b"\x00\x01\xfe\xff", bytes(range(256)), b"zk"],
    USTRING: [
        None,
        "",
        "/app/config",
        "/ünï/cödé/€uro",
        "中文/日本語/한국어",
        "digest:user:ñ+/=",
        "\x00\x7f\x80\u07ff\u0800\ud7ff\ue000\ufffd\uffff",
    ],
}
VECTOR_ITEMS = 3
GOLDEN_VARIANT_COUNT = max(len(values) for values in EDGE_VALUES.values())


def golden_value(kind: Any, k: int) -> Any:
    if isinstance(kind, Vector):
        shape = k % 3
        if shape == 0:
            return None
        if shape == 1:
            return []
        return [golden_value(kind.item, k + i + 1) for i in range(VECTOR_ITEMS)]
    if is_record(kind):
        return golden_record(kind, k)
    values = EDGE_VALUES[kind]
    return values[k % len(values)]


def golden_record(cls: Any, k: int) -> Any:
    return cls(*(golden_value(kind, k + j) for j, (_, kind) in enumerate(cls.FIELDS)))


def golden_variants(cls: Any) -> list[Any]:
    return [golden_record(cls, k) for k in range(GOLDEN_VARIANT_COUNT)]


def _random_text(rng: random.Random) -> str:
    chars = []
    for _ in range(rng.randrange(12)):
        plane = rng.random()
        if plane < 0.5:
            chars.append(chr(rng.randrange(0x80)))
        elif plane < 0.7:
            chars.append(chr(rng.randrange(0x80, 0x800)))
        else:
            code = rng.randrange(0x800, 0x10000 - 0x800)
            chars.append(chr(code if code < 0xD800 else code + 0x800))
    return "".join(chars)


def random_value(kind: Any, rng: random.Random) -> Any:
    if isinstance(kind, Vector):
        if rng.random() < 0.15:
            return None
        return [random_value(kind.item, rng) for _ in range(rng.randrange(4))]
    if is_record(kind):
        return kind(*(random_value(k, rng) for _, k in kind.FIELDS))
    if kind == INT:
        return rng.choice([rng.randint(INT_MIN, INT_MAX), rng.randint(-300, 300)])
    if kind == LONG:
        return rng.choice([rng.randint(LONG_MIN, LONG_MAX), rng.randint(-300, 300)])
    if kind == BOOL:
        return rng.random() < 0.5
    if rng.random() < 0.15:
        return None
    if kind == BUFFER:
        return rng.randbytes(rng.randrange(20))
    return _random_text(rng)
