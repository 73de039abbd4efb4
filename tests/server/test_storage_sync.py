"""Storage.sync: where a batch is fsynced (in place on the event loop, or on the log thread)."""

from __future__ import annotations

import asyncio
import random
import threading
from pathlib import Path

import pytest
import uvloop

from zkpy.jute import records as r
from zkpy.jute.constants import OpCode
from zkpy.jute.txns import encode_txn
from zkpy.server.config import parse_config
from zkpy.server.runtime.storage import INLINE_SYNC_MAX_TXNS, INLINE_SYNC_MAX_US, Storage

pytestmark = pytest.mark.timeout(30)


def storage_in(tmp_path: Path) -> tuple[Storage, list[int]]:
    """A Storage on `tmp_path` and the idents of the threads its log syncs ran on."""
    config = parse_config(f"dataDir={tmp_path}\nclientPort=2181\n", "zoo.cfg")
    storage = Storage(config, random.Random(1))
    storage.restore()
    threads: list[int] = []
    sync = storage.logs.sync

    def recording_sync() -> int:
        threads.append(threading.get_ident())
        return sync()

    storage.logs.sync = recording_sync  # type: ignore[method-assign]
    return storage, threads


def txns(first_zxid: int, count: int) -> list[bytes]:
    return [encode_txn(r.TxnHeader(1, i, first_zxid + i, 0, OpCode.createSession), r.CreateSessionTxn(30000))
            for i in range(count)]


def test_a_small_batch_on_a_fast_disk_syncs_on_the_loop_and_a_large_one_on_the_log_thread(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        storage, threads = storage_in(tmp_path)
        loop_thread = threading.get_ident()
        try:
            # Until a sync has shown the disk is fast, even a lone txn goes to the log thread.
            assert await storage.log_and_sync(txns(1, 1)) == 1
            assert threads[-1] != loop_thread
            storage._fsync_average_us = 0.0
            assert await storage.log_and_sync(txns(2, 1)) == 2
            assert threads[-1] == loop_thread
            assert await storage.log_and_sync(txns(3, INLINE_SYNC_MAX_TXNS + 1)) == 3 + INLINE_SYNC_MAX_TXNS
            assert threads[-1] != loop_thread
            # A slow disk: nothing stalls the loop.
            storage._fsync_average_us = INLINE_SYNC_MAX_US * 4.0
            assert await storage.log_and_sync(txns(100, 1)) == 100
            assert threads[-1] != loop_thread
        finally:
            await storage.close()

    uvloop.run(main())


def test_an_in_place_sync_waits_for_one_on_the_thread_and_reports_failures(tmp_path: Path) -> None:
    async def main() -> None:
        storage, threads = storage_in(tmp_path)
        loop_thread = threading.get_ident()
        try:
            storage._fsync_average_us = 0.0
            large = storage.log_and_sync(txns(1, INLINE_SYNC_MAX_TXNS + 1))
            small = storage.log_and_sync(txns(10, 1))
            assert await asyncio.gather(large, small) == [INLINE_SYNC_MAX_TXNS + 1, 10]
            assert loop_thread not in threads, "a sync was running on the thread: the next one queues behind it"

            def failing_sync() -> int:
                raise OSError(28, "No space left on device")

            storage._fsync_average_us = 0.0
            storage.logs.sync = failing_sync  # type: ignore[method-assign]
            with pytest.raises(OSError, match="No space left"):
                await storage.log_and_sync(txns(20, 1))
        finally:
            storage.logs.sync = lambda: 0  # type: ignore[method-assign]
            await storage.close()

    uvloop.run(main())
