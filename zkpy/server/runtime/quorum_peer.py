"""Process entry point of an ensemble member: election, then lead, follow or observe, again.

Theory of operation (QuorumPeer.run): the client port listens for the whole life of the
process; what answers behind it changes with the role. The peer loads its database and epoch
files, starts the election port, and loops: LOOKING (the election decides, counting our last
zxid and current epoch), then LEADING (Leading) or FOLLOWING/OBSERVING (Following) until that
role ends -- lost quorum, lost leader, a protocol error -- then LOOKING again. Between roles
nobody is served: clients are disconnected and reconnect elsewhere or later. SIGTERM/SIGINT
stop the loop, close every port and flush the log.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import structlog

from zkpy.persistence.epochs import EpochFileError, EpochFiles
from zkpy.persistence.restore import EmptySnapshotError
from zkpy.persistence.snapshot_files import NoValidSnapshotError
from zkpy.persistence.txnlog import CorruptLogError
from zkpy.persistence.txnlog import LogEntry
from zkpy.server import fourletter
from zkpy.server.config import ServerConfig
from zkpy.server.metrics import ServerMetrics
from zkpy.server.runtime.admin_http import start_http_endpoints
from zkpy.server.runtime.client_port import ClientConnection, listen_for_clients
from zkpy.server.runtime.following import Following
from zkpy.server.runtime.housekeeping import autopurge, log_config_warnings
from zkpy.server.runtime.leader_elector import LeaderElector
from zkpy.server.runtime.leading import Leading
from zkpy.server.runtime.replica import Replica
from zkpy.server.runtime.storage import Storage
from zkpy.server.version import ZOOKEEPER_VERSION
from zkpy.server.zkserver import ServerSettings, ZooKeeperServer
from zkpy.zab.committed_log import DEFAULT_COMMIT_LOG_COUNT
from zkpy.zab.election_wire import PeerState
from zkpy.zab.quorum import QuorumMaj

log = structlog.get_logger("zkpy.quorum")

EXIT_DATADIR_UNUSABLE = 3
EXPIRY_CHECK_INTERVAL_S = 0.1


class QuorumPeer:
    def __init__(self, config: ServerConfig, storage: Storage, settings: Callable[[ServerConfig], ServerSettings],
                 config_text: str | None = None, config_path: Path | None = None) -> None:
        self.config = config
        self.config_text = config_text
        self.config_path = config_path
        self.metrics = ServerMetrics.for_config(config)
        storage.metrics = self.metrics
        self.storage = storage
        self.settings = settings
        self.four_letter = fourletter.FourLetterContext(None, config, self._mode, time.monotonic())
        self.replica: Replica | None = None
        self._ip_counts: dict[str, int] = {}
        self._stopping = asyncio.Event()
        self._role_task: asyncio.Task[str] | None = None

    def _mode(self) -> str:
        return self.replica.mode if self.replica is not None else "looking"

    def _make_core(self, replica: Replica) -> ZooKeeperServer:
        core = ZooKeeperServer(self.settings(self.config), tree=replica.tree)
        core.metrics = self.metrics
        return core

    def _protocol(self) -> ClientConnection:
        core = self.replica.core if self.replica is not None else None
        return ClientConnection(core, self.four_letter, self.config.jute_max_buffer,
                                self.config.max_client_cnxns, self._ip_counts)

    async def _serve_read_only(self) -> None:
        """While looking with readonlymode.enabled, serve reads after a grace period
        (QuorumPeer's read-only manager waits max(2 s, tickTime) first)."""
        assert self.replica is not None
        await asyncio.sleep(max(2000, self.config.tick_time_ms) / 1000)
        core = self._make_core(self.replica)
        core.read_only = True
        self.replica.serve(core, "read-only")
        log.info("serving read-only clients", zxid=f"0x{self.replica.last_zxid:x}")
        while True:
            await asyncio.sleep(EXPIRY_CHECK_INTERVAL_S)
            core.tick()

    def load(self) -> int:
        """Restores the database and the epochs; returns an exit code (0: fine)."""
        recent: deque[LogEntry] = deque(maxlen=DEFAULT_COMMIT_LOG_COUNT)
        try:
            restored = self.storage.restore(replayed=recent.append)
            epochs = EpochFiles(self.storage.snap_dir)
            epochs.load(restored.tree.last_processed_zxid)
        except (OSError, EpochFileError, EmptySnapshotError, NoValidSnapshotError, CorruptLogError) as error:
            log.critical("cannot load the database", error=str(error), data_dir=str(self.config.data_dir))
            return EXIT_DATADIR_UNUSABLE
        verifier = QuorumMaj.from_specs({sid: s.spec() for sid, s in self.config.servers.items()},
                                        self.config.config_version)
        self.replica = Replica(self.config, self.storage, restored.tree, epochs, self.four_letter, verifier,
                               self.config_path)
        self.four_letter.quorum = self.replica
        for entry in recent:
            self.replica.remember_replayed(entry)
        log.info("database loaded", zxid=f"0x{restored.zxid:x}", current_epoch=epochs.current_epoch,
                 accepted_epoch=epochs.accepted_epoch, txns_replayed=restored.txns_replayed)
        return 0

    async def serve(self) -> int:
        assert self.replica is not None
        replica = self.replica
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._stopping.set)
        listeners = await listen_for_clients(loop, self.config, self._protocol)
        if listeners is None:
            return 1
        elector = LeaderElector.from_config(self.config)
        replica.on_config = elector.reconfigure
        try:
            await elector.start()
        except OSError as error:
            log.error("cannot listen on the election port", error=str(error))
            for listener in listeners:
                listener.close()
            return 1
        http = await start_http_endpoints(self.config, self.four_letter, replica, metrics=self.metrics,
                                          initial_config=self.config_text)
        log_config_warnings(self.config)
        purging = loop.create_task(autopurge(self.config, self.storage))
        log.info("serving", version=ZOOKEEPER_VERSION, mode="quorum", my_id=replica.my_id,
                 port=self.config.client_port, zxid=f"0x{replica.last_zxid:x}")
        stop_wait = loop.create_task(self._stopping.wait())
        try:
            while not self._stopping.is_set():
                replica.mode = "looking"
                self.metrics.looking_count.add()
                look = loop.create_task(elector.look_for_leader(replica.epochs.current_epoch, replica.last_zxid))
                read_only = loop.create_task(self._serve_read_only()) if self.config.readonly_mode_enabled else None
                await asyncio.wait([look, stop_wait], return_when=asyncio.FIRST_COMPLETED)
                if read_only is not None:
                    read_only.cancel()
                    await asyncio.gather(read_only, return_exceptions=True)
                    replica.stop_serving("leaving read-only mode")
                if not look.done():
                    look.cancel()
                    await asyncio.gather(look, return_exceptions=True)
                    break
                decided = look.result()
                log.info("election result", leader=decided.leader_sid, state=PeerState.name_of(decided.state),
                         took_ms=decided.elapsed_ms)
                self.metrics.election_time.record(decided.elapsed_ms)
                if decided.state == PeerState.LEADING:
                    leading = Leading(replica, self._make_core, self._stopping, elector)
                    reason = await leading.run()
                else:
                    observing = replica.is_observer or decided.state == PeerState.OBSERVING
                    following = Following(replica, decided.leader_sid, observing, self._make_core,
                                          self._stopping, elector)
                    reason = await following.run()
                log.info("role ended", reason=reason)
        finally:
            stop_wait.cancel()
            purging.cancel()
            log.info("shutting down")
            replica.stop_serving("server shutting down")
            for listener in listeners:
                listener.close()
            await elector.close()
            await http.close()
            await self.storage.close()
        return 0
