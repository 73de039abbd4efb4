"""Scenario tests of LearnerCore: scripted leader packets in, effects out."""

from __future__ import annotations

from typing import Any

import pytest

from zkpy.jute import records as r
from zkpy.jute.constants import OpCode
from zkpy.jute.txns import encode_txn
from zkpy.zab import learner as Ln
from zkpy.zab.packets import (
    PacketReader,
    PacketType,
    QuorumPacket,
    decode_int,
    decode_learner_info,
    encode_int,
)
from zkpy.zab.zxid import make_zxid as z


def txn(zxid: int) -> tuple[Any, Any]:
    header = r.TxnHeader(0x77, zxid & 0xFFFF, zxid, 1_000, OpCode.setData)
    return header, r.SetDataTxn("/a", f"{zxid:x}".encode(), 1)


def txn_bytes(zxid: int) -> bytes:
    return encode_txn(*txn(zxid))


def qp(kind: PacketType, zxid: int, data: bytes | None = None) -> QuorumPacket:
    return QuorumPacket(int(kind), zxid, data)


def proposal(zxid: int) -> QuorumPacket:
    return qp(PacketType.PROPOSAL, zxid, txn_bytes(zxid))


def commit(zxid: int) -> QuorumPacket:
    return qp(PacketType.COMMIT, zxid)


def inform(zxid: int) -> QuorumPacket:
    return qp(PacketType.INFORM, zxid, txn_bytes(zxid))


def sent(effects: list[Any]) -> list[tuple[str, int]]:
    out = []
    for effect in effects:
        if isinstance(effect, Ln.Send):
            out += [(PacketType.name_of(p.type), p.zxid) for p in PacketReader().feed(effect.data)]
    return out


def describe(effects: list[Any]) -> list[tuple[str, Any]]:
    """Each effect as (name, the zxid or epoch it is about) for order checks."""
    out: list[tuple[str, Any]] = []
    for e in effects:
        name = type(e).__name__
        if isinstance(e, Ln.Send):
            out += [(f"Send {k}", zx) for k, zx in sent([e])]
        elif isinstance(e, Ln.Apply):
            out.append((name, e.header.zxid))
        elif isinstance(e, (Ln.Log, Ln.ReceiveSnapshot, Ln.Truncate)):
            out.append((name, e.zxid))
        elif isinstance(e, (Ln.SaveAcceptedEpoch, Ln.SaveCurrentEpoch)):
            out.append((name, e.epoch))
        elif isinstance(e, Ln.StartServing):
            out.append((name, e.new_epoch))
        else:
            out.append((name, None))
    return out


def learner(*, observer: bool = False, accepted: int = 1, current: int = 1,
            last_zxid: int = z(1, 3)) -> Ln.LearnerCore:
    return Ln.LearnerCore(2, observer=observer, accepted_epoch=accepted, current_epoch=current,
                          last_logged_zxid=last_zxid, config_version=0)


def registered(new_epoch: int = 2, **kwargs: Any) -> Ln.LearnerCore:
    core = learner(**kwargs)
    core.start()
    effects = core.on_packet(qp(PacketType.LEADERINFO, z(new_epoch, 0), encode_int(0x10000)))
    assert not any(isinstance(e, Ln.Fail) for e in effects)
    return core


def failed(effects: list[Any]) -> bool:
    return len(effects) == 1 and isinstance(effects[0], Ln.Fail)


# ------------------------------------------------------------------ discovery


@pytest.mark.parametrize("observer,kind", [(False, PacketType.FOLLOWERINFO),
                                           (True, PacketType.OBSERVERINFO)])
def test_start_announces_the_accepted_epoch(observer: bool, kind: PacketType) -> None:
    core = learner(observer=observer, accepted=4, current=3)
    [effect] = core.start()
    [packet_] = PacketReader().feed(effect.data)
    assert (packet_.type, packet_.zxid) == (kind, z(4, 0))
    info = decode_learner_info(packet_.data)
    assert (info.server_id, info.protocol_version, info.config_version) == (2, 0x10000, 0)


def test_a_newer_epoch_is_accepted_and_acknowledged_with_the_current_epoch() -> None:
    core = learner(accepted=4, current=3, last_zxid=z(3, 9))
    core.start()
    effects = core.on_packet(qp(PacketType.LEADERINFO, z(5, 0), encode_int(0x10000)))
    assert effects[0] == Ln.SaveAcceptedEpoch(5)
    [ack_epoch] = PacketReader().feed(effects[1].data)
    assert (ack_epoch.type, ack_epoch.zxid, decode_int(ack_epoch.data)) == (PacketType.ACKEPOCH, z(3, 9), 3)
    assert core.accepted_epoch == 5 and core.new_epoch == 5


def test_the_already_accepted_epoch_is_acknowledged_with_minus_one() -> None:
    core = learner(accepted=5, current=3, last_zxid=z(3, 9))
    core.start()
    [effect] = core.on_packet(qp(PacketType.LEADERINFO, z(5, 0), encode_int(0x10000)))
    [ack_epoch] = PacketReader().feed(effect.data)
    assert (ack_epoch.zxid, decode_int(ack_epoch.data)) == (z(3, 9), -1)


def test_an_older_epoch_fails() -> None:
    core = learner(accepted=5, current=3)
    core.start()
    assert failed(core.on_packet(qp(PacketType.LEADERINFO, z(4, 0), encode_int(0x10000))))


def test_anything_but_leaderinfo_first_fails() -> None:
    core = learner()
    core.start()
    assert failed(core.on_packet(qp(PacketType.DIFF, z(1, 3))))


def test_anything_but_diff_snap_or_trunc_after_the_epoch_fails() -> None:
    core = registered()
    assert failed(core.on_packet(proposal(z(1, 4))))


# ------------------------------------------------------------------ DIFF


def test_diff_logs_the_committed_txns_durably_before_acknowledging_newleader() -> None:
    core = registered()
    assert core.on_packet(qp(PacketType.DIFF, z(1, 5))) == []
    assert core.sync_mode == "DIFF"
    for packet_ in (proposal(z(1, 4)), commit(z(1, 4)), proposal(z(1, 5)), commit(z(1, 5)),
                    proposal(z(2, 1))):  # the last one is still outstanding at the leader
        assert core.on_packet(packet_) == []
    effects = core.on_packet(qp(PacketType.NEWLEADER, z(2, 0)))
    assert describe(effects) == [
        ("Log", z(1, 4)), ("Apply", z(1, 4)), ("Log", z(1, 5)), ("Apply", z(1, 5)),
        ("SyncLog", None), ("SaveCurrentEpoch", 2), ("Send ACK", z(2, 0))]
    assert core.current_epoch == 2
    effects = core.on_packet(qp(PacketType.UPTODATE, -1))
    assert describe(effects) == [("Send ACK", z(2, 0)), ("StartServing", 2), ("Log", z(2, 1))]
    assert [t.zxid for t in core.pending_proposals()] == [z(2, 1)]
    assert sent(core.persisted(z(2, 1))) == [("ACK", z(2, 1))]
    assert describe(core.on_packet(commit(z(2, 1)))) == [("Apply", z(2, 1))]


def test_an_empty_diff_saves_the_epoch_without_a_log_sync() -> None:
    core = registered()
    core.on_packet(qp(PacketType.DIFF, z(1, 3)))
    assert describe(core.on_packet(qp(PacketType.NEWLEADER, z(2, 0)))) == [
        ("SaveCurrentEpoch", 2), ("Send ACK", z(2, 0))]


def test_commits_between_newleader_and_uptodate_apply_after_logging() -> None:
    core = registered()
    core.on_packet(qp(PacketType.DIFF, z(1, 3)))
    core.on_packet(proposal(z(2, 1)))
    core.on_packet(qp(PacketType.NEWLEADER, z(2, 0)))
    assert core.on_packet(proposal(z(2, 2))) == []
    assert core.on_packet(commit(z(2, 1))) == []
    assert core.on_packet(qp(PacketType.PING, z(2, 2))) == []
    effects = core.on_packet(qp(PacketType.UPTODATE, -1))
    assert describe(effects) == [("Send ACK", z(2, 0)), ("StartServing", 2), ("Log", z(2, 1)),
                                 ("Log", z(2, 2)), ("Apply", z(2, 1))]
    assert [t.zxid for t in core.pending_proposals()] == [z(2, 2)]


def test_a_gap_in_the_synced_proposals_fails() -> None:
    core = registered()
    core.on_packet(qp(PacketType.DIFF, z(1, 6)))
    core.on_packet(proposal(z(1, 4)))
    assert failed(core.on_packet(proposal(z(1, 6))))


def test_a_proposal_of_a_later_epoch_may_follow_any_counter() -> None:
    core = registered(new_epoch=3)
    core.on_packet(qp(PacketType.DIFF, z(2, 2)))
    core.on_packet(proposal(z(1, 4)))
    assert core.on_packet(proposal(z(2, 1))) == []


def test_an_undecodable_proposal_fails() -> None:
    core = registered()
    core.on_packet(qp(PacketType.DIFF, z(1, 3)))
    assert failed(core.on_packet(qp(PacketType.PROPOSAL, z(1, 4), b"\x00\x01")))
    assert failed(core.on_packet(qp(PacketType.PROPOSAL, z(1, 4), None)))


# ------------------------------------------------------------------ SNAP and TRUNC


def test_snap_receives_the_database_and_snapshots_it_before_acknowledging_newleader() -> None:
    core = registered()
    assert core.on_packet(qp(PacketType.SNAP, z(1, 9))) == [Ln.ReceiveSnapshot(z(1, 9))]
    core.on_packet(proposal(z(2, 1)))
    effects = core.on_packet(qp(PacketType.NEWLEADER, z(2, 0)))
    assert describe(effects) == [("TakeSnapshot", None), ("SaveCurrentEpoch", 2), ("Send ACK", z(2, 0))]
    effects = core.on_packet(qp(PacketType.UPTODATE, -1))
    assert describe(effects) == [("Send ACK", z(2, 0)), ("StartServing", 2), ("Log", z(2, 1))]


def test_trunc_applies_the_resent_txns_in_memory_and_snapshots_at_newleader() -> None:
    core = registered()
    assert core.on_packet(qp(PacketType.TRUNC, z(1, 2))) == [Ln.Truncate(z(1, 2))]
    assert core.on_packet(proposal(z(1, 3))) == []
    assert describe(core.on_packet(commit(z(1, 3)))) == [("Apply", z(1, 3))]
    assert core.on_packet(commit(z(1, 7))) == []  # not the head: nothing to apply
    effects = core.on_packet(qp(PacketType.NEWLEADER, z(2, 0)))
    assert describe(effects) == [("TakeSnapshot", None), ("SaveCurrentEpoch", 2), ("Send ACK", z(2, 0))]
    effects = core.on_packet(qp(PacketType.UPTODATE, -1))
    assert describe(effects) == [("Send ACK", z(2, 0)), ("StartServing", 2)]


# ------------------------------------------------------------------ observers


def test_an_observer_applies_informs_at_uptodate_and_logs_them() -> None:
    core = registered(observer=True)
    core.on_packet(qp(PacketType.DIFF, z(1, 3)))
    core.on_packet(proposal(z(1, 4)))
    core.on_packet(commit(z(1, 4)))
    effects = core.on_packet(qp(PacketType.NEWLEADER, z(2, 0)))
    assert describe(effects) == [("SaveCurrentEpoch", 2), ("Send ACK", z(2, 0))]
    assert core.on_packet(inform(z(2, 1))) == []
    effects = core.on_packet(qp(PacketType.UPTODATE, -1))
    assert describe(effects) == [("Send ACK", z(2, 0)), ("StartServing", 2), ("Log", z(1, 4)),
                                 ("Apply", z(1, 4)), ("Log", z(2, 1)), ("Apply", z(2, 1))]
    assert describe(core.on_packet(inform(z(2, 2)))) == [("Log", z(2, 2)), ("Apply", z(2, 2))]
    assert core.persisted(z(2, 2)) == []  # observers never acknowledge


def test_an_observer_after_snap_applies_informs_in_memory_until_newleader() -> None:
    core = registered(observer=True)
    core.on_packet(qp(PacketType.SNAP, z(1, 9)))
    assert describe(core.on_packet(inform(z(1, 10)))) == [("Apply", z(1, 10))]


# ------------------------------------------------------------------ broadcast


def serving(**kwargs: Any) -> Ln.LearnerCore:
    core = registered(**kwargs)
    core.on_packet(qp(PacketType.DIFF, z(1, 3)))
    core.on_packet(qp(PacketType.NEWLEADER, z(2, 0)))
    core.on_packet(qp(PacketType.UPTODATE, -1))
    return core


def test_proposals_are_logged_and_acknowledged_once_durable_every_one_up_to_the_zxid() -> None:
    core = serving()
    for counter in (1, 2, 3):
        assert describe(core.on_packet(proposal(z(2, counter)))) == [("Log", z(2, counter))]
    assert sent(core.persisted(z(2, 2))) == [("ACK", z(2, 1)), ("ACK", z(2, 2))]
    assert core.persisted(z(2, 2)) == []
    assert sent(core.persisted(z(2, 3))) == [("ACK", z(2, 3))]
    assert core.last_logged_zxid == z(2, 3)
    for counter in (1, 2, 3):
        assert describe(core.on_packet(commit(z(2, counter)))) == [("Apply", z(2, counter))]
    assert core.pending_proposals() == []


def test_acks_are_one_send_of_back_to_back_packets() -> None:
    core = serving()
    core.on_packet(proposal(z(2, 1)))
    core.on_packet(proposal(z(2, 2)))
    [effect] = core.persisted(z(2, 5))
    assert isinstance(effect, Ln.Send)


def test_a_commit_of_a_proposal_that_is_not_the_oldest_fails() -> None:
    core = serving()
    core.on_packet(proposal(z(2, 1)))
    core.on_packet(proposal(z(2, 2)))
    [effect] = core.on_packet(commit(z(2, 2)))
    assert isinstance(effect, Ln.Fail) and "oldest pending" in effect.reason


def test_a_commit_without_a_pending_proposal_fails() -> None:
    assert failed(serving().on_packet(commit(z(2, 1))))


@pytest.mark.parametrize("kind,effect", [(PacketType.PING, Ln.ReplyToPing), (PacketType.SYNC, Ln.SyncArrived),
                                         (PacketType.REVALIDATE, Ln.Revalidated)])
def test_pings_syncs_and_revalidations_go_to_the_host(kind: PacketType, effect: type) -> None:
    [got] = serving().on_packet(qp(kind, 5, b"x"))
    assert isinstance(got, effect)


@pytest.mark.parametrize("packet_", [qp(PacketType.UPTODATE, -1), qp(PacketType.DIFF, 0),
                                     qp(PacketType.PROPOSAL, z(2, 1), b"junk")])
def test_out_of_order_packets_in_broadcast_fail(packet_: QuorumPacket) -> None:
    assert failed(serving().on_packet(packet_))
