"""What a quorum member keeps across roles: its database, disk, epochs and recent history.

Theory of operation: a peer goes LOOKING -> LEADING/FOLLOWING/OBSERVING -> LOOKING ... and each
role builds its own server core on the same in-memory tree. `Replica` is that shared state:
the tree (replaced wholesale by a SNAP or a TRUNC), the Storage (log, snapshots), the epoch
files, the committed log that syncs learners, and the serving slot the client port and the
four-letter words read (None while not serving). It is also the quorum status the 4lw, the
AdminServer and the metrics read (admin_commands.QuorumView): the roles keep it current.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from zkpy.datatree.tree import DataTree
from zkpy.persistence.epochs import EpochFiles
from zkpy.persistence.txnlog import LogEntry
from zkpy.server.admin_commands import LearnerInfo, detailed_peer_state
from zkpy.server.config import LearnerType, QuorumServer, ServerConfig
from zkpy.server.fourletter import FourLetterContext
from zkpy.server.runtime.storage import Storage
from zkpy.server.zkserver import ZooKeeperServer
from zkpy.zab.committed_log import CommittedLog
from zkpy.zab.packets import PacketType, packet


@dataclass
class Replica:
    config: ServerConfig
    storage: Storage
    tree: DataTree
    epochs: EpochFiles
    four_letter: FourLetterContext
    committed: CommittedLog = field(default_factory=CommittedLog)
    mode: str = "looking"
    core: ZooKeeperServer | None = None
    leader_id: int = -1
    zab_state: str = "ELECTION"
    sync_mode: str = "NONE"
    pending_syncs: int = 0
    leading_since_s: float | None = None
    proposal_sizes: tuple[int, int, int] = (-1, -1, -1)
    """Last, smallest and largest PROPOSAL packet while leading (ProposalStats)."""
    learner_infos: Callable[[], Sequence[LearnerInfo]] = lambda: ()

    @property
    def leader_address(self) -> str | None:
        server = self.config.servers.get(self.leader_id)
        return server.host if server is not None else None

    @property
    def leader_uptime_ms(self) -> int:
        return int((time.monotonic() - self.leading_since_s) * 1000) if self.leading_since_s else 0

    @property
    def quorum_size(self) -> int:
        return len(self.config.voting_members)

    def members(self) -> Mapping[int, QuorumServer]:
        return self.config.servers

    def learners(self) -> Sequence[LearnerInfo]:
        return self.learner_infos()

    def reset_observer_stats(self) -> None:
        """zkpy keeps no per-learner packet counters to reset."""

    def synced_counts(self) -> tuple[int, int]:
        """(synced voting followers, synced observers) while leading."""
        synced = [info for info in self.learners() if info.synced]
        observers = sum(1 for info in synced if info.learner_type is LearnerType.OBSERVER)
        return len(synced) - observers, observers

    def peer_state(self) -> str:
        return detailed_peer_state(self.mode, self)

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
        self.committed.add(zxid, packet(PacketType.PROPOSAL, zxid, txn_bytes))

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
