"""Deleting old snapshots and logs: ZooKeeper's PurgeTxnLog (and autopurge) rule.

Theory of operation: keep the `retain_count` newest valid snapshots (at least 3) and every log
needed to bring the oldest of them up to date. A file named with a zxid below that oldest kept
snapshot's zxid Z is deleted -- except the newest log named <= Z: it starts before Z but may hold
the txns after Z (logs roll at snapshots only approximately), so it is kept like everything
after it. As in ZooKeeper, any `log.*` or `snapshot.*` name that does not parse counts as zxid -1
and is deleted too.
"""

from __future__ import annotations

import os
from pathlib import Path

import structlog

from zkpy.persistence.names import LOG_PREFIX, SNAPSHOT_PREFIX, log_files_from, zxid_from_name
from zkpy.persistence.snapshot_files import SnapshotFiles

log = structlog.get_logger("zkpy.persistence")

MIN_RETAIN_COUNT = 3


def purge(log_dir: Path, snap_dir: Path, retain_count: int) -> list[Path]:
    """Deletes what the `retain_count` newest snapshots do not need; returns the deleted files.
    `log_dir` and `snap_dir` are the version-2 directories."""
    if retain_count < MIN_RETAIN_COUNT:
        raise ValueError(f"snapRetainCount must be at least {MIN_RETAIN_COUNT}, not {retain_count}")
    kept = SnapshotFiles(snap_dir).valid_snapshots(retain_count)
    if not kept:
        return []
    oldest_kept_zxid = zxid_from_name(kept[-1].name, SNAPSHOT_PREFIX)
    log_names = os.listdir(log_dir)
    needed_logs = set(log_files_from(log_names, oldest_kept_zxid))
    doomed = [
        log_dir / name
        for name in log_names
        if name.startswith(LOG_PREFIX + ".")
        and name not in needed_logs
        and zxid_from_name(name, LOG_PREFIX) < oldest_kept_zxid
    ]
    doomed += [
        snap_dir / name
        for name in os.listdir(snap_dir)
        if name.startswith(SNAPSHOT_PREFIX + ".")
        and zxid_from_name(name, SNAPSHOT_PREFIX) < oldest_kept_zxid
    ]
    deleted = []
    for path in doomed:
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("purge_failed", path=str(path), error=str(exc))
            continue
        log.info("purged", path=str(path))
        deleted.append(path)
    return deleted
