"""Scenario tests of LeaderCore: scripted learner packets and ticks in, effects out."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from tests.zab.sim import ensemble
from zkpy.datatree.acl import OPEN_ACL_UNSAFE
from zkpy.jute import records as r
from zkpy.jute.constants import OpCode
from zkpy.jute.txns import decode_txn, encode_txn
from zkpy.zab import leader as L
from zkpy.zab.committed_log import CommittedLog
from zkpy.zab.packets import (
    PROTOCOL_VERSION,
    PacketReader,
    PacketType,
    QuorumPacket,
    decode_int,
    encode_int,
    learner_info,
    packet,
)
from zkpy.zab.quorum import QuorumMaj
from zkpy.zab.zxid import make_zxid as z

INIT_LIMIT = 5
SYNC_LIMIT = 2


def txn(zxid: int, path: str | None = None) -> tuple[Any, Any]:
    header = r.TxnHeader(0x77, zxid & 0xFFFF, zxid, 1_000, OpCode.create)
    return header, r.CreateTxn(path or f"/n{zxid:x}", b"v", OPEN_ACL_UNSAFE, False, -1)


def info(sid: int, accepted_epoch: int, observer: bool = False) -> QuorumPacket:
    kind = PacketType.OBSERVERINFO if observer else PacketType.FOLLOWERINFO
    return QuorumPacket(int(kind), z(accepted_epoch, 0), learner_info(sid, 0))


def ack_epoch(current_epoch: int, last_zxid: int) -> QuorumPacket:
    return QuorumPacket(int(PacketType.ACKEPOCH), last_zxid, encode_int(current_epoch))


def ack(zxid: int) -> QuorumPacket:
    return QuorumPacket(int(PacketType.ACK), zxid)


def sent(effects: list[Any], handle: Any = None) -> list[tuple[Any, str, int]]:
    """(handle, packet type, zxid) of every packet sent, optionally only to `handle`."""
    out = []
    for effect in effects:
        if isinstance(effect, L.Send) and (handle is None or effect.handle == handle):
            for qp in PacketReader().feed(effect.data):
                out.append((effect.handle, PacketType.name_of(qp.type), qp.zxid))
    return out


def per_learner(effects: list[Any]) -> dict[Any, list[tuple[str, int]]]:
    """(packet type, zxid) of what each learner is sent, in the order it is sent."""
    out: dict[Any, list[tuple[str, int]]] = {}
    for handle, kind, zxid in sent(effects):
        out.setdefault(handle, []).append((kind, zxid))
    return out


def kinds(effects: list[Any]) -> list[str]:
    return [type(e).__name__ for e in effects]


def make_leader(qv: QuorumMaj, *, accepted: int = 1, current: int = 1, last_zxid: int | None = None,
                committed: CommittedLog | None = None, my_id: int = 1) -> L.LeaderCore:
    zxid = z(current, 3) if last_zxid is None else last_zxid
    if committed is None:
        committed = CommittedLog()
        for counter in range(1, (zxid & 0xFFFFFFFF) + 1):
            zx = z(current, counter)
            committed.add(zx, encode_txn(*txn(zx)))
    return L.LeaderCore(my_id, qv, accepted_epoch=accepted, current_epoch=current, last_zxid=zxid,
                        committed=committed, init_limit=INIT_LIMIT, sync_limit=SYNC_LIMIT)


def establish(core: L.LeaderCore, learners: dict[str, int], observers: dict[str, int] | None = None,
              epoch: int = 1) -> list[Any]:
    """Runs every learner through discovery and sync at the leader's own zxid; returns all effects."""
    effects: list[Any] = []
    every = {**learners, **(observers or {})}
    for handle, sid in every.items():
        effects += core.learner_connected(handle)
        effects += core.on_packet(handle, info(sid, epoch, observer=handle in (observers or {})))
    for handle in every:
        effects += core.on_packet(handle, ack_epoch(epoch, core.last_zxid))
    for handle in every:
        effects += core.on_packet(handle, ack(core.new_leader_zxid))
    assert core.serving
    return effects


# ------------------------------------------------------------------ discovery


def test_the_epoch_is_decided_with_a_quorum_and_is_one_more_than_every_accepted_epoch() -> None:
    core = make_leader(ensemble(5), accepted=3, current=3)
    assert core.learner_connected("h2") == []
    assert core.on_packet("h2", info(2, 6)) == []  # {1, 2} is no quorum of 5: wait
    core.learner_connected("h3")
    effects = core.on_packet("h3", info(3, 1))
    assert effects[0] == L.SaveAcceptedEpoch(7)
    assert core.epoch == 7 and core.accepted_epoch == 7
    assert sorted(sent(effects)) == [("h2", "LEADERINFO", z(7, 0)), ("h3", "LEADERINFO", z(7, 0))]
    leader_info = PacketReader().feed(effects[1].data)[0]
    assert decode_int(leader_info.data) == PROTOCOL_VERSION
    # A learner that comes after the decision gets LEADERINFO at once, and the epoch stays.
    core.learner_connected("h4")
    late = core.on_packet("h4", info(4, 9))
    assert late == [L.Send("h4", packet(PacketType.LEADERINFO, z(7, 0), encode_int(PROTOCOL_VERSION)))]


def test_the_leaders_own_accepted_epoch_counts() -> None:
    core = make_leader(ensemble(3), accepted=8, current=2, last_zxid=z(2, 0), committed=CommittedLog())
    core.learner_connected("h2")
    assert core.on_packet("h2", info(2, 3))[0] == L.SaveAcceptedEpoch(9)


def test_observers_do_not_make_the_quorum_but_their_epoch_counts() -> None:
    qv = ensemble(3, observers=1)
    core = make_leader(qv)
    core.learner_connected("obs")
    assert core.on_packet("obs", info(4, 5, observer=True)) == []
    assert core.is_observer("obs")
    core.learner_connected("h2")
    effects = core.on_packet("h2", info(2, 1))
    assert effects[0] == L.SaveAcceptedEpoch(6)
    assert sorted(sent(effects)) == [("h2", "LEADERINFO", z(6, 0)), ("obs", "LEADERINFO", z(6, 0))]


def test_a_follower_that_is_no_voter_is_taken_for_an_observer() -> None:
    qv = ensemble(3, observers=1)
    core = make_leader(qv)
    core.learner_connected("h4")
    core.on_packet("h4", info(4, 1))
    assert core.is_observer("h4")


@pytest.mark.parametrize("first", [
    ack(0),
    QuorumPacket(int(PacketType.FOLLOWERINFO), 0, None),
    QuorumPacket(int(PacketType.FOLLOWERINFO), 0, struct.pack(">qiq", 2, 0xFFFF, 0)),  # pre-ZAB-1.0
    QuorumPacket(int(PacketType.FOLLOWERINFO), 0, learner_info(2, 5)),  # a newer config
], ids=["not-info", "no-sid", "old-protocol", "newer-config"])
def test_a_bad_first_packet_closes_the_learner(first: QuorumPacket) -> None:
    core = make_leader(ensemble(3))
    core.learner_connected("h2")
    [effect] = core.on_packet("h2", first)
    assert isinstance(effect, L.CloseLearner) and effect.handle == "h2"


def test_packets_of_unknown_or_lost_learners_are_ignored() -> None:
    core = make_leader(ensemble(3))
    assert core.on_packet("nobody", info(2, 1)) == []
    core.learner_connected("h2")
    assert core.learner_lost("h2") == []
    assert core.on_packet("h2", info(2, 1)) == []
    assert core.learners == {}


# ------------------------------------------------------------------ epoch acks and sync


def test_a_quorum_of_epoch_acks_saves_the_current_epoch_and_syncs_the_waiting_learners() -> None:
    core = make_leader(ensemble(3), accepted=1, current=1, last_zxid=z(1, 3))
    for handle, sid in (("h2", 2), ("h3", 3)):
        core.learner_connected(handle)
        core.on_packet(handle, info(sid, 1))
    effects = core.on_packet("h2", ack_epoch(1, z(1, 3)))
    assert effects[0] == L.SaveCurrentEpoch(2)
    assert core.current_epoch == 2 and core.epoch_acked
    assert sent(effects) == [("h2", "DIFF", z(1, 3)), ("h2", "NEWLEADER", z(2, 0))]
    newleader = PacketReader().feed(effects[-1].data)[0]
    assert newleader.data == ensemble(3).config_bytes()
    # h3 acks later with an older history: a DIFF carrying what it misses.
    effects = core.on_packet("h3", ack_epoch(1, z(1, 1)))
    assert sent(effects) == [("h3", "DIFF", z(1, 3)), ("h3", "PROPOSAL", z(1, 2)), ("h3", "COMMIT", z(1, 2)),
                             ("h3", "PROPOSAL", z(1, 3)), ("h3", "COMMIT", z(1, 3)),
                             ("h3", "NEWLEADER", z(2, 0))]


@pytest.mark.parametrize("peer", [(2, z(1, 3)), (1, z(1, 4)), (5, 0)])
def test_a_voter_ahead_of_the_leader_makes_it_give_up(peer: tuple[int, int]) -> None:
    core = make_leader(ensemble(3), accepted=1, current=1, last_zxid=z(1, 3))
    core.learner_connected("h2")
    core.on_packet("h2", info(2, 1))
    [effect] = core.on_packet("h2", ack_epoch(*peer))
    assert isinstance(effect, L.GiveUp)


def test_an_epoch_ack_of_minus_one_does_not_count() -> None:
    # The learner already accepted this epoch (it voted for it before): no second vote.
    core = make_leader(ensemble(3), accepted=1, current=1, last_zxid=z(1, 3))
    core.learner_connected("h2")
    core.on_packet("h2", info(2, 1))
    assert core.on_packet("h2", ack_epoch(-1, z(9, 9))) == []  # not even "ahead": no epoch to compare
    assert not core.epoch_acked
    core.learner_connected("h3")
    core.on_packet("h3", info(3, 1))
    effects = core.on_packet("h3", ack_epoch(1, z(1, 3)))
    assert effects[0] == L.SaveCurrentEpoch(2)
    # Now both are synced; h2's claimed zxid is beyond the leader's history: TRUNC.
    assert ("h2", "TRUNC", z(1, 3)) in sent(effects)


def test_a_packet_other_than_ackepoch_closes_the_learner() -> None:
    core = make_leader(ensemble(3))
    core.learner_connected("h2")
    core.on_packet("h2", info(2, 1))
    [effect] = core.on_packet("h2", ack(0))
    assert isinstance(effect, L.CloseLearner)


def test_an_old_learner_gets_a_snapshot_then_newleader() -> None:
    committed = CommittedLog(2)
    for counter in range(1, 6):
        zx = z(1, counter)
        committed.add(zx, encode_txn(*txn(zx)))
    core = make_leader(ensemble(3), last_zxid=z(1, 5), committed=committed)
    core.learner_connected("h2")
    core.on_packet("h2", info(2, 1))
    effects = core.on_packet("h2", ack_epoch(1, z(1, 1)))
    assert effects[1:3] == [L.SyncChosen("h2", "SNAP", z(1, 1)), L.SendSnapshot("h2", z(1, 5))]
    assert sent(effects) == [("h2", "NEWLEADER", z(2, 0))]


def test_newleader_acks_from_a_quorum_start_serving_and_send_uptodate() -> None:
    qv = ensemble(5)
    core = make_leader(qv)
    handles = {"h2": 2, "h3": 3, "h4": 4}
    for handle, sid in handles.items():
        core.learner_connected(handle)
        core.on_packet(handle, info(sid, 1))
    for handle in handles:
        core.on_packet(handle, ack_epoch(1, core.last_zxid))
    assert core.on_packet("h2", ack(z(2, 0))) == []
    effects = core.on_packet("h3", ack(z(2, 0)))
    assert kinds(effects) == ["StartServing", "Send", "Send"]
    assert sorted(sent(effects)) == [("h2", "UPTODATE", -1), ("h3", "UPTODATE", -1)]
    assert core.serving
    # A learner that acks after the start gets UPTODATE right away.
    assert sent(core.on_packet("h4", ack(z(2, 0)))) == [("h4", "UPTODATE", -1)]
    assert [(sid, synced) for _, sid, _, synced in core.learner_states()] == [(2, True), (3, True), (4, True)]


def test_an_ack_of_another_zxid_does_not_count_for_newleader() -> None:
    core = make_leader(ensemble(3))
    core.learner_connected("h2")
    core.on_packet("h2", info(2, 1))
    core.on_packet("h2", ack_epoch(1, core.last_zxid))
    assert core.on_packet("h2", ack(z(1, 3))) == []
    assert not core.serving


def test_observers_acks_do_not_start_serving() -> None:
    qv = ensemble(3, observers=1)
    core = make_leader(qv)
    core.learner_connected("obs")
    core.on_packet("obs", info(4, 1, observer=True))
    core.learner_connected("h2")
    core.on_packet("h2", info(2, 1))
    core.on_packet("obs", ack_epoch(1, core.last_zxid))
    core.on_packet("h2", ack_epoch(1, core.last_zxid))
    assert core.on_packet("obs", ack(z(2, 0))) == []
    effects = core.on_packet("h2", ack(z(2, 0)))
    assert kinds(effects)[0] == "StartServing"
    assert sorted(sent(effects)) == [("h2", "UPTODATE", -1), ("obs", "UPTODATE", -1)]


# ------------------------------------------------------------------ broadcast


def proposals(core: L.LeaderCore, *counters: int) -> list[Any]:
    return core.propose([txn(z(core.epoch, c)) for c in counters])


def test_proposals_go_to_followers_but_not_to_observers() -> None:
    core = make_leader(ensemble(3, observers=1))
    establish(core, {"h2": 2, "h3": 3}, {"obs": 4})
    effects = proposals(core, 1, 2)
    assert per_learner(effects) == {"h2": [("PROPOSAL", z(2, 1)), ("PROPOSAL", z(2, 2))],
                                    "h3": [("PROPOSAL", z(2, 1)), ("PROPOSAL", z(2, 2))]}
    assert kinds(effects) == ["Send", "Send"]  # one write per follower for the batch
    data = PacketReader().feed(effects[0].data)[0].data
    header, body, _ = decode_txn(data)
    assert (header, body) == txn(z(2, 1))
    assert core.last_proposed == z(2, 2)


def test_a_proposal_commits_with_a_quorum_of_voters_in_zxid_order() -> None:
    core = make_leader(ensemble(5, observers=1))
    establish(core, {"h2": 2, "h3": 3, "h4": 4, "h5": 5}, {"obs": 6})
    proposals(core, 1, 2)
    # The second proposal reaches a quorum first; nothing commits before the first does.
    assert core.on_packet("h2", ack(z(2, 2))) == []
    assert core.on_packet("h3", ack(z(2, 2))) == []
    assert core.persisted(z(2, 2)) == []  # the leader's own ack of both
    assert core.on_packet("obs", ack(z(2, 1))) == []  # an observer's ack never counts
    assert core.on_packet("h4", ack(z(2, 1))) == []
    effects = core.on_packet("h5", ack(z(2, 1)))
    assert kinds(effects) == ["Apply", "Apply"] + ["Send"] * 5  # one write per learner
    commits = [("COMMIT", z(2, 1)), ("COMMIT", z(2, 2))]
    assert per_learner(effects) == {"h2": commits, "h3": commits, "h4": commits, "h5": commits,
                                    "obs": [("INFORM", z(2, 1)), ("INFORM", z(2, 2))]}
    assert [e.header.zxid for e in effects if isinstance(e, L.Apply)] == [z(2, 1), z(2, 2)]
    [to_observer] = [e for e in effects if isinstance(e, L.Send) and e.handle == "obs"]
    inform = PacketReader().feed(to_observer.data)[0]
    assert decode_txn(inform.data)[:2] == txn(z(2, 1))
    assert core.last_committed == z(2, 2) and core.outstanding == {}
    assert core.committed.max_zxid == z(2, 2)


def test_duplicate_and_stale_acks_change_nothing() -> None:
    core = make_leader(ensemble(3))
    establish(core, {"h2": 2, "h3": 3})
    proposals(core, 1)
    assert core.on_packet("h2", ack(z(2, 1))) == []
    assert core.on_packet("h2", ack(z(2, 1))) == []
    effects = core.persisted(z(2, 1))
    assert "Apply" in kinds(effects)
    assert core.on_packet("h3", ack(z(2, 1))) == []
    assert core.on_packet("h3", ack(z(2, 9))) == []
    assert core.on_packet("h3", ack(z(2, 0))) == []


def test_the_leader_alone_is_no_quorum() -> None:
    core = make_leader(ensemble(3))
    establish(core, {"h2": 2, "h3": 3})
    proposals(core, 1, 2, 3)
    assert core.persisted(z(2, 3)) == []
    effects = core.on_packet("h3", ack(z(2, 1)))
    assert [e.header.zxid for e in effects if isinstance(e, L.Apply)] == [z(2, 1)]


def test_a_learner_that_joins_while_proposals_are_outstanding_gets_them_before_newleader() -> None:
    core = make_leader(ensemble(5))
    establish(core, {"h2": 2, "h3": 3})
    proposals(core, 1, 2)
    core.on_packet("h2", ack(z(2, 1)))
    core.on_packet("h3", ack(z(2, 1)))
    core.persisted(z(2, 2))  # 0x200000001 commits, 0x200000002 does not
    core.learner_connected("h4")
    core.on_packet("h4", info(4, 1))
    effects = core.on_packet("h4", ack_epoch(1, z(1, 3)))
    assert sent(effects) == [("h4", "DIFF", z(2, 1)), ("h4", "PROPOSAL", z(2, 1)), ("h4", "COMMIT", z(2, 1)),
                             ("h4", "PROPOSAL", z(2, 2)), ("h4", "NEWLEADER", z(2, 0))]
    # From NEWLEADER on it receives every new proposal and commit.
    assert sent(proposals(core, 3), "h4") == [("h4", "PROPOSAL", z(2, 3))]
    assert core.on_packet("h2", ack(z(2, 2))) == []
    effects = core.on_packet("h3", ack(z(2, 2)))
    assert ("h4", "COMMIT", z(2, 2)) in sent(effects)
    assert sent(core.on_packet("h4", ack(z(2, 0)))) == [("h4", "UPTODATE", -1)]


def test_a_broadcast_learners_requests_pings_and_revalidations_go_to_the_server() -> None:
    core = make_leader(ensemble(3))
    establish(core, {"h2": 2, "h3": 3})
    for kind in (PacketType.PING, PacketType.REQUEST, PacketType.REVALIDATE):
        qp = QuorumPacket(int(kind), -1, b"x")
        assert core.on_packet("h2", qp) == [L.LearnerMessage("h2", qp)]
    [effect] = core.on_packet("h2", QuorumPacket(int(PacketType.SNAP), 0))
    assert isinstance(effect, L.CloseLearner)


def test_the_zxid_counter_rolling_over_forces_an_election() -> None:
    core = make_leader(ensemble(3))
    establish(core, {"h2": 2, "h3": 3})
    [effect] = core.propose([txn(z(2, 0xFFFFFFFF))])
    assert isinstance(effect, L.GiveUp)


# ------------------------------------------------------------------ sync


def test_a_sync_is_answered_at_once_when_nothing_is_outstanding() -> None:
    core = make_leader(ensemble(3))
    establish(core, {"h2": 2, "h3": 3})
    assert sent(core.sync_request("h2")) == [("h2", "SYNC", 0)]


def test_a_sync_is_answered_after_what_was_proposed_before_it_commits() -> None:
    core = make_leader(ensemble(3))
    establish(core, {"h2": 2, "h3": 3})
    proposals(core, 1, 2)
    assert core.sync_request("h2") == []
    assert core.sync_request("h3") == []
    proposals(core, 3)  # proposed after the syncs: not waited for
    core.persisted(z(2, 3))
    effects = core.on_packet("h3", ack(z(2, 1)))
    assert ("h2", "SYNC", 0) not in sent(effects)
    effects = core.on_packet("h3", ack(z(2, 2)))
    # The answer follows the COMMIT of that proposal on the same connection.
    assert per_learner(effects) == {"h2": [("COMMIT", z(2, 2)), ("SYNC", 0)],
                                    "h3": [("COMMIT", z(2, 2)), ("SYNC", 0)]}


def test_a_lost_learners_pending_sync_is_forgotten() -> None:
    core = make_leader(ensemble(3))
    establish(core, {"h2": 2, "h3": 3})
    proposals(core, 1)
    core.sync_request("h2")
    core.learner_lost("h2")
    effects = core.persisted(z(2, 1)) + core.on_packet("h3", ack(z(2, 1)))
    assert all(k != "SYNC" for _, k, _ in sent(effects))


# ------------------------------------------------------------------ time


def test_no_quorum_within_init_limit_gives_up() -> None:
    core = make_leader(ensemble(3))
    for _ in range(2 * INIT_LIMIT):
        assert core.tick() == []
    [effect] = core.tick()
    assert isinstance(effect, L.GiveUp) and "epoch from a quorum" in effect.reason


def test_each_stage_gets_its_own_init_limit() -> None:
    core = make_leader(ensemble(3))
    for _ in range(2 * INIT_LIMIT - 1):
        core.tick()
    core.learner_connected("h2")
    core.on_packet("h2", info(2, 1))  # the epoch is decided: a new deadline
    for _ in range(2 * INIT_LIMIT):
        assert core.tick() == []
    [effect] = core.tick()
    assert isinstance(effect, L.GiveUp) and "epoch acks" in effect.reason


def test_no_newleader_quorum_within_init_limit_gives_up() -> None:
    core = make_leader(ensemble(3))
    core.learner_connected("h2")
    core.on_packet("h2", info(2, 1))
    core.on_packet("h2", ack_epoch(1, core.last_zxid))
    for _ in range(2 * INIT_LIMIT):
        assert core.tick() == []
    [effect] = core.tick()
    assert isinstance(effect, L.GiveUp) and "NEWLEADER" in effect.reason


def test_serving_leader_pings_its_learners_every_half_tick() -> None:
    core = make_leader(ensemble(3))
    establish(core, {"h2": 2, "h3": 3})
    proposals(core, 1)
    assert sent(core.tick()) == [("h2", "PING", z(2, 1)), ("h3", "PING", z(2, 1))]


def test_a_silent_learner_is_dropped_after_sync_limit_and_the_leader_gives_up_without_quorum() -> None:
    core = make_leader(ensemble(3))
    establish(core, {"h2": 2, "h3": 3})
    for _ in range(2 * SYNC_LIMIT):
        core.on_packet("h3", QuorumPacket(int(PacketType.PING), 0))
        effects = core.tick()
        assert kinds(effects) == ["Send", "Send"]
    effects = core.tick()
    assert [type(e).__name__ for e in effects] == ["CloseLearner", "Send"]
    assert effects[0].handle == "h2" and "syncLimit" in effects[0].reason
    core.learner_lost("h2")
    assert core.synced_voters() == {1, 3}
    core.learner_lost("h3")
    effects = core.tick()
    assert isinstance(effects[-1], L.GiveUp)


def test_losing_the_quorum_gives_up_on_the_next_tick() -> None:
    core = make_leader(ensemble(5))
    establish(core, {"h2": 2, "h3": 3, "h4": 4})
    core.learner_lost("h2")
    assert not any(isinstance(e, L.GiveUp) for e in core.tick())
    core.learner_lost("h3")
    assert isinstance(core.tick()[-1], L.GiveUp)


def test_a_learner_that_never_acks_newleader_is_closed_after_init_limit() -> None:
    core = make_leader(ensemble(5))
    establish(core, {"h2": 2, "h3": 3})
    core.learner_connected("h4")
    core.on_packet("h4", info(4, 1))
    core.on_packet("h4", ack_epoch(1, core.last_zxid))
    closed = []
    for _ in range(2 * INIT_LIMIT + 1):
        core.on_packet("h2", QuorumPacket(int(PacketType.PING), 0))
        core.on_packet("h3", QuorumPacket(int(PacketType.PING), 0))
        closed += [e for e in core.tick() if isinstance(e, L.CloseLearner)]
    assert [(e.handle, "initLimit" in e.reason) for e in closed] == [("h4", True)]


# ------------------------------------------------------------------ regressions found by the simulator


def test_acks_of_a_learner_that_resyncs_do_not_count_any_more() -> None:
    core = make_leader(ensemble(3))
    establish(core, {"h2": 2, "h3": 3})
    proposals(core, 1)
    assert core.on_packet("h2", ack(z(2, 1))) == []  # h2 logged 0x200000001 and acknowledged it
    core.learner_lost("h2")  # then its connection broke
    core.learner_connected("h2b")  # it comes back at once, in the same epoch
    core.on_packet("h2b", info(2, 2))
    effects = core.on_packet("h2b", ack_epoch(-1, z(2, 1)))
    # Its 0x200000001 is beyond the committed history: TRUNC, then the proposal again.
    assert sent(effects) == [("h2b", "TRUNC", z(1, 3)), ("h2b", "PROPOSAL", z(2, 1)),
                             ("h2b", "NEWLEADER", z(2, 0))]
    # The leader's own log is now durable. Only the leader holds the txn durably (h2b truncated
    # it and logs it again only after UPTODATE; h3 never acknowledged): no quorum, no commit.
    assert not any(isinstance(e, L.Apply) for e in core.persisted(z(2, 1)))


def test_a_late_ack_on_the_old_connection_of_a_resynced_learner_does_not_count() -> None:
    # The same, with the leader not yet aware that the old connection is dead (a partition):
    # the old connection's ACK arrives after the new one's sync.
    core = make_leader(ensemble(3))
    establish(core, {"h2": 2, "h3": 3})
    proposals(core, 1)
    core.persisted(z(2, 1))
    core.learner_connected("h2b")
    core.on_packet("h2b", info(2, 2))
    core.on_packet("h2b", ack_epoch(-1, z(2, 1)))
    effects = core.on_packet("h2", ack(z(2, 1)))
    assert not any(isinstance(e, L.Apply) for e in effects)
