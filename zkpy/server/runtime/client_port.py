"""The client port: one asyncio Protocol per TCP connection.

Theory of operation: `data_received` deframes every complete frame of the read and hands them to
the server core in one pass; replies produced meanwhile are collected and leave in one
`transport.write` at the end of the pass. Replies produced outside a pass (a write committed
later, a watch fired by another client) are collected the same way and flushed once per event
loop iteration. Before the handshake the first four bytes may be a four-letter word: then the
command's text is written and the connection closed. A frame over jute.maxbuffer, a malformed
handshake or request header, closes this connection only, with a log line. A quorum member
that is not serving (electing, syncing) hands out connections without a server core: they answer
four-letter words and are closed on anything else, as ZooKeeper's "ZooKeeperServer not running".
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog

from zkpy.jute import records as r
from zkpy.jute.codec import DECODE_ERRORS
from zkpy.jute.framing import Deframer, FrameError
from zkpy.server import fourletter
from zkpy.server.runtime import tls
from zkpy.server.stats import ConnectionStats
from zkpy.server.zkserver import ZooKeeperServer

log = structlog.get_logger("zkpy.cnxn")


class ClientConnection(asyncio.Protocol):
    def __init__(self, server: ZooKeeperServer | None, four_letter: fourletter.FourLetterContext,
                 max_frame_bytes: int, max_per_ip: int, ip_counts: dict[str, int]) -> None:
        self.server = server
        self.four_letter = four_letter
        self.deframer = Deframer(max_frame_bytes)
        self.session_id = 0
        self.auth_ids: list[Any] = []
        self.remote_address: tuple[str, int] = ("", 0)
        self.stats = ConnectionStats()
        self.transport: asyncio.Transport | None = None
        self._handshaken = False
        self._out: list[bytes] = []
        self._in_pass = False
        self._flush_scheduled = False
        self._closed = False
        self._max_per_ip = max_per_ip
        self._ip_counts = ip_counts
        self._counted = False

    @property
    def timeout_ms(self) -> int:
        if self.server is None:
            return 0
        state = self.server.tracker.sessions.get(self.session_id)
        return state.timeout_ms if state is not None else 0

    def server_state(self) -> Any:
        return self.server.connections.get(self) if self.server is not None else None

    # ------------------------------------------------------------ asyncio

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername") or ("", 0)
        self.remote_address = (peer[0], peer[1])
        host = peer[0]
        count = self._ip_counts.get(host, 0)
        if self._max_per_ip and count >= self._max_per_ip:
            log.warning("connection refused", reason="too many connections from this address",
                        address=host, limit=self._max_per_ip)
            transport.abort()
            self._closed = True
            return
        self._ip_counts[host] = count + 1
        self._counted = True
        self.auth_ids.append(r.Id("ip", host))
        if self.server is not None:
            self.stats.established_ms = self.server.clock_ms()
            self.server.connection_made(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        if self._counted:
            host = self.remote_address[0]
            left = self._ip_counts.get(host, 1) - 1
            if left > 0:
                self._ip_counts[host] = left
            else:
                self._ip_counts.pop(host, None)
            self._counted = False
        if self.server is not None:
            self.server.connection_lost(self)

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        self._in_pass = True
        try:
            if not self._handshaken and self.deframer.pending_bytes < 4:
                first4 = (self.deframer.peek_length_bytes() or b"") + data
                if len(first4) >= 4 and fourletter.is_four_letter_word(first4[:4]):
                    self._four_letter_word(first4)
                    return
            if self.server is None:
                if self.deframer.pending_bytes + len(data) >= 4:
                    log.info("connection refused", reason="ZooKeeperServer not running",
                             address=self.remote_address[0])
                    self.close("not serving")
                else:
                    self.deframer.feed(data)
                return
            try:
                frames = self.deframer.feed(data)
            except FrameError as error:
                self._handle_frames(error.frames)
                log.warning("closing connection", reason=str(error), address=self.remote_address[0],
                            port=self.remote_address[1])
                self.close("frame length refused")
                return
            self._handle_frames(frames)
        except DECODE_ERRORS as error:
            log.warning("closing connection", reason=f"malformed packet: {error}",
                        address=self.remote_address[0], port=self.remote_address[1])
            self.close("malformed packet")
        finally:
            self._in_pass = False
            self._flush()

    def _handle_frames(self, frames: list[bytes]) -> None:
        server = self.server
        for frame in frames:
            if self._closed:
                return
            if self._handshaken:
                server.handle_packet(self, frame)
            else:
                self._handshaken = True
                server.handle_connect(self, frame)

    def pause_writing(self) -> None:
        self.pause_reading()

    def resume_writing(self) -> None:
        self.resume_reading()

    # ------------------------------------------------------------ used by the server core

    def send(self, frame: bytes) -> None:
        if self._closed:
            return
        self._out.append(frame)
        if not self._in_pass and not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def close(self, reason: str) -> None:
        if self._closed:
            return
        self._flush()
        self._closed = True
        if self.transport is not None:
            self.transport.close()

    def pause_reading(self) -> None:
        if self.transport is not None and not self._closed:
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and not self._closed:
            self.transport.resume_reading()

    # ------------------------------------------------------------ internals

    def _flush(self) -> None:
        self._flush_scheduled = False
        # After connection_lost uvloop raises RuntimeError on a write; the replies are moot.
        if self._out and self.transport is not None and not self._closed:
            out = self._out
            self._out = []
            self.transport.write(b"".join(out) if len(out) > 1 else out[0])

    def _four_letter_word(self, first: bytes) -> None:
        command = fourletter.command_name(first[:4])
        log.debug("four letter word", command=command, address=self.remote_address[0])
        text = fourletter.run(command, self.four_letter, conn=self, argument=first[4:])
        assert self.transport is not None
        if text:
            self.transport.write(text.encode("utf-8"))
        self._closed = True
        self.transport.close()


async def listen_for_clients(loop: asyncio.AbstractEventLoop, config: Any,
                             protocol: Callable[[], asyncio.Protocol]) -> list[asyncio.AbstractServer] | None:
    """Listens on clientPort and, when set, secureClientPort (TLS); None after logging why not."""
    if config.client_port is None:
        log.error("no client port configured", hint="set clientPort in zoo.cfg")
        return None
    listeners = []
    try:
        listeners.append(await loop.create_server(
            protocol, host=config.client_port_address, port=config.client_port,
            reuse_address=True, backlog=1024,
        ))
    except OSError as error:
        log.error("cannot listen on the client port", port=config.client_port, error=str(error))
        return None
    secure_port = config.extra.get("secureClientPort")
    if secure_port and int(secure_port) > 0:
        try:
            context = tls.server_context(config.extra)
            listeners.append(await loop.create_server(
                protocol, host=config.extra.get("secureClientPortAddress"),
                port=int(secure_port), ssl=context, reuse_address=True, backlog=1024,
            ))
        except (OSError, ValueError) as error:
            for listener in listeners:
                listener.close()
            log.error("cannot serve the secure client port", port=secure_port, error=str(error))
            return None
        log.info("serving TLS", port=int(secure_port))
    return listeners
