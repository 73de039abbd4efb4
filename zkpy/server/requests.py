"""Decoding request bodies by opcode, and which opcodes are writes.

Mirrors ZooKeeperServer/Request: a write goes through prep and becomes a txn; everything else is
answered from the tree in session order. A multi body (MultiOperationRecord) is a list of
MultiHeader + op record pairs ended by a header with done=true; read ops and write ops may not be
mixed in one multi, and an op type outside the allowed set makes the whole body undecodable.
"""

from __future__ import annotations

from typing import Any

from zkpy.jute import records as r
from zkpy.jute.codec import DecodeError
from zkpy.jute.constants import OpCode

WRITE_OPS = frozenset(
    {
        OpCode.create,
        OpCode.create2,
        OpCode.createContainer,
        OpCode.createTTL,
        OpCode.delete,
        OpCode.setData,
        OpCode.setACL,
        OpCode.check,
        OpCode.multi,
        OpCode.reconfig,
        OpCode.closeSession,
    }
)

REQUEST_RECORDS: dict[int, Any] = {
    OpCode.create: r.CreateRequest,
    OpCode.create2: r.CreateRequest,
    OpCode.createContainer: r.CreateRequest,
    OpCode.createTTL: r.CreateTTLRequest,
    OpCode.delete: r.DeleteRequest,
    OpCode.exists: r.ExistsRequest,
    OpCode.getData: r.GetDataRequest,
    OpCode.setData: r.SetDataRequest,
    OpCode.getACL: r.GetACLRequest,
    OpCode.setACL: r.SetACLRequest,
    OpCode.getChildren: r.GetChildrenRequest,
    OpCode.getChildren2: r.GetChildren2Request,
    OpCode.sync: r.SyncRequest,
    OpCode.check: r.CheckVersionRequest,
    OpCode.reconfig: r.ReconfigRequest,
    OpCode.checkWatches: r.CheckWatchesRequest,
    OpCode.removeWatches: r.RemoveWatchesRequest,
    OpCode.setWatches: r.SetWatches,
    OpCode.setWatches2: r.SetWatches2,
    OpCode.getEphemerals: r.GetEphemeralsRequest,
    OpCode.getAllChildrenNumber: r.GetAllChildrenNumberRequest,
    OpCode.addWatch: r.AddWatchRequest,
    OpCode.auth: r.AuthPacket,
    OpCode.sasl: r.GetSASLRequest,
}

# Request.isValid plus the two ops ZooKeeperServer handles before it (auth, sasl).
KNOWN_OPS = frozenset(
    {OpCode.notification, OpCode.sync, OpCode.exists, OpCode.getData, OpCode.getACL,
     OpCode.getChildren, OpCode.getChildren2, OpCode.ping, OpCode.multiRead, OpCode.setWatches,
     OpCode.setWatches2, OpCode.checkWatches, OpCode.removeWatches, OpCode.getEphemerals,
     OpCode.getAllChildrenNumber, OpCode.addWatch, OpCode.whoAmI, OpCode.auth, OpCode.sasl}
) | WRITE_OPS

NO_BODY_OPS = frozenset({OpCode.ping, OpCode.closeSession, OpCode.whoAmI})

MULTI_WRITE_OPS = frozenset(
    {OpCode.create, OpCode.create2, OpCode.createContainer, OpCode.createTTL, OpCode.delete,
     OpCode.setData, OpCode.check}
)
MULTI_READ_OPS = frozenset({OpCode.getChildren, OpCode.getData})


def decode_multi(data: bytes, off: int, read_only: bool) -> list[tuple[int, Any]]:
    ops: list[tuple[int, Any]] = []
    allowed = MULTI_READ_OPS if read_only else MULTI_WRITE_OPS
    while True:
        header, off = r.MultiHeader.decode(data, off)
        if header.done:
            return ops
        if header.type not in allowed:
            raise DecodeError(f"invalid op type {header.type} in multi")
        record, off = REQUEST_RECORDS[header.type].decode(data, off)
        ops.append((multi_op_type(header.type, record), record))


_CREATE_OPS = frozenset({OpCode.create, OpCode.create2, OpCode.createContainer, OpCode.createTTL})
_CONTAINER_FLAG = 4
_TTL_FLAGS = frozenset({5, 6})


def multi_op_type(op: int, record: Any) -> int:
    """MultiOperationRecord rebuilds each create with Op.create(path, data, acl, flags): the
    flags, not the header, pick create, createContainer or createTTL (so a create2 sub-op answers
    as a plain create)."""
    if op not in _CREATE_OPS:
        return op
    if record.flags in _TTL_FLAGS:
        # A TTL mode on a plain CreateRequest decodes, but prep cannot use it: see prep._multi.
        return OpCode.createTTL
    return OpCode.createContainer if record.flags == _CONTAINER_FLAG else OpCode.create


def decode_request(op: int, data: bytes, off: int) -> Any:
    """The request record of `op` (None for body-less ops); raises on a malformed body."""
    if op == OpCode.multi:
        return decode_multi(data, off, read_only=False)
    if op == OpCode.multiRead:
        return decode_multi(data, off, read_only=True)
    if op in NO_BODY_OPS:
        return None
    cls = REQUEST_RECORDS.get(op)
    if cls is None:
        return None
    return cls.decode(data, off)[0]
