"""Bytes of the election port (3888): connection handshake, message framing, notifications.

Theory of operation
-------------------
Mirrors ZooKeeper's `QuorumCnxManager` (handshake and framing) and
`FastLeaderElection.buildMsg` / `WorkerReceiver` (the notification payload).

Handshake. The side that opens a connection speaks first and alone: `long protocolVersion`
(-65536 = V1, one address; -65535 = V2, `|`-separated addresses when multiAddress is on),
`long sid`, `int length` (1..2048) and that many bytes of address text (`host:port`, an IPv6
host in brackets). A first long >= 0 is a pre-3.5 peer that sends only its sid. The acceptor
sends nothing back. Only one connection per pair of servers survives: the one opened by the
larger sid (`connection_survives`). An acceptor with the larger sid closes the socket and dials
back; an initiator with the smaller sid closes after its handshake and waits to be dialled.

Framing. Every later message, both ways, is `int length` (1..512 KiB) and the payload. A length
outside that range breaks the connection.

Notification payload, big-endian: `int state, long leader, long zxid, long electionEpoch,
long peerEpoch, int version (=2), int configLength, config bytes` -- 44 bytes plus the config
text of the sender's QuorumVerifier. Receivers still accept two older forms: exactly 28 bytes
(no peerEpoch: it is the epoch of the zxid) and exactly 40 bytes (peerEpoch but no version; the
last 4 bytes are ignored). Any other length >= 41 carries a version; a version > 1 carries the
config, whose length must lie in 0..message length and whose bytes must all be there. Bytes
after the config are ignored, as ZooKeeper ignores them. The state is kept as the raw int: the
receiver, not the codec, decides what an unknown state means.
"""

from __future__ import annotations

import ipaddress
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from zkpy.jute.constants import NamedInts
from zkpy.zab.zxid import epoch_of, hex_long

PROTOCOL_VERSION_V1 = -65536
PROTOCOL_VERSION_V2 = -65535
MAX_ADDRESS_BYTES = 2048
"""QuorumCnxManager.maxBuffer: the largest address text of a handshake."""
MAX_MESSAGE_BYTES = 512 * 1024
"""QuorumCnxManager.PACKETMAXSIZE."""
OBSERVER_ID = (1 << 63) - 1
"""QuorumPeer.OBSERVER_ID (Long.MAX_VALUE): a legacy observer that has no sid of its own."""
CURRENT_NOTIFICATION_VERSION = 0x2

_JAVA_INT = re.compile(r"[+-]?[0-9]{1,10}")
_LONG = struct.Struct(">q")
_INT = struct.Struct(">i")
_HANDSHAKE_HEAD = struct.Struct(">qqi")
_NOTIFICATION_28 = struct.Struct(">iqqq")
_NOTIFICATION_HEAD = struct.Struct(">iqqqqii")
_PEER_EPOCH_OFFSET = _NOTIFICATION_28.size
_VERSION_OFFSET = _PEER_EPOCH_OFFSET + 8
_CONFIG_LENGTH_OFFSET = _VERSION_OFFSET + 4
NOTIFICATION_HEAD_BYTES = _NOTIFICATION_HEAD.size


class PeerState(NamedInts):
    """QuorumPeer.ServerState, by ordinal as it travels in notifications."""

    LOOKING = 0
    FOLLOWING = 1
    LEADING = 2
    OBSERVING = 3


class HandshakeError(ValueError):
    """A handshake ZooKeeper would refuse; the connection is closed."""


class FrameError(ValueError):
    """A message length outside 1..512 KiB; the connection is closed."""


class NotificationError(ValueError):
    """A notification ZooKeeper would skip ("partial / malformed"); the connection stays."""


# --- handshake ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Handshake:
    """What the initiator of an election connection said about itself."""

    sid: int
    protocol_version: int | None
    """PROTOCOL_VERSION_V1/V2, or None for a legacy peer that sent only its sid."""
    addresses: tuple[tuple[str, int], ...] = ()
    """Its election addresses (host without brackets, port); wildcard hosts are left out."""


def encode_handshake(
    sid: int,
    addresses: Sequence[tuple[str, int]],
    protocol_version: int = PROTOCOL_VERSION_V1,
) -> bytes:
    """The initiator's first bytes. V1 carries only the first address."""
    if protocol_version not in (PROTOCOL_VERSION_V1, PROTOCOL_VERSION_V2):
        raise ValueError(f"unknown protocol version {protocol_version}")
    chosen = addresses if protocol_version == PROTOCOL_VERSION_V2 else addresses[:1]
    text = "|".join(format_address(host, port) for host, port in chosen).encode("utf-8")
    if not 0 < len(text) <= MAX_ADDRESS_BYTES:
        raise ValueError(f"address text of {len(text)} bytes")
    return _HANDSHAKE_HEAD.pack(protocol_version, sid, len(text)) + text


def decode_handshake(data: bytes | bytearray) -> tuple[Handshake, int] | None:
    """Parse a handshake from the start of `data`: (handshake, bytes used), or None while
    incomplete. Raises HandshakeError for what InitialMessage.parse refuses."""
    if len(data) < 8:
        return None
    (first,) = _LONG.unpack_from(data, 0)
    if first >= 0:
        return Handshake(first, None), 8
    if first not in (PROTOCOL_VERSION_V1, PROTOCOL_VERSION_V2):
        raise HandshakeError(f"Got unrecognized protocol version {first}")
    if len(data) < _HANDSHAKE_HEAD.size:
        return None
    _, sid, length = _HANDSHAKE_HEAD.unpack_from(data, 0)
    if length <= 0 or length > MAX_ADDRESS_BYTES:
        raise HandshakeError(f"Unreasonable buffer length: {length}")
    end = _HANDSHAKE_HEAD.size + length
    if len(data) < end:
        return None
    # Java's String(bytes, UTF_8) replaces malformed input rather than failing.
    text = bytes(data[_HANDSHAKE_HEAD.size : end]).decode("utf-8", errors="replace")
    addresses = tuple(
        a for a in (parse_address(part) for part in text.split("|")) if not _is_wildcard(a[0])
    )
    return Handshake(sid, first, addresses), end


def connection_survives(initiator_sid: int, acceptor_sid: int) -> bool:
    """Whether a connection opened by `initiator_sid` to `acceptor_sid` is kept."""
    return initiator_sid > acceptor_sid


def format_address(host: str, port: int) -> str:
    """NetUtils.formatInetAddr: an IPv6 host goes in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_address(text: str) -> tuple[str, int]:
    """ConfigUtils.getHostAndPort for one `host:port` of a handshake."""
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise HandshakeError(f"Badly formed address: {text}")
        if close + 2 >= len(text):
            raise HandshakeError(f"Badly formed address: {text}")
        # Like ConfigUtils.getHostAndPort, the character after ']' is skipped unchecked.
        parts = [text[1:close], *_java_split(text[close + 2 :], ":")]
    else:
        parts = _java_split(text, ":")
    if len(parts) != 2:
        raise HandshakeError(f"Badly formed address: {text}")
    if not _JAVA_INT.fullmatch(parts[1]):
        raise HandshakeError(f"Bad port number: {parts[1]}")
    port = int(parts[1])
    if not 0 <= port <= 0xFFFF:
        # InetSocketAddress refuses it; ZooKeeper's connection handling dies with it.
        raise HandshakeError(f"port out of range: {port}")
    return parts[0], port


def _java_split(text: str, separator: str) -> list[str]:
    """String.split with a literal separator: trailing empty strings are dropped."""
    parts = text.split(separator)
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()
    return parts


def _is_wildcard(host: str) -> bool:
    """InetAddress.isAnyLocalAddress for literals; names are never resolved here."""
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


# --- framing -----------------------------------------------------------------------------------


def encode_frame(payload: bytes) -> bytes:
    if not 0 < len(payload) <= MAX_MESSAGE_BYTES:
        raise FrameError(f"message of {len(payload)} bytes")
    return _INT.pack(len(payload)) + payload


class FrameDecoder:
    """Splits the byte stream after the handshake into messages."""

    __slots__ = ("_buffer",)

    def __init__(self, initial: bytes = b"") -> None:
        self._buffer = bytearray(initial)

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buffer
        buf += data
        messages: list[bytes] = []
        offset = 0
        while len(buf) - offset >= 4:
            (length,) = _INT.unpack_from(buf, offset)
            if length <= 0 or length > MAX_MESSAGE_BYTES:
                raise FrameError(f"Received packet with invalid packet: {length}")
            end = offset + 4 + length
            if end > len(buf):
                break
            messages.append(bytes(buf[offset + 4 : end]))
            offset = end
        del buf[:offset]
        return messages


# --- notifications -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Notification:
    """One FastLeaderElection message: the sender's state and the vote it carries."""

    state: int
    """A PeerState ordinal; kept raw because receivers, not the codec, judge unknown states."""
    leader: int
    zxid: int
    election_epoch: int
    peer_epoch: int
    version: int = CURRENT_NOTIFICATION_VERSION
    config: bytes | None = b""
    """The sender's QuorumVerifier text; None when the message format has none (version <= 1)."""

    def __str__(self) -> str:
        try:
            state = PeerState.name_of(self.state)
        except ValueError:
            state = str(self.state)
        return (
            f"Notification(state={state}, leader={self.leader}, zxid=0x{hex_long(self.zxid)},"
            f" round=0x{hex_long(self.election_epoch)}, peerEpoch=0x{hex_long(self.peer_epoch)},"
            f" version=0x{hex_long(self.version)})"
        )


def encode_notification(n: Notification) -> bytes:
    """The current (version 2) layout, whatever `n.version` says: ZooKeeper 3.8 sends no other."""
    config = n.config or b""
    head = _NOTIFICATION_HEAD.pack(
        n.state,
        n.leader,
        n.zxid,
        n.election_epoch,
        n.peer_epoch,
        CURRENT_NOTIFICATION_VERSION,
        len(config),
    )
    return head + config


def decode_notification(data: bytes) -> Notification:
    """Any of the 28-byte, 40-byte and versioned layouts, as WorkerReceiver reads them."""
    size = len(data)
    if size < _NOTIFICATION_28.size:
        raise NotificationError(f"Got a short response: {size}")
    state, leader, zxid, election_epoch = _NOTIFICATION_28.unpack_from(data, 0)
    if size == _NOTIFICATION_28.size:
        return Notification(state, leader, zxid, election_epoch, epoch_of(zxid), 0, None)
    if size < _VERSION_OFFSET + 4:
        # 29..39 bytes: ZooKeeper's reads of peerEpoch or version run off the end.
        raise NotificationError(f"partial message of {size} bytes")
    (peer_epoch,) = _LONG.unpack_from(data, _PEER_EPOCH_OFFSET)
    if size == _VERSION_OFFSET + 4:
        return Notification(state, leader, zxid, election_epoch, peer_epoch, 0, None)
    (version,) = _INT.unpack_from(data, _VERSION_OFFSET)
    if version <= 0x1:
        return Notification(state, leader, zxid, election_epoch, peer_epoch, version, None)
    if size < _CONFIG_LENGTH_OFFSET + 4:
        raise NotificationError(f"partial message of {size} bytes")
    (config_length,) = _INT.unpack_from(data, _CONFIG_LENGTH_OFFSET)
    if config_length < 0 or config_length > size:
        raise NotificationError(
            f"Invalid configLength in notification message! configLength={config_length}"
        )
    start = _CONFIG_LENGTH_OFFSET + 4
    if start + config_length > size:
        raise NotificationError(f"partial message: config of {config_length} bytes in {size}")
    return Notification(
        state,
        leader,
        zxid,
        election_epoch,
        peer_epoch,
        version,
        bytes(data[start : start + config_length]),
    )
