"""Seeded simulations of whole ensembles of Election cores (see tests/zab/sim.py)."""

from __future__ import annotations

import random

import pytest

from tests.zab.sim import NetworkModel, Simulator, ensemble
from zkpy.zab.election_wire import PeerState
from zkpy.zab.quorum import QuorumMaj


def random_initial(rng: random.Random, sids: list[int]) -> dict[int, tuple[int, int]]:
    """(current epoch, last zxid) per server, with plenty of ties to break."""
    initial = {}
    for sid in sids:
        epoch = rng.randint(0, 2)
        initial[sid] = (epoch, (epoch << 32) | rng.randint(0, 3))
    return initial


def rank(initial: dict[int, tuple[int, int]], sid: int) -> tuple[int, int, int]:
    epoch, zxid = initial[sid]
    return (epoch, zxid, sid)


def assert_leader_outranks_a_quorum(
    qv: QuorumMaj, initial: dict[int, tuple[int, int]], leader: int
) -> None:
    assert qv.is_voter(leader)
    outranked = {sid for sid in qv.voting_members if rank(initial, sid) <= rank(initial, leader)}
    assert qv.contains_quorum(outranked), (leader, initial)


@pytest.mark.parametrize("voters", [3, 5])
def test_simultaneous_start_on_a_good_network_agrees_at_once(voters: int) -> None:
    # Every server up at t=0, in-order delivery well inside the finalize wait, nothing lost:
    # the first decision of every server names the best server of the whole ensemble.
    for seed in range(150):
        rng = random.Random(seed)
        qv = ensemble(voters, observers=seed % 2)
        initial = random_initial(rng, sorted(qv.members))
        sim = Simulator(qv, initial, seed, NetworkModel(1, 40), zab_stub=False)
        assert sim.run_until_all_decided(), seed
        best = max(qv.voting_members, key=lambda sid: rank(initial, sid))
        for node in sim.nodes.values():
            assert [d.leader_sid for d in node.decisions] == [best], (seed, node.sid)
            expected = (
                PeerState.LEADING
                if node.sid == best
                else (PeerState.FOLLOWING if qv.is_voter(node.sid) else PeerState.OBSERVING)
            )
            assert node.role == expected


@pytest.mark.parametrize("voters", [3, 5])
def test_hostile_network_settles_on_one_leader_outranking_a_quorum(voters: int) -> None:
    # Staggered starts, delays beyond the finalize wait, reordering and lost messages: servers
    # may decide differently at first, but with the broadcast-phase stand-in they settle on one
    # leader, and that leader's (epoch, zxid, sid) is at least that of a quorum of voters.
    for seed in range(150):
        rng = random.Random(1000 + seed)
        qv = ensemble(voters, observers=rng.randint(0, 2))
        initial = random_initial(rng, sorted(qv.members))
        model = NetworkModel(
            min_delay_ms=1,
            max_delay_ms=rng.choice([20, 150, 400]),
            drop_probability=rng.choice([0.0, 0.1, 0.3]),
            reorder=rng.random() < 0.5,
        )
        starts = {sid: rng.randint(0, 1500) for sid in qv.members}
        sim = Simulator(qv, initial, seed, model, starts)
        assert sim.run(until_ms=3_600_000), (seed, model)
        leader = sim.established_leader()
        assert leader is not None
        assert sim.max_established_at_once == 1
        assert_leader_outranks_a_quorum(qv, initial, leader)
        for node in sim.nodes.values():
            if node.sid != leader:
                expected = PeerState.FOLLOWING if qv.is_voter(node.sid) else PeerState.OBSERVING
                assert node.role == expected, (seed, node.sid)


def test_simulation_replays_exactly_from_its_seed() -> None:
    def trace(seed: int) -> list[tuple[int, int, int]]:
        qv = ensemble(5, observers=1)
        initial = random_initial(random.Random(seed), sorted(qv.members))
        sim = Simulator(
            qv, initial, seed, NetworkModel(1, 300, 0.2, True), {s: s * 97 for s in qv.members}
        )
        assert sim.run()
        return [
            (n.sid, d.leader_sid, sim.delivered) for n in sim.nodes.values() for d in n.decisions
        ]

    assert trace(7) == trace(7)


def test_a_minority_never_elects() -> None:
    qv = ensemble(5)
    sim = Simulator(qv, {1: (0, 0), 2: (0, 0)}, seed=1)
    assert not sim.run(until_ms=600_000)
    assert all(not node.decisions for node in sim.nodes.values())
