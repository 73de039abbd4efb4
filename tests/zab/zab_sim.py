"""A deterministic simulator of whole ZAB ensembles: election, discovery, sync and broadcast.

Theory of operation
-------------------
N servers, each an `Election` plus, per role, a `LeaderCore` or a `LearnerCore`, driven the way
zkpy/server/runtime (quorum_peer, leading, following, replica) drives them, in virtual time
(ms) with every choice drawn from one seeded `random.Random`: a seed replays exactly. Events sit
in a heap ordered by (time, sequence number).

Each server has an in-memory DataTree, a CommittedLog and a simulated disk (`Disk`): the txn log
with a "durable up to" mark (an fsync moves it after a disk delay), the newest snapshot and the
epoch files (written durably at once, as EpochFiles does). A crash loses the log entries not yet
synced (with `writeback`, a random prefix of them survives, as the page cache may have written
them); a restart reloads the tree from the snapshot and the log, and the committed log from the
replayed entries, as QuorumPeer.load does.

Network: election notifications travel with a random delay and are lost across a partition or
to a server that is down (FastLeaderElection re-sends). The quorum port is one connection per
learner: two ordered byte streams, fed through PacketReader. Across a partition a connection's
bytes wait (TCP retransmits) until the partition heals or a side's timeout closes it; a closed
connection drops what is in flight and the other side learns of it after a delay.

Host contract (as the runtime's): leader effects run at once except the txn log, which is group
committed (propose a batch, log it, fsync, then `persisted`, while the next batch gathers).
Learner effects run in order; an I/O effect (SyncLog, TakeSnapshot, Truncate) takes disk time
during which nothing else is processed, and a learner notices a closed connection or a read
timeout only once it has carried out every packet it read (Following._session). When a role
ends, proposals logged but not committed are applied to the tree (Leading._settle_outstanding,
Following._settle_pending). Two host duties are switchable, to show what breaks without them:
`settle_into_committed_log` (the runtime settles into the tree only; ZooKeeper's
fastForwardDataBase also fills the committed log) and `reload_after_unfinished_sync` (a learner
that leaves between SNAP/TRUNC and NEWLEADER reloads from disk, as ZooKeeper's Learner.shutdown
does after an unfinished SNAP; the runtime keeps its tree).

The workload: clients on serving servers write (create a new znode, or setData on one that
exists); a follower forwards the write as a REQUEST, the leader builds the txn (zxid =
make_zxid(epoch, counter)) and proposes it. A write is acknowledged when the leader applies it.
Followers also forward syncs. Faults: crash, restart, partition, heal, connection breaks.

Checkers (a violation raises SimulationError with the seed and the recent trace): at most one
leader starts serving per epoch; every apply raises the node's last zxid; two trees at the same
zxid have the same digest (recorded after every apply, snapshot load and replay); a node's log
zxids increase; a learner acknowledges only what its disk holds (and NEWLEADER only with its
epoch saved and its tree durable); a leader commits only what a quorum of voters holds durably,
and a TRUNC never leaves a committed txn on less than a quorum; a sync answer comes after the
node applied what the leader had proposed before it; after the run heals and settles, every
acknowledged write is present on every live node, every live node has the same tree, and each
session's acknowledged writes kept their order.

Two things are reported rather than failed, as ZooKeeper has them too: a restart refused because
the log holds txns of an epoch newer than the current epoch file (ZOOKEEPER-2354: a crash
between the log sync and the epoch file at NEWLEADER, with `writeback`) keeps that server down
and is listed in `findings`; a server that accepted the epoch of a leader that never
established refuses every leader of a lower epoch, so it may stay out of a settled ensemble
(`locked_out`).
"""

from __future__ import annotations

import bisect
import heapq
import random
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from tests.zab.sim import ensemble
from zkpy.datatree.acl import OPEN_ACL_UNSAFE
from zkpy.datatree.tree import DataTree
from zkpy.jute import records as r
from zkpy.jute.constants import OpCode
from zkpy.jute.txns import decode_txn, encode_txn
from zkpy.persistence.snapshot import deserialize_sync_snapshot, serialize_sync_snapshot
from zkpy.zab import leader as L
from zkpy.zab import learner as Ln
from zkpy.zab.committed_log import CommittedLog
from zkpy.zab.election import Broadcast, Decided, Election, Send
from zkpy.zab.election_wire import Notification, PeerState
from zkpy.zab.packets import (
    PacketReader,
    PacketType,
    QuorumPacket,
    decode_request,
    encode_request,
    packet,
)
from zkpy.zab.zxid import epoch_of, make_zxid


class SimulationError(AssertionError):
    """A checker found a violation; the message carries the seed and the recent trace."""


@dataclass(frozen=True)
class SimConfig:
    voters: int = 3
    observers: int = 0
    tick_ms: int = 100
    init_limit: int = 10
    sync_limit: int = 5
    net_min_ms: int = 1
    net_max_ms: int = 8
    disk_min_ms: int = 1
    disk_max_ms: int = 8
    commit_log_count: int = 12
    """Small, so that learners that were away long enough need a SNAP."""
    writeback: bool = False
    """A crash keeps a random part of the log that was written but not yet synced."""
    settle_into_committed_log: bool = True
    """Proposals a role leaves behind go into the committed log too, not only into the tree."""
    reload_after_unfinished_sync: bool = True
    """A learner that leaves between SNAP/TRUNC and NEWLEADER reloads its tree from disk (the
    tree then holds what no disk has), as ZooKeeper's Learner.shutdown does for SNAP."""
    fault_weight: float = 1.0
    """Scales how often a step crashes, restarts, partitions or breaks a connection."""
    step_min_ms: int = 1
    step_max_ms: int = 60
    settle_limit_ms: int = 120_000


# ------------------------------------------------------------------ disk


@dataclass
class Disk:
    log: list[tuple[int, bytes]] = field(default_factory=list)
    durable: int = 0
    snapshot: tuple[int, bytes] | None = None
    accepted_epoch: int = 0
    current_epoch: int = 0

    def crash(self, rng: random.Random, writeback: bool) -> None:
        keep = self.durable + (rng.randint(0, len(self.log) - self.durable) if writeback else 0)
        del self.log[keep:]
        self.durable = len(self.log)

    def truncate(self, zxid: int) -> None:
        """Storage._truncate: drop every txn after `zxid` and every snapshot newer than it."""
        self.log = [entry for entry in self.log if entry[0] <= zxid]
        self.durable = min(self.durable, len(self.log))
        if self.snapshot is not None and self.snapshot[0] > zxid:
            self.snapshot = None

    def synced(self, covered: int) -> None:
        """An fsync that started when the log held `covered` entries has finished."""
        self.durable = max(self.durable, min(covered, len(self.log)))

    def has_durable(self, zxid: int) -> bool:
        """Whether a crash now would keep the txn `zxid` (in the snapshot or the synced log)."""
        if self.snapshot is not None and zxid <= self.snapshot[0]:
            return True
        i = bisect.bisect_left(self.log, zxid, hi=self.durable, key=lambda entry: entry[0])
        return i < self.durable and self.log[i][0] == zxid

    def durable_zxid(self) -> int:
        last = self.snapshot[0] if self.snapshot is not None else 0
        return max(last, self.log[self.durable - 1][0]) if self.durable else last

    def write_snapshot(self, tree: DataTree) -> None:
        zxid = tree.last_processed_zxid
        self.snapshot = (zxid, b"".join(serialize_sync_snapshot(tree)))
        # Older txns are in the snapshot; stale ones (an abandoned leader's) are garbage.
        self.log = [entry for entry in self.log if entry[0] > zxid]
        self.durable = len(self.log)


# ------------------------------------------------------------------ network


@dataclass(eq=False)
class Channel:
    queue: deque[tuple[int, bytes]] = field(default_factory=deque)
    last_ready_ms: int = 0
    pumping: bool = False


@dataclass(eq=False)
class Conn:
    """A learner's connection to the leader's quorum port; the object is the leader's handle."""

    cid: int
    leader_sid: int
    learner_sid: int
    open: bool = True
    to_leader: Channel = field(default_factory=Channel)
    to_learner: Channel = field(default_factory=Channel)
    sync_required: deque[int] = field(default_factory=deque)
    """Per forwarded sync, in order: the zxid the learner must have applied when it is answered."""

    def __repr__(self) -> str:
        return f"conn{self.cid}({self.learner_sid}->{self.leader_sid})"


@dataclass(frozen=True)
class Write:
    session: tuple[int, int]
    cxid: int
    op: int
    path: str
    data: bytes


# ------------------------------------------------------------------ servers


class Node:
    def __init__(self, sim: Simulator, sid: int, voter: bool) -> None:
        self.sim = sim
        self.sid = sid
        self.voter = voter
        self.disk = Disk()
        self.up = False
        self.incarnation = 0
        self.gen = 0
        """Bumped at every role change and crash: events of an older generation are dropped."""
        self.role = "down"
        self.tree = DataTree()
        self.committed = CommittedLog(sim.config.commit_log_count)
        self.election: Election | None = None
        self.tick_at: int | None = None
        self.leading: LeadingHost | None = None
        self.following: FollowingHost | None = None
        self.cxid = 0
        self.unstartable = False

    @property
    def serving(self) -> bool:
        if self.leading is not None:
            return self.leading.serving
        return self.following is not None and self.following.serving

    def session(self) -> tuple[int, int]:
        return (self.sid, self.incarnation)

    # --- lifecycle -------------------------------------------------------------------------------

    def boot(self) -> None:
        sim = self.sim
        tree = self.load_from_disk()
        last_zxid = tree.last_processed_zxid
        if epoch_of(last_zxid) > self.disk.current_epoch:
            # EpochFiles.load refuses to start, as ZooKeeper's loadDataBase does
            # (ZOOKEEPER-2354): the server stays down for the rest of the run.
            sim.finding(self, f"restart refused: current epoch {self.disk.current_epoch} is older "
                              f"than the last zxid 0x{last_zxid:x}")
            self.unstartable = True
            return
        self.up = True
        self.incarnation += 1
        self.cxid = 0
        self.tree = tree
        self.election = Election(self.sid, sim.verifier)
        self.look()

    def load_from_disk(self) -> DataTree:
        """QuorumPeer.load: the newest snapshot, the log after it, the committed log from the log."""
        sim = self.sim
        self.committed = CommittedLog(sim.config.commit_log_count)
        if self.disk.snapshot is None:
            tree = DataTree()
        else:
            zxid, data = self.disk.snapshot
            tree, rest = deserialize_sync_snapshot([data], zxid)
            assert rest == b""
            tree.recompute_totals()
            sim.check_digest(self, tree, "snapshot load")
        for zxid, txn_bytes in self.disk.log:
            if zxid <= tree.last_processed_zxid:
                continue
            header, txn, _ = decode_txn(txn_bytes)
            sim.apply(self, tree, header, txn, "replay")
            self.committed.add(zxid, txn_bytes)
        return tree

    def crash(self) -> None:
        sim = self.sim
        sim.trace(self, "CRASH")
        if self.leading is not None:
            self.leading.stop(crashed=True)
        if self.following is not None:
            self.following.stop(crashed=True)
        self.up = False
        self.gen += 1
        self.role = "down"
        self.election = None
        self.tick_at = None
        self.disk.crash(sim.rng, sim.config.writeback)

    def look(self) -> None:
        assert self.election is not None
        self.gen += 1
        self.role = "looking"
        self.leading = None
        self.following = None
        sim = self.sim
        epoch, zxid = self.disk.current_epoch, self.tree.last_processed_zxid
        sim.trace(self, f"LOOKING epoch={epoch} zxid=0x{zxid:x}")
        self.election_effects(self.election.start(epoch, zxid, sim.now_ms))

    # --- election --------------------------------------------------------------------------------

    def election_effects(self, effects: list[Any]) -> None:
        sim = self.sim
        for effect in effects:
            if isinstance(effect, Send):
                sim.send_notification(self.sid, effect.to_sid, effect.notification)
            elif isinstance(effect, Broadcast):
                for to_sid in effect.to_sids:
                    sim.send_notification(self.sid, to_sid, effect.notification)
            elif isinstance(effect, Decided):
                self.decided(effect)
        if self.election is None:
            return
        deadline = self.election.next_deadline_ms()
        if deadline is not None and deadline != self.tick_at:
            self.tick_at = max(deadline, sim.now_ms)
            sim.after_node(self, self.tick_at - sim.now_ms, self.election_tick, self.tick_at,
                           use_gen=False)

    def election_tick(self, at_ms: int) -> None:
        if self.election is None or self.tick_at != at_ms:
            return
        self.tick_at = None
        self.election_effects(self.election.tick(self.sim.now_ms))

    def decided(self, decided: Decided) -> None:
        sim = self.sim
        self.gen += 1
        sim.stats["decisions"] += 1
        sim.trace(self, f"DECIDED {PeerState.name_of(decided.state)} leader={decided.leader_sid}")
        if decided.state == PeerState.LEADING:
            self.role = "leading"
            self.leading = LeadingHost(self)
        else:
            observer = decided.state == PeerState.OBSERVING
            self.role = "observing" if observer else "following"
            self.following = FollowingHost(self, decided.leader_sid, observer)
            self.following.connect()

    def role_ended(self, reason: str) -> None:
        self.sim.trace(self, f"ROLE ENDED ({self.role}): {reason}")
        self.look()


class LeadingHost:
    """Leading.run as seen by the cores: learner connections, ticks and the commit pipeline."""

    def __init__(self, node: Node) -> None:
        self.node = node
        sim = node.sim
        config = sim.config
        self.core = L.LeaderCore(
            node.sid, sim.verifier, accepted_epoch=node.disk.accepted_epoch,
            current_epoch=node.disk.current_epoch, last_zxid=node.tree.last_processed_zxid,
            committed=node.committed, init_limit=config.init_limit, sync_limit=config.sync_limit)
        self.conns: dict[Conn, PacketReader] = {}
        self.serving = False
        self.ended = False
        self.prepared: list[tuple[Any, Any]] = []
        self.syncing = False
        self.counter = 0
        self.writes: dict[int, Write] = {}
        sim.after_node(node, config.tick_ms // 2, self.tick)

    # --- learners --------------------------------------------------------------------------------

    def learner_connected(self, conn: Conn) -> None:
        self.conns[conn] = PacketReader()
        self.run(self.core.learner_connected(conn))

    def learner_lost(self, conn: Conn) -> None:
        if self.conns.pop(conn, None) is not None:
            self.run(self.core.learner_lost(conn))

    def received(self, conn: Conn, data: bytes) -> None:
        reader = self.conns.get(conn)
        if reader is None:
            return
        for qp in reader.feed(data):
            if self.ended or conn not in self.conns:
                return
            self.run(self.core.on_packet(conn, qp))

    def tick(self) -> None:
        self.run(self.core.tick())
        if not self.ended:
            self.node.sim.after_node(self.node, self.node.sim.config.tick_ms // 2, self.tick)

    # --- effects ---------------------------------------------------------------------------------

    def run(self, effects: list[Any]) -> None:
        node = self.node
        sim = node.sim
        give_up = None
        for effect in effects:
            if self.ended:
                return
            kind = type(effect)
            if kind is L.Send:
                sim.send_quorum(effect.handle, to_leader=False, data=effect.data)
            elif kind is L.Apply:
                sim.committed_by_leader(node, effect.header.zxid)
                sim.apply(node, node.tree, effect.header, effect.txn, "commit")
                write = self.writes.pop(effect.header.zxid, None)
                if write is not None:
                    sim.acknowledge(effect.header.zxid, write)
            elif kind is L.LearnerMessage:
                self.learner_message(effect.handle, effect.packet)
            elif kind is L.SendSnapshot:
                self.send_snapshot(effect.handle, effect.zxid)
            elif kind is L.SyncChosen:
                sim.trace(node, f"sync {effect.handle} by {effect.mode} from 0x{effect.peer_zxid:x}")
            elif kind is L.CloseLearner:
                sim.trace(node, f"close {effect.handle}: {effect.reason}")
                sim.close_conn(effect.handle, by_leader=True)
                self.learner_lost(effect.handle)
            elif kind is L.SaveAcceptedEpoch:
                node.disk.accepted_epoch = effect.epoch
            elif kind is L.SaveCurrentEpoch:
                node.disk.current_epoch = effect.epoch
            elif kind is L.StartServing:
                self.start_serving()
            elif kind is L.GiveUp:
                give_up = effect.reason
            else:
                raise AssertionError(f"unknown leader effect {effect}")
        if give_up is not None and not self.ended:
            self.stop(crashed=False)
            node.role_ended(f"leader gave up: {give_up}")

    def send_snapshot(self, conn: Conn, zxid: int) -> None:
        sim = self.node.sim
        tree = self.node.tree
        if tree.last_processed_zxid != zxid:
            sim.violation(self.node, f"SNAP at 0x{zxid:x} of a tree at 0x{tree.last_processed_zxid:x}")
        sim.send_quorum(conn, to_leader=False,
                        data=packet(PacketType.SNAP, zxid) + b"".join(serialize_sync_snapshot(tree)))

    def learner_message(self, conn: Conn, qp: QuorumPacket) -> None:
        if qp.type != PacketType.REQUEST or not self.serving:
            return
        session_id, cxid, op, body = decode_request(qp.data)
        if op == OpCode.sync:
            conn.sync_required.append(self.core.last_proposed)
            self.run(self.core.sync_request(conn))
            return
        session = (session_id >> 16, session_id & 0xFFFF)
        txn = (r.CreateTxn if op == OpCode.create else r.SetDataTxn).from_bytes(body)
        self.prepare(Write(session, cxid, op, txn.path, txn.data))

    def start_serving(self) -> None:
        node = self.node
        sim = node.sim
        self.serving = True
        self.counter = 1
        assert node.election is not None
        node.election.update_current_epoch(self.core.epoch)
        sim.leader_established(node, self.core.epoch)

    # --- the write path --------------------------------------------------------------------------

    def prepare(self, write: Write) -> None:
        """The server core's prep: a txn with the next zxid, as a client or a follower asked."""
        node = self.node
        zxid = make_zxid(self.core.epoch, self.counter)
        self.counter += 1
        header = r.TxnHeader((write.session[0] << 16) | write.session[1], write.cxid, zxid,
                             node.sim.now_ms, write.op)
        if write.op == OpCode.create:
            txn = r.CreateTxn(write.path, write.data, OPEN_ACL_UNSAFE, False, -1)
        else:
            existing = node.tree.get_node(write.path)
            txn = r.SetDataTxn(write.path, write.data, existing.version + 1 if existing else 0)
        self.writes[zxid] = write
        self.prepared.append((header, txn))
        if not self.syncing:
            self.propose_next()

    def propose_next(self) -> None:
        if not self.prepared or self.ended:
            return
        batch, self.prepared = self.prepared, []
        self.run(self.core.propose(batch))
        if self.ended:
            return
        sim = self.node.sim
        for header, txn in batch:
            sim.log_append(self.node, header.zxid, encode_txn(header, txn))
        self.syncing = True
        sim.after_node(self.node, sim.disk_delay(), self.log_synced, batch[-1][0].zxid,
                       len(self.node.disk.log))

    def log_synced(self, zxid: int, covered: int) -> None:
        self.node.disk.synced(covered)
        self.syncing = False
        self.propose_next()
        if not self.ended:
            self.run(self.core.persisted(zxid))

    # --- the end ---------------------------------------------------------------------------------

    def stop(self, crashed: bool) -> None:
        """Leading.run's exit: close every learner, then (unless the process died) make the log
        durable and put the outstanding proposals in the tree."""
        if self.ended:
            return
        self.ended = True
        node = self.node
        sim = node.sim
        for conn in list(self.conns):
            sim.close_conn(conn, by_leader=True)
        self.conns.clear()
        if crashed:
            return
        node.disk.durable = len(node.disk.log)
        for zxid in sorted(self.core.outstanding):
            proposal = self.core.outstanding[zxid]
            if zxid > node.tree.last_processed_zxid:
                sim.apply(node, node.tree, proposal.header, proposal.txn, "settle")
                if sim.config.settle_into_committed_log:
                    node.committed.add(zxid, proposal.txn_bytes)
        self.core.outstanding.clear()


class FollowingHost:
    """Following.run as seen by the core: one connection, effects in order, group commit."""

    def __init__(self, node: Node, leader_sid: int, observer: bool) -> None:
        self.node = node
        self.leader_sid = leader_sid
        self.observer = observer
        sim = node.sim
        self.core = Ln.LearnerCore(
            node.sid, observer=observer, accepted_epoch=node.disk.accepted_epoch,
            current_epoch=node.disk.current_epoch, last_logged_zxid=node.tree.last_processed_zxid,
            config_version=sim.verifier.version)
        self.conn: Conn | None = None
        self.reader = PacketReader()
        self.inbox: deque[bytes] = deque()
        self.packets: deque[QuorumPacket] = deque()
        self.effects: deque[Any] = deque()
        self.busy = False
        self.eof = False
        self.serving = False
        self.ended = False
        self.unsynced_zxid = -1
        self.syncing = False
        self.accepted_at_start = node.disk.accepted_epoch
        self.memory_only = False
        """Between SNAP/TRUNC and the snapshot at NEWLEADER the tree is ahead of the disk."""
        self.connect_deadline_ms = sim.now_ms + sim.config.init_limit * sim.config.tick_ms
        self.last_heard_ms = sim.now_ms

    # --- connection ------------------------------------------------------------------------------

    def connect(self) -> None:
        sim = self.node.sim
        if self.ended:
            return
        leader = sim.nodes.get(self.leader_sid)
        if (leader is not None and leader.leading is not None and not leader.leading.ended
                and not sim.blocked(self.node.sid, self.leader_sid)):
            conn = sim.open_conn(leader, self.node)
            self.conn = conn
            leader.leading.learner_connected(conn)
            self.last_heard_ms = sim.now_ms
            sim.after_node(self.node, sim.config.tick_ms // 2, self.check_timeout)
            self.execute(self.core.start())
            return
        if sim.now_ms >= self.connect_deadline_ms:
            self.fail(f"cannot connect to the leader {self.leader_sid}")
            return
        sim.after_node(self.node, 100, self.connect)

    def check_timeout(self) -> None:
        sim = self.node.sim
        limit = sim.config.sync_limit if self.serving else sim.config.init_limit
        if self.idle() and sim.now_ms - self.last_heard_ms > limit * sim.config.tick_ms:
            self.fail("nothing from the leader within the limit")
            return
        sim.after_node(self.node, sim.config.tick_ms // 2, self.check_timeout)

    def received(self, data: bytes) -> None:
        self.last_heard_ms = self.node.sim.now_ms
        self.inbox.append(data)
        self.pump()

    def connection_lost(self) -> None:
        self.eof = True
        self.pump()

    def idle(self) -> bool:
        """Following._session reads (and so notices a timeout or the end of the stream) only
        after it carried out every packet it has read."""
        return not (self.busy or self.effects or self.packets or self.inbox)

    # --- effects, in order, waiting for I/O ------------------------------------------------------

    def pump(self) -> None:
        while not self.ended and not self.busy:
            if self.effects:
                self.step(self.effects.popleft())
            elif self.packets:
                self.effects.extend(self.core.on_packet(self.packets.popleft()))
            elif self.inbox:
                self.packets.extend(self.reader.feed(self.inbox.popleft()))
            else:
                if self.eof:
                    self.fail("the leader closed the connection")
                return

    def execute(self, effects: list[Any]) -> None:
        self.effects.extend(effects)
        self.pump()

    def io_done(self, finish: Callable[[], None]) -> None:
        finish()
        self.busy = False
        self.last_heard_ms = self.node.sim.now_ms  # the next read starts its timeout afresh
        self.pump()

    def step(self, effect: Any) -> None:
        node = self.node
        sim = node.sim
        disk = node.disk
        kind = type(effect)
        if kind is Ln.Send:
            assert self.conn is not None
            sim.check_acks_durable(node, effect.data)
            sim.send_quorum(self.conn, to_leader=True, data=effect.data)
        elif kind is Ln.Log:
            sim.log_append(node, effect.zxid, effect.txn_bytes)
            self.unsynced_zxid = effect.zxid
            if self.serving:
                self.kick_sync()
        elif kind is Ln.Apply:
            sim.apply(node, node.tree, effect.header, effect.txn, "commit")
            node.committed.add(effect.header.zxid, effect.txn_bytes)
        elif kind is Ln.ReplyToPing:
            assert self.conn is not None
            ping = packet(PacketType.PING, effect.packet.zxid, b"", effect.packet.authinfo)
            sim.send_quorum(self.conn, to_leader=True, data=ping)
        elif kind is Ln.SyncArrived:
            self.sync_arrived()
        elif kind is Ln.Revalidated:
            pass
        elif kind is Ln.SyncLog:
            self.busy = True
            sim.after_node(node, sim.disk_delay(), self.io_done, partial(disk.synced, len(disk.log)))
        elif kind is Ln.SaveAcceptedEpoch:
            disk.accepted_epoch = effect.epoch
        elif kind is Ln.SaveCurrentEpoch:
            disk.current_epoch = effect.epoch
        elif kind is Ln.ReceiveSnapshot:
            self.memory_only = True
            self.receive_snapshot(effect.zxid)
        elif kind is Ln.Truncate:
            if disk.snapshot is not None and disk.snapshot[0] > effect.zxid:
                sim.violation(node, f"TRUNC to 0x{effect.zxid:x} below the snapshot at "
                                    f"0x{disk.snapshot[0]:x}")
            sim.truncate(node, effect.zxid)
            self.memory_only = True
            self.busy = True
            sim.after_node(node, sim.disk_delay(), self.io_done, self.reload)
        elif kind is Ln.TakeSnapshot:
            self.busy = True
            sim.after_node(node, sim.disk_delay(), self.io_done, self.snapshot_written)
        elif kind is Ln.StartServing:
            self.start_serving(effect.new_epoch)
        elif kind is Ln.Activate:
            # UPTODATE re-announces the configuration NEWLEADER carried; the simulated ensemble
            # never reconfigures, so it can only be the one in force.
            assert b"version=0" in effect.config and effect.designated_leader is None, effect
        elif kind is Ln.Fail:
            self.fail(effect.reason)
        else:
            raise AssertionError(f"unknown learner effect {effect}")

    def snapshot_written(self) -> None:
        self.node.disk.write_snapshot(self.node.tree)
        self.memory_only = False

    def reload(self) -> None:
        self.node.tree = self.node.load_from_disk()
        self.node.committed.clear()

    def receive_snapshot(self, zxid: int) -> None:
        node = self.node
        rest = self.reader.take_buffer()
        tree, leftover = deserialize_sync_snapshot([rest], zxid)
        tree.recompute_totals()
        node.sim.check_digest(node, tree, "SNAP")
        node.tree = tree
        node.committed.clear()
        self.reader = PacketReader()
        self.packets.extend(self.reader.feed(leftover))

    def start_serving(self, epoch: int) -> None:
        node = self.node
        self.serving = True
        assert node.election is not None
        node.election.update_current_epoch(epoch)
        node.sim.stats[f"sync-{self.core.sync_mode}{'-observer' if self.observer else ''}"] += 1
        if self.accepted_at_start == epoch:
            node.sim.stats["rejoined-same-epoch"] += 1
        node.sim.trace(node, f"SERVING as {node.role} epoch={epoch} mode={self.core.sync_mode}")
        self.kick_sync()

    def sync_arrived(self) -> None:
        node = self.node
        assert self.conn is not None
        if not self.conn.sync_required:
            node.sim.violation(node, "a SYNC answer nobody asked for")
            return
        required = self.conn.sync_required.popleft()
        node.sim.stats["syncs"] += 1
        if node.tree.last_processed_zxid < required:
            node.sim.violation(node, f"sync answered at 0x{node.tree.last_processed_zxid:x} before "
                                     f"0x{required:x} was applied")

    # --- group commit ----------------------------------------------------------------------------

    def kick_sync(self) -> None:
        if self.syncing or self.unsynced_zxid < 0 or self.ended:
            return
        node = self.node
        zxid, self.unsynced_zxid = self.unsynced_zxid, -1
        self.syncing = True
        node.sim.after_node(node, node.sim.disk_delay(), self.synced, zxid, len(node.disk.log))

    def synced(self, zxid: int, covered: int) -> None:
        self.node.disk.synced(covered)
        self.syncing = False
        if self.ended or self.conn is None or not self.conn.open:
            return
        for effect in self.core.persisted(zxid):
            assert isinstance(effect, Ln.Send)
            self.node.sim.check_acks_durable(self.node, effect.data)
            self.node.sim.send_quorum(self.conn, to_leader=True, data=effect.data)
        self.kick_sync()

    # --- the end ---------------------------------------------------------------------------------

    def fail(self, reason: str) -> None:
        if self.ended:
            return
        self.stop(crashed=False)
        self.node.role_ended(reason)

    def stop(self, crashed: bool) -> None:
        """Following.run's exit: close the connection, finish the log sync, then put the pending
        proposals in the tree as a restart would replay them."""
        if self.ended:
            return
        self.ended = True
        node = self.node
        sim = node.sim
        if self.conn is not None:
            sim.close_conn(self.conn, by_leader=False)
        if crashed:
            return
        node.disk.durable = len(node.disk.log)
        if self.memory_only and sim.config.reload_after_unfinished_sync:
            sim.trace(node, "sync unfinished: reloading from disk")
            self.reload()
            return
        for txn in self.core.pending_proposals():
            if txn.zxid > node.tree.last_processed_zxid:
                sim.apply(node, node.tree, txn.header, txn.txn, "settle")
                if sim.config.settle_into_committed_log:
                    node.committed.add(txn.zxid, txn.txn_bytes)


# ------------------------------------------------------------------ the simulator


class Simulator:
    def __init__(self, seed: int, config: SimConfig | None = None, *, verbose: bool = False) -> None:
        self.seed = seed
        self.config = config or SimConfig()
        self.rng = random.Random(seed)
        self.verifier = ensemble(self.config.voters, self.config.observers)
        self.now_ms = 0
        self._events: list[tuple[int, int, Callable[..., None], tuple[Any, ...]]] = []
        self._seq = 0
        self._cids = 0
        self._election_clear_at: dict[tuple[int, int], int] = {}
        self.partition: dict[int, int] | None = None
        self.conns: dict[int, Conn] = {}
        self.nodes = {sid: Node(self, sid, self.verifier.is_voter(sid))
                      for sid in sorted(self.verifier.members)}
        self.verbose = verbose
        self._trace: deque[str] = deque(maxlen=None if verbose else 300)
        self.stats: Counter[str] = Counter()
        self.findings: list[str] = []
        self.leaders: dict[int, int] = {}
        self.digests: dict[int, tuple[int, int, str]] = {}
        self.acked: dict[int, Write] = {}
        self.committed_zxids: set[int] = set()
        self.locked_out: list[int] = []
        self.next_path = 0
        for node in self.nodes.values():
            self.after(self.rng.randint(0, 300), self._boot, node)

    # --- events ----------------------------------------------------------------------------------

    def after(self, delay_ms: int, fn: Callable[..., None], *args: Any) -> None:
        self._seq += 1
        heapq.heappush(self._events, (self.now_ms + delay_ms, self._seq, fn, args))

    def after_node(self, node: Node, delay_ms: int, fn: Callable[..., None], *args: Any,
                   use_gen: bool = True) -> None:
        """An event that is dropped if the node crashed (or, with use_gen, changed role) meanwhile."""
        gen = node.gen if use_gen else None
        self.after(delay_ms, self._node_event, node, node.incarnation, gen, fn, args)

    def _node_event(self, node: Node, incarnation: int, gen: int | None, fn: Callable[..., None],
                    args: tuple[Any, ...]) -> None:
        if node.up and node.incarnation == incarnation and (gen is None or node.gen == gen):
            fn(*args)

    def run_until(self, until_ms: int, stop: Callable[[], bool] | None = None) -> bool:
        while self._events and self._events[0][0] <= until_ms:
            at, _, fn, args = heapq.heappop(self._events)
            self.now_ms = at
            fn(*args)
            if stop is not None and stop():
                return True
        self.now_ms = max(self.now_ms, until_ms)
        return stop is not None and stop()

    def disk_delay(self) -> int:
        return self.rng.randint(self.config.disk_min_ms, self.config.disk_max_ms)

    def net_delay(self) -> int:
        return self.rng.randint(self.config.net_min_ms, self.config.net_max_ms)

    # --- reporting -------------------------------------------------------------------------------

    def trace(self, node: Node | None, text: str) -> None:
        self._trace.append(f"{self.now_ms:>7} {'n%d' % node.sid if node else '--'} {text}")

    @property
    def trace_lines(self) -> list[str]:
        return list(self._trace)

    def trace_tail(self, lines: int = 120) -> str:
        return "\n".join(list(self._trace)[-lines:] if not self.verbose else self._trace)

    def violation(self, node: Node | None, text: str) -> None:
        self.trace(node, f"VIOLATION {text}")
        where = f"n{node.sid} " if node else ""
        raise SimulationError(
            f"seed {self.seed} at {self.now_ms} ms: {where}{text}\n{self.trace_tail()}")

    def finding(self, node: Node, text: str) -> None:
        self.trace(node, f"FINDING {text}")
        self.findings.append(f"seed {self.seed} at {self.now_ms} ms: n{node.sid} {text}")

    # --- checkers fed by the hosts ---------------------------------------------------------------

    def apply(self, node: Node, tree: DataTree, header: Any, txn: Any, why: str) -> None:
        zxid = header.zxid
        if zxid <= tree.last_processed_zxid:
            self.violation(node, f"{why} applies 0x{zxid:x} after 0x{tree.last_processed_zxid:x}")
        tree.apply(header, txn)
        self.check_digest(node, tree, why)

    def check_digest(self, node: Node, tree: DataTree, why: str) -> None:
        zxid = tree.last_processed_zxid
        digest = tree.digest
        seen = self.digests.setdefault(zxid, (digest, node.sid, why))
        if seen[0] != digest:
            self.violation(node, f"digest at 0x{zxid:x} after {why} differs from n{seen[1]}'s "
                                 f"after {seen[2]}")

    def committed_by_leader(self, leader: Node, zxid: int) -> None:
        """ZAB's commit rule, seen on the disks: a quorum of voters has the txn durably."""
        self.committed_zxids.add(zxid)
        holders = [n.sid for n in self.nodes.values() if n.voter and n.disk.has_durable(zxid)]
        if not self.verifier.contains_quorum(holders):
            self.violation(leader, f"commits 0x{zxid:x} that only {holders} hold durably")

    def check_acks_durable(self, node: Node, data: bytes) -> None:
        """A learner acknowledges only what a crash cannot take back."""
        for qp in PacketReader().feed(data):
            if qp.type != PacketType.ACK:
                continue
            disk = node.disk
            if qp.zxid & 0xFFFFFFFF == 0:
                durable, applied = disk.durable_zxid(), node.tree.last_processed_zxid
                if disk.current_epoch != epoch_of(qp.zxid) or durable < applied:
                    self.violation(node, f"ACKs NEWLEADER 0x{qp.zxid:x} with epoch {disk.current_epoch} "
                                         f"on disk and 0x{durable:x} of 0x{applied:x} durable")
            elif not disk.has_durable(qp.zxid):
                self.violation(node, f"ACKs 0x{qp.zxid:x} before it is durable")

    def truncate(self, node: Node, zxid: int) -> None:
        """A learner may drop a committed txn it never acknowledged (it was outstanding when the
        learner synced, and comes again after the TRUNC), but a quorum must keep holding it."""
        dropped = [z for z, _ in node.disk.log if z > zxid and z in self.committed_zxids]
        node.disk.truncate(zxid)
        for z in dropped:
            holders = [n.sid for n in self.nodes.values() if n.voter and n.disk.has_durable(z)]
            if not self.verifier.contains_quorum(holders):
                self.violation(node, f"TRUNC to 0x{zxid:x} leaves committed 0x{z:x} durable only "
                                     f"on {holders}")

    def log_append(self, node: Node, zxid: int, txn_bytes: bytes) -> None:
        log = node.disk.log
        if log and log[-1][0] >= zxid:
            self.violation(node, f"logs 0x{zxid:x} after 0x{log[-1][0]:x}")
        log.append((zxid, txn_bytes))

    def leader_established(self, node: Node, epoch: int) -> None:
        self.trace(node, f"LEADING epoch={epoch}")
        self.stats["epochs"] += 1
        if epoch in self.leaders:
            self.violation(node, f"a second leader of epoch {epoch} (n{self.leaders[epoch]} was first)")
        self.leaders[epoch] = node.sid

    def acknowledge(self, zxid: int, write: Write) -> None:
        self.acked[zxid] = write
        self.stats["acked"] += 1

    # --- network ---------------------------------------------------------------------------------

    def blocked(self, a: int, b: int) -> bool:
        return self.partition is not None and self.partition[a] != self.partition[b]

    def send_notification(self, from_sid: int, to_sid: int, notification: Notification) -> None:
        if to_sid not in self.nodes or self.blocked(from_sid, to_sid):
            return
        target = self.nodes[to_sid]
        if not target.up:
            return
        link = (from_sid, to_sid)
        at = max(self.now_ms + self.net_delay(), self._election_clear_at.get(link, 0))
        self._election_clear_at[link] = at
        self.after(at - self.now_ms, self._deliver_notification, target, target.incarnation, from_sid,
                   notification)

    def _deliver_notification(self, target: Node, incarnation: int, from_sid: int,
                              n: Notification) -> None:
        if not target.up or target.incarnation != incarnation or target.election is None:
            return
        if self.blocked(from_sid, target.sid):
            return
        target.election_effects(target.election.on_notification(from_sid, n, self.now_ms))

    def open_conn(self, leader: Node, learner: Node) -> Conn:
        self._cids += 1
        conn = Conn(self._cids, leader.sid, learner.sid)
        self.conns[conn.cid] = conn
        self.trace(learner, f"connected {conn}")
        return conn

    def send_quorum(self, conn: Conn, to_leader: bool, data: bytes) -> None:
        if not conn.open:
            return
        channel = conn.to_leader if to_leader else conn.to_learner
        ready = max(self.now_ms + self.net_delay(), channel.last_ready_ms)
        channel.last_ready_ms = ready
        channel.queue.append((ready, data))
        if not channel.pumping:
            channel.pumping = True
            self.after(ready - self.now_ms, self._pump, conn, to_leader)

    def _pump(self, conn: Conn, to_leader: bool) -> None:
        channel = conn.to_leader if to_leader else conn.to_learner
        channel.pumping = False
        while conn.open and channel.queue and channel.queue[0][0] <= self.now_ms:
            if self.blocked(conn.leader_sid, conn.learner_sid):
                return  # held until the partition heals (heal re-pumps)
            _, data = channel.queue.popleft()
            self._deliver_quorum(conn, to_leader, data)
        if conn.open and channel.queue and not channel.pumping:
            channel.pumping = True
            self.after(channel.queue[0][0] - self.now_ms, self._pump, conn, to_leader)

    def _deliver_quorum(self, conn: Conn, to_leader: bool, data: bytes) -> None:
        if self.verbose:
            self._trace_packets(conn, to_leader, data)
        if to_leader:
            host = self.nodes[conn.leader_sid].leading
            if host is not None and not host.ended:
                host.received(conn, data)
        else:
            following = self.nodes[conn.learner_sid].following
            if following is not None and following.conn is conn and not following.ended:
                following.received(data)

    def _trace_packets(self, conn: Conn, to_leader: bool, data: bytes) -> None:
        reader = PacketReader()
        names = [f"{PacketType.name_of(qp.type)}:{qp.zxid:x}" for qp in reader.feed(data)
                 if qp.type != PacketType.PING]
        if names:
            self.trace(self.nodes[conn.leader_sid if to_leader else conn.learner_sid],
                       f"<- {conn} {' '.join(names)}")

    def close_conn(self, conn: Conn, by_leader: bool) -> None:
        if not conn.open:
            return
        conn.open = False
        conn.to_leader.queue.clear()
        conn.to_learner.queue.clear()
        self.conns.pop(conn.cid, None)
        self.after(self.net_delay(), self._tell_closed, conn, not by_leader)

    def _tell_closed(self, conn: Conn, tell_leader: bool) -> None:
        if tell_leader:
            host = self.nodes[conn.leader_sid].leading
            if host is not None and not host.ended:
                host.learner_lost(conn)
        else:
            following = self.nodes[conn.learner_sid].following
            if following is not None and following.conn is conn:
                following.connection_lost()

    # --- faults ----------------------------------------------------------------------------------

    def _boot(self, node: Node) -> None:
        if not node.up and not node.unstartable:
            self.trace(node, f"BOOT disk: log={len(node.disk.log)} durable={node.disk.durable} "
                             f"epochs={node.disk.accepted_epoch}/{node.disk.current_epoch}")
            node.boot()

    def crash(self, node: Node) -> None:
        if node.up:
            node.crash()

    def restart(self, node: Node) -> None:
        self._boot(node)

    def split(self) -> None:
        sids = list(self.nodes)
        self.rng.shuffle(sids)
        cut = self.rng.randint(1, len(sids) - 1)
        self.partition = {sid: int(i < cut) for i, sid in enumerate(sids)}
        self.trace(None, f"PARTITION {sorted(sids[:cut])} | {sorted(sids[cut:])}")

    def heal(self) -> None:
        if self.partition is None:
            return
        self.partition = None
        self.trace(None, "HEAL")
        for conn in list(self.conns.values()):
            for to_leader in (True, False):
                channel = conn.to_leader if to_leader else conn.to_learner
                if channel.queue and not channel.pumping:
                    channel.pumping = True
                    self.after(max(channel.queue[0][0] - self.now_ms, 0), self._pump, conn, to_leader)

    def break_connection(self) -> None:
        if self.conns:
            conn = self.rng.choice(list(self.conns.values()))
            self.trace(None, f"BREAK {conn}")
            self.close_conn(conn, by_leader=self.rng.random() < 0.5)

    # --- the workload ----------------------------------------------------------------------------

    def serving_nodes(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.up and n.serving]

    def client_write(self) -> None:
        nodes = self.serving_nodes()
        if not nodes:
            return
        node = self.rng.choice(nodes)
        node.cxid += 1
        paths = [p for p in node.tree.nodes if p.startswith("/w")]
        if paths and self.rng.random() < 0.4:
            op, path = OpCode.setData, self.rng.choice(sorted(paths))
        else:
            self.next_path += 1
            op, path = OpCode.create, f"/w{self.next_path}"
        write = Write(node.session(), node.cxid, op, path, f"{node.session()}:{node.cxid}".encode())
        self.stats["writes"] += 1
        if node.leading is not None:
            node.leading.prepare(write)
            return
        following = node.following
        assert following is not None and following.conn is not None
        if op == OpCode.create:
            body = r.CreateTxn(path, write.data, OPEN_ACL_UNSAFE, False, -1).to_bytes()
        else:
            body = r.SetDataTxn(path, write.data, 0).to_bytes()
        session_id = (write.session[0] << 16) | write.session[1]
        request = encode_request(session_id, write.cxid, op, body)
        self.send_quorum(following.conn, to_leader=True, data=packet(PacketType.REQUEST, -1, request, ()))

    def client_sync(self) -> None:
        followers = [n for n in self.serving_nodes() if n.following is not None]
        if followers:
            node = self.rng.choice(followers)
            assert node.following is not None and node.following.conn is not None
            node.cxid += 1
            session_id = (node.sid << 16) | node.incarnation
            self.send_quorum(node.following.conn, to_leader=True,
                             data=packet(PacketType.REQUEST, -1,
                                         encode_request(session_id, node.cxid, OpCode.sync, b""), ()))

    def step(self) -> None:
        """One action of the seeded workload, then time passes."""
        rng = self.rng
        faults = self.config.fault_weight
        weights = {"write": 62.0, "sync": 4.0, "crash": 4 * faults, "restart": 7 * faults,
                   "split": 2 * faults, "heal": 4.0, "break": 4 * faults, "idle": 13.0}
        roll = rng.random() * sum(weights.values())
        action = "idle"
        for action, weight in weights.items():
            roll -= weight
            if roll < 0:
                break
        up = [n for n in self.nodes.values() if n.up]
        down = [n for n in self.nodes.values() if not n.up and not n.unstartable]
        if action == "write":
            self.client_write()
        elif action == "sync":
            self.client_sync()
        elif action == "crash" and up:
            self.crash(rng.choice(up))
        elif action == "restart" and down:
            self.restart(rng.choice(down))
        elif action == "split":
            self.split()
        elif action == "heal":
            self.heal()
        elif action == "break":
            self.break_connection()
        self.run_until(self.now_ms + rng.randint(self.config.step_min_ms, self.config.step_max_ms))

    # --- running and the final checks ------------------------------------------------------------

    def settled(self) -> bool:
        """One serving leader, idle, and every other live server synced with it -- except servers
        locked out because they accepted a later epoch of a leader that never established (they
        refuse the leader's epoch, as ZooKeeper's learners do, until the next election)."""
        leaders = [n for n in self.nodes.values() if n.up and n.leading is not None]
        if len(leaders) != 1 or not leaders[0].serving:
            return False
        leader = leaders[0]
        host = leader.leading
        assert host is not None
        if host.core.outstanding or host.prepared or host.syncing:
            return False
        if any(conn.to_leader.queue or conn.to_learner.queue for conn in self.conns.values()):
            return False
        zxid = leader.tree.last_processed_zxid
        self.locked_out = []
        for node in self.nodes.values():
            if node is leader or not node.up:
                continue
            following = node.following
            if node.disk.accepted_epoch > host.core.epoch:
                self.locked_out.append(node.sid)
                continue
            if following is None or not following.serving or following.leader_sid != leader.sid:
                return False
            if node.tree.last_processed_zxid != zxid or not following.idle():
                return False
        return True

    def run(self, steps: int) -> None:
        self.run_until(300)
        for _ in range(steps):
            self.step()
        self.heal()
        for node in self.nodes.values():
            if not node.up:
                self.restart(node)
        deadline = self.now_ms + self.config.settle_limit_ms
        if not self.run_until(deadline, self.settled):
            states = ", ".join(
                f"n{n.sid}:{n.role}{'*' if n.serving else ''}@0x{n.tree.last_processed_zxid:x}"
                for n in self.nodes.values())
            self.violation(None, f"no settled ensemble within {self.config.settle_limit_ms} ms "
                                 f"after healing ({states})")
        self.check_final()

    def check_final(self) -> None:
        if self.locked_out:
            self.stats["locked-out"] += len(self.locked_out)
            self.trace(None, f"settled with {self.locked_out} locked out")
        live = [n for n in self.nodes.values() if n.up and n.sid not in self.locked_out]
        digests = {(n.tree.last_processed_zxid, n.tree.digest) for n in live}
        if len(digests) != 1:
            self.violation(None, f"live trees differ after settling: {sorted(digests)}")
        for zxid, write in sorted(self.acked.items()):
            for node in live:
                znode = node.tree.get_node(write.path)
                created_elsewhere = write.op == OpCode.create and znode is not None and znode.czxid != zxid
                if znode is None or created_elsewhere or znode.mzxid < zxid:
                    self.violation(node, f"acknowledged write 0x{zxid:x} {write} is lost")
        last_cxid: dict[tuple[int, int], int] = {}
        for zxid, write in sorted(self.acked.items()):
            if write.cxid <= last_cxid.get(write.session, 0):
                self.violation(None, f"session {write.session}: write cxid {write.cxid} at 0x{zxid:x} "
                                     f"after cxid {last_cxid[write.session]}")
            last_cxid[write.session] = write.cxid


def random_config(seed: int, **shape: Any) -> SimConfig:
    """A network, disk and fault mix drawn from the seed: fast or slow links, fast or slow
    disks, a committed log short enough to force SNAPs or long enough to avoid them."""
    rng = random.Random(f"config-{seed}")
    return SimConfig(**shape, net_max_ms=rng.choice([3, 8, 30]), disk_max_ms=rng.choice([2, 8, 40]),
                     fault_weight=rng.choice([0.5, 1.0, 2.0]), writeback=rng.random() < 0.5,
                     commit_log_count=rng.choice([4, 12, 500]))


def run_seed(seed: int, steps: int, config: SimConfig | None = None, *,
             verbose: bool = False) -> Simulator:
    """One seeded run; `verbose` keeps the whole trace, every packet but pings included."""
    sim = Simulator(seed, config, verbose=verbose)
    sim.run(steps)
    return sim
