"""The learner side of ZAB (follower or observer) as a deterministic state machine.

Theory of operation (ZooKeeper's Learner.registerWithLeader and syncWithLeader,
Follower.processPacket, Observer.processPacket): `start()` opens with FOLLOWERINFO (or
OBSERVERINFO) carrying the accepted epoch; `on_packet` takes each packet from the leader and
returns effects, which the host carries out in order, finishing any I/O effect (a log sync, a
snapshot, an epoch file) before it starts the next one or feeds the next packet.

1. LEADERINFO names the new epoch: a newer one is saved as accepted and acknowledged with our
   current epoch; the one we already accepted is acknowledged with -1 (no second vote for it);
   an older one is an error. ACKEPOCH carries the last logged zxid.
2. The leader syncs us. DIFF: the proposals that follow are logged and applied once NEWLEADER
   arrives (they are already committed). SNAP: the database follows on the stream (the host
   reads it, see ReceiveSnapshot); TRUNC: the host cuts its log back to the zxid and reloads.
   After SNAP or TRUNC, committed proposals are applied in memory only and a snapshot taken at
   NEWLEADER makes them durable.
3. NEWLEADER: the committed txns are made durable, the current epoch saved, then ACK.
4. UPTODATE: ACK again, start serving; proposals still uncommitted are logged, commits seen
   during sync are applied.
5. Broadcast: a PROPOSAL is logged and, once durable (`persisted`), acknowledged (followers
   only); COMMIT applies the oldest pending proposal (it must be that one); INFORM gives an
   observer a committed txn to log and apply; PING is answered with session touches by the host;
   SYNC and REVALIDATE go to the server.
6. Reconfiguration: COMMITANDACTIVATE and INFORMANDACTIVATE are COMMIT and INFORM of a reconfig
   txn plus the designated leader; they, and UPTODATE after a NEWLEADER that carried a config,
   give the host an Activate, which it applies and which may end this role (a new leader, or a
   new role for this server).
Anything out of order is a Fail: the host drops the connection and goes back to the election.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from zkpy.jute.txns import decode_txn
from zkpy.zab.packets import PacketType, QuorumPacket, encode_int, learner_info, packet
from zkpy.zab.zxid import epoch_of, make_zxid


@dataclass(slots=True)
class Send:
    data: bytes


@dataclass(slots=True)
class SaveAcceptedEpoch:
    epoch: int


@dataclass(slots=True)
class SaveCurrentEpoch:
    epoch: int


@dataclass(slots=True)
class ReceiveSnapshot:
    """The leader's database follows on the stream; it is the database at `zxid`."""

    zxid: int


@dataclass(slots=True)
class Truncate:
    """Cut the log after `zxid` and reload the database from disk."""

    zxid: int


@dataclass(slots=True)
class Log:
    """Append a txn to the log (made durable by a later SyncLog or by the group commit)."""

    zxid: int
    txn_bytes: bytes


@dataclass(slots=True)
class SyncLog:
    """Make everything logged so far durable before going on."""


@dataclass(slots=True)
class TakeSnapshot:
    """Write a snapshot of the database as it is now, before going on."""


@dataclass(slots=True)
class Apply:
    header: Any
    txn: Any
    txn_bytes: bytes


@dataclass(slots=True)
class StartServing:
    new_epoch: int


@dataclass(slots=True)
class ReplyToPing:
    packet: QuorumPacket


@dataclass(slots=True)
class SyncArrived:
    """The leader's answer to the oldest forwarded sync."""


@dataclass(slots=True)
class Revalidated:
    packet: QuorumPacket


@dataclass(slots=True)
class Activate:
    """A configuration is in force: `config` is its text; `designated_leader` None means the
    current leader stays only if it still votes at the same address."""

    config: bytes
    designated_leader: int | None


@dataclass(slots=True)
class Fail:
    reason: str


Effect = (Send | SaveAcceptedEpoch | SaveCurrentEpoch | ReceiveSnapshot | Truncate | Log | SyncLog
          | TakeSnapshot | Apply | StartServing | ReplyToPing | SyncArrived | Revalidated | Activate | Fail)


class _Phase:
    REGISTER = "register"
    SYNC_MODE = "sync-mode"
    SYNCING = "syncing"
    BROADCAST = "broadcast"


@dataclass(slots=True)
class _Txn:
    header: Any
    txn: Any
    txn_bytes: bytes

    @property
    def zxid(self) -> int:
        return int(self.header.zxid)


class LearnerCore:
    def __init__(self, my_id: int, *, observer: bool, accepted_epoch: int, current_epoch: int,
                 last_logged_zxid: int, config_version: int) -> None:
        self.my_id = my_id
        self.observer = observer
        self.accepted_epoch = accepted_epoch
        self.current_epoch = current_epoch
        self.last_logged_zxid = last_logged_zxid
        self.config_version = config_version
        self.phase = _Phase.REGISTER
        self.new_epoch = -1
        self.sync_mode = ""
        self._write_to_log = True
        self._snapshot_needed = False
        self._not_logged: deque[_Txn] = deque()
        self._committed: deque[int] = deque()
        self._pending: deque[_Txn] = deque()
        self._unacked: deque[int] = deque()
        self._last_queued = 0
        self._new_leader_config: bytes | None = None

    @property
    def new_leader_zxid(self) -> int:
        return make_zxid(self.new_epoch, 0)

    def start(self) -> list[Effect]:
        kind = PacketType.OBSERVERINFO if self.observer else PacketType.FOLLOWERINFO
        info = learner_info(self.my_id, self.config_version)
        return [Send(packet(kind, make_zxid(self.accepted_epoch, 0), info))]

    def on_packet(self, qp: QuorumPacket) -> list[Effect]:
        phase = self.phase
        if phase is _Phase.BROADCAST:
            return self._broadcast(qp)
        if phase is _Phase.SYNCING:
            return self._syncing(qp)
        if phase is _Phase.SYNC_MODE:
            return self._sync_mode(qp)
        return self._register(qp)

    # ------------------------------------------------------------ discovery

    def _register(self, qp: QuorumPacket) -> list[Effect]:
        if qp.type != PacketType.LEADERINFO:
            return [Fail(f"first packet from the leader is {qp}, not LEADERINFO")]
        new_epoch = epoch_of(qp.zxid)
        out: list[Effect] = []
        if new_epoch > self.accepted_epoch:
            ack = self.current_epoch
            self.accepted_epoch = new_epoch
            out.append(SaveAcceptedEpoch(new_epoch))
        elif new_epoch == self.accepted_epoch:
            ack = -1
        else:
            return [Fail(f"leader's epoch {new_epoch} is less than accepted epoch {self.accepted_epoch}")]
        self.new_epoch = new_epoch
        out.append(Send(packet(PacketType.ACKEPOCH, self.last_logged_zxid, encode_int(ack))))
        self.phase = _Phase.SYNC_MODE
        return out

    def _sync_mode(self, qp: QuorumPacket) -> list[Effect]:
        self.phase = _Phase.SYNCING
        if qp.type == PacketType.DIFF:
            self.sync_mode = "DIFF"
            self._write_to_log = True
            self._snapshot_needed = False
            return []
        if qp.type == PacketType.SNAP:
            self.sync_mode = "SNAP"
            self._write_to_log = False
            self._snapshot_needed = True
            return [ReceiveSnapshot(qp.zxid)]
        if qp.type == PacketType.TRUNC:
            self.sync_mode = "TRUNC"
            self._write_to_log = False
            self._snapshot_needed = True
            return [Truncate(qp.zxid)]
        return [Fail(f"expected DIFF, SNAP or TRUNC, got {qp}")]

    # ------------------------------------------------------------ synchronisation

    def _syncing(self, qp: QuorumPacket) -> list[Effect]:
        kind = qp.type
        if kind == PacketType.PROPOSAL:
            txn = _decode(qp.data)
            if txn is None:
                return [Fail(f"undecodable {qp}")]
            failure = self._enforce_continuous(txn.zxid)
            if failure:
                return [Fail(failure)]
            self._not_logged.append(txn)
            return []
        if kind in (PacketType.COMMIT, PacketType.COMMITANDACTIVATE):
            out: list[Effect] = []
            head = self._not_logged[0] if self._not_logged else None
            if kind == PacketType.COMMITANDACTIVATE and head is not None and head.zxid == qp.zxid:
                out.append(Activate(head.txn.data, _designated(qp.data)))
            if not self._write_to_log:
                if head is not None and head.zxid == qp.zxid:
                    self._not_logged.popleft()
                    out.append(Apply(head.header, head.txn, head.txn_bytes))
                return out
            self._committed.append(qp.zxid)
            return out
        if kind in (PacketType.INFORM, PacketType.INFORMANDACTIVATE):
            txn, activate = _informed(qp)
            if txn is None:
                return [Fail(f"undecodable {qp}")]
            if not self._write_to_log:
                return [*activate, Apply(txn.header, txn.txn, txn.txn_bytes)]
            self._not_logged.append(txn)
            self._committed.append(qp.zxid)
            return activate
        if kind == PacketType.NEWLEADER:
            if qp.data is not None and len(qp.data) > 1:
                self._new_leader_config = qp.data
            return self._newleader()
        if kind == PacketType.UPTODATE:
            return self._uptodate()
        if kind == PacketType.PING:
            return []
        return [Fail(f"unexpected {qp} while syncing")]

    def _enforce_continuous(self, zxid: int) -> str | None:
        last = self._last_queued
        self._last_queued = zxid
        if last and zxid != last + 1 and epoch_of(zxid) <= epoch_of(last):
            return f"DIFF sync got proposal 0x{zxid:x}, last queued 0x{last:x}"
        return None

    def _newleader(self) -> list[Effect]:
        out: list[Effect] = []
        if self._snapshot_needed:
            out.append(TakeSnapshot())
        self._write_to_log = True
        if self._committed and not self.observer:
            while self._committed:
                zxid = self._committed.popleft()
                head = self._not_logged[0] if self._not_logged else None
                if head is None or head.zxid != zxid:
                    continue
                self._not_logged.popleft()
                out.append(Log(head.zxid, head.txn_bytes))
                out.append(Apply(head.header, head.txn, head.txn_bytes))
            out.append(SyncLog())
        self.current_epoch = self.new_epoch
        out.append(SaveCurrentEpoch(self.new_epoch))
        out.append(Send(packet(PacketType.ACK, self.new_leader_zxid)))
        return out

    def _uptodate(self) -> list[Effect]:
        out: list[Effect] = []
        if self._new_leader_config is not None:
            out.append(Activate(self._new_leader_config, None))
        out += [Send(packet(PacketType.ACK, self.new_leader_zxid)), StartServing(self.new_epoch)]
        self.phase = _Phase.BROADCAST
        committed = self._committed
        if self.observer:
            for txn in self._not_logged:
                if committed and committed[0] == txn.zxid:
                    committed.popleft()
                    out.append(Log(txn.zxid, txn.txn_bytes))
                    out.append(Apply(txn.header, txn.txn, txn.txn_bytes))
            self._not_logged.clear()
            return out
        for txn in self._not_logged:
            self._pending.append(txn)
            self._unacked.append(txn.zxid)
            out.append(Log(txn.zxid, txn.txn_bytes))
        self._not_logged.clear()
        while committed:
            out.extend(self._commit(committed.popleft()))
        return out

    # ------------------------------------------------------------ broadcast

    def _broadcast(self, qp: QuorumPacket) -> list[Effect]:
        kind = qp.type
        if kind == PacketType.PROPOSAL:
            txn = _decode(qp.data)
            if txn is None:
                return [Fail(f"undecodable {qp}")]
            self._pending.append(txn)
            if not self.observer:
                self._unacked.append(txn.zxid)
            return [Log(txn.zxid, txn.txn_bytes)]
        if kind == PacketType.COMMIT:
            return self._commit(qp.zxid)
        if kind == PacketType.COMMITANDACTIVATE:
            out = self._commit(qp.zxid)
            if out and isinstance(out[0], Apply):
                out.append(Activate(out[0].txn.data, _designated(qp.data)))
            return out
        if kind in (PacketType.INFORM, PacketType.INFORMANDACTIVATE):
            txn, activate = _informed(qp)
            if txn is None:
                return [Fail(f"undecodable {qp}")]
            return [Log(txn.zxid, txn.txn_bytes), Apply(txn.header, txn.txn, txn.txn_bytes), *activate]
        if kind == PacketType.PING:
            return [ReplyToPing(qp)]
        if kind == PacketType.SYNC:
            return [SyncArrived()]
        if kind == PacketType.REVALIDATE:
            return [Revalidated(qp)]
        if kind == PacketType.UPTODATE:
            return [Fail("UPTODATE after the follower started")]
        return [Fail(f"unexpected {qp}")]

    def _commit(self, zxid: int) -> list[Effect]:
        if not self._pending:
            return [Fail(f"COMMIT 0x{zxid:x} with no pending proposal")]
        head = self._pending[0]
        if head.zxid != zxid:
            return [Fail(f"COMMIT 0x{zxid:x} but the oldest pending proposal is 0x{head.zxid:x}")]
        self._pending.popleft()
        return [Apply(head.header, head.txn, head.txn_bytes)]

    def pending_proposals(self) -> list[_Txn]:
        """Proposals logged (or being logged) and not yet committed, oldest first."""
        return list(self._pending)

    def persisted(self, zxid: int) -> list[Effect]:
        """Every txn up to `zxid` is durable: acknowledge each proposal among them, as a
        follower's SendAckRequestProcessor does (the leader counts acks per proposal)."""
        self.last_logged_zxid = max(self.last_logged_zxid, zxid)
        unacked = self._unacked
        acks = []
        while unacked and unacked[0] <= zxid:
            acks.append(packet(PacketType.ACK, unacked.popleft()))
        return [Send(b"".join(acks))] if acks else []


def _designated(data: bytes | None) -> int | None:
    """The designated leader a COMMITANDACTIVATE or INFORMANDACTIVATE names first."""
    if data is None or len(data) < 8:
        return None
    return int.from_bytes(data[:8], "big", signed=True)


def _informed(qp: QuorumPacket) -> tuple[_Txn | None, list[Effect]]:
    """The txn of an INFORM, or of an INFORMANDACTIVATE with the Activate it asks for."""
    if qp.type != PacketType.INFORMANDACTIVATE:
        return _decode(qp.data), []
    txn = _decode(qp.data[8:] if qp.data else None)
    if txn is None:
        return None, []
    return txn, [Activate(txn.txn.data, _designated(qp.data))]


def _decode(data: bytes | None) -> _Txn | None:
    if not data:
        return None
    try:
        header, txn, _digest = decode_txn(data)
    except Exception:  # noqa: BLE001 - any decoding failure means a broken packet
        return None
    return _Txn(header, txn, data)
