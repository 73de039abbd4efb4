"""What a quorum member keeps across roles: its database, disk, epochs and recent history.

Theory of operation: a peer goes LOOKING -> LEADING/FOLLOWING/OBSERVING -> LOOKING ... and each
role builds its own server core on the same in-memory tree. `Replica` is that shared state:
the tree (replaced wholesale by a SNAP or a TRUNC), the Storage (log, snapshots), the epoch
files, the committed log that syncs learners, and the serving slot the client port and the
four-letter words read (None while not serving). It is also the quorum status the 4lw, the
AdminServer and the metrics read (admin_commands.QuorumView): the roles keep it current.

The quorum configuration in force (`verifier`, the membership) starts as zoo.cfg says and
changes when a reconfiguration is activated (`activate`, only with reconfigEnabled, as
QuorumPeer.processReconfig): the members, /zookeeper/config, the dynamic config file and the
election follow it. Whatever tree the replica holds shows that configuration in
/zookeeper/config, as ZKDatabase.initConfigInZKDatabase makes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from zkpy.datatree.tree import DataTree
from zkpy.persistence.epochs import EpochFiles
from zkpy.persistence.txnlog import LogEntry
from zkpy.server.admin_commands import LearnerInfo
from zkpy.server.config import QuorumServer, ServerConfig
from zkpy.server.dynamic_config import write_activated_config
from zkpy.server.fourletter import FourLetterContext
from zkpy.server.server_spec import servers_of
from zkpy.server.runtime import heap
from zkpy.server.runtime.storage import Storage
from zkpy.server.zkserver import ZooKeeperServer
from zkpy.zab.committed_log import CommittedLog
from zkpy.zab.quorum import QuorumMaj

log = structlog.get_logger("zkpy.quorum")


@dataclass
class Replica:
    config: ServerConfig
    storage: Storage
    tree: DataTree
    epochs: EpochFiles
    four_letter: FourLetterContext
    verifier: QuorumMaj
    config_path: Path | None = None
    on_config: Callable[[QuorumMaj], None] = lambda verifier: None
    """Called after a new configuration is activated (the election follows it)."""
    servers: dict[int, QuorumServer] = field(init=False)
    committed: CommittedLog = field(default_factory=CommittedLog)
    mode: str = "looking"
    core: ZooKeeperServer | None = None
    leader_id: int = -1
    zab_state: str = "ELECTION"
    sync_mode: str = "NONE"
    pending_syncs: int = 0
    leading_since_s: float | None = None
    proposal_sizes: tuple[int, int, int] = (-1, -1, -1)
    """Last, smallest and largest proposed txn in bytes while leading (ProposalStats)."""
    learner_infos: Callable[[], Sequence[LearnerInfo]] = lambda: ()

    def __post_init__(self) -> None:
        self.servers = servers_of(self.verifier.specs())
        self.set_tree(self.tree)

    def set_tree(self, tree: DataTree) -> None:
        """Hold `tree` from now on (loaded, received by SNAP, reloaded after TRUNC)."""
        self.tree = tree
        tree.set_config(self.verifier.config_bytes(), self.verifier.version, int(time.time() * 1000))
        heap.hold_database()

    @property
    def is_observer(self) -> bool:
        return not self.verifier.is_voter(self.my_id)

    def activate(self, verifier: QuorumMaj) -> bool:
        """Put a newer configuration in force; False when it is not newer or reconfig is off."""
        if not self.config.reconfig_enabled or verifier.version <= self.verifier.version:
            return False
        self.verifier = verifier
        self.servers = servers_of(verifier.specs())
        self.tree.set_config(verifier.config_bytes(), verifier.version, int(time.time() * 1000))
        if self.config_path is not None:
            own = self.servers.get(self.my_id)
            erase = own is not None and own.client_port is not None and (
                self.config.servers.get(self.my_id, own).client_port is not None)
            try:
                written = write_activated_config(self.config_path, verifier, erase_client_address=erase)
            except OSError as error:
                log.error("cannot write the dynamic config file", error=str(error))
            else:
                log.info("configuration written", file=str(written))
        log.info("configuration activated", version=f"0x{verifier.version:x}",
                 voters=sorted(verifier.voting_members), observers=sorted(verifier.observing_members))
        self.on_config(verifier)
        return True

    @property
    def leader_address(self) -> str | None:
        server = self.servers.get(self.leader_id)
        return server.host if server is not None else None

    @property
    def leader_uptime_ms(self) -> int:
        return int((time.monotonic() - self.leading_since_s) * 1000) if self.leading_since_s else 0

    def members(self) -> Mapping[int, QuorumServer]:
        return self.servers

    def learners(self) -> Sequence[LearnerInfo]:
        return self.learner_infos()

    def reset_observer_stats(self) -> None:
        """zkpy keeps no per-learner packet counters to reset."""

    def record_proposal_size(self, size: int) -> None:
        _, smallest, largest = self.proposal_sizes
        self.proposal_sizes = (size, size if smallest < 0 else min(smallest, size), max(largest, size))

    @property
    def my_id(self) -> int:
        assert self.config.server_id is not None
        return self.config.server_id

    @property
    def last_zxid(self) -> int:
        return self.tree.last_processed_zxid

    def remember(self, zxid: int, txn_bytes: bytes) -> None:
        self.committed.add(zxid, txn_bytes)

    def remember_replayed(self, entry: LogEntry) -> None:
        self.remember(entry.zxid, entry.raw)

    def serve(self, core: ZooKeeperServer, mode: str) -> None:
        self.core = core
        self.mode = mode
        self.four_letter.server = core

    def stop_serving(self, reason: str) -> None:
        core = self.core
        self.core = None
        self.four_letter.server = None
        self.mode = "looking"
        self.zab_state = "ELECTION"
        self.sync_mode = "NONE"
        self.leading_since_s = None
        self.learner_infos = lambda: ()
        if core is not None:
            for conn in list(core.connections):
                conn.close(reason)
                core.connection_lost(conn)

    def apply(self, header: Any, txn: Any, txn_bytes: bytes | None) -> None:
        """A committed txn: through the serving core (replies, watches) or straight to the tree.
        With its bytes it joins the committed log (a leader's core keeps that log itself)."""
        if self.core is not None:
            self.core.commit(header, txn)
        else:
            self.tree.apply(header, txn)
        if txn_bytes is not None:
            self.remember(header.zxid, txn_bytes)
