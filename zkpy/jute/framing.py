"""Length-prefixed framing of the client port.

Every message is a 4-byte big-endian length and then that many bytes. `Deframer.feed` takes
whatever a read returned and hands back every complete frame in it, keeping the remainder for
the next read, so one `data_received` call parses all the requests it carries. A length below 0
or above `jute.maxbuffer` is a `FrameError` (NIOServerCnxn's "Len error"): the connection that
sent it is closed once the frames before it are served.
"""

from __future__ import annotations

import struct

DEFAULT_MAX_BUFFER = 0xFFFFF
_LENGTH = struct.Struct(">i")


class FrameError(ValueError):
    """A frame length ZooKeeper would refuse. `frames` are the complete frames that came
    before it in the same read: ZooKeeper reads one frame at a time, so it serves those before
    it closes the connection, and so must the caller."""

    def __init__(self, message: str, frames: list[bytes]) -> None:
        super().__init__(message)
        self.frames = frames


class Deframer:
    __slots__ = ("_buffer", "max_frame_bytes")

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_BUFFER) -> None:
        self._buffer = bytearray()
        self.max_frame_bytes = max_frame_bytes

    def peek_length_bytes(self) -> bytes | None:
        """The first four bytes, once they are here (four-letter words hide in them)."""
        return bytes(self._buffer[:4]) if len(self._buffer) >= 4 else None

    @property
    def pending_bytes(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buffer
        if buf:
            buf += data
            data = buf  # type: ignore[assignment]
        # With nothing buffered (the usual case) the frames are sliced straight out of `data`:
        # bytes(a bytes slice) is that slice, so each frame is copied once, not three times.
        frames: list[bytes] = []
        off = 0
        end = len(data)
        limit = self.max_frame_bytes
        while end - off >= 4:
            (length,) = _LENGTH.unpack_from(data, off)
            if length < 0 or length > limit:
                self._keep(data, off)
                raise FrameError(f"Len error {length}", frames)
            stop = off + 4 + length
            if stop > end:
                break
            frames.append(bytes(data[off + 4 : stop]))
            off = stop
        self._keep(data, off)
        return frames

    def _keep(self, data: bytes | bytearray, off: int) -> None:
        """Leaves `data[off:]` in the buffer for the next read."""
        buf = self._buffer
        if data is buf:
            if off:
                del buf[:off]
        elif off < len(data):
            buf += memoryview(data)[off:]

def frame(payload: bytes | bytearray) -> bytes:
    return _LENGTH.pack(len(payload)) + payload
