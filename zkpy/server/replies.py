"""Reply frames: header + body bytes for every kind of answer (FinalRequestProcessor's output).

Everything that leaves the client port after the handshake is built here, already framed
(4-byte length first), so a connection just concatenates frames into one write.
"""

from __future__ import annotations

import struct
from typing import Any

from zkpy.datatree.tree import TxnResult
from zkpy.jute import records as r
from zkpy.jute.constants import Err, KeeperState, OpCode, Xid

_HEADER = struct.Struct(">iiqi")  # frame length, xid, zxid, err
_REPLY_HEADER_BYTES = 16  # xid + zxid + err, the frame length counts these
_MULTI_HEADER = struct.Struct(">i?i")
_MULTI_END = _MULTI_HEADER.pack(-1, True, -1)


def reply(xid: int, zxid: int, err: int, body: Any = None) -> bytes:
    """One framed reply; `body` is a record, raw bytes, or None."""
    if body is None or err:
        return _HEADER.pack(_REPLY_HEADER_BYTES, xid, zxid, err)
    if isinstance(body, (bytes, bytearray)):
        payload = body
    else:
        out = bytearray()
        body.encode(out)
        payload = out
    return _HEADER.pack(_REPLY_HEADER_BYTES + len(payload), xid, zxid, err) + payload


_DATA_HEADER = struct.Struct(">iiqii")  # frame length, xid, zxid, err, data length
_STAT_BYTES = 68
# Sets built once: a tuple of class attributes in an `in` test is rebuilt on every call.
_CREATES_WITH_STAT = frozenset({OpCode.create2, OpCode.createContainer, OpCode.createTTL})
_STAT_ONLY_WRITES = frozenset({OpCode.setData, OpCode.check, OpCode.setACL})


def get_data(xid: int, zxid: int, data: bytes | None, stat: bytes) -> bytes:
    """GetDataResponse{data, stat}, packed directly."""
    if data is None:
        return _DATA_HEADER.pack(_REPLY_HEADER_BYTES + 4 + _STAT_BYTES, xid, zxid, 0, -1) + stat
    return _DATA_HEADER.pack(_REPLY_HEADER_BYTES + 4 + len(data) + _STAT_BYTES, xid, zxid, 0, len(data)) + data + stat


def stat_only(xid: int, zxid: int, stat: bytes) -> bytes:
    """ExistsResponse / SetDataResponse / SetACLResponse: a bare Stat."""
    return _HEADER.pack(_REPLY_HEADER_BYTES + _STAT_BYTES, xid, zxid, 0) + stat


def notification(event_type: int, path: str, zxid: int) -> bytes:
    body = bytearray()
    r.WatcherEvent(event_type, KeeperState.SyncConnected, path).encode(body)
    return reply(Xid.NOTIFICATION, zxid, 0, bytes(body))


def _multi_result_body(results: list[TxnResult]) -> bytes:
    out = bytearray()
    for sub in results:
        if sub.type == OpCode.error:
            out += _MULTI_HEADER.pack(OpCode.error, False, sub.err)
            r.ErrorResponse(sub.err).encode(out)
            continue
        # OpResult.CreateResult reports create2 for every create that returns a Stat.
        result_type = OpCode.create2 if sub.type in (OpCode.createTTL, OpCode.createContainer) else sub.type
        out += _MULTI_HEADER.pack(result_type, False, 0)
        if sub.type == OpCode.create:
            r.CreateResponse(sub.path).encode(out)
        elif sub.type in (OpCode.create2, OpCode.createTTL, OpCode.createContainer):
            r.CreateResponse(sub.path).encode(out)
            out += sub.stat_bytes
        elif sub.type == OpCode.setData:
            out += sub.stat_bytes
    out += _MULTI_END
    return bytes(out)


def multi_read_body(results: list[tuple[int, int, Any]]) -> bytes:
    """(op, err, record) per op of a multiRead, each failing op reported on its own."""
    out = bytearray()
    for op, err, record in results:
        if err:
            out += _MULTI_HEADER.pack(OpCode.error, False, err)
            r.ErrorResponse(err).encode(out)
        else:
            out += _MULTI_HEADER.pack(op, False, 0)
            record.encode(out)
    out += _MULTI_END
    return bytes(out)


def write_reply(xid: int, zxid: int, op: int, result: TxnResult) -> bytes:
    """The reply to a committed write, from what applying its txn did."""
    if op == OpCode.multi and result.multi is not None:
        return reply(xid, zxid, 0, _multi_result_body(result.multi))
    err = result.err
    if err:
        return reply(xid, zxid, err)
    if op == OpCode.create:
        return reply(xid, zxid, 0, r.CreateResponse(result.path))
    if op in _CREATES_WITH_STAT:
        # Create2Response{path, stat} is CreateResponse{path} followed by the Stat.
        return reply(xid, zxid, 0, r.CreateResponse(result.path).to_bytes() + result.stat_bytes)
    if op in _STAT_ONLY_WRITES:
        return stat_only(xid, zxid, result.stat_bytes)
    return reply(xid, zxid, Err.OK)
