"""A connection and a clock for driving the server core with plain function calls."""

from __future__ import annotations

import struct
from typing import Any

from zkpy.jute import records as r
from zkpy.server.stats import ConnectionStats
from zkpy.server.zkserver import ServerSettings, ZooKeeperServer


class FakeClock:
    def __init__(self, now_ms: int = 1_000_000) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


class FakeConnection:
    def __init__(self, address: str = "127.0.0.1") -> None:
        self.session_id = 0
        self.auth_ids: list[Any] = [r.Id("ip", address)]
        self.remote_address = (address, 40000)
        self.stats = ConnectionStats()
        self.frames: list[bytes] = []
        self.closed: str | None = None
        self.paused = False

    def send(self, frame: bytes) -> None:
        assert self.closed is None, "sent after close"
        (length,) = struct.unpack_from(">i", frame, 0)
        assert length == len(frame) - 4
        self.frames.append(frame[4:])

    def close(self, reason: str) -> None:
        self.closed = reason

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def take(self) -> list[bytes]:
        frames, self.frames = self.frames, []
        return frames


class Harness:
    """A server core whose proposals are committed when `commit()` is called."""

    def __init__(self, **settings: Any) -> None:
        self.clock = FakeClock()
        self.server = ZooKeeperServer(ServerSettings(**settings), clock_ms=self.clock)
        self.xid = 0

    def commit(self) -> None:
        for header, txn in self.server.take_proposals():
            self.server.commit(header, txn)

    def connect(self, timeout_ms: int = 10000, session_id: int = 0, password: bytes = bytes(16),
                readonly_byte: bool = True, last_zxid: int = 0) -> tuple[FakeConnection, Any]:
        conn = FakeConnection()
        self.server.connection_made(conn)
        body = r.ConnectRequest(0, last_zxid, timeout_ms, session_id, password).to_bytes()
        if readonly_byte:
            body += b"\x00"
        self.server.handle_connect(conn, body)
        self.commit()
        frames = conn.take()
        if not frames:
            return conn, None
        response, off = r.ConnectResponse.decode(frames[0], 0)
        assert (off < len(frames[0])) == readonly_byte
        return conn, response

    def request(self, conn: FakeConnection, op: int, record: Any = None, xid: int | None = None) -> None:
        if xid is None:
            self.xid += 1
            xid = self.xid
        body = r.RequestHeader(xid, op).to_bytes()
        if record is not None:
            body += record if isinstance(record, bytes) else record.to_bytes()
        self.server.handle_packet(conn, body)

    def call(self, conn: FakeConnection, op: int, record: Any = None, response: Any = None) -> tuple[Any, Any]:
        """Sends one request, commits, and decodes the one reply (header, body)."""
        self.request(conn, op, record)
        self.commit()
        frames = [f for f in conn.take() if r.ReplyHeader.decode(f, 0)[0].xid != -1]
        assert len(frames) == 1, frames
        reply_header, off = r.ReplyHeader.decode(frames[0], 0)
        body = response.decode(frames[0], off)[0] if response is not None and not reply_header.err else None
        return reply_header, body
