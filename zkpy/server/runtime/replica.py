"""What a quorum member keeps across roles: its database, disk, epochs and recent history.

Theory of operation: a peer goes LOOKING -> LEADING/FOLLOWING/OBSERVING -> LOOKING ... and each
role builds its own server core on the same in-memory tree. `Replica` is that shared state:
the tree (replaced wholesale by a SNAP or a TRUNC), the Storage (log, snapshots), the epoch
files, the committed log that syncs learners, and the serving slot the client port and the
four-letter words read (None while not serving).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zkpy.datatree.tree import DataTree
from zkpy.persistence.epochs import EpochFiles
from zkpy.persistence.txnlog import LogEntry
from zkpy.server.config import ServerConfig
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
    on_serving_changed: Callable[[], None] = lambda: None

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
        self.on_serving_changed()

    def stop_serving(self, reason: str) -> None:
        core = self.core
        self.core = None
        self.four_letter.server = None
        self.mode = "looking"
        if core is not None:
            for conn in list(core.connections):
                conn.close(reason)
                core.connection_lost(conn)
        self.on_serving_changed()

    def apply(self, header: Any, txn: Any, txn_bytes: bytes | None) -> None:
        """A committed txn: through the serving core (replies, watches) or straight to the tree.
        With its bytes it joins the committed log (a leader's core keeps that log itself)."""
        if self.core is not None:
            self.core.commit(header, txn)
        else:
            self.tree.apply(header, txn)
        if txn_bytes is not None:
            self.remember(header.zxid, txn_bytes)
