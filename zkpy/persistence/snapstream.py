"""Snapshot stream compression, as ZooKeeper's SnapStream picks it: none, gzip or snappy.

Theory of operation: `zookeeper.snapshot.compression.method` chooses how new snapshots are written
and adds the file extension (`snapshot.<zxid>`, `.gz`, `.snappy`); a snapshot is read back
according to its own extension (an unknown one means uncompressed). The checksums inside a
snapshot cover the uncompressed bytes, so compression is a pure wrapper around the byte stream:
both directions are generators over chunks, so nothing holds a whole snapshot in memory.

gzip is the standard format (Java's GZIPOutputStream / GZIPInputStream). snappy is *not* the
standard snappy framing format but snappy-java's SnappyOutputStream stream: a 16-byte header
(magic 0x82 "SNAPPY" 0x00, int version 1, int compatible version 1), then blocks of at most
32 KiB of input, each written as a big-endian int length and the raw snappy block. Raw snappy
comes from cramjam; without it, snappy snapshots can neither be read nor written.

`looks_valid` is SnapStream.isValidSnapshot's cheap pre-check: the gzip or snappy magic, or for an
uncompressed file a tail of int 1 + '/' (the end of the checksum seal).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

NONE = ""
GZIP = "gz"
SNAPPY = "snappy"
METHODS = (NONE, GZIP, SNAPPY)

SNAPPY_MAGIC = b"\x82SNAPPY\x00"
SNAPPY_HEADER = SNAPPY_MAGIC + struct.pack(">ii", 1, 1)
SNAPPY_BLOCK_SIZE = 32 * 1024
GZIP_MAGIC = b"\x1f\x8b"
CHECKED_TAIL = struct.pack(">i", 1) + b"/"

_INT = struct.Struct(">i")


class CompressionError(Exception):
    """A compressed snapshot stream that cannot be decoded, or a missing codec."""


def parse_method(name: str) -> str:
    """StreamMode.fromString: 'gz' or 'snappy' (any case), anything else means uncompressed."""
    lowered = name.lower()
    return lowered if lowered in (GZIP, SNAPPY) else NONE


def method_of_file(file_name: str) -> str:
    """SnapStream.getStreamMode(fileName): the method named by the last extension."""
    parts = file_name.split(".")
    return parse_method(parts[-1]) if len(parts) > 1 else NONE


def compress(chunks: Iterable[bytes], method: str) -> Iterator[bytes]:
    if method == NONE:
        yield from chunks
    elif method == GZIP:
        yield from _gzip(chunks)
    elif method == SNAPPY:
        yield from _snappy(chunks)
    else:
        raise ValueError(f"unknown snapshot compression method {method!r}")


def decompress(chunks: Iterable[bytes], method: str) -> Iterator[bytes]:
    if method == NONE:
        yield from chunks
    elif method == GZIP:
        yield from _gunzip(chunks)
    elif method == SNAPPY:
        yield from _unsnappy(chunks)
    else:
        raise ValueError(f"unknown snapshot compression method {method!r}")


def looks_valid(head: bytes, tail: bytes, method: str) -> bool:
    """The cheap check ZooKeeper runs before trying a snapshot: `head`/`tail` are the first and
    last few bytes of the file."""
    if method == GZIP:
        return head[:2] == GZIP_MAGIC
    if method == SNAPPY:
        return head[: len(SNAPPY_MAGIC)] == SNAPPY_MAGIC
    return tail[-len(CHECKED_TAIL):] == CHECKED_TAIL


def _gzip(chunks: Iterable[bytes]) -> Iterator[bytes]:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    for chunk in chunks:
        out = compressor.compress(chunk)
        if out:
            yield out
    yield compressor.flush()


def _gunzip(chunks: Iterable[bytes]) -> Iterator[bytes]:
    decompressor = zlib.decompressobj(31)
    in_member = False
    try:
        for chunk in chunks:
            while chunk:
                in_member = True
                out = decompressor.decompress(chunk)
                if out:
                    yield out
                if not decompressor.eof:
                    break
                # A new gzip member may follow (GZIPInputStream reads concatenated members).
                chunk = decompressor.unused_data
                decompressor = zlib.decompressobj(31)
                in_member = False
    except zlib.error as exc:
        raise CompressionError(f"bad gzip stream: {exc}") from exc
    if in_member:
        raise CompressionError("truncated gzip stream")


def _snappy_codec() -> Any:
    try:
        import cramjam
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise CompressionError("snappy snapshots need the 'cramjam' package") from exc
    return cramjam.snappy


def _snappy(chunks: Iterable[bytes]) -> Iterator[bytes]:
    codec = _snappy_codec()
    yield SNAPPY_HEADER
    pending = bytearray()
    for chunk in chunks:
        pending += chunk
        while len(pending) >= SNAPPY_BLOCK_SIZE:
            yield _snappy_block(codec, bytes(pending[:SNAPPY_BLOCK_SIZE]))
            del pending[:SNAPPY_BLOCK_SIZE]
    if pending:
        yield _snappy_block(codec, bytes(pending))


def _snappy_block(codec: Any, block: bytes) -> bytes:
    compressed = bytes(codec.compress_raw(block))
    return _INT.pack(len(compressed)) + compressed


def _unsnappy(chunks: Iterable[bytes]) -> Iterator[bytes]:
    codec = _snappy_codec()
    buffer = bytearray()
    offset = 0
    header_expected = True
    for chunk in chunks:
        buffer += chunk
        while True:
            if header_expected or buffer[offset:offset + len(SNAPPY_MAGIC)] == SNAPPY_MAGIC:
                # Streams may be concatenated: SnappyInputStream skips a repeated header.
                if len(buffer) - offset < len(SNAPPY_HEADER):
                    break
                if buffer[offset:offset + len(SNAPPY_MAGIC)] != SNAPPY_MAGIC:
                    raise CompressionError("not a snappy-java stream: bad magic header")
                offset += len(SNAPPY_HEADER)
                header_expected = False
                continue
            if len(buffer) - offset < _INT.size:
                break
            (length,) = _INT.unpack_from(buffer, offset)
            if length < 0:
                raise CompressionError(f"bad snappy block length {length}")
            end = offset + _INT.size + length
            if end > len(buffer):
                break
            try:
                yield bytes(codec.decompress_raw(bytes(buffer[offset + _INT.size:end])))
            except Exception as exc:  # cramjam raises its own DecompressionError
                raise CompressionError(f"bad snappy block: {exc}") from exc
            offset = end
        del buffer[:offset]
        offset = 0
    if header_expected or buffer:
        raise CompressionError("truncated snappy stream")
