"""The leader side of ZAB as a deterministic state machine.

Theory of operation (ZooKeeper's Leader.lead, LearnerHandler.run, Leader.processAck/tryToCommit):
the host feeds in what happened -- a learner connected or left, a QuorumPacket from a learner,
a batch of txns the server core prepared, the leader's own log made a zxid durable, a tick --
and carries out the returned effects in order. Learners are named by a handle the host chooses.

Establishing an epoch (discovery and synchronisation):
1. Each learner opens with FOLLOWERINFO/OBSERVERINFO carrying its accepted epoch. Once the
   leader and a quorum of voters have connected, the new epoch is one more than every accepted
   epoch seen (the leader's own included); it is saved as the accepted epoch and LEADERINFO goes
   to every learner that waits for it (later ones get it at once).
2. Each learner answers ACKEPOCH with its current epoch and last logged zxid. A voter whose
   history is newer than the leader's makes the leader give up (the election picked wrongly).
   With a quorum of epoch acks the leader saves its current epoch.
3. Then every learner is synced (committed_log.plan_sync): DIFF/TRUNC with proposals, or SNAP,
   then the proposals still outstanding, then NEWLEADER; from that moment it receives every new
   proposal. Once a quorum of voters has acknowledged NEWLEADER the leader starts serving and
   sends UPTODATE to each synced learner (learners that come later get it after their ACK).
Each step waits at most initLimit ticks; a quorum that does not form sends the leader back to
the election.

Broadcast: txns become PROPOSALs sent to the synced voters; the leader's own ACK comes from the
host once its log is durable. A proposal commits when a quorum of voters has acknowledged it and
every proposal before it has committed: COMMIT goes to voters, INFORM (with the txn) to
observers, and the host applies it.

Reconfiguration (with reconfigEnabled): the configuration last seen (`last_seen`) runs ahead of
the committed one (`verifier`) while a reconfig txn is outstanding; every proposal made meanwhile
needs a quorum of both. Committing the reconfig activates it: COMMITANDACTIVATE/INFORMANDACTIVATE
name the designated leader (this one if it still votes at the same quorum address, else the
new voter that acknowledged the most of what is outstanding), and a leader that is no longer
designated commits nothing more and gives up. A first election with an unversioned
configuration (version 0) gives it the version of NEWLEADER's zxid, as ZOOKEEPER-1783 does. A learner's SYNC is answered once everything proposed before
it has committed. Every half tick the leader pings its learners; a learner that has sent
nothing for syncLimit ticks is dropped, and when the voters still in touch are no quorum, the
leader gives up.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from itertools import takewhile
from dataclasses import dataclass, field
from typing import Any

from zkpy.jute.constants import OpCode
from zkpy.jute.txns import encode_txn
from zkpy.zab.committed_log import CommittedLog, plan_sync
from zkpy.zab.packets import (
    PROTOCOL_VERSION,
    PacketType,
    QuorumPacket,
    decode_int,
    decode_learner_info,
    encode_int,
    packet,
)
from zkpy.zab.quorum import QuorumMaj
from zkpy.zab.zxid import COUNTER_MASK, epoch_of, make_zxid


# ------------------------------------------------------------------ effects


@dataclass(slots=True)
class Send:
    handle: Any
    data: bytes


@dataclass(slots=True)
class SendSnapshot:
    """Write a SNAP packet at `zxid` and the database as it is now (serialize_sync_snapshot)."""

    handle: Any
    zxid: int


@dataclass(slots=True)
class SyncChosen:
    """How a learner at `peer_zxid` is brought up to date: DIFF, TRUNC or SNAP."""

    handle: Any
    mode: str
    peer_zxid: int


@dataclass(slots=True)
class CloseLearner:
    handle: Any
    reason: str


@dataclass(slots=True)
class SaveAcceptedEpoch:
    epoch: int


@dataclass(slots=True)
class SaveCurrentEpoch:
    epoch: int


@dataclass(slots=True)
class StartServing:
    """A quorum acknowledged NEWLEADER: the server may take requests."""


@dataclass(slots=True)
class Apply:
    """A committed txn: apply it to the tree, in this order."""

    header: Any
    txn: Any


@dataclass(slots=True)
class LearnerMessage:
    """A REQUEST, REVALIDATE or PING (with session touches) for the server to handle."""

    handle: Any
    packet: QuorumPacket


@dataclass(slots=True)
class Activate:
    """A new configuration is in force (a reconfig committed, or the first versioned one)."""

    verifier: QuorumMaj
    designated_leader: int


@dataclass(slots=True)
class GiveUp:
    """Stop leading and go back to the election."""

    reason: str


Effect = (Send | SendSnapshot | SyncChosen | CloseLearner | SaveAcceptedEpoch | SaveCurrentEpoch | StartServing | Apply
          | LearnerMessage | Activate | GiveUp)


class _Phase:
    INFO = "info"
    EPOCH_ACK = "epoch-ack"
    WAIT_EPOCH_QUORUM = "wait-epoch-quorum"
    NEWLEADER_ACK = "newleader-ack"
    WAIT_STARTUP = "wait-startup"
    BROADCAST = "broadcast"


_SENDING = (_Phase.NEWLEADER_ACK, _Phase.WAIT_STARTUP, _Phase.BROADCAST)
"""Learners past NEWLEADER: they get every new proposal and commit, and pings."""


@dataclass(slots=True)
class _Learner:
    handle: Any
    phase: _Phase
    deadline_tick: int
    sid: int | None = None
    observer: bool = False
    last_zxid: int = -1


@dataclass(slots=True)
class _Proposal:
    header: Any
    txn: Any
    packet: bytes
    txn_bytes: bytes
    verifiers: tuple[QuorumMaj, ...]
    """The configurations a quorum of which must acknowledge it (two while a reconfig is open)."""
    acks: set[int] = field(default_factory=set)

    def has_all_quorums(self) -> bool:
        for verifier in self.verifiers:
            if not verifier.contains_quorum(self.acks):
                return False
        return True


class LeaderCore:
    def __init__(self, my_id: int, verifier: QuorumMaj, *, accepted_epoch: int, current_epoch: int,
                 last_zxid: int, committed: CommittedLog, init_limit: int, sync_limit: int,
                 reconfig_enabled: bool = False) -> None:
        self.my_id = my_id
        self.verifier = verifier
        self.last_seen = verifier
        self.reconfig_enabled = reconfig_enabled
        self.allowed_to_commit = True
        self.accepted_epoch = accepted_epoch
        self.current_epoch = current_epoch
        self.last_zxid = last_zxid
        self.committed = committed
        self.init_limit = init_limit
        self.sync_limit = sync_limit
        self.half_ticks = 0
        """Counts calls of tick(), one per half tickTime; deadlines are in half ticks."""
        self.epoch = -1
        self.epoch_decided = False
        self.epoch_acked = False
        self.serving = False
        self._connecting: set[int] = {my_id}
        self._epoch_acks: set[int] = {my_id}
        self._newleader_acks: set[int] = {my_id}
        self._epoch_from_learners = accepted_epoch
        self._stage_deadline = 2 * init_limit
        self.learners: dict[Any, _Learner] = {}
        self.outstanding: OrderedDict[int, _Proposal] = OrderedDict()
        """Proposals not yet committed, oldest first (the oldest is found in O(1))."""
        self.last_proposed = last_zxid
        self.last_committed = last_zxid
        self._pending_syncs: dict[int, deque[Any]] = {}

    # ------------------------------------------------------------ queries

    @property
    def new_leader_zxid(self) -> int:
        return make_zxid(self.epoch, 0)

    def current_verifiers(self) -> tuple[QuorumMaj, ...]:
        if self.last_seen.version > self.verifier.version:
            return self.verifier, self.last_seen
        return (self.verifier,)

    def has_all_quorums(self, acks: set[int]) -> bool:
        return all(verifier.contains_quorum(acks) for verifier in self.current_verifiers())

    def synced_voters(self) -> set[int]:
        return {self.my_id} | {
            le.sid for le in self.learners.values()
            if le.phase is _Phase.BROADCAST and not le.observer and le.sid is not None
            and le.deadline_tick >= self.half_ticks
        }

    def sid_of(self, handle: Any) -> int | None:
        learner = self.learners.get(handle)
        return learner.sid if learner is not None else None

    def learner_states(self) -> list[tuple[Any, int | None, bool, bool]]:
        """(handle, sid, is_observer, synced) of every connected learner."""
        return [(le.handle, le.sid, le.observer, le.phase is _Phase.BROADCAST)
                for le in self.learners.values()]

    @property
    def pending_sync_count(self) -> int:
        return sum(len(waiting) for waiting in self._pending_syncs.values())

    def is_observer(self, handle: Any) -> bool:
        learner = self.learners.get(handle)
        return learner is not None and learner.observer

    # ------------------------------------------------------------ learners

    def learner_connected(self, handle: Any) -> list[Effect]:
        self.learners[handle] = _Learner(handle, _Phase.INFO, self.half_ticks + 2 * self.init_limit)
        return []

    def learner_lost(self, handle: Any) -> list[Effect]:
        self.learners.pop(handle, None)
        for waiting in self._pending_syncs.values():
            while handle in waiting:
                waiting.remove(handle)
        return []

    def on_packet(self, handle: Any, qp: QuorumPacket) -> list[Effect]:
        learner = self.learners.get(handle)
        if learner is None:
            return []
        if learner.phase is _Phase.BROADCAST:
            learner.deadline_tick = self.half_ticks + 2 * self.sync_limit
        out: list[Effect] = []
        phase = learner.phase
        if phase is _Phase.INFO:
            self._on_info(learner, qp, out)
        elif phase is _Phase.EPOCH_ACK:
            self._on_epoch_ack(learner, qp, out)
        elif phase is _Phase.NEWLEADER_ACK:
            self._on_newleader_ack(learner, qp, out)
        elif phase in (_Phase.BROADCAST, _Phase.WAIT_STARTUP, _Phase.WAIT_EPOCH_QUORUM):
            self._on_broadcast_packet(learner, qp, out)
        return out

    def _on_info(self, learner: _Learner, qp: QuorumPacket, out: list[Effect]) -> None:
        if qp.type not in (PacketType.FOLLOWERINFO, PacketType.OBSERVERINFO):
            out.append(CloseLearner(learner.handle, f"first packet is {qp}, not FOLLOWERINFO/OBSERVERINFO"))
            return
        info = decode_learner_info(qp.data)
        if info.server_id is None:
            out.append(CloseLearner(learner.handle, "FOLLOWERINFO without a server id"))
            return
        if info.protocol_version < PROTOCOL_VERSION:
            out.append(CloseLearner(learner.handle, f"protocol version {info.protocol_version:#x} is too old"))
            return
        if info.config_version is not None and info.config_version > self.verifier.version:
            out.append(CloseLearner(learner.handle, "follower has a later activated configuration"))
            return
        learner.sid = info.server_id
        learner.observer = qp.type == PacketType.OBSERVERINFO or not self.verifier.is_voter(info.server_id)
        self._forget_earlier_connections(learner, out)
        learner.phase = _Phase.EPOCH_ACK
        if not self.epoch_decided:
            self._epoch_from_learners = max(self._epoch_from_learners, epoch_of(qp.zxid))
            if not learner.observer:
                self._connecting.add(info.server_id)
            if self.verifier.contains_quorum(self._connecting):
                self.epoch_decided = True
                self.epoch = self._epoch_from_learners + 1
                self.accepted_epoch = self.epoch
                if self.reconfig_enabled and self.verifier.version == 0 and self.last_seen.version == 0:
                    self.last_seen = self.verifier.with_version(self.new_leader_zxid)
                self._stage_deadline = self.half_ticks + 2 * self.init_limit
                out.append(SaveAcceptedEpoch(self.epoch))
                for other in self.learners.values():
                    if other.phase is _Phase.EPOCH_ACK:
                        out.append(Send(other.handle, self._leader_info()))
            return
        out.append(Send(learner.handle, self._leader_info()))

    def _forget_earlier_connections(self, learner: _Learner, out: list[Effect]) -> None:
        """A sid that registers again is a learner that reconnected: its sync will truncate or
        resend every outstanding proposal, so its earlier ACKs no longer say what its disk holds
        (counting them could commit a txn only a minority has logged)."""
        for other in list(self.learners.values()):
            if other is not learner and other.sid == learner.sid:
                out.append(CloseLearner(other.handle, f"learner {learner.sid} connected again"))
                del self.learners[other.handle]
        for proposal in self.outstanding.values():
            proposal.acks.discard(learner.sid)

    def _leader_info(self) -> bytes:
        return packet(PacketType.LEADERINFO, self.new_leader_zxid, encode_int(PROTOCOL_VERSION))

    def _on_epoch_ack(self, learner: _Learner, qp: QuorumPacket, out: list[Effect]) -> None:
        if qp.type != PacketType.ACKEPOCH or not self.epoch_decided:
            out.append(CloseLearner(learner.handle, f"{qp} is not ACKEPOCH"))
            return
        peer_epoch = decode_int(qp.data)
        learner.last_zxid = qp.zxid
        if peer_epoch != -1:
            ahead = peer_epoch > self.current_epoch or (
                peer_epoch == self.current_epoch and qp.zxid > self.last_zxid)
            if ahead:
                out.append(GiveUp(f"follower {learner.sid} is ahead of the leader "
                                  f"(epoch {peer_epoch}, zxid 0x{qp.zxid:x})"))
                return
            if not learner.observer and learner.sid is not None:
                self._epoch_acks.add(learner.sid)
        learner.phase = _Phase.WAIT_EPOCH_QUORUM
        if not self.epoch_acked and self.verifier.contains_quorum(self._epoch_acks):
            self.epoch_acked = True
            self.current_epoch = self.epoch
            self._stage_deadline = self.half_ticks + 2 * self.init_limit
            out.append(SaveCurrentEpoch(self.epoch))
            for other in list(self.learners.values()):
                if other.phase is _Phase.WAIT_EPOCH_QUORUM:
                    self._sync_learner(other, out)
        elif self.epoch_acked:
            self._sync_learner(learner, out)

    def _sync_learner(self, learner: _Learner, out: list[Effect]) -> None:
        plan = plan_sync(learner.last_zxid, self.committed, self.last_committed)
        out.append(SyncChosen(learner.handle, plan.mode, learner.last_zxid))
        if plan.snapshot:
            out.append(SendSnapshot(learner.handle, self.last_committed))
        for data in plan.packets:
            out.append(Send(learner.handle, data))
        for zxid in sorted(self.outstanding):
            if zxid > plan.last_zxid and not learner.observer:
                out.append(Send(learner.handle, self.outstanding[zxid].packet))
        out.append(Send(learner.handle, packet(PacketType.NEWLEADER, self.new_leader_zxid,
                                               self.last_seen.config_bytes())))
        learner.phase = _Phase.NEWLEADER_ACK
        learner.deadline_tick = self.half_ticks + 2 * self.init_limit

    def _on_newleader_ack(self, learner: _Learner, qp: QuorumPacket, out: list[Effect]) -> None:
        if qp.type != PacketType.ACK:
            out.append(CloseLearner(learner.handle, f"{qp} is not the ACK of NEWLEADER"))
            return
        if qp.zxid == self.new_leader_zxid and not learner.observer and learner.sid is not None:
            self._newleader_acks.add(learner.sid)
        learner.deadline_tick = self.half_ticks + 2 * self.sync_limit
        if self.serving:
            learner.phase = _Phase.BROADCAST
            out.append(Send(learner.handle, packet(PacketType.UPTODATE, -1)))
            return
        learner.phase = _Phase.WAIT_STARTUP
        if self.has_all_quorums(self._newleader_acks):
            self.serving = True
            if self.reconfig_enabled and self.last_seen.version > self.verifier.version:
                self.verifier = self.last_seen
                out.append(Activate(self.verifier, self.my_id))
            out.append(StartServing())
            for other in self.learners.values():
                if other.phase is _Phase.WAIT_STARTUP:
                    other.phase = _Phase.BROADCAST
                    other.deadline_tick = self.half_ticks + 2 * self.sync_limit
                    out.append(Send(other.handle, packet(PacketType.UPTODATE, -1)))

    def _on_broadcast_packet(self, learner: _Learner, qp: QuorumPacket, out: list[Effect]) -> None:
        kind = qp.type
        if kind == PacketType.ACK:
            if not learner.observer and learner.sid is not None:
                self._ack(learner.sid, qp.zxid, out)
        elif kind in (PacketType.PING, PacketType.REQUEST, PacketType.REVALIDATE):
            out.append(LearnerMessage(learner.handle, qp))
        else:
            out.append(CloseLearner(learner.handle, f"unexpected {qp}"))

    # ------------------------------------------------------------ broadcast

    def propose(self, batch: list[tuple[Any, Any]]) -> list[Effect]:
        """Txns prepared by the server core, in zxid order; the host logs them too. Each
        follower gets the batch's PROPOSALs in one Send."""
        out: list[Effect] = []
        followers = [le.handle for le in self.learners.values()
                     if not le.observer and le.phase in _SENDING]
        proposals: list[bytes] = []
        for header, txn in batch:
            zxid = header.zxid
            if zxid & COUNTER_MASK == COUNTER_MASK:
                out.append(GiveUp("zxid lower 32 bits have rolled over, forcing re-election"))
                break
            txn_bytes = encode_txn(header, txn)
            data = packet(PacketType.PROPOSAL, zxid, txn_bytes)
            if header.type == OpCode.reconfig:
                self.last_seen = QuorumMaj.from_config_text(txn.data.decode("utf-8", "replace"))
            self.outstanding[zxid] = _Proposal(header, txn, data, txn_bytes, self.current_verifiers())
            self.last_proposed = zxid
            proposals.append(data)
        if proposals:
            joined = b"".join(proposals)
            out[:0] = [Send(handle, joined) for handle in followers]
        return out

    def persisted(self, zxid: int) -> list[Effect]:
        """The leader's own log holds every txn up to `zxid`: that is the leader's ACK."""
        out: list[Effect] = []
        durable = list(takewhile(lambda pending: pending <= zxid, self.outstanding))
        for pending in durable:
            self._ack(self.my_id, pending, out)
        return out

    def _ack(self, sid: int, zxid: int, out: list[Effect]) -> None:
        if zxid & COUNTER_MASK == 0 or zxid <= self.last_committed:
            return
        proposal = self.outstanding.get(zxid)
        if proposal is None:
            return
        proposal.acks.add(sid)
        # Commits go in zxid order: only an ack of the oldest outstanding proposal can start them.
        if zxid == next(iter(self.outstanding)):
            self._commit_ready(out)

    def _commit_ready(self, out: list[Effect]) -> None:
        """Commits the oldest proposals while each has its quorums; each learner gets what this
        sends it (COMMITs or INFORMs, and the SYNC answers due after them) in one Send."""
        outbox: dict[Any, list[bytes]] = {}
        outstanding = self.outstanding
        while outstanding and self.allowed_to_commit:
            zxid, proposal = next(iter(outstanding.items()))
            if not proposal.has_all_quorums():
                break
            del outstanding[zxid]
            self.last_committed = zxid
            self.committed.add(zxid, proposal.txn_bytes)
            if proposal.header.type == OpCode.reconfig:
                self._commit_reconfig(zxid, proposal, outbox, out)
            else:
                self._send_commit(outbox, PacketType.COMMIT, PacketType.INFORM, zxid, proposal.txn_bytes)
                out.append(Apply(proposal.header, proposal.txn))
            for handle in self._pending_syncs.pop(zxid, ()):
                outbox.setdefault(handle, []).append(packet(PacketType.SYNC, 0))
        _flush(outbox, out)

    def _send_commit(self, outbox: dict[Any, list[bytes]], commit: int, inform: int,
                     zxid: int, txn_bytes: bytes, prefix: bytes | None = None) -> None:
        """COMMIT(-ish) to followers, INFORM(-ish) with the txn to observers, each after
        `prefix` (the designated leader of an activation)."""
        commit_packet = packet(commit, zxid, prefix)
        inform_packet = None
        for le in self.learners.values():
            if le.phase not in _SENDING:
                continue
            if le.observer:
                if inform_packet is None:
                    inform_packet = packet(inform, zxid, (prefix or b"") + txn_bytes)
                outbox.setdefault(le.handle, []).append(inform_packet)
            else:
                outbox.setdefault(le.handle, []).append(commit_packet)

    def _commit_reconfig(self, zxid: int, proposal: _Proposal, outbox: dict[Any, list[bytes]],
                         out: list[Effect]) -> None:
        new = proposal.verifiers[-1]
        designated = self._designated_leader(proposal, zxid)
        self.verifier = new
        self._send_commit(outbox, PacketType.COMMITANDACTIVATE, PacketType.INFORMANDACTIVATE, zxid,
                          proposal.txn_bytes, designated.to_bytes(8, "big", signed=True))
        out.append(Apply(proposal.header, proposal.txn))
        _flush(outbox, out)  # the learners hear of the activation before anything below
        out.append(Activate(new, designated))
        if designated != self.my_id:
            self.allowed_to_commit = False
            out.append(GiveUp(f"a reconfiguration designated server {designated} as the leader"))

    def _designated_leader(self, proposal: _Proposal, zxid: int) -> int:
        """Leader.getDesignatedLeader: this server if it votes in the new configuration at the
        same quorum address, else the new voter that acknowledged the most later proposals."""
        new = proposal.verifiers[-1]
        if new.is_voter(self.my_id) and new.quorum_address(self.my_id) == self.verifier.quorum_address(self.my_id):
            return self.my_id
        candidates = sorted(sid for sid in proposal.acks if new.is_voter(sid) and sid != self.my_id)
        if not candidates:
            return self.my_id
        best = candidates[0]
        later = zxid + 1
        while later in self.outstanding and candidates:
            candidates = [sid for sid in candidates if sid in self.outstanding[later].acks]
            if not candidates:
                break
            best = candidates[0]
            later += 1
        return best

    def sync_request(self, handle: Any) -> list[Effect]:
        """A learner forwarded a client's sync: answer once what was proposed before commits."""
        if not self.outstanding:
            return [Send(handle, packet(PacketType.SYNC, 0))]
        self._pending_syncs.setdefault(self.last_proposed, deque()).append(handle)
        return []

    # ------------------------------------------------------------ time

    def tick(self) -> list[Effect]:
        """Called every half tickTime, as Leader.lead's loop wakes."""
        out: list[Effect] = []
        self.half_ticks += 1
        now = self.half_ticks
        if not self.serving:
            if now > self._stage_deadline:
                stage = ("epoch from a quorum" if not self.epoch_decided else
                         "epoch acks from a quorum" if not self.epoch_acked else
                         "NEWLEADER acks from a quorum")
                out.append(GiveUp(f"timeout while waiting for {stage}"))
            return out
        for le in list(self.learners.values()):
            if le.deadline_tick < now:
                why = "syncLimit" if le.phase is _Phase.BROADCAST else "initLimit"
                out.append(CloseLearner(le.handle, f"nothing heard from the learner within {why}"))
            elif le.phase in _SENDING:
                out.append(Send(le.handle, packet(PacketType.PING, self.last_proposed)))
        synced = self.synced_voters()
        if not self.has_all_quorums(synced):
            out.append(GiveUp(f"not sufficient followers synced, only synced with sids: {sorted(synced)}"))
        return out


def _flush(outbox: dict[Any, list[bytes]], out: list[Effect]) -> None:
    for handle, data in outbox.items():
        out.append(Send(handle, b"".join(data)))
    outbox.clear()
