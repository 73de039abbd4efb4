"""zkpy's election core and codecs voting in a real Apache ZooKeeper ensemble.

The ensemble has four voters. Servers 1, 3 and 4 are Apache ZooKeeper; server 2 is
tests/zab/peer_harness.ElectionPeer, a Python socket on server 2's election port driven by
zkpy's Election core. Four voters need three for a quorum, so nothing is elected without
zkpy's votes counting on the Java side:

A. Apache 1 and 3 start; with zkpy's server 2 they elect server 3 (all servers are empty, so
   the largest sid present wins). zkpy's core must decide the same, and the Java peers must
   report LEADING/FOLLOWING for 3 when asked by a LOOKING notification zkpy encoded.
B. Apache 4 starts late. Java's 1 and 3 vouch for leader 3, but 4 needs a third vote: the
   FOLLOWING answer of zkpy's core. Then 3 has its quorum and serves (`srvr` modes).
C. zkpy's server 2 "restarts" with a fresh core and must learn the established leader (and
   its new epoch) from the Java peers' answers.
"""

from __future__ import annotations

import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.servers import (
    ApacheZkServer,
    apache_zookeeper_available,
    four_letter_word,
    free_port,
)
from tests.zab.peer_harness import ElectionPeer
from zkpy.zab.election import Election
from zkpy.zab.election_wire import PROTOCOL_VERSION_V1, Notification, PeerState
from zkpy.zab.quorum import QuorumMaj

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(
        not apache_zookeeper_available(), reason="Apache ZooKeeper is not installed"
    ),
    pytest.mark.timeout(240),
]

HARNESS_SID = 2
APACHE_SIDS = (1, 3, 4)


@dataclass
class EnsembleMember(ApacheZkServer):
    """An Apache ZooKeeper quorum member: writes its myid and counts as started once its client
    port listens (`srvr` only answers with a Mode after a leader is established)."""

    sid: int = 0

    def write_config(self) -> None:
        super().write_config()
        (self.data_dir / "myid").write_text(f"{self.sid}\n")

    def wait_serving(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"server {self.sid} exited:\n{self.log_tail()}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"server {self.sid} did not open its client port:\n{self.log_tail()}")

    def mode(self) -> str | None:
        try:
            match = re.search(r"Mode: (\w+)", four_letter_word(self.port, "srvr", timeout_s=1.0))
        except OSError:
            return None
        return match.group(1) if match else None


def test_zkpy_votes_with_apache_zookeeper(tmp_path: Path) -> None:
    quorum_ports = {sid: free_port() for sid in (1, 2, 3, 4)}
    election_ports = {sid: free_port() for sid in (1, 2, 3, 4)}
    server_lines = {
        sid: f"127.0.0.1:{quorum_ports[sid]}:{election_ports[sid]}" for sid in (1, 2, 3, 4)
    }
    config = {"tickTime": "2000", "initLimit": "10", "syncLimit": "5"}
    config.update({f"server.{sid}": line for sid, line in server_lines.items()})
    # What QuorumMaj.toString prints for those lines: the role is spelled out.
    qv = QuorumMaj.from_specs({sid: f"{line}:participant" for sid, line in server_lines.items()})

    servers = {
        sid: EnsembleMember(tmp_path / f"zk{sid}", dict(config), sid=sid) for sid in APACHE_SIDS
    }
    peer = ElectionPeer(
        HARNESS_SID, {sid: ("127.0.0.1", port) for sid, port in election_ports.items()}
    )
    try:
        # --- A: 1 + 3 + zkpy elect 3 ----------------------------------------------------------
        servers[1].start()
        servers[3].start()
        peer.start_election(Election(HARNESS_SID, qv), current_epoch=0, last_zxid=0)
        assert peer.run_until(lambda: bool(peer.decisions), timeout_s=20), _logs(servers)

        # 3 must dial us back after we hang up on it; 1 may never dial (we reached it first).
        assert 3 in {h.sid for h in peer.handshakes}
        for h in peer.handshakes:
            assert h.protocol_version == PROTOCOL_VERSION_V1
            assert h.addresses == (("127.0.0.1", election_ports[h.sid]),)
        seen_votes = set()
        for r in peer.received:
            n = r.notification
            assert (n.version, n.config, len(r.raw)) == (
                2,
                qv.config_bytes(),
                44 + len(qv.config_bytes()),
            )
            if n.state == PeerState.LOOKING:
                assert (n.zxid, n.election_epoch, n.peer_epoch) == (0, 1, 0)
                seen_votes.add((n.peer_epoch, n.zxid, n.leader))
            else:  # a peer that decided first answered one of our votes
                assert n.leader == 3
        # zkpy's order over every vote the Java peers cast, and its own, picks their leader.
        expected_leader = max(seen_votes | {(0, 0, HARNESS_SID)})[2]
        [decided] = peer.decisions
        assert (decided.leader_sid, decided.state) == (expected_leader, PeerState.FOLLOWING)
        assert expected_leader == 3

        # Ask the Java peers with a notification encoded by zkpy, until both answer from out of
        # election with leader 3. Until then a peer may drop the question (in its finalize wait it
        # only looks for better votes) or answer with its old vote (QuorumPeer sets the state
        # FOLLOWING a moment before it stores the vote it decided on).
        probe = Notification(PeerState.LOOKING, HARNESS_SID, 0, 1, 0, 2, qv.config_bytes())
        wanted = {1: (PeerState.FOLLOWING, 3), 3: (PeerState.LEADING, 3)}
        answers_from = len(peer.received)

        def answered() -> dict[int, tuple[int, int]]:
            latest = {}
            for r in peer.received[answers_from:]:
                if r.notification.state != PeerState.LOOKING:
                    latest[r.from_sid] = (r.notification.state, r.notification.leader)
            return latest

        def ask_until_answered() -> bool:
            for sid in wanted:
                if answered().get(sid) != wanted[sid]:
                    peer.send(sid, probe)
            return peer.run_until(lambda: answered() == wanted, timeout_s=0.5)

        assert any(ask_until_answered() for _ in range(20)), "\n".join(peer.events)
        logged = re.compile(
            r"n\.sid:2, n\.state:LOOKING, n\.leader:2, n\.round:0x1, n\.peerEpoch:0x0, n\.zxid:0x0,"
            r" message format version:0x2, n\.config version:0x0"
        )
        assert logged.search(servers[1].log_path.read_text(errors="replace"))

        # --- B: 4 joins late and needs zkpy's FOLLOWING answer for its quorum ---------------------
        servers[4].start()
        modes: dict[int, str | None] = {}
        next_poll = [0.0]

        def serving() -> bool:
            if time.monotonic() >= next_poll[0]:
                next_poll[0] = time.monotonic() + 0.5
                modes.update({sid: servers[sid].mode() for sid in APACHE_SIDS})
            return all(modes.get(sid) for sid in APACHE_SIDS)

        assert peer.run_until(serving, timeout_s=30), (modes, _logs(servers))
        assert modes == {1: "follower", 3: "leader", 4: "follower"}
        assert any(h.sid == 4 for h in peer.handshakes)
        assert any(
            to == 4 and n.state == PeerState.FOLLOWING and n.leader == 3 for to, n in peer.sent
        ), "zkpy answered 4's LOOKING notification"

        # --- C: zkpy's server 2 restarts and finds the established leader ------------------------
        peer.drop_connections()
        peer.decisions.clear()
        restart_from = len(peer.received)
        restarted = Election(HARNESS_SID, qv)
        peer.start_election(restarted, current_epoch=0, last_zxid=0)
        assert peer.run_until(lambda: bool(peer.decisions), timeout_s=15), _logs(servers)
        [decided] = peer.decisions
        assert decided.leader_sid == 3 and decided.state == PeerState.FOLLOWING
        # Their answers carry the epoch the leader established (1). The decision itself may rest
        # on an older message: QuorumCnxManager resends the last message on a new connection, and
        # a follower still syncing answers with its vote from before the epoch (it updates the
        # vote once synced). So keep asking, as a peer still looking would, until each reports it.

        def reported_epoch() -> set[int]:
            return {
                r.from_sid
                for r in peer.received[restart_from:]
                if r.notification.leader == 3 and r.notification.peer_epoch == 1
            }

        def ask_until_epoch_reported() -> bool:
            for sid in set(APACHE_SIDS) - reported_epoch():
                peer.send(sid, probe)
            return peer.run_until(lambda: reported_epoch() == set(APACHE_SIDS), timeout_s=1.0)

        assert any(ask_until_epoch_reported() for _ in range(30)), "\n".join(peer.events)
    finally:
        peer.close()
        for server in servers.values():
            server.stop()


def _logs(servers: dict[int, EnsembleMember]) -> str:
    return "\n".join(f"--- server {sid}\n{s.log_tail(30)}" for sid, s in servers.items())
