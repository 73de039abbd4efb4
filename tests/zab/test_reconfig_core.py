"""Reconfiguration in the ZAB cores: the leader's two-quorum commit and designated leader, the
learner's COMMITANDACTIVATE/INFORMANDACTIVATE, and when a learner must leave its leader."""

from __future__ import annotations

from typing import Any

from tests.zab.sim import ensemble
from tests.zab.test_leader_core import ack, establish, make_leader, sent
from tests.zab.test_learner_core import qp, registered
from zkpy.jute import records as r
from zkpy.jute.constants import OpCode
from zkpy.jute.txns import encode_txn
from zkpy.zab import leader as L
from zkpy.zab import learner as Ln
from zkpy.zab.packets import PacketType, packet
from zkpy.zab.quorum import QuorumMaj, major_change
from zkpy.zab.zxid import make_zxid as z


def reconfig_txn(zxid: int, verifier: QuorumMaj) -> tuple[Any, Any]:
    header = r.TxnHeader(0x77, 1, zxid, 1_000, OpCode.reconfig)
    return header, r.SetDataTxn("/zookeeper/config", verifier.with_version(zxid).config_bytes(), -1)


def create_txn(zxid: int) -> tuple[Any, Any]:
    header = r.TxnHeader(0x77, 2, zxid, 1_000, OpCode.create)
    return header, r.CreateTxn(f"/n{zxid:x}", b"", [], False, -1)


def reconfigurable_leader(voters: int = 3) -> L.LeaderCore:
    core = make_leader(ensemble(voters))
    core.reconfig_enabled = True
    return core


def test_the_first_election_versions_the_config_with_the_newleader_zxid() -> None:
    core = reconfigurable_leader()
    effects = establish(core, {"h2": 2, "h3": 3}, epoch=1)
    newleaders = [e for e in effects if isinstance(e, L.Send) and b"version=" in e.data]
    assert newleaders and all(b"version=200000000" in e.data for e in newleaders)
    assert L.Activate(core.verifier, 1) in effects and core.verifier.version == z(2, 0)


def test_without_reconfig_the_config_keeps_version_zero() -> None:
    core = make_leader(ensemble(3))
    effects = establish(core, {"h2": 2, "h3": 3}, epoch=1)
    assert core.verifier.version == 0 and not any(isinstance(e, L.Activate) for e in effects)


def test_a_reconfig_needs_both_quorums_and_designates_a_new_voter_when_the_leader_leaves() -> None:
    core = reconfigurable_leader()
    establish(core, {"h2": 2, "h3": 3}, epoch=1)
    epoch = core.epoch
    without_leader = QuorumMaj(m for sid, m in core.verifier.members.items() if sid != 1)
    first, after = z(epoch, 1), z(epoch, 2)
    core.propose([reconfig_txn(first, without_leader), create_txn(after)])
    assert core.last_seen.voting_members == {2, 3}
    assert core.persisted(after) == []
    assert core.on_packet("h2", ack(first)) == []  # {1, 2} is a quorum of the old config only
    core.on_packet("h2", ack(after))
    effects = core.on_packet("h3", ack(first))
    assert ("h2", "COMMITANDACTIVATE", first) in sent(effects)
    commit_and_activate = [e for e in effects if isinstance(e, L.Send) and e.handle == "h2"][0]
    assert commit_and_activate.data == packet(PacketType.COMMITANDACTIVATE, first, (2).to_bytes(8, "big"))
    assert core.verifier.voting_members == {2, 3}
    assert [type(e).__name__ for e in effects if not isinstance(e, L.Send)] == ["Apply", "Activate", "GiveUp"]
    assert L.Activate(core.verifier, 2) in effects
    # A leader that is no longer designated commits nothing more, though `after` has its quorums.
    assert not any(isinstance(e, L.Apply) for e in core.on_packet("h3", ack(after)))


def test_observers_get_informandactivate_with_the_designated_leader_and_the_txn() -> None:
    core = reconfigurable_leader()
    establish(core, {"h2": 2, "h3": 3}, {"obs": 4}, epoch=1)
    joined = ensemble(3, observers=1)
    zxid = z(core.epoch, 1)
    header, txn = reconfig_txn(zxid, joined)
    core.propose([(header, txn)])
    core.persisted(zxid)
    effects = core.on_packet("h2", ack(zxid))
    informs = [e for e in effects if isinstance(e, L.Send) and e.handle == "obs"]
    assert informs[0].data == packet(PacketType.INFORMANDACTIVATE, zxid,
                                     (1).to_bytes(8, "big") + encode_txn(header, txn))
    assert not any(isinstance(e, L.GiveUp) for e in effects)


def broadcasting_learner(observer: bool = False) -> Ln.LearnerCore:
    core = registered(observer=observer)
    core.on_packet(qp(PacketType.DIFF, z(1, 3)))
    core.on_packet(qp(PacketType.NEWLEADER, z(2, 0), ensemble(3).config_bytes()))
    effects = core.on_packet(qp(PacketType.UPTODATE, -1))
    assert Ln.Activate(ensemble(3).config_bytes(), None) in effects
    return core


def test_commitandactivate_applies_the_reconfig_and_names_the_designated_leader() -> None:
    core = broadcasting_learner()
    header, txn = reconfig_txn(z(2, 1), ensemble(2))
    core.on_packet(qp(PacketType.PROPOSAL, z(2, 1), encode_txn(header, txn)))
    effects = core.on_packet(qp(PacketType.COMMITANDACTIVATE, z(2, 1), (3).to_bytes(8, "big")))
    assert [type(e).__name__ for e in effects] == ["Apply", "Activate"]
    assert effects[1] == Ln.Activate(txn.data, 3)


def test_informandactivate_logs_applies_and_activates_on_an_observer() -> None:
    core = broadcasting_learner(observer=True)
    header, txn = reconfig_txn(z(2, 1), ensemble(3, observers=1))
    data = (1).to_bytes(8, "big") + encode_txn(header, txn)
    effects = core.on_packet(qp(PacketType.INFORMANDACTIVATE, z(2, 1), data))
    assert [type(e).__name__ for e in effects] == ["Log", "Apply", "Activate"]
    assert effects[2] == Ln.Activate(txn.data, 1)


def test_major_changes() -> None:
    three, with_observer = ensemble(3), ensemble(3, observers=1)
    assert major_change(three, with_observer, 2, 3, None, observing=False) is None
    assert major_change(three, with_observer, 2, 3, 3, observing=False) is None
    assert major_change(three, with_observer, 2, 3, 1, observing=False) == "server 1 is the designated leader"
    assert major_change(three, ensemble(2), 1, 3, None, observing=False) is not None  # leader left
    promoted = QuorumMaj.from_specs({4: with_observer.members[4].spec.replace("observer", "participant"),
                                     **{sid: m.spec for sid, m in three.members.items()}})
    assert major_change(with_observer, promoted, 4, 3, 3, observing=True) == "this observer became a participant"
