"""Durability of one server: group-committed txn log, background fuzzy snapshots, restore, purge.

Theory of operation (ZooKeeper's SyncRequestProcessor + FileTxnSnapLog):
* `log_and_sync(txns)` appends every txn proposed since the last call and fsyncs them with one
  fdatasync on the log thread, off the event loop. The caller acknowledges nothing of the batch
  before its future resolves, and while one sync runs the next batch gathers: one fsync covers
  every txn that arrived meanwhile (group commit).
* After a randomised number of txns in [snapCount/2 + 1, snapCount] (so that the servers of an
  ensemble do not snapshot at once), the log is rolled and a snapshot is taken by a forked child
  that holds a copy-on-write image of the tree (as Redis's BGSAVE does): the server does not pause
  and the snapshot is exactly the tree at its zxid. Restore replays the log after that zxid, and
  would converge from a fuzzy snapshot too (ZooKeeper's are fuzzy), since replaying an applied txn
  changes nothing. If the previous snapshot is still being written, this one is skipped.
* A small batch on a fast disk is synced in place, on the event loop: handing it to the log thread
  and back costs two thread wake-ups (about 170 us on a 2-core VM), more than the fdatasync itself
  (about 60 us, a few hundred when three servers share the disk), and that is most of a lone
  client's write latency. Any larger batch, a sync while another is running, or a disk whose
  recent fsyncs were slow goes to the log thread, so the loop never stalls long for a slow disk.
* A failed write or fsync raises: the server must stop rather than acknowledge what it could not
  log.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import structlog

from zkpy.datatree.digest import DIGEST_VERSION
from zkpy.datatree.tree import DataTree
from zkpy.persistence.names import SNAPSHOT_PREFIX, VERSION_DIR, zxid_from_name
from zkpy.persistence.purge import purge
from zkpy.persistence.restore import RestoreResult, restore
from zkpy.persistence.snapshot import ZxidDigest, serialize_snapshot
from zkpy.persistence.snapshot_files import SnapshotFiles
from zkpy.persistence.txnlog import LogEntry
from zkpy.persistence.txnlog_files import TxnLogFiles
from zkpy.server.config import ServerConfig
from zkpy.server.metrics import ServerMetrics

log = structlog.get_logger("zkpy.storage")

INLINE_SYNC_MAX_TXNS = 4
"""Batches up to this size may be synced on the event loop (a few lone clients' writes)."""
INLINE_SYNC_MAX_US = 1000
"""...when the recent fsync time is below this: an SSD, even one shared by the 3 servers of a
loopback ensemble (a few hundred us each there), while a light load's reads wait at most this long
and a slow disk (milliseconds) never blocks the loop."""
_FSYNC_AVERAGE_WEIGHT = 0.2


class Storage:
    def __init__(self, config: ServerConfig, rng: random.Random) -> None:
        self.snap_dir = Path(config.data_dir) / VERSION_DIR
        self.log_dir = Path(config.data_log_dir) / VERSION_DIR
        self.logs = TxnLogFiles(self.log_dir, prealloc_size=config.pre_alloc_size_kb * 1024,
                                force_sync=config.force_sync)
        self.snapshots = SnapshotFiles(self.snap_dir, compression=config.snapshot_compression_method)
        self.snap_count = config.snap_count
        self.digest_enabled = config.digest_enabled
        self.trust_empty_snapshot = config.extra.get("snapshot.trust.empty", "false").lower() == "true"
        self.retain_count = config.autopurge_snap_retain_count
        self._rng = rng
        self._log_thread = ThreadPoolExecutor(1, thread_name_prefix="zkpy-txnlog")
        self._snapshot_thread = ThreadPoolExecutor(1, thread_name_prefix="zkpy-snapshot")
        self._txns_since_snapshot = 0
        self._txns_since_sync = 0
        self._syncs_in_flight = 0
        self._fsync_average_us = float(INLINE_SYNC_MAX_US)
        self._snapshot_after = self._roll_point()
        self._snapshot_task: asyncio.Task[None] | None = None
        self.last_snapshot_ms: int | None = None
        self.last_snapshot_zxid: int | None = None
        self.metrics: ServerMetrics | None = None

    def _roll_point(self) -> int:
        half = max(self.snap_count // 2, 1)
        return half + self._rng.randrange(half)

    # ------------------------------------------------------------ start-up

    def restore(self, replayed: Callable[[LogEntry], None] | None = None) -> RestoreResult:
        """Loads the newest valid snapshot and replays the log after it (blocking)."""
        result = restore(self.snapshots, self.logs, trust_empty_snapshot=self.trust_empty_snapshot,
                         replayed=replayed)
        result.tree.recompute_totals()
        if result.needs_initial_snapshot:
            self.snapshots.write(result.tree, digest_enabled=self.digest_enabled)
        return result

    # ------------------------------------------------------------ the write path

    def log_and_sync(self, txns: list[bytes]) -> asyncio.Future[int]:
        """Appends serialized txns (encode_txn) and starts their fsync on the log thread; the
        future resolves once every one is durable (and raises OSError if it could not be)."""
        self.log_serialized(txns)
        if self.metrics is not None:
            self.metrics.sync_processor_batch_size.record(len(txns))
        return self.sync()

    def log_serialized(self, txns: list[bytes]) -> None:
        """Appends txns as a learner received them (digest included), to be made durable by the
        next `sync()`."""
        self.logs.append_serialized(txns)
        self._txns_since_snapshot += len(txns)
        self._txns_since_sync += len(txns)

    def sync(self) -> asyncio.Future[int]:
        """fsyncs everything appended so far; resolves to the last zxid synced."""
        loop = asyncio.get_running_loop()
        batch, self._txns_since_sync = self._txns_since_sync, 0
        in_place = (batch <= INLINE_SYNC_MAX_TXNS and self._syncs_in_flight == 0
                    and self._fsync_average_us < INLINE_SYNC_MAX_US)
        self._syncs_in_flight += 1
        if in_place:
            done: asyncio.Future[int] = loop.create_future()
            # After the callbacks already queued: proposals and replies written so far go out
            # first, so peers work while this one syncs.
            loop.call_soon(self._sync_in_place, done)
            return done
        on_thread = loop.run_in_executor(self._log_thread, self._timed_sync)
        on_thread.add_done_callback(self._sync_done)
        return on_thread

    def _sync_in_place(self, done: asyncio.Future[int]) -> None:
        try:
            done.set_result(self._timed_sync())
        except Exception as error:  # noqa: BLE001 - as run_in_executor would, for the awaiting caller
            done.set_exception(error)
        finally:
            self._syncs_in_flight -= 1

    def _sync_done(self, _: asyncio.Future[int]) -> None:
        self._syncs_in_flight -= 1

    def _timed_sync(self) -> int:
        started_ns = time.perf_counter_ns()
        zxid = self.logs.sync()
        took_us = (time.perf_counter_ns() - started_ns) / 1000
        # A float store is atomic under the GIL; the loop reads it only to choose where to sync.
        self._fsync_average_us += _FSYNC_AVERAGE_WEIGHT * (took_us - self._fsync_average_us)
        if self.metrics is not None:
            self.metrics.record_fsync(int(took_us / 1000))
        return zxid

    async def snapshot_now(self, tree: DataTree) -> None:
        """Rolls the log and writes a snapshot of `tree`, finishing before it returns (a learner's
        snapshot after a SNAP or TRUNC sync)."""
        if self._snapshot_task is not None:
            await asyncio.gather(self._snapshot_task, return_exceptions=True)
        await self.sync()
        self.logs.roll()
        self._txns_since_snapshot = 0
        task = asyncio.get_running_loop().create_task(self.snapshot(tree))
        self._snapshot_task = task
        await task
        if self.last_snapshot_zxid != tree.last_processed_zxid:
            raise OSError(f"could not write a snapshot at 0x{tree.last_processed_zxid:x}")

    async def truncate_and_reload(self, zxid: int) -> RestoreResult:
        """Drops every txn after `zxid` and every snapshot newer than it, then reloads
        (ZKDatabase.truncateLog, for a TRUNC from the leader)."""
        if self._snapshot_task is not None:
            await asyncio.gather(self._snapshot_task, return_exceptions=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._log_thread, self._truncate, zxid)
        return await loop.run_in_executor(self._snapshot_thread, self.restore)

    def _truncate(self, zxid: int) -> None:
        for path in self.snapshots.snapshots():
            if zxid_from_name(path.name, SNAPSHOT_PREFIX) > zxid:
                path.unlink()
        self.logs.truncate(zxid)

    def maybe_snapshot(self, tree: DataTree) -> None:
        """Starts a background snapshot once enough txns were logged since the last one."""
        if self._txns_since_snapshot <= self._snapshot_after:
            return
        self._txns_since_snapshot = 0
        self._snapshot_after = self._roll_point()
        if self._snapshot_task is not None and not self._snapshot_task.done():
            log.warning("too busy to snapshot; skipping this one")
            return
        self.logs.roll()
        self._snapshot_task = asyncio.get_running_loop().create_task(self.snapshot(tree))

    async def snapshot(self, tree: DataTree) -> None:
        """Writes the tree as it is now from a forked child process.

        The child has a copy-on-write image of the tree at this zxid, so the snapshot is exact
        (not fuzzy) and the server never pauses for it: the child serializes and fsyncs on the
        other core while this process goes on serving. The child touches nothing it shares with
        this process: it closes every inherited descriptor but stdio, logs nothing and leaves
        with os._exit. The cost is memory: pages the parent changes meanwhile are copied."""
        loop = asyncio.get_running_loop()
        zxid = tree.last_processed_zxid
        digest = ZxidDigest(zxid, DIGEST_VERSION, tree.digest) if self.digest_enabled else None
        started = loop.time()
        pid = os.fork()
        if pid == 0:
            os._exit(self._write_snapshot_in_child(tree, zxid, digest))
        _, status = await loop.run_in_executor(self._snapshot_thread, os.waitpid, pid, 0)
        took_ms = int((loop.time() - started) * 1000)
        if os.waitstatus_to_exitcode(status) != 0:
            log.error("snapshot failed", zxid=f"0x{zxid:x}", exit_status=os.waitstatus_to_exitcode(status))
            return
        self.last_snapshot_ms = took_ms
        self.last_snapshot_zxid = zxid
        if self.metrics is not None:
            self.metrics.snapshottime.record(took_ms)
        log.info("snapshot taken", zxid=f"0x{zxid:x}", took_ms=took_ms)

    def _write_snapshot_in_child(self, tree: DataTree, zxid: int, digest: ZxidDigest | None) -> int:
        structlog.configure(logger_factory=structlog.ReturnLoggerFactory())
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        try:
            chunks = serialize_snapshot(tree, zxid_digest=digest,
                                        last_processed_zxid=zxid if self.digest_enabled else None)
            self.snapshots.write_stream(zxid, chunks)
        except BaseException:  # noqa: BLE001 - the parent reports the failure from the exit code
            return 1
        return 0

    # ------------------------------------------------------------ housekeeping

    async def purge_old_files(self) -> list[Path]:
        return await asyncio.get_running_loop().run_in_executor(
            self._snapshot_thread, purge, self.log_dir, self.snap_dir, self.retain_count)

    async def close(self) -> None:
        if self._snapshot_task is not None:
            await asyncio.gather(self._snapshot_task, return_exceptions=True)
        await asyncio.get_running_loop().run_in_executor(self._log_thread, self.logs.close)
        self._log_thread.shutdown(wait=True)
        self._snapshot_thread.shutdown(wait=True)
