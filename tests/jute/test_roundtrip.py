"""Property tests: every record, txn and request body zkpy writes, it reads back unchanged.

Values come from strategies derived from each record's FIELDS (strategies.py), so the properties
cover every declared record: null and empty strings, buffers and vectors, full int and long
ranges, any valid Unicode, nested records and vectors of records.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.jute.schema import all_records, record_by_name
from tests.jute.strategies import FAST, encode_multi, multi_ops, values_of
from zkpy.jute import records as r
from zkpy.jute.constants import OpCode
from zkpy.jute.txns import TXN_RECORDS, decode_txn, encode_txn, subtxn_record
from zkpy.server.requests import (
    MULTI_READ_OPS,
    MULTI_WRITE_OPS,
    NO_BODY_OPS,
    REQUEST_RECORDS,
    decode_request,
    multi_op_type,
)

RECORD_NAMES = [cls.__name__ for cls in all_records()]


@pytest.mark.parametrize("name", RECORD_NAMES)
@FAST
@given(data=st.data(), prefix=st.binary(max_size=8), suffix=st.binary(max_size=8))
def test_record_round_trip(name: str, data: st.DataObject, prefix: bytes, suffix: bytes) -> None:
    cls = record_by_name()[name]
    value = data.draw(values_of(cls))
    encoded = value.to_bytes()
    assert cls.decode(encoded, 0) == (value, len(encoded))
    assert cls.decode(prefix + encoded + suffix, len(prefix)) == (value, len(prefix) + len(encoded))
    assert cls.from_bytes(encoded + suffix) == value
    out = bytearray(prefix)
    value.encode(out)
    assert bytes(out) == prefix + encoded


@pytest.mark.parametrize("op", sorted(TXN_RECORDS), ids=OpCode.name_of)
@FAST
@given(data=st.data(), with_digest=st.booleans())
def test_txn_round_trip(op: int, data: st.DataObject, with_digest: bool) -> None:
    header = data.draw(values_of(r.TxnHeader))
    header.type = op
    txn = data.draw(values_of(TXN_RECORDS[op]))
    digest = data.draw(values_of(r.TxnDigest)) if with_digest else None
    assert decode_txn(encode_txn(header, txn, digest)) == (header, txn, digest)


@FAST
@given(header=values_of(r.TxnHeader))
def test_close_session_txn_without_body(header: Any) -> None:
    """Before 3.6 a closeSession txn had no body."""
    header.type = OpCode.closeSession
    assert decode_txn(encode_txn(header, None)) == (header, None, None)


@FAST
@given(header=values_of(r.TxnHeader), v0=values_of(r.CreateTxnV0))
def test_pre_3_3_create_txn_reads_as_create_txn(header: Any, v0: Any) -> None:
    header.type = OpCode.create
    expected = r.CreateTxn(v0.path, v0.data, v0.acl, v0.ephemeral, -1)
    assert decode_txn(encode_txn(header, v0)) == (header, expected, None)


# What a MultiTxn may carry: the types Java's DataTree.processTxn accepts inside a multi.
MULTI_SUBTXN_TYPES = sorted(
    {
        OpCode.create,
        OpCode.create2,
        OpCode.createTTL,
        OpCode.createContainer,
        OpCode.delete,
        OpCode.deleteContainer,
        OpCode.setData,
        OpCode.check,
        OpCode.error,
    }
)


@FAST
@given(data=st.data())
def test_multi_txn_subtxns_round_trip(data: st.DataObject) -> None:
    ops = data.draw(st.lists(st.sampled_from(MULTI_SUBTXN_TYPES), max_size=4))
    records = [data.draw(values_of(TXN_RECORDS[op])) for op in ops]
    multi = r.MultiTxn([r.Txn(op, rec.to_bytes()) for op, rec in zip(ops, records)])
    decoded = r.MultiTxn.from_bytes(multi.to_bytes())
    assert [subtxn_record(sub) for sub in decoded.txns] == records


@pytest.mark.parametrize("op", sorted(REQUEST_RECORDS), ids=OpCode.name_of)
@FAST
@given(data=st.data())
def test_request_round_trip(op: int, data: st.DataObject) -> None:
    value = data.draw(values_of(REQUEST_RECORDS[op]))
    header = r.RequestHeader(7, op).to_bytes()
    assert decode_request(op, header + value.to_bytes(), len(header)) == value


@pytest.mark.parametrize("op", sorted(NO_BODY_OPS), ids=OpCode.name_of)
def test_body_less_requests_decode_to_none(op: int) -> None:
    assert decode_request(op, b"", 0) is None


@pytest.mark.parametrize(
    ("op", "allowed"),
    [(OpCode.multi, MULTI_WRITE_OPS), (OpCode.multiRead, MULTI_READ_OPS)],
    ids=["multi", "multiRead"],
)
@FAST
@given(data=st.data())
def test_multi_request_round_trip(op: int, allowed: frozenset[int], data: st.DataObject) -> None:
    ops = data.draw(multi_ops(allowed))
    # Like MultiOperationRecord, decoding types each create sub-op by its flags.
    expected = [(multi_op_type(sub_op, record), record) for sub_op, record in ops]
    assert decode_request(op, encode_multi(ops), 0) == expected
