"""The election port (3888): QuorumCnxManager's connections, as asyncio streams.

Theory of operation
-------------------
Mirrors ZooKeeper's `QuorumCnxManager`: a listener on this server's election address, one live
connection per peer, and opaque messages (the payloads of `int length` frames) both ways. What
the messages mean is the caller's business (`LeaderElector` puts notifications in them).

Connections. Whoever opens a connection speaks first and alone: the handshake of
`election_wire.encode_handshake` (V1: protocol version, sid, "host:port"). Only a connection
opened by the larger sid survives:
- dialling a larger sid: send the handshake, hang up, and wait to be dialled back;
- dialling a smaller sid: send the handshake and keep the connection;
- accepted from a smaller sid: drop any connection we still believe in for that sid, hang up,
  and dial back (to the address its handshake names, as ZooKeeper does, else the configured one);
- accepted from a larger sid: keep it. A newer connection for a sid replaces the older one.
A handshake naming our own sid is refused (ZOOKEEPER-2164); the legacy observer id
(Long.MAX_VALUE) gets a made-up negative id, as QuorumCnxManager's observerCounter does.

Sending, as SendWorker does: each peer has a send slot of capacity 1 (a new message replaces
one not yet written) and remembers the last message written. `send` fills the slot and dials
when there is no connection; at most one dial per peer is in flight, and nothing retries on its
own: the next `send` dials again (the election re-sends with a growing timeout). A connection's
sender task first writes the slot or, if empty, the last message written -- a message may have
died with the previous connection, and duplicates are harmless to the election -- then
whatever the slot receives.

Receiving: a reader task per connection deframes (1..512 KiB per message) and hands every
message to `on_message(sid, payload)` on the event loop. Whatever a peer sends -- a bad
handshake, a bad length, a stalled handshake (bounded by `handshake_timeout_ms`), a message
that makes the handler raise -- closes that connection only, with one log line; a broken
connection is dropped, reported to `on_link_lost` (the election may now know everyone it can
reach) and redialled by the next send.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import structlog

from zkpy.zab.election_wire import (
    OBSERVER_ID,
    FrameDecoder,
    FrameError,
    Handshake,
    HandshakeError,
    connection_survives,
    decode_handshake,
    encode_frame,
    encode_handshake,
)

log = structlog.get_logger("zkpy.election")

DEFAULT_CONNECT_TIMEOUT_MS = 5000
"""QuorumCnxManager.cnxTO: zookeeper.cnxTimeout."""
_READ_CHUNK_BYTES = 65536

Address = tuple[str, int]
MessageHandler = Callable[[int, bytes], None]


@dataclass(eq=False, slots=True)
class _Connection:
    sid: int
    writer: asyncio.StreamWriter
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    closed: bool = False


@dataclass(eq=False, slots=True)
class _Peer:
    """Send state for one sid; it outlives the connections to that sid."""

    pending: bytes | None = None
    """The send slot (capacity 1)."""
    last_sent: bytes | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    """Set while `pending` holds a message the live connection's sender has not taken."""
    connection: _Connection | None = None
    dialing: asyncio.Task[None] | None = None
    failed_dials: int = 0


class ElectionPort:
    """Listener and connections of this server's election address; see the module docstring."""

    def __init__(
        self,
        my_sid: int,
        addresses: Mapping[int, Address],
        on_message: MessageHandler,
        *,
        on_link_lost: Callable[[int], None] | None = None,
        listen_host: str | None = None,
        connect_timeout_ms: int = DEFAULT_CONNECT_TIMEOUT_MS,
        handshake_timeout_ms: int = DEFAULT_CONNECT_TIMEOUT_MS,
    ) -> None:
        """`addresses` maps every configured sid (ours included) to its election address;
        `listen_host` overrides the host we bind (e.g. 0.0.0.0 for quorumListenOnAllIPs);
        `on_link_lost(sid)` hears of a connection the peer closed or broke (not one replaced)."""
        self.my_sid = my_sid
        self.addresses = dict(addresses)
        self.on_message = on_message
        self.on_link_lost = on_link_lost
        my_host, self.listen_port = self.addresses[my_sid]
        self.listen_host = my_host if listen_host is None else listen_host
        self.connect_timeout_ms = connect_timeout_ms
        self.handshake_timeout_ms = handshake_timeout_ms
        self._handshake = encode_handshake(my_sid, [(my_host, self.listen_port)])
        self._peers: dict[int, _Peer] = {}
        self._server: asyncio.AbstractServer | None = None
        self._accepting: set[asyncio.Task[None]] = set()
        self._next_observer_id = -1
        self._closed = False

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the election address (OSError if it is taken)."""
        if self._closed:
            raise RuntimeError("the election port is closed")
        self._server = await asyncio.start_server(
            self._accepted, self.listen_host, self.listen_port, reuse_address=True
        )
        log.info(
            "election port listening", sid=self.my_sid, host=self.listen_host, port=self.listen_port
        )

    async def close(self) -> None:
        """Stop listening and dialling, close every connection. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._server is not None:
            self._server.close()
        writers = []
        tasks: list[asyncio.Task[None]] = list(self._accepting)
        for peer in list(self._peers.values()):
            if peer.dialing is not None:
                tasks.append(peer.dialing)
            if peer.connection is not None:
                writers.append(peer.connection.writer)
                tasks.extend(peer.connection.tasks)
                self._drop(peer.connection, "election port closed")
        current = asyncio.current_task()
        tasks = [t for t in tasks if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for writer in writers:
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        if self._server is not None:
            await self._server.wait_closed()
        self._peers.clear()

    # --- queries -------------------------------------------------------------------------------

    def is_connected(self, sid: int) -> bool:
        peer = self._peers.get(sid)
        return peer is not None and peer.connection is not None

    def connected_sids(self) -> frozenset[int]:
        return frozenset(sid for sid, p in self._peers.items() if p.connection is not None)

    # --- sending -------------------------------------------------------------------------------

    def send(self, sid: int, payload: bytes) -> None:
        """Queue `payload` for `sid` (replacing a message not yet written), dialling if needed."""
        if self._closed:
            return
        peer = self._peers.get(sid)
        if peer is None:
            if sid not in self.addresses:
                # QuorumCnxManager.connectOne logs "Invalid server id" and gives up likewise.
                log.debug("no election address for server", sid=sid)
                return
            peer = self._peers[sid] = _Peer()
        peer.pending = encode_frame(payload)
        peer.ready.set()
        if peer.connection is None:
            self._dial(sid)

    def _dial(self, sid: int, address: Address | None = None) -> None:
        target = address or self.addresses.get(sid)
        if target is None or self._closed:
            log.debug("no election address for server", sid=sid)
            return
        peer = self._peers.get(sid)
        if peer is None:
            peer = self._peers[sid] = _Peer()
        if peer.connection is not None or peer.dialing is not None:
            return
        peer.dialing = asyncio.get_running_loop().create_task(self._dial_task(sid, peer, target))

    async def _dial_task(self, sid: int, peer: _Peer, address: Address) -> None:
        try:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(*address), self.connect_timeout_ms / 1000
                )
            except (TimeoutError, OSError) as e:
                peer.failed_dials += 1
                # Warn once per outage: the election re-dials on every (backed-off) broadcast.
                report = log.warning if peer.failed_dials == 1 else log.debug
                report(
                    "cannot open election channel",
                    sid=sid,
                    host=address[0],
                    port=address[1],
                    reason=_reason(e),
                    attempts=peer.failed_dials,
                )
                self._forget_if_unknown(sid)
                return
        finally:
            peer.dialing = None
        if self._closed or writer.is_closing():
            # Closed by the peer (or by us) before we had a turn to speak; the next broadcast redials.
            writer.close()
            self._forget_if_unknown(sid)
            return
        peer.failed_dials = 0
        writer.write(self._handshake)
        if connection_survives(self.my_sid, sid):
            self._keep(sid, reader, writer, b"")
            return
        # The larger sid keeps only the connections it opens: it dials us back.
        log.debug("handshake sent, waiting to be dialled back", sid=sid)
        try:
            await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()
        self._forget_if_unknown(sid)

    def _forget_if_unknown(self, sid: int) -> None:
        """Sids outside the configuration are only remembered while connected or dialled."""
        peer = self._peers.get(sid)
        if (
            peer is not None
            and sid not in self.addresses
            and peer.connection is None
            and peer.dialing is None
        ):
            del self._peers[sid]

    # --- accepting -----------------------------------------------------------------------------

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if self._closed:
            writer.close()
            return
        self._accepting.add(task)
        remote = _remote(writer)
        try:
            handshake, rest = await asyncio.wait_for(
                _read_handshake(reader), self.handshake_timeout_ms / 1000
            )
        except (TimeoutError, HandshakeError, OSError) as e:
            log.warning("election connection refused", remote=remote, reason=_reason(e))
            writer.close()
            return
        except asyncio.CancelledError:
            writer.close()
            raise
        finally:
            self._accepting.discard(task)
        self._admit(handshake, reader, writer, rest, remote)

    def _admit(
        self,
        handshake: Handshake,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        rest: bytes,
        remote: str,
    ) -> None:
        if self._closed:
            # Cancellation can lose the race with a handshake that has just completed.
            writer.close()
            return
        sid = handshake.sid
        if sid == OBSERVER_ID:
            sid = self._next_observer_id
            self._next_observer_id -= 1
            log.info("assigned an id to a legacy observer", sid=sid, remote=remote)
        if sid == self.my_sid:
            log.warning(
                "election connection refused", remote=remote, reason="it claims our own server id"
            )
            writer.close()
            return
        if connection_survives(sid, self.my_sid):
            self._keep(sid, reader, writer, rest)
            return
        writer.close()
        # It dialled because it has no connection to us: whatever we hold for it is stale.
        peer = self._peers.get(sid)
        if peer is not None and peer.connection is not None:
            self._drop(peer.connection, "the peer dialled us")
        self._dial(sid, handshake.addresses[0] if handshake.addresses else None)

    # --- connections ---------------------------------------------------------------------------

    def _keep(
        self, sid: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, rest: bytes
    ) -> None:
        peer = self._peers.get(sid)
        if peer is None:
            peer = self._peers[sid] = _Peer()
        elif peer.connection is not None:
            self._drop(peer.connection, "replaced by a newer connection")
        conn = _Connection(sid, writer)
        peer.connection = conn
        log.debug("election connection up", sid=sid, remote=_remote(writer))
        loop = asyncio.get_running_loop()
        conn.tasks.append(loop.create_task(self._send_loop(peer, conn)))
        conn.tasks.append(loop.create_task(self._receive_loop(conn, reader, rest)))

    async def _send_loop(self, peer: _Peer, conn: _Connection) -> None:
        writer = conn.writer
        try:
            if peer.pending is None and peer.last_sent is not None:
                _write(writer, peer.last_sent)
                await writer.drain()
            while not conn.closed:
                await peer.ready.wait()
                frame = peer.pending
                peer.pending = None
                peer.ready.clear()
                if frame is None:
                    continue
                peer.last_sent = frame
                _write(writer, frame)
                await writer.drain()
        except OSError as e:
            self._lose(conn, _reason(e))

    async def _receive_loop(
        self, conn: _Connection, reader: asyncio.StreamReader, rest: bytes
    ) -> None:
        frames = FrameDecoder()
        data = rest
        reason = "closed by the peer"
        try:
            while not conn.closed:
                for payload in frames.feed(data):
                    if conn.closed:
                        return
                    self.on_message(conn.sid, payload)
                data = await reader.read(_READ_CHUNK_BYTES)
                if not data:
                    break
        except FrameError as e:
            reason = str(e)
            log.warning("election connection closed", sid=conn.sid, reason=reason)
        except OSError as e:
            reason = _reason(e)
        except Exception:
            # A bug in the handler must not take the port down; the peer's view is a lost link.
            reason = "message handler failed"
            log.exception("election message handler failed", sid=conn.sid)
        self._lose(conn, reason)

    def _lose(self, conn: _Connection, reason: str) -> None:
        """A connection ended by the peer or the network, as opposed to one we replaced."""
        if conn.closed:
            return
        self._drop(conn, reason)
        if self.on_link_lost is not None and not self._closed:
            self.on_link_lost(conn.sid)

    def _drop(self, conn: _Connection, reason: str) -> None:
        if conn.closed:
            return
        conn.closed = True
        conn.writer.close()
        current = asyncio.current_task()
        for task in conn.tasks:
            if task is not current:
                task.cancel()
        peer = self._peers.get(conn.sid)
        if peer is not None and peer.connection is conn:
            peer.connection = None
            self._forget_if_unknown(conn.sid)
        log.debug("election connection down", sid=conn.sid, reason=reason)


async def _read_handshake(reader: asyncio.StreamReader) -> tuple[Handshake, bytes]:
    """The initiator's handshake and whatever bytes followed it in the same reads."""
    buffer = bytearray()
    while True:
        decoded = decode_handshake(buffer)
        if decoded is not None:
            handshake, used = decoded
            return handshake, bytes(buffer[used:])
        chunk = await reader.read(_READ_CHUNK_BYTES)
        if not chunk:
            raise HandshakeError(f"connection closed after {len(buffer)} bytes of handshake")
        buffer += chunk


def _write(writer: asyncio.StreamWriter, frame: bytes) -> None:
    """uvloop raises RuntimeError, not an OSError, on a write to a transport the peer closed."""
    if writer.is_closing():
        raise ConnectionResetError("closed by the peer")
    writer.write(frame)


def _remote(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if peer else "?"


def _reason(e: BaseException) -> str:
    return str(e) or type(e).__name__
