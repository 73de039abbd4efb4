"""QuorumPacket: the unit of the leader <-> learner protocol on the quorum port (2888).

Theory of operation (ZooKeeper's Leader packet constants, LearnerHandler, Learner): the quorum
port carries Jute records back to back with no frame length: `QuorumPacket{int type, long zxid,
buffer data, vector<Id> authinfo}`, each written with BinaryOutputArchive. The only thing on that
stream that is not a QuorumPacket is the database a SNAP packet announces (see
zkpy.persistence.snapshot.serialize_sync_body). `PacketReader` cuts a byte stream into packets
incrementally: it keeps the unfinished tail and never guesses a length it has not read.
The payload helpers encode the small DataOutputStream layouts inside `data` (ping touches,
forwarded requests, revalidation, LEADERINFO/ACKEPOCH ints).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from zkpy.jute import records as r
from zkpy.jute.constants import NamedInts

PROTOCOL_VERSION = 0x10000
"""The ZAB 1.0 protocol version a learner announces in LearnerInfo and the leader in LEADERINFO."""
MAX_PACKET_BYTES = 64 * 1024 * 1024
"""A packet's data longer than this is taken for a broken stream (jute.maxbuffer is smaller)."""

_HEAD = struct.Struct(">iqi")
_INT = struct.Struct(">i")
_LONG_INT = struct.Struct(">qi")
_REQUEST_HEAD = struct.Struct(">qii")
_LONG_BOOL = struct.Struct(">q?")
_NO_AUTHINFO = _INT.pack(-1)


class PacketType(NamedInts):
    REQUEST = 1
    PROPOSAL = 2
    ACK = 3
    COMMIT = 4
    PING = 5
    REVALIDATE = 6
    SYNC = 7
    INFORM = 8
    COMMITANDACTIVATE = 9
    NEWLEADER = 10
    FOLLOWERINFO = 11
    UPTODATE = 12
    DIFF = 13
    TRUNC = 14
    SNAP = 15
    OBSERVERINFO = 16
    LEADERINFO = 17
    ACKEPOCH = 18
    INFORMANDACTIVATE = 19


@dataclass(slots=True)
class QuorumPacket:
    type: int
    zxid: int
    data: bytes | None = None
    authinfo: tuple[Any, ...] | None = None

    def __str__(self) -> str:
        try:
            name = PacketType.name_of(self.type)
        except ValueError:
            name = f"UNKNOWN({self.type})"
        return f"{name} zxid=0x{self.zxid & (2**64 - 1):x} data={len(self.data or b'')}B"


class PacketError(ValueError):
    """A stream that cannot be a sequence of QuorumPackets."""


def encode_packet(qp: QuorumPacket) -> bytes:
    return packet(qp.type, qp.zxid, qp.data, qp.authinfo)


def packet(kind: int, zxid: int, data: bytes | None = None, authinfo: Any = None) -> bytes:
    """A QuorumPacket's bytes straight from its fields: the broadcast path sends one per txn
    and learner, and needs no packet object to do it."""
    head = _HEAD.pack(kind, zxid, -1 if data is None else len(data))
    if authinfo is None:
        return b"".join((head, data, _NO_AUTHINFO)) if data is not None else head + _NO_AUTHINFO
    out = bytearray(head)
    if data is not None:
        out += data
    out += _INT.pack(len(authinfo))
    for ident in authinfo:
        ident.encode(out)
    return bytes(out)


class PacketReader:
    """Cuts a byte stream into QuorumPackets; `feed` returns the packets completed so far."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[QuorumPacket]:
        buf = self._buf
        buf += data
        packets: list[QuorumPacket] = []
        pos = 0
        end = len(buf)
        while True:
            parsed = _parse_one(buf, pos, end)
            if parsed is None:
                break
            packet_, pos = parsed
            packets.append(packet_)
            if packet_.type == PacketType.SNAP:
                break  # the database follows, not packets: see take_buffer
        if pos:
            del buf[:pos]
        return packets

    def take_buffer(self) -> bytes:
        """The bytes read but not yet parsed (a SNAP body follows its packet on the stream)."""
        rest = bytes(self._buf)
        self._buf.clear()
        return rest


def _parse_one(buf: bytearray, pos: int, end: int) -> tuple[QuorumPacket, int] | None:
    if end - pos < _HEAD.size + 4:
        return None
    kind, zxid, length = _HEAD.unpack_from(buf, pos)
    off = pos + _HEAD.size
    if length < -1 or length > MAX_PACKET_BYTES:
        raise PacketError(f"bad data length {length} in a packet of type {kind}")
    data = None
    if length >= 0:
        if end - off < length + 4:
            return None
        data = bytes(buf[off:off + length])
        off += length
    (count,) = _INT.unpack_from(buf, off)
    off += 4
    auth: tuple[Any, ...] | None = None
    if count >= 0:
        ids = []
        for _ in range(count):
            ident_end = _skip_id(buf, off, end)
            if ident_end is None:
                return None
            ident, _ = r.Id.decode(bytes(buf[off:ident_end]), 0)
            ids.append(ident)
            off = ident_end
        auth = tuple(ids)
    return QuorumPacket(kind, zxid, data, auth), off


def _skip_id(buf: bytearray, off: int, end: int) -> int | None:
    for _ in range(2):
        if end - off < 4:
            return None
        (length,) = _INT.unpack_from(buf, off)
        if length < -1 or length > MAX_PACKET_BYTES:
            raise PacketError(f"bad string length {length} in authinfo")
        off += 4 + max(length, 0)
        if off > end:
            return None
    return off


# ------------------------------------------------------------------------ payloads


def learner_info(server_id: int, config_version: int) -> bytes:
    out = bytearray()
    r.LearnerInfo(server_id, PROTOCOL_VERSION, config_version).encode(out)
    return bytes(out)


@dataclass(slots=True)
class LearnerInfo:
    server_id: int | None
    protocol_version: int
    config_version: int | None


def decode_learner_info(data: bytes | None) -> LearnerInfo:
    """LearnerHandler reads as much of LearnerInfo as the learner sent (old ones sent less)."""
    data = data or b""
    sid = struct.unpack_from(">q", data, 0)[0] if len(data) >= 8 else None
    version = struct.unpack_from(">i", data, 8)[0] if len(data) >= 12 else 0
    config = struct.unpack_from(">q", data, 12)[0] if len(data) >= 20 else None
    return LearnerInfo(sid, version, config)


def encode_int(value: int) -> bytes:
    return _INT.pack(value)


def decode_int(data: bytes | None) -> int:
    if data is None or len(data) < 4:
        raise PacketError("expected a 4-byte int")
    return int(_INT.unpack_from(data, 0)[0])


def encode_touches(touches: dict[int, int]) -> bytes:
    """A learner's PING reply: (long sessionId, int timeoutMs) per session touched since the last."""
    return b"".join(_LONG_INT.pack(session_id, timeout_ms) for session_id, timeout_ms in touches.items())


def decode_touches(data: bytes | None) -> list[tuple[int, int]]:
    data = data or b""
    usable = len(data) - len(data) % _LONG_INT.size
    return [_LONG_INT.unpack_from(data, off) for off in range(0, usable, _LONG_INT.size)]


def encode_request(session_id: int, cxid: int, op: int, body: bytes) -> bytes:
    return _REQUEST_HEAD.pack(session_id, cxid, op) + body


def decode_request(data: bytes | None) -> tuple[int, int, int, bytes]:
    if data is None or len(data) < _REQUEST_HEAD.size:
        raise PacketError("a REQUEST packet needs sessionId, cxid and type")
    session_id, cxid, op = _REQUEST_HEAD.unpack_from(data, 0)
    return session_id, cxid, op, data[_REQUEST_HEAD.size:]


def encode_revalidate_request(session_id: int, timeout_ms: int) -> bytes:
    return _LONG_INT.pack(session_id, timeout_ms)


def decode_revalidate_request(data: bytes | None) -> tuple[int, int]:
    if data is None or len(data) < _LONG_INT.size:
        raise PacketError("a REVALIDATE request needs sessionId and timeout")
    session_id, timeout_ms = _LONG_INT.unpack_from(data, 0)
    return session_id, timeout_ms


def encode_revalidate_reply(session_id: int, valid: bool) -> bytes:
    return _LONG_BOOL.pack(session_id, valid)


def decode_revalidate_reply(data: bytes | None) -> tuple[int, bool]:
    if data is None or len(data) < _LONG_BOOL.size:
        raise PacketError("a REVALIDATE reply needs sessionId and a boolean")
    session_id, valid = _LONG_BOOL.unpack_from(data, 0)
    return session_id, bool(valid)
