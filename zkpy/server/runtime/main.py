"""Process entry point of a standalone server: event loop, listener, timers, signals.

Theory of operation: this is where the asyncio parts meet (with client_port and storage). It
restores the database from the data directory, builds the server core on it, listens on the
client port(s), and runs the commit loop: each batch of proposed txns is logged and fsynced
(storage, off the loop), then committed to the core, which applies them and answers. Timers drive
session expiry, the container reaper and autopurge; SIGTERM/SIGINT stop it cleanly, and a txn
log that cannot be written stops it with a non-zero exit code.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from pathlib import Path
from typing import Any

import structlog
import uvloop

from zkpy.datatree.tree import DataTree
from zkpy.jute.txns import encode_txn
from zkpy.persistence.restore import EmptySnapshotError
from zkpy.persistence.snapshot_files import NoValidSnapshotError
from zkpy.persistence.txnlog import CorruptLogError
from zkpy.server import fourletter
from zkpy.server.config import ServerConfig
from zkpy.server.logs import configure_logging
from zkpy.server.prep import PrepPolicy
from zkpy.server.metrics import ServerMetrics
from zkpy.server.runtime.admin_http import start_http_endpoints
from zkpy.server.runtime import heap
from zkpy.server.runtime.client_port import ClientConnection, listen_for_clients
from zkpy.server.runtime.housekeeping import autopurge, log_config_warnings, reap_containers
from zkpy.server.runtime.quorum_peer import QuorumPeer
from zkpy.server.runtime.storage import Storage
from zkpy.server.version import ZOOKEEPER_VERSION
from zkpy.server.zkserver import ServerSettings, ZooKeeperServer

log = structlog.get_logger("zkpy.main")

EXPIRY_CHECK_INTERVAL_S = 0.1
# ZooKeeper's ExitCode.UNABLE_TO_ACCESS_DATADIR
EXIT_DATADIR_UNUSABLE = 3
RESTORE_ERRORS = (EmptySnapshotError, NoValidSnapshotError, CorruptLogError)


def settings_from(config: ServerConfig) -> ServerSettings:
    standalone = not config.is_distributed
    return ServerSettings(
        tick_ms=config.tick_time_ms,
        min_session_timeout_ms=config.effective_min_session_timeout_ms,
        max_session_timeout_ms=config.effective_max_session_timeout_ms,
        # ZooKeeperServer.createSessionTrackerServerId: a standalone server stamps 1 into the
        # high byte of its session ids, a quorum member its myid.
        server_id=1 if standalone else (config.server_id or 0),
        max_outstanding_per_connection=config.global_outstanding_limit,
        super_digest=config.super_digest,
        prep=PrepPolicy(
            extended_types_enabled=config.extended_types_enabled,
            reconfig_enabled=config.reconfig_enabled,
            standalone=standalone,
            skip_acl=config.skip_acl,
        ),
    )


class StandaloneServer:
    def __init__(self, config: ServerConfig, storage: Storage, tree: DataTree, config_text: str | None = None) -> None:
        self.config = config
        self.storage = storage
        self.config_text = config_text
        self.metrics = ServerMetrics.for_config(config)
        storage.metrics = self.metrics
        self.core = ZooKeeperServer(settings_from(config), tree=tree)
        self.core.metrics = self.metrics
        self.four_letter = fourletter.FourLetterContext(
            self.core, config, lambda: "standalone", time.monotonic()
        )
        self._ip_counts: dict[str, int] = {}
        self._proposals_waiting = asyncio.Event()
        self._stopped = asyncio.Event()
        self._exit_code = 0

    async def _commit_loop(self) -> None:
        """Logs each batch of proposals (one fsync), then applies and answers it.

        As soon as one batch is durable the next one's fsync starts, before the durable batch is
        applied, so the disk works while the loop applies and answers."""
        core = self.core
        syncing: tuple[list[tuple[Any, Any]], asyncio.Future[int]] | None = None
        while True:
            if syncing is None:
                await self._proposals_waiting.wait()
                self._proposals_waiting.clear()
                batch = core.take_proposals()
                if not batch:
                    continue
                syncing = (batch, self.storage.log_and_sync(serialized(batch)))
            durable, future = syncing
            try:
                await future
            except OSError as error:
                log.critical("cannot write the txn log; stopping", error=str(error),
                             log_dir=str(self.storage.log_dir))
                self._exit_code = 1
                self._stopped.set()
                return
            self._proposals_waiting.clear()
            following = core.take_proposals()
            syncing = (following, self.storage.log_and_sync(serialized(following))) if following else None
            for header, txn in durable:
                core.commit(header, txn)
            self.storage.maybe_snapshot(core.tree)

    async def _expire_sessions(self) -> None:
        while True:
            await asyncio.sleep(EXPIRY_CHECK_INTERVAL_S)
            self.core.tick()

    def _protocol(self) -> ClientConnection:
        return ClientConnection(self.core, self.four_letter, self.config.jute_max_buffer,
                                self.config.max_client_cnxns, self._ip_counts)

    async def serve(self) -> int:
        loop = asyncio.get_running_loop()
        self.core.on_proposals = self._proposals_waiting.set
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._stopped.set)
        listeners = await listen_for_clients(loop, self.config, self._protocol)
        if listeners is None:
            await self.storage.close()
            return 1
        log_config_warnings(self.config)
        http = await start_http_endpoints(self.config, self.four_letter, metrics=self.metrics,
                                          initial_config=self.config_text)
        log.info("serving", version=ZOOKEEPER_VERSION, mode="standalone",
                 address=self.config.client_port_address or "0.0.0.0", port=self.config.client_port,
                 zxid=f"0x{self.core.last_zxid:x}")
        tasks = [loop.create_task(self._commit_loop()), loop.create_task(self._expire_sessions()),
                 loop.create_task(reap_containers(self.config, lambda: self.core)),
                 loop.create_task(autopurge(self.config, self.storage))]
        await self._stopped.wait()
        log.info("shutting down")
        for task in tasks:
            task.cancel()
        for listener in listeners:
            listener.close()
        for conn in list(self.core.connections):
            conn.close("server shutting down")
        for listener in listeners:
            await listener.wait_closed()
        await http.close()
        await self.storage.close()
        return self._exit_code


async def _start(config: ServerConfig, config_text: str | None, config_path: Path) -> int:
    if config.is_distributed:
        return await _start_quorum_peer(config, config_text, config_path)
    try:
        storage = Storage(config, random.Random())
        restored = storage.restore()
    except OSError as error:
        log.critical("cannot use the data directory", error=str(error), data_dir=str(config.data_dir),
                     data_log_dir=str(config.data_log_dir))
        return EXIT_DATADIR_UNUSABLE
    except RESTORE_ERRORS as error:
        log.critical("cannot load the database", error=str(error), data_dir=str(config.data_dir))
        return EXIT_DATADIR_UNUSABLE
    log.info("database loaded", zxid=f"0x{restored.zxid:x}", snapshot_zxid=f"0x{max(restored.snapshot_zxid, 0):x}",
             txns_replayed=restored.txns_replayed, sessions=len(restored.tree.sessions))
    heap.hold_database()
    return await StandaloneServer(config, storage, restored.tree, config_text).serve()


async def _start_quorum_peer(config: ServerConfig, config_text: str | None, config_path: Path) -> int:
    try:
        storage = Storage(config, random.Random())
    except OSError as error:
        log.critical("cannot use the data directory", error=str(error), data_dir=str(config.data_dir))
        return EXIT_DATADIR_UNUSABLE
    peer = QuorumPeer(config, storage, settings_from, config_text, config_path)
    code = peer.load()
    if code:
        return code
    return await peer.serve()


def run(config: ServerConfig, config_path: Path) -> int:
    """Runs a server on `config` until SIGTERM/SIGINT; returns the process exit code."""
    configure_logging(config.log_level, config.log_format)
    heap.configure()
    log.info("starting", config=str(config_path))
    try:
        config_text: str | None = config_path.read_text(errors="replace")
    except OSError:
        config_text = None
    return uvloop.run(_start(config, config_text, config_path))


def serialized(batch: list[tuple[Any, Any]]) -> list[bytes]:
    return [encode_txn(header, txn) for header, txn in batch]
