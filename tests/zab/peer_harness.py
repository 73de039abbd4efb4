"""A stand-in ensemble member on the election port, for interop with Apache ZooKeeper.

Theory of operation
-------------------
`ElectionPeer` plays server `my_sid` of a configured ensemble, but only its election port:
it listens there, speaks QuorumCnxManager's connection rules through zkpy's codecs and, when
given an `Election` core, feeds it every notification and carries out its effects. One thread
(the test's) drives everything with `run_until`, a selector loop that also ticks the core on a
monotonic millisecond clock.

Connection rules, as ZooKeeper's QuorumCnxManager keeps them: a connection survives only when
the larger sid opened it. So to reach a smaller sid the peer dials and keeps the socket; to
reach a larger one it dials, sends its handshake, hangs up and waits to be dialled back. An
incoming connection from a smaller sid is closed and answered by dialling back; one from a
larger sid is kept. Like ZooKeeper's SendWorker, a new connection first carries the last
message meant for that server. Everything is recorded for the test to inspect: handshakes
received, notifications received (decoded, with their raw bytes) and decisions.
"""

from __future__ import annotations

import selectors
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from zkpy.zab.election import Broadcast, Decided, Effect, Election, Send
from zkpy.zab.election_wire import (
    FrameDecoder,
    FrameError,
    Handshake,
    HandshakeError,
    Notification,
    connection_survives,
    decode_handshake,
    decode_notification,
    encode_frame,
    encode_handshake,
    encode_notification,
)

SOCKET_TIMEOUT_S = 2.0


@dataclass(eq=False)
class _Connection:
    sock: socket.socket
    sid: int | None
    """None until an incoming connection has sent its handshake."""
    buffer: bytearray = field(default_factory=bytearray)
    frames: FrameDecoder | None = None


@dataclass(frozen=True, slots=True)
class Received:
    from_sid: int
    notification: Notification
    raw: bytes
    at_ms: int


class ElectionPeer:
    def __init__(
        self,
        my_sid: int,
        election_addresses: dict[int, tuple[str, int]],
        election: Election | None = None,
    ) -> None:
        self.my_sid = my_sid
        self.addresses = election_addresses
        self.election = election
        self.handshakes: list[Handshake] = []
        self.received: list[Received] = []
        self.decisions: list[Decided] = []
        self.sent: list[tuple[int, Notification]] = []
        self.events: list[str] = []
        """A readable trace of connection events, for failure messages."""
        self._selector = selectors.DefaultSelector()
        self._kept: dict[int, _Connection] = {}
        self._last_message: dict[int, bytes] = {}
        self._listener = socket.create_server(election_addresses[my_sid], reuse_port=False)
        self._listener.setblocking(False)
        self._selector.register(self._listener, selectors.EVENT_READ, None)

    # --- driving -------------------------------------------------------------------------------

    @staticmethod
    def now_ms() -> int:
        return time.monotonic_ns() // 1_000_000

    def start_election(self, election: Election, current_epoch: int, last_zxid: int) -> None:
        self.election = election
        self._apply(election.start(current_epoch, last_zxid, self.now_ms()))

    def run_until(self, done: Callable[[], bool], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while not done():
            if time.monotonic() >= deadline:
                return False
            for key, _ in self._selector.select(timeout=0.02):
                if key.data is None:
                    self._accept()
                else:
                    self._read(key.data)
            if self.election is not None:
                self._apply(self.election.tick(self.now_ms()))
        return True

    def send(self, to_sid: int, notification: Notification) -> None:
        """Send a notification of our own making, outside any Election core."""
        self._deliver(to_sid, notification)

    def drop_connections(self) -> None:
        """Hang up on everybody, as a restarting server would."""
        for conn in list(self._kept.values()):
            self._close(conn)
        self._kept.clear()
        self._last_message.clear()

    def close(self) -> None:
        self.drop_connections()
        for key in list(self._selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        self._selector.close()

    # --- effects -------------------------------------------------------------------------------

    def _apply(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Send):
                self._deliver(effect.to_sid, effect.notification)
            elif isinstance(effect, Broadcast):
                for sid in effect.to_sids:
                    self._deliver(sid, effect.notification)
            else:
                self.decisions.append(effect)

    def _deliver(self, to_sid: int, notification: Notification) -> None:
        self.sent.append((to_sid, notification))
        frame = encode_frame(encode_notification(notification))
        self._last_message[to_sid] = frame
        conn = self._kept.get(to_sid)
        self._trace(f"to {to_sid} ({'connected' if conn else 'not connected'}): {notification}")
        if conn is not None:
            try:
                conn.sock.sendall(frame)
                return
            except OSError:
                self._close(conn)
        self._dial(to_sid)

    def _dial(self, sid: int) -> None:
        try:
            sock = socket.create_connection(self.addresses[sid], timeout=SOCKET_TIMEOUT_S)
        except OSError as e:
            self._trace(f"dial {sid} failed: {e}")
            return  # not up yet: the next broadcast or its own dial will connect us
        self._trace(f"dialled {sid}")
        host, port = self.addresses[self.my_sid]
        try:
            sock.sendall(encode_handshake(self.my_sid, [(host, port)]))
        except OSError:
            sock.close()
            return
        if not connection_survives(self.my_sid, sid):
            self._trace(f"hung up on {sid}, which dials back")
            sock.close()
            return
        self._keep(_Connection(sock, sid, frames=FrameDecoder()))

    def _keep(self, conn: _Connection) -> None:
        assert conn.sid is not None
        old = self._kept.pop(conn.sid, None)
        if old is not None:
            self._close(old)
        self._kept[conn.sid] = conn
        if conn.sock not in self._selector.get_map():
            self._selector.register(conn.sock, selectors.EVENT_READ, conn)
        pending = self._last_message.get(conn.sid)
        if pending is not None:
            try:
                conn.sock.sendall(pending)
            except OSError:
                self._close(conn)

    # --- reading -------------------------------------------------------------------------------

    def _accept(self) -> None:
        sock, _ = self._listener.accept()
        sock.settimeout(SOCKET_TIMEOUT_S)
        conn = _Connection(sock, None)
        self._selector.register(sock, selectors.EVENT_READ, conn)

    def _read(self, conn: _Connection) -> None:
        try:
            data = conn.sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._close(conn)
            return
        if conn.frames is None:
            conn.buffer += data
            try:
                decoded = decode_handshake(conn.buffer)
            except HandshakeError:
                self._close(conn)
                return
            if decoded is None:
                return
            handshake, used = decoded
            self.handshakes.append(handshake)
            self._trace(f"handshake from {handshake.sid}")
            conn.sid = handshake.sid
            conn.frames = FrameDecoder()
            rest = bytes(conn.buffer[used:])
            conn.buffer.clear()
            if not connection_survives(handshake.sid, self.my_sid):
                self._close(conn)
                if handshake.sid not in self._kept:
                    self._dial(handshake.sid)
                return
            self._keep(conn)
            data = rest
        try:
            messages = conn.frames.feed(data)
        except FrameError:
            self._close(conn)
            return
        assert conn.sid is not None
        for raw in messages:
            notification = decode_notification(raw)
            self._trace(f"from {conn.sid}: {notification}")
            self.received.append(Received(conn.sid, notification, raw, self.now_ms()))
            if self.election is not None:
                self._apply(self.election.on_notification(conn.sid, notification, self.now_ms()))

    def _trace(self, event: str) -> None:
        self.events.append(f"{self.now_ms()} {event}")

    def _close(self, conn: _Connection) -> None:
        self._trace(f"closed connection of {conn.sid}")
        if conn.sock in self._selector.get_map():
            self._selector.unregister(conn.sock)
        conn.sock.close()
        if conn.sid is not None and self._kept.get(conn.sid) is conn:
            del self._kept[conn.sid]
