"""The txn log on disk: dataLogDir/version-2/log.<hex zxid>, as ZooKeeper's FileTxnLog keeps it.

Theory of operation: `append` only encodes entries into memory, so it is cheap enough for the
event loop. `sync` -- run on a disk thread -- writes everything appended so far and fsyncs it:
group commit, one fsync for all txns that arrived meanwhile. A new file `log.<hex zxid of its
first txn>` is started on the first append after construction, `roll()` or `truncate()`; it gets
the FileHeader and is grown ahead of the data in preAllocSize steps (FilePadding), so a reader
finds a zero length after the last entry. New files are made durable by fsyncing the directory
too, which ZooKeeper omits.

Threads: one thread may `append`/`roll` while another runs `sync`; state readers
(`last_appended_zxid`, `last_synced_zxid`, ...) may run anywhere. A short lock guards the pending
buffer and counters; a second lock serialises the disk work (sync, truncate, close), and the
fsync itself runs outside the first lock so appends never wait for the disk. Reads (`read_after`,
`last_logged_zxid`) look at the files and therefore see only what `sync` has written. An OSError
from `sync` means the log may have lost appended txns: the node must stop, as ZooKeeper does.
"""

from __future__ import annotations

import mmap
import os
import threading
from collections.abc import Generator, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zkpy.jute.txns import encode_txn
from zkpy.persistence.fsync import fdatasync, fsync_dir
from zkpy.persistence.names import (
    LOG_PREFIX,
    log_files_from,
    make_log_name,
    sort_data_dir,
    zxid_from_name,
)
from zkpy.persistence.txnlog import (
    DEFAULT_PREALLOC_SIZE,
    HEADER_SIZE,
    LogEntry,
    encode_entry,
    encode_file_header,
    padded_file_size,
    read_log,
    zxid_of_txn_bytes,
)


@dataclass(slots=True)
class _Segment:
    """Appended entries bound for one file; `new_file_zxid` set = they start a new file."""

    new_file_zxid: int | None
    data: bytearray = field(default_factory=bytearray)
    last_zxid: int = -1


@dataclass(slots=True)
class _OpenLog:
    path: Path
    fd: int
    position: int
    file_size: int


class TxnLogFiles:
    def __init__(
        self,
        log_dir: Path,
        *,
        prealloc_size: int = DEFAULT_PREALLOC_SIZE,
        dbid: int = 0,
        force_sync: bool = True,
        size_limit_bytes: int = -1,
    ) -> None:
        """`log_dir` is dataLogDir/version-2. `force_sync=False` is zookeeper.forceSync=no;
        `size_limit_bytes` > 0 rolls after a sync that leaves the file larger
        (zookeeper.txnLogSizeLimitInKb)."""
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.prealloc_size = prealloc_size
        self.dbid = dbid
        self.force_sync = force_sync
        self.size_limit_bytes = size_limit_bytes
        self._lock = threading.Lock()
        self._disk_lock = threading.Lock()
        self._pending: list[_Segment] = []
        self._roll_requested = True
        self._current: _OpenLog | None = None
        self._last_appended_zxid = -1
        self._last_synced_zxid = -1

    # ------------------------------------------------------------------ state

    @property
    def last_appended_zxid(self) -> int:
        with self._lock:
            return self._last_appended_zxid

    @property
    def last_synced_zxid(self) -> int:
        """The zxid of the last txn made durable by `sync` (-1 before the first)."""
        with self._lock:
            return self._last_synced_zxid

    @property
    def current_log_path(self) -> Path | None:
        current = self._current
        return current.path if current is not None else None

    @property
    def current_log_size(self) -> int:
        """Bytes written to the current file (not counting preallocation)."""
        current = self._current
        return current.position if current is not None else 0

    # ------------------------------------------------------------------ writing

    def append(self, txns: Iterable[tuple[Any, Any, Any]]) -> None:
        """Queues (TxnHeader, txn record, TxnDigest | None) entries for the next `sync`."""
        self.append_serialized([encode_txn(header, txn, digest) for header, txn, digest in txns])

    def append_serialized(self, txns: Iterable[bytes]) -> None:
        """Queues txns already serialized as TxnHeader + record [+ TxnDigest], e.g. a proposal's
        payload, without decoding them."""
        framed = [(zxid_of_txn_bytes(txn_bytes), encode_entry(txn_bytes)) for txn_bytes in txns]
        with self._lock:
            for zxid, entry in framed:
                if self._roll_requested or not self._pending:
                    self._pending.append(_Segment(zxid if self._roll_requested else None))
                    self._roll_requested = False
                segment = self._pending[-1]
                segment.data += entry
                segment.last_zxid = zxid
                self._last_appended_zxid = max(self._last_appended_zxid, zxid)

    def roll(self) -> None:
        """Starts a new log file with the next appended txn (FileTxnLog.rollLog)."""
        with self._lock:
            self._roll_requested = True

    def sync(self) -> int:
        """Writes and fsyncs everything appended; returns the last durable zxid. Blocking."""
        with self._disk_lock:
            return self._sync_locked()

    def _sync_locked(self) -> int:
        with self._lock:
            segments, self._pending = self._pending, []
        to_sync: list[_OpenLog] = []
        new_file = False
        for segment in segments:
            if segment.new_file_zxid is not None:
                if self._current is not None:
                    to_sync.append(self._current)
                self._current = self._create_file(segment.new_file_zxid)
                new_file = True
            current = self._current
            assert current is not None, "a continuing segment without an open log file"
            self._write(current, segment.data)
        if self._current is not None:
            to_sync.append(self._current)
        if self.force_sync:
            for log in to_sync:
                fdatasync(log.fd)
            if new_file:
                fsync_dir(self.log_dir)
        for log in to_sync[:-1]:
            os.close(log.fd)
        with self._lock:
            for segment in segments:
                self._last_synced_zxid = max(self._last_synced_zxid, segment.last_zxid)
            synced = self._last_synced_zxid
            limit = self.size_limit_bytes
            if limit > 0 and self._current is not None and self._current.position > limit:
                self._roll_requested = True
        return synced

    def _create_file(self, first_zxid: int) -> _OpenLog:
        path = self.log_dir / make_log_name(first_zxid)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        header = encode_file_header(self.dbid)
        os.write(fd, header)
        return _OpenLog(path, fd, len(header), len(header))

    def _write(self, log: _OpenLog, data: bytearray) -> None:
        new_size = padded_file_size(log.position, log.file_size, self.prealloc_size)
        if new_size != log.file_size:
            os.pwrite(log.fd, b"\0", new_size - 1)
            log.file_size = new_size
        view = memoryview(data)
        while view:
            written = os.pwrite(log.fd, view, log.position)
            log.position += written
            view = view[written:]
        log.file_size = max(log.file_size, log.position)

    def close(self) -> None:
        """Writes what is pending (without fsync) and closes the current file."""
        with self._disk_lock:
            with self._lock:
                segments, self._pending = self._pending, []
                self._roll_requested = True
            for segment in segments:
                if segment.new_file_zxid is not None:
                    self._close_current()
                    self._current = self._create_file(segment.new_file_zxid)
                if self._current is not None:
                    self._write(self._current, segment.data)
            self._close_current()

    def _close_current(self) -> None:
        if self._current is not None:
            os.close(self._current.fd)
            self._current = None

    # ------------------------------------------------------------------ reading

    def log_files(self) -> list[Path]:
        """Every log file, ascending by the zxid in its name."""
        names = [n for n in os.listdir(self.log_dir) if zxid_from_name(n, LOG_PREFIX) >= 0]
        return [self.log_dir / n for n in sort_data_dir(names, LOG_PREFIX)]

    def log_files_from(self, zxid: int) -> list[Path]:
        """The log file that may hold `zxid` and all newer ones (FileTxnLog.getLogFiles)."""
        return [self.log_dir / n for n in log_files_from(os.listdir(self.log_dir), zxid)]

    def read_after(self, zxid: int) -> Iterator[LogEntry]:
        """Every logged txn with a zxid greater than `zxid`, in log order: what to replay over a
        snapshot taken at `zxid`. Raises CorruptLogError for damage other than a torn tail."""
        for path in self.log_files_from(zxid + 1):
            for entry in read_log_file(path):
                if entry.zxid > zxid:
                    yield entry

    def last_logged_zxid(self) -> int:
        """The zxid of the newest txn in the log (-1 if none): the last synced one if this object
        has synced, else found by reading the newest log file that holds a txn."""
        synced = self.last_synced_zxid
        if synced >= 0:
            return synced
        for path in reversed(self.log_files()):
            last = -1
            for entry in read_log_file(path):
                last = entry.zxid
            if last >= 0:
                return last
        return -1

    # ------------------------------------------------------------------ truncation

    def truncate(self, zxid: int) -> None:
        """Drops every txn after `zxid` (FileTxnLog.truncate, used on a TRUNC from the leader):
        the file holding `zxid` is cut after it, later files are deleted, and the next append
        starts a new file."""
        with self._disk_lock:
            self._sync_locked()
            self._close_current()
            files = self.log_files_from(zxid)
            for path in files:
                if zxid_from_name(path.name, LOG_PREFIX) > zxid:
                    path.unlink()
                    continue
                keep = min(HEADER_SIZE, path.stat().st_size)
                with closing(read_log_file(path)) as entries:
                    for entry in entries:
                        if entry.zxid > zxid:
                            break
                        keep = entry.end_offset
                _truncate_file(path, keep)
            fsync_dir(self.log_dir)
            with self._lock:
                self._roll_requested = True
                self._last_appended_zxid = min(self._last_appended_zxid, zxid)
                self._last_synced_zxid = min(self._last_synced_zxid, zxid)


def read_log_file(path: Path) -> Generator[LogEntry, None, None]:
    """The entries of one log file (see txnlog.read_log), read through a private mapping."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            return
        with mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ) as mapped:
            yield from read_log(mapped, str(path))


def _truncate_file(path: Path, size: int) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    finally:
        os.close(fd)
