"""`mntr` on a leader and a follower: a 3-server zkpy ensemble against a 3-server Apache 3.8 one.

Both ensembles go through the same steps (two sessions, one on the leader and one on a
follower, four creates, a read) and then each member answers `mntr`. zkpy's reply must list
every key Apache's does, in Apache's order (leader-only gauges among the others, quorum_size,
peer_state), except the entries of summary sets zkpy does not record; every value must have the
same Java form; and what zkpy measures must have Apache's value: the quorum gauges, the
proposal and commit counts of the leader, the proposals and commits the followers received.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from tests.server.test_fourletter import (
    TIMING_FAMILIES,
    VOLATILE_MNTR_KEYS,
    compare_mntr,
    mntr_pairs,
)
from tests.support.ensemble import Ensemble
from tests.support.servers import apache_zookeeper_available, four_letter_word

pytestmark = pytest.mark.interop

ROLES = ("leader", "follower")
Replies = dict[str, list[tuple[str, str]]]
"""mntr's (key, value) lines by role."""
WRITES = 4
SESSIONS = 2
ENSEMBLE_VOLATILE = set(VOLATILE_MNTR_KEYS) | TIMING_FAMILIES | {
    "zk_leader_uptime",
    # Each leader picks SNAP or DIFF by its own rules for a follower with the same history
    # (their sum is checked below).
    "snap_count", "diff_count",
    # ZooKeeper's proposals carry a 12-byte digest, zkpy's do not (checked below).
    "zk_last_proposal_size", "zk_min_proposal_size", "zk_max_proposal_size",
}


def observe(kind: str, workdir: Path) -> Replies:
    with Ensemble(workdir, [kind] * 3) as ensemble:
        leader = ensemble.leader()
        follower = min(sid for sid in ensemble.members if sid != leader)
        clients = [KazooClient(hosts=ensemble.process(sid).address, timeout=10.0)
                   for sid in (leader, follower)]
        try:
            for client in clients:
                client.start(timeout=20)
            for i in range(WRITES - 1):
                clients[0].create(f"/n{i}", b"x" * (10 * i))
            clients[1].create("/via-follower", b"f")
            clients[0].get("/n1")
            clients[1].sync("/")
            time.sleep(0.5)
            return {role: mntr_pairs(four_letter_word(ensemble.process(sid).port, "mntr"))
                    for role, sid in zip(ROLES, (leader, follower))}
        finally:
            for client in clients:
                client.stop()
                client.close()


@pytest.fixture(scope="module")
def observations(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Replies]:
    if shutil.which("java") is None or not apache_zookeeper_available():
        pytest.skip("needs Java and Debian's zookeeper.jar")
    return {kind: observe(kind, tmp_path_factory.mktemp(kind)) for kind in ("apache", "zkpy")}


@pytest.mark.parametrize("role", ROLES)
def test_mntr_matches_apache(observations: dict[str, Replies], role: str) -> None:
    apache, zkpy = observations["apache"][role], observations["zkpy"][role]
    compare_mntr(apache, zkpy, ENSEMBLE_VOLATILE)


def test_leader_gauges_and_counts(observations: dict[str, Replies]) -> None:
    apache, zkpy = (dict(observations[kind]["leader"]) for kind in ("apache", "zkpy"))
    assert zkpy["zk_server_state"] == "leader" and zkpy["zk_peer_state"] == "leading - broadcast"
    quorum = (zkpy["zk_quorum_size"], zkpy["zk_learners"], zkpy["zk_synced_followers"])
    assert quorum == ("3", "2", "2")
    # One proposal and one commit per session and per create, as on Apache's leader.
    assert zkpy["zk_proposal_count"] == zkpy["zk_commit_count"] == str(SESSIONS + WRITES)
    assert apache["zk_proposal_count"] == apache["zk_commit_count"] == str(SESSIONS + WRITES)
    for key in ("zk_last_proposal_size", "zk_min_proposal_size", "zk_max_proposal_size"):
        assert int(zkpy[key]) == int(apache[key]) - 12, key
    assert int(zkpy["zk_leader_uptime"]) > 0
    for replies in (apache, zkpy):
        assert int(replies["zk_snap_count"]) + int(replies["zk_diff_count"]) == 2  # one per follower


def test_follower_counts(observations: dict[str, Replies]) -> None:
    zkpy = dict(observations["zkpy"]["follower"])
    assert zkpy["zk_peer_state"] == "following - broadcast" and "zk_learners" not in zkpy
    assert zkpy["zk_learner_proposal_received_count"] == str(SESSIONS + WRITES)
    assert zkpy["zk_learner_commit_received_count"] == str(SESSIONS + WRITES)
    assert int(zkpy["zk_cnt_follower_sync_time"]) == 1
