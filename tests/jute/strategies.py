"""Hypothesis strategies for zkpy's Jute records, derived from each record's FIELDS declaration.

Also builds multi request bodies (MultiOperationRecord) from drawn (opcode, record) pairs.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.jute.schema import is_record
from tests.jute.samples import INT_MAX, INT_MIN, LONG_MAX, LONG_MIN
from zkpy.jute.records import MultiHeader
from zkpy.jute.codec import BOOL, BUFFER, INT, LONG, USTRING, Vector
from zkpy.server.requests import REQUEST_RECORDS

# Keep tests/jute within seconds: each record gets its own test, so examples add up. QUICK is for
# tests whose decoding paths the per-record tests already cover (request dispatch by opcode).
FAST = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
QUICK = settings(FAST, max_examples=10)
MAX_VECTOR_ITEMS = 4
MAX_BYTES = 64
MAX_TEXT_CHARS = 24

# Valid Unicode only: a lone surrogate has no UTF-8 form, so it cannot survive a round trip.
# Jute writes characters above U+FFFF as CESU-8 and reads them back as U+FFFD, exactly as
# Java's Jute does (see test_golden_java), so round trips are only defined inside the BMP.
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), max_codepoint=0xFFFF),
               max_size=MAX_TEXT_CHARS)

PRIMITIVES: dict[str, st.SearchStrategy[Any]] = {
    INT: st.integers(INT_MIN, INT_MAX),
    LONG: st.integers(LONG_MIN, LONG_MAX),
    BOOL: st.booleans(),
    BUFFER: st.none() | st.binary(max_size=MAX_BYTES),
    USTRING: st.none() | TEXT,
}


@cache
def values_of(kind: Any) -> st.SearchStrategy[Any]:
    """Any value of Jute type `kind` that both zkpy and Java can write."""
    if isinstance(kind, Vector):
        return st.none() | st.lists(values_of(kind.item), max_size=MAX_VECTOR_ITEMS)
    if is_record(kind):
        return st.builds(kind, *(values_of(k) for _, k in kind.FIELDS))
    return PRIMITIVES[kind]


def multi_ops(allowed: frozenset[int]) -> st.SearchStrategy[list[tuple[int, Any]]]:
    """(opcode, request record) pairs as a multi or multiRead body carries them."""
    op = st.sampled_from(sorted(allowed))
    return st.lists(
        op.flatmap(lambda code: st.tuples(st.just(code), values_of(REQUEST_RECORDS[code]))),
        max_size=MAX_VECTOR_ITEMS,
    )


def encode_multi(ops: list[tuple[int, Any]]) -> bytes:
    """A MultiOperationRecord as Java's client writes it: header+record pairs, then done=true."""
    out = bytearray()
    for op, record in ops:
        MultiHeader(op, False, -1).encode(out)
        record.encode(out)
    MultiHeader(-1, True, -1).encode(out)
    return bytes(out)
