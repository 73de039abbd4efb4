"""The recent committed proposals of a replica, and how a leader syncs a learner from them.

Theory of operation (ZKDatabase.committedLog, LearnerHandler.syncFollower and
queueCommittedProposals): every replica remembers its last `capacity` committed proposals (the
PROPOSAL packet bytes, ready to resend). When a learner connects with its last logged zxid, the
leader picks how to bring it up to date:

- the same zxid as the leader: an empty DIFF;
- a zxid beyond the leader's history (a proposal that never committed): TRUNC to the leader's
  last committed zxid;
- a zxid inside the remembered history: DIFF, then PROPOSAL + COMMIT for every later proposal.
  A zxid inside the range that the leader never had means the learner logged proposals of an
  abandoned leader: TRUNC to the proposal before it, then the rest (only within one epoch; a
  learner cannot be truncated across an epoch, it gets a SNAP);
- anything older: SNAP, the whole database.
A zxid whose counter is 0 (a learner that synced to a new epoch and logged nothing since) is
never truncated: it gets a DIFF from wherever the history allows.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from zkpy.zab.packets import PacketType, packet
from zkpy.zab.zxid import counter_of, epoch_of

DEFAULT_COMMIT_LOG_COUNT = 500
"""ZooKeeper's zookeeper.commitLogCount."""


class CommittedLog:
    """The last `capacity` committed txns (ZKDatabase.committedLog), kept as serialized txns:
    the PROPOSAL packets a DIFF sync sends are framed only when a sync reads them."""

    def __init__(self, capacity: int = DEFAULT_COMMIT_LOG_COUNT) -> None:
        self._entries: deque[tuple[int, bytes]] = deque(maxlen=capacity)

    def add(self, zxid: int, txn_bytes: bytes) -> None:
        self._entries.append((zxid, txn_bytes))

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def min_zxid(self) -> int | None:
        return self._entries[0][0] if self._entries else None

    @property
    def max_zxid(self) -> int | None:
        return self._entries[-1][0] if self._entries else None

    def entries(self) -> Iterable[tuple[int, bytes]]:
        """(zxid, PROPOSAL packet) of each txn, oldest first."""
        return ((zxid, packet(PacketType.PROPOSAL, zxid, txn)) for zxid, txn in self._entries)


@dataclass(slots=True)
class SyncPlan:
    """What to send a learner: `packets` (DIFF/TRUNC and PROPOSAL/COMMIT pairs), or a SNAP when
    `snapshot` is set. `last_zxid` is the zxid the learner will be at, from which the leader
    forwards whatever it proposes next."""

    snapshot: bool
    last_zxid: int
    packets: list[bytes] = field(default_factory=list)

    @property
    def mode(self) -> str:
        """SNAP, or the type of the first packet: DIFF or TRUNC."""
        if self.snapshot:
            return "SNAP"
        return PacketType.name_of(int.from_bytes(self.packets[0][:4], "big"))


def plan_sync(peer_last_zxid: int, log: CommittedLog, last_processed_zxid: int) -> SyncPlan:
    min_zxid = log.min_zxid
    max_zxid = log.max_zxid
    if min_zxid is None or max_zxid is None:
        min_zxid = max_zxid = last_processed_zxid
    new_epoch_zxid = counter_of(peer_last_zxid) == 0
    if peer_last_zxid == last_processed_zxid:
        return SyncPlan(False, peer_last_zxid, [packet(PacketType.DIFF, peer_last_zxid)])
    if peer_last_zxid > max_zxid and not new_epoch_zxid:
        return SyncPlan(False, max_zxid, [packet(PacketType.TRUNC, max_zxid)])
    if min_zxid <= peer_last_zxid <= max_zxid or (new_epoch_zxid and peer_last_zxid >= min_zxid):
        plan = _queue_committed(log.entries(), peer_last_zxid, max_zxid)
        if plan is not None:
            return plan
    return SyncPlan(True, last_processed_zxid)


def _queue_committed(entries: Iterable[tuple[int, bytes]], peer_last_zxid: int,
                     last_committed: int) -> SyncPlan | None:
    new_epoch_zxid = counter_of(peer_last_zxid) == 0
    packets: list[bytes] = []
    queued = peer_last_zxid
    previous = -1
    need_op = True
    for zxid, proposal in entries:
        if zxid < peer_last_zxid:
            previous = zxid
            continue
        if need_op:
            if zxid == peer_last_zxid:
                packets.append(packet(PacketType.DIFF, last_committed))
                need_op = False
                continue
            if new_epoch_zxid:
                packets.append(packet(PacketType.DIFF, last_committed))
            elif epoch_of(zxid) != epoch_of(peer_last_zxid) or previous == -1:
                return None
            else:
                packets.append(packet(PacketType.TRUNC, previous))
            need_op = False
        if zxid <= queued:
            continue
        packets.append(proposal)
        packets.append(packet(PacketType.COMMIT, zxid))
        queued = zxid
    if need_op:
        if not new_epoch_zxid:
            return None
        packets.append(packet(PacketType.DIFF, last_committed))
    return SyncPlan(False, queued, packets)
