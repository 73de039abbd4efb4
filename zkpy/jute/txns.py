"""Which txn record follows a TxnHeader of a given type, and whole-txn (de)serialization.

A txn is what the leader proposes, the log stores and every replica applies:
TxnHeader + the record for its type (+ an optional TxnDigest). The mapping follows
SerializeUtils.deserializeTxn; create2 shares CreateTxn and deleteContainer shares DeleteTxn.
"""

from __future__ import annotations

from typing import Any

from zkpy.jute import records as r
from zkpy.jute.codec import DECODE_ERRORS, DecodeError
from zkpy.jute.constants import OpCode

TXN_RECORDS: dict[int, Any] = {
    OpCode.create: r.CreateTxn,
    OpCode.create2: r.CreateTxn,
    OpCode.createTTL: r.CreateTTLTxn,
    OpCode.createContainer: r.CreateContainerTxn,
    OpCode.delete: r.DeleteTxn,
    OpCode.deleteContainer: r.DeleteTxn,
    OpCode.setData: r.SetDataTxn,
    OpCode.reconfig: r.SetDataTxn,
    OpCode.setACL: r.SetACLTxn,
    OpCode.check: r.CheckVersionTxn,
    OpCode.error: r.ErrorTxn,
    OpCode.multi: r.MultiTxn,
    OpCode.createSession: r.CreateSessionTxn,
    OpCode.closeSession: r.CloseSessionTxn,
}


def encode_txn(header: Any, txn: Any, digest: Any = None) -> bytes:
    out = bytearray()
    header.encode(out)
    if txn is not None:
        txn.encode(out)
    if digest is not None:
        digest.encode(out)
    return bytes(out)


def decode_txn(data: bytes) -> tuple[Any, Any, Any]:
    """(header, txn, digest-or-None) from the bytes of one logged or proposed txn."""
    header, off = r.TxnHeader.decode(data, 0)
    txn = None
    cls = TXN_RECORDS.get(header.type)
    if header.type == OpCode.closeSession and off == len(data):
        return header, None, None
    if cls is not None:
        if header.type == OpCode.create and off < len(data):
            txn, off = _decode_create(data, off)
        else:
            txn, off = cls.decode(data, off)
    digest = None
    if len(data) - off >= 12:
        digest, off = r.TxnDigest.decode(data, off)
    return header, txn, digest


def _decode_create(data: bytes, off: int) -> tuple[Any, int]:
    """Reads CreateTxn, falling back to the pre-3.3 CreateTxnV0 without parentCVersion."""
    try:
        return r.CreateTxn.decode(data, off)
    except DECODE_ERRORS:
        v0, end = r.CreateTxnV0.decode(data, off)
        return r.CreateTxn(v0.path, v0.data, v0.acl, v0.ephemeral, -1), end


def subtxn_record(subtxn: Any) -> Any:
    """The record inside one element of a MultiTxn."""
    cls = TXN_RECORDS.get(subtxn.type)
    if cls is None or subtxn.type in (OpCode.multi, OpCode.createSession, OpCode.closeSession):
        raise DecodeError(f"txn type {subtxn.type} cannot appear inside a multi")
    return cls.from_bytes(subtxn.data or b"")
