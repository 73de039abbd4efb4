"""Fuzz tests: no input makes a decoder fail other than with DECODE_ERRORS, or allocate a lot.

Callers close a connection (or reject a log entry) on exactly `DECODE_ERRORS`; any other
exception type (IndexError, UnicodeError, KeyError, MemoryError...) escapes that handling. The
inputs are truncations and corruptions of valid encodings (so the decoders get deep into a
record before meeting the damage) and plain random bytes, for every record, every request
opcode (decode_request), whole txns (decode_txn) and multi-txn elements (subtxn_record).
A length or vector count larger than the bytes left could possibly hold must fail before
anything is allocated for it.
"""

from __future__ import annotations

import time
import tracemalloc
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.jute.schema import all_records, is_record, record_by_name
from tests.jute.strategies import FAST, QUICK, encode_multi, multi_ops, values_of
from zkpy.jute import records as r
from zkpy.jute.codec import (
    BOOL,
    BUFFER,
    DECODE_ERRORS,
    INT_STRUCT,
    USTRING,
    DecodeError,
    Vector,
    record,
)
from zkpy.jute.constants import OpCode
from zkpy.jute.txns import TXN_RECORDS, decode_txn, encode_txn, subtxn_record
from zkpy.server.requests import MULTI_READ_OPS, MULTI_WRITE_OPS, REQUEST_RECORDS, decode_request

RECORD_NAMES = [cls.__name__ for cls in all_records()]
# Every opcode, plus values no opcode has.
REQUEST_OPS = sorted({*OpCode.values(), -(2**31), -100, 23, 99, 108, 2**31 - 1})
# What a decoder of a frame at most jute.maxbuffer long may allocate for a hostile count.
MAX_ALLOCATION_BYTES = 256 * 1024
# Generous for a loaded machine; looping over a hostile count would take minutes.
FAIL_FAST_S = 0.5
TXN_HEADER_BYTES = 8 + 4 + 8 + 8 + 4


@st.composite
def damaged(draw: st.DrawFn, encoded: bytes) -> bytes:
    """A truncation, a byte overwrite, or a planted 32-bit value somewhere in `encoded`."""
    data = bytearray(encoded)
    how = draw(st.sampled_from(["cut", "byte", "int"]))
    if how == "cut" or not data:
        return bytes(data[: draw(st.integers(0, len(data)))])
    at = draw(st.integers(0, len(data) - 1))
    if how == "byte":
        data[at] = draw(st.integers(0, 255))
    else:
        planted = draw(st.sampled_from([-2, -1, 0, 1, 0x7FFFFFFF, -(2**31), 0xFFFFF]))
        data[at : at + 4] = INT_STRUCT.pack(planted)
    return bytes(data)


def survives(decode: Any, data: bytes) -> Any:
    """Decodes, turning only DECODE_ERRORS into None: anything else fails the test."""
    try:
        return decode(data)
    except DECODE_ERRORS:
        return None


def accepted_truncations(decode: Any, encoded: bytes) -> list[int]:
    """The cut points at which `decode` accepts a strict prefix of `encoded` (it never should)."""
    return [end for end in range(len(encoded)) if survives(decode, encoded[:end]) is not None]


@pytest.mark.parametrize("name", RECORD_NAMES)
@FAST
@given(data=st.data())
def test_truncated_damaged_or_random_input_raises_only_decode_errors(
    name: str, data: st.DataObject
) -> None:
    cls = record_by_name()[name]
    encoded = data.draw(values_of(cls)).to_bytes()
    assert accepted_truncations(lambda b: cls.decode(b, 0), encoded) == []
    blob = data.draw(damaged(encoded) | st.binary(max_size=64))
    decoded = survives(lambda b: cls.decode(b, 0), blob)
    if decoded is not None:
        value, consumed = decoded
        assert 0 <= consumed <= len(blob)
        again = value.to_bytes()
        assert cls.decode(again, 0) == (value, len(again))


def _sized_fields(cls: Any) -> list[int]:
    """Indexes of the fields that start with a length or count: vectors, buffers, strings."""
    return [
        i for i, (_, kind) in enumerate(cls.FIELDS)
        if isinstance(kind, Vector) or kind in (BUFFER, USTRING)
    ]


@pytest.mark.parametrize(
    ("name", "index"),
    [(cls.__name__, i) for cls in all_records() for i in _sized_fields(cls)],
)
@pytest.mark.parametrize("count", [0x7FFFFFFF, 0x1000000, 300])
def test_huge_length_or_count_fails_fast(name: str, index: int, count: int) -> None:
    """A length or count the remaining 64 bytes cannot hold fails before allocating for it."""
    cls = record_by_name()[name]
    before = record("Prefix", list(cls.FIELDS[:index]))
    prefix = before(*(_filler(kind) for _, kind in cls.FIELDS[:index])).to_bytes()
    blob = prefix + INT_STRUCT.pack(count) + b"\x00" * 64
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(DecodeError):
            cls.decode(blob, 0)
        elapsed_s = time.perf_counter() - started
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed_s < FAIL_FAST_S
    assert peak_bytes < MAX_ALLOCATION_BYTES


def _filler(kind: Any) -> Any:
    """Some valid value of `kind`, to reach the vector under test."""
    if isinstance(kind, Vector) or kind in (BUFFER, USTRING):
        return None
    if kind == BOOL:
        return False
    if is_record(kind):
        return kind(*(_filler(k) for _, k in kind.FIELDS))
    return 1


@pytest.mark.parametrize("op", REQUEST_OPS)
@QUICK
@given(data=st.data())
def test_decode_request_raises_only_decode_errors(op: int, data: st.DataObject) -> None:
    if op in REQUEST_RECORDS:
        encoded = data.draw(values_of(REQUEST_RECORDS[op])).to_bytes()
    elif op in (OpCode.multi, OpCode.multiRead):
        encoded = encode_multi(
            data.draw(multi_ops(MULTI_WRITE_OPS if op == OpCode.multi else MULTI_READ_OPS))
        )
    else:
        encoded = data.draw(st.binary(max_size=16))
    header = r.RequestHeader(1, op).to_bytes()
    blob = data.draw(damaged(encoded) | st.binary(max_size=64))
    survives(lambda b: decode_request(op, header + b, len(header)), blob)


@pytest.mark.parametrize(
    ("op", "allowed"),
    [(OpCode.multi, MULTI_WRITE_OPS), (OpCode.multiRead, MULTI_READ_OPS)],
    ids=["multi", "multiRead"],
)
@FAST
@given(data=st.data())
def test_truncated_multi_bodies_raise(
    op: int, allowed: frozenset[int], data: st.DataObject
) -> None:
    encoded = encode_multi(data.draw(multi_ops(allowed)))
    assert accepted_truncations(lambda b: decode_request(op, b, 0), encoded) == []


@pytest.mark.parametrize(
    ("op", "foreign"),
    [(OpCode.multi, op) for op in (OpCode.getData, OpCode.getChildren, OpCode.sync, OpCode.multi)]
    + [(OpCode.multiRead, op) for op in (OpCode.create, OpCode.delete, OpCode.exists, 999)],
)
def test_multi_with_an_op_it_may_not_carry_is_a_decode_error(op: int, foreign: int) -> None:
    body = r.MultiHeader(foreign, False, -1).to_bytes() + r.SyncRequest("/a").to_bytes()
    with pytest.raises(DecodeError):
        decode_request(op, body + r.MultiHeader(-1, True, -1).to_bytes(), 0)


@FAST
@given(data=st.data())
def test_decode_txn_raises_only_decode_errors(data: st.DataObject) -> None:
    header = data.draw(values_of(r.TxnHeader))
    header.type = data.draw(st.sampled_from(sorted({*TXN_RECORDS, *OpCode.values()})))
    body_kind = TXN_RECORDS.get(header.type)
    body = data.draw(values_of(body_kind)) if body_kind is not None else None
    digest = data.draw(st.none() | values_of(r.TxnDigest))
    encoded = encode_txn(header, body, digest)
    blob = data.draw(damaged(encoded) | st.binary(max_size=96))
    survives(decode_txn, blob)


@pytest.mark.parametrize("end", range(TXN_HEADER_BYTES))
def test_txn_cut_inside_its_header_raises(end: int) -> None:
    with pytest.raises(DECODE_ERRORS):
        decode_txn(r.TxnHeader(1, 2, 3, 4, OpCode.create).to_bytes()[:end])


@FAST
@given(data=st.data())
def test_subtxn_record_of_damaged_data_raises_only_decode_errors(data: st.DataObject) -> None:
    op = data.draw(st.sampled_from(sorted(TXN_RECORDS)))
    encoded = data.draw(values_of(TXN_RECORDS[op])).to_bytes()
    blob = data.draw(damaged(encoded) | st.binary(max_size=64))
    survives(subtxn_record, r.Txn(op, blob))


@pytest.mark.parametrize(
    "op",
    [OpCode.multi, OpCode.createSession, OpCode.closeSession, OpCode.getData, 12345, -(2**31)],
)
def test_subtxn_record_of_an_unknown_type_is_a_decode_error(op: int) -> None:
    """A MultiTxn element's type comes from the log or the leader: an unknown one is bad input.

    Java's DataTree.processTxn answers it with IOException("Invalid type of op"); a KeyError
    would get past every DECODE_ERRORS handler.
    """
    with pytest.raises(DECODE_ERRORS):
        subtxn_record(r.Txn(op, b""))
