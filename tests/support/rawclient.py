"""A minimal blocking client on zkpy's jute records, for tests that need control over the wire
(dropping a connection without closing the session, sending odd frames)."""

from __future__ import annotations

import socket
import struct
from typing import Any

from zkpy.jute import records as r


class RawClient:
    def __init__(self, port: int, timeout_ms: int = 10000, session_id: int = 0,
                 password: bytes = bytes(16), host: str = "127.0.0.1") -> None:
        self.sock = socket.create_connection((host, port), timeout=10)
        body = r.ConnectRequest(0, 0, timeout_ms, session_id, password).to_bytes() + b"\x00"
        self._send(body)
        self.connect_response = r.ConnectResponse.from_bytes(self._recv())
        self.xid = 0

    @property
    def session(self) -> tuple[int, bytes]:
        return self.connect_response.sessionId, self.connect_response.passwd

    def _send(self, payload: bytes) -> None:
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)

    def _recv_exact(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise ConnectionError("closed by server")
            data += chunk
        return data

    def _recv(self) -> bytes:
        (length,) = struct.unpack(">i", self._recv_exact(4))
        return self._recv_exact(length)

    def call(self, op: int, record: Any = None, response: Any = None) -> tuple[Any, Any]:
        self.xid += 1
        payload = r.RequestHeader(self.xid, op).to_bytes() + (record.to_bytes() if record is not None else b"")
        self._send(payload)
        while True:
            frame = self._recv()
            header, off = r.ReplyHeader.decode(frame, 0)
            if header.xid == self.xid:
                body = response.decode(frame, off)[0] if response is not None and not header.err else None
                return header, body

    def drop(self) -> None:
        """Closes the TCP connection without closing the session."""
        self.sock.close()
