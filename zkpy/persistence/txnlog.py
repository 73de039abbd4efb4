"""The transaction log file format, pure: encode entries, read a file's bytes, preallocation maths.

Theory of operation (ZooKeeper's FileTxnLog, Util.marshallTxnEntry/readTxnBytes, FilePadding):

    FileHeader { int magic "ZKLG"; int version 2; long dbid 0 }
    repeat { long adler32(entry); int len; byte[len] entry; byte 'B' }
    zero bytes up to the preallocated end of the file

An entry is TxnHeader + txn record + optional TxnDigest. The checksum is Adler32 of the entry
bytes only (the class comment in FileTxnLog claims more; the code does not). The writer grows the
file in preAllocSize steps ahead of the data, so a reader sees the end of the log as a zero
length. A crash can leave the last entry torn: too short, without its 'B', or (pages written out
of order) with the 'B' but a bad checksum and nothing but zeros after it. All of those end the
file cleanly, as in ZooKeeper, which starts a new file after a restart. A bad checksum followed by
more data, an entry that does not decode although its checksum holds, or a bad magic number are
real corruption and raise `CorruptLogError` naming the file and offset (ZooKeeper refuses to start
on those too).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from zlib_ng import zlib_ng

from zkpy.jute.codec import DECODE_ERRORS
from zkpy.jute.txns import decode_txn, encode_txn

TXNLOG_MAGIC = 0x5A4B4C47  # "ZKLG"
TXNLOG_VERSION = 2
HEADER_SIZE = 16
DEFAULT_PREALLOC_SIZE = 64 * 1024 * 1024
PAD_THRESHOLD = 4096
END_OF_RECORD = 0x42  # 'B'

_FILE_HEADER = struct.Struct(">iiq")
_ENTRY_HEAD = struct.Struct(">qi")
_ZXID_IN_ENTRY = struct.Struct(">q")
_ZXID_OFFSET = 12  # TxnHeader: long clientId, int cxid, then long zxid
_ZERO_CHECK_CHUNK = 1 << 20


class CorruptLogError(Exception):
    """A log file damaged somewhere other than its torn tail."""

    def __init__(self, file_name: str, offset: int, reason: str) -> None:
        super().__init__(f"{file_name}: corrupt transaction log at offset {offset}: {reason}")
        self.file_name = file_name
        self.offset = offset
        self.reason = reason


@dataclass(slots=True)
class LogEntry:
    """One txn read back from a log; `raw` is the entry (header + txn + digest) as logged."""

    header: Any
    txn: Any
    digest: Any
    raw: bytes
    offset: int
    end_offset: int

    @property
    def zxid(self) -> int:
        return int(self.header.zxid)


def encode_file_header(dbid: int = 0) -> bytes:
    return _FILE_HEADER.pack(TXNLOG_MAGIC, TXNLOG_VERSION, dbid)


def encode_entry(txn_bytes: bytes) -> bytes:
    """Frames one serialized txn (Util.marshallTxnEntry output) for the log."""
    if not txn_bytes:
        raise ValueError("an empty txn cannot be logged: a zero length marks the end of a log")
    return _ENTRY_HEAD.pack(zlib_ng.adler32(txn_bytes), len(txn_bytes)) + txn_bytes + b"B"


def encode_txn_entry(header: Any, txn: Any, digest: Any = None) -> bytes:
    return encode_entry(encode_txn(header, txn, digest))


def zxid_of_txn_bytes(txn_bytes: bytes) -> int:
    """The zxid in a serialized TxnHeader, without decoding the rest."""
    return int(_ZXID_IN_ENTRY.unpack_from(txn_bytes, _ZXID_OFFSET)[0])


def padded_file_size(position: int, file_size: int, prealloc_size: int) -> int:
    """FilePadding.calculateFileSizeWithPadding: the size to grow the file to before writing at
    `position`. Grows by one preAllocSize step once the position is within 4 KiB of the known
    end; a position already past the end is rounded up to a multiple of preAllocSize past it."""
    if prealloc_size > 0 and position + PAD_THRESHOLD >= file_size:
        if position > file_size:
            file_size = position + prealloc_size
            file_size -= file_size % prealloc_size
        else:
            file_size += prealloc_size
    return file_size


def read_log(data: Any, file_name: str = "<log>") -> Iterator[LogEntry]:
    """The entries of one log file, given its bytes (bytes, memoryview or mmap).

    Stops at the zero padding or a torn last entry; raises CorruptLogError for a bad magic number
    or damage that is not at the tail. A file shorter than its header (a crash right after it was
    created) holds no entries.
    """
    size = len(data)
    if size < HEADER_SIZE:
        return
    magic, _version, _dbid = _FILE_HEADER.unpack_from(data, 0)
    if magic != TXNLOG_MAGIC:
        raise CorruptLogError(file_name, 0, f"bad magic number {magic:#x} != {TXNLOG_MAGIC:#x}")
    offset = HEADER_SIZE
    while offset + _ENTRY_HEAD.size <= size:
        checksum, length = _ENTRY_HEAD.unpack_from(data, offset)
        if length == 0 or length == -1:
            return
        if length < 0:
            raise CorruptLogError(file_name, offset, f"negative entry length {length}")
        start = offset + _ENTRY_HEAD.size
        end = start + length
        if end >= size or data[end] != END_OF_RECORD:
            return
        raw = bytes(data[start:end])
        if zlib_ng.adler32(raw) != checksum:
            if _only_zeros_after(data, end + 1):
                return
            raise CorruptLogError(file_name, offset, "checksum mismatch")
        try:
            header, txn, digest = decode_txn(raw)
        except DECODE_ERRORS as exc:
            raise CorruptLogError(file_name, offset, f"undecodable txn: {exc}") from exc
        yield LogEntry(header, txn, digest, raw, offset, end + 1)
        offset = end + 1


def _only_zeros_after(data: Any, offset: int) -> bool:
    size = len(data)
    while offset < size:
        chunk = bytes(data[offset:offset + _ZERO_CHECK_CHUNK])
        if chunk.count(0) != len(chunk):
            return False
        offset += len(chunk)
    return True
