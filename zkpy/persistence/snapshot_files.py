"""Snapshots on disk: dataDir/version-2/snapshot.<hex zxid>[.gz|.snappy], as FileSnap keeps them.

Theory of operation: a snapshot is named after the last zxid applied to the tree when it was
taken. Writing streams the serialized chunks through the configured compression into
`<name>.tmp`, fsyncs it, renames it into place and fsyncs the directory (ZooKeeper's
AtomicFileOutputStream), so a crash leaves either the old set of snapshots or a complete new one.
ZooKeeper lists a leftover `snapshot.<zxid>.tmp` as a candidate too; it is either complete (and
as good as the renamed file would be) or fails the checks below and is skipped.

Loading picks the newest snapshot that deserializes and passes its checksums, the way
FileSnap.deserialize does: candidates are sorted newest first, those failing the cheap check
(SnapStream.isValidSnapshot: compression magic, or the seal's "/" at the end) are passed over,
and at most 100 are tried. A corrupt one is logged and skipped so the one before it is used; the
txn log still holds everything after that older snapshot as long as purging kept what it needs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from zkpy.persistence.fsync import fsync_dir
from zkpy.persistence.names import (
    SNAPSHOT_PREFIX,
    make_snapshot_name,
    sort_data_dir,
    zxid_from_name,
)
from zkpy.persistence.snapshot import (
    CorruptSnapshotError,
    LoadedSnapshot,
    current_zxid_digest,
    deserialize_snapshot,
    serialize_snapshot,
)
from zkpy.persistence.snapstream import (
    METHODS,
    CompressionError,
    compress,
    decompress,
    looks_valid,
    method_of_file,
)

log = structlog.get_logger("zkpy.persistence")

MAX_SNAPSHOTS_TRIED = 100
READ_CHUNK_SIZE = 1 << 20
_CHECK_BYTES = 8


class NoValidSnapshotError(Exception):
    """Snapshot files exist but none of them can be loaded."""


@dataclass(frozen=True, slots=True)
class SkippedSnapshot:
    path: Path
    reason: str


class SnapshotFiles:
    def __init__(self, snap_dir: Path, *, compression: str = "") -> None:
        """`snap_dir` is dataDir/version-2; `compression` is the value of
        zookeeper.snapshot.compression.method ('', 'gz' or 'snappy') for new snapshots."""
        if compression not in METHODS:
            raise ValueError(f"unknown snapshot compression method {compression!r}")
        self.snap_dir = Path(snap_dir)
        self.snap_dir.mkdir(parents=True, exist_ok=True)
        self.compression = compression

    # ------------------------------------------------------------------ writing

    def write(
        self,
        tree: Any,
        *,
        digest_enabled: bool = True,
        last_zxid_enabled: bool = True,
        fsync: bool = True,
    ) -> Path:
        """Snapshots a tree that does not change meanwhile (see snapshot.serialize_snapshot).
        `digest_enabled` is zookeeper.digest.enabled; `last_zxid_enabled` is 3.9's
        zookeeper.serializeLastProcessedZxid.enabled (3.8 readers ignore that trailer).

        Without the digest the last-zxid trailer is left out as well: ZooKeeper 3.9 would write
        it right after the first seal, where every digest-enabled reader (3.8 or 3.9) takes it
        for a ZxidDigest, fails, and rejects the whole snapshot."""
        zxid = tree.last_processed_zxid
        chunks = serialize_snapshot(
            tree,
            zxid_digest=current_zxid_digest(tree) if digest_enabled else None,
            last_processed_zxid=zxid if last_zxid_enabled and digest_enabled else None,
        )
        return self.write_stream(zxid, chunks, fsync=fsync)

    def write_stream(self, zxid: int, chunks: Iterable[bytes], *, fsync: bool = True) -> Path:
        """Writes an uncompressed snapshot stream as snapshot.<hex zxid>, compressed as
        configured. Blocking: run it on a background thread."""
        final = self.snap_dir / make_snapshot_name(zxid, self.compression)
        temporary = final.with_name(final.name + ".tmp")
        try:
            with open(temporary, "wb") as f:
                f.writelines(compress(chunks, self.compression))
                f.flush()
                if fsync:
                    os.fsync(f.fileno())
            os.replace(temporary, final)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        if fsync:
            fsync_dir(self.snap_dir)
        log.info("snapshot_written", path=str(final), zxid=f"{zxid:#x}")
        return final

    # ------------------------------------------------------------------ reading

    def snapshots(self) -> list[Path]:
        """Every file named like a snapshot, newest first (FileSnap.findNRecentSnapshots)."""
        names = [n for n in os.listdir(self.snap_dir) if zxid_from_name(n, SNAPSHOT_PREFIX) != -1]
        return [self.snap_dir / n for n in sort_data_dir(names, SNAPSHOT_PREFIX, ascending=False)]

    def valid_snapshots(self, limit: int = MAX_SNAPSHOTS_TRIED) -> list[Path]:
        """Up to `limit` newest snapshots that pass the cheap validity check
        (FileSnap.findNValidSnapshots)."""
        found: list[Path] = []
        for path in self.snapshots():
            if len(found) == limit:
                break
            if looks_like_snapshot(path):
                found.append(path)
        return found

    def load(self, path: Path) -> LoadedSnapshot:
        """Reads one snapshot fully, checksums included. Raises CorruptSnapshotError."""
        zxid = zxid_from_name(path.name, SNAPSHOT_PREFIX)
        method = method_of_file(path.name)
        with open(path, "rb") as f:
            chunks = iter(lambda: f.read(READ_CHUNK_SIZE), b"")
            try:
                return deserialize_snapshot(decompress(chunks, method), zxid)
            except CompressionError as exc:
                raise CorruptSnapshotError(str(exc)) from exc

    def load_newest(self) -> tuple[LoadedSnapshot | None, list[SkippedSnapshot]]:
        """The newest snapshot that loads, with the ones skipped on the way. None when there is
        no snapshot at all; NoValidSnapshotError when there are some but none loads."""
        skipped: list[SkippedSnapshot] = []
        candidates = self.valid_snapshots()
        for path in candidates:
            try:
                return self.load(path), skipped
            except (CorruptSnapshotError, OSError) as exc:
                log.error("snapshot_unreadable", path=str(path), error=str(exc))
                skipped.append(SkippedSnapshot(path, str(exc)))
        if candidates:
            raise NoValidSnapshotError(f"not able to find a valid snapshot in {self.snap_dir}: "
                                       + "; ".join(f"{s.path.name}: {s.reason}" for s in skipped))
        return None, skipped


def looks_like_snapshot(path: Path) -> bool:
    """SnapStream.isValidSnapshot: a snapshot name and the right magic or seal tail."""
    if zxid_from_name(path.name, SNAPSHOT_PREFIX) == -1:
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(_CHECK_BYTES)
            size = os.fstat(f.fileno()).st_size
            if size < 10 and method_of_file(path.name) == "":
                return False
            f.seek(max(0, size - _CHECK_BYTES))
            tail = f.read(_CHECK_BYTES)
    except OSError:
        return False
    return looks_valid(head, tail, method_of_file(path.name))
