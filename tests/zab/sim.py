"""A deterministic simulator for FastLeaderElection cores.

Theory of operation
-------------------
N `Election` instances talk through a virtual network in virtual time; one seeded
`random.Random` decides every delay, drop and start time, so a seed replays exactly. Events sit
in a heap ordered by (time, sequence number). Each directed pair of servers is one connection:
with `reorder=False` it delivers in order (TCP), otherwise each message takes its own delay.
`drop_probability` loses messages outright, as a broken connection or ZooKeeper's send queue of
capacity 1 would.

FastLeaderElection alone does not guarantee that every server settles on the same leader: a
server that decides on stale votes follows a server that is not leading. ZooKeeper repairs that
in the broadcast phase, and so does the small stand-in for it here (`zab_stub`): a follower
that finds its leader not LEADING goes back to LOOKING; a leader that has not gathered a quorum
of voters (itself included) within `init_limit_ms` gives up and goes back to LOOKING, taking its
followers with it; a leader that has one is established, and it and its followers adopt the new
epoch (QuorumPeer.updateElectionVote). The run ends when one leader is established and every
server follows or observes it.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from typing import Any

from zkpy.zab.election import Broadcast, Decided, Effect, Election, Send
from zkpy.zab.election_wire import Notification, PeerState
from zkpy.zab.quorum import QuorumMaj


def ensemble(voters: int, observers: int = 0) -> QuorumMaj:
    specs = {
        sid: f"127.0.0.1:{20000 + sid}:{30000 + sid}:participant" for sid in range(1, voters + 1)
    }
    for sid in range(voters + 1, voters + observers + 1):
        specs[sid] = f"127.0.0.1:{20000 + sid}:{30000 + sid}:observer"
    return QuorumMaj.from_specs(specs)


@dataclass
class NetworkModel:
    min_delay_ms: int = 1
    max_delay_ms: int = 20
    drop_probability: float = 0.0
    reorder: bool = False


@dataclass
class Node:
    sid: int
    election: Election
    current_epoch: int
    last_zxid: int
    initial_epoch: int
    role: PeerState = PeerState.LOOKING
    leader: int | None = None
    joined: bool = False
    established: bool = False
    followers: set[int] = field(default_factory=set)
    decisions: list[Decided] = field(default_factory=list)
    tick_at: int | None = None
    generation: int = 0
    """Counts the node's elections, so stale ZAB timers are recognised."""


class Simulator:
    def __init__(
        self,
        verifier: QuorumMaj,
        initial: dict[int, tuple[int, int]],
        seed: int,
        model: NetworkModel | None = None,
        start_at_ms: dict[int, int] | None = None,
        *,
        zab_stub: bool = True,
        init_limit_ms: int = 1000,
        restart_delay_ms: int = 200,
    ) -> None:
        """`initial` maps each sid to its (current epoch, last zxid)."""
        self.verifier = verifier
        self.rng = random.Random(seed)
        self.model = model or NetworkModel()
        self.zab_stub = zab_stub
        self.init_limit_ms = init_limit_ms
        self.restart_delay_ms = restart_delay_ms
        self.now_ms = 0
        self.delivered = 0
        self.nodes = {
            sid: Node(sid, Election(sid, verifier), epoch, zxid, epoch)
            for sid, (epoch, zxid) in initial.items()
        }
        self._events: list[tuple[int, int, str, tuple[Any, ...]]] = []
        self._seq = 0
        self._fifo_clear_at: dict[tuple[int, int], int] = {}
        self.max_established_at_once = 0
        for sid in self.nodes:
            self._push((start_at_ms or {}).get(sid, 0), "start", (sid,))

    # --- running -------------------------------------------------------------------------------

    def run(self, until_ms: int = 600_000) -> bool:
        """Run until settled (True) or until virtual time `until_ms` (False)."""
        while self._events:
            if self.settled():
                return True
            at, _, kind, args = heapq.heappop(self._events)
            if at > until_ms:
                return False
            self.now_ms = at
            getattr(self, f"_on_{kind}")(*args)
        return self.settled()

    def run_until_all_decided(self, until_ms: int = 600_000) -> bool:
        while self._events:
            if all(node.decisions for node in self.nodes.values()):
                return True
            at, _, kind, args = heapq.heappop(self._events)
            if at > until_ms:
                return False
            self.now_ms = at
            getattr(self, f"_on_{kind}")(*args)
        return all(node.decisions for node in self.nodes.values())

    def settled(self) -> bool:
        leaders = [n for n in self.nodes.values() if n.role == PeerState.LEADING and n.established]
        if len(leaders) != 1:
            return False
        leader = leaders[0]
        return all(
            n is leader or (n.leader == leader.sid and n.joined) for n in self.nodes.values()
        )

    def established_leader(self) -> int | None:
        leaders = [
            n.sid for n in self.nodes.values() if n.role == PeerState.LEADING and n.established
        ]
        return leaders[0] if len(leaders) == 1 else None

    # --- events --------------------------------------------------------------------------------

    def _push(self, at_ms: int, kind: str, args: tuple[Any, ...]) -> None:
        self._seq += 1
        heapq.heappush(self._events, (at_ms, self._seq, kind, args))

    def _on_start(self, sid: int) -> None:
        node = self.nodes[sid]
        node.generation += 1
        node.role = PeerState.LOOKING
        node.leader = None
        node.joined = False
        node.established = False
        node.followers = set()
        self._apply(node, node.election.start(node.current_epoch, node.last_zxid, self.now_ms))

    def _on_deliver(self, to_sid: int, from_sid: int, notification: Notification) -> None:
        self.delivered += 1
        node = self.nodes[to_sid]
        self._apply(node, node.election.on_notification(from_sid, notification, self.now_ms))

    def _on_tick(self, sid: int) -> None:
        node = self.nodes[sid]
        if node.tick_at != self.now_ms:
            return
        node.tick_at = None
        self._apply(node, node.election.tick(self.now_ms))

    def _apply(self, node: Node, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Send):
                self._transmit(node.sid, effect.to_sid, effect.notification)
            elif isinstance(effect, Broadcast):
                for to_sid in effect.to_sids:
                    self._transmit(node.sid, to_sid, effect.notification)
            else:
                self._decided(node, effect)
        deadline = node.election.next_deadline_ms()
        if deadline is not None and deadline != node.tick_at:
            node.tick_at = max(deadline, self.now_ms)
            self._push(node.tick_at, "tick", (node.sid,))

    def _transmit(self, from_sid: int, to_sid: int, notification: Notification) -> None:
        if to_sid not in self.nodes:
            return
        model = self.model
        if self.rng.random() < model.drop_probability:
            return
        at = self.now_ms + self.rng.randint(model.min_delay_ms, model.max_delay_ms)
        if not model.reorder:
            link = (from_sid, to_sid)
            at = max(at, self._fifo_clear_at.get(link, 0))
            self._fifo_clear_at[link] = at
        self._push(at, "deliver", (to_sid, from_sid, notification))

    # --- ZAB stand-in --------------------------------------------------------------------------

    def _decided(self, node: Node, decided: Decided) -> None:
        node.decisions.append(decided)
        node.role = decided.state
        node.leader = decided.leader_sid
        if not self.zab_stub:
            return
        if decided.state == PeerState.LEADING:
            self._push(
                self.now_ms + self.init_limit_ms, "leader_deadline", (node.sid, node.generation)
            )
        else:
            self._push(
                self.now_ms + self.rng.randint(1, 50), "connect", (node.sid, node.generation)
            )

    def _on_connect(self, sid: int, generation: int) -> None:
        node = self.nodes[sid]
        if node.generation != generation or node.leader is None:
            return
        leader = self.nodes.get(node.leader)
        if leader is None or leader.role != PeerState.LEADING:
            self._restart(node)
            return
        node.joined = True
        leader.followers.add(sid)
        if leader.established:
            self._adopt_epoch(node, leader.current_epoch)

    def _on_leader_deadline(self, sid: int, generation: int) -> None:
        leader = self.nodes[sid]
        if leader.generation != generation or leader.role != PeerState.LEADING:
            return
        voters = {sid} | {f for f in leader.followers if self.verifier.is_voter(f)}
        if not self.verifier.contains_quorum(voters):
            for follower in sorted(leader.followers):
                self._restart(self.nodes[follower])
            self._restart(leader)
            return
        leader.established = True
        new_epoch = max(self.nodes[s].current_epoch for s in voters) + 1
        self._adopt_epoch(leader, new_epoch)
        for follower in leader.followers:
            self._adopt_epoch(self.nodes[follower], new_epoch)
        established = sum(
            1 for n in self.nodes.values() if n.role == PeerState.LEADING and n.established
        )
        self.max_established_at_once = max(self.max_established_at_once, established)

    def _adopt_epoch(self, node: Node, epoch: int) -> None:
        node.current_epoch = epoch
        node.election.update_current_epoch(epoch)

    def _restart(self, node: Node) -> None:
        node.generation += 1
        node.role = PeerState.LOOKING
        node.leader = None
        node.joined = False
        self._push(self.now_ms + self.restart_delay_ms, "start", (node.sid,))
